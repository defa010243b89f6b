//! `embedded-hal` SPI operations run one byte at a time through a controller's byte exchange:
//! what both boards' polled SPI controllers do inside a transaction.
//! Avoids: chip select and FIFO handling, which are each controller's own.

use embedded_hal::spi::Operation;

/// Runs `ops` through `exchange` (send one byte, return the byte received). A delay inside a
/// transaction needs a timer these controllers do not have: it fails with `no_delay`.
pub fn run_bytewise<E: Copy>(
    ops: &mut [Operation<'_, u8>],
    mut exchange: impl FnMut(u8) -> Result<u8, E>,
    no_delay: E,
) -> Result<(), E> {
    for op in ops {
        match op {
            Operation::Write(w) => w.iter().try_for_each(|&b| exchange(b).map(drop))?,
            Operation::Read(r) => r.iter_mut().try_for_each(|b| {
                *b = exchange(0)?;
                Ok(())
            })?,
            Operation::Transfer(r, w) => {
                for i in 0..r.len().max(w.len()) {
                    let got = exchange(w.get(i).copied().unwrap_or(0))?;
                    if let Some(b) = r.get_mut(i) {
                        *b = got;
                    }
                }
            }
            Operation::TransferInPlace(buf) => buf.iter_mut().try_for_each(|b| {
                *b = exchange(*b)?;
                Ok(())
            })?,
            Operation::DelayNs(_) => return Err(no_delay),
        }
    }
    Ok(())
}
