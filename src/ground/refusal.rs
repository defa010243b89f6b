//! Event 0x0007, "authenticated uplink unit refused for its sequence number"
//! (`comms::pus::event::EV_SEQUENCE_REFUSED`), as the ground reads it: which of its units the
//! node refused, the node's last accepted ARSN and window, and whether the unit was beyond the
//! window (the operator must resynchronise) or below the floor (the ground resumes above it).
//!
//! Avoids: trusting anything here that did not come in an authenticated downlink unit (the
//! session only decodes events it has verified).

/// Event 0x0007 (the node refused one of our units for its ARSN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The ARSN refused.
    pub arsn: u64,
    /// The node's last accepted ARSN.
    pub node_last: u64,
    /// The node's window.
    pub window: u64,
    /// Beyond the window (else a replay or below the floor).
    pub beyond: bool,
}

impl Refusal {
    /// Event source: id (2), SPI (2), ARSN (8), last accepted (8), window (8), verdict (1).
    pub fn decode(source: &[u8]) -> Option<(u16, Refusal)> {
        let b = source.get(2..29)?;
        let u = |r: core::ops::Range<usize>| {
            let mut x = [0u8; 8];
            x.copy_from_slice(b.get(r)?);
            Some(u64::from_be_bytes(x))
        };
        Some((
            u16::from_be_bytes([b[0], b[1]]),
            Refusal {
                arsn: u(2..10)?,
                node_last: u(10..18)?,
                window: u(18..26)?,
                beyond: b[26] != 0,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_event_and_refuses_a_short_one() {
        let mut src = vec![0x00, 0x07, 0x00, 0x01];
        for v in [5_000u64, 0, 512] {
            src.extend(v.to_be_bytes());
        }
        src.push(1);
        assert_eq!(
            Refusal::decode(&src),
            Some((
                1,
                Refusal {
                    arsn: 5_000,
                    node_last: 0,
                    window: 512,
                    beyond: true
                }
            ))
        );
        assert_eq!(Refusal::decode(&src[..28]), None);
    }
}
