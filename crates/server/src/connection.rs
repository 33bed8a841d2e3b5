//! One WebSocket session: the reader answers client messages in order; the writer drains the
//! connection's [`Outbox`] and keeps the link alive.
//!
//! Close codes the server sends: 1001 (shutting down), 1003 (a binary frame), 1009 (a frame over
//! `--max-frame-bytes`), 4401 (the token expired: reconnect with a fresh one), 4408 (no frame from
//! the client for two heartbeats). The `drop-connections`
//! fault cuts the socket with no close frame at all.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt, stream::SplitSink};
use livepath_protocol::{ClientMessage, ErrorCode, Path, PathKind, Query, Write};
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, watch};

use crate::{
    access::Access,
    auth::User,
    engine::Engine,
    error::ApiError,
    frames,
    hub::Subscriber,
    limits::{IpSlot, TokenBucket},
    metrics::{Metrics, inc},
    outbox::{CloseReason, Next, Outbox},
    rules::Op,
    state::AppState,
    store::{Commit, commit::malformed_write},
};

/// Why the read loop ended.
#[derive(Debug)]
enum End {
    /// The client closed or vanished.
    Gone,
    /// Close with this code and reason.
    Close(CloseReason),
    /// The `drop-connections` fault: no close frame.
    Cut,
}

/// Connection ids, unique for the process's lifetime.
static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// Serves one upgraded WebSocket until either side ends it. Holds `places` (its place under the
/// connection limits) and a clone of the server's `done` sender until the end, so shutdown waits for it.
pub async fn serve(socket: WebSocket, state: AppState, places: (OwnedSemaphorePermit, IpSlot)) {
    let conn = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    let heartbeat = Duration::from_millis(state.config.heartbeat_ms.max(1));
    let metrics = state.engine.metrics().clone();
    inc(&metrics.connections);
    inc(&metrics.connections_accepted);
    let outbox = Arc::new(Outbox::new(state.config.outbox_frames, state.config.outbox_bytes, metrics.clone()));
    let started = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    outbox.push(frames::welcome(format!("s-{started:x}-{conn:x}"), state.config.heartbeat_ms, state.engine.epoch()));
    tracing::debug!(conn, "connected");

    let (sink, stream) = socket.split();
    let writer = tokio::spawn(write_loop(sink, outbox.clone(), heartbeat, metrics.clone()));
    let mut session = Session {
        conn,
        engine: state.engine.clone(),
        outbox: outbox.clone(),
        subscriptions: HashMap::new(),
        max_subscriptions: state.config.max_subscriptions,
        metrics: metrics.clone(),
        access: state.access.clone(),
        user: None,
        refused: None,
        writes: TokenBucket::new(state.config.max_writes_per_second),
        writes_in_flight: Arc::default(),
    };
    let end = session.read_loop(stream, heartbeat, state.shutdown.clone(), state.cuts.subscribe()).await;
    session.release_all();
    tracing::debug!(conn, ?end, "disconnected");
    match end {
        End::Cut => writer.abort(),
        End::Gone | End::Close(_) => {
            outbox.close(if let End::Close(reason) = end { Some(reason) } else { None });
            // Let the writer flush what is queued and the close frame; a peer that reads nothing gets 5 s.
            if tokio::time::timeout(Duration::from_secs(5), writer).await.is_err() {
                tracing::debug!(conn, "writer did not finish; dropping the socket");
            }
        }
    }
    metrics.connections.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    drop(places);
    drop(state.done);
}

struct Session {
    /// This connection's id, for the hub.
    conn: u64,
    /// The store thread, the hub and the metrics.
    engine: Engine,
    /// Where answers go.
    outbox: Arc<Outbox>,
    /// Live subscriptions: client id → path and, for a live query, its canonical form; to
    /// unsubscribe and to clean up at the end.
    subscriptions: HashMap<u64, (Path, Option<String>)>,
    /// `--max-subscriptions`.
    max_subscriptions: usize,
    /// Counters.
    metrics: Arc<Metrics>,
    /// Who may do what.
    access: Arc<Access>,
    /// The user of the last valid `hello`; `None`: the connection has not presented a valid token, and
    /// its requests are anonymous (`auth == null` to the rules) unless `refused` is set.
    user: Option<User>,
    /// Set when a `hello` without a user before it presented an invalid or expired token: every request
    /// is then `unauthenticated` until a valid one, never served as anonymous.
    refused: Option<ApiError>,
    /// `--max-writes-per-second`.
    writes: TokenBucket,
    /// Writes queued on the store whose answer is not in the outbox yet.
    writes_in_flight: Arc<AtomicUsize>,
}

