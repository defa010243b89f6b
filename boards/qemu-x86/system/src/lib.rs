//! The system description as the qemu-x86 monitor and partitions use it: the components and
//! channels of the shipped description (`kernel-config/spacenode.toml`), turned into static
//! tables at build time by `build.rs` through `kernel_config::load`, and the one place that
//! decides where each grant lives: capability slots, notification badges, ring addresses.
//! The monitor lays a component out with these functions and the component finds its grants
//! with the same functions, so the two cannot disagree.
//!
//! Avoids: any TOML, allocation or validation at run time; that all happened at build time.
#![no_std]

use ipc::ChannelSpec;

/// One component: its name, seL4 priority, and whether it is the root task (the monitor).
pub struct ComponentDesc {
    pub name: &'static str,
    pub priority: u8,
    pub root: bool,
    /// Its stack, in bytes (the description's `stack-size`).
    pub stack_size: u64,
}

/// A device the monitor gives its owner: RAM it maps (flash, rng and watchdog kinds of the
/// board file) or, for the `uart` kind, capabilities (see [`UART`]). The other kinds (the
/// radio) are not modelled on this board.
pub struct DeviceDesc {
    pub name: &'static str,
    pub kind: &'static str,
    /// Index into [`COMPONENTS`].
    pub owner: usize,
}

/// One channel: its ends (indices into [`COMPONENTS`]), its ring geometry, and whether the
/// receiver copies slots in before validating them.
pub struct ChannelDesc {
    pub name: &'static str,
    pub sender: usize,
    pub receiver: usize,
    pub spec: ChannelSpec,
    pub copy_in: bool,
}

const fn spec(kind: &'static str, slots: u32, slot_size: u32) -> ChannelSpec {
    match ChannelSpec::new(kind, slots, slot_size) {
        Ok(s) => s,
        Err(_) => panic!("a channel geometry kernel_config accepted is refused by ipc"),
    }
}

include!(concat!(env!("OUT_DIR"), "/system.rs"));

/// Page size of the VSpace layout.
pub const PAGE: u64 = 4096;
/// Where the partition program is linked and loaded (its text, data and bss, up to 256 MiB).
pub const WINDOW_BASE: u64 = 0x1000_0000;
/// Its rings, one after another with a guard page between them.
pub const RING_BASE: u64 = 0x2000_0000;
/// Its devices' RAM, one after another with a guard page between them.
pub const DEVICE_BASE: u64 = 0x3000_0000;
/// Its stack (the description's `stack-size`) ends here; the page above is unmapped.
pub const STACK_TOP: u64 = 0x4000_0000;

/// Capacity of a RAM-backed flash: the description's device `size` is the controller's MMIO
/// window, not the part's capacity. The same capacities as the sim board's flash images
/// (`board_sim::monitor::devices::flash_capacity`): 2 MiB for `comms-flash` (its SDLS state,
/// CFDP journal and a whole batch file), 1 MiB for the others.
pub const fn device_bytes(d: &DeviceDesc) -> u64 {
    match (d.kind.as_bytes(), d.name.as_bytes()) {
        (b"flash", b"comms-flash") => 2 << 20,
        (b"flash", _) => 1 << 20,
        // A uart is capabilities, no memory.
        (b"uart", _) => 0,
        // The rng: one page holding the seed the monitor drew (see the README). The watchdog:
        // one page of two words (timeout in µs, kick count) the monitor checks every tick.
        _ => PAGE,
    }
}

/// Bytes of seed at the start of the rng's page.
pub const RNG_SEED_BYTES: usize = 32;
/// A read-only page whose first [`START_SEED_BYTES`] bytes are this start's random seed
/// (`runtime::CapSetBuilder::seed`), fresh at every start.
pub const START_SEED_VADDR: u64 = DEVICE_BASE - 2 * PAGE;
/// Bytes of the start seed (`runtime::SEED_LEN`; the partition checks they agree).
pub const START_SEED_BYTES: usize = 32;
/// After the seed on the start page: the start's number (1 for the first start), a word.
pub const START_NUMBER_OFFSET: usize = 32;
/// Then a word: non-zero when the monitor asks the partition to fault at once (the board's
/// self-check of the fault path: a capability it was not granted, [`SLOT_NOT_GRANTED`]).
pub const START_INJECT_FAULT_OFFSET: usize = 40;
/// A CSpace slot no component is ever granted (the last one).
pub const SLOT_NOT_GRANTED: u64 = (1 << CNODE_BITS) - 1;
/// The notification badge bit of the monitor's timer tick (`runtime::Source::TIMER`'s bit).
pub const TICK_BIT: u64 = 1 << 63;

/// Where device `d` is mapped in its owner's VSpace (a RAM device: not a [`is_uart`] one).
pub fn device_vaddr(d: usize) -> u64 {
    let owner = DEVICES[d].owner;
    DEVICE_BASE
        + DEVICES[..d]
            .iter()
            .filter(|x| x.owner == owner && !is_uart(x))
            .map(|x| device_bytes(x) + PAGE)
            .sum::<u64>()
}

