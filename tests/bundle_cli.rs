//! `spacenode bundle` end to end, as the README's "Upgrading the node" runs it: separate key
//! holders, 2-of-3 root keys, a rotation that revokes a release key, create, verify (accepted
//! and refused with the reason), the step bound, inspect --json, and the secret key file's mode.
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

/// Runs `spacenode bundle ARGS` in `dir`; `args` is split at spaces.
fn bundle(dir: &Path, args: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .arg("bundle")
        .args(args.split_whitespace())
        .current_dir(dir)
        .output()
        .expect("run spacenode")
}

/// As [`bundle`], failing the test unless it succeeds; returns stdout and stderr.
fn ok(dir: &Path, args: &str) -> String {
    let out = bundle(dir, args);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "spacenode bundle {args} failed:\n{text}"
    );
    text
}

fn json(dir: &Path, file: &str) -> serde_json::Value {
    serde_json::from_str(&ok(dir, &format!("inspect --json {file}"))).unwrap()
}

/// `release new` for version 1.1.0 on a node running 1.0.0 with counter 1.
fn release_new(counter: u32, out: &str) -> String {
    format!(
        "release new --image image --board sim --hardware x86_64-linux --version 1.1.0 \
         --security-counter {counter} --expires 5000000 --node-version 1.0.0 --node-counter 1 \
         --out {out}"
    )
}

#[test]
fn keys_roots_rotation_release_create_verify_and_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for k in ["root-a", "root-b", "root-c", "release-y"] {
        ok(d, &format!("keygen --out {k}"));
    }
    ok(d, "keygen --alg p256 --out release-x");
    let mode = std::fs::metadata(d.join("root-a"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let again = bundle(d, "keygen --out root-a");
    assert_eq!(
        again.status.code(),
        Some(2),
        "an existing key file is never overwritten"
    );

    ok(
        d,
        "root init --root-key root-a.pub --root-key root-b.pub --root-key root-c.pub \
         --root-threshold 2 --release-key release-x.pub --release-key release-y.pub \
         --release-threshold 1 --out root-1",
    );
    ok(d, "root sign --key root-a root-1");
    ok(d, "root sign --key root-b root-1");
    let anchor = json(d, "root-1")["anchor_sha256"]
        .as_str()
        .unwrap()
        .to_string();

    // Root 2 drops release-y: it is revoked.
    let out = ok(
        d,
        "root rotate --from root-1 --release-key release-x.pub --release-threshold 1 --out root-2",
    );
    assert!(out.contains("is revoked by root version 2"), "{out}");
    ok(d, "root sign --key root-b root-2");
    ok(d, "root sign --key root-c root-2");

    let image: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 255) as u8).collect();
    std::fs::write(d.join("image"), image).unwrap();
    let verify = |b: &str| {
        bundle(
            d,
            &format!(
                "verify {b} --anchor {anchor} --board sim --hardware x86_64-linux \
                 --node-version 1.0.0 --node-counter 1 --slot-size 67108864 --now 1000"
            ),
        )
    };
    let create = |m: &str, b: &str| {
        ok(
            d,
            &format!("create --root root-1 --root root-2 --manifest {m} --image image --out {b}"),
        )
    };

    ok(d, &release_new(2, "good.manifest"));
    ok(d, "release sign --key release-x good.manifest");
    create("good.manifest", "good.bundle");
    let out = verify("good.bundle");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("VERIFIED"), "{text}");
    assert!(
        text.contains("root version 2: signed by 2 of the 2 required of version 1's root keys"),
        "{text}"
    );

    // Signed only by the revoked release key.
    ok(d, &release_new(2, "revoked.manifest"));
    ok(d, "release sign --key release-y revoked.manifest");
    create("revoked.manifest", "revoked.bundle");
    let out = verify("revoked.bundle");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("signed by 0 of the 1 required keys")
            && err.contains("is revoked by root version 2"),
        "{err}"
    );

    // The step bound: the tool refuses to make a counter jump the node would refuse.
    let out = bundle(d, &release_new(66, "jump.manifest"));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("jumps more than 64"));
    assert!(!d.join("jump.manifest").exists());

    let inspect = json(d, "good.bundle");
    assert_eq!(inspect["roots"].as_array().unwrap().len(), 2);
    assert_eq!(inspect["manifest"]["chunk_count"], 5);
    let secret = ok(d, "inspect root-a");
    let bytes = std::fs::read(d.join("root-a")).unwrap();
    let hex = hex_conservative::DisplayHex::to_lower_hex_string(&bytes[9..]);
    assert!(
        !secret.contains(&hex),
        "inspect must never print secret bytes"
    );
}
