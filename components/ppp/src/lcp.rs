//! LCP's options (RFC 1661 §6): Maximum-Receive-Unit, Async-Control-Character-Map (RFC 1662
//! §7.1), Magic-Number with loop detection, Protocol-Field-Compression and
//! Address-and-Control-Field-Compression. Anything else the peer asks for (authentication among
//! them: the standby link's security is SDLS above IP) is rejected.
//!
//! Magic-Number: a peer request carrying our own number is Nak'd with a fresh number and we pick a
//! fresh one too (§6.4); [`Lcp::collisions`] counts these in a row, and the link treats
//! Max-Failure of them as a looped-back line. Numbers come from a xorshift sequence seeded by the
//! caller (no RNG in this crate).
//!
//! Avoids: heap; accepting an option we cannot honour (an MRU below 64 is Nak'd up to 64).

use crate::config::Config;
use crate::cp::{Negotiator, Verdict};
use crate::packet::{Builder, options};

/// Option types.
pub mod opt {
    /// Maximum-Receive-Unit.
    pub const MRU: u8 = 1;
    /// Async-Control-Character-Map.
    pub const ACCM: u8 = 2;
    /// Magic-Number.
    pub const MAGIC: u8 = 5;
    /// Protocol-Field-Compression.
    pub const PFC: u8 = 7;
    /// Address-and-Control-Field-Compression.
    pub const ACFC: u8 = 8;
}

const MIN_PEER_MRU: u16 = 64;

/// What the peer asked of us (in force once LCP is Opened).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerOptions {
    /// Largest information field we may send.
    pub mru: u16,
    /// Control characters we must escape.
    pub accm: u32,
    /// The peer's Magic-Number (0: none).
    pub magic: u32,
    /// We may compress protocol fields.
    pub pfc: bool,
    /// We may omit Address/Control.
    pub acfc: bool,
}

impl PeerOptions {
    const DEFAULT: Self = Self {
        mru: 1500,
        accm: 0xFFFF_FFFF,
        magic: 0,
        pfc: false,
        acfc: false,
    };
}

/// LCP's negotiation state.
pub struct Lcp {
    cfg: Config,
    magic_state: u32,
    /// Our current Magic-Number.
    magic: u32,
    want_mru: bool,
    want_accm: bool,
    want_magic: bool,
    want_compression: bool,
    /// What the peer asked of us.
    pub peer: PeerOptions,
    /// Our options the peer acknowledged.
    pub acked: Acked,
    collisions: u8,
}

/// Our options as acknowledged by the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Acked {
    /// The ACCM the peer escapes for us (0xFFFF_FFFF when not negotiated).
    pub accm: u32,
    /// Our Magic-Number (0 when the peer rejected it).
    pub magic: u32,
}

impl Lcp {
    /// LCP for `cfg` (validated).
    pub fn new(cfg: &Config) -> Self {
        let mut l = Self {
            cfg: *cfg,
            magic_state: cfg.magic_seed,
            magic: 0,
            want_mru: false,
            want_accm: false,
            want_magic: false,
            want_compression: false,
            peer: PeerOptions::DEFAULT,
            acked: Acked {
                accm: 0xFFFF_FFFF,
                magic: 0,
            },
            collisions: 0,
        };
        l.magic = l.next_magic();
        l.reset();
        l
    }

    fn next_magic(&mut self) -> u32 {
        loop {
            // xorshift32 (Marsaglia 2003); never 0 from a non-zero state.
            let mut x = self.magic_state;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            self.magic_state = x;
            if x != self.magic {
                return x;
            }
        }
    }

    /// Our Magic-Number as currently requested.
    pub fn magic(&self) -> u32 {
        if self.want_magic { self.magic } else { 0 }
    }

    /// Magic-Number collisions in a row (a looped-back line if it reaches Max-Failure).
    pub fn collisions(&self) -> u8 {
        self.collisions
    }

    /// Picks a fresh Magic-Number (after an echo carried our own: a loop suspicion).
    pub fn new_magic(&mut self) {
        self.magic = self.next_magic();
    }
}

impl Negotiator for Lcp {
    const PROTOCOL: u16 = crate::proto::LCP;

    fn reset(&mut self) {
        self.want_mru = usize::from(self.cfg.mru) != crate::DEFAULT_MRU;
        self.want_accm = self.cfg.accm != 0xFFFF_FFFF;
        self.want_magic = true;
        self.want_compression = self.cfg.request_compression;
        self.peer = PeerOptions::DEFAULT;
        self.acked = Acked {
            accm: 0xFFFF_FFFF,
            magic: 0,
        };
    }

