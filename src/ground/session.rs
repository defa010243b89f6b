//! One ground station's conversation with the node over the sim radio or the standby serial line
//! ([`super::wire`]): SDLS-secured telecommands up, telemetry down, with the ground's security
//! state kept in its own state directory (one for both links: they share the node's anti-replay
//! window).
//!
//! - **State**: `STATE_DIR/sdls-state.bin` holds the ground's association states (the record
//!   payload of `comms::sdls::state`: key epochs and the last uplink ARSN used). It is written
//!   (to a temporary file, then renamed) **before** each unit is sent, so an uplink ARSN is never
//!   used twice, even if the tool is killed mid-command.
//! - **Retries**: a command that gets no completion report within the timeout is sent again as
//!   the *same* telecommand (same request ID) in a *new* SDLS unit with the *next* ARSN: the
//!   node's duplicate check runs it once and only repeats its reports. A retry never skips
//!   sequence numbers, so a lossy link cannot carry the ground outside the node's anti-replay
//!   window (only as many lost units in a row as the window is wide could, and then the node
//!   says so, next point). It once jumped a whole reservation block on the second attempt, to
//!   get above the node's persisted floor after a reboot: two such jumps without an accepted
//!   unit between them left the window for good, and each accepted jump counted 256 lost units
//!   on the node's link statistics (a false failover to the standby line).
//! - **Refused sequence numbers**: the node answers an *authenticated* unit it refuses for its
//!   ARSN with event 0x0007 (SPI, refused ARSN, last accepted, window, verdict). Below the
//!   floor (after a node reboot, or a ground state restored from a backup) the ground moves
//!   above the floor and sends the next attempt at once. Beyond the window, the command fails
//!   with [`SessionError::SequenceRefused`] ("the node refuses our sequence numbers"), which
//!   names `spacenode ground resync`: an authenticated SDLS "set ARSN" ([`Session::resync`]).
//! - **Floors**: a security-restored event (boot) moves the ground above the node's reported
//!   floor at once, and housekeeping structure 3 above the last ARSN the node accepted (never
//!   further: every number skipped counts as a lost unit on the node's link statistics).
//!
//! Avoids: blocking without a deadline, reusing an ARSN, trusting unauthenticated downlink
//! (every unit is verified before it is looked at; refused ones are counted and dropped).

use super::fop_timer::{self, FopTimer};
use super::frame_link::{FrameLink, Packet, Service};
use super::refusal::Refusal;
use super::serial_link::{LinkChoice, SerialLink, SerialLinkError};
use super::wire::Wire;
use comms::ground::Ground;
use comms::node::DEFAULT_APID;
use comms::pus::event::{EV_SECURITY_RESTORED, EV_SEQUENCE_REFUSED};
use comms::pus::hk::{SID_SECURITY, decode_security};
use comms::pus::tc::{Ack, RequestId};
use comms::pus::verification::Report;
use comms::pus::{ST_EVENT, ST_HOUSEKEEPING, ST_SECURITY};
use comms::sdls::state::{self, MAX_STATE_LEN, SaState};
use comms::sdls::{MAX_UNIT_LEN, Provisioning};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod frames;
mod persist;
mod receive;
mod recorded;
#[cfg(test)]
mod set_aside_tests;

use persist::{read_fop_timer, save_states, write_replacing};
pub use recorded::Recorded;

/// Time allowed for PPP to come up on the standby line (LCP and IPCP: a few round trips, plus
/// the node's 3 s Restart timer once if a frame is lost).
const PPP_SETUP: Duration = Duration::from_secs(10);

/// The ground's state file inside its state directory.
pub const STATE_FILE: &str = "sdls-state.bin";

