//! What went on the air for a telecommand, as an eavesdropper records it, for the demo's attack
//! step ([`crate::demo`]'s `attack`): the unit, or on the CCSDS radio the CLTU FOP-1 sent it in;
//! the recording sent again as it is (a replay) or with one bit under its MAC changed
//! ([`crate::ground::forge`]).
//!
//! Avoids: a second send path (the telecommand goes through [`Session::send_telecommand`] or,
//! for a unit, the same wrap and save as every unit).

use super::*;

/// What went on the air for one telecommand ([`Session::send_recorded`]).
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The unit, or the CLTU.
    pub bytes: Vec<u8>,
    /// The telecommand's request ID.
    pub request: RequestId,
    /// TC frames the ground had sent when it was recorded (0 for units).
    pub(super) sent: u32,
}

impl Session {
    /// Sends one telecommand without waiting (as [`Session::send_telecommand`]) and returns a
    /// copy of what went on the air for it, as an eavesdropper records it: its unit, or on the
    /// CCSDS radio the CLTU FOP-1 sent it in. The demo shows what the node does with that copy
    /// sent again (a replay) and with a damaged one ([`Session::forge`]).
    pub fn send_recorded(
        &mut self,
        service: u8,
        subservice: u8,
        app_data: &[u8],
    ) -> Result<Recorded, SessionError> {
        if self.frames.is_none() {
            let mut unit = vec![0u8; MAX_UNIT_LEN];
            let (len, request) = self
                .ground
                .uplink(self.cfg.spi, service, subservice, 0, app_data, &mut unit)
                .map_err(SessionError::Build)?;
            unit.truncate(len);
            self.save()?;
            self.wire.send(&unit)?;
            return Ok(Recorded {
                bytes: unit,
                request,
                sent: 0,
            });
        }
        let request =
            self.send_telecommand(service, subservice, app_data, Ack::ALL, Service::Sequenced)?;
        let (bytes, sent) = self
            .frames
            .as_ref()
            .map_or((&[][..], 0), FrameLink::last_sent);
        Ok(Recorded {
            bytes: bytes.to_vec(),
            request,
            sent,
        })
    }

    /// Whether the link sent anything after `r` was recorded (FOP-1 retransmitted: the node
    /// may have taken a later copy than the recorded one). Units: never.
    pub fn sent_since(&self, r: &Recorded) -> bool {
        self.frames
            .as_ref()
            .is_some_and(|f| f.last_sent().1 != r.sent)
    }

    /// A copy of `recorded` with one bit of its secured part changed and the checks anyone
    /// can recompute mended ([`super::forge`]): only the MAC can tell.
    pub fn forge(&self, recorded: &[u8]) -> Vec<u8> {
        match self.frames {
            Some(_) => crate::ground::forge::cltu(recorded).unwrap_or_else(|| recorded.to_vec()),
            None => crate::ground::forge::unit(recorded),
        }
    }

    /// Sends `bytes` as they are (a recorded or forged unit or CLTU).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), SessionError> {
        self.wire.send(bytes)?;
        Ok(())
    }
}
