//! [`Frame`]: a frame from the server as the core takes it — only what the client uses, shaped as the
//! core keeps it, so the shell decodes the browser's parsed JSON straight into it.

use livepath_protocol::ErrorCode;

use super::{CollectionDoc, StoredWrite};

/// A server frame (see `livepath_protocol::ServerMessage` for the wire form). Fields the client does
/// not use (the echoed path, the session, a change's type, which the versions already tell) are not
/// read; frames the client has no use for (`pong`, `ping`) are not decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame<D> {
    /// `welcome`.
    Welcome {
        /// The server sends something at least this often.
        heartbeat_ms: u64,
        /// The database's identity (absent from older servers): versions from another epoch mean
        /// nothing to this server.
        epoch: Option<String>,
    },
    /// `snapshot`: a subscribed document's state.
    Snapshot {
        /// The subscription id.
        id: u64,
        /// The version of the document's last write.
        version: u64,
        /// Whether it exists.
        exists: bool,
        /// Its data when it exists.
        data: Option<D>,
    },
    /// `collection`: a subscribed collection's full state.
    Collection {
        /// The subscription id.
        id: u64,
        /// The highest version among its documents and tombstones.
        version: u64,
        /// The documents, ordered by id.
        docs: Vec<CollectionDoc<D>>,
    },
    /// `changes`: what changed in a subscribed collection.
    Changes {
        /// The subscription id.
        id: u64,
        /// The changes in version order: the document id, the version, the new data (`None`: removed).
        changes: Vec<(String, u64, Option<D>)>,
    },
    /// `unchanged`: a resumed subscription is current.
    Unchanged {
        /// The subscription id.
        id: u64,
    },
    /// `ack`: a write was committed.
    Ack {
        /// The write's `req`.
        req: u64,
        /// The version it committed.
        version: u64,
    },
    /// `error`: a subscription (`id`), a write (`req`) or the connection (neither) failed.
    Error {
        /// The failed subscription.
        id: Option<u64>,
        /// The failed write.
        req: Option<u64>,
        /// What programs match on.
        code: ErrorCode,
        /// What people read.
        message: String,
    },
    /// `pending` (from the shared tabs' leader, never from the server): another tab's write, on its
    /// way; this client shows it like its own until it is `settled` (its key names it).
    Pending(StoredWrite<D>),
    /// `settled` (from the shared tabs' leader): another tab's write was answered, or will not be on
    /// this connection.
    Settled {
        /// The write's idempotency key.
        key: String,
    },
}
