//! One control protocol (LCP or IPCP): the RFC 1661 automaton of [`crate::fsm`] with its actions
//! carried out: the Restart timer (backed off exponentially, see [`crate::Config::restart_ms`])
//! and counter, Identifier matching (a Configure-Ack, -Nak or -Reject whose Identifier is not that
//! of our last Configure-Request, or an Ack that does not repeat it octet for octet, is dropped
//! and counted: RFC 1661 §5.2), the Configure-Request judgement (Reject beats Nak beats Ack,
//! Max-Failure turns further Naks into Rejects), Terminate and Code-Reject. What the options mean
//! is the [`Negotiator`]'s business.
//!
//! Avoids: heap; knowing any particular option.

use crate::config::Config;
use crate::fsm::{Actions, Event, State, transition};
use crate::packet::{Builder, Packet, check_options, code, options};

/// Judgement of one option the peer asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Acceptable.
    Ack,
    /// Acceptable with another value: the first `n` octets of the suggestion buffer.
    Nak(usize),
    /// Not negotiable.
    Reject,
}

/// What a control protocol negotiates.
pub trait Negotiator {
    /// The PPP protocol number.
    const PROTOCOL: u16;
    /// Back to the configured wishes (a fresh negotiation).
    fn reset(&mut self);
    /// Writes our Configure-Request options.
    fn request(&self, b: &mut Builder<'_>);
    /// Judges one option of the peer's Configure-Request (no side effects: called twice).
    fn judge(&self, kind: u8, value: &[u8], suggestion: &mut [u8; 8]) -> Verdict;
    /// Options the peer must include but left out of `request`, appended to a Configure-Nak
    /// to solicit them (RFC 1661 §5.3); returns whether any were.
    fn solicit(&self, request: &[u8], b: &mut Builder<'_>) -> bool;
    /// We acknowledged the peer's request with these (well-formed) options.
    fn accepted(&mut self, options: &[u8]);
    /// We answered the peer's Configure-Request (its options: `request`) with a Configure-Nak.
    fn nak_sent(&mut self, request: &[u8]);
    /// The peer Nak'd (`reject` false) or Rejected our options.
    fn refused(&mut self, options: &[u8], reject: bool);
    /// Our request was acknowledged.
    fn acked(&mut self);
}

/// Counters of one control protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpStats {
    /// Configure-Requests sent (first and retransmitted).
    pub requests_sent: u32,
    /// Ack/Nak/Reject dropped because their Identifier or content did not match our request.
    pub stale_replies: u32,
    /// Packets dropped as malformed.
    pub malformed: u32,
    /// Events the RFC's table calls illegal in the current state (ignored).
    pub illegal_events: u32,
}

/// Timer and counter state of one control protocol.
pub struct Cp {
    state: State,
    restart_count: u8,
    deadline: Option<u64>,
    timeout_ms: u32,
    next_id: u8,
    req_id: u8,
    req: [u8; 64],
    req_len: usize,
    naks_sent: u8,
    stats: CpStats,
}

impl Default for Cp {
    fn default() -> Self {
        Self::new()
    }
}

impl Cp {
    /// A protocol in the Initial state.
    pub const fn new() -> Self {
        Self {
            state: State::Initial,
            restart_count: 0,
            deadline: None,
            timeout_ms: 0,
            next_id: 1,
            req_id: 0,
            req: [0; 64],
            req_len: 0,
            naks_sent: 0,
            stats: CpStats {
                requests_sent: 0,
                stale_replies: 0,
                malformed: 0,
                illegal_events: 0,
            },
        }
    }

    /// The automaton's state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Counters.
    pub fn stats(&self) -> CpStats {
        self.stats
    }

    /// Starting → Stopped with no timer and nothing sent: the Up event of a passive (pppd
    /// `silent`) link, which waits for the peer's Configure-Request. Other states are left alone.
    pub fn up_passive(&mut self) {
        if self.state == State::Starting {
            self.state = State::Stopped;
            self.deadline = None;
            self.restart_count = 0;
        }
    }

    /// When the Restart timer fires, if it runs.
    pub fn deadline(&self) -> Option<u64> {
        self.deadline
    }

    /// Fires the Restart timer if it is due; returns the layer actions (tlu/tld/tls/tlf).
    pub fn poll<N: Negotiator>(
        &mut self,
        now: u64,
        cfg: &Config,
        neg: &mut N,
        send: &mut dyn FnMut(&[u8]),
    ) -> Actions {
        match self.deadline {
            Some(d) if now >= d => {
                let ev = if self.restart_count > 0 {
                    Event::ToPlus
                } else {
                    Event::ToMinus
                };
                if ev == Event::ToPlus {
                    self.timeout_ms = self.timeout_ms.saturating_mul(2).min(cfg.restart_max_ms);
                }
                self.event(ev, now, cfg, neg, send, None, &[])
            }
            _ => Actions::NONE,
        }
    }

