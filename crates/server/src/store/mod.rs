//! Storage: documents by path, each with the version of its last write, behind the [`Store`] trait.
//!
//! A store is the database: it knows nothing of sockets or subscribers; the `Engine` calls it and
//! publishes what it returns. The embedded default is [`sqlite::SqliteStore`], which only this process
//! writes; [`postgres::PgStore`] is shared by several nodes, and its log tells each node what the
//! others committed.

pub mod commit;
mod narrow;
pub mod postgres;
mod query;
pub mod sqlite;

use std::sync::Arc;

use livepath_protocol::{Path, PathKind, Query};
use serde_json::{Map, Value, value::RawValue};

use crate::error::ApiError;

pub use commit::{Commit, WrittenDoc};
pub use query::{Matched, QueryRead};

/// A JSON object: what a document holds.
pub type Object = Map<String, Value>;

/// A stored document or tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDoc {
    /// The version of its last write.
    pub version: u64,
    /// Its data as JSON text; `None` for a tombstone (deleted).
    pub data: Option<String>,
}

/// A document in a collection listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedDoc {
    /// The last segment of its path.
    pub id: String,
    /// The version of its last write.
    pub version: u64,
    /// Its data as JSON text.
    pub data: String,
}

/// A collection's live documents, ordered by id (byte order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The highest version among the collection's documents and tombstones (0: never written).
    pub version: u64,
    /// The live documents.
    pub docs: Vec<ListedDoc>,
}

/// A document of a collection written after some version: what a resuming subscriber missed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedDoc {
    /// The last segment of its path.
    pub id: String,
    /// The version of its last write.
    pub version: u64,
    /// Its data; `None` if it is now deleted.
    pub data: Option<String>,
    /// The version that last created it (from nothing or from a tombstone).
    pub created: u64,
}

/// What a new subscription starts from, read at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Initial {
    /// The last version committed at that moment: every write not in `state` has a higher one.
    pub as_of: u64,
    /// The path's state.
    pub state: InitialState,
}

/// The state a subscription starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitialState {
    /// A document path.
    Document {
        /// The document or tombstone, if ever written.
        doc: Option<StoredDoc>,
        /// The `since` it is resumed from (`None`: the client gets it whole).
        since: Option<u64>,
    },
    /// A collection's full listing.
    Collection(Listing),
    /// What changed in a collection after `since`.
    Changes {
        /// The version resumed from.
        since: u64,
        /// The documents and tombstones written after it.
        changes: Vec<ChangedDoc>,
    },
}

/// What [`Store::changes_after`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    /// The commits after the version asked for, whole, in version order (empty: none yet).
    Writes(Vec<Committed>),
    /// The log no longer reaches back that far: what was missed must be read in full.
    Gone,
}

/// Tells the engine that other nodes may have written (see [`Store::watch`]), up to the version given
/// when one is known (a wake-up naming a version already published, such as this node's own, is
/// ignored); cheap, callable from any thread, any number of times. Answers false once the engine is
/// gone: time to stop watching.
pub type Wake = Arc<dyn Fn(Option<u64>) -> bool + Send + Sync>;

/// The `since` a subscription can be resumed from: none when it is beyond the last version (the
/// client saw another database) or below the horizon (deletes after it may be forgotten).
pub fn resumable(since: Option<u64>, current: u64, horizon: u64) -> Option<u64> {
    since.filter(|since| *since <= current && *since >= horizon)
}

/// What a commit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The commit's version (for a replayed idempotency key, the original commit's; for a commit of
    /// checks only, the last version when they held).
    pub version: u64,
    /// What it did to each document it wrote; empty when replayed.
    pub docs: Vec<WrittenDoc>,
    /// True when the idempotency key had been seen: nothing was written.
    pub replayed: bool,
}

/// Durable storage of documents. Methods block (disk or network I/O); `Engine` calls them from its
/// store thread.
pub trait Store: Send {
    /// Why the store cannot serve right now (`None`: it can): for `/healthz`.
    fn unavailable(&self) -> Option<String> {
        None
    }

    /// What a subscription to `path` resuming from `since` starts with, read at one moment. The
    /// default reads piece by piece, which is one moment for a store only this process writes.
    fn initial(&mut self, path: &Path, since: Option<u64>) -> Result<Initial, ApiError> {
        let as_of = self.current_version()?;
        let since = resumable(since, as_of, self.horizon()?);
        let state = match (path.kind(), since) {
            (PathKind::Document, since) => InitialState::Document { doc: self.get(path.as_str())?, since },
            (PathKind::Collection, Some(since)) => {
                InitialState::Changes { since, changes: self.changes_since(path.as_str(), since)? }
            }
            (PathKind::Collection, None) => InitialState::Collection(self.list(path.as_str())?),
        };
        Ok(Initial { as_of, state })
    }

    /// The start of `query`'s result on the collection at `path`: at most `limit` documents (the
    /// query's own limit does not count here: a live window reads more), read at one moment. The
    /// default evaluates the query on [`Store::initial`]'s full listing.
    fn query(&mut self, path: &Path, query: &Query, limit: Option<usize>) -> Result<QueryRead, ApiError> {
        let initial = self.initial(path, None)?;
        match initial.state {
            InitialState::Collection(listing) => Ok(query::run(listing, query, limit, initial.as_of)),
            _ => Err(ApiError::invalid(format!(
                "{} is not a collection: only collections can be queried",
                path.as_str()
            ))),
        }
    }

