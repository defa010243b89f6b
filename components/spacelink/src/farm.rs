//! FARM-1, the receiving side of COP-1 (CCSDS 232.1 §6), for one virtual channel: the state
//! machine Open (S1), Wait (S2) and Lockout (S3) of the standard's state table, the sliding
//! window (width W, positive and negative halves W/2), V(R), the FARM-B counter and the flags
//! the CLCW reports ([`crate::clcw`]).
//!
//! The caller validates frames first ([`crate::tc::parse`] checks version, length and CRC; the
//! spacecraft id is the caller's to compare with its own) and passes each valid frame of this virtual channel to [`Farm::frame`] together with
//! whether its buffer can take the data (232.1's "FARM buffer available"); FARM says whether to
//! accept (hand the data up) or discard it. Frames that fail validation are event E9: discard,
//! no state change; [`Farm::invalid`] counts them.
//!
//! Avoids: heap, timers (FARM has none), interpreting frames of another virtual channel.

use crate::clcw::Clcw;
use crate::tc::{FrameType, SET_VR_PREFIX, TcFrame, UNLOCK};

/// FARM-1 states (232.1 §6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FarmState {
    /// S1: accepting in-sequence type-AD frames.
    Open,
    /// S2: no buffer for the next type-AD frame; waiting for a buffer release.
    Wait,
    /// S3: a type-AD frame fell outside the window; only Unlock gets out.
    Lockout,
}

/// What to do with a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FarmAction {
    /// Hand the frame's data up (type-AD in sequence, or type-BD).
    AcceptData,
    /// A control command (Unlock or Set V(R)) was carried out; nothing to hand up.
    AcceptControl,
    /// Discard the frame, for this reason.
    Discard(DiscardReason),
}

/// Why FARM discarded a frame (the table's event, for logs and counters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiscardReason {
    /// E1/E2 in Lockout: type-AD frames are refused until Unlock.
    Lockout,
    /// E2: in sequence but no buffer (enters or stays in Wait).
    NoBuffer,
    /// E3: ahead of V(R) inside the positive window: a frame was lost, retransmit.
    Gap,
    /// E4: behind V(R) inside the negative window: a duplicate.
    Duplicate,
    /// E5: outside the window: Lockout entered.
    OutsideWindow,
    /// E9: a type-BC frame with no valid directive, or a frame of another virtual channel.
    Invalid,
}

/// Why a FARM cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FarmError {
    /// W must be even and in 2..=254 (232.1 §6.1.8.2; both window halves W/2).
    #[error("FARM sliding window width {0} invalid: must be even, 2..=254")]
    Window(u8),
    /// The virtual channel id exceeds 6 bits.
    #[error("virtual channel id {0} exceeds 6 bits")]
    Vcid(u8),
}

/// Counters of one FARM.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FarmStats {
    /// Frames accepted (data and control).
    pub accepted: u32,
    /// Frames discarded by the state table.
    pub discarded: u32,
    /// Invalid frames (E9) reported by the caller or found here.
    pub invalid: u32,
}

/// FARM-1 for one virtual channel.
#[derive(Clone, Debug)]
pub struct Farm {
    vcid: u8,
    half_window: u8,
    state: FarmState,
    // The Wait flag is not the Wait state: E5 in Wait enters Lockout with the flag still on,
    // and only E10 or Unlock clears it there.
    wait: bool,
    retransmit: bool,
    vr: u8,
    b_counter: u8,
    stats: FarmStats,
}

impl Farm {
    /// FARM for virtual channel `vcid` with sliding window width `window`, in Open with V(R) 0.
    pub fn new(vcid: u8, window: u8) -> Result<Self, FarmError> {
        if !(2..=254).contains(&window) || !window.is_multiple_of(2) {
            return Err(FarmError::Window(window));
        }
        if vcid > 0x3F {
            return Err(FarmError::Vcid(vcid));
        }
        Ok(Self {
            vcid,
            half_window: window / 2,
            state: FarmState::Open,
            wait: false,
            retransmit: false,
            vr: 0,
            b_counter: 0,
            stats: FarmStats::default(),
        })
    }

    /// The current state.
    pub fn state(&self) -> FarmState {
        self.state
    }

    /// V(R): the N(S) expected next.
    pub fn vr(&self) -> u8 {
        self.vr
    }

