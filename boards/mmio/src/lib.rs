//! Access to a peripheral's 32-bit registers by byte offset: [`Mmio`] on the hardware, a register
//! model in host tests. Drivers are generic over [`Regs`] and never touch memory directly.
//! Avoids: any caching or read-modify-write here; each call is one bus access.

#![no_std]
#![warn(missing_docs)]

pub mod spi;

/// A peripheral's register block.
pub trait Regs {
    /// Reads the 32-bit register at `offset` bytes from the block's base.
    fn read(&self, offset: usize) -> u32;
    /// Writes the 32-bit register at `offset` bytes from the block's base.
    fn write(&self, offset: usize, value: u32);
}

impl<R: Regs + ?Sized> Regs for &R {
    fn read(&self, offset: usize) -> u32 {
        (**self).read(offset)
    }
    fn write(&self, offset: usize, value: u32) {
        (**self).write(offset, value)
    }
}

/// A register block mapped uncached into this partition (the SDF's `dev_<device>` mapping).
#[derive(Debug)]
pub struct Mmio {
    base: *mut u32,
    len: usize,
}

impl Mmio {
    /// # Safety
    /// `base` must be the virtual address of `len` bytes of device registers mapped uncached into
    /// this address space for the lifetime of the value, used by nothing else.
    pub const unsafe fn new(base: usize, len: usize) -> Self {
        Mmio {
            base: base as *mut u32,
            len,
        }
    }

    fn at(&self, offset: usize) -> *mut u32 {
        assert!(
            offset.is_multiple_of(4) && offset + 4 <= self.len,
            "register offset outside the mapped block"
        );
        self.base.wrapping_byte_add(offset)
    }
}

impl Regs for Mmio {
    fn read(&self, offset: usize) -> u32 {
        // SAFETY: `new`'s contract: the block is mapped and ours; `at` keeps inside it, aligned.
        unsafe { self.at(offset).read_volatile() }
    }
    fn write(&self, offset: usize, value: u32) {
        // SAFETY: as for `read`.
        unsafe { self.at(offset).write_volatile(value) }
    }
}
