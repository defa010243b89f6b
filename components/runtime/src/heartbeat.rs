//! Automatic answers to the watchdog's pings, from inside the event loop.
//!
//! Before a component's `init`, the runtime takes the component's receive channel of kind
//! `ping` and send channel of kind `pong` (at most one each, as the description grants them) out
//! of its capability set. Whenever the ping channel fires, between two handler calls, every
//! waiting ping is answered with a pong echoing its nonce and sequence and carrying the
//! component's id and progress counters. A pong that does not fit (the watchdog is not reading)
//! is dropped and counted; malformed pings are dropped and counted as malformed.
//!
//! Avoids: answering from anywhere but the loop (no thread, no timer), so a stuck handler is
//! seen as silent.

use crate::caps::{CapError, CapSet};
use crate::component::Context;
use crate::notify_set::Source;
use crate::{Rx, Tx};
use ipc::RecvError;
use protocol::{Message, Ping, Pong};

/// The ping and pong endpoints of one component.
pub struct Heartbeat {
    pings: Rx<Ping>,
    pongs: Tx<Pong>,
    source: Source,
    answered: u64,
    dropped: u64,
}

impl Heartbeat {
    /// Takes the ping and pong channels out of `caps`. `Ok(None)` if the component has neither;
    /// an error if it has only one of them or they cannot be made into endpoints.
    pub fn take(caps: &mut CapSet) -> Result<Option<Heartbeat>, CapError> {
        let ping = caps.find_receive_kind(Ping::NAME);
        let pong = caps.find_send_kind(Pong::NAME);
        match (ping, pong) {
            (None, None) => Ok(None),
            (Some(ping), Some(pong)) => {
                let (pings, source) = caps.receiver::<Ping>(ping)?;
                let pongs = caps.sender::<Pong>(pong)?;
                Ok(Some(Heartbeat {
                    pings,
                    pongs,
                    source,
                    answered: 0,
                    dropped: 0,
                }))
            }
            _ => Err(CapError::NotGranted),
        }
    }

    /// The source the ping channel fires.
    pub fn source(&self) -> Source {
        self.source
    }

    /// Answers every waiting ping.
    pub fn answer(&mut self, cx: &mut Context) {
        loop {
            let got = self
                .pings
                .try_recv(|p| (p.nonce.to_native(), p.sequence.to_native()));
            match got {
                Ok((nonce, sequence)) => {
                    let pong = Pong {
                        nonce,
                        sequence,
                        component: cx.component(),
                        degraded: cx.degraded(),
                        progress: cx.progress(),
                    };
                    match self.pongs.try_send(&pong) {
                        Ok(()) => self.answered += 1,
                        Err(_) => self.dropped += 1,
                    }
                }
                Err(RecvError::Empty) => return,
                Err(RecvError::Malformed) => cx.count_malformed(1),
                // The watchdog's index is corrupt: nothing more can be read now.
                Err(RecvError::PeerCorrupt(_)) => {
                    cx.count_malformed(1);
                    return;
                }
            }
        }
    }

    /// Pongs sent so far.
    pub fn answered(&self) -> u64 {
        self.answered
    }

    /// Pongs that did not fit in the pong ring.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}
