//! Application data of the commands that carry arguments: service 8,1 functions (forwarded to
//! components) and the mission security management service 130. Big-endian throughout.
//!
//! TC 8,1 application data: function ID (2), then the function's arguments:
//!
//! | function | ID | message kind forwarded | arguments |
//! | --- | --- | --- | --- |
//! | sign chunk | 0x0001 | `sign-request` | batch ID (8), chunk index (4), chunk count (4), offset (4), total length (4), data (rest, at most `CHUNK_MAX`) |
//! | upgrade chunk | 0x0002 | `upgrade-chunk` | bundle ID (8), chunk index (4), chunk count (4), offset (4), total length (4), data (rest, at most `CHUNK_MAX`) |
//! | leave safe mode | 0x0010 | `node-command` | none (refused with `NotInSafeMode` unless the watchdog's last report says safe mode) |
//! | reboot | 0x0011 | `node-command` | none (the watchdog marks a clean power-off and stops kicking; the board resets through the normal boot path) |
//!
//! TC 130,1 rotate key: SPI (2), new epoch (4). TC 130,2 raise anti-replay floor: SPI (2),
//! floor (8). TC 130,3 set ARSN (resynchronise the association that carries it, SDLS-EP's
//! "set ARSN"): SPI (2), ARSN (8), which must be the SPI and ARSN of the unit carrying it; the
//! same layout as 130,2, decoded by [`decode_floor`]. TC 130,4 verify key (CCSDS 355.1 key
//! verification): SPI (2), challenge (16); the node answers TM\[130,5\]: SPI (2), epoch (4),
//! challenge (16), MAC (16) ([`crate::sdls::SecurityEngine::verify_answer`]). TC 130,7 activate
//! key and TC 130,8 deactivate key (CCSDS 355.1 key states): SPI (2), decoded by
//! [`decode_key_spi`] ([`crate::sdls::SecurityEngine::set_key_state`]). TC 130,6 OTAR: MKID (2),
//! IV (12), wrapped keys, tag (16), laid out and checked in [`crate::sdls::otar`]
//! ([`crate::sdls::SecurityEngine::install_keys`]).
//!
//! Avoids: heap beyond the bounded protocol containers; panics on any input.

use protocol::{BoundedBytes, CHUNK_MAX, ChunkPosition, SignRequest, UpgradeChunk};

use crate::failure::{Failure, FailureCode};
use crate::sdls::engine::VERIFY_CHALLENGE_LEN;
use crate::sdls::mac::MAC_LEN;

/// Function: one chunk of a batch to co-sign.
pub const FN_SIGN_CHUNK: u16 = 0x0001;
/// Function: one chunk of an upgrade bundle.
pub const FN_UPGRADE_CHUNK: u16 = 0x0002;
/// Function: leave safe mode (the watchdog clears the reset counter and the board reboots).
pub const FN_LEAVE_SAFE_MODE: u16 = 0x0010;
/// Function: reboot the board (the watchdog marks a clean power-off and stops kicking).
pub const FN_REBOOT: u16 = 0x0011;
/// Length of the chunk header arguments (ID + position).
pub const CHUNK_ARGS_LEN: usize = 8 + 16;

fn bad(app: &[u8]) -> Failure {
    Failure::with(FailureCode::BadAppData, app.len() as u32)
}

/// Split 8,1 application data into function ID and arguments.
pub fn split(app: &[u8]) -> Result<(u16, &[u8]), Failure> {
    match app {
        [a, b, rest @ ..] => Ok((u16::from_be_bytes([*a, *b]), rest)),
        _ => Err(bad(app)),
    }
}

/// A chunk: ID, position and data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// Batch or bundle ID.
    pub id: u64,
    /// Position.
    pub position: ChunkPosition,
    /// Data.
    pub data: &'a [u8],
}

/// Decode chunk arguments (sign or upgrade).
pub fn decode_chunk(args: &[u8]) -> Result<Chunk<'_>, Failure> {
    if args.len() < CHUNK_ARGS_LEN || args.len() > CHUNK_ARGS_LEN + CHUNK_MAX {
        return Err(bad(args));
    }
    let (head, data) = args.split_at(CHUNK_ARGS_LEN);
    let be4 = |i: usize| u32::from_be_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    let mut id = [0u8; 8];
    id.copy_from_slice(&head[..8]);
    let position = ChunkPosition {
        index: be4(8),
        count: be4(12),
        offset: be4(16),
        total_len: be4(20),
    };
    if position.count == 0 || position.index >= position.count {
        return Err(bad(args));
    }
    Ok(Chunk {
        id: u64::from_be_bytes(id),
        position,
        data,
    })
}

/// Encode chunk arguments into `out`, returning the length.
pub fn encode_chunk(c: &Chunk<'_>, out: &mut [u8]) -> Option<usize> {
    let n = CHUNK_ARGS_LEN + c.data.len();
    let o = out.get_mut(..n)?;
    o[..8].copy_from_slice(&c.id.to_be_bytes());
    o[8..12].copy_from_slice(&c.position.index.to_be_bytes());
    o[12..16].copy_from_slice(&c.position.count.to_be_bytes());
    o[16..20].copy_from_slice(&c.position.offset.to_be_bytes());
    o[20..24].copy_from_slice(&c.position.total_len.to_be_bytes());
    o[24..].copy_from_slice(c.data);
    Some(n)
}

