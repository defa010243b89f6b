//! The sim flash against its documented contract: NOR rules, power cuts, bit flips.

use board_sim::flash::{PowerCut, SimFlash, SimFlashError};
use hal::flash::{ErasedValue, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash};

type Flash = SimFlash<4, 256>;
const CAP: usize = 4 * 256;

#[derive(Debug, Clone)]
enum Op {
    Erase(u32, u32),
    Write(u32, Vec<u8>),
}

impl Op {
    fn len(&self) -> usize {
        match self {
            Op::Erase(f, t) => (t - f) as usize,
            Op::Write(_, d) => d.len(),
        }
    }
}

/// A scripted sequence touching several sectors, with writes of various lengths, rewrites that
/// only clear bits, and erases of one and several sectors.
fn script() -> Vec<Op> {
    let pattern = |n: usize, seed: u8| -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(37).wrapping_add(seed))
            .collect()
    };
    vec![
        Op::Erase(0, 256),
        Op::Write(0, pattern(16, 1)),
        Op::Write(16, pattern(64, 2)),
        Op::Write(256, pattern(256, 3)),
        Op::Write(0, vec![0x00; 8]), // clears bits only: allowed on NOR
        Op::Erase(256, 768),
        Op::Write(512, pattern(100, 4)),
        Op::Erase(0, 256),
        Op::Write(252, pattern(4, 5)),
    ]
}

/// Apply `op` to the model image following the documented rule; `landed` = bytes that land.
fn model_apply(img: &mut [u8], op: &Op, landed: usize) {
    match op {
        Op::Erase(f, t) => {
            let k = landed.min((t - f) as usize);
            img[*f as usize..*f as usize + k].fill(0xFF);
        }
        Op::Write(o, d) => {
            let k = landed.min(d.len());
            for (dst, src) in img[*o as usize..*o as usize + k].iter_mut().zip(d) {
                *dst &= *src;
            }
        }
    }
}

fn run(flash: &mut Flash, op: &Op) -> Result<(), SimFlashError> {
    match op {
        Op::Erase(f, t) => flash.erase(*f, *t),
        Op::Write(o, d) => flash.write(*o, d),
    }
}

fn image(flash: &Flash) -> Vec<u8> {
    let mut v = vec![0u8; CAP];
    flash.peek(0, &mut v).expect("peek whole image");
    v
}

#[test]
fn a_flash_that_erases_to_zero_only_sets_bits_until_erased() {
    type Zero = SimFlash<4, 256, 0x00>;
    assert_eq!((Flash::ERASED, Zero::ERASED), (0xFF, 0x00));
    let mut f = Zero::anonymous(CAP).expect("flash");
    let mut all = vec![0xAAu8; CAP];
    f.peek(0, &mut all).expect("peek");
    assert_eq!(all, vec![0x00; CAP], "a fresh device is erased to 0x00");
    f.write(8, &[0x0F, 0xF0, 0x00, 0x01]).expect("write erased");
    // Setting more bits is allowed.
    f.write(8, &[0xFF, 0xF0, 0x10, 0x01]).expect("set bits");
    // Clearing a bit back to 0 is refused, with the first offending address, and nothing lands.
    match f.write(8, &[0xFF, 0x70, 0x10, 0x01]) {
        Err(SimFlashError::WriteToUnerased {
            addr: 9,
            old: 0xF0,
            new: 0x70,
        }) => {}
        other => panic!("expected WriteToUnerased at 9, got {other:?}"),
    }
    let mut b = [0u8; 4];
    f.read(8, &mut b).expect("read");
    assert_eq!(b, [0xFF, 0xF0, 0x10, 0x01]);
    // An erase, whole or cut, brings bytes back to 0x00.
    f.cut_power(PowerCut {
        at_op: f.ops(),
        landed: 10,
    });
    assert!(f.erase(0, 256).is_err());
    f.power_cycle();
    f.read(8, &mut b).expect("read");
    assert_eq!(
        b,
        [0x00, 0x00, 0x10, 0x01],
        "a cut erase clears its prefix only"
    );
    f.erase(0, 256).expect("erase");
    f.read(8, &mut b).expect("read");
    assert_eq!(b, [0; 4]);
}

