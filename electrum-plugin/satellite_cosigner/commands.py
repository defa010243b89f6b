"""The plug-in's Electrum commands (command line and daemon JSON-RPC methods).

Electrum 4.3.4 builds its command line and its daemon's JSON-RPC methods from the `@command`
functions on `electrum.commands.Commands` that exist when it starts; `register()` (called by the
launcher before Electrum's `main()`) adds these:

- `satellite_create SEED BACKUP_KEY (--satellite_server URL --satellite_token T | --node_key KEY)`
  creates the 2-of-3 wallet file (`-w PATH`); with a server it fetches the node's key
  (`GET /v1/node`) and registers the descriptor (`POST /v1/wallets`);
- `satellite_descriptor` prints the wallet's descriptor (for the server, or a node's registry);
- `satellite_submit TX` submits a PSBT for the satellite's signature (`POST /v1/requests`);
- `satellite_confirm REQUEST_ID CODE` confirms it with the one-time code;
- `satellite_wait REQUEST_ID [--wait_s S]` waits for its outcome (the co-signed PSBT);
- `satellite_cancel REQUEST_ID` cancels a request not yet uplinked;
- `satellite_merge TX COSIGNED` merges the satellite's signature and finalises.

Blocking HTTP calls run on a worker thread, never on Electrum's event loop. Avoids: any new
dependency, and changing Electrum's files (the tables it reads are extended in memory).
"""

import asyncio
from functools import partial

from electrum import commands as ec
from electrum.bip32 import convert_bip32_path_to_list_of_uint32
from electrum.simple_config import SimpleConfig

from .api import ServerClient
from .wallet import (DB_KEY, SatelliteWalletError, create_wallet, merge_cosigned,
                     parse_origin_key, psbt_for_satellite, wallet_descriptor)

OPTIONS = {
    'satellite_server': (None, "The ground server's address, e.g. https://ground.example:8443"),
    'satellite_token': (None, "Your API token from the server's operator (spacenode server add-user)"),
    'node_key': (None, "The satellite's key [fp/48h/1h/ACCOUNTh/2h]tpub..., when not fetched from a server"),
    'wait_s': (None, "Seconds to wait for the satellite's answer (default 600)"),
}
PARAMS = {
    'backup_key': "The offline backup cosigner's key, [fingerprint/48h/1h/0h/2h]tpub...",
    'request_id': "The request's id, as satellite_submit printed it",
    'code': "The 6-digit code your authenticator app shows now",
    'cosigned': "The PSBT the satellite co-signed (base64)",
}


async def _blocking(fn, *args):
    """Runs a blocking call (HTTP, wallet file) on a worker thread, off Electrum's event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, partial(fn, *args))


def _client(wallet) -> tuple:
    info = wallet.db.get(DB_KEY)
    if not info or not info.get('server'):
        raise SatelliteWalletError(
            "this wallet has no satellite ground server: create it with satellite_create "
            "--satellite_server URL --satellite_token TOKEN"
        )
    return ServerClient(info['server'], info.get('token')), info


def _account(node_key: str) -> int:
    _, path, _ = parse_origin_key(node_key)
    ints = convert_bip32_path_to_list_of_uint32(path)
    if len(ints) != 4:
        raise SatelliteWalletError(f"the satellite's key is at {path}, not a BIP-48 account key")
    return ints[2] & 0x7FFFFFFF


def _register(client, token, node_key, descriptor) -> dict:
    """Registers the descriptor with the server; returns what the wallet file keeps."""
    reg = client.register_wallet(descriptor)
    return {'server': client.url, 'token': token, 'node_key': node_key,
            'wallet_id': reg['wallet_id'], 'status': reg.get('status')}


@ec.command('')
async def satellite_create(self, seed, backup_key, satellite_server=None, satellite_token=None,
                           node_key=None, password=None, wallet_path=None):
    """Create a 2-of-3 multisig wallet co-signed by a satellite. SEED is your BIP-39 mnemonic
    (your key is its m/48h/COINh/ACCOUNTh/2h); BACKUP_KEY is your offline backup cosigner's key
    with its origin. The satellite's key comes from --satellite_server (with --satellite_token),
    which also registers the wallet, or is given as --node_key."""
    if (satellite_server is None) == (node_key is None):
        raise SatelliteWalletError("give either --satellite_server (and --satellite_token) or --node_key")
    config = self.config if self.config is not None else SimpleConfig()
    path = wallet_path or config.get_wallet_path()
    register = None
    if satellite_server is not None:
        client = ServerClient(satellite_server, satellite_token)
        node_key = (await _blocking(client.node))['node_key']
        register = partial(_register, client, satellite_token, node_key)
    wallet = await _blocking(partial(create_wallet, path, config, seed=seed, node_key=node_key,
                                     backup_key=backup_key, account=_account(node_key),
                                     password=password, register=register))
    info = wallet.db.get(DB_KEY)
    out = {'wallet_path': path, 'descriptor': wallet_descriptor(wallet, node_key), 'node_key': node_key}
    if 'wallet_id' in info:
        out.update(wallet_id=info['wallet_id'], status=info['status'])
    return out


@ec.command('w')
async def satellite_cancel(self, request_id, wallet=None):
    """Cancel a request the ground server has not uplinked yet."""
    client, _ = _client(wallet)
    return await _blocking(client.cancel, request_id)


@ec.command('w')
async def satellite_descriptor(self, wallet=None):
    """The wallet's output descriptor, wsh(sortedmulti(2,...))#checksum, the satellite's key first."""
    info = wallet.db.get(DB_KEY) or {}
    return wallet_descriptor(wallet, info.get('node_key'))


@ec.command('w')
async def satellite_submit(self, tx, wallet=None):
    """Submit a transaction (PSBT) for the satellite's signature. Sign it with your own key first
    (signtransaction). Prints the request, which waits for your confirmation code."""
    client, info = _client(wallet)
    psbt = psbt_for_satellite(wallet, tx)
    return await _blocking(client.submit, info['wallet_id'], psbt)


@ec.command('w')
async def satellite_confirm(self, request_id, code, wallet=None):
    """Confirm a submitted request with the 6-digit code of your authenticator app."""
    client, _ = _client(wallet)
    return await _blocking(client.confirm, request_id, str(code).zfill(6))


@ec.command('w')
async def satellite_wait(self, request_id, wait_s=None, wallet=None):
    """Wait for the satellite's answer to a request: its status and, once co-signed, the PSBT."""
    client, _ = _client(wallet)
    return await _blocking(client.wait, request_id, float(wait_s or 600))


@ec.command('w')
async def satellite_merge(self, tx, cosigned, wallet=None):
    """Merge the satellite's co-signed PSBT into TX; prints the final transaction (hex) when both
    signatures are in, else the merged PSBT."""
    return merge_cosigned(wallet, tx, cosigned).serialize()


def register() -> None:
    """Adds the commands to Electrum's command tables (in memory) before Electrum starts."""
    for fn in (satellite_create, satellite_descriptor, satellite_submit, satellite_confirm,
               satellite_wait, satellite_cancel, satellite_merge):
        setattr(ec.Commands, fn.__name__, fn)
    ec.command_options.update(OPTIONS)
    ec.param_descriptions.update(PARAMS)

