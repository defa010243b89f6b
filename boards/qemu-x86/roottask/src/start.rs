//! Starts a component built by [`crate::partitions`]: loads the partition program's own ELF
//! into its VSpace, maps its stack, and starts a thread with its CSpace, its VSpace, its
//! description priority and the monitor's fault endpoint (its slot 2).
//!
//! Avoids: mapping anything but the program, the stack and the rings already granted.

use crate::alloc::{Alloc, StepError, step};
use crate::link_keys::{LinkKeys, LinkKeysError};
use crate::partitions::Built;
use crate::seed::{SeedError, Seeds};
use crate::vspace::{self, LoadError, RW, Scratch};
use sel4::*;
use system::*;

/// Pages of comms-flash the link keys' inbox lies in (its SDLS region).
const INBOX_PAGES: usize = crate::link_keys::SDLS_PAGES;

/// The partition program, built before the root task by build-roottask.
static PARTITION_ELF: &[u8] = include_bytes!(env!("SPACENODE_PARTITION_ELF"));

/// Why a component could not be started.
pub enum StartError {
    Load(LoadError),
    Step(StepError),
    Seed(SeedError),
    LinkKeys(LinkKeysError),
}

impl From<StepError> for StartError {
    fn from(e: StepError) -> Self {
        Self::Step(e)
    }
}

impl core::fmt::Display for StartError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Load(e) => write!(f, "loading the partition program: {e}"),
            Self::Step(e) => write!(f, "{e}"),
            Self::Seed(e) => write!(f, "its seed: {e}"),
            Self::LinkKeys(e) => write!(f, "{e}"),
        }
    }
}

/// What the monitor keeps of a started component, to check it and to restart it.
pub struct Started {
    pub index: usize,
    /// The monitor's mapping of its hardware watchdog page, if it owns one (words: timeout in
    /// µs, 0 until started; kick count).
    pub watchdog: Option<*const u64>,
    tcb: CPtr,
    image: vspace::Loaded,
    /// The monitor's mapping of its start page (seed, start number, fault request).
    start_page: *mut u8,
    tsc_mhz: Word,
    /// Starts so far, the first included.
    pub starts: u16,
}

/// What every start needs besides the allocator: the components built, and the TSC frequency
/// the partitions' clocks scale by.
pub struct Env<'a> {
    pub built: &'a Built,
    pub tsc_mhz: Word,
}

/// What the monitor hands a component at its first start besides its grants.
pub struct Extras<'a> {
    /// Asks it to fault at once (see `system::START_INJECT_FAULT_OFFSET`).
    pub inject_fault: bool,
    /// The link keys to write into its `comms-flash` inbox ([`crate::link_keys`]).
    pub link_keys: Option<&'a mut LinkKeys>,
}

/// Starts component `index` (see [`Extras`]).
pub fn start(
    alloc: &mut Alloc,
    ipc: &mut IpcBuffer,
    scratch: &mut Scratch,
    seeds: &mut Seeds,
    env: &Env,
    index: usize,
    extras: Extras,
) -> Result<Started, StartError> {
    let Extras {
        inject_fault,
        mut link_keys,
    } = extras;
    let (built, tsc_mhz) = (env.built, env.tsc_mhz);
    let c = &COMPONENTS[index];
    let Some(vs) = &built.vspace[index] else {
        return Err(StartError::Step(StepError {
            what: "start the root task",
            error: Error(seL4_IllegalOperation),
        }));
    };
    let image =
        vspace::load_elf(vs, alloc, ipc, scratch, PARTITION_ELF).map_err(StartError::Load)?;
    let stack_pages = c.stack_size.div_ceil(PAGE);
    for i in 0..stack_pages {
        vs.new_page(alloc, ipc, None, STACK_TOP - (i + 1) * PAGE, RW)?;
    }
    let mut watchdog = None;
    for d in (0..DEVICES.len()).filter(|&d| DEVICES[d].owner == index) {
        if is_uart(&DEVICES[d]) {
            crate::uart::grant(alloc, ipc, built, d)?;
            continue;
        }
        let keys = link_keys.take_if(|_| DEVICES[d].name == COMMS_FLASH);
        if let Some(page) = map_device(alloc, ipc, scratch, seeds, vs, d, keys)? {
            watchdog = Some(page);
        }
    }
    if link_keys.is_some() {
        return Err(StartError::LinkKeys(LinkKeysError::NoInbox));
    }
    let (_, start_page) = vs.new_page(alloc, ipc, Some(scratch), START_SEED_VADDR, vspace::RO)?;
    let tcb = alloc.object(ipc, seL4_TCBObject, 0, "retype component TCB")?;
    let guard = guard_data(seL4_WordBits - CNODE_BITS);
    let prio = c.priority as Word;
    step(
        "configure component TCB",
        ipc.tcb_configure(tcb, SLOT_FAULT_EP, prio, built.cnode[index], guard, vs.pml4),
    )?;
    log!(
        "monitor",
        "{}: start seed at {START_SEED_VADDR:#x} (read-only); {}",
        c.name,
        crate::seed::ORIGIN
    );
    let mut started = Started {
        index,
        watchdog,
        tcb,
        image,
        start_page,
        tsc_mhz,
        starts: 0,
    };
    started.go(ipc, seeds, inject_fault)?;
    log!(
        "monitor",
        "started {}: partition program ({} pages at {WINDOW_BASE:#x}), {stack_pages} stack pages, priority {prio}{}",
        c.name,
        started.image.pages,
        if inject_fault {
            "; asked to fault at once (the board's check of the fault path)"
        } else {
            ""
        }
    );
    Ok(started)
}

