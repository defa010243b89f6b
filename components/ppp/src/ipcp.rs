//! IPCP (RFC 1332) as the address-assigning end: we propose our own IP-Address (option 3,
//! RFC 1332 §3.3) and require the peer to use the one configured for it: a peer asking for any
//! other address (0.0.0.0 included: "assign me one") is Nak'd with it, and a peer not asking for
//! one is sent a Nak carrying it (up to Max-Failure times; then its request is acknowledged and
//! it has no address from us). A Nak of our own address is
//! not followed (the node's address is not the peer's choice); we keep proposing it. Every other
//! option (IP-Compression-Protocol, the RFC 1877 DNS options, ...) is rejected.
//!
//! With `Config::accept_addresses` (a client: pppd's `ipcp-accept-local`/`ipcp-accept-remote`)
//! it instead takes the address the peer Naks ours with, and acknowledges any nonzero address
//! the peer proposes for itself.
//!
//! Avoids: heap; address pools (one peer on a serial line).

use crate::config::Config;
use crate::cp::{Negotiator, Verdict};
use crate::packet::{Builder, options};

/// IP-Address option type.
pub const IP_ADDRESS: u8 = 3;

/// IPCP's negotiation state.
pub struct Ipcp {
    local: [u8; 4],
    configured: [u8; 4],
    accept: bool,
    peer: [u8; 4],
    want_address: bool,
    /// The peer's address once acknowledged.
    pub peer_acked: Option<[u8; 4]>,
}

impl Ipcp {
    /// IPCP for `cfg`.
    pub fn new(cfg: &Config) -> Self {
        Self {
            local: cfg.local_ip,
            configured: cfg.local_ip,
            accept: cfg.accept_addresses,
            peer: cfg.peer_ip,
            want_address: true,
            peer_acked: None,
        }
    }

    /// Our address.
    pub fn local(&self) -> [u8; 4] {
        self.local
    }
}

impl Negotiator for Ipcp {
    const PROTOCOL: u16 = crate::proto::IPCP;

    fn reset(&mut self) {
        self.want_address = true;
        self.local = self.configured;
        self.peer_acked = None;
    }

    fn request(&self, b: &mut Builder<'_>) {
        if self.want_address {
            b.option(IP_ADDRESS, &self.local);
        }
    }

    fn judge(&self, kind: u8, value: &[u8], suggestion: &mut [u8; 8]) -> Verdict {
        match (kind, value.len()) {
            (IP_ADDRESS, 4) if value == self.peer => Verdict::Ack,
            (IP_ADDRESS, 4) if self.accept && value != [0; 4] => Verdict::Ack,
            (IP_ADDRESS, 4) => {
                suggestion[..4].copy_from_slice(&self.peer);
                Verdict::Nak(4)
            }
            _ => Verdict::Reject,
        }
    }

    fn solicit(&self, request: &[u8], b: &mut Builder<'_>) -> bool {
        // A peer that does not ask for an address is told the one it must use.
        if options(request)
            .flatten()
            .any(|(kind, _)| kind == IP_ADDRESS)
        {
            return false;
        }
        b.option(IP_ADDRESS, &self.peer);
        true
    }

    fn accepted(&mut self, data: &[u8]) {
        self.peer_acked = options(data).flatten().find_map(|(kind, v)| {
            (kind == IP_ADDRESS)
                .then(|| <[u8; 4]>::try_from(v).ok())
                .flatten()
        });
    }

    fn nak_sent(&mut self, _request: &[u8]) {}

    fn refused(&mut self, data: &[u8], reject: bool) {
        if reject && options(data).flatten().any(|(kind, _)| kind == IP_ADDRESS) {
            self.want_address = false;
        }
        if !reject && self.accept {
            // pppd's ipcp-accept-local: the address the peer assigns us.
            let offered = options(data).flatten().find_map(|(kind, v)| {
                (kind == IP_ADDRESS)
                    .then(|| <[u8; 4]>::try_from(v).ok())
                    .flatten()
            });
            if let Some(a) = offered.filter(|a| *a != [0; 4]) {
                self.local = a;
            }
        }
    }

    fn acked(&mut self) {}
}
