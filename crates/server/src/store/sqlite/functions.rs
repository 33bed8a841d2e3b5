//! The SQL functions this server adds to its SQLite connection, so that SQLite can order and index
//! documents as queries order them, with the protocol's one evaluation (`livepath_protocol::query`):
//! - `livepath_key(data, field)`: the field's value as bytes whose order is the order of values
//!   (`query::key`), NULL when it is missing; declared indexes are built on it;
//! - `livepath_match(data, query)`: whether the document meets the query (a JSON text): its filters,
//!   its `orderBy` fields present, inside its cursors.
//!
//! Both are deterministic, as an expression index requires. A connection without them (the sqlite3
//! shell) can read the database but not write documents while declared indexes exist.

use std::sync::Arc;

use livepath_protocol::{
    Query,
    query::{Document, Value, key},
};
use rusqlite::{Connection, functions::FunctionFlags};

/// Registers `livepath_key` and `livepath_match` on `conn`.
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("livepath_key", 2, flags, |ctx| {
        let (Some(data), Some(field)) = (ctx.get_raw(0).as_str_or_null()?, ctx.get_raw(1).as_str_or_null()?) else {
            return Ok(None);
        };
        let Ok(doc) = serde_json::from_str::<Value>(data) else { return Ok(None) };
        Ok(doc.field(field).map(|value| key::key(&value)))
    })?;
    conn.create_scalar_function("livepath_match", 2, flags, |ctx| {
        let query: Arc<Query> = ctx.get_or_create_aux(1, |text| -> Result<Query, serde_json::Error> {
            serde_json::from_str(text.as_str().unwrap_or("{}"))
        })?;
        let Some(data) = ctx.get_raw(0).as_str_or_null()? else { return Ok(false) };
        let Ok(doc) = serde_json::from_str::<Value>(data) else { return Ok(false) };
        Ok(query.evaluate("", &doc).is_some())
    })
}
