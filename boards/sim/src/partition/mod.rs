//! The component side of the sim board: what a component process does between `exec` and the
//! first line of component code (boot block, grants, sandbox, seccomp), then the event loop.

pub mod bootblock;
pub mod sandbox;
pub mod seccomp;
