//! `ipc::Notify` on seL4: the send side of a channel is a signal-only capability to the
//! receiver's notification, badged with the channel's bit.
//!
//! Avoids: receiving through it (the capability has no read right; the receiver waits on its
//! own notification, see the runtime backend).

use crate::{CPtr, seL4_Signal};
use ipc::{Notify, NotifyError};

/// A channel's send-side notification: a signal-only capability to the receiver's notification.
pub struct Sel4Notify(pub CPtr);

/// EPERM: this capability may only signal.
const SIGNAL_ONLY: i32 = 1;

impl Notify for Sel4Notify {
    fn signal(&self) -> Result<(), NotifyError> {
        seL4_Signal(self.0);
        Ok(())
    }

    fn wait(&self) -> Result<(), NotifyError> {
        Err(NotifyError::Os(SIGNAL_ONLY))
    }

    fn poll(&self) -> Result<bool, NotifyError> {
        Err(NotifyError::Os(SIGNAL_ONLY))
    }
}
