//! The router: `GET /v1/ws` (the WebSocket), the `/v1/docs/{path}` REST API, `POST /v1/commit`,
//! `GET /healthz`,
//! `GET /metrics`, and with `--fault-injection` `POST /v1/_faults/drop-connections`.
//!
//! The REST API answers CORS requests from any origin: it authenticates with bearer tokens, never
//! cookies, so a cross-origin page gains nothing a direct request would not have.

use axum::{
    Json, Router,
    body::Bytes,
    extract::{
        ConnectInfo, DefaultBodyLimit, Path as UrlPath, State, WebSocketUpgrade,
        ws::rejection::WebSocketUpgradeRejection,
    },
    http::{HeaderMap, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use livepath_protocol::{ErrorCode, SUBPROTOCOL, Write};
use serde_json::{Value, json};
use tower_http::cors::{Any, CorsLayer};
use tracing::Instrument;

use crate::{
    auth::User,
    connection,
    engine::Read,
    error::ApiError,
    forwarded,
    limits::PerIp,
    rules::Op,
    state::AppState,
    store::{Commit, checked_key, commit::malformed_write, raw_json},
};

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::HeaderName::from_static("idempotency-key"),
        ]);
    // Room for a maximal document plus JSON escaping; the store enforces the exact limit.
    let body_limit = state.config.max_document_bytes.saturating_mul(2).max(1024);
    let mut router = Router::new()
        .route("/v1/ws", get(websocket))
        .route("/v1/docs/{*path}", get(get_doc).put(put_doc).patch(patch_doc).delete(delete_doc))
        // A commit may carry many documents: as much as one WebSocket frame may.
        .route("/v1/commit", post(commit).layer(DefaultBodyLimit::max(state.config.max_frame_bytes.max(body_limit))))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics));
    if state.config.fault_injection {
        router = router.route("/v1/_faults/drop-connections", post(drop_connections));
    }
    router.layer(cors).layer(DefaultBodyLimit::max(body_limit)).with_state(state)
}

async fn websocket(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let offered = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == SUBPROTOCOL);
    if !offered {
        let message = format!("livepath requires the WebSocket subprotocol {SUBPROTOCOL}");
        return (StatusCode::BAD_REQUEST, message).into_response();
    }
    // Browsers always send Origin; a request without one is not from a page (and could claim any).
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if let Some(origin) = origin {
        let allowed = &state.config.allowed_origins;
        if !allowed.is_empty() && !allowed.iter().any(|a| a == origin) {
            return (StatusCode::FORBIDDEN, format!("origin {origin} is not allowed")).into_response();
        }
    }
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    // While the database is unreachable a new connection could neither read nor write: a 503 before
    // the upgrade lets a proxy send it to another node (nginx: `proxy_next_upstream http_503`).
    // Connections already open stay, with what they were last sent.
    if let Some(reason) = state.engine.unavailable() {
        return ApiError::new(ErrorCode::Unavailable, reason).into_response();
    }
    let client = forwarded::client_ip(peer.ip(), &headers, &state.config.trusted_proxies);
    let Some(slot) = PerIp::admit(&state.per_ip, client, state.config.max_connections_per_ip) else {
        let message = format!("{client} already has {} connections", state.config.max_connections_per_ip);
        return ApiError::new(ErrorCode::ResourceExhausted, message).into_response();
    };
    let Ok(permit) = state.connections.clone().try_acquire_owned() else {
        let message = format!("the server is at its limit of {} connections", state.config.max_connections);
        return ApiError::new(ErrorCode::Unavailable, message).into_response();
    };
    let max = state.config.max_frame_bytes;
    upgrade
        .protocols([SUBPROTOCOL])
        .max_message_size(max)
        .max_frame_size(max)
        // tungstenite's defaults (128 KiB each way) cost more than the rest of a connection; frames
        // larger than these buffers still pass, in more than one read or write.
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .on_upgrade(move |socket| {
            connection::serve(socket, state, (permit, slot)).instrument(tracing::info_span!("ws", %client))
        })
}

/// `GET /healthz`: `ok` while the store can serve, else 503 with the reason (PostgreSQL unreachable):
/// a load balancer's health check then sends new connections elsewhere.
async fn healthz(State(state): State<AppState>) -> Response {
    match state.engine.unavailable() {
        None => "ok\n".into_response(),
        Some(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")).into_response(),
    }
}

/// `GET /metrics`: Prometheus text format.
async fn metrics(State(state): State<AppState>) -> Response {
    let body = state.engine.metrics().render(state.engine.subscriptions(), state.engine.live_queries());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// `POST /v1/_faults/drop-connections` (only with `--fault-injection`): cuts every WebSocket without
/// a close frame, as a network failure would.
async fn drop_connections(State(state): State<AppState>) -> Json<Value> {
    let open = state.engine.metrics().connections.load(std::sync::atomic::Ordering::Relaxed);
    state.cuts.send_modify(|n| *n += 1);
    tracing::warn!("fault injection: cutting {open} connections");
    Json(json!({ "dropped": open }))
}

/// Checks `op` on `path` for the user an `Authorization: Bearer` header names, or for an anonymous
/// request without the header. With auth on, a header that is not a valid bearer token is
/// `unauthenticated`, never taken for no header.
fn authorize(state: &AppState, headers: &HeaderMap, path: &livepath_protocol::Path, op: Op) -> Result<(), ApiError> {
    state.access.check(user(state, headers)?.as_ref(), path, op)
}

/// The user an `Authorization: Bearer` header names (`None`: no header, anonymous). With auth on, a
/// header that is not a valid bearer token is `unauthenticated`, never taken for no header.
fn user(state: &AppState, headers: &HeaderMap) -> Result<Option<User>, ApiError> {
    Ok(match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => match value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")) {
            Some(token) => state.access.verify(token.trim())?,
            None if state.access.auth_required() => {
                let message = "the Authorization header must be `Bearer <token>`";
                return Err(ApiError::new(ErrorCode::Unauthenticated, message));
            }
            None => None,
        },
    })
}

