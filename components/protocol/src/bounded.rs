//! Bounded, inline containers: byte strings, UTF-8 text and lists with a fixed capacity.
//!
//! Every variable-length field of a message is one of these, so that each message type has a
//! real, compile-time maximum size and a slot of that size always holds it. The data lives inline
//! in the archive (a length plus a fixed array), so serialising needs no allocator and reading
//! needs no pointer chasing. Validation (`bytecheck`) rejects a length above the capacity and, for
//! text, bytes that are not UTF-8; the archived accessors additionally never index out of bounds,
//! so even an unvalidated archive cannot make them panic.
//!
//! Avoids: heap types (`Vec`, `String`), rkyv relative pointers, and any panicking accessor.

use core::fmt;

use rkyv::bytecheck::Verify;
use rkyv::rancor::{Fallible, Source, fail};
use rkyv::{Archive, Deserialize, Serialize};

/// A value was longer than the capacity of the bounded container it was put in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacityError {
    /// Length that was offered.
    pub len: usize,
    /// Capacity of the container.
    pub capacity: usize,
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} items do not fit a capacity of {}",
            self.len, self.capacity
        )
    }
}

impl core::error::Error for CapacityError {}

/// Validation error: an archived length field exceeds the container capacity, or text is not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidBounded {
    /// The length field is larger than the capacity.
    LengthOverCapacity {
        /// Archived length.
        len: usize,
        /// Capacity of the container.
        capacity: usize,
    },
    /// A text field holds bytes that are not UTF-8.
    NotUtf8,
}

impl fmt::Display for InvalidBounded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LengthOverCapacity { len, capacity } => {
                write!(f, "archived length {len} exceeds capacity {capacity}")
            }
            Self::NotUtf8 => f.write_str("archived text is not UTF-8"),
        }
    }
}

impl core::error::Error for InvalidBounded {}

/// Compile-time guard: capacities must be representable by the `u16` length field.
const fn check_capacity(n: usize) -> usize {
    assert!(n <= u16::MAX as usize, "bounded capacity must fit in u16");
    n
}

/// Up to `N` bytes stored inline: a `u16` length followed by `N` bytes (unused tail is zero).
///
/// Archived size: `2 + N` bytes, alignment 2.
#[derive(Archive, Serialize, Deserialize, Clone, PartialEq, Eq)]
#[rkyv(bytecheck(verify))]
pub struct BoundedBytes<const N: usize> {
    len: u16,
    bytes: [u8; N],
}

impl<const N: usize> BoundedBytes<N> {
    /// The capacity in bytes.
    pub const CAPACITY: usize = check_capacity(N);

    /// An empty value.
    pub const fn empty() -> Self {
        let _ = Self::CAPACITY;
        Self {
            len: 0,
            bytes: [0; N],
        }
    }

    /// Copies `data`; fails if it is longer than `N`.
    pub fn new(data: &[u8]) -> Result<Self, CapacityError> {
        let mut out = Self::empty();
        let dst = out.bytes.get_mut(..data.len()).ok_or(CapacityError {
            len: data.len(),
            capacity: N,
        })?;
        dst.copy_from_slice(data);
        // data.len() <= N <= u16::MAX, checked above and at compile time.
        out.len = data.len() as u16;
        Ok(out)
    }

    /// The stored bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Number of stored bytes.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether no bytes are stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<const N: usize> Default for BoundedBytes<N> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<const N: usize> fmt::Debug for BoundedBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BoundedBytes<{N}>({} bytes)", self.len())
    }
}

impl<const N: usize> ArchivedBoundedBytes<N> {
    /// The stored bytes. Never panics: a length over capacity (only possible in an archive that
    /// was not validated) yields an empty slice.
    pub fn as_slice(&self) -> &[u8] {
        self.bytes
            .get(..usize::from(self.len.to_native()))
            .unwrap_or(&[])
    }

    /// Number of stored bytes.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether no bytes are stored.
    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }
}

impl<const N: usize> fmt::Debug for ArchivedBoundedBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ArchivedBoundedBytes<{N}>({} bytes)", self.len())
    }
}

// SAFETY: `verify` returns Ok only if the length is within capacity, the one invariant of the
// type beyond the validity of its fields.
unsafe impl<C, const N: usize> Verify<C> for ArchivedBoundedBytes<N>
where
    C: Fallible + ?Sized,
    C::Error: Source,
{
    fn verify(&self, _: &mut C) -> Result<(), C::Error> {
        let len = usize::from(self.len.to_native());
        if len > N {
            fail!(InvalidBounded::LengthOverCapacity { len, capacity: N });
        }
        Ok(())
    }
}

/// Up to `N` bytes of UTF-8 text stored inline: a `u16` length followed by `N` bytes.
///
/// Archived size: `2 + N` bytes, alignment 2.
#[derive(Archive, Serialize, Deserialize, Clone, PartialEq, Eq)]
#[rkyv(bytecheck(verify))]
pub struct BoundedStr<const N: usize> {
    len: u16,
    bytes: [u8; N],
}

impl<const N: usize> BoundedStr<N> {
    /// The capacity in bytes.
    pub const CAPACITY: usize = check_capacity(N);

