//! [`Hub`]: who listens to which path, and the frames a committed write sends them.

use std::{collections::HashMap, sync::Arc};

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
    paths: HashMap<String, Vec<Subscriber>>,
    /// Live subscriptions, all paths together.
    count: usize,
}

impl Hub {
    /// Adds a subscriber to `path`.
    pub fn add(&mut self, path: &Path, subscriber: Subscriber) {
        self.paths.entry(path.as_str().to_owned()).or_default().push(subscriber);
        self.count += 1;
    }

    /// Removes subscription `id` of connection `conn` from `path`.
    pub fn remove(&mut self, path: &Path, conn: u64, id: u64) {
        if let Some(list) = self.paths.get_mut(path.as_str()) {
            let before = list.len();
            list.retain(|s| !(s.conn == conn && s.id == id));
            self.count -= before - list.len();
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
            for s in subscribers {
                let frame = ServerMessage::Snapshot {
                    id: s.id,
                    path: path.as_str().to_owned(),
                    version: committed.version,
                    exists: data.is_some(),
                    data,
                };
                s.outbox.push_snapshot(s.id, encode(&frame));
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
            let mut full: Option<Option<Listing>> = None; // read at most once, and only if needed
            for s in subscribers {
                let frame = ServerMessage::Changes {
                    id: s.id,
                    version: committed.version,
                    changes: vec![Change { kind, id: path.id().to_owned(), version: committed.version, data }],
                };
                s.outbox.push_delta(s.id, encode(&frame), || {
                    let listing = full.get_or_insert_with(|| listing(&collection)).as_ref()?;
                    Some(collection_frame(s.id, &collection, listing))
                });
            }
        }
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
