//! The boot block: what the monitor tells a component process at start, on descriptor 3.
//!
//! It is a memfd the monitor writes and then seals (no write, grow, shrink or further sealing),
//! holding the system description and board file the monitor booted from, the component's name,
//! the monitor's process id (checked against the child's parent), the power-on epoch of the
//! board's clock, a fresh 32-byte random seed for this start of this component (drawn by the
//! monitor with `getrandom`; the component seeds its nonce DRBG with it, see `runtime::caps`)
//! the node's mode in this boot (normal or safe), and whether the node has booted before, i.e.
//! was commissioned (so a blank store is a lost one, not a new one: the reset counter's record
//! on the watchdog's flash, marked the first time every component answered in a normal boot).
//! The child derives its grant table from the
//! description with the same function the monitor used
//! ([`crate::grants::GrantTable::for_component`]), so the block carries no descriptor numbers
//! and no authority. Only the seed is private: the memfd is held by the monitor until the child
//! has started and by the child until it has read it (then closed, step 5 of
//! [`crate::partition`]); no other process gets it.
//!
//! seL4 equivalent: the root task writes the same facts (seed included) into the protection
//! domain's memory before it starts the PD.
//!
//! Format (all text UTF-8, numbers decimal):
//! ```text
//! SPACENODE-BOOT 3
//! component NAME
//! monitor-pid PID
//! epoch-ns N
//! seed 64-HEX-DIGITS
//! node-mode normal|safe
//! history first-boot|booted-before
//! description NAME_LEN TEXT_LEN
//! <NAME_LEN bytes of name><TEXT_LEN bytes of text>
//! board NAME_LEN TEXT_LEN
//! <name><text>
//! end
//! ```
//!
//! Avoids: environment variables and command-line arguments (which `/proc` shows to anyone and
//! which a re-executed program could inherit by accident) and any serialisation dependency.

use hex_conservative::{DisplayHex, FromHex};
use kernel_config::Source;
use protocol::NodeMode;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::OwnedFd;

const MAGIC: &str = "SPACENODE-BOOT 3";

/// What a component process learns at start.
#[derive(Clone)]
pub struct BootBlock {
    /// The component this process runs.
    pub component: String,
    /// The monitor's pid; the child refuses to run under another parent.
    pub monitor_pid: u32,
    /// The board clock's power-on epoch (`CLOCK_MONOTONIC` nanoseconds).
    pub epoch_ns: u64,
    /// This start's random seed (see the module docs).
    pub seed: [u8; 32],
    /// The node's mode in this boot.
    pub node_mode: NodeMode,
    /// The node has booted before this power cycle.
    pub booted_before: bool,
    /// The system description the monitor booted.
    pub description: Source,
    /// The board file the monitor booted.
    pub board: Source,
}

/// Why a boot block could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BootBlockError {
    /// Reading or writing the memfd failed.
    #[error("boot block I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The block is not in the format above.
    #[error("boot block is malformed: {0}")]
    Malformed(&'static str),
}

impl std::fmt::Debug for BootBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootBlock")
            .field("component", &self.component)
            .field("monitor_pid", &self.monitor_pid)
            .field("epoch_ns", &self.epoch_ns)
            .field("seed", &"(redacted)")
            .field("node_mode", &self.node_mode)
            .field("booted_before", &self.booted_before)
            .finish_non_exhaustive()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.to_lower_hex_string()
}

fn unhex32(text: &str) -> Option<[u8; 32]> {
    <[u8; 32]>::from_hex(text).ok()
}

fn sealed_memfd() -> std::io::Result<File> {
    use rustix::fs::{MemfdFlags, memfd_create};
    let fd = memfd_create(
        "spacenode-boot",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )?;
    Ok(File::from(fd))
}

