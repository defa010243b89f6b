//! The body of a `recover-link` admin command: the new SDLS anti-replay state of a comms
//! partition whose state record was lost, as the admins sign it.
//!
//! ```text
//! recover-link challenge=<32 hex digits> sa=<SPI>:<epoch>:<uplink floor>:<downlink reservation> ... [keys=<hex>]
//! ```
//!
//! `keys=` (optional, once) makes it a **key recovery**: comms' sealed SDLS keys were lost, and
//! the field carries a whole new provisioning file wrapped under the board's link recovery key
//! and bound to the challenge (`comms::sdls::key_recovery`); the `sa=` entries then name every
//! association of that new file. Without it, the body restores the anti-replay state of the
//! keys comms still holds.
//!
//! One `sa=` per security association (each SPI once, at most [`MAX_LINK_SAS`]), all numbers
//! decimal. The uplink floor becomes the association's last accepted uplink ARSN (the ground
//! continues above it), the downlink reservation its persisted transmit reservation (the next
//! telemetry goes out at one above it). `challenge` is the signer's current link-recovery
//! challenge (`signer::link_recovery`), which changes at every signer boot and after every
//! recovery it verified: a captured recovery never applies twice.
//!
//! The signer (which checks the admin signatures and the challenge) and comms (which applies the
//! floors) read the body with this one parser.
//!
//! Avoids: heap, panics on any input, signs, leading `+` and hex outside the challenge.

use hex_conservative::FromHex;

/// The first word of a link-recovery body.
pub const RECOVER_LINK: &str = "recover-link";
/// Most associations one body names (comms' `MAX_ASSOCIATIONS`).
pub const MAX_LINK_SAS: usize = 8;
/// Length of the challenge.
pub const LINK_CHALLENGE_LEN: usize = 16;
/// Most bytes the `keys=` field carries (in hex, twice as many digits).
pub const MAX_WRAPPED_KEYS: usize = 1024;

/// One association's new state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkFloor {
    /// SPI.
    pub spi: u16,
    /// Key epoch.
    pub epoch: u32,
    /// New last accepted uplink ARSN.
    pub uplink_floor: u64,
    /// New transmit reservation.
    pub downlink_reserved: u64,
}

/// A parsed `recover-link` body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoverLink {
    /// The challenge it answers.
    pub challenge: [u8; LINK_CHALLENGE_LEN],
    floors: [LinkFloor; MAX_LINK_SAS],
    n: usize,
    /// The body carries wrapped keys (`keys=`): a key recovery ([`wrapped_keys`] reads them).
    pub keys: bool,
}

impl RecoverLink {
    /// The named associations, in body order.
    pub fn floors(&self) -> &[LinkFloor] {
        self.floors.get(..self.n).unwrap_or(&[])
    }

    /// The entry for `spi`.
    pub fn get(&self, spi: u16) -> Option<LinkFloor> {
        self.floors().iter().copied().find(|f| f.spi == spi)
    }
}

/// Why a body is not a `recover-link`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkBodyError {
    /// The first line is not `recover-link ...`.
    NotRecoverLink,
    /// A field is malformed, repeated, unknown or missing.
    Malformed,
}

/// The first line of `body` that is not empty or a `#` comment.
fn first_line(body: &str) -> Option<&str> {
    body.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
}

/// Whether an admin body is a link recovery (its first non-comment line).
pub fn is_recover_link(body: &str) -> bool {
    first_line(body).is_some_and(|l| l.split_whitespace().next() == Some(RECOVER_LINK))
}

fn number<T: core::str::FromStr>(v: &str) -> Result<T, LinkBodyError> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LinkBodyError::Malformed);
    }
    v.parse().map_err(|_| LinkBodyError::Malformed)
}

fn floor(v: &str) -> Result<LinkFloor, LinkBodyError> {
    let mut parts = v.split(':');
    let mut next = || parts.next().ok_or(LinkBodyError::Malformed);
    let f = LinkFloor {
        spi: number(next()?)?,
        epoch: number(next()?)?,
        uplink_floor: number(next()?)?,
        downlink_reserved: number(next()?)?,
    };
    if parts.next().is_some() {
        return Err(LinkBodyError::Malformed);
    }
    Ok(f)
}

/// Parses a `recover-link` body (one line besides comments; each field as documented).
pub fn parse(body: &str) -> Result<RecoverLink, LinkBodyError> {
    let bad = LinkBodyError::Malformed;
    let mut lines = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let line = lines.next().ok_or(LinkBodyError::NotRecoverLink)?;
    let mut words = line.split_whitespace();
    if words.next() != Some(RECOVER_LINK) {
        return Err(LinkBodyError::NotRecoverLink);
    }
    if lines.next().is_some() {
        return Err(bad);
    }
    let mut challenge = None;
    let mut floors = [LinkFloor::default(); MAX_LINK_SAS];
    let mut n = 0;
    let mut keys = false;
    for w in words {
        match w.split_once('=').ok_or(bad)? {
            ("keys", v) => {
                let ok = !v.is_empty()
                    && v.len() % 2 == 0
                    && v.len() <= 2 * MAX_WRAPPED_KEYS
                    && v.bytes().all(|b| b.is_ascii_hexdigit());
                if !ok || core::mem::replace(&mut keys, true) {
                    return Err(bad);
                }
            }
            ("challenge", v) => {
                let c = <[u8; LINK_CHALLENGE_LEN]>::from_hex(v).map_err(|_| bad)?;
                if challenge.replace(c).is_some() {
                    return Err(bad);
                }
            }
            ("sa", v) => {
                let f = floor(v)?;
                if floors.iter().take(n).any(|g| g.spi == f.spi) {
                    return Err(bad);
                }
                *floors.get_mut(n).ok_or(bad)? = f;
                n += 1;
            }
            _ => return Err(bad),
        }
    }
    if n == 0 {
        return Err(bad);
    }
    Ok(RecoverLink {
        challenge: challenge.ok_or(bad)?,
        floors,
        n,
        keys,
    })
}

