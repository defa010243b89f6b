//! Verification of a bundle header against what the node trusts and what it runs now: the root
//! chain (TUF's sequential rotation: root n+1 signed by a threshold of root n's and of its own
//! root keys, version exactly n+1), the manifest's release-key threshold, then board, hardware,
//! version and security-counter floors with bounded steps, slot size and expiry. Thresholds count
//! distinct keys (ids are derived from the key bytes). No allocation, no clock: expiry is in the
//! node's own monotonic counter.

use crate::error::{IdText, Rule, Signers, Tally, VerifyError};
use crate::header::{Header, Signed};
use crate::key::{self, KeyId};
use crate::limits::{MAX_COUNTER_STEP, MAX_MAJOR_STEP, MAX_SIGNATURES};
use crate::manifest::{Manifest, Version};
use crate::root::{Role, Root};
use sha2::{Digest, Sha256};

/// What the node trusts to start the root chain.
#[derive(Debug, Clone, Copy)]
pub enum Trust<'a> {
    /// The SHA-256 of root version 1's body (held in OTP by the boot stage): the header's chain
    /// must start at version 1 with exactly that body.
    Anchor(&'a [u8; 32]),
    /// The body of the newest root the node verified before ([`Verified::root`]`.body`, persisted
    /// by the agent). Header roots up to its version are skipped (one of the same version must be
    /// byte-identical); the rest must follow it one by one.
    Root(&'a [u8]),
}

/// The node's current value of a monotonic quantity and how a bundle's value must compare to it.
#[derive(Debug, Clone, Copy)]
pub struct Floor<T> {
    /// The node's current (or confirmed) value.
    pub current: T,
    /// Strictly greater (agent) or at least (boot stage).
    pub rule: Rule,
}

/// Everything a bundle is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    /// The root of trust.
    pub trust: Trust<'a>,
    /// This node's board id; must equal the manifest's.
    pub board: &'a [u8],
    /// This node's hardware id; must equal the manifest's.
    pub hardware: &'a [u8],
    /// The version floor. With [`Rule::Greater`] (an install) the major step is bounded by
    /// [`MAX_MAJOR_STEP`] and the counter step by [`MAX_COUNTER_STEP`]; with [`Rule::AtLeast`]
    /// (the boot stage) only the floors apply.
    pub version: Floor<Version>,
    /// The security-counter floor (its step is bounded when `version.rule` is an install's).
    pub security_counter: Floor<u32>,
    /// The largest image the node can hold (the slot size).
    pub max_image_len: u64,
    /// The node's monotonic counter, or `None` to skip the expiry check (the boot stage: an
    /// installed image keeps booting after its manifest expires).
    pub now: Option<u64>,
}

/// A verified bundle header: the manifest the node may act on and the root it was checked under.
#[derive(Debug, Clone, Copy)]
pub struct Verified<'a> {
    /// The verified manifest (chunk checks: [`Manifest::verify_chunk`], streaming:
    /// [`crate::ImageVerifier`]).
    pub manifest: Manifest<'a>,
    /// The newest root of the chain; persist `root.body` as the next [`Trust::Root`].
    pub root: Root<'a>,
    /// The header length: the image starts at this offset of the bundle.
    pub header_len: usize,
}

/// Verifies the header at the start of `bundle` (the image may follow; it is not read).
/// Signatures are checked before any manifest field is acted on. It is the three steps
/// [`root_chain`], [`release_signatures`] and [`check_manifest`] in order (tools that report
/// each check call them one by one).
pub fn verify<'a>(bundle: &'a [u8], policy: &Policy<'a>) -> Result<Verified<'a>, VerifyError> {
    let header = Header::parse(bundle)?;
    let root = root_chain(&header, policy.trust)?;
    let (manifest, _) = release_signatures(&header, &root)?;
    check_manifest(&manifest, policy)?;
    Ok(Verified {
        manifest,
        root,
        header_len: header.len,
    })
}

/// Step 2: the manifest is signed by the release threshold of `root` (the newest root of the
/// chain); returns it with the signature count.
pub fn release_signatures<'a>(
    header: &Header<'a>,
    root: &Root<'_>,
) -> Result<(Manifest<'a>, Tally), VerifyError> {
    let manifest = Manifest::parse(header.manifest.body)?;
    let tally = tally(&header.manifest, &root.release)?;
    if tally.valid < root.release.threshold as usize {
        let revoked = revoked_signer(&header.manifest, header.roots(), root);
        return Err(VerifyError::Threshold {
            signers: Signers::Release {
                root_version: root.version,
            },
            tally: Tally { revoked, ..tally },
        });
    }
    Ok((manifest, tally))
}

/// Step 1: walks the header's root chain from the trust and returns the newest root.
pub fn root_chain<'a>(header: &Header<'a>, trust: Trust<'a>) -> Result<Root<'a>, VerifyError> {
    let roots = header.roots();
    let (mut current, rest) = match trust {
        Trust::Anchor(hash) => {
            let first = &roots[0];
            if Sha256::digest(first.body)[..] != hash[..] {
                return Err(VerifyError::AnchorMismatch);
            }
            let root = Root::parse(first.body)?;
            if root.version != 1 {
                return Err(VerifyError::RootVersion {
                    previous: 0,
                    found: root.version,
                });
            }
            require(first, &root.root, Signers::OwnRoot { version: 1 })?;
            (root, &roots[1..])
        }
        Trust::Root(body) => {
            let trusted = Root::parse(body)?;
            let mut skip = 0;
            for s in roots {
                let r = Root::parse(s.body)?;
                if r.version > trusted.version {
                    break;
                }
                if r.version == trusted.version && s.body != body {
                    return Err(VerifyError::RootConflict { version: r.version });
                }
                skip += 1;
            }
            (trusted, &roots[skip..])
        }
    };
    for next in rest {
        let root = Root::parse(next.body)?;
        if root.version != current.version.wrapping_add(1) {
            return Err(VerifyError::RootVersion {
                previous: current.version,
                found: root.version,
            });
        }
        require(
            next,
            &current.root,
            Signers::PreviousRoot {
                version: root.version,
            },
        )?;
        require(
            next,
            &root.root,
            Signers::OwnRoot {
                version: root.version,
            },
        )?;
        current = root;
    }
    Ok(current)
}

