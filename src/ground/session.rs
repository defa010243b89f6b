//! One ground station's conversation with the node over the sim radio: SDLS-secured telecommands
//! up, telemetry down, with the ground's security state kept in its own state directory.
//!
//! - **State**: `STATE_DIR/sdls-state.bin` holds the ground's association states (the record
//!   payload of `comms::sdls::state`: key epochs and the last uplink ARSN used). It is written
//!   (to a temporary file, then renamed) **before** each unit is sent, so an uplink ARSN is never
//!   used twice, even if the tool is killed mid-command.
//! - **Retries**: a command that gets no completion report within the timeout is sent again as
//!   the *same* telecommand (same request ID) in a *new* SDLS unit: the node's duplicate check
//!   runs it once and only repeats its reports. The **second** attempt's ARSN jumps one
//!   reservation block ([`DEFAULT_RESERVE_BLOCK`]) ahead: after a node reboot the node only
//!   accepts ARSNs above its persisted floor, which is at most one block above anything the
//!   ground sent, and the node says nothing to a refused unit. Later attempts take the next
//!   ARSN. The jump is made only when the association's window is wider than a block plus
//!   [`RETRY_MARGIN`], so that it lands inside the window when the node did *not* reboot too (a
//!   jump past the window would lock the ground out: the node refuses, silently, every later
//!   unit). With a narrower window the ground only learns a reboot from the node's
//!   security-restored event or housekeeping (next point).
//! - **Floors**: a security-restored event (boot) or housekeeping structure 3 seen on the way
//!   moves the ground above the node's reported floor at once.
//!
//! Avoids: blocking without a deadline, reusing an ARSN, trusting unauthenticated downlink
//! (every unit is verified before it is looked at; refused ones are counted and dropped).

use comms::ground::Ground;
use comms::node::DEFAULT_APID;
use comms::pus::event::EV_SECURITY_RESTORED;
use comms::pus::hk::{SID_SECURITY, decode_security};
use comms::pus::tc::RequestId;
use comms::pus::verification::Report;
use comms::pus::{ST_EVENT, ST_HOUSEKEEPING};
use comms::sdls::engine::HEADER_LEN;
use comms::sdls::mac::MAC_LEN;
use comms::sdls::state::{self, MAX_STATE_LEN, SaState};
use comms::sdls::{DEFAULT_RESERVE_BLOCK, MAX_UNIT_LEN, Provisioning};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Uplink units the node may have missed in a row (lost, or sent by a killed tool) for which the
/// second attempt's jump still lands inside the window.
const RETRY_MARGIN: u64 = 64;

/// The ground's state file inside its state directory.
pub const STATE_FILE: &str = "sdls-state.bin";

