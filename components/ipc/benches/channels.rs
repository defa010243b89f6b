//! Channel benchmarks between two processes (parent = criterion, child = forked peer), each with
//! its baselines in the same run: a Unix domain socket carrying the same message serialised with
//! postcard, a pipe carrying the raw bytes, and (for throughput) a plain in-process memcpy of the
//! same bytes. Sizes: 64-byte and 4-KiB messages.
//!
//! - `rtt/*`: one message there and one back. `ipc-poll` busy-polls both rings; `ipc-eventfd`
//!   sleeps on eventfds; socket and pipe peers block in `read`. One-way latency is reported in
//!   BENCHMARKS.md as half the round trip (the two processes share no clock).
//! - `throughput/*`: a stream of messages; the receiver reads every payload byte (in place for
//!   ipc, zero-copy); time ends when the receiver has everything.
//!
//! Run: `cargo bench -p ipc --bench channels`.

use std::hint::black_box;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use ipc::{
    ChannelSpec, EventFd, Notify, Polling, Receiver, RecvError, Region, SendError, Sender,
    SenderTrust,
};
use protocol::Message;
use rkyv::{Archive, Deserialize, Serialize};
use rustix::mm::{MapFlags, ProtFlags, mmap_anonymous};

/// A benchmark message: a sequence number and a payload; archived size is exactly `8 + N`.
#[derive(Archive, Serialize, Deserialize, Clone)]
struct Msg<const N: usize> {
    seq: u64,
    payload: [u8; N],
}

impl Message for Msg<56> {
    const NAME: &'static str = "bench-64";
    const SUMMARY: &'static str = "64-byte benchmark message";
    const MAX_SIZE: usize = 64;
}

impl Message for Msg<4088> {
    const NAME: &'static str = "bench-4k";
    const SUMMARY: &'static str = "4096-byte benchmark message";
    const MAX_SIZE: usize = 4096;
}

/// The postcard baseline's message: the same fields, payload borrowed (no allocation).
#[derive(serde::Serialize, serde::Deserialize)]
struct PcMsg<'a> {
    seq: u64,
    #[serde(borrow)]
    payload: &'a [u8],
}

const SLOTS: u32 = 64;

fn shared_mem(len: usize) -> *mut u8 {
    // SAFETY: a fresh shared anonymous mapping, inherited by the forked child, never unmapped.
    unsafe {
        mmap_anonymous(
            null_mut(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::SHARED,
        )
    }
    .expect("mmap")
    .cast()
}

struct Control {
    stop: AtomicBool,
    received: AtomicU64,
}

fn control() -> &'static Control {
    // SAFETY: a zeroed shared page holds a valid Control (false, 0), alive for the process.
    unsafe { &*shared_mem(4096).cast::<Control>() }
}

fn fork(child: impl FnOnce()) -> libc::pid_t {
    // SAFETY: the child runs only the peer loop (system calls, no locks held by other threads)
    // and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        child();
        // SAFETY: end the child without running the parent's destructors or criterion's exit.
        unsafe { libc::_exit(0) };
    }
    pid
}

fn reap(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "peer failed"
    );
}

/// A channel region in shared memory, initialised (before fork).
fn channel<M: Message>() -> (*mut u8, ChannelSpec) {
    let spec = ChannelSpec::new(M::NAME, SLOTS, M::MAX_SIZE as u32).unwrap();
    let base = shared_mem(spec.region_size());
    // SAFETY: fresh mapping, no endpoints yet.
    unsafe { Region::init(base, spec.region_size(), spec) }.unwrap();
    (base, spec)
}

fn send_cap(ch: (*mut u8, ChannelSpec)) -> ipc::SendCap<'static> {
    // SAFETY: the mapping lives for the process; this process holds only this end.
    unsafe { Region::attach(ch.0, ch.1.region_size(), ch.1) }
        .unwrap()
        .into_send_cap()
}

fn recv_cap(ch: (*mut u8, ChannelSpec)) -> ipc::RecvCap<'static> {
    // SAFETY: as above.
    unsafe { Region::attach(ch.0, ch.1.region_size(), ch.1) }
        .unwrap()
        .into_recv_cap(SenderTrust::Trusted)
}

/// Busy-polling back-off: spin, and after a while yield the CPU. On a loaded 2-core machine a
/// pure spin can burn a whole time slice while the peer waits to run.
struct Backoff(u32);

