#!/usr/bin/env python3
"""Electrum (Debian's 4.3.4, unmodified, through the plug-in's launcher) spends from a 2-of-3
wallet whose second cosigner is a real spacenode node, and the final transaction verifies.

    interop-electrum.py SPACENODE LAUNCHER WORKDIR server|direct

1. Keys: the node's account key from `spacenode node-key` (a fresh sim node); the user's BIP-39
   seed and an offline backup key made with embit (an independent BIP-32 implementation), whose
   private key is thrown away: only the user's key and the node's can sign.
2. The wallet's descriptor as embit writes it goes into the node's registry (a `server` line,
   provisioned before the first boot); the node runs (`spacenode run`, real partitions under
   seccomp).
3. server: a `spacenode server` for that registry entry (its `registered` list holds the
   descriptor), a user added with `server add-user`; the server fetches the node's signed key
   export over the link.
4. `electrum-satellite satellite_create` makes the Electrum wallet from the seed, the backup key
   and the node's key (server: fetched with `GET /v1/node`, and the wallet registered with
   `POST /v1/wallets`; direct: `--node_key`); its descriptor must equal embit's, checksum
   included, and the server must call it `registered`.
5. An Electrum daemon (testnet, offline) loads the wallet; `addtransaction` gives it a UTXO (a
   funding transaction built with embit paying the wallet's first address); `payto --unsigned`
   makes the payment PSBT; `signtransaction` signs with the user's key.
6. The satellite's signature. server: the plug-in's `satellite_submit`, `satellite_confirm` with
   the TOTP code pyotp computes from the user's otpauth URI, `satellite_wait`. direct:
   `spacenode ground sign` uplinks the PSBT Electrum exported.
7. `satellite_merge` (combine, `add_info_from_wallet`, finalise) gives the final transaction;
   python-bitcointx's VerifyScript (its own script interpreter) accepts every input against the
   funding output it spends, with the P2SH and WITNESS rules.
8. A payment over the node's policy is refused with the signer's reason, and merging the
   co-signature of another transaction is refused in words.
9. server: the daemon stopped, Electrum's Qt window (offscreen) opens the wallet and a new
   user-signed payment; scripts/interop-electrum-qt.py clicks the plug-in's button, types the
   code, and the dialog's transaction must come back complete and verify (screenshots kept).

Prints one PASS/FAIL line per check; exits non-zero on any failure.
"""
import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pyotp

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


def free_tcp_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


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
        self.datadir = datadir
        self.base = [launcher, '--testnet', '-D', datadir]

    def __call__(self, *args, check=True):
        p = run(self.base + list(args), check=check)
        return p.stdout.strip() if check else p


def account_key(mnemonic):
    """`[fp/48h/1h/0h/2h]tpub` of a BIP-39 mnemonic, with embit (not Electrum's code)."""
    root = bip32.HDKey.from_seed(bip39.mnemonic_to_seed(mnemonic), version=NETWORKS['test']['xprv'])
    acct = root.derive("m/48h/1h/0h/2h").to_public()
    return f"[{root.my_fingerprint.hex()}/48h/1h/0h/2h]{acct.to_base58(NETWORKS['test']['xpub'])}"


def expected_descriptor(node_key, user_key, backup_key):
    """The wallet's descriptor as embit writes it (node key first, as the plug-in orders it)."""
    body = 'wsh(sortedmulti(2,' + ','.join(k + '/<0;1>/*' for k in (node_key, user_key, backup_key)) + '))'
    return add_checksum(body)


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


