//! [`CommsPd`]: the comms [`Component`].
//!
//! Capabilities it takes:
//!
//! | name or kind | what |
//! | --- | --- |
//! | device `comms-flash` | SDLS state, sealed keys and provisioning inbox in its first 64 KiB, then the CFDP journal and batch file ([`crate::flash_map`]) |
//! | device `radio` | the primary link; a board without one grants none, and comms then runs on the standby link alone (units meant for the primary link are dropped and counted) |
//! | device `standby-link` | the standby serial link (PPP server, [`comms::standby`]) |
//! | every send channel of kind `sign-request` / `upgrade-chunk` / `admin-request` | forwarding ([`crate::routes`]) |
//! | receive channels of kind `sign-response`, `upgrade-status`, `admin-response`, `telemetry`, `health-report` | what goes down (each optional) |
//!
//! # One handler call, bounded and fair
//!
//! 1. **Links, round robin**: one radio frame, then one serial frame, and again, until both are
//!    idle or a link used its budget ([`RADIO_UNITS_PER_CALL`], [`SERIAL_FRAMES_PER_CALL`]).
//!    Every unit goes to [`Node::on_unit`], which checks the MAC first: a forged unit costs one
//!    HMAC and nothing else. A flood on one link therefore takes at most its budget per call,
//!    the other link still gets its own, and the channels come next in the same call.
//! 2. **Channels**: at most [`CHANNEL_MSGS_PER_CALL`] messages from each receive channel:
//!    sign responses, upgrade status and admin responses complete forwarded commands (1,7 /
//!    1,8; an admin response also sends TM\[8,128\] with an export or the new counter), health
//!    reports are kept for housekeeping structure 1, component telemetry goes down at once
//!    (structure 4).
//!    Sign responses of a batch that came by CFDP go to [`crate::batches`] instead.
//! 3. **Batches** ([`crate::batches`]): told whether the signer can sign at once
//!    ([`crate::signer_watch`], from the boot mode and the health reports), CFDP timers, at most
//!    [`crate::batches::CHUNKS_PER_CALL`] chunks to the signer, CFDP PDUs down. While a transfer
//!    is under way the handler runs again every [`BATCH_POLL_US`].
//! 4. **Tick** every [`TICK_US`]: failover and the rate-limited authentication-failure event.
//! 5. If any budget ran out, `cx.wake_at(now)`: the event loop answers the watchdog's pings,
//!    then calls again at once; otherwise the next wake-up is the next tick.
//!
//! Avoids: blocking, unbounded loops, and logging per refused unit (a flood would flood the log;
//! the counters are in housekeeping structure 3).

use crate::batches::{Batches, PacketOut, SignOut};
use crate::bufs::{self, Buffers};
use crate::flash_map::{keys_layout, sdls_layout};
use crate::keys;
use crate::links::{Links, TxStats};
use crate::radio_mode::{self, CfdpHeld};
use crate::routes::{self, Outlets};
use crate::signer_watch::SignerWatch;
use comms::link::FailoverConfig;
use comms::node::{DEFAULT_APID, Node, NodeConfig, Now, UnitOutcome};
use comms::pus::hk_ppp::PppTelemetry;
use comms::sdls::sealed::KeyOrigin;
use comms::sdls::state::{LoadError, Loaded};
use comms::sdls::{DEFAULT_RESERVE_BLOCK, FlashPersist, MAX_UNIT_LEN, StatePersist};
use comms::standby::{Endpoints, StandbyLine, Step};
use hal::radio::Radio;
use hal::serial::WriteReady;
use hal::time::Instant;
use ipc::RecvError;
use protocol::{AdminResponse, HealthReport, LinkId, SignResponse, Telemetry, UpgradeStatus};
use rkyv::rancor::Failure;
use runtime::{CapSet, Component, Context, Drivers, InitError, LinkDrivers, NotifySet, Rx};

