-- spacenode server schema, version 3: the optional hand-off of finalised transactions to
-- Bitcoin Core ([broadcast] in server.toml). broadcast_status is NULL until the server looks
-- at a co-signed request, then 'pending' (tried again at broadcast_next_at), 'sent' (with its
-- txid), 'not-final' (too few signatures: the wallet finalises and broadcasts it) or 'failed'
-- (invalid, or refused on every attempt). The co-signed PSBT itself is never changed.
ALTER TABLE requests ADD COLUMN broadcast_status TEXT;
ALTER TABLE requests ADD COLUMN broadcast_txid TEXT;
ALTER TABLE requests ADD COLUMN broadcast_error TEXT;
ALTER TABLE requests ADD COLUMN broadcast_attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN broadcast_next_at BIGINT;
