//! [`AppState`]: what every HTTP handler and WebSocket connection shares, assembled from the flags.

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, watch};

use crate::{access::Access, config::Config, engine::Engine, limits::PerIp};

/// What every handler and connection shares.
#[derive(Clone)]
pub struct AppState {
    /// The store thread, the hub and the metrics.
    pub engine: Engine,
    /// The flags.
    pub config: Arc<Config>,
    /// One permit per open WebSocket (`--max-connections`).
    pub connections: Arc<Semaphore>,
    /// Becomes `true` when the server shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// Held by every connection task; `run` waits until all are dropped.
    pub done: mpsc::Sender<()>,
    /// Bumped by the `drop-connections` fault; every connection watching it cuts its socket.
    pub cuts: Arc<watch::Sender<u64>>,
    /// Who may read and write what.
    pub access: Arc<Access>,
    /// Open connections by client address (`--max-connections-per-ip`).
    pub per_ip: Arc<PerIp>,
}

/// The controls of an assembled server, kept by whoever runs it.
pub struct Controls {
    /// Send `true` to close every connection with 1001.
    pub shutdown: watch::Sender<bool>,
    /// `recv` returns `None` once every connection task (each holds a clone of [`AppState::done`]) and
    /// every clone of the state has been dropped.
    pub done: mpsc::Receiver<()>,
}

impl AppState {
    /// Loads the access policy (a bad secret or rules file stops the start), opens the store and
    /// starts its thread.
    pub async fn assemble(config: Config) -> Result<(Self, Controls), Box<dyn std::error::Error + Send + Sync>> {
        let access = Arc::new(Access::from_config(&config)?);
        let engine = Engine::open(&config).await?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (done_tx, done_rx) = mpsc::channel::<()>(1);
        let state = Self {
            engine,
            connections: Arc::new(Semaphore::new(config.max_connections)),
            config: Arc::new(config),
            shutdown: shutdown_rx,
            done: done_tx,
            cuts: Arc::new(watch::channel(0).0),
            access,
            per_ip: Arc::default(),
        };
        Ok((state, Controls { shutdown: shutdown_tx, done: done_rx }))
    }
}
