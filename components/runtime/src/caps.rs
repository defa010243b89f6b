//! The capability set: the channel endpoints and devices the system description grants one
//! component, and nothing else.
//!
//! The board builds it with [`CapSetBuilder`] from the grants it mapped (on the sim board: the
//! regions and eventfds the monitor passed), then hands the component a `&mut CapSet` in
//! [`crate::Component::init`]. The component takes each capability by the name the description
//! gives it, at most once: [`CapSet::sender`], [`CapSet::receiver`], [`CapSet::device`]. A name
//! that was not granted, a capability of another kind (asking to send on a channel the component
//! receives on) or one taken twice is a [`CapError`]. The endpoint types check the message type
//! against the channel's kind and slot size (`ipc`'s `EndpointError`).
//!
//! Whether a receiver is zero-copy or copy-in is decided by the board from the description
//! (integrity levels and `copy-in`), not by the component: [`CapSet::receiver`] returns a copy-in
//! receiver whenever the capability says the sender is untrusted.
//!
//! Besides capabilities, the board hands every component two facts about this start:
//! - a **fresh random seed** ([`CapSet::take_seed`], 32 bytes, different at every start of every
//!   component), for components that need unpredictable values (the watchdog's ping nonces) but
//!   do not own the board's RNG device. The component seeds its own DRBG with it. On the sim
//!   board the monitor draws it with `getrandom` and passes it in the sealed boot block; on seL4
//!   the root task writes it into the protection domain's memory before starting it (a Microkit
//!   `setvar`-style patched variable), so in both cases it exists before any component code runs
//!   and no other partition sees it;
//! - the **node mode** ([`CapSet::node_mode`]): normal, or safe mode (the reset cap was passed
//!   and only the `safe-mode` components were started);
//! - what the **radio speaks** ([`CapSet::radio_link`]), from the description's `[link]`
//!   section (comms' units unless the board says otherwise).
//!
//! Avoids: the heap (a fixed table of [`MAX_CAPS`] entries), global state, and any way to make
//! a capability from a name, a number or an address.

use crate::notify_set::Source;
use crate::{Rx, Tx};
use ipc::{EndpointError, Notify, Receiver, RecvCap, SendCap, Sender, SenderTrust, Wire};
use protocol::{ComponentId, NodeMode};

/// Most capabilities one component can hold.
pub const MAX_CAPS: usize = 48;

/// A device granted to the component: its name and kind from the description, the board's
/// handle for it (on the sim board a descriptor number, on seL4 a mapped address) and its
/// interrupt source, if it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceCap {
    /// Device name in the board file.
    pub name: &'static str,
    /// Device kind (`flash`, `uart`, `radio`, ...).
    pub kind: &'static str,
    /// Board-specific handles (unused entries are `-1`); only the board's driver glue interprets
    /// them.
    pub handles: [i32; 2],
    /// The source that fires when the device needs attention, if any.
    pub source: Option<Source>,
}

enum Cap {
    Send {
        name: &'static str,
        cap: SendCap<'static>,
        notify: &'static dyn Notify,
    },
    Recv {
        name: &'static str,
        cap: RecvCap<'static>,
        scratch: Option<&'static mut [u64]>,
        source: Source,
    },
    Device(DeviceCap),
}

impl Cap {
    fn name(&self) -> &'static str {
        match self {
            Cap::Send { name, .. } | Cap::Recv { name, .. } => name,
            Cap::Device(d) => d.name,
        }
    }
}

/// Why a capability could not be taken or granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapError {
    /// Nothing of the requested name is granted to this component.
    NotGranted,
    /// The capability was already taken.
    AlreadyTaken(&'static str),
    /// The capability exists but is of another kind (e.g. a receive end asked for as a sender).
    WrongKind(&'static str),
    /// The endpoint could not be made (message type or channel geometry).
    Endpoint(EndpointError),
    /// A copy-in receiver was needed but the board gave no private buffer.
    NoScratch(&'static str),
    /// The board granted more than [`MAX_CAPS`] capabilities, or a name twice.
    TableFull,
}

impl core::fmt::Display for CapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CapError::NotGranted => {
                f.write_str("no capability of that name is granted to this component")
            }
            CapError::AlreadyTaken(n) => write!(f, "`{n}` was already taken"),
            CapError::WrongKind(n) => {
                write!(f, "`{n}` is granted, but as another kind of capability")
            }
            CapError::Endpoint(e) => write!(f, "endpoint: {e}"),
            CapError::NoScratch(n) => {
                write!(f, "`{n}` needs a copy-in buffer the board did not provide")
            }
            CapError::TableFull => f.write_str("capability table full or name granted twice"),
        }
    }
}

impl core::error::Error for CapError {}

