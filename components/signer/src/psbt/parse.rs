//! The PSBT parser: maps, per-type key/value validation, version rules, BIP-370 locktime.

use super::{
    Input, MAGIC, MAX_INPUTS, MAX_OUTPUTS, Map, MapKind, Output, Pair, Psbt, PsbtError, Version,
    global, input, output, read_pair,
};
use crate::encode::{DecodeError, Reader};
use crate::tx::{MAX_MONEY, OutPoint, Tx, TxOut};

/// Most pairs one map may hold (bounds the duplicate check).
pub const MAX_PAIRS_PER_MAP: usize = 1024;

/// Reads one map up to and including its separator, rejecting duplicate keys.
fn read_map<'a>(r: &mut Reader<'a>, kind: MapKind) -> Result<Map<'a>, PsbtError> {
    let start = r.position();
    let mut count = 0usize;
    loop {
        let before = r.position();
        let Some(pair) = read_pair(r)? else {
            let raw = r.data().get(start..before).ok_or(DecodeError::Invalid)?;
            return Ok(Map { raw });
        };
        count += 1;
        if count > MAX_PAIRS_PER_MAP {
            return Err(PsbtError::Decode(DecodeError::TooLarge));
        }
        let earlier = Map {
            raw: r.data().get(start..before).ok_or(DecodeError::Invalid)?,
        };
        if earlier.pairs().any(|p| p.key == pair.key) {
            return Err(PsbtError::DuplicateKey(kind));
        }
    }
}

fn u32_value(p: &Pair<'_>, map: MapKind) -> Result<u32, PsbtError> {
    let b: [u8; 4] = p.value.try_into().map_err(|_| PsbtError::InvalidValue {
        map,
        key_type: p.key_type,
    })?;
    Ok(u32::from_le_bytes(b))
}

fn no_key_data(p: &Pair<'_>, map: MapKind) -> Result<(), PsbtError> {
    if p.key_data.is_empty() {
        Ok(())
    } else {
        Err(PsbtError::InvalidKey {
            map,
            key_type: p.key_type,
        })
    }
}

fn valid_pubkey_key(p: &Pair<'_>, map: MapKind) -> Result<(), PsbtError> {
    let ok =
        matches!(p.key_data.len(), 33 | 65) && k256::PublicKey::from_sec1_bytes(p.key_data).is_ok();
    if ok {
        Ok(())
    } else {
        Err(PsbtError::InvalidKey {
            map,
            key_type: p.key_type,
        })
    }
}

fn valid_keypath_value(p: &Pair<'_>, map: MapKind) -> Result<(), PsbtError> {
    let n = p.value.len();
    if n >= 4 && n.is_multiple_of(4) && n / 4 - 1 <= crate::bip32::MAX_PATH {
        Ok(())
    } else {
        Err(PsbtError::InvalidValue {
            map,
            key_type: p.key_type,
        })
    }
}

fn parse_txout(value: &[u8]) -> Result<TxOut<'_>, DecodeError> {
    let mut r = Reader::new(value);
    let amount = r.u64_le()?;
    if amount > MAX_MONEY {
        return Err(DecodeError::Invalid);
    }
    let script_pubkey = r.var_bytes()?;
    r.finish()?;
    Ok(TxOut {
        value: amount,
        script_pubkey,
    })
}

fn valid_witness_stack(value: &[u8]) -> Result<(), DecodeError> {
    let mut r = Reader::new(value);
    let n = r.compact_size()?;
    if n > value.len() as u64 {
        return Err(DecodeError::UnexpectedEnd);
    }
    for _ in 0..n {
        r.var_bytes()?;
    }
    r.finish()
}

struct Globals<'a> {
    version: Version,
    unsigned_tx: Option<Tx<'a>>,
    tx_version: Option<u32>,
    fallback_locktime: Option<u32>,
    input_count: Option<u64>,
    output_count: Option<u64>,
}

