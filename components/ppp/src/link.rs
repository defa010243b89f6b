//! The PPP engine: bytes from the serial line in, bytes for it out, IPv4 datagrams up and down.
//!
//! Phases follow RFC 1661 §3.2 with no authentication phase (the standby link carries SDLS-
//! protected units, as the radio does): LCP This-Layer-Up brings IPCP up, IPCP Opened lets IPv4
//! through; IPCP and IPv4 arriving earlier are dropped and counted; any other protocol on an
//! Opened link is answered with a Protocol-Reject.
//!
//! Liveness (pppd's `lcp-echo-interval`/`lcp-echo-failure`, in its adaptive form): each interval
//! in which no valid frame at all arrived sends an Echo-Request; any valid frame (an echo reply,
//! data, anything with a good FCS) proves the peer alive and clears the count, so a saturated link
//! is never declared dead for want of echo replies (ppp-project/ppp #323, #376). After
//! `echo_failure` silent intervals the link goes down and LCP starts over, waiting for the peer.
//!
//! Peer restart (ppp-project/ppp #491): a Configure-Request on an Opened link renegotiates (the
//! RFC's table); an Echo-Request or -Reply carrying a Magic-Number other than the one the peer
//! negotiated means the peer restarted without telling us: the link goes down and LCP starts over.
//! An echo carrying our own number, or Max-Failure Magic-Number collisions in a row, means the line
//! is looped back: LCP is closed and [`Status::looped`] is set until the next [`Ppp::open`].
//!
//! Avoids: heap, a clock (every entry point takes `now_ms`), panics on line input.

use crate::config::{Config, ConfigError};
use crate::cp::{Cp, CpStats, Negotiator};
use crate::deframe::{Deframer, RxError, Step};
use crate::frame::{QueueFull, SendOptions, TxQueue};
use crate::fsm::{Actions, Event, State};
use crate::ipcp::Ipcp;
use crate::lcp::{Lcp, opt};
use crate::packet::{Builder, Packet, code, options};
use crate::proto;

/// Why the link last went down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownReason {
    /// `echo_failure` echo intervals passed without any valid frame from the peer.
    EchoTimeout,
    /// An echo carried a new Magic-Number: the peer restarted.
    PeerRestarted,
    /// The peer sent a Terminate-Request or renegotiated.
    PeerRenegotiated,
    /// The line is looped back (our own Magic-Number came back).
    Looped,
    /// Closed or taken down by our owner.
    Local,
}

impl core::fmt::Display for DownReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            DownReason::EchoTimeout => {
                "no valid frame from the peer for the echo interval times the echo failures"
            }
            DownReason::PeerRestarted => "the peer restarted (a new Magic-Number)",
            DownReason::PeerRenegotiated => "the peer terminated or renegotiated the link",
            DownReason::Looped => "the line is looped back (our own Magic-Number came back)",
            DownReason::Local => "closed or taken down on this side",
        })
    }
}

/// Counters (monotonic, for telemetry).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Good frames received.
    pub frames_in: u32,
    /// Frames queued for the line.
    pub frames_out: u32,
    /// Frames dropped for a bad FCS.
    pub fcs_errors: u32,
    /// Frames dropped as longer than the MRU.
    pub too_long: u32,
    /// Frames dropped as too short or with a bad header.
    pub bad_frames: u32,
    /// Frames aborted by the sender.
    pub aborted: u32,
    /// Control packets dropped as malformed.
    pub malformed: u32,
    /// Frames dropped because their protocol is not up yet.
    pub not_up: u32,
    /// Protocol-Rejects sent.
    pub protocol_rejects: u32,
    /// Echo-Requests sent.
    pub echoes_sent: u32,
    /// Echo intervals that ended with an Echo-Request outstanding and nothing heard from the
    /// peer (a missed echo; `echo_failure` of them in a row take the link down).
    pub echoes_missed: u32,
    /// Times the link was declared down for echo silence.
    pub echo_failures: u32,
    /// Peer restarts detected (new Magic-Number).
    pub peer_restarts: u32,
    /// Frames not sent because the transmit queue was full.
    pub tx_overflow: u32,
}