    /// The writes committed after `version`, in version order, at most a batch of them: what other
    /// nodes wrote, for this node to publish. A store only this process writes has nothing to tell
    /// (every write is published as it commits).
    fn changes_after(&mut self, version: u64) -> Result<Feed, ApiError> {
        let _ = version;
        Ok(Feed::Writes(Vec::new()))
    }

    /// Housekeeping due now and then (expired tombstones and keys), called about once a second.
    fn maintain(&mut self) {}

    /// Calls `wake` whenever another node may have committed writes (a store only this process writes
    /// never does).
    fn watch(&mut self, wake: Wake) {
        let _ = wake;
    }

    /// The document or tombstone at `path`, if it was ever written.
    fn get(&mut self, path: &str) -> Result<Option<StoredDoc>, ApiError>;

    /// The live documents of the collection at `path`.
    fn list(&mut self, path: &str) -> Result<Listing, ApiError>;

    /// The last version committed (0 for an empty store).
    fn current_version(&mut self) -> Result<u64, ApiError>;

    /// The highest version of a tombstone the store has removed (0 if none): a resume from a `since`
    /// below it could miss a delete, so it gets the full state instead.
    fn horizon(&mut self) -> Result<u64, ApiError>;

    /// The database's epoch: random, made with its schema. Versions mean something only within it.
    fn epoch(&self) -> &str;

    /// The documents and tombstones of the collection at `path` written after version `since`,
    /// ordered by id.
    fn changes_since(&mut self, path: &str, since: u64) -> Result<Vec<ChangedDoc>, ApiError>;

    /// Commits `commits` in order, each all or nothing with the next version (none for one that
    /// writes nothing), durable together before this returns: a store may commit them at once (one
    /// sync to disk instead of one each). A commit whose `key` was seen before (within the retention
    /// window) commits nothing and answers the original version. One result per commit.
    fn commit_batch(&mut self, commits: &[&Commit]) -> Vec<Result<Committed, ApiError>>;

    /// Commits one commit: [`Store::commit_batch`] of one.
    fn commit(&mut self, commit: &Commit) -> Result<Committed, ApiError> {
        self.commit_batch(&[commit])
            .pop()
            .unwrap_or_else(|| Err(ApiError::new(livepath_protocol::ErrorCode::Internal, "no answer")))
    }
}

/// The time a commit takes for its server timestamps: the clock in milliseconds, but never below the
/// last time handed out (`last`), so that timestamps never decrease in commit order even when the
/// clock steps back (they repeat the last value until the clock catches up).
pub fn commit_time(clock_ms: i64, last: i64) -> i64 {
    clock_ms.max(last)
}

/// The system clock in milliseconds since the Unix epoch.
pub fn clock_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A stored document's JSON text, to embed as it is in a frame or an HTTP answer. The store wrote it
/// with `serde_json`, so a failure means a damaged database: logged, and answered `internal`.
pub fn raw_json(text: String) -> Result<Box<RawValue>, ApiError> {
    RawValue::from_string(text).map_err(|e| ApiError::internal("reading a stored document", e))
}

/// A document's data: it must be a JSON object.
pub fn object(data: Value) -> Result<Object, ApiError> {
    let kind = match data {
        Value::Object(map) => return Ok(map),
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
    };
    Err(ApiError::invalid(format!("data must be a JSON object, not {kind}")))
}

/// The longest idempotency key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;

/// An idempotency key as a client sent it, if any: at most [`MAX_KEY_BYTES`] bytes, without control
/// characters (which no database column of text can be trusted to keep, PostgreSQL's refuses NUL).
pub fn checked_key(key: Option<String>) -> Result<Option<String>, ApiError> {
    if let Some(k) = &key {
        if k.len() > MAX_KEY_BYTES {
            return Err(ApiError::invalid(format!(
                "an idempotency key is at most {MAX_KEY_BYTES} bytes; this one is {}",
                k.len()
            )));
        }
        if k.chars().any(char::is_control) {
            return Err(ApiError::invalid("an idempotency key cannot hold control characters"));
        }
    }
    Ok(key)
}

/// Splits a document path into its collection and id.
pub fn split(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object_of(v: Value) -> Object {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn commit_time_follows_the_clock_and_holds_when_it_steps_back() {
        assert_eq!(commit_time(1_000, 900), 1_000);
        assert_eq!(commit_time(800, 900), 900, "a clock that stepped back repeats the last time");
    }

    #[test]
    fn data_must_be_an_object_and_the_error_names_what_it_was() {
        assert_eq!(object(json!({"a":1})).unwrap(), object_of(json!({"a":1})));
        for (value, kind) in
            [(json!(null), "null"), (json!([1]), "an array"), (json!("s"), "a string"), (json!(2), "a number")]
        {
            let error = object(value).unwrap_err();
            assert_eq!(error.code, livepath_protocol::ErrorCode::InvalidArgument);
            assert_eq!(error.message, format!("data must be a JSON object, not {kind}"));
        }
    }

    #[test]
    fn idempotency_keys_are_short_printable_text() {
        assert_eq!(checked_key(None).unwrap(), None);
        assert_eq!(checked_key(Some("k-1 ü".into())).unwrap().as_deref(), Some("k-1 ü"));
        assert!(checked_key(Some("x".repeat(MAX_KEY_BYTES))).is_ok());
        let long = checked_key(Some("x".repeat(MAX_KEY_BYTES + 1))).unwrap_err();
        assert!(long.message.contains("at most 256 bytes"), "{}", long.message);
        for bad in ["a\0b", "tab\there", "line\n"] {
            assert_eq!(checked_key(Some(bad.into())).unwrap_err().code, livepath_protocol::ErrorCode::InvalidArgument);
        }
    }
}