/// Why a ground operation failed (each message says what to do).
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// No completion report arrived.
    #[error("no answer from the node {via} after {attempts} attempts of {timeout_ms} ms; {hint}")]
    Unreachable {
        /// The link the units went on.
        via: String,
        /// What to check.
        hint: &'static str,
        /// Attempts made.
        attempts: u32,
        /// Timeout per attempt.
        timeout_ms: u64,
    },
    /// The local socket could not be set up.
    #[error("cannot listen on {addr}: {source} (another ground tool running? use --listen)")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// Socket or serial line I/O failed.
    #[error("link I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The standby serial link could not be set up.
    #[error(transparent)]
    Serial(#[from] SerialLinkError),
    /// The ground state could not be read or written.
    #[error("ground state {path}: {what}")]
    State {
        /// File.
        path: PathBuf,
        /// Problem.
        what: String,
    },
    /// The provisioning is unusable.
    #[error("provisioning: {0}")]
    Provisioning(String),
    /// The command could not be built or secured.
    #[error("cannot build the command: {0}")]
    Build(comms::ground::GroundError),
    /// The node refuses our sequence numbers: they are beyond its anti-replay window.
    #[error(
        "the node refuses our sequence numbers: under SA {spi} it refused ARSN {sent}, its last accepted ARSN is {node_last} and it accepts at most {window} ahead; run `spacenode ground resync` with the same --state and --spi (an authenticated set-ARSN command that moves the node's window to ours)"
    )]
    SequenceRefused {
        /// The association.
        spi: u16,
        /// The ARSN the node refused.
        sent: u64,
        /// The node's last accepted ARSN.
        node_last: u64,
        /// The node's window.
        window: u64,
    },
    /// The command completed but the report it asks for did not arrive.
    #[error("the node completed the request but its {0} did not arrive; run it again")]
    NoReport(&'static str),
}

/// One authenticated downlink unit.
#[derive(Debug, Clone)]
pub enum Incoming {
    /// A CFDP space packet, as is.
    Packet(Vec<u8>),
    /// PUS telemetry.
    Tm(Tm),
}

/// One downlinked telemetry packet, owned.
#[derive(Debug, Clone)]
pub struct Tm {
    /// Service.
    pub service: u8,
    /// Subservice.
    pub subservice: u8,
    /// Source data.
    pub source: Vec<u8>,
    /// The verification report, if it is one.
    pub verification: Option<(RequestId, Report)>,
}

impl From<comms::ground::Downlinked<'_>> for Tm {
    fn from(d: comms::ground::Downlinked<'_>) -> Tm {
        Tm {
            service: d.tm.service,
            subservice: d.tm.subservice,
            source: d.tm.source.to_vec(),
            verification: d.verification,
        }
    }
}

/// What one command got back.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Its verification reports, in arrival order.
    pub reports: Vec<Report>,
    /// Other TMs that arrived meanwhile (replies, housekeeping, events).
    pub other: Vec<Tm>,
    /// Attempts it took.
    pub attempts: u32,
    /// Time from the first send to the final report.
    pub elapsed: Duration,
}

impl Answer {
    /// Whether the last report ends the command (1,2, 1,4, 1,7 or 1,8).
    fn is_final(r: &Report) -> bool {
        matches!(
            r,
            Report::AcceptanceFailure(_)
                | Report::StartFailure(_)
                | Report::CompletionSuccess
                | Report::CompletionFailure(_)
        )
    }

    /// The failure of the command, if any report is one.
    pub fn failure(&self) -> Option<comms::failure::Failure> {
        self.reports.iter().find_map(|r| r.failure())
    }
}

/// Settings of a session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Where uplink goes (the radio channel's ground side).
    pub node: SocketAddr,
    /// Where downlink arrives.
    pub listen: SocketAddr,
    /// The ground's state directory.
    pub state_dir: PathBuf,
    /// The shared provisioning file's bytes.
    pub provisioning: Vec<u8>,
    /// Association to command under.
    pub spi: u16,
    /// Wait per attempt.
    pub timeout: Duration,
    /// Attempts per command.
    pub attempts: u32,
    /// The radio (`node`/`listen`) or the standby serial line.
    pub link: LinkChoice,
}

