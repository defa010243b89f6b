//! What the system description's `[standby-link]` table says the standby serial link's PPP
//! runs with, as one value both sides use: kernel-config fills it from the description (with
//! [`StandbyLink::DEFAULT`] for what the table leaves out) and the comms partition's build
//! bakes it in for `comms::standby`.
//!
//! Avoids: any dependency on the PPP engine itself (the values only).

/// The standby link's PPP settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandbyLink {
    /// The node's address on the standby link.
    pub node_ip: [u8; 4],
    /// The address the node gives the ground in IPCP.
    pub ground_ip: [u8; 4],
    /// Echo-Request after this long without a valid frame from the peer (pppd's
    /// `lcp-echo-interval`).
    pub echo_interval_ms: u32,
    /// The link is declared down after this many unanswered echoes (pppd's `lcp-echo-failure`).
    pub echo_failure: u8,
    /// RFC 1661's Restart timer (doubled on each unanswered Configure-Request, up to 8 times).
    pub restart_ms: u32,
    /// RFC 1661's Max-Configure.
    pub max_configure: u8,
    /// RFC 1661's Max-Terminate.
    pub max_terminate: u8,
    /// RFC 1661's Max-Failure.
    pub max_failure: u8,
}

impl StandbyLink {
    /// The defaults: 10.16.0.1 and 10.16.0.2, an echo every 2 s and down after 3 unanswered
    /// (pppd's `lcp-echo-interval` and `lcp-echo-failure`), and RFC 1661's 3 s, 10, 2, 5.
    pub const DEFAULT: StandbyLink = StandbyLink {
        node_ip: [10, 16, 0, 1],
        ground_ip: [10, 16, 0, 2],
        echo_interval_ms: 2_000,
        echo_failure: 3,
        restart_ms: 3_000,
        max_configure: 10,
        max_terminate: 2,
        max_failure: 5,
    };
}

impl Default for StandbyLink {
    fn default() -> Self {
        Self::DEFAULT
    }
}
