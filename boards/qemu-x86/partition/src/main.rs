//! The partition program of the qemu-x86 board: one ELF the monitor loads into each component's
//! VSpace and starts with (component index, TSC MHz). It finds its grants where the `system`
//! crate lays them out, attaches each ring (`ipc::Region::attach` checks the header the monitor
//! initialised against the description's geometry), builds the component's `runtime::CapSet`
//! (channels, devices, and the seed of its start page) and runs the runtime's event loop on
//! the seL4 backend ([`backend`]). When the start page asks for it (the monitor's check of the
//! fault path), it first uses a capability it was not granted, and faults.
//!
//! Component logic, chosen by the component's name as `src/pd.rs` does on the sim board, on
//! this board's drivers ([`drivers`]: RAM-backed, volatile flash; an rng seeded by the
//! monitor from the host's RNG; a hardware watchdog the monitor emulates): the signer runs
//! `signer_partition::SignerPd`, the watchdog `watchdog_partition::WatchdogPd`, comms
//! `comms_partition::CommsPd` (its standby link on COM2, [`uart`]; this board has no radio),
//! upgrade `runtime::Idle` (the sim board runs the real upgrade agent; this board has no boot
//! control or image slots for it), whose event loop answers the watchdog's pings.
//!
//! Anything that goes wrong is logged and ends in a fault (`ud2`), which the kernel delivers to
//! the monitor's fault endpoint. Avoids: a heap, libc, any capability beyond its grants.
#![no_std]
#![no_main]

mod backend;
mod drivers;
mod logger;
mod uart;

use backend::Sel4Wait;
use ipc::{Region, SenderTrust};
use protocol::ComponentId;
use runtime::{CapSetBuilder, DeviceCap, Source};
use sel4::Word;
use sel4::notify::Sel4Notify;
use system::*;

/// The send-side notifications, one per channel at most (static: the CapSet keeps references).
static mut NOTIFY: [Sel4Notify; CHANNELS.len()] = [const { Sel4Notify(0) }; CHANNELS.len()];
/// Copy-in buffers for the receive channels that need one.
const SCRATCH_WORDS: usize = 4 * 1024;
static mut SCRATCH: [u64; SCRATCH_WORDS] = [0; SCRATCH_WORDS];

#[unsafe(no_mangle)]
#[unsafe(link_section = ".text._start")]
extern "C" fn _start(component: Word, tsc_mhz: Word) -> ! {
    let me = component as usize;
    let name = COMPONENTS.get(me).map_or("?", |c| c.name);
    logger::init(name);
    match start(me, tsc_mhz) {
        Ok(never) => match never {},
        Err(e) => log::error!("cannot run: {e}"),
    }
    fault()
}

fn start(me: usize, tsc_mhz: Word) -> Result<core::convert::Infallible, &'static str> {
    let mut caps = CapSetBuilder::new(ComponentId(me as u8));
    let (notify, scratch) = (&raw mut NOTIFY, &raw mut SCRATCH);
    // SAFETY: this thread is the only one in this VSpace; the statics are used only here,
    // once, before the event loop takes the references.
    let (notify, scratch) = unsafe { (&mut *notify, &mut *scratch) };
    let mut scratch: &'static mut [u64] = scratch;
    let mut notify: &'static mut [Sel4Notify] = notify;
    for (ch, desc) in CHANNELS
        .iter()
        .enumerate()
        .filter(|(ch, _)| is_end(me, *ch))
    {
        let len = (ring_pages(ch) * PAGE) as usize;
        // SAFETY: the monitor mapped the ring at ring_vaddr (len bytes, shared with the other
        // end only) and initialised it before starting this component; it stays mapped.
        let region = unsafe { Region::attach(ring_vaddr(me, ch) as *mut u8, len, desc.spec) }
            .map_err(|_| "a ring's header does not match the description")?;
        if desc.sender == me {
            let (this, rest) = core::mem::take(&mut notify)
                .split_first_mut()
                .ok_or("too many channels")?;
            *this = Sel4Notify(send_slot(ch));
            notify = rest;
            caps.sender(desc.name, region.into_send_cap(), this)
                .map_err(|_| "cannot grant a send end")?;
        } else {
            let source = Source::new(source_index(ch)).ok_or("too many receive channels")?;
            let (trust, buf) = if desc.copy_in {
                let words = ipc::scratch_words(desc.spec.slot_size());
                if words > scratch.len() {
                    return Err("copy-in buffers exhausted");
                }
                let (buf, rest) = core::mem::take(&mut scratch).split_at_mut(words);
                scratch = rest;
                (SenderTrust::Untrusted, Some(buf))
            } else {
                (SenderTrust::Trusted, None)
            };
            caps.receiver(desc.name, region.into_recv_cap(trust), buf, source)
                .map_err(|_| "cannot grant a receive end")?;
        }
    }
    for (d, dev) in DEVICES.iter().enumerate().filter(|(_, d)| d.owner == me) {
        // A serial port wakes its owner with its interrupt's badge bit.
        let source = if is_uart(dev) {
            Some(Source::new(uart_source(d)).ok_or("too many notification sources")?)
        } else {
            None
        };
        caps.device(DeviceCap {
            name: dev.name,
            kind: dev.kind,
            handles: [d as i32, -1],
            source,
        })
        .map_err(|_| "cannot grant a device")?;
    }
    let page = StartPage::read();
    caps.seed(page.seed);
    if page.inject_fault {
        log::info!("start {}: the monitor asks for a fault", page.number);
        fault_as_asked();
    }
    run_component(
        COMPONENTS[me].name,
        page.number,
        caps.build(),
        Sel4Wait::new(tsc_mhz),
    )
}