/// When `user`'s token expires, as a tokio deadline (far away for no user).
fn expiry(user: Option<&User>) -> tokio::time::Instant {
    let now_unix = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let left = user.map_or(u64::from(u32::MAX), |u| u.expires_at.saturating_sub(now_unix));
    tokio::time::Instant::now() + Duration::from_secs(left)
}

impl Session {
    /// Reads until the client leaves, the connection must close, or a fault cuts it.
    async fn read_loop(
        &mut self,
        mut stream: futures_util::stream::SplitStream<WebSocket>,
        heartbeat: Duration,
        shutdown: watch::Receiver<bool>,
        mut cuts: watch::Receiver<u64>,
    ) -> End {
        let mut last_heard = Instant::now();
        let mut check = tokio::time::interval(heartbeat);
        let mut shutdown = shutdown;
        let stopping = async move {
            let _ = shutdown.wait_for(|stop| *stop).await.map(|_| ());
        };
        tokio::pin!(stopping);
        let expires = tokio::time::sleep_until(expiry(None));
        tokio::pin!(expires);
        loop {
            tokio::select! {
                message = stream.next() => {
                    let message = match message {
                        None => return End::Gone,
                        Some(Ok(message)) => message,
                        Some(Err(e)) => return too_big(e),
                    };
                    last_heard = Instant::now();
                    match message {
                        Message::Text(text) => {
                            inc(&self.metrics.frames_in);
                            let before = self.user.as_ref().map(|u| u.expires_at);
                            self.handle(text.as_str()).await;
                            if self.user.as_ref().map(|u| u.expires_at) != before {
                                expires.as_mut().reset(expiry(self.user.as_ref()));
                            }
                        }
                        Message::Binary(_) => {
                            return End::Close((1003, "binary frames are not supported: send JSON text".into()));
                        }
                        Message::Ping(_) | Message::Pong(_) => {}
                        Message::Close(_) => return End::Gone,
                    }
                }
                _ = check.tick() => {
                    if last_heard.elapsed() > 2 * heartbeat {
                        return End::Close((4408, "no frame from the client for two heartbeats".into()));
                    }
                }
                _ = &mut stopping => {
                    return End::Close((1001, "server shutting down".into()));
                }
                _ = cuts.changed() => return End::Cut,
                _ = &mut expires, if self.user.is_some() => {
                    self.send_error(None, None, ApiError::new(ErrorCode::Unauthenticated, "the token expired"));
                    return End::Close((4401, "token expired: reconnect with a fresh token".into()));
                }
            }
        }
    }

    fn send_error(&self, id: Option<u64>, req: Option<u64>, error: ApiError) {
        send_error(&self.outbox, &self.metrics, id, req, error);
    }

