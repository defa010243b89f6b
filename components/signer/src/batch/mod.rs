//! Batch processing as a state machine the component steps one PSBT at a time, so it can answer
//! watchdog pings between steps however long the batch is.
//!
//! # Semantics
//!
//! - **All or nothing.** Pass 1 (*check*) verifies the certificate, then for each PSBT in turn
//!   its certified hash, the PSBT itself, the wallet checks ([`crate::signer::check`] under the
//!   submitting server's wallet the PSBT spends from, [`crate::registry::parsed`]) and the
//!   policy ([`crate::policy::evaluate`]), accumulating velocity on a scratch copy of the
//!   server's windows. The first failure ends the batch with a signed rejection receipt; nothing
//!   is recorded and no signature is made.
//! - **Commit before release.** When every PSBT passed, the server's new sequence number,
//!   certificate digest and velocity windows go into ONE ledger record written with
//!   `write_mirrored` ([`crate::ledger`]). Only after it is on flash does pass 2 (*sign*)
//!   produce signatures. A power cut before the commit leaves the batch unrecorded (resubmit
//!   it: it signs); after, recorded (resubmit it: see next point). A sequence number is
//!   therefore never accepted twice for different batches.
//! - **Resubmission.** A batch whose certificate has the server's last accepted sequence *and*
//!   the stored certificate digest is an exact resubmission: it is checked again (certificate,
//!   hashes, wallet), but the policy is not re-evaluated and nothing is counted or written; the
//!   signatures (RFC 6979) and the receipt come out byte for byte as the first time. Only the
//!   last batch of a server can be resubmitted; the same sequence with other contents is a
//!   replay (certificate error 6).
//! - **Output.** Each signing step writes one signed PSBT into the caller's buffer
//!   ([`Step::Psbt`]); the last step returns the [`Receipt`] ([`receipt`]). The component streams
//!   `u32 length ‖ PSBT` for each, then the receipt, to comms.
//!
//! # Limits and memory
//!
//! Up to [`crate::cert::MAX_PSBTS`] (1,024) PSBTs of up to [`framing::MAX_PSBT_LEN`] bytes
//! each, each with up to [`crate::psbt::MAX_INPUTS`] inputs. The job holds a fixed-size state
//! (offsets, counters, one velocity scratch, a running SHA3 state) whatever the batch size; the
//! batch bytes are the caller's buffer (borrowed, never copied); one step's stack holds one
//! parsed PSBT. The caller's output buffer must hold the largest signed PSBT:
//! [`MAX_SIGNED_PSBT`] bytes always suffice.
//!
//! # Steps
//!
//! `Start` (certificate, framing) → `Check` × n → `Commit` → `Sign` × n → `Done`. Each call to
//! [`BatchJob::step`] does one of these; the costliest is one PSBT's signing.

pub mod framing;
pub mod receipt;

use crate::cert::{CertError, Certificate, verify_header};
use crate::hash::sha3_256;
use crate::keys::NodeKeys;
use crate::ledger::ServerState;
use crate::node::Signer;
use crate::policy::velocity::Windows;
use crate::policy::{Facts, evaluate};
use crate::psbt::{MAX_INPUTS, Psbt};
use crate::registry::parsed::check_for_server;
use crate::registry::{ParsedWallet, Registries, Registry, Server};
use crate::show::Maybe;
use crate::signer::{Analysis, Refusal};
use core::borrow::BorrowMut;
use hal::flash::NorFlash;
use hal::time::Instant;
use receipt::{Detail, ErrorClass, Outcome, Receipt};
use sha3::{Digest as _, Sha3_256};

pub use receipt::RECEIPT_LEN;

/// An output buffer of this many bytes holds any signed PSBT of a batch.
pub const MAX_SIGNED_PSBT: usize = framing::MAX_PSBT_LEN + MAX_INPUTS * 112;

/// What one step produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Progress; call again.
    Working,
    /// PSBT `index` is signed: its bytes are `out[..len]` of this step's output buffer.
    Psbt {
        /// Batch index.
        index: u16,
        /// Length in the output buffer.
        len: usize,
        /// Partial signatures added.
        signatures: u16,
    },
    /// Finished (signed or rejected): the receipt. Further calls return it again.
    Done(Receipt),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Start,
    Check,
    Commit,
    Sign,
    Finish,
    Done(Receipt),
}

/// One batch in progress. Create with [`Signer::begin_batch`], drive with [`BatchJob::step`].
#[derive(Debug, Clone)]
pub struct BatchJob<'b> {
    batch: &'b [u8],
    now: Instant,
    now_ms: u64,
    phase: Phase,
    server_id: u32,
    sequence: u64,
    digest: [u8; 32],
    count: u16,
    resubmission: bool,
    offset: usize,
    index: u16,
    windows: Windows,
    results: Sha3_256,
}

