//! A sim board for the agent's tests: the slot flash and the boot record on memfd-backed sim
//! flash (so power cycles re-open them), a factory image in slot A, bundles signed by test keys
//! with the `upgrade` crate's builder, and a ground that follows the agent's `next_chunk`. The
//! slot flash's geometry and erased value are the board's type parameter ([`SlotFlash`]).

#![allow(dead_code)]

use board_sim::boot::{BOOT_FLASH_SIZE, BOOT_LAYOUT, BootFlash, SimBootControl};
use board_sim::flash::{PowerCut, SimFlash};
use hal::boot::{BootControl, BootState, Slot};
use hal::flash::{ErasedValue, NorFlash};
use hal::slots::SlotLayout;
use protocol::{UpgradeState, UpgradeStatus};
use std::fs::File;
use store::FlashBootControl;
use upgrade::builder::{ManifestSpec, RootSpec, SecretKey, SignedDoc, assemble};
use upgrade::{Algorithm, Version};
use upgrade_partition::{Agent, Buffers, Config, Piece};

/// A small layout: 256 KiB slots, 8 KiB header areas, 16 KiB progress region.
pub const LAYOUT: SlotLayout = SlotLayout {
    slot_size: 256 << 10,
    header_area: 8 << 10,
    progress_len: 16 << 10,
};
/// Chunks of 4 KiB (the sim flash's sector).
pub const CHUNK_LOG2: u8 = 12;
/// Transfer messages of 1000 bytes.
pub const PIECE: usize = 1000;
pub const CONFIG: Config = Config {
    soak_ms: 1000,
    trial_attempts: 2,
    soak_deadline_ms: 10_000,
};

pub type TestAgent<F = SimFlash> = Agent<F, SimBootControl>;

/// A sim slot flash of any geometry and erased value: what the board needs of it beyond the
/// `hal::flash` traits (the sim's own methods, which are inherent).
pub trait SlotFlash: NorFlash + ErasedValue + Sized {
    fn anonymous(capacity: usize) -> Self;
    fn from_file(file: File) -> Self;
    fn file(&self) -> File;
    fn cut_power(&mut self, cut: PowerCut);
    fn peek(&self, addr: u64, buf: &mut [u8]);
}

impl<const W: usize, const E: usize, const X: u8> SlotFlash for SimFlash<W, E, X> {
    fn anonymous(capacity: usize) -> Self {
        SimFlash::anonymous(capacity).unwrap()
    }
    fn from_file(file: File) -> Self {
        SimFlash::from_file(file).unwrap()
    }
    fn file(&self) -> File {
        self.try_clone_file().unwrap()
    }
    fn cut_power(&mut self, cut: PowerCut) {
        SimFlash::cut_power(self, cut)
    }
    fn peek(&self, addr: u64, buf: &mut [u8]) {
        SimFlash::peek(self, addr, buf).unwrap()
    }
}

pub fn key(seed: u8) -> SecretKey {
    SecretKey::from_seed(Algorithm::Ed25519, &[seed; 32]).unwrap()
}

/// A bundle of `image` at `version` / `counter`, root v1 = key 1, release = key 2.
pub fn bundle(image: &[u8], version: (u16, u16, u16), counter: u32) -> Vec<u8> {
    bundle_for(image, version, counter, b"sim-1")
}

pub fn bundle_for(image: &[u8], version: (u16, u16, u16), counter: u32, hw: &[u8]) -> Vec<u8> {
    let (root_key, release_key) = (key(1), key(2));
    let root = RootSpec {
        version: 1,
        root_threshold: 1,
        root_keys: vec![root_key.public()],
        release_threshold: 1,
        release_keys: vec![release_key.public()],
    };
    let mut root_doc = SignedDoc::new(root.body().unwrap());
    root_doc.sign(&root_key);
    let spec = ManifestSpec {
        board: b"sim".to_vec(),
        hardware: hw.to_vec(),
        version: Version::new(version.0, version.1, version.2),
        security_counter: counter,
        expires: u64::MAX,
        chunk_log2: CHUNK_LOG2,
    };
    let mut manifest = SignedDoc::new(spec.body(image).unwrap());
    manifest.sign(&release_key);
    assemble(&[root_doc], &manifest, image).unwrap()
}

/// Deterministic image bytes.
pub fn image(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2654435761).to_le_bytes()[1] ^ seed)
        .collect()
}

pub struct Board<F = SimFlash> {
    pub slot: File,
    pub boot: File,
    pub geometry: std::marker::PhantomData<F>,
}

fn leak(n: usize) -> &'static mut [u8] {
    Box::leak(vec![0u8; n].into_boxed_slice())
}

impl<F: SlotFlash> Board<F> {
    /// A fresh board with `factory` (a bundle) in slot A.
    pub fn new(factory: &[u8]) -> Self {
        let mut flash = F::anonymous(LAYOUT.flash_len() as usize);
        write_slot(&mut flash, Slot::A, factory);
        let boot = BootFlash::anonymous(BOOT_FLASH_SIZE).unwrap();
        Board {
            slot: flash.file(),
            boot: boot.try_clone_file().unwrap(),
            geometry: std::marker::PhantomData,
        }
    }

