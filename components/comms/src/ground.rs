//! The ground side, on the same code as the node: build secured uplink units from telecommands,
//! and open secured downlink units into telemetry.
//!
//! A [`Ground`] holds a ground-role [`SecurityEngine`] (same provisioning file as the node; it
//! sends with the uplink keys and verifies with the downlink keys), the node's APID, and the TC
//! sequence count. Its downlink anti-replay window is wide (the node may jump a reservation
//! block ahead after a reboot). The ground tool persists [`Ground::states`] between runs so it
//! never reuses an uplink ARSN; after a node reboot it continues above the node's reported floor
//! ([`Ground::resume_above`], from housekeeping structure 3 or the boot event).
//!
//! Avoids: I/O; the caller sends and receives the bytes (UDP on the radio, or `standby::StandbyLine` on a serial line).

use crate::pus::ST_VERIFICATION;
use crate::pus::tc::RequestId;
use crate::pus::tc::{self, Ack, TcSpec};
use crate::pus::tm::{self, TmView};
use crate::pus::verification::{self, Report};
use crate::sdls::engine::MemoryPersist;
use crate::sdls::state::{SaState, StateEntries};
use crate::sdls::{MAX_DATA_LEN, Provisioning, SecurityEngine, UplinkReject};

/// Why a ground operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GroundError {
    /// The TC could not be built.
    #[error("telecommand: {0}")]
    Build(#[from] tc::BuildError),
    /// The unit could not be protected.
    #[error("security: {0}")]
    Protect(#[from] crate::sdls::ProtectError),
    /// A downlink unit was refused by the security layer.
    #[error("downlink refused: {0}")]
    Refused(#[from] UplinkReject),
    /// A downlink packet did not parse.
    #[error("telemetry: {0}")]
    Telemetry(#[from] tm::TmParseError),
    /// The provisioning keys could not be used.
    #[error("keys unusable")]
    Keys,
    /// A key change the node made could not be followed.
    #[error("{0}")]
    Manage(#[from] crate::sdls::ManageError),
}

/// One ground station's end of the link.
#[derive(Debug, Clone)]
pub struct Ground {
    engine: SecurityEngine,
    apid: u16,
    seq: u16,
    scratch: MemoryPersist,
}

/// An opened downlink unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Downlinked<'a> {
    /// Association it was authenticated under.
    pub spi: u16,
    /// Its ARSN.
    pub arsn: u64,
    /// The telemetry packet.
    pub tm: TmView<'a>,
    /// The verification report, if it is one.
    pub verification: Option<(RequestId, Report)>,
}

impl Ground {
    /// A ground end for the node at `apid`, from the shared provisioning and the ground's saved
    /// association states (`None` on first use).
    pub fn new(
        provisioning: &Provisioning,
        states: Option<StateEntries>,
        apid: u16,
    ) -> Result<Self, GroundError> {
        Ok(Ground {
            engine: SecurityEngine::ground(provisioning, states, u64::MAX)
                .map_err(|_| GroundError::Keys)?,
            apid,
            seq: 0,
            scratch: MemoryPersist::default(),
        })
    }

    /// Continue the telecommand sequence count at `seq` (14 bits). A ground tool that starts
    /// afresh each run must not restart at 0: the node would take an identical command from
    /// the previous run as a retransmission and only repeat its reports.
    pub fn set_sequence_count(&mut self, seq: u16) {
        self.seq = seq & 0x3FFF;
    }

    /// The association states to save (uplink ARSN used, epochs).
    pub fn states(&self) -> impl Iterator<Item = SaState> + '_ {
        self.engine.states()
    }

    /// The security engine (counters of refused downlink).
    pub fn security(&self) -> &SecurityEngine {
        &self.engine
    }

    /// Continue uplink on `spi` above `floor` (the node's reported reservation).
    pub fn resume_above(&mut self, spi: u16, floor: u64) {
        self.engine.skip_tx_to(spi, floor);
    }

    /// The ARSN the next uplink unit under `spi` will carry.
    pub fn next_arsn(&self, spi: u16) -> Option<u64> {
        self.engine.status(spi).map(|s| s.tx_next)
    }

    /// Follow a key rotation the node confirmed.
    pub fn rotate(&mut self, spi: u16, epoch: u32) -> Result<(), GroundError> {
        self.engine
            .rotate_key(spi, epoch, &mut self.scratch)
            .map_err(|_| GroundError::Keys)
    }

    /// Follow an OTAR (TC 130,6 application data `pdu`) the node completed: install the same
    /// keys into our engine, with the node's checks. Returns the new key set as a provisioning
    /// file (with the KEK's new last KID), for the ground to keep in place of its own.
    pub fn install_keys(&mut self, pdu: &[u8]) -> Result<&[u8], GroundError> {
        self.engine.install_keys(pdu, &mut self.scratch)?;
        self.scratch.key_record().ok_or(GroundError::Keys)
    }

    /// Follow a key state change (130,7 / 130,8 of `spi` to `wanted`, sent under `carrier`)
    /// the node completed, with the node's rules (telemetry moves as on the node). Returns the
    /// new key set as a provisioning file.
    pub fn follow_key_state(
        &mut self,
        spi: u16,
        wanted: crate::sdls::KeyState,
        carrier: u16,
    ) -> Result<&[u8], GroundError> {
        self.engine
            .set_key_state(spi, wanted, carrier, &mut self.scratch)?;
        self.scratch.key_record().ok_or(GroundError::Keys)
    }

    /// Build a TC and wrap it for `spi` into `out`; returns (unit length, the TC's request ID).
    pub fn uplink(
        &mut self,
        spi: u16,
        service: u8,
        subservice: u8,
        source_id: u16,
        app_data: &[u8],
        out: &mut [u8],
    ) -> Result<(usize, RequestId), GroundError> {
        let mut packet = [0u8; MAX_DATA_LEN];
        let (n, rid) = self.telecommand(service, subservice, source_id, app_data, &mut packet)?;
        let packet = packet.get(..n).unwrap_or(&[]);
        let len = self.wrap(spi, packet, out)?;
        Ok((len, rid))
    }

    /// Build a TC space packet into `out`, unsecured (for a transfer frame that SDLS secures,
    /// [`crate::radio_ccsds::GroundRadio`]), asking for every success report; returns (packet
    /// length, request ID). Advances the TC sequence count.
    pub fn telecommand(
        &mut self,
        service: u8,
        subservice: u8,
        source_id: u16,
        app_data: &[u8],
        out: &mut [u8],
    ) -> Result<(usize, RequestId), GroundError> {
        self.telecommand_acked(service, subservice, source_id, Ack::ALL, app_data, out)
    }

    /// [`Ground::telecommand`] asking for the success reports in `ack` only (failures are
    /// always reported): for a caller that learns the outcome another way, as the upgrade's
    /// windowed uplink does from the agent's status, and need not spend the downlink on them.
    pub fn telecommand_acked(
        &mut self,
        service: u8,
        subservice: u8,
        source_id: u16,
        ack: Ack,
        app_data: &[u8],
        out: &mut [u8],
    ) -> Result<(usize, RequestId), GroundError> {
        let n = tc::build(
            &TcSpec {
                apid: self.apid,
                seq_count: self.seq,
                service,
                subservice,
                source_id,
                ack,
                app_data,
            },
            out,
        )?;
        let rid = out
            .get(..n)
            .and_then(RequestId::from_packet)
            .unwrap_or_default();
        self.seq = (self.seq + 1) & 0x3FFF;
        Ok((n, rid))
    }

    /// Wrap an already built packet (a retransmission reuses the same packet bytes).
    pub fn wrap(&mut self, spi: u16, packet: &[u8], out: &mut [u8]) -> Result<usize, GroundError> {
        Ok(self.engine.protect(spi, packet, out, &mut self.scratch)?)
    }

    /// Verify a downlink unit and return its association, sequence number and space packet as
    /// is (for packets that are not PUS telemetry, such as CFDP PDUs under
    /// [`crate::cfdp::CFDP_APID`]; [`Ground::open`] reads one that is).
    pub fn downlink_packet<'a>(
        &mut self,
        unit: &'a [u8],
    ) -> Result<(u16, u64, &'a [u8]), GroundError> {
        let v = self.engine.process(unit, &mut self.scratch)?;
        Ok((v.spi, v.arsn, v.data))
    }

    /// Verify and open a downlink unit.
    pub fn downlink<'a>(&mut self, unit: &'a [u8]) -> Result<Downlinked<'a>, GroundError> {
        let v = self.engine.process(unit, &mut self.scratch)?;
        Self::open(v.spi, v.arsn, v.data)
    }

    /// Open an authenticated telemetry packet that came under `spi` with sequence number
    /// `arsn` (a unit's, or a TM transfer frame's, [`crate::radio_ccsds::GroundRadio`]).
    pub fn open(spi: u16, arsn: u64, packet: &[u8]) -> Result<Downlinked<'_>, GroundError> {
        let tm = tm::parse(packet)?;
        let verification = if tm.service == ST_VERIFICATION {
            verification::decode(tm.subservice, tm.source).ok()
        } else {
            None
        };
        Ok(Downlinked {
            spi,
            arsn,
            tm,
            verification,
        })
    }

    /// The security engine and its scratch persistence, for the CCSDS radio's frames
    /// ([`crate::radio_ccsds::GroundRadio`]).
    pub(crate) fn engine_mut(&mut self) -> (&mut SecurityEngine, &mut MemoryPersist) {
        (&mut self.engine, &mut self.scratch)
    }
}
