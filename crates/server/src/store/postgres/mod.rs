//! The shared store: PostgreSQL, for several nodes (`--database-url`). See [`schema`] for the tables
//! and why versions follow commit order, [`listen`] for how a node hears of other nodes' writes.
//!
//! One connection serves the store thread (its queries run in order, as the engine's requests do) and
//! one more listens. Each call blocks the store thread on the server's async runtime, with a timeout.
//! When PostgreSQL cannot be reached, calls fail at once with `unavailable` (the reason is what
//! `/healthz` shows) and the connection is tried again with a growing backoff, up to every few seconds.

mod listen;
mod schema;

use std::{
    collections::HashMap,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use livepath_protocol::{ErrorCode, Path, PathKind};
use serde_json::Value;
use tokio::runtime::Handle;
use tokio_postgres::{Client, IsolationLevel, NoTls, Row, Statement};

use super::{
    ChangedDoc, Committed, Feed, Initial, InitialState, ListedDoc, Listing, Logged, Mutation, Store, StoredDoc, Wake,
    Write, apply, resumable, split,
};
use crate::{error::ApiError, store::sqlite::KEY_RETENTION_SECS};

/// The longest a call to PostgreSQL may take before the connection counts as lost.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the log keeps a write: a node that falls further behind resends its subscribers their
/// full state.
const LOG_RETENTION_SECS: i64 = 5 * 60;
/// How often expired tombstones, keys and log entries are removed.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(30);
/// Most log entries read at once.
const FEED_BATCH: i64 = 1000;
/// The longest wait between attempts to reconnect.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A query parameter.
type Param = dyn tokio_postgres::types::ToSql + Sync;

/// A PostgreSQL error in a form worth logging: the server's message and code when it sent one.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// The statements the store runs, prepared once per connection.
struct Statements {
    lock: Statement,
    read_docs: Statement,
    read_keys: Statement,
    upsert_docs: Statement,
    insert_log: Statement,
    upsert_keys: Statement,
    advance: Statement,
    get: Statement,
    list: Statement,
    changes_since: Statement,
    meta: Statement,
    feed: Statement,
}

impl Statements {
    async fn prepare(client: &Client) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            lock: client.prepare("SELECT version FROM livepath_meta FOR UPDATE").await?,
            read_docs: client
                .prepare(
                    "SELECT collection, id, created, data::text FROM livepath_docs
                     WHERE (collection, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
                )
                .await?,
            read_keys: client
                .prepare("SELECT key, version FROM livepath_keys WHERE key = ANY($1::text[]) AND at >= $2")
                .await?,
            upsert_docs: client
                .prepare(
                    "INSERT INTO livepath_docs (collection, id, version, created, data, at)
                     SELECT c, i, v, cr, d::jsonb, $6
                     FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[], $5::text[]) AS t(c, i, v, cr, d)
                     ON CONFLICT (collection, id) DO UPDATE SET
                         version = excluded.version, created = excluded.created, data = excluded.data, at = excluded.at",
                )
                .await?,
            insert_log: client
                .prepare(
                    "INSERT INTO livepath_log (version, collection, id, data, existed, at)
                     SELECT v, c, i, d::jsonb, e, $6
                     FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::bool[]) AS t(v, c, i, d, e)",
                )
                .await?,
            upsert_keys: client
                .prepare(
                    "INSERT INTO livepath_keys (key, version, at) SELECT k, v, $3
                     FROM unnest($1::text[], $2::int8[]) AS t(k, v)
                     ON CONFLICT (key) DO UPDATE SET version = excluded.version, at = excluded.at",
                )
                .await?,
            advance: client
                .prepare(&format!(
                    "WITH advanced AS (UPDATE livepath_meta SET version = $1 RETURNING version)
                     SELECT pg_notify('{}', version::text) FROM advanced",
                    listen::CHANNEL
                ))
                .await?,
            get: client
                .prepare("SELECT version, data::text FROM livepath_docs WHERE collection = $1 AND id = $2")
                .await?,
            list: client
                .prepare(
                    "SELECT id, version, data::text, data IS NOT NULL FROM livepath_docs WHERE collection = $1
                     ORDER BY id",
                )
                .await?,
            changes_since: client
                .prepare(
                    "SELECT id, version, data::text, created FROM livepath_docs
                     WHERE collection = $1 AND version > $2 ORDER BY id",
                )
                .await?,
            meta: client.prepare("SELECT version, horizon FROM livepath_meta").await?,
            feed: client
                .prepare(
                    "SELECT m.log_horizon, l.version, l.collection, l.id, l.data::text, l.existed
                     FROM livepath_meta m LEFT JOIN LATERAL (
                         SELECT * FROM livepath_log WHERE version > $1 ORDER BY version LIMIT $2
                     ) l ON true ORDER BY l.version",
                )
                .await?,
        })
    }
}

