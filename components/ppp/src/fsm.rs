//! The RFC 1661 §4.1 option negotiation automaton as a pure function: `(state, event) ->
//! (actions, next state)`, or `None` where the RFC's table has a dash (an illegal event, which
//! the caller ignores and counts). Every cell is written here as the RFC prints it; the table
//! test in `tests/rfc1661_table.rs` parses the RFC's own table text and checks all 160 cells.
//!
//! Footnotes: `[p]` (passive: TO- leaves the automaton in Stopped, waiting for the peer) and `[x]`
//! (crossed connection) need nothing more here; `[r]` (restart option on Open in Closing,
//! Stopping and Opened) is not taken: Open there changes nothing, as the plain table says.
//!
//! Avoids: side effects (the caller performs the actions, see `cp`).

/// The ten states (RFC 1661 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// 0: lower layer down, no Open.
    Initial,
    /// 1: Open, lower layer down.
    Starting,
    /// 2: lower layer up, no Open.
    Closed,
    /// 3: waiting for the peer after a finished attempt (passive).
    Stopped,
    /// 4: Terminate-Request sent after Close.
    Closing,
    /// 5: Terminate-Request sent or acknowledged, not after Close.
    Stopping,
    /// 6: Configure-Request sent.
    ReqSent,
    /// 7: Configure-Ack received.
    AckRcvd,
    /// 8: Configure-Ack sent.
    AckSent,
    /// 9: both sides acknowledged.
    Opened,
}

impl core::fmt::Display for State {
    /// The RFC's name of the state, and what it means here.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            State::Initial => "Initial (line down, not opened)",
            State::Starting => "Starting (opened, line down)",
            State::Closed => "Closed (line up, not opened)",
            State::Stopped => "Stopped (waiting for the peer)",
            State::Closing => "Closing (terminating after a Close)",
            State::Stopping => "Stopping (terminating)",
            State::ReqSent => "Req-Sent (our Configure-Request sent, no answer)",
            State::AckRcvd => "Ack-Rcvd (our request acknowledged, the peer's not yet)",
            State::AckSent => "Ack-Sent (the peer's request acknowledged, ours not yet)",
            State::Opened => "Opened",
        })
    }
}

/// The events (RFC 1661 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Lower layer is up.
    Up,
    /// Lower layer is down.
    Down,
    /// Administrative Open.
    Open,
    /// Administrative Close.
    Close,
    /// Restart timer expired, counter > 0.
    ToPlus,
    /// Restart timer expired, counter expired.
    ToMinus,
    /// Acceptable Configure-Request.
    RcrPlus,
    /// Unacceptable Configure-Request.
    RcrMinus,
    /// Configure-Ack.
    Rca,
    /// Configure-Nak or Configure-Reject.
    Rcn,
    /// Terminate-Request.
    Rtr,
    /// Terminate-Ack.
    Rta,
    /// Unknown code.
    Ruc,
    /// Permitted Code-Reject or Protocol-Reject.
    RxjPlus,
    /// Catastrophic Code-Reject or Protocol-Reject.
    RxjMinus,
    /// Echo-Request, Echo-Reply or Discard-Request.
    Rxr,
}

/// The actions of one transition (RFC 1661 §4.4), a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Actions(u16);

impl Actions {
    /// This-Layer-Up.
    pub const TLU: Self = Self(1);
    /// This-Layer-Down.
    pub const TLD: Self = Self(1 << 1);
    /// This-Layer-Started.
    pub const TLS: Self = Self(1 << 2);
    /// This-Layer-Finished.
    pub const TLF: Self = Self(1 << 3);
    /// Initialize-Restart-Count.
    pub const IRC: Self = Self(1 << 4);
    /// Zero-Restart-Count.
    pub const ZRC: Self = Self(1 << 5);
    /// Send-Configure-Request.
    pub const SCR: Self = Self(1 << 6);
    /// Send-Configure-Ack.
    pub const SCA: Self = Self(1 << 7);
    /// Send-Configure-Nak/Rej.
    pub const SCN: Self = Self(1 << 8);
    /// Send-Terminate-Request.
    pub const STR: Self = Self(1 << 9);
    /// Send-Terminate-Ack.
    pub const STA: Self = Self(1 << 10);
    /// Send-Code-Reject.
    pub const SCJ: Self = Self(1 << 11);
    /// Send-Echo-Reply.
    pub const SER: Self = Self(1 << 12);
    /// No action.
    pub const NONE: Self = Self(0);

    /// Whether every action of `other` is in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union.
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

impl core::ops::BitOr for Actions {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.with(rhs)
    }
}