struct Fail {
    class: ErrorClass,
    code: u8,
    psbt: Option<u16>,
    rule: Option<u8>,
    detail: Detail,
}

impl Fail {
    fn cert(e: CertError, psbt: Option<u16>) -> Self {
        Self {
            class: ErrorClass::Certificate,
            code: e.code(),
            psbt,
            rule: None,
            detail: Detail::None,
        }
    }
    fn of(class: ErrorClass, code: u8, psbt: Option<u16>) -> Self {
        Self {
            class,
            code,
            psbt,
            rule: None,
            detail: Detail::None,
        }
    }
    fn wallet(r: &crate::signer::Refusal, psbt: Option<u16>) -> Self {
        Self {
            detail: r.subject().map_or(Detail::None, Detail::At),
            ..Self::of(ErrorClass::Wallet, r.code(), psbt)
        }
    }
    fn policy(d: &crate::policy::Decision, psbt: Option<u16>) -> Self {
        use crate::policy::Reason;
        let detail = match (d.reason, d.closest_allow) {
            (Reason::DeniedByRule, Some((rule, m))) => Detail::ClosestAllow {
                rule,
                miss: m.code(),
            },
            (Reason::NoRuleMatched(m), _) => m.output().map_or(Detail::None, |o| {
                Detail::At(crate::signer::Subject::Output(o))
            }),
            _ => Detail::None,
        };
        Self {
            class: ErrorClass::Policy,
            code: d.code(),
            psbt,
            rule: d.rule,
            detail,
        }
    }
}

impl<'b> BatchJob<'b> {
    pub(crate) fn new(batch: &'b [u8], now: Instant) -> Self {
        Self {
            batch,
            now,
            now_ms: 0,
            phase: Phase::Start,
            server_id: 0,
            sequence: 0,
            digest: [0; 32],
            count: 0,
            resubmission: false,
            offset: 0,
            index: 0,
            windows: Windows::new(),
            results: Sha3_256::new(),
        }
    }

