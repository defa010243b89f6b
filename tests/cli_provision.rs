//! `spacenode provision [--check] FILE` as an operator meets it: the file is judged by the
//! signer's own code against the node's real keys before anything is written; a refusal names
//! `FILE:line:col`, underlines the token and says what to write instead; a good file is summed
//! up; and the documented example in docs/provisioning.md parses with the signer's parser.

mod common;

use common::{server_lines, text};
use std::path::Path;
use std::process::{Command, Output};

fn spacenode(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .args(args)
        .output()
        .expect("spacenode")
}

fn s(p: &Path) -> String {
    p.to_str().expect("utf-8 path").to_string()
}

const ADMIN: &str = "036b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296";

/// A ground server's certificate key (compressed P-256).
fn cert() -> [u8; 33] {
    use hex_conservative::FromHex;
    <[u8; 33]>::from_hex(ADMIN).expect("hex")
}

#[test]
fn a_file_is_checked_by_the_signer_before_anything_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("node");
    let file = dir.path().join("prov.txt");
    std::fs::write(
        &file,
        format!("spacenode-signer-registry 1\nadmin-threshold 1\nadmin {ADMIN}\n"),
    )
    .expect("write");

    // No node key yet: the wallets cannot be checked, and the message says what to run.
    let o = spacenode(&["provision", "--check", "--state", &s(&state), &s(&file)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("run `spacenode node-key --state"));

    let o = spacenode(&["node-key", "--state", &s(&state)]);
    assert!(o.status.success(), "{}", text(&o));
    let node_key = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let flash = state.join("key-flash.flash");
    let before = std::fs::read(&flash).expect("key flash");

    // A bad key on line 3: located, underlined, explained; nothing written.
    std::fs::write(
        &file,
        "spacenode-signer-registry 1\nadmin-threshold 1\nadmin   02zz\n",
    )
    .expect("write");
    let o = spacenode(&["provision", "--state", &s(&state), &s(&file)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let at = format!("{}:3:9", file.display());
    assert!(err.contains(&at), "no {at} in:\n{err}");
    assert!(
        err.contains("3 | admin   02zz") && err.contains("^^^^"),
        "{err}"
    );
    assert!(err.contains("help: write 66 hex digits"), "{err}");
    assert_eq!(
        std::fs::read(&flash).expect("key flash"),
        before,
        "nothing written"
    );

    // A wallet without the node's key: the server line is refused by the signer's wallet check.
    let other = dir.path().join("other-node");
    let o = spacenode(&["node-key", "--state", &s(&other)]);
    assert!(o.status.success(), "{}", text(&o));
    let other_key = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let foreign = server_lines(&other_key, &cert());
    std::fs::write(
        &file,
        format!("spacenode-signer-registry 1\nadmin-threshold 1\nadmin {ADMIN}\n{foreign}"),
    )
    .expect("write");
    let o = spacenode(&["provision", "--check", "--state", &s(&state), &s(&file)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("{}:4:1", file.display())) && err.contains("server 1: wallet"),
        "{err}"
    );

    // The node's own key: accepted, summed up; --check writes nothing, provision writes the inbox.
    let good = format!(
        "spacenode-signer-registry 1\nadmin-threshold 1\nadmin {ADMIN}\n{}",
        server_lines(&node_key, &cert())
    );
    std::fs::write(&file, &good).expect("write");
    let o = spacenode(&["provision", "--check", "--state", &s(&state), &s(&file)]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("ok for this node: 1 admin key(s), threshold 1; servers: 1"),
        "{out}"
    );
    assert_eq!(
        std::fs::read(&flash).expect("key flash"),
        before,
        "--check writes nothing"
    );
    let o = spacenode(&["provision", "--state", &s(&state), &s(&file)]);
    assert!(o.status.success(), "{}", text(&o));
    assert_ne!(
        std::fs::read(&flash).expect("key flash"),
        before,
        "inbox written"
    );
}

#[test]
fn the_documented_example_parses_with_the_signers_parser() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/provisioning.md"))
        .expect("docs/provisioning.md");
    let example = doc
        .split("```text\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the first text block of docs/provisioning.md is the complete example");
    let mut items = 0;
    for item in signer::provision::lines(example) {
        let (_, line) = item.unwrap_or_else(|e| panic!("example: {e}"));
        if let signer::provision::Line::Server(server) = line {
            signer::descriptor::Descriptor::parse(server.descriptor)
                .unwrap_or_else(|e| panic!("example descriptor: {e:?}"));
        }
        items += 1;
    }
    assert!(items >= 8, "the example has {items} items");
    assert!(example.starts_with("spacenode-signer-registry 1"));
}

/// The host tools that open the key flash with the node off (`node-key`, `ground admin
/// identity`) follow the partition's lost-state rule: on a node that has booted before, an
/// erased key flash is refused and left as it is, never given a new seed (issue 13 finding 2;
/// before, `node-key` created a new seed, the node's identity and wallet key silently replaced).
#[test]
fn an_erased_key_flash_of_a_used_node_is_refused_by_the_host_tools_never_reseeded() {
    use common::{Board, free_addr, one_board};
    let _one = one_board();
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("node");
    // A new node: the tools create its keys, as its first boot would.
    let first = spacenode(&["node-key", "--state", &s(&state)]);
    assert!(first.status.success(), "{}", text(&first));
    let none: [&str; 0] = [];
    let mut b = Board::boot(&state, free_addr(), free_addr(), &none);
    b.wait_for("every pinged component answered in time");
    b.stop();
    let again = spacenode(&["node-key", "--state", &s(&state)]);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(again.stdout, first.stdout, "the same node key");

    let key_flash = state.join("key-flash.flash");
    let erased = vec![0xFFu8; std::fs::metadata(&key_flash).expect("key flash").len() as usize];
    std::fs::write(&key_flash, &erased).expect("erase");
    for args in [
        vec!["node-key", "--state", &s(&state)],
        vec!["ground", "admin", "identity", "--state", &s(&state)],
    ] {
        let o = spacenode(&args);
        let t = text(&o);
        assert!(!o.status.success(), "{args:?}: {t}");
        assert!(
            t.contains("keys record is BLANK although the node has booted before"),
            "{args:?}: {t}"
        );
        assert!(
            std::fs::read(&key_flash).expect("key flash") == erased,
            "{args:?} wrote to the erased key flash"
        );
    }
}