/// The capabilities of one component.
pub struct CapSet {
    component: ComponentId,
    caps: heapless::Vec<Option<Cap>, MAX_CAPS>,
    names: heapless::Vec<&'static str, MAX_CAPS>,
    seed: Option<[u8; SEED_LEN]>,
    mode: NodeMode,
    booted_before: bool,
    radio_link: crate::RadioLink,
    peers: heapless::Vec<(&'static str, ComponentId), MAX_CAPS>,
}

/// Length of the per-start random seed ([`CapSet::take_seed`]).
pub const SEED_LEN: usize = 32;

/// Builds a [`CapSet`]; used by the board, never by component code.
pub struct CapSetBuilder {
    set: CapSet,
}

impl CapSetBuilder {
    /// An empty set for component `component`.
    pub fn new(component: ComponentId) -> Self {
        CapSetBuilder {
            set: CapSet {
                component,
                caps: heapless::Vec::new(),
                names: heapless::Vec::new(),
                seed: None,
                mode: NodeMode::Normal,
                booted_before: false,
                radio_link: crate::RadioLink::Units,
                peers: heapless::Vec::new(),
            },
        }
    }

    /// Hands the component this start's random seed (see the module docs).
    pub fn seed(&mut self, seed: [u8; SEED_LEN]) {
        self.set.seed = Some(seed);
    }

    /// Tells the component the node's mode in this boot (normal if never called).
    pub fn node_mode(&mut self, mode: NodeMode) {
        self.set.mode = mode;
    }

    /// Tells the component the node has booted before this power cycle (a first boot if never
    /// called).
    pub fn booted_before(&mut self, booted_before: bool) {
        self.set.booted_before = booted_before;
    }

    /// Tells the component what the radio speaks (comms' units if never called).
    pub fn radio_link(&mut self, link: crate::RadioLink) {
        self.set.radio_link = link;
    }

    /// Tells the component which component is at the other end of channel `channel` (its id in
    /// the description, as the watchdog's health reports name it).
    pub fn peer(&mut self, channel: &'static str, id: ComponentId) -> Result<(), CapError> {
        self.set
            .peers
            .push((channel, id))
            .map_err(|_| CapError::TableFull)
    }

    fn push(&mut self, cap: Cap) -> Result<(), CapError> {
        let name = cap.name();
        if self.set.names.contains(&name) {
            return Err(CapError::TableFull);
        }
        self.set.names.push(name).map_err(|_| CapError::TableFull)?;
        self.set
            .caps
            .push(Some(cap))
            .map_err(|_| CapError::TableFull)
    }

    /// Grants the send end of channel `name`, signalling `notify`.
    pub fn sender(
        &mut self,
        name: &'static str,
        cap: SendCap<'static>,
        notify: &'static dyn Notify,
    ) -> Result<(), CapError> {
        self.push(Cap::Send { name, cap, notify })
    }

    /// Grants the receive end of channel `name`, firing `source`. `scratch` is the private copy
    /// buffer (at least `ipc::scratch_words(slot_size)` words) for a copy-in receiver.
    pub fn receiver(
        &mut self,
        name: &'static str,
        cap: RecvCap<'static>,
        scratch: Option<&'static mut [u64]>,
        source: Source,
    ) -> Result<(), CapError> {
        self.push(Cap::Recv {
            name,
            cap,
            scratch,
            source,
        })
    }

    /// Grants a device.
    pub fn device(&mut self, device: DeviceCap) -> Result<(), CapError> {
        self.push(Cap::Device(device))
    }

    /// The finished set.
    pub fn build(self) -> CapSet {
        self.set
    }
}

impl CapSet {
    /// The component these capabilities belong to (its id in the description).
    pub fn component(&self) -> ComponentId {
        self.component
    }

    /// Takes this start's random seed: `Some` once (if the board gave one), then `None`, so only
    /// one DRBG is ever seeded from it. The caller should seed its generator and drop the copy.
    pub fn take_seed(&mut self) -> Option<[u8; SEED_LEN]> {
        let seed = self.seed;
        if let Some(s) = self.seed.as_mut() {
            // Overwrite the stored copy so it is not left behind in the set.
            *s = [0; SEED_LEN];
        }
        self.seed = None;
        seed
    }

    /// The node's mode in this boot.
    pub fn node_mode(&self) -> NodeMode {
        self.mode
    }

    /// Whether the node has booted before this power cycle, as the board knows it from records
    /// on other devices than the component's own: a store a component finds blank on such a
    /// node was lost (erased, worn out), not never used, and must not be taken for new.
    pub fn booted_before(&self) -> bool {
        self.booted_before
    }