    /// Answers one text frame. Bad input gets an `error` frame; the connection carries on.
    async fn handle(&mut self, text: &str) {
        let value: Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(e) => {
                return self.send_error(None, None, ApiError::invalid(format!("frame is not valid JSON: {e}")));
            }
        };
        // Name the subscription or write in the error even when the rest of the message is wrong.
        let id = value.get("id").and_then(Value::as_u64);
        let req = value.get("req").and_then(Value::as_u64);
        // Kept only for a commit, whose failure may be one of its writes (named by its index).
        let writes =
            (value.get("type") == Some(&Value::from("commit"))).then(|| value.get("writes").cloned()).flatten();
        let message: ClientMessage<Value> = match serde_json::from_value(value) {
            Ok(message) => message,
            Err(e) => {
                let error = writes
                    .as_ref()
                    .and_then(malformed_write)
                    .unwrap_or_else(|| ApiError::invalid(format!("invalid message: {e}")));
                return self.send_error(id, req, error);
            }
        };
        match message {
            ClientMessage::Hello { token } => self.hello(token.as_deref()),
            ClientMessage::Ping => {
                // After the acks of this connection's earlier writes, like every other answer.
                let outbox = self.outbox.clone();
                let pong = move || outbox.push(frames::pong());
                if self.writes_in_flight.load(Ordering::Acquire) > 0 {
                    self.engine.after_queued(pong).await;
                } else {
                    pong();
                }
            }
            ClientMessage::Subscribe { id, path, since, query } => {
                inc(&self.metrics.subscribes);
                if let Err(e) = self.subscribe(id, &path, since, query).await {
                    self.send_error(Some(id), None, e);
                }
            }
            ClientMessage::Unsubscribe { id } => {
                if let Some((path, canonical)) = self.subscriptions.remove(&id) {
                    self.engine.unsubscribe(&path, canonical.as_deref(), self.conn, id);
                    self.outbox.forget(id);
                }
            }
            ClientMessage::Set { req, path, data, key, merge, transforms, condition } => {
                let write = Write::Set { path, data, merge, transforms, condition };
                self.commit(req, Commit::one(write, key), false).await
            }
            ClientMessage::Update { req, path, data, key, transforms, condition } => {
                let write = Write::Update { path, data, transforms, condition };
                self.commit(req, Commit::one(write, key), false).await
            }
            ClientMessage::Delete { req, path, key, condition } => {
                self.commit(req, Commit::one(Write::Delete { path, condition }, key), false).await
            }
            ClientMessage::Commit { req, key, writes } => self.commit(req, Commit::parse(writes, key), true).await,
            ClientMessage::Get { req, path, query } => {
                if let Err(e) = self.get(req, &path, query).await {
                    self.send_error(None, Some(req), e);
                }
            }
        }
    }

    /// Authenticates the connection. A connection keeps one user: a new token must name the same one.
    /// A `hello` without a token changes nothing: the connection stays anonymous, or keeps its user.
    fn hello(&mut self, token: Option<&str>) {
        let Some(token) = token else { return };
        match self.access.verify(token) {
            Ok(None) => {} // authentication is off
            Ok(Some(user)) => match &self.user {
                Some(current) if current.uid != user.uid => self.send_error(
                    None,
                    None,
                    ApiError::new(ErrorCode::Unauthenticated, "a connection keeps one user: reconnect to switch"),
                ),
                _ => {
                    self.user = Some(user);
                    self.refused = None;
                }
            },
            Err(e) => {
                if self.user.is_none() {
                    self.refused = Some(e.clone());
                }
                self.send_error(None, None, e);
            }
        }
    }

    /// Who makes this connection's requests: its user, or `None` for anonymous; `unauthenticated` while
    /// the token it presented is refused.
    fn caller(&self) -> Result<Option<&User>, ApiError> {
        match &self.refused {
            Some(e) => Err(ApiError::new(
                ErrorCode::Unauthenticated,
                format!("the token sent in hello was refused ({}): send a valid one", e.message),
            )),
            None => Ok(self.user.as_ref()),
        }
    }

    async fn subscribe(
        &mut self,
        id: u64,
        path: &str,
        since: Option<u64>,
        query: Option<Query>,
    ) -> Result<(), ApiError> {
        if self.subscriptions.contains_key(&id) {
            return Err(ApiError::invalid(format!("subscription id {id} is already in use on this connection")));
        }
        if self.subscriptions.len() >= self.max_subscriptions {
            return Err(ApiError::new(
                ErrorCode::ResourceExhausted,
                format!("a connection may hold at most {} subscriptions", self.max_subscriptions),
            ));
        }
        let path = Path::parse(path)?;
        let canonical = match &query {
            Some(query) => {
                if path.kind() != PathKind::Collection {
                    return Err(ApiError::invalid(format!(
                        "{} is a document: a query needs a collection path (an odd number of segments)",
                        path.as_str()
                    )));
                }
                query.check().map_err(|e| ApiError::invalid(format!("invalid query: {e}")))?;
                Some(serde_json::to_string(query).map_err(|e| ApiError::internal("encoding a query", e))?)
            }
            None => None,
        };
        self.access.check(self.caller()?, &path, Op::Read)?;
        let subscriber = Subscriber { conn: self.conn, id, outbox: self.outbox.clone() };
        match (query, &canonical) {
            (Some(query), Some(canonical)) => {
                self.engine.subscribe_query(subscriber, path.clone(), query, canonical.clone(), since).await?
            }
            _ => self.engine.subscribe(subscriber, path.clone(), since).await?,
        }
        self.subscriptions.insert(id, (path, canonical));
        Ok(())
    }

    /// Queues a commit; its `ack` or `error` is queued by the store thread once it is committed, so
    /// the next frame is read meanwhile (acks still come in the order of the commits). A commit is one
    /// request for `--max-writes-per-second`. `indexed`: errors name the write they are about (a
    /// `commit` message; the one-write messages have no list to point into).
    async fn commit(&mut self, req: u64, commit: Result<Commit, ApiError>, indexed: bool) {
        if !self.writes.take() {
            let message = "too many writes per second on this connection; slow down and retry";
            return self.send_error(None, Some(req), ApiError::new(ErrorCode::ResourceExhausted, message));
        }
        let allowed = commit.and_then(|commit| self.access.check_commit(self.caller()?, &commit).map(|()| commit));
        let commit = match allowed {
            Ok(commit) => commit,
            Err(e) => return self.send_error(None, Some(req), e.indexed(indexed)),
        };
        let (outbox, metrics, in_flight) = (self.outbox.clone(), self.metrics.clone(), self.writes_in_flight.clone());
        in_flight.fetch_add(1, Ordering::AcqRel);
        let reply = Box::new(move |result: Result<u64, ApiError>| {
            match result {
                Ok(version) => outbox.push(frames::ack(req, version)),
                Err(e) => send_error(&outbox, &metrics, None, Some(req), e.indexed(indexed)),
            }
            in_flight.fetch_sub(1, Ordering::AcqRel);
        });
        self.engine.commit_then(commit, reply).await;
    }

    /// Answers a one-time read with `result`, after this connection's earlier writes (it is queued
    /// behind them on the store thread), by the rules as a subscription would be.
    async fn get(&mut self, req: u64, path: &str, query: Option<Query>) -> Result<(), ApiError> {
        let path = Path::parse(path)?;
        if let Some(query) = &query {
            query.check().map_err(|e| ApiError::invalid(format!("invalid query: {e}")))?;
        }
        self.access.check(self.caller()?, &path, Op::Read)?;
        if self.outbox.is_full() {
            // Answers are queued whole: a client asking faster than it reads would grow them without end.
            let message = "this connection has too much unread; read what was sent before asking again";
            return Err(ApiError::new(ErrorCode::ResourceExhausted, message));
        }
        let found = self.engine.get(path, query).await?;
        self.outbox.push(frames::result(req, found.version, &found.docs)?);
        Ok(())
    }

    fn release_all(&mut self) {
        for (id, (path, canonical)) in self.subscriptions.drain() {
            self.engine.unsubscribe(&path, canonical.as_deref(), self.conn, id);
        }
    }
}

