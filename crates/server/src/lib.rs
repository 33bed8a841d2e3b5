//! livepath-server: JSON documents stored by path, pushed to WebSocket subscribers.
//!
//! # Layout
//! Each module uses only those listed before it (`lib.rs` uses `state` and `http`):
//! - [`config`]: the command-line flags, which are also the library's configuration.
//! - `error`: [`ApiError`], an [`livepath_protocol::ErrorCode`] with a message, for both WebSocket and HTTP.
//! - `metrics`: the counters behind `/metrics`.
//! - `limits`: the write-rate token bucket and connections per IP address.
//! - `forwarded`: the client's address behind a proxy (`X-Forwarded-For`, as far as `--trust-proxy`
//!   allows).
//! - `store`: the [`store::Store`] trait and its two implementations: SQLite (a file under
//!   `--data-dir`, or in memory with `--memory`), the embedded default, and PostgreSQL
//!   (`--database-url`), shared by several nodes. It knows documents and versions, nothing of sockets.
//! - `window`: a live query's result (and a buffer past it), kept up to date write by write.
//! - `frames`: every frame the server sends, encoded once per write for all its subscribers.
//! - `outbox`: each connection's bounded outbound queue; when full, snapshots coalesce to the latest.
//! - `hub`: who is subscribed to which path or live query (one window per distinct query, by
//!   collection), and which frames a committed write sends them.
//! - `engine`: [`Engine`], the cheap, cloneable handle every connection holds to the store thread, the
//!   hub and the metrics: it orders requests, commits waiting writes in one batch and publishes them to
//!   the hub in commit order, other nodes' writes included.
//! - `rules`: the path rules (`--rules`) and the `Op` (read or write) they decide on.
//! - `auth`: HS256 tokens (`--auth-secret`) and the user they name.
//! - `access`: the policy that combines the two: who may read and write what.
//! - `state`: `AppState`, what every handler and connection shares, assembled from the flags.
//! - `connection`: one WebSocket session: reads client messages, answers, and runs the heartbeat.
//! - `http`: the router: `GET /v1/ws`, the `/v1/docs/{path}` REST API, `/healthz`, `/metrics`, and
//!   with `--fault-injection` `POST /v1/_faults/drop-connections`.
//!
//! `src/main.rs` sets up logging, raises the open-file limit, binds the listener and calls [`run`].

mod access;
mod auth;
pub mod config;
mod connection;
mod engine;
mod error;
mod forwarded;
mod frames;
mod http;
mod hub;
mod limits;
mod metrics;
mod outbox;
mod rules;
mod state;
pub mod store;
mod window;

use std::future::Future;

use tokio::net::TcpListener;

pub use config::Config;
pub use engine::Engine;
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
    let (state, mut controls) = state::AppState::assemble(config).await?;
    let app = http::router(state);
    // Snapshots are small frames that must leave at once: Nagle's algorithm would hold one back until
    // the previous one is acknowledged (tens of milliseconds behind a delayed ACK).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY: {e}");
        }
    });
    let stop = controls.shutdown;
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: closing connections");
            let _ = stop.send(true);
        })
        .await?;
    // The router (and its `done` sender) is dropped by now; wait for the WebSocket tasks.
    let _ = controls.done.recv().await;
    Ok(())
}
