//! The thin seL4 interface: the kernel's own names (`seL4_Signal`, `seL4_Wait`, `seL4_Call`,
//! `seL4_ReplyRecv`, `seL4_DebugPutChar` and the few invocations the monitor and the partitions use), on x86_64's
//! `syscall` convention as libsel4 5.0's `syscalls_syscall.h` defines it.
//!
//! Every number (syscall, invocation label, object type, error, bootinfo and IPC-buffer offset,
//! bitfield shift) comes from `sel4_names.rs`, printed by `boards/qemu-x86/kernel/names.c` from
//! the kernel build's generated headers. None is counted by hand. This module is the only place
//! that speaks to the kernel; it avoids any allocation and any libsel4 C code.
#![no_std]
#![allow(non_upper_case_globals, non_snake_case)]

pub mod console;
mod mem;
pub mod notify;
pub mod probe_abi;

use core::arch::asm;

/// A machine word, as the kernel sees it.
pub type Word = u64;
/// A capability address in the caller's CSpace.
pub type CPtr = Word;

include!(concat!(env!("OUT_DIR"), "/sel4_names.rs"));

/// An seL4 error code (`seL4_Error`) returned by an invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error(pub Word);

impl Error {
    /// The kernel's name of this error.
    pub fn name(self) -> &'static str {
        match self.0 {
            seL4_InvalidArgument => "seL4_InvalidArgument",
            seL4_InvalidCapability => "seL4_InvalidCapability",
            seL4_IllegalOperation => "seL4_IllegalOperation",
            seL4_RangeError => "seL4_RangeError",
            seL4_AlignmentError => "seL4_AlignmentError",
            seL4_FailedLookup => "seL4_FailedLookup",
            seL4_TruncatedMessage => "seL4_TruncatedMessage",
            seL4_DeleteFirst => "seL4_DeleteFirst",
            seL4_RevokeFirst => "seL4_RevokeFirst",
            seL4_NotEnoughMemory => "seL4_NotEnoughMemory",
            _ => "unknown seL4 error",
        }
    }
}

/// The kernel's name of a fault message label (`seL4_Fault_*`).
pub fn fault_name(label: Word) -> &'static str {
    match label {
        seL4_Fault_CapFault => "capability fault",
        seL4_Fault_UnknownSyscall => "unknown syscall",
        seL4_Fault_UserException => "user exception",
        seL4_Fault_VMFault => "VM fault",
        _ => "unknown fault",
    }
}

/// `seL4_MessageInfo_new(label, 0, extra_caps, length)`.
pub const fn msg_info(label: Word, extra_caps: Word, length: Word) -> Word {
    (label << MSGINFO_LABEL_SHIFT)
        | (extra_caps << MSGINFO_EXTRA_CAPS_SHIFT)
        | (length << MSGINFO_LENGTH_SHIFT)
}

/// `seL4_MessageInfo_get_label`.
pub const fn msg_label(info: Word) -> Word {
    info >> MSGINFO_LABEL_SHIFT
}

/// `seL4_PrioProps_new(mcp, prio)`.
pub const fn prio_props(mcp: Word, prio: Word) -> Word {
    (mcp << PRIO_PROPS_MCP_SHIFT) | (prio << PRIO_PROPS_PRIO_SHIFT)
}

/// `seL4_CapRights_new(grant, read, write)`.
pub const fn cap_rights(grant: bool, read: bool, write: bool) -> Word {
    ((grant as Word) << CAP_RIGHTS_GRANT_SHIFT)
        | ((read as Word) << CAP_RIGHTS_READ_SHIFT)
        | ((write as Word) << CAP_RIGHTS_WRITE_SHIFT)
}

/// `seL4_CapData_Guard_new(0, guard_size)`.
pub const fn guard_data(guard_size: Word) -> Word {
    CAP_DATA_GUARD_TAG | (guard_size << CAP_DATA_GUARD_SIZE_SHIFT)
}

/// The four message registers carried in CPU registers (r10, r8, r9, r15).
pub type RegMrs = [Word; 4];

