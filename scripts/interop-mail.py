"""E-mail confirmation of the ground server (issue 20) with a real SMTP sink (aiosmtpd).

A real node (`spacenode run`, provisioned with this server and a wallet) and a real
`spacenode server` whose [smtp] table points at an aiosmtpd server on loopback; a user added
with `add-user --email`. Checks:
1. a submission answers confirm_by "email", and the sink receives one mail for it, to the
   user's address, with the link {public_url}/v1/confirm/{64 hex digits};
2. following the link (GET) confirms it: the request is queued (and leaves
   awaiting-confirmation for good);
3. the same link again is refused (409, "link-used"); an unknown link is 404;
4. with the sink stopped, a submission answers mail_error and the request stays
   awaiting-confirmation, with the reason in its status.

Prints one PASS/FAIL line per check; exits non-zero on any failure.
Usage: interop-mail.py SPACENODE WORKDIR
"""
import email
import email.policy
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from aiosmtpd.controller import Controller
from embit import bip32, script
from embit.descriptor.checksum import add_checksum
from embit.networks import NETWORKS
from embit.psbt import PSBT
from embit.transaction import Transaction, TransactionInput, TransactionOutput

FAILED = []


def result(name, ok, detail=''):
    print(f"interop-mail: {'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        FAILED.append(name)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"interop-mail: `{' '.join(cmd[:3])} ...` failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    return p.stdout


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Sink:
    """aiosmtpd's handler: keeps every message it is given."""

    def __init__(self):
        self.mails = []

    async def handle_DATA(self, server, session, envelope):
        # Decoded as a mail client would (lettre may send the body quoted-printable).
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.mails.append((envelope.rcpt_tos, msg.get_body(('plain',)).get_content()))
        return '250 OK'


def call(method, url, token=None, body=None):
    headers = {'Content-Type': 'application/json'}
    if token:
        headers['Authorization'] = f'Bearer {token}'
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def account_key(seed):
    root = bip32.HDKey.from_seed(seed, version=NETWORKS['test']['xprv'])
    acct = root.derive("m/48h/1h/0h/2h").to_public()
    return f"[{root.my_fingerprint.hex()}/48h/1h/0h/2h]{acct.to_base58(NETWORKS['test']['xpub'])}"


def a_psbt():
    """A well-formed BIP-174 PSBT (embit's writer); what it spends does not matter here."""
    key = bip32.HDKey.from_seed(os.urandom(32))
    tx = Transaction(vin=[TransactionInput(os.urandom(32), 0)],
                     vout=[TransactionOutput(10000, script.p2wpkh(key.key.get_public_key()))])
    return PSBT(tx).to_string()


def start(cmd, log_path, ready, what):
    log = open(log_path, 'w')
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"interop-mail: the {what} did not start:\n{open(log_path).read()}")
        time.sleep(0.2)
    return proc


