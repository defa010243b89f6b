//! What the system description's `[link]` section says the radio (the primary ground link)
//! speaks, as the board hands it to the component that owns the radio ([`crate::CapSet::radio_link`]).
//!
//! - [`RadioLink::Units`] (the default): comms' own secured units, one per radio datagram.
//! - [`RadioLink::Ccsds`]: the CCSDS space link: CLTUs of TC transfer frames up, TM transfer
//!   frames behind the attached sync marker down, SDLS inside the frames, COP-1
//!   (`comms::radio_ccsds`).
//!
//! The SDLS suite is not here: each security association has its own, in the provisioning
//! file (`comms::sdls::provision`, version 3).
//!
//! Avoids: any dependency on the link layers themselves (the values only).

/// The CCSDS radio's managed parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CcsdsLink {
    /// Spacecraft id (10 bits).
    pub spacecraft_id: u16,
    /// Virtual channel of the telecommands (6 bits).
    pub tc_virtual_channel: u8,
    /// Virtual channel of the telemetry (3 bits).
    pub tm_virtual_channel: u8,
    /// TM transfer frame length in bytes.
    pub tm_frame_length: u16,
}

/// What the radio speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RadioLink {
    /// comms' own secured units (the default).
    #[default]
    Units,
    /// The CCSDS space link.
    Ccsds(CcsdsLink),
}
