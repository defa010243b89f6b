//! Root metadata: the root role (keys and threshold that sign the next root) and the release role
//! (keys and threshold that sign manifests). A new root version replaces both sets, which is how
//! release keys are revoked. Parsed in place from the signed body; no allocation.

use crate::error::FormatError;
use crate::key::{KeyId, PublicKey};
use crate::limits::MAX_KEYS_PER_ROLE;
use crate::wire::Reader;

/// The role tag that starts a root body.
pub const ROOT_TAG: u8 = 1;

/// A role: its keys and how many distinct ones must sign.
#[derive(Debug, Clone, Copy)]
pub struct Role<'a> {
    keys: [Option<PublicKey<'a>>; MAX_KEYS_PER_ROLE],
    count: usize,
    /// Distinct keys that must sign.
    pub threshold: u8,
}

impl<'a> Role<'a> {
    fn read(r: &mut Reader<'a>, role: &'static str) -> Result<Self, FormatError> {
        let threshold = r.u8("threshold")?;
        let count = r.u8("key count")? as usize;
        if count > MAX_KEYS_PER_ROLE {
            return Err(FormatError::TooMany {
                what: "keys in one role",
                count,
                max: MAX_KEYS_PER_ROLE,
            });
        }
        let mut keys = [None; MAX_KEYS_PER_ROLE];
        for slot in keys.iter_mut().take(count) {
            *slot = Some(PublicKey::read(r)?);
        }
        let role_keys = Role {
            keys,
            count,
            threshold,
        };
        let distinct = role_keys.distinct();
        if threshold == 0 || threshold as usize > distinct {
            return Err(FormatError::Threshold {
                role,
                threshold,
                keys: distinct,
            });
        }
        Ok(role_keys)
    }

    /// The listed keys, in order (a key listed twice appears twice here, yet counts once).
    pub fn keys(&self) -> impl Iterator<Item = &PublicKey<'a>> {
        self.keys[..self.count].iter().flatten()
    }

    /// The listed key with id `id`.
    pub fn key(&self, id: &KeyId) -> Option<&PublicKey<'a>> {
        self.keys().find(|k| k.id == *id)
    }

    /// The number of distinct keys.
    pub fn distinct(&self) -> usize {
        self.keys()
            .enumerate()
            .filter(|(i, k)| !self.keys().take(*i).any(|e| e.id == k.id))
            .count()
    }
}

/// One root version.
#[derive(Debug, Clone, Copy)]
pub struct Root<'a> {
    /// The root version (1, 2, ... without gaps).
    pub version: u32,
    /// The keys that sign the next root version (and this one).
    pub root: Role<'a>,
    /// The keys that sign manifests while this root is current.
    pub release: Role<'a>,
    /// The signed body this was parsed from (what the node persists as its trusted root).
    pub body: &'a [u8],
}

impl<'a> Root<'a> {
    /// Parses a root body (`tag, version, root role, release role`), refusing trailing bytes.
    pub fn parse(body: &'a [u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(body);
        let tag = r.u8("root role tag")?;
        if tag != ROOT_TAG {
            return Err(FormatError::WrongRole {
                expected: "root",
                found: tag,
            });
        }
        let version = r.u32("root version")?;
        let root = Role::read(&mut r, "root")?;
        let release = Role::read(&mut r, "release")?;
        r.finish("root metadata")?;
        Ok(Root {
            version,
            root,
            release,
            body,
        })
    }
}
