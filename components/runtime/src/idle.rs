//! The component of a partition whose application logic does not exist yet: it takes no
//! capability and does nothing; its partition still runs the event loop and answers pings.
//!
//! Avoids: pretending to do anything (the board's boot log says "no application logic yet").

use crate::caps::CapSet;
use crate::component::{Component, Context, InitError};
use crate::notify_set::NotifySet;

/// No application logic.
#[derive(Debug, Default)]
pub struct Idle;

impl Component for Idle {
    fn init(_caps: &mut CapSet, _cx: &mut Context) -> Result<Self, InitError> {
        Ok(Idle)
    }

    fn notified(&mut self, _set: NotifySet, _cx: &mut Context) {}
}
