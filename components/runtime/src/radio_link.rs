//! What the system description's `[link]` section says the radio (the primary ground link)
//! speaks, as the board hands it to the component that owns the radio ([`crate::CapSet::radio_link`]).
//!
//! - [`RadioLink::Units`] (the default): comms' own secured units, one per radio datagram.
//! - [`RadioLink::Ccsds`]: the CCSDS space link: CLTUs of TC transfer frames up, TM transfer
//!   frames behind the attached sync marker down, SDLS inside the frames, COP-1
//!   (`comms::radio_ccsds`).
//!
//! Avoids: any dependency on the link layers themselves (the values only).

/// The SDLS suite of every association on the CCSDS radio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkSuite {
    /// AES-256-GCM authenticated encryption.
    Aes256Gcm,
    /// HMAC-SHA-256 authentication only.
    HmacSha256,
}

/// The CCSDS radio's managed parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CcsdsLink {
    /// Spacecraft id (10 bits).
    pub spacecraft_id: u16,
    /// Virtual channel of the telecommands (6 bits).
    pub tc_virtual_channel: u8,
    /// Virtual channel of the telemetry (3 bits).
    pub tm_virtual_channel: u8,
    /// SDLS suite.
    pub suite: LinkSuite,
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
