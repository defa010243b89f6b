//! The link a ground session's units travel on: the radio (UDP datagrams to the node's
//! `--radio-uplink`, answers on `--listen`) or the standby serial line (PPP, [`super::serial_link`]).
//! The session above sees only "send a unit" and "wait for a unit".
//!
//! Avoids: blocking without a deadline; treating a full socket buffer as an error (it is a lost
//! unit, which the protocol above recovers).

use super::serial_link::{SerialLink, SerialLinkError};
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// Where units go.
pub enum Wire {
    /// The radio.
    Radio {
        /// Bound to the listen address.
        sock: UdpSocket,
        /// The node's uplink address.
        node: SocketAddr,
    },
    /// The standby line.
    Serial(SerialLink),
}

impl Wire {
    /// Sends one unit; a full socket buffer drops it (the retries recover).
    pub fn send(&mut self, unit: &[u8]) -> std::io::Result<()> {
        match self {
            Wire::Radio { sock, node } => match sock.send_to(unit, *node) {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(()),
                Err(e) => Err(e),
            },
            Wire::Serial(s) => s.send(unit),
        }
    }

    /// Waits up to `wait` for one unit into `buf`; `None` when none came.
    pub fn recv(&mut self, buf: &mut [u8], wait: Duration) -> std::io::Result<Option<usize>> {
        match self {
            Wire::Radio { sock, .. } => {
                let deadline = Instant::now() + wait;
                loop {
                    let left = deadline.saturating_duration_since(Instant::now());
                    sock.set_read_timeout(Some(left.max(Duration::from_micros(100))))?;
                    match sock.recv_from(buf) {
                        Ok((k, _)) => return Ok(Some(k)),
                        Err(e)
                            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                        {
                            return Ok(None);
                        }
                        // An ICMP port-unreachable from an earlier send: not an answer.
                        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                            if left.is_zero() {
                                return Ok(None);
                            }
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            Wire::Serial(s) => s.recv(buf, wait).map_err(|e| match e {
                SerialLinkError::Gone(_) => std::io::Error::new(ErrorKind::BrokenPipe, e),
                other => std::io::Error::other(other),
            }),
        }
    }
}