/// A live connection and its statements.
struct Connection {
    client: Client,
    statements: Statements,
}

/// PostgreSQL, shared by every node.
pub struct PgStore {
    config: tokio_postgres::Config,
    runtime: Handle,
    connection: Option<Connection>,
    /// Why the last attempt to reach PostgreSQL failed, while it is down.
    down: Option<String>,
    /// When to try to connect again, while down.
    retry_at: Instant,
    backoff: Duration,
    max_document_bytes: usize,
    tombstone_retention_secs: i64,
    epoch: String,
    last_maintenance: Instant,
}

fn unavailable(reason: &str) -> ApiError {
    ApiError::new(ErrorCode::Unavailable, format!("the database is unavailable: {reason}"))
}

impl PgStore {
    /// Connects to `url`, creating or migrating the schema. Fails if PostgreSQL cannot be reached now.
    pub async fn connect(
        url: &str,
        max_document_bytes: usize,
        tombstone_retention_secs: i64,
    ) -> Result<Self, ApiError> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| ApiError::invalid(format!("--database-url is not a PostgreSQL URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        config.keepalives_idle(Duration::from_secs(30));
        if config.get_application_name().is_none() {
            config.application_name("livepath-server");
        }
        let (mut client, connection) = config
            .connect(NoTls)
            .await
            .map_err(|e| ApiError::new(ErrorCode::Unavailable, format!("cannot reach PostgreSQL: {}", describe(&e))))?;
        tokio::spawn(drive(connection));
        let epoch = schema::migrate(&mut client).await?;
        let statements =
            Statements::prepare(&client).await.map_err(|e| ApiError::internal("preparing statements", describe(&e)))?;
        Ok(Self {
            config,
            runtime: Handle::current(),
            connection: Some(Connection { client, statements }),
            down: None,
            retry_at: Instant::now(),
            backoff: Duration::from_millis(100),
            max_document_bytes,
            tombstone_retention_secs,
            epoch,
            last_maintenance: Instant::now(),
        })
    }

    /// The live connection, reconnecting if it was lost and the backoff allows.
    fn connection(&mut self) -> Result<&mut Connection, ApiError> {
        if self.connection.as_ref().is_some_and(|c| c.client.is_closed()) {
            self.lost("the connection closed".into());
        }
        if self.connection.is_none() {
            let reason = self.down.clone().unwrap_or_default();
            if Instant::now() < self.retry_at {
                return Err(unavailable(&reason));
            }
            let config = self.config.clone();
            let attempt = self.runtime.block_on(async move {
                let (client, connection) = tokio::time::timeout(CALL_TIMEOUT, config.connect(NoTls))
                    .await
                    .map_err(|_| "connecting timed out".to_owned())?
                    .map_err(|e| describe(&e))?;
                tokio::spawn(drive(connection));
                let statements = Statements::prepare(&client).await.map_err(|e| describe(&e))?;
                Ok::<_, String>(Connection { client, statements })
            });
            match attempt {
                Ok(connection) => {
                    tracing::info!("PostgreSQL is reachable again");
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

    /// Runs `f` with the connection, on the runtime, with a timeout; a failure that lost the
    /// connection makes the store unavailable.
    fn call<T>(
        &mut self,
        what: &str,
        f: impl AsyncFnOnce(&mut Connection) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, ApiError> {
        let runtime = self.runtime.clone();
        let connection = self.connection()?;
        let outcome = runtime.block_on(async { tokio::time::timeout(CALL_TIMEOUT, f(connection)).await });
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) if e.is_closed() || self.connection.as_ref().is_none_or(|c| c.client.is_closed()) => {
                let reason = describe(&e);
                self.lost(reason.clone());
                Err(unavailable(&reason))
            }
            Ok(Err(e)) => Err(ApiError::internal(what, describe(&e))),
            Err(_) => {
                self.lost(format!("{what} took longer than {} s", CALL_TIMEOUT.as_secs()));
                Err(unavailable("it stopped answering"))
            }
        }
    }
}

/// Polls a connection until it ends (the client is dropped or the server goes away).
async fn drive(connection: tokio_postgres::Connection<tokio_postgres::Socket, tokio_postgres::tls::NoTlsStream>) {
    if let Err(e) = connection.await {
        tracing::debug!("PostgreSQL connection ended: {}", describe(&e));
    }
}

/// Whether `value` holds a NUL character in a string or key, which `jsonb` cannot store.
fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

fn refuse_nul(mutation: &Mutation, path: &str) -> Result<(), ApiError> {
    let fields = match mutation {
        Mutation::Set(data) | Mutation::Update(data) => data,
        Mutation::Delete => return Ok(()),
    };
    if fields.iter().any(|(k, v)| k.contains('\0') || has_nul(v)) {
        return Err(ApiError::invalid(format!(
            "document {path}: strings cannot hold the NUL character (\\u0000) in this database"
        )));
    }
    Ok(())
}

/// A document as a batch sees it: what the database held, then each write of the batch applied.
struct Current {
    data: Option<String>,
    created: i64,
    /// Its version, if the batch wrote it.
    written: Option<i64>,
}

/// The rows a batch inserts, column by column (for `unnest`).
#[derive(Default)]
struct Rows {
    log_versions: Vec<i64>,
    log_collections: Vec<String>,
    log_ids: Vec<String>,
    log_data: Vec<Option<String>>,
    log_existed: Vec<bool>,
    keys: Vec<String>,
    key_versions: Vec<i64>,
}

impl Store for PgStore {
    fn unavailable(&self) -> Option<String> {
        self.down.as_ref().map(|reason| format!("PostgreSQL is unavailable: {reason}"))
    }

    fn epoch(&self) -> &str {
        &self.epoch
    }

    fn get(&mut self, path: &str) -> Result<Option<StoredDoc>, ApiError> {
        let (collection, id) = split(path);
        let row = self
            .call("reading a document", async |c| c.client.query_opt(&c.statements.get, &[&collection, &id]).await)?;
        Ok(row.map(|r| StoredDoc { version: r.get::<_, i64>(0) as u64, data: r.get(1) }))
    }

    fn list(&mut self, path: &str) -> Result<Listing, ApiError> {
        let rows = self.call("listing a collection", async |c| c.client.query(&c.statements.list, &[&path]).await)?;
        Ok(listing(&rows))
    }

    fn current_version(&mut self) -> Result<u64, ApiError> {
        let row = self.call("reading the version", async |c| c.client.query_one(&c.statements.meta, &[]).await)?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    fn horizon(&mut self) -> Result<u64, ApiError> {
        let row = self.call("reading the horizon", async |c| c.client.query_one(&c.statements.meta, &[]).await)?;
        Ok(row.get::<_, i64>(1) as u64)
    }

    fn changes_since(&mut self, path: &str, since: u64) -> Result<Vec<ChangedDoc>, ApiError> {
        let since = since as i64;
        let rows = self
            .call("reading changes", async |c| c.client.query(&c.statements.changes_since, &[&path, &since]).await)?;
        Ok(rows.iter().map(changed).collect())
    }

    /// One snapshot (a repeatable-read transaction) for the version and the path's state.
    fn initial(&mut self, path: &Path, since: Option<u64>) -> Result<Initial, ApiError> {
        let path_text = path.as_str();
        let kind = path.kind();
        self.call("reading a subscription's first state", async |c| {
            let Connection { client, statements } = c;
            let tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let c = &*statements;
            let meta = tx.query_one(&c.meta, &[]).await?;
            let as_of = meta.get::<_, i64>(0) as u64;
            let since = resumable(since, as_of, meta.get::<_, i64>(1) as u64);
            let state = match (kind, since) {
                (PathKind::Document, since) => {
                    let (collection, id) = split(path_text);
                    let row = tx.query_opt(&c.get, &[&collection, &id]).await?;
                    let doc = row.map(|r| StoredDoc { version: r.get::<_, i64>(0) as u64, data: r.get(1) });
                    InitialState::Document { doc, since }
                }
                (PathKind::Collection, Some(since)) => {
                    let rows = tx.query(&c.changes_since, &[&path_text, &(since as i64)]).await?;
                    InitialState::Changes { since, changes: rows.iter().map(changed).collect() }
                }
                (PathKind::Collection, None) => {
                    InitialState::Collection(listing(&tx.query(&c.list, &[&path_text]).await?))
                }
            };
            tx.commit().await?;
            Ok(Initial { as_of, state })
        })
    }

    fn changes_after(&mut self, version: u64) -> Result<Feed, ApiError> {
        let after = version as i64;
        let rows =
            self.call("reading the log", async |c| c.client.query(&c.statements.feed, &[&after, &FEED_BATCH]).await)?;
        let Some(first) = rows.first() else { return Ok(Feed::Writes(Vec::new())) };
        if first.get::<_, i64>(0) > after {
            return Ok(Feed::Gone);
        }
        let mut writes = Vec::with_capacity(rows.len());
        for row in &rows {
            let Some(version) = row.get::<_, Option<i64>>(1) else { continue };
            let collection: String = row.get(2);
            let id: String = row.get(3);
            let data: Option<String> = row.get(4);
            writes.push(Logged {
                path: format!("{collection}/{id}"),
                committed: Committed { version: version as u64, existed: row.get(5), data, replayed: false },
            });
        }
        Ok(Feed::Writes(writes))
    }

    fn write(&mut self, path: &str, mutation: &Mutation, key: Option<&str>) -> Result<Committed, ApiError> {
        self.write_batch(&[Write { path, mutation, key }]).pop().unwrap_or_else(|| Err(unavailable("no answer")))
    }

    /// One transaction for the batch: lock the version row, read every document and key the batch
    /// touches, apply the writes here in order, then write the documents, the log, the keys and the
    /// new version (with a notification) together. A handful of round trips, however long the batch.
    fn write_batch(&mut self, writes: &[Write<'_>]) -> Vec<Result<Committed, ApiError>> {
        let now = now_secs();
        let max = self.max_document_bytes;
        let mut collections = Vec::new();
        let mut ids = Vec::new();
        for w in writes {
            let (collection, id) = split(w.path);
            collections.push(collection.to_owned());
            ids.push(id.to_owned());
        }
        let keys: Vec<String> = writes.iter().filter_map(|w| w.key.map(str::to_owned)).collect();
        let outcome = self.call("committing writes", async |c| {
            let Connection { client, statements } = c;
            let tx = client.transaction().await?;
            let c = &*statements;
            let keys_since = now - KEY_RETENTION_SECS;
            // Sent together; PostgreSQL runs them in order, the reads once the lock is held.
            let doc_params: [&Param; 2] = [&collections, &ids];
            let key_params: [&Param; 2] = [&keys, &keys_since];
            let (locked, docs, seen) = tokio::try_join!(
                tx.query_one(&c.lock, &[]),
                tx.query(&c.read_docs, &doc_params),
                tx.query(&c.read_keys, &key_params),
            )?;
            let mut version: i64 = locked.get(0);
            let mut current: HashMap<String, Current> = docs
                .iter()
                .map(|r| {
                    let path = format!("{}/{}", r.get::<_, &str>(0), r.get::<_, &str>(1));
                    (path, Current { created: r.get(2), data: r.get(3), written: None })
                })
                .collect();
            let mut seen: HashMap<String, i64> = seen.iter().map(|r| (r.get(0), r.get(1))).collect();
            let mut rows = Rows::default();
            let mut results = Vec::with_capacity(writes.len());
            for w in writes {
                let doc = current.entry(w.path.to_owned()).or_insert(Current { data: None, created: 0, written: None });
                if let Some(original) = w.key.and_then(|k| seen.get(k)) {
                    let data = doc.data.clone();
                    results.push(Ok(Committed {
                        version: *original as u64,
                        existed: data.is_some(),
                        data,
                        replayed: true,
                    }));
                    continue;
                }
                let after =
                    refuse_nul(w.mutation, w.path).and_then(|()| apply(doc.data.as_deref(), w.mutation, w.path, max));
                let after = match after {
                    Ok(after) => after,
                    Err(e) => {
                        results.push(Err(e));
                        continue;
                    }
                };
                version += 1;
                let existed = doc.data.is_some();
                if !existed {
                    doc.created = version;
                }
                doc.data = after.clone();
                doc.written = Some(version);
                let (collection, id) = split(w.path);
                rows.log_versions.push(version);
                rows.log_collections.push(collection.to_owned());
                rows.log_ids.push(id.to_owned());
                rows.log_data.push(after.clone());
                rows.log_existed.push(existed);
                if let Some(key) = w.key {
                    seen.insert(key.to_owned(), version);
                    rows.keys.push(key.to_owned());
                    rows.key_versions.push(version);
                }
                results.push(Ok(Committed { version: version as u64, existed, data: after, replayed: false }));
            }
            if rows.log_versions.is_empty() {
                tx.rollback().await?;
                return Ok(results);
            }
            let (mut doc_collections, mut doc_ids, mut doc_versions, mut doc_created, mut doc_data) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (path, doc) in &current {
                let Some(written) = doc.written else { continue };
                let (collection, id) = split(path);
                doc_collections.push(collection.to_owned());
                doc_ids.push(id.to_owned());
                doc_versions.push(written);
                doc_created.push(doc.created);
                doc_data.push(doc.data.clone());
            }
            let doc_params: [&Param; 6] = [&doc_collections, &doc_ids, &doc_versions, &doc_created, &doc_data, &now];
            let log_params: [&Param; 6] =
                [&rows.log_versions, &rows.log_collections, &rows.log_ids, &rows.log_data, &rows.log_existed, &now];
            let key_params: [&Param; 3] = [&rows.keys, &rows.key_versions, &now];
            let advance_params: [&Param; 1] = [&version];
            tokio::try_join!(
                tx.execute(&c.upsert_docs, &doc_params),
                tx.execute(&c.insert_log, &log_params),
                tx.execute(&c.upsert_keys, &key_params),
                tx.query(&c.advance, &advance_params),
            )?;
            tx.commit().await?;
            Ok(results)
        });
        match outcome {
            Ok(results) => results,
            Err(e) => writes.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    fn maintain(&mut self) {
        // As often as the retention, if it is shorter (tests use seconds).
        let every = MAINTENANCE_EVERY.min(Duration::from_secs(self.tombstone_retention_secs.max(1) as u64));
        if self.last_maintenance.elapsed() < every || self.connection.is_none() {
            return;
        }
        self.last_maintenance = Instant::now();
        let now = now_secs();
        let tombstones_before = now - self.tombstone_retention_secs;
        let result = self.call("removing expired tombstones, keys and log entries", async |c| {
            c.client
                .execute(
                    "WITH gone AS (DELETE FROM livepath_docs WHERE data IS NULL AND at < $1 RETURNING version)
                     UPDATE livepath_meta SET horizon = GREATEST(horizon, (SELECT COALESCE(MAX(version), 0) FROM gone))",
                    &[&tombstones_before],
                )
                .await?;
            c.client
                .execute(
                    "WITH gone AS (DELETE FROM livepath_log WHERE at < $1 RETURNING version)
                     UPDATE livepath_meta SET log_horizon = GREATEST(log_horizon, (SELECT COALESCE(MAX(version), 0) FROM gone))",
                    &[&(now - LOG_RETENTION_SECS)],
                )
                .await?;
            c.client.execute("DELETE FROM livepath_keys WHERE at < $1", &[&(now - KEY_RETENTION_SECS)]).await
        });
        if let Err(e) = result {
            tracing::warn!("housekeeping: {e}");
        }
    }

    fn watch(&mut self, wake: Wake) {
        tokio::spawn(listen::listen(self.config.clone(), wake));
    }
}

fn listing(rows: &[Row]) -> Listing {
    let mut version = 0;
    let mut docs = Vec::new();
    for r in rows {
        let v = r.get::<_, i64>(1) as u64;
        version = version.max(v);
        if let Some(data) = r.get::<_, Option<String>>(2) {
            docs.push(ListedDoc { id: r.get(0), version: v, data });
        }
    }
    Listing { version, docs }
}

fn changed(r: &Row) -> ChangedDoc {
    ChangedDoc { id: r.get(0), version: r.get::<_, i64>(1) as u64, data: r.get(2), created: r.get::<_, i64>(3) as u64 }
}
