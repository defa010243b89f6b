//! Shared fixture for the node-level tests: a signer booted on the sim board's NOR flash (memfd),
//! a ground side (two cosigners plus the node, 2-of-3 `wsh(sortedmulti)` or `sh(wsh(...))`)
//! built from the node's *exported* xpub, PSBTs built with rust-bitcoin transactions, batches
//! signed with `cert::build`, and an independent check of the node's signatures with
//! rust-bitcoin's BIP-143 sighash and libsecp256k1.
#![allow(dead_code)]

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{Message, PublicKey as SecpPk, Secp256k1, ecdsa::Signature as SecpSig};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness};
use board_sim::flash::SimFlash;
use hal::time::Instant;
use signer::batch::Step;
use signer::batch::receipt::Receipt;
use signer::bip32::{HARDENED, Xpriv, Xpub};
use signer::descriptor::{ScriptType, checksum};
use signer::keys::SealKey;
use signer::node::Signer;
use signer::persist::SignerLayout;
use signer::wallet::{AccountKey, Network, Wallet};
use std::fs::File;
use std::os::unix::fs::FileExt;

pub type Flash = SimFlash;
pub const CAPACITY: usize = 128 * 1024;
pub const LAYOUT: SignerLayout = SignerLayout::contiguous(0);

pub fn seal() -> SealKey {
    SealKey::new([0x5e; 32])
}

/// A deterministic "board RNG" (xorshift): reproducible seeds for tests.
pub struct TestRng(pub u64);
impl hal::rng::TryRng for TestRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Ok(self.0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for b in dst {
            *b = self.try_next_u64()? as u8;
        }
        Ok(())
    }
}
impl hal::rng::TryCryptoRng for TestRng {}

/// A fresh erased flash and a second handle on its medium.
pub fn new_flash() -> (Flash, File) {
    let f = Flash::anonymous(CAPACITY).expect("memfd flash");
    let h = f.try_clone_file().expect("clone");
    (f, h)
}

/// A flash holding a copy of `image`.
pub fn flash_from(image: &[u8]) -> (Flash, File) {
    let (f, h) = new_flash();
    h.write_all_at(image, 0).expect("copy image");
    (f, h)
}

/// The whole medium.
pub fn image(h: &File) -> Vec<u8> {
    let mut v = vec![0u8; CAPACITY];
    h.read_exact_at(&mut v, 0).expect("read image");
    v
}

/// Boots (panics on error: tests that expect errors call `Signer::boot` themselves).
pub fn boot(flash: Flash) -> Signer<Flash> {
    Signer::boot(flash, LAYOUT, &seal(), &mut TestRng(0x1234_5678_9abc_def0))
        .expect("boot")
        .0
}

/// Reboot: a new flash handle on the same medium (as after a power cycle).
pub fn reboot(handle: &File) -> Signer<Flash> {
    let f = Flash::from_file(handle.try_clone().expect("clone")).expect("reopen");
    boot(f)
}

pub fn p256_key(b: u8) -> p256::SecretKey {
    p256::SecretKey::from_slice(&[b; 32]).expect("p256 key")
}

pub fn p256_pub(k: &p256::SecretKey) -> [u8; 33] {
    signer::p256sig::compress(&k.public_key())
}

pub fn hex(b: &[u8]) -> String {
    hex_conservative::DisplayHex::to_lower_hex_string(b)
}

/// One cosigner as the ground sees it.
#[derive(Clone)]
pub struct Cosigner {
    pub fingerprint: [u8; 4],
    pub path: Vec<u32>,
    pub xpub: Xpub,
}