class Direct:
    """The satellite's signature straight from the node: `spacenode ground sign` on the PSBT
    Electrum exported (what a ground operator does by hand)."""

    def __init__(self, spacenode, work, up, down):
        self.spacenode, self.work, self.up, self.down = spacenode, work, up, down

    def create_args(self, node_key):
        return ['--node_key', node_key]

    def cosign(self, el, wallet, name, psbt_b64):
        """-> (co-signed PSBT or None, the words of the outcome)."""
        src = os.path.join(self.work, f'{name}.psbt')
        out = os.path.join(self.work, f'{name}.signed.psbt')
        with open(src, 'wb') as f:
            f.write(base64.b64decode(psbt_b64))
        p = run([self.spacenode, 'ground', 'sign', '--node', f'127.0.0.1:{self.up}',
                 '--listen', f'127.0.0.1:{self.down}', '--state', os.path.join(self.work, 'ground'),
                 '--server', '7', '--key', os.path.join(self.work, 'server.key'), '--no-expiry',
                 '--out', out, src], check=False)
        if p.returncode != 0:
            return None, (p.stdout + p.stderr).strip()
        return base64.b64encode(open(out, 'rb').read()).decode(), p.stdout.strip().splitlines()[-1]


class Server:
    """The satellite's signature through a running `spacenode server`: the plug-in's commands
    submit the PSBT, confirm it with the TOTP code (computed with pyotp from the otpauth URI
    `server add-user` printed, as the user's authenticator app would) and wait for the outcome."""

    def __init__(self, spacenode, work, up, down, state, descriptor):
        self.work = work
        port = free_tcp_port()
        self.url = f'http://127.0.0.1:{port}'
        identity = run([spacenode, 'ground', 'admin', 'identity', '--state', state]).stdout.strip()
        config = os.path.join(work, 'server.toml')
        with open(config, 'w') as f:
            f.write(f'listen = "127.0.0.1:{port}"\ndatabase = "server.db"\nidentity = "{identity}"\n'
                    f'registered = ["{descriptor}"]\n\n'
                    f'[node]\nuplink = "127.0.0.1:{up}"\nlisten = "127.0.0.1:{down}"\n'
                    f'state = "ground"\nserver = 7\nkey = "server.key"\n\n'
                    '[batch]\nwindows = []\npoll_ms = 200\nlifetime_s = 0\n')
        added = run([spacenode, 'server', '--config', config, 'add-user', 'alice']).stdout
        fields = dict(line.split(':', 1) for line in added.splitlines() if ':' in line)
        self.token = fields['token'].strip()
        self.totp = pyotp.parse_uri(fields['totp'].strip())
        self.last_step = None
        self.log = open(os.path.join(work, 'server.log'), 'w')
        self.proc = subprocess.Popen([spacenode, 'server', '--config', config],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:  # up, and the node's key fetched from the node
            if self.proc.poll() is not None:
                raise SystemExit(f"interop-electrum: the server exited:\n{open(self.log.name).read()}")
            try:
                req = urllib.request.Request(self.url + '/v1/node', headers={'Authorization': f'Bearer {self.token}'})
                with urllib.request.urlopen(req, timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"interop-electrum: the server never had the node's key:\n{open(self.log.name).read()}")
            time.sleep(0.3)

    def create_args(self, node_key):
        return ['--satellite_server', self.url, '--satellite_token', self.token]

    def cosign(self, el, wallet, name, psbt_b64):
        req = json.loads(el('satellite_submit', psbt_b64, '-w', wallet))
        if req.get('status') != 'awaiting-confirmation':
            return None, f'submitted: {req}'
        el('satellite_confirm', req['request_id'], self.fresh_code(), '-w', wallet)
        st = json.loads(el('satellite_wait', req['request_id'], '--wait_s', '60', '-w', wallet))
        if st.get('status') == 'cosigned':
            return st['psbt'], f"request {req['request_id']} cosigned"
        return None, f"request {req['request_id']} {st.get('status')}: {st.get('reason', '')}"

    def fresh_code(self):
        """The code of the current 30-second step, waiting for the next step if this user's last
        confirmation used this one (the server takes each code once, RFC 6238 section 5.2)."""
        step = int(time.time()) // 30
        if self.last_step is not None and step <= self.last_step:
            time.sleep((self.last_step + 1) * 30 - time.time() + 0.2)
            step = int(time.time()) // 30
        self.last_step = step
        return self.totp.at(step * 30)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def verify(final_hex, fundings):
    """VerifyScript on every input, against the funding transaction it spends."""
    tx = CTransaction.deserialize(bytes.fromhex(final_hex))
    by_txid = {f.txid(): f for f in fundings}
    for i, txin in enumerate(tx.vin):
        prev = by_txid[txin.prevout.hash[::-1]].vout[txin.prevout.n]
        VerifyScript(txin.scriptSig, CScript(prev.script_pubkey.data), tx, i,
                     flags={SCRIPT_VERIFY_P2SH, SCRIPT_VERIFY_WITNESS},
                     amount=prev.value, witness=tx.wit.vtxinwit[i].scriptWitness)
    return tx


def check_final(name, final, fundings):
    try:
        tx = verify(final, fundings)
        result(name, True, f'{len(final) // 2} bytes, txid {tx.GetTxid()[::-1].hex()}')
    except Exception as e:
        result(name, False, repr(e))


def main():
    spacenode, launcher, work, mode = sys.argv[1:5]
    os.makedirs(work, exist_ok=True)
    state = os.path.join(work, 'node')
    el = Electrum(launcher, os.path.join(work, 'electrum'))
    wallet = os.path.join(work, 'electrum', 'satellite-wallet')

    # The keys, and the wallet's descriptor as embit writes it: the node's registry gets it in
    # the clean room (a node in service gets it by `ground admin add-server`).
    node_key = run([spacenode, 'node-key', '--state', state, '--network', 'testnet', '--account', '0']).stdout.strip()
    seed = bip39.mnemonic_from_bytes(os.urandom(16))
    backup = account_key(bip39.mnemonic_from_bytes(os.urandom(16)))
    descriptor = expected_descriptor(node_key, account_key(seed), backup)
    server_pub = run([spacenode, 'ground', 'keygen', '--out', os.path.join(work, 'server.key')]).stdout.split()[-1]
    prov = os.path.join(work, 'prov.txt')
    with open(prov, 'w') as f:
        f.write('spacenode-signer-registry 1\n'
                f'server id=7 key={server_pub} network=testnet account=0 descriptor={descriptor} no-expiry\n'
                'rule allow max-amount=1000000 max-fee=20000\nrule deny\n')
    run([spacenode, 'provision', '--state', state, prov])
    node, up, down = start_node(spacenode, state, os.path.join(work, 'node.log'))
    cosigner = None
    try:
        cosigner = (Direct(spacenode, work, up, down) if mode == 'direct'
                    else Server(spacenode, work, up, down, state, descriptor))
        created = json.loads(el('--offline', 'satellite_create', seed, backup, *cosigner.create_args(node_key),
                                '-w', wallet))
        result("satellite_create makes the wallet embit describes (keys, origins, BIP-380 checksum)",
               created['descriptor'] == descriptor, created['descriptor'][:60] + '...')
        result('satellite_descriptor writes it again, the node key first',
               el('--offline', 'satellite_descriptor', '-w', wallet) == descriptor)
        if mode == 'server':
            result('the server registered the wallet (its descriptor is in the node\'s registry)',
                   created.get('status') == 'registered', str(created.get('status')))
        el('--offline', 'daemon', '-d')
        try:
            fundings, qt_psbt = spend(el, wallet, cosigner)
        finally:
            el('stop', check=False)
        if mode == 'server' and qt_psbt is not None:
            qt_spend(el, launcher, wallet, cosigner, qt_psbt, fundings, os.path.join(work, 'qt'))
    finally:
        if isinstance(cosigner, Server):
            cosigner.stop()
        node.terminate()
        node.wait(10)
    if FAILED:
        raise SystemExit(f"interop-electrum: {len(FAILED)} check(s) failed: {', '.join(FAILED)}")
    print("interop-electrum: all checks passed")


def spend(el, wallet, cosigner):
    """The command-line spend; returns the funding transactions and a user-signed PSBT for the
    Qt window (or None when the spend failed)."""
    el('load_wallet', '-w', wallet)
    address = el('getunusedaddress', '-w', wallet)
    fundings = [funding_tx(address, 200_000)]
    el('addtransaction', fundings[0].serialize().hex(), '-w', wallet)
    balance = json.loads(el('getbalance', '-w', wallet))
    result('addtransaction gives the offline wallet its UTXO', balance.get('unconfirmed') == '0.002', str(balance))

    unsigned = el('payto', foreign_address(), '0.0015', '--unsigned', '--fee', '0.00002', '-w', wallet)
    partial = el('signtransaction', unsigned, '-w', wallet)
    result("Electrum signs with the user's key only (not complete)", not all(c in '0123456789abcdef' for c in partial))

    t0 = time.monotonic()
    cosigned, words = cosigner.cosign(el, wallet, 'pay', partial)
    result('the node co-signs the PSBT Electrum exported', cosigned is not None,
           f'{time.monotonic() - t0:.1f} s; {words[:120]}')
    if cosigned is None:
        return fundings, None
    final = el('satellite_merge', partial, cosigned, '-w', wallet)
    complete = all(c in '0123456789abcdef' for c in final)
    result("satellite_merge finalises with the node's signature", complete, final[:60])
    if complete:
        check_final('the final transaction verifies (VerifyScript, P2SH+WITNESS)', final, fundings)

    # Over the policy's max-amount (1,000,000 sat): the node refuses, with its reason.
    fundings.append(funding_tx(el('getunusedaddress', '-w', wallet), 3_000_000))
    el('addtransaction', fundings[1].serialize().hex(), '-w', wallet)
    big = el('payto', foreign_address(), '0.02', '--fee', '0.00002', '-w', wallet)
    refused, words = cosigner.cosign(el, wallet, 'big', big)
    result("a payment over the node's policy is refused with the signer's reason",
           refused is None and 'max-amount' in words, words.splitlines()[-1][:160])

    p = el('satellite_merge', big, cosigned, '-w', wallet, check=False)
    result('merging the co-signature of another transaction is refused in words',
           p.returncode != 0 and 'not the same transaction' in p.stdout + p.stderr, (p.stdout + p.stderr).strip()[:160])
    return fundings, el('payto', foreign_address(), '0.0005', '--fee', '0.00002', '-w', wallet)


def qt_spend(el, launcher, wallet, server, psbt, fundings, out):
    """Electrum's Qt window (offscreen), the daemon stopped: the plug-in's button gets the
    satellite's signature through the server (scripts/interop-electrum-qt.py clicks it)."""
    for key, value in (('dont_show_testnet_warning', 'true'), ('check_updates', 'false'),
                       ('use_satellite_cosigner', 'true')):
        el('--offline', 'setconfig', key, value)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, 'psbt.txt'), 'w') as f:
        f.write(psbt)
    here = os.path.dirname(os.path.abspath(__file__))
    p = run(['/usr/bin/python3', os.path.join(here, 'interop-electrum-qt.py'), launcher, el.datadir, wallet,
             os.path.join(out, 'psbt.txt'), server.fresh_code(), out], check=False,
            env={**os.environ, 'QT_QPA_PLATFORM': 'offscreen'}, timeout=180)
    try:
        got = json.load(open(os.path.join(out, 'result.json')))
    except (OSError, ValueError):
        result('the Qt window ran the button', False, (p.stdout + p.stderr)[-400:])
        return
    result('Qt: the transaction dialog shows "Ask the satellite to co-sign"', got['button_visible'],
           ', '.join(os.path.basename(x) for x in got['screenshots']))
    result('Qt: the button gets the co-signature and the dialog\'s transaction completes',
           got['final'] is not None, ' | '.join(got['messages'])[:200])
    if got['final']:
        check_final('Qt: the final transaction verifies (VerifyScript, P2SH+WITNESS)', got['final'], fundings)


if __name__ == '__main__':
    main()