/// Radio frames handled per call at most.
pub const RADIO_UNITS_PER_CALL: usize = 16;
/// Standby-link units handled per call at most.
pub const SERIAL_FRAMES_PER_CALL: usize = 16;
/// Messages taken from each receive channel per call at most.
pub const CHANNEL_MSGS_PER_CALL: usize = 16;
/// Period of the failover and event tick.
pub const TICK_US: u64 = 100_000;
/// Period of the handler while a CFDP transfer or batch intake is under way.
pub const BATCH_POLL_US: u64 = 5_000;

/// Counters of the partition itself (the node's own are in its security engine and links).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PdStats {
    /// Units taken from the radio.
    pub radio_units: u64,
    /// Units taken from the serial line (PPP).
    pub serial_frames: u64,
    /// Units (or TC frames on the CCSDS radio) refused by the security layer (either link).
    pub refused: u64,
    /// CFDP packets from the CCSDS radio beyond [`crate::radio_mode::CFDP_PER_DATAGRAM`] in one
    /// datagram, dropped (the ground's CFDP retransmits them).
    pub cfdp_dropped: u64,
    /// Radio receive errors.
    pub radio_errors: u64,
    /// Calls that stopped on a budget and asked to be called again at once.
    pub yielded: u64,
}

/// The comms component, generic over the board's drivers.
pub struct CommsPd<B: Drivers + LinkDrivers>
where
    B::Serial: WriteReady,
{
    node: Node<FlashPersist<B::Flash>>,
    /// `None` on a board that grants no radio (see the module docs).
    radio: Option<B::Radio>,
    serial: B::Serial,
    unit: spin::MutexGuard<'static, [u8; MAX_UNIT_LEN]>,
    line: &'static mut StandbyLine,
    /// The PPP session was up at the last tick (for [`Self::note_ppp`]).
    ppp_up: bool,
    outlets: Outlets,
    sign_rx: Option<Rx<SignResponse>>,
    upgrade_rx: Option<Rx<UpgradeStatus>>,
    admin_rx: Option<Rx<AdminResponse>>,
    telemetry_rx: Option<Rx<Telemetry>>,
    health_rx: Option<Rx<HealthReport>>,
    batches: Option<Batches>,
    watch: SignerWatch,
    tx: TxStats,
    stats: PdStats,
    next_tick: Instant,
}

impl<B: Drivers + LinkDrivers> core::fmt::Debug for CommsPd<B>
where
    B::Serial: WriteReady,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CommsPd")
            .field("outlets", &format_args!("{}", self.outlets))
            .field("tx", &self.tx)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn after(t: Instant, us: u64) -> Instant {
    Instant::from_micros(t.as_micros().saturating_add(us))
}

fn now_of(cx: &Context) -> Now {
    Now {
        mono: cx.now(),
        mission_us: None,
    }
}

fn ms(now: Now) -> u64 {
    now.mono.as_micros() / 1000
}

fn since_boot(now: Now) -> core::time::Duration {
    core::time::Duration::from_micros(now.mono.as_micros())
}

/// CFDP packets down through the node (SDLS) on the active link.
struct NodeOut<'a, P: comms::sdls::StatePersist, D: comms::node::Downlink> {
    node: &'a mut Node<P>,
    links: &'a mut D,
}

impl<P: comms::sdls::StatePersist, D: comms::node::Downlink> PacketOut for NodeOut<'_, P, D> {
    fn send(&mut self, spi: u16, packet: &[u8]) {
        self.node.send_packet(spi, packet, self.links);
    }
}

/// The signer's `sign-request` ring.
struct SignRing<'a>(&'a mut runtime::Tx<protocol::SignRequest>);

impl SignOut for SignRing<'_> {
    fn send(&mut self, req: &protocol::SignRequest) -> Result<(), bool> {
        match self.0.try_send(req) {
            Ok(()) | Err(ipc::SendError::Notify(_)) => Ok(()),
            Err(ipc::SendError::Full) => Err(true),
            Err(_) => Err(false),
        }
    }
}