impl Cosigner {
    pub fn key_text(&self) -> String {
        let path: String = self
            .path
            .iter()
            .map(|c| format!("/{}h", c & !HARDENED))
            .collect();
        format!(
            "[{}{path}]{}/<0;1>/*",
            hex(&self.fingerprint),
            self.xpub.encode().expect("encode").as_str()
        )
    }
    pub fn pubkey(&self, branch: u32, index: u32) -> [u8; 33] {
        self.xpub
            .derive_child(branch)
            .and_then(|x| x.derive_child(index))
            .expect("derive")
            .public_key_bytes()
    }
    pub fn derivation(&self, branch: u32, index: u32) -> Vec<u8> {
        let mut v = self.fingerprint.to_vec();
        for c in self.path.iter().chain([branch, index].iter()) {
            v.extend_from_slice(&c.to_le_bytes());
        }
        v
    }
}

/// The ground side of one server: its wallet (node + two ground keys), its certificate key.
pub struct Ground {
    pub server_id: u32,
    pub network: Network,
    pub st: ScriptType,
    pub account: u32,
    pub cosigners: Vec<Cosigner>,
    pub node_index: usize,
    pub descriptor: String,
    pub wallet: Wallet,
    pub cert_key: p256::SecretKey,
}

fn ground_party(seed: u8, network: Network, st: ScriptType) -> (Cosigner, AccountKey) {
    let master = Xpriv::new_master(&[seed; 32], network.key_network()).expect("master");
    let acct = AccountKey::derive(&master, network, st, 0).expect("account");
    (
        Cosigner {
            fingerprint: master.fingerprint(),
            path: acct.path().as_slice().to_vec(),
            xpub: acct.xpub(),
        },
        acct,
    )
}

/// The node's cosigner entry, from its signed export (checked).
pub fn node_cosigner(
    s: &Signer<Flash>,
    network: Network,
    st: ScriptType,
    account: u32,
) -> Cosigner {
    let e = s.export_account_xpub(network, st, account).expect("export");
    assert!(e.verify(&s.identity_public_key()), "export signature");
    let text = signer::base58::encode_check(e.xpub_bytes()).expect("b58");
    let xpub = Xpub::decode(text.as_str()).expect("xpub");
    let fp: [u8; 4] = e.as_bytes()[23..27].try_into().expect("fp");
    let coin = network.coin_type();
    let script = if st == ScriptType::Wsh { 2 } else { 1 };
    Cosigner {
        fingerprint: fp,
        path: vec![
            48 | HARDENED,
            coin | HARDENED,
            account | HARDENED,
            script | HARDENED,
        ],
        xpub,
    }
}

impl Ground {
    pub fn new(
        s: &Signer<Flash>,
        server_id: u32,
        network: Network,
        st: ScriptType,
        account: u32,
        cert_seed: u8,
    ) -> Self {
        let node = node_cosigner(s, network, st, account);
        let (a, a_key) = ground_party(cert_seed.wrapping_add(100), network, st);
        let (b, _) = ground_party(cert_seed.wrapping_add(150), network, st);
        let cosigners = vec![node, a, b];
        let keys: Vec<String> = cosigners.iter().map(Cosigner::key_text).collect();
        let body = match st {
            ScriptType::Wsh => format!("wsh(sortedmulti(2,{}))", keys.join(",")),
            ScriptType::ShWsh => format!("sh(wsh(sortedmulti(2,{})))", keys.join(",")),
        };
        let sum = checksum(&body).expect("checksum");
        let descriptor = format!("{body}#{}", std::str::from_utf8(&sum).expect("ascii"));
        let wallet = Wallet::register(&descriptor, network, &a_key).expect("ground registers");
        Ground {
            server_id,
            network,
            st,
            account,
            cosigners,
            node_index: 0,
            descriptor,
            wallet,
            cert_key: p256_key(cert_seed),
        }
    }

    /// The `server` line (without rules).
    pub fn server_line(&self) -> String {
        let net = match self.network {
            Network::Mainnet => "mainnet",
            Network::Testnet => "testnet",
            Network::Regtest => "regtest",
        };
        format!(
            "server id={} key={} network={net} account={} descriptor={}",
            self.server_id,
            hex(&p256_pub(&self.cert_key)),
            self.account,
            self.descriptor
        )
    }

    /// The node's public key at `branch/index`.
    pub fn node_pubkey(&self, branch: u32, index: u32) -> [u8; 33] {
        self.cosigners[self.node_index].pubkey(branch, index)
    }

