//! The standby link: SDLS units in UDP datagrams over IPv4 over PPP on the serial line, the same
//! units (same security associations, same anti-replay) as on the radio, so nothing on the
//! standby line is weaker than the primary link.
//!
//! - [`udp`]: the IPv4 + UDP encapsulation of one unit, on `smoltcp`'s wire layer (checksums
//!   made and checked there);
//! - [`line`]: [`StandbyLine`], the `ppp` engine on a `hal::serial` line, with a bounded,
//!   non-blocking receive step and a transmit queue flushed as the line is ready. The node's
//!   comms partition and the ground's `--link serial:` client both run it, with the roles of
//!   [`Endpoints::NODE`] and [`Endpoints::GROUND`].
//!
//! The node is the PPP server: passive (pppd's `silent`: it waits for the ground's
//! Configure-Request and answers it at once, however long the line was idle), it assigns itself [`NODE_IP`] and the ground [`GROUND_IP`] in
//! IPCP. The settings are RFC 1661's defaults (Restart timer 3 s, Max-Configure 10,
//! Max-Terminate 2, Max-Failure 5) and pppd-style echo liveness ([`ECHO_INTERVAL_MS`] ×
//! [`ECHO_FAILURE`]); they are constants of this module, not yet read from the system
//! description.
//!
//! Avoids: the heap, IP fragmentation (a unit whose datagram exceeds the negotiated PPP MRU is
//! refused whole, not cut), and trusting anything here for link health: only
//! units the SDLS layer authenticates count (as on the radio).

pub mod line;
pub mod udp;

pub use line::{LineStats, StandbyLine, Step};

/// The node's address on the standby link.
pub const NODE_IP: [u8; 4] = [10, 16, 0, 1];
/// The address the node gives the ground in IPCP.
pub const GROUND_IP: [u8; 4] = [10, 16, 0, 2];
/// The node's UDP port for SDLS units.
pub const NODE_PORT: u16 = 10_016;
/// The ground's UDP port for SDLS units.
pub const GROUND_PORT: u16 = 10_017;
/// Echo-Request after this long without a valid frame from the peer (pppd's
/// `lcp-echo-interval`).
pub const ECHO_INTERVAL_MS: u32 = 2_000;
/// The link is declared down after this many unanswered echoes (pppd's `lcp-echo-failure`).
pub const ECHO_FAILURE: u8 = 3;
/// IPv4 header (no options) plus UDP header.
pub const IP_UDP_HEADER: usize = 28;
/// The largest SDLS unit one datagram carries: within the MRU of [`ppp::MAX_INFO`] (2,100)
/// octets both ends ask for, so a 2,048-byte unit (the radio's MTU) fits. Against a peer that
/// refuses the larger MRU (such as `ppproto`) the RFC default of 1,500 applies and a unit over
/// 1,472 bytes is refused ([`ppp::SendError::TooLong`]).
pub const MAX_STANDBY_UNIT: usize = ppp::MAX_INFO - IP_UDP_HEADER;

/// Who talks to whom on the standby link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints {
    /// Our address.
    pub local_ip: [u8; 4],
    /// The peer's address.
    pub peer_ip: [u8; 4],
    /// Our UDP port.
    pub local_port: u16,
    /// The peer's UDP port.
    pub peer_port: u16,
    /// The PPP server: passive (pppd's `silent`), waiting for the client's Configure-Request.
    pub server: bool,
}

impl Endpoints {
    /// The node's side (PPP server).
    pub const NODE: Endpoints = Endpoints {
        local_ip: NODE_IP,
        peer_ip: GROUND_IP,
        local_port: NODE_PORT,
        peer_port: GROUND_PORT,
        server: true,
    };
    /// The ground's side (PPP client).
    pub const GROUND: Endpoints = Endpoints {
        local_ip: GROUND_IP,
        peer_ip: NODE_IP,
        local_port: GROUND_PORT,
        peer_port: NODE_PORT,
        server: false,
    };

    /// The PPP engine's settings for this side: RFC defaults, the echo liveness above, an MRU
    /// of [`ppp::MAX_INFO`], these addresses, passive on the server, and `magic_seed` (from the board's RNG; 0 is replaced by 1, as a Magic-Number
    /// of 0 means "none").
    pub fn ppp_config(&self, magic_seed: u32) -> ppp::Config {
        let mut c = ppp::Config::new(self.local_ip, self.peer_ip, magic_seed.max(1));
        c.echo_interval_ms = ECHO_INTERVAL_MS;
        c.echo_failure = ECHO_FAILURE;
        c.mru = ppp::MAX_INFO as u16;
        c.passive = self.server;
        c
    }
}