    /// True once the receipt is out.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done(_))
    }

    /// True if this batch is an exact resubmission of the server's last committed batch.
    pub fn is_resubmission(&self) -> bool {
        self.resubmission
    }

    /// Does one step. `out` receives the signed PSBT of a signing step (see [`MAX_SIGNED_PSBT`]).
    pub fn step<F: NorFlash, M: BorrowMut<Registries>>(
        &mut self,
        signer: &mut Signer<F, M>,
        out: &mut [u8],
    ) -> Step {
        let result = match self.phase {
            Phase::Done(r) => return Step::Done(r),
            Phase::Start => self.start(signer).map(|()| Step::Working),
            Phase::Check => self.check_one(signer).map(|()| Step::Working),
            Phase::Commit => self.commit(signer).map(|()| Step::Working),
            Phase::Sign => self.sign_one(signer, out),
            Phase::Finish => {
                let r = self.receipt(signer, None);
                self.phase = Phase::Done(r);
                return Step::Done(r);
            }
        };
        match result {
            Ok(step) => step,
            Err(fail) => {
                log::warn!(
                    "batch server {} seq {}: refused, class {} code {} psbt {} rule {}",
                    self.server_id,
                    self.sequence,
                    fail.class as u8,
                    fail.code,
                    Maybe(fail.psbt),
                    Maybe(fail.rule)
                );
                let r = self.receipt(signer, Some(fail));
                self.phase = Phase::Done(r);
                Step::Done(r)
            }
        }
    }

    fn receipt<F: NorFlash, M: BorrowMut<Registries>>(
        &self,
        signer: &Signer<F, M>,
        fail: Option<Fail>,
    ) -> Receipt {
        let (class, code, psbt, rule, detail, results) = match fail {
            Some(f) => (f.class, f.code, f.psbt, f.rule, f.detail, sha3_256(&[])),
            None => (
                ErrorClass::None,
                0,
                None,
                None,
                Detail::None,
                self.results.clone().finalize().into(),
            ),
        };
        Receipt::sign(
            &Outcome {
                server_id: self.server_id,
                sequence: self.sequence,
                cert_digest: self.digest,
                count: self.count,
                class,
                code,
                psbt,
                rule,
                detail,
                results,
            },
            signer.keys.identity(),
        )
    }

    fn parts(&self) -> Result<(Certificate<'b>, &'b [u8]), Fail> {
        let (cert, part) =
            framing::split_certificate(self.batch).ok_or(Fail::cert(CertError::Malformed, None))?;
        let c = Certificate::parse(cert).map_err(|e| Fail::cert(e, None))?;
        Ok((c, part))
    }

    fn start<F: NorFlash, M: BorrowMut<Registries>>(
        &mut self,
        s: &mut Signer<F, M>,
    ) -> Result<(), Fail> {
        let (cert, part) = self.parts()?;
        self.server_id = cert.server_id;
        self.sequence = cert.sequence;
        self.digest = cert.digest();
        self.count = u16::try_from(cert.count()).unwrap_or(u16::MAX);
        if s.ledger_fault {
            return Err(Fail::of(ErrorClass::Internal, 1, None));
        }
        let state = s.ledger.server(cert.server_id);
        self.resubmission = state.is_some_and(|st| {
            st.last_sequence == Some(cert.sequence) && st.last_digest == self.digest
        });
        let last = if self.resubmission {
            None
        } else {
            state.and_then(|st| st.last_sequence)
        };
        self.now_ms = s.ledger.now(s.clock.monotone_ms(self.now));
        let (cert_bytes, _) =
            framing::split_certificate(self.batch).ok_or(Fail::cert(CertError::Malformed, None))?;
        verify_header(
            cert_bytes,
            |id| s.registry().server(id).map(|sv| sv.view(last)),
            s.clock.mission_ms(self.now),
        )
        .map_err(|e| Fail::cert(e, None))?;
        let n = framing::count(part).map_err(|_| Fail::of(ErrorClass::Framing, 1, None))?;
        if n != cert.count() {
            return Err(Fail::cert(CertError::CountMismatch, None));
        }
        self.windows = state.map(|st| st.windows.clone()).unwrap_or_default();
        self.offset = 0;
        self.index = 0;
        self.phase = Phase::Check;
        log::info!(
            "batch server {} seq {}: {} PSBTs{}",
            self.server_id,
            self.sequence,
            n,
            if self.resubmission {
                " (resubmission)"
            } else {
                ""
            }
        );
        Ok(())
    }

    /// The next PSBT's bytes, after checking its certified hash.
    fn next_psbt(&mut self) -> Result<(&'b [u8], usize), Fail> {
        let (cert, part) = self.parts()?;
        let at = Some(self.index);
        let (bytes, next) = framing::next_psbt(part, self.offset)
            .ok()
            .flatten()
            .ok_or(Fail::of(ErrorClass::Framing, 1, at))?;
        if cert.psbt_hash(usize::from(self.index)) != Some(&sha3_256(bytes)[..]) {
            return Err(Fail::cert(
                CertError::PsbtHashMismatch(usize::from(self.index)),
                at,
            ));
        }
        Ok((bytes, next))
    }

    fn check_one<F: NorFlash, M: BorrowMut<Registries>>(
        &mut self,
        s: &mut Signer<F, M>,
    ) -> Result<(), Fail> {
        let at = Some(self.index);
        let (bytes, next) = self.next_psbt()?;
        let (registry, parsed, keys) = s.batch_parts();
        let server = live_server(registry, self.server_id, at)?;
        self.check_psbt(
            bytes,
            Wallets {
                registry,
                server,
                parsed,
                keys,
            },
            at,
        )?;
        self.advance(next, Phase::Commit);
        Ok(())
    }

    /// Parses, checks and (unless a resubmission) applies the policy to one PSBT. Its own
    /// frame, and `match` rather than `map_err(..)?`, so the parsed PSBT (18 KB) is on the
    /// stack once, not once per `Result` it passes through at opt-level 0.
    fn check_psbt(
        &mut self,
        bytes: &[u8],
        mut w: Wallets<'_>,
        at: Option<u16>,
    ) -> Result<(), Fail> {
        let psbt = match Psbt::parse(bytes) {
            Ok(p) => p,
            Err(_) => return Err(Fail::of(ErrorClass::Psbt, 1, at)),
        };
        let server = w.server;
        let analysis = match w.check(&psbt) {
            Ok(a) => a,
            Err(r) => return Err(Fail::wallet(&r, at)),
        };
        if self.resubmission {
            return Ok(());
        }
        let facts = Facts::from_analysis(&analysis).ok_or(Fail::of(ErrorClass::Wallet, 17, at))?;
        let now = self.now_ms;
        let windows = &self.windows;
        let d = evaluate(&server.policy, &facts, |p| windows.used(p, now));
        log::info!(
            "policy server {} seq {} psbt {}: {} by rule {} (code {:#04x})",
            self.server_id,
            self.sequence,
            self.index,
            if d.allowed { "allowed" } else { "refused" },
            Maybe(d.rule),
            d.code()
        );
        if !d.allowed {
            return Err(Fail::policy(&d, at));
        }
        self.windows.add(&server.policy, now, facts.outflow);
        Ok(())
    }

    fn advance(&mut self, next: usize, then: Phase) {
        self.offset = next;
        self.index = self.index.saturating_add(1);
        if self.index >= self.count {
            self.phase = then;
            self.offset = 0;
            self.index = 0;
        }
    }

    fn commit<F: NorFlash, M: BorrowMut<Registries>>(
        &mut self,
        s: &mut Signer<F, M>,
    ) -> Result<(), Fail> {
        let state = s.ledger.server(self.server_id);
        if self.resubmission {
            let still = state.is_some_and(|st| {
                st.last_sequence == Some(self.sequence) && st.last_digest == self.digest
            });
            if !still {
                return Err(Fail::cert(CertError::ReplayedSequence, None));
            }
        } else {
            if state
                .and_then(|st| st.last_sequence)
                .is_some_and(|last| self.sequence <= last)
            {
                return Err(Fail::cert(CertError::ReplayedSequence, None));
            }
            let next = s
                .ledger
                .with(
                    ServerState {
                        id: self.server_id,
                        last_sequence: Some(self.sequence),
                        last_digest: self.digest,
                        windows: self.windows.clone(),
                    },
                    s.clock.record(self.now),
                )
                .map_err(|_| Fail::of(ErrorClass::Internal, 2, None))?;
            s.commit_ledger(next)
                .map_err(|_| Fail::of(ErrorClass::Internal, 1, None))?;
            log::info!(
                "batch server {} seq {}: committed",
                self.server_id,
                self.sequence
            );
        }
        self.phase = Phase::Sign;
        Ok(())
    }

    fn sign_one<F: NorFlash, M: BorrowMut<Registries>>(
        &mut self,
        s: &mut Signer<F, M>,
        out: &mut [u8],
    ) -> Result<Step, Fail> {
        let index = self.index;
        let at = Some(index);
        let (bytes, next) = self.next_psbt()?;
        let (registry, parsed, keys) = s.batch_parts();
        let server = live_server(registry, self.server_id, at)?;
        let wallets = Wallets {
            registry,
            server,
            parsed,
            keys,
        };
        let (len, signatures) = sign_psbt(bytes, wallets, out, at)?;
        let written = out.get(..len).unwrap_or(&[]);
        self.results
            .update(receipt::entry(index, signatures, written));
        self.advance(next, Phase::Finish);
        Ok(Step::Psbt {
            index,
            len,
            signatures,
        })
    }
}

