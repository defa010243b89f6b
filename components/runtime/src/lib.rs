//! The spacenode component programming model, in the style of seL4 Microkit's handlers.
//!
//! A component is a type implementing [`Component`]: [`Component::init`] builds it from the
//! capability set the board hands it ([`CapSet`]: the channel endpoints and devices the system
//! description grants this component, looked up by the names the description gives them, each
//! takeable once), and [`Component::notified`] is called with the set of sources that fired
//! ([`NotifySet`]: its receive channels, device interrupts, its own timer). Nothing else reaches a
//! component: there is no way to open a channel by name, only to take a granted one.
//!
//! The event loop ([`event_loop::run`]) waits on a board's [`WaitBackend`] (eventfds and `ppoll`
//! on the sim board, seL4 notifications on the flight board) and, between handler calls,
//! **answers the watchdog's pings itself** from the component's ping channel with the
//! component's progress counters. A handler that never returns therefore misses its pings, which
//! is exactly what the watchdog must see.
//!
//! Component code depends on `runtime`, `ipc`, `protocol` and `hal` only.
//!
//! Avoids: `std`, the heap, threads, and any OS call: the board's backend does the waiting.
#![no_std]

pub mod backend;
pub mod caps;
pub mod component;
pub mod drivers;
pub mod event_loop;
pub mod heartbeat;
pub mod idle;
pub mod notify_set;
pub mod radio_link;
pub mod standby_link;

pub use backend::{WaitBackend, WaitError};
pub use caps::{CapError, CapSet, CapSetBuilder, DeviceCap, MAX_CAPS, SEED_LEN};
pub use component::{Component, Context, InitError};
pub use drivers::{BootDrivers, DriverError, Drivers, LinkDrivers, WatchdogDrivers};
pub use event_loop::{RunError, run};
pub use heartbeat::Heartbeat;
pub use idle::Idle;
pub use notify_set::{NotifySet, Source};
pub use radio_link::{CcsdsLink, RadioLink};
pub use standby_link::StandbyLink;

/// A sending endpoint as components hold it: signals the receiver through the board's
/// notification object.
pub type Tx<M> = ipc::Sender<'static, M, &'static dyn ipc::Notify>;
/// A receiving endpoint as components hold it.
pub type Rx<M> = ipc::Receiver<'static, M>;
