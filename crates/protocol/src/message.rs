//! The messages, one enum per direction.
//!
//! Both enums are generic over `D`, the type that holds a document's data (always a JSON object on the
//! wire). The server uses parsed or raw JSON; the browser client keeps the `JsValue` that `JSON.parse`
//! produced, so data is never converted twice.

use serde::{Deserialize, Serialize};

use crate::{
    ErrorCode, Query,
    write::{Precondition, Transform, Write},
};

/// A message from a client to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ClientMessage<D> {
    /// Presents credentials. A connection that presents no token is anonymous: a server with rules
    /// lets the rules decide its requests (`auth == null`), one with authentication and no rules refuses
    /// them with `unauthenticated`, an open server serves them.
    Hello {
        /// A bearer token: the HS256 JWT the server verifies. `None`: no token (anonymous).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
    },
    /// Starts a subscription to a document or a collection.
    Subscribe {
        /// Chosen by the client, unique among this connection's live subscriptions.
        id: u64,
        /// The document or collection path.
        path: String,
        /// The last version the client has seen; lets the server answer `unchanged` or a delta.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<u64>,
        /// For a collection: only the documents this query keeps, in its order (see
        /// [`crate::query`]). The answer is a `collection` with the result, then `changes` as
        /// documents enter, move in and leave it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        query: Option<Query>,
    },
    /// Ends a subscription.
    Unsubscribe {
        /// The id given in `subscribe`.
        id: u64,
    },
    /// Creates or replaces a document: a commit of one `set` write (see [`crate::write`]).
    Set {
        /// Chosen by the client; echoed in the `ack` or `error`.
        req: u64,
        /// The document path.
        path: String,
        /// The new data: a JSON object.
        data: D,
        /// An idempotency key: a retry with the same key is applied once.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// Deep-merge `data` into the document instead of replacing it.
        #[serde(default, skip_serializing_if = "crate::write::is_false")]
        merge: bool,
        /// Applied after `data`, in order.
        #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
        transforms: Vec<Transform<D>>,
        /// The condition the document must meet.
        #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
        condition: Option<Precondition>,
    },
    /// Sets fields of an existing document (`data`'s keys are field paths): a commit of one `update`.
    Update {
        /// Chosen by the client; echoed in the `ack` or `error`.
        req: u64,
        /// The document path.
        path: String,
        /// Field paths and their new values: a JSON object.
        data: D,
        /// An idempotency key: a retry with the same key is applied once.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// Applied after `data`, in order.
        #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
        transforms: Vec<Transform<D>>,
        /// The condition the document must meet.
        #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
        condition: Option<Precondition>,
    },
    /// Deletes a document (the server keeps a tombstone so resuming clients learn of it): a commit of
    /// one `delete`.
    Delete {
        /// Chosen by the client; echoed in the `ack` or `error`.
        req: u64,
        /// The document path.
        path: String,
        /// An idempotency key: a retry with the same key is applied once.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// The condition the document must meet.
        #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
        condition: Option<Precondition>,
    },
    /// Writes to any number of documents (1 to [`crate::write::MAX_WRITES`]) as one unit: all or
    /// nothing, one version (see [`crate::write`]).
    Commit {
        /// Chosen by the client; echoed in the `ack` or `error`.
        req: u64,
        /// An idempotency key: a retry with the same key is applied once.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// The writes, applied in order.
        writes: Vec<Write<D>>,
    },
    /// Reads a document or a collection (with a `query`: its result) once; answered by `result`.
    Get {
        /// Chosen by the client; echoed in the `result` or `error`.
        req: u64,
        /// The document or collection path.
        path: String,
        /// For a collection: only the documents this query keeps, in its order.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        query: Option<Query>,
    },
    /// Asks for a `pong`.
    Ping,
}

