//! Deciding whether a restart request is executed: the checks the monitor makes before it acts.
//!
//! The request arrived on the restart channel, so it comes from that channel's sender (the only
//! holder of the capability, `watchdog` in the shipped description). The monitor still refuses:
//! - an unknown component id → `UnknownComponent`;
//! - the root task (the monitor itself) or the requester itself → `NotAllowed`;
//! - a component whose policy is `hold` → `NotRestartable`;
//! - a component that used up `max-restarts` within `window-s` → `BudgetExhausted`
//!   (the watchdog is expected to escalate; the monitor does not restart forever).
//!
//! Avoids: any timing or back-off decision (the watchdog's job); this only guards the budget
//! the description sets, as a second line of defence.

use kernel_config::System;
use kernel_config::model::{ComponentId, RestartPolicy};
use protocol::RestartRefusal;
use std::collections::VecDeque;
use std::time::Duration;

/// Restart history of one component (board-clock instants in microseconds).
#[derive(Debug, Default, Clone)]
pub struct History {
    times_us: VecDeque<u64>,
    /// Restarts since power-on.
    pub total: u16,
}

impl History {
    /// Records a restart at `now_us`.
    pub fn record(&mut self, now_us: u64) {
        self.times_us.push_back(now_us);
        self.total = self.total.saturating_add(1);
        while self.times_us.len() > 1024 {
            self.times_us.pop_front();
        }
    }

    fn within(&self, now_us: u64, window: Duration) -> usize {
        let w = u64::try_from(window.as_micros()).unwrap_or(u64::MAX);
        self.times_us
            .iter()
            .filter(|&&t| now_us.saturating_sub(t) < w)
            .count()
    }
}

/// Checks a request from `requester` to restart the component with wire id `target`.
/// Returns the component index, or why not.
pub fn check(
    system: &System,
    requester: ComponentId,
    target: u8,
    history: &[History],
    now_us: u64,
) -> Result<ComponentId, RestartRefusal> {
    let c = usize::from(target);
    let comp = system
        .components
        .get(c)
        .ok_or(RestartRefusal::UnknownComponent)?;
    if comp.root || c == requester {
        return Err(RestartRefusal::NotAllowed);
    }
    match &comp.restart {
        None | Some(RestartPolicy::Hold) => Err(RestartRefusal::NotRestartable),
        Some(RestartPolicy::Restart {
            max_restarts,
            window_s,
            ..
        }) => {
            let used = history
                .get(c)
                .map(|h| h.within(now_us, Duration::from_secs(u64::from(*window_s))))
                .unwrap_or(0);
            if used >= *max_restarts as usize {
                Err(RestartRefusal::BudgetExhausted)
            } else {
                Ok(c)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel_config::shipped;

    #[test]
    fn unknown_root_self_and_budget_are_refused() {
        let s = kernel_config::load(
            &shipped::description(),
            &shipped::board("sim").expect("sim"),
        )
        .expect("loads");
        let wd = s.component("watchdog").expect("watchdog").id;
        let signer = s.component("signer").expect("signer").id as u8;
        let mut h = vec![History::default(); s.components.len()];
        assert_eq!(
            check(&s, wd, 200, &h, 0),
            Err(RestartRefusal::UnknownComponent)
        );
        assert_eq!(check(&s, wd, 0, &h, 0), Err(RestartRefusal::NotAllowed));
        assert_eq!(
            check(&s, wd, wd as u8, &h, 0),
            Err(RestartRefusal::NotAllowed)
        );
        // signer: max 5 restarts in 600 s.
        for i in 0..5 {
            assert_eq!(check(&s, wd, signer, &h, i), Ok(usize::from(signer)));
            h[usize::from(signer)].record(i);
        }
        assert_eq!(
            check(&s, wd, signer, &h, 10),
            Err(RestartRefusal::BudgetExhausted)
        );
        let later = 601 * 1_000_000;
        assert_eq!(check(&s, wd, signer, &h, later), Ok(usize::from(signer)));
        assert_eq!(h[usize::from(signer)].total, 5);
    }
}
