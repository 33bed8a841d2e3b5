//! [`Hub`]: who listens to which path, and the frames a committed write sends them.

use std::{collections::HashMap, sync::Arc};

use livepath_protocol::{Change, ChangeType, Path, PathKind};
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

/// A subscription as the hub keeps it.
#[derive(Debug)]
struct Entry {
    subscriber: Subscriber,
    /// The version its state was last read at in full: writes up to it are in what it was sent.
    from: u64,
}

/// Subscribers by path.
#[derive(Debug, Default)]
pub struct Hub {
    /// Document and collection paths alike; a write looks up its document and its parent collection.
    /// Keyed by (connection, subscription id), so that leaving a path with many subscribers is cheap.
    paths: HashMap<String, HashMap<(u64, u64), Entry>>,
    /// Live subscriptions, all paths together.
    count: usize,
}

/// A collection's full listing and the version it was read at, for a subscriber whose deltas fell
/// too far behind.
pub type FullListing = (Listing, u64);

impl Hub {
    /// Adds a subscriber to `path`, whose first frame held the state as of version `from`: later
    /// writes up to `from` are not sent to it again.
    pub fn add(&mut self, path: &Path, subscriber: Subscriber, from: u64) {
        let subscribers = self.paths.entry(path.as_str().to_owned()).or_default();
        if subscribers.insert((subscriber.conn, subscriber.id), Entry { subscriber, from }).is_none() {
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

    /// The paths that have subscribers.
    pub fn paths(&self) -> Vec<String> {
        self.paths.keys().cloned().collect()
    }

    /// Sends every subscriber of `path` its full state, `frame(id)`, read as of version `as_of`: for
    /// when the writes between what they were sent and now can no longer be told one by one.
    pub fn resend(&mut self, path: &Path, as_of: u64, frame: impl Fn(u64) -> String) {
        let Some(subscribers) = self.paths.get_mut(path.as_str()) else { return };
        for entry in subscribers.values_mut() {
            let s = &entry.subscriber;
            match path.kind() {
                PathKind::Document => s.outbox.push_snapshot(s.id, frame(s.id)),
                PathKind::Collection => s.outbox.push_delta(s.id, frame(s.id), || None),
            }
            entry.from = entry.from.max(as_of);
        }
    }

    /// Queues the frames `committed` (a write to the document at `path`) causes: a snapshot for the
    /// document's subscribers and a one-change delta for its collection's, for each subscriber whose
    /// state does not hold it yet. `listing` reads a collection, for subscribers so far behind that
    /// their deltas collapse into a full listing.
    pub fn publish(
        &mut self,
        path: &Path,
        committed: &Committed,
        listing: &mut dyn FnMut(&Path) -> Option<FullListing>,
    ) {
        let version = committed.version;
        let data: Option<Box<RawValue>> = committed.data.clone().and_then(|text| raw_json(text).ok());
        let data = data.as_deref();
        if let Some(subscribers) = self.paths.get(path.as_str()) {
            // Encoded once; only the subscription id differs between subscribers.
            let frame = frames::written_document(path, version, data);
            for Entry { subscriber: s, from } in subscribers.values() {
                if version > *from {
                    s.outbox.push_snapshot(s.id, frame.with_id(s.id));
                }
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
        if let Some(subscribers) = self.paths.get_mut(collection.as_str()) {
            let frame = frames::written_change(Change { kind, id: path.id().to_owned(), version, data });
            let mut full: Option<Option<FullListing>> = None; // read at most once, and only if needed
            for entry in subscribers.values_mut() {
                if version <= entry.from {
                    continue;
                }
                let s = &entry.subscriber;
                let mut listed_at = None;
                s.outbox.push_delta(s.id, frame.with_id(s.id), || {
                    let (listing, as_of) = full.get_or_insert_with(|| listing(&collection)).as_ref()?;
                    listed_at = Some(*as_of);
                    Some(frames::collection(s.id, &collection, listing))
                });
                // The listing may hold writes not published yet (another node's): not again.
                if let Some(as_of) = listed_at {
                    entry.from = entry.from.max(as_of);
                }
            }
        }
    }
}
