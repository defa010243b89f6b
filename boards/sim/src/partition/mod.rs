//! The component side of the sim board: what a component process (`spacenode pd NAME`) does
//! between `exec` and its first line of component code, then its event loop.
//!
//! [`Partition::enter`], in this order:
//! 1. reads the boot block on descriptor 3 ([`bootblock`]) and checks it names this component;
//! 2. loads the system description from it and computes the grant table
//!    ([`crate::grants::GrantTable::for_component`]), so it knows which descriptor is which;
//! 3. refuses to run unless its parent is the monitor that wrote the block ([`sandbox`]);
//! 4. checks every granted descriptor is what the table says (a memfd of the right size for a
//!    region, an eventfd for a notification), maps each region shared (a receiver's slots
//!    beyond the first page read-only, [`crate::region`]) and closes its memfd,
//!    attaches the ring (`ipc::Region::attach` checks the header against the description)
//!    ([`assemble`]);
//! 5. closes every other descriptor, including 0, 1 and the boot block;
//! 6. sets the CPU budget ([`cpu`]; enforced when the kernel lets it, logged either way), its
//!    own user and group and non-dumpable ([`identity`]; its own user when started as root,
//!    logged either way), then `PR_SET_NO_NEW_PRIVS` and the resource limits ([`sandbox`]);
//! 7. installs the seccomp filter ([`seccomp`]), after which only the allow-list works.
//!
//! Then [`Partition::run`] builds the component's capability set (channel endpoints by name,
//! devices) and runs `runtime`'s event loop on a `ppoll` wait set ([`waitset`]). Every failure
//! before component code runs is a typed [`PartitionError`]; the process then exits with status
//! [`EXIT_START_FAILED`] and the monitor reports it.
//!
//! Avoids: opening anything by name after step 2 (but for its own granted ring memfds, reopened
//! read-only through `/proc/self/fd` in step 4), and running any component code before step 7.

mod assemble;
pub mod bootblock;
pub mod cpu;
pub mod identity;
pub mod logger;
pub mod sandbox;
pub mod seccomp;
pub mod waitset;

use crate::clock::SimClock;
use crate::grants::{BOOT_FD, LOG_FD};
use assemble::Assembly;
use bootblock::{BootBlock, BootBlockError};
use kernel_config::System;
use kernel_config::model::ComponentId;
use runtime::{CapSetBuilder, Component, RunError};
use sandbox::{Limits, SandboxError};
use seccomp::SeccompError;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};
use waitset::PollWait;

/// Exit status of a component process that could not start (boot block, grants, sandbox).
pub const EXIT_START_FAILED: i32 = 70;
/// Exit status of a component whose event loop stopped (init failed or waiting failed).
pub const EXIT_LOOP_STOPPED: i32 = 71;

