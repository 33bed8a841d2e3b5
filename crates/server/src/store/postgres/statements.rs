//! The statements the store runs, prepared once per connection.

use tokio_postgres::{Client, Statement};

use super::listen;

/// The statements the store runs, prepared once per connection.
pub struct Statements {
    pub lock: Statement,
    pub read_docs: Statement,
    pub read_keys: Statement,
    pub upsert_docs: Statement,
    pub insert_log: Statement,
    pub upsert_keys: Statement,
    pub advance: Statement,
    pub get: Statement,
    pub list: Statement,
    pub changes_since: Statement,
    pub meta: Statement,
    pub feed: Statement,
    pub outcome: Statement,
    pub initial_document: Statement,
    pub initial_collection: Statement,
}

impl Statements {
    pub async fn prepare(client: &Client) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            // The version, and the commit's time: PostgreSQL's clock in milliseconds, never below the
            // last timestamp handed out (on any node), so timestamps follow commit order.
            lock: client
                .prepare(
                    "SELECT version, GREATEST(timestamp, (extract(epoch FROM clock_timestamp()) * 1000)::int8)
                     FROM livepath_meta FOR UPDATE",
                )
                .await?,
            read_docs: client
                .prepare(
                    "SELECT collection, id, created, data::text, version FROM livepath_docs
                     WHERE (collection, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
                )
                .await?,
            read_keys: client
                .prepare("SELECT key, version FROM livepath_keys WHERE key = ANY($1::text[]) AND at >= $2")
                .await?,
            upsert_docs: client
                .prepare(
                    "INSERT INTO livepath_docs (collection, id, version, created, data, at)
                     SELECT c, i, v, cr, d::json, $6
                     FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[], $5::text[]) AS t(c, i, v, cr, d)
                     ON CONFLICT (collection, id) DO UPDATE SET
                         version = excluded.version, created = excluded.created, data = excluded.data, at = excluded.at",
                )
                .await?,
            insert_log: client
                .prepare(
                    "INSERT INTO livepath_log (version, collection, id, data, existed, at, batch)
                     SELECT v, c, i, d::json, e, $6, $7
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
                    "WITH advanced AS (
                         UPDATE livepath_meta SET version = $1, timestamp = GREATEST(timestamp, $2) RETURNING version
                     )
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
                         SELECT * FROM livepath_log WHERE version > $1 ORDER BY version, collection, id LIMIT $2
                     ) l ON true ORDER BY l.version, l.collection, l.id",
                )
                .await?,
            outcome: client.prepare("SELECT batch FROM livepath_log WHERE version = $1 LIMIT 1").await?,
            // A subscription's first state: the meta row and the document (columns 3, 4), or the
            // collection's documents (2 to 5) changed after $2 when $2 is resumable (between the
            // horizon and the version), else all of them; tombstones included either way.
            initial_document: client
                .prepare(
                    "SELECT m.version, m.horizon, d.id, d.version, d.data::text
                     FROM livepath_meta m LEFT JOIN livepath_docs d ON d.collection = $1 AND d.id = $2",
                )
                .await?,
            initial_collection: client
                .prepare(
                    "SELECT m.version, m.horizon, d.id, d.version, d.data::text, d.created
                     FROM livepath_meta m LEFT JOIN livepath_docs d ON d.collection = $1
                         AND d.version > CASE WHEN $2::int8 BETWEEN m.horizon AND m.version THEN $2::int8 ELSE -1 END
                     ORDER BY d.id",
                )
                .await?,
        })
    }
}