/// The link's state at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// LCP's automaton state.
    pub lcp: State,
    /// IPCP's automaton state.
    pub ipcp: State,
    /// IPv4 may flow.
    pub network_up: bool,
    /// Our address.
    pub local_ip: [u8; 4],
    /// The peer's acknowledged address.
    pub peer_ip: Option<[u8; 4]>,
    /// Our negotiated Magic-Number (0: none).
    pub magic: u32,
    /// The peer's negotiated Magic-Number (0: none).
    pub peer_magic: u32,
    /// The line was found looped back.
    pub looped: bool,
}

/// An IPv4 datagram could not be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// IPCP is not Opened.
    #[error("PPP link not up (IPCP not Opened): wait for Status::network_up")]
    NotUp,
    /// Longer than the peer's MRU.
    #[error("datagram of {0} octets exceeds the peer's MRU")]
    TooLong(usize),
    /// The transmit queue is full.
    #[error(transparent)]
    QueueFull(#[from] QueueFull),
}

struct Echo {
    next_tick: u64,
    outstanding: u8,
    heard: bool,
    id: u8,
}

/// The engine.
pub struct Ppp {
    cfg: Config,
    rx: Deframer,
    tx: TxQueue,
    lcp_cp: Cp,
    lcp: Lcp,
    ipcp_cp: Cp,
    ipcp: Ipcp,
    send_opts: SendOptions,
    rx_accm: u32,
    echo: Echo,
    stats: Stats,
    last_down: Option<DownReason>,
    looped: bool,
}

/// The framing of one LCP packet: Configure, Terminate and Code-Reject go with every control
/// character escaped and the Address/Control field (RFC 1662 §7.1, RFC 1661 §6.6).
fn lcp_framing(negotiated: SendOptions, code: u8) -> SendOptions {
    match code {
        1..=7 => SendOptions::DEFAULT,
        _ => SendOptions {
            acfc: false,
            ..negotiated
        },
    }
}

fn push(tx: &mut TxQueue, stats: &mut Stats, opts: SendOptions, protocol: u16, pkt: &[u8]) {
    match tx.push(opts, protocol, &[pkt]) {
        Ok(()) => stats.frames_out = stats.frames_out.wrapping_add(1),
        Err(_) => stats.tx_overflow += 1,
    }
}

