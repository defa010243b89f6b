//! The partition's large buffers, in static memory: the component lives on the event loop's
//! stack, which the description keeps small (128 KiB for comms), and debug builds copy the
//! component several times while it is built. Each buffer is a `spin::Mutex` taken once per
//! process with `try_lock`, and its guard is kept by the component for the rest of the process
//! (the standby line's, the event log's, the PPP counters' and the CCSDS radio's are leaked into
//! a `&'static mut`: the line and the radio are filled in at init, the log and the counters are
//! lent to the node): no `unsafe`, and
//! a second instance gets `None` instead of aliasing the first.
//!
//! Avoids: the heap, `unsafe`.

use comms::pus::event_log::EventLog;
use comms::pus::hk_ppp::PppTelemetry;
use comms::radio_ccsds::CcsdsRadio;
use comms::sdls::MAX_UNIT_LEN;
use comms::standby::StandbyLine;
use spin::{Mutex, MutexGuard};

static UNIT: Mutex<[u8; MAX_UNIT_LEN]> = Mutex::new([0; MAX_UNIT_LEN]);
static LINE: Mutex<Option<StandbyLine>> = Mutex::new(None);
static EVENTS: Mutex<EventLog> = Mutex::new(EventLog::new());
static PPP: Mutex<PppTelemetry> = Mutex::new(PppTelemetry::ZERO);
static CCSDS: Mutex<Option<CcsdsRadio>> = Mutex::new(None);

/// The buffers one comms instance holds.
pub struct Buffers {
    /// Receive buffer for one radio unit.
    pub unit: MutexGuard<'static, [u8; MAX_UNIT_LEN]>,
    /// Where the standby line (PPP engine and its buffers) goes.
    pub line: &'static mut Option<StandbyLine>,
    /// The node's recent events (TC 5,128), lent to the node.
    pub events: &'static mut EventLog,
    /// The standby line's PPP counters as housekeeping reports them, lent to the node.
    pub ppp: &'static mut PppTelemetry,
    /// Where the radio's CCSDS link state (CLTU decoder, FARM-1, TM framer) goes, when the
    /// description puts the radio on it.
    pub ccsds: &'static mut Option<CcsdsRadio>,
}

/// Take the buffers (`None` if this process already took them).
pub fn take() -> Option<Buffers> {
    Some(Buffers {
        unit: UNIT.try_lock()?,
        line: MutexGuard::leak(LINE.try_lock()?),
        events: MutexGuard::leak(EVENTS.try_lock()?),
        ppp: MutexGuard::leak(PPP.try_lock()?),
        ccsds: MutexGuard::leak(CCSDS.try_lock()?),
    })
}
