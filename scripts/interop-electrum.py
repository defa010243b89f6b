#!/usr/bin/env python3
"""Electrum (Debian's 4.3.4, unmodified, through the plug-in's launcher) spends from a 2-of-3
wallet whose second cosigner is a real spacenode node, and the final transaction verifies.

    interop-electrum.py SPACENODE LAUNCHER WORKDIR

1. Keys: the node's account key from `spacenode node-key` (a fresh sim node); the user's BIP-39
   seed and an offline backup key made with embit (an independent BIP-32 implementation).
2. `electrum-satellite satellite_create` makes the Electrum wallet (keys converted to p2wsh) and
   prints its descriptor; its BIP-380 checksum must equal embit's.
3. The node is provisioned with a `server` line whose descriptor is the Electrum wallet's, then
   runs (`spacenode run`, real partitions under seccomp).
4. An Electrum daemon (testnet, offline) loads the wallet; `addtransaction` gives it a UTXO (a
   funding transaction built with embit paying the wallet's first address); `payto --unsigned`
   makes the payment PSBT; `signtransaction` signs with the user's key.
5. The satellite's signature: `spacenode ground sign` uplinks the PSBT Electrum exported to the
   node, which co-signs it under its policy. (Direct path: the ground server's API is not in this
   branch yet; see the plug-in's `satellite_submit`/`satellite_confirm`/`satellite_wait`.)
6. `satellite_merge` (the plug-in: combine, `add_info_from_wallet`, finalise) gives the final
   transaction; python-bitcointx's VerifyScript (libbitcoinconsensus's rules, its own
   implementation) accepts its input against the funding output, with P2SH and WITNESS rules.
7. A payment over the node's policy is refused by the node, and the plug-in's merge of a PSBT of
   another transaction is refused with its message.

Prints one PASS/FAIL line per check; exits non-zero on any failure.
"""
import base64
import json
import os
import socket
import subprocess
import sys
import time

from bitcointx.core import CTransaction
from bitcointx.core.script import CScript
from bitcointx.core.scripteval import SCRIPT_VERIFY_P2SH, SCRIPT_VERIFY_WITNESS, VerifyScript
from embit import bip32, bip39, script
from embit.descriptor.checksum import add_checksum
from embit.networks import NETWORKS
from embit.transaction import Transaction, TransactionInput, TransactionOutput

FAILED = []


