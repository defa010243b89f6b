"""The Qt side: an "Ask the satellite to co-sign" button in Electrum's transaction dialog.

Modelled on Electrum's own `cosigner_pool` plug-in (its `transaction_dialog` and
`transaction_dialog_update` hooks). The button shows for a transaction of a satellite wallet
(one created by `satellite_create` with a ground server) that the user has signed and that still
needs a signature. Clicking it:
1. submits the PSBT to the ground server (`POST /v1/requests`);
2. asks for the 6-digit code of the user's authenticator app and confirms (`.../confirm`), or,
   when the server confirms by e-mail, tells the user to open the mailed link;
3. waits for the satellite's answer (the request goes up in the next contact window);
4. merges the co-signed PSBT into the dialog's transaction, which Electrum then shows complete
   (ready to broadcast), or shows the refusal in the signer's words.
Network calls run in Electrum's `WaitingDialog` worker thread, never in the GUI thread.
"""

from functools import partial

from PyQt5.QtWidgets import QInputDialog, QLineEdit, QPushButton

from electrum.i18n import _
from electrum.plugin import BasePlugin, hook
from electrum.gui.qt.util import WaitingDialog

from .api import ServerClient
from .wallet import DB_KEY, SatelliteWalletError, merge_cosigned, psbt_for_satellite

# How long the dialog waits for the satellite's answer before telling the user to look again
# later (`satellite_wait` on the command line, or the button again: the server keeps the request).
WAIT_S = 600.0


class Plugin(BasePlugin):

    def is_available(self):
        return True

    def _server(self, wallet):
        info = wallet.db.get(DB_KEY) if wallet is not None else None
        return info if info and info.get('server') and info.get('wallet_id') else None

    @hook
    def transaction_dialog(self, d):
        if self._server(d.wallet) is None:
            return
        d.satellite_button = b = QPushButton(_("Ask the satellite to co-sign"))
        b.clicked.connect(partial(self.ask_satellite, d))
        d.buttons.insert(0, b)
        b.setVisible(False)

    @hook
    def transaction_dialog_update(self, d):
        b = getattr(d, 'satellite_button', None)
        if b is None:
            return
        # Like cosigner_pool: only a finalized dialog, with the user's own signature in already.
        b.setVisible(bool(d.finalized and d.tx is not None and not d.tx.is_complete()
                          and not d.wallet.can_sign(d.tx)))

    def ask_satellite(self, d):
        info = self._server(d.wallet)
        client = ServerClient(info['server'], info.get('token'))
        try:
            psbt = psbt_for_satellite(d.wallet, d.tx.serialize())
        except SatelliteWalletError as e:
            d.show_error(str(e))
            return

        def failed(exc_info):
            d.show_error(_("The satellite co-signer") + ":\n" + str(exc_info[1]))

        def submitted(request):
            if request.get('confirm_by') == 'email':
                d.show_message(_("The ground server mailed you a confirmation link for request {}: "
                                 "open it, then press OK to wait for the satellite.").format(request['request_id']))
                WaitingDialog(d, _("Waiting for the satellite (the request goes up at the next contact "
                                   "window)..."),
                              partial(client.wait, request['request_id'], WAIT_S),
                              partial(self.answered, d, request['request_id']), failed)
                return
            code, ok = QInputDialog.getText(
                d, _("Confirm the payment"),
                _("The ground server holds request {} until you confirm it.\n"
                  "Enter the 6-digit code your authenticator app shows now:").format(request['request_id']),
                QLineEdit.Normal, '')
            if not ok or not code.strip():
                d.show_message(_("Not confirmed: request {} expires unconfirmed at {}.")
                               .format(request['request_id'], request.get('expires_at', '?')))
                return
            WaitingDialog(d, _("Waiting for the satellite (the request goes up at the next contact "
                               "window)..."),
                          partial(self._confirm_and_wait, client, request['request_id'], code.strip()),
                          partial(self.answered, d, request['request_id']), failed)

        WaitingDialog(d, _("Sending the transaction to the ground server..."),
                      partial(client.submit, info['wallet_id'], psbt), submitted, failed)

    @staticmethod
    def _confirm_and_wait(client, request_id, code):
        client.confirm(request_id, code)
        return client.wait(request_id, WAIT_S)

    def answered(self, d, request_id, status):
        state = status.get('status')
        if state == 'cosigned' and status.get('psbt'):
            try:
                merged = merge_cosigned(d.wallet, d.tx.serialize(), status['psbt'])
            except SatelliteWalletError as e:
                d.show_error(str(e))
                return
            d.tx = merged
            d.update()
            d.show_message(_("The satellite co-signed request {}: the transaction is complete.")
                           .format(request_id) if merged.is_complete() else
                           _("The satellite's signature is in; the transaction needs more signatures."))
        elif state in ('refused', 'expired', 'cancelled'):
            d.show_error(_("Request {} was {}: {}").format(request_id, state, status.get('reason', '')))
        else:
            d.show_message(_("Request {} is {}; no answer yet. Look again later: "
                             "satellite_wait {}").format(request_id, state, request_id))
