-- spacenode server schema, version 1. Portable SQL: the same statements run on SQLite and
-- PostgreSQL (TEXT and BIGINT only; PSBTs and batch files are stored as base64 text; times are
-- Unix seconds).
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    totp_secret TEXT NOT NULL,
    last_totp_step BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE TABLE wallets (
    id TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users(name),
    descriptor TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
-- One uplinked batch per certificate sequence of this server, stored before it goes up so a
-- restarted server sends the identical file again (the signer answers an exact resubmission).
CREATE TABLE batches (
    sequence BIGINT PRIMARY KEY,
    batch_file TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE TABLE requests (
    id TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users(name),
    wallet_id TEXT NOT NULL REFERENCES wallets(id),
    psbt TEXT NOT NULL,
    status TEXT NOT NULL,
    confirm_by TEXT NOT NULL,
    wrong_codes BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    queued_at BIGINT,
    batch_sequence BIGINT REFERENCES batches(sequence),
    batch_position BIGINT,
    reason TEXT,
    signed_psbt TEXT
);
CREATE INDEX requests_by_status ON requests (status, queued_at);
