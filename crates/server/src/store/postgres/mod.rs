//! The shared store: PostgreSQL, for several nodes (`--database-url`). See [`schema`] for the tables
//! and why versions follow commit order, [`listen`] for how a node hears of other nodes' writes,
//! [`session`] for the connection, its timeouts and reconnection, [`tls`] for when it is encrypted.
//!
//! One connection serves the store thread (its queries run in order, as the engine's requests do) and
//! one more listens. When PostgreSQL cannot be reached, calls fail at once with `unavailable` (the
//! reason is what `/healthz` shows) and the connection is tried again with a growing backoff.

mod listen;
mod query;
mod schema;
mod session;
mod statements;
mod tls;

use std::{
    collections::{HashMap, hash_map::RandomState},
    hash::BuildHasher,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use livepath_protocol::{Path, PathKind};
use session::{CallError, Connection, Session};
use tokio_postgres::{IsolationLevel, Row};

use super::{
    ChangedDoc, Commit, Committed, Feed, Initial, InitialState, ListedDoc, Listing, QueryRead, Store, StoredDoc, Wake,
    WrittenDoc, narrow::narrows, query::run_on, resumable, split,
};
use crate::{error::ApiError, store::sqlite::KEY_RETENTION_SECS};

/// How long the log keeps a write: a node that falls further behind resends its subscribers their
/// full state.
const LOG_RETENTION_SECS: i64 = 5 * 60;
/// How often expired tombstones, keys and log entries are removed.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(30);
/// Most tombstones removed in one transaction (it holds the version row, so every write waits).
const TOMBSTONES_AT_ONCE: i64 = 5000;
/// Most log entries read at once: more than a commit can hold (`MAX_WRITES`), so that at least one
/// whole commit comes each time.
const FEED_BATCH: i64 = 2 * livepath_protocol::write::MAX_WRITES as i64;
/// The advisory lock whose holder does the housekeeping: one node at a time.
const MAINTENANCE_LOCK: i64 = 0x6c69_7665_7061_7469;

/// A query parameter.
type Param = dyn tokio_postgres::types::ToSql + Sync;

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// PostgreSQL, shared by every node.
pub struct PgStore {
    session: Session,
    max_document_bytes: usize,
    tombstone_retention_secs: i64,
    epoch: String,
    last_maintenance: Instant,
    /// The id of this node's next batch of writes, in the log: random at start, then counting, so
    /// that a commit whose answer was lost can be looked for.
    next_batch: i64,
}

impl PgStore {
    /// Connects to `url`, creating or migrating the schema. Fails if PostgreSQL cannot be reached now.
    pub async fn connect(
        url: &str,
        ca_file: Option<&std::path::Path>,
        max_document_bytes: usize,
        tombstone_retention_secs: i64,
    ) -> Result<Self, ApiError> {
        let (session, epoch) = Session::open(url, ca_file).await?;
        Ok(Self {
            session,
            max_document_bytes,
            tombstone_retention_secs,
            epoch,
            last_maintenance: Instant::now(),
            next_batch: (RandomState::new().hash_one(std::process::id()) >> 1) as i64,
        })
    }

    /// [`Session::call`], for calls whose failure, however it happened, changed nothing.
    fn call<T>(
        &mut self,
        what: &str,
        f: impl AsyncFnOnce(&mut Connection) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, ApiError> {
        self.session.call(what, false, f).map_err(CallError::into_api)
    }

    /// After the connection was lost while batch `batch` (first version `first`) was committing:
    /// whether it committed, asked of a new connection made at once. `None`: still unknown. The
    /// question waits for the version row first: while the old session's commit is still under way
    /// (a slow disk, a synchronous standby) it holds the row, and the log would not show it yet.
    fn committed(&mut self, batch: i64, first: i64) -> Option<bool> {
        let found = self.session.call("looking for a batch's commit", true, async |c| {
            let tx = c.client.transaction().await?;
            tx.execute("SELECT 1 FROM livepath_meta FOR SHARE", &[]).await?;
            let row = tx.query_opt(&c.statements.outcome, &[&first]).await?;
            tx.commit().await?;
            Ok(row)
        });
        match found {
            Ok(row) => Some(row.is_some_and(|r| r.get::<_, i64>(0) == batch)),
            Err(_) => None,
        }
    }
}

/// A document as a batch sees it: what the database held, then each commit of the batch applied.
struct Current {
    /// The document or tombstone, if ever written.
    doc: Option<StoredDoc>,
    created: i64,
    /// Whether the batch wrote it.
    written: bool,
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
        self.session.down().map(|reason| format!("PostgreSQL is unavailable: {reason}"))
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
        Ok(listing(&rows, 0))
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
        Ok(rows.iter().map(|r| changed(r, 0)).collect())
    }

    /// The version, the horizon and the path's state in one statement, so one snapshot and one round
    /// trip (a subscribe storm after a node's restart is many of them, in line with the writes).
    fn initial(&mut self, path: &Path, since: Option<u64>) -> Result<Initial, ApiError> {
        let path_text = path.as_str();
        let kind = path.kind();
        let rows = self.call("reading a subscription's first state", async |c| match kind {
            PathKind::Document => {
                let (collection, id) = split(path_text);
                c.client.query(&c.statements.initial_document, &[&collection, &id]).await
            }
            PathKind::Collection => {
                let since = since.map_or(-1, |s| s as i64);
                c.client.query(&c.statements.initial_collection, &[&path_text, &since]).await
            }
        })?;
        let meta =
            rows.first().ok_or_else(|| ApiError::internal("reading a subscription's first state", "no meta row"))?;
        let as_of = meta.get::<_, i64>(0) as u64;
        let since = resumable(since, as_of, meta.get::<_, i64>(1) as u64);
        // Every row repeats the meta columns; a row without a document (the LEFT JOIN found none) is
        // skipped.
        let docs = rows.iter().filter(|r| r.get::<_, Option<String>>(2).is_some());
        let state = match (kind, since) {
            (PathKind::Document, since) => {
                let doc = meta
                    .get::<_, Option<i64>>(3)
                    .map(|version| StoredDoc { version: version as u64, data: meta.get(4) });
                InitialState::Document { doc, since }
            }
            (PathKind::Collection, Some(since)) => {
                InitialState::Changes { since, changes: docs.map(|r| changed(r, 2)).collect() }
            }
            (PathKind::Collection, None) => InitialState::Collection(listing(docs, 2)),
        };
        Ok(Initial { as_of, state })
    }

    /// One statement (one snapshot): the documents the query's narrowing conditions let through,
    /// evaluated here.
    fn query(
        &mut self,
        path: &Path,
        query: &livepath_protocol::Query,
        limit: Option<usize>,
    ) -> Result<QueryRead, ApiError> {
        let (sql, args) = query::select(&narrows(query));
        let collection = path.as_str().to_owned();
        let rows = self.call("reading a query", async |c| {
            let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&collection];
            params.extend(args.iter().map(|a| &**a as &(dyn tokio_postgres::types::ToSql + Sync)));
            c.client.query(&sql, &params).await
        })?;
        let meta = rows.first().ok_or_else(|| ApiError::internal("reading a query", "no meta row"))?;
        let (as_of, version) = (meta.get::<_, i64>(0) as u64, meta.get::<_, i64>(1) as u64);
        let candidates = rows
            .iter()
            .filter_map(|r| {
                Some(ListedDoc {
                    id: r.get::<_, Option<String>>(2)?,
                    version: r.get::<_, i64>(3) as u64,
                    data: r.get(4),
                })
            })
            .collect();
        Ok(run_on(candidates, version, query, limit, as_of))
    }

    /// Whole commits only: when the read stops at the batch's limit, the last commit may be cut, so
    /// it is left for the next read.
    fn changes_after(&mut self, version: u64) -> Result<Feed, ApiError> {
        let after = version as i64;
        let rows =
            self.call("reading the log", async |c| c.client.query(&c.statements.feed, &[&after, &FEED_BATCH]).await)?;
        let Some(first) = rows.first() else { return Ok(Feed::Writes(Vec::new())) };
        if first.get::<_, i64>(0) > after {
            return Ok(Feed::Gone);
        }
        let full = rows.len() as i64 >= FEED_BATCH;
        let mut commits: Vec<Committed> = Vec::new();
        for row in &rows {
            let Some(version) = row.get::<_, Option<i64>>(1) else { continue };
            let collection: String = row.get(2);
            let id: String = row.get(3);
            let doc = WrittenDoc { path: format!("{collection}/{id}"), existed: row.get(5), data: row.get(4) };
            match commits.last_mut() {
                Some(last) if last.version == version as u64 => last.docs.push(doc),
                _ => commits.push(Committed { version: version as u64, docs: vec![doc], replayed: false }),
            }
        }
        if full && commits.len() > 1 {
            commits.pop();
        }
        Ok(Feed::Writes(commits))
    }

    /// One transaction for the batch: lock the version row, read every document and key the batch
    /// touches, apply the commits here in order (each all or nothing, on what the earlier ones left:
    /// under the lock no other node can write in between, so a condition checked or a counter
    /// incremented here is what commits), then write the documents, the log, the keys, the new
    /// version and the last timestamp (with a notification) together. A handful of round trips,
    /// however long the batch.
    fn commit_batch(&mut self, commits: &[&Commit]) -> Vec<Result<Committed, ApiError>> {
        let now = now_secs();
        let max = self.max_document_bytes;
        let mut collections = Vec::new();
        let mut ids = Vec::new();
        for commit in commits {
            for w in &commit.writes {
                let (collection, id) = split(w.path.as_str());
                collections.push(collection.to_owned());
                ids.push(id.to_owned());
            }
        }
        let keys: Vec<String> = commits.iter().filter_map(|c| c.key.clone()).collect();
        let batch = self.next_batch;
        self.next_batch = self.next_batch.wrapping_add(1);
        // What the batch would commit, kept here in case the answer to its commit is lost.
        let mut computed: Option<(Vec<Result<Committed, ApiError>>, i64)> = None;
        let outcome = self.session.call("committing writes", false, async |c| {
            let Connection { client, statements } = c;
            // READ COMMITTED whatever the database's default: each statement reads what was
            // committed before it, so the reads after the lock see every earlier commit.
            let tx = client.build_transaction().isolation_level(IsolationLevel::ReadCommitted).start().await?;
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
            // PostgreSQL's clock, never below the last timestamp handed out.
            let time: i64 = locked.get(1);
            let mut current: HashMap<String, Current> = docs
                .iter()
                .map(|r| {
                    let path = format!("{}/{}", r.get::<_, &str>(0), r.get::<_, &str>(1));
                    let doc = StoredDoc { version: r.get::<_, i64>(4) as u64, data: r.get(3) };
                    (path, Current { doc: Some(doc), created: r.get(2), written: false })
                })
                .collect();
            let mut seen: HashMap<String, i64> = seen.iter().map(|r| (r.get(0), r.get(1))).collect();
            let mut rows = Rows::default();
            let mut results = Vec::with_capacity(commits.len());
            for commit in commits {
                if let Some(original) = commit.key.as_deref().and_then(|k| seen.get(k)) {
                    results.push(Ok(Committed { version: *original as u64, docs: Vec::new(), replayed: true }));
                    continue;
                }
                let next = version + 1;
                let applied =
                    commit.apply(next as u64, time, max, |path| Ok(current.get(path).and_then(|c| c.doc.clone())));
                let written = match applied {
                    Ok(written) => written,
                    Err(e) => {
                        results.push(Err(e));
                        continue;
                    }
                };
                // A commit of checks only writes nothing, so takes no version.
                if !written.is_empty() {
                    version = next;
                }
                for doc in &written {
                    let entry =
                        current.entry(doc.path.clone()).or_insert(Current { doc: None, created: 0, written: false });
                    if !doc.existed {
                        entry.created = version;
                    }
                    entry.doc = Some(StoredDoc { version: version as u64, data: doc.data.clone() });
                    entry.written = true;
                    let (collection, id) = split(&doc.path);
                    rows.log_versions.push(version);
                    rows.log_collections.push(collection.to_owned());
                    rows.log_ids.push(id.to_owned());
                    rows.log_data.push(doc.data.clone());
                    rows.log_existed.push(doc.existed);
                }
                if let Some(key) = &commit.key {
                    seen.insert(key.clone(), version);
                    rows.keys.push(key.clone());
                    rows.key_versions.push(version);
                }
                results.push(Ok(Committed { version: version as u64, docs: written, replayed: false }));
            }
            if rows.log_versions.is_empty() && rows.keys.is_empty() {
                tx.rollback().await?;
                return Ok(results);
            }
            let (mut doc_collections, mut doc_ids, mut doc_versions, mut doc_created, mut doc_data) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (path, entry) in &current {
                let (true, Some(doc)) = (entry.written, &entry.doc) else { continue };
                let (collection, id) = split(path);
                doc_collections.push(collection.to_owned());
                doc_ids.push(id.to_owned());
                doc_versions.push(doc.version as i64);
                doc_created.push(entry.created);
                doc_data.push(doc.data.clone());
            }
            let doc_params: [&Param; 6] = [&doc_collections, &doc_ids, &doc_versions, &doc_created, &doc_data, &now];
            let log_params: [&Param; 7] = [
                &rows.log_versions,
                &rows.log_collections,
                &rows.log_ids,
                &rows.log_data,
                &rows.log_existed,
                &now,
                &batch,
            ];
            let key_params: [&Param; 3] = [&rows.keys, &rows.key_versions, &now];
            let advance_params: [&Param; 2] = [&version, &time];
            tokio::try_join!(
                tx.execute(&c.upsert_docs, &doc_params),
                tx.execute(&c.insert_log, &log_params),
                tx.execute(&c.upsert_keys, &key_params),
                tx.query(&c.advance, &advance_params),
            )?;
            computed = rows.log_versions.first().map(|first| (results.clone(), *first));
            tx.commit().await?;
            Ok(results)
        });
        let error = match outcome {
            Ok(results) => return results,
            Err(CallError::Lost(e)) => match computed {
                // The connection went while the commit may have been on its way: ask a new one.
                Some((results, first)) => match self.committed(batch, first) {
                    Some(true) => return results,
                    Some(false) => e,
                    None => ApiError::new(
                        e.code,
                        format!(
                            "{}; the write may or may not have been committed: retry it with its idempotency key",
                            e.message
                        ),
                    ),
                },
                None => e,
            },
            Err(e) => e.into_api(),
        };
        commits.iter().map(|_| Err(error.clone())).collect()
    }

    /// Removes expired tombstones (moving the horizon), log entries and keys, on one node at a time
    /// (whichever holds the advisory lock), each in a transaction of its own. The tombstones' takes the
    /// version row first, as writes do, so the two never wait on each other in opposite orders.
    fn maintain(&mut self) {
        // As often as the retention, if it is shorter (tests use seconds).
        let every = MAINTENANCE_EVERY.min(Duration::from_secs(self.tombstone_retention_secs.max(1) as u64));
        if self.last_maintenance.elapsed() < every || !self.session.connected() {
            return;
        }
        self.last_maintenance = Instant::now();
        let now = now_secs();
        let tombstones_before = now - self.tombstone_retention_secs;
        let result = self.call("removing expired tombstones, keys and log entries", async |c| {
            // Each: whether it takes the version row first, the statement, its parameters.
            let steps: [(bool, &str, &[&Param]); 3] = [
                (
                    true,
                    "WITH gone AS (
                         DELETE FROM livepath_docs WHERE ctid IN (
                             SELECT ctid FROM livepath_docs WHERE data IS NULL AND at < $1 LIMIT $2
                         ) RETURNING version
                     )
                     UPDATE livepath_meta SET horizon = GREATEST(horizon, (SELECT COALESCE(MAX(version), 0) FROM gone))",
                    &[&tombstones_before, &TOMBSTONES_AT_ONCE],
                ),
                (
                    false,
                    "WITH gone AS (DELETE FROM livepath_log WHERE at < $1 RETURNING version)
                     UPDATE livepath_meta SET log_horizon = GREATEST(log_horizon, (SELECT COALESCE(MAX(version), 0) FROM gone))",
                    &[&(now - LOG_RETENTION_SECS)],
                ),
                (false, "DELETE FROM livepath_keys WHERE at < $1", &[&(now - KEY_RETENTION_SECS)]),
            ];
            for (lock_first, sql, params) in steps {
                let tx = c.client.transaction().await?;
                let mine: bool = tx.query_one("SELECT pg_try_advisory_xact_lock($1)", &[&MAINTENANCE_LOCK]).await?.get(0);
                if !mine {
                    return Ok(()); // another node is at it
                }
                if lock_first {
                    tx.execute(&c.statements.lock, &[]).await?;
                }
                tx.execute(sql, params).await?;
                tx.commit().await?;
            }
            Ok(())
        });
        if let Err(e) = result {
            tracing::warn!("housekeeping: {e}");
        }
    }

    fn watch(&mut self, wake: Wake) {
        self.session.spawn(listen::listen(self.session.connect_with(), wake));
    }
}

/// A collection's listing from rows whose columns from `at` on are id, version, data (tombstones
/// included: they count for the listing's version).
fn listing<'a>(rows: impl IntoIterator<Item = &'a Row>, at: usize) -> Listing {
    let mut version = 0;
    let mut docs = Vec::new();
    for r in rows {
        let v = r.get::<_, i64>(at + 1) as u64;
        version = version.max(v);
        if let Some(data) = r.get::<_, Option<String>>(at + 2) {
            docs.push(ListedDoc { id: r.get(at), version: v, data });
        }
    }
    Listing { version, docs }
}

/// A changed document from a row whose columns from `at` on are id, version, data, created.
fn changed(r: &Row, at: usize) -> ChangedDoc {
    ChangedDoc {
        id: r.get(at),
        version: r.get::<_, i64>(at + 1) as u64,
        data: r.get(at + 2),
        created: r.get::<_, i64>(at + 3) as u64,
    }
}
