//! `spacenode ground admin recover-link`: the M-of-N recovery of a comms partition whose SDLS
//! anti-replay state was lost (comms' recovery-only mode, `comms::node` recovery).
//!
//! 1. talks to the node through a ground end of its own, at key epoch 0 and floor 0 (kept in
//!    `STATE/recover-link/`, removed afterwards): in recovery-only mode comms authenticates every
//!    unit by its MAC under epoch 0 with no anti-replay floor, and its downlink restarts at
//!    ARSN 1, which the ground's usual window would refuse;
//! 2. reads the link-recovery challenge (8,1 function 0x0008; the signer draws it and changes it
//!    after every recovery it verified);
//! 3. picks, for every association, floors above this ground's own records
//!    (`STATE/sdls-state.bin`): uplink floor = the last uplink ARSN it used + `--margin`,
//!    downlink reservation = the last downlink ARSN it accepted + `--margin`, and the key epoch
//!    it holds; `--uplink-floor N` raises every uplink floor to at least N (another ground
//!    station commanded the node above ours);
//! 4. sends `recover-link challenge=.. sa=SPI:EPOCH:UPLINK:DOWNLINK ...` as an admin envelope
//!    signed by the admin keys ([`super::apply`]); comms has the signer verify it and writes its
//!    new state only on the signer's OK;
//! 5. on success moves this ground's own record above the floors, so the next command is
//!    accepted at once.
//!
//! **Key recovery** (`--new-keys NEW --recovery-key FILE.recovery`): when comms' sealed SDLS
//! keys are lost it runs on the recovery association alone (SPI 0xFFFE, the link recovery key
//! burnt into the board at provisioning, `comms::sdls::key_recovery`). The scratch end then
//! talks under that key, the floors are for the associations of NEW (a provisioning file made
//! with `spacenode provision-link --generate`), and the body carries NEW wrapped under the
//! recovery key and the challenge (`keys=`). On success comms runs on NEW, sealed on its flash,
//! and this ground must use `--provisioning NEW` from then on. The recovery key stays the one
//! burnt into the board (NEW's own `.recovery` file is not used).
//!
//! A captured recovery answers a used challenge and is refused (`LinkRecoveryWrongChallenge`);
//! an under-signed one as any admin command is (`AdminNotEnoughSignatures`).
//!
//! Avoids: touching the ground's own record before the node said the recovery was applied.

use super::{Signing, apply};
use crate::failure::Failure;
use crate::ground::session::STATE_FILE;
use clap::Args;
use comms::admin::{FN_LINK_RECOVERY_CHALLENGE, ResponseReport};
use comms::sdls::Provisioning;
use comms::sdls::SaState;
use comms::sdls::key_recovery::{self, MAX_WRAPPED_LEN, RECOVERY_FILE_LEN, RECOVERY_SPI};
use comms::sdls::state::{self, MAX_STATE_LEN};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The ground's own scratch directory under its state directory.
const SCRATCH: &str = "recover-link";

#[derive(Args)]
pub struct RecoverLinkArgs {
    #[command(flatten)]
    signing: Signing,
    /// How far above this ground's own records the new floors go
    #[arg(long, value_name = "N", default_value_t = 4096)]
    margin: u64,
    /// Every association's uplink floor at least this (the highest uplink ARSN any other
    /// ground station used)
    #[arg(long, value_name = "N", default_value_t = 0)]
    uplink_floor: u64,
    /// Key recovery (comms' sealed keys are lost): install this new provisioning file (from
    /// `provision-link --generate`), wrapped under --recovery-key
    #[arg(long, value_name = "NEW", requires = "recovery_key")]
    new_keys: Option<PathBuf>,
    /// With --new-keys: the link recovery key burnt into the board at provisioning
    /// (`FILE.recovery` beside the first provisioning file)
    #[arg(long, value_name = "FILE", requires = "new_keys")]
    recovery_key: Option<PathBuf>,
}

/// What a key recovery sends: the new file and the recovery key.
struct NewKeys {
    path: PathBuf,
    file: Zeroizing<Vec<u8>>,
    spis: Vec<u16>,
    key: Zeroizing<[u8; 32]>,
    key_path: PathBuf,
}

