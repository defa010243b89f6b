//! The conformance suite on the dev board's drivers, each on the register model of its
//! peripheral, in virtual time.

mod common;

use board_conformance::on_model::{Clock, Flash, Wdt};
use board_conformance::{clock, flash, rng, watchdog};
use board_devboard::bcm2835_spi::Bcm2835Spi;
use board_devboard::bsc_i2c::BscI2c;
use board_devboard::emmc2::Emmc2;
use board_devboard::mini_uart::{MiniUart, MiniUartError};
use board_devboard::pl011::{Pl011, Pl011Error};
use board_devboard::pm_wdt::PmWatchdog;
use board_devboard::rng200::Rng200;
use board_devboard::sdhost::Sdhost;
use board_devboard::system_timer::SystemTimer;
use board_i2c_fram::I2cFram;
use board_models::bcm2835_spi::Bcm2835SpiModel;
use board_models::bsc_i2c::BscModel;
use board_models::emmc2::Emmc2Model;
use board_models::i2c_fram::FramPart;
use board_models::mini_uart::MiniUartModel;
use board_models::pl011::Pl011Model;
use board_models::pm_wdt::PmWdtModel;
use board_models::rng200::Rng200Model;
use board_models::sd_card::SdCardModel;
use board_models::sdhost::SdhostModel;
use board_models::spi_nor::SpiNorPart;
use board_models::system_timer::SystemTimerModel;
use board_models::{Line, VirtualTime};
use board_sd_card::flash::SdFlash;
use board_sd_card::{HostError, SdCard, SdError};
use board_spi_nor::{MT25QU128, SpiNor};
use hal::flash::ReadNorFlash;
use std::time::Duration;

/// The dev board's UART0 reference clock: 48 MHz (the firmware's `init_uart_clock` default).
const UART_CLOCK_HZ: u32 = 48_000_000;

#[test]
fn the_pl011_on_its_model_conforms() {
    let time = VirtualTime::new();
    let model = Pl011Model::new(time.clone(), UART_CLOCK_HZ);
    let dut = Pl011::new(&model, UART_CLOCK_HZ, 115_200).expect("pl011");
    common::serial_conforms(time, &model, dut, Duration::from_millis(1));
}

#[test]
fn the_pl011_reports_lost_and_bad_bytes() {
    use hal::serial::{Read, ReadReady};
    let time = VirtualTime::new();
    let model = Pl011Model::new(time.clone(), UART_CLOCK_HZ);
    let mut dut = Pl011::new(&model, UART_CLOCK_HZ, 115_200).expect("pl011");
    model.peer_send(&[1; 40]);
    time.advance(Duration::from_millis(10));
    let mut buf = [0u8; 64];
    assert_eq!(dut.read(&mut buf).expect("the 32 kept"), 32);
    model.peer_send(&[2]);
    time.advance(Duration::from_millis(1));
    assert_eq!(dut.read(&mut buf), Err(Pl011Error::Overrun));
    model.inject_framing_error();
    model.peer_send(&[3, 4]);
    time.advance(Duration::from_millis(1));
    assert_eq!(dut.read(&mut buf), Err(Pl011Error::Line));
    assert!(dut.read_ready().expect("ready"));
    assert_eq!(dut.read(&mut buf).expect("the good byte"), 1);
    assert_eq!(buf[0], 4);
}

#[test]
fn the_pm_watchdog_on_its_model_conforms() {
    let time = VirtualTime::new();
    let model = PmWdtModel::new(time.clone());
    let dut = PmWatchdog::new(&model);
    watchdog::run(&mut Wdt {
        time,
        model: &model,
        dut,
        // One tick: 1/65536 s.
        granularity: Duration::from_nanos(15_259),
        timeout: Duration::from_secs(1),
    });
    assert_eq!(
        model.ignored_writes(),
        0,
        "the driver wrote without the password"
    );
}

