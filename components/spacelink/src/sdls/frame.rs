//! ApplySecurity and ProcessSecurity (CCSDS 355.0 §4.2.2, §4.2.3) on TC (232.0) and TM (132.0)
//! transfer frames.
//!
//! Sending ([`apply_tc`], [`apply_tm`]): the frame is built with room for the security header
//! and trailer, the association's next sequence number goes into the header (as the ARSN, or
//! as the IV's counter for GCM), the data field is sealed under the association's suite with
//! the masked primary header (plus a TC segment header) and the security header as
//! authenticated data, the MAC is written after the data field, and the FECF is computed last,
//! over the secured frame.
//!
//! Receiving ([`process_tc`], [`process_tm`]), in this order, each step refusing with its own
//! [`SdlsError`]: the frame's own checks (length, version, CRC); the SPI must name an
//! association; the association must be for the frame's spacecraft and virtual channel; a GCM
//! IV must carry the association's fixed field; the MAC must verify (GCM decrypts only then);
//! only then is the sequence number judged against the window, and only an accepted frame
//! moves it. A forged frame costs one MAC computation and changes nothing.
//!
//! Avoids: heap (frames are built in a stack buffer of the largest frame), panics on received
//! bytes, handing up any byte of a refused frame.

use super::sa::SecurityAssociation;
use super::suite::{IV_LEN, MAC_LEN, Suite};
use super::window::Refusal;
use super::{ARSN_LEN, SPI_LEN, SdlsError, header_len};
use crate::fecf;
use crate::tc::{self, SegmentHeader, TcFrame, TcHeader, TcLayout};
use crate::tm::{self, TmFrame, TmFramer, TmLayout};

/// Largest authenticated prefix: a TM primary header (6) or a TC one with a segment header
/// (5 + 1), then the longest security header (SPI + IV).
const MAX_AAD: usize = 6 + SPI_LEN + IV_LEN;

/// What the security layer learned from an accepted frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Secured<F> {
    /// The frame with its data field decrypted (GCM) and without security header and trailer.
    pub frame: F,
    /// The SPI it came under.
    pub spi: u16,
    /// Its sequence number (the ARSN, or the GCM IV's counter).
    pub seq: u64,
}

/// Writes the security header for `seq` into `out`.
fn write_header(sa: &SecurityAssociation, seq: u64, out: &mut [u8]) {
    let config = sa.config();
    out[..SPI_LEN].copy_from_slice(&config.spi.to_be_bytes());
    match config.suite {
        Suite::Aes256Gcm => out[SPI_LEN..SPI_LEN + IV_LEN].copy_from_slice(&sa.iv(seq)),
        Suite::HmacSha256 => out[SPI_LEN..SPI_LEN + ARSN_LEN].copy_from_slice(&seq.to_be_bytes()),
    }
}

/// The authenticated prefix: `primary` under `mask`, then `rest` (segment and security
/// headers) as they are. Returns the buffer and its length.
fn aad(primary: &[u8], mask: &[u8], rest: &[u8]) -> ([u8; MAX_AAD], usize) {
    let mut out = [0u8; MAX_AAD];
    for ((o, p), m) in out.iter_mut().zip(primary).zip(mask) {
        *o = p & m;
    }
    let len = primary.len() + rest.len();
    out[primary.len()..len].copy_from_slice(rest);
    (out, len)
}

/// Seals the body of a built frame in place. `frame[..prefix]` is the primary header plus any
/// segment header (`primary_len` of it under `mask`); the security header follows, then `data_len`
/// bytes of data and the MAC.
fn seal(
    sa: &SecurityAssociation,
    seq: u64,
    frame: &mut [u8],
    primary_len: usize,
    mask: &[u8],
    prefix: usize,
    data_len: usize,
) {
    let config = sa.config();
    let hdr = header_len(config.suite);
    let (head, body) = frame.split_at_mut(prefix + hdr);
    let (aad, aad_len) = aad(&head[..primary_len], mask, &head[primary_len..]);
    let (data, tail) = body.split_at_mut(data_len);
    let mac = config
        .suite
        .seal(&config.key, &sa.iv(seq), &aad[..aad_len], data);
    tail[..MAC_LEN].copy_from_slice(&mac);
}

/// Rewrites the FECF (last two bytes) over the secured frame.
fn refresh_fecf(frame: &mut [u8]) {
    let at = frame.len() - 2;
    let crc = fecf::compute(&frame[..at]);
    frame[at..].copy_from_slice(&crc.to_be_bytes());
}

