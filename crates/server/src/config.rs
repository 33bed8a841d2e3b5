//! Configuration: the command-line flags of `livepath-server`.

use std::{net::SocketAddr, path::PathBuf};

use clap::Parser;

/// How the server runs. Each field is a flag (`--max-frame-bytes`), with the default shown by `--help`.
#[derive(Debug, Clone, Parser)]
#[command(name = "livepath-server", version, about = "Real-time JSON documents over WebSocket")]
pub struct Config {
    /// Address to listen on (HTTP and WebSocket share it).
    #[arg(long, default_value = "127.0.0.1:7070")]
    pub listen: SocketAddr,
    /// Directory of the SQLite database (created if missing).
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// Keep everything in memory instead (tests, throwaway demos).
    #[arg(long)]
    pub memory: bool,
    /// The server sends a frame at least this often; clients silent for twice as long are closed.
    #[arg(long, default_value_t = 25_000)]
    pub heartbeat_ms: u64,
    /// Largest inbound WebSocket frame; a larger one closes the connection with 1009.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_frame_bytes: usize,
    /// Largest document, as serialized JSON.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_document_bytes: usize,
    /// Live subscriptions per connection.
    #[arg(long, default_value_t = 1000)]
    pub max_subscriptions: usize,
    /// Simultaneous WebSocket connections; more are answered 503.
    #[arg(long, default_value_t = 10_000)]
    pub max_connections: usize,
    /// Frames queued per connection before pending snapshots coalesce to the latest.
    #[arg(long, default_value_t = 256)]
    pub outbox_frames: usize,
    /// Bytes queued per connection before pending snapshots coalesce to the latest.
    #[arg(long, default_value_t = 8 << 20)]
    pub outbox_bytes: usize,
    /// Writes per second per connection (a token bucket holding one second's worth); past it a write
    /// gets `resource-exhausted`. 0: unlimited.
    #[arg(long, default_value_t = 10_000)]
    pub max_writes_per_second: u32,
    /// Simultaneous WebSocket connections from one IP address; more get 429. 0: unlimited (the
    /// default, since behind a proxy every client shares the proxy's address).
    #[arg(long, default_value_t = 0)]
    pub max_connections_per_ip: usize,
    /// Adds `POST /v1/_faults/drop-connections` (cuts every socket without a close frame) for
    /// reconnect tests. Refused unless the listen address is loopback.
    #[arg(long)]
    pub fault_injection: bool,
    /// HS256 secret of the JWTs clients present (`hello`, `Authorization: Bearer`); turns
    /// authentication on: without `--rules` every request needs a token, with `--rules` the rules
    /// decide (a request without one is `auth == null`). Prefer the environment variable or
    /// `--auth-secret-file` to a flag.
    #[arg(long, env = "LIVEPATH_AUTH_SECRET", hide_env_values = true)]
    pub auth_secret: Option<String>,
    /// Reads the HS256 secret from this file (trailing newline ignored).
    #[arg(long, conflicts_with = "auth_secret")]
    pub auth_secret_file: Option<PathBuf>,
    /// Path rules (TOML): who may read and write what. Once given, anything no rule allows is denied.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Accept WebSocket upgrades only from this origin (repeatable, e.g. https://app.example.com);
    /// others get 403. Default: any origin.
    #[arg(long = "allowed-origin")]
    pub allowed_origins: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self::parse_from(["livepath-server"])
    }
}

impl Config {
    /// The defaults with an in-memory store: what tests start from.
    pub fn in_memory() -> Self {
        Self { memory: true, ..Self::default() }
    }
}
