//! `spacenode pd NAME` (hidden): the body of one component process on the sim board. Only the
//! monitor starts it, with the boot block and grants on descriptors 3 and up; run by hand it
//! refuses to start (there is no boot block), exits with status 70 and says so.
//!
//! It sets up the partition (grants, sandbox, seccomp: `board_sim::partition`) and then runs the
//! component's logic in the runtime's event loop: the `signer` runs
//! [`signer_partition::SignerPd`], the `watchdog` runs [`watchdog_partition::WatchdogPd`] and
//! `comms` runs [`comms_partition::CommsPd`] and `upgrade` runs
//! [`upgrade_partition::UpgradePd`], all on the sim board's drivers
//! ([`board_sim::drivers::SimDrivers`]);
//! every other partition still runs the event loop with [`runtime::Idle`], which answers the
//! watchdog's pings and does nothing else. [`has_logic`] says which for the boot log.
//!
//! Avoids: any work before the sandbox is in place beyond reading the boot block.

use board_sim::partition::{EXIT_LOOP_STOPPED, EXIT_START_FAILED, Partition, logger};
use std::process::ExitCode;

/// Whether the component has application logic in this build.
pub fn has_logic(component: &str) -> bool {
    matches!(component, "signer" | "watchdog" | "comms" | "upgrade")
}

pub fn run(name: &str) -> ExitCode {
    logger::init(log::LevelFilter::Info);
    let partition = match Partition::enter(name) {
        Ok(p) => p,
        Err(e) => {
            log::error!("cannot start partition `{name}`: {e}");
            if matches!(e, board_sim::partition::PartitionError::NoBootBlock) {
                log::error!(
                    "`spacenode pd` is started by the monitor only; use `spacenode run` to run the node"
                );
            }
            return ExitCode::from(EXIT_START_FAILED as u8);
        }
    };
    let err = if name == "signer" {
        partition.run::<signer_partition::SignerPd<board_sim::drivers::SimDrivers>>()
    } else if name == "watchdog" {
        partition.run::<watchdog_partition::WatchdogPd<board_sim::drivers::SimDrivers>>()
    } else if name == "comms" {
        partition.run::<comms_partition::CommsPd<board_sim::drivers::SimDrivers>>()
    } else if name == "upgrade" {
        partition.run::<upgrade_partition::UpgradePd<board_sim::drivers::SimDrivers>>()
    } else {
        log::info!(
            "no application logic yet: running the event loop (answering pings if it is pinged)"
        );
        partition.run::<runtime::Idle>()
    };
    log::error!("event loop stopped: {err}");
    ExitCode::from(EXIT_LOOP_STOPPED as u8)
}
