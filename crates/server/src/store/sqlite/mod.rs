//! The embedded store: SQLite in WAL mode with `synchronous = FULL`, so a commit is on disk before it
//! is acknowledged.
//!
//! Schema (version 3, in `PRAGMA user_version`; older versions are migrated on open):
//! - `docs(collection, id, version, created, data, at)`: one row per document written (a tombstone,
//!   `data` NULL, until the retention removes it); `created` is the version that last brought it into
//!   existence, which tells a resuming subscriber `added` from `modified`; `at` is when it was last
//!   written (Unix seconds; added by version 2). The primary key orders a collection by id in byte
//!   order (SQLite's BINARY collation); `docs_by_version` finds what changed since a version.
//! - `meta('version')`: the one global version sequence. `meta('horizon')` (version 2): the highest
//!   version of a tombstone removed so far; a `since` below it cannot be resumed from.
//! - `write_keys(key, version, at)`: idempotency keys, kept for [`KEY_RETENTION_SECS`].
//! - `identity('epoch')` (version 3): the database's epoch, random, made with the table.
//! - `meta('timestamp')` (version 4): the last server timestamp handed out (milliseconds), so that
//!   timestamps never decrease in version order, also across restarts and a clock that steps back.

use std::{
    path::Path,
    time::{SystemTime, UNIX_EPOCH},
};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

mod functions;
mod indexes;

use super::{
    ChangedDoc, Commit, Committed, ListedDoc, Listing, QueryRead, Store, StoredDoc, clock_ms, commit_time,
    narrow::{Narrow, Scalar, Test, narrows},
    query::run_on,
    split,
};
use crate::{config::IndexSpec, error::ApiError};

/// How long an idempotency key is remembered: a retry after this is applied again.
pub const KEY_RETENTION_SECS: i64 = 24 * 60 * 60;

const SCHEMA_VERSION: i64 = 4;

/// How long deletes are remembered by default: a client away longer resyncs in full.
pub const DEFAULT_TOMBSTONE_RETENTION_SECS: i64 = 7 * 24 * 60 * 60;

/// SQLite, on disk or in memory.
pub struct SqliteStore {
    /// The one connection; `Engine` serialises access to it.
    conn: Connection,
    /// The declared indexes (`--index`).
    indexes: Vec<IndexSpec>,
    /// Writes since keys were last pruned.
    writes_since_prune: u32,
    /// Largest document, as serialized JSON (`--max-document-bytes`).
    max_document_bytes: usize,
    /// Tombstones older than this many seconds are removed (`--tombstone-retention`).
    tombstone_retention_secs: i64,
    /// When tombstones were last removed (Unix seconds).
    last_purge: i64,
    /// `meta('horizon')`, kept here too: only this store moves it, and every subscribe reads it.
    horizon: u64,
    /// `identity('epoch')`: fixed once the database exists.
    epoch: String,
}

fn db_err(e: rusqlite::Error) -> ApiError {
    ApiError::internal("database", e)
}

