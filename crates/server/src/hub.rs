//! [`Hub`]: who listens to which path, and the frames a committed write sends them.

use std::{collections::HashMap, sync::Arc};

use livepath_protocol::{Change, ChangeType, Path};
use serde_json::value::RawValue;

use crate::{
    frames,
    outbox::Outbox,
    store::{Committed, Listing, raw_json},
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
        let data: Option<Box<RawValue>> = committed.data.clone().and_then(|text| raw_json(text).ok());
        let data = data.as_deref();
        if let Some(subscribers) = self.paths.get(path.as_str()) {
            // Encoded once; only the subscription id differs between subscribers.
            let frame = frames::written_document(path, committed.version, data);
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
        let Some(collection) = path.parent() else {
            return;
        };
        if let Some(subscribers) = self.paths.get(collection.as_str()) {
            let frame =
                frames::written_change(Change { kind, id: path.id().to_owned(), version: committed.version, data });
            let mut full: Option<Option<Listing>> = None; // read at most once, and only if needed
            for s in subscribers.values() {
                s.outbox.push_delta(s.id, frame.with_id(s.id), || {
                    let listing = full.get_or_insert_with(|| listing(&collection)).as_ref()?;
                    Some(frames::collection(s.id, &collection, listing))
                });
            }
        }
    }
}
