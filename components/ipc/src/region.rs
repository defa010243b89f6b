//! Channel regions and the capabilities that are the only way to make endpoints.
//!
//! A [`Region`] is a channel's shared memory, checked against its [`ChannelSpec`]. It can only be
//! made by [`Region::init`] / [`Region::attach`], which are `unsafe` and state the contract the
//! runtime must uphold when it maps a region, or by [`Region::local`] over memory borrowed
//! exclusively (both ends then live in this address space). A region is turned into capabilities,
//! [`SendCap`] and [`RecvCap`]: neither can be copied, cloned or built from an address, a name or
//! a number, so component code can only use the ones the runtime hands it.
//!
//! Avoids: any global registry of channels, lookup by name, and re-reading the header after the
//! checks at attach time (the peer can rewrite it at any moment).

use core::marker::PhantomData;
use core::ptr::NonNull;
use core::sync::atomic::AtomicU32;

use crate::error::RegionError;
use crate::layout::*;

/// How far the receiver trusts the sender, decided by the runtime from the system description's
/// integrity levels when it mints the receive capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderTrust {
    /// The sender's integrity is at least the receiver's: zero-copy receive is allowed.
    Trusted,
    /// The sender is of lower integrity: the receiver must copy each slot into private memory
    /// before validating it (no double fetch), so only copy-in receive is allowed.
    Untrusted,
}

/// Pointer to a checked region; shared by the crate's endpoint types.
#[derive(Debug)]
pub(crate) struct RawRegion<'r> {
    base: NonNull<u8>,
    spec: ChannelSpec,
    _memory: PhantomData<&'r core::cell::UnsafeCell<[u8]>>,
}

impl RawRegion<'_> {
    pub(crate) fn spec(&self) -> ChannelSpec {
        self.spec
    }

    fn index_at(&self, offset: usize) -> &AtomicU32 {
        // SAFETY: `offset` is OFF_PRODUCER or OFF_CONSUMER, inside the region (checked at
        // creation) and 4-aligned (region is 64-aligned). The index is only ever accessed
        // atomically by this crate; the minting contract makes the memory valid for 'r.
        unsafe { AtomicU32::from_ptr(self.base.as_ptr().add(offset).cast::<u32>()) }
    }

    pub(crate) fn producer(&self) -> &AtomicU32 {
        self.index_at(OFF_PRODUCER)
    }

    pub(crate) fn consumer(&self) -> &AtomicU32 {
        self.index_at(OFF_CONSUMER)
    }

    /// Start of slot `slot` (`slot < slot_count`, guaranteed by `ring::Cursor::slot`): its 8-byte
    /// header, followed by `slot_size` message bytes, all inside the region.
    pub(crate) fn slot_ptr(&self, slot: usize) -> *mut u8 {
        debug_assert!(slot < self.spec.slot_count() as usize);
        // SAFETY: slot < slot_count, so the offset is below region_size(), inside the region.
        unsafe { self.base.as_ptr().add(self.spec.slot_offset(slot)) }
    }
}

/// A channel's shared memory, checked against its spec. Turn it into capabilities.
#[derive(Debug)]
pub struct Region<'r> {
    raw: RawRegion<'r>,
}

// SAFETY: a Region is a pointer to shared memory that is valid for 'r from any thread (the
// minting contract); it carries no thread-affine state.
unsafe impl Send for Region<'_> {}

fn check_memory(ptr: *mut u8, len: usize, spec: &ChannelSpec) -> Result<NonNull<u8>, RegionError> {
    let base = NonNull::new(ptr).ok_or(RegionError::Misaligned)?;
    if !(ptr as usize).is_multiple_of(REGION_ALIGN) {
        return Err(RegionError::Misaligned);
    }
    let needed = spec.region_size();
    if len < needed {
        return Err(RegionError::TooSmall {
            needed,
            provided: len,
        });
    }
    Ok(base)
}

impl<'r> Region<'r> {
    /// Writes a fresh header (magic, version, geometry, kind) and zero indices into the memory at
    /// `ptr`, discarding any messages in it. The monitor does this once per channel at boot,
    /// before starting either endpoint's component.
    ///
    /// # Safety
    ///
    /// The caller (the runtime, never component code) guarantees that:
    /// - `ptr .. ptr + len` is one mapping, readable and writable, that stays mapped for `'r`;
    /// - no endpoint of this region exists anywhere while `init` runs (it rewrites the indices);
    /// - the memory is shared with at most the one peer address space that holds the other end
    ///   of this channel, and is accessed by no one else except through this crate;
    /// - over the region's lifetime at most one [`SendCap`] and one [`RecvCap`] are minted for
    ///   it, across all address spaces (each is the single owner of its role).
    ///
    /// The peer may be hostile: this crate never trusts a byte it reads back from the region.
    pub unsafe fn init(ptr: *mut u8, len: usize, spec: ChannelSpec) -> Result<Self, RegionError> {
        let base = check_memory(ptr, len, &spec)?;
        let mut header = [0u8; OFF_SLOTS];
        header[OFF_MAGIC..OFF_MAGIC + 8].copy_from_slice(&MAGIC);
        header[OFF_VERSION..OFF_VERSION + 4].copy_from_slice(&LAYOUT_VERSION.to_le_bytes());
        header[OFF_SLOT_COUNT..OFF_SLOT_COUNT + 4]
            .copy_from_slice(&spec.slot_count().to_le_bytes());
        header[OFF_SLOT_SIZE..OFF_SLOT_SIZE + 4].copy_from_slice(&spec.slot_size().to_le_bytes());
        let stride = spec.slot_stride() as u32; // <= 2^20 + 64, checked by ChannelSpec
        header[OFF_SLOT_STRIDE..OFF_SLOT_STRIDE + 4].copy_from_slice(&stride.to_le_bytes());
        header[OFF_KIND..OFF_KIND + KIND_NAME_MAX].copy_from_slice(&spec.kind_field());
        // SAFETY: the region holds at least OFF_SLOTS bytes (checked) and is writable (contract).
        // The indices (zero in `header`) are written here before any endpoint exists.
        unsafe { core::ptr::copy_nonoverlapping(header.as_ptr(), ptr, OFF_SLOTS) };
        Ok(Self {
            raw: RawRegion {
                base,
                spec,
                _memory: PhantomData,
            },
        })
    }

