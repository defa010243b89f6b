"""The satellite wallet: creating the 2-of-3 wallet, its descriptor, and merging a co-signed PSBT.

The wallet is Electrum's own `2of3` multisig wallet on native segwit (`p2wsh`, Electrum's
sortedmulti), with three BIP-32 account keys that all carry their key origin
(`[fingerprint/48h/COINh/ACCOUNTh/2h]`), because the satellite refuses a PSBT whose inputs and
change lack full key origins:
- the user's own key, derived from the user's BIP-39 seed at `m/48h/COINh/ACCOUNTh/2h`;
- the satellite's account key, as the ground server hands it out (`GET /v1/node`) or as
  `spacenode node-key` prints it;
- a backup key the user keeps offline (public key with its origin only).

Electrum wants every cosigner key in the same xtype: all three are converted to `p2wsh`
(Vpub/Zpub), as `electrum convert_xkey KEY p2wsh` does. The descriptor the satellite's registry
needs is written back with plain `tpub`/`xpub` keys, the node's exactly as the server gave it.

Avoids: any network access (the server is reached by `api.py`), and keeping any key but the
user's own private key (in Electrum's wallet file, encrypted with the wallet's password).
"""

import re
from typing import Callable, Optional, Tuple

from electrum import keystore
from electrum.bip32 import BIP32Node, convert_bip32_path_to_list_of_uint32
from electrum.keystore import bip39_to_seed, bip39_is_checksum_valid, purpose48_derivation
from electrum.storage import WalletStorage
from electrum.transaction import PartialTransaction, tx_from_any
from electrum.wallet import Multisig_Wallet, Wallet
from electrum.wallet_db import WalletDB

# The wallet file's key under which the plug-in keeps the server's address, the user's token and
# the registered wallet's id.
DB_KEY = 'satellite_cosigner'

KEY_TEXT = re.compile(r'^\[([0-9a-fA-F]{8})((?:/[0-9]+[hH\']?)*)\]([1-9A-HJ-NP-Za-km-z]+)$')


class SatelliteWalletError(Exception):
    """Something about the wallet or a key is not what the satellite co-signer needs; the message
    says what and what to do."""


def descriptor_checksum(desc: str) -> str:
    """The BIP-380 descriptor checksum (8 characters).

    Written out from BIP-380's reference algorithm because neither Electrum 4.3.4 nor Debian's
    Python packages have one; interop checks it against embit's and the satellite refuses a
    descriptor whose checksum is wrong."""
    input_charset = (
        "0123456789()[],'/*abcdefgh@:$%{}"
        "IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~"
        "ijklmnopqrstuvwxyzABCDEFGH`#\"\\ "
    )
    checksum_charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
    generator = [0xF5DEE51989, 0xA9FDCA3312, 0x1BAB10E32D, 0x3706B1677A, 0x644D626FFD]

    def polymod(c: int, val: int) -> int:
        c0 = c >> 35
        c = ((c & 0x7FFFFFFFF) << 5) ^ val
        for i in range(5):
            if (c0 >> i) & 1:
                c ^= generator[i]
        return c

    c, cls, clscount = 1, 0, 0
    for ch in desc:
        pos = input_charset.find(ch)
        if pos == -1:
            raise SatelliteWalletError(f"descriptor character {ch!r} is not allowed by BIP-380")
        c = polymod(c, pos & 31)
        cls = cls * 3 + (pos >> 5)
        clscount += 1
        if clscount == 3:
            c = polymod(c, cls)
            cls, clscount = 0, 0
    if clscount > 0:
        c = polymod(c, cls)
    for _ in range(8):
        c = polymod(c, 0)
    c ^= 1
    return ''.join(checksum_charset[(c >> (5 * (7 - i))) & 31] for i in range(8))


