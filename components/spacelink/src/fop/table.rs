//! FOP-1's state table (CCSDS 232.1 Table 5-2) for the two inputs that come from outside the
//! ground's own requests: a CLCW arriving (events E1-E14 and E101-E103, told apart by the
//! Lockout, Wait and Retransmit flags, N(R) against V(S) and NN(R), and the transmission count
//! against the limit) and the timer expiring (E16-E18, E104, by the count and the Timeout_Type).
//!
//! In S6 every CLCW is ignored. Combinations the queue makes impossible in S4 and S5 (where
//! NN(R) = V(S), so no N(R) other than V(S) is valid) are ignored there as well.
//!
//! Avoids: acting on a CLCW of another virtual channel, on a stale timer epoch, or on an
//! N(R) outside NN(R)..=V(S) other than by the alert the table prescribes.

use super::{Alert, Fop, FopReject, FopState};
use crate::clcw::Clcw;

impl<const K: usize, const L: usize> Fop<K, L> {
    /// The 232.1 event number a CLCW is, given the current variables.
    fn classify(&self, clcw: &Clcw) -> u8 {
        let nr = clcw.report_value;
        let (w, r) = (clcw.wait, clcw.retransmit);
        if clcw.lockout {
            return 14;
        }
        if nr == self.vs {
            return match (r, w) {
                (false, false) if nr == self.nnr => 1,
                (false, false) => 2,
                (false, true) => 3,
                (true, _) => 4,
            };
        }
        // NN(R) <= N(R) < V(S), modulo 256.
        if nr.wrapping_sub(self.nnr) >= self.vs.wrapping_sub(self.nnr) {
            return 13;
        }
        let new_ack = nr != self.nnr;
        match (r, w) {
            (false, false) if new_ack => 6,
            (false, false) => 5,
            (false, true) => 7,
            (true, _) if self.limit == 1 => {
                if new_ack {
                    101
                } else {
                    102
                }
            }
            (true, false) if new_ack => 8,
            (true, true) if new_ack => 9,
            (true, false) if self.count < self.limit => 10,
            (true, true) if self.count < self.limit => 11,
            (true, false) => 12,
            (true, true) => 103,
        }
    }

    /// A CLCW arrived (from the OCF of a TM frame that passed its checks). Returns how many
    /// frames it newly acknowledged; a CLCW of another virtual channel is refused untouched.
    pub fn clcw(&mut self, clcw: &Clcw) -> Result<u8, FopReject> {
        if clcw.vcid != self.vcid {
            return Err(FopReject::Parameter("CLCW for another virtual channel"));
        }
        let event = self.classify(clcw);
        self.event = event;
        let nr = clcw.report_value;
        let s = self.state.number();
        let running = (1..=3).contains(&s);
        let mut acked = 0;
        match event {
            1 => match s {
                2 | 3 => self.do_alert(Alert::Synch),
                4 | 5 => {
                    self.timer = None;
                    self.bc = None;
                    self.state = FopState::Active;
                }
                _ => {}
            },
            2 if running => {
                acked = self.remove_acknowledged(nr);
                self.timer = None;
                self.state = FopState::Active;
            }
            3 if s <= 5 => self.do_alert(Alert::Clcw),
            4 if s <= 4 => self.do_alert(Alert::Synch),
            5 if s == 2 || s == 3 => self.do_alert(Alert::Synch),
            6 if running => {
                acked = self.remove_acknowledged(nr);
                self.state = FopState::Active;
            }
            7 if running => self.do_alert(Alert::Clcw),
            101 if running => {
                acked = self.remove_acknowledged(nr);
                self.do_alert(Alert::Limit);
            }
            102 if running => self.do_alert(Alert::Limit),
            8 if running => {
                acked = self.remove_acknowledged(nr);
                self.initiate_retransmission();
                self.state = FopState::RetransmitWithoutWait;
            }
            9 if running => {
                acked = self.remove_acknowledged(nr);
                self.state = FopState::RetransmitWithWait;
            }
            10 if s == 1 || s == 3 => {
                self.initiate_retransmission();
                self.state = FopState::RetransmitWithoutWait;
            }
            12 if s == 1 || s == 3 => self.state = FopState::RetransmitWithoutWait,
            11 | 103 if s == 1 || s == 2 => self.state = FopState::RetransmitWithWait,
            13 if s <= 4 => self.do_alert(Alert::NnR),
            14 if s <= 4 => self.do_alert(Alert::Lockout),
            _ => {}
        }
        Ok(acked)
    }

    /// The timer of `epoch` ran out (T1 after its last restart). A stale epoch, or a timer
    /// already stopped, is ignored.
    pub fn timer_expired(&mut self, epoch: u32) {
        if self.timer != Some(epoch) {
            return;
        }
        self.timer = None;
        let s = self.state.number();
        let suspend = self.timeout == super::TimeoutType::Suspend;
        if self.count < self.limit {
            self.event = if suspend { 104 } else { 16 };
            match s {
                1 | 2 => self.initiate_retransmission(),
                4 if suspend => self.suspend(),
                4 => self.do_alert(Alert::T1),
                5 => {
                    self.count = self.count.saturating_add(1);
                    if let Some((directive, _)) = self.bc {
                        self.bc = Some((directive, true));
                    }
                }
                _ => {}
            }
        } else {
            self.event = if suspend { 18 } else { 17 };
            match s {
                1..=4 if suspend => self.suspend(),
                1..=5 => self.do_alert(Alert::T1),
                _ => {}
            }
        }
    }
}
