//! Counting this boot on the reset counter and deciding the node's mode, at power-on, before any
//! component starts.
//!
//! The reset counter (`watchdog::ResetCounter`, record format and rules in its docs) is counted
//! by whoever boots the components, before the first of them starts: here the monitor, the root
//! task, exactly as a flight bootloader or seL4 root task would. Counting at the next boot is what
//! makes every reset count, whatever caused it (an escalation, the hardware watchdog expiring
//! because the watchdog partition itself hung, a brown-out): the software that was failing never
//! has to do it.
//!
//! Where the counter lives: on the flash device owned by the owner of the board's hardware
//! watchdog timer (the health authority; `health-flash`, owned by `watchdog`, in the shipped
//! description), at `watchdog::reset_counter::HEALTH_FLASH_LAYOUT`. The watchdog partition then
//! opens the same record to report resets, record escalations and clear the count after a
//! healthy period. A description with no such device has no counter: every boot is normal.
//!
//! What is counted follows the counter's rules: a boot after a clean power-off (the monitor
//! calls [`mark_clean_power_off`] once every component is stopped, when `spacenode run` is
//! stopped or a reboot is requested for a reason other than a watchdog escalation) or after a
//! reset during a trial boot (boot control's `trial_running()` when this power-on began) is not
//! counted. A hardware watchdog expiry, an escalation or a killed monitor always is.
//!
//! The decision ([`BootMode`]): past `[system] max-resets` the node boots in **safe mode** and
//! the monitor starts only the components marked `safe-mode`; the others are never started in
//! this power cycle and restart requests for them are refused. Every component learns the mode
//! from its boot block. A counter that cannot be read or written boots safe mode too (the cap
//! can no longer be enforced), as `watchdog::BootInfo::COUNTER_UNAVAILABLE` says.
//!
//! Avoids: keeping the flash open (the image is opened, counted and closed before any child
//! exists) and any rule of its own: the counting and the threshold are the watchdog crate's.

use crate::flash::SimFlash;
use kernel_config::System;
use kernel_config::model::DeviceKind;
use protocol::NodeMode;
use std::path::Path;
use watchdog::reset_counter::HEALTH_FLASH_LAYOUT;
use watchdog::{BootInfo, ResetCounter};

/// The mode this power cycle boots in, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootMode {
    /// Normal or safe.
    pub mode: NodeMode,
    /// Resets since the node was last healthy, as counted now; `None` without a counter;
    /// `u16::MAX` if the counter could not be used.
    pub resets: Option<u16>,
    /// The description's cap.
    pub max_resets: u32,
    /// The counter shows the node commissioned (a boot reached every component answering), or
    /// the record is lost: a blank component store is then a lost one.
    pub booted_before: bool,
    /// One line: where the counter is, whether this boot counted and why not, or why there is
    /// no counter or it failed.
    pub note: String,
}

/// The flash device holding the reset counter: the one owned by the owner of the board's
/// hardware watchdog timer. `None` if the description has no such device.
pub fn counter_device(system: &System) -> Option<&kernel_config::model::Device> {
    let owner = system
        .board
        .devices
        .iter()
        .find(|d| d.kind == DeviceKind::Watchdog)?
        .owner?;
    if system.components.get(owner)?.root {
        return None;
    }
    system
        .board
        .devices
        .iter()
        .find(|d| d.owner == Some(owner) && d.kind == DeviceKind::Flash)
}