    pub fn spk(&self, branch: u32, index: u32) -> Vec<u8> {
        self.wallet
            .script_pubkey(branch, index)
            .expect("spk")
            .to_vec()
    }
}

/// The admin key a provisioning without admins gets (1-of-1), to correlate the mission clock.
pub fn clock_admin() -> p256::SecretKey {
    p256_key(0xC1)
}

/// Board instant `ms` milliseconds after power-on.
pub fn at_ms(ms: u64) -> Instant {
    Instant::from_micros(ms * 1000)
}

/// A signed time-correlation admin command (`time MS`).
pub fn time_command(
    s: &Signer<Flash>,
    counter: u64,
    mission_ms: u64,
    signers: &[(u8, &p256::SecretKey)],
) -> Vec<u8> {
    let mut env = vec![0u8; signer::admin::MAX_ENVELOPE];
    let n = signer::admin::build(
        &mut env,
        &s.identity_public_key(),
        counter,
        &format!("time {mission_ms}"),
        signers,
    )
    .expect("envelope");
    env.truncate(n);
    env
}

/// Correlates the mission clock of a node provisioned without admins ([`clock_admin`]) to
/// `mission_ms` at board instant `now`.
pub fn correlate(
    s: &mut Signer<Flash>,
    mission_ms: u64,
    now: Instant,
) -> Result<signer::registry::Command, signer::admin::AdminError> {
    let counter = s.registry().admin_counter() + 1;
    let cmd = time_command(s, counter, mission_ms, &[(0, &clock_admin())]);
    s.admin_at(&cmd, now)
}

/// A provisioning file: admins, threshold, servers each followed by its rule lines. Without
/// admins, [`clock_admin`] is the only one (1-of-1). Servers may send certificates without
/// expiry (`no-expiry`).
pub fn provisioning(
    admins: &[p256::SecretKey],
    threshold: u8,
    servers: &[(&Ground, &str)],
) -> String {
    let clock = [clock_admin()];
    let (admins, threshold) = if admins.is_empty() {
        (&clock[..], 1)
    } else {
        (admins, threshold)
    };
    let mut t = String::from("# test provisioning\nspacenode-signer-registry 1\n");
    if !admins.is_empty() {
        t += &format!("admin-threshold {threshold}\n");
    }
    for a in admins {
        t += &format!("admin {}\n", hex(&p256_pub(a)));
    }
    for (g, rules) in servers {
        t += &g.server_line();
        t += " no-expiry\n";
        for r in rules.lines().filter(|l| !l.trim().is_empty()) {
            t += r.trim();
            t += "\n";
        }
    }
    t
}

#[derive(Default)]
struct Map(Vec<u8>);
impl Map {
    fn pair(&mut self, key: &[u8], value: &[u8]) {
        for part in [key, value] {
            let len = part.len();
            if len < 0xfd {
                self.0.push(len as u8);
            } else {
                self.0.push(0xfd);
                self.0.extend_from_slice(&(len as u16).to_le_bytes());
            }
            self.0.extend_from_slice(part);
        }
    }
}

/// What a test PSBT spends and pays.
pub struct Spend {
    /// (receive index, amount) per input.
    pub inputs: Vec<(u32, u64)>,
    /// (scriptPubKey, amount) payments.
    pub pays: Vec<(Vec<u8>, u64)>,
    /// (change index, amount).
    pub change: Option<(u32, u64)>,
    /// Makes the previous transactions unique.
    pub salt: u32,
}

impl Spend {
    /// One input of `amount` at index `salt % 50`, one payment, change of the rest minus `fee`.
    pub fn simple(amount_in: u64, pay: u64, fee: u64, salt: u32) -> Self {
        Spend {
            inputs: vec![(salt % 50, amount_in)],
            pays: vec![(pay_spk(1), pay)],
            change: (amount_in > pay + fee).then(|| (salt % 7, amount_in - pay - fee)),
            salt,
        }
    }
}

