//! The sim board's datagram radio: a UDP socket on the loopback interface.
//!
//! [`UdpRadio`] implements [`hal::radio::Radio`]: one UDP datagram per frame, non-blocking both
//! ways, frames longer than the configured MTU refused on send and dropped (and counted) on
//! receive. It only ever binds and sends to loopback addresses (`127.0.0.0/8`, `::1`): the sim
//! board's radio never leaves the machine. Loss, latency and bandwidth are not the radio's
//! business but the channel's: put a [`crate::link::LinkEmulator`] between the two ends.
//!
//! A radio with no one listening on the other side loses frames silently, as a real one does
//! (the kernel's "port unreachable" reports are swallowed).

use hal::radio::{Radio, RadioError};
use std::io::{self, ErrorKind};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd};

/// Largest MTU the sim radio accepts (a UDP payload on loopback).
pub const MAX_MTU: usize = 65_507;
/// The MTU of the board's radio as the monitor grants it: the largest frame comms may send.
pub const RADIO_MTU: usize = 2048;

/// Why a sim radio could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RadioSetupError {
    /// The sim radio is confined to the loopback interface.
    #[error("{0} is not a loopback address: the sim radio only talks to 127.0.0.0/8 or ::1")]
    NotLoopback(SocketAddr),
    /// MTU of 0 or above what UDP carries.
    #[error("radio MTU {0} is outside 1..={MAX_MTU}")]
    BadMtu(usize),
    /// The socket failed.
    #[error("radio socket: {0}")]
    Io(#[from] io::Error),
}

fn loopback(addr: SocketAddr) -> Result<SocketAddr, RadioSetupError> {
    if addr.ip().is_loopback() {
        Ok(addr)
    } else {
        Err(RadioSetupError::NotLoopback(addr))
    }
}

/// A datagram radio over UDP on loopback.
#[derive(Debug)]
pub struct UdpRadio {
    sock: UdpSocket,
    mtu: usize,
    rx_buf: Vec<u8>,
    oversize_dropped: u64,
}

impl UdpRadio {
    /// Bind a radio at `local` (a loopback address; port 0 picks one) with frames of at most
    /// `mtu` bytes. It sends nowhere until [`UdpRadio::connect`].
    pub fn bind(local: SocketAddr, mtu: usize) -> Result<Self, RadioSetupError> {
        let sock = UdpSocket::bind(loopback(local)?)?;
        Self::from_socket(sock, mtu)
    }

    /// Use a socket granted by the monitor. Its local address must be loopback.
    pub fn from_socket(sock: UdpSocket, mtu: usize) -> Result<Self, RadioSetupError> {
        if mtu == 0 || mtu > MAX_MTU {
            return Err(RadioSetupError::BadMtu(mtu));
        }
        loopback(sock.local_addr()?)?;
        sock.set_nonblocking(true)?;
        Ok(UdpRadio {
            sock,
            mtu,
            rx_buf: vec![0; mtu + 1],
            oversize_dropped: 0,
        })
    }

    /// Send to, and receive only from, `peer` (a loopback address).
    pub fn connect(&mut self, peer: SocketAddr) -> Result<(), RadioSetupError> {
        self.sock.connect(loopback(peer)?)?;
        Ok(())
    }

    /// The radio's own address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// Received frames dropped for exceeding the MTU.
    pub fn oversize_dropped(&self) -> u64 {
        self.oversize_dropped
    }
}

impl AsFd for UdpRadio {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl Radio for UdpRadio {
    type Error = io::Error;

    fn mtu(&self) -> usize {
        self.mtu
    }

    fn try_send(&mut self, frame: &[u8]) -> Result<(), RadioError<io::Error>> {
        if frame.is_empty() {
            return Err(RadioError::EmptyFrame);
        }
        if frame.len() > self.mtu {
            return Err(RadioError::FrameTooLong {
                len: frame.len(),
                mtu: self.mtu,
            });
        }
        loop {
            return match self.sock.send(frame) {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => Err(RadioError::WouldBlock),
                // Nobody listening (an ICMP report from an earlier frame): the frame is lost in
                // the ether, which is what a radio does.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => Ok(()),
                Err(e) => Err(RadioError::Device(e)),
            };
        }
    }

    fn try_recv(&mut self, buf: &mut [u8]) -> Result<Option<usize>, RadioError<io::Error>> {
        if buf.len() < self.mtu {
            return Err(RadioError::BufferTooSmall {
                len: buf.len(),
                mtu: self.mtu,
            });
        }
        loop {
            match self.sock.recv(&mut self.rx_buf) {
                Ok(n) if n > self.mtu => self.oversize_dropped += 1,
                Ok(n) => {
                    let (src, dst) = (self.rx_buf.get(..n), buf.get_mut(..n));
                    if let (Some(src), Some(dst)) = (src, dst) {
                        dst.copy_from_slice(src);
                    }
                    return Ok(Some(n));
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(None),
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::Interrupted | ErrorKind::ConnectionRefused
                    ) => {}
                Err(e) => return Err(RadioError::Device(e)),
            }
        }
    }
}
