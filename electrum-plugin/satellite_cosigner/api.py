"""The client of a spacenode ground server's HTTP API v1 (JSON over HTTP, bearer token).

One method per call of the API: the node's key, wallet registration, co-signing requests (submit,
confirm with a TOTP code, status, cancel) and a wait for a request's outcome. Errors come back as
`ServerError` carrying the server's own words (`{"error": code, "message": sentence}`).

Uses only Python's `urllib` (Electrum 4.3.4's environment has nothing else to add), and runs
blocking: the daemon commands call it from a worker thread, the Qt button from a
`WaitingDialog`. Avoids: keeping the token anywhere but in the wallet file the caller chose.
"""

import json
import time
import urllib.error
import urllib.request
from typing import Optional

# A request's states after which nothing changes any more.
FINAL_STATES = ('cosigned', 'refused', 'expired', 'cancelled')


class ServerError(Exception):
    """The server refused a call, or could not be reached; `code` is the API's error code (or
    `unreachable`, `bad-answer`), the message says what is wrong and what to do."""

    def __init__(self, code: str, message: str, status: Optional[int] = None):
        super().__init__(message)
        self.code = code
        self.status = status


class ServerClient:
    """One user's connection to one ground server."""

    def __init__(self, url: str, token: Optional[str], timeout_s: float = 30.0):
        if not (url.startswith('http://') or url.startswith('https://')):
            raise ServerError('bad-url', f"the server address {url!r} must start with http:// or https://")
        self.url = url.rstrip('/')
        self.token = token
        self.timeout_s = timeout_s

    def _call(self, method: str, path: str, body: Optional[dict] = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header('Accept', 'application/json')
        if data is not None:
            req.add_header('Content-Type', 'application/json')
        if self.token:
            req.add_header('Authorization', f'Bearer {self.token}')
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                err = json.loads(raw)
                raise ServerError(str(err.get('error', 'error')), str(err.get('message', raw[:200])), e.code) from None
            except (ValueError, AttributeError):
                raise ServerError('bad-answer', f"the server answered HTTP {e.code} to {method} {path} "
                                  f"without an error document: {raw[:200]!r}", e.code) from None
        except (urllib.error.URLError, OSError) as e:
            raise ServerError('unreachable', f"cannot reach the ground server at {self.url} ({e}): "
                              f"check the address and that the server runs") from None
        try:
            return json.loads(raw)
        except ValueError:
            raise ServerError('bad-answer', f"the server's answer to {method} {path} is not JSON: {raw[:200]!r}") from None

    def node(self) -> dict:
        """`GET /v1/node`: the node's account key for this user, checked by the server."""
        node = self._call('GET', '/v1/node')
        if not node.get('identity_verified'):
            raise ServerError('identity-not-verified',
                              "the server did not verify the node's key against the node's signed identity: "
                              "do not use this key; ask the server's operator")
        return node

    def register_wallet(self, descriptor: str) -> dict:
        """`POST /v1/wallets`."""
        return self._call('POST', '/v1/wallets', {'descriptor': descriptor})

    def wallet(self, wallet_id: str) -> dict:
        """`GET /v1/wallets/{id}`."""
        return self._call('GET', f'/v1/wallets/{wallet_id}')

    def submit(self, wallet_id: str, psbt_base64: str) -> dict:
        """`POST /v1/requests`: a PSBT to be co-signed; it waits for the user's confirmation."""
        return self._call('POST', '/v1/requests', {'wallet_id': wallet_id, 'psbt': psbt_base64})

    def confirm(self, request_id: str, code: str) -> dict:
        """`POST /v1/requests/{id}/confirm` with the one-time (TOTP) code."""
        return self._call('POST', f'/v1/requests/{request_id}/confirm', {'code': str(code).strip()})

    def status(self, request_id: str) -> dict:
        """`GET /v1/requests/{id}`."""
        return self._call('GET', f'/v1/requests/{request_id}')

    def cancel(self, request_id: str) -> dict:
        """`DELETE /v1/requests/{id}` (only before it is uplinked)."""
        return self._call('DELETE', f'/v1/requests/{request_id}')

    def wait(self, request_id: str, timeout_s: float, poll_s: float = 1.0) -> dict:
        """Polls a request until it reaches a final state or `timeout_s` passes (then the last
        status, whose state is not final)."""
        deadline = time.monotonic() + timeout_s
        while True:
            st = self.status(request_id)
            if st.get('status') in FINAL_STATES or time.monotonic() >= deadline:
                return st
            time.sleep(poll_s)