/// A message from the server to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ServerMessage<D> {
    /// Sent right after the upgrade.
    #[serde(rename_all = "camelCase")]
    Welcome {
        /// An opaque id for this connection, for logs.
        session: String,
        /// The server sends something at least this often; silence for twice as long means a dead link.
        heartbeat_ms: u64,
        /// The protocol revision, [`crate::PROTOCOL_VERSION`].
        protocol: u32,
        /// The database's identity, made when its schema was created: versions are comparable only
        /// within one epoch, so a client sends `since` only for the epoch it got its versions from.
        /// A restored backup or a wiped database is a new epoch. Absent from servers older than it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        epoch: Option<String>,
    },
    /// The state of a subscribed document.
    Snapshot {
        /// The subscription id.
        id: u64,
        /// The document path.
        path: String,
        /// The version of the document's last write (0: never written).
        version: u64,
        /// Whether the document exists (false after a delete or before the first write).
        exists: bool,
        /// The document's data when it exists, `null` otherwise.
        data: Option<D>,
    },
    /// The full state of a subscribed collection (for a query: its result).
    Collection {
        /// The subscription id.
        id: u64,
        /// The collection path.
        path: String,
        /// The highest version among the collection's documents and tombstones.
        version: u64,
        /// The documents, ordered by id (byte order), or in the query's order.
        docs: Vec<DocEntry<D>>,
    },
    /// What changed in a subscribed collection since the last message for this subscription.
    Changes {
        /// The subscription id.
        id: u64,
        /// The collection's version after these changes.
        version: u64,
        /// The changes, in version order.
        changes: Vec<Change<D>>,
    },
    /// The answer to `subscribe` with a `since` that is already current.
    Unchanged {
        /// The subscription id.
        id: u64,
        /// The current version.
        version: u64,
    },
    /// A write was committed durably.
    Ack {
        /// The write's `req`.
        req: u64,
        /// The version the write committed (the original one for an idempotent retry).
        version: u64,
    },
    /// The answer to `get`: what the path held at one version.
    Result {
        /// The `get`'s `req`.
        req: u64,
        /// The store's version the read was taken at: every write up to it is in `docs`.
        version: u64,
        /// For a document, its one entry (none when missing); for a collection, its documents by id
        /// (or in the query's order).
        docs: Vec<DocEntry<D>>,
    },
    /// A request failed. `id` names a subscription, `req` a write or read; neither: the connection.
    Error {
        /// The failed subscription, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        /// The failed write, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        req: Option<u64>,
        /// What programs match on.
        code: ErrorCode,
        /// What people read.
        message: String,
        /// For a commit: the index of the write that failed (the commit applied nothing).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        write: Option<u32>,
    },
    /// The answer to `ping`.
    Pong,
    /// A heartbeat, sent after `heartbeatMs` without any other frame.
    Ping,
}

impl<D> ServerMessage<D> {
    /// The same message with each document's data converted by `f`; `None` if `f` refuses one.
    pub fn map_data<E>(self, mut f: impl FnMut(D) -> Option<E>) -> Option<ServerMessage<E>> {
        Some(match self {
            Self::Welcome { session, heartbeat_ms, protocol, epoch } => {
                ServerMessage::Welcome { session, heartbeat_ms, protocol, epoch }
            }
            Self::Snapshot { id, path, version, exists, data } => {
                let data = match data {
                    Some(d) => Some(f(d)?),
                    None => None,
                };
                ServerMessage::Snapshot { id, path, version, exists, data }
            }
            Self::Collection { id, path, version, docs } => {
                ServerMessage::Collection { id, path, version, docs: map_docs(docs, &mut f)? }
            }
            Self::Changes { id, version, changes } => ServerMessage::Changes {
                id,
                version,
                changes: changes
                    .into_iter()
                    .map(|c| {
                        let data = match c.data {
                            Some(d) => Some(f(d)?),
                            None => None,
                        };
                        Some(Change { kind: c.kind, id: c.id, version: c.version, data })
                    })
                    .collect::<Option<_>>()?,
            },
            Self::Unchanged { id, version } => ServerMessage::Unchanged { id, version },
            Self::Result { req, version, docs } => {
                ServerMessage::Result { req, version, docs: map_docs(docs, &mut f)? }
            }
            Self::Ack { req, version } => ServerMessage::Ack { req, version },
            Self::Error { id, req, code, message, write } => ServerMessage::Error { id, req, code, message, write },
            Self::Pong => ServerMessage::Pong,
            Self::Ping => ServerMessage::Ping,
        })
    }
}

/// `docs` with each one's data converted by `f`; `None` if `f` refuses one.
fn map_docs<D, E>(docs: Vec<DocEntry<D>>, f: &mut impl FnMut(D) -> Option<E>) -> Option<Vec<DocEntry<E>>> {
    docs.into_iter().map(|d| Some(DocEntry { id: d.id, version: d.version, data: f(d.data)? })).collect()
}

/// One document in a `collection` or `result` message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocEntry<D> {
    /// The document id: the last segment of its path.
    pub id: String,
    /// The version of its last write.
    pub version: u64,
    /// Its data.
    pub data: D,
}

/// One entry of a `changes` message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change<D> {
    /// Added, modified or removed.
    #[serde(rename = "type")]
    pub kind: ChangeType,
    /// The document id.
    pub id: String,
    /// The version of the write that caused this change.
    pub version: u64,
    /// The new data; `null` for a removal.
    pub data: Option<D>,
}

/// What happened to a document of a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ChangeType {
    /// It did not exist before.
    Added,
    /// It existed and still does.
    Modified,
    /// It was deleted.
    Removed,
}