/// The transition for `event` in `state`; `None` where RFC 1661 §4.1 has a dash.
pub fn transition(state: State, event: Event) -> Option<(Actions, State)> {
    use Event as E;
    use State as S;
    const N: Actions = Actions::NONE;
    const TLU: Actions = Actions::TLU;
    const TLD: Actions = Actions::TLD;
    const TLS: Actions = Actions::TLS;
    const TLF: Actions = Actions::TLF;
    const IRC: Actions = Actions::IRC;
    const ZRC: Actions = Actions::ZRC;
    const SCR: Actions = Actions::SCR;
    const SCA: Actions = Actions::SCA;
    const SCN: Actions = Actions::SCN;
    const STR: Actions = Actions::STR;
    const STA: Actions = Actions::STA;
    const SCJ: Actions = Actions::SCJ;
    const SER: Actions = Actions::SER;
    let cell = match (event, state) {
        (E::Up, S::Initial) => (N, S::Closed),
        (E::Up, S::Starting) => (IRC | SCR, S::ReqSent),
        (E::Up, _) => return None,

        (E::Down, S::Closed) => (N, S::Initial),
        (E::Down, S::Stopped) => (TLS, S::Starting),
        (E::Down, S::Closing) => (N, S::Initial),
        (E::Down, S::Stopping | S::ReqSent | S::AckRcvd | S::AckSent) => (N, S::Starting),
        (E::Down, S::Opened) => (TLD, S::Starting),
        (E::Down, S::Initial | S::Starting) => return None,

        (E::Open, S::Initial) => (TLS, S::Starting),
        (E::Open, S::Closed) => (IRC | SCR, S::ReqSent),
        (E::Open, S::Closing) => (N, S::Stopping),
        (E::Open, s) => (N, s),

        (E::Close, S::Initial) => (N, S::Initial),
        (E::Close, S::Starting) => (TLF, S::Initial),
        (E::Close, S::Closed | S::Stopped) => (N, S::Closed),
        (E::Close, S::Closing | S::Stopping) => (N, S::Closing),
        (E::Close, S::ReqSent | S::AckRcvd | S::AckSent) => (IRC | STR, S::Closing),
        (E::Close, S::Opened) => (TLD | IRC | STR, S::Closing),

        (E::ToPlus, S::Closing) => (STR, S::Closing),
        (E::ToPlus, S::Stopping) => (STR, S::Stopping),
        (E::ToPlus, S::ReqSent | S::AckRcvd) => (SCR, S::ReqSent),
        (E::ToPlus, S::AckSent) => (SCR, S::AckSent),
        (E::ToMinus, S::Closing) => (TLF, S::Closed),
        (E::ToMinus, S::Stopping | S::ReqSent | S::AckRcvd | S::AckSent) => (TLF, S::Stopped),
        (E::ToPlus | E::ToMinus, _) => return None,

        (E::RcrPlus | E::RcrMinus | E::Rca | E::Rcn, S::Closed) => (STA, S::Closed),
        (E::RcrPlus, S::Stopped) => (IRC | SCR | SCA, S::AckSent),
        (E::RcrMinus, S::Stopped) => (IRC | SCR | SCN, S::ReqSent),
        (E::Rca | E::Rcn, S::Stopped) => (STA, S::Stopped),
        (E::RcrPlus | E::RcrMinus | E::Rca | E::Rcn, s @ (S::Closing | S::Stopping)) => (N, s),
        (E::RcrPlus, S::ReqSent | S::AckSent) => (SCA, S::AckSent),
        (E::RcrPlus, S::AckRcvd) => (SCA | TLU, S::Opened),
        (E::RcrPlus, S::Opened) => (TLD | SCR | SCA, S::AckSent),
        (E::RcrMinus, S::ReqSent | S::AckSent) => (SCN, S::ReqSent),
        (E::RcrMinus, S::AckRcvd) => (SCN, S::AckRcvd),
        (E::RcrMinus, S::Opened) => (TLD | SCR | SCN, S::ReqSent),
        (E::Rca, S::ReqSent) => (IRC, S::AckRcvd),
        (E::Rca, S::AckRcvd) => (SCR, S::ReqSent),
        (E::Rca, S::AckSent) => (IRC | TLU, S::Opened),
        (E::Rca, S::Opened) => (TLD | SCR, S::ReqSent),
        (E::Rcn, S::ReqSent) => (IRC | SCR, S::ReqSent),
        (E::Rcn, S::AckRcvd) => (SCR, S::ReqSent),
        (E::Rcn, S::AckSent) => (IRC | SCR, S::AckSent),
        (E::Rcn, S::Opened) => (TLD | SCR, S::ReqSent),
        (E::RcrPlus | E::RcrMinus | E::Rca | E::Rcn, S::Initial | S::Starting) => return None,

        (E::Rtr, S::Closed | S::Stopped | S::Closing | S::Stopping) => (STA, state),
        (E::Rtr, S::ReqSent | S::AckRcvd | S::AckSent) => (STA, S::ReqSent),
        (E::Rtr, S::Opened) => (TLD | ZRC | STA, S::Stopping),
        (E::Rta, S::Closed | S::Stopped) => (N, state),
        (E::Rta, S::Closing) => (TLF, S::Closed),
        (E::Rta, S::Stopping) => (TLF, S::Stopped),
        (E::Rta, S::ReqSent | S::AckRcvd) => (N, S::ReqSent),
        (E::Rta, S::AckSent) => (N, S::AckSent),
        (E::Rta, S::Opened) => (TLD | SCR, S::ReqSent),
        (E::Rtr | E::Rta, S::Initial | S::Starting) => return None,

        (E::Ruc, S::Initial | S::Starting) => return None,
        (E::Ruc, s) => (SCJ, s),
        (E::RxjPlus, S::Initial | S::Starting) => return None,
        (E::RxjPlus, S::AckRcvd) => (N, S::ReqSent),
        (E::RxjPlus, s) => (N, s),
        (E::RxjMinus, S::Closed | S::Closing) => (TLF, S::Closed),
        (E::RxjMinus, S::Stopped | S::Stopping | S::ReqSent | S::AckRcvd | S::AckSent) => {
            (TLF, S::Stopped)
        }
        (E::RxjMinus, S::Opened) => (TLD | IRC | STR, S::Stopping),
        (E::RxjMinus, S::Initial | S::Starting) => return None,

        (E::Rxr, S::Opened) => (SER, S::Opened),
        (E::Rxr, S::Initial | S::Starting) => return None,
        (E::Rxr, s) => (N, s),
    };
    Some(cell)
}