fn check_globals<'a>(map: Map<'a>) -> Result<Globals<'a>, PsbtError> {
    let m = MapKind::Global;
    let mut version = 0u32;
    if let Some(p) = map.get(global::VERSION) {
        no_key_data(&p, m)?;
        version = u32_value(&p, m)?;
    }
    let version = match version {
        0 => Version::V0,
        2 => Version::V2,
        v => return Err(PsbtError::UnsupportedVersion(v)),
    };
    let mut g = Globals {
        version,
        unsigned_tx: None,
        tx_version: None,
        fallback_locktime: None,
        input_count: None,
        output_count: None,
    };
    for p in map.pairs() {
        let key_type = p.key_type;
        let bad_value = PsbtError::InvalidValue { map: m, key_type };
        let v2_only = matches!(
            key_type,
            global::TX_VERSION
                | global::FALLBACK_LOCKTIME
                | global::INPUT_COUNT
                | global::OUTPUT_COUNT
                | global::TX_MODIFIABLE
        );
        if (v2_only && version == Version::V0)
            || (key_type == global::UNSIGNED_TX && version == Version::V2)
        {
            return Err(PsbtError::FieldNotAllowed { map: m, key_type });
        }
        match key_type {
            global::UNSIGNED_TX => {
                no_key_data(&p, m)?;
                let tx = Tx::parse(p.value, false).map_err(|_| bad_value)?;
                if tx.inputs().any(|i| !i.script_sig.is_empty()) {
                    return Err(PsbtError::UnsignedTxNotEmpty);
                }
                g.unsigned_tx = Some(tx);
            }
            global::XPUB => {
                if p.key_data.len() != 78 {
                    return Err(PsbtError::InvalidKey { map: m, key_type });
                }
                valid_keypath_value(&p, m)?;
            }
            global::TX_VERSION => {
                no_key_data(&p, m)?;
                g.tx_version = Some(u32_value(&p, m)?);
            }
            global::FALLBACK_LOCKTIME => {
                no_key_data(&p, m)?;
                g.fallback_locktime = Some(u32_value(&p, m)?);
            }
            global::INPUT_COUNT | global::OUTPUT_COUNT => {
                no_key_data(&p, m)?;
                let mut r = Reader::new(p.value);
                let n = r.compact_size().map_err(|_| bad_value)?;
                r.finish().map_err(|_| bad_value)?;
                if key_type == global::INPUT_COUNT {
                    g.input_count = Some(n);
                } else {
                    g.output_count = Some(n);
                }
            }
            global::TX_MODIFIABLE => {
                no_key_data(&p, m)?;
                if p.value.len() != 1 {
                    return Err(bad_value);
                }
            }
            _ => {}
        }
    }
    match version {
        Version::V0 if g.unsigned_tx.is_none() => return Err(PsbtError::MissingUnsignedTx),
        Version::V2 => {
            for (present, key_type) in [
                (g.tx_version.is_some(), global::TX_VERSION),
                (g.input_count.is_some(), global::INPUT_COUNT),
                (g.output_count.is_some(), global::OUTPUT_COUNT),
            ] {
                if !present {
                    return Err(PsbtError::MissingField { map: m, key_type });
                }
            }
        }
        Version::V0 => {}
    }
    Ok(g)
}

fn check_input<'a>(
    map: Map<'a>,
    idx: usize,
    version: Version,
    tx_in: Option<(OutPoint, u32)>,
) -> Result<Input<'a>, PsbtError> {
    let m = MapKind::Input(idx);
    let mut inp = Input {
        map,
        prevout: OutPoint {
            txid: [0; 32],
            vout: 0,
        },
        sequence: 0xffff_ffff,
        non_witness_utxo: None,
        witness_utxo: None,
        sighash_type: None,
        redeem_script: None,
        witness_script: None,
        finalized: false,
        required_time_locktime: None,
        required_height_locktime: None,
    };
    let mut v2 = V2Prevout::default();
    for p in map.pairs() {
        if version == Version::V0
            && (input::PREVIOUS_TXID..=input::REQUIRED_HEIGHT_LOCKTIME).contains(&p.key_type)
        {
            return Err(PsbtError::FieldNotAllowed {
                map: m,
                key_type: p.key_type,
            });
        }
        input_pair(&mut inp, &mut v2, &p, m)?;
    }
    let (txid, vout, sequence) = (v2.txid, v2.vout, v2.sequence);
    match (version, tx_in) {
        (Version::V0, Some((prevout, seq))) => {
            inp.prevout = prevout;
            inp.sequence = seq;
        }
        _ => {
            let txid = txid.ok_or(PsbtError::MissingField {
                map: m,
                key_type: input::PREVIOUS_TXID,
            })?;
            let vout = vout.ok_or(PsbtError::MissingField {
                map: m,
                key_type: input::OUTPUT_INDEX,
            })?;
            inp.prevout = OutPoint { txid, vout };
            inp.sequence = sequence.unwrap_or(0xffff_ffff);
        }
    }
    Ok(inp)
}

