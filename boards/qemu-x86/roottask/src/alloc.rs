//! The monitor's object allocator: retypes kernel objects out of one untyped region into the
//! next free slots of its root CNode, and mints the monitor's own badged signal capabilities.
//! Never frees (objects live as long as the node).
//!
//! Avoids: a heap; any bookkeeping beyond the next free slot.

use sel4::*;

/// A failed step, named for the boot log.
#[derive(Clone, Copy)]
pub struct StepError {
    pub what: &'static str,
    pub error: Error,
}

impl core::fmt::Display for StepError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} failed: {}", self.what, self.error.name())
    }
}

/// Names a kernel call's failure.
pub fn step(what: &'static str, r: Result<(), Error>) -> Result<(), StepError> {
    r.map_err(|error| StepError { what, error })
}

/// Retypes objects from `untyped` into slots `next..` of the root CNode.
pub struct Alloc {
    untyped: CPtr,
    next: CPtr,
    end: CPtr,
}

impl Alloc {
    pub fn new(untyped: CPtr, empty: (CPtr, CPtr)) -> Self {
        Self {
            untyped,
            next: empty.0,
            end: empty.1,
        }
    }

    /// A free slot of the root CNode.
    pub fn slot(&mut self) -> Result<CPtr, StepError> {
        if self.next >= self.end {
            return Err(StepError {
                what: "allocate a root CNode slot",
                error: Error(seL4_NotEnoughMemory),
            });
        }
        self.next += 1;
        Ok(self.next - 1)
    }

    /// One new object of type `ty` (`bits`: its size for variable-size objects).
    pub fn object(
        &mut self,
        ipc: &mut IpcBuffer,
        ty: Word,
        bits: Word,
        what: &'static str,
    ) -> Result<CPtr, StepError> {
        let slot = self.slot()?;
        step(what, ipc.untyped_retype(self.untyped, ty, bits, slot))?;
        Ok(slot)
    }

    /// A signal-only copy of notification `target`, badged `badge`, in the next free slot.
    pub fn signal_cap(
        &mut self,
        ipc: &mut IpcBuffer,
        target: CPtr,
        badge: Word,
    ) -> Result<CPtr, StepError> {
        let slot = self.slot()?;
        let write = cap_rights(false, false, true);
        let what = "mint a signal capability for the monitor";
        step(
            what,
            ipc.cnode_mint(
                seL4_CapInitThreadCNode,
                slot,
                seL4_WordBits,
                target,
                write,
                badge,
            ),
        )?;
        Ok(slot)
    }
}
