//! `spacenode completions` and `spacenode man`: generated from the command definition, so every
//! visible subcommand is in them, no internal one has a manual page, and the bash script is valid
//! bash.

use std::process::Command;

fn spacenode(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .args(args)
        .output()
        .expect("run spacenode")
}

#[test]
fn bash_completions_are_valid_bash_and_name_the_subcommands() {
    let out = spacenode(&["completions", "bash"]);
    assert!(out.status.success(), "{out:?}");
    let script = String::from_utf8(out.stdout).expect("utf-8");
    for word in ["ground", "sign", "provision", "run", "--state"] {
        assert!(script.contains(word), "no `{word}` in the completions");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spacenode.bash");
    std::fs::write(&path, &script).expect("write");
    let check = Command::new("bash")
        .arg("-n")
        .arg(&path)
        .output()
        .expect("bash -n");
    assert!(check.status.success(), "bash -n: {check:?}");
}

#[test]
fn an_unknown_shell_is_refused_with_the_choices() {
    let out = spacenode(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bash") && err.contains("zsh"), "{err}");
}

#[test]
fn man_pages_cover_every_visible_command_and_no_hidden_one() {
    let top = spacenode(&["man"]);
    assert!(top.status.success());
    assert!(String::from_utf8_lossy(&top.stdout).contains(".TH spacenode 1"));
    let dir = tempfile::tempdir().expect("tempdir");
    let out = spacenode(&["man", "--dir", dir.path().to_str().expect("utf-8")]);
    assert!(out.status.success(), "{out:?}");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    for page in [
        "spacenode.1",
        "spacenode-run.1",
        "spacenode-ground-sign.1",
        "spacenode-provision.1",
    ] {
        assert!(names.iter().any(|n| n == page), "no {page} in {names:?}");
    }
    assert!(
        !names
            .iter()
            .any(|n| n.contains("-pd") || n.contains("-image")),
        "{names:?}"
    );
}