impl Backoff {
    fn new() -> Self {
        Self(0)
    }
    fn snooze(&mut self) {
        self.0 += 1;
        if self.0.is_multiple_of(64) {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

fn close_in_child(fd: &impl AsRawFd) {
    // SAFETY: closes the child's inherited copy of the parent's end; the Rust object owning it in
    // the child is never dropped (the child leaves with _exit).
    unsafe { libc::close(fd.as_raw_fd()) };
}

fn touch(bytes: &[u8]) -> u64 {
    bytes.chunks_exact(8).fold(0u64, |acc, w| {
        acc ^ u64::from_le_bytes(w.try_into().unwrap_or([0; 8]))
    })
}

fn spin_send<M: ipc::Wire, N: Notify>(tx: &mut Sender<'_, M, N>, m: &M, quiet: bool) {
    let mut backoff = Backoff::new();
    loop {
        let r = if quiet {
            tx.try_send_quiet(m)
        } else {
            tx.try_send(m)
        };
        match r {
            Ok(()) => return,
            Err(SendError::Full) => backoff.snooze(),
            Err(e) => panic!("send: {e}"),
        }
    }
}

/// Round trip over two rings; `eventfd` selects sleeping wake-ups instead of busy polling.
fn rtt_ipc<const N: usize>(c: &mut Criterion, size: usize, eventfd: bool)
where
    Msg<N>: ipc::Wire + Archive<Archived = ArchivedMsg<N>>,
{
    let there = channel::<Msg<N>>();
    let back = channel::<Msg<N>>();
    let (wake_child, wake_parent) = (EventFd::new().unwrap(), EventFd::new().unwrap());
    let ctl = control();
    let pid = fork(|| {
        let mut rx = Receiver::<Msg<N>>::zero_copy(recv_cap(there)).unwrap();
        let mut reply = Msg::<N> {
            seq: 0,
            payload: [7; N],
        };
        if eventfd {
            let mut tx = Sender::<Msg<N>, _>::new(send_cap(back), &wake_parent).unwrap();
            loop {
                match rx.try_recv(|m| m.seq.to_native()) {
                    Ok(seq) => {
                        reply.seq = seq;
                        spin_send(&mut tx, &reply, false);
                    }
                    Err(RecvError::Empty) if ctl.stop.load(Ordering::Acquire) => return,
                    Err(RecvError::Empty) => wake_child.wait().unwrap(),
                    Err(e) => panic!("{e}"),
                }
            }
        } else {
            let mut tx = Sender::<Msg<N>, _>::new(send_cap(back), Polling).unwrap();
            let mut backoff = Backoff::new();
            loop {
                match rx.try_recv(|m| m.seq.to_native()) {
                    Ok(seq) => {
                        reply.seq = seq;
                        spin_send(&mut tx, &reply, true);
                        backoff = Backoff::new();
                    }
                    Err(RecvError::Empty) if ctl.stop.load(Ordering::Acquire) => return,
                    Err(RecvError::Empty) => backoff.snooze(),
                    Err(e) => panic!("{e}"),
                }
            }
        }
    });
    let mut rx = Receiver::<Msg<N>>::zero_copy(recv_cap(back)).unwrap();
    let mut msg = Msg::<N> {
        seq: 0,
        payload: [3; N],
    };
    let name = if eventfd { "ipc-eventfd" } else { "ipc-poll" };
    let mut group = c.benchmark_group(format!("rtt/{size}"));
    if eventfd {
        let mut tx = Sender::<Msg<N>, _>::new(send_cap(there), &wake_child).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| {
                msg.seq += 1;
                spin_send(&mut tx, &msg, false);
                loop {
                    match rx.try_recv(|m| m.seq.to_native()) {
                        Ok(seq) => break assert_eq!(seq, msg.seq),
                        Err(RecvError::Empty) => wake_parent.wait().unwrap(),
                        Err(e) => panic!("{e}"),
                    }
                }
            })
        });
    } else {
        let mut tx = Sender::<Msg<N>, _>::new(send_cap(there), Polling).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| {
                msg.seq += 1;
                spin_send(&mut tx, &msg, true);
                let mut backoff = Backoff::new();
                loop {
                    match rx.try_recv(|m| m.seq.to_native()) {
                        Ok(seq) => break assert_eq!(seq, msg.seq),
                        Err(RecvError::Empty) => backoff.snooze(),
                        Err(e) => panic!("{e}"),
                    }
                }
            })
        });
    }
    group.finish();
    ctl.stop.store(true, Ordering::Release);
    wake_child.signal().unwrap();
    reap(pid);
}

