-- spacenode server schema, version 4: several wallets per server (issue 20). Each wallet user
-- may have an account of their own: users.account is the node's BIP-48 account for that user's
-- wallet (NULL: the user shares the server's own wallet, the descriptor of its registry line).
-- node_keys holds the node's signed export of each such account's xpub, fetched over the link
-- and verified against the node's identity before it is stored. wallets.account is the
-- account the wallet's descriptor was checked against (NULL for wallets stored before this
-- version); a wallet goes from pending-registration to registered when the operator's signed
-- add-wallet command is applied by the node (`spacenode server add-wallet`).
ALTER TABLE users ADD COLUMN account BIGINT;
CREATE UNIQUE INDEX users_account ON users (account);
ALTER TABLE wallets ADD COLUMN account BIGINT;
CREATE TABLE node_keys (
    account BIGINT PRIMARY KEY,
    node_key TEXT NOT NULL,
    export_hex TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
