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
//! Configure-Request and answers it at once, however long the line was idle), it assigns itself
//! and the ground the addresses of its [`StandbyLink`] in IPCP. The settings (addresses, pppd-style
//! echo liveness, RFC 1661's Restart timer and counters) come from the system description's
//! `[standby-link]` table (the comms partition's build-time table); [`StandbyLink::DEFAULT`] is what
//! a description without it gets, and what the ground proposes first: the ground's client takes
//! the addresses the node assigns in IPCP, whatever the node's description says.
//!
//! Avoids: the heap, IP fragmentation (a unit whose datagram exceeds the negotiated PPP MRU is
//! refused whole, not cut), and trusting anything here for link health: only
//! units the SDLS layer authenticates count (as on the radio).

pub mod line;
pub mod udp;

pub use line::{LineStats, StandbyLine, Step};

/// The standby link's PPP settings (the description's `[standby-link]`): one type with
/// kernel-config, in `runtime`.
pub use runtime::StandbyLink;

/// The node's UDP port for SDLS units.
pub const NODE_PORT: u16 = 10_016;
/// The ground's UDP port for SDLS units.
pub const GROUND_PORT: u16 = 10_017;
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
    /// The node's side (PPP server) with the default addresses.
    pub const NODE: Endpoints = Endpoints::node(&StandbyLink::DEFAULT);
    /// The ground's side (PPP client) with the default addresses.
    pub const GROUND: Endpoints = Endpoints::ground(&StandbyLink::DEFAULT);

    /// The node's side (PPP server) with the addresses of `s`.
    pub const fn node(s: &StandbyLink) -> Endpoints {
        Endpoints {
            local_ip: s.node_ip,
            peer_ip: s.ground_ip,
            local_port: NODE_PORT,
            peer_port: GROUND_PORT,
            server: true,
        }
    }

    /// The ground's side (PPP client) with the addresses of `s`.
    pub const fn ground(s: &StandbyLink) -> Endpoints {
        Endpoints {
            local_ip: s.ground_ip,
            peer_ip: s.node_ip,
            local_port: GROUND_PORT,
            peer_port: NODE_PORT,
            server: false,
        }
    }

    /// The PPP engine's settings for this side: the echo liveness and RFC 1661 timer and
    /// counters of `s` (the Restart timer backs off to at most 8 times its value), an MRU of
    /// [`ppp::MAX_INFO`], these addresses (the client accepts the ones the server assigns instead),
    /// passive on the server, and `magic_seed` (0 is
    /// replaced by 1, as a Magic-Number of 0 means "none").
    pub fn ppp_config(&self, magic_seed: u32, s: &StandbyLink) -> ppp::Config {
        let mut c = ppp::Config::new(self.local_ip, self.peer_ip, magic_seed.max(1));
        c.echo_interval_ms = s.echo_interval_ms;
        c.echo_failure = s.echo_failure;
        c.restart_ms = s.restart_ms;
        c.restart_max_ms = s.restart_ms.saturating_mul(8);
        c.max_configure = s.max_configure;
        c.max_terminate = s.max_terminate;
        c.max_failure = s.max_failure;
        c.mru = ppp::MAX_INFO as u16;
        c.passive = self.server;
        // The client takes the addresses the node's description assigns (pppd's
        // ipcp-accept-local/-remote); the node insists on its own.
        c.accept_addresses = !self.server;
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_rfc_and_pppd_values_and_the_engine_takes_them() {
        let c = Endpoints::NODE.ppp_config(7, &StandbyLink::DEFAULT);
        assert_eq!(
            (
                c.restart_ms,
                c.restart_max_ms,
                c.max_configure,
                c.max_terminate,
                c.max_failure
            ),
            (3_000, 24_000, 10, 2, 5)
        );
        assert_eq!((c.echo_interval_ms, c.echo_failure), (2_000, 3));
        assert_eq!((c.local_ip, c.peer_ip), ([10, 16, 0, 1], [10, 16, 0, 2]));
        assert!(c.validate().is_ok());
        let s = StandbyLink {
            node_ip: [192, 168, 7, 1],
            restart_ms: 500,
            max_failure: 1,
            ..StandbyLink::DEFAULT
        };
        let c = Endpoints::ground(&s).ppp_config(0, &s);
        assert_eq!((c.local_ip, c.peer_ip), ([10, 16, 0, 2], [192, 168, 7, 1]));
        assert_eq!(
            (c.restart_ms, c.restart_max_ms, c.max_failure),
            (500, 4_000, 1)
        );
        assert!(c.validate().is_ok());
    }
}