/// Counts this boot on the counter in `state` (the flash image must exist: the monitor's device
/// set-up creates it) and decides the mode. `trial_was_running`: boot control showed a trial
/// running when this power-on began; `booted_before`: boot control counted an earlier boot (a
/// blank counter is then a lost one); `fault`: the boot stage counts this boot as a reset
/// whatever the clean mark says (its cap on requested reboots), and why.
pub fn count_boot(
    system: &System,
    state: &Path,
    trial_was_running: bool,
    booted_before: bool,
    fault: Option<&str>,
) -> BootMode {
    let max_resets = system.max_resets;
    let Some(dev) = counter_device(system) else {
        return BootMode {
            mode: NodeMode::Normal,
            resets: None,
            max_resets,
            booted_before: false,
            note: "no reset counter in this description (no flash owned by the hardware watchdog's owner)".into(),
        };
    };
    let path = state.join(format!("{}.flash", dev.name));
    let counted = SimFlash::<4, 4096>::open(&path)
        .map_err(|e| e.to_string())
        .and_then(|mut flash| {
            let mut counter =
                ResetCounter::open(&mut flash, HEALTH_FLASH_LAYOUT).map_err(|e| e.to_string())?;
            if booted_before {
                counter.booted_before();
            }
            if fault.is_some() {
                counter.count_this_boot();
            }
            let first = counter.found() == watchdog::Found::Nothing;
            let before = match counter.found() {
                watchdog::Found::Nothing => false,
                watchdog::Found::Lost => true,
                watchdog::Found::Record => counter.record().commissioned,
            };
            let info = counter
                .boot(&mut flash, max_resets, trial_was_running)
                .map_err(|e| e.to_string())?;
            Ok((info, counter.counted() == Some(true), before, first))
        });
    match counted {
        Ok((BootInfo { mode, resets, .. }, counts, booted_before, first)) => BootMode {
            mode,
            resets: Some(resets),
            max_resets,
            booted_before,
            note: format!(
                "reset counter on {}; {}{}",
                dev.name,
                match (counts, trial_was_running) {
                    _ if first => "first boot".to_string(),
                    (true, _) if let Some(why) = fault =>
                        format!("this boot counted as a reset by the boot stage: {why}"),
                    (true, _) =>
                        "this boot counted as a reset (the last power cycle did not end cleanly)".to_string(),
                    (false, true) =>
                        "not counted: the last power cycle was a trial boot (boot control counts those)".to_string(),
                    (false, false) => "not counted: the last power cycle ended cleanly".to_string(),
                },
                if booted_before || first {
                    ""
                } else {
                    " (node not commissioned yet: no boot has reached every component answering)"
                }
            ),
        },
        Err(e) => BootMode {
            mode: BootInfo::COUNTER_UNAVAILABLE.mode,
            resets: Some(BootInfo::COUNTER_UNAVAILABLE.resets),
            max_resets,
            // Unknown: say "booted before", so no component takes a blank store for new.
            booted_before: true,
            note: format!(
                "reset counter on {} unusable ({e}); the cap cannot be enforced",
                dev.name
            ),
        },
    }
}

/// Whether the node on `state` has booted before, read without counting a boot or writing
/// anything: for host tools that open a component's store while the node is off (`spacenode
/// node-key`, the ground's identity helper), so they apply the same "never used or lost" rule
/// as the components. True if the reset counter shows the node commissioned or is lost
/// (present but unreadable), or if boot control (`boot.flash`) counted a boot; false only if
/// neither store shows any use.
pub fn has_booted_before(system: &System, state: &Path) -> bool {
    let counter = counter_device(system).is_some_and(|dev| {
        let path = state.join(format!("{}.flash", dev.name));
        path.exists()
            && SimFlash::<4, 4096>::open(&path).map_or(true, |mut flash| {
                ResetCounter::open(&mut flash, HEALTH_FLASH_LAYOUT).map_or(true, |c| {
                    match c.found() {
                        watchdog::Found::Nothing => false,
                        watchdog::Found::Lost => true,
                        watchdog::Found::Record => c.record().commissioned,
                    }
                })
            })
    });
    let boot_path = state.join("boot.flash");
    let booted = boot_path.exists()
        && std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&boot_path)
            .ok()
            .and_then(|f| crate::boot::open_from_file(f).ok())
            .is_none_or(|bc| hal::boot::BootControl::state(&bc).boot_count > 0);
    counter || booted
}

