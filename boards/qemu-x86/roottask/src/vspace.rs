//! Address spaces for components: a fresh VSpace (a PML4; page tables, directories and PDPTs
//! made on demand when the kernel reports one missing), frames mapped into it with per-page rights, and the loading of a
//! component's own ELF into it. The monitor reaches each frame it fills through a second
//! mapping in its own VSpace (the "scratch" window), never through the component's.
//!
//! Avoids: sharing any page of the monitor with a component.

use crate::alloc::{Alloc, StepError, step};
use elf::ElfBytes;
use elf::abi::{PF_W, PT_LOAD};
use elf::endian::LittleEndian;
use sel4::*;

const PAGE: Word = 1 << seL4_PageBits;
/// Where the monitor maps the frames it fills, in its own VSpace (1 GiB, tables made on demand).
const SCRATCH_BASE: Word = 0x8000_0000;
const SCRATCH_END: Word = 0xc000_0000;

/// Read-only, and read-write, page rights.
pub const RO: Word = cap_rights(false, true, false);
pub const RW: Word = cap_rights(false, true, true);

/// Maps `frame` at `vaddr` in `vroot` with `rights`, first making the page table, page
/// directory and PDPT that cover `vaddr` where the kernel reports them missing.
fn map_frame(
    alloc: &mut Alloc,
    ipc: &mut IpcBuffer,
    vroot: CPtr,
    frame: CPtr,
    vaddr: Word,
    rights: Word,
) -> Result<(), StepError> {
    // Each level, from the page table up: the object to retype and its map invocation.
    const LEVELS: [(Word, Word, &str); 3] = [
        (seL4_X86_PageTableObject, X86PageTableMap, "page table"),
        (
            seL4_X86_PageDirectoryObject,
            X86PageDirectoryMap,
            "page directory",
        ),
        (seL4_X86_PDPTObject, X86PDPTMap, "PDPT"),
    ];
    let mut missing = 0;
    loop {
        let result = if missing == 0 {
            ipc.map_page(frame, vroot, vaddr, rights)
        } else {
            let (object, label, _) = LEVELS[missing - 1];
            let table = alloc.object(ipc, object, 0, "retype a paging structure")?;
            ipc.map_table(table, label, vroot, vaddr)
        };
        match result {
            Ok(()) if missing == 0 => return Ok(()),
            Ok(()) => missing -= 1,
            Err(e) if e.0 == seL4_FailedLookup && missing < LEVELS.len() => missing += 1,
            Err(e) => {
                let what = match missing {
                    0 => "map a frame",
                    n => LEVELS[n - 1].2,
                };
                return step(what, Err(e));
            }
        }
    }
}

/// The monitor's window onto the frames it fills.
pub struct Scratch {
    next: Word,
}

impl Scratch {
    /// An empty window (its paging structures are made as pages are mapped).
    pub fn new() -> Self {
        Self { next: SCRATCH_BASE }
    }

    /// Maps a copy of `frame` read-write into the window; returns the copy (to unmap it later)
    /// and the monitor's pointer to it. Successive calls map successive addresses.
    pub fn map(
        &mut self,
        alloc: &mut Alloc,
        ipc: &mut IpcBuffer,
        frame: CPtr,
    ) -> Result<(CPtr, *mut u8), StepError> {
        if self.next >= SCRATCH_END {
            return Err(StepError {
                what: "map into the monitor's scratch window",
                error: Error(seL4_NotEnoughMemory),
            });
        }
        let copy = alloc.slot()?;
        step(
            "copy frame cap",
            ipc.cnode_mint(seL4_CapInitThreadCNode, copy, seL4_WordBits, frame, RW, 0),
        )?;
        map_frame(alloc, ipc, seL4_CapInitThreadVSpace, copy, self.next, RW)?;
        self.next += PAGE;
        Ok((copy, (self.next - PAGE) as *mut u8))
    }
}

/// A component's address space: its PML4 (paging structures are made as pages are mapped).
pub struct VSpace {
    pub pml4: CPtr,
}

impl VSpace {
    /// A new, empty VSpace with an ASID.
    pub fn new(alloc: &mut Alloc, ipc: &mut IpcBuffer) -> Result<Self, StepError> {
        let pml4 = alloc.object(ipc, seL4_X64_PML4Object, 0, "retype PML4")?;
        step(
            "assign ASID",
            ipc.asid_pool_assign(seL4_CapInitThreadASIDPool, pml4),
        )?;
        Ok(Self { pml4 })
    }

    /// A new zeroed frame mapped at `vaddr` with `rights`; returns the frame cap and the
    /// monitor's pointer to it (`None`: not mapped for the monitor, for pages it never fills).
    pub fn new_page(
        &self,
        alloc: &mut Alloc,
        ipc: &mut IpcBuffer,
        scratch: Option<&mut Scratch>,
        vaddr: Word,
        rights: Word,
    ) -> Result<(CPtr, *mut u8), StepError> {
        let frame = alloc.object(ipc, seL4_X86_4K, 0, "retype frame")?;
        let ptr = match scratch {
            Some(scratch) => scratch.map(alloc, ipc, frame)?.1,
            None => core::ptr::null_mut(),
        };
        map_frame(alloc, ipc, self.pml4, frame, vaddr, rights)?;
        Ok((frame, ptr))
    }

