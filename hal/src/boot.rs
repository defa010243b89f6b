//! Boot control: two image slots (A/B), a confirmed slot, and trial boots that roll back.
//!
//! The model (the same as MCUboot's test/confirm and U-Boot's bootcount):
//!
//! - The board has two image slots, [`Slot::A`] and [`Slot::B`]. One is **confirmed**: the image
//!   known to work, booted by default. A fresh board has slot A confirmed.
//! - The upgrade agent writes a new image into the other slot, then calls
//!   [`BootControl::request_trial`] with a number of **attempts**. Nothing changes for the running
//!   image; the request only takes effect at the next power-on.
//! - At every power-on, before any image code runs, the bootloader (the monitor on the sim board)
//!   calls [`BootControl::select_boot`] exactly once:
//!   - a pending trial with attempts left: one attempt is **counted on flash first**, then the
//!     trial slot is booted ([`BootReason::Trial`]);
//!   - a pending trial with no attempts left: the trial is dropped and the confirmed slot is
//!     booted ([`BootReason::RolledBack`]);
//!   - otherwise the confirmed slot is booted ([`BootReason::Normal`]).
//! - The new image, once it judges itself healthy (the watchdog's "healthy for T seconds"), calls
//!   [`BootControl::confirm`] with its manifest's security counter: its slot becomes the
//!   confirmed slot and the stored **security counter** rises to that value in the same persisted
//!   step (never before the confirm: a counter raised earlier would block the rollback, MCUboot
//!   PR #2282). The boot stage never runs an image whose security counter is below the stored
//!   one. If it never confirms (it
//!   hangs, crashes, or the hardware watchdog resets the board), each further power-on uses up an
//!   attempt, and when they are gone the board rolls back by itself.
//! - [`BootControl::cancel_trial`] drops a pending or running trial: the next power-on boots the
//!   confirmed slot (an image that finds itself unhealthy rejects itself this way).
//! - Every clean reboot the running software asked for (a reboot request, not a watchdog reset) is
//!   counted by the bootloader at the next power-on ([`BootControl::count_clean_reboot`]); a
//!   confirm that raises the security counter starts the count over (a confirm at the same
//!   counter does not: software that can confirm would otherwise loop trial -> confirm -> trial
//!   between two signed images without ever reaching the cap). Past [`MAX_CLEAN_REBOOTS`] the
//!   bootloader treats each further one as a fault reset, so requested reboots cannot loop
//!   forever unseen by the reset cap.
//! - A bootloader that verifies images may refuse the slot `select_boot` chose and boot the other
//!   one instead. It then calls [`BootControl::record_fallback`] before that image runs, so that
//!   `booted` is always the slot whose image actually runs: a refused trial slot is rolled back
//!   ([`BootReason::RolledBack`]); a refused confirmed slot makes the other slot, the only one
//!   that verified, the confirmed one ([`BootReason::Fallback`]), so an upgrade overwrites the
//!   damaged slot and never the image that runs.
//!
//! Failure modes every implementation documents and the `store` implementation guarantees:
//! - **Power loss during any operation** leaves the state either exactly as before the call or
//!   exactly as after it. An attempt is counted before the trial image runs, so a trial image
//!   that resets the board in a loop always runs out of attempts.
//! - **Storage failure** returns [`BootControlError::Storage`] with nothing changed in memory. If
//!   `select_boot` fails, the bootloader boots `state().confirmed`: a trial is never attempted
//!   unless its attempt was counted.
//! - **State unreadable** (both copies of the boot record corrupt) is reported by the
//!   implementation's constructor; what a board does then (fall back to slot A) is the board's
//!   documented decision, reported as [`BootReason::Recovered`].

/// One of the two image slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    /// Slot A (holds the factory image on a fresh board).
    A,
    /// Slot B.
    B,
}

impl Slot {
    /// The other slot.
    pub const fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }
}

