//! The HTTP JSON API of `spacenode server` (axum): the routes wallet clients use (the OpenAPI
//! document [`OPENAPI`] describes them; the README's "Wallet users" walks through them), each
//! authenticated by a per-user bearer token and rate-limited per user, with
//! errors as `{"error": CODE, "message": SENTENCE}`.
//!
//! A user with an e-mail address confirms by the mailed link, `GET /v1/confirm/{token}`: the
//! one route without a bearer token (the link's 256-bit one-time token is the credential).
//!
//! Avoids: leaking another user's wallets or requests (every lookup is by id *and* user: a
//! request of someone else is "not found"), and panics on any body (bodies are parsed by hand
//! so a bad one gets this API's error shape).

use super::store::{self, Status, Store, User};
use super::{State, mail, totp};
use axum::extract::{Path, State as Shared};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bitcoin::base64::{Engine, engine::general_purpose::STANDARD as B64};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// Wrong codes after which a request is cancelled.
pub const MAX_WRONG_CODES: i64 = 5;

/// An API error: status, code, sentence.
#[derive(Debug)]
pub struct ApiError(StatusCode, &'static str, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        tracing::info!(status = self.0.as_u16(), error = self.1, message = %self.2, "refused");
        (self.0, Json(json!({"error": self.1, "message": self.2}))).into_response()
    }
}

impl From<store::StoreError> for ApiError {
    fn from(e: store::StoreError) -> Self {
        tracing::error!(error = %e, "storage");
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage",
            "the server could not read or write its database; try again later and tell its operator".into(),
        )
    }
}

type Reply = Result<Response, ApiError>;

/// The router over `state`.
pub fn router(state: Arc<State>) -> Router {
    let limit = state.cfg.body_limit;
    Router::new()
        .route(
            "/v1/health",
            get(|| async { Json(json!({"status": "ok"})) }),
        )
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/node", get(node))
        .route("/v1/wallets", post(add_wallet))
        .route("/v1/wallets/{id}", get(wallet))
        .route("/v1/requests", post(add_request))
        .route("/v1/requests/{id}", get(request).delete(cancel))
        .route("/v1/requests/{id}/confirm", post(confirm))
        .route("/v1/confirm/{token}", get(confirm_link))
        .fallback(|| async {
            ApiError(
                StatusCode::NOT_FOUND,
                "not-found",
                "no such endpoint: the API is described at /v1/openapi.json".into(),
            )
        })
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(axum::middleware::map_response(
            move |r: Response| async move { json_error(r, limit) },
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// An error axum answered itself (a body over the limit, a method a route lacks) in this API's
/// shape, so a client reads every error the same way.
fn json_error(r: Response, limit: usize) -> Response {
    let status = r.status();
    let is_json = r
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return r;
    }
    let (code, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            "too-large",
            format!(
                "the body is larger than this server's limit of {limit} bytes: send a smaller PSBT"
            ),
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method-not-allowed",
            "this endpoint does not take that method: see /v1/openapi.json".to_string(),
        ),
        _ => (
            "http",
            format!("the request was refused ({status}): see /v1/openapi.json"),
        ),
    };
    (status, Json(json!({"error": code, "message": message}))).into_response()
}

/// The OpenAPI 3.1 document of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

fn db(state: &State) -> std::sync::MutexGuard<'_, Store> {
    state
        .store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The caller, from its bearer token, within its rate.
fn caller(state: &State, headers: &HeaderMap) -> Result<User, ApiError> {
    let unauthorized = |m: &str| ApiError(StatusCode::UNAUTHORIZED, "unauthorized", m.into());
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("no `Authorization: Bearer TOKEN` header: use the token the operator gave you (`spacenode server add-user`)"))?;
    let user = db(state).user_by_token(token.trim())?.ok_or_else(|| {
        unauthorized("unknown token: check it, or ask the operator for a new one")
    })?;
    if !state.limiter.allow(&user.name) {
        return Err(ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            format!(
                "more than {} calls in a minute from this user: wait a minute and try again",
                state.cfg.rate_per_minute
            ),
        ));
    }
    Ok(user)
}

fn body<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            "bad-body",
            format!("the body is not the JSON this call takes ({e}); see /v1/openapi.json"),
        )
    })
}

fn not_found(what: &str) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        "not-found",
        format!("no {what} with that id for this user: check the id"),
    )
}

/// What `GET /v1/node` hands a user: the node's key for their wallet, from a verified export.
struct NodeKey {
    network: String,
    account: u32,
    node_key: String,
    export_hex: String,
}

