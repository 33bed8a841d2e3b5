//! The store thread's connection to PostgreSQL: calls with a timeout, errors sorted into what they
//! mean for the caller, and reconnection with a growing backoff while PostgreSQL is away.
//!
//! Its I/O runs on a small runtime of its own, never the server's: the store thread blocks on each
//! call, sometimes while it holds the hub's lock (reading a listing for a subscriber that fell behind),
//! and the server's workers may be waiting on that lock. On their runtime the connection would then
//! never be polled, and the call could not even time out.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use livepath_protocol::ErrorCode;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::runtime::{Handle, Runtime};
use tokio_postgres::Client;

use super::{
    schema,
    statements::Statements,
    tls::{self, Tls},
};
use crate::error::ApiError;

/// The longest a call to PostgreSQL may take before the connection counts as lost.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest wait between attempts to reconnect.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Limits PostgreSQL applies to each of the store's sessions, so that a node cut off in the middle of
/// a transaction cannot hold the version row for long (every node's writes wait on it), nor a write
/// wait on it without end.
const SESSION_OPTIONS: &str = "-c idle_in_transaction_session_timeout=15s -c lock_timeout=10s";

/// A PostgreSQL error in a form worth logging: the server's message and code when it sent one.
pub fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    // The causes too: "error performing TLS handshake" alone does not say that the certificate's
    // issuer is unknown.
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text = format!("{text}: {c}");
        cause = c.source();
    }
    text
}

/// What an error says about the connection and the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The connection is gone (closed, or the server said it is shutting down or cut it off).
    Lost,
    /// The request may succeed if tried again: a deadlock, a serialization failure, a lock or
    /// statement timeout, too many connections.
    Transient,
    /// Anything else: a bug or a damaged database.
    Other,
}

/// Sorts `e` by its SQLSTATE class.
pub fn classify(e: &tokio_postgres::Error) -> Failure {
    if e.is_closed() {
        return Failure::Lost;
    }
    let Some(db) = e.as_db_error() else { return Failure::Lost }; // an I/O error
    let code = db.code().code();
    // 08: connection exception; 57P01-57P03: shut down, crashed, starting up.
    if code.starts_with("08") || code.starts_with("57P") {
        Failure::Lost
    } else if matches!(code, "40001" | "40P01" | "55P03" | "57014" | "53300") {
        Failure::Transient
    } else {
        Failure::Other
    }
}

pub fn unavailable(reason: &str) -> ApiError {
    ApiError::new(ErrorCode::Unavailable, format!("the database is unavailable: {reason}"))
}

/// A runtime that is shut down in the background when dropped, so that dropping it is allowed
/// anywhere, also inside another runtime's task (a failed start).
struct OwnRuntime(Option<Runtime>);

impl OwnRuntime {
    fn new() -> Result<Self, ApiError> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("livepath-pg")
            .enable_all()
            .build()
            .map(|r| Self(Some(r)))
            .map_err(|e| ApiError::internal("starting PostgreSQL's runtime", e))
    }

    fn handle(&self) -> &Handle {
        self.0.as_ref().map(Runtime::handle).expect("a runtime until dropped")
    }
}

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// A live connection and its prepared statements.
pub struct Connection {
    pub client: Client,
    pub statements: Statements,
}

/// The store thread's connection, or why there is none.
pub struct Session {
    runtime: OwnRuntime,
    config: tokio_postgres::Config,
    tls: Tls,
    connection: Option<Connection>,
    /// Why the last attempt to reach PostgreSQL failed, while it is down.
    down: Option<String>,
    /// When to try to connect again, while down.
    retry_at: Instant,
    backoff: Duration,
}

impl Session {
    /// Parses `url`, connects (with TLS as [`tls`] decides, given the CA file), creates or migrates the
    /// schema and prepares the statements; answers the database's epoch too. Fails if PostgreSQL cannot
    /// be reached now.
    pub async fn open(url: &str, ca_file: Option<&std::path::Path>) -> Result<(Self, String), ApiError> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| ApiError::invalid(format!("--database-url is not a PostgreSQL URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        config.keepalives_idle(Duration::from_secs(30));
        config.tcp_user_timeout(CALL_TIMEOUT + Duration::from_secs(5));
        let options = config.get_options().map_or(SESSION_OPTIONS.to_owned(), |o| format!("{o} {SESSION_OPTIONS}"));
        config.options(options);
        if config.get_application_name().is_none() {
            config.application_name("livepath-server");
        }
        let tls = tls::configure(&mut config, ca_file)?;
        let runtime = OwnRuntime::new()?;
        let (first, first_tls) = (config.clone(), tls.clone());
        let opened = runtime
            .handle()
            .spawn(async move {
                let (mut client, connection) = first.connect(first_tls).await.map_err(|e| {
                    ApiError::new(ErrorCode::Unavailable, format!("cannot reach PostgreSQL: {}", describe(&e)))
                })?;
                tokio::spawn(drive(connection));
                let epoch = schema::migrate(&mut client).await?;
                let statements = Statements::prepare(&client)
                    .await
                    .map_err(|e| ApiError::internal("preparing statements", describe(&e)))?;
                Ok::<_, ApiError>((Connection { client, statements }, epoch))
            })
            .await
            .map_err(|e| ApiError::internal("connecting to PostgreSQL", e))??;
        let (connection, epoch) = opened;
        let session = Self {
            runtime,
            config,
            tls,
            connection: Some(connection),
            down: None,
            retry_at: Instant::now(),
            backoff: Duration::from_millis(100),
        };
        Ok((session, epoch))
    }

    /// The connection's settings and TLS connector (for the listening connection).
    pub fn connect_with(&self) -> (tokio_postgres::Config, Tls) {
        (self.config.clone(), self.tls.clone())
    }

    /// Runs `task` on the session's runtime, detached.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.runtime.handle().spawn(task);
    }