    pub fn slot_flash(&self) -> F {
        F::from_file(self.slot.try_clone().unwrap())
    }

    pub fn boot_control(&self) -> SimBootControl {
        board_sim::boot::open_from_file(self.boot.try_clone().unwrap()).unwrap()
    }

    /// The bootloader's step at power-on.
    pub fn power_on(&self) -> BootState {
        let f = BootFlash::from_file(self.boot.try_clone().unwrap()).unwrap();
        let mut bc = FlashBootControl::open_or_recover(f, BOOT_LAYOUT).unwrap();
        let _ = bc.select_boot();
        bc.state()
    }

    /// The boot stage's power-on when the selected slot does not verify: select, then record
    /// the fallback to the slot it boots instead (the confirmed one after a refused trial, else
    /// the other one).
    pub fn power_on_refusing_selected(&self) -> BootState {
        let f = BootFlash::from_file(self.boot.try_clone().unwrap()).unwrap();
        let mut bc = FlashBootControl::open_or_recover(f, BOOT_LAYOUT).unwrap();
        let selected = bc.select_boot().unwrap();
        let st = bc.state();
        let instead = if st.trial_running() {
            st.confirmed
        } else {
            selected.other()
        };
        bc.record_fallback(instead).unwrap();
        bc.state()
    }

    /// Powers on and starts the agent.
    pub fn boot(&self) -> TestAgent<F> {
        self.power_on();
        self.agent()
    }

    /// Starts the agent (without a power-on: a restart of the partition).
    pub fn agent(&self) -> TestAgent<F> {
        self.agent_with(None, None)
    }

    /// Starts the agent with power cuts armed on the slot flash and the boot record flash.
    pub fn agent_with(
        &self,
        slot_cut: Option<PowerCut>,
        boot_cut: Option<PowerCut>,
    ) -> TestAgent<F> {
        let mut flash = self.slot_flash();
        if let Some(c) = slot_cut {
            flash.cut_power(c);
        }
        let mut bf = BootFlash::from_file(self.boot.try_clone().unwrap()).unwrap();
        if let Some(c) = boot_cut {
            bf.cut_power(c);
        }
        let boot = FlashBootControl::open(bf, BOOT_LAYOUT).unwrap();
        let bufs = Buffers {
            incoming: leak(upgrade::MAX_HEADER_LEN),
            running: leak(upgrade::MAX_HEADER_LEN),
            chunk: leak(1 << upgrade::MAX_CHUNK_LOG2),
        };
        Agent::start(flash, boot, LAYOUT, CONFIG, bufs)
            .unwrap_or_else(|e| panic!("agent start: {e:?}"))
    }

    pub fn state(&self) -> BootState {
        self.boot_control().state()
    }
}

/// Writes a whole bundle into `slot` (factory provisioning).
pub fn write_slot<F: SlotFlash>(flash: &mut F, slot: Slot, bundle: &[u8]) {
    let h = upgrade::header_len(bundle).unwrap();
    let start = LAYOUT.slot_offset(slot);
    flash.erase(start, start + LAYOUT.slot_size).unwrap();
    for (at, bytes) in [
        (start, &bundle[..h]),
        (LAYOUT.image_offset(slot), &bundle[h..]),
    ] {
        let mut v = bytes.to_vec();
        v.resize(v.len().next_multiple_of(F::WRITE_SIZE), F::ERASED);
        flash.write(at, &v).unwrap();
    }
}

/// Transfer message `index` of `bundle`.
pub fn piece(id: u64, bundle: &[u8], index: u32) -> Piece<'_> {
    let count = bundle.len().div_ceil(PIECE) as u32;
    let off = index as usize * PIECE;
    Piece {
        bundle_id: id,
        index,
        count,
        offset: off as u32,
        total_len: bundle.len() as u32,
        data: &bundle[off..(off + PIECE).min(bundle.len())],
    }
}

/// Runs the agent's background work to the end.
pub fn settle<F: SlotFlash>(a: &mut TestAgent<F>) {
    for _ in 0..10_000 {
        if !a.poll() {
            return;
        }
    }
    panic!("background work does not end");
}

/// What the ground did.
#[derive(Debug, Default)]
pub struct Uplink {
    pub messages: u32,
    pub bytes: u64,
    pub last: UpgradeStatus,
}

/// The ground: sends the message the agent asks for until it stops receiving, or `limit`
/// messages were sent.
pub fn uplink<F: SlotFlash>(a: &mut TestAgent<F>, id: u64, bundle: &[u8], limit: u32) -> Uplink {
    let mut up = Uplink::default();
    let count = bundle.len().div_ceil(PIECE) as u32;
    let mut next = a.status().next_chunk;
    if a.status().bundle_id != id {
        next = 0;
    }
    while up.messages < limit {
        let p = piece(id, bundle, next.min(count - 1));
        up.messages += 1;
        up.bytes += p.data.len() as u64;
        let s = a.on_piece(&p);
        if matches!(s.state, UpgradeState::Failed { .. }) {
            up.last = s;
            break;
        }
        settle(a);
        up.last = a.status();
        if up.last.state != UpgradeState::Receiving {
            break;
        }
        next = up.last.next_chunk;
    }
    up
}