/// Whether `d` is a serial port: given as capabilities (an I/O port range and an IRQ
/// handler), not as memory.
pub fn is_uart(d: &DeviceDesc) -> bool {
    d.kind == "uart"
}

/// A 16550 serial port of QEMU's `pc` machine: its I/O ports and its ISA IRQ, which arrives on
/// the IOAPIC pin of the same number (only IRQ 0 is overridden, to pin 2).
pub struct UartPort {
    pub name: &'static str,
    pub first_port: u16,
    pub last_port: u16,
    pub irq: u8,
    /// The kernel's user IRQ number it is delivered as (`IRQControl_GetIOAPIC`'s last
    /// argument; CPU vector 0x30 + n). The monitor's timer has 0.
    pub kernel_irq: u8,
}

/// The serial port behind every `uart` device of the description on this board: COM2 (COM1
/// carries the kernel's and the partitions' log). The description has one, `standby-link`.
pub const UART: UartPort = UartPort {
    name: "COM2",
    first_port: 0x2f8,
    last_port: 0x2ff,
    irq: 3,
    // Not 3: with 3 (vector 0x33) the kernel stopped at the port's first interrupt with a
    // general protection fault on that vector's IDT entry (QEMU 7.2 TCG, seL4 5.0); 1 works.
    // The cause was not found.
    kernel_irq: 1,
};

/// The rank of `uart` device `d` among its owner's `uart` devices.
fn uart_rank(d: usize) -> u64 {
    let owner = DEVICES[d].owner;
    DEVICES[..d]
        .iter()
        .filter(|x| x.owner == owner && is_uart(x))
        .count() as u64
}

/// The CSpace slots of `uart` device `d` in its owner: its I/O port capability (the port
/// range of [`UART`]) and its IRQ handler capability, after the slots of the owner's send
/// channels.
pub fn uart_slots(d: usize) -> (u64, u64) {
    let owner = DEVICES[d].owner;
    let sends = CHANNELS.iter().filter(|c| c.sender == owner).count() as u64;
    let first = SLOT_FAULT_EP + 1 + sends + 2 * uart_rank(d);
    (first, first + 1)
}

/// The notification badge bit (and `runtime::Source` index) of `uart` device `d`'s interrupt
/// at its owner: after the bits of the owner's receive channels.
pub fn uart_source(d: usize) -> u8 {
    let owner = DEVICES[d].owner;
    let receives = CHANNELS.iter().filter(|c| c.receiver == owner).count() as u64;
    (receives + uart_rank(d)) as u8
}

/// CSpace layout: 2^5 slots.
pub const CNODE_BITS: u64 = 5;
/// Slot of the component's own notification (receive only).
pub const SLOT_OWN_NOTIFICATION: u64 = 1;
/// Slot of its fault endpoint (badged with [`fault_badge`]).
pub const SLOT_FAULT_EP: u64 = 2;

/// The badge of `component`'s fault endpoint capability.
pub const fn fault_badge(component: usize) -> u64 {
    0x100 + component as u64
}

/// The component whose fault endpoint capability carries `badge`.
pub fn faulting_component(badge: u64) -> Option<&'static ComponentDesc> {
    COMPONENTS.get(badge.checked_sub(0x100)? as usize)
}

/// Pages of channel `ch`'s ring.
pub const fn ring_pages(ch: usize) -> u64 {
    (CHANNELS[ch].spec.region_size() as u64).div_ceil(PAGE)
}

/// Whether `component` is an end of channel `ch`.
pub const fn is_end(component: usize, ch: usize) -> bool {
    CHANNELS[ch].sender == component || CHANNELS[ch].receiver == component
}

/// Where channel `ch`'s ring is mapped in `component`'s VSpace (it must be an end).
pub fn ring_vaddr(component: usize, ch: usize) -> u64 {
    RING_BASE
        + (0..ch)
            .filter(|&c| is_end(component, c))
            .map(|c| (ring_pages(c) + 1) * PAGE)
            .sum::<u64>()
}

/// The notification badge bit (and `runtime::Source` index) of channel `ch` at its receiver:
/// its rank among the receiver's channels.
pub fn source_index(ch: usize) -> u8 {
    let receiver = CHANNELS[ch].receiver;
    CHANNELS[..ch]
        .iter()
        .filter(|c| c.receiver == receiver)
        .count() as u8
}

/// The slot in the sender's CSpace of the signal capability for channel `ch`: after the two
/// fixed slots, one per channel it sends, in channel order.
pub fn send_slot(ch: usize) -> u64 {
    let sender = CHANNELS[ch].sender;
    SLOT_FAULT_EP + 1 + CHANNELS[..ch].iter().filter(|c| c.sender == sender).count() as u64
}