/// The `sign-request` for a sign chunk, with comms' routing token.
pub fn sign_request(c: &Chunk<'_>, request_id: u32) -> Result<SignRequest, Failure> {
    Ok(SignRequest {
        batch_id: c.id,
        request_id,
        position: c.position,
        data: BoundedBytes::new(c.data).map_err(|_| bad(c.data))?,
    })
}

/// The `upgrade-chunk` for an upgrade chunk.
pub fn upgrade_chunk(c: &Chunk<'_>) -> Result<UpgradeChunk, Failure> {
    Ok(UpgradeChunk {
        bundle_id: c.id,
        position: c.position,
        data: BoundedBytes::new(c.data).map_err(|_| bad(c.data))?,
    })
}

/// 130,1 arguments: SPI and new epoch.
pub fn decode_rotate(app: &[u8]) -> Result<(u16, u32), Failure> {
    match app {
        [s0, s1, e0, e1, e2, e3] => Ok((
            u16::from_be_bytes([*s0, *s1]),
            u32::from_be_bytes([*e0, *e1, *e2, *e3]),
        )),
        _ => Err(bad(app)),
    }
}

/// 130,7 and 130,8 arguments: the SPI whose key to activate or deactivate.
pub fn decode_key_spi(app: &[u8]) -> Result<u16, Failure> {
    match app {
        [s0, s1] => Ok(u16::from_be_bytes([*s0, *s1])),
        _ => Err(bad(app)),
    }
}

/// 130,2 arguments: SPI and floor (130,3: SPI and ARSN).
pub fn decode_floor(app: &[u8]) -> Result<(u16, u64), Failure> {
    if app.len() != 10 {
        return Err(bad(app));
    }
    let mut f = [0u8; 8];
    f.copy_from_slice(&app[2..10]);
    Ok((u16::from_be_bytes([app[0], app[1]]), u64::from_be_bytes(f)))
}

/// 130,4 arguments: SPI and challenge.
pub fn decode_verify(app: &[u8]) -> Result<(u16, [u8; VERIFY_CHALLENGE_LEN]), Failure> {
    match app {
        [s0, s1, rest @ ..] => rest
            .try_into()
            .map(|c| (u16::from_be_bytes([*s0, *s1]), c))
            .map_err(|_| bad(app)),
        _ => Err(bad(app)),
    }
}

/// TM\[130,5\] source data: SPI, epoch, challenge, MAC.
pub fn encode_verify_report(
    spi: u16,
    epoch: u32,
    challenge: &[u8; VERIFY_CHALLENGE_LEN],
    tag: &[u8; MAC_LEN],
) -> [u8; VERIFY_REPORT_LEN] {
    let mut out = [0u8; VERIFY_REPORT_LEN];
    out[..2].copy_from_slice(&spi.to_be_bytes());
    out[2..6].copy_from_slice(&epoch.to_be_bytes());
    out[6..22].copy_from_slice(challenge);
    out[22..].copy_from_slice(tag);
    out
}

/// Bytes of a TM\[130,5\] key verification report.
pub const VERIFY_REPORT_LEN: usize = 2 + 4 + VERIFY_CHALLENGE_LEN + MAC_LEN;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_round_trip_and_refusals() {
        let c = Chunk {
            id: 42,
            position: ChunkPosition {
                index: 1,
                count: 3,
                offset: 10,
                total_len: 30,
            },
            data: b"0123456789",
        };
        let mut buf = [0u8; 64];
        let n = encode_chunk(&c, &mut buf).unwrap();
        assert_eq!(decode_chunk(&buf[..n]), Ok(c));
        assert!(decode_chunk(&buf[..CHUNK_ARGS_LEN - 1]).is_err());
        buf[12..16].copy_from_slice(&1u32.to_be_bytes()); // count 1, index 1
        assert!(decode_chunk(&buf[..n]).is_err());
        assert_eq!(sign_request(&c, 9).unwrap().request_id, 9);
        assert_eq!(upgrade_chunk(&c).unwrap().bundle_id, 42);
        assert_eq!(decode_rotate(&[0, 1, 0, 0, 0, 2]), Ok((1, 2)));
        let mut v = [7u8; 18];
        v[..2].copy_from_slice(&[0, 3]);
        assert_eq!(decode_verify(&v), Ok((3, [7; 16])));
        assert!(decode_verify(&v[..17]).is_err());
        assert!(decode_verify(&[v.as_slice(), &[0]].concat()).is_err());
        assert!(decode_rotate(&[0, 1, 0]).is_err());
        assert_eq!(decode_floor(&[0, 1, 0, 0, 0, 0, 0, 0, 1, 0]), Ok((1, 256)));
        assert!(split(&[1]).is_err());
    }
}