def result(name, ok, detail=''):
    print(f"interop-electrum: {'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        FAILED.append(name)


def run(cmd, check=True, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise SystemExit(f"interop-electrum: `{' '.join(cmd[:3])} ...` failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    return p


def free_udp_ports(n):
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(n)]
    for s in socks:
        s.bind(('127.0.0.1', 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Electrum:
    """Electrum through the plug-in's launcher, testnet, its own data directory."""

    def __init__(self, launcher, datadir):
        self.base = [launcher, '--testnet', '-D', datadir]

    def __call__(self, *args, check=True):
        p = run(self.base + list(args), check=check)
        return p.stdout.strip() if check else p


def backup_key():
    root = bip32.HDKey.from_seed(bip39.mnemonic_to_seed(bip39.mnemonic_from_bytes(os.urandom(16))),
                                 version=NETWORKS['test']['xprv'])
    acct = root.derive("m/48h/1h/0h/2h").to_public()
    return f"[{root.my_fingerprint.hex()}/48h/1h/0h/2h]{acct.to_base58(NETWORKS['test']['xpub'])}"


def funding_tx(address, amount):
    """A transaction paying `amount` to `address` (its input is made up: offline, there is no
    chain; the node and Electrum check the amounts against this transaction)."""
    tx = Transaction(vin=[TransactionInput(os.urandom(32), 0)],
                     vout=[TransactionOutput(amount, script.address_to_scriptpubkey(address))])
    return tx


def foreign_address():
    key = bip32.HDKey.from_seed(os.urandom(32))
    return script.p2wpkh(key.key.get_public_key()).address(NETWORKS['test'])


def start_node(spacenode, state, log_path):
    up, down = free_udp_ports(2)
    log = open(log_path, 'w')
    node = subprocess.Popen([spacenode, 'run', '--state', state, '--radio-uplink', f'127.0.0.1:{up}',
                             '--ground', f'127.0.0.1:{down}'], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if node.poll() is not None:
            raise SystemExit(f"interop-electrum: the node exited:\n{open(log_path).read()}")
        text = open(log_path).read()
        if '[comms] INFO  SA 2:' in text and 'provisioned' in text.lower():
            break
        time.sleep(0.1)
    return node, up, down


def ground_sign(spacenode, work, up, down, name, psbt_b64):
    src = os.path.join(work, f'{name}.psbt')
    out = os.path.join(work, f'{name}.signed.psbt')
    with open(src, 'wb') as f:
        f.write(base64.b64decode(psbt_b64))
    p = run([spacenode, 'ground', 'sign', '--node', f'127.0.0.1:{up}', '--listen', f'127.0.0.1:{down}',
             '--state', os.path.join(work, 'ground'), '--server', '7', '--key', os.path.join(work, 'server.key'),
             '--no-expiry', '--out', out, src], check=False)
    signed = base64.b64encode(open(out, 'rb').read()).decode() if p.returncode == 0 else None
    return p, signed


def verify(final_hex, funding):
    tx = CTransaction.deserialize(bytes.fromhex(final_hex))
    prev = funding.vout[0]
    VerifyScript(tx.vin[0].scriptSig, CScript(prev.script_pubkey.data), tx, 0,
                 flags={SCRIPT_VERIFY_P2SH, SCRIPT_VERIFY_WITNESS},
                 amount=prev.value, witness=tx.wit.vtxinwit[0].scriptWitness)
    return tx


def main():
    spacenode, launcher, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    state = os.path.join(work, 'node')
    el = Electrum(launcher, os.path.join(work, 'electrum'))
    wallet = os.path.join(work, 'electrum', 'satellite-wallet')

    node_key = run([spacenode, 'node-key', '--state', state, '--network', 'testnet', '--account', '0']).stdout.strip()
    seed = bip39.mnemonic_from_bytes(os.urandom(16))
    created = json.loads(el('--offline', 'satellite_create', seed, backup_key(), '--node_key', node_key, '-w', wallet))
    descriptor = created['descriptor']
    result('satellite_create makes the 2-of-3 wallet with the node key',
           descriptor.startswith(f'wsh(sortedmulti(2,{node_key}/<0;1>/*,'), descriptor[:70] + '...')
    body = descriptor.split('#')[0]
    result('the descriptor checksum is BIP-380 (embit agrees)', add_checksum(body) == descriptor)

    # The node co-signs only wallets in its registry: this server's wallet is Electrum's.
    server_pub = run([spacenode, 'ground', 'keygen', '--out', os.path.join(work, 'server.key')]).stdout.split()[-1]
    prov = os.path.join(work, 'prov.txt')
    with open(prov, 'w') as f:
        f.write('spacenode-signer-registry 1\n'
                f'server id=7 key={server_pub} network=testnet account=0 descriptor={descriptor} no-expiry\n'
                'rule allow max-amount=1000000 max-fee=20000\nrule deny\n')
    run([spacenode, 'provision', '--state', state, prov])
    node, up, down = start_node(spacenode, state, os.path.join(work, 'node.log'))
    try:
        el('--offline', 'daemon', '-d')
        try:
            spend(el, wallet, spacenode, work, up, down)
        finally:
            el('stop', check=False)
    finally:
        node.terminate()
        node.wait(10)
    if FAILED:
        raise SystemExit(f"interop-electrum: {len(FAILED)} check(s) failed: {', '.join(FAILED)}")
    print("interop-electrum: all checks passed")


def spend(el, wallet, spacenode, work, up, down):
    el('load_wallet', '-w', wallet)
    address = el('getunusedaddress', '-w', wallet)
    funding = funding_tx(address, 200_000)
    el('addtransaction', funding.serialize().hex(), '-w', wallet)
    balance = json.loads(el('getbalance', '-w', wallet))
    result('addtransaction gives the offline wallet its UTXO', balance.get('unconfirmed') == '0.002', str(balance))

    unsigned = el('payto', foreign_address(), '0.0015', '--unsigned', '--fee', '0.00002', '-w', wallet)
    partial = el('signtransaction', unsigned, '-w', wallet)
    result("Electrum signs with the user's key only (not complete)", not all(c in '0123456789abcdef' for c in partial))

    t0 = time.monotonic()
    p, cosigned = ground_sign(spacenode, work, up, down, 'pay', partial)
    result('the node co-signs the PSBT Electrum exported', cosigned is not None,
           f'{time.monotonic() - t0:.1f} s' if cosigned else p.stdout + p.stderr)
    if cosigned is None:
        return
    final = el('satellite_merge', partial, cosigned, '-w', wallet)
    complete = all(c in '0123456789abcdef' for c in final)
    result("satellite_merge finalises with the node's signature", complete, final[:60])
    if complete:
        try:
            tx = verify(final, funding)
            result('the final transaction verifies (VerifyScript, P2SH+WITNESS)', True,
                   f'{len(final) // 2} bytes, txid {tx.GetTxid()[::-1].hex()}')
        except Exception as e:
            result('the final transaction verifies (VerifyScript, P2SH+WITNESS)', False, repr(e))

    # Over the policy's max-amount (1,000,000 sat): the node refuses, with its reason.
    el('addtransaction', funding_tx(el('getunusedaddress', '-w', wallet), 3_000_000).serialize().hex(), '-w', wallet)
    big = el('payto', foreign_address(), '0.02', '--fee', '0.00002', '-w', wallet)
    p, refused = ground_sign(spacenode, work, up, down, 'big', big)
    result("a payment over the node's policy is refused with the signer's reason",
           refused is None and 'max-amount' in p.stdout + p.stderr, (p.stdout + p.stderr).strip().splitlines()[-1][:160])

    p = el('satellite_merge', big, cosigned, '-w', wallet, check=False)
    result('merging the co-signature of another transaction is refused in words',
           p.returncode != 0 and 'not the same transaction' in p.stdout + p.stderr, (p.stdout + p.stderr).strip()[:160])


if __name__ == '__main__':
    main()