/// Why a ground operation failed (each message says what to do).
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// No completion report arrived.
    #[error(
        "no answer from the node at {node} after {attempts} attempts of {timeout_ms} ms (listening on {listen}); is `spacenode run` up, and are --node/--listen its --radio-uplink/--ground?"
    )]
    Unreachable {
        /// Where the units went.
        node: SocketAddr,
        /// Where the answers were expected.
        listen: SocketAddr,
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
    /// Socket I/O failed.
    #[error("radio socket: {0}")]
    Io(#[from] std::io::Error),
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
    /// The command completed but the report it asks for did not arrive.
    #[error("the node completed the request but its {0} did not arrive; run it again")]
    NoReport(&'static str),
}

/// One authenticated downlink unit.
#[derive(Debug, Clone)]
pub enum Incoming {
    /// A space packet of the APID asked for (CFDP), as is.
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
}

/// A ground session.
pub struct Session {
    cfg: SessionConfig,
    sock: UdpSocket,
    ground: Ground,
    /// Downlink units refused by the ground's security check.
    pub refused_downlink: u32,
    /// Whether the second attempt jumps one reservation block (the association's window is
    /// wide enough for the jump to land inside it when the node did not reboot).
    jump_on_retry: bool,
}

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
        let Some(window) = provisioning
            .associations()
            .find(|s| s.spi == cfg.spi)
            .map(|s| u64::from(s.window))
        else {
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
        let sock = UdpSocket::bind(cfg.listen).map_err(|source| SessionError::Bind {
            addr: cfg.listen,
            source,
        })?;
        Ok(Session {
            cfg,
            sock,
            ground,
            refused_downlink: 0,
            jump_on_retry: window > DEFAULT_RESERVE_BLOCK + RETRY_MARGIN,
        })
    }

    fn save(&self) -> Result<(), SessionError> {
        let states: Vec<SaState> = self.ground.states().collect();
        let mut buf = [0u8; MAX_STATE_LEN];
        let n = state::encode(&states, &mut buf);
        let path = self.cfg.state_dir.join(STATE_FILE);
        let tmp = self.cfg.state_dir.join(format!("{STATE_FILE}.tmp"));
        std::fs::write(&tmp, &buf[..n]).map_err(|e| state_err(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| state_err(&path, e))
    }

    fn last_sent(&self) -> u64 {
        self.ground
            .states()
            .find(|s| s.spi == self.cfg.spi)
            .map_or(0, |s| s.tx_reserved)
    }

    /// Verify and open one downlink unit; note floors it reports.
    fn open_unit(&mut self, unit: &[u8]) -> Option<Tm> {
        let d = match self.ground.downlink(unit) {
            Ok(d) => d,
            Err(_) => {
                self.refused_downlink += 1;
                return None;
            }
        };
        let tm = Tm {
            service: d.tm.service,
            subservice: d.tm.subservice,
            source: d.tm.source.to_vec(),
            verification: d.verification,
        };
        self.note_floors(&tm);
        Some(tm)
    }

    fn note_floors(&mut self, tm: &Tm) {
        if tm.service == ST_HOUSEKEEPING && tm.source.first() == Some(&SID_SECURITY) {
            if let Some((_, lines)) = decode_security(&tm.source) {
                for l in lines.iter().flatten() {
                    self.ground.resume_above(l.spi, l.rx_reserved);
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
        let mut unit = vec![0u8; MAX_UNIT_LEN];
        let (len, request) = self
            .ground
            .uplink(self.cfg.spi, service, subservice, 0, app_data, &mut unit)
            .map_err(SessionError::Build)?;
        // The TC itself, to re-wrap for retries: the unit is header ‖ packet ‖ MAC.
        let packet = unit
            .get(HEADER_LEN..len.saturating_sub(MAC_LEN))
            .unwrap_or(&[])
            .to_vec();
        self.save()?;
        let start = Instant::now();
        let mut answer = Answer {
            reports: Vec::new(),
            other: Vec::new(),
            attempts: 0,
            elapsed: Duration::ZERO,
        };
        let mut buf = vec![0u8; 65_536];
        for attempt in 1..=self.cfg.attempts.max(1) {
            answer.attempts = attempt;
            let n = if attempt == 1 {
                len
            } else {
                if attempt == 2 && self.jump_on_retry {
                    let skip = self.last_sent().saturating_add(DEFAULT_RESERVE_BLOCK);
                    self.ground.resume_above(self.cfg.spi, skip);
                }
                let n = self
                    .ground
                    .wrap(self.cfg.spi, &packet, &mut unit)
                    .map_err(SessionError::Build)?;
                self.save()?;
                n
            };
            self.sock
                .send_to(unit.get(..n).unwrap_or(&[]), self.cfg.node)?;
            let deadline = Instant::now() + self.cfg.timeout;
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                if left.is_zero() {
                    break;
                }
                self.sock.set_read_timeout(Some(left))?;
                let got = match self.sock.recv_from(&mut buf) {
                    Ok((k, _)) => k,
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
                    Err(e) => return Err(e.into()),
                };
                let Some(tm) = self.open_unit(buf.get(..got).unwrap_or(&[])) else {
                    continue;
                };
                match tm.verification {
                    Some((rid, report)) if rid == request => {
                        let done = Answer::is_final(&report);
                        answer.reports.push(report);
                        if done {
                            answer.elapsed = start.elapsed();
                            self.save()?;
                            return Ok(answer);
                        }
                    }
                    _ => answer.other.push(tm),
                }
            }
        }
        self.save()?;
        Err(SessionError::Unreachable {
            node: self.cfg.node,
            listen: self.cfg.listen,
            attempts: answer.attempts,
            timeout_ms: self.cfg.timeout.as_millis() as u64,
        })
    }

    /// Send one space packet that is not a PUS telecommand (a CFDP PDU) under the session's
    /// association, its ARSN saved first as for commands.
    pub fn send_packet(&mut self, packet: &[u8]) -> Result<(), SessionError> {
        let mut unit = vec![0u8; MAX_UNIT_LEN];
        let n = self
            .ground
            .wrap(self.cfg.spi, packet, &mut unit)
            .map_err(SessionError::Build)?;
        self.save()?;
        match self
            .sock
            .send_to(unit.get(..n).unwrap_or(&[]), self.cfg.node)
        {
            Ok(_) => Ok(()),
            // A full socket buffer is a lost unit; the protocol above recovers it.
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Wait up to `wait` for one authenticated downlink unit: a space packet with `apid` is
    /// returned as is, PUS telemetry as a [`Tm`] (its floors noted). `None` when nothing
    /// (authentic) arrived in time.
    pub fn recv_any(
        &mut self,
        apid: u16,
        wait: Duration,
    ) -> Result<Option<Incoming>, SessionError> {
        let mut buf = vec![0u8; 65_536];
        self.sock
            .set_read_timeout(Some(wait.max(Duration::from_micros(100))))?;
        let k = match self.sock.recv_from(&mut buf) {
            Ok((k, _)) => k,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let unit = buf.get(..k).unwrap_or(&[]);
        let is_apid = |p: &[u8]| match p {
            [a, b, ..] => (u16::from(a & 0x07) << 8 | u16::from(*b)) == apid,
            _ => false,
        };
        let mut probe = self.ground.clone();
        match probe.downlink_packet(unit) {
            Ok((_, packet)) if is_apid(packet) => {
                let packet = packet.to_vec();
                self.ground = probe;
                Ok(Some(Incoming::Packet(packet)))
            }
            Ok(_) => Ok(self.open_unit(unit).map(Incoming::Tm)),
            Err(_) => {
                self.refused_downlink += 1;
                Ok(None)
            }
        }
    }

    /// A command unit built exactly as [`Session::command`] builds its first attempt (its ARSN
    /// is used up and saved), but not sent: the demo shows what the node does with a copy of a
    /// genuine unit (a replay) and with a damaged one (a forgery).
    pub fn build_unit(
        &mut self,
        service: u8,
        subservice: u8,
        app_data: &[u8],
    ) -> Result<(Vec<u8>, RequestId), SessionError> {
        let mut unit = vec![0u8; MAX_UNIT_LEN];
        let (len, request) = self
            .ground
            .uplink(self.cfg.spi, service, subservice, 0, app_data, &mut unit)
            .map_err(SessionError::Build)?;
        unit.truncate(len);
        self.save()?;
        Ok((unit, request))
    }

    /// Sends `unit` as it is.
    pub fn send_unit(&self, unit: &[u8]) -> Result<(), SessionError> {
        self.sock.send_to(unit, self.cfg.node)?;
        Ok(())
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

    /// Collect every TM that arrives within `wait` (tests: what a unit caused).
    pub fn collect(&mut self, wait: Duration) -> Result<Vec<Tm>, SessionError> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65_536];
        let deadline = Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if left.is_zero() {
                break;
            }
            self.sock.set_read_timeout(Some(left))?;
            match self.sock.recv_from(&mut buf) {
                Ok((k, _)) => {
                    if let Some(tm) = self.open_unit(buf.get(..k).unwrap_or(&[])) {
                        out.push(tm);
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }
}