/// Why the running image was booted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BootReason {
    /// The confirmed slot, no trial pending.
    Normal,
    /// A trial boot of a not-yet-confirmed image (one attempt was counted).
    Trial,
    /// A trial ran out of attempts without being confirmed; the confirmed slot was booted.
    RolledBack,
    /// The boot control state was unreadable and was reset to its factory state (slot A).
    Recovered,
    /// The bootloader refused the confirmed slot (its image did not verify) and booted the other
    /// slot, which is now the confirmed one ([`BootControl::record_fallback`]).
    Fallback,
}

/// A pending or running trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Trial {
    /// The slot on trial (never the confirmed slot).
    pub slot: Slot,
    /// Boots of `slot` still allowed before the board rolls back.
    pub attempts_left: u8,
}

/// The boot control state as last persisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BootState {
    /// The known-good slot.
    pub confirmed: Slot,
    /// The slot booted at the last `select_boot` (the running image's slot).
    pub booted: Slot,
    /// Why `booted` was chosen.
    pub reason: BootReason,
    /// A trial that is pending (takes effect next power-on) or running (`booted == slot` and
    /// `reason == Trial`), if any.
    pub trial: Option<Trial>,
    /// Number of `select_boot` calls recorded since the state was created (wraps at `u32::MAX`).
    pub boot_count: u32,
    /// The security counter of the last confirmed image: the boot stage refuses any image whose
    /// signed security counter is lower. Raised only by [`BootControl::confirm`], never lowered.
    pub security_counter: u64,
    /// Clean reboots the running software asked for since the last confirm that raised the
    /// security counter (saturating), counted
    /// by the bootloader ([`BootControl::count_clean_reboot`]); past [`MAX_CLEAN_REBOOTS`] each
    /// further one counts as a fault reset.
    pub clean_reboots: u8,
}

impl BootState {
    /// A fresh board: slot A confirmed and booted, no trial.
    pub const FACTORY: BootState = BootState {
        confirmed: Slot::A,
        booted: Slot::A,
        reason: BootReason::Normal,
        trial: None,
        boot_count: 0,
        security_counter: 0,
        clean_reboots: 0,
    };

    /// True when the running image is on trial and has not been confirmed or cancelled.
    pub fn trial_running(&self) -> bool {
        self.reason == BootReason::Trial && self.trial.is_some_and(|t| t.slot == self.booted)
    }
}

/// Largest number of attempts [`BootControl::request_trial`] accepts.
pub const MAX_TRIAL_ATTEMPTS: u8 = 16;

/// Clean reboots the running software may ask for without a confirm that raises the security
/// counter in between. An upgrade needs one (into the trial) and a rejected one two (into the
/// trial, back out); the cap allows a few failed upgrades, or upgrades that keep the security
/// counter, in a row (further ones count as fault resets, which a healthy node clears). Beyond it, the bootloader counts each further clean reboot
/// as a fault reset (towards safe mode), so software that can request reboots (a compromised
/// upgrade agent) cannot reboot the node forever without the reset cap seeing it.
pub const MAX_CLEAN_REBOOTS: u8 = 4;

/// Why a boot control operation was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootControlError<E> {
    /// `request_trial` of the slot that is already confirmed.
    SlotIsConfirmed(Slot),
    /// `request_trial` with attempts outside `1..=MAX_TRIAL_ATTEMPTS`.
    InvalidAttempts(u8),
    /// `request_trial` while the running image is itself on trial: confirm or cancel first.
    TrialRunning,
    /// `confirm` when the running image is not on trial (nothing to confirm).
    NotInTrial,
    /// `select_boot` called a second time in one power cycle.
    AlreadySelected,
    /// `record_fallback` before `select_boot` in this power cycle.
    NotSelected,
    /// The persistent storage failed; nothing changed.
    Storage(E),
}

