//! The system description as the monitor uses it: the components and channels of the shipped
//! description (`kernel-config/spacenode.toml`), turned into static tables at build time by
//! `build.rs` through `kernel_config::load`, so the monitor parses nothing at run time.
//!
//! Avoids: any TOML, allocation or validation here; that all happened at build time.

/// One component: its name, seL4 priority, and whether it is the root task (the monitor).
pub struct ComponentDesc {
    pub name: &'static str,
    pub priority: u8,
    pub root: bool,
}

/// One channel: its ends (indices into [`COMPONENTS`]) and the bytes its ring needs (the `ipc`
/// crate's layout: a header page part written by both ends, then the slots).
pub struct ChannelDesc {
    pub name: &'static str,
    pub sender: usize,
    pub receiver: usize,
    pub ring_bytes: u64,
}

include!(concat!(env!("OUT_DIR"), "/system.rs"));