/// The raw `syscall` with libsel4's register use: rdx = syscall, rdi = cap or badge,
/// rsi = message info, r10/r8/r9/r15 = MR0..MR3; rbx holds the user stack pointer across the
/// call (LLVM reserves rbx, so it is saved by hand); rcx and r11 are clobbered.
#[inline(always)]
unsafe fn syscall(sys: isize, dest: Word, info: Word, mrs: &mut RegMrs) -> (Word, Word) {
    let (mut badge, mut out_info) = (dest, info);
    // SAFETY: the seL4 syscall ABI: only the listed registers change; memory the kernel
    // writes (the IPC buffer) is not assumed unchanged (no `nomem`).
    unsafe {
        asm!(
            "mov {save}, rbx",
            "mov rbx, rsp",
            "syscall",
            "mov rsp, rbx",
            "mov rbx, {save}",
            save = out(reg) _,
            in("rdx") sys,
            inout("rdi") badge,
            inout("rsi") out_info,
            inout("r10") mrs[0],
            inout("r8") mrs[1],
            inout("r9") mrs[2],
            inout("r15") mrs[3],
            out("rcx") _,
            out("r11") _,
        );
    }
    (badge, out_info)
}

/// `seL4_DebugPutChar` (debug kernels only, which this board builds): the kernel's serial port.
pub fn seL4_DebugPutChar(c: u8) {
    // SAFETY: a debug syscall with no memory operands.
    unsafe { syscall(seL4_SysDebugPutChar, c as Word, 0, &mut [0; 4]) };
}

/// `seL4_Signal`: a send on a notification.
pub fn seL4_Signal(dest: CPtr) {
    // SAFETY: a send with no message words in the IPC buffer.
    unsafe { syscall(seL4_SysSend, dest, msg_info(0, 0, 0), &mut [0; 4]) };
}

/// `seL4_Wait`: blocks on a notification; returns the badge bits that were signalled.
pub fn seL4_Wait(src: CPtr) -> Word {
    // SAFETY: a receive; the kernel writes no IPC buffer for a notification.
    unsafe { syscall(seL4_SysRecv, src, 0, &mut [0; 4]).0 }
}

/// `seL4_Poll`: a non-blocking `seL4_Wait`; returns the badge bits signalled (0: none).
pub fn seL4_Poll(src: CPtr) -> Word {
    // SAFETY: as `seL4_Wait`.
    unsafe { syscall(seL4_SysNBRecv, src, 0, &mut [0; 4]).0 }
}

/// `seL4_Recv` on an endpoint: returns (badge, message info); MR0..MR3 in `mrs`.
pub fn seL4_Recv(src: CPtr, mrs: &mut RegMrs) -> (Word, Word) {
    // SAFETY: a receive; further message words land in this thread's IPC buffer.
    unsafe { syscall(seL4_SysRecv, src, 0, mrs) }
}

/// `seL4_ReplyRecv`: replies to the last caller with `info`/`mrs`, then receives on `src`.
pub fn seL4_ReplyRecv(src: CPtr, info: Word, mrs: &mut RegMrs) -> (Word, Word) {
    // SAFETY: as `seL4_Recv`; the reply words come from `mrs`.
    unsafe { syscall(seL4_SysReplyRecv, src, info, mrs) }
}

/// `seL4_Call`: sends `info` with `mrs` (and IPC-buffer words beyond MR3) and waits for the reply.
pub fn seL4_Call(dest: CPtr, info: Word, mrs: &mut RegMrs) -> Word {
    // SAFETY: as `seL4_Recv`.
    unsafe { syscall(seL4_SysCall, dest, info, mrs).1 }
}

/// Invocation `label` on `cap` with `words` (the first four in registers, the rest already in
/// the IPC buffer) and `extra_caps` caps in the IPC buffer; the reply's message registers.
fn call(cap: CPtr, label: Word, words: &[Word], extra_caps: usize) -> Result<RegMrs, Error> {
    let mut mrs: RegMrs = [0; 4];
    for (m, w) in mrs.iter_mut().zip(words) {
        *m = *w;
    }
    let info = msg_info(label, extra_caps as Word, words.len() as Word);
    match msg_label(seL4_Call(cap, info, &mut mrs)) {
        seL4_NoError => Ok(mrs),
        e => Err(Error(e)),
    }
}

/// The invocations a thread without an IPC buffer (a partition) makes: their arguments and
/// reply fit the message registers.
pub mod regs {
    use super::*;

    /// `seL4_X86_IOPort_In8(port)` on the I/O port capability `cap`.
    pub fn io_in8(cap: CPtr, port: Word) -> Result<u8, Error> {
        Ok(call(cap, X86IOPortIn8, &[port], 0)?[0] as u8)
    }

