-- spacenode server schema, version 2: confirmation by e-mailed link. A user with an e-mail
-- address confirms by the link mailed for each request; the link's one-time token is stored
-- only as its SHA-256 hash (hex), and lives as long as its request awaits confirmation.
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE requests ADD COLUMN confirm_token_hash TEXT;
CREATE UNIQUE INDEX requests_by_confirm_token ON requests (confirm_token_hash);
