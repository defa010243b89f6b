"""The satellite co-signer plug-in for Electrum 4.3.4 (Debian's package).

A 2-of-3 native segwit multisig wallet (p2wsh, sortedmulti, BIP-48 keys) whose second cosigner is
a satellite node running spacenode, reached through a spacenode ground server's HTTP API
(`docs/server-api.md` in the spacenode repository). The plug-in creates such a wallet (the node's
key comes from the server, checked by the server against the node's signed identity), registers
its descriptor with the server, and when a transaction needs the satellite's signature submits
the PSBT, asks the user for the confirmation code, waits for the outcome and merges the
co-signed PSBT back into the transaction (Electrum then finalises it).

Electrum 4.3.4 loads plug-ins only from its own package directory: run it through the launcher
`electrum-plugin/electrum-satellite`, which puts this directory on `electrum.plugins.__path__`
without changing the installed package.
"""

from electrum.i18n import _

fullname = _('Satellite co-signer')
description = _(
    "Adds a spacenode satellite as the co-signer of a 2-of-3 multisig wallet: creates the wallet "
    "with the satellite's key from a ground server, and gets the satellite's signature on a "
    "transaction through that server after you confirm it with a one-time code."
)
available_for = ['qt']  # the commands need no plug-in instance: the launcher registers them
