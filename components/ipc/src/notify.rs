//! Notifications: how a sender wakes its receiver. Backends implement [`Notify`]: the in-process
//! one here (threads of one process), the Linux eventfd one in `eventfd`, seL4 notifications
//! later.
//!
//! A notification is a sticky flag: `signal` sets it, `poll` and `wait` consume it. Signals do not
//! count messages; after a wake-up the receiver drains its ring until `Empty`.
//!
//! Avoids: allocation, and any OS dependency in the trait itself.

use core::sync::atomic::{AtomicBool, Ordering};

use crate::error::NotifyError;

/// A one-bit, sticky, cross-context wake-up.
pub trait Notify {
    /// Sets the flag, waking a waiter. Never blocks.
    fn signal(&self) -> Result<(), NotifyError>;
    /// Blocks until the flag is set, then clears it.
    fn wait(&self) -> Result<(), NotifyError>;
    /// Clears the flag and returns whether it was set. Never blocks.
    fn poll(&self) -> Result<bool, NotifyError>;
}

impl<T: Notify + ?Sized> Notify for &T {
    fn signal(&self) -> Result<(), NotifyError> {
        (**self).signal()
    }
    fn wait(&self) -> Result<(), NotifyError> {
        (**self).wait()
    }
    fn poll(&self) -> Result<bool, NotifyError> {
        (**self).poll()
    }
}

/// In-process notification for endpoints in threads of one address space (tests, in-process
/// pipelines). `wait` spins (with the CPU's spin-loop hint), since `no_std` has no futex.
#[derive(Debug, Default)]
pub struct InProcessNotify {
    pending: AtomicBool,
}

impl InProcessNotify {
    /// A cleared notification.
    pub const fn new() -> Self {
        Self {
            pending: AtomicBool::new(false),
        }
    }
}

impl Notify for InProcessNotify {
    fn signal(&self) -> Result<(), NotifyError> {
        // Release: the message published before the signal is visible to whoever consumes it.
        self.pending.store(true, Ordering::Release);
        Ok(())
    }

    fn wait(&self) -> Result<(), NotifyError> {
        while !self.pending.swap(false, Ordering::Acquire) {
            core::hint::spin_loop();
        }
        Ok(())
    }

    fn poll(&self) -> Result<bool, NotifyError> {
        Ok(self.pending.swap(false, Ordering::Acquire))
    }
}

/// No notification: for receivers that busy-poll their ring. `signal` does nothing, `poll`
/// always reports "maybe" (true) and `wait` returns at once.
#[derive(Debug, Default, Clone, Copy)]
pub struct Polling;

impl Notify for Polling {
    fn signal(&self) -> Result<(), NotifyError> {
        Ok(())
    }
    fn wait(&self) -> Result<(), NotifyError> {
        Ok(())
    }
    fn poll(&self) -> Result<bool, NotifyError> {
        Ok(true)
    }
}
