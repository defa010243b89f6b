//! The routing table, derived from the send capabilities the partition was granted.
//!
//! The monitor grants comms exactly the channels the system description gives it, so the
//! table is derived at start from **what the capability set holds**, not from a copy of the
//! description: for each message kind a forwarded command needs (`sign-request`,
//! `upgrade-chunk`, `admin-request`, `node-command`), every granted send channel of that kind is taken
//! ([`runtime::CapSet::find_send_kind`]) and numbered, and [`comms::router::RouteTable::build`]
//! makes the table of them (one → routes; none → `NoRoute`; several → `AmbiguousRoute`).
//! A command can therefore only ever be forwarded on a channel the partition holds.
//!
//!
//! The outlets also lend the node the staging buffer a chunked admin envelope is reassembled in
//! ([`comms::node::Forwarder::admin_staging`]): 4,000 bytes of static memory, taken once per
//! process like the buffers of [`crate::bufs`], and only if an `admin-request` channel is held.
//!
//! Avoids: channel names in code (only message kinds), the heap.

use comms::node::{ForwardError, Forwarder, Outbound};
use comms::router::{RouteTable, SendChannel};
use ipc::SendError;
use protocol::{ADMIN_COMMAND_MAX, AdminRequest, NodeCommand, SignRequest, UpgradeChunk};
use runtime::{CapError, CapSet, Tx};
use spin::{Mutex, MutexGuard};

static ADMIN_STAGING: Mutex<[u8; ADMIN_COMMAND_MAX]> = Mutex::new([0; ADMIN_COMMAND_MAX]);

/// Most forwarding channels held.
pub const MAX_FORWARD: usize = 5;

/// One held forwarding channel.
pub enum Outlet {
    /// A `sign-request` channel.
    Sign(Tx<SignRequest>),
    /// An `upgrade-chunk` channel.
    Upgrade(Tx<UpgradeChunk>),
    /// An `admin-request` channel.
    Admin(Tx<AdminRequest>),
    /// A `node-command` channel (to the watchdog).
    Node(Tx<NodeCommand>),
}

impl Outlet {
    fn kind(&self) -> &'static str {
        match self {
            Outlet::Sign(_) => "sign-request",
            Outlet::Upgrade(_) => "upgrade-chunk",
            Outlet::Admin(_) => "admin-request",
            Outlet::Node(_) => "node-command",
        }
    }
}

/// The forwarding channels held, indexed as the routing table numbers them.
pub struct Outlets {
    slots: [Option<Outlet>; MAX_FORWARD],
    staging: Option<MutexGuard<'static, [u8; ADMIN_COMMAND_MAX]>>,
    /// Forwards that failed for another reason than a full ring.
    pub failed: u32,
}

impl core::fmt::Display for Outlets {
    /// The channel kinds held, comma-separated (`none` when there are none).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut kinds = self.slots.iter().flatten().map(Outlet::kind);
        match kinds.next() {
            None => f.write_str("none"),
            Some(first) => {
                f.write_str(first)?;
                kinds.try_for_each(|k| write!(f, ", {k}"))
            }
        }
    }
}

/// Take every granted `sign-request`, `upgrade-chunk`, `admin-request` and `node-command` send
/// channel and build the table.
pub fn take(caps: &mut CapSet) -> Result<(Outlets, RouteTable), CapError> {
    let mut slots: [Option<Outlet>; MAX_FORWARD] = Default::default();
    let mut n = 0;
    while n < MAX_FORWARD {
        let Some(name) = caps.find_send_kind("sign-request") else {
            break;
        };
        slots[n] = Some(Outlet::Sign(caps.sender::<SignRequest>(name)?));
        n += 1;
    }
    while n < MAX_FORWARD {
        let Some(name) = caps.find_send_kind("upgrade-chunk") else {
            break;
        };
        slots[n] = Some(Outlet::Upgrade(caps.sender::<UpgradeChunk>(name)?));
        n += 1;
    }
    while n < MAX_FORWARD {
        let Some(name) = caps.find_send_kind("admin-request") else {
            break;
        };
        slots[n] = Some(Outlet::Admin(caps.sender::<AdminRequest>(name)?));
        n += 1;
    }
    while n < MAX_FORWARD {
        let Some(name) = caps.find_send_kind("node-command") else {
            break;
        };
        slots[n] = Some(Outlet::Node(caps.sender::<NodeCommand>(name)?));
        n += 1;
    }
    // The staging buffer only if an admin channel is held (and once per process: a second
    // instance gets none, and its admin envelopes are refused instead of aliasing the first's).
    let staging = slots
        .iter()
        .flatten()
        .any(|o| matches!(o, Outlet::Admin(_)))
        .then(|| ADMIN_STAGING.try_lock())
        .flatten();
    let table = RouteTable::build(slots.iter().enumerate().filter_map(|(index, s)| {
        s.as_ref().map(|o| SendChannel {
            index,
            kind: o.kind(),
        })
    }));
    Ok((
        Outlets {
            slots,
            staging,
            failed: 0,
        },
        table,
    ))
}

impl Outlets {
    /// The first held `sign-request` channel (batch intake sends on it).
    pub fn sign(&mut self) -> Option<&mut Tx<SignRequest>> {
        self.slots.iter_mut().flatten().find_map(|o| match o {
            Outlet::Sign(tx) => Some(tx),
            Outlet::Upgrade(_) | Outlet::Admin(_) | Outlet::Node(_) => None,
        })
    }
}

fn map(r: Result<(), SendError>) -> Result<(), ForwardError> {
    match r {
        // Published; only the wake-up failed: the receiver finds it on its next notification.
        Ok(()) | Err(SendError::Notify(_)) => Ok(()),
        Err(SendError::Full) => Err(ForwardError::Full),
        Err(_) => Err(ForwardError::Failed),
    }
}

impl Forwarder for Outlets {
    fn forward(&mut self, channel: usize, msg: Outbound<'_>) -> Result<(), ForwardError> {
        let r = match (self.slots.get_mut(channel), msg) {
            (Some(Some(Outlet::Sign(tx))), Outbound::Sign(m)) => map(tx.try_send(m)),
            (Some(Some(Outlet::Upgrade(tx))), Outbound::Upgrade(m)) => map(tx.try_send(m)),
            (Some(Some(Outlet::Admin(tx))), Outbound::Admin(m)) => map(tx.try_send(m)),
            (Some(Some(Outlet::Node(tx))), Outbound::Node(m)) => map(tx.try_send(m)),
            // The table only routes a kind to a channel of that kind; anything else is a bug
            // reported as a failed forward, not a crash.
            _ => Err(ForwardError::Failed),
        };
        if r == Err(ForwardError::Failed) {
            self.failed = self.failed.wrapping_add(1);
        }
        r
    }

    fn admin_staging(&mut self) -> Option<&mut [u8]> {
        self.staging.as_deref_mut().map(|b| &mut b[..])
    }
}
