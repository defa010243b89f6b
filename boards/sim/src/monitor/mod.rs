//! The monitor: the sim board's root task.

pub mod exit;
pub mod logs;
pub mod spawn;
