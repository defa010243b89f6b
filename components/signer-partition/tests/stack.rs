//! The signer partition's heaviest path fits the stack the shipped description declares for
//! `signer` (`kernel-config/spacenode.toml`, `stack-size`): first boot with key creation,
//! provisioning from the inbox, one M-of-N admin command, and one batch of 8 PSBTs checked,
//! committed, signed and streamed, with pings answered in between, all on a thread whose stack
//! is exactly that size. The component and its runner live on that stack too, as they do on
//! the event loop's. Run in the unoptimised test build, the worst case (the signer crates are
//! workspace members, built at opt-level 0). An overflow hits the thread's guard page and
//! aborts the test process ("has overflowed its stack"), which fails the test.
//!
//! To measure what the path needs, run it on another stack size (bytes, `0x` for hex) and
//! bisect: `SIGNER_STACK_PROBE=0x20000 cargo test -p signer-partition --test stack`.
//! One component per process: its statics are taken once.

#[path = "../../signer/tests/support/mod.rs"]
mod support;
#[allow(dead_code)]
#[path = "partition/world.rs"]
mod world;

#[allow(dead_code)]
mod inproc;

use board_sim::flash::SimFlash;
use inproc::{Got, Harness, SIGN_REQUESTS};
use protocol::{AdminOp, BoundedBytes, Ping};
use signer::descriptor::ScriptType;
use signer::wallet::Network;
use support::*;

/// The `stack-size` of `signer` in the shipped description, on the sim board.
fn declared_stack() -> usize {
    let board = kernel_config::shipped::board("sim").expect("shipped sim board");
    let system = kernel_config::load(&kernel_config::shipped::description(), &board)
        .unwrap_or_else(|d| panic!("{d}"));
    let signer = system
        .components
        .iter()
        .find(|c| c.name == "signer")
        .expect("a signer component");
    usize::try_from(signer.stack_size).expect("fits usize")
}

fn probe() -> Option<usize> {
    let v = std::env::var("SIGNER_STACK_PROBE").ok()?;
    let v = v.trim();
    let n = match v.strip_prefix("0x") {
        Some(hex) => board_sim::partition::sandbox::hex_u64(&hex.replace('_', ""))
            .and_then(|n| usize::try_from(n).ok()),
        None => v.replace('_', "").parse().ok(),
    };
    Some(n.expect("SIGNER_STACK_PROBE: a byte count"))
}

/// What the node is handed: its flash with the provisioning inbox, an admin command, a batch.
/// The admin command is boxed: the test's own data stays off the measured stack.
struct Inputs {
    flash: SimFlash,
    admin: Box<AdminOp>,
    batch_id: u64,
    batch: Vec<u8>,
    psbts: usize,
}

/// The ground's side, prepared on a big stack (it boots a signer of its own, by value).
fn prepare() -> Inputs {
    big_stack(|| {
        let admins = [p256_key(1), p256_key(2), p256_key(3)];
        let flash =
            SimFlash::anonymous(board_sim::monitor::devices::FLASH_IMAGE_SIZE).expect("memfd");
        let s = world::boot_on(flash);
        let w = world::build(&s);
        let identity = s.identity_public_key();
        let g2 = Ground::new(&s, 8, Network::Regtest, ScriptType::Wsh, 4, 90);
        let mut flash = s.into_flash();
        let text = provisioning(&admins, 2, &[(&w.ground, world::RULES)]);
        signer_partition::inbox::write(&mut flash, &text).expect("inbox");
        let body = format!("{}\nrule allow max-amount=1000\n", g2.server_line());
        let mut env = vec![0u8; signer::admin::MAX_ENVELOPE];
        let signers = [(0u8, &admins[0]), (2u8, &admins[2])];
        let n = signer::admin::build(&mut env, &identity, 1, &body, &signers).expect("build");
        env.truncate(n);
        let (batch_id, batch, psbts) = w.batches[0].clone();
        Inputs {
            flash,
            admin: Box::new(AdminOp::Command {
                envelope: BoundedBytes::new(&env).expect("fits"),
            }),
            batch_id,
            batch,
            psbts,
        }
    })
}

/// Everything the partition does on its own stack; returns the signed stream's length.
fn run_node(inputs: Inputs) -> usize {
    let Inputs {
        flash,
        admin,
        batch_id,
        batch,
        psbts,
    } = inputs;
    let mut h = Harness::start(flash);
    assert!(h.runner.component().signer().is_provisioned());
    assert_eq!(h.ask(1, *admin), Got::Applied(1));
    assert!(h.runner.component().signer().registry().server(8).is_some());
    h.send_batch(batch_id, &batch);
    let (mut stream, mut done, mut seq) = (0usize, false, 0u32);
    while !done {
        seq += 1;
        assert!(seq < 10_000, "batch does not finish");
        h.pings
            .try_send(&Ping {
                nonce: 1,
                sequence: seq,
            })
            .expect("ping room");
        if seq == 1 {
            h.step_with(&[SIGN_REQUESTS]);
        } else {
            h.step();
        }
        assert_eq!(h.pongs.try_recv(|p| p.sequence.to_native()), Ok(seq));
        while let Ok((last, len, signed)) = h.responses.try_recv(|m| {
            (
                m.position.count.to_native() != 0,
                m.data.as_slice().len(),
                matches!(m.status, protocol::signing::ArchivedSignStatus::Signed),
            )
        }) {
            if signed {
                stream += len;
                done |= last;
            }
        }
    }
    assert!(
        seq as usize >= 2 * psbts + 3,
        "{seq} steps for {psbts} PSBTs"
    );
    stream
}

#[test]
fn the_declared_stack_is_within_the_flight_budget() {
    let declared = declared_stack();
    assert!(
        declared <= 256 * 1024,
        "the signer's stack-size is {declared:#x}: the flight budget is 256 KiB at most"
    );
}

#[test]
fn first_boot_provisioning_admin_and_a_batch_fit_the_declared_stack() {
    let size = probe().unwrap_or_else(declared_stack);
    let inputs = prepare();
    let stream = std::thread::Builder::new()
        .name("signer-stack".into())
        .stack_size(size)
        .spawn(move || run_node(inputs))
        .expect("spawn")
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
    assert!(
        stream > signer::batch::RECEIPT_LEN,
        "signed PSBTs and the receipt"
    );
}
