//! The livepath wire protocol: the one definition of what client and server say to each other.
//!
//! Frames are JSON text over a WebSocket opened with the subprotocol [`SUBPROTOCOL`]. Every message is an
//! object whose `type` field names its variant; see [`ClientMessage`] and [`ServerMessage`].
//!
//! # Layout
//! - [`message`]: the messages in each direction, generic over how a document's data is held
//!   (`serde_json::Value` or raw JSON on the server, a `JsValue` in the browser).
//! - [`error`]: [`ErrorCode`], the codes users match on.
//! - [`path`]: [`Path`], the parsed and validated form of `rooms/r1/messages/m1`, and [`document_path`]
//!   for where a document is required.
//! - [`write`]: [`Write`], the writes of a `commit` (set, merge, update by field path, delete, check),
//!   their [`Transform`]s and [`Precondition`]s, and what a commit guarantees.
//! - [`query`]: [`Query`], the `where` / `orderBy` / `limit` / cursors of a live query, the order of
//!   values, and the one evaluation of both (the rules are written there).
//!
//! Golden JSON fixtures for every message live in `tests/fixtures/`: a change to the wire is a visible diff.

pub mod error;
pub mod message;
pub mod path;
pub mod query;
pub mod write;

pub use error::ErrorCode;
pub use message::{Change, ChangeType, ClientMessage, DocEntry, ServerMessage};
pub use path::{Path, PathError, PathKind, document_path};
pub use query::Query;
pub use write::{Precondition, Transform, TransformKind, Write};

/// The WebSocket subprotocol a client must offer at the upgrade.
pub const SUBPROTOCOL: &str = "livepath.v1";

/// The protocol revision announced in `welcome`.
pub const PROTOCOL_VERSION: u32 = 1;
