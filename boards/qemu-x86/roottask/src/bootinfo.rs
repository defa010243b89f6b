//! Reads the kernel's `seL4_BootInfo` (a packed C struct) at the offsets generated from the
//! kernel headers: the IPC buffer, the empty-slot range and the untyped list.
//! Reads only; allocates nothing.

use sel4::*;

/// One untyped capability the kernel handed to the root task.
#[derive(Clone, Copy)]
pub struct Untyped {
    pub cap: CPtr,
    pub paddr: Word,
    pub size_bits: u8,
    pub is_device: bool,
}

/// The parts of the bootinfo frame the monitor uses.
pub struct BootInfo(*const u8);

impl BootInfo {
    /// # Safety
    /// `ptr` is the bootinfo frame the kernel passed in rdi to the initial thread.
    pub const unsafe fn new(ptr: *const u8) -> Self {
        Self(ptr)
    }

    fn word(&self, offset: usize) -> Word {
        // SAFETY: the offset is inside seL4_BootInfo (generated layout); packed, so unaligned.
        unsafe { (self.0.add(offset) as *const Word).read_unaligned() }
    }

    fn byte(&self, offset: usize) -> u8 {
        // SAFETY: as `word`.
        unsafe { self.0.add(offset).read() }
    }

    /// The root task's IPC buffer.
    pub fn ipc_buffer(&self) -> *mut u8 {
        self.word(BOOTINFO_IPC_BUFFER) as *mut u8
    }

    /// The empty slots of the root CNode: [start, end).
    pub fn empty(&self) -> (CPtr, CPtr) {
        (self.word(BOOTINFO_EMPTY), self.word(BOOTINFO_EMPTY + 8))
    }

    /// The root CNode's size in bits.
    pub fn cnode_size_bits(&self) -> u8 {
        self.byte(BOOTINFO_CNODE_SIZE_BITS)
    }

    /// The TSC frequency in MHz the kernel measured (`archInfo` on x86).
    pub fn tsc_mhz(&self) -> Word {
        self.word(BOOTINFO_ARCH_INFO)
    }

    /// The untyped caps: [start, end).
    pub fn untyped_range(&self) -> (CPtr, CPtr) {
        (self.word(BOOTINFO_UNTYPED), self.word(BOOTINFO_UNTYPED + 8))
    }

    /// Untyped `i` of the untyped list (0-based from `untyped_range().0`).
    pub fn untyped(&self, i: usize) -> Untyped {
        let at = BOOTINFO_UNTYPED_LIST + i * UNTYPED_DESC_SIZE;
        Untyped {
            cap: self.untyped_range().0 + i as Word,
            paddr: self.word(at + UNTYPED_DESC_PADDR),
            size_bits: self.byte(at + UNTYPED_DESC_SIZE_BITS),
            is_device: self.byte(at + UNTYPED_DESC_IS_DEVICE) != 0,
        }
    }
}