/// Parses, re-checks and signs one PSBT into `out`: (length written, signatures added). Its own
/// frame with `match`es, like [`BatchJob::check_psbt`], so the PSBT is on the stack once.
fn sign_psbt(
    bytes: &[u8],
    w: Wallets<'_>,
    out: &mut [u8],
    at: Option<u16>,
) -> Result<(usize, u16), Fail> {
    let psbt = match Psbt::parse(bytes) {
        Ok(p) => p,
        Err(_) => return Err(Fail::of(ErrorClass::Psbt, 1, at)),
    };
    sign_parsed(&psbt, w, out, at)
}

/// The checks and signatures of [`sign_psbt`], in a frame of their own (the parser's frame and
/// this one are never on the stack together).
fn sign_parsed(
    psbt: &Psbt<'_>,
    mut w: Wallets<'_>,
    out: &mut [u8],
    at: Option<u16>,
) -> Result<(usize, u16), Fail> {
    let analysis = match w.check(psbt) {
        Ok(a) => a,
        Err(r) => return Err(Fail::wallet(&r, at)),
    };
    let Some(account) = w.parsed.account_key() else {
        return Err(Fail::of(ErrorClass::Internal, 1, at));
    };
    let sigs = match crate::signer::sign(psbt, &analysis, account) {
        Ok(sigs) => sigs,
        Err(r) => return Err(Fail::wallet(&r, at)),
    };
    match psbt.write(&sigs, out) {
        Ok(len) => Ok((len, u16::try_from(sigs.len()).unwrap_or(u16::MAX))),
        Err(_) => Err(Fail::of(ErrorClass::OutputTooSmall, 1, at)),
    }
}

/// What checking one PSBT of a server needs: the live registry, the server, the parsed-wallet
/// slot and the node's keys.
struct Wallets<'s> {
    registry: &'s Registry,
    server: &'s Server,
    parsed: &'s mut ParsedWallet,
    keys: &'s NodeKeys,
}

impl Wallets<'_> {
    /// [`check_for_server`]: the PSBT checked under the server's wallet it spends from.
    fn check<'a>(&mut self, psbt: &Psbt<'a>) -> Result<Analysis<'a>, Refusal> {
        check_for_server(self.registry, self.server, self.parsed, self.keys, psbt)
    }
}

fn live_server(registry: &Registry, id: u32, at: Option<u16>) -> Result<&Server, Fail> {
    // The registry may change between steps (an admin command): re-check every time.
    let server = registry
        .server(id)
        .ok_or(Fail::cert(CertError::UnknownServer, at))?;
    if server.revoked {
        return Err(Fail::cert(CertError::RevokedServer, at));
    }
    Ok(server)
}