fn fail(what: &'static str) -> impl FnOnce(runtime::DriverError) -> InitError {
    move |e| {
        log::error!("{e}");
        InitError::Component(what)
    }
}

/// Takes the receive channel of `kind`, if one was granted.
fn optional_rx<M: ipc::Wire>(caps: &mut CapSet, kind: &str) -> Result<Option<Rx<M>>, InitError> {
    match caps.find_receive_kind(kind) {
        Some(name) => Ok(Some(caps.receiver::<M>(name)?.0)),
        None => {
            log::warn!("no `{kind}` channel granted: that traffic will not go down");
            Ok(None)
        }
    }
}

/// Drains up to [`CHANNEL_MSGS_PER_CALL`] messages of `rx` into `on`, deserialised. Returns
/// whether the budget ran out with messages possibly left.
fn drain<M, F>(rx: &mut Option<Rx<M>>, name: &str, cx: &mut Context, mut on: F) -> bool
where
    M: ipc::Wire,
    M::Archived: for<'a> rkyv::Deserialize<M, rkyv::api::low::LowDeserializer<Failure>>,
    F: FnMut(M),
{
    let Some(rx) = rx.as_mut() else {
        return false;
    };
    for _ in 0..CHANNEL_MSGS_PER_CALL {
        match rx.try_recv(|m| rkyv::api::low::deserialize::<M, Failure>(m)) {
            Ok(Ok(msg)) => {
                cx.count_in(1);
                on(msg);
            }
            Ok(Err(_)) | Err(RecvError::Malformed) => {
                cx.count_malformed(1);
                log::warn!("{name}: malformed message dropped");
            }
            Err(RecvError::Empty) => return false,
            Err(RecvError::PeerCorrupt(i)) => {
                cx.count_malformed(1);
                log::error!("{name}: the sender corrupted the ring (index {i})");
                return false;
            }
        }
    }
    true
}

