//! Every frame the server sends, as JSON text: built here and nowhere else.
//!
//! A committed write goes to many subscriptions at once, so its frames are encoded once as a
//! [`PerId`] and only the subscription id is spliced in for each.

use std::fmt::Write;

use livepath_protocol::{Change, ChangeType, DocEntry, PROTOCOL_VERSION, Path, ServerMessage};
use serde_json::value::RawValue;

use crate::{
    error::ApiError,
    store::{ChangedDoc, ListedDoc, Listing, StoredDoc, raw_json},
    window::{Seen, Tracked},
};

/// Serializes a server message. Our messages always serialize; a failure would be a bug, logged.
pub fn encode<D: serde::Serialize>(message: &ServerMessage<D>) -> String {
    serde_json::to_string(message).unwrap_or_else(|e| {
        tracing::error!("encoding a server message: {e}");
        r#"{"type":"error","code":"internal","message":"encoding failed"}"#.to_owned()
    })
}

/// `welcome`, the first frame of every connection.
pub fn welcome(session: String, heartbeat_ms: u64, epoch: &str) -> String {
    encode(&ServerMessage::<()>::Welcome {
        session,
        heartbeat_ms,
        protocol: PROTOCOL_VERSION,
        epoch: Some(epoch.to_owned()),
    })
}

/// The heartbeat `ping`.
pub fn ping() -> String {
    encode(&ServerMessage::<()>::Ping)
}

/// The answer to a client's `ping`.
pub fn pong() -> String {
    encode(&ServerMessage::<()>::Pong)
}

/// A write's `ack`.
pub fn ack(req: u64, version: u64) -> String {
    encode(&ServerMessage::<()>::Ack { req, version })
}

/// An `error` for subscription `id` or request `req`, if known.
pub fn error(id: Option<u64>, req: Option<u64>, error: ApiError) -> String {
    encode(&ServerMessage::<()>::Error { id, req, code: error.code, message: error.message, write: error.write })
}

/// The first frame of subscription `id` to the document at `path`: `unchanged` when the client's
/// `since` is already current, its `snapshot` otherwise.
pub fn document(id: u64, path: &Path, doc: Option<StoredDoc>, since: Option<u64>) -> String {
    let version = doc.as_ref().map_or(0, |d| d.version);
    if since.is_some_and(|since| since >= version) {
        return encode(&ServerMessage::<()>::Unchanged { id, version });
    }
    let data = doc.and_then(|d| d.data).and_then(|d| raw_json(d).ok());
    encode(&ServerMessage::Snapshot { id, path: path.as_str().to_owned(), version, exists: data.is_some(), data })
}

/// The first frame of subscription `id` to a collection, resumed from version `since`: `unchanged`,
/// or the `changes` to its documents written after `since` (`changed`).
pub fn resumed_collection(id: u64, since: u64, changed: Vec<ChangedDoc>) -> String {
    if changed.is_empty() {
        return encode(&ServerMessage::<()>::Unchanged { id, version: since });
    }
    let version = changed.iter().map(|c| c.version).max().unwrap_or(since);
    let changes = changed
        .into_iter()
        .map(|c| {
            let kind = match (&c.data, c.created > since) {
                (None, _) => ChangeType::Removed,
                (Some(_), true) => ChangeType::Added,
                (Some(_), false) => ChangeType::Modified,
            };
            let data = c.data.and_then(|d| raw_json(d).ok());
            Change { kind, id: c.id, version: c.version, data }
        })
        .collect();
    encode(&ServerMessage::Changes { id, version, changes })
}

/// The `collection` message for subscription `id`: the whole listing.
pub fn collection(id: u64, path: &Path, listing: &Listing) -> String {
    let docs = listing
        .docs
        .iter()
        .filter_map(|d| Some(DocEntry { id: d.id.clone(), version: d.version, data: raw_json(d.data.clone()).ok()? }))
        .collect();
    encode(&ServerMessage::Collection { id, path: path.as_str().to_owned(), version: listing.version, docs })
}