#[test]
fn a_fresh_flash_is_erased_and_enforces_nor_rules() {
    let mut f = Flash::anonymous(CAP).expect("flash");
    assert_eq!(image(&f), vec![0xFF; CAP]);
    f.write(8, &[0xF0, 0x0F, 0xAA, 0x55]).expect("write erased");
    // Clearing more bits is allowed.
    f.write(8, &[0x00, 0x0F, 0x00, 0x55]).expect("clear bits");
    // Setting a bit back to 1 is refused, with the first offending address, and nothing lands.
    match f.write(8, &[0x00, 0x0F, 0x01, 0x55]) {
        Err(SimFlashError::WriteToUnerased {
            addr: 10,
            old: 0x00,
            new: 0x01,
        }) => {}
        other => panic!("expected WriteToUnerased at 10, got {other:?}"),
    }
    let mut b = [0u8; 4];
    f.read(8, &mut b).expect("read");
    assert_eq!(b, [0x00, 0x0F, 0x00, 0x55]);
    // Granularity and bounds.
    assert_eq!(
        f.write(2, &[0; 4]).map_err(|e| e.kind()),
        Err(NorFlashErrorKind::NotAligned)
    );
    assert_eq!(
        f.write(0, &[0; 3]).map_err(|e| e.kind()),
        Err(NorFlashErrorKind::NotAligned)
    );
    assert_eq!(
        f.erase(0, 100).map_err(|e| e.kind()),
        Err(NorFlashErrorKind::NotAligned)
    );
    assert_eq!(
        f.erase(256, 0).map_err(|e| e.kind()),
        Err(NorFlashErrorKind::OutOfBounds)
    );
    assert_eq!(
        f.write(CAP as u32 - 4, &[0; 8]).map_err(|e| e.kind()),
        Err(NorFlashErrorKind::OutOfBounds)
    );
    assert_eq!(
        f.read(CAP as u32, &mut [0; 1]).map_err(|e| e.kind()),
        Err(NorFlashErrorKind::OutOfBounds)
    );
    // Refused operations are not counted.
    assert_eq!(f.ops(), 2);
    // Erase restores 0xFF and counts per sector.
    f.erase(0, 512).expect("erase two sectors");
    f.erase(0, 256).expect("erase one");
    assert_eq!(f.erase_counts(), &[2, 1, 0, 0]);
    assert_eq!(image(&f), vec![0xFF; CAP]);
}

#[test]
fn power_cut_at_every_operation_leaves_exactly_the_documented_torn_image() {
    let ops = script();
    let mut cases = 0;
    for (i, op) in ops.iter().enumerate() {
        let n = op.len();
        let mut landings = vec![0, 1, 4, n / 2, n.saturating_sub(1), n, n + 10];
        landings.sort_unstable();
        landings.dedup();
        for &landed in &landings {
            let mut f = Flash::anonymous(CAP).expect("flash");
            f.cut_power(PowerCut {
                at_op: i as u64,
                landed,
            });
            let mut model = vec![0xFFu8; CAP];
            for (j, op) in ops.iter().enumerate() {
                let r = run(&mut f, op);
                if j < i {
                    r.expect("operations before the cut succeed");
                    model_apply(&mut model, op, usize::MAX);
                } else if j == i {
                    assert!(matches!(r, Err(SimFlashError::PowerLost)), "op {j}: {r:?}");
                    model_apply(&mut model, op, landed);
                } else {
                    assert!(
                        matches!(r, Err(SimFlashError::PowerLost)),
                        "later op {j}: {r:?}"
                    );
                }
            }
            assert!(!f.powered());
            assert!(matches!(
                f.read(0, &mut [0; 4]),
                Err(SimFlashError::PowerLost)
            ));
            assert_eq!(image(&f), model, "cut at op {i} landing {landed}");
            // Reboot: the medium is what landed, and the device works again.
            f.power_cycle();
            let mut back = vec![0u8; CAP];
            f.read(0, &mut back).expect("read after power cycle");
            assert_eq!(back, model);
            assert_eq!(f.ops(), 0);
            cases += 1;
        }
    }
    assert!(cases >= ops.len() * 4);
}

