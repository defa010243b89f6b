//! The command-line spelling of what the sim radio speaks, shared by `spacenode run
//! --radio-link` and `spacenode ground --link`: `units` (comms' units, the default) or
//! `ccsds:SCID` (the CCSDS space link, spacecraft id SCID). The SDLS suite is not given here:
//! each association's suite is in the provisioning file (`comms::sdls::provision`, version
//! 3), which the node seals and the ground reads with `--provisioning`; the old spelling
//! `ccsds:SCID,SUITE` is refused saying so.
//!
//! The node gets it as the `[link]` section appended to the shipped description (which has
//! none), so the description checker validates it and fills in the defaults (virtual
//! channels, TM frame length); the ground derives its parameters the same way, so both ends
//! hold the same managed parameters.
//!
//! Avoids: a second copy of the link's defaults (kernel-config's `[link]` has them).

use kernel_config::{Source, shipped};
use runtime::RadioLink;

/// What the radio speaks, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadioChoice {
    /// As given (passed on to the boot stage's images).
    spelling: String,
    /// The `[link]` section to append to the description (empty for units).
    section: String,
    /// The parameters the description checker made of it.
    pub link: RadioLink,
}

impl std::str::FromStr for RadioChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "units" {
            return Ok(RadioChoice {
                spelling: s.to_string(),
                section: String::new(),
                link: RadioLink::Units,
            });
        }
        let Some(rest) = s.strip_prefix("ccsds:") else {
            return Err(format!(
                "unknown radio link {s:?}: use `units` or `ccsds:SCID` (e.g. ccsds:421)"
            ));
        };
        if let Some((_, suite)) = rest.split_once(',') {
            return Err(format!(
                "radio link {s:?}: the SDLS suite ({suite:?}) is not given on the command line: \
                 each security association's suite is in the provisioning file (version 3; \
                 `spacenode provision-link --generate` writes one, the ground reads it with \
                 --provisioning); write `ccsds:SCID`"
            ));
        }
        let scid: u16 = rest
            .parse()
            .ok()
            .filter(|n| *n <= 0x3FF)
            .ok_or_else(|| format!("spacecraft id {rest:?} is not a number from 0 to 1023"))?;
        let section = format!("\n[link]\nradio = \"ccsds\"\nspacecraft-id = {scid}\n");
        let board = shipped::board("sim").ok_or("the sim board is missing from this build")?;
        let system = kernel_config::load(&description_with(&section), &board)
            .map_err(|d| format!("radio link {s:?}: {d}"))?;
        Ok(RadioChoice {
            spelling: s.to_string(),
            section,
            link: system.radio_link,
        })
    }
}

impl std::fmt::Display for RadioChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.spelling)
    }
}

impl RadioChoice {
    /// The shipped description with this choice's `[link]` section.
    pub fn description(&self) -> Source {
        description_with(&self.section)
    }

    /// The link layers' parameters, `None` for units.
    pub fn ccsds(&self) -> Option<comms::radio_ccsds::CcsdsConfig> {
        let RadioLink::Ccsds(l) = self.link else {
            return None;
        };
        Some(comms::radio_ccsds::CcsdsConfig {
            scid: l.spacecraft_id,
            tc_vcid: l.tc_virtual_channel,
            tm_vcid: l.tm_virtual_channel,
            tm_frame_len: usize::from(l.tm_frame_length),
        })
    }
}

fn description_with(section: &str) -> Source {
    let shipped = shipped::description();
    Source::new(shipped.name, format!("{}{section}", shipped.text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_parse_and_wrong_ones_say_what_to_write() {
        let u: RadioChoice = "units".parse().unwrap();
        assert_eq!(u.link, RadioLink::Units);
        assert_eq!(u.description().text, shipped::description().text);
        let c: RadioChoice = "ccsds:421".parse().unwrap();
        let cfg = c.ccsds().unwrap();
        assert_eq!((cfg.scid, cfg.tm_frame_len), (421, 1115));
        assert!(
            "ccsds:421,hmac-sha-256"
                .parse::<RadioChoice>()
                .unwrap_err()
                .contains("each security association's suite is in the provisioning file")
        );
        assert!(
            "ccsds:5000"
                .parse::<RadioChoice>()
                .unwrap_err()
                .contains("spacecraft id \"5000\" is not a number from 0 to 1023")
        );
        assert!(
            "ax25"
                .parse::<RadioChoice>()
                .unwrap_err()
                .contains("ccsds:SCID")
        );
    }
}
