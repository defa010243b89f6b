//! NOR flash conformance (`hal::flash`): erased reads 0xFF; a write reads back; a write never
//! sets a bit; misaligned and out-of-range requests are refused and change nothing; and power
//! lost during a write or an erase (a torn operation, swept over how much of it landed) fails
//! that operation, changes nothing outside its range, and leaves a device that erases and
//! programs normally after power comes back.

use hal::flash::{NorFlash, ReadNorFlash};

/// A flash device and its power supply.
pub trait FlashRig {
    /// The device under test.
    type Dut: NorFlash;
    /// The device.
    fn dut(&mut self) -> &mut Self::Dut;
    /// Cuts power during the mutating operation `at_op` from now (0 = the next one), after its
    /// first `landed` bytes reached the medium.
    fn cut_power(&mut self, at_op: u64, landed: usize);
    /// Power comes back (a board reset).
    fn power_cycle(&mut self);
}

const LEN: usize = 64;

fn pattern(seed: u8) -> Vec<u8> {
    (0..LEN as u8).map(|i| i.wrapping_mul(37) ^ seed).collect()
}

fn read<R: FlashRig>(rig: &mut R, offset: u32, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    rig.dut().read(offset, &mut buf).expect("read");
    buf
}

/// Runs every flash check on the device's first two erase sectors.
pub fn run<R: FlashRig>(rig: &mut R) {
    let e = R::Dut::ERASE_SIZE as u32;
    let w = R::Dut::WRITE_SIZE as u32;
    rig.dut().erase(0, 2 * e).expect("erase");
    assert!(
        read(rig, 0, 2 * e as usize).iter().all(|&b| b == 0xFF),
        "erased is not 0xFF"
    );

    let a = pattern(0xA5);
    rig.dut().write(w, &a).expect("write");
    assert_eq!(read(rig, w, LEN), a, "a write did not read back");
    assert!(
        read(rig, 0, w as usize).iter().all(|&b| b == 0xFF),
        "a write spilt before it"
    );

    let ones = vec![0xFF; LEN];
    let _ = rig.dut().write(w, &ones);
    assert_eq!(
        read(rig, w, LEN),
        a,
        "writing 0xFF over programmed bytes set bits"
    );

    refused_requests_change_nothing(rig, &a);
    for landed in [0, 1, LEN / 2, LEN - 1] {
        torn_write(rig, &a, landed);
    }
    for landed in [0, 1, e as usize / 2] {
        torn_erase(rig, &a, landed);
    }
}

fn refused_requests_change_nothing<R: FlashRig>(rig: &mut R, a: &[u8]) {
    let e = R::Dut::ERASE_SIZE as u32;
    let w = R::Dut::WRITE_SIZE as u32;
    let cap = rig.dut().capacity() as u32;
    assert!(
        rig.dut().erase(1, e).is_err(),
        "a misaligned erase was accepted"
    );
    assert!(
        rig.dut().erase(cap - e, cap + e).is_err(),
        "an erase past the end was accepted"
    );
    assert!(
        rig.dut().write(cap - w, &[0; LEN]).is_err(),
        "a write past the end was accepted"
    );
    let mut buf = [0u8; LEN];
    assert!(
        rig.dut().read(cap - 1, &mut buf).is_err(),
        "a read past the end was accepted"
    );
    if w > 1 {
        assert!(
            rig.dut().write(w + 1, &[0; LEN]).is_err(),
            "a misaligned write was accepted"
        );
    }
    assert_eq!(read(rig, w, LEN), a, "a refused request changed the medium");
}

/// Sector 0 holds `a` at WRITE_SIZE; a write into sector 1 loses power after `landed` bytes.
fn torn_write<R: FlashRig>(rig: &mut R, a: &[u8], landed: usize) {
    let e = R::Dut::ERASE_SIZE as u32;
    rig.dut().erase(e, 2 * e).expect("erase");
    let b = pattern(0x3C);
    rig.cut_power(0, landed);
    assert!(
        rig.dut().write(e, &b).is_err(),
        "a write cut after {landed} bytes reported success"
    );
    rig.power_cycle();
    let w = R::Dut::WRITE_SIZE as u32;
    assert_eq!(read(rig, w, LEN), a, "a torn write changed another sector");
    let after = read(rig, e + LEN as u32, (e as usize) - LEN);
    assert!(
        after.iter().all(|&x| x == 0xFF),
        "a torn write spilt past its range"
    );
    rig.dut().erase(e, 2 * e).expect("erase after power-up");
    rig.dut().write(e, &b).expect("write after power-up");
    assert_eq!(
        read(rig, e, LEN),
        b,
        "the device did not recover from a torn write"
    );
}

/// Sector 1 holds data; its erase loses power after `landed` bytes.
fn torn_erase<R: FlashRig>(rig: &mut R, a: &[u8], landed: usize) {
    let e = R::Dut::ERASE_SIZE as u32;
    rig.cut_power(0, landed);
    assert!(
        rig.dut().erase(e, 2 * e).is_err(),
        "an erase cut after {landed} bytes reported success"
    );
    rig.power_cycle();
    let w = R::Dut::WRITE_SIZE as u32;
    assert_eq!(read(rig, w, LEN), a, "a torn erase changed another sector");
    rig.dut().erase(e, 2 * e).expect("erase after power-up");
    assert!(
        read(rig, e, e as usize).iter().all(|&x| x == 0xFF),
        "the device did not recover from a torn erase"
    );
}