/// Runs `name`'s partition code in the runtime's event loop (see the module docs).
fn run_component(
    name: &str,
    start: u64,
    caps: runtime::CapSet,
    wait: Sel4Wait,
) -> Result<core::convert::Infallible, &'static str> {
    let stopped = match name {
        "watchdog" => {
            log::info!("running the watchdog's partition code on seL4 (WatchdogPd)");
            run::<watchdog_partition::WatchdogPd<drivers::Sel4Drivers>>(caps, wait)
        }
        "comms" => {
            log::info!(
                "running the comms partition code on seL4 (CommsPd): the standby link on COM2, no radio"
            );
            run::<comms_partition::CommsPd<drivers::Sel4Drivers>>(caps, wait)
        }
        "signer" => {
            log::info!("running the signer's partition code on seL4 (SignerPd)");
            run::<signer_partition::SignerPd<drivers::Sel4Drivers>>(caps, wait)
        }
        "upgrade" => {
            log::info!(
                "start {start}: running the event loop on seL4 (no application logic yet: runtime::Idle)"
            );
            run::<runtime::Idle>(caps, wait)
        }
        _ => return Err("this board has no partition code for this component"),
    };
    stopped.map_err(|e| {
        log::error!("{e}");
        "the event loop stopped"
    })
}

/// The runtime's event loop for component `C`, out of line: inlined into [`run_component`],
/// the four components' loops would share one stack frame as large as all of them, on every
/// partition's stack (the watchdog's 64 KiB overflowed).
#[inline(never)]
fn run<C: runtime::Component>(
    caps: runtime::CapSet,
    wait: Sel4Wait,
) -> Result<core::convert::Infallible, runtime::RunError> {
    runtime::run::<C>(caps, wait)
}

/// What the monitor wrote on this start's page (`system::START_SEED_VADDR`).
struct StartPage {
    seed: [u8; START_SEED_BYTES],
    number: u64,
    inject_fault: bool,
}

impl StartPage {
    fn read() -> Self {
        const _: () = assert!(START_SEED_BYTES == runtime::SEED_LEN);
        let base = START_SEED_VADDR as *const u8;
        let mut seed = [0u8; START_SEED_BYTES];
        // SAFETY: the monitor mapped this start's page read-only at START_SEED_VADDR: the seed,
        // then a word at each of the two offsets (system crate), all inside the page.
        unsafe {
            seed.copy_from_slice(core::slice::from_raw_parts(base, START_SEED_BYTES));
            Self {
                seed,
                number: base.add(START_NUMBER_OFFSET).cast::<u64>().read_volatile(),
                inject_fault: fault_asked(),
            }
        }
    }
}

/// Whether the monitor asks for a fault now (the fault word of the start page, which the
/// monitor may also set while the component runs: its check of the fault path in service).
pub fn fault_asked() -> bool {
    // SAFETY: the monitor mapped this start's page read-only at START_SEED_VADDR; the word at
    // START_INJECT_FAULT_OFFSET is inside it.
    unsafe {
        (START_SEED_VADDR as *const u8)
            .add(START_INJECT_FAULT_OFFSET)
            .cast::<u64>()
            .read_volatile()
            != 0
    }
}

/// Faults as the monitor asked (its check of the fault path): uses capability slot
/// [`SLOT_NOT_GRANTED`], which was not granted. Out of line: the wait loop that calls it
/// stays small on the partitions' small stacks.
#[cold]
#[inline(never)]
pub fn fault_as_asked() {
    log::info!(
        "the monitor asks for a fault (its check of the fault path): using capability slot {SLOT_NOT_GRANTED}, which was not granted"
    );
    // A blocking receive on an empty slot: the kernel stops the thread with a capability
    // fault (a signal, non-blocking, would only return an error).
    sel4::seL4_Wait(SLOT_NOT_GRANTED);
}

/// Stops this component with a fault the monitor receives.
fn fault() -> ! {
    // SAFETY: an undefined instruction: the kernel stops the thread with a user exception.
    unsafe { core::arch::asm!("ud2", options(noreturn)) }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    log::error!("panic: {}", info.message());
    fault()
}
