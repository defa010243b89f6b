//! Whole-system test of `spacenode ground sign`: real `spacenode run` processes on the sim board,
//! the radio through the link emulator at 10 % seeded loss each way, real UDP, and the signer
//! provisioned through its inbox (as `spacenode provision` does) with a ground server and a
//! 2-of-3 wallet built from the node's own exported key (the signer's test fixture).
//!
//! 1. A batch of 3 PSBTs is co-signed end to end; each output carries a valid signature by the
//!    node's key (checked with rust-bitcoin and libsecp256k1); the same certificate sequence
//!    sent again is refused with the signer's replay reason, what happened and how to recover;
//!    `--next-sequence` recovers a lost ground state, and is refused backwards or past the
//!    node's step bound, which the node enforces itself too.
//! 2. With no node, the tool says the node is unreachable (after its ping attempts).
//! 3. The node is killed mid-upload and started again on the same state: the upload resumes
//!    from the receiver's journal (fewer bytes re-sent than the file) and the batch is signed.
//! 4. Mission time (issue 14 point 1) in the real partitions: a node never correlated refuses a
//!    certificate that expires; `ground time` correlates it; a replayed or backwards
//!    correlation is refused; expiry is checked on mission time, which resumes from flash after
//!    the node is stopped and started again.
//! 5. The node is killed after the upload, before its answer (issue 13 finding 4): restarted,
//!    it refuses the unanswered batch as abandoned instead of signing it on its own; a ground
//!    still waiting sends it again and gets it co-signed; with the ground gone, two more boots
//!    never feed it to the signer.
//! 6. In safe mode (the signer off) a batch is refused at once, in words, with exit 1 (a
//!    refusal), not a timeout.
//!
//! Every wait is bounded; nothing asserts how fast anything happens.

#[path = "../../components/signer/tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

mod ccsds;
#[path = "../common/mod.rs"]
mod common;
mod failover;
mod large;
mod mission_time;
mod profile;
mod replay;
mod resets;
mod setup;

use setup::*;

use board_sim::flash::SimFlash;
use board_sim::monitor::devices::FLASH_IMAGE_SIZE;
use common::{BOUND, Board, free_addr, max_resets, number_after, one_board, text, write_secret};
use signer::descriptor::ScriptType;
use signer::keys::SealKey;
use signer::node::Signer;
use signer::wallet::Network;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const SERVER: u32 = 7;
/// The documented pattern: allow within limits, deny the rest.
const RULES: &str = "rule allow max-amount=5000000 max-fee=50000\nrule deny";
