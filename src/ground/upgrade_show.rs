//! What `spacenode ground upgrade` prints while it runs: an `indicatif` progress bar over the
//! bundle's bytes when stdout is a terminal, plain lines (about every 10 %, and each change of
//! the agent's state) when it is not, and the outcome line.
//!
//! Avoids: any decision (it only shows [`Event`]s).

use super::upgrade::{Event, Outcome, describe};
use indicatif::{ProgressBar, ProgressStyle};
use protocol::UpgradeState;

/// The progress display of one run.
pub struct Display {
    bar: Option<ProgressBar>,
    total: usize,
    decile: u64,
    last_state: Option<UpgradeState>,
}

impl Display {
    /// A bar on a terminal, else plain lines; `total` is the bundle's length.
    pub fn new(terminal: bool, total: usize) -> Display {
        let bar = terminal.then(|| {
            let b = ProgressBar::new(total as u64);
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} [{bar:32}] {bytes}/{total_bytes} {msg}")
            {
                b.set_style(style.progress_chars("=> "));
            }
            b
        });
        Display {
            bar,
            total,
            decile: 0,
            last_state: None,
        }
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(b) => b.println(text),
            None => println!("{text}"),
        }
    }

    /// Shows one event.
    pub fn event(&mut self, e: &Event) {
        match e {
            Event::Reached { rtt } => self.line(format!("node reached (round trip {rtt:.0?})")),
            Event::Sending {
                bundle_id,
                from,
                count,
                bytes,
            } => self.line(if *from == 0 {
                format!("bundle {bundle_id:#018x}: {bytes} bytes in {count} messages")
            } else {
                format!("bundle {bundle_id:#018x}: resuming at message {from} of {count}")
            }),
            Event::Preparing { done, total } => {
                if let Some(b) = &self.bar {
                    b.set_message(format!("node copies chunks on board ({done}/{total})"));
                }
            }
            Event::Sent { status, .. } => {
                let at = (status.next_chunk as usize * super::upgrade::PIECE).min(self.total);
                if let Some(b) = &self.bar {
                    b.set_position(at as u64);
                    b.set_message(format!(
                        "{} of {} chunks in place, {} bytes copied on board",
                        status.chunks_done, status.chunks_total, status.bytes_copied
                    ));
                } else {
                    let d = (at * 10 / self.total.max(1)) as u64;
                    if d > self.decile {
                        self.decile = d;
                        println!(
                            "{}0 % of the bundle covered: {} of {} chunks in place, {} bytes copied on board",
                            d, status.chunks_done, status.chunks_total, status.bytes_copied
                        );
                    }
                }
                if self.last_state != Some(status.state) {
                    self.last_state = Some(status.state);
                    if status.state == UpgradeState::Receiving && status.bytes_copied > 0 {
                        self.line(format!(
                            "the node copied {} bytes on board; uplinking the {} chunks it still needs",
                            status.bytes_copied,
                            status.chunks_total - status.chunks_done
                        ));
                    }
                }
            }
            Event::Written { status } => self.line(format!(
                "image written and verified on the node ({} bytes copied on board); trial boot requested, the node reboots",
                status.bytes_copied
            )),
            Event::Trial { status } => {
                if self.last_state != Some(status.state) {
                    self.last_state = Some(status.state);
                    self.line(format!("trial boot: {}", describe(status)));
                }
            }
        }
    }

    /// Removes the bar.
    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

/// The line for a confirmed upgrade.
pub fn outcome_line(o: &Outcome) -> String {
    let s = &o.status;
    let v = s.slots[usize::from(s.active_slot == protocol::Slot::B)];
    format!(
        "confirmed: the node runs version {}.{}.{} from slot {} (security counter {}); {} bytes uplinked in {} messages ({} sent again) in {:.1} s, {} bytes copied on board, {:.1} s in all",
        v.version[0],
        v.version[1],
        v.version[2],
        s.active_slot,
        s.security_counter,
        o.uplinked,
        o.messages,
        o.resent,
        o.uplink.as_secs_f64(),
        s.bytes_copied,
        o.elapsed.as_secs_f64()
    )
}
