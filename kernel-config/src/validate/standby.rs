//! `[standby-link]`: the standby serial line's PPP settings, each checked with its span and a
//! fix. A missing table or key takes the default of `StandbyLink::default()`.
//!
//! - `node-address`, `ground-address`: dotted IPv4 unicast addresses (not 0.0.0.0, the
//!   broadcast address, multicast or loopback), different from each other;
//! - `echo-interval-ms` 100..=600000 and `echo-failure` 1..=255: an Echo-Request after this long
//!   without a frame, the link down after this many unanswered;
//! - `restart-ms` 100..=60000, `max-configure`, `max-terminate`, `max-failure` 1..=255: RFC
//!   1661's Restart timer and counters. The PPP engine doubles the Restart timer on each
//!   unanswered Configure-Request up to 8 times its value.
//!
//! Avoids: settings the engine cannot run (every range here is one `ppp::Config` accepts).

use super::checker::Checker;
use crate::model::StandbyLink;
use crate::raw::{RawStandbyLink, S};
use std::net::Ipv4Addr;

/// The validated settings of `raw` (the defaults where it says nothing).
pub(super) fn standby(c: &mut Checker, raw: Option<&S<RawStandbyLink>>) -> StandbyLink {
    let mut out = StandbyLink::default();
    let Some(raw) = raw else { return out };
    let r = raw.get_ref();
    let mut num = |v: &Option<S<i64>>, what: &str, lo: i64, hi: i64, unit: &str| {
        v.as_ref().and_then(|v| c.within(v, what, lo, hi, unit))
    };
    let d = out;
    let ms = " ms";
    out.echo_interval_ms = num(
        &r.echo_interval_ms,
        "standby-link echo-interval-ms",
        100,
        600_000,
        ms,
    )
    .map_or(d.echo_interval_ms, |v| v as u32);
    out.restart_ms = num(&r.restart_ms, "standby-link restart-ms", 100, 60_000, ms)
        .map_or(d.restart_ms, |v| v as u32);
    let mut count = |v: &Option<S<i64>>, what: &str, default: u8| {
        num(v, what, 1, 255, "").map_or(default, |v| v as u8)
    };
    out.echo_failure = count(&r.echo_failure, "standby-link echo-failure", d.echo_failure);
    out.max_configure = count(
        &r.max_configure,
        "standby-link max-configure",
        d.max_configure,
    );
    out.max_terminate = count(
        &r.max_terminate,
        "standby-link max-terminate",
        d.max_terminate,
    );
    out.max_failure = count(&r.max_failure, "standby-link max-failure", d.max_failure);
    if let Some(a) = address(c, &r.node_address, "node-address") {
        out.node_ip = a;
    }
    if let Some(a) = address(c, &r.ground_address, "ground-address") {
        out.ground_ip = a;
    }
    if out.node_ip == out.ground_ip {
        c.err(
            raw.span(),
            format!(
                "standby-link: the node and the ground both have address {}",
                Ipv4Addr::from(out.node_ip)
            ),
            "give the node and the ground two different addresses, e.g. 10.16.0.1 and 10.16.0.2",
        );
    }
    out
}

fn address(c: &mut Checker, v: &Option<S<String>>, key: &str) -> Option<[u8; 4]> {
    let v = v.as_ref()?;
    let text = v.get_ref();
    match text.parse::<Ipv4Addr>() {
        Ok(a) if a.is_unspecified() || a.is_broadcast() || a.is_multicast() || a.is_loopback() => {
            c.err(
                v.span(),
                format!(
                    "standby-link {key} {a} is not a unicast address for a point-to-point link"
                ),
                "use a private unicast address such as 10.16.0.1",
            );
            None
        }
        Ok(a) => Some(a.octets()),
        Err(_) => {
            c.err(
                v.span(),
                format!("standby-link {key} {text:?} is not an IPv4 address"),
                "write it dotted, e.g. \"10.16.0.1\"",
            );
            None
        }
    }
}