    /// Counters so far.
    pub fn stats(&self) -> FarmStats {
        self.stats
    }

    /// The CLCW reporting this FARM (the physical-layer flags are the caller's to set).
    pub fn clcw(&self) -> Clcw {
        Clcw {
            vcid: self.vcid,
            lockout: self.state == FarmState::Lockout,
            wait: self.wait,
            retransmit: self.retransmit,
            farm_b_counter: self.b_counter,
            report_value: self.vr,
            ..Clcw::default()
        }
    }

    /// E9: a frame failed validation (CRC, length, header); discarded, no state change.
    pub fn invalid(&mut self) {
        self.stats.invalid = self.stats.invalid.saturating_add(1);
    }

    /// E10: the higher procedures have freed the buffer (Wait flag off; Wait returns to Open).
    pub fn buffer_release(&mut self) {
        self.wait = false;
        if self.state == FarmState::Wait {
            self.state = FarmState::Open;
        }
    }

    /// Runs the state table on one valid frame; `buffer_available` says whether the data of an
    /// in-sequence type-AD frame could be taken now.
    pub fn frame(&mut self, frame: &TcFrame<'_>, buffer_available: bool) -> FarmAction {
        if frame.header.vcid != self.vcid {
            self.stats.invalid = self.stats.invalid.saturating_add(1);
            return FarmAction::Discard(DiscardReason::Invalid);
        }
        let action = match frame.header.frame_type {
            FrameType::Ad => self.type_ad(frame.header.seq, buffer_available),
            FrameType::Bd => {
                // E6: accepted in every state.
                self.count_b();
                FarmAction::AcceptData
            }
            FrameType::Bc => self.type_bc(frame.data),
        };
        match action {
            FarmAction::Discard(DiscardReason::Invalid) => {
                self.stats.invalid = self.stats.invalid.saturating_add(1)
            }
            FarmAction::Discard(_) => self.stats.discarded = self.stats.discarded.saturating_add(1),
            _ => self.stats.accepted = self.stats.accepted.saturating_add(1),
        }
        action
    }

    fn type_ad(&mut self, ns: u8, buffer_available: bool) -> FarmAction {
        let ahead = ns.wrapping_sub(self.vr);
        let behind = self.vr.wrapping_sub(ns);
        if ahead == 0 {
            // E1 / E2.
            return match self.state {
                FarmState::Lockout => FarmAction::Discard(DiscardReason::Lockout),
                // In Wait no buffer has been released: the frame cannot be taken yet.
                FarmState::Wait => FarmAction::Discard(DiscardReason::NoBuffer),
                FarmState::Open if buffer_available => {
                    self.vr = self.vr.wrapping_add(1);
                    self.retransmit = false;
                    FarmAction::AcceptData
                }
                FarmState::Open => {
                    self.retransmit = true;
                    self.wait = true;
                    self.state = FarmState::Wait;
                    FarmAction::Discard(DiscardReason::NoBuffer)
                }
            };
        }
        if ahead < self.half_window {
            // E3: a gap; S1 asks for retransmission.
            if self.state == FarmState::Open {
                self.retransmit = true;
            }
            return FarmAction::Discard(DiscardReason::Gap);
        }
        if behind <= self.half_window {
            // E4: a duplicate.
            return FarmAction::Discard(DiscardReason::Duplicate);
        }
        // E5: lockout area.
        self.state = FarmState::Lockout;
        FarmAction::Discard(DiscardReason::OutsideWindow)
    }

    fn type_bc(&mut self, data: &[u8]) -> FarmAction {
        if data == UNLOCK {
            // E7: every state returns to Open with Retransmit, Wait and Lockout off.
            self.count_b();
            self.retransmit = false;
            self.wait = false;
            self.state = FarmState::Open;
            return FarmAction::AcceptControl;
        }
        if let [p0, p1, vr] = *data
            && [p0, p1] == SET_VR_PREFIX
        {
            // E8: in Lockout only counted; otherwise V(R) set, back to Open.
            self.count_b();
            if self.state != FarmState::Lockout {
                self.retransmit = false;
                self.wait = false;
                self.state = FarmState::Open;
                self.vr = vr;
            }
            return FarmAction::AcceptControl;
        }
        FarmAction::Discard(DiscardReason::Invalid)
    }

    fn count_b(&mut self) {
        self.b_counter = (self.b_counter + 1) & 0x03;
    }
}
