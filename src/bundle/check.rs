//! The reading subcommands: `verify` (the node's checks, one printed line each, by the same
//! `upgrade` functions the node calls) and `inspect` (text or JSON; never prints secret bytes).

use super::files::{self, rejected};
use crate::failure::Failure;
use clap::Args;
use hex_conservative::{DisplayHex, FromHex};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use upgrade::builder::{OwnedKey, PUBLIC_MAGIC, SECRET_MAGIC, SecretKey};
use upgrade::{Floor, Header, MAGIC, Manifest, Policy, Role, Root, Rule, Signed, Trust, Version};

#[derive(Args)]
pub struct VerifyArgs {
    /// The bundle file
    bundle: PathBuf,
    /// Trust: the SHA-256 of root version 1's body, in hex (as in the node's OTP; `inspect`
    /// prints it for a root file)
    #[arg(
        long,
        value_name = "HEX",
        conflicts_with = "trusted_root",
        required_unless_present = "trusted_root"
    )]
    anchor: Option<String>,
    /// Trust: a root file the node already trusts
    #[arg(long, value_name = "FILE")]
    trusted_root: Option<PathBuf>,
    /// The node's board id
    #[arg(long)]
    board: String,
    /// The node's hardware id
    #[arg(long)]
    hardware: String,
    /// The version the node runs (the bundle's must be greater)
    #[arg(long, default_value = "0.0.0")]
    node_version: String,
    /// The node's security counter (the bundle's must be at least this)
    #[arg(long, default_value_t = 0)]
    node_counter: u32,
    /// The node's slot size in bytes (not checked if not given)
    #[arg(long)]
    slot_size: Option<u64>,
    /// The node's monotonic counter now (expiry is not checked if not given)
    #[arg(long)]
    now: Option<u64>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.to_lower_hex_string()
}

fn parse_anchor(s: &str) -> Result<[u8; 32], Failure> {
    <[u8; 32]>::from_hex(s)
        .map_err(|e| Failure::Usage(format!("--anchor {s:?} is not 64 hex digits: {e}")))
}

pub fn verify(a: &VerifyArgs) -> Result<(), Failure> {
    let bytes = files::read(&a.bundle)?;
    let anchor = a.anchor.as_deref().map(parse_anchor).transpose()?;
    let trusted = a
        .trusted_root
        .as_deref()
        .map(files::signed_doc)
        .transpose()?;
    let trust = match (&anchor, &trusted) {
        (Some(h), _) => Trust::Anchor(h),
        (None, Some(doc)) => Trust::Root(&doc.body),
        (None, None) => return Err(Failure::Usage("give --anchor or --trusted-root".into())),
    };
    let node_version = Version::parse(&a.node_version).ok_or_else(|| {
        Failure::Usage(format!(
            "--node-version {:?} is not MAJOR.MINOR.PATCH",
            a.node_version
        ))
    })?;
    let policy = Policy {
        trust,
        board: a.board.as_bytes(),
        hardware: a.hardware.as_bytes(),
        version: Floor {
            current: node_version,
            rule: Rule::Greater,
        },
        security_counter: Floor {
            current: a.node_counter,
            rule: Rule::AtLeast,
        },
        max_image_len: a.slot_size.unwrap_or(u64::MAX),
        now: a.now,
    };
    let fail = |e: &dyn std::fmt::Display| rejected(&a.bundle, format!("FAIL {e}"));
    let header = Header::parse(&bytes).map_err(|e| fail(&e))?;
    println!(
        "ok   header: {} bytes, format {}, {} root version(s)",
        header.len,
        upgrade::FORMAT,
        header.roots().len()
    );
    let root = upgrade::root_chain(&header, trust).map_err(|e| fail(&e))?;
    print_chain(&header, &trust);
    println!(
        "ok   root chain: trusted up to root version {}",
        root.version
    );
    let (manifest, tally) = upgrade::release_signatures(&header, &root).map_err(|e| fail(&e))?;
    println!(
        "ok   manifest: signed by {} of the {} release keys root version {} requires",
        tally.valid, tally.threshold, root.version
    );
    upgrade::check_manifest(&manifest, &policy).map_err(|e| fail(&e))?;
    println!("ok   board {:?}, hardware {:?}", a.board, a.hardware);
    println!("ok   version {} > node's {node_version}", manifest.version);
    println!(
        "ok   security counter {} >= node's {} (step at most {})",
        manifest.security_counter,
        a.node_counter,
        upgrade::MAX_COUNTER_STEP
    );
    match a.slot_size {
        Some(s) => println!(
            "ok   image {} bytes fits the {s}-byte slot",
            manifest.image_len
        ),
        None => println!("skip slot size (give --slot-size)"),
    }
    match a.now {
        Some(n) => println!(
            "ok   expires at node counter {} > now {n}",
            manifest.expires
        ),
        None => println!(
            "skip expiry (give --now; the manifest expires at node counter {})",
            manifest.expires
        ),
    }
    let image = &bytes[header.len..];
    let mut v = manifest.image_verifier();
    v.update(image)
        .and_then(|()| v.finish())
        .map_err(|e| fail(&e))?;
    println!(
        "ok   image: {} bytes, all {} chunk hashes and the image hash match",
        image.len(),
        manifest.chunk_count()
    );
    println!(
        "VERIFIED: a node with this trust would accept {}",
        a.bundle.display()
    );
    Ok(())
}