/// The node's key for `user`'s wallet: the export of the user's own account when they have
/// one, else the server's own (its registry line's) account.
fn node_key_for(state: &State, user: &User) -> Result<NodeKey, ApiError> {
    let server = state
        .node
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let unknown = |what: String| {
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "node-unknown",
            format!(
                "the server has not yet had the node's signed export of {what} (the node was not reachable): try again in a minute"
            ),
        )
    };
    let Some(n) = server else {
        return Err(unknown("its key".into()));
    };
    match user.account {
        None => Ok(NodeKey {
            network: n.network,
            account: n.account,
            node_key: n.node_key,
            export_hex: n.export_hex,
        }),
        Some(account) => {
            let (node_key, export_hex) = db(state)
                .node_key(account)?
                .ok_or_else(|| unknown(format!("your account ({account})")))?;
            Ok(NodeKey {
                network: n.network,
                account,
                node_key,
                export_hex,
            })
        }
    }
}

async fn node(Shared(state): Shared<Arc<State>>, headers: HeaderMap) -> Reply {
    let user = caller(&state, &headers)?;
    let n = node_key_for(&state, &user)?;
    Ok(Json(json!({
        "network": n.network,
        "account": n.account,
        "node_key": n.node_key,
        "identity": n.export_hex,
        "identity_verified": true,
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WalletIn {
    descriptor: String,
}

fn wallet_json(w: &store::Wallet) -> Value {
    json!({"wallet_id": w.id, "status": w.status, "descriptor": w.descriptor, "account": w.account})
}

async fn add_wallet(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Reply {
    let user = caller(&state, &headers)?;
    let w: WalletIn = body(&bytes)?;
    let NodeKey {
        node_key, account, ..
    } = node_key_for(&state, &user)?;
    let d = w.descriptor.trim();
    let shape = (d.starts_with("wsh(sortedmulti(") || d.starts_with("sh(wsh(sortedmulti("))
        && d.rsplit_once('#').is_some_and(|(_, c)| c.len() == 8);
    if !shape || !d.contains(&format!("{node_key}/<0;1>/*")) {
        return Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad-descriptor",
            format!(
                "the descriptor must be wsh(sortedmulti(...)) or sh(wsh(sortedmulti(...))) with its #checksum and contain the node's key followed by /<0;1>/*: {node_key}/<0;1>/* (GET /v1/node)"
            ),
        ));
    }
    let status = if state.cfg.registered.iter().any(|r| r.trim() == d) {
        "registered"
    } else {
        "pending-registration"
    };
    let wallet = db(&state).add_wallet(&user.name, d, status, Some(account))?;
    tracing::info!(user = %user.name, wallet = %wallet.id, account, status, "wallet");
    Ok((StatusCode::CREATED, Json(wallet_json(&wallet))).into_response())
}

async fn wallet(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply {
    let user = caller(&state, &headers)?;
    let w = db(&state)
        .wallet(&user.name, &id)?
        .ok_or_else(|| not_found("wallet"))?;
    Ok(Json(wallet_json(&w)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestIn {
    wallet_id: String,
    psbt: String,
}

async fn add_request(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Reply {
    let user = caller(&state, &headers)?;
    let r: RequestIn = body(&bytes)?;
    let psbt = B64
        .decode(r.psbt.trim())
        .ok()
        .filter(|b| bitcoin::psbt::Psbt::deserialize(b).is_ok())
        .ok_or_else(|| {
            ApiError(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad-psbt",
                "`psbt` is not a base64 BIP-174 PSBT: export the transaction as a PSBT and send it base64".into(),
            )
        })?;
    let (req, link) = {
        let mut store = db(&state);
        let w = store
            .wallet(&user.name, &r.wallet_id)?
            .ok_or_else(|| not_found("wallet"))?;
        if w.status != "registered" {
            return Err(ApiError(
                StatusCode::CONFLICT,
                "wallet-not-registered",
                "this wallet is not in the node's registry yet, so the node would refuse it: ask the operator to add it (`spacenode server add-wallet`, signed by the registry admins)".into(),
            ));
        }
        let ttl = state.cfg.request_ttl_s as i64;
        store.add_request(&user.name, &w.id, &psbt, ttl, user.email.is_some())?
    };
    tracing::info!(user = %user.name, request = %req.id, bytes = psbt.len(), confirm_by = %req.confirm_by, "request");
    let expires_at = crate::ground::time::utc(req.expires_at.max(0) as u64 * 1000);
    let mut answer = json!({
        "request_id": req.id,
        "status": req.status,
        "confirm_by": req.confirm_by,
        "expires_at": expires_at,
    });
    if let (Some(token), Some(to)) = (link, user.email.clone()) {
        let (s, id, at) = (Arc::clone(&state), req.id.clone(), expires_at.clone());
        let sent = tokio::task::spawn_blocking(move || {
            let (smtp, url) = (s.cfg.smtp.as_ref(), s.cfg.public_url.as_deref());
            mail::send_link(smtp, url, &to, &id, &token, &at).map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(format!("the mail task failed: {e}")));
        match sent {
            Ok(()) => {
                tracing::info!(user = %user.name, request = %req.id, "confirmation e-mail sent")
            }
            Err(why) => {
                let why = format!("{why}; the request stays unconfirmed (submit it again later)");
                tracing::error!(user = %user.name, request = %req.id, error = %why, "confirmation e-mail not sent");
                db(&state).mail_failed(&req.id, &why)?;
                answer["mail_error"] = why.into();
            }
        }
    }
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `GET /v1/confirm/{token}`: the e-mailed link.
async fn confirm_link(Shared(state): Shared<Arc<State>>, Path(token): Path<String>) -> Reply {
    let outcome = db(&state).confirm_by_link(token.trim())?;
    match outcome {
        store::LinkOutcome::Confirmed(id) => {
            tracing::info!(request = %id, "confirmed by e-mailed link");
            Ok(Json(json!({
                "request_id": id,
                "status": Status::Queued.as_str(),
                "message": "confirmed: the request is queued for the next uplink to the satellite",
            }))
            .into_response())
        }
        store::LinkOutcome::Unknown => Err(ApiError(
            StatusCode::NOT_FOUND,
            "unknown-link",
            "this confirmation link is not known: copy the whole link from the e-mail".into(),
        )),
        store::LinkOutcome::Expired(id) => Err(ApiError(
            StatusCode::GONE,
            "expired",
            format!("request {id} expired before this link was opened: submit it again"),
        )),
        store::LinkOutcome::Used(id, status) => Err(ApiError(
            StatusCode::CONFLICT,
            "link-used",
            format!(
                "this link confirms no more: request {id} is {status} (a link confirms once, while its request awaits confirmation)"
            ),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmIn {
    code: String,
}

async fn confirm(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: axum::body::Bytes,
) -> Reply {
    let user = caller(&state, &headers)?;
    let c: ConfirmIn = body(&bytes)?;
    let mut store = db(&state);
    let r = store
        .request(&user.name, &id)?
        .ok_or_else(|| not_found("request"))?;
    if r.confirm_by == "email" {
        return Err(ApiError(
            StatusCode::CONFLICT,
            "confirm-by-email",
            "this request is confirmed by the link mailed to you, not by a code: open the link"
                .into(),
        ));
    }
    if r.status != Status::Awaiting.as_str() {
        return Err(ApiError(
            StatusCode::CONFLICT,
            "not-awaiting-confirmation",
            format!("this request is {}, not awaiting confirmation", r.status),
        ));
    }
    let Some(step) = totp::check(&user.totp_secret, &c.code, store::now().max(0) as u64) else {
        let wrong = store.wrong_code(&id)?;
        if wrong >= MAX_WRONG_CODES {
            store.transition(&id, Status::Awaiting, Status::Cancelled)?;
            return Err(ApiError(
                StatusCode::FORBIDDEN,
                "cancelled",
                format!("{wrong} wrong codes: the request is cancelled; submit it again"),
            ));
        }
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "wrong-code",
            format!(
                "wrong or expired code ({wrong} of {MAX_WRONG_CODES}): give the current 6-digit code of your authenticator app, and check its clock"
            ),
        ));
    };
    if !store.confirm(&user.name, &id, step as i64)? {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "code-used",
            "this code was used already (each code confirms once): wait for the next code".into(),
        ));
    }
    drop(store);
    tracing::info!(user = %user.name, request = %id, "confirmed");
    Ok(Json(json!({"status": Status::Queued.as_str()})).into_response())
}

async fn request(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply {
    let user = caller(&state, &headers)?;
    let r = db(&state)
        .request(&user.name, &id)?
        .ok_or_else(|| not_found("request"))?;
    let mut v = json!({"request_id": r.id, "status": r.status});
    if let Some(reason) = r.reason {
        v["reason"] = reason.into();
    }
    if let Some(p) = r.signed_psbt {
        v["psbt"] = p.into();
    }
    if let Some(b) = r.broadcast {
        v["broadcast"] =
            json!({"status": b.status, "txid": b.txid, "error": b.error, "attempts": b.attempts});
    }
    Ok(Json(v).into_response())
}

async fn cancel(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply {
    let user = caller(&state, &headers)?;
    let mut store = db(&state);
    let r = store
        .request(&user.name, &id)?
        .ok_or_else(|| not_found("request"))?;
    let mut done = false;
    for from in [Status::Awaiting, Status::Queued] {
        done = done || store.transition(&id, from, Status::Cancelled)?;
    }
    if !done {
        return Err(ApiError(
            StatusCode::CONFLICT,
            "too-late",
            format!(
                "this request is {}: only a request not yet uplinked can be cancelled",
                r.status
            ),
        ));
    }
    tracing::info!(user = %user.name, request = %id, "cancelled");
    Ok(Json(json!({"status": Status::Cancelled.as_str()})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_document_names_every_route() {
        let doc: Value = serde_json::from_str(OPENAPI).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        for p in [
            "/v1/health",
            "/v1/openapi.json",
            "/v1/node",
            "/v1/wallets",
            "/v1/wallets/{id}",
            "/v1/requests",
            "/v1/requests/{id}",
            "/v1/requests/{id}/confirm",
            "/v1/confirm/{token}",
        ] {
            assert!(doc["paths"][p].is_object(), "{p}");
        }
    }
}
