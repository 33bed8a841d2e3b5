//! livepath-server: JSON documents stored by path, pushed to WebSocket subscribers.
//!
//! # Layout
//! - [`config`]: the command-line flags, which are also the library's configuration.
//! - `store`: the [`store::Store`] trait and its SQLite implementation (a file under `--data-dir`, or
//!   in memory with `--memory`). Storage knows documents and versions, nothing of sockets.
//! - `db`: [`Db`], the cheap, cloneable handle every connection holds: it orders writes, commits them to
//!   the store and publishes the result to the hub, so subscribers see versions in commit order.
//! - `hub`: who is subscribed to which path, and the frames a write sends them.
//! - `outbox`: each connection's bounded outbound queue; when full, snapshots coalesce to the latest.
//! - `connection`: one WebSocket session: reads client messages, answers, and runs the heartbeat.
//! - `http`: the router: `GET /v1/ws`, the `/v1/docs/{path}` REST API, `/healthz`, `/metrics`, and
//!   with `--fault-injection` `POST /v1/_faults/drop-connections`.
//! - `metrics`: the counters behind `/metrics`.
//! - `limits`: the write-rate token bucket and connections per IP address.
//! - `auth` and `rules`: HS256 tokens (`--auth-secret`) and the path rules (`--rules`) that decide
//!   who may read and write what.
//! - `error`: [`ApiError`], an [`livepath_protocol::ErrorCode`] with a message, for both WebSocket and HTTP.
//!
//! `bin/main.rs`-style entry: `src/main.rs` only parses flags and calls [`run`].

mod auth;
pub mod config;
mod connection;
mod db;
mod error;
mod http;
mod hub;
mod limits;
mod metrics;
mod outbox;
mod rules;
pub mod store;

use std::{future::Future, sync::Arc};

use tokio::{
    net::TcpListener,
    sync::{Semaphore, mpsc, watch},
};

pub use config::Config;
pub use db::Db;
pub use error::ApiError;

/// Serves livepath on `listener` until `shutdown` completes, then closes every WebSocket with 1001 and
/// returns once each connection has finished. Tests bind port 0 and pass their own shutdown future.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if config.fault_injection && !listener.local_addr()?.ip().is_loopback() {
        return Err("--fault-injection is refused unless the listen address is loopback".into());
    }
    let access = Arc::new(load_access(&config)?);
    let db = Db::open(&config)?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    // Every connection task holds a clone of `done_tx`; `recv` returns `None` once all have ended.
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    let state = http::AppState {
        db,
        config: Arc::new(config),
        connections: Arc::new(Semaphore::new(0)),
        shutdown: shutdown_rx,
        done: done_tx,
        cuts: Arc::new(watch::channel(0).0),
        access,
        per_ip: Arc::default(),
    };
    state.connections.add_permits(state.config.max_connections);
    let app = http::router(state);
    // Snapshots are small frames that must leave at once: Nagle's algorithm would hold one back until
    // the previous one is acknowledged (tens of milliseconds behind a delayed ACK).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY: {e}");
        }
    });
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: closing connections");
            let _ = shutdown_tx.send(true);
        })
        .await?;
    // The router (and its `done` sender) is dropped by now; wait for the WebSocket tasks.
    let _ = done_rx.recv().await;
    Ok(())
}

/// The access policy the flags describe; a bad secret file or rules file stops the start.
fn load_access(config: &Config) -> Result<auth::Access, Box<dyn std::error::Error + Send + Sync>> {
    let secret = match (&config.auth_secret, &config.auth_secret_file) {
        (Some(secret), _) => Some(secret.clone()),
        (None, Some(file)) => Some(
            std::fs::read_to_string(file)
                .map_err(|e| format!("--auth-secret-file {}: {e}", file.display()))?
                .trim_end_matches(['\n', '\r'])
                .to_owned(),
        ),
        (None, None) => None,
    };
    if secret.as_deref().is_some_and(|s| s.len() < 16) {
        return Err("--auth-secret must be at least 16 bytes".into());
    }
    let rules = match &config.rules {
        Some(file) => {
            let text = std::fs::read_to_string(file).map_err(|e| format!("--rules {}: {e}", file.display()))?;
            Some(rules::Rules::parse(&text).map_err(|e| format!("--rules {}: {e}", file.display()))?)
        }
        None => None,
    };
    Ok(auth::Access::new(secret.as_deref().map(str::as_bytes), rules))
}
