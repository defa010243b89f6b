"""Interop cases for scripts/interop (see its header). Arguments: HARNESS STATE WORKDIR.

embit builds 2-of-3 wsh(sortedmulti) PSBTs (node key + two ground keys) with several inputs and
change; one ground key signs; the spacenode signer (interop-sign harness) signs; bdkpython
finalizes; python-bitcointx VerifyScript checks every input. Then a tampered amount, a swapped
output and a foreign wallet must be refused by the signer. One PASS/FAIL line per case.
"""
import base64
import hashlib
import os
import subprocess
import sys

import bdkpython as bdk
from bitcointx.core import CTransaction
from bitcointx.core.script import CScript
from bitcointx.core.scripteval import (SCRIPT_VERIFY_P2SH, SCRIPT_VERIFY_WITNESS,
                                       VerifyScript)
from embit import bip32
from embit.descriptor import Descriptor
from embit.descriptor.checksum import add_checksum
from embit.networks import NETWORKS
from embit.psbt import PSBT, DerivationPath
from embit.script import Script
from embit.transaction import Transaction, TransactionInput, TransactionOutput

HARNESS, STATE, WORK = sys.argv[1:4]
NET = NETWORKS["regtest"]
CERT_SECRET = "11" * 32
SERVER = 7
ACCOUNT_PATH = "m/48h/1h/0h/2h"
failures = []


def harness(*args):
    return subprocess.run([HARNESS, *args], capture_output=True, text=True)


def ground_root(tag):
    return bip32.HDKey.from_seed(hashlib.sha256(tag.encode()).digest(), version=NET["xprv"])


def key_text(root):
    acct = root.derive(ACCOUNT_PATH).to_public()
    return "[%s/48h/1h/0h/2h]%s/<0;1>/*" % (root.my_fingerprint.hex(), acct.to_string(NET["xpub"]))


def wallet(keys):
    """The descriptor text (as the signer registers it) and embit's parse of it."""
    text = add_checksum("wsh(sortedmulti(2,%s))" % ",".join(keys))
    return text, Descriptor.from_string(text)


def foreign_spk(tag):
    return Script(b"\x00\x20" + hashlib.sha256(tag.encode()).digest())


def derive_info(d, branch, index):
    dd = d.derive(index, branch_index=branch)
    derivs = {}
    for k in dd.keys:
        derivs[k.get_public_key()] = DerivationPath(k.origin.fingerprint, k.origin.derivation)
    return dd, derivs


def build_psbt(d, inputs, pays, change, salt):
    """inputs: [(index, sats)], pays: [(Script, sats)], change: (index, sats)."""
    fund = Transaction(
        vin=[TransactionInput(hashlib.sha256(b"fund%d" % salt).digest(), 0)],
        vout=[TransactionOutput(sats, d.derive(i, branch_index=0).script_pubkey())
              for i, sats in inputs])
    txid = fund.txid()
    vout = [TransactionOutput(sats, spk) for spk, sats in pays]
    cd, cderivs = derive_info(d, 1, change[0])
    vout.append(TransactionOutput(change[1], cd.script_pubkey()))
    tx = Transaction(vin=[TransactionInput(txid, n) for n in range(len(inputs))], vout=vout)
    psbt = PSBT(tx)
    for n, (i, _) in enumerate(inputs):
        dd, derivs = derive_info(d, 0, i)
        inp = psbt.inputs[n]
        inp.non_witness_utxo = fund
        inp.witness_utxo = fund.vout[n]
        inp.witness_script = dd.witness_script()
        inp.bip32_derivations = derivs
    out = psbt.outputs[len(pays)]
    out.witness_script = cd.witness_script()
    out.bip32_derivations = cderivs
    return psbt, fund


def result(name, ok, why=""):
    print("%s %s%s" % ("PASS" if ok else "FAIL", name, (": " + why) if why and not ok else ""))
    if not ok:
        failures.append(name)


def sign(name, psbts, seq):
    files = []
    for n, p in enumerate(psbts):
        f = os.path.join(WORK, "%s-%d.psbt" % (name, n))
        with open(f, "wb") as fh:
            fh.write(p.serialize())
        files.append(f)
    out = os.path.join(WORK, name + "-out")
    r = harness("sign", STATE, CERT_SECRET, str(SERVER), str(seq), out, *files)
    return r, out