impl<B: Drivers + LinkDrivers> CommsPd<B>
where
    B::Serial: WriteReady,
{
    /// The node logic inside (tests inspect counters through it).
    pub fn node(&self) -> &Node<FlashPersist<B::Flash>> {
        &self.node
    }

    /// The partition's counters.
    pub fn stats(&self) -> PdStats {
        self.stats
    }

    /// Downlink counters.
    pub fn tx_stats(&self) -> TxStats {
        self.tx
    }

    fn note(&mut self, outcome: UnitOutcome) {
        if let UnitOutcome::Refused(_) = outcome {
            self.stats.refused += 1;
        }
    }

    /// One radio datagram (a unit, or on the CCSDS radio a piece of the CLTU stream); `false`
    /// when the radio is idle.
    fn radio_once(&mut self, now: Now) -> bool {
        let Some(radio) = self.radio.as_mut() else {
            return false;
        };
        let n = match radio.try_recv(&mut *self.unit) {
            Ok(Some(n)) => n,
            Ok(None) => return false,
            Err(e) => {
                self.stats.radio_errors += 1;
                if self.stats.radio_errors.is_power_of_two() {
                    log::warn!(
                        "radio receive failed ({} so far): {e}",
                        self.stats.radio_errors
                    );
                }
                return false;
            }
        };
        self.stats.radio_units += 1;
        let mut links = Links {
            radio: &mut self.radio,
            serial: &mut self.serial,
            line: &mut *self.line,
            stats: &mut self.tx,
        };
        let unit = self.unit.get(..n).unwrap_or(&[]);
        if self.node.ccsds_radio().is_some() {
            // Part of the CLTU stream: the node runs every frame it completes; CFDP after.
            let refused_before = self
                .node
                .ccsds_radio()
                .map_or(0, |r| r.stats().sdls_refused);
            let mut held = CfdpHeld::new();
            let (outlets, node) = (&mut self.outlets, &mut self.node);
            node.on_radio_bytes(unit, now, outlets, &mut links, &mut |(o, buf)| {
                held.keep(o, buf)
            });
            for (spi, packet) in held.packets() {
                if let Some(b) = self.batches.as_mut() {
                    b.on_packet(
                        self.node.persist_mut().flash_mut(),
                        spi,
                        packet,
                        since_boot(now),
                    );
                }
            }
            self.stats.cfdp_dropped += u64::from(held.dropped);
            let refused = self
                .node
                .ccsds_radio()
                .map_or(0, |r| r.stats().sdls_refused);
            self.stats.refused += u64::from(refused.wrapping_sub(refused_before));
            return true;
        }
        let o = self
            .node
            .on_unit(LinkId::Primary, unit, now, &mut self.outlets, &mut links);
        cfdp_in(&mut self.node, &mut self.batches, o, unit, now);
        self.note(o);
        true
    }

    /// One standby-link unit; `None` when the line has no complete unit now. Frames the PPP
    /// engine drops for a bad FCS count against the standby link as on the radio.
    fn serial_once(&mut self, now: Now) -> Option<UnitOutcome> {
        let fcs_before = self.line.ppp().stats().fcs_errors;
        let step = self.line.step(&mut self.serial, ms(now));
        let fcs_errors = self.line.ppp().stats().fcs_errors.wrapping_sub(fcs_before);
        for _ in 0..fcs_errors {
            self.node.on_framing_error(LinkId::Standby, now);
        }
        // Before the unit runs, so a housekeeping request in it sees this step's counters.
        self.node.set_standby_ppp(PppTelemetry::of(self.line));
        if step != Step::Unit {
            return None;
        }
        self.stats.serial_frames += 1;
        // Into the unit buffer, so that replies can go out on the same line while it is read.
        let n = self.line.unit().len();
        let dst = self.unit.get_mut(..n)?;
        dst.copy_from_slice(self.line.unit());
        let mut links = Links {
            radio: &mut self.radio,
            serial: &mut self.serial,
            line: &mut *self.line,
            stats: &mut self.tx,
        };
        let unit = self.unit.get(..n).unwrap_or(&[]);
        let o = self
            .node
            .on_unit(LinkId::Standby, unit, now, &mut self.outlets, &mut links);
        cfdp_in(&mut self.node, &mut self.batches, o, unit, now);
        Some(o)
    }

    /// Step 1 of the module docs. Returns whether a budget ran out.
    fn links(&mut self, now: Now, cx: &mut Context) -> bool {
        let (mut radio_left, mut serial_left) = (RADIO_UNITS_PER_CALL, SERIAL_FRAMES_PER_CALL);
        let (mut radio_idle, mut serial_idle) = (false, false);
        while !(radio_idle && serial_idle) {
            if !radio_idle {
                if radio_left == 0 {
                    return true;
                }
                if self.radio_once(now) {
                    radio_left -= 1;
                    cx.count_in(1);
                } else {
                    radio_idle = true;
                }
            }
            if !serial_idle {
                if serial_left == 0 {
                    return true;
                }
                match self.serial_once(now) {
                    Some(o) => {
                        serial_left -= 1;
                        cx.count_in(1);
                        self.note(o);
                    }
                    None => serial_idle = true,
                }
            }
        }
        false
    }

    /// Step 2 of the module docs. Returns whether a budget ran out.
    fn channels(&mut self, now: Now, cx: &mut Context) -> bool {
        let node = &mut self.node;
        let mut links = Links {
            radio: &mut self.radio,
            serial: &mut self.serial,
            line: &mut *self.line,
            stats: &mut self.tx,
        };
        let batches = &mut self.batches;
        let mut more = drain(&mut self.sign_rx, "sign-responses", cx, |r| {
            if !batches.as_mut().is_some_and(|b| b.on_response(&r)) {
                node.on_sign_response(&r, now, &mut links)
            }
        });
        more |= drain(&mut self.upgrade_rx, "upgrade-status", cx, |s| {
            node.on_upgrade_status(&s, now, &mut links)
        });
        let recovering = node.recovering();
        let keys_lost = node.recovering_keys();
        more |= drain(&mut self.admin_rx, "admin-responses", cx, |r| {
            node.on_admin_response(&r, now, &mut links)
        });
        if keys_lost && !node.recovering() {
            log::info!(
                "SDLS keys recovered (new keys wrapped under the link recovery key, verified by the signer): sealed on comms-flash, the recovery association is gone"
            );
        }
        if recovering && !node.recovering() {
            for s in node.security().statuses() {
                log::info!(
                    "SDLS state recovered (recover-link, verified by the signer): SA {}: uplink floor {}, next downlink {}",
                    s.spi,
                    s.rx_reserved,
                    s.tx_next
                );
            }
        }
        more |= drain(&mut self.telemetry_rx, "telemetry", cx, |t| {
            node.on_telemetry(&t, now, &mut links)
        });
        let watch = &mut self.watch;
        more |= drain(&mut self.health_rx, "health-reports", cx, |h| {
            watch.on_report(&h);
            node.on_health(h)
        });
        node.set_signer_down(watch.down().is_some());
        node.set_signer_running(watch.running());
        node.on_signer_restarts(watch.restarts(), now, &mut links);
        more
    }

    /// Step 3 of the module docs. Returns whether chunks are left that the ring has room for.
    fn batches(&mut self, now: Now) -> bool {
        let Some(b) = self.batches.as_mut() else {
            return false;
        };
        let t = since_boot(now);
        b.set_signer(self.watch.down(), self.watch.restarts());
        let more = {
            let flash = self.node.persist_mut().flash_mut();
            let mut ring = self.outlets.sign().map(SignRing);
            b.step(flash, t, ring.as_mut().map(|r| r as &mut dyn SignOut))
        };
        let mut links = Links {
            radio: &mut self.radio,
            serial: &mut self.serial,
            line: &mut *self.line,
            stats: &mut self.tx,
        };
        let mut out = NodeOut {
            node: &mut self.node,
            links: &mut links,
        };
        b.send_due(t, &mut out);
        more
    }

    /// Logs the standby link's PPP session coming up or going down (with why), once each.
    fn note_ppp(&mut self) {
        let up = self.line.is_up();
        if up == self.ppp_up {
            return;
        }
        self.ppp_up = up;
        if up {
            log::info!("standby link: PPP up (IPCP opened), the ground can use the serial line");
        } else {
            match self.line.ppp().last_down() {
                Some(why) => log::warn!("standby link: PPP down: {why}"),
                None => log::warn!("standby link: PPP down"),
            }
        }
    }

    /// The batch flow (CFDP counters and progress; `None` if CFDP could not start).
    pub fn batch_flow(&self) -> Option<&Batches> {
        self.batches.as_ref()
    }
}

