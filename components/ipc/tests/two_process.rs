//! Two real processes share one memfd channel: the parent sends 1,000,000 pings, a forked child
//! maps the memfd again (at its own address), receives them in copy-in mode waiting on an eventfd,
//! and reports the count and a checksum through a second shared page. Both must match the
//! parent's.
//!
//! The child only makes system calls (mmap, read/write/ppoll on the eventfd) and touches no lock
//! or allocator, so forking from the multi-threaded test harness is safe.

use std::ptr::null_mut;
use std::sync::atomic::{AtomicU64, Ordering};

use ipc::{
    ChannelSpec, EventFd, Notify, Receiver, RecvError, Region, SendError, Sender, SenderTrust,
    scratch_words,
};
use protocol::{Message, Ping};
use rustix::fd::OwnedFd;
use rustix::fs::{MemfdFlags, ftruncate, memfd_create};
use rustix::mm::{MapFlags, ProtFlags, mmap, mmap_anonymous};

const MESSAGES: u64 = 1_000_000;

fn nonce(i: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xA5A5
}

fn fold(sum: u64, seq: u32, nonce: u64) -> u64 {
    sum.rotate_left(5) ^ nonce.wrapping_add(u64::from(seq))
}

fn map_shared(fd: &OwnedFd, len: usize) -> *mut u8 {
    // SAFETY: a fresh shared mapping of the memfd; nothing else lives at the returned address.
    unsafe {
        mmap(
            null_mut(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::SHARED,
            fd,
            0,
        )
    }
    .expect("mmap memfd")
    .cast()
}

/// The child's whole life: attach, receive everything, report, exit. Returns the exit status.
fn child(
    memfd: &OwnedFd,
    len: usize,
    spec: ChannelSpec,
    notify: &EventFd,
    report: &[AtomicU64; 3],
) -> i32 {
    let base = map_shared(memfd, len);
    // SAFETY: `base` maps the channel's memfd for the rest of this process; the child holds only
    // the receive end; the parent holds the send end.
    let region = match unsafe { Region::attach(base, len, spec) } {
        Ok(region) => region,
        Err(_) => return 3,
    };
    let mut scratch = [0u64; 4];
    if scratch.len() < scratch_words(spec.slot_size()) {
        return 4;
    }
    let mut rx =
        match Receiver::<Ping>::copy_in(region.into_recv_cap(SenderTrust::Untrusted), &mut scratch)
        {
            Ok(rx) => rx,
            Err(_) => return 5,
        };
    let (mut count, mut sum, mut out_of_order) = (0u64, 0u64, 0u64);
    while count < MESSAGES {
        match rx.try_recv(|p| (p.sequence.to_native(), p.nonce.to_native())) {
            Ok((seq, n)) => {
                if u64::from(seq) != count {
                    out_of_order += 1;
                }
                sum = fold(sum, seq, n);
                count += 1;
            }
            Err(RecvError::Empty) => {
                if notify.wait().is_err() {
                    return 6;
                }
            }
            Err(_) => return 7,
        }
    }
    report[0].store(count, Ordering::Relaxed);
    report[1].store(sum, Ordering::Relaxed);
    report[2].store(out_of_order + rx.stats().malformed, Ordering::Release);
    0
}

#[test]
fn a_million_messages_between_two_processes() {
    let spec = ChannelSpec::new(Ping::NAME, 64, Ping::MAX_SIZE as u32).unwrap();
    let len = spec.region_size();
    let memfd = memfd_create("ipc-two-process", MemfdFlags::CLOEXEC).expect("memfd_create");
    ftruncate(&memfd, len as u64).expect("ftruncate");
    let notify = EventFd::new().expect("eventfd");
    // SAFETY: anonymous shared page for the child's report, unmapped never (test process).
    let report_page = unsafe {
        mmap_anonymous(
            null_mut(),
            4096,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::SHARED,
        )
    }
    .expect("mmap report page");
    // SAFETY: the page is zeroed, 4096 bytes, page-aligned: room for three aligned AtomicU64.
    let report: &[AtomicU64; 3] = unsafe { &*report_page.cast::<[AtomicU64; 3]>() };

    let base = map_shared(&memfd, len);
    // SAFETY: fresh mapping; no endpoint exists yet; the parent keeps only the send end.
    let region = unsafe { Region::init(base, len, spec) }.expect("init region");

    // SAFETY: see the module docs: the child makes only system calls and exits with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let status = child(&memfd, len, spec, &notify, report);
        // SAFETY: leave the forked child without running the harness's destructors.
        unsafe { libc::_exit(status) };
    }

    let mut tx = Sender::<Ping, _>::new(region.into_send_cap(), &notify).unwrap();
    let mut expected = 0u64;
    for i in 0..MESSAGES {
        let ping = Ping {
            nonce: nonce(i),
            sequence: i as u32,
        };
        loop {
            match tx.try_send_quiet(&ping) {
                Ok(()) => break,
                Err(SendError::Full) => {
                    // Wake the receiver and let it drain; sends never block.
                    tx.signal().unwrap();
                    std::thread::yield_now();
                }
                Err(e) => panic!("send failed: {e}"),
            }
        }
        if i % 16 == 15 {
            tx.signal().unwrap();
        }
        expected = fold(expected, i as u32, nonce(i));
    }
    tx.signal().unwrap();

    let mut status = 0;
    // SAFETY: waiting for our own child.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(
        libc::WIFEXITED(status),
        "child did not exit normally: {status:#x}"
    );
    assert_eq!(libc::WEXITSTATUS(status), 0, "child reported failure");
    assert_eq!(
        report[2].load(Ordering::Acquire),
        0,
        "out of order or malformed"
    );
    assert_eq!(report[0].load(Ordering::Relaxed), MESSAGES);
    assert_eq!(report[1].load(Ordering::Relaxed), expected, "checksum");
    assert_eq!(tx.sent(), MESSAGES);
}
