//! A batch refusal in the operator's words: from the signed receipt's class, code, failing
//! PSBT, deciding rule and detail bytes (`signer::batch::receipt`), the reason, which PSBT
//! (its file name when the ground knows it), which input or output, and what to do.
//!
//! Avoids: numbers without words (every certificate, wallet and policy code has its reason and
//! its advice here; a code this ground does not know is shown with its class and number).

use signer::batch::receipt::Detail;
use signer::signer::{Refusal, Subject};

/// Where the receipt's fields are (`signer::batch::receipt`'s byte format).
const CLASS: usize = 60;
const CODE: usize = 61;
const PSBT: std::ops::Range<usize> = 62..64;
const RULE: usize = 64;
const DETAIL: std::ops::Range<usize> = 97..99;

/// Why the signer refused a batch, as its receipt says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Why {
    /// Error class (1 certificate, 2 framing, 3 PSBT parse, 4 wallet, 5 policy, 6 internal,
    /// 7 output too large).
    pub class: u8,
    /// Error code within the class.
    pub code: u8,
    /// The failing PSBT's place in the batch.
    pub psbt: Option<u16>,
    /// The policy rule that decided.
    pub rule: Option<u8>,
    /// The input or output, or the closest `allow` rule.
    pub detail: Detail,
}

impl Why {
    /// The reason of a receipt (`None`: not a whole receipt).
    pub fn from_receipt(r: &[u8]) -> Option<Self> {
        if r.len() != signer::batch::RECEIPT_LEN {
            return None;
        }
        let (class, code) = (r[CLASS], r[CODE]);
        let psbt = u16::from_be_bytes([r[PSBT.start], r[PSBT.start + 1]]);
        Some(Self {
            class,
            code,
            psbt: (psbt != 0xFFFF).then_some(psbt),
            rule: (r[RULE] != 0xFF).then_some(r[RULE]),
            detail: Detail::decode(class, code, [r[DETAIL.start], r[DETAIL.start + 1]]),
        })
    }

    /// The refusal in words; `names` are the batch's PSBT files in batch order (empty: shown
    /// by number).
    pub fn describe(&self, names: &[String]) -> String {
        let mut s = self.reason();
        if let Some(i) = self.psbt {
            match names.get(usize::from(i)) {
                Some(n) => s.push_str(&format!("; PSBT {i} ({})", crate::escape::escape(n))),
                None => s.push_str(&format!("; PSBT {i}")),
            }
        }
        if let Detail::At(at) = self.detail {
            s.push_str(&match at {
                Subject::Input(i) => format!(", input {i}"),
                Subject::Output(o) => format!(", output {o}"),
            });
        }
        s.push_str(". What to do: ");
        s.push_str(self.advice());
        s
    }

    fn reason(&self) -> String {
        let (class, code) = (self.class, self.code);
        match class {
            1 => format!("certificate: {}", certificate(code)),
            2 => "the batch framing is malformed".into(),
            3 => "a PSBT does not parse as binary BIP-174".into(),
            4 => match Refusal::reason(code) {
                Some(why) => format!("the wallet checks refused the PSBT: {why} (code {code})"),
                None => format!("the wallet checks refused the PSBT (code {code})"),
            },
            5 => self.policy_reason(),
            6 => "signer internal error (flash) while committing the batch".into(),
            7 => "a signed PSBT is too large for the signer's output buffer".into(),
            _ => format!("refused (class {class}, code {code}, unknown to this ground)"),
        }
    }

    fn policy_reason(&self) -> String {
        let rule = self.rule.map_or(String::new(), |r| format!("rule {r} "));
        match self.code {
            1 => {
                let closest = match self.detail {
                    Detail::ClosestAllow { rule, miss: m } => {
                        format!("; the nearest allow rule, rule {rule}, failed: {}", miss(m))
                    }
                    _ => "; no allow rule comes before it".into(),
                };
                format!("policy: {rule}(a deny rule) decided{closest}")
            }
            2 => "policy: the server has no rules, so nothing is signed".into(),
            c if c >= 0x10 => format!(
                "policy: no rule matched; {rule}(the last tried) failed: {}",
                miss(c - 0x10)
            ),
            c => format!("policy: refusal code {c}, unknown to this ground"),
        }
    }