/// `GET`: a document (404 if absent or deleted), or a collection's documents ordered by id.
async fn get_doc(
    State(state): State<AppState>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, &livepath_protocol::Path::parse(&path)?, Op::Read)?;
    match state.engine.read(&path).await? {
        Read::Document(Some(doc)) if doc.data.is_some() => {
            let data = raw_json(doc.data.unwrap_or_default())?;
            let id = path.rsplit('/').next().unwrap_or_default();
            Ok(Json(json!({ "path": path, "id": id, "version": doc.version, "exists": true, "data": data }))
                .into_response())
        }
        Read::Document(_) => Err(ApiError::new(ErrorCode::NotFound, format!("document {path} does not exist"))),
        Read::Collection(listing) => {
            let mut docs = Vec::with_capacity(listing.docs.len());
            for d in listing.docs {
                docs.push(json!({ "id": d.id, "version": d.version, "data": raw_json(d.data)? }));
            }
            Ok(Json(json!({ "path": path, "version": listing.version, "docs": docs })).into_response())
        }
    }
}

/// The request body as JSON.
fn body_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice::<Value>(body).map_err(|e| ApiError::invalid(format!("the body is not valid JSON: {e}")))
}

/// The `Idempotency-Key` header, if any (refused when it is not short printable text).
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let text = value.to_str().map_err(|_| ApiError::invalid("the Idempotency-Key header must be ASCII text"))?;
    checked_key(Some(text.to_owned()))
}

/// Checks every write of `commit` against the rules (a check needs read, the others write), and
/// commits it. `indexed`: errors name their write (`POST /v1/commit`).
async fn run_commit(
    state: &AppState,
    headers: &HeaderMap,
    commit: Result<Commit, ApiError>,
    indexed: bool,
) -> Result<Json<Value>, ApiError> {
    let outcome = async {
        let commit = commit?;
        state.access.check_commit(user(state, headers)?.as_ref(), &commit)?;
        state.engine.commit(commit).await
    };
    let version = outcome.await.map_err(|e| e.indexed(indexed))?;
    Ok(Json(json!({ "version": version })))
}

/// One write from a `/v1/docs/{path}` request, with the `Idempotency-Key` header.
async fn write(state: &AppState, headers: &HeaderMap, write: Write<Value>) -> Result<Json<Value>, ApiError> {
    let commit = idempotency_key(headers).and_then(|key| Commit::one(write, key));
    run_commit(state, headers, commit, false).await
}

/// `PUT`: create or replace, answering `{"version":N}`.
async fn put_doc(
    State(state): State<AppState>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let data = body_json(&body)?;
    write(&state, &headers, Write::Set { path, data, merge: false, transforms: Vec::new(), condition: None }).await
}

/// `PATCH`: sets fields of an existing document, the body's keys being field paths (as `update`).
async fn patch_doc(
    State(state): State<AppState>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let data = body_json(&body)?;
    write(&state, &headers, Write::Update { path, data, transforms: Vec::new(), condition: None }).await
}

/// `DELETE`: delete, leaving a tombstone.
async fn delete_doc(
    State(state): State<AppState>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    write(&state, &headers, Write::Delete { path, condition: None }).await
}

/// The body of `POST /v1/commit`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CommitBody {
    writes: Vec<Write<Value>>,
    #[serde(default)]
    key: Option<String>,
}

/// `POST /v1/commit`: `{"writes":[…],"key"?}`, all or nothing, answering `{"version":N}`; an error
/// names the write it is about (`"write": index`). The `Idempotency-Key` header works too.
async fn commit(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Json<Value>, ApiError> {
    let body: CommitBody = serde_json::from_slice(&body).map_err(|e| {
        let writes =
            serde_json::from_slice::<Value>(&body).ok().and_then(|v| v.get("writes").and_then(malformed_write));
        writes.unwrap_or_else(|| ApiError::invalid(format!("invalid commit: {e}")))
    })?;
    let key = match body.key {
        Some(key) => Some(key),
        None => idempotency_key(&headers)?,
    };
    run_commit(&state, &headers, Commit::parse(body.writes, key), true).await
}