    /// Empty text.
    pub const fn empty() -> Self {
        let _ = Self::CAPACITY;
        Self {
            len: 0,
            bytes: [0; N],
        }
    }

    /// Copies `text`; fails if it is longer than `N` bytes.
    pub fn new(text: &str) -> Result<Self, CapacityError> {
        let mut out = Self::empty();
        let dst = out.bytes.get_mut(..text.len()).ok_or(CapacityError {
            len: text.len(),
            capacity: N,
        })?;
        dst.copy_from_slice(text.as_bytes());
        out.len = text.len() as u16;
        Ok(out)
    }

    /// Copies as much of `text` as fits, cutting at a character boundary.
    pub fn truncated(text: &str) -> Self {
        let mut end = text.len().min(N);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        // `end <= N` and on a char boundary, so `new` cannot fail; fall back to empty anyway.
        Self::new(text.get(..end).unwrap_or("")).unwrap_or_else(|_| Self::empty())
    }

    /// The stored text.
    pub fn as_str(&self) -> &str {
        let bytes = self.bytes.get(..usize::from(self.len)).unwrap_or(&[]);
        core::str::from_utf8(bytes).unwrap_or("")
    }
}

impl<const N: usize> Default for BoundedStr<N> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<const N: usize> fmt::Debug for BoundedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> ArchivedBoundedStr<N> {
    /// The stored text. Never panics: invalid length or UTF-8 (only possible in an archive that
    /// was not validated) yields an empty string.
    pub fn as_str(&self) -> &str {
        let bytes = self
            .bytes
            .get(..usize::from(self.len.to_native()))
            .unwrap_or(&[]);
        core::str::from_utf8(bytes).unwrap_or("")
    }
}

impl<const N: usize> fmt::Debug for ArchivedBoundedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

// SAFETY: Ok only if the length is within capacity and the bytes are UTF-8.
unsafe impl<C, const N: usize> Verify<C> for ArchivedBoundedStr<N>
where
    C: Fallible + ?Sized,
    C::Error: Source,
{
    fn verify(&self, _: &mut C) -> Result<(), C::Error> {
        let len = usize::from(self.len.to_native());
        match self.bytes.get(..len) {
            None => fail!(InvalidBounded::LengthOverCapacity { len, capacity: N }),
            Some(bytes) if core::str::from_utf8(bytes).is_err() => fail!(InvalidBounded::NotUtf8),
            Some(_) => Ok(()),
        }
    }
}

/// Up to `N` items stored inline: a `u16` count followed by `N` items (unused ones are default).
///
/// Archived size: `2 + N * size_of::<Archived<T>>()` rounded up to the item alignment.
#[derive(Archive, Serialize, Deserialize, Clone, PartialEq, Eq)]
#[rkyv(bytecheck(verify))]
pub struct BoundedList<T, const N: usize> {
    len: u16,
    items: [T; N],
}

impl<T: Copy + Default, const N: usize> BoundedList<T, N> {
    /// The capacity in items.
    pub const CAPACITY: usize = check_capacity(N);

    /// An empty list.
    pub fn empty() -> Self {
        let _ = Self::CAPACITY;
        Self {
            len: 0,
            items: [T::default(); N],
        }
    }

    /// Copies `items`; fails if there are more than `N`.
    pub fn new(items: &[T]) -> Result<Self, CapacityError> {
        let mut out = Self::empty();
        let dst = out.items.get_mut(..items.len()).ok_or(CapacityError {
            len: items.len(),
            capacity: N,
        })?;
        dst.copy_from_slice(items);
        out.len = items.len() as u16;
        Ok(out)
    }

    /// Appends one item; fails when full.
    pub fn push(&mut self, item: T) -> Result<(), CapacityError> {
        let slot = self
            .items
            .get_mut(usize::from(self.len))
            .ok_or(CapacityError {
                len: N + 1,
                capacity: N,
            })?;
        *slot = item;
        self.len += 1;
        Ok(())
    }
}

impl<T, const N: usize> BoundedList<T, N> {
    /// The stored items.
    pub fn as_slice(&self) -> &[T] {
        self.items.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl<T: Copy + Default, const N: usize> Default for BoundedList<T, N> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<T: fmt::Debug, const N: usize> fmt::Debug for BoundedList<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl<T: Archive, const N: usize> ArchivedBoundedList<T, N> {
    /// The stored items. Never panics: a count over capacity (only possible in an archive that
    /// was not validated) yields an empty slice.
    pub fn as_slice(&self) -> &[T::Archived] {
        self.items
            .get(..usize::from(self.len.to_native()))
            .unwrap_or(&[])
    }
}

impl<T: Archive, const N: usize> fmt::Debug for ArchivedBoundedList<T, N>
where
    T::Archived: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

// SAFETY: Ok only if the count is within capacity; the items themselves were checked by bytecheck.
unsafe impl<C, T: Archive, const N: usize> Verify<C> for ArchivedBoundedList<T, N>
where
    C: Fallible + ?Sized,
    C::Error: Source,
{
    fn verify(&self, _: &mut C) -> Result<(), C::Error> {
        let len = usize::from(self.len.to_native());
        if len > N {
            fail!(InvalidBounded::LengthOverCapacity { len, capacity: N });
        }
        Ok(())
    }
}