    /// What the operator does about it.
    fn advice(&self) -> &'static str {
        match self.class {
            1 => certificate_advice(self.code),
            2 | 3 => {
                "check each PSBT is the wallet's binary BIP-174 export (not base64 text) and send the batch again"
            }
            4 => wallet_advice(self.code),
            5 => match self.code {
                2 => {
                    "provision rules for this server (`rule allow ...`, docs/provisioning.md) with `spacenode ground admin`"
                }
                _ => {
                    "keep the transaction within that limit (split it, lower the amount or the fee, wait for the velocity window), or change the server's rules (docs/provisioning.md)"
                }
            },
            6 => {
                "send the same batch again (it is committed whole or not at all); check `spacenode ground status` if it repeats"
            }
            7 => "send that PSBT with fewer inputs or in a batch of its own",
            _ => "update this ground to the node's version to read the reason",
        }
    }
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe(&[]))
    }
}

fn certificate(code: u8) -> &'static str {
    match code {
        1 => "malformed certificate",
        2 => "unknown server id",
        3 => "server revoked",
        4 => "certificate key id does not match the server's key (wrong --key?)",
        5 => "bad certificate signature (wrong --key?)",
        6 => "replayed sequence number (this certificate sequence was already used)",
        7 => "certificate expired",
        8 => "PSBT count differs from the certificate",
        9 => "a PSBT does not match its certified hash",
        10 => {
            "the certificate never expires and the server's registry entry does not say `no-expiry`"
        }
        11 => "the node has no mission time yet, so it cannot check the certificate's expiry",
        12 => "certificate sequence more than 2^20 above the last one accepted",
        _ => "certificate refused",
    }
}

fn certificate_advice(code: u8) -> &'static str {
    match code {
        2 => "check --server against the node's registry (`server id=` in the provisioning file)",
        3 => {
            "this server may no longer sign; use another server, or add it again with `spacenode ground admin`"
        }
        4 | 5 => {
            "give the server's own certificate key with --key (the private key of `server ... key=`)"
        }
        6 => {
            "the ground's certificate sequence (STATE/server-ID.seq) is behind the node's: use the state directory that sent the earlier batches, or move the sequence above the node's last one"
        }
        7 => "build the batch again with a later expiry (--lifetime-s or --expiry-ms)",
        10 => {
            "give the certificate a lifetime (--lifetime-s), or allow `no-expiry` for this server in the registry"
        }
        11 => "correlate the node's clock first with `spacenode ground time`",
        12 => "the ground's sequence file is far ahead of the node's; check STATE/server-ID.seq",
        _ => "build the batch again with `spacenode ground sign` or `spacenode ground batch`",
    }
}

fn miss(code: u8) -> &'static str {
    match code {
        1 => "the outflow (payments plus fee) is over its max-amount",
        2 => "its velocity limit for the window is reached",
        3 => "an output pays to a script not in its to= list",
        4 => "the fee is over its max-fee",
        5 => "the fee rate is over its max-feerate",
        _ => "a condition this ground does not know",
    }
}

/// What to do about wallet refusal `code` (`signer::signer::Refusal::code`).
fn wallet_advice(code: u8) -> &'static str {
    match code {
        1 => "add the inputs in the wallet that built the PSBT",
        2 => "export the PSBT with the full previous transaction (non_witness_utxo) of every input",
        3..=5 => {
            "the previous transaction attached to that input is not the one it spends: build the PSBT again from the wallet"
        }
        6 | 7 => {
            "that input's script does not match the output it spends: build the PSBT again from the wallet"
        }
        8 => "export the PSBT with each input's witness script (PSBT_IN_WITNESS_SCRIPT)",
        9 => "export the PSBT with each input's redeem script (PSBT_IN_REDEEM_SCRIPT)",
        10 => {
            "that input's BIP-32 derivations do not derive the registered wallet's keys: check the PSBT comes from the wallet registered for this server"
        }
        11 => {
            "export the PSBT with BIP-32 derivations (PSBT_IN_BIP32_DERIVATION) for the wallet's keys"
        }
        12 => {
            "that input is not the registered wallet's: remove it, or send it through the server whose wallet it is"
        }
        13 => {
            "sign with a sighash type the server allows (its `sighash=` option, default `all`; docs/provisioning.md)"
        }
        14 => {
            "that output's derivations claim the wallet but its script is not the wallet's: fix the change address or drop its derivations"
        }
        15 => "send the PSBT before it is finalized",
        16 => {
            "the node signs only the registered wallet's script type: spend only that wallet's coins"
        }
        17 => "check the amounts: the outputs add up to more than the inputs",
        18 => "send it again; report it if it repeats (the node could not compute a signature)",
        19 => "remove the duplicate input",
        _ => "update this ground to the node's version to read the reason",
    }
}

