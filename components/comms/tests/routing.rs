//! Routing proptest: random channel sets for comms (random message kinds, duplicates, none)
//! and random telecommands under random permissions. Every command either routes to exactly
//! the one channel comms holds for its message kind, is handled locally, or is refused with the
//! failure code the rules give. Also checks the table built from the shipped description.

use comms::failure::FailureCode;
use comms::pus::tc::{self, Ack, TcSpec};
use comms::router::{CATALOGUE, Route, RouteTable, SendChannel, Target};
use comms::sdls::Permissions;
use proptest::prelude::*;

const KINDS: [&str; 6] = [
    "sign-request",
    "upgrade-chunk",
    "pong",
    "telemetry",
    "log-record",
    "link-status",
];

fn command() -> impl Strategy<Value = (u8, u8, Vec<u8>)> {
    prop_oneof![
        // Catalogue entries, with random function IDs / arguments.
        (0..CATALOGUE.len(), prop::collection::vec(any::<u8>(), 0..8)).prop_map(|(i, tail)| {
            let d = CATALOGUE[i];
            let mut app = Vec::new();
            if let Some(f) = d.function {
                app.extend_from_slice(&f.to_be_bytes());
            }
            app.extend(tail);
            (d.service, d.subservice, app)
        }),
        (
            any::<u8>(),
            any::<u8>(),
            prop::collection::vec(any::<u8>(), 0..8)
        ),
        (
            Just(8u8),
            Just(1u8),
            prop::collection::vec(any::<u8>(), 0..4)
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_command_routes_to_exactly_one_held_channel_or_is_refused(
        chans in prop::collection::vec((0usize..64, 0usize..KINDS.len()), 0..8),
        (service, subservice, app) in command(),
        perms in any::<u16>(),
    ) {
        let sends: Vec<SendChannel<'_>> = chans
            .iter()
            .map(|&(index, k)| SendChannel { index, kind: KINDS[k] })
            .collect();
        let table = RouteTable::build(sends.iter().copied());
        let mut packet = vec![0u8; 64];
        let n = tc::build(
            &TcSpec { apid: 1, seq_count: 0, service, subservice, source_id: 0, ack: Ack::ALL, app_data: &app },
            &mut packet,
        ).unwrap();
        let parsed = tc::parse(&packet[..n], 1).unwrap();
        let perms = Permissions::from_bits(perms);
        let result = table.route(&parsed, perms);

        // What the rules say.
        let entries: Vec<_> = CATALOGUE.iter().filter(|d| d.service == service && d.subservice == subservice).collect();
        if entries.is_empty() {
            prop_assert_eq!(result.unwrap_err().code, FailureCode::UnknownService);
            return Ok(());
        }
        let def = if entries[0].function.is_some() {
            if app.len() < 2 {
                prop_assert_eq!(result.unwrap_err().code, FailureCode::BadAppData);
                return Ok(());
            }
            let f = u16::from_be_bytes([app[0], app[1]]);
            match entries.iter().find(|d| d.function == Some(f)) {
                Some(d) => **d,
                None => {
                    prop_assert_eq!(result.unwrap_err().code, FailureCode::UnknownFunction);
                    return Ok(());
                }
            }
        } else {
            *entries[0]
        };
        if !perms.contains(def.permission) {
            prop_assert_eq!(result.unwrap_err().code, FailureCode::Unauthorised);
            return Ok(());
        }
        match def.target {
            Target::Local(l) => prop_assert_eq!(result, Ok(Route::Local(l))),
            Target::Component { kind, forward } => {
                let held: Vec<_> = sends.iter().filter(|c| c.kind == kind).collect();
                match held.len() {
                    0 => prop_assert_eq!(result.unwrap_err().code, FailureCode::NoRoute),
                    1 => prop_assert_eq!(result, Ok(Route::Channel { channel: held[0].index, forward })),
                    _ => prop_assert_eq!(result.unwrap_err().code, FailureCode::AmbiguousRoute),
                }
            }
        }
    }
}

#[test]
fn the_shipped_description_routes_sign_and_upgrade_chunks_to_their_channels() {
    let board = kernel_config::shipped::board("sim").unwrap();
    let sys = kernel_config::load(&kernel_config::shipped::description(), &board).unwrap();
    let comms_id = sys.component("comms").unwrap().id;
    let sends: Vec<_> = sys
        .sends(comms_id)
        .map(|c| SendChannel {
            index: c.id,
            kind: c.message.name,
        })
        .collect();
    let t = RouteTable::build(sends.iter().copied());
    let sign = t.channel_for(comms::router::Forward::SignChunk).unwrap();
    let up = t.channel_for(comms::router::Forward::UpgradeChunk).unwrap();
    assert_eq!(sys.channels[sign].name, "sign-requests");
    assert_eq!(sys.channels[up].name, "upgrade-chunks");
    assert_eq!(sys.channels[sign].sender, comms_id);
}