/// ApplySecurity on a TC frame: builds the frame of `header` with `data` secured under `sa`
/// into `out` and returns its length. `sa` must be for the header's spacecraft and channel.
pub fn apply_tc(
    sa: &mut SecurityAssociation,
    header: &TcHeader,
    layout: TcLayout,
    segment: Option<SegmentHeader>,
    data: &[u8],
    out: &mut [u8],
) -> Result<usize, SdlsError> {
    // A clone, wiped when it drops: the key goes no further unwiped.
    let config = sa.config().clone();
    if config.scid != header.scid || config.vcid != header.vcid {
        return Err(SdlsError::Build(
            "the association is for another spacecraft or virtual channel",
        ));
    }
    let hdr = header_len(config.suite);
    let body_len = hdr + data.len() + MAC_LEN;
    let mut body = [0u8; tc::MAX_FRAME_LEN];
    let Some(body) = body.get_mut(..body_len) else {
        return Err(SdlsError::Tc(tc::TcError::Build(
            "frame longer than 1024 bytes",
        )));
    };
    body[hdr..hdr + data.len()].copy_from_slice(data);
    let len = tc::build(header, layout, segment, body, out).map_err(SdlsError::Tc)?;
    let seq = sa.take_seq()?;
    let prefix = len - body_len - if layout.fecf { 2 } else { 0 };
    let frame = &mut out[..len];
    write_header(sa, seq, &mut frame[prefix..]);
    seal(
        sa,
        seq,
        frame,
        tc::HEADER_LEN,
        &config.tc_mask,
        prefix,
        data.len(),
    );
    if layout.fecf {
        refresh_fecf(frame);
    }
    Ok(len)
}

/// ApplySecurity on a TM frame: writes the next frame of `vcid` through `framer` with `data`
/// secured under `sa` into `out` (exactly one frame long). `data` must be exactly
/// `framer.data_len() - overhead(suite)` bytes.
pub fn apply_tm(
    sa: &mut SecurityAssociation,
    framer: &mut TmFramer,
    vcid: u8,
    data: &[u8],
    fhp: u16,
    ocf: Option<[u8; 4]>,
    out: &mut [u8],
) -> Result<(), SdlsError> {
    // A clone, wiped when it drops: the key goes no further unwiped.
    let config = sa.config().clone();
    let layout = *framer.layout();
    if config.scid != layout.scid || config.vcid != vcid {
        return Err(SdlsError::Build(
            "the association is for another spacecraft or virtual channel",
        ));
    }
    let hdr = header_len(config.suite);
    let field = framer.data_len();
    if hdr + data.len() + MAC_LEN != field {
        return Err(SdlsError::Build(
            "data is not exactly the secured data field (the frame's data field less the security header and MAC)",
        ));
    }
    let mut body = [0u8; tm::MAX_FRAME_LEN];
    let body = &mut body[..field];
    body[hdr..hdr + data.len()].copy_from_slice(data);
    if sa.next_seq().is_none() {
        return Err(SdlsError::SequenceExhausted(config.spi));
    }
    framer
        .build(vcid, body, fhp, ocf, out)
        .map_err(SdlsError::Tm)?;
    let seq = sa.take_seq()?;
    write_header(sa, seq, &mut out[tm::HEADER_LEN..]);
    seal(
        sa,
        seq,
        out,
        tm::HEADER_LEN,
        &config.tm_mask,
        tm::HEADER_LEN,
        data.len(),
    );
    if layout.fecf {
        refresh_fecf(out);
    }
    Ok(())
}

/// Where the parts of a received secured body are, once verified.
struct Opened {
    spi: u16,
    seq: u64,
    data_len: usize,
}

/// Where a received frame's parts are: `frame[..prefix]` is the primary header
/// (`primary_len` bytes) and any segment header, `frame[prefix..prefix + body_len]` the security
/// header, data and MAC.
#[derive(Clone, Copy)]
struct Layout {
    tm_frame: bool,
    primary_len: usize,
    prefix: usize,
    body_len: usize,
    scid: u16,
    vcid: u8,
}