/// The wrapped keys of a key recovery body (one [`parse`] accepted with `keys` set), decoded
/// into `out`: their length, or `None` if the body has none or they do not fit.
pub fn wrapped_keys(body: &str, out: &mut [u8]) -> Option<usize> {
    let line = first_line(body)?;
    let hex = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("keys="))?;
    let n = hex.len() / 2;
    let dst = out.get_mut(..n)?;
    let bytes = hex_conservative::HexToBytesIter::new(hex).ok()?;
    for (d, b) in dst.iter_mut().zip(bytes) {
        *d = b.ok()?;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_parses_with_every_association() {
        let body = "# lost on 5 Dec\nrecover-link challenge=00112233445566778899aabbccddeeff sa=1:0:1300:700 sa=2:3:5:6\n";
        let r = parse(body).unwrap();
        assert_eq!(r.challenge[0], 0x00);
        assert_eq!(r.challenge[15], 0xff);
        assert_eq!(r.floors().len(), 2);
        assert_eq!(
            r.get(2),
            Some(LinkFloor {
                spi: 2,
                epoch: 3,
                uplink_floor: 5,
                downlink_reserved: 6
            })
        );
        assert!(is_recover_link(body));
        assert!(!is_recover_link("recover-ledger floor=1"));
        assert!(!r.keys);
    }

    #[test]
    fn a_key_recovery_carries_its_wrapped_keys() {
        let body = "recover-link challenge=00112233445566778899aabbccddeeff sa=1:0:1:1 keys=0a0B0c";
        assert!(parse(body).unwrap().keys);
        let mut out = [0u8; 4];
        assert_eq!(wrapped_keys(body, &mut out), Some(3));
        assert_eq!(out[..3], [0x0a, 0x0b, 0x0c]);
        assert_eq!(wrapped_keys(body, &mut [0u8; 2]), None, "does not fit");
        const C: &str = "recover-link challenge=00112233445566778899aabbccddeeff sa=1:0:1:1 ";
        let mut buf = [b'0'; 100 + 2 * MAX_WRAPPED_KEYS];
        buf[..C.len()].copy_from_slice(C.as_bytes());
        let long = C.len() + 5 + 2 * MAX_WRAPPED_KEYS + 2;
        buf[C.len()..C.len() + 5].copy_from_slice(b"keys=");
        let too_long = core::str::from_utf8(&buf[..long]).unwrap();
        assert_eq!(parse(too_long), Err(LinkBodyError::Malformed));
        let just_fits = core::str::from_utf8(&buf[..long - 2]).unwrap();
        assert!(parse(just_fits).unwrap().keys);
        for bad in ["keys=", "keys=abc", "keys=zz", "keys=+a", "keys=00 keys=00"] {
            buf[C.len()..C.len() + bad.len()].copy_from_slice(bad.as_bytes());
            let body = core::str::from_utf8(&buf[..C.len() + bad.len()]).unwrap();
            assert_eq!(parse(body), Err(LinkBodyError::Malformed), "{bad}");
        }
    }

    #[test]
    fn malformed_bodies_are_refused() {
        assert_eq!(
            parse("recover-ledger floor=1"),
            Err(LinkBodyError::NotRecoverLink)
        );
        const C: &str = "challenge=00112233445566778899aabbccddeeff";
        let cases: [&[&str]; 12] = [
            &[C],
            &["sa=1:0:1:1"],
            &[C, "sa=1:0:1"],
            &[C, "sa=1:0:1:1:1"],
            &[C, "sa=1:0:+1:1"],
            &[C, "sa=1:0:1:1", "sa=1:0:2:2"],
            &[C, C, "sa=1:0:1:1"],
            &[C, "sa=70000:0:1:1"],
            &["challenge=00", "sa=1:0:1:1"],
            &[C, "sa=1:0:1:1", "extra=1"],
            &[C, "sa=1:0:1:1\nrevoke id=1"],
            &[
                C,
                "sa=1:0:1:1",
                "sa=2:0:1:1",
                "sa=3:0:1:1",
                "sa=4:0:1:1",
                "sa=5:0:1:1",
                "sa=6:0:1:1",
                "sa=7:0:1:1",
                "sa=8:0:1:1",
                "sa=9:0:1:1",
            ],
        ];
        for words in cases {
            let mut buf = [0u8; 512];
            let mut n = 0;
            for w in core::iter::once(RECOVER_LINK).chain(words.iter().copied()) {
                buf[n..n + w.len()].copy_from_slice(w.as_bytes());
                buf[n + w.len()] = b' ';
                n += w.len() + 1;
            }
            let body = core::str::from_utf8(&buf[..n]).unwrap();
            assert_eq!(parse(body), Err(LinkBodyError::Malformed), "{body}");
        }
    }
}