/// A P2WPKH scriptPubKey that belongs to nobody here.
pub fn pay_spk(tag: u8) -> Vec<u8> {
    let mut v = vec![0x00, 0x14];
    v.extend_from_slice(&[tag; 20]);
    v
}

/// Builds a v0 PSBT for `spend` from `g`'s wallet, with derivations for all cosigners.
pub fn psbt(g: &Ground, spend: &Spend) -> Vec<u8> {
    let mut prevs = Vec::new();
    for (n, &(idx, amount)) in spend.inputs.iter().enumerate() {
        let prev = Transaction {
            version: bitcoin::transaction::Version(2),
            lock_time: bitcoin::absolute::LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::null(),
                script_sig: ScriptBuf::from_bytes(
                    [spend.salt.to_le_bytes(), (n as u32).to_le_bytes()].concat(),
                ),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: vec![TxOut {
                value: Amount::from_sat(amount),
                script_pubkey: ScriptBuf::from_bytes(g.spk(0, idx)),
            }],
        };
        prevs.push(prev);
    }
    let mut outputs: Vec<TxOut> = spend
        .pays
        .iter()
        .map(|(spk, a)| TxOut {
            value: Amount::from_sat(*a),
            script_pubkey: ScriptBuf::from_bytes(spk.clone()),
        })
        .collect();
    if let Some((ci, ca)) = spend.change {
        outputs.push(TxOut {
            value: Amount::from_sat(ca),
            script_pubkey: ScriptBuf::from_bytes(g.spk(1, ci)),
        });
    }
    let tx = Transaction {
        version: bitcoin::transaction::Version(2),
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: prevs
            .iter()
            .map(|p| TxIn {
                previous_output: OutPoint {
                    txid: p.compute_txid(),
                    vout: 0,
                },
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                witness: Witness::new(),
            })
            .collect(),
        output: outputs,
    };
    let mut out = b"psbt\xff".to_vec();
    let mut global = Map::default();
    global.pair(&[0x00], &bitcoin::consensus::serialize(&tx));
    out.extend_from_slice(&global.0);
    out.push(0);
    for (n, &(idx, _)) in spend.inputs.iter().enumerate() {
        let mut m = Map::default();
        m.pair(&[0x00], &bitcoin::consensus::serialize(&prevs[n]));
        let ws = g.wallet.witness_script(0, idx).expect("ws").to_vec();
        if g.st == ScriptType::ShWsh {
            m.pair(&[0x04], &signer::script::p2wsh(&ws));
        }
        m.pair(&[0x05], &ws);
        let mut derivs: Vec<(Vec<u8>, Vec<u8>)> = g
            .cosigners
            .iter()
            .map(|c| {
                let mut k = vec![0x06];
                k.extend_from_slice(&c.pubkey(0, idx));
                (k, c.derivation(0, idx))
            })
            .collect();
        derivs.sort();
        for (k, v) in derivs {
            m.pair(&k, &v);
        }
        out.extend_from_slice(&m.0);
        out.push(0);
    }
    // Payment outputs carry no fields: an empty map each.
    out.extend(std::iter::repeat_n(0u8, spend.pays.len()));
    if let Some((ci, _)) = spend.change {
        let mut m = Map::default();
        let mut derivs: Vec<(Vec<u8>, Vec<u8>)> = g
            .cosigners
            .iter()
            .map(|c| {
                let mut k = vec![0x02];
                k.extend_from_slice(&c.pubkey(1, ci));
                (k, c.derivation(1, ci))
            })
            .collect();
        derivs.sort();
        for (k, v) in derivs {
            m.pair(&k, &v);
        }
        out.extend_from_slice(&m.0);
        out.push(0);
    }
    out
}