    /// `seL4_X86_IOPort_Out8(port, value)` on the I/O port capability `cap`.
    pub fn io_out8(cap: CPtr, port: Word, value: u8) -> Result<(), Error> {
        call(cap, X86IOPortOut8, &[port, Word::from(value)], 0).map(|_| ())
    }

    /// `seL4_IRQHandler_Ack` on the IRQ handler capability `cap`.
    pub fn irq_ack(cap: CPtr) -> Result<(), Error> {
        call(cap, IRQAckIRQ, &[], 0).map(|_| ())
    }
}

/// The data word of `CNode_Mint` that narrows an I/O port capability to ports
/// `first..=last` (seL4 5.0's way; later kernels have `X86IOPortControl_Issue`).
pub const fn io_port_range(first: u16, last: u16) -> Word {
    ((first as Word) << IO_PORT_CAPDATA_FIRST_SHIFT)
        | ((last as Word) << IO_PORT_CAPDATA_LAST_SHIFT)
}

/// The calling thread's IPC buffer, where message words beyond MR3 and extra caps go.
pub struct IpcBuffer(*mut u8);

impl IpcBuffer {
    /// # Safety
    /// `ptr` is this thread's mapped IPC buffer, used by this thread only.
    pub const unsafe fn new(ptr: *mut u8) -> Self {
        Self(ptr)
    }

    fn set_word(&mut self, offset: usize, index: usize, value: Word) {
        // SAFETY: offsets come from the generated layout of seL4_IPCBuffer; `new`'s contract.
        unsafe {
            (self.0.add(offset) as *mut Word)
                .add(index)
                .write_volatile(value)
        }
    }

    /// Performs invocation `label` on `cap` with `words` as arguments and `caps` as extra caps.
    pub fn invoke(
        &mut self,
        cap: CPtr,
        label: Word,
        words: &[Word],
        caps: &[CPtr],
    ) -> Result<(), Error> {
        self.invoke_reply(cap, label, words, caps).map(|_| ())
    }

    /// `invoke`, returning the reply's first message registers.
    pub fn invoke_reply(
        &mut self,
        cap: CPtr,
        label: Word,
        words: &[Word],
        caps: &[CPtr],
    ) -> Result<RegMrs, Error> {
        for (i, w) in words.iter().enumerate().skip(4) {
            self.set_word(IPC_BUFFER_MSG, i, *w);
        }
        for (i, c) in caps.iter().enumerate() {
            self.set_word(IPC_BUFFER_CAPS, i, *c);
        }
        call(cap, label, words, caps.len())
    }

    /// `seL4_X86_IOPort_In8(port)` on the I/O port capability `cap`.
    pub fn io_in8(&mut self, cap: CPtr, port: Word) -> Result<u8, Error> {
        Ok(self.invoke_reply(cap, X86IOPortIn8, &[port], &[])?[0] as u8)
    }

    /// `seL4_X86_IOPort_Out16(port, value)` on the I/O port capability `cap`.
    pub fn io_out16(&mut self, cap: CPtr, port: Word, value: u16) -> Result<(), Error> {
        self.invoke(cap, X86IOPortOut16, &[port, Word::from(value)], &[])
    }

    /// `seL4_Untyped_Retype(untyped, ty, size_bits, root CNode, 0, 0, slot, 1)`.
    pub fn untyped_retype(
        &mut self,
        untyped: CPtr,
        ty: Word,
        size_bits: Word,
        slot: CPtr,
    ) -> Result<(), Error> {
        self.invoke(
            untyped,
            UntypedRetype,
            &[ty, size_bits, 0, 0, slot, 1],
            &[seL4_CapInitThreadCNode],
        )
    }

    /// `seL4_CNode_Mint` from the root CNode into `dest_cnode` (depth `dest_depth`).
    pub fn cnode_mint(
        &mut self,
        dest_cnode: CPtr,
        dest_index: Word,
        dest_depth: Word,
        src: CPtr,
        rights: Word,
        badge: Word,
    ) -> Result<(), Error> {
        self.invoke(
            dest_cnode,
            CNodeMint,
            &[dest_index, dest_depth, src, seL4_WordBits, rights, badge],
            &[seL4_CapInitThreadCNode],
        )
    }