/// Hand an authenticated CFDP packet to the batch flow.
fn cfdp_in<F: hal::flash::NorFlash>(
    node: &mut Node<FlashPersist<F>>,
    batches: &mut Option<Batches>,
    o: UnitOutcome,
    unit: &[u8],
    now: Now,
) {
    if let UnitOutcome::Cfdp { spi, start, len } = o
        && let Some(b) = batches.as_mut()
        && let Some(packet) = unit.get(start..start.saturating_add(len))
    {
        b.on_packet(node.persist_mut().flash_mut(), spi, packet, since_boot(now));
    }
}

impl<B: Drivers + LinkDrivers> Component for CommsPd<B>
where
    B::Serial: WriteReady,
{
    fn init(caps: &mut CapSet, cx: &mut Context) -> Result<Self, InitError> {
        let flash_dev = caps.device("comms-flash")?;
        // Kept until the SDLS backend holds it (it reseals the key record when a key changes
        // state); zeroized on drop, on every path.
        let secret = zeroize::Zeroizing::new(
            B::seal_secret(&flash_dev).map_err(fail("no sealing secret for comms-flash"))?,
        );
        // The board's write-once link recovery key (apart from this flash): used only if the
        // sealed keys below are lost (`comms::sdls::key_recovery`).
        let recovery_key = zeroize::Zeroizing::new(
            B::link_recovery_key(&flash_dev).unwrap_or_else(|e| {
                log::error!("link recovery key unreadable ({e}): lost link keys can then only be re-provisioned");
                None
            }),
        );
        let mut flash = B::flash(flash_dev).map_err(fail("comms flash unavailable"))?;
        // Comms writes its SDLS state at its first boot: with it on flash (or the monitor's
        // word that the node has booted), blank keys were lost, never "not yet provisioned".
        let has_run = caps.booted_before() || keys::sdls_state_written(&mut flash);
        let loaded = keys::load(&mut flash, &secret, has_run);
        let (keys_lost, origin, generation, provisioning) = match loaded {
            Ok(k) => {
                keys::log_origin(&k);
                (
                    false,
                    k.sealed.origin,
                    k.sealed.generation,
                    Some(k.sealed.provisioning),
                )
            }
            Err(e @ (keys::KeysError::Lost | keys::KeysError::Damaged(_)))
                if recovery_key.is_some() =>
            {
                log::error!("{e}");
                log::error!(
                    "SDLS keys LOST: key recovery mode on the recovery association (SPI {:#06x}, the board's link recovery key); every command but the key recovery is refused until `spacenode ground admin recover-link --new-keys NEW --recovery-key FILE.recovery` installs new keys",
                    comms::sdls::key_recovery::RECOVERY_SPI
                );
                (true, KeyOrigin::Provisioned, 0, None)
            }
            Err(e) => {
                log::error!("{e}");
                return Err(InitError::Component(
                    "no usable SDLS keys (see the log); comms accepts nothing",
                ));
            }
        };
        let radio = match caps.device("radio") {
            Ok(dev) => Some(B::radio(dev).map_err(fail("radio unavailable"))?),
            Err(runtime::CapError::NotGranted) => {
                log::warn!(
                    "no radio granted on this board: comms runs on the standby link alone; units for the primary link are dropped and counted"
                );
                None
            }
            Err(e) => return Err(e.into()),
        };
        let serial =
            B::serial(caps.device("standby-link")?).map_err(fail("standby link unavailable"))?;
        if let Some(mtu) = radio
            .as_ref()
            .map(|r| r.mtu())
            .filter(|&m| m > MAX_UNIT_LEN)
        {
            log::error!("radio MTU {mtu} is above the largest unit {MAX_UNIT_LEN}");
            return Err(InitError::Component(
                "radio MTU larger than the unit buffer",
            ));
        }
        let mut persist = FlashPersist::mount(flash, sdls_layout())
            .and_then(|p| p.with_sealed_keys(keys_layout(), &secret, origin, generation))
            .map_err(|e| {
                log::error!("SDLS state on comms-flash: {e}");
                InitError::Component("SDLS state flash unusable")
            })?;
        drop(secret);
        // Never used, or lost? Comms writes its state at its first boot (the boot event's
        // downlink reservation), so on a node that has booted before a blank record was erased
        // or worn out. Starting with every floor at 0 would accept replayed commands: comms
        // starts in recovery-only mode instead (`comms::node` recovery).
        let lost = keys_lost
            || match persist.load() {
                Ok(Loaded::Fresh) => caps.booted_before(),
                Ok(Loaded::Record(_)) | Err(LoadError::Backend(_)) => false,
                Err(e @ (LoadError::Lost | LoadError::Decode(_))) => {
                    log::error!("SDLS anti-replay state on comms-flash: {e}");
                    true
                }
            };
        if lost && !keys_lost {
            log::error!(
                "SDLS anti-replay state LOST on a node that has run (the floors are unknown): recovery-only mode, every command but the link recovery is refused until `spacenode ground admin recover-link` restores it"
            );
        }
        let Buffers {
            unit,
            line: slot,
            events,
            ppp: ppp_slot,
            ccsds: ccsds_slot,
        } = bufs::take().ok_or(InitError::Component("comms buffers already taken"))?;
        // The Magic-Number seed: comms holds no RNG device, and the boot time in microseconds
        // differs from one start to the next, which is what loop and restart detection need.
        let seed = (cx.now().as_micros() as u32) ^ 0x5A5A_0001;
        let ep = Endpoints::node(&crate::standby_settings::STANDBY);
        let line = match StandbyLine::new(
            ep,
            ep.ppp_config(seed, &crate::standby_settings::STANDBY),
            ms(now_of(cx)),
        ) {
            Ok(l) => slot.insert(l),
            Err(e) => {
                log::error!("standby link: {e}");
                return Err(InitError::Component("standby link settings invalid"));
            }
        };
        let signer = caps
            .find_send_kind("sign-request")
            .and_then(|name| caps.peer(name));
        let watch = SignerWatch::new(signer, caps.node_mode());
        let (outlets, table) = routes::take(caps)?;
        log::info!("routes from the granted channels: {outlets}");
        let sign_rx = optional_rx(caps, "sign-response")?;
        let upgrade_rx = optional_rx(caps, "upgrade-status")?;
        let admin_rx = optional_rx(caps, "admin-response")?;
        let telemetry_rx = optional_rx(caps, "telemetry")?;
        let health_rx = optional_rx(caps, "health-report")?;
        let cfg = NodeConfig {
            apid: DEFAULT_APID,
            reserve_block: DEFAULT_RESERVE_BLOCK,
            failover: FailoverConfig::default(),
            auth_event_period_ms: 1000,
        };
        // A `match`, not `map_err(..)?`: unoptimised builds copy the ~14 KiB node once per
        // combinator, and the partition's stack is small.
        let booted = match (&provisioning, recovery_key.as_ref()) {
            (Some(p), _) if lost => Node::boot_lost(cfg, p, persist, table),
            (Some(p), _) => Node::boot(cfg, p, persist, table),
            (None, Some(key)) => Node::boot_lost_keys(cfg, key, persist, table),
            (None, None) => {
                return Err(InitError::Component(
                    "no usable SDLS keys (see the log); comms accepts nothing",
                ));
            }
        };
        drop(recovery_key);
        let mut node = match booted {
            Ok(n) => n,
            Err(e) => {
                log::error!("comms boot failed: {e}");
                return Err(InitError::Component("comms boot failed (see the log)"));
            }
        };
        node.attach_event_log(events);
        node.attach_standby_ppp(ppp_slot);
        match radio_mode::radio_for(caps.radio_link()) {
            Ok(None) => {}
            Ok(Some(r)) => {
                let c = *r.config();
                log::info!(
                    "radio: CCSDS space link, spacecraft {:#05x}, TC VC {}, TM VC {}, SDLS suite per association (SA lines), {}-byte TM frames",
                    c.scid,
                    c.tc_vcid,
                    c.tm_vcid,
                    c.tm_frame_len
                );
                if node.recovering() {
                    log::warn!(
                        "radio: TC frames are refused in recovery-only mode; recover the link with units on the standby link"
                    );
                }
                node.use_ccsds_radio(ccsds_slot.insert(r));
            }
            Err(e) => {
                log::error!("radio: {e}");
                return Err(InitError::Component(
                    "the [link] section is unusable (see the log)",
                ));
            }
        }
        node.set_signer_down(watch.down().is_some());
        node.set_signer_running(watch.running());
        let tm_spi = node.security().telemetry_spi();
        // CFDP needs the batch area; without it comms still runs (PUS, forwarding), batches
        // by CFDP are then unavailable and the log says why.
        let batches = match Batches::open(node.persist_mut().flash_mut(), tm_spi) {
            Ok(b) => {
                if let Some(p) = b.receiver().and_then(|r| r.progress())
                    && p.received < p.size
                {
                    log::info!(
                        "CFDP: resuming a transfer, {} of {} bytes held",
                        p.persisted,
                        p.size
                    );
                }
                if let Some(f) = b.receiver().and_then(|r| r.received()) {
                    log::warn!(
                        "CFDP: a batch file of {} bytes was received but not answered before the reset: it is refused as abandoned, not signed",
                        f.size
                    );
                }
                Some(b)
            }
            Err(e) => {
                log::error!(
                    "CFDP batches unavailable: {e} (comms-flash must hold {} bytes)",
                    crate::flash_map::COMMS_FLASH_MIN
                );
                None
            }
        };
        // In recovery-only mode the floors are unknown (the ERROR line above says so).
        for s in node.security().statuses().filter(|_| !node.recovering()) {
            log::info!(
                "SA {}: uplink floor {}, next downlink {}, suite {}, key id {}",
                s.spi,
                s.rx_reserved,
                s.tx_next,
                s.suite,
                s.key_id
            );
        }
        let mut pd = CommsPd {
            node,
            radio,
            serial,
            unit,
            line,
            ppp_up: false,
            outlets,
            sign_rx,
            upgrade_rx,
            admin_rx,
            telemetry_rx,
            health_rx,
            batches,
            watch,
            tx: TxStats::default(),
            stats: PdStats::default(),
            next_tick: after(cx.now(), TICK_US),
        };
        let now = now_of(cx);
        let mut links = Links {
            radio: &mut pd.radio,
            serial: &mut pd.serial,
            line: &mut *pd.line,
            stats: &mut pd.tx,
        };
        if pd.node.recovering() {
            pd.node.announce_lost(now, &mut links);
        } else {
            pd.node.announce_boot(now, &mut links);
        }
        // Recovery-only mode is reported as DEGRADED until the recovery lands.
        cx.set_degraded(pd.node.recovering());
        cx.wake_at(pd.next_tick);
        Ok(pd)
    }

    fn notified(&mut self, _set: NotifySet, cx: &mut Context) {
        let now = now_of(cx);
        let mut more = self.links(now, cx);
        more |= self.channels(now, cx);
        cx.set_degraded(self.node.recovering());
        more |= self.batches(now);
        if now.mono >= self.next_tick {
            self.line.poll(&mut self.serial, ms(now));
            self.node.set_standby_ppp(PppTelemetry::of(self.line));
            self.note_ppp();
            let mut links = Links {
                radio: &mut self.radio,
                serial: &mut self.serial,
                line: &mut *self.line,
                stats: &mut self.tx,
            };
            self.node.tick(now, &mut links);
            self.next_tick = after(now.mono, TICK_US);
        }
        if more {
            self.stats.yielded += 1;
            cx.wake_at(now.mono);
        } else if self
            .batches
            .as_ref()
            .is_some_and(|b| b.busy(since_boot(now)))
        {
            cx.wake_at(after(now.mono, BATCH_POLL_US).min(self.next_tick));
        } else {
            cx.wake_at(self.next_tick);
        }
    }
}
#[cfg(test)]
mod tests {
    /// The component and its node live on the partition's 128 KiB stack, and unoptimised
    /// builds copy them several times on the way into the event loop: keep them small (the
    /// large buffers are in [`crate::bufs`] and on the stack only while a TM is built).
    #[test]
    fn component_stays_small_for_the_partition_stack() {
        let pd = core::mem::size_of::<super::CommsPd<board_sim::drivers::SimDrivers>>();
        assert!(pd <= 8 * 1024, "CommsPd is {pd} bytes");
    }
}
