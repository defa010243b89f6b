//! In-process transfers between a [`Sender`] and a node [`Receiver`] on a sim flash, over a
//! seeded lossy channel in virtual time (no sleeping, deterministic).

mod harness;
mod robustness;
mod slow_link;
mod transfer;
mod udp;
