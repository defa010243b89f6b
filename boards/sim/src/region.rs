//! Channel regions on the sim board: a memfd per channel, mapped shared in the monitor and in
//! the two components that hold its ends.
//!
//! The monitor creates each memfd (named `spacenode-ch:CHANNEL`, so `/proc/PID/maps` shows which
//! channel a mapping is), sizes it to `ipc`'s region size for the channel rounded up to the page
//! size, maps it and initialises the ring header with `ipc::Region::init`. Each component maps
//! the descriptor it was granted, closes it, and attaches with `ipc::Region::attach`, which
//! checks the header against the spec the component computed from the description.
//!
//! Sizes come from `ipc::ChannelSpec::region_size` (the single source of truth for the layout);
//! `kernel-config`'s `Channel::ring_bytes` is only an estimate for reports.
//!
//! **Read-only where the layout allows**: a receiver writes only its consumer index, at offset
//! 256 of the first page, which also holds the header, the producer index and the start of slot
//! 0 (the layout `ipc` shares with the seL4 backend keeps them in one page). So the receiver
//! maps the first page read-write and every further page (the rest of the slots) read-only
//! ([`Mapping::map_receiver`]), through a read-only descriptor of the same memfd: the kernel
//! then refuses to make those pages writable again (`mprotect` gives `EACCES`), and the
//! component's seccomp filter refuses `mremap`, which could grow the first page's writable
//! mapping over them. The sender writes everywhere (header indices and slots): read-write. A
//! channel of one page (a few small slots) has no read-only part.
//!
//! Avoids: file-backed mappings (a memfd has no path and lives only as long as its holders) and
//! executable mappings.

use ipc::ChannelSpec;
use kernel_config::model::Channel;
use rustix::mm::{MapFlags, ProtFlags, mmap, munmap};
use std::os::fd::{AsFd, OwnedFd};

/// Why a region could not be created or mapped.
#[derive(Debug, thiserror::Error)]
pub enum RegionSetupError {
    /// The channel's geometry is outside what `ipc` supports.
    #[error("channel `{channel}`: {err}")]
    Geometry {
        /// Channel name.
        channel: String,
        /// Why.
        err: ipc::GeometryError,
    },
    /// A system call failed.
    #[error("channel `{channel}`: {what}: {err}")]
    Os {
        /// Channel name.
        channel: String,
        /// What was being done.
        what: &'static str,
        /// The error.
        err: std::io::Error,
    },
    /// The ring header was refused.
    #[error("channel `{channel}`: {err}")]
    Ring {
        /// Channel name.
        channel: String,
        /// Why.
        err: ipc::RegionError,
    },
}

/// The `ipc` spec of a channel of the description.
pub fn spec_of(ch: &Channel) -> Result<ChannelSpec, RegionSetupError> {
    ChannelSpec::new(ch.message.name, ch.slots, ch.slot_size).map_err(|err| {
        RegionSetupError::Geometry {
            channel: ch.name.clone(),
            err,
        }
    })
}

/// Bytes of the memfd for a spec: the region size rounded up to the page size.
pub fn mapped_len(spec: &ChannelSpec) -> usize {
    let page = rustix::param::page_size();
    spec.region_size().next_multiple_of(page)
}

/// A shared mapping of a region; unmapped on drop.
#[derive(Debug)]
pub struct Mapping {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is plain shared memory, usable from any thread; access goes through ipc.
unsafe impl Send for Mapping {}

impl Mapping {
    /// Maps `len` bytes of `fd` shared, read-write.
    pub fn map(fd: impl AsFd, len: usize, channel: &str) -> Result<Mapping, RegionSetupError> {
        // SAFETY: a fresh mapping chosen by the kernel (null hint) overlaps nothing of ours.
        let ptr = unsafe {
            mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                fd,
                0,
            )
        }
        .map_err(|e| RegionSetupError::Os {
            channel: channel.to_string(),
            what: "mmap",
            err: e.into(),
        })?;
        Ok(Mapping {
            ptr: ptr.cast(),
            len,
        })
    }

