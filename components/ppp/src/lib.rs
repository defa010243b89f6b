//! spacenode's PPP engine for the standby serial link, as one self-contained `no_std` crate.
//!
//! - [`fcs`]: the RFC 1662 FCS-16;
//! - [`frame`]: RFC 1662 HDLC-like framing on send (address/control, protocol field and their
//!   compression, escaping per the negotiated ACCM, MRU bound) and [`deframe`] on receive
//!   (any escaped byte accepted, ACCM-flagged control characters dropped, abort sequence);
//! - [`packet`]: the control-protocol packet and option codec shared by LCP and IPCP;
//! - [`fsm`]: the RFC 1661 §4.1 option negotiation automaton, as a pure transition function;
//! - [`cp`]: one control protocol (automaton + Restart timer + counters + identifiers);
//! - [`lcp`] and [`ipcp`]: the options each negotiates;
//! - [`link`]: the engine tying them together, with echo liveness and peer-restart detection;
//! - [`config`]: every tunable (RFC defaults), validated.
//!
//! Time is passed in (`now_ms`, any monotonic millisecond clock); there is no clock, no RNG and
//! no heap inside the crate. Bytes in, bytes out: the caller owns the serial line.
//!
//! Avoids: heap, panics on line input, a clock of its own.
#![no_std]
#![forbid(unsafe_code)]

pub mod config;
pub mod cp;
pub mod deframe;
pub mod fcs;
pub mod frame;
pub mod fsm;
pub mod ipcp;
pub mod lcp;
pub mod link;
pub mod packet;

pub use config::{Config, ConfigError};
pub use link::{DownReason, Ppp, SendError, Stats, Status};

/// RFC 1661's default Maximum-Receive-Unit: what both ends may send unless an MRU option was
/// negotiated (a [`Config::mru`] of this value is not requested at all).
pub const DEFAULT_MRU: usize = 1500;

/// Largest Information field (protocol payload) the engine receives or sends, and the largest
/// MRU it asks for or grants: above [`DEFAULT_MRU`] so that two ends which both ask for it can
/// carry datagrams of a 2,048-byte unit plus IPv4 and UDP headers. The receive buffer is always
/// this large, whatever was negotiated (receiving is liberal).
pub const MAX_INFO: usize = 2100;

/// PPP protocol numbers used here (RFC 1700 / IANA "PPP DLL Protocol Numbers").
pub mod proto {
    /// Internet Protocol version 4.
    pub const IPV4: u16 = 0x0021;
    /// IP Control Protocol (RFC 1332).
    pub const IPCP: u16 = 0x8021;
    /// Link Control Protocol (RFC 1661).
    pub const LCP: u16 = 0xC021;
}
