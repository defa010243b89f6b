//! A node provisioned for the admin tests: three admin keys (2 needed) and one ground server,
//! written through the inbox before its first run (shared by `ground_admin` and
//! `store_damage`).

use super::{server_lines, text, write_secret};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn hex(b: &[u8]) -> String {
    hex_conservative::DisplayHex::to_lower_hex_string(b)
}

fn spacenode(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .args(args)
        .output()
        .expect("spacenode")
}

/// A node on `dir/node` provisioned (through the inbox, as `spacenode provision` does) with
/// three admin keys (2 needed, their key files in `dir`) and one ground server (certificate key
/// `[9; 32]`), before its first run.
pub struct Provisioned {
    pub state: PathBuf,
    pub node_key: String,
    pub identity: String,
    pub admins: Vec<p256::SecretKey>,
    pub key_files: Vec<String>,
    pub prov_file: PathBuf,
    pub cert: p256::SecretKey,
}

pub fn provisioned(dir: &Path) -> Provisioned {
    let state = dir.join("node");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    // The node's key and identity, before provisioning (first boot of the signer's seed).
    let o = spacenode(&["node-key", "--state", &s(&state)]);
    assert!(o.status.success(), "{}", text(&o));
    let node_key = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let o = spacenode(&["ground", "admin", "identity", "--state", &s(&state)]);
    assert!(o.status.success(), "{}", text(&o));
    let identity = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert_eq!(identity.len(), 66, "{identity}");

    // Three admin keys (2 needed), one server.
    let admins: Vec<p256::SecretKey> = (1..=3u8)
        .map(|b| p256::SecretKey::from_slice(&[b; 32]).unwrap())
        .collect();
    let mut key_files = Vec::new();
    for (i, a) in admins.iter().enumerate() {
        let f = dir.join(format!("admin{i}.key"));
        write_secret(&f, &hex(&a.to_bytes()));
        key_files.push(s(&f));
    }
    let cert = p256::SecretKey::from_slice(&[9; 32]).unwrap();
    let cert_public = signer::p256sig::compress(&cert.public_key());
    let mut prov = String::from("spacenode-signer-registry 1\nadmin-threshold 2\n");
    for a in &admins {
        prov += &format!(
            "admin {}\n",
            hex(&signer::p256sig::compress(&a.public_key()))
        );
    }
    prov += &server_lines(&node_key, &cert_public);
    let prov_file = dir.join("provisioning.txt");
    std::fs::write(&prov_file, &prov).unwrap();
    let o = spacenode(&["provision", "--state", &s(&state), &s(&prov_file)]);
    assert!(o.status.success(), "{}", text(&o));

    Provisioned {
        state,
        node_key,
        identity,
        admins,
        key_files,
        prov_file,
        cert,
    }
}