/// The PSBT v2 fields of an input that name its outpoint and sequence (BIP 370).
#[derive(Default)]
struct V2Prevout {
    txid: Option<[u8; 32]>,
    vout: Option<u32>,
    sequence: Option<u32>,
}

/// Checks one key-value pair of input map `m` and records what the signer uses.
fn input_pair<'a>(
    inp: &mut Input<'a>,
    v2: &mut V2Prevout,
    p: &Pair<'a>,
    m: MapKind,
) -> Result<(), PsbtError> {
    let key_type = p.key_type;
    let bad_value = PsbtError::InvalidValue { map: m, key_type };
    match key_type {
        input::NON_WITNESS_UTXO => {
            no_key_data(p, m)?;
            inp.non_witness_utxo = Some(Tx::parse(p.value, true).map_err(|_| bad_value)?);
        }
        input::WITNESS_UTXO => {
            no_key_data(p, m)?;
            inp.witness_utxo = Some(parse_txout(p.value).map_err(|_| bad_value)?);
        }
        input::PARTIAL_SIG => {
            valid_pubkey_key(p, m)?;
            if p.value.is_empty() {
                return Err(bad_value);
            }
        }
        input::SIGHASH_TYPE => {
            no_key_data(p, m)?;
            inp.sighash_type = Some(u32_value(p, m)?);
        }
        input::REDEEM_SCRIPT => {
            no_key_data(p, m)?;
            inp.redeem_script = Some(p.value);
        }
        input::WITNESS_SCRIPT => {
            no_key_data(p, m)?;
            inp.witness_script = Some(p.value);
        }
        input::BIP32_DERIVATION => {
            valid_pubkey_key(p, m)?;
            valid_keypath_value(p, m)?;
        }
        input::FINAL_SCRIPTSIG => {
            no_key_data(p, m)?;
            inp.finalized = true;
        }
        input::FINAL_SCRIPTWITNESS => {
            no_key_data(p, m)?;
            valid_witness_stack(p.value).map_err(|_| bad_value)?;
            inp.finalized = true;
        }
        input::PREVIOUS_TXID => {
            no_key_data(p, m)?;
            v2.txid = Some(<[u8; 32]>::try_from(p.value).map_err(|_| bad_value)?);
        }
        input::OUTPUT_INDEX => {
            no_key_data(p, m)?;
            v2.vout = Some(u32_value(p, m)?);
        }
        input::SEQUENCE => {
            no_key_data(p, m)?;
            v2.sequence = Some(u32_value(p, m)?);
        }
        input::REQUIRED_TIME_LOCKTIME => {
            no_key_data(p, m)?;
            let t = u32_value(p, m)?;
            if t < 500_000_000 {
                return Err(bad_value);
            }
            inp.required_time_locktime = Some(t);
        }
        input::REQUIRED_HEIGHT_LOCKTIME => {
            no_key_data(p, m)?;
            let h = u32_value(p, m)?;
            if h == 0 || h >= 500_000_000 {
                return Err(bad_value);
            }
            inp.required_height_locktime = Some(h);
        }
        _ => {}
    }
    Ok(())
}

fn check_output<'a>(
    map: Map<'a>,
    idx: usize,
    version: Version,
    tx_out: Option<TxOut<'a>>,
) -> Result<Output<'a>, PsbtError> {
    let m = MapKind::Output(idx);
    let mut out = Output {
        map,
        amount: 0,
        script_pubkey: &[],
        redeem_script: None,
        witness_script: None,
    };
    let (mut amount, mut script) = (None, None);
    for p in map.pairs() {
        let key_type = p.key_type;
        if version == Version::V0 && (key_type == output::AMOUNT || key_type == output::SCRIPT) {
            return Err(PsbtError::FieldNotAllowed { map: m, key_type });
        }
        match key_type {
            output::REDEEM_SCRIPT => {
                no_key_data(&p, m)?;
                out.redeem_script = Some(p.value);
            }
            output::WITNESS_SCRIPT => {
                no_key_data(&p, m)?;
                out.witness_script = Some(p.value);
            }
            output::BIP32_DERIVATION => {
                valid_pubkey_key(&p, m)?;
                valid_keypath_value(&p, m)?;
            }
            output::AMOUNT => {
                no_key_data(&p, m)?;
                let b: [u8; 8] = p
                    .value
                    .try_into()
                    .map_err(|_| PsbtError::InvalidValue { map: m, key_type })?;
                let a = u64::from_le_bytes(b);
                if a > MAX_MONEY {
                    return Err(PsbtError::InvalidValue { map: m, key_type });
                }
                amount = Some(a);
            }
            output::SCRIPT => {
                no_key_data(&p, m)?;
                script = Some(p.value);
            }
            _ => {}
        }
    }
    match (version, tx_out) {
        (Version::V0, Some(o)) => {
            out.amount = o.value;
            out.script_pubkey = o.script_pubkey;
        }
        _ => {
            out.amount = amount.ok_or(PsbtError::MissingField {
                map: m,
                key_type: output::AMOUNT,
            })?;
            out.script_pubkey = script.ok_or(PsbtError::MissingField {
                map: m,
                key_type: output::SCRIPT,
            })?;
        }
    }
    Ok(out)
}