    /// Handles one received packet of codes 1..=7 or an unknown code (the caller handles LCP's
    /// codes 8..=11 itself); returns the layer actions.
    pub fn receive<N: Negotiator>(
        &mut self,
        pkt: Packet<'_>,
        now: u64,
        cfg: &Config,
        neg: &mut N,
        send: &mut dyn FnMut(&[u8]),
    ) -> Actions {
        let ev = match pkt.code {
            code::CONFIGURE_REQUEST => {
                if check_options(pkt.data).is_err() {
                    self.stats.malformed += 1;
                    return Actions::NONE;
                }
                let mut reply = [0u8; crate::MAX_INFO];
                let (ev, len) = self.judge(pkt, cfg, neg, &mut reply);
                return self.event(ev, now, cfg, neg, send, Some(pkt), &reply[..len]);
            }
            code::CONFIGURE_ACK => {
                if pkt.id != self.req_id || pkt.data != &self.req[..self.req_len] {
                    self.stats.stale_replies += 1;
                    return Actions::NONE;
                }
                Event::Rca
            }
            code::CONFIGURE_NAK | code::CONFIGURE_REJECT => {
                if pkt.id != self.req_id {
                    self.stats.stale_replies += 1;
                    return Actions::NONE;
                }
                if check_options(pkt.data).is_err() {
                    self.stats.malformed += 1;
                    return Actions::NONE;
                }
                Event::Rcn
            }
            code::TERMINATE_REQUEST => Event::Rtr,
            code::TERMINATE_ACK => Event::Rta,
            code::CODE_REJECT => {
                // Rejecting a code the automaton needs is catastrophic (RFC 1661 §5.6).
                match pkt.data.first() {
                    Some(1..=7) => Event::RxjMinus,
                    Some(_) => Event::RxjPlus,
                    None => {
                        self.stats.malformed += 1;
                        return Actions::NONE;
                    }
                }
            }
            _ => Event::Ruc,
        };
        self.event(ev, now, cfg, neg, send, Some(pkt), &[])
    }

    /// Judges a Configure-Request: the event (RCR+ or RCR-) and the reply in `reply`.
    fn judge<N: Negotiator>(
        &self,
        pkt: Packet<'_>,
        cfg: &Config,
        neg: &N,
        reply: &mut [u8],
    ) -> (Event, usize) {
        let mut suggestion = [0u8; 8];
        let mut worst = code::CONFIGURE_ACK;
        for (kind, value) in options(pkt.data).flatten() {
            let c = match neg.judge(kind, value, &mut suggestion) {
                Verdict::Ack => code::CONFIGURE_ACK,
                Verdict::Nak(_) if self.naks_sent >= cfg.max_failure => code::CONFIGURE_REJECT,
                Verdict::Nak(_) => code::CONFIGURE_NAK,
                Verdict::Reject => code::CONFIGURE_REJECT,
            };
            worst = worst.max(c);
        }
        let can_nak = self.naks_sent < cfg.max_failure;
        if worst == code::CONFIGURE_ACK && can_nak {
            let mut probe = [0u8; 64];
            if neg.solicit(pkt.data, &mut Builder::new(&mut probe, 0, 0)) {
                worst = code::CONFIGURE_NAK;
            }
        }
        let mut b = Builder::new(reply, worst, pkt.id);
        if worst == code::CONFIGURE_ACK {
            b.bytes(pkt.data);
        } else {
            for (kind, value) in options(pkt.data).flatten() {
                let v = neg.judge(kind, value, &mut suggestion);
                match (worst, v) {
                    (code::CONFIGURE_REJECT, Verdict::Reject) => b.option(kind, value),
                    (code::CONFIGURE_REJECT, Verdict::Nak(_)) if !can_nak => b.option(kind, value),
                    (code::CONFIGURE_NAK, Verdict::Nak(n)) => {
                        b.option(kind, &suggestion[..n.min(8)])
                    }
                    _ => {}
                }
            }
            if worst == code::CONFIGURE_NAK {
                neg.solicit(pkt.data, &mut b);
            }
        }
        let len = b.finish().len();
        (
            if worst == code::CONFIGURE_ACK {
                Event::RcrPlus
            } else {
                Event::RcrMinus
            },
            len,
        )
    }