    /// What the radio speaks, from the description's `[link]` section.
    pub fn radio_link(&self) -> crate::RadioLink {
        self.radio_link
    }

    /// The component at the other end of channel `channel`, if the board said
    /// ([`CapSetBuilder::peer`]); taken or not.
    pub fn peer(&self, channel: &str) -> Option<ComponentId> {
        self.peers
            .iter()
            .find_map(|&(n, id)| (n == channel).then_some(id))
    }

    fn slot(&mut self, name: &str) -> Result<(usize, &'static str), CapError> {
        let i = self
            .names
            .iter()
            .position(|n| *n == name)
            .ok_or(CapError::NotGranted)?;
        let stored = self.names[i];
        match self.caps.get(i) {
            Some(Some(_)) => Ok((i, stored)),
            _ => Err(CapError::AlreadyTaken(stored)),
        }
    }

    /// Takes the send end of channel `name` as a sender of `M`.
    pub fn sender<M: Wire>(&mut self, name: &str) -> Result<Tx<M>, CapError> {
        let (i, stored) = self.slot(name)?;
        if !matches!(self.caps[i], Some(Cap::Send { .. })) {
            return Err(CapError::WrongKind(stored));
        }
        match self.caps[i].take() {
            Some(Cap::Send { cap, notify, .. }) => {
                Sender::new(cap, notify).map_err(CapError::Endpoint)
            }
            _ => Err(CapError::WrongKind(stored)),
        }
    }

    /// Takes the receive end of channel `name` as a receiver of `M`, with the source that fires
    /// when a message arrives. Copy-in if the board marked the sender untrusted.
    pub fn receiver<M: Wire>(&mut self, name: &str) -> Result<(Rx<M>, Source), CapError> {
        let (i, stored) = self.slot(name)?;
        if !matches!(self.caps[i], Some(Cap::Recv { .. })) {
            return Err(CapError::WrongKind(stored));
        }
        match self.caps[i].take() {
            Some(Cap::Recv {
                cap,
                scratch,
                source,
                ..
            }) => {
                let rx = match (cap.trust(), scratch) {
                    (SenderTrust::Trusted, _) => Receiver::zero_copy(cap),
                    (SenderTrust::Untrusted, Some(buf)) => Receiver::copy_in(cap, buf),
                    (SenderTrust::Untrusted, None) => return Err(CapError::NoScratch(stored)),
                };
                rx.map(|rx| (rx, source)).map_err(CapError::Endpoint)
            }
            _ => Err(CapError::WrongKind(stored)),
        }
    }

    /// Takes device `name`.
    pub fn device(&mut self, name: &str) -> Result<DeviceCap, CapError> {
        let (i, stored) = self.slot(name)?;
        if !matches!(self.caps[i], Some(Cap::Device(_))) {
            return Err(CapError::WrongKind(stored));
        }
        match self.caps[i].take() {
            Some(Cap::Device(d)) => Ok(d),
            _ => Err(CapError::WrongKind(stored)),
        }
    }

    /// The name of the first untaken receive channel carrying messages of kind `kind`
    /// (the runtime finds the ping channel this way).
    pub fn find_receive_kind(&self, kind: &str) -> Option<&'static str> {
        self.caps
            .iter()
            .zip(&self.names)
            .find_map(|(c, n)| match c {
                Some(Cap::Recv { cap, .. }) if cap.spec().kind() == kind => Some(*n),
                _ => None,
            })
    }

    /// The name of the first untaken send channel carrying messages of kind `kind`.
    pub fn find_send_kind(&self, kind: &str) -> Option<&'static str> {
        self.caps
            .iter()
            .zip(&self.names)
            .find_map(|(c, n)| match c {
                Some(Cap::Send { cap, .. }) if cap.spec().kind() == kind => Some(*n),
                _ => None,
            })
    }

    /// Names of the capabilities not taken (yet).
    pub fn untaken(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.caps
            .iter()
            .zip(&self.names)
            .filter(|(c, _)| c.is_some())
            .map(|(_, n)| *n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_is_taken_once_and_the_mode_defaults_to_normal() {
        let mut b = CapSetBuilder::new(ComponentId(2));
        b.seed([7; SEED_LEN]);
        let mut set = b.build();
        assert_eq!(set.node_mode(), NodeMode::Normal);
        assert_eq!(set.take_seed(), Some([7; SEED_LEN]));
        assert_eq!(
            set.take_seed(),
            None,
            "a second DRBG cannot get the same seed"
        );

        let mut b = CapSetBuilder::new(ComponentId(2));
        b.node_mode(NodeMode::Safe);
        let mut set = b.build();
        assert_eq!(set.node_mode(), NodeMode::Safe);
        assert_eq!(set.take_seed(), None, "no seed unless the board gave one");
    }
}