impl Ppp {
    /// An engine for `cfg`: LCP and IPCP in Initial, nothing sent until [`Self::open`] and
    /// [`Self::up`].
    pub fn new(cfg: Config) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let mut p = Self {
            cfg,
            rx: Deframer::new(),
            tx: TxQueue::new(),
            lcp_cp: Cp::new(),
            lcp: Lcp::new(&cfg),
            ipcp_cp: Cp::new(),
            ipcp: Ipcp::new(&cfg),
            send_opts: SendOptions::DEFAULT,
            rx_accm: 0xFFFF_FFFF,
            echo: Echo {
                next_tick: 0,
                outstanding: 0,
                heard: false,
                id: 0,
            },
            stats: Stats::default(),
            last_down: None,
            looped: false,
        };
        // IPCP is administratively open from the start; it comes up with LCP.
        p.ipcp_event(Event::Open, 0);
        Ok(p)
    }

    /// Administrative Open of LCP (clears a looped-back finding).
    pub fn open(&mut self, now_ms: u64) {
        self.looped = false;
        self.lcp_event(Event::Open, now_ms);
    }

    /// Administrative Close of LCP (Terminate-Request, then Closed).
    pub fn close(&mut self, now_ms: u64) {
        self.last_down = Some(DownReason::Local);
        self.lcp_event(Event::Close, now_ms);
    }

    /// The serial line is usable (lower layer Up). A passive link ([`Config::passive`]) then
    /// waits in Stopped for the peer.
    pub fn up(&mut self, now_ms: u64) {
        if self.cfg.passive && self.lcp_cp.state() == State::Starting {
            self.lcp_cp.up_passive();
        } else {
            self.lcp_event(Event::Up, now_ms);
        }
    }

    /// The serial line is gone (lower layer Down).
    pub fn down(&mut self, now_ms: u64) {
        self.last_down = Some(DownReason::Local);
        self.lcp_event(Event::Down, now_ms);
    }

    /// The link's state.
    pub fn status(&self) -> Status {
        Status {
            lcp: self.lcp_cp.state(),
            ipcp: self.ipcp_cp.state(),
            network_up: self.ipcp_cp.state() == State::Opened,
            local_ip: self.ipcp.local(),
            peer_ip: self.ipcp.peer_acked,
            magic: self.lcp.acked.magic,
            peer_magic: self.lcp.peer.magic,
            looped: self.looped,
        }
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// LCP's and IPCP's automaton counters.
    pub fn cp_stats(&self) -> (CpStats, CpStats) {
        (self.lcp_cp.stats(), self.ipcp_cp.stats())
    }

    /// Why the link last went down, if it did.
    pub fn last_down(&self) -> Option<DownReason> {
        self.last_down
    }

    /// The earliest time [`Self::poll`] has something to do.
    pub fn next_deadline(&self) -> Option<u64> {
        let echo = (self.lcp_cp.state() == State::Opened && self.cfg.echo_interval_ms > 0)
            .then_some(self.echo.next_tick);
        [self.lcp_cp.deadline(), self.ipcp_cp.deadline(), echo]
            .into_iter()
            .flatten()
            .min()
    }

    /// Moves up to `out.len()` bytes for the serial line into `out`; returns how many.
    pub fn transmit(&mut self, out: &mut [u8]) -> usize {
        self.tx.drain(out)
    }

    /// Bytes waiting for the serial line.
    pub fn pending_tx(&self) -> usize {
        self.tx.len()
    }

    /// Sends one IPv4 datagram.
    pub fn send_ip(&mut self, datagram: &[u8]) -> Result<(), SendError> {
        if self.ipcp_cp.state() != State::Opened {
            return Err(SendError::NotUp);
        }
        if datagram.len() > usize::from(self.lcp.peer.mru) {
            return Err(SendError::TooLong(datagram.len()));
        }
        self.tx.push(self.send_opts, proto::IPV4, &[datagram])?;
        self.stats.frames_out = self.stats.frames_out.wrapping_add(1);
        Ok(())
    }

    /// Runs the timers: Restart timers and echo liveness.
    pub fn poll(&mut self, now_ms: u64) {
        let acts = {
            let (tx, stats, opts) = (&mut self.tx, &mut self.stats, self.send_opts);
            let mut send = |p: &[u8]| push(tx, stats, lcp_framing(opts, p[0]), proto::LCP, p);
            self.lcp_cp
                .poll(now_ms, &self.cfg, &mut self.lcp, &mut send)
        };
        self.lcp_layer(acts, now_ms);
        {
            let (tx, stats, opts) = (&mut self.tx, &mut self.stats, self.send_opts);
            let mut send = |p: &[u8]| push(tx, stats, opts, proto::IPCP, p);
            // IPCP's layer actions change only what `status()` reports (network_up follows
            // IPCP's state), so they need no handling here.
            self.ipcp_cp
                .poll(now_ms, &self.cfg, &mut self.ipcp, &mut send);
        }
        self.echo_tick(now_ms);
    }

    /// Consumes bytes from the serial line; IPv4 datagrams received are handed to `deliver`.
    pub fn receive(&mut self, bytes: &[u8], now_ms: u64, deliver: &mut dyn FnMut(&[u8])) {
        for &b in bytes {
            match self.rx.feed(b, self.rx_accm) {
                Step::Pending => {}
                Step::Dropped(e) => self.count_rx_error(e),
                Step::Frame {
                    protocol,
                    start,
                    end,
                } => {
                    self.stats.frames_in += 1;
                    self.echo.heard = true;
                    let mut info = [0u8; crate::MAX_INFO];
                    let n = end - start;
                    info[..n].copy_from_slice(&self.rx.buffer()[start..end]);
                    self.frame(protocol, &info[..n], now_ms, deliver);
                }
            }
        }
    }

    fn count_rx_error(&mut self, e: RxError) {
        match e {
            RxError::Fcs => self.stats.fcs_errors += 1,
            RxError::TooLong => self.stats.too_long += 1,
            RxError::Aborted => self.stats.aborted += 1,
            RxError::TooShort | RxError::BadHeader => self.stats.bad_frames += 1,
        }
    }

    fn frame(&mut self, protocol: u16, info: &[u8], now: u64, deliver: &mut dyn FnMut(&[u8])) {
        let lcp_open = self.lcp_cp.state() == State::Opened;
        match protocol {
            proto::LCP => self.lcp_packet(info, now),
            proto::IPCP if lcp_open => self.ipcp_packet(info, now),
            proto::IPV4 if self.ipcp_cp.state() == State::Opened => deliver(info),
            proto::IPCP | proto::IPV4 => self.stats.not_up += 1,
            other if lcp_open => {
                let mut buf = [0u8; crate::MAX_INFO];
                let id = self.lcp_cp.fresh_id();
                let mut b = Builder::new(&mut buf, code::PROTOCOL_REJECT, id);
                b.bytes(&other.to_be_bytes());
                let room = usize::from(self.lcp.peer.mru).saturating_sub(6);
                b.bytes(&info[..info.len().min(room)]);
                let opts = lcp_framing(self.send_opts, code::PROTOCOL_REJECT);
                push(&mut self.tx, &mut self.stats, opts, proto::LCP, b.finish());
                self.stats.protocol_rejects += 1;
            }
            _ => self.stats.not_up += 1,
        }
    }

    fn lcp_packet(&mut self, info: &[u8], now: u64) {
        let Ok(pkt) = Packet::parse(info) else {
            self.stats.malformed += 1;
            return;
        };
        let opened = self.lcp_cp.state() == State::Opened;
        match pkt.code {
            code::PROTOCOL_REJECT => {
                if opened && pkt.data.get(..2) == Some(&proto::IPCP.to_be_bytes()[..]) {
                    self.ipcp_event(Event::RxjMinus, now);
                }
            }
            code::ECHO_REQUEST | code::ECHO_REPLY | code::DISCARD_REQUEST if opened => {
                self.lcp_rxr(pkt, now)
            }
            code::ECHO_REQUEST | code::ECHO_REPLY | code::DISCARD_REQUEST => {}
            code::CONFIGURE_REQUEST => {
                if opened {
                    let magic = options(pkt.data)
                        .flatten()
                        .find_map(|(k, v)| {
                            (k == opt::MAGIC)
                                .then(|| <[u8; 4]>::try_from(v).ok())
                                .flatten()
                        })
                        .map_or(0, u32::from_be_bytes);
                    if magic != self.lcp.peer.magic {
                        self.stats.peer_restarts += 1;
                        self.last_down = Some(DownReason::PeerRestarted);
                    } else {
                        self.last_down = Some(DownReason::PeerRenegotiated);
                    }
                }
                self.lcp_receive(pkt, now);
                self.check_loop(now);
            }
            code::TERMINATE_REQUEST => {
                if opened {
                    self.last_down = Some(DownReason::PeerRenegotiated);
                }
                self.lcp_receive(pkt, now);
            }
            _ => self.lcp_receive(pkt, now),
        }
    }

    fn lcp_receive(&mut self, pkt: Packet<'_>, now: u64) {
        let acts = {
            let (tx, stats, opts) = (&mut self.tx, &mut self.stats, self.send_opts);
            let mut send = |p: &[u8]| push(tx, stats, lcp_framing(opts, p[0]), proto::LCP, p);
            self.lcp_cp
                .receive(pkt, now, &self.cfg, &mut self.lcp, &mut send)
        };
        self.lcp_layer(acts, now);
    }

    /// Echo-Request, Echo-Reply, Discard-Request on an Opened link.
    fn lcp_rxr(&mut self, pkt: Packet<'_>, now: u64) {
        let magic = pkt
            .data
            .get(..4)
            .map(|m| u32::from_be_bytes([m[0], m[1], m[2], m[3]]));
        let ours = self.lcp.acked.magic;
        let theirs = self.lcp.peer.magic;
        match (pkt.code, magic) {
            (code::DISCARD_REQUEST, _) => {}
            (_, None) => self.stats.malformed += 1,
            (_, Some(m)) if ours != 0 && m == ours => {
                // Our own number came back: the line is looped.
                self.looped = true;
                self.last_down = Some(DownReason::Looped);
                self.lcp_event(Event::Close, now);
            }
            (_, Some(m)) if theirs != 0 && m != 0 && m != theirs => {
                self.stats.peer_restarts += 1;
                self.restart_lcp(DownReason::PeerRestarted, now);
            }
            (code::ECHO_REQUEST, Some(_)) => {
                let mut buf = [0u8; crate::MAX_INFO];
                let mut b = Builder::new(&mut buf, code::ECHO_REPLY, pkt.id);
                b.bytes(&ours.to_be_bytes());
                let room = usize::from(self.lcp.peer.mru).saturating_sub(8);
                b.bytes(&pkt.data[4..pkt.data.len().min(4 + room)]);
                let opts = lcp_framing(self.send_opts, code::ECHO_REPLY);
                push(&mut self.tx, &mut self.stats, opts, proto::LCP, b.finish());
            }
            (_, Some(_)) => self.echo.outstanding = 0,
        }
    }

    fn check_loop(&mut self, now: u64) {
        if self.lcp.collisions() >= self.cfg.max_failure {
            self.looped = true;
            self.last_down = Some(DownReason::Looped);
            self.lcp_event(Event::Close, now);
        }
    }

    /// Link down and negotiation from scratch, waiting for the peer (lower layer Down, Up).
    fn restart_lcp(&mut self, why: DownReason, now: u64) {
        self.last_down = Some(why);
        self.lcp_event(Event::Down, now);
        // A peer that went silent is waited for, if passive; a peer that restarted or
        // renegotiated is there, so negotiate with it at once.
        if why == DownReason::EchoTimeout {
            self.up(now);
        } else {
            self.lcp_event(Event::Up, now);
        }
    }

    fn echo_tick(&mut self, now: u64) {
        if self.lcp_cp.state() != State::Opened
            || self.cfg.echo_interval_ms == 0
            || now < self.echo.next_tick
        {
            return;
        }
        self.echo.next_tick = now + u64::from(self.cfg.echo_interval_ms);
        if core::mem::take(&mut self.echo.heard) {
            self.echo.outstanding = 0;
            return;
        }
        if self.echo.outstanding > 0 {
            self.stats.echoes_missed = self.stats.echoes_missed.wrapping_add(1);
        }
        if self.echo.outstanding >= self.cfg.echo_failure {
            self.stats.echo_failures += 1;
            self.restart_lcp(DownReason::EchoTimeout, now);
            return;
        }
        self.echo.id = self.echo.id.wrapping_add(1);
        let mut buf = [0u8; 8];
        let mut b = Builder::new(&mut buf, code::ECHO_REQUEST, self.echo.id);
        b.bytes(&self.lcp.acked.magic.to_be_bytes());
        let opts = lcp_framing(self.send_opts, code::ECHO_REQUEST);
        push(&mut self.tx, &mut self.stats, opts, proto::LCP, b.finish());
        self.echo.outstanding += 1;
        self.stats.echoes_sent += 1;
    }

    fn lcp_event(&mut self, ev: Event, now: u64) {
        let acts = {
            let (tx, stats, opts) = (&mut self.tx, &mut self.stats, self.send_opts);
            let mut send = |p: &[u8]| push(tx, stats, lcp_framing(opts, p[0]), proto::LCP, p);
            self.lcp_cp
                .event(ev, now, &self.cfg, &mut self.lcp, &mut send, None, &[])
        };
        self.lcp_layer(acts, now);
    }

    fn lcp_layer(&mut self, acts: Actions, now: u64) {
        if acts.contains(Actions::TLD) {
            self.send_opts = SendOptions::DEFAULT;
            self.rx_accm = 0xFFFF_FFFF;
            self.ipcp_event(Event::Down, now);
        }
        if acts.contains(Actions::TLU) {
            let peer = self.lcp.peer;
            self.send_opts = SendOptions {
                accm: peer.accm,
                acfc: peer.acfc,
                pfc: peer.pfc,
            };
            self.rx_accm = self.lcp.acked.accm;
            self.echo = Echo {
                next_tick: now + u64::from(self.cfg.echo_interval_ms),
                outstanding: 0,
                heard: false,
                id: self.echo.id,
            };
            self.ipcp_event(Event::Up, now);
        }
    }

    fn ipcp_packet(&mut self, info: &[u8], now: u64) {
        let Ok(pkt) = Packet::parse(info) else {
            self.stats.malformed += 1;
            return;
        };
        let (tx, stats, opts) = (&mut self.tx, &mut self.stats, self.send_opts);
        let mut send = |p: &[u8]| push(tx, stats, opts, <Ipcp as Negotiator>::PROTOCOL, p);
        self.ipcp_cp
            .receive(pkt, now, &self.cfg, &mut self.ipcp, &mut send);
    }

    fn ipcp_event(&mut self, ev: Event, now: u64) {
        let (tx, stats, opts) = (&mut self.tx, &mut self.stats, self.send_opts);
        let mut send = |p: &[u8]| push(tx, stats, opts, proto::IPCP, p);
        self.ipcp_cp
            .event(ev, now, &self.cfg, &mut self.ipcp, &mut send, None, &[]);
    }
}
