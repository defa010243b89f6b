//! How the load's checks scale with the size of a description (issue 13, finding 7): they must
//! be linear, so that a large hostile description is refused in time proportional to its size.
//!
//! - `components/N`: the base description with N components (N > 32 is refused by the count
//!   limit, after parsing the whole file);
//! - `channels/N`: 32 components with N channels spread evenly (768 is the most the node holds,
//!   and loads: every check runs);
//! - `shipped`: the shipped description on the sim board, the baseline of the same run;
//! - `oversized`: a 36 MB description, refused by its size before parsing.
//!
//! Run: `cargo bench -p kernel-config --bench checks -- --warm-up-time 1 --measurement-time 3`.

#[path = "../tests/generate/mod.rs"]
mod generate;

use criterion::{Criterion, criterion_group, criterion_main};
use generate::*;
use kernel_config::{Source, load, shipped};
use std::hint::black_box;

fn checks(c: &mut Criterion) {
    let mut g = c.benchmark_group("load");
    g.sample_size(10);
    let description = shipped::description();
    let sim = shipped::board("sim").expect("the sim board is shipped");
    g.bench_function("shipped", |b| {
        b.iter(|| load(black_box(&description), &sim).expect("the shipped description loads"))
    });
    for n in [100, 1_000, 5_000] {
        let text = Source::new("s.toml", with_components(n - 3));
        g.bench_function(format!("components/{n}"), |b| {
            b.iter(|| load(black_box(&text), &board()).expect_err("past the component limit"))
        });
    }
    let big = big_board();
    for n in [96, 384, 768] {
        let text = Source::new("s.toml", spread(32, n));
        g.bench_function(format!("channels/{n}"), |b| {
            b.iter(|| load(black_box(&text), &big).expect("within every limit"))
        });
    }
    let oversized = Source::new("s.toml", padded(36 << 20));
    g.bench_function("oversized", |b| {
        b.iter(|| load(black_box(&oversized), &board()).expect_err("past the size limit"))
    });
    g.finish();
}

criterion_group!(benches, checks);
criterion_main!(benches);
