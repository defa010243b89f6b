//! [`Registries`]: the live registry and a staging one, side by side, so that a change (an
//! admin command, the provisioning file) is built and written to flash in the staging registry
//! while the live one stays untouched, then becomes live by flipping an index, not by moving
//! 139 KB; and the one [`ParsedWallet`] slot batches parse wallets into, emptied whenever the
//! live registry changes.
//!
//! [`Registries::new`] is a `const fn`: a partition keeps its `Registries` in a `static`
//! (initialised at load time, never on the stack) and lends it to [`crate::node::Signer`].
//!
//! Only the signer changes them (`live_mut`, `split` and `promote` are crate-private): a
//! holder of a `Registries` can read the live registry and lend it, nothing else.
//!
//! Avoids: `unsafe`, copies of whole registries, and any state beyond the two slots and the
//! index.

use super::{ParsedWallet, Registry};

/// The live registry and a staging registry.
#[derive(Debug)]
pub struct Registries {
    slots: [Registry; 2],
    live: bool,
    parsed: ParsedWallet,
}

impl Default for Registries {
    fn default() -> Self {
        Self::new()
    }
}

impl Registries {
    /// Two empty registries.
    pub const fn new() -> Self {
        Self {
            slots: [Registry::new(), Registry::new()],
            live: false,
            parsed: ParsedWallet::new(),
        }
    }

    /// The live registry.
    pub fn live(&self) -> &Registry {
        let [a, b] = &self.slots;
        if self.live { b } else { a }
    }

    /// The live registry, mutably (to load it at boot).
    pub(crate) fn live_mut(&mut self) -> &mut Registry {
        self.parsed.clear();
        let [a, b] = &mut self.slots;
        if self.live { b } else { a }
    }

    /// The live registry and the staging one (whose contents are whatever was left there).
    pub(crate) fn split(&mut self) -> (&Registry, &mut Registry) {
        let [a, b] = &mut self.slots;
        if self.live { (b, a) } else { (a, b) }
    }

    /// The staging registry becomes the live one (and the old live one the staging one).
    pub(crate) fn promote(&mut self) {
        self.parsed.clear();
        self.live = !self.live;
    }

    /// The live registry and the parsed-wallet slot (for a batch step).
    pub(crate) fn live_and_parsed(&mut self) -> (&Registry, &mut ParsedWallet) {
        let [a, b] = &self.slots;
        let live = if self.live { b } else { a };
        (live, &mut self.parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The partition keeps its `Registries` in static memory: the wallet table must not make it
    /// grow past the bound its statics were sized for (measured: see the module docs of
    /// `registry`).
    #[test]
    fn the_registries_stay_within_their_static_memory_bound() {
        let size = core::mem::size_of::<Registries>();
        std::println!(
            "Registries {size} bytes, Registry {}, ParsedWallet {}",
            core::mem::size_of::<Registry>(),
            core::mem::size_of::<ParsedWallet>()
        );
        assert!(size <= 300 * 1024, "{size} bytes");
    }

    #[test]
    fn promote_swaps_live_and_staging_without_copying() {
        let mut r = Registries::new();
        let (_, staging) = r.split();
        let staging_addr: *const Registry = staging;
        staging.counter = 9;
        assert_eq!(r.live().admin_counter(), 0);
        r.promote();
        assert_eq!(r.live().admin_counter(), 9);
        assert!(core::ptr::eq(r.live(), staging_addr));
        let (_, staging) = r.split();
        assert_eq!(staging.admin_counter(), 0);
        r.promote();
        assert_eq!(r.live().admin_counter(), 0);
        r.live_mut().counter = 3;
        assert_eq!(r.live().admin_counter(), 3);
    }
}