impl SqliteStore {
    /// Opens (creating or migrating) `dir/livepath.sqlite3`.
    pub fn open(dir: &Path, max_document_bytes: usize) -> Result<Self, ApiError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| ApiError::internal(&format!("creating data directory {}", dir.display()), e))?;
        let conn = Connection::open(dir.join("livepath.sqlite3")).map_err(db_err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(db_err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(db_err)?;
        Self::init(conn, max_document_bytes)
    }

    /// A store that lives and dies with the process.
    pub fn in_memory(max_document_bytes: usize) -> Result<Self, ApiError> {
        Self::init(Connection::open_in_memory().map_err(db_err)?, max_document_bytes)
    }

    fn init(conn: Connection, max_document_bytes: usize) -> Result<Self, ApiError> {
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(db_err)?;
        // Before anything reads or writes: declared indexes are built on them.
        functions::register(&conn).map_err(db_err)?;
        let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(db_err)?;
        if found > SCHEMA_VERSION {
            return Err(ApiError::internal(
                "opening the database",
                format!("schema version {found} is newer than this server's {SCHEMA_VERSION}"),
            ));
        }
        if found < 1 {
            conn.execute_batch(
                "BEGIN;
                 CREATE TABLE docs (
                     collection TEXT NOT NULL,
                     id TEXT NOT NULL,
                     version INTEGER NOT NULL,
                     created INTEGER NOT NULL,
                     data TEXT,
                     PRIMARY KEY (collection, id)
                 ) WITHOUT ROWID;
                 CREATE INDEX docs_by_version ON docs (collection, version);
                 CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
                 INSERT INTO meta VALUES ('version', 0);
                 CREATE TABLE write_keys (key TEXT PRIMARY KEY, version INTEGER NOT NULL, at INTEGER NOT NULL)
                     WITHOUT ROWID;
                 PRAGMA user_version = 1;
                 COMMIT;",
            )
            .map_err(db_err)?;
        }
        if found < 2 {
            // Rows written before version 2 count as written now: their tombstones live a full
            // retention from the upgrade.
            conn.execute_batch(
                "BEGIN;
                 ALTER TABLE docs ADD COLUMN at INTEGER NOT NULL DEFAULT 0;
                 UPDATE docs SET at = CAST(strftime('%s', 'now') AS INTEGER);
                 INSERT INTO meta VALUES ('horizon', 0);
                 PRAGMA user_version = 2;
                 COMMIT;",
            )
            .map_err(db_err)?;
        }
        if found < 3 {
            conn.execute_batch(
                "BEGIN;
                 CREATE TABLE identity (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
                 INSERT INTO identity VALUES ('epoch', lower(hex(randomblob(16))));
                 PRAGMA user_version = 3;
                 COMMIT;",
            )
            .map_err(db_err)?;
        }
        if found < 4 {
            conn.execute_batch(
                "BEGIN;
                 INSERT INTO meta VALUES ('timestamp', 0);
                 PRAGMA user_version = 4;
                 COMMIT;",
            )
            .map_err(db_err)?;
        }
        let tombstone_retention_secs = DEFAULT_TOMBSTONE_RETENTION_SECS;
        let horizon = read_meta(&conn, "horizon")?;
        let epoch =
            conn.query_row("SELECT value FROM identity WHERE key = 'epoch'", [], |r| r.get(0)).map_err(db_err)?;
        Ok(Self {
            conn,
            indexes: Vec::new(),
            writes_since_prune: 0,
            max_document_bytes,
            tombstone_retention_secs,
            last_purge: 0,
            horizon,
            epoch,
        })
    }

    /// The store with the indexes `specs` declare (created if new), and no others (dropped if an
    /// earlier start declared them).
    pub fn with_indexes(mut self, specs: &[IndexSpec]) -> Result<Self, ApiError> {
        indexes::declare(&self.conn, specs).map_err(db_err)?;
        self.indexes = specs.to_vec();
        Ok(self)
    }

    /// Keeps tombstones `secs` seconds instead of [`DEFAULT_TOMBSTONE_RETENTION_SECS`], and removes
    /// those already older.
    pub fn with_tombstone_retention(mut self, secs: i64) -> Result<Self, ApiError> {
        self.tombstone_retention_secs = secs;
        self.purge_tombstones(now_secs())?;
        Ok(self)
    }

    /// Removes the tombstones written before `now` less the retention, and moves the horizon up to the
    /// highest version removed, in one transaction. How many were removed.
    pub fn purge_tombstones(&mut self, now: i64) -> Result<usize, ApiError> {
        let before = now - self.tombstone_retention_secs;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_err)?;
        tx.execute(
            "UPDATE meta SET value = MAX(value, (SELECT COALESCE(MAX(version), 0) FROM docs
                 WHERE data IS NULL AND at < ?1))
             WHERE key = 'horizon'",
            params![before],
        )
        .map_err(db_err)?;
        let removed = tx.execute("DELETE FROM docs WHERE data IS NULL AND at < ?1", params![before]).map_err(db_err)?;
        let horizon = read_meta(&tx, "horizon")?;
        tx.commit().map_err(db_err)?;
        self.horizon = horizon;
        self.last_purge = now;
        Ok(removed)
    }
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// A counter of the `meta` table.
fn read_meta(conn: &Connection, key: &str) -> Result<u64, ApiError> {
    conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")
        .map_err(db_err)?
        .query_row(params![key], |r| r.get::<_, i64>(0))
        .map(|v| v as u64)
        .map_err(db_err)
}

fn read_doc(conn: &Connection, path: &str) -> Result<Option<StoredDoc>, ApiError> {
    let (collection, id) = split(path);
    conn.prepare_cached("SELECT version, data FROM docs WHERE collection = ?1 AND id = ?2")
        .map_err(db_err)?
        .query_row(params![collection, id], |r| Ok(StoredDoc { version: r.get::<_, i64>(0)? as u64, data: r.get(1)? }))
        .optional()
        .map_err(db_err)
}

impl Store for SqliteStore {
    fn get(&mut self, path: &str) -> Result<Option<StoredDoc>, ApiError> {
        read_doc(&self.conn, path)
    }