    /// Checks the header at `ptr` against `spec` (which the runtime takes from the system
    /// description, not from the header) and returns the region. A component process does this
    /// for each channel region it was given, then mints the one capability it holds.
    ///
    /// # Safety
    ///
    /// The same contract as [`Region::init`], except that endpoints of the peer may exist: the
    /// memory is a mapping of a region initialised with the same spec.
    pub unsafe fn attach(ptr: *mut u8, len: usize, spec: ChannelSpec) -> Result<Self, RegionError> {
        let base = check_memory(ptr, len, &spec)?;
        let mut header = [0u8; OFF_PRODUCER];
        // SAFETY: the region holds at least OFF_SLOTS > OFF_PRODUCER readable bytes.
        unsafe { core::ptr::copy_nonoverlapping(ptr, header.as_mut_ptr(), OFF_PRODUCER) };
        let word = |off: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&header[off..off + 4]);
            u32::from_le_bytes(b)
        };
        if header[OFF_MAGIC..OFF_MAGIC + 8] != MAGIC {
            return Err(RegionError::BadMagic);
        }
        if word(OFF_VERSION) != LAYOUT_VERSION {
            return Err(RegionError::BadVersion(word(OFF_VERSION)));
        }
        if word(OFF_SLOT_COUNT) != spec.slot_count()
            || word(OFF_SLOT_SIZE) != spec.slot_size()
            || word(OFF_SLOT_STRIDE) as usize != spec.slot_stride()
            || header[OFF_KIND..OFF_KIND + KIND_NAME_MAX] != spec.kind_field()
        {
            return Err(RegionError::SpecMismatch);
        }
        Ok(Self {
            raw: RawRegion {
                base,
                spec,
                _memory: PhantomData,
            },
        })
    }

    /// Initialises a region in memory this address space owns exclusively, for channels whose
    /// both ends live here (tests, in-process pipelines). Safe: the exclusive borrow upholds the
    /// contract of [`Region::init`]. Size the buffer with [`CacheLine::count_for`].
    pub fn local(memory: &'r mut [CacheLine], spec: ChannelSpec) -> Result<Self, RegionError> {
        let len = core::mem::size_of_val(memory);
        // SAFETY: `memory` is exclusively borrowed for 'r, so nobody else accesses it, and it is
        // 64-aligned (CacheLine) and `len` bytes long.
        unsafe { Self::init(memory.as_mut_ptr().cast::<u8>(), len, spec) }
    }

    /// The spec the region was checked against.
    pub fn spec(&self) -> ChannelSpec {
        self.raw.spec
    }

    /// The send capability of this region.
    pub fn into_send_cap(self) -> SendCap<'r> {
        SendCap { raw: self.raw }
    }

    /// The receive capability of this region, with the trust the receiver may place in the sender.
    pub fn into_recv_cap(self, trust: SenderTrust) -> RecvCap<'r> {
        RecvCap {
            raw: self.raw,
            trust,
        }
    }

    /// Both capabilities, for a channel whose two ends live in this address space.
    pub fn split(self, trust: SenderTrust) -> (SendCap<'r>, RecvCap<'r>) {
        let copy = RawRegion {
            base: self.raw.base,
            spec: self.raw.spec,
            _memory: PhantomData,
        };
        (SendCap { raw: self.raw }, RecvCap { raw: copy, trust })
    }
}

/// The right to send on one channel. Not `Clone`/`Copy`; only obtainable from a [`Region`].
#[derive(Debug)]
pub struct SendCap<'r> {
    pub(crate) raw: RawRegion<'r>,
}

/// The right to receive on one channel. Not `Clone`/`Copy`; only obtainable from a [`Region`].
#[derive(Debug)]
pub struct RecvCap<'r> {
    pub(crate) raw: RawRegion<'r>,
    pub(crate) trust: SenderTrust,
}

// SAFETY: capabilities are owned pointers to memory valid from any thread for 'r.
unsafe impl Send for SendCap<'_> {}
// SAFETY: as above.
unsafe impl Send for RecvCap<'_> {}

impl SendCap<'_> {
    /// The channel's spec.
    pub fn spec(&self) -> ChannelSpec {
        self.raw.spec
    }
}

impl RecvCap<'_> {
    /// The channel's spec.
    pub fn spec(&self) -> ChannelSpec {
        self.raw.spec
    }

    /// The trust the runtime granted this receiver in its sender.
    pub fn trust(&self) -> SenderTrust {
        self.trust
    }
}

/// 64 bytes aligned to 64: the unit of memory for [`Region::local`].
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
pub struct CacheLine(pub [u8; 64]);

impl CacheLine {
    /// A zeroed line.
    pub const ZERO: Self = Self([0; 64]);

    /// How many lines a region of `spec` needs.
    pub const fn count_for(spec: &ChannelSpec) -> usize {
        spec.region_size().div_ceil(64)
    }
}