impl NewKeys {
    fn read(new: &Path, key: &Path) -> Result<Self, Failure> {
        let file = Zeroizing::new(
            std::fs::read(new)
                .map_err(|e| Failure::Usage(format!("--new-keys {}: {e}", new.display())))?,
        );
        let p = Provisioning::parse(&file).map_err(|e| {
            Failure::Rejected(format!(
                "--new-keys {}: not an SDLS provisioning file comms accepts: {e}\n",
                new.display()
            ))
        })?;
        let spis: Vec<u16> = p.associations().map(|sa| sa.spi).collect();
        if spis.contains(&RECOVERY_SPI) {
            return Err(Failure::Rejected(format!(
                "--new-keys {}: SPI {RECOVERY_SPI:#06x} is kept for the recovery association\n",
                new.display()
            )));
        }
        let key_bytes =
            crate::ground::keyfile::read_raw32(key).map_err(|e| Failure::Usage(e.to_string()))?;
        Ok(NewKeys {
            path: new.to_path_buf(),
            file,
            spis,
            key: key_bytes,
            key_path: key.to_path_buf(),
        })
    }

    /// The scratch end's provisioning: the recovery association, in `scratch`.
    fn scratch_provisioning(&self, scratch: &Path) -> Result<PathBuf, Failure> {
        let mut buf = Zeroizing::new([0u8; RECOVERY_FILE_LEN]);
        let n = key_recovery::recovery_file(&self.key, buf.as_mut_slice())
            .map_err(|e| Failure::Usage(format!("the recovery association: {e}")))?;
        std::fs::create_dir_all(scratch)
            .map_err(|e| Failure::Usage(format!("{}: {e}", scratch.display())))?;
        let path = scratch.join("recovery-association.bin");
        crate::provision::link::write_new_file(&path, buf.get(..n).unwrap_or(&[]))?;
        Ok(path)
    }

    /// ` keys=<hex>`: the new file wrapped for `challenge` under a fresh IV.
    fn field(&self, challenge: &[u8; 16]) -> Result<String, Failure> {
        let mut iv = [0u8; key_recovery::IV_LEN];
        getrandom::fill(&mut iv)
            .map_err(|e| Failure::Usage(format!("the operating system's RNG failed: {e}")))?;
        let mut out = [0u8; MAX_WRAPPED_LEN];
        let n = key_recovery::wrap(&self.key, challenge, &iv, &self.file, &mut out)
            .map_err(|e| Failure::Rejected(format!("--new-keys {}: {e}\n", self.path.display())))?;
        Ok(format!(" keys={}", super::hex(out.get(..n).unwrap_or(&[]))))
    }
}

/// This ground's saved association states (none on first use).
fn own_states(state: &Path) -> Result<Vec<SaState>, Failure> {
    let path = state.join(STATE_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => state::decode(&bytes)
            .map(|e| e.iter().copied().collect())
            .map_err(|e| Failure::Usage(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Failure::Usage(format!("{}: {e}", path.display()))),
    }
}

fn write_states(dir: &Path, states: &[SaState]) -> Result<(), Failure> {
    let mut buf = [0u8; MAX_STATE_LEN];
    let n = state::encode(states, &mut buf);
    let path = dir.join(STATE_FILE);
    let tmp = dir.join(format!("{STATE_FILE}.tmp"));
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&tmp, &buf[..n]))
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))
}

/// The new state of each association (`spis`) from this ground's records.
fn floors(spis: &[u16], own: &[SaState], a: &RecoverLinkArgs) -> Result<Vec<SaState>, Failure> {
    spis.iter()
        .map(|&spi| {
            let o = own
                .iter()
                .find(|s| s.spi == spi)
                .copied()
                .unwrap_or_default();
            let up = o.tx_reserved.checked_add(a.margin);
            let down = o.rx_reserved.checked_add(a.margin);
            match (up, down) {
                (Some(up), Some(down)) => Ok(SaState {
                    spi,
                    epoch: o.epoch,
                    rx_reserved: up.max(a.uplink_floor),
                    tx_reserved: down,
                }),
                _ => Err(Failure::Usage(format!(
                    "--margin {}: the floors of SA {spi} would overflow",
                    a.margin
                ))),
            }
        })
        .collect()
}

