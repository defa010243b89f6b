#!/usr/bin/python3
"""Drives Electrum's Qt window (offscreen) through the satellite co-signer's button.

    QT_QPA_PLATFORM=offscreen interop-electrum-qt.py LAUNCHER DATADIR WALLET PSBT_FILE CODE OUT_DIR

Runs the plug-in's launcher (so Electrum, the plug-in and its Qt hooks are exactly what a user
runs) with a test driver hooked onto Electrum's `init_qt`: once the wallet's window is open it
shows the user-signed PSBT in Electrum's transaction dialog, checks that the "Ask the satellite
to co-sign" button is there, keeps a screenshot, clicks it, types CODE (the TOTP code the caller
computed with pyotp) into the plug-in's prompt, and waits until a message box says how it ended.
Writes OUT_DIR/result.json (button seen, messages shown, the final transaction if complete) and
screenshots OUT_DIR/*.png. The caller (scripts/interop-electrum.py) judges the result.
"""
import json
import os
import runpy
import sys
import time

launcher, datadir, wallet, psbt_file, code, out_dir = sys.argv[1:7]
os.makedirs(out_dir, exist_ok=True)
RESULT = {'button_visible': False, 'messages': [], 'final': None, 'screenshots': []}
DEADLINE = time.monotonic() + 120


class Driver:
    """Hooked onto `init_qt` like a plug-in (Electrum's `hooks` table), for this test only."""

    def __init__(self):
        self.gui = None
        self.dialog = None
        self.typed_code = False

    def is_enabled(self):
        return True

    def init_qt(self, gui):
        from PyQt5.QtCore import QTimer
        self.gui = gui
        self.timer = QTimer()
        self.timer.timeout.connect(self.tick)
        self.timer.start(200)

    def shot(self, widget, name):
        path = os.path.join(out_dir, name)
        widget.grab().save(path)
        RESULT['screenshots'].append(path)

    def finish(self):
        self.timer.stop()
        with open(os.path.join(out_dir, 'result.json'), 'w') as f:
            json.dump(RESULT, f, indent=1)
        self.gui.app.quit()

    def tick(self):
        from PyQt5.QtWidgets import QApplication, QInputDialog, QMessageBox
        from electrum.gui.qt.transaction_dialog import show_transaction, dialogs
        from electrum.transaction import tx_from_any
        if time.monotonic() > DEADLINE:
            RESULT['messages'].append('driver: deadline passed')
            return self.finish()
        if self.dialog is None:
            if not self.gui.windows:
                return
            window = self.gui.windows[0]
            show_transaction(tx_from_any(open(psbt_file).read().strip()), parent=window)
            self.dialog = dialogs[-1]
            button = getattr(self.dialog, 'satellite_button', None)
            RESULT['button_visible'] = bool(button is not None and button.isVisible())
            self.shot(self.dialog, 'electrum-tx-dialog.png')
            if not RESULT['button_visible']:
                return self.finish()
            button.click()
            return
        for w in QApplication.topLevelWidgets():
            if not w.isVisible():
                continue
            if isinstance(w, QInputDialog) and not self.typed_code:
                self.shot(w, 'electrum-code-prompt.png')
                w.setTextValue(code)
                self.typed_code = True
                w.accept()
                return
            if isinstance(w, QMessageBox):
                RESULT['messages'].append(w.text())
                self.shot(self.dialog, 'electrum-tx-dialog-after.png')
                w.done(0)
                if self.dialog.tx.is_complete():
                    RESULT['final'] = self.dialog.tx.serialize()
                return self.finish()


sys._ELECTRUM_RUNNING_VIA_RUNELECTRUM = True  # as the launcher and /usr/bin/electrum set it
from electrum import plugin  # noqa: E402

driver = Driver()
plugin.hooks.setdefault('init_qt', []).append((driver, driver.init_qt))
sys.argv = [launcher, '--testnet', '--offline', '-D', datadir, '-w', wallet]
runpy.run_path(launcher, run_name='__main__')