#[test]
fn torn_erase_counts_only_the_sectors_it_reached() {
    let mut f = Flash::anonymous(CAP).expect("flash");
    f.write(0, &[0; CAP]).expect("program all");
    f.cut_power(PowerCut {
        at_op: 1,
        landed: 300,
    });
    assert!(matches!(f.erase(0, 768), Err(SimFlashError::PowerLost)));
    assert_eq!(f.erase_counts(), &[1, 1, 0, 0]);
    let img = image(&f);
    assert!(img[..300].iter().all(|&b| b == 0xFF));
    assert!(img[300..].iter().all(|&b| b == 0x00));
}

#[test]
fn bit_flips_land_exactly_where_asked() {
    let mut f = Flash::anonymous(CAP).expect("flash");
    f.write(0, &[0x5A; 64]).expect("write");
    let before = image(&f);
    let mut x: u64 = 12345;
    for _ in 0..200 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let addr = (x >> 33) % CAP as u64;
        let bit = ((x >> 20) % 8) as u8;
        let pre = image(&f);
        f.flip_bit(addr, bit).expect("flip");
        let post = image(&f);
        for (a, (p, q)) in pre.iter().zip(&post).enumerate() {
            if a as u64 == addr {
                assert_eq!(p ^ q, 1 << bit);
            } else {
                assert_eq!(p, q, "byte {a} changed by a flip at {addr}");
            }
        }
        // Flipping twice restores the byte.
        f.flip_bit(addr, bit).expect("flip back");
        assert_eq!(image(&f), pre);
    }
    assert_eq!(image(&f), before);
    assert!(f.flip_bit(CAP as u64, 0).is_err());
    assert!(f.flip_bit(0, 8).is_err());
}

#[test]
fn bit_flips_work_while_power_is_off() {
    let mut f = Flash::anonymous(CAP).expect("flash");
    f.cut_power(PowerCut {
        at_op: 0,
        landed: 0,
    });
    assert!(f.erase(0, 256).is_err());
    f.flip_bit(7, 3).expect("flip with power off");
    f.power_cycle();
    let mut b = [0u8; 1];
    f.read(7, &mut b).expect("read");
    assert_eq!(b[0], 0xFF ^ 0x08);
}

#[test]
fn the_image_file_persists_across_opens_and_sizes_are_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("flash.bin");
    {
        let mut f = Flash::open_or_create(&path, CAP).expect("create");
        f.write(256, b"spacenode-flash!").expect("write");
        f.cut_power(PowerCut {
            at_op: 1,
            landed: 5,
        });
        assert!(f.write(512, b"torn-write-here!").is_err());
    }
    let mut f = Flash::open(&path).expect("reopen");
    assert_eq!(f.capacity(), CAP);
    let mut b = [0u8; 16];
    f.read(256, &mut b).expect("read");
    assert_eq!(&b, b"spacenode-flash!");
    f.read(512, &mut b).expect("read torn");
    assert_eq!(&b[..5], b"torn-");
    assert!(b[5..].iter().all(|&x| x == 0xFF));
    assert!(matches!(
        Flash::open_or_create(&path, 2 * CAP),
        Err(SimFlashError::BadImage { .. })
    ));
    assert!(matches!(
        Flash::create(&dir.path().join("odd"), 1000),
        Err(SimFlashError::BadImage { .. })
    ));
}