/// ProcessSecurity on the body of a frame laid out as `at` says. Decrypts in place on success.
fn open(
    sas: &mut [SecurityAssociation],
    frame: &mut [u8],
    at: &Layout,
) -> Result<Opened, SdlsError> {
    let Layout {
        tm_frame,
        primary_len,
        prefix,
        body_len,
        scid,
        vcid,
    } = *at;
    let body = &frame[prefix..prefix + body_len];
    let Some(spi) = body.get(..SPI_LEN) else {
        return Err(SdlsError::TooShort {
            have: body_len,
            need: SPI_LEN + MAC_LEN,
        });
    };
    let spi = u16::from_be_bytes([spi[0], spi[1]]);
    let Some(sa) = sas.iter_mut().find(|sa| sa.config().spi == spi) else {
        return Err(SdlsError::UnknownSpi(spi));
    };
    // A clone, wiped when it drops: the key goes no further unwiped.
    let config = sa.config().clone();
    if config.scid != scid || config.vcid != vcid {
        return Err(SdlsError::WrongChannel { spi, scid, vcid });
    }
    let hdr = header_len(config.suite);
    let Some(data_len) = body_len.checked_sub(hdr + MAC_LEN) else {
        return Err(SdlsError::TooShort {
            have: body_len,
            need: hdr + MAC_LEN,
        });
    };
    let field = &body[SPI_LEN..hdr];
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&field[field.len() - 8..]);
    let seq = u64::from_be_bytes(seq);
    if config.suite == Suite::Aes256Gcm && field[..4] != config.iv_fixed {
        return Err(SdlsError::IvField(spi));
    }
    let mut mac = [0u8; MAC_LEN];
    mac.copy_from_slice(&body[hdr + data_len..]);
    let mask: &[u8] = if tm_frame {
        &config.tm_mask
    } else {
        &config.tc_mask
    };
    let (head, rest) = frame.split_at_mut(prefix + hdr);
    let (aad, aad_len) = aad(&head[..primary_len], mask, &head[primary_len..]);
    let data = &mut rest[..data_len];
    config
        .suite
        .open(&config.key, &sa.iv(seq), &aad[..aad_len], data, &mac)
        .map_err(|_| SdlsError::BadMac(spi))?;
    let window = sa.window_mut();
    match window.judge(seq) {
        Ok(()) => window.accept(seq),
        Err(Refusal::Replay) => {
            return Err(SdlsError::Replay {
                spi,
                seq,
                last: window.last(),
            });
        }
        Err(Refusal::OutsideWindow) => {
            return Err(SdlsError::OutsideWindow {
                spi,
                seq,
                last: window.last(),
                width: window.width(),
            });
        }
    }
    Ok(Opened { spi, seq, data_len })
}

/// ProcessSecurity on the TC frame at the front of `bytes` (a CLTU's decoded data may hold
/// more): checks it, verifies and decrypts it in place under the association its SPI names,
/// and returns the plain frame and the length of the secured frame (the next frame, or the
/// CLTU's fill, starts there).
pub fn process_tc<'a>(
    sas: &mut [SecurityAssociation],
    bytes: &'a mut [u8],
    layout: TcLayout,
) -> Result<(Secured<TcFrame<'a>>, usize), SdlsError> {
    let (frame, rest) = tc::parse(bytes, layout).map_err(SdlsError::Tc)?;
    let len = bytes.len() - rest.len();
    let (header, segment, body_len) = (frame.header, frame.segment, frame.data.len());
    let prefix = tc::HEADER_LEN + usize::from(segment.is_some());
    let at = Layout {
        tm_frame: false,
        primary_len: tc::HEADER_LEN,
        prefix,
        body_len,
        scid: header.scid,
        vcid: header.vcid,
    };
    let opened = open(sas, &mut bytes[..len], &at)?;
    let start = prefix + header_len_of(body_len, opened.data_len);
    let frame = TcFrame {
        header,
        segment,
        data: &bytes[start..start + opened.data_len],
    };
    Ok((
        Secured {
            frame,
            spi: opened.spi,
            seq: opened.seq,
        },
        len,
    ))
}

/// ProcessSecurity on one received TM frame of `layout`: checks it, verifies and decrypts it
/// in place, and returns it with its data field cut to the plain data (the first header
/// pointer counts from the first byte after the security header).
pub fn process_tm<'a>(
    sas: &mut [SecurityAssociation],
    bytes: &'a mut [u8],
    layout: &TmLayout,
) -> Result<Secured<TmFrame<'a>>, SdlsError> {
    let parsed = tm::parse(bytes, layout).map_err(SdlsError::Tm)?;
    let (vcid, mc_count, vc_count, fhp, ocf, field) = (
        parsed.vcid,
        parsed.mc_count,
        parsed.vc_count,
        parsed.fhp,
        parsed.ocf,
        parsed.data.len(),
    );
    let at = Layout {
        tm_frame: true,
        primary_len: tm::HEADER_LEN,
        prefix: tm::HEADER_LEN,
        body_len: field,
        scid: layout.scid,
        vcid,
    };
    let opened = open(sas, bytes, &at)?;
    if usize::from(fhp) >= opened.data_len && fhp != tm::FHP_NO_PACKET_START && fhp != tm::FHP_IDLE
    {
        return Err(SdlsError::Tm(tm::TmError::Pointer(fhp)));
    }
    let start = tm::HEADER_LEN + header_len_of(field, opened.data_len);
    Ok(Secured {
        frame: TmFrame {
            vcid,
            mc_count,
            vc_count,
            fhp,
            data: &bytes[start..start + opened.data_len],
            ocf,
        },
        spi: opened.spi,
        seq: opened.seq,
    })
}

/// The security header length of a body of `body_len` whose data is `data_len`.
const fn header_len_of(body_len: usize, data_len: usize) -> usize {
    body_len - data_len - MAC_LEN
}