#[test]
fn the_system_timer_on_its_model_conforms_across_the_32_bit_carry() {
    let time = VirtualTime::new();
    // 10 us before CLO wraps into CHI: the carry happens during the checks.
    let model = SystemTimerModel::new(time.clone(), 0xFFFF_FFFF - 10);
    let dut = SystemTimer::start(&model);
    clock::run(&mut Clock {
        time,
        dut,
        resolution: Duration::from_micros(1),
        long_run: (Duration::from_secs(600), 10),
    });
}

#[test]
fn the_spi_nor_on_spi0_on_their_models_conforms() {
    let time = VirtualTime::new();
    let model = Bcm2835SpiModel::new(time.clone(), common::mt25qu128(&time));
    let dut = SpiNor::new(Bcm2835Spi::new(&model, 32), MT25QU128).expect("the part answers");
    flash::run(&mut Flash { model: &model, dut });
}

#[test]
fn the_spi_nor_driver_refuses_a_part_it_does_not_expect() {
    let time = VirtualTime::new();
    let part = SpiNorPart::new(time.clone(), [0xEF, 0x40, 0x18], 1 << 20);
    let model = Bcm2835SpiModel::new(time, part);
    let e = SpiNor::new(Bcm2835Spi::new(&model, 32), MT25QU128).expect_err("wrong part");
    assert_eq!(
        e,
        board_spi_nor::SpiNorError::WrongPart {
            found: [0xEF, 0x40, 0x18]
        }
    );
}

struct Trng<'m> {
    model: &'m Rng200Model,
    dut: Rng200<&'m Rng200Model>,
}

impl<'m> rng::RngRig for Trng<'m> {
    type Dut = Rng200<&'m Rng200Model>;
    fn dut(&mut self) -> &mut Self::Dut {
        &mut self.dut
    }
    fn fail_health_test(&mut self) -> bool {
        self.model.fail_health_test();
        true
    }
}

#[test]
fn the_rng200_on_its_model_conforms() {
    let model = Rng200Model::new(VirtualTime::new(), 0x5eed);
    let dut = Rng200::new(&model);
    rng::run(&mut Trng { model: &model, dut });
}

#[test]
fn the_devboard_slot_layout_is_the_devboard_files_storage() {
    common::slot_layout_is_the_board_files(
        "devboard",
        &board_devboard::slots::DEVBOARD_SLOT_LAYOUT,
    );
}

/// The dev board's VPU core clock, which drives the mini UART (500 MHz, `core_freq` on a Pi 4).
const CORE_CLOCK_HZ: u32 = 500_000_000;

#[test]
fn the_mini_uart_on_its_model_conforms() {
    let time = VirtualTime::new();
    let model = MiniUartModel::new(time.clone(), CORE_CLOCK_HZ);
    let dut = MiniUart::new(&model, CORE_CLOCK_HZ, 115_200).expect("mini uart");
    // 8 bytes of FIFO fill in 0.69 ms at 115200 baud: poll faster than that.
    common::serial_conforms(time, &model, dut, Duration::from_micros(500));
}

#[test]
fn the_mini_uart_reports_an_overrun_even_when_a_write_read_lsr_first() {
    use hal::serial::{Read, Write};
    let time = VirtualTime::new();
    let model = MiniUartModel::new(time.clone(), CORE_CLOCK_HZ);
    let mut dut = MiniUart::new(&model, CORE_CLOCK_HZ, 115_200).expect("mini uart");
    model.peer_send(&[5; 12]);
    time.advance(Duration::from_millis(5));
    dut.write(b"x").expect("write");
    let mut buf = [0u8; 16];
    assert_eq!(dut.read(&mut buf), Err(MiniUartError::Overrun));
    assert_eq!(dut.read(&mut buf).expect("the 8 kept"), 8);
}

#[test]
fn the_i2c_fram_on_bsc1_on_their_models_conforms() {
    // An MB85RC256V (32 KiB) at 0x50, delivered holding arbitrary bytes (FRAM has no erased state).
    let model = BscModel::new(VirtualTime::new(), FramPart::new(0x50, 32 << 10, 0x5A));
    let dut = I2cFram::new(BscI2c::new(&model, 1500), 0x50, 32 << 10);
    flash::run(&mut Flash { model: &model, dut });
}