    /// Why PostgreSQL cannot be used right now (`None`: it can, as far as the last call knows).
    pub fn down(&self) -> Option<&str> {
        self.down.as_deref()
    }

    /// Whether there is a connection now (without trying to make one).
    pub fn connected(&self) -> bool {
        self.connection.as_ref().is_some_and(|c| !c.client.is_closed())
    }

    /// The live connection, reconnecting if it was lost and the backoff allows (or `now` is set).
    fn connection(&mut self, now: bool) -> Result<&mut Connection, ApiError> {
        if self.connection.as_ref().is_some_and(|c| c.client.is_closed()) {
            self.lost("the connection closed".into());
        }
        if self.connection.is_none() {
            let reason = self.down.clone().unwrap_or_default();
            if !now && Instant::now() < self.retry_at {
                return Err(unavailable(&reason));
            }
            let (config, tls) = self.connect_with();
            let attempt = self.runtime.handle().block_on(async move {
                let (client, connection) = tokio::time::timeout(CALL_TIMEOUT, config.connect(tls))
                    .await
                    .map_err(|_| "connecting timed out".to_owned())?
                    .map_err(|e| describe(&e))?;
                tokio::spawn(drive(connection));
                let statements = Statements::prepare(&client).await.map_err(|e| describe(&e))?;
                Ok::<_, String>(Connection { client, statements })
            });
            match attempt {
                Ok(connection) => {
                    if self.down.is_some() {
                        tracing::info!("PostgreSQL is reachable again");
                    }
                    self.connection = Some(connection);
                    self.down = None;
                    self.backoff = Duration::from_millis(100);
                }
                Err(reason) => {
                    self.lost(reason.clone());
                    return Err(unavailable(&reason));
                }
            }
        }
        self.connection.as_mut().ok_or_else(|| unavailable("not connected"))
    }

    /// The connection is gone: fail fast until the next attempt.
    fn lost(&mut self, reason: String) {
        if self.down.is_none() {
            tracing::warn!("PostgreSQL is unavailable: {reason}");
        }
        self.connection = None;
        self.down = Some(reason);
        self.retry_at = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    /// Runs `f` with the connection, with a timeout. A failure that lost the connection (or a
    /// timeout) makes the store unavailable until it reconnects; `now` reconnects at once if need be,
    /// whatever the backoff (to settle a commit whose outcome was lost).
    pub fn call<T>(
        &mut self,
        what: &str,
        now: bool,
        f: impl AsyncFnOnce(&mut Connection) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, CallError> {
        let runtime = self.runtime.handle().clone();
        let connection = self.connection(now).map_err(CallError::NotSent)?;
        let outcome = runtime.block_on(async { tokio::time::timeout(CALL_TIMEOUT, f(connection)).await });
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => match classify(&e) {
                Failure::Lost => {
                    let reason = describe(&e);
                    self.lost(reason.clone());
                    Err(CallError::Lost(unavailable(&reason)))
                }
                Failure::Transient => Err(CallError::Refused(unavailable(&describe(&e)))),
                Failure::Other => Err(CallError::Refused(ApiError::internal(what, describe(&e)))),
            },
            Err(_) => {
                self.lost(format!("{what} took longer than {} s", CALL_TIMEOUT.as_secs()));
                Err(CallError::Lost(unavailable("it stopped answering")))
            }
        }
    }
}

/// Why a call failed, and so what may have happened.
#[derive(Debug)]
pub enum CallError {
    /// Nothing was sent: there is no connection.
    NotSent(ApiError),
    /// PostgreSQL answered with an error: whatever the call's transaction did is rolled back.
    Refused(ApiError),
    /// The connection was lost on the way: a transaction's commit may or may not have happened.
    Lost(ApiError),
}

impl CallError {
    pub fn into_api(self) -> ApiError {
        match self {
            Self::NotSent(e) | Self::Refused(e) | Self::Lost(e) => e,
        }
    }
}

/// Polls a connection until it ends (the client is dropped or the server goes away).
async fn drive<S, T>(connection: tokio_postgres::Connection<S, T>)
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    if let Err(e) = connection.await {
        tracing::debug!("PostgreSQL connection ended: {}", describe(&e));
    }
}