    /// Maps `len` bytes of `fd` (descriptor number `raw`) for a receiver: the first page
    /// read-write, the rest read-only through a read-only descriptor (module docs).
    pub fn map_receiver(
        fd: impl AsFd,
        raw: std::os::fd::RawFd,
        len: usize,
        channel: &str,
    ) -> Result<Mapping, RegionSetupError> {
        let os = |what: &'static str| {
            move |e: rustix::io::Errno| RegionSetupError::Os {
                channel: channel.to_string(),
                what,
                err: e.into(),
            }
        };
        let map = Mapping::map(fd, len, channel)?;
        let page = rustix::param::page_size();
        if len <= page {
            return Ok(map);
        }
        let read_only = rustix::fs::open(
            format!("/proc/self/fd/{raw}"),
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(os("reopening the ring read-only"))?;
        // SAFETY: the range lies inside `map` (page-aligned, `page < len`), which this function
        // owns and nobody references yet; MAP_FIXED replaces exactly those pages with a shared
        // read-only mapping of the same bytes of the same memfd.
        unsafe {
            mmap(
                map.ptr.add(page).cast(),
                len - page,
                ProtFlags::READ,
                MapFlags::SHARED | MapFlags::FIXED,
                &read_only,
                page as u64,
            )
        }
        .map_err(os("mmap of the slots read-only"))?;
        Ok(map)
    }

    /// Start of the mapping.
    pub fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// Length of the mapping.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty (never: mappings have at least one page).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keeps the memory mapped for the rest of the process (component processes, whose
    /// endpoints are `'static`).
    pub fn leak(self) -> *mut u8 {
        let p = self.ptr;
        std::mem::forget(self);
        p
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: ptr/len is a mapping made by `map` and not unmapped elsewhere; whoever holds
        // endpoints into it drops them first (the owner's field order guarantees it).
        unsafe {
            let _ = munmap(self.ptr.cast(), self.len);
        }
    }
}

/// A new memfd of `len` bytes for channel `name`, close-on-exec.
pub fn create_memfd(name: &str, len: usize) -> Result<OwnedFd, RegionSetupError> {
    use rustix::fs::{MemfdFlags, ftruncate, memfd_create};
    let os = |what: &'static str| {
        move |e: rustix::io::Errno| RegionSetupError::Os {
            channel: name.to_string(),
            what,
            err: e.into(),
        }
    };
    let fd = memfd_create(format!("spacenode-ch:{name}"), MemfdFlags::CLOEXEC)
        .map_err(os("memfd_create"))?;
    ftruncate(&fd, len as u64).map_err(os("ftruncate"))?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The receiver's pages past the first are read-only for good: `mprotect` cannot make them
    /// writable (the read-only descriptor they were mapped from forbids it), while the first
    /// page (the consumer index) stays writable and both see the sender's bytes.
    #[test]
    fn a_receivers_slots_beyond_the_first_page_cannot_be_made_writable() {
        use std::os::fd::AsRawFd;
        let page = rustix::param::page_size();
        let fd = rustix::fs::memfd_create("t", rustix::fs::MemfdFlags::CLOEXEC).expect("memfd");
        rustix::fs::ftruncate(&fd, 3 * page as u64).expect("size");
        let sender = Mapping::map(&fd, 3 * page, "t").expect("sender");
        let receiver = Mapping::map_receiver(&fd, fd.as_raw_fd(), 3 * page, "t").expect("receiver");
        // SAFETY: both mappings are 3 pages long and alive; single-threaded test.
        unsafe {
            sender.ptr().add(2 * page).write(7);
            assert_eq!(receiver.ptr().add(2 * page).read(), 7);
            receiver.ptr().write(9);
            assert_eq!(sender.ptr().read(), 9);
            let r = rustix::mm::mprotect(
                receiver.ptr().add(page).cast(),
                2 * page,
                rustix::mm::MprotectFlags::READ | rustix::mm::MprotectFlags::WRITE,
            );
            assert_eq!(r, Err(rustix::io::Errno::ACCESS));
        }
        let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
        let at = format!("{:x}-", receiver.ptr() as usize + page);
        let line = maps.lines().find(|l| l.starts_with(&at)).expect("mapping");
        assert!(line.contains(" r--s "), "{line}");
    }
}
