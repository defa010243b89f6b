//! Model of a JEDEC SPI-NOR part (the Micron MT25Q command subset `board-spi-nor` uses), from the
//! MT25Q datasheet: the 3-byte-address READ/PP/4 KiB erase (0x03/0x02/0x20), which address only
//! the first 16 MiB, and on parts above 16 MiB the 4-byte-address READ/PP/erase commands
//! (0x13/0x12/0x21) as well; commands are shifted in while chip select is low and program/erase execute
//! when it goes high; PP and SE need the write enable latch (cleared when they start); while
//! busy only RDSR answers; a page program wraps inside its 256-byte page and can only clear bits
//! (AND with the old contents); a 4 KiB erase sets 0xFF. Busy for tPP 0.12 ms / tSSE 50 ms
//! (datasheet typical values) of virtual time. An unpowered part ignores everything and its
//! output floats high (reads 0xFF).
//!
//! Power cut, as the sim flash models it (`board_sim::flash::fault`): mutating operations are
//! numbered from 0 since power-on; cutting operation `at_op` with `landed = k` applies its first
//! `k` bytes, then the part is unpowered until [`SpiNorPart::power_cycle`].

use crate::time::VirtualTime;
use board_spi_nor::{
    MAX_3B, OP_PP, OP_PP_4B, OP_RDID, OP_RDSR, OP_READ, OP_READ_4B, OP_SE_4K, OP_SE_4K_4B, OP_WREN,
    PAGE, SECTOR, SR_WEL, SR_WIP,
};
use std::time::Duration;

/// Page program time (MT25Q tPP, typical).
pub const T_PP: Duration = Duration::from_micros(120);
/// 4 KiB erase time (MT25Q tSSE, typical).
pub const T_SSE: Duration = Duration::from_millis(50);

/// A SPI-NOR part.
#[derive(Debug)]
pub struct SpiNorPart {
    time: VirtualTime,
    mem: Vec<u8>,
    id: [u8; 3],
    wel: bool,
    busy_until: u64,
    cmd: Vec<u8>,
    powered: bool,
    ops: u64,
    cut: Option<(u64, usize)>,
}

const OP_WRDI: u8 = 0x04;

impl SpiNorPart {
    /// An erased part of `capacity` bytes answering `id` to RDID.
    pub fn new(time: VirtualTime, id: [u8; 3], capacity: usize) -> Self {
        SpiNorPart {
            time,
            mem: vec![0xFF; capacity],
            id,
            wel: false,
            busy_until: 0,
            cmd: Vec::new(),
            powered: true,
            ops: 0,
            cut: None,
        }
    }

    /// Cut power during mutating operation `at_op` (counted since power-on), landing `landed` bytes.
    pub fn cut_power(&mut self, at_op: u64, landed: usize) {
        self.cut = Some((at_op + self.ops, landed));
    }

    /// Power back on: the medium keeps what landed; latches and counters reset.
    pub fn power_cycle(&mut self) {
        self.powered = true;
        self.wel = false;
        self.busy_until = 0;
        self.ops = 0;
        self.cut = None;
        self.cmd.clear();
    }

    /// The medium, whatever the power state.
    pub fn peek(&self, addr: usize, len: usize) -> &[u8] {
        &self.mem[addr..addr + len]
    }

    fn busy(&self) -> bool {
        self.time.now_ns() < self.busy_until
    }

    /// Chip select low: a new command starts.
    pub fn select(&mut self) {
        self.cmd.clear();
    }

    /// One byte in on MOSI, one byte out on MISO.
    pub fn shift(&mut self, mosi: u8) -> u8 {
        self.cmd.push(mosi);
        let i = self.cmd.len() - 1;
        if !self.powered || i == 0 || self.unknown() {
            return 0xFF;
        }
        match self.cmd[0] {
            OP_RDSR => (u8::from(self.busy()) * SR_WIP) | (u8::from(self.wel) * SR_WEL),
            _ if self.busy() => 0xFF,
            OP_RDID if i <= 3 => self.id[i - 1],
            OP_READ | OP_READ_4B if i > self.addr_len() => {
                let a = self.addr() + (i - 1 - self.addr_len());
                self.mem[a % self.mem.len()]
            }
            _ => 0xFF,
        }
    }

    fn four_byte(&self) -> bool {
        matches!(self.cmd[0], OP_READ_4B | OP_PP_4B | OP_SE_4K_4B)
    }

    /// A part up to 16 MiB does not have the 4-byte commands: they do nothing.
    fn unknown(&self) -> bool {
        self.four_byte() && self.mem.len() <= MAX_3B as usize
    }

    /// Address bytes of the command shifted in.
    fn addr_len(&self) -> usize {
        if self.four_byte() { 4 } else { 3 }
    }

