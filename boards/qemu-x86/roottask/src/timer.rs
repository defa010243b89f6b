//! The monitor's timer (the description gives the `timer` device to the monitor): QEMU's 8254
//! PIT, channel 0, programmed through the monitor's I/O port capability as a 100 Hz rate
//! generator, its IRQ 0 (IOAPIC 0 pin 2 on QEMU's `pc` machine) delivered by the kernel to the
//! notification bound to the monitor with [`system::TICK_BIT`]. The monitor acknowledges each
//! tick and forwards it to the started components (`events`).
//!
//! Avoids: polling; handing the PIT or its IRQ to any component.

use crate::alloc::{Alloc, StepError, step};
use sel4::*;

/// Ticks per second.
pub const HZ: u64 = 100;
/// The PIT's input clock (Hz).
const PIT_HZ: u64 = 1_193_182;
const PIT_CHANNEL0: Word = 0x40;
const PIT_COMMAND: Word = 0x43;
/// Channel 0, low then high byte, mode 2 (rate generator), binary.
const PIT_MODE2: Word = 0x34;
/// The PIT's IRQ 0 arrives on IOAPIC 0 pin 2 (QEMU's interrupt source override).
const IOAPIC: Word = 0;
const PIN: Word = 2;

/// The tick's IRQ handler capability.
pub struct Timer {
    handler: CPtr,
}

impl Timer {
    /// Programs the PIT and routes its IRQ to `notification` (a copy badged with TICK_BIT).
    pub fn start(
        alloc: &mut Alloc,
        ipc: &mut IpcBuffer,
        notification: CPtr,
    ) -> Result<Self, StepError> {
        let handler = alloc.slot()?;
        step(
            "issue the PIT's IRQ handler",
            ipc.irq_issue_ioapic(handler, IOAPIC, PIN, 0),
        )?;
        let badged = alloc.signal_cap(ipc, notification, system::TICK_BIT)?;
        step(
            "route the PIT's IRQ",
            ipc.irq_set_notification(handler, badged),
        )?;
        let divisor = PIT_HZ / HZ;
        for (port, value) in [
            (PIT_COMMAND, PIT_MODE2),
            (PIT_CHANNEL0, divisor & 0xff),
            (PIT_CHANNEL0, divisor >> 8),
        ] {
            step(
                "program the PIT",
                ipc.invoke(seL4_CapIOPort, X86IOPortOut8, &[port, value], &[]),
            )?;
        }
        // The pin stays masked until the first acknowledgement.
        step("unmask the PIT's IRQ", ipc.irq_ack(handler))?;
        log!(
            "monitor",
            "timer: PIT channel 0 at {HZ} Hz, IRQ 0 via IOAPIC pin {PIN}; each tick is forwarded to the started components"
        );
        Ok(Self { handler })
    }

    /// Acknowledges a tick, so the kernel delivers the next.
    pub fn ack(&self, ipc: &mut IpcBuffer) -> Result<(), StepError> {
        step("acknowledge the tick", ipc.irq_ack(self.handler))
    }
}