    fn list(&mut self, path: &str) -> Result<Listing, ApiError> {
        let version: i64 = self
            .conn
            .prepare_cached("SELECT COALESCE(MAX(version), 0) FROM docs WHERE collection = ?1")
            .map_err(db_err)?
            .query_row(params![path], |r| r.get(0))
            .map_err(db_err)?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, version, data FROM docs WHERE collection = ?1 AND data IS NOT NULL ORDER BY id")
            .map_err(db_err)?;
        let docs = stmt
            .query_map(params![path], |r| {
                Ok(ListedDoc { id: r.get(0)?, version: r.get::<_, i64>(1)? as u64, data: r.get(2)? })
            })
            .map_err(db_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)?;
        Ok(Listing { version: version as u64, docs })
    }

    fn horizon(&mut self) -> Result<u64, ApiError> {
        Ok(self.horizon)
    }

    /// Through a declared index that serves the query, only the documents of its result, in order
    /// (see `indexes`); otherwise the documents the query's narrowing conditions let through
    /// (SQLite's `json_extract` on the filters that allow it: see `narrow`). Then the query is
    /// evaluated on them. Only this process writes, so the reads here are of one moment.
    fn query(
        &mut self,
        path: &livepath_protocol::Path,
        query: &livepath_protocol::Query,
        limit: Option<usize>,
    ) -> Result<QueryRead, ApiError> {
        let as_of = self.current_version()?;
        let version: i64 = self
            .conn
            .prepare_cached("SELECT COALESCE(MAX(version), 0) FROM docs WHERE collection = ?1")
            .map_err(db_err)?
            .query_row(params![path.as_str()], |r| r.get(0))
            .map_err(db_err)?;
        let (sql, mut args) = match indexes::plan(&self.indexes, query) {
            Some(plan) => indexes::select(&plan, query, limit),
            None => narrowed_select(&narrows(query)),
        };
        args.insert(0, rusqlite::types::Value::Text(path.as_str().to_owned()));
        let mut stmt = self.conn.prepare_cached(&sql).map_err(db_err)?;
        let candidates = stmt
            .query_map(rusqlite::params_from_iter(args), |r| {
                Ok(ListedDoc { id: r.get(0)?, version: r.get::<_, i64>(1)? as u64, data: r.get(2)? })
            })
            .map_err(db_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)?;
        Ok(run_on(candidates, version as u64, query, limit, as_of))
    }

    fn epoch(&self) -> &str {
        &self.epoch
    }

    fn current_version(&mut self) -> Result<u64, ApiError> {
        read_meta(&self.conn, "version")
    }

    fn changes_since(&mut self, path: &str, since: u64) -> Result<Vec<ChangedDoc>, ApiError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, version, data, created FROM docs WHERE collection = ?1 AND version > ?2 ORDER BY id",
            )
            .map_err(db_err)?;
        stmt.query_map(params![path, since as i64], |r| {
            Ok(ChangedDoc {
                id: r.get(0)?,
                version: r.get::<_, i64>(1)? as u64,
                data: r.get(2)?,
                created: r.get::<_, i64>(3)? as u64,
            })
        })
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)
    }

    /// One transaction, so one sync to disk, for the whole batch; each commit in a savepoint of its
    /// own, so that a refused commit (a failed condition, say) leaves the others be.
    fn commit_batch(&mut self, commits: &[&Commit]) -> Vec<Result<Committed, ApiError>> {
        let now = now_secs();
        let max = self.max_document_bytes;
        let mut tx = match self.conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => {
                let message = e.to_string();
                return commits.iter().map(|_| Err(ApiError::internal("database", &message))).collect();
            }
        };
        let mut results = Vec::with_capacity(commits.len());
        let time = read_meta(&tx, "timestamp").map(|last| commit_time(clock_ms(), last as i64));
        for commit in commits {
            let result = time.clone().and_then(|time| {
                let sp = tx.savepoint().map_err(db_err)?;
                let committed = commit_on(&sp, commit, now, time, max)?;
                sp.commit().map_err(db_err)?;
                Ok(committed)
            });
            results.push(result);
        }
        let stamped = match time {
            Ok(time) if commits.iter().any(|c| c.uses_server_time()) => tx
                .execute("UPDATE meta SET value = MAX(value, ?1) WHERE key = 'timestamp'", params![time])
                .map(|_| ())
                .map_err(|e| e.to_string()),
            _ => Ok(()),
        };
        if let Err(message) = stamped.and_then(|()| tx.commit().map_err(|e| e.to_string())) {
            return results
                .into_iter()
                .map(|r| r.and_then(|_| Err(ApiError::internal("database", &message))))
                .collect();
        }
        self.after_writes(commits.len() as u32, now);
        results
    }
}