/// Why a component process could not start.
#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    /// Descriptor 3 is not open: the process was not started by the monitor.
    #[error("no boot block on descriptor 3: this process was not started by the monitor")]
    NoBootBlock,
    /// Descriptor 3 did not hold a readable boot block.
    #[error("{0}")]
    BootBlock(#[from] BootBlockError),
    /// The boot block is for another component.
    #[error("started as `{asked}` but the boot block is for `{block}`")]
    WrongComponent {
        /// The name on the command line.
        asked: String,
        /// The name in the block.
        block: String,
    },
    /// The description in the boot block does not load (cannot happen with a monitor that
    /// booted it; reported rather than trusted).
    #[error("the boot block's description does not load:\n{0}")]
    Description(String),
    /// A granted descriptor is not what the grant table says.
    #[error("descriptor {fd} should be {expected}: {found}")]
    BadGrant {
        /// The descriptor.
        fd: RawFd,
        /// What the table says.
        expected: String,
        /// What it is.
        found: String,
    },
    /// A region could not be mapped or attached.
    #[error("{0}")]
    Region(#[from] crate::region::RegionSetupError),
    /// The capability table could not be built.
    #[error("capability table: {0}")]
    Caps(runtime::CapError),
    /// More sources than the runtime's 63.
    #[error("too many channels and devices to wait on (at most 63)")]
    TooManySources,
    /// The sandbox failed.
    #[error("{0}")]
    Sandbox(#[from] SandboxError),
    /// The seccomp filter failed.
    #[error("{0}")]
    Seccomp(#[from] SeccompError),
}

/// A component process after start-up: sandboxed, with its capabilities, ready to run.
pub struct Partition {
    system: &'static System,
    component: ComponentId,
    caps: CapSetBuilder,
    wait: PollWait,
}

fn link(fd: RawFd) -> String {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .map(|p| p.display().to_string())
        .unwrap_or_else(|e| format!("not open ({e})"))
}

/// Takes ownership of a granted descriptor number.
fn own(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` is a grant the monitor placed at this number; nothing else in this process
    // owns it (start-up code takes each grant once, in table order).
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn borrow(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: device descriptors stay open for the life of the process (never closed after
    // start-up), so a 'static borrow is valid.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

fn leak_str(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

/// Step 6: the CPU budget, the component's own identity, then the resource limits.
fn lock_down(
    me: &kernel_config::model::Component,
    keep: &[RawFd],
    max_file: u64,
) -> Result<(), PartitionError> {
    let budget = cpu::apply(me.budget_us, me.period_us);
    let line = budget.describe(me.budget_us, me.period_us);
    if budget == cpu::CpuBudget::Enforced {
        log::info!("{line}");
    } else {
        log::warn!("{line}");
    }
    let identity = identity::apply(me.id)?;
    match identity {
        identity::Identity::Own { .. } => log::info!("{}", identity.describe()),
        identity::Identity::Shared { .. } => log::warn!("{}", identity.describe()),
    }
    sandbox::restrict(&Limits {
        memory_size: me.memory_size,
        stack_size: me.stack_size,
        max_file_size: max_file,
        highest_fd: keep.iter().copied().max().unwrap_or(LOG_FD),
    })?;
    Ok(())
}

impl Partition {
    /// Steps 1 to 7 of the module docs, for the component `name`.
    pub fn enter(name: &str) -> Result<Partition, PartitionError> {
        if rustix::io::fcntl_getfd(borrow(BOOT_FD)).is_err() {
            return Err(PartitionError::NoBootBlock);
        }
        let block = BootBlock::read_from(own(BOOT_FD))?;
        if block.component != name {
            return Err(PartitionError::WrongComponent {
                asked: name.to_string(),
                block: block.component,
            });
        }
        let system = kernel_config::load(&block.description, &block.board)
            .map_err(|d| PartitionError::Description(d.to_string()))?;
        let system: &'static System = Box::leak(Box::new(system));
        let me = system
            .component(name)
            .ok_or_else(|| PartitionError::WrongComponent {
                asked: name.to_string(),
                block: "a description without it".into(),
            })?;
        sandbox::check_parent(block.monitor_pid)?;
        let mut caps = CapSetBuilder::new(protocol::ComponentId(me.id as u8));
        caps.seed(block.seed);
        caps.node_mode(block.node_mode);
        caps.booted_before(block.booted_before);
        caps.radio_link(system.radio_link);
        let granted = Assembly::new(system, me.id, caps).take_grants()?;
        let keep = granted.table.kept_fds();
        sandbox::close_all_but(&keep)?;
        lock_down(me, &keep, granted.max_file)?;
        seccomp::install(&granted.filter)?;
        Ok(Partition {
            system,
            component: me.id,
            caps: granted.caps,
            wait: PollWait::new(granted.watched, SimClock::with_epoch(block.epoch_ns)),
        })
    }

    /// The component's name.
    pub fn name(&self) -> &'static str {
        &self.system.components[self.component].name
    }

    /// The description this partition booted from.
    pub fn system(&self) -> &'static System {
        self.system
    }

    /// Runs component `C` until its loop stops; returns why.
    pub fn run<C: Component>(self) -> RunError {
        match runtime::run::<C>(self.caps.build(), self.wait) {
            Ok(never) => match never {},
            Err(e) => e,
        }
    }
}

/// The descriptor number of a device handle, for board driver glue.
pub fn device_fd(handle: i32) -> Option<RawFd> {
    (handle >= 0).then_some(handle)
}

impl std::fmt::Debug for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Partition")
            .field("component", &self.name())
            .finish_non_exhaustive()
    }
}