    /// Maps an existing frame (shared with another party) at `vaddr` with `rights`.
    pub fn share_page(
        &self,
        alloc: &mut Alloc,
        ipc: &mut IpcBuffer,
        frame: CPtr,
        vaddr: Word,
        rights: Word,
    ) -> Result<(), StepError> {
        let copy = alloc.slot()?;
        step(
            "copy shared frame cap",
            ipc.cnode_mint(
                seL4_CapInitThreadCNode,
                copy,
                seL4_WordBits,
                frame,
                rights,
                0,
            ),
        )?;
        map_frame(alloc, ipc, self.pml4, copy, vaddr, rights)
    }
}

/// Why a component's ELF could not be loaded.
pub enum LoadError {
    Elf(elf::ParseError),
    NoSegments,
    Truncated,
    Step(StepError),
}

impl From<StepError> for LoadError {
    fn from(e: StepError) -> Self {
        Self::Step(e)
    }
}

impl core::fmt::Display for LoadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Elf(e) => write!(f, "the component ELF does not parse: {e:?}"),
            Self::NoSegments => write!(f, "the component ELF has no program headers"),
            Self::Truncated => write!(f, "a segment of the component ELF lies past its end"),
            Self::Step(e) => write!(f, "{e}"),
        }
    }
}

/// Calls `f(page vaddr, writable, bytes of the file in that page at their offset)` for every
/// page of every PT_LOAD segment of `image`, in order.
fn for_each_page(
    image: &[u8],
    mut f: impl FnMut(Word, bool, Option<(usize, &[u8])>) -> Result<(), LoadError>,
) -> Result<Word, LoadError> {
    let file = ElfBytes::<LittleEndian>::minimal_parse(image).map_err(LoadError::Elf)?;
    let segments = file.segments().ok_or(LoadError::NoSegments)?;
    for ph in segments.iter().filter(|p| p.p_type == PT_LOAD) {
        let start = ph.p_vaddr & !(PAGE - 1);
        let end = (ph.p_vaddr + ph.p_memsz).div_ceil(PAGE) * PAGE;
        let mut page = start;
        while page < end {
            // The file bytes of this segment that fall in this page.
            let lo = page.max(ph.p_vaddr);
            let hi = (page + PAGE).min(ph.p_vaddr + ph.p_filesz);
            let bytes = if lo < hi {
                let off = (ph.p_offset + (lo - ph.p_vaddr)) as usize;
                let src = image
                    .get(off..off + (hi - lo) as usize)
                    .ok_or(LoadError::Truncated)?;
                Some(((lo - page) as usize, src))
            } else {
                None
            };
            f(page, ph.p_flags & PF_W != 0, bytes)?;
            page += PAGE;
        }
    }
    Ok(file.ehdr.e_entry)
}

/// Fills the monitor's mapping `dst` of one page: `bytes` at their offset, zeroes elsewhere.
///
/// # Safety
/// `dst` must be the monitor's read-write mapping of a whole page.
unsafe fn fill(dst: *mut u8, bytes: Option<(usize, &[u8])>) {
    // SAFETY: the caller's promise; offset + len lies in the page (for_each_page clips it).
    unsafe {
        core::ptr::write_bytes(dst, 0, PAGE as usize);
        if let Some((at, src)) = bytes {
            core::ptr::copy_nonoverlapping(src.as_ptr(), dst.add(at), src.len());
        }
    }
}

/// A loaded image: its entry point, its pages, and the monitor's mapping of its first page
/// (the monitor maps the pages one after another, in load order).
pub struct Loaded {
    pub entry: Word,
    pub pages: usize,
    first: *mut u8,
}

/// Loads `image` (a static ELF) into `vs`: each PT_LOAD page gets its own frame, read-write
/// only where the segment is writable.
pub fn load_elf(
    vs: &VSpace,
    alloc: &mut Alloc,
    ipc: &mut IpcBuffer,
    scratch: &mut Scratch,
    image: &[u8],
) -> Result<Loaded, LoadError> {
    let (mut pages, mut first) = (0, core::ptr::null_mut());
    let entry = for_each_page(image, |page, writable, bytes| {
        let rights = if writable { RW } else { RO };
        let (_, dst) = vs.new_page(alloc, ipc, Some(&mut *scratch), page, rights)?;
        if pages == 0 {
            first = dst;
        }
        // SAFETY: dst is a fresh 4 KiB frame mapped for the monitor.
        unsafe { fill(dst, bytes) };
        pages += 1;
        Ok(())
    })?;
    Ok(Loaded {
        entry,
        pages,
        first,
    })
}

/// Restores the writable pages of a loaded `image` (data and bss) to their initial contents,
/// for a restart; the read-only pages cannot have changed.
pub fn reload_writable(image: &[u8], loaded: &Loaded) -> Result<(), LoadError> {
    let mut k = 0;
    for_each_page(image, |_, writable, bytes| {
        if writable {
            // SAFETY: page k of the image, mapped for the monitor by load_elf at first + k pages
            // (consecutive scratch pages, in this same order), and still mapped.
            unsafe { fill(loaded.first.add(k * PAGE as usize), bytes) };
        }
        k += 1;
        Ok(())
    })
    .map(|_| ())
}
