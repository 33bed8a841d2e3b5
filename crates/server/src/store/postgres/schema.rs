//! The PostgreSQL schema, created or migrated by whichever node starts first.
//!
//! Tables (all named `livepath_*`, in the connection's default schema):
//! - `livepath_schema(version)`: the schema version, one row.
//! - `livepath_meta`: one row. `version`, the one global version sequence: a write transaction locks
//!   the row first (`FOR UPDATE`), so versions are handed out in commit order and a reader that sees
//!   version N has seen every version below it (a bare sequence would not do: its numbers are handed
//!   out before commit, and a late commit of a lower number would be skipped). `horizon`: the highest
//!   version of a tombstone removed. `log_horizon`: the highest version removed from the log. `epoch`:
//!   random, made with the schema. `timestamp` (version 2): the last server timestamp handed out
//!   (milliseconds), so that timestamps never decrease in version order, whichever node's clock.
//! - `livepath_docs(collection, id, version, created, data, at)`: as SQLite's `docs`, `data` as
//!   `json` (NULL: a tombstone), ids in byte order (`COLLATE "C"`). `json`, not `jsonb`: it keeps the
//!   text as written, so every node and both stores send the same bytes (`jsonb` reorders keys, which
//!   a JavaScript object shows, rewrites numbers such as `1e300` at many times the length, and refuses
//!   `\u0000`).
//! - `livepath_log(version, collection, id, data, existed, at, batch)`: every document each commit
//!   wrote (one row each, all with the commit's version; the key is (version, collection, id) since
//!   version 2) for a few minutes, which is how each node learns, in order, what the others committed. `batch` names the transaction
//!   that wrote it, so a node that lost the answer to its commit can tell whether it happened.
//! - `livepath_keys(key, version, at)`: idempotency keys, shared by every node.
//!
//! A migration runs in one transaction under an advisory lock: nodes starting at the same moment wait
//! for the first, then find the schema current.

use tokio_postgres::Client;

use crate::error::ApiError;

/// The schema this server writes.
pub const SCHEMA_VERSION: i32 = 2;

/// The advisory lock key migrations hold ("livepath" in ASCII).
const MIGRATION_LOCK: i64 = 0x6c69_7665_7061_7468;

const V1: &str = r#"
CREATE TABLE livepath_meta (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    version bigint NOT NULL,
    horizon bigint NOT NULL,
    log_horizon bigint NOT NULL,
    epoch text NOT NULL
);
INSERT INTO livepath_meta (version, horizon, log_horizon, epoch)
    VALUES (0, 0, 0, replace(gen_random_uuid()::text, '-', ''));
CREATE TABLE livepath_docs (
    collection text COLLATE "C" NOT NULL,
    id text COLLATE "C" NOT NULL,
    version bigint NOT NULL,
    created bigint NOT NULL,
    data json,
    at bigint NOT NULL,
    PRIMARY KEY (collection, id)
);
CREATE INDEX livepath_docs_by_version ON livepath_docs (collection, version);
CREATE INDEX livepath_tombstones ON livepath_docs (at) WHERE data IS NULL;
CREATE TABLE livepath_log (
    version bigint PRIMARY KEY,
    collection text NOT NULL,
    id text NOT NULL,
    data json,
    existed boolean NOT NULL,
    at bigint NOT NULL,
    batch bigint NOT NULL
);
CREATE INDEX livepath_log_by_time ON livepath_log (at);
CREATE TABLE livepath_keys (
    key text PRIMARY KEY,
    version bigint NOT NULL,
    at bigint NOT NULL
);
CREATE INDEX livepath_keys_by_time ON livepath_keys (at);
"#;

/// Version 2: commits of several documents (one version, many log rows), server timestamps.
const V2: &str = r#"
ALTER TABLE livepath_meta ADD COLUMN timestamp bigint NOT NULL DEFAULT 0;
ALTER TABLE livepath_log DROP CONSTRAINT livepath_log_pkey;
ALTER TABLE livepath_log ADD PRIMARY KEY (version, collection, id);
"#;

fn db_err(what: &str) -> impl Fn(tokio_postgres::Error) -> ApiError + '_ {
    move |e| ApiError::internal(what, super::session::describe(&e))
}

/// Creates the schema, or migrates it to [`SCHEMA_VERSION`]; returns the database's epoch.
pub async fn migrate(client: &mut Client) -> Result<String, ApiError> {
    let err = db_err("migrating the PostgreSQL schema");
    let tx = client.transaction().await.map_err(&err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(&err)?;
    let exists: bool =
        tx.query_one("SELECT to_regclass('livepath_schema') IS NOT NULL", &[]).await.map_err(&err)?.get(0);
    if !exists {
        tx.batch_execute("CREATE TABLE livepath_schema (version integer NOT NULL)").await.map_err(&err)?;
    }
    let found: i32 =
        tx.query_opt("SELECT version FROM livepath_schema", &[]).await.map_err(&err)?.map_or(0, |row| row.get(0));
    if found > SCHEMA_VERSION {
        return Err(ApiError::internal(
            "opening the database",
            format!("schema version {found} is newer than this server's {SCHEMA_VERSION}: upgrade the server"),
        ));
    }
    if found < 1 {
        tracing::info!("creating the livepath schema (version {SCHEMA_VERSION})");
        tx.batch_execute(V1).await.map_err(&err)?;
        tx.execute("INSERT INTO livepath_schema VALUES (1)", &[]).await.map_err(&err)?;
    }
    if found < 2 {
        tx.batch_execute(V2).await.map_err(&err)?;
        tx.execute("UPDATE livepath_schema SET version = 2", &[]).await.map_err(&err)?;
    }
    let epoch: String = tx.query_one("SELECT epoch FROM livepath_meta", &[]).await.map_err(&err)?.get(0);
    tx.commit().await.map_err(&err)?;
    Ok(epoch)
}