/// One line per root of the header: how many keys signed it under the rotation rule.
fn print_chain(header: &Header<'_>, trust: &Trust<'_>) {
    let mut previous: Option<Root<'_>> = match trust {
        Trust::Root(body) => Root::parse(body).ok(),
        Trust::Anchor(_) => None,
    };
    for s in header.roots() {
        let Ok(r) = Root::parse(s.body) else { continue };
        if previous.is_some_and(|p| p.version >= r.version) {
            println!("     root version {}: already trusted", r.version);
            continue;
        }
        let own = count(s, &r.root);
        match previous {
            None => println!("     root version 1: matches the anchor; {own} of its own root keys"),
            Some(p) => println!(
                "     root version {}: {} of version {}'s root keys; {own} of its own",
                r.version,
                count(s, &p.root),
                p.version
            ),
        }
        previous = Some(r);
    }
}

fn count(s: &Signed<'_>, role: &Role<'_>) -> String {
    match upgrade::tally(s, role) {
        Ok(t) => format!("signed by {} of the {} required", t.valid, t.threshold),
        Err(e) => e.to_string(),
    }
}

pub fn inspect(path: &Path, as_json: bool) -> Result<(), Failure> {
    let bytes = files::read(path)?;
    let value = describe(&bytes).map_err(|e| rejected(path, e))?;
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&value).expect("JSON of plain values")
        );
    } else {
        print_text(&value, 0);
    }
    Ok(())
}

fn describe(bytes: &[u8]) -> Result<Value, String> {
    if bytes.starts_with(SECRET_MAGIC) {
        let k = SecretKey::from_file(bytes).map_err(|e| e.to_string())?;
        let p = k.public();
        return Ok(
            json!({"type": "secret-key", "algorithm": p.alg.name(), "key_id": hex(&p.id().0), "public_key": hex(&p.bytes)}),
        );
    }
    if bytes.starts_with(PUBLIC_MAGIC) {
        let p = OwnedKey::from_file(bytes).map_err(|e| e.to_string())?;
        return Ok(
            json!({"type": "public-key", "algorithm": p.alg.name(), "key_id": hex(&p.id().0), "public_key": hex(&p.bytes)}),
        );
    }
    if bytes.starts_with(MAGIC) {
        let h = Header::parse(bytes).map_err(|e| e.to_string())?;
        let roots: Result<Vec<Value>, String> = h.roots().iter().map(signed_json).collect();
        return Ok(json!({
            "type": "bundle",
            "format": upgrade::FORMAT,
            "header_len": h.len,
            "image_bytes": bytes.len() - h.len,
            "roots": roots?,
            "manifest": signed_json(&h.manifest)?,
        }));
    }
    let s = Signed::parse(bytes)
        .map_err(|e| format!("not a key, root, manifest or bundle file: {e}"))?;
    signed_json(&s)
}

fn role_json(role: &Role<'_>) -> Value {
    let keys: Vec<Value> = role
        .keys()
        .map(|k| json!({"algorithm": k.alg.name(), "key_id": hex(&k.id.0), "public_key": hex(k.bytes)}))
        .collect();
    json!({"threshold": role.threshold, "keys": keys})
}

fn signed_json(s: &Signed<'_>) -> Result<Value, String> {
    let sigs: Vec<Value> = s
        .signatures()
        .map(|g| json!({"key_id": hex(&g.key.0), "algorithm": g.alg.name(), "signature": hex(g.bytes)}))
        .collect();
    let mut v = if let Ok(r) = Root::parse(s.body) {
        json!({
            "type": "root",
            "version": r.version,
            "anchor_sha256": hex(&Sha256::digest(s.body)),
            "root_role": role_json(&r.root),
            "release_role": role_json(&r.release),
        })
    } else {
        let m = Manifest::parse(s.body).map_err(|e| e.to_string())?;
        let chunks: Vec<String> = (0..m.chunk_count())
            .filter_map(|i| m.chunk_hash(i))
            .map(|h| hex(h))
            .collect();
        json!({
            "type": "manifest",
            "board": String::from_utf8_lossy(m.board),
            "hardware": String::from_utf8_lossy(m.hardware),
            "version": m.version.to_string(),
            "security_counter": m.security_counter,
            "expires": m.expires,
            "image_len": m.image_len,
            "chunk_size": m.chunk_size(),
            "chunk_count": m.chunk_count(),
            "image_hash": hex(&m.image_hash),
            "chunk_hashes": chunks,
        })
    };
    v["signatures"] = Value::Array(sigs);
    Ok(v)
}

/// Indented `key: value` lines; arrays of scalars on one line, long ones summarised.
fn print_text(v: &Value, depth: usize) {
    let pad = "  ".repeat(depth);
    let Value::Object(map) = v else { return };
    for (k, val) in map {
        match val {
            Value::Object(_) => {
                println!("{pad}{k}:");
                print_text(val, depth + 1);
            }
            Value::Array(items) if items.iter().all(Value::is_object) => {
                println!("{pad}{k}: {}", items.len());
                for (i, item) in items.iter().enumerate() {
                    println!("{pad}  [{i}]");
                    print_text(item, depth + 2);
                }
            }
            Value::Array(items) => {
                println!("{pad}{k}: {} item(s)", items.len());
                for item in items {
                    println!("{pad}  {}", item.as_str().unwrap_or_default());
                }
            }
            Value::String(s) => println!("{pad}{k}: {s}"),
            other => println!("{pad}{k}: {other}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_anchors_are_refused() {
        assert_eq!(parse_anchor(&"ab".repeat(32)).ok(), Some([0xab; 32]));
        for bad in [
            format!("+b{}", "ab".repeat(31)),
            format!("{}a", "ab".repeat(31)),
            format!("0g{}", "ab".repeat(31)),
            format!(" {}b", "ab".repeat(31)),
        ] {
            assert!(parse_anchor(&bad).is_err(), "{bad:?}");
        }
    }
}
