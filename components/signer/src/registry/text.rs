//! Writing a registry in the canonical text of [`crate::provision`]: header, threshold, admins,
//! counter, then each server line followed by its rules, then the servers' further wallets
//! (`wallet` lines) in the order they were added. Parsing the output gives the same registry.

use super::Registry;
use crate::provision::{FORMAT_VERSION, HEADER, network_name, write_sighash};
use core::fmt::{self, Write};

impl Registry {
    /// Writes the canonical text.
    pub fn write_text(&self, w: &mut impl Write) -> fmt::Result {
        writeln!(w, "{HEADER} {FORMAT_VERSION}")?;
        if !self.admins.is_empty() {
            writeln!(w, "admin-threshold {}", self.threshold)?;
        }
        for a in &self.admins {
            w.write_str("admin ")?;
            crate::hexfmt::write(w, a)?;
            w.write_str("\n")?;
        }
        writeln!(w, "admin-counter {}", self.counter)?;
        for s in self.servers() {
            write!(w, "server id={} key=", s.id)?;
            crate::hexfmt::write(w, &s.cert_key)?;
            write!(
                w,
                " network={} account={} descriptor={} sighash=",
                network_name(s.network),
                s.account,
                s.descriptor
            )?;
            write_sighash(w, s.sighash)?;
            if s.no_expiry {
                w.write_str(" no-expiry")?;
            }
            if s.revoked {
                w.write_str(" revoked")?;
            }
            w.write_str("\n")?;
            for r in s.policy.rules() {
                writeln!(w, "{r}")?;
            }
        }
        for e in self.wallet_entries() {
            writeln!(
                w,
                "wallet server={} account={} descriptor={}",
                e.server,
                e.account,
                e.descriptor()
            )?;
        }
        Ok(())
    }
}