/// Fails with a threshold error unless `role`'s threshold of distinct keys signed `block`.
fn require(block: &Signed<'_>, role: &Role<'_>, signers: Signers) -> Result<(), VerifyError> {
    let tally = tally(block, role)?;
    if tally.valid < role.threshold as usize {
        return Err(VerifyError::Threshold { signers, tally });
    }
    Ok(())
}

/// Counts the distinct keys of `role` whose signature over `block` verifies. Signatures by keys
/// the role does not list, and invalid ones, are counted apart and never fail the block on their
/// own (TUF); a signature claiming another algorithm than its key's is an error.
pub fn tally(block: &Signed<'_>, role: &Role<'_>) -> Result<Tally, VerifyError> {
    let mut seen = [KeyId([0; 32]); MAX_SIGNATURES];
    let mut t = Tally {
        valid: 0,
        threshold: role.threshold,
        invalid: 0,
        unknown: 0,
        revoked: None,
    };
    for sig in block.signatures() {
        let Some(k) = role.key(&sig.key) else {
            t.unknown += 1;
            continue;
        };
        if k.alg != sig.alg {
            return Err(VerifyError::AlgorithmMismatch {
                key: k.id,
                key_alg: k.alg,
                sig_alg: sig.alg,
            });
        }
        if !key::verify(
            k.alg,
            k.bytes,
            &key::signed_message(k.alg, block.body),
            sig.bytes,
        ) {
            t.invalid += 1;
        } else if !seen[..t.valid].contains(&k.id) {
            seen[t.valid] = k.id;
            t.valid += 1;
        }
    }
    Ok(t)
}

/// A manifest signer that an earlier root of the chain listed as a release key and a later root
/// dropped: (its id, the first root version without it).
fn revoked_signer(
    manifest: &Signed<'_>,
    roots: &[Signed<'_>],
    current: &Root<'_>,
) -> Option<(KeyId, u32)> {
    for sig in manifest.signatures() {
        if current.release.key(&sig.key).is_some() {
            continue;
        }
        let mut listed = false;
        for r in roots.iter().filter_map(|s| Root::parse(s.body).ok()) {
            match (listed, r.release.key(&sig.key).is_some()) {
                (false, true) => listed = true,
                (true, false) => return Some((sig.key, r.version)),
                _ => {}
            }
        }
        if listed {
            return Some((sig.key, current.version));
        }
    }
    None
}

/// Step 3: the manifest's fields against the node (board, hardware, version and counter floors
/// and steps, slot size, expiry). Call only on a manifest whose signatures verified.
pub fn check_manifest(m: &Manifest<'_>, p: &Policy<'_>) -> Result<(), VerifyError> {
    if m.board != p.board {
        return Err(VerifyError::Board {
            expected: IdText::new(p.board),
            found: IdText::new(m.board),
        });
    }
    if m.hardware != p.hardware {
        return Err(VerifyError::Hardware {
            expected: IdText::new(p.hardware),
            found: IdText::new(m.hardware),
        });
    }
    let v = p.version;
    if !passes(m.version, v.current, v.rule) {
        return Err(VerifyError::Version {
            found: m.version,
            current: v.current,
            rule: v.rule,
        });
    }
    // The step bounds are an install-time rule, and a check is an install when its version rule
    // is `Greater` (the agent: only a newer version), whatever the counter's rule (a release may
    // keep the counter). The boot stage (`AtLeast`) keeps no confirmed version, and the agent
    // bounded both steps when it installed the image, so at boot only the floors apply.
    let install = v.rule == Rule::Greater;
    if install && m.version.major > v.current.major.saturating_add(MAX_MAJOR_STEP) {
        return Err(VerifyError::VersionJump {
            found: m.version,
            current: v.current,
            max: MAX_MAJOR_STEP,
        });
    }
    let c = p.security_counter;
    if !passes(m.security_counter, c.current, c.rule) {
        return Err(VerifyError::Counter {
            found: m.security_counter,
            current: c.current,
            rule: c.rule,
        });
    }
    if install && m.security_counter > c.current.saturating_add(MAX_COUNTER_STEP) {
        return Err(VerifyError::CounterJump {
            found: m.security_counter,
            current: c.current,
            max: MAX_COUNTER_STEP,
        });
    }
    if m.image_len > p.max_image_len {
        return Err(VerifyError::ImageTooLarge {
            len: m.image_len,
            max: p.max_image_len,
        });
    }
    if let Some(now) = p.now
        && now >= m.expires
    {
        return Err(VerifyError::Expired {
            expires: m.expires,
            now,
        });
    }
    Ok(())
}

fn passes<T: Ord>(found: T, current: T, rule: Rule) -> bool {
    match rule {
        Rule::Greater => found > current,
        Rule::AtLeast => found >= current,
    }
}