/// The power cycle ends on purpose: marks the counter in `state` so the next boot is not
/// counted. Call with every component stopped. Returns a line for the log: what was done, or
/// why nothing could be (then the next boot counts, the safe side).
pub fn mark_clean_power_off(system: &System, state: &Path) -> String {
    let Some(dev) = counter_device(system) else {
        return "no reset counter in this description".into();
    };
    let path = state.join(format!("{}.flash", dev.name));
    let marked = SimFlash::<4, 4096>::open(&path)
        .map_err(|e| e.to_string())
        .and_then(|mut flash| {
            ResetCounter::open(&mut flash, HEALTH_FLASH_LAYOUT)
                .and_then(|mut c| c.mark_clean_power_off(&mut flash))
                .map_err(|e| e.to_string())
        });
    match marked {
        Ok(()) => format!(
            "clean power-off marked on {}: the next boot is not counted as a reset",
            dev.name
        ),
        Err(e) => format!(
            "could not mark a clean power-off on {} ({e}): the next boot counts as a reset",
            dev.name
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::devices::FLASH_IMAGE_SIZE;
    use hal::flash::NorFlash;

    fn shipped() -> System {
        kernel_config::load(
            &kernel_config::shipped::description(),
            &kernel_config::shipped::board("sim").expect("sim"),
        )
        .expect("loads")
    }

    fn image(state: &Path) -> std::path::PathBuf {
        let path = state.join("health-flash.flash");
        SimFlash::<4, 4096>::open_or_create(&path, FLASH_IMAGE_SIZE).expect("image");
        path
    }

    #[test]
    fn every_boot_counts_and_the_boot_past_the_cap_is_safe_mode() {
        let s = shipped();
        assert_eq!(
            counter_device(&s).map(|d| d.name.as_str()),
            Some("health-flash")
        );
        let state = tempfile::tempdir().expect("tempdir");
        image(state.path());
        for resets in 0..=s.max_resets as u16 {
            let b = count_boot(&s, state.path(), false, false, None);
            assert_eq!(
                (b.mode, b.resets),
                (NodeMode::Normal, Some(resets)),
                "{b:?}"
            );
        }
        let b = count_boot(&s, state.path(), false, false, None);
        assert_eq!(
            (b.mode, b.resets),
            (NodeMode::Safe, Some(s.max_resets as u16 + 1))
        );
        assert_eq!(b.max_resets, s.max_resets);
    }

    #[test]
    fn clean_power_offs_and_trial_boots_are_not_counted() {
        let s = shipped();
        let state = tempfile::tempdir().expect("tempdir");
        image(state.path());
        assert_eq!(
            count_boot(&s, state.path(), false, false, None).resets,
            Some(0)
        );
        for _ in 0..=s.max_resets {
            let note = mark_clean_power_off(&s, state.path());
            assert!(note.contains("clean power-off marked"), "{note}");
            let b = count_boot(&s, state.path(), false, false, None);
            assert_eq!((b.mode, b.resets), (NodeMode::Normal, Some(0)), "{b:?}");
            assert!(b.note.contains("ended cleanly"), "{}", b.note);
            let b = count_boot(&s, state.path(), true, false, None);
            assert_eq!((b.mode, b.resets), (NodeMode::Normal, Some(0)), "{b:?}");
            assert!(b.note.contains("trial boot"), "{}", b.note);
        }
        let b = count_boot(&s, state.path(), false, false, None);
        assert_eq!(b.resets, Some(1), "an unmarked reset counts: {b:?}");
        assert!(b.note.contains("counted as a reset"), "{}", b.note);
    }

    #[test]
    fn a_boot_the_boot_stage_counts_is_counted_despite_the_clean_mark_and_the_trial() {
        let s = shipped();
        let state = tempfile::tempdir().expect("tempdir");
        image(state.path());
        assert_eq!(
            count_boot(&s, state.path(), false, false, None).resets,
            Some(0)
        );
        for (n, trial) in [(1u16, false), (2, true)] {
            let note = mark_clean_power_off(&s, state.path());
            assert!(note.contains("clean power-off marked"), "{note}");
            let b = count_boot(&s, state.path(), trial, false, Some("5 requested reboots"));
            assert_eq!(b.resets, Some(n), "{b:?}");
            assert!(
                b.note
                    .contains("counted as a reset by the boot stage: 5 requested reboots"),
                "{}",
                b.note
            );
        }
    }

    #[test]
    fn an_unusable_counter_boots_safe_mode_and_no_counter_boots_normal() {
        let s = shipped();
        let state = tempfile::tempdir().expect("tempdir");
        // No image at all: the counter cannot be used.
        let b = count_boot(&s, state.path(), false, false, None);
        assert_eq!(
            (b.mode, b.resets),
            (NodeMode::Safe, Some(u16::MAX)),
            "{b:?}"
        );
        assert!(b.note.contains("unusable"), "{}", b.note);
        // Both copies of a written record destroyed: taken as at the cap, so the next boot is
        // the one past it.
        let path = image(state.path());
        assert_eq!(
            count_boot(&s, state.path(), false, false, None).mode,
            NodeMode::Normal
        );
        let mut f = SimFlash::<4, 4096>::open(&path).expect("open");
        let mut sector = [0u8; 4096];
        for base in [0u32, 4096] {
            f.erase(base, base + 4096).expect("erase");
            sector.fill(0x5A);
            f.write(base, &sector).expect("write");
        }
        drop(f);
        let b = count_boot(&s, state.path(), false, false, None);
        assert_eq!(
            (b.mode, b.resets),
            (NodeMode::Normal, Some(s.max_resets as u16)),
            "a lost record is taken as at the cap: {b:?}"
        );
        assert_eq!(
            count_boot(&s, state.path(), false, false, None).mode,
            NodeMode::Safe
        );
        // A description whose watchdog owns no flash has no counter.
        let text = kernel_config::shipped::description()
            .text
            .replace(
                "devices = [\"hw-watchdog\", \"health-flash\"]",
                "devices = [\"hw-watchdog\"]",
            )
            .replace(
                "[[policy.device-owner]]\ndevice = \"health-flash\"\nowner = \"watchdog\"",
                "[[policy.device-owner]]\ndevice = \"hw-watchdog\"\nowner = \"watchdog\"",
            );
        let s2 = kernel_config::load(
            &kernel_config::Source::new("no-counter.toml", text),
            &kernel_config::shipped::board("sim").expect("sim"),
        )
        .expect("loads without the health flash");
        assert!(counter_device(&s2).is_none());
        let b = count_boot(&s2, state.path(), false, false, None);
        assert_eq!((b.mode, b.resets), (NodeMode::Normal, None));
    }
}