/// Queues an `error` frame (for subscription `id` or request `req`, if known) and counts it.
fn send_error(outbox: &Outbox, metrics: &Metrics, id: Option<u64>, req: Option<u64>, error: ApiError) {
    inc(&metrics.errors);
    outbox.push(frames::error(id, req, error));
}

/// A read error: an oversized frame closes with 1009; anything else means the peer is gone.
fn too_big(error: axum::Error) -> End {
    match error.into_inner().downcast::<tungstenite::Error>() {
        Ok(e) if matches!(*e, tungstenite::Error::Capacity(_)) => End::Close((1009, "frame too large".into())),
        _ => End::Gone,
    }
}

/// Writes queued frames; sends `{"type":"ping"}` after a heartbeat without other frames, and a
/// WebSocket Ping every heartbeat (browsers answer those even in throttled background tabs).
async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    outbox: Arc<Outbox>,
    heartbeat: Duration,
    metrics: Arc<Metrics>,
) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
    let mut last_sent = Instant::now();
    let mut batch = Vec::new();
    loop {
        tokio::select! {
            next = outbox.next() => match next {
                Next::Frame(text) => {
                    // Whatever else is queued goes in the same write to the socket.
                    batch.push(text);
                    outbox.take_queued(&mut batch);
                    for text in batch.drain(..) {
                        if sink.feed(Message::Text(text.into())).await.is_err() {
                            return;
                        }
                        inc(&metrics.frames_out);
                    }
                    if sink.flush().await.is_err() {
                        return;
                    }
                    last_sent = Instant::now();
                }
                Next::Close(reason) => {
                    let frame = reason.map(|(code, reason)| CloseFrame { code, reason: reason.into() });
                    let _ = sink.send(Message::Close(frame)).await;
                    return;
                }
            },
            _ = tick.tick() => {
                if last_sent.elapsed() >= heartbeat {
                    if sink.send(Message::Text(frames::ping().into())).await.is_err() {
                        return;
                    }
                    last_sent = Instant::now();
                }
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
        }
    }
}
