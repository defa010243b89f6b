//! Every tunable of the engine, with RFC 1661's defaults (Restart timer 3 s, Max-Terminate 2,
//! Max-Configure 10, Max-Failure 5) and pppd's echo settings, validated before use. The node's
//! comms fills it in from the system description's `[standby-link]`; nothing here reads a file.
//!
//! Avoids: randomness of its own (the caller supplies `magic_seed` from the board's RNG).

/// The engine's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Restart timer (RFC 1661 §4.6), milliseconds; doubled on each retransmission (the RFC
    /// allows exponential back-off) up to `restart_max_ms`, and kept for the rest of that
    /// negotiation, so a round trip longer than the timer still converges (ppp-project/ppp #434).
    pub restart_ms: u32,
    /// Ceiling of the backed-off Restart timer, milliseconds.
    pub restart_max_ms: u32,
    /// Max-Terminate: Terminate-Requests sent without a Terminate-Ack.
    pub max_terminate: u8,
    /// Max-Configure: Configure-Requests sent without a Configure-Ack, Nak or Reject.
    pub max_configure: u8,
    /// Max-Failure: Configure-Naks sent before the options still disagreed on are rejected.
    pub max_failure: u8,
    /// Maximum-Receive-Unit we ask for (64..=[`crate::MAX_INFO`]); not requested when it is
    /// the default 1500 ([`crate::DEFAULT_MRU`]).
    pub mru: u16,
    /// The receive ACCM we ask for: control characters the peer must escape to us.
    pub accm: u32,
    /// Seed of our Magic-Numbers (a new one is derived on each collision); must not be 0.
    pub magic_seed: u32,
    /// pppd's `lcp-echo-interval`: an Echo-Request goes out after this long without any valid
    /// frame from the peer, milliseconds; 0 disables echo liveness.
    pub echo_interval_ms: u32,
    /// pppd's `lcp-echo-failure`: the link is declared down after this many Echo-Requests in a
    /// row went unanswered (and nothing else valid arrived).
    pub echo_failure: u8,
    /// pppd's `silent`: when the line comes up, and again after the link was declared down for
    /// echo silence, send nothing and wait (in Stopped) for the peer's Configure-Request, which
    /// is then answered at once. For a server the peer calls: an active server that has backed
    /// its Restart timer off would make a peer that turns up late wait for that timer.
    pub passive: bool,
    /// Ask the peer for Protocol-Field-Compression and Address-and-Control-Field-Compression.
    pub request_compression: bool,
    /// Our IPv4 address, proposed in IPCP.
    pub local_ip: [u8; 4],
    /// The address the peer must use; a peer asking for another one is Nak'd with this one.
    pub peer_ip: [u8; 4],
    /// pppd's `ipcp-accept-local` and `ipcp-accept-remote`, for a client: take the address the
    /// peer Naks ours with, and acknowledge any (nonzero) address the peer proposes for itself,
    /// instead of insisting on `local_ip` and `peer_ip` (which are then only the first proposal
    /// and the expectation). The negotiated addresses are in [`crate::Status`].
    pub accept_addresses: bool,
}

impl Config {
    /// RFC defaults, echo every 10 s with 3 failures, the given addresses and magic seed.
    pub const fn new(local_ip: [u8; 4], peer_ip: [u8; 4], magic_seed: u32) -> Self {
        Self {
            restart_ms: 3000,
            restart_max_ms: 24_000,
            max_terminate: 2,
            max_configure: 10,
            max_failure: 5,
            mru: 1500,
            accm: 0,
            magic_seed,
            echo_interval_ms: 10_000,
            echo_failure: 3,
            passive: false,
            request_compression: false,
            local_ip,
            peer_ip,
            accept_addresses: false,
        }
    }

    /// Checks every field, naming the first wrong one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.restart_ms == 0 || self.restart_max_ms < self.restart_ms {
            return Err(ConfigError::RestartTimer);
        }
        if self.max_terminate == 0 || self.max_configure == 0 || self.max_failure == 0 {
            return Err(ConfigError::Counter);
        }
        if self.mru < 64 || usize::from(self.mru) > crate::MAX_INFO {
            return Err(ConfigError::Mru(self.mru));
        }
        if self.magic_seed == 0 {
            return Err(ConfigError::MagicSeed);
        }
        if self.echo_interval_ms != 0 && self.echo_failure == 0 {
            return Err(ConfigError::EchoFailure);
        }
        if self.local_ip == [0; 4] || self.peer_ip == [0; 4] || self.local_ip == self.peer_ip {
            return Err(ConfigError::Addresses);
        }
        Ok(())
    }
}

/// A [`Config`] field is out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `restart_ms` is 0 or above `restart_max_ms`.
    #[error("PPP config: restart_ms must be > 0 and <= restart_max_ms")]
    RestartTimer,
    /// A Max-* counter is 0.
    #[error("PPP config: max_terminate, max_configure and max_failure must be at least 1")]
    Counter,
    /// MRU outside 64..=[`crate::MAX_INFO`].
    #[error("PPP config: mru {0} outside 64..=2100")]
    Mru(u16),
    /// `magic_seed` is 0 (a zero Magic-Number means "none", RFC 1661 §6.4).
    #[error("PPP config: magic_seed must be non-zero (seed it from the board RNG)")]
    MagicSeed,
    /// Echo enabled with `echo_failure` 0.
    #[error("PPP config: echo_failure must be at least 1 when echo_interval_ms is set")]
    EchoFailure,
    /// An address is 0.0.0.0 or both are the same.
    #[error("PPP config: local_ip and peer_ip must be set and differ")]
    Addresses,
}
