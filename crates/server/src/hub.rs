//! [`Hub`]: who listens to which path, and the frames a committed write sends them.

use std::{collections::HashMap, fmt::Write, sync::Arc};

use livepath_protocol::{Change, ChangeType, DocEntry, Path, ServerMessage};
use serde_json::value::RawValue;

use crate::{
    outbox::Outbox,
    store::{Committed, Listing},
};

/// One subscription of one connection.
#[derive(Debug, Clone)]
pub struct Subscriber {
    /// The connection, unique for the server's lifetime.
    pub conn: u64,
    /// The subscription id the client chose.
    pub id: u64,
    /// Where its frames go.
    pub outbox: Arc<Outbox>,
}

/// Subscribers by path.
#[derive(Debug, Default)]
pub struct Hub {
    /// Document and collection paths alike; a write looks up its document and its parent collection.
    /// Keyed by (connection, subscription id), so that leaving a path with many subscribers is cheap.
    paths: HashMap<String, HashMap<(u64, u64), Subscriber>>,
    /// Live subscriptions, all paths together.
    count: usize,
}

impl Hub {
    /// Adds a subscriber to `path`.
    pub fn add(&mut self, path: &Path, subscriber: Subscriber) {
        let subscribers = self.paths.entry(path.as_str().to_owned()).or_default();
        if subscribers.insert((subscriber.conn, subscriber.id), subscriber).is_none() {
            self.count += 1;
        }
    }

    /// Removes subscription `id` of connection `conn` from `path`.
    pub fn remove(&mut self, path: &Path, conn: u64, id: u64) {
        if let Some(list) = self.paths.get_mut(path.as_str()) {
            if list.remove(&(conn, id)).is_some() {
                self.count -= 1;
            }
            if list.is_empty() {
                self.paths.remove(path.as_str());
            }
        }
    }

    /// Live subscriptions on the server.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Queues the frames `committed` (a write to the document at `path`) causes: a snapshot for the
    /// document's subscribers and a one-change delta for its collection's. `listing` reads a
    /// collection, for subscribers so far behind that their deltas collapse into a full listing.
    pub fn publish(&self, path: &Path, committed: &Committed, listing: &mut dyn FnMut(&Path) -> Option<Listing>) {
        let data: Option<Box<RawValue>> = committed.data.as_ref().and_then(|text| RawValue::from_string(text.clone()).ok());
        let data = data.as_deref();
        if let Some(subscribers) = self.paths.get(path.as_str()) {
            // Encoded once; only the subscription id differs between subscribers.
            let frame = PerId::new(&ServerMessage::Snapshot {
                id: 0,
                path: path.as_str().to_owned(),
                version: committed.version,
                exists: data.is_some(),
                data,
            });
            for s in subscribers.values() {
                s.outbox.push_snapshot(s.id, frame.with_id(s.id));
            }
        }
        let kind = match (committed.existed, data.is_some()) {
            (false, true) => ChangeType::Added,
            (true, true) => ChangeType::Modified,
            (true, false) => ChangeType::Removed,
            (false, false) => return, // deleting what was not there changes no listing
        };
        let Some(collection) = path.parent() else { return };
        if let Some(subscribers) = self.paths.get(collection.as_str()) {
            let frame = PerId::new(&ServerMessage::Changes {
                id: 0,
                version: committed.version,
                changes: vec![Change { kind, id: path.id().to_owned(), version: committed.version, data }],
            });
            let mut full: Option<Option<Listing>> = None; // read at most once, and only if needed
            for s in subscribers.values() {
                s.outbox.push_delta(s.id, frame.with_id(s.id), || {
                    let listing = full.get_or_insert_with(|| listing(&collection)).as_ref()?;
                    Some(collection_frame(s.id, &collection, listing))
                });
            }
        }
    }
}

/// A server message encoded once for many subscriptions: the text before and after its `id`.
struct PerId {
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
    fn with_id(&self, id: u64) -> String {
        let mut frame = String::with_capacity(self.head.len() + 20 + self.tail.len());
        frame.push_str(&self.head);
        let _ = write!(frame, "{id}");
        frame.push_str(&self.tail);
        frame
    }
}

/// The `collection` message for subscription `id`.
pub fn collection_frame(id: u64, path: &Path, listing: &Listing) -> String {
    let docs = listing
        .docs
        .iter()
        .filter_map(|d| Some(DocEntry { id: d.id.clone(), version: d.version, data: RawValue::from_string(d.data.clone()).ok()? }))
        .collect();
    encode(&ServerMessage::Collection { id, path: path.as_str().to_owned(), version: listing.version, docs })
}

/// Serializes a server message. Our messages always serialize; a failure would be a bug, logged.
pub fn encode<D: serde::Serialize>(message: &ServerMessage<D>) -> String {
    serde_json::to_string(message).unwrap_or_else(|e| {
        tracing::error!("encoding a server message: {e}");
        r#"{"type":"error","code":"internal","message":"encoding failed"}"#.to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_encoded_once_reads_as_if_encoded_for_each_subscription() {
        let data = RawValue::from_string(r#"{"id":0,"title":"x"}"#.to_owned()).unwrap();
        for id in [0, 1, 42, u64::MAX] {
            let snapshot = |id| ServerMessage::Snapshot { id, path: "a/b".into(), version: 7, exists: true, data: Some(&*data) };
            assert_eq!(PerId::new(&snapshot(0)).with_id(id), encode(&snapshot(id)));
            let change = Change { kind: ChangeType::Added, id: "b".into(), version: 7, data: Some(&*data) };
            let changes = |id| ServerMessage::Changes { id, version: 7, changes: vec![change.clone()] };
            assert_eq!(PerId::new(&changes(0)).with_id(id), encode(&changes(id)));
        }
    }
}