def parse_origin_key(text: str) -> Tuple[str, str, str]:
    """`[fp/48h/1h/0h/2h]tpub...` (optionally followed by `/<0;1>/*`) -> (fp, 'm/48h/...', xpub)."""
    text = text.strip()
    if text.endswith('/<0;1>/*'):
        text = text[: -len('/<0;1>/*')]
    m = KEY_TEXT.match(text)
    if not m:
        raise SatelliteWalletError(
            f"the key {text[:40]!r}... is not `[fingerprint/path]xpub` (for example "
            f"`[52dbab71/48h/1h/0h/2h]tpub...`, as `spacenode node-key` prints it): give the key "
            f"with its origin"
        )
    fp, path, xpub = m.group(1).lower(), m.group(2), m.group(3)
    try:
        BIP32Node.from_xkey(xpub)
    except Exception as e:
        raise SatelliteWalletError(f"the key after {m.group(1)}{path} is not an extended public key: {e}")
    return fp, 'm' + path.replace("'", 'h').replace('H', 'h'), xpub


def _cosigner_keystore(text: str, xtype: str) -> keystore.BIP32_KeyStore:
    fp, path, xpub = parse_origin_key(text)
    node = BIP32Node.from_xkey(xpub)
    if node.is_private():
        raise SatelliteWalletError("a cosigner key must be public (tpub/xpub), never a private key")
    ks = keystore.from_xpub(node._replace(xtype=xtype).to_xpub())
    try:
        ks.add_key_origin(derivation_prefix=path, root_fingerprint=fp)
    except Exception as e:
        raise SatelliteWalletError(f"the key {text[:24]}... does not match its origin: {e}")
    return ks


def origin_key_text(ks: keystore.Xpub) -> str:
    """A keystore's `[fp/48h/...]tpub` text, with the plain (`standard`) xtype."""
    fp = ks.get_root_fingerprint()
    prefix = ks.get_derivation_prefix()
    if fp is None or prefix is None:
        raise SatelliteWalletError(
            "a key of this wallet has no key origin (fingerprint and path): the satellite refuses "
            "PSBTs without full key origins; create the wallet with the satellite co-signer plug-in"
        )
    path = ''.join(
        '/' + (f"{i & 0x7FFFFFFF}h" if i & 0x80000000 else str(i))
        for i in convert_bip32_path_to_list_of_uint32(prefix)
    )
    xpub = BIP32Node.from_xkey(ks.get_master_public_key())._replace(xtype='standard').to_xpub()
    return f"[{fp}{path}]{xpub}"


def wallet_descriptor(wallet, node_key: Optional[str] = None) -> str:
    """The wallet's `wsh(sortedmulti(2,...))#checksum`, node key first when it is known."""
    if not isinstance(wallet, Multisig_Wallet) or wallet.wallet_type != '2of3' or wallet.txin_type != 'p2wsh':
        raise SatelliteWalletError(
            f"this wallet is {wallet.wallet_type} {getattr(wallet, 'txin_type', '')}: the satellite "
            f"co-signs only 2-of-3 native segwit (p2wsh) multisig wallets"
        )
    keys = [origin_key_text(ks) for ks in wallet.get_keystores()]
    if node_key is not None:
        node = origin_key_text(_cosigner_keystore(node_key, 'standard'))
        if node not in keys:
            raise SatelliteWalletError("the satellite's key is not one of this wallet's keys")
        keys.remove(node)
        keys.insert(0, node)
    body = 'wsh(sortedmulti(2,' + ','.join(k + '/<0;1>/*' for k in keys) + '))'
    return body + '#' + descriptor_checksum(body)