    /// Runs one event: transition, then its actions. `pkt` is the packet that caused it, `reply`
    /// the prepared Configure-Ack/Nak/Reject for an RCR event.
    #[allow(clippy::too_many_arguments)]
    pub fn event<N: Negotiator>(
        &mut self,
        ev: Event,
        now: u64,
        cfg: &Config,
        neg: &mut N,
        send: &mut dyn FnMut(&[u8]),
        pkt: Option<Packet<'_>>,
        reply: &[u8],
    ) -> Actions {
        let Some((acts, next)) = transition(self.state, ev) else {
            self.stats.illegal_events += 1;
            return Actions::NONE;
        };
        if ev == Event::Rcn
            && let Some(p) = pkt
        {
            neg.refused(p.data, p.code == code::CONFIGURE_REJECT);
        }
        if ev == Event::Rca {
            neg.acked();
        }
        let fresh = acts.contains(Actions::IRC | Actions::SCR)
            && matches!(self.state, State::Starting | State::Closed | State::Stopped);
        if fresh || acts.contains(Actions::TLS) || acts.contains(Actions::TLD) {
            // A fresh negotiation (or one after the link went down) starts from the configured
            // wishes, not from what an earlier peer refused.
            neg.reset();
            self.naks_sent = 0;
            self.timeout_ms = cfg.restart_ms;
        }
        if acts.contains(Actions::IRC) {
            // The counter restarts; the backed-off timeout does not (only a fresh negotiation
            // or a Close resets it): a round trip that outgrew the timer will again.
            self.restart_count = if acts.contains(Actions::STR) {
                cfg.max_terminate
            } else {
                cfg.max_configure
            };
            if acts.contains(Actions::STR) || self.timeout_ms == 0 {
                self.timeout_ms = cfg.restart_ms;
            }
        }
        if acts.contains(Actions::ZRC) {
            self.restart_count = 0;
            self.timeout_ms = cfg.restart_ms;
            self.deadline = Some(now + u64::from(self.timeout_ms));
        }
        self.state = next;
        if acts.contains(Actions::SCR) {
            self.send_request(now, neg, send);
        }
        if acts.contains(Actions::SCA) {
            if let Some(p) = pkt {
                neg.accepted(p.data);
            }
            self.naks_sent = 0;
            send(reply);
        }
        if acts.contains(Actions::SCN) {
            if reply.first() == Some(&code::CONFIGURE_NAK) {
                self.naks_sent = self.naks_sent.saturating_add(1);
                if let Some(p) = pkt {
                    neg.nak_sent(p.data);
                }
            }
            send(reply);
        }
        if acts.contains(Actions::STR) {
            let mut buf = [0u8; 4];
            let id = self.fresh_id();
            send(Builder::new(&mut buf, code::TERMINATE_REQUEST, id).finish());
            self.restart_count = self.restart_count.saturating_sub(1);
            self.deadline = Some(now + u64::from(self.timeout_ms));
        }
        if acts.contains(Actions::STA) {
            let mut buf = [0u8; 4];
            let id = pkt.map_or_else(|| self.fresh_id(), |p| p.id);
            send(Builder::new(&mut buf, code::TERMINATE_ACK, id).finish());
        }
        if acts.contains(Actions::SCJ)
            && let Some(p) = pkt
        {
            let mut buf = [0u8; crate::MAX_INFO];
            let id = self.fresh_id();
            let mut b = Builder::new(&mut buf, code::CODE_REJECT, id);
            b.bytes(&p.whole[..p.whole.len().min(crate::MAX_INFO - 4)]);
            send(b.finish());
        }
        if !matches!(
            next,
            State::Closing | State::Stopping | State::ReqSent | State::AckRcvd | State::AckSent
        ) {
            self.deadline = None;
        }
        acts
    }

    /// A new Identifier from this protocol's sequence (for packets the automaton does not send
    /// itself, such as LCP's Protocol-Reject).
    pub fn fresh_id(&mut self) -> u8 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    fn send_request<N: Negotiator>(&mut self, now: u64, neg: &N, send: &mut dyn FnMut(&[u8])) {
        let mut buf = [0u8; 68];
        // A new Identifier each time: a late Ack of an earlier copy is then told apart and
        // dropped (RFC 1661 §5.1), and the backed-off timer lets the current one be answered.
        let id = self.fresh_id();
        let mut b = Builder::new(&mut buf, code::CONFIGURE_REQUEST, id);
        neg.request(&mut b);
        let pkt = b.finish();
        self.req_id = id;
        self.req_len = pkt.len() - 4;
        self.req[..self.req_len].copy_from_slice(&pkt[4..]);
        self.stats.requests_sent += 1;
        send(pkt);
        self.restart_count = self.restart_count.saturating_sub(1);
        self.deadline = Some(now + u64::from(self.timeout_ms));
    }
}
