//! Model of an I2C FRAM (Fujitsu MB85RC256V datasheet): the first two bytes of a write set the
//! address, the rest are stored at once, the address incrementing and wrapping; a read continues
//! from the address. Power cut, as for the other models: write transfers with data are numbered
//! from 0 since power-on; cutting number `at_op` with `landed = k` stores its first `k` data
//! bytes, then the part no longer acknowledges until [`FramPart::power_cycle`].

/// An I2C FRAM.
#[derive(Debug)]
pub struct FramPart {
    addr: u8,
    mem: Vec<u8>,
    ptr: usize,
    powered: bool,
    ops: u64,
    cut: Option<(u64, usize)>,
}

impl FramPart {
    /// A FRAM of `capacity` bytes answering at `addr`, holding `fill`.
    pub fn new(addr: u8, capacity: usize, fill: u8) -> Self {
        FramPart {
            addr,
            mem: vec![fill; capacity],
            ptr: 0,
            powered: true,
            ops: 0,
            cut: None,
        }
    }

    /// Cut power during write transfer `at_op` from now, storing `landed` of its data bytes.
    pub fn cut_power(&mut self, at_op: u64, landed: usize) {
        self.cut = Some((self.ops + at_op, landed));
    }

    /// Power back on; the memory keeps what was stored.
    pub fn power_cycle(&mut self) {
        self.powered = true;
        self.ops = 0;
        self.cut = None;
    }
}

impl crate::I2cPart for FramPart {
    fn answers(&self, addr: u8) -> bool {
        addr == self.addr
    }

    fn write(&mut self, bytes: &[u8]) -> bool {
        if !self.powered {
            return false;
        }
        if bytes.len() >= 2 {
            self.ptr = (usize::from(bytes[0]) << 8 | usize::from(bytes[1])) % self.mem.len();
        }
        let data = bytes.get(2..).unwrap_or(&[]);
        if data.is_empty() {
            return true;
        }
        let op = self.ops;
        self.ops += 1;
        let n = match self.cut {
            Some((at, landed)) if at == op => {
                self.powered = false;
                landed.min(data.len())
            }
            _ => data.len(),
        };
        for &b in &data[..n] {
            self.mem[self.ptr] = b;
            self.ptr = (self.ptr + 1) % self.mem.len();
        }
        n == data.len()
    }

    fn read(&mut self, n: usize) -> Option<Vec<u8>> {
        if !self.powered {
            return None;
        }
        Some(
            (0..n)
                .map(|_| {
                    let b = self.mem[self.ptr];
                    self.ptr = (self.ptr + 1) % self.mem.len();
                    b
                })
                .collect(),
        )
    }
}