/// A ground session.
pub struct Session {
    cfg: SessionConfig,
    wire: Wire,
    ground: Ground,
    /// Downlink units refused by the ground's security check.
    pub refused_downlink: u32,
    /// The last event 0x0007 about this session's association, until the command loop looks.
    refusal: Option<Refusal>,
    /// The radio as a CCSDS space link (`--link ccsds:`): packets go through FOP-1 in TC
    /// frames instead of units.
    frames: Option<FrameLink>,
    /// Packets that are not PUS telemetry (CFDP) that came, on either link, while a command
    /// waited for its report, kept for [`Session::recv_any`]: a ping in the middle of a CFDP
    /// exchange must not swallow the node's result or its Finished. At most
    /// [`SET_ASIDE_MAX`], the oldest dropped first (CFDP asks again for what is lost).
    set_aside: std::collections::VecDeque<Packet>,
}

/// Packets kept aside while a command waits (a CFDP exchange's window of PDUs many times over).
const SET_ASIDE_MAX: usize = 256;

fn state_err(path: &Path, what: impl std::fmt::Display) -> SessionError {
    SessionError::State {
        path: path.to_path_buf(),
        what: what.to_string(),
    }
}

impl Session {
    /// Open the state, bind the listening socket.
    pub fn open(cfg: SessionConfig) -> Result<Session, SessionError> {
        let provisioning = Provisioning::parse(&cfg.provisioning)
            .map_err(|e| SessionError::Provisioning(e.to_string()))?;
        if !provisioning.associations().any(|s| s.spi == cfg.spi) {
            return Err(SessionError::Provisioning(format!(
                "no association with SPI {} in the provisioning file",
                cfg.spi
            )));
        };
        if cfg.state_dir.exists() && !cfg.state_dir.is_dir() {
            return Err(state_err(
                &cfg.state_dir,
                "exists and is not a directory; --state takes a directory (created if missing)",
            ));
        }
        std::fs::create_dir_all(&cfg.state_dir).map_err(|e| state_err(&cfg.state_dir, e))?;
        let path = cfg.state_dir.join(STATE_FILE);
        let states = match std::fs::read(&path) {
            Ok(bytes) => Some(state::decode(&bytes).map_err(|e| {
                state_err(
                    &path,
                    format!("{e}; it is not a ground state file (move it away to start afresh: the node will refuse ARSNs it has seen, and the ground resumes above its floor)"),
                )
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(state_err(&path, e)),
        };
        let mut ground =
            Ground::new(&provisioning, states, DEFAULT_APID).map_err(SessionError::Build)?;
        // The sequence count continues from the uplink ARSN, which is persisted and grows by at
        // least one per command: a command of this run never reuses a request ID of an earlier
        // run (within 2^14 units), so the node never takes it for a retransmission.
        let next = ground
            .states()
            .find(|s| s.spi == cfg.spi)
            .map_or(0, |s| s.tx_reserved.wrapping_add(1));
        ground.set_sequence_count((next & 0x3FFF) as u16);
        let frames = match &cfg.link {
            LinkChoice::Ccsds(c) => {
                let ccsds = c.ccsds().ok_or_else(|| {
                    SessionError::Provisioning("--link ccsds: without CCSDS parameters".into())
                })?;
                Some(FrameLink::new(ccsds, cfg.spi).map_err(|e| {
                    SessionError::Provisioning(format!("the CCSDS radio link: {e}"))
                })?)
            }
            _ => None,
        };
        let frames = frames.map(|mut f| {
            if let Some(t) = read_fop_timer(&cfg.state_dir) {
                f.restore_timer(t);
            }
            f
        });
        let wire = match &cfg.link {
            LinkChoice::Units | LinkChoice::Ccsds(_) => Wire::Radio {
                sock: UdpSocket::bind(cfg.listen).map_err(|source| SessionError::Bind {
                    addr: cfg.listen,
                    source,
                })?,
                node: cfg.node,
            },
            LinkChoice::Serial { path, baud } => Wire::Serial(SerialLink::connect(
                path.clone(),
                *baud,
                PPP_SETUP.max(cfg.timeout),
            )?),
        };
        Ok(Session {
            cfg,
            wire,
            ground,
            refused_downlink: 0,
            refusal: None,
            set_aside: std::collections::VecDeque::new(),
            frames,
        })
    }

    /// The ground's security engine (keys and epochs as the ground holds them).
    pub fn security(&self) -> &comms::sdls::SecurityEngine {
        self.ground.security()
    }

    /// The key set (a provisioning file) our engine would hold after the OTAR `pdu` (TC 130,6
    /// application data), with the node's checks; our engine is not changed.
    pub fn keys_after(&self, pdu: &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>, SessionError> {
        let mut probe = self.ground.clone();
        probe
            .install_keys(pdu)
            .map(|f| zeroize::Zeroizing::new(f.to_vec()))
            .map_err(SessionError::Build)
    }

    /// Follow an OTAR the node completed: our engine takes the same keys.
    pub fn install_keys(&mut self, pdu: &[u8]) -> Result<(), SessionError> {
        self.ground
            .install_keys(pdu)
            .map(|_| ())
            .map_err(SessionError::Build)
    }

    /// Follow a key state change the node completed ([`Ground::follow_key_state`]); returns
    /// the new key set (a provisioning file).
    pub fn follow_key_state(
        &mut self,
        spi: u16,
        wanted: comms::sdls::KeyState,
        carrier: u16,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, SessionError> {
        self.ground
            .follow_key_state(spi, wanted, carrier)
            .map(|f| zeroize::Zeroizing::new(f.to_vec()))
            .map_err(SessionError::Build)
    }

    /// Follow a key rotation of `spi` to `epoch` the node completed (saved with the state).
    pub fn rotate(&mut self, spi: u16, epoch: u32) -> Result<(), SessionError> {
        self.ground
            .rotate(spi, epoch)
            .map_err(SessionError::Build)?;
        self.save()
    }

    /// The longest space packet one uplink transmission carries, and the bytes the link adds
    /// around it: a unit's SDLS header and MAC, or on the CCSDS radio a TC frame's headers,
    /// SDLS fields and FECF (one packet per frame) and the CLTU's coding around a full frame
    /// (start and tail sequences, a BCH parity byte per 7 bytes), which the radio also carries.
    pub fn packet_limits(&self) -> (usize, usize) {
        match self.frames {
            Some(_) => (
                comms::radio_ccsds::MAX_TC_PACKET,
                comms::radio_ccsds::MAX_CLTU - comms::radio_ccsds::MAX_TC_PACKET,
            ),
            None => (comms::sdls::MAX_DATA_LEN, comms::sdls::engine::OVERHEAD),
        }
    }

    /// The association commands go under.
    pub fn spi(&self) -> u16 {
        self.cfg.spi
    }

    /// Send the next commands under association `spi` (in our provisioning file). The
    /// request sequence count runs on, so no request ID of this session repeats.
    pub fn use_spi(&mut self, spi: u16) {
        self.cfg.spi = spi;
        if let Some(f) = self.frames.as_mut() {
            f.set_spi(spi);
        }
    }

    /// Saves the association states and, on the CCSDS radio, FOP-1's round-trip estimate.
    fn save(&self) -> Result<(), SessionError> {
        save_states(&self.ground, &self.cfg.state_dir)?;
        match self.frames.as_ref().and_then(|f| f.timer().record()) {
            Some(line) => write_replacing(&self.cfg.state_dir, fop_timer::FILE, line.as_bytes()),
            None => Ok(()),
        }
    }

    fn last_sent(&self) -> u64 {
        self.ground
            .states()
            .find(|s| s.spi == self.cfg.spi)
            .map_or(0, |s| s.tx_reserved)
    }

    fn note_floors(&mut self, tm: &Tm) {
        if let Some(r) = self.floors_of(tm) {
            self.refusal = Some(r);
        }
    }

    /// Moves the ground above the floors `tm` reports; a refusal of one of our own sequence
    /// numbers under the session's association is returned.
    fn floors_of(&mut self, tm: &Tm) -> Option<Refusal> {
        if tm.service == ST_HOUSEKEEPING && tm.source.first() == Some(&SID_SECURITY) {
            // Above the last ARSN the node accepted, not above its persisted reservation: a
            // running node accepts anything above the former, and after a reboot its window
            // starts at the reservation, so the two are the same then. Jumping to the
            // reservation while the node runs skipped up to a whole block (256) per `status`,
            // which the node counted as lost units on that link: honest traffic made the
            // radio look degraded and kept the downlink off it.
            if let Some((_, lines)) = decode_security(&tm.source) {
                for l in lines.iter().flatten() {
                    self.ground.resume_above(l.spi, l.rx_last);
                }
            }
        } else if tm.service == ST_EVENT
            && tm.source.get(..2) == Some(&EV_SECURITY_RESTORED.to_be_bytes()[..])
        {
            // Event source: id (2), count (1), count × (SPI 2, floor 8, next downlink 8).
            let body = tm.source.get(3..).unwrap_or(&[]);
            for e in body.chunks_exact(18) {
                let spi = u16::from_be_bytes([e[0], e[1]]);
                let mut f = [0u8; 8];
                f.copy_from_slice(&e[2..10]);
                self.ground.resume_above(spi, u64::from_be_bytes(f));
            }
        } else if tm.service == ST_EVENT
            && tm.source.get(..2) == Some(&EV_SEQUENCE_REFUSED.to_be_bytes()[..])
            && let Some((spi, r)) = Refusal::decode(&tm.source)
        {
            // Moving up is always safe (an ARSN is never reused); beyond the window only the
            // operator's resynchronisation helps.
            self.ground.resume_above(spi, r.node_last);
            if spi == self.cfg.spi && r.arsn <= self.last_sent() {
                return Some(r);
            }
        }
        None
    }

    /// The node refused a unit of ours beyond its window: the error that says so.
    fn take_refusal(&mut self) -> Option<Refusal> {
        self.refusal.take()
    }

    fn refused_error(&self, r: Refusal) -> SessionError {
        SessionError::SequenceRefused {
            spi: self.cfg.spi,
            sent: r.arsn,
            node_last: r.node_last,
            window: r.window,
        }
    }

    /// Send one command and wait for its final verification report, retrying as the module
    /// docs say.
    pub fn command(
        &mut self,
        service: u8,
        subservice: u8,
        app_data: &[u8],
    ) -> Result<Answer, SessionError> {
        let attempts = self.cfg.attempts.max(1);
        self.run(service, subservice, app_data, attempts, Service::Sequenced)
    }

    /// [`Session::command`] with `attempts` attempts, sent on the CCSDS radio as `how`.
    fn run(
        &mut self,
        service: u8,
        subservice: u8,
        app_data: &[u8],
        attempts: u32,
        how: Service,
    ) -> Result<Answer, SessionError> {
        let mut packet = vec![0u8; comms::sdls::MAX_DATA_LEN];
        let (n, request) = self
            .ground
            .telecommand(service, subservice, 0, app_data, &mut packet)
            .map_err(SessionError::Build)?;
        packet.truncate(n);
        self.refusal = None;
        let start = Instant::now();
        let mut answer = Answer {
            reports: Vec::new(),
            other: Vec::new(),
            attempts: 0,
            elapsed: Duration::ZERO,
        };
        for attempt in 1..=attempts {
            answer.attempts = attempt;
            let deadline = Instant::now() + self.cfg.timeout;
            if !self.send_until(&packet, deadline, how)? {
                continue;
            }
            while let Some(left) = time_left(deadline) {
                let Some(tm) = self.next_tm(left)? else {
                    break;
                };
                match self.absorb(tm, request, &mut answer, start)? {
                    Step::Done => return Ok(answer),
                    Step::Again => break,
                    Step::Wait => {}
                }
            }
        }
        self.save()?;
        Err(self.unreachable(answer.attempts))
    }

    /// One TM while a command waits: its report (the answer is complete at a final one), or
    /// something else it caused; a refusal of our sequence number ends the wait.
    fn absorb(
        &mut self,
        tm: Tm,
        request: RequestId,
        answer: &mut Answer,
        start: Instant,
    ) -> Result<Step, SessionError> {
        if let Some(r) = self.take_refusal() {
            if r.beyond {
                self.save()?;
                return Err(self.refused_error(r));
            }
            // Below the node's floor: the ground now sends above it; try again now.
            return Ok(Step::Again);
        }
        match tm.verification {
            Some((rid, report)) if rid == request => {
                let done = Answer::is_final(&report);
                answer.reports.push(report);
                if done {
                    answer.elapsed = start.elapsed();
                    self.save()?;
                    return Ok(Step::Done);
                }
            }
            _ => answer.other.push(tm),
        }
        Ok(Step::Wait)
    }

    /// The error for a command that got no final report.
    fn unreachable(&self, attempts: u32) -> SessionError {
        let alert = self.frames.as_ref().and_then(FrameLink::alert);
        let (via, hint) = match &self.cfg.link {
            LinkChoice::Units => (
                format!("at {} (listening on {})", self.cfg.node, self.cfg.listen),
                "is `spacenode run` up, and are --node/--listen its --radio-uplink/--ground?",
            ),
            LinkChoice::Ccsds(c) => (
                match alert {
                    Some(a) => format!("at {} over the CCSDS radio ({c}; {a})", self.cfg.node),
                    None => format!("at {} over the CCSDS radio ({c})", self.cfg.node),
                },
                "does the node run with the same `--radio-link`, and are --node/--listen its --radio-uplink/--ground?",
            ),
            LinkChoice::Serial { path, .. } => (
                format!("over PPP on {}", path.display()),
                "PPP is up but the node does not answer: is its comms running (see its log)?",
            ),
        };
        SessionError::Unreachable {
            via,
            hint,
            attempts,
            timeout_ms: self.cfg.timeout.as_millis() as u64,
        }
    }

    /// Resynchronise the association with the node (SDLS-EP's "set ARSN", TC 130,3): the TC
    /// names the ARSN of the very unit that carries it, and the node accepts that unit even
    /// beyond its window (still only with a valid MAC, and never a replayed number), moving the
    /// window to the ground's. Each attempt is a new TC with its own unit's ARSN. Returns the
    /// ARSN the node's window now starts after.
    ///
    /// On the CCSDS radio it goes in a type-BD frame: while the node refuses our numbers,
    /// FOP-1's Set V(R) (type-BC) is refused too and the AD service never starts. FOP-1 sends
    /// a waiting BD frame before anything else, so the frame takes the very number read here.
    pub fn resync(&mut self) -> Result<(u64, Answer), SessionError> {
        let mut last = None;
        for _ in 0..self.cfg.attempts.max(1) {
            let arsn = self.ground.next_arsn(self.cfg.spi).unwrap_or(1);
            let mut app = [0u8; 10];
            app[..2].copy_from_slice(&self.cfg.spi.to_be_bytes());
            app[2..].copy_from_slice(&arsn.to_be_bytes());
            match self.run(ST_SECURITY, 3, &app, 1, Service::Expedited) {
                Ok(a) => return Ok((arsn, a)),
                // A lost unit or report, or a refusal of an earlier unit of ours: once more,
                // with the next (or the floor's next) number.
                Err(
                    e @ (SessionError::Unreachable { .. } | SessionError::SequenceRefused { .. }),
                ) => {
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(SessionError::NoReport("set-ARSN completion (1,7)")))
    }

    /// Send one telecommand without waiting for its reports (the windowed upgrade uplink:
    /// the node's status says what arrived), asking for the success reports in `ack`, through
    /// the same send path as any packet ([`Session::send_packet`]): one unit, or handed to
    /// FOP-1 on the CCSDS radio for `how` (type-BD for a caller that repairs its own losses).
    /// Returns its request ID.
    pub fn send_telecommand(
        &mut self,
        service: u8,
        subservice: u8,
        app_data: &[u8],
        ack: Ack,
        how: Service,
    ) -> Result<RequestId, SessionError> {
        let mut packet = vec![0u8; comms::sdls::MAX_DATA_LEN];
        let (n, request) = self
            .ground
            .telecommand_acked(service, subservice, 0, ack, app_data, &mut packet)
            .map_err(SessionError::Build)?;
        self.send_once(packet.get(..n).unwrap_or(&[]), how)?;
        Ok(request)
    }

    /// Whether the link still holds telecommands it will deliver or retransmit itself: on the
    /// CCSDS radio, frames FOP-1 has not had acknowledged by the node's CLCW (a caller with
    /// its own retransmission, the windowed uplink, leaves those to FOP-1). Units are fire
    /// and forget: never.
    pub fn uplink_busy(&self) -> bool {
        self.frames.as_ref().is_some_and(FrameLink::busy)
    }

    /// Send one CFDP PDU's space packet under the session's association, its ARSN saved first
    /// as for commands. On the CCSDS radio it goes as a type-BD (expedited) frame: CFDP class 2
    /// repairs its own losses with NAKs, so COP-1's window and go-back-N would only slow it
    /// (`BENCHMARKS.md`, the CFDP section); the frame is still SDLS-secured under a new
    /// sequence number, which the node's anti-replay window checks. Pacing is CFDP's own
    /// (its rate, counting the link's bytes: [`Session::packet_limits`]).
    pub fn send_packet(&mut self, packet: &[u8]) -> Result<(), SessionError> {
        self.send_once(packet, Service::Expedited)
    }

    /// `packet` once through the send path; one the link cannot take within the session's
    /// timeout is lost as a unit would be, and the protocol above (CFDP, the upgrade's
    /// window) recovers it.
    fn send_once(&mut self, packet: &[u8], service: Service) -> Result<(), SessionError> {
        self.send_until(packet, Instant::now() + self.cfg.timeout, service)?;
        Ok(())
    }

    /// The one send path, in either framing: `packet` in a new unit (its ARSN saved first;
    /// a full socket buffer is a lost unit, the wire says Ok), or on the CCSDS radio in a TC
    /// frame of `service`: handed to FOP-1, which retransmits a lost type-AD frame itself and
    /// sends a type-BD frame once (`false` if it did not take the packet before `deadline`).
    fn send_until(
        &mut self,
        packet: &[u8],
        deadline: Instant,
        service: Service,
    ) -> Result<bool, SessionError> {
        if self.frames.is_some() {
            return self.submit_frame(packet, deadline, service);
        }
        let mut unit = vec![0u8; MAX_UNIT_LEN];
        let n = self
            .ground
            .wrap(self.cfg.spi, packet, &mut unit)
            .map_err(SessionError::Build)?;
        self.save()?;
        self.wire.send(unit.get(..n).unwrap_or(&[]))?;
        Ok(true)
    }

    /// The node's security counters (housekeeping structure 3). The report travels in its own
    /// unit after the command's: if it is lost while the completion arrives, the request (which
    /// changes nothing on the node) is made again, up to the session's attempts.
    pub fn security_counters(
        &mut self,
    ) -> Result<comms::sdls::engine::SecurityCounters, SessionError> {
        for _ in 0..self.cfg.attempts.max(1) {
            let a = self.command(ST_HOUSEKEEPING, 27, &[1, SID_SECURITY])?;
            let mut tms = a.other;
            tms.extend(self.collect(Duration::from_millis(50))?);
            if let Some(c) = tms
                .iter()
                .filter(|t| t.service == ST_HOUSEKEEPING && t.subservice == 25)
                .find_map(|t| decode_security(&t.source).map(|(c, _)| c))
            {
                return Ok(c);
            }
        }
        Err(SessionError::NoReport(
            "security housekeeping (3,25 structure 3)",
        ))
    }
}

/// What a TM did to a command's wait.
enum Step {
    /// The final report arrived.
    Done,
    /// Our unit was refused below the node's floor: send the next attempt now.
    Again,
    /// Keep waiting.
    Wait,
}

/// The time until `deadline`; `None` once it has come.
fn time_left(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
}

/// A failure of the CCSDS radio's ground end (FOP-1, SDLS, the socket, the state file).
fn frame_error(e: String) -> SessionError {
    SessionError::Io(std::io::Error::other(format!("CCSDS radio: {e}")))
}
