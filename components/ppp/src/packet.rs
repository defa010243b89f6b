//! The control-protocol packet shared by LCP and IPCP (RFC 1661 §5): `code | identifier |
//! length (2) | data`, and the Type-Length-Value options of Configure packets (§6).
//!
//! Parsing is bounded by the Length field (octets past it are padding and ignored, §5); a Length
//! below 4 or beyond the received octets is refused, as is an option whose length is below 2 or
//! runs past the packet.
//!
//! Avoids: heap (packets are built in a caller-provided buffer).

/// Control packet codes (RFC 1661 §5).
pub mod code {
    /// Configure-Request.
    pub const CONFIGURE_REQUEST: u8 = 1;
    /// Configure-Ack.
    pub const CONFIGURE_ACK: u8 = 2;
    /// Configure-Nak.
    pub const CONFIGURE_NAK: u8 = 3;
    /// Configure-Reject.
    pub const CONFIGURE_REJECT: u8 = 4;
    /// Terminate-Request.
    pub const TERMINATE_REQUEST: u8 = 5;
    /// Terminate-Ack.
    pub const TERMINATE_ACK: u8 = 6;
    /// Code-Reject.
    pub const CODE_REJECT: u8 = 7;
    /// Protocol-Reject (LCP only).
    pub const PROTOCOL_REJECT: u8 = 8;
    /// Echo-Request (LCP only).
    pub const ECHO_REQUEST: u8 = 9;
    /// Echo-Reply (LCP only).
    pub const ECHO_REPLY: u8 = 10;
    /// Discard-Request (LCP only).
    pub const DISCARD_REQUEST: u8 = 11;
}

/// A control packet could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Fewer than 4 octets, or a Length field below 4 or beyond the frame.
    #[error("control packet dropped: Length field below 4 or beyond the frame")]
    BadLength,
    /// An option's length is below 2 or runs past the packet.
    #[error("control packet dropped: an option's length is below 2 or runs past the packet")]
    BadOption,
}

/// A parsed control packet, borrowing the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Code.
    pub code: u8,
    /// Identifier.
    pub id: u8,
    /// Data (after the 4-octet header, up to Length).
    pub data: &'a [u8],
    /// The whole packet (header and data, up to Length).
    pub whole: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Parses the header of `info` (a frame's information field).
    pub fn parse(info: &'a [u8]) -> Result<Self, PacketError> {
        let [code, id, hi, lo, ..] = *info else {
            return Err(PacketError::BadLength);
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len < 4 || len > info.len() {
            return Err(PacketError::BadLength);
        }
        Ok(Self {
            code,
            id,
            data: &info[4..len],
            whole: &info[..len],
        })
    }
}

/// Iterates the options of a Configure packet's data, refusing malformed ones.
pub fn options(mut data: &[u8]) -> impl Iterator<Item = Result<(u8, &[u8]), PacketError>> {
    core::iter::from_fn(move || {
        if data.is_empty() {
            return None;
        }
        let (kind, len) = match *data {
            [kind, len, ..] if usize::from(len) >= 2 && usize::from(len) <= data.len() => {
                (kind, usize::from(len))
            }
            _ => {
                data = &[];
                return Some(Err(PacketError::BadOption));
            }
        };
        let value = &data[2..len];
        data = &data[len..];
        Some(Ok((kind, value)))
    })
}

/// Checks every option of `data` is well formed.
pub fn check_options(data: &[u8]) -> Result<(), PacketError> {
    options(data).try_for_each(|o| o.map(|_| ()))
}

/// Builds one control packet in a caller-provided buffer.
pub struct Builder<'b> {
    buf: &'b mut [u8],
    len: usize,
    overflow: bool,
}

impl<'b> Builder<'b> {
    /// Starts a packet with `code` and `id` in `buf`.
    pub fn new(buf: &'b mut [u8], code: u8, id: u8) -> Self {
        let mut b = Self {
            buf,
            len: 0,
            overflow: false,
        };
        b.bytes(&[code, id, 0, 0]);
        b
    }

    /// Appends raw data octets (truncated, and marked, if the buffer is full).
    pub fn bytes(&mut self, data: &[u8]) {
        let room = self.buf.len() - self.len;
        let n = data.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&data[..n]);
        self.len += n;
        self.overflow |= n < data.len();
    }

    /// Appends one option.
    pub fn option(&mut self, kind: u8, value: &[u8]) {
        // Option values here are at most a few octets; longer ones come from a peer's packet
        // being echoed back, whose length already fits in one octet.
        let len = u8::try_from(value.len() + 2).unwrap_or(u8::MAX);
        self.bytes(&[kind, len]);
        self.bytes(&value[..usize::from(len) - 2]);
    }

    /// Whether anything was cut because the buffer was full.
    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    /// Data octets written so far (after the header).
    pub fn data_len(&self) -> usize {
        self.len - 4
    }

    /// Sets the Length field and returns the packet.
    pub fn finish(self) -> &'b [u8] {
        let len = u16::try_from(self.len).unwrap_or(u16::MAX).to_be_bytes();
        self.buf[2..4].copy_from_slice(&len);
        &self.buf[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_bounds_the_packet_and_padding_is_ignored() {
        let p = Packet::parse(&[1, 7, 0, 6, 1, 4, 0xAA]).unwrap();
        assert_eq!((p.code, p.id, p.data), (1, 7, &[1u8, 4][..]));
        assert_eq!(Packet::parse(&[1, 7, 0, 3]), Err(PacketError::BadLength));
        assert_eq!(Packet::parse(&[1, 7, 0, 9, 0]), Err(PacketError::BadLength));
        assert_eq!(Packet::parse(&[1, 7]), Err(PacketError::BadLength));
    }

    #[test]
    fn malformed_options_are_refused() {
        assert!(check_options(&[1, 4, 5, 220, 5, 6, 0, 0, 0, 1]).is_ok());
        assert_eq!(check_options(&[1, 1]), Err(PacketError::BadOption));
        assert_eq!(check_options(&[1, 5, 0]), Err(PacketError::BadOption));
        assert_eq!(check_options(&[7]), Err(PacketError::BadOption));
    }

    #[test]
    fn builder_sets_the_length() {
        let mut buf = [0u8; 16];
        let mut b = Builder::new(&mut buf, 1, 2);
        b.option(5, &[1, 2, 3, 4]);
        assert_eq!(b.finish(), &[1, 2, 0, 10, 5, 6, 1, 2, 3, 4]);
    }
}