def create_wallet(path: str, config, *, seed: str, node_key: str, backup_key: str,
                  account: int, password: Optional[str] = None,
                  register: Optional[Callable[[str], dict]] = None):
    """Creates the 2-of-3 wallet file at `path` and returns the loaded wallet.

    `seed` is the user's BIP-39 mnemonic (its key at `m/48h/COINh/ACCOUNTh/2h` signs for the
    user); `node_key` and `backup_key` are `[fp/path]tpub` texts. `register`, when given, is
    called with the descriptor before anything is written: what it returns (with `node_key`) is
    kept in the wallet file under `DB_KEY`, and if it raises no file is written (so a failed
    registration can simply be run again). Without it only the node's key is kept there."""
    storage = WalletStorage(path)
    if storage.file_exists():
        raise SatelliteWalletError(f"{path} exists already: choose a new wallet file")
    checksum_ok, wordlist_ok = bip39_is_checksum_valid(seed)
    if not (checksum_ok and wordlist_ok):
        raise SatelliteWalletError(
            "the seed is not a valid BIP-39 mnemonic (unknown word or bad checksum): check it word by word"
        )
    derivation = purpose48_derivation(account, xtype='p2wsh')
    user = keystore.from_bip43_rootseed(bip39_to_seed(seed, ''), derivation, xtype='p2wsh')
    node = _cosigner_keystore(node_key, 'p2wsh')
    backup = _cosigner_keystore(backup_key, 'p2wsh')
    node_prefix = convert_bip32_path_to_list_of_uint32(node.get_derivation_prefix())
    if len(node_prefix) != 4 or node_prefix[3] != 0x80000002:
        raise SatelliteWalletError(
            f"the satellite's key is at {node.get_derivation_prefix()}, not a BIP-48 p2wsh account "
            f"key (m/48h/COINh/ACCOUNTh/2h)"
        )
    xpubs = [k.get_master_public_key() for k in (user, node, backup)]
    if len(set(xpubs)) != 3:
        raise SatelliteWalletError("two of the three cosigner keys are the same: each cosigner needs its own key")
    db = WalletDB('', manual_upgrades=False)
    db.put('wallet_type', '2of3')
    for i, ks in enumerate((user, node, backup), start=1):
        db.put(f'x{i}/', ks.dump())
    wallet = Wallet(db, storage, config=config)
    # The node's key is kept to write the descriptor with it first, as the registry has it.
    db.put(DB_KEY, {'node_key': node_key} if register is None
           else register(wallet_descriptor(wallet, node_key)))
    wallet.update_password(old_pw=None, new_pw=password, encrypt_storage=bool(password))
    wallet.synchronize()
    wallet.save_db()
    return wallet


def psbt_for_satellite(wallet, tx_text: str) -> str:
    """The base64 PSBT to send for the satellite's signature: the transaction with the wallet's
    scripts, the previous transactions and every key's full origin (the satellite refuses less)."""
    tx = tx_from_any(tx_text)
    if not isinstance(tx, PartialTransaction) or tx.is_complete():
        raise SatelliteWalletError("the transaction is already complete: it needs no more signatures")
    tx.add_info_from_wallet(wallet, include_xpubs=True)
    missing = [i for i, txin in enumerate(tx.inputs()) if txin.utxo is None]
    if missing:
        raise SatelliteWalletError(
            f"input(s) {missing} lack their previous transaction, which the satellite needs to "
            f"check amounts: add the funding transaction to the wallet (addtransaction) first"
        )
    return tx.serialize()


def merge_cosigned(wallet, tx_text: str, cosigned_text: str) -> PartialTransaction:
    """Merges the satellite's signature (a co-signed PSBT of the same transaction) into `tx_text`
    and finalises the transaction when it has its two signatures.

    Electrum's command line has no combine; `add_info_from_wallet` gives the merged PSBT the
    wallet's scripts and keys so that it can finalise."""
    tx = tx_from_any(tx_text)
    cosigned = tx_from_any(cosigned_text)
    if not isinstance(tx, PartialTransaction) or not isinstance(cosigned, PartialTransaction):
        raise SatelliteWalletError("both transactions must be PSBTs (partially signed)")
    try:
        tx.combine_with_other_psbt(cosigned)
    except Exception as e:
        raise SatelliteWalletError(
            f"the co-signed PSBT is not the same transaction as this one ({e}): ask for the "
            f"satellite's signature on this transaction again"
        )
    tx.add_info_from_wallet(wallet)
    tx.finalize_psbt()
    return tx
