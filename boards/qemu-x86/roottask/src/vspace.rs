//! Address spaces for components: a fresh VSpace (PML4 with one PDPT, page directory and page
//! table covering 2 MiB), frames mapped into it with per-page rights, and the loading of a
//! component's own ELF into it. The monitor reaches each frame it fills through a second
//! mapping in its own VSpace (the "scratch" window), never through the component's.
//!
//! Avoids: sharing any page of the monitor with a component; mappings beyond the 2 MiB window.

use crate::alloc::{Alloc, StepError, step};
use elf::ElfBytes;
use elf::abi::{PF_W, PT_LOAD};
use elf::endian::LittleEndian;
use sel4::*;

const PAGE: Word = 1 << seL4_PageBits;
/// Where the monitor maps the frames it fills, in its own VSpace (2 MiB, one page table).
const SCRATCH_BASE: Word = 0x2000_0000;
const SCRATCH_END: Word = SCRATCH_BASE + (1 << 21);

/// Read-only, and read-write, page rights.
pub const RO: Word = cap_rights(false, true, false);
pub const RW: Word = cap_rights(false, true, true);

/// The monitor's window onto the frames it fills.
pub struct Scratch {
    next: Word,
}

impl Scratch {
    /// Gives the monitor's VSpace a page table (and page directory if needed) for the window.
    pub fn new(alloc: &mut Alloc, ipc: &mut IpcBuffer) -> Result<Self, StepError> {
        let root = seL4_CapInitThreadVSpace;
        let pt = alloc.object(
            ipc,
            seL4_X86_PageTableObject,
            0,
            "retype scratch page table",
        )?;
        if let Err(e) = ipc.map_table(pt, X86PageTableMap, root, SCRATCH_BASE) {
            if e.0 != seL4_FailedLookup {
                return step("map scratch page table", Err(e)).map(|_| unreachable!());
            }
            let pd = alloc.object(
                ipc,
                seL4_X86_PageDirectoryObject,
                0,
                "retype scratch page directory",
            )?;
            step(
                "map scratch page directory",
                ipc.map_table(pd, X86PageDirectoryMap, root, SCRATCH_BASE),
            )?;
            step(
                "map scratch page table",
                ipc.map_table(pt, X86PageTableMap, root, SCRATCH_BASE),
            )?;
        }
        Ok(Self { next: SCRATCH_BASE })
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
        step(
            "map frame for the monitor",
            ipc.map_page(copy, seL4_CapInitThreadVSpace, self.next, RW),
        )?;
        self.next += PAGE;
        Ok((copy, (self.next - PAGE) as *mut u8))
    }
}

/// A component's address space: its PML4 and the 2 MiB window at `base`.
pub struct VSpace {
    pub pml4: CPtr,
    base: Word,
}

impl VSpace {
    /// A new VSpace with an ASID and one page table covering [base, base + 2 MiB).
    pub fn new(alloc: &mut Alloc, ipc: &mut IpcBuffer, base: Word) -> Result<Self, StepError> {
        let pml4 = alloc.object(ipc, seL4_X64_PML4Object, 0, "retype PML4")?;
        step(
            "assign ASID",
            ipc.asid_pool_assign(seL4_CapInitThreadASIDPool, pml4),
        )?;
        let pdpt = alloc.object(ipc, seL4_X86_PDPTObject, 0, "retype PDPT")?;
        step("map PDPT", ipc.map_table(pdpt, X86PDPTMap, pml4, base))?;
        let pd = alloc.object(
            ipc,
            seL4_X86_PageDirectoryObject,
            0,
            "retype page directory",
        )?;
        step(
            "map page directory",
            ipc.map_table(pd, X86PageDirectoryMap, pml4, base),
        )?;
        let pt = alloc.object(ipc, seL4_X86_PageTableObject, 0, "retype page table")?;
        step(
            "map page table",
            ipc.map_table(pt, X86PageTableMap, pml4, base),
        )?;
        Ok(Self { pml4, base })
    }

    /// A new zeroed frame mapped at `vaddr` with `rights`; returns the frame cap and the
    /// monitor's pointer to it.
    pub fn new_page(
        &self,
        alloc: &mut Alloc,
        ipc: &mut IpcBuffer,
        scratch: &mut Scratch,
        vaddr: Word,
        rights: Word,
    ) -> Result<(CPtr, *mut u8), StepError> {
        if vaddr < self.base || vaddr >= self.base + (1 << 21) {
            return Err(StepError {
                what: "map outside the component's 2 MiB window",
                error: Error(seL4_RangeError),
            });
        }
        let frame = alloc.object(ipc, seL4_X86_4K, 0, "retype frame")?;
        let (_, ptr) = scratch.map(alloc, ipc, frame)?;
        step(
            "map frame for the component",
            ipc.map_page(frame, self.pml4, vaddr, rights),
        )?;
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
        step(
            "map shared frame",
            ipc.map_page(copy, self.pml4, vaddr, rights),
        )
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

/// Loads `image` (a static ELF) into `vs`: each PT_LOAD page gets its own frame, read-write
/// only where the segment is writable. Returns the entry point and the page count.
pub fn load_elf(
    vs: &VSpace,
    alloc: &mut Alloc,
    ipc: &mut IpcBuffer,
    scratch: &mut Scratch,
    image: &[u8],
) -> Result<(Word, usize), LoadError> {
    let file = ElfBytes::<LittleEndian>::minimal_parse(image).map_err(LoadError::Elf)?;
    let segments = file.segments().ok_or(LoadError::NoSegments)?;
    let mut pages = 0;
    for ph in segments.iter().filter(|p| p.p_type == PT_LOAD) {
        let rights = if ph.p_flags & PF_W != 0 { RW } else { RO };
        let start = ph.p_vaddr & !(PAGE - 1);
        let end = (ph.p_vaddr + ph.p_memsz).div_ceil(PAGE) * PAGE;
        let mut page = start;
        while page < end {
            let (_, dst) = vs.new_page(alloc, ipc, scratch, page, rights)?;
            // The file bytes of this segment that fall in this page.
            let lo = page.max(ph.p_vaddr);
            let hi = (page + PAGE).min(ph.p_vaddr + ph.p_filesz);
            if lo < hi {
                let off = (ph.p_offset + (lo - ph.p_vaddr)) as usize;
                let src = image
                    .get(off..off + (hi - lo) as usize)
                    .ok_or(LoadError::Truncated)?;
                // SAFETY: dst is a fresh 4 KiB frame mapped for the monitor; lo..hi lies in it.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        src.as_ptr(),
                        dst.add((lo - page) as usize),
                        src.len(),
                    )
                };
            }
            pages += 1;
            page += PAGE;
        }
    }
    Ok((file.ehdr.e_entry, pages))
}