    fn request(&self, b: &mut Builder<'_>) {
        if self.want_mru {
            b.option(opt::MRU, &self.cfg.mru.to_be_bytes());
        }
        if self.want_accm {
            b.option(opt::ACCM, &self.cfg.accm.to_be_bytes());
        }
        if self.want_magic {
            b.option(opt::MAGIC, &self.magic.to_be_bytes());
        }
        if self.want_compression {
            b.option(opt::PFC, &[]);
            b.option(opt::ACFC, &[]);
        }
    }

    fn judge(&self, kind: u8, value: &[u8], suggestion: &mut [u8; 8]) -> Verdict {
        match (kind, value.len()) {
            (opt::MRU, 2) => {
                if u16::from_be_bytes([value[0], value[1]]) >= MIN_PEER_MRU {
                    Verdict::Ack
                } else {
                    suggestion[..2].copy_from_slice(&MIN_PEER_MRU.to_be_bytes());
                    Verdict::Nak(2)
                }
            }
            (opt::ACCM, 4) | (opt::PFC, 0) | (opt::ACFC, 0) => Verdict::Ack,
            (opt::MAGIC, 4) => {
                let m = u32::from_be_bytes([value[0], value[1], value[2], value[3]]);
                if m == 0 || (self.want_magic && m == self.magic) {
                    // Suggest a number that is neither ours nor the one received.
                    let mut s = self.magic_state ^ 0x9E37_79B9;
                    if s == 0 || s == self.magic || s == m {
                        s = self.magic.rotate_left(16) ^ 0x5A5A_5A5A;
                    }
                    suggestion[..4].copy_from_slice(&s.to_be_bytes());
                    Verdict::Nak(4)
                } else {
                    Verdict::Ack
                }
            }
            _ => Verdict::Reject,
        }
    }

    fn solicit(&self, _request: &[u8], _b: &mut Builder<'_>) -> bool {
        // Every LCP option has a usable default: nothing to solicit.
        false
    }

    fn accepted(&mut self, data: &[u8]) {
        let mut peer = PeerOptions::DEFAULT;
        for (kind, v) in options(data).flatten() {
            match (kind, v) {
                (opt::MRU, &[a, b]) => {
                    peer.mru = u16::from_be_bytes([a, b]).min(crate::MAX_INFO as u16)
                }
                (opt::ACCM, &[a, b, c, d]) => peer.accm = u32::from_be_bytes([a, b, c, d]),
                (opt::MAGIC, &[a, b, c, d]) => peer.magic = u32::from_be_bytes([a, b, c, d]),
                (opt::PFC, []) => peer.pfc = true,
                (opt::ACFC, []) => peer.acfc = true,
                _ => {}
            }
        }
        self.peer = peer;
        self.collisions = 0;
    }

    fn nak_sent(&mut self, request: &[u8]) {
        let theirs = options(request)
            .flatten()
            .find_map(|(kind, v)| match (kind, v) {
                (opt::MAGIC, &[a, b, c, d]) => Some(u32::from_be_bytes([a, b, c, d])),
                _ => None,
            });
        if self.want_magic && theirs == Some(self.magic) {
            // Our own number came back: maybe a looped-back line (or a peer that chose the
            // same one). Pick a fresh number of our own and count (RFC 1661 §6.4).
            self.collisions = self.collisions.saturating_add(1);
            self.magic = self.next_magic();
        }
    }

    fn refused(&mut self, data: &[u8], reject: bool) {
        for (kind, v) in options(data).flatten() {
            match (kind, reject) {
                (opt::MRU, true) => self.want_mru = false,
                (opt::MRU, false) => match *v {
                    // A suggestion we can receive is adopted; otherwise the option is dropped
                    // and the RFC default (1500, which we always receive) applies.
                    [a, b]
                        if (64..=crate::MAX_INFO)
                            .contains(&usize::from(u16::from_be_bytes([a, b]))) =>
                    {
                        self.cfg.mru = u16::from_be_bytes([a, b]);
                    }
                    _ => self.want_mru = false,
                },
                (opt::ACCM, true) => self.want_accm = false,
                (opt::ACCM, false) => {
                    if let &[a, b, c, d] = v {
                        self.cfg.accm |= u32::from_be_bytes([a, b, c, d]);
                    }
                }
                (opt::MAGIC, true) => self.want_magic = false,
                (opt::MAGIC, false) => self.magic = self.next_magic(),
                (opt::PFC | opt::ACFC, _) => self.want_compression = false,
                _ => {}
            }
        }
    }

    fn acked(&mut self) {
        self.acked = Acked {
            accm: if self.want_accm {
                self.cfg.accm
            } else {
                0xFFFF_FFFF
            },
            magic: self.magic(),
        };
    }
}