    /// `seL4_TCB_Configure` with no IPC buffer.
    pub fn tcb_configure(
        &mut self,
        tcb: CPtr,
        fault_ep: CPtr,
        prio: Word,
        cspace: CPtr,
        cspace_data: Word,
        vspace: CPtr,
    ) -> Result<(), Error> {
        self.invoke(
            tcb,
            TCBConfigure,
            &[fault_ep, prio_props(prio, prio), cspace_data, 0, 0],
            &[cspace, vspace, seL4_CapNull],
        )
    }

    /// `seL4_TCB_WriteRegisters(tcb, resume, 0, ..)` setting rip, rsp, and rdi and rsi (the first
    /// two arguments of an `extern "C"` entry point).
    pub fn tcb_start(
        &mut self,
        tcb: CPtr,
        rip: Word,
        rsp: Word,
        args: [Word; 2],
    ) -> Result<(), Error> {
        const N: usize = USER_CONTEXT_SIZE / 8;
        let mut words = [0 as Word; 2 + N];
        words[0] = 1; // resume_target; arch_flags (bits 8..15) = 0
        words[1] = N as Word;
        words[2 + USER_CONTEXT_RIP / 8] = rip;
        words[2 + USER_CONTEXT_RSP / 8] = rsp;
        words[2 + USER_CONTEXT_RDI / 8] = args[0];
        words[2 + USER_CONTEXT_RSI / 8] = args[1];
        self.invoke(tcb, TCBWriteRegisters, &words, &[])
    }

    /// `seL4_X86_ASIDPool_Assign(pool, vroot)`.
    pub fn asid_pool_assign(&mut self, pool: CPtr, vroot: CPtr) -> Result<(), Error> {
        self.invoke(pool, X86ASIDPoolAssign, &[], &[vroot])
    }

    /// Maps a paging structure (`PDPT`, `PageDirectory` or `PageTable`, by `label`) into `vroot`
    /// at `vaddr` with the default attributes.
    pub fn map_table(
        &mut self,
        table: CPtr,
        label: Word,
        vroot: CPtr,
        vaddr: Word,
    ) -> Result<(), Error> {
        self.invoke(
            table,
            label,
            &[vaddr, seL4_X86_Default_VMAttributes],
            &[vroot],
        )
    }

    /// `seL4_X86_Page_Map(frame, vroot, vaddr, rights, default attributes)`.
    pub fn map_page(
        &mut self,
        frame: CPtr,
        vroot: CPtr,
        vaddr: Word,
        rights: Word,
    ) -> Result<(), Error> {
        self.invoke(
            frame,
            X86PageMap,
            &[vaddr, rights, seL4_X86_Default_VMAttributes],
            &[vroot],
        )
    }

    /// `seL4_TCB_BindNotification(tcb, notification)`.
    pub fn tcb_bind_notification(&mut self, tcb: CPtr, notification: CPtr) -> Result<(), Error> {
        self.invoke(tcb, TCBBindNotification, &[], &[notification])
    }

    /// `seL4_X86_Page_Unmap(frame)`.
    pub fn unmap_page(&mut self, frame: CPtr) -> Result<(), Error> {
        self.invoke(frame, X86PageUnmap, &[], &[])
    }

    /// `seL4_IRQControl_GetIOAPIC`: an IRQ handler capability, in the monitor's CNode at
    /// `dest`, for IOAPIC `ioapic`'s `pin` (edge-triggered, active high), delivered as the
    /// kernel's user IRQ number `irq`.
    pub fn irq_issue_ioapic(
        &mut self,
        dest: CPtr,
        ioapic: Word,
        pin: Word,
        irq: Word,
    ) -> Result<(), Error> {
        self.invoke(
            seL4_CapIRQControl,
            X86IRQIssueIRQHandlerIOAPIC,
            &[dest, seL4_WordBits, ioapic, pin, 0, 0, irq],
            &[seL4_CapInitThreadCNode],
        )
    }

    /// `seL4_IRQHandler_SetNotification`.
    pub fn irq_set_notification(&mut self, handler: CPtr, notification: CPtr) -> Result<(), Error> {
        self.invoke(handler, IRQSetIRQHandler, &[], &[notification])
    }

    /// `seL4_IRQHandler_Ack`.
    pub fn irq_ack(&mut self, handler: CPtr) -> Result<(), Error> {
        self.invoke(handler, IRQAckIRQ, &[], &[])
    }

    /// `seL4_TCB_Suspend`.
    pub fn tcb_suspend(&mut self, tcb: CPtr) -> Result<(), Error> {
        self.invoke(tcb, TCBSuspend, &[], &[])
    }
}