/// `unchanged`: a resumed subscription is current as of `version`.
pub fn unchanged(id: u64, version: u64) -> String {
    encode(&ServerMessage::<()>::Unchanged { id, version })
}

/// The `collection` message for subscription `id` to a query on `path`: its result `docs` in order,
/// as of `version`.
pub fn query_result(id: u64, path: &Path, version: u64, docs: &[Tracked<std::sync::Arc<RawValue>>]) -> String {
    let docs = docs.iter().map(|d| DocEntry { id: d.key.id.clone(), version: d.version, data: &*d.data }).collect();
    encode(&ServerMessage::Collection { id, path: path.as_str().to_owned(), version, docs })
}

/// The `changes` a write at `version` makes to a query's result, for each subscription to it.
pub fn query_changes(version: u64, changes: &[Seen<std::sync::Arc<RawValue>>]) -> PerId {
    let changes = changes
        .iter()
        .map(|c| Change { kind: c.kind, id: c.id.clone(), version: c.version, data: c.data.as_deref() })
        .collect();
    PerId::new(&ServerMessage::Changes { id: 0, version, changes })
}

/// The `snapshot` a write to the document at `path` sends its subscribers.
pub fn written_document(path: &Path, version: u64, data: Option<&RawValue>) -> PerId {
    PerId::new(&ServerMessage::Snapshot {
        id: 0,
        path: path.as_str().to_owned(),
        version,
        exists: data.is_some(),
        data,
    })
}

/// The `changes` a commit at `version` sends the subscribers of a collection it wrote to: every
/// change it made there, in one frame.
pub fn written_changes(version: u64, changes: Vec<Change<&RawValue>>) -> PerId {
    PerId::new(&ServerMessage::Changes { id: 0, version, changes })
}

/// The answer to `get` `req`: the documents read, as of `version`.
pub fn result(req: u64, version: u64, docs: &[ListedDoc]) -> Result<String, ApiError> {
    let mut entries = Vec::with_capacity(docs.len());
    for d in docs {
        let data =
            RawValue::from_string(d.data.clone()).map_err(|e| ApiError::internal("reading a stored document", e))?;
        entries.push(DocEntry { id: d.id.clone(), version: d.version, data });
    }
    Ok(encode(&ServerMessage::Result { req, version, docs: entries }))
}

/// A server message encoded once for many subscriptions: the text before and after its `id`.
pub struct PerId {
    head: String,
    tail: String,
}

impl PerId {
    /// Encodes `message`, which must carry id 0 (`{"type":"…","id":0,…}`).
    fn new<D: serde::Serialize>(message: &ServerMessage<D>) -> Self {
        let text = encode(message);
        match text.find(r#""id":0"#) {
            Some(at) => Self { head: text[..at + 5].to_owned(), tail: text[at + 6..].to_owned() },
            None => {
                tracing::error!("a per-subscription frame without an id: {text}");
                Self { head: String::new(), tail: text }
            }
        }
    }

    /// The frame for subscription `id`.
    pub fn with_id(&self, id: u64) -> String {
        let mut frame = String::with_capacity(self.head.len() + 20 + self.tail.len());
        frame.push_str(&self.head);
        let _ = write!(frame, "{id}");
        frame.push_str(&self.tail);
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_encoded_once_reads_as_if_encoded_for_each_subscription() {
        let data = RawValue::from_string(r#"{"id":0,"title":"x"}"#.to_owned()).unwrap();
        let path = Path::parse("a/b").unwrap();
        for id in [0, 1, 42, u64::MAX] {
            let snapshot =
                |id| ServerMessage::Snapshot { id, path: "a/b".into(), version: 7, exists: true, data: Some(&*data) };
            assert_eq!(written_document(&path, 7, Some(&data)).with_id(id), encode(&snapshot(id)));
            let change = Change { kind: ChangeType::Added, id: "b".into(), version: 7, data: Some(&*data) };
            let changes = |id| ServerMessage::Changes { id, version: 7, changes: vec![change.clone()] };
            assert_eq!(written_changes(7, vec![change.clone()]).with_id(id), encode(&changes(id)));
        }
    }
}