def main():
    init = harness("init", STATE, CERT_SECRET, "0")
    if init.returncode != 0:
        print("FAIL init: " + init.stderr.strip())
        return 1
    lines = dict(l.split(" ", 1) for l in init.stdout.strip().splitlines())
    node_key, cert_pub = lines["node-key"] + "/<0;1>/*", lines["cert-pub"]
    a, b, c, e = (ground_root(t) for t in ("ground-a", "ground-b", "foreign-c", "foreign-d"))
    d_text, d = wallet([node_key, key_text(a), key_text(b)])
    prov = os.path.join(WORK, "provisioning.txt")
    with open(prov, "w") as fh:
        fh.write("spacenode-signer-registry 1\n")
        fh.write("server id=%d key=%s network=regtest account=0 descriptor=%s no-expiry\n"
                 % (SERVER, cert_pub, d_text))
        fh.write("rule allow max-amount=50000000 max-fee=100000\n")
    r = harness("provision", STATE, prov)
    result("provision", r.returncode == 0, r.stderr.strip() or r.stdout.strip())

    # 1. A batch of three PSBTs with several inputs and change: ground A signs, node signs,
    #    bdk finalizes, bitcointx verifies every input.
    specs = [
        ([(0, 1_000_000), (1, 2_000_000)], [(foreign_spk("pay1"), 2_500_000)], (0, 499_000)),
        ([(2, 700_000), (3, 800_000), (4, 900_000)],
         [(foreign_spk("pay2"), 1_000_000), (foreign_spk("pay3"), 400_000)], (1, 998_500)),
        ([(5, 5_000_000)], [(foreign_spk("pay4"), 4_000_000)], (2, 998_000)),
    ]
    built = []
    for n, (ins, pays, change) in enumerate(specs):
        p, fund = build_psbt(d, ins, pays, change, n)
        signed_by_a = p.sign_with(a)
        if signed_by_a != len(ins):
            result("ground-signs", False, "ground key signed %d of %d inputs" % (signed_by_a, len(ins)))
        built.append((p, fund, ins))
    r, out = sign("valid", [p for p, _, _ in built], 1)
    ok = r.returncode == 0 and r.stdout.startswith("SIGNED 3")
    result("node-signs-valid-batch", ok, (r.stdout + r.stderr).strip())
    if ok:
        for n, (p, fund, ins) in enumerate(built):
            name = "finalize-and-verify-psbt-%d" % n
            try:
                with open(os.path.join(out, "signed-%d.psbt" % n), "rb") as fh:
                    signed = fh.read()
                fin = bdk.Psbt(base64.b64encode(signed).decode()).finalize()
                if not fin.could_finalize:
                    raise RuntimeError("bdk could not finalize: %s" % (fin.errors,))
                raw = bytes(fin.psbt.extract_tx().serialize())
                tx = CTransaction.deserialize(raw)
                for i in range(len(ins)):
                    prev = fund.vout[i]
                    VerifyScript(tx.vin[i].scriptSig, CScript(prev.script_pubkey.data), tx, i,
                                 flags={SCRIPT_VERIFY_P2SH, SCRIPT_VERIFY_WITNESS},
                                 amount=prev.value, witness=tx.wit.vtxinwit[i].scriptWitness)
                result(name, True)
            except Exception as ex:  # noqa: BLE001 - report any failure as FAIL
                result(name, False, repr(ex))

    # 2. Refusals. Each must come back REFUSED from the signer.
    def refused(name, psbt, seq):
        r, _ = sign(name, [psbt], seq)
        # Refused by the wallet checks (receipt class 4), not for a certificate problem.
        ok = r.returncode == 3 and r.stdout.startswith("REFUSED class=4 ")
        result("refuses-" + name, ok, (r.stdout + r.stderr).strip())
        if ok:
            print("      signer said: " + r.stdout.strip())

    # Tampered amount: the witness UTXO claims less than the previous transaction pays
    # (the segwit fee attack).
    p, _ = build_psbt(d, [(6, 1_000_000)], [(foreign_spk("pay5"), 900_000)], (3, 99_000), 10)
    p.inputs[0].witness_utxo = TransactionOutput(500_000, p.inputs[0].witness_utxo.script_pubkey)
    p.sign_with(a)
    refused("tampered-amount", p, 2)

    # Swapped output: the output that claims to be change (derivations of the wallet) pays a
    # foreign script.
    p, _ = build_psbt(d, [(7, 1_000_000)], [(foreign_spk("pay6"), 900_000)], (4, 99_000), 11)
    change_index = len(p.outputs) - 1
    p.outputs[change_index].script_pubkey = foreign_spk("thief")
    p.sign_with(a)
    refused("swapped-output", p, 3)

    # Foreign wallet: the node's key with two keys the signer never registered.
    _, f = wallet([node_key, key_text(c), key_text(e)])
    p, _ = build_psbt(f, [(0, 1_000_000)], [(foreign_spk("pay7"), 900_000)], (0, 99_000), 12)
    p.sign_with(c)
    refused("foreign-wallet", p, 4)

    print("interop: %s (%d failure%s)" % ("PASS" if not failures else "FAIL", len(failures),
                                           "" if len(failures) == 1 else "s"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