/// The `SELECT` of a collection's live documents (`?1`) that `narrows` let through, and the
/// parameters after `?1`. `json_extract` gives a JSON number as a number, a string as text, `true`
/// and `false` as 1 and 0, and a missing field as NULL, so each condition keeps every document whose
/// field matches (and maybe a few others, which the evaluation drops). Numbers are compared as REAL:
/// the evaluation compares doubles, and SQLite would compare an integer above 2^53 exactly.
fn narrowed_select(narrows: &[Narrow]) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value as Sql;
    let mut sql = String::from("SELECT id, version, data FROM docs WHERE collection = ?1 AND data IS NOT NULL");
    let mut args = Vec::new();
    let arg = |value: Sql, args: &mut Vec<Sql>| {
        args.push(value);
        format!("?{}", args.len() + 1)
    };
    let scalar = |s: &Scalar| match s {
        Scalar::Bool(b) => Sql::Integer(i64::from(*b)),
        Scalar::Number(n) => Sql::Real(*n),
        Scalar::String(s) => Sql::Text(s.clone()),
    };
    for narrow in narrows {
        let json_path: String = std::iter::once("$".to_owned())
            .chain(narrow.path.iter().map(|s| format!("\"{s}\"")))
            .collect::<Vec<_>>()
            .join(".");
        let field = format!("json_extract(data, {})", arg(Sql::Text(json_path), &mut args));
        let real = format!("CAST({field} AS REAL)");
        match &narrow.test {
            Test::OneOf(values) => {
                let (numbers, others): (Vec<&Scalar>, Vec<&Scalar>) =
                    values.iter().partition(|v| matches!(v, Scalar::Number(_)));
                let mut either = Vec::new();
                for (expression, list) in [(&real, numbers), (&field, others)] {
                    if !list.is_empty() {
                        let list: Vec<String> = list.into_iter().map(|v| arg(scalar(v), &mut args)).collect();
                        either.push(format!("{expression} IN ({})", list.join(", ")));
                    }
                }
                sql.push_str(&format!(" AND ({})", either.join(" OR ")));
            }
            Test::Range(op, value) => {
                let expression = if matches!(value, Scalar::Number(_)) { &real } else { &field };
                sql.push_str(&format!(" AND {expression} {} {}", op.as_str(), arg(scalar(value), &mut args)));
            }
        }
    }
    (sql, args)
}

impl SqliteStore {
    /// Prunes expired idempotency keys every 1,024 writes, and removes expired tombstones at most
    /// once a minute (as often as the retention, if it is shorter).
    fn after_writes(&mut self, writes: u32, now: i64) {
        if now - self.last_purge >= self.tombstone_retention_secs.clamp(1, 60) {
            if let Err(e) = self.purge_tombstones(now) {
                tracing::warn!("removing expired tombstones: {e}");
            }
        }
        self.writes_since_prune += writes;
        if self.writes_since_prune >= 1024 {
            self.writes_since_prune = 0;
            if let Err(e) = self.conn.execute("DELETE FROM write_keys WHERE at < ?1", params![now - KEY_RETENTION_SECS])
            {
                tracing::warn!("pruning idempotency keys: {e}");
            }
        }
    }
}

