//! A `uart` device of the description on this board (`system::UART`: QEMU's COM2, a 16550 whose
//! other end is a pty on the host): its owner gets two capabilities and no memory, an I/O port
//! capability narrowed to the port's eight registers (seL4 5.0 narrows the monitor's I/O port
//! capability with `CNode_Mint` and a port-range data word; it has no
//! `X86IOPortControl_Issue`), and the IRQ handler of the port's interrupt, which the kernel
//! signals on the owner's notification with the device's badge bit. The owner's driver
//! acknowledges the interrupt itself (`partition/src/uart.rs`).
//!
//! Avoids: touching the port (the monitor never reads or writes COM2), any port outside the
//! range, handing the interrupt to anyone but the owner.

use crate::alloc::{Alloc, StepError, step};
use crate::partitions::Built;
use sel4::*;
use system::*;

/// The IOAPIC QEMU's ISA interrupts arrive on.
const IOAPIC: Word = 0;

/// Gives `uart` device `d` to its owner (see the module docs); logs each capability after the
/// kernel accepted it.
pub fn grant(
    alloc: &mut Alloc,
    ipc: &mut IpcBuffer,
    built: &Built,
    d: usize,
) -> Result<(), StepError> {
    let dev = &DEVICES[d];
    let owner = COMPONENTS[dev.owner].name;
    let cnode = built.cnode[dev.owner];
    let (port_slot, irq_slot) = uart_slots(d);
    let all = cap_rights(true, true, true);
    let range = io_port_range(UART.first_port, UART.last_port);
    step(
        "mint the serial port's I/O port capability",
        ipc.cnode_mint(cnode, port_slot, CNODE_BITS, seL4_CapIOPort, all, range),
    )?;
    log!(
        "monitor",
        "cspace {owner}: slot {port_slot} = ioport {} ({}, ports {:#x}-{:#x})",
        dev.name,
        UART.name,
        UART.first_port,
        UART.last_port
    );
    let handler = alloc.slot()?;
    let pin = Word::from(UART.irq);
    step(
        "issue the serial port's IRQ handler",
        ipc.irq_issue_ioapic(handler, IOAPIC, pin, Word::from(UART.kernel_irq)),
    )?;
    let bit = 1 << uart_source(d);
    let badged = alloc.signal_cap(ipc, built.notification[dev.owner], bit)?;
    step(
        "route the serial port's IRQ",
        ipc.irq_set_notification(handler, badged),
    )?;
    step(
        "mint the serial port's IRQ handler",
        ipc.cnode_mint(cnode, irq_slot, CNODE_BITS, handler, all, 0),
    )?;
    log!(
        "monitor",
        "cspace {owner}: slot {irq_slot} = irq-handler {} (IRQ {} via IOAPIC pin {}, signals notification {owner} with badge {bit:#x})",
        dev.name,
        UART.irq,
        UART.irq
    );
    log!(
        "monitor",
        "device {} of {owner}: {} (16550, ports {:#x}-{:#x}, IRQ {}), the host's end is a pty (QEMU -serial)",
        dev.name,
        UART.name,
        UART.first_port,
        UART.last_port,
        UART.irq
    );
    Ok(())
}