impl Started {
    /// Fills the start page (a fresh seed, the start number, the fault request) and starts the
    /// thread at the program's entry with an empty stack.
    fn go(
        &mut self,
        ipc: &mut IpcBuffer,
        seeds: &mut Seeds,
        inject_fault: bool,
    ) -> Result<(), StartError> {
        self.starts += 1;
        // SAFETY: the monitor's read-write mapping of the start page (a whole page); the
        // component maps it read-only and its thread is not running.
        unsafe {
            let seed = core::slice::from_raw_parts_mut(self.start_page, START_SEED_BYTES);
            seeds.draw(seed).map_err(StartError::Seed)?;
            let words = self.start_page.add(START_NUMBER_OFFSET) as *mut u64;
            words.write_volatile(u64::from(self.starts));
            let fault = self.start_page.add(START_INJECT_FAULT_OFFSET) as *mut u64;
            fault.write_volatile(u64::from(inject_fault));
        }
        let args = [self.index as Word, self.tsc_mhz];
        let entry = self.image.entry;
        step(
            "start component",
            ipc.tcb_start(self.tcb, entry, STACK_TOP - 8, args),
        )?;
        Ok(())
    }

    /// Asks the running component to fault (its backend looks at the word after each wake-up;
    /// the next tick wakes it): the board's check of the fault path of a component in service.
    pub fn ask_fault(&mut self) {
        // SAFETY: the monitor's read-write mapping of the start page; the word is inside it.
        unsafe {
            let fault = self.start_page.add(START_INJECT_FAULT_OFFSET) as *mut u64;
            fault.write_volatile(1);
        }
    }

    /// Restarts the component: stops its thread, restores its data and bss from the program
    /// image, and starts it again with a fresh start page. Its rings, devices (its flash keeps
    /// what it wrote) and capabilities stay as they are.
    pub fn restart(&mut self, ipc: &mut IpcBuffer, seeds: &mut Seeds) -> Result<(), StartError> {
        step("stop component", ipc.tcb_suspend(self.tcb))?;
        vspace::reload_writable(PARTITION_ELF, &self.image).map_err(StartError::Load)?;
        self.go(ipc, seeds, false)
    }
}

/// The flash device whose inbox takes the link keys (comms' own, `comms_partition::keys`).
const COMMS_FLASH: &str = "comms-flash";

/// Maps device `d`'s RAM into its owner's VSpace: a flash as zeroed frames (erased: this
/// board's flash reads 0x00 when erased; `link_keys` written into its inbox if given), the
/// rng as one read-only page holding the seed, the hardware watchdog as one read-write page
/// the monitor keeps mapped (returned) and checks.
fn map_device(
    alloc: &mut Alloc,
    ipc: &mut IpcBuffer,
    scratch: &mut Scratch,
    seeds: &mut Seeds,
    vs: &vspace::VSpace,
    d: usize,
    link_keys: Option<&mut LinkKeys>,
) -> Result<Option<*const u64>, StartError> {
    let dev = &DEVICES[d];
    let (base, bytes) = (device_vaddr(d), device_bytes(dev));
    if dev.kind == "watchdog" {
        let (_, page) = vs.new_page(alloc, ipc, Some(scratch), base, RW)?;
        log!(
            "monitor",
            "device {} of {}: a page at {base:#x} the monitor checks every tick: EMULATED by the monitor (QEMU's ib700 times out in 2 s steps); its expiry ends the run as a board reset",
            dev.name,
            COMPONENTS[dev.owner].name
        );
        return Ok(Some(page as *const u64));
    }
    if dev.kind == "rng" {
        let (_, seed) = vs.new_page(alloc, ipc, Some(scratch), base, vspace::RO)?;
        // SAFETY: a fresh frame mapped read-write for the monitor; RNG_SEED_BYTES < PAGE.
        let seed = unsafe { core::slice::from_raw_parts_mut(seed, RNG_SEED_BYTES) };
        seeds.draw(seed).map_err(StartError::Seed)?;
        log!(
            "monitor",
            "device {} of {}: seed page at {base:#x} (read-only); {}",
            dev.name,
            COMPONENTS[dev.owner].name,
            crate::seed::ORIGIN
        );
        return Ok(None);
    }
    let mut first = [0 as CPtr; INBOX_PAGES];
    for p in 0..bytes / PAGE {
        let (frame, _) = vs.new_page(alloc, ipc, None, base + p * PAGE, RW)?;
        if let Some(f) = first.get_mut(p as usize) {
            *f = frame;
        }
    }
    log!(
        "monitor",
        "device {} of {}: {} KiB of RAM at {base:#x}, erased; VOLATILE: its contents are lost at every boot",
        dev.name,
        COMPONENTS[dev.owner].name,
        bytes >> 10
    );
    if let Some(keys) = link_keys {
        let len = keys
            .write_inbox(alloc, ipc, scratch, &first)
            .map_err(StartError::LinkKeys)?;
        log!(
            "monitor",
            "link keys for {} ({len} bytes, {}) written into the provisioning inbox of its {}; comms seals them at its start",
            COMPONENTS[dev.owner].name,
            crate::link_keys::ORIGIN,
            dev.name,
        );
    }
    Ok(None)
}