/// One commit, inside a savepoint the caller commits (or drops, rolling back, on an error).
fn commit_on(conn: &Connection, commit: &Commit, now: i64, time: i64, max_bytes: usize) -> Result<Committed, ApiError> {
    if let Some(key) = &commit.key {
        let seen: Option<i64> = conn
            .prepare_cached("SELECT version FROM write_keys WHERE key = ?1 AND at >= ?2")
            .map_err(db_err)?
            .query_row(params![key, now - KEY_RETENTION_SECS], |r| r.get(0))
            .optional()
            .map_err(db_err)?;
        if let Some(version) = seen {
            return Ok(Committed { version: version as u64, docs: Vec::new(), replayed: true });
        }
    }
    let last = read_meta(conn, "version")?;
    let docs = commit.apply(last + 1, time, max_bytes, |path| read_doc(conn, path))?;
    // A commit of checks only writes nothing, so takes no version: it held as of the last one.
    let version = if docs.is_empty() { last } else { last + 1 } as i64;
    if !docs.is_empty() {
        conn.prepare_cached("UPDATE meta SET value = ?1 WHERE key = 'version'")
            .map_err(db_err)?
            .execute(params![version])
            .map_err(db_err)?;
    }
    for doc in &docs {
        let (collection, id) = split(&doc.path);
        // `created` moves only when the document comes into existence.
        conn.prepare_cached(
            "INSERT INTO docs (collection, id, version, created, data, at) VALUES (?1, ?2, ?3, ?3, ?4, ?5)
             ON CONFLICT (collection, id) DO UPDATE SET
                 version = excluded.version,
                 data = excluded.data,
                 at = excluded.at,
                 created = CASE WHEN docs.data IS NULL THEN excluded.version ELSE docs.created END",
        )
        .map_err(db_err)?
        .execute(params![collection, id, version, doc.data, now])
        .map_err(db_err)?;
    }
    if let Some(key) = &commit.key {
        conn.prepare_cached("INSERT OR REPLACE INTO write_keys (key, version, at) VALUES (?1, ?2, ?3)")
            .map_err(db_err)?
            .execute(params![key, version, now])
            .map_err(db_err)?;
    }
    Ok(Committed { version: version as u64, docs, replayed: false })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::{Object, commit};

    fn object(v: serde_json::Value) -> Object {
        v.as_object().cloned().unwrap()
    }

    /// A one-write commit replacing the document at `path` with `data`.
    fn put(s: &mut SqliteStore, path: &str, data: Object) -> Result<Committed, ApiError> {
        s.commit(&commit::of(json!([{"op":"set","path":path,"data":data}])))
    }

    fn delete(s: &mut SqliteStore, path: &str) -> Result<Committed, ApiError> {
        s.commit(&commit::of(json!([{"op":"delete","path":path}])))
    }

    #[test]
    fn versions_grow_across_documents_and_a_delete_leaves_a_tombstone() {
        let mut s = SqliteStore::in_memory(1 << 20).unwrap();
        let a = put(&mut s, "rooms/a", object(json!({"n":1}))).unwrap();
        let b = put(&mut s, "rooms/b", object(json!({"n":2}))).unwrap();
        let d = delete(&mut s, "rooms/a").unwrap();
        assert!(a.version < b.version && b.version < d.version);
        assert!(d.docs[0].existed && d.docs[0].data.is_none());
        assert_eq!(s.get("rooms/a").unwrap(), Some(StoredDoc { version: d.version, data: None }));
        let listing = s.list("rooms").unwrap();
        assert_eq!(listing.version, d.version);
        assert_eq!(listing.docs.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn a_replayed_key_commits_nothing_and_answers_the_original_version() {
        let mut s = SqliteStore::in_memory(1 << 20).unwrap();
        let first = s.commit(&commit::keyed(json!([{"op":"set","path":"c/d","data":{"n":1}}]), "k1")).unwrap();
        let again = s.commit(&commit::keyed(json!([{"op":"set","path":"c/d","data":{"n":2}}]), "k1")).unwrap();
        assert!(again.replayed && again.docs.is_empty());
        assert_eq!(again.version, first.version);
        assert_eq!(s.get("c/d").unwrap().unwrap().data.as_deref(), Some(r#"{"n":1}"#));
    }

    #[test]
    fn a_batch_commits_each_commit_but_the_refused_one_and_replays_a_key_seen_earlier_in_it() {
        let mut s = SqliteStore::in_memory(1 << 20).unwrap();
        let first = commit::keyed(json!([{"op":"set","path":"c/a","data":{"n":1}}]), "k1");
        // Refused on its second write: its first must not apply either.
        let refused = commit::of(json!([
            {"op":"set","path":"c/b","data":{"n":9}},
            {"op":"update","path":"c/missing","data":{"n":9}}
        ]));
        let both = commit::of(json!([{"op":"set","path":"c/b","data":{"n":2}},{"op":"set","path":"c/c","data":{}}]));
        let again = commit::keyed(json!([{"op":"set","path":"c/a","data":{"n":3}}]), "k1");
        let results = s.commit_batch(&[&first, &refused, &both, &again]);
        let versions: Vec<_> = results
            .iter()
            .map(|r| r.as_ref().map(|c| (c.version, c.replayed, c.docs.len())).map_err(|e| (e.code, e.write)))
            .collect();
        assert_eq!(
            versions,
            [
                Ok((1, false, 1)),
                Err((livepath_protocol::ErrorCode::NotFound, Some(1))),
                Ok((2, false, 2)),
                Ok((1, true, 0))
            ]
        );
        assert_eq!(s.get("c/a").unwrap().unwrap().data.as_deref(), Some(r#"{"n":1}"#));
        assert_eq!(s.get("c/b").unwrap(), Some(StoredDoc { version: 2, data: Some(r#"{"n":2}"#.into()) }));
        assert_eq!(s.get("c/c").unwrap().unwrap().version, 2, "one commit, one version");
        assert_eq!(s.get("c/missing").unwrap(), None);
        assert_eq!(s.current_version().unwrap(), 2);
    }

    #[test]
    fn a_commit_of_checks_only_takes_no_version_and_server_timestamps_never_go_back() {
        let mut s = SqliteStore::in_memory(1 << 20).unwrap();
        put(&mut s, "c/a", Object::new()).unwrap();
        let checked = s.commit(&commit::of(json!([{"op":"check","path":"c/a","if":{"version":1}}]))).unwrap();
        assert_eq!((checked.version, checked.docs.len()), (1, 0));
        assert_eq!(s.current_version().unwrap(), 1);
        // A clock far ahead once: later commits never get a lower timestamp.
        s.conn.execute("UPDATE meta SET value = ?1 WHERE key = 'timestamp'", params![clock_ms() + 3_600_000]).unwrap();
        let stamp = json!([{"op":"set","path":"c/t","data":{},"transforms":[{"field":"at","serverTimestamp":true}]}]);
        let at = |c: &Committed| -> i64 {
            serde_json::from_str::<serde_json::Value>(c.docs[0].data.as_deref().unwrap()).unwrap()["at"]
                .as_i64()
                .unwrap()
        };
        let first = at(&s.commit(&commit::of(stamp.clone())).unwrap());
        let second = at(&s.commit(&commit::of(stamp)).unwrap());
        assert!(first >= clock_ms() + 3_000_000 && second >= first, "{first} {second}");
    }

    #[test]
    fn changes_since_reports_writes_and_tombstones_after_a_version_with_creation_versions() {
        let mut s = SqliteStore::in_memory(1 << 20).unwrap();
        let set = |v: serde_json::Value| object(v);
        let kept = put(&mut s, "c/kept", set(json!({}))).unwrap().version;
        let edited = put(&mut s, "c/edited", set(json!({"n":1}))).unwrap().version;
        let gone = put(&mut s, "c/gone", set(json!({}))).unwrap().version;
        let since = gone;
        put(&mut s, "c/edited", set(json!({"n":2}))).unwrap();
        delete(&mut s, "c/gone").unwrap();
        let new = put(&mut s, "c/new", set(json!({}))).unwrap().version;
        let changes = s.changes_since("c", since).unwrap();
        let summary: Vec<_> = changes.iter().map(|c| (c.id.as_str(), c.data.is_some(), c.created)).collect();
        assert_eq!(summary, [("edited", true, edited), ("gone", false, gone), ("new", true, new)]);
        assert!(kept < since);
        let recreated = put(&mut s, "c/gone", set(json!({}))).unwrap().version;
        let again = s.changes_since("c", new).unwrap();
        assert_eq!((again[0].id.as_str(), again[0].created), ("gone", recreated), "a re-creation moves `created`");
    }

    #[test]
    fn a_narrowed_query_read_keeps_every_document_the_full_evaluation_keeps() {
        let mut s = SqliteStore::in_memory(1 << 20).unwrap();
        let values = [
            "null",
            "true",
            "false",
            "0",
            "1",
            "1.0",
            "2.5",
            "-3",
            "1e300",
            "9007199254740993",
            "9007199254740992",
            "-9007199254740993",
            "\"\"",
            "\"1\"",
            "\"a\"",
            "\"b\"",
            "\"é\"",
            "[1]",
            "{\"x\":1}",
        ];
        let mut n = 0;
        for a in values {
            for b in ["{}", "1", "\"a\"", "{\"c\":true}", "{\"c\":2}", "[]"] {
                n += 1;
                let doc: serde_json::Value =
                    serde_json::from_str(&format!("{{\"a\":{a},\"b\":{b},\"w e\":{a},\"s\\\\l\":{a}}}")).unwrap();
                put(&mut s, &format!("c/d{n:03}"), object(doc)).unwrap();
            }
        }
        put(&mut s, "c/empty", Object::new()).unwrap();
        let path = livepath_protocol::Path::parse("c").unwrap();
        let mut checked = 0;
        for op in ["==", "<", "<=", ">", ">=", "in"] {
            for operand in values {
                let operand = if op == "in" { format!("[{operand}, 0]") } else { operand.to_owned() };
                for field in ["a", "b.c", "w e", "s\\\\l"] {
                    let text = format!("{{\"where\":[[\"{field}\",\"{op}\",{operand}]]}}");
                    let query: livepath_protocol::Query = serde_json::from_str(&text).unwrap();
                    if query.check().is_err() {
                        continue;
                    }
                    let narrowed = s.query(&path, &query, None).unwrap();
                    let full = crate::store::query::run(s.list("c").unwrap(), &query, None, narrowed.as_of);
                    assert_eq!(narrowed, full, "{text}");
                    checked += usize::from(!full.docs.is_empty());
                }
            }
        }
        assert!(checked > 100, "most queries keep something: {checked}");
    }

    #[test]
    fn reads_through_a_declared_index_equal_the_full_evaluation_and_walk_the_index() {
        use livepath_protocol::query::Direction::{Asc, Desc};
        let spec = |fields: &[(&str, livepath_protocol::query::Direction)]| IndexSpec {
            fields: fields.iter().map(|(f, d)| (f.to_string(), *d)).collect(),
        };
        let specs = [spec(&[("tag", Asc), ("n", Desc)]), spec(&[("n", Asc)])];
        let mut s = SqliteStore::in_memory(1 << 20).unwrap().with_indexes(&specs).unwrap();
        let tags = ["\"a\"", "\"b\"", "1", "true", "null"];
        let ns = ["0", "1", "2.5", "-1", "\"x\"", "[1]", "{\"k\":1}", "null", "true", "1.0"];
        let mut i = 0;
        for tag in tags.iter().chain([&""]) {
            for n in ns.iter().chain([&""]) {
                i += 1;
                let mut doc = Object::new();
                if !tag.is_empty() {
                    doc.insert("tag".into(), serde_json::from_str(tag).unwrap());
                }
                if !n.is_empty() {
                    doc.insert("n".into(), serde_json::from_str(n).unwrap());
                }
                put(&mut s, &format!("c/d{:02}", i % 40), doc).unwrap();
            }
        }
        delete(&mut s, "c/d07").unwrap();
        put(&mut s, "other/x", object(json!({"tag":"a","n":5}))).unwrap();
        let path = livepath_protocol::Path::parse("c").unwrap();
        let mut served = 0;
        for tag in tags {
            for (order, cursor, more) in [
                ("desc", "", ""),
                ("asc", "", ""),
                ("desc", r#","startAfter":[1]"#, ""),
                ("asc", "", r#",["n","!=",1]"#),
            ] {
                for limit in [None, Some(1usize), Some(3)] {
                    let limit_text = limit.map_or(String::new(), |l| format!(r#","limit":{l}"#));
                    let text = format!(
                        r#"{{"where":[["tag","==",{tag}]{more}],"orderBy":[["n","{order}"]]{cursor}{limit_text}}}"#
                    );
                    let query: livepath_protocol::Query = serde_json::from_str(&text).unwrap();
                    let plan = indexes::plan(&s.indexes, &query).expect("served by the first index");
                    let (sql, _) = indexes::select(&plan, &query, limit);
                    let mut explain = s.conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
                    let nulls = (0..explain.parameter_count()).map(|_| rusqlite::types::Value::Null);
                    let explained: Vec<String> = explain
                        .query_map(rusqlite::params_from_iter(nulls), |r| r.get(3))
                        .unwrap()
                        .collect::<Result<_, _>>()
                        .unwrap();
                    drop(explain);
                    assert!(explained.iter().any(|d| d.contains("livepath_index_")), "{text}: {explained:?}");
                    assert!(!explained.iter().any(|d| d.contains("TEMP B-TREE")), "no sort: {explained:?}");
                    let read = s.query(&path, &query, limit).unwrap();
                    let full = crate::store::query::run(s.list("c").unwrap(), &query, limit, read.as_of);
                    assert_eq!(read, full, "{text}");
                    served += usize::from(!full.docs.is_empty());
                }
            }
        }
        assert!(served > 20, "most reads return documents: {served}");
        // Declared no more, an index goes.
        let mut s = s.with_indexes(&specs[1..]).unwrap();
        let count: i64 = s
            .conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE name LIKE 'livepath_index_%'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 1);
        assert!(put(&mut s, "c/new", object(json!({"n":1}))).is_ok());
    }

    #[test]
    fn collections_list_in_byte_order_of_id() {
        let mut s = SqliteStore::in_memory(1 << 20).unwrap();
        for id in ["b", "a", "B", "é", "aa"] {
            put(&mut s, &format!("c/{id}"), Object::new()).unwrap();
        }
        let ids: Vec<_> = s.list("c").unwrap().docs.into_iter().map(|d| d.id).collect();
        assert_eq!(ids, ["B", "a", "aa", "b", "é"]);
    }

    #[test]
    fn data_and_epoch_survive_reopening_the_same_directory_and_a_new_database_has_a_new_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let (version, epoch) = {
            let mut s = SqliteStore::open(dir.path(), 1 << 20).unwrap();
            (put(&mut s, "c/d", object(json!({"kept":true}))).unwrap().version, s.epoch().to_owned())
        };
        assert_eq!(epoch.len(), 32, "16 random bytes in hex: {epoch}");
        let other = tempfile::tempdir().unwrap();
        assert_ne!(SqliteStore::open(other.path(), 1 << 20).unwrap().epoch(), epoch);
        assert_ne!(SqliteStore::in_memory(1 << 20).unwrap().epoch(), epoch);
        let mut s = SqliteStore::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(s.epoch(), epoch);
        assert_eq!(s.get("c/d").unwrap(), Some(StoredDoc { version, data: Some(r#"{"kept":true}"#.into()) }));
        let next = put(&mut s, "c/e", Object::new()).unwrap();
        assert!(next.version > version, "the version sequence continues after a restart");
    }

    #[test]
    fn tombstones_past_the_retention_go_and_the_horizon_rises_to_the_last_one_removed() {
        let mut s = SqliteStore::in_memory(1 << 20).unwrap().with_tombstone_retention(60).unwrap();
        put(&mut s, "c/kept", object(json!({"n":1}))).unwrap();
        put(&mut s, "c/old", object(json!({"n":1}))).unwrap();
        let deleted = delete(&mut s, "c/old").unwrap().version;
        assert_eq!(s.horizon().unwrap(), 0);
        // Within the retention nothing goes.
        assert_eq!(s.purge_tombstones(now_secs() + 30).unwrap(), 0);
        assert!(s.get("c/old").unwrap().is_some(), "the tombstone is still there");
        // Past it, the tombstone goes and the horizon is its version; live documents stay.
        assert_eq!(s.purge_tombstones(now_secs() + 61).unwrap(), 1);
        assert_eq!(s.get("c/old").unwrap(), None);
        assert_eq!(s.horizon().unwrap(), deleted);
        assert_eq!(s.list("c").unwrap().docs.len(), 1);
        // A later, fresh tombstone stays; the horizon never goes down.
        let again = delete(&mut s, "c/kept").unwrap().version;
        assert_eq!(s.purge_tombstones(now_secs()).unwrap(), 0);
        assert_eq!(s.horizon().unwrap(), deleted);
        assert_eq!(s.changes_since("c", deleted).unwrap().iter().map(|c| c.version).collect::<Vec<_>>(), [again]);
    }

    #[test]
    fn a_version_1_database_is_migrated_and_keeps_its_documents_and_versions_and_gets_an_epoch() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join("livepath.sqlite3")).unwrap();
            conn.execute_batch(
                "CREATE TABLE docs (collection TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL,
                     created INTEGER NOT NULL, data TEXT, PRIMARY KEY (collection, id)) WITHOUT ROWID;
                 CREATE INDEX docs_by_version ON docs (collection, version);
                 CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
                 INSERT INTO meta VALUES ('version', 2);
                 CREATE TABLE write_keys (key TEXT PRIMARY KEY, version INTEGER NOT NULL, at INTEGER NOT NULL)
                     WITHOUT ROWID;
                 INSERT INTO docs VALUES ('c', 'live', 1, 1, '{\"n\":1}'), ('c', 'gone', 2, 1, NULL);
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let mut s = SqliteStore::open(dir.path(), 1 << 20).unwrap().with_tombstone_retention(60).unwrap();
        assert_eq!(s.get("c/live").unwrap(), Some(StoredDoc { version: 1, data: Some(r#"{"n":1}"#.into()) }));
        assert_eq!(s.current_version().unwrap(), 2);
        assert_eq!(s.horizon().unwrap(), 0);
        // The old tombstone counts as written at the upgrade: it lives a full retention from then.
        assert_eq!(s.purge_tombstones(now_secs() + 30).unwrap(), 0);
        assert_eq!(s.purge_tombstones(now_secs() + 61).unwrap(), 1);
        assert_eq!(s.horizon().unwrap(), 2);
        assert_eq!(put(&mut s, "c/x", Object::new()).unwrap().version, 3);
        assert_eq!(s.epoch().len(), 32, "an epoch is made by the migration");
    }
}
