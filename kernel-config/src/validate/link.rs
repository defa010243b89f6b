//! The `[link]` section: what the radio speaks, and the CCSDS space link's managed parameters
//! when it speaks that (`runtime::RadioLink`).
//!
//! Avoids: checks of the link layers' own (the frame layout is checked again where it is
//! built); only ranges the description can get wrong.

use super::checker::Checker;
use crate::raw::{RawLink, RawRadio, S};
use runtime::{CcsdsLink, RadioLink};

/// Shortest TM frame allowed: header, the GCM security header and MAC, a packet header and a
/// byte, the CLCW and the FECF (49 bytes), rounded up.
pub const MIN_TM_FRAME: i64 = 64;
/// Longest TM frame: with the 4-byte attached sync marker it fills a 2,048-byte radio datagram.
pub const MAX_TM_FRAME: i64 = 2044;
/// TM frame length when the description gives none (a common ground-station setting).
pub const DEFAULT_TM_FRAME: i64 = 1115;

/// The radio's protocol from `[link]` (units when the section is absent).
pub(super) fn link(c: &mut Checker, raw: Option<&RawLink>) -> RadioLink {
    let Some(l) = raw else {
        return RadioLink::Units;
    };
    if let Some(suite) = &l.suite {
        c.err(
            suite.span(),
            "link: the SDLS suite is not chosen for the whole link here any more",
            "remove it: each security association has its own suite in the provisioning file (version 3; `spacenode provision-link --generate` writes one)",
        );
    }
    if *l.radio.get_ref() == RawRadio::Units {
        let extra = [
            &l.spacecraft_id,
            &l.tc_virtual_channel,
            &l.tm_virtual_channel,
            &l.tm_frame_length,
        ];
        let stray = extra.iter().find_map(|v| v.as_ref().map(S::span));
        if let Some(span) = stray {
            c.err(
                span,
                "link: this key applies to radio = \"ccsds\" only",
                "remove it, or set radio = \"ccsds\"",
            );
        }
        return RadioLink::Units;
    }
    let Some(scid) = &l.spacecraft_id else {
        c.err(
            l.radio.span(),
            "link: radio = \"ccsds\" needs the spacecraft id",
            "add `spacecraft-id = N` (0 to 1023, as the ground station's frames carry it)",
        );
        return RadioLink::Units;
    };
    let num = |c: &mut Checker, v: &Option<S<i64>>, what: &str, hi: i64, default: i64| match v {
        Some(v) => c.within(v, what, 0, hi, "").map(|x| x as i64),
        None => Some(default),
    };
    let scid = c.within(scid, "link spacecraft-id", 0, 0x3FF, "");
    let tc = num(c, &l.tc_virtual_channel, "link tc-virtual-channel", 63, 0);
    let tm = num(c, &l.tm_virtual_channel, "link tm-virtual-channel", 7, 0);
    let frame = match &l.tm_frame_length {
        Some(v) => c
            .within(v, "link tm-frame-length", MIN_TM_FRAME, MAX_TM_FRAME, "")
            .map(|x| x as i64),
        None => Some(DEFAULT_TM_FRAME),
    };
    match (scid, tc, tm, frame) {
        (Some(scid), Some(tc), Some(tm), Some(frame)) => RadioLink::Ccsds(CcsdsLink {
            spacecraft_id: scid as u16,
            tc_virtual_channel: tc as u8,
            tm_virtual_channel: tm as u8,
            tm_frame_length: frame as u16,
        }),
        _ => RadioLink::Units,
    }
}