/// Certificate plus length-prefixed PSBTs.
pub fn batch(
    key: &p256::SecretKey,
    server_id: u32,
    seq: u64,
    expiry: u64,
    psbts: &[Vec<u8>],
) -> Vec<u8> {
    let refs: Vec<&[u8]> = psbts.iter().map(Vec::as_slice).collect();
    let mut buf = vec![0u8; 99 + 32 * psbts.len()];
    let n = signer::cert::build(&mut buf, key, server_id, seq, expiry, &refs).expect("cert");
    buf.truncate(n);
    for p in psbts {
        buf.extend_from_slice(&(p.len() as u32).to_be_bytes());
        buf.extend_from_slice(p);
    }
    buf
}

/// What a batch run produced.
pub struct Run {
    pub signed: Vec<Vec<u8>>,
    pub receipt: Receipt,
    pub steps: usize,
}

/// Steps a batch to the end at board time `now_ms`. A certificate with an expiry on a node
/// never correlated first correlates its clock so that mission time is board time (1 ms at
/// board time 1 ms; needs [`clock_admin`]).
pub fn run(s: &mut Signer<Flash>, batch: &[u8], now_ms: u64) -> Run {
    let expiry = batch
        .get(25..33)
        .map(|b| u64::from_be_bytes(b.try_into().expect("8")));
    if s.mission_clock().correlated_ms().is_none() && expiry != Some(signer::cert::NO_EXPIRY) {
        correlate(s, 1, at_ms(1)).expect("correlate with the clock admin");
    }
    let mut job = s.begin_batch(batch, at_ms(now_ms));
    let mut out = vec![0u8; signer::batch::MAX_SIGNED_PSBT];
    let mut signed = Vec::new();
    let mut steps = 0;
    loop {
        steps += 1;
        assert!(steps < 10_000_000, "batch does not finish");
        match job.step(s, &mut out) {
            Step::Working => {}
            Step::Psbt { index, len, .. } => {
                assert_eq!(index as usize, signed.len());
                signed.push(out[..len].to_vec());
            }
            Step::Done(receipt) => {
                assert!(
                    receipt.verify(&s.identity_public_key()),
                    "receipt signature"
                );
                return Run {
                    signed,
                    receipt,
                    steps,
                };
            }
        }
    }
}

/// Verifies independently (rust-bitcoin sighash, libsecp256k1) that every input of `signed`
/// carries a valid signature by the node's key; returns the number checked.
pub fn verify_node_signatures(g: &Ground, signed: &[u8]) -> usize {
    let psbt = bitcoin::psbt::Psbt::deserialize(signed).expect("rust-bitcoin parses the output");
    let secp = Secp256k1::verification_only();
    let mut cache = SighashCache::new(&psbt.unsigned_tx);
    let mut checked = 0;
    for (i, input) in psbt.inputs.iter().enumerate() {
        let ws = input.witness_script.as_ref().expect("ws");
        let prev = input.non_witness_utxo.as_ref().expect("prev");
        let vout = psbt.unsigned_tx.input[i].previous_output.vout as usize;
        let amount = prev.output[vout].value;
        let h = cache
            .p2wsh_signature_hash(i, ws, amount, EcdsaSighashType::All)
            .expect("sighash");
        let msg = Message::from_digest(h.to_byte_array());
        let node_keys: Vec<[u8; 33]> = (0..50u32).map(|idx| g.node_pubkey(0, idx)).collect();
        let mut found = false;
        for (pk, sig) in &input.partial_sigs {
            let pk_bytes = pk.inner.serialize();
            if node_keys.contains(&pk_bytes) {
                let sig = SecpSig::from_der(&sig.signature.serialize_der()).expect("der");
                secp.verify_ecdsa(&msg, &sig, &SecpPk::from_slice(&pk_bytes).expect("pk"))
                    .expect("node signature verifies");
                found = true;
            }
        }
        assert!(found, "input {i} has no node signature");
        checked += 1;
    }
    checked
}

/// Runs `f` on a thread with a 64 MiB stack. A signer from `Signer::boot` owns its two
/// registries (about 290 KB), so the test's own signers, moved by value between helpers in
/// unoptimised builds, do not fit the default 2 MiB test-thread stack. (The component lends the
/// signer registries in static memory; `signer-partition`'s `stack` test holds its path to the
/// declared stack.)
pub fn big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
}
