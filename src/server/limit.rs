//! Per-user rate limit: a fixed one-minute window of calls per user, in memory (a restart
//! starts every window afresh, which only ever lets a user through sooner).
//!
//! Avoids: unbounded memory (windows of past minutes are dropped when a new minute starts).

use std::collections::HashMap;
use std::sync::Mutex;

/// Calls per user per minute.
pub struct Limiter {
    per_minute: u32,
    windows: Mutex<(u64, HashMap<String, u32>)>,
}

impl Limiter {
    /// A limiter of `per_minute` calls.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Mutex::new((0, HashMap::new())),
        }
    }

    /// Counts a call of `user` now; false when over the limit.
    pub fn allow(&self, user: &str) -> bool {
        self.allow_at(user, super::store::now().max(0) as u64 / 60)
    }

    fn allow_at(&self, user: &str, minute: u64) -> bool {
        let mut w = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if w.0 != minute {
            *w = (minute, HashMap::new());
        }
        let n = w.1.entry(user.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        *n <= self.per_minute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_user_has_its_own_window_and_a_new_minute_starts_afresh() {
        let l = Limiter::new(2);
        assert!(l.allow_at("a", 1) && l.allow_at("a", 1));
        assert!(!l.allow_at("a", 1));
        assert!(l.allow_at("b", 1));
        assert!(l.allow_at("a", 2));
    }
}