    /// The command's address (zero-filled while it is still being shifted in).
    fn addr(&self) -> usize {
        (1..=self.addr_len()).fold(0, |a, k| {
            a << 8 | usize::from(self.cmd.get(k).copied().unwrap_or(0))
        })
    }

    /// Chip select high: a program or erase shifted in starts now.
    pub fn deselect(&mut self) {
        if !self.powered || self.cmd.is_empty() || self.busy() || self.unknown() {
            return;
        }
        match self.cmd[0] {
            OP_WREN if self.cmd.len() == 1 => self.wel = true,
            OP_WRDI if self.cmd.len() == 1 => self.wel = false,
            OP_PP | OP_PP_4B if self.wel && self.cmd.len() > 1 + self.addr_len() => {
                self.wel = false;
                let data = self.cmd[1 + self.addr_len()..].to_vec();
                let addr = self.addr() % self.mem.len();
                let data = &data[data.len().saturating_sub(PAGE)..];
                let page = addr - addr % PAGE;
                let n = self.landing(data.len());
                for (i, b) in data.iter().take(n).enumerate() {
                    self.mem[page + (addr % PAGE + i) % PAGE] &= b;
                }
                self.busy_until = self.time.now_ns() + T_PP.as_nanos() as u64;
            }
            OP_SE_4K | OP_SE_4K_4B if self.wel && self.cmd.len() == 1 + self.addr_len() => {
                self.wel = false;
                let base = self.addr() % self.mem.len();
                let base = base - base % SECTOR;
                let n = self.landing(SECTOR);
                self.mem[base..base + n].fill(0xFF);
                self.busy_until = self.time.now_ns() + T_SSE.as_nanos() as u64;
            }
            _ => {}
        }
    }

    /// How many bytes of this mutating operation land; cuts the power if it is the cut one.
    fn landing(&mut self, len: usize) -> usize {
        let op = self.ops;
        self.ops += 1;
        match self.cut {
            Some((at, landed)) if at == op => {
                self.powered = false;
                landed.min(len)
            }
            _ => len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(p: &mut SpiNorPart, bytes: &[u8]) -> Vec<u8> {
        p.select();
        let out = bytes.iter().map(|&b| p.shift(b)).collect();
        p.deselect();
        out
    }

    #[test]
    fn program_needs_write_enable_wraps_in_its_page_and_only_clears_bits() {
        let t = VirtualTime::new();
        let mut p = SpiNorPart::new(t.clone(), [1, 2, 3], 8192);
        send(&mut p, &[OP_PP, 0, 0, 0xFE, 0x00]);
        assert_eq!(p.peek(0xFE, 1), [0xFF], "no WEL, no program");
        send(&mut p, &[OP_WREN]);
        send(&mut p, &[OP_PP, 0, 0, 0xFE, 0x0F, 0xF0, 0xAA]);
        assert_eq!(p.peek(0xFE, 2), [0x0F, 0xF0]);
        assert_eq!(
            p.peek(0, 1),
            [0xAA],
            "the third byte wrapped to the page start"
        );
        assert_eq!(send(&mut p, &[OP_RDSR, 0])[1] & SR_WIP, SR_WIP);
        t.advance(T_PP);
        assert_eq!(send(&mut p, &[OP_RDSR, 0])[1], 0, "done, WEL cleared");
        send(&mut p, &[OP_WREN]);
        send(&mut p, &[OP_PP, 0, 0, 0xFE, 0xFF]);
        t.advance(T_PP);
        assert_eq!(p.peek(0xFE, 1), [0x0F], "programming cannot set bits");
    }

    #[test]
    fn busy_ignores_all_but_status_and_a_cut_lands_a_prefix() {
        let t = VirtualTime::new();
        let mut p = SpiNorPart::new(t.clone(), [1, 2, 3], 8192);
        send(&mut p, &[OP_WREN]);
        send(&mut p, &[OP_SE_4K, 0, 0, 0]);
        assert_eq!(send(&mut p, &[OP_RDID, 0, 0, 0])[1..], [0xFF; 3]);
        t.advance(T_SSE);
        assert_eq!(send(&mut p, &[OP_RDID, 0, 0, 0])[1..], [1, 2, 3]);
        p.cut_power(0, 2);
        send(&mut p, &[OP_WREN]);
        send(&mut p, &[OP_PP, 0, 0x10, 0, 1, 2, 3, 4]);
        assert_eq!(p.peek(0x1000, 4), [1, 2, 0xFF, 0xFF]);
        assert_eq!(
            send(&mut p, &[OP_RDSR, 0])[1],
            0xFF,
            "unpowered: MISO floats high"
        );
        p.power_cycle();
        assert_eq!(send(&mut p, &[OP_RDSR, 0])[1], 0);
    }
}
