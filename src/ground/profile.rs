//! Named node profiles: `$XDG_CONFIG_HOME/spacenode/ground.toml` (else
//! `~/.config/spacenode/ground.toml`), one `[node.NAME]` table per node the ground talks to,
//! selected by `--node NAME` or the `SPACENODE_NODE` environment variable. A flag given on the
//! command line overrides the profile's value; a value neither gives takes the built-in default.
//!
//! ```toml
//! [node.sat1]
//! uplink = "127.0.0.1:47101"      # the node's --radio-uplink
//! listen = "127.0.0.1:47100"      # the node's --ground
//! state = "ground-sat1"           # this ground's state directory for the node
//! provisioning = "sdls-sat1.txt"  # SDLS keys shared with the node
//! spi = 1                         # security association to command under
//! server = 7                      # ground server id in the signer's registry
//! key = "server7.key"             # that server's certificate key
//! ```
//!
//! Relative paths are relative to the file's directory. Every key is optional.
//!
//! Avoids: a silent default reaching whichever node listens on this machine (every command
//! that talks to a node prints which one), and a bad file reported without its place (errors
//! are `FILE:line:col` with the line underlined, as `config check` does).

use crate::failure::Failure;
use kernel_config::{Diagnostic, source::Source};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The environment variable naming the profile when `--node` does not.
pub const ENV: &str = "SPACENODE_NODE";

/// One node's settings.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Where uplink goes (the node's `--radio-uplink`).
    pub uplink: Option<SocketAddr>,
    /// Where downlink arrives (the node's `--ground`).
    pub listen: Option<SocketAddr>,
    /// The ground's state directory for this node.
    pub state: Option<PathBuf>,
    /// The SDLS provisioning file shared with the node.
    pub provisioning: Option<PathBuf>,
    /// Security association to command under.
    pub spi: Option<u16>,
    /// The ground server's id in the signer's registry.
    pub server: Option<u32>,
    /// That server's P-256 certificate key file.
    pub key: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    node: BTreeMap<String, Profile>,
}

/// The profile in use (none: the flags and the defaults only).
#[derive(Debug, Clone, Default)]
pub struct Selected {
    /// Its name.
    pub name: Option<String>,
    /// Its settings.
    pub profile: Profile,
}

/// `$XDG_CONFIG_HOME/spacenode/ground.toml`, else `$HOME/.config/spacenode/ground.toml`.
pub fn path() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("spacenode").join("ground.toml")
}

/// The profile named by `name` (from `--node`), else by [`ENV`], else none.
pub fn select(name: Option<&str>) -> Result<Selected, Failure> {
    let from_env = std::env::var(ENV).ok().filter(|v| !v.is_empty());
    let Some(name) = name.map(str::to_string).or(from_env) else {
        return Ok(Selected::default());
    };
    let file = path();
    let profile = load(&file, &name)?;
    Ok(Selected {
        name: Some(name),
        profile,
    })
}

/// Profile `name` of the file at `file`.
pub fn load(file: &Path, name: &str) -> Result<Profile, Failure> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        Failure::Usage(format!(
            "node profile `{}`: cannot read {} ({e}); create it with a [node.{}] table (see `spacenode ground --help`), or give --node ADDR",
            crate::escape::escape(name),
            file.display(),
            crate::escape::escape(name)
        ))
    })?;
    let parsed = parse(&file.display().to_string(), &text)?;
    let base = file.parent().unwrap_or(Path::new("."));
    let Some(mut p) = parsed.node.get(name).cloned() else {
        let known: Vec<&str> = parsed.node.keys().map(String::as_str).collect();
        return Err(Failure::Usage(format!(
            "no node profile `{}` in {} (it has: {}); add a [node.{}] table or pick one of those",
            crate::escape::escape(name),
            file.display(),
            if known.is_empty() {
                "none".to_string()
            } else {
                crate::escape::escape(&known.join(", ")).into_owned()
            },
            crate::escape::escape(name)
        )));
    };
    for f in [&mut p.state, &mut p.provisioning, &mut p.key] {
        if let Some(rel) = f.as_mut().filter(|p| p.is_relative()) {
            *rel = base.join(&*rel);
        }
    }
    Ok(p)
}

fn parse(name: &str, text: &str) -> Result<File, Failure> {
    toml::from_str::<File>(text).map_err(|e| {
        let src = Source::new(name, text);
        let span = e.span().unwrap_or(0..0);
        let d = Diagnostic::at(&src, span, e.message().trim().to_string()).help(
            "each node is a [node.NAME] table of uplink, listen (\"IP:PORT\"), state, provisioning, key (paths), spi and server (numbers)",
        );
        Failure::Rejected(d.to_string())
    })
}

impl Selected {
    /// The line every command that talks to a node prints first.
    pub fn line(&self, via: &str, state: &Path) -> String {
        let who = match &self.name {
            Some(n) => format!("node `{}` ({})", crate::escape::escape(n), path().display()),
            None => "node (no profile: flags and defaults)".to_string(),
        };
        format!("{who}: {via}, state {}", state.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_is_read_with_paths_relative_to_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("ground.toml");
        std::fs::write(
            &f,
            "[node.sat1]\nuplink = \"127.0.0.1:5000\"\nstate = \"g1\"\nserver = 7\nkey = \"/abs.key\"\n\n[node.sat2]\nspi = 2\n",
        )
        .expect("write");
        let p = load(&f, "sat1").expect("sat1");
        assert_eq!(p.uplink, Some("127.0.0.1:5000".parse().expect("addr")));
        assert_eq!(p.state, Some(dir.path().join("g1")));
        assert_eq!(p.key, Some(PathBuf::from("/abs.key")));
        assert_eq!((p.server, p.listen), (Some(7), None));
        assert_eq!(load(&f, "sat2").expect("sat2").spi, Some(2));
        let Err(Failure::Usage(e)) = load(&f, "sat3") else {
            panic!("an unknown profile is an error")
        };
        assert!(e.contains("it has: sat1, sat2"), "{e}");
    }

    #[test]
    fn a_bad_file_is_reported_at_its_line_and_column() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("ground.toml");
        std::fs::write(
            &f,
            "[node.sat1]\nuplink = \"127.0.0.1:5000\"\nspi = \"one\"\n",
        )
        .expect("write");
        let Err(Failure::Rejected(e)) = load(&f, "sat1") else {
            panic!("a bad value is an error")
        };
        assert!(e.contains(&format!("{}:3:7", f.display())), "{e}");
        assert!(e.contains("3 | spi = \"one\""), "{e}");
        std::fs::write(&f, "[node.sat1]\nuplonk = \"x\"\n").expect("write");
        let Err(Failure::Rejected(e)) = load(&f, "sat1") else {
            panic!("an unknown key is an error")
        };
        assert!(e.contains(":2:1") && e.contains("uplonk"), "{e}");
    }
}