/// The EMMC2 base clock: a test value. The board firmware sets the real one and the driver takes
/// it as a parameter (100 MHz is the maximum clock the Pi 4's EMMC2 was discussed with on
/// linux-arm-kernel, in the `SDHCI_QUIRK_CAP_CLOCK_BASE_BROKEN` thread for bcm2711).
const EMMC2_HZ: u32 = 100_000_000;
/// An 8 GiB SDHC card, in blocks.
const CARD_BLOCKS: u64 = 16 << 20;
/// The slot store's region: 256 MiB (the board file's `bundle-capacity`) from 1 GiB into the
/// card (after the boot partition; where it starts is the card's partition table's choice).
const SLOT_REGION: (u64, u64) = (2 << 20, 512 << 10);

#[test]
fn an_sd_card_on_the_emmc2_on_their_models_conforms() {
    let time = VirtualTime::new();
    let model = Emmc2Model::new(time.clone(), SdCardModel::new(time, CARD_BLOCKS));
    let mut card = SdCard::new(Emmc2::new(&model, EMMC2_HZ).expect("emmc2"));
    assert_eq!(card.init().expect("the card").blocks, CARD_BLOCKS);
    let dut = SdFlash::new(card, SLOT_REGION.0, SLOT_REGION.1);
    assert_eq!(dut.capacity(), 256 << 20);
    flash::run(&mut Flash { model: &model, dut });
}

#[test]
fn an_unpowered_sd_card_on_the_emmc2_is_reported_then_found_once_powered() {
    use board_models::PartPower;
    let time = VirtualTime::new();
    let model = Emmc2Model::new(time.clone(), SdCardModel::new(time, CARD_BLOCKS));
    let mut card = SdCard::new(Emmc2::new(&model, EMMC2_HZ).expect("emmc2"));
    model.cut_power(0, 0);
    card.init().expect("powered");
    let mut block = [0u8; 512];
    card.write_block(5, &[0x42; 512])
        .expect_err("the card lost power while programming");
    assert_eq!(
        card.read_block(5, &mut block),
        Err(SdError::Host(HostError::CommandTimeout))
    );
    model.power_cycle();
    card.read_block(5, &mut block).expect("re-initialised");
    assert_eq!(block, [0; 512], "no byte of the cut write landed");
}

/// The VPU core clock SDHOST divides: a test value, the one `bcm2835_set_clock`'s comment works
/// through. The firmware sets the real one (the driver takes it as a parameter).
const CORE_HZ: u32 = 250_000_000;
/// The comms store's region on the microSD: 64 MiB (the board file's `batch-capacity`) from
/// block 2048 (after a partition table's first MiB).
const COMMS_REGION: (u64, u64) = (2048, 128 << 10);

#[test]
fn an_sd_card_on_the_sdhost_on_their_models_conforms() {
    let time = VirtualTime::new();
    let model = SdhostModel::new(time.clone(), SdCardModel::new(time, CARD_BLOCKS));
    let mut card = SdCard::new(Sdhost::new(&model, CORE_HZ));
    assert_eq!(card.init().expect("the card").blocks, CARD_BLOCKS);
    let dut = SdFlash::new(card, COMMS_REGION.0, COMMS_REGION.1);
    assert_eq!(dut.capacity(), 64 << 20);
    flash::run(&mut Flash { model: &model, dut });
}

#[test]
fn an_sd_card_region_past_the_card_is_refused() {
    let time = VirtualTime::new();
    let model = SdhostModel::new(time.clone(), SdCardModel::new(time, 1 << 20));
    let card = SdCard::new(Sdhost::new(&model, CORE_HZ));
    // A 512 MiB card cannot hold a region ending at 1 GiB + 64 MiB.
    let mut dut = SdFlash::new(card, 2 << 20, 128 << 10);
    let mut buf = [0u8; 4];
    assert_eq!(dut.read(0, &mut buf), Err(SdError::OutOfBounds));
}