/// The node's coarse reason (result header) when the receipt is missing.
pub fn coarse(code: u8) -> &'static str {
    match code {
        1 => "bad certificate",
        2 => "replayed batch",
        3 => "signing policy violation",
        4 => "not a batch file (malformed)",
        5 => "bad chunking",
        6 => "signer busy with another batch; try again",
        7 => {
            "the signer cannot sign now (the node is in safe mode, or the signer is stopped, degraded or restarting); nothing was signed: see `spacenode ground status`, then send it again"
        }
        8 => {
            "the node reset before answering and dropped the batch (it is never signed later on the node's own initiative); send it again"
        }
        _ => "internal error on the node",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn why(class: u8, code: u8, psbt: Option<u16>, detail: Detail) -> Why {
        Why {
            class,
            code,
            psbt,
            rule: None,
            detail,
        }
    }

    #[test]
    fn every_wallet_code_has_its_reason_and_its_own_advice() {
        let unknown = wallet_advice(0);
        for code in 1..=19u8 {
            let reason = Refusal::reason(code).expect("the signer names every code 1-19");
            let w = why(4, code, Some(1), Detail::At(Subject::Input(3)));
            let text = w.describe(&["b.psbt".into(), "pay.psbt".into()]);
            assert!(text.contains(reason), "{code}: {text}");
            assert!(
                text.contains("PSBT 1 (pay.psbt), input 3"),
                "{code}: {text}"
            );
            assert_ne!(wallet_advice(code), unknown, "code {code} has no advice");
            assert!(text.ends_with(wallet_advice(code)), "{text}");
        }
        assert_eq!(
            Refusal::reason(20),
            None,
            "a new code needs its advice here"
        );
        assert!(
            why(4, 20, None, Detail::None)
                .to_string()
                .contains("code 20")
        );
    }

    #[test]
    fn every_certificate_and_policy_code_reads_in_words() {
        for code in (1..=9).chain([12]) {
            let t = why(1, code, None, Detail::None).to_string();
            assert!(!t.contains("certificate refused"), "{code}: {t}");
            assert!(t.contains("What to do: "), "{t}");
        }
        for code in [1u8, 2, 0x11, 0x12, 0x13, 0x14, 0x15] {
            let t = why(5, code, Some(0), Detail::None).to_string();
            assert!(!t.contains("unknown"), "{code}: {t}");
        }
        for class in 2..=7u8 {
            assert!(
                !why(class, 1, None, Detail::None)
                    .to_string()
                    .contains("unknown")
            );
        }
    }

    #[test]
    fn a_deny_names_the_limit_the_nearest_allow_rule_missed() {
        let w = Why {
            class: 5,
            code: 1,
            psbt: Some(0),
            rule: Some(1),
            detail: Detail::ClosestAllow { rule: 0, miss: 1 },
        };
        assert_eq!(
            w.describe(&["a.psbt".into()]),
            "policy: rule 1 (a deny rule) decided; the nearest allow rule, rule 0, failed: the outflow (payments plus fee) is over its max-amount; PSBT 0 (a.psbt). What to do: keep the transaction within that limit (split it, lower the amount or the fee, wait for the velocity window), or change the server's rules (docs/provisioning.md)"
        );
        let dest = why(5, 0x13, Some(0), Detail::At(Subject::Output(2))).to_string();
        assert!(dest.contains("to= list; PSBT 0, output 2"), "{dest}");
    }

    #[test]
    fn reads_the_fields_from_a_receipt() {
        let mut r = [0u8; signer::batch::RECEIPT_LEN];
        r[CLASS] = 4;
        r[CODE] = 14;
        r[PSBT].copy_from_slice(&2u16.to_be_bytes());
        r[RULE] = 0xFF;
        r[DETAIL].copy_from_slice(&Detail::At(Subject::Output(1)).encode());
        let w = Why::from_receipt(&r).expect("whole receipt");
        assert_eq!(
            (w.psbt, w.rule, w.detail),
            (Some(2), None, Detail::At(Subject::Output(1)))
        );
        assert_eq!(Why::from_receipt(&r[1..]), None);
        assert!(coarse(6).contains("busy"));
        let code = comms_partition::intake::reason_code;
        assert!(coarse(code(protocol::SignRejection::SignerDown)).contains("safe mode"));
        assert!(coarse(code(protocol::SignRejection::Abandoned)).contains("send it again"));
    }
}