fn write_frame(out: &mut impl Write, buf: &mut [u8], seq: u64, payload: &[u8]) {
    let n = postcard::to_slice(&PcMsg { seq, payload }, &mut buf[4..])
        .expect("postcard")
        .len();
    buf[..4].copy_from_slice(&(n as u32).to_le_bytes());
    out.write_all(&buf[..4 + n]).expect("write");
}

/// Reads one frame; returns false at end of stream.
fn read_frame<'b>(input: &mut impl Read, buf: &'b mut [u8]) -> Option<PcMsg<'b>> {
    let mut len = [0u8; 4];
    input.read_exact(&mut len).ok()?;
    let n = u32::from_le_bytes(len) as usize;
    input.read_exact(&mut buf[..n]).ok()?;
    postcard::from_bytes(&buf[..n]).ok()
}

fn rtt_unix(c: &mut Criterion, size: usize) {
    let (mut parent, mut child) = UnixStream::pair().unwrap();
    let pid = fork(|| {
        close_in_child(&parent);
        let (mut inbuf, mut outbuf) = (vec![0u8; 8192], vec![0u8; 8192]);
        while let Some(m) = read_frame(&mut child, &mut inbuf) {
            write_frame(&mut child, &mut outbuf, m.seq, m.payload);
        }
    });
    drop(child);
    let payload = vec![3u8; size - 8];
    let (mut inbuf, mut outbuf) = (vec![0u8; 8192], vec![0u8; 8192]);
    let mut seq = 0u64;
    c.benchmark_group(format!("rtt/{size}"))
        .bench_function("unix-postcard", |b| {
            b.iter(|| {
                seq += 1;
                write_frame(&mut parent, &mut outbuf, seq, &payload);
                let m = read_frame(&mut parent, &mut inbuf).expect("reply");
                assert_eq!(m.seq, seq);
                black_box(m.payload.len());
            })
        });
    drop(parent);
    reap(pid);
}

fn pipes() -> (std::fs::File, std::fs::File) {
    let (r, w) = rustix::pipe::pipe().unwrap();
    (std::fs::File::from(r), std::fs::File::from(w))
}

fn rtt_pipe(c: &mut Criterion, size: usize) {
    let (mut there_r, mut there_w) = pipes();
    let (mut back_r, mut back_w) = pipes();
    let pid = fork(|| {
        close_in_child(&there_w);
        close_in_child(&back_r);
        let mut buf = vec![0u8; size];
        while there_r.read_exact(&mut buf).is_ok() {
            back_w.write_all(&buf).expect("write");
        }
    });
    drop(there_r);
    drop(back_w);
    let mut buf = vec![3u8; size];
    c.benchmark_group(format!("rtt/{size}"))
        .bench_function("pipe", |b| {
            b.iter(|| {
                there_w.write_all(&buf).unwrap();
                back_r.read_exact(&mut buf).unwrap();
            })
        });
    drop(there_w);
    reap(pid);
}

fn throughput_ipc<const N: usize>(c: &mut Criterion, size: usize)
where
    Msg<N>: ipc::Wire + Archive<Archived = ArchivedMsg<N>>,
{
    let ch = channel::<Msg<N>>();
    let ctl = control();
    let pid = fork(|| {
        let mut rx = Receiver::<Msg<N>>::zero_copy(recv_cap(ch)).unwrap();
        let (mut count, mut acc) = (0u64, 0u64);
        let mut backoff = Backoff::new();
        loop {
            match rx.try_recv(|m| touch(&m.payload) ^ m.seq.to_native()) {
                Ok(x) => {
                    acc ^= x;
                    count += 1;
                }
                Err(RecvError::Empty) => {
                    ctl.received.store(count, Ordering::Release);
                    if ctl.stop.load(Ordering::Acquire) {
                        black_box(acc);
                        return;
                    }
                    backoff.snooze();
                }
                Err(e) => panic!("{e}"),
            }
        }
    });
    let mut tx = Sender::<Msg<N>, _>::new(send_cap(ch), Polling).unwrap();
    let mut msg = Msg::<N> {
        seq: 0,
        payload: [5; N],
    };
    let mut sent = 0u64;
    let mut group = c.benchmark_group(format!("throughput/{size}"));
    group.throughput(Throughput::Bytes(size as u64));
    group.bench_function("ipc-zero-copy", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                msg.seq += 1;
                spin_send(&mut tx, &msg, true);
            }
            sent += iters;
            let mut backoff = Backoff::new();
            while ctl.received.load(Ordering::Acquire) < sent {
                backoff.snooze();
            }
            start.elapsed()
        })
    });
    group.finish();
    ctl.stop.store(true, Ordering::Release);
    reap(pid);
}

