//! BIP-143 examples, parsed from the copied bip-0143.mediawiki: every (preimage, sigHash) pair of
//! every example, across all sighash types. For each, the inputs to the algorithm (input index,
//! scriptCode, amount, hash type) are read back out of the published preimage, our preimage and
//! digest are recomputed from the unsigned transaction alone and compared, and where the example
//! publishes the private key and signature, our RFC 6979 signature is checked against it.
mod common;

use signer::encode::{Reader, Writer};
use signer::sighash::segwit_v0::{Cache, sighash, write_preimage};
use signer::tx::Tx;

struct Case {
    tx: Vec<u8>,
    preimage: Vec<u8>,
    sighash: Vec<u8>,
    private_key: Option<Vec<u8>>,
    signature: Option<Vec<u8>>,
}

fn cases() -> Vec<Case> {
    let text = common::read_vector("bip-0143.mediawiki");
    let start = text.find("== Example ==").expect("examples");
    let end = text.find("== Deployment ==").expect("end");
    let mut out = Vec::new();
    let mut tx: Option<Vec<u8>> = None;
    let mut want_tx_next = false;
    let mut preimage: Option<Vec<u8>> = None;
    // Keys and signatures belong to a case only when they follow its sigHash line.
    let mut after_sighash = false;
    for line in text[start..end].lines() {
        let t = line.trim();
        if want_tx_next && !t.is_empty() {
            tx = Some(common::hex(t));
            want_tx_next = false;
            continue;
        }
        if t.contains("unsigned transaction:") {
            after_sighash = false;
            match common::hex_after(t, "unsigned transaction:") {
                Some(b) => tx = Some(b),
                None => want_tx_next = true,
            }
        } else if t.contains("preimage") && t.contains(':') {
            if let Some(p) = common::hex_after(t, ":") {
                preimage = Some(p);
                after_sighash = false;
            }
        } else if let Some(h) = common::hex_after(t, "sigHash:") {
            out.push(Case {
                tx: tx.clone().expect("tx before sigHash"),
                preimage: preimage.take().expect("preimage before sigHash"),
                sighash: h,
                private_key: None,
                signature: None,
            });
            after_sighash = true;
        } else if after_sighash && t.starts_with("private key:") {
            if let (Some(k), Some(c)) = (common::hex_after(t, "private key:"), out.last_mut())
                && c.private_key.is_none()
            {
                c.private_key = Some(k);
            }
        } else if after_sighash
            && t.starts_with("signature:")
            && let (Some(s), Some(c)) = (common::hex_after(t, "signature:"), out.last_mut())
            && c.signature.is_none()
            && c.private_key.is_some()
        {
            c.signature = Some(s);
        }
    }
    out
}

#[test]
fn every_published_sighash_is_reproduced() {
    let cases = cases();
    let mut types = std::collections::BTreeSet::new();
    let mut signatures_checked = 0;
    for (n, c) in cases.iter().enumerate() {
        let tx = Tx::parse(&c.tx, true).expect("unsigned tx");
        // Read the algorithm's inputs back out of the published preimage.
        let mut r = Reader::new(&c.preimage);
        r.take(4 + 32 + 32).expect("header");
        let txid: [u8; 32] = r.array().expect("txid");
        let vout = r.u32_le().expect("vout");
        let script_code = r.var_bytes().expect("scriptCode");
        let amount = r.u64_le().expect("amount");
        r.take(4 + 32 + 4).expect("tail");
        let hash_type = r.u32_le().expect("hash type");
        r.finish().expect("whole preimage");
        let index = tx
            .inputs()
            .position(|i| i.prevout.txid == txid && i.prevout.vout == vout)
            .expect("outpoint is an input");
        let cache = Cache::new(&tx);
        let mut buf = [0u8; 1024];
        let mut w = Writer::new(&mut buf);
        write_preimage(&mut w, &tx, &cache, index, script_code, amount, hash_type)
            .expect("preimage");
        assert_eq!(
            common::to_hex(w.written()),
            common::to_hex(&c.preimage),
            "case {n} preimage"
        );
        let h = sighash(&tx, &cache, index, script_code, amount, hash_type).expect("sighash");
        assert_eq!(h.to_vec(), c.sighash, "case {n} sighash");
        types.insert(hash_type);
        if let (Some(k), Some(s)) = (&c.private_key, &c.signature) {
            let key = signer::ecdsa::PrivateKey::from_bytes(k.as_slice().try_into().expect("32"))
                .expect("key");
            let (der, ht) = s.split_at(s.len() - 1);
            assert_eq!(u32::from(ht[0]), hash_type & 0xff);
            signer::ecdsa::verify_digest(&key.public_key(), &h, der)
                .expect("published signature verifies");
            let ours = key.sign_digest(&h).expect("sign");
            assert_eq!(
                common::to_hex(ours.as_bytes()),
                common::to_hex(der),
                "case {n} RFC 6979 signature"
            );
            signatures_checked += 1;
        }
    }
    // ALL, NONE, SINGLE and each with ANYONECANPAY all appear in the examples.
    for t in [1, 2, 3, 0x81, 0x82, 0x83] {
        assert!(types.contains(&t), "sighash type {t:#x} not covered");
    }
    assert!(cases.len() >= 10, "only {} cases found", cases.len());
    assert!(
        signatures_checked >= 6,
        "only {signatures_checked} signatures checked"
    );
}