pub fn run(a: RecoverLinkArgs) -> Result<(), Failure> {
    let identity = super::read_identity(a.signing.identity())?;
    let keys = a.signing.admins.resolve()?;
    let signers: Vec<(u8, &p256::SecretKey)> = keys.iter().map(|(i, k)| (*i, k)).collect();
    let new_keys = match (&a.new_keys, &a.recovery_key) {
        (Some(n), Some(k)) => Some(NewKeys::read(n, k)?),
        _ => None,
    };
    let mut link = a.signing.link.resolve()?;
    let state = link.state.clone();
    let own = own_states(&state)?;
    // The scratch ground: epoch 0, floors 0, its uplink ARSNs (and so its request IDs) starting
    // at a number of this run, so the node never takes a command of an earlier attempt for a
    // retransmission.
    let scratch = state.join(SCRATCH);
    let _ = std::fs::remove_dir_all(&scratch);
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64 & 0x3FFF_FFFF);
    link.state = scratch.clone();
    let result = (|| {
        if let Some(k) = &new_keys {
            link.provisioning = Some(k.scratch_provisioning(&scratch)?);
            link.spi = RECOVERY_SPI;
        }
        let session_spis: Vec<u16> = {
            let s = a.signing.link.connect(&link)?;
            s.security().statuses().map(|x| x.spi).collect()
        };
        let spis = new_keys
            .as_ref()
            .map_or_else(|| session_spis.clone(), |k| k.spis.clone());
        let blank: Vec<SaState> = session_spis
            .iter()
            .map(|&spi| SaState {
                spi,
                epoch: 0,
                rx_reserved: 0,
                tx_reserved: start,
            })
            .collect();
        write_states(&scratch, &blank)?;
        let mut s = a.signing.link.connect(&link)?;
        let app = FN_LINK_RECOVERY_CHALLENGE.to_be_bytes();
        let c = match super::ask(
            &mut s,
            &app,
            a.signing.link.attempts,
            "link-recovery challenge",
        ) {
            Ok(ResponseReport::Challenge(c)) => c,
            Ok(_) => {
                return Err(Failure::Rejected(
                    "the node answered the link-recovery challenge with another kind of report\n"
                        .into(),
                ));
            }
            // A node whose SDLS state is in order refuses this tool's epoch-0, floor-0 units
            // (silently, or with a sequence event): say so next to the session's own words.
            Err(Failure::Usage(e)) => {
                return Err(Failure::Usage(match &new_keys {
                    Some(k) => format!(
                        "{e}\n(a key recovery talks under the link recovery key {} on SPI {RECOVERY_SPI:#06x}, which only a comms whose sealed keys are lost takes: either that file is not the key burnt into this board, or comms' keys are not lost and `spacenode ground status` answers)",
                        k.key_path.display()
                    ),
                    None => format!(
                        "{e}\n(recover-link talks at key epoch 0 and floor 0, which only a comms in recovery-only mode takes: if `spacenode ground status` answers, comms' SDLS state is in order and there is nothing to recover)"
                    ),
                }));
            }
            Err(e) => return Err(e),
        };
        println!(
            "comms' SDLS {} lost; link-recovery challenge {}",
            if new_keys.is_some() {
                "keys are"
            } else {
                "state is"
            },
            super::hex(&c)
        );
        let new = floors(&spis, &own, &a)?;
        let keys = match &new_keys {
            Some(k) => k.field(&c)?,
            None => String::new(),
        };
        let body = format!(
            "recover-link challenge={}{}{keys}",
            super::hex(&c),
            new.iter()
                .map(|f| format!(
                    " sa={}:{}:{}:{}",
                    f.spi, f.epoch, f.rx_reserved, f.tx_reserved
                ))
                .collect::<String>()
        );
        apply(
            &mut s,
            &state,
            &identity,
            &signers,
            &body,
            a.signing.admins.counter,
            &mut |l| println!("{l}"),
        )?;
        Ok(new)
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    let new = result?;
    // This ground continues above the floors it set.
    let mut mine = own.clone();
    for f in &new {
        match mine.iter_mut().find(|m| m.spi == f.spi) {
            Some(m) => {
                m.tx_reserved = m.tx_reserved.max(f.rx_reserved);
                m.rx_reserved = m.rx_reserved.max(f.tx_reserved);
            }
            None => mine.push(SaState {
                spi: f.spi,
                epoch: f.epoch,
                rx_reserved: f.tx_reserved,
                tx_reserved: f.rx_reserved,
            }),
        }
    }
    write_states(&state, &mine)?;
    for f in &new {
        println!(
            "link recovered: SA {}: uplink floor {} (this ground continues above it), next downlink {}",
            f.spi,
            f.rx_reserved,
            f.tx_reserved.saturating_add(1)
        );
    }
    if let Some(k) = &new_keys {
        println!(
            "keys recovered: comms runs on the keys of {} (sealed on its flash); use `--provisioning {}` from now on (the link recovery key stays {})",
            k.path.display(),
            k.path.display(),
            k.key_path.display()
        );
    }
    Ok(())
}
