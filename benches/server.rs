//! Time to assemble a 1,000-PSBT batch in `spacenode server`: the batcher's whole step
//! (`Store::take_batch`: read the 1,000 oldest queued requests from SQLite, build the batch file
//! with its certificate signed by the server's P-256 key, record the file and move the
//! requests to `uplinked`, in one transaction), against the baseline measured in the same run:
//! building the same batch file from the same PSBTs already in memory
//! (`batch::build_batch`, what `spacenode ground batch` does).
//!
//! The PSBTs are the signer's test fixture's 2-of-3 spends (full key origins, previous
//! transactions), as a wallet user submits them.
//!
//!     cargo bench --bench server -- --warm-up-time 1 --measurement-time 3
//!
//! The API's submission rate (requests per second accepted and stored) is measured by
//! `scripts/bench-server` with `wrk`. Not run by CI.

#[path = "../components/signer/tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

#[path = "../src/escape.rs"]
#[allow(dead_code, unused_imports)]
mod escape;

#[path = "../src/ground/batch.rs"]
#[allow(dead_code, unused_imports)]
mod batch;
#[path = "../src/ground/explain.rs"]
#[allow(dead_code, unused_imports)]
mod explain;

#[path = "../src/server/store/mod.rs"]
#[allow(dead_code, unused_imports)]
mod store;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use signer::descriptor::ScriptType;
use signer::keys::SealKey;
use signer::node::Signer;
use signer::wallet::Network;
use store::{Database, Status, Store};

const N: usize = 1000;

fn psbts() -> (p256::SecretKey, Vec<Vec<u8>>) {
    support::big_stack(|| {
        let flash = support::new_flash().0;
        let s = Signer::boot(
            flash,
            signer::persist::SignerLayout::contiguous(0),
            &SealKey::new([7; 32]),
            &mut support::TestRng(0x5eed_0002),
        )
        .expect("signer")
        .0;
        let g = support::Ground::new(&s, 7, Network::Regtest, ScriptType::Wsh, 3, 11);
        let psbts = (0..N as u32)
            .map(|i| {
                support::psbt(
                    &g,
                    &support::Spend::simple(1_000_000 + u64::from(i), 400_000, 1_000, i),
                )
            })
            .collect();
        (g.cert_key.clone(), psbts)
    })
}

fn bench(c: &mut Criterion) {
    let (key, psbts) = psbts();
    let bytes: usize = psbts.iter().map(Vec::len).sum();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.db");
    let mut store = Store::open(&Database::Sqlite(path.clone())).expect("store");
    store.add_user("bench", None, None).expect("user");
    let w = store
        .add_wallet("bench", "wsh(bench)", "registered", None)
        .expect("wallet");
    for p in &psbts {
        let (r, _) = store
            .add_request("bench", &w.id, p, 3600, false)
            .expect("request");
        store
            .transition(&r.id, Status::Awaiting, Status::Queued)
            .expect("queued");
    }
    let reset = rusqlite::Connection::open(&path).expect("second connection");
    let mut group = c.benchmark_group(format!("batch of {N} PSBTs ({bytes} bytes)"));
    group.sample_size(10);
    group.bench_function("baseline: build the batch file from memory", |b| {
        b.iter(|| batch::build_batch(&key, 7, 1, u64::MAX, &psbts).expect("batch"))
    });
    let mut sequence = 0i64;
    group.bench_function("server: take from SQLite, build, record", |b| {
        b.iter_batched(
            || {
                reset
                    .execute_batch(
                        "UPDATE requests SET status = 'queued', batch_sequence = NULL, batch_position = NULL; DELETE FROM batches;",
                    )
                    .expect("reset");
            },
            |()| {
                sequence += 1;
                let taken = store
                    .take_batch(signer_partition::MAX_BATCH - 8192, signer::cert::MAX_PSBTS, |p, _| {
                        assert_eq!(p.len(), N);
                        batch::build_batch(&key, 7, sequence as u64, u64::MAX, p)
                            .map(|f| (sequence, f))
                            .map_err(|e| e.to_string())
                    })
                    .expect("store")
                    .expect("build");
                assert!(taken.is_some());
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