def main():
    spacenode, work = sys.argv[1:3]
    os.makedirs(work, exist_ok=True)
    state = os.path.join(work, 'node')
    node_key = run([spacenode, 'node-key', '--state', state, '--network', 'testnet', '--account', '0']).strip()
    body = 'wsh(sortedmulti(2,' + ','.join(k + '/<0;1>/*' for k in (
        node_key, account_key(os.urandom(32)), account_key(os.urandom(32)))) + '))'
    descriptor = add_checksum(body)
    server_pub = run([spacenode, 'ground', 'keygen', '--out', os.path.join(work, 'server.key')]).split()[-1]
    prov = os.path.join(work, 'prov.txt')
    with open(prov, 'w') as f:
        f.write('spacenode-signer-registry 1\n'
                f'server id=7 key={server_pub} network=testnet account=0 descriptor={descriptor} no-expiry\n'
                'rule allow max-amount=1000000 max-fee=20000\nrule deny\n')
    run([spacenode, 'provision', '--state', state, prov])
    up, down = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM)
    node_log = os.path.join(work, 'node.log')
    node = start([spacenode, 'run', '--state', state, '--radio-uplink', f'127.0.0.1:{up}',
                  '--ground', f'127.0.0.1:{down}'], node_log,
                 lambda: '[comms] INFO  SA 2:' in open(node_log).read(), 'node')
    sink = Sink()
    smtp_port = free_port()
    smtp = Controller(sink, hostname='127.0.0.1', port=smtp_port)
    smtp.start()
    server = None
    try:
        port = free_port()
        url = f'http://127.0.0.1:{port}'
        public_url = f'{url}/'  # a trailing slash is dropped by the server
        identity = run([spacenode, 'ground', 'admin', 'identity', '--state', state]).strip()
        config = os.path.join(work, 'server.toml')
        with open(config, 'w') as f:
            f.write(f'listen = "127.0.0.1:{port}"\ndatabase = "server.db"\nidentity = "{identity}"\n'
                    f'registered = ["{descriptor}"]\npublic_url = "{public_url}"\n\n'
                    f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\nfrom = "spacenode <ground@example.org>"\n\n'
                    f'[node]\nuplink = "127.0.0.1:{up}"\nlisten = "127.0.0.1:{down}"\n'
                    f'state = "ground"\nserver = 7\nkey = "server.key"\n\n'
                    '[batch]\nwindows = []\npoll_ms = 200\nlifetime_s = 0\n')
        added = run([spacenode, 'server', '--config', config, 'add-user', 'eve', '--email', 'eve@example.org'])
        fields = dict(line.split(':', 1) for line in added.splitlines() if ':' in line)
        token = fields['token'].strip()
        result('add-user --email prints no TOTP secret', 'totp' not in fields and 'confirm' in fields, added.strip().splitlines()[-1])
        server_log = os.path.join(work, 'server.log')
        server = start([spacenode, 'server', '--config', config], server_log,
                       lambda: call('GET', url + '/v1/node', token)[0] == 200
                       if '"serving the API"' in open(server_log).read() else False, 'server')
        status, w = call('POST', url + '/v1/wallets', token, {'descriptor': descriptor})
        if status != 201 or w.get('status') != 'registered':
            raise SystemExit(f'interop-mail: the wallet was not registered: {status} {w}')

        status, req = call('POST', url + '/v1/requests', token, {'wallet_id': w['wallet_id'], 'psbt': a_psbt()})
        result('a submission of an e-mail user answers confirm_by "email"',
               status == 201 and req.get('confirm_by') == 'email' and 'mail_error' not in req, json.dumps(req))
        status, by_code = call('POST', f"{url}/v1/requests/{req.get('request_id')}/confirm", token, {'code': '123456'})
        result('a TOTP code cannot confirm it (409 confirm-by-email)',
               status == 409 and by_code.get('error') == 'confirm-by-email', by_code.get('message', ''))
        deadline = time.monotonic() + 10
        while not sink.mails and time.monotonic() < deadline:
            time.sleep(0.1)
        links = [m for rcpt, text in sink.mails
                 for m in re.findall(re.escape(url) + r'/v1/confirm/[0-9a-f]{64}\b', text)]
        result('the SMTP sink got one mail, to the user, with one link under public_url',
               len(sink.mails) == 1 and sink.mails[0][0] == ['eve@example.org'] and len(links) == 1
               and req.get('request_id', '-') in sink.mails[0][1],
               f'{len(sink.mails)} mail(s), links {links}')
        if links:
            status, ok = call('GET', links[0])
            result('following the link confirms the request', status == 200 and ok.get('status') == 'queued'
                   and ok.get('request_id') == req['request_id'], json.dumps(ok))
            status, st = call('GET', f"{url}/v1/requests/{req['request_id']}", token)
            result('the request left awaiting-confirmation (queued for the batcher)',
                   st.get('status') in ('queued', 'uplinked', 'cosigned', 'refused'), json.dumps(st)[:200])
            status, again = call('GET', links[0])
            result('the same link again is refused (409 link-used, the request queued)',
                   status == 409 and again.get('error') == 'link-used' and 'is queued' in again.get('message', ''),
                   f'{status} {again.get("message")}')
        status, unknown = call('GET', url + '/v1/confirm/' + '0' * 64)
        result('an unknown link is 404 with a sentence', status == 404 and unknown.get('error') == 'unknown-link',
               unknown.get('message', ''))

        smtp.stop()
        status, req2 = call('POST', url + '/v1/requests', token, {'wallet_id': w['wallet_id'], 'psbt': a_psbt()})
        status2, st2 = call('GET', f"{url}/v1/requests/{req2.get('request_id')}", token)
        result('with the SMTP relay down, the answer says why and the request stays unconfirmed',
               status == 201 and 'mail_error' in req2 and st2.get('status') == 'awaiting-confirmation'
               and 'SMTP relay' in st2.get('reason', ''), req2.get('mail_error', '(no mail_error)'))
        result('the server log says why too', 'confirmation e-mail not sent' in open(server_log).read())
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        node.terminate()
        node.wait(10)
    if FAILED:
        raise SystemExit(f"interop-mail: {len(FAILED)} check(s) failed: {', '.join(FAILED)}")
    print('interop-mail: all checks passed')


if __name__ == '__main__':
    main()