impl BootBlock {
    /// Serialises the block.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(
            format!(
                "{MAGIC}\ncomponent {}\nmonitor-pid {}\nepoch-ns {}\nseed {}\nnode-mode {}\nhistory {}\n",
                self.component,
                self.monitor_pid,
                self.epoch_ns,
                hex(&self.seed),
                match self.node_mode {
                    NodeMode::Normal => "normal",
                    NodeMode::Safe => "safe",
                },
                if self.booted_before {
                    "booted-before"
                } else {
                    "first-boot"
                }
            )
            .as_bytes(),
        );
        for (key, src) in [("description", &self.description), ("board", &self.board)] {
            out.extend_from_slice(
                format!("{key} {} {}\n", src.name.len(), src.text.len()).as_bytes(),
            );
            out.extend_from_slice(src.name.as_bytes());
            out.extend_from_slice(src.text.as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(b"end\n");
        out
    }

    /// Writes the block to a new memfd and seals it; the descriptor is close-on-exec (the monitor
    /// moves it to [`crate::grants::BOOT_FD`] in the child).
    pub fn to_sealed_memfd(&self) -> Result<OwnedFd, BootBlockError> {
        use rustix::fs::{SealFlags, fcntl_add_seals};
        let mut f = sealed_memfd()?;
        f.write_all(&self.encode())?;
        f.seek(SeekFrom::Start(0))?;
        fcntl_add_seals(
            &f,
            SealFlags::WRITE | SealFlags::GROW | SealFlags::SHRINK | SealFlags::SEAL,
        )
        .map_err(std::io::Error::from)?;
        Ok(f.into())
    }

    /// Reads a block from a descriptor (the child's descriptor 3), from its start.
    pub fn read_from(fd: OwnedFd) -> Result<BootBlock, BootBlockError> {
        let mut f = File::from(fd);
        f.seek(SeekFrom::Start(0))?;
        let mut bytes = Vec::new();
        f.take(64 << 20).read_to_end(&mut bytes)?;
        Self::decode(&bytes)
    }

    /// Parses the block.
    pub fn decode(bytes: &[u8]) -> Result<BootBlock, BootBlockError> {
        let mut r = Reader { bytes, pos: 0 };
        if r.line()? != MAGIC {
            return Err(BootBlockError::Malformed(
                "not a spacenode boot block (magic)",
            ));
        }
        let component = r.field("component")?.to_string();
        let monitor_pid = r
            .field("monitor-pid")?
            .parse()
            .map_err(|_| BootBlockError::Malformed("monitor-pid is not a number"))?;
        let epoch_ns = r
            .field("epoch-ns")?
            .parse()
            .map_err(|_| BootBlockError::Malformed("epoch-ns is not a number"))?;
        let seed = unhex32(r.field("seed")?)
            .ok_or(BootBlockError::Malformed("seed is not 64 hex digits"))?;
        let node_mode = match r.field("node-mode")? {
            "normal" => NodeMode::Normal,
            "safe" => NodeMode::Safe,
            _ => return Err(BootBlockError::Malformed("node-mode is not normal or safe")),
        };
        let booted_before = match r.field("history")? {
            "first-boot" => false,
            "booted-before" => true,
            _ => {
                return Err(BootBlockError::Malformed(
                    "history is not first-boot or booted-before",
                ));
            }
        };
        let description = r.source("description")?;
        let board = r.source("board")?;
        if r.line()? != "end" || r.pos != bytes.len() {
            return Err(BootBlockError::Malformed("missing end or trailing bytes"));
        }
        Ok(BootBlock {
            component,
            monitor_pid,
            epoch_ns,
            seed,
            node_mode,
            booted_before,
            description,
            board,
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn line(&mut self) -> Result<&'a str, BootBlockError> {
        let rest = self.bytes.get(self.pos..).unwrap_or(&[]);
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(BootBlockError::Malformed("truncated line"))?;
        self.pos += n + 1;
        std::str::from_utf8(&rest[..n]).map_err(|_| BootBlockError::Malformed("not UTF-8"))
    }

    fn field(&mut self, key: &'static str) -> Result<&'a str, BootBlockError> {
        let line = self.line()?;
        match line.split_once(' ') {
            Some((k, v)) if k == key && !v.is_empty() => Ok(v),
            _ => Err(BootBlockError::Malformed(key)),
        }
    }

    fn take(&mut self, n: usize) -> Result<String, BootBlockError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(BootBlockError::Malformed("length overflow"))?;
        let chunk = self
            .bytes
            .get(self.pos..end)
            .ok_or(BootBlockError::Malformed("truncated text"))?;
        self.pos = end;
        String::from_utf8(chunk.to_vec()).map_err(|_| BootBlockError::Malformed("not UTF-8"))
    }

    fn source(&mut self, key: &'static str) -> Result<Source, BootBlockError> {
        let v = self.field(key)?;
        let (a, b) = v.split_once(' ').ok_or(BootBlockError::Malformed(key))?;
        let name_len: usize = a.parse().map_err(|_| BootBlockError::Malformed(key))?;
        let text_len: usize = b.parse().map_err(|_| BootBlockError::Malformed(key))?;
        let name = self.take(name_len)?;
        let text = self.take(text_len)?;
        if !self.line()?.is_empty() {
            return Err(BootBlockError::Malformed("text not followed by a newline"));
        }
        Ok(Source::new(name, text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block() -> BootBlock {
        BootBlock {
            component: "signer".into(),
            monitor_pid: 4242,
            epoch_ns: 123_456_789,
            seed: core::array::from_fn(|i| i as u8 * 7),
            node_mode: NodeMode::Safe,
            booted_before: true,
            description: Source::new("a.toml", "x = 1\n\nend\n"),
            board: Source::new("b b.toml", "é"),
        }
    }

    #[test]
    fn round_trips_through_a_sealed_memfd() {
        let fd = block().to_sealed_memfd().expect("memfd");
        let mut f = File::from(fd.try_clone().expect("dup"));
        assert!(f.write_all(b"x").is_err(), "sealed against writes");
        let back = BootBlock::read_from(fd).expect("read");
        assert_eq!(back.encode(), block().encode());
        assert_eq!(back.board.text, "é");
        assert_eq!(back.description.name, "a.toml");
        assert_eq!(back.seed, block().seed);
        assert_eq!(back.node_mode, NodeMode::Safe);
        assert!(back.booted_before);
        assert!(
            !format!("{back:?}").contains("0007"),
            "Debug does not show the seed"
        );
    }

    #[test]
    fn a_seed_must_be_exactly_64_hex_digits() {
        assert_eq!(unhex32(&"ab".repeat(32)), Some([0xab; 32]));
        for bad in [
            "ab".repeat(31),
            "ab".repeat(33),
            format!("+b{}", "ab".repeat(31)),
            "zz".repeat(32),
            format!("{}a", "ab".repeat(31)),
            format!(" a{}", "ab".repeat(31)),
            format!("a{} ", "ab".repeat(31)),
        ] {
            assert_eq!(unhex32(&bad), None, "{bad}");
        }
    }

    #[test]
    fn every_truncation_and_corruption_is_an_error_not_a_panic() {
        let bytes = block().encode();
        for n in 0..bytes.len() {
            assert!(BootBlock::decode(&bytes[..n]).is_err(), "prefix {n}");
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x55;
            // Must not panic; most corruptions are rejected, some (inside the texts) are not.
            let _ = BootBlock::decode(&b);
        }
        let mut long = bytes.clone();
        long.push(b'\n');
        assert!(BootBlock::decode(&long).is_err());
    }
}
