//! Verifying a 16 MiB image (every 64 KiB chunk hash and the image hash) with the crate's
//! streaming verifier and its per-chunk check, against `openssl dgst -sha256` on the same file in
//! the same run. `openssl dgst` runs as a process, so its time includes process start-up; the
//! same command on an empty file is timed too, to show how much that is.
//!
//! Run: `cargo bench -p upgrade --bench image_verify -- --warm-up-time 1 --measurement-time 3`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::io::{Read, Write};
use std::process::Command;
use upgrade::builder::{ManifestSpec, RootSpec, SecretKey, SignedDoc, assemble};
use upgrade::{Algorithm, Floor, Policy, Rule, Trust, Version};

const LEN: usize = 16 << 20;

fn image() -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..LEN)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn bundle(image: &[u8]) -> (Vec<u8>, [u8; 32]) {
    let root_key = SecretKey::from_seed(Algorithm::Ed25519, &[1; 32]).unwrap();
    let release = SecretKey::from_seed(Algorithm::P256, &[2; 32]).unwrap();
    let spec = RootSpec {
        version: 1,
        root_threshold: 1,
        root_keys: vec![root_key.public()],
        release_threshold: 1,
        release_keys: vec![release.public()],
    };
    let mut root = SignedDoc::new(spec.body().unwrap());
    root.sign(&root_key);
    let m = ManifestSpec {
        board: b"sim".to_vec(),
        hardware: b"x86_64-linux".to_vec(),
        version: Version::new(1, 1, 0),
        security_counter: 1,
        expires: u64::MAX,
        chunk_log2: upgrade::DEFAULT_CHUNK_LOG2,
    };
    let mut manifest = SignedDoc::new(m.body(image).unwrap());
    manifest.sign(&release);
    let anchor = sha2_anchor(&root.body);
    (assemble(&[root], &manifest, image).unwrap(), anchor)
}

fn sha2_anchor(body: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(body).into()
}

fn openssl(path: &std::path::Path) {
    let out = Command::new("openssl")
        .args(["dgst", "-sha256"])
        .arg(path)
        .output()
        .expect("openssl");
    assert!(out.status.success());
    black_box(out.stdout);
}

fn bench(c: &mut Criterion) {
    let image = image();
    let (bundle, anchor) = bundle(&image);
    let policy = Policy {
        trust: Trust::Anchor(&anchor),
        board: b"sim",
        hardware: b"x86_64-linux",
        version: Floor {
            current: Version::new(1, 0, 0),
            rule: Rule::Greater,
        },
        security_counter: Floor {
            current: 1,
            rule: Rule::AtLeast,
        },
        max_image_len: LEN as u64,
        now: Some(0),
    };
    let v = upgrade::verify(&bundle, &policy).unwrap();
    let m = v.manifest;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("image");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&image)
        .unwrap();
    let empty = dir.path().join("empty");
    std::fs::File::create(&empty).unwrap();

    let mut g = c.benchmark_group("verify_16MiB");
    g.throughput(Throughput::Bytes(LEN as u64));
    g.sample_size(10);
    g.bench_function("upgrade_stream_in_memory", |b| {
        b.iter(|| {
            let mut s = m.image_verifier();
            s.update(black_box(&image)).unwrap();
            s.finish().unwrap();
        })
    });
    g.bench_function("upgrade_stream_from_file", |b| {
        let mut buf = vec![0u8; 1 << 16];
        b.iter(|| {
            let mut f = std::fs::File::open(&path).unwrap();
            let mut s = m.image_verifier();
            loop {
                let n = f.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                s.update(&buf[..n]).unwrap();
            }
            s.finish().unwrap();
        })
    });
    g.bench_function("upgrade_verify_chunk_each", |b| {
        b.iter(|| {
            for (i, c) in image.chunks(m.chunk_size()).enumerate() {
                m.verify_chunk(i as u32, black_box(c)).unwrap();
            }
        })
    });
    g.bench_function("openssl_dgst_sha256_file", |b| b.iter(|| openssl(&path)));
    g.finish();
    let mut g = c.benchmark_group("process_startup");
    g.sample_size(10);
    g.bench_function("openssl_dgst_sha256_empty_file", |b| {
        b.iter(|| openssl(&empty))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
