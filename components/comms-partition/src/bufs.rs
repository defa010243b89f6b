//! The partition's large buffers, in static memory: the component lives on the event loop's
//! stack, which the description keeps small (128 KiB for comms), and debug builds copy the
//! component several times while it is built. Each buffer is a `spin::Mutex` taken once per
//! process with `try_lock`, and its guard is kept by the component for the rest of the process:
//! no `unsafe`, and a second instance gets `None` instead of aliasing the first.
//!
//! Avoids: the heap, `unsafe`.

use crate::links::{HDLC_ENCODED_MAX, SerialRx};
use comms::sdls::MAX_UNIT_LEN;
use spin::{Mutex, MutexGuard};

static UNIT: Mutex<[u8; MAX_UNIT_LEN]> = Mutex::new([0; MAX_UNIT_LEN]);
static FRAME: Mutex<[u8; HDLC_ENCODED_MAX]> = Mutex::new([0; HDLC_ENCODED_MAX]);
static SERIAL_RX: Mutex<SerialRx> = Mutex::new(SerialRx::new());

/// The buffers one comms instance holds.
pub struct Buffers {
    /// Receive buffer for one radio unit.
    pub unit: MutexGuard<'static, [u8; MAX_UNIT_LEN]>,
    /// Encoding buffer for one serial frame.
    pub frame: MutexGuard<'static, [u8; HDLC_ENCODED_MAX]>,
    /// Serial read buffer and HDLC decoder.
    pub serial_rx: MutexGuard<'static, SerialRx>,
}

/// Take the buffers (`None` if this process already took them).
pub fn take() -> Option<Buffers> {
    Some(Buffers {
        unit: UNIT.try_lock()?,
        frame: FRAME.try_lock()?,
        serial_rx: SERIAL_RX.try_lock()?,
    })
}