impl<E: core::fmt::Display> core::fmt::Display for BootControlError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BootControlError::SlotIsConfirmed(s) => {
                write!(
                    f,
                    "slot {s:?} is already the confirmed slot; a trial needs the other one"
                )
            }
            BootControlError::InvalidAttempts(n) => {
                write!(
                    f,
                    "{n} trial attempts requested; allowed: 1..={MAX_TRIAL_ATTEMPTS}"
                )
            }
            BootControlError::TrialRunning => {
                f.write_str("the running image is on trial: confirm or cancel it first")
            }
            BootControlError::NotInTrial => f.write_str("the running image is not on trial"),
            BootControlError::AlreadySelected => {
                f.write_str("the boot slot was already selected in this power cycle")
            }
            BootControlError::NotSelected => {
                f.write_str("no boot slot was selected in this power cycle: call select_boot first")
            }
            BootControlError::Storage(e) => write!(f, "boot control storage failed: {e}"),
        }
    }
}

impl<E: core::fmt::Debug + core::fmt::Display> core::error::Error for BootControlError<E> {}

/// Persistent A/B boot control. See the module docs for the model and failure modes.
pub trait BootControl {
    /// Storage error.
    type Error: core::fmt::Debug + core::fmt::Display;

    /// The state as last persisted (cheap: no storage access).
    fn state(&self) -> BootState;

    /// Bootloader step, once per power-on before any image runs: choose the slot to boot and
    /// persist the choice (counting a trial attempt first). On `Err`, boot `state().confirmed`.
    fn select_boot(&mut self) -> Result<Slot, BootControlError<Self::Error>>;

    /// Ask for `slot` to be tried at the next power-ons, at most `attempts` times.
    fn request_trial(
        &mut self,
        slot: Slot,
        attempts: u8,
    ) -> Result<(), BootControlError<Self::Error>>;

    /// Drop a pending or running trial; the next power-on boots the confirmed slot.
    /// Does nothing (and writes nothing) when no trial exists.
    fn cancel_trial(&mut self) -> Result<(), BootControlError<Self::Error>>;

    /// Bootloader step, after `select_boot` in the same power cycle, when the selected slot did not
    /// verify and `slot` (the other one) boots instead: record `slot` as booted, drop any trial,
    /// and make `slot` the confirmed slot, in one persisted step. Reason [`BootReason::RolledBack`]
    /// when `slot` was already the confirmed one (a refused trial), else
    /// [`BootReason::Fallback`]. Nothing is written when `slot` is already the booted one.
    fn record_fallback(&mut self, slot: Slot) -> Result<(), BootControlError<Self::Error>>;

    /// Bootloader step, at a power-on after a clean reboot that the running software requested:
    /// count it and return the number since the last confirm that raised the security counter
    /// (saturating at `u8::MAX`). Above
    /// [`MAX_CLEAN_REBOOTS`] the bootloader counts this boot as a fault reset.
    fn count_clean_reboot(&mut self) -> Result<u8, BootControlError<Self::Error>>;

    /// Make the running trial image the confirmed one and raise the stored security counter to
    /// `security_counter` (the confirmed image's signed counter) in the same persisted step. A
    /// lower value leaves the counter as it is (it never goes down). The count of clean reboots
    /// starts over only when the counter rises (a confirm at the same counter could be repeated
    /// between two signed images by software that may confirm, and never reach the cap).
    fn confirm(&mut self, security_counter: u64) -> Result<(), BootControlError<Self::Error>>;
}

impl core::fmt::Display for Slot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Slot::A => "A",
            Slot::B => "B",
        })
    }
}

impl core::fmt::Display for BootReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            BootReason::Normal => "normal",
            BootReason::Trial => "trial",
            BootReason::RolledBack => "rolled back",
            BootReason::Recovered => "boot control recovered to its factory state",
            BootReason::Fallback => "fallback: the confirmed slot did not verify",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_other_and_trial_running() {
        assert_eq!(Slot::A.other(), Slot::B);
        assert_eq!(Slot::B.other(), Slot::A);
        let mut s = BootState::FACTORY;
        assert!(!s.trial_running());
        s.trial = Some(Trial {
            slot: Slot::B,
            attempts_left: 2,
        });
        assert!(!s.trial_running(), "pending, not running");
        s.booted = Slot::B;
        s.reason = BootReason::Trial;
        assert!(s.trial_running());
    }
}