/// BIP-370 locktime determination.
fn determine_locktime(inputs: &[Input<'_>], fallback: Option<u32>) -> Result<u32, PsbtError> {
    let mut any = false;
    let (mut time_ok, mut height_ok) = (true, true);
    let (mut max_time, mut max_height) = (0u32, 0u32);
    for i in inputs {
        if i.required_time_locktime.is_none() && i.required_height_locktime.is_none() {
            continue;
        }
        any = true;
        match i.required_time_locktime {
            Some(t) => max_time = max_time.max(t),
            None => time_ok = false,
        }
        match i.required_height_locktime {
            Some(h) => max_height = max_height.max(h),
            None => height_ok = false,
        }
    }
    if !any {
        return Ok(fallback.unwrap_or(0));
    }
    if height_ok {
        Ok(max_height)
    } else if time_ok {
        Ok(max_time)
    } else {
        Err(PsbtError::LocktimeConflict)
    }
}

impl<'a> Psbt<'a> {
    /// Parses and validates a whole PSBT; `raw` must hold exactly one.
    pub fn parse(raw: &'a [u8]) -> Result<Self, PsbtError> {
        if raw.get(..5) != Some(&MAGIC[..]) {
            return Err(PsbtError::BadMagic);
        }
        let mut r = Reader::new(raw);
        r.take(5)?;
        let global_map = read_map(&mut r, MapKind::Global)?;
        let g = check_globals(global_map)?;
        let (n_in, n_out) = match &g.unsigned_tx {
            Some(tx) => (tx.input_count() as u64, tx.output_count() as u64),
            None => (g.input_count.unwrap_or(0), g.output_count.unwrap_or(0)),
        };
        if n_in > MAX_INPUTS as u64 {
            return Err(PsbtError::TooManyInputs);
        }
        if n_out > MAX_OUTPUTS as u64 {
            return Err(PsbtError::TooManyOutputs);
        }
        let mut tx_inputs = g.unsigned_tx.as_ref().map(|t| t.inputs());
        let mut inputs = heapless::Vec::new();
        for idx in 0..n_in as usize {
            let map = read_map(&mut r, MapKind::Input(idx))?;
            let tx_in = tx_inputs
                .as_mut()
                .and_then(|it| it.next())
                .map(|i| (i.prevout, i.sequence));
            let inp = check_input(map, idx, g.version, tx_in)?;
            inputs.push(inp).map_err(|_| PsbtError::TooManyInputs)?;
        }
        let mut tx_outputs = g.unsigned_tx.as_ref().map(|t| t.outputs());
        let mut outputs = heapless::Vec::new();
        for idx in 0..n_out as usize {
            let map = read_map(&mut r, MapKind::Output(idx))?;
            let tx_out = tx_outputs.as_mut().and_then(|it| it.next());
            let out = check_output(map, idx, g.version, tx_out)?;
            outputs.push(out).map_err(|_| PsbtError::TooManyOutputs)?;
        }
        r.finish()?;
        let (tx_version, lock_time) = match &g.unsigned_tx {
            Some(tx) => (tx.version(), tx.lock_time()),
            None => (
                g.tx_version.unwrap_or(2),
                determine_locktime(&inputs, g.fallback_locktime)?,
            ),
        };
        Ok(Psbt {
            raw,
            version: g.version,
            global: global_map,
            unsigned_tx: g.unsigned_tx,
            tx_version,
            lock_time,
            inputs,
            outputs,
        })
    }
}
