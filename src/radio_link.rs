//! The command-line spelling of what the sim radio speaks, shared by `spacenode run
//! --radio-link` and `spacenode ground --link`: `description` (what the shipped description's
//! `[link]` section says: the CCSDS space link, the default), `units` (comms' own secured
//! units, one per datagram) or `ccsds:SCID` (the CCSDS space link with spacecraft id SCID). The
//! SDLS suite is not given here: each association's suite is in the provisioning file
//! (`comms::sdls::provision`, version 3), which the node seals and the ground reads with
//! `--provisioning`; the old spelling `ccsds:SCID,SUITE` is refused saying so.
//!
//! The node gets it as the `[link]` section of the shipped description (replaced by the one
//! given), so the description checker validates it and fills in the defaults (virtual
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
    /// The `[link]` section that replaces the shipped description's (`None`: the shipped one).
    section: Option<String>,
    /// The parameters the description checker made of it.
    pub link: RadioLink,
}

impl std::str::FromStr for RadioChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let section = match s {
            DESCRIPTION => None,
            "units" => Some("\n[link]\nradio = \"units\"\n".to_string()),
            _ => Some(ccsds_section(s)?),
        };
        let board = shipped::board("sim").ok_or("the sim board is missing from this build")?;
        let system = kernel_config::load(&description_with(section.as_deref()), &board)
            .map_err(|d| format!("radio link {s:?}: {d}"))?;
        Ok(RadioChoice {
            spelling: s.to_string(),
            section,
            link: system.radio_link,
        })
    }
}

/// The spelling of "what the shipped description says" (the default).
pub const DESCRIPTION: &str = "description";

/// The `[link]` section of `ccsds:SCID`.
fn ccsds_section(s: &str) -> Result<String, String> {
    let Some(rest) = s.strip_prefix("ccsds:") else {
        return Err(format!(
            "unknown radio link {s:?}: use `{DESCRIPTION}` (the shipped description's), `units` or `ccsds:SCID` (e.g. ccsds:421)"
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
    Ok(format!(
        "\n[link]\nradio = \"ccsds\"\nspacecraft-id = {scid}\n"
    ))
}

impl std::fmt::Display for RadioChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.spelling)
    }
}

impl RadioChoice {
    /// The shipped description with this choice's `[link]` section.
    pub fn description(&self) -> Source {
        description_with(self.section.as_deref())
    }

    /// What the shipped description's `[link]` says (the default of `--radio-link` and of the
    /// ground's `--link radio`).
    pub fn shipped() -> Result<Self, String> {
        DESCRIPTION.parse()
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

/// The shipped description, its `[link]` section (and the comment right above it) replaced by
/// `section` if one is given.
fn description_with(section: Option<&str>) -> Source {
    let shipped = shipped::description();
    let Some(section) = section else {
        return shipped;
    };
    let lines: Vec<&str> = shipped.text.lines().collect();
    let mut keep = vec![true; lines.len()];
    if let Some(at) = lines.iter().position(|l| l.trim() == "[link]") {
        let end = lines[at + 1..]
            .iter()
            .position(|l| l.trim_start().starts_with('['))
            .map_or(lines.len(), |n| at + 1 + n);
        let comments = lines[..at]
            .iter()
            .rev()
            .take_while(|l| l.trim_start().starts_with('#'))
            .count();
        keep[at - comments..end].fill(false);
    }
    let mut text: String = lines
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(l, _)| format!("{l}\n"))
        .collect();
    text.push_str(section);
    Source::new(shipped.name, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_parse_and_wrong_ones_say_what_to_write() {
        let u: RadioChoice = "units".parse().unwrap();
        assert_eq!(u.link, RadioLink::Units);
        assert!(!u.description().text.contains("radio = \"ccsds\""));
        let d = RadioChoice::shipped().unwrap();
        assert_eq!(d.description().text, shipped::description().text);
        let RadioLink::Ccsds(l) = d.link else {
            panic!("the shipped description's radio speaks the CCSDS link");
        };
        assert_eq!(l.spacecraft_id, 421);
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