fn throughput_stream(c: &mut Criterion, size: usize, unix: bool) {
    // Unix: postcard frames; pipe: raw bytes. End of batch: seq u64::MAX / a payload starting 0xFF.
    let (mut ack_r, mut ack_w) = pipes();
    let (mut out, mut input, out_fd): (Box<dyn Write>, Box<dyn Read>, i32) = if unix {
        let (p, ch) = UnixStream::pair().unwrap();
        let fd = p.as_raw_fd();
        (Box::new(p), Box::new(ch), fd)
    } else {
        let (r, w) = pipes();
        let fd = w.as_raw_fd();
        (Box::new(w), Box::new(r), fd)
    };
    let pid = fork(|| {
        // SAFETY: the child's copies of the parent's ends; never used or dropped in the child.
        unsafe {
            libc::close(out_fd);
            libc::close(ack_r.as_raw_fd());
        }
        let mut buf = vec![0u8; 8192];
        let mut acc = 0u64;
        loop {
            let end = if unix {
                match read_frame(&mut input, &mut buf) {
                    Some(m) => {
                        acc ^= touch(m.payload);
                        m.seq == u64::MAX
                    }
                    None => break,
                }
            } else {
                if input.read_exact(&mut buf[..size]).is_err() {
                    break;
                }
                acc ^= touch(&buf[..size]);
                buf[0] == 0xFF
            };
            if end {
                ack_w.write_all(&[1]).expect("ack");
            }
        }
        black_box(acc);
    });
    drop(input);
    drop(ack_w);
    let payload = vec![5u8; size - 8];
    let mut frame = vec![0u8; 8192];
    let raw = vec![5u8; size];
    let mut end_raw = vec![5u8; size];
    end_raw[0] = 0xFF;
    let name = if unix { "unix-postcard" } else { "pipe" };
    let mut group = c.benchmark_group(format!("throughput/{size}"));
    group.throughput(Throughput::Bytes(size as u64));
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for i in 0..iters {
                let last = i + 1 == iters;
                if unix {
                    write_frame(
                        &mut out,
                        &mut frame,
                        if last { u64::MAX } else { i },
                        &payload,
                    );
                } else {
                    out.write_all(if last { &end_raw } else { &raw }).unwrap();
                }
            }
            let mut ack = [0u8; 1];
            ack_r.read_exact(&mut ack).unwrap();
            start.elapsed()
        })
    });
    group.finish();
    drop(out);
    reap(pid);
}

fn throughput_memcpy(c: &mut Criterion, size: usize) {
    // The same working set as a 64-slot ring: copy message i from source block i % 64.
    let src = vec![5u8; size * SLOTS as usize];
    let mut dst = vec![0u8; size * SLOTS as usize];
    let mut i = 0usize;
    let mut group = c.benchmark_group(format!("throughput/{size}"));
    group.throughput(Throughput::Bytes(size as u64));
    group.bench_function("memcpy", |b| {
        b.iter(|| {
            let at = (i % SLOTS as usize) * size;
            dst[at..at + size].copy_from_slice(black_box(&src[at..at + size]));
            black_box(&dst[at]);
            i += 1;
        })
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    rtt_ipc::<56>(&mut c, 64, false);
    rtt_ipc::<56>(&mut c, 64, true);
    rtt_unix(&mut c, 64);
    rtt_pipe(&mut c, 64);
    rtt_ipc::<4088>(&mut c, 4096, false);
    rtt_ipc::<4088>(&mut c, 4096, true);
    rtt_unix(&mut c, 4096);
    rtt_pipe(&mut c, 4096);
    throughput_ipc::<56>(&mut c, 64);
    throughput_stream(&mut c, 64, true);
    throughput_stream(&mut c, 64, false);
    throughput_memcpy(&mut c, 64);
    throughput_ipc::<4088>(&mut c, 4096);
    throughput_stream(&mut c, 4096, true);
    throughput_stream(&mut c, 4096, false);
    throughput_memcpy(&mut c, 4096);
    c.final_summary();
}
