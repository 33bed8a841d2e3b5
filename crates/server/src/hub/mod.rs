//! [`Hub`]: who listens to which path or query, and the frames a committed write sends them.
//! Plain subscriptions are here; live queries, by collection, in [`queries`].

mod queries;

use std::{collections::HashMap, sync::Arc};

use livepath_protocol::{Change, ChangeType, Path, PathKind, Query};
use serde_json::value::RawValue;

pub use queries::{Group, Queries};

use crate::{
    frames,
    outbox::Outbox,
    store::{Committed, Listing, QueryRead, raw_json},
};

/// The reads publishing may need: a collection's listing, for subscribers whose deltas fell too far
/// behind, and a query's result, for a live window that ran short.
pub trait Reads {
    /// The full listing of `collection`, and the version it was read at.
    fn listing(&mut self, collection: &Path) -> Option<FullListing>;
    /// The start of `query`'s result on `collection`, at most `limit` documents.
    fn query(&mut self, collection: &Path, query: &Query, limit: Option<usize>) -> Option<QueryRead>;
}

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
    /// Live subscriptions, all paths together (queries included).
    count: usize,
    /// The live queries.
    pub queries: Queries,
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

    /// Adds `subscriber` to the live query `canonical` on `collection`: to its group, or to `group`
    /// when it is the first. Gives the subscriber back when there is neither.
    pub fn add_query(
        &mut self,
        collection: &Path,
        canonical: &str,
        subscriber: Subscriber,
        group: Option<Group>,
    ) -> Result<(), Subscriber> {
        if self.queries.add(collection, canonical, subscriber, group)? {
            self.count += 1;
        }
        Ok(())
    }

    /// Removes subscription `id` of connection `conn` from the live query `canonical` on `collection`.
    pub fn remove_query(&mut self, collection: &Path, canonical: &str, conn: u64, id: u64) {
        if self.queries.remove(collection, canonical, conn, id) {
            self.count -= 1;
        }
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

    /// Queues the frames `committed` (one commit) causes: a snapshot for each written document's
    /// subscribers, one `changes` frame per collection for that collection's subscribers (every
    /// change the commit made to it), and the changes to the results of the live queries on those
    /// collections, for each subscriber whose state does not hold the commit yet. `reads` reads the
    /// store, for subscribers so far behind that their deltas collapse into a full listing, and for
    /// live windows that ran short.
    pub fn publish(&mut self, committed: &Committed, reads: &mut dyn Reads) {
        let version = committed.version;
        // By collection, in the order of the commit's first write to each.
        let mut collections: Vec<(Path, Vec<(ChangeType, &str, Option<Box<RawValue>>)>)> = Vec::new();
        for doc in &committed.docs {
            let Ok(path) = livepath_protocol::document_path(&doc.path) else {
                tracing::error!("a commit names a bad path {:?}", doc.path);
                continue;
            };
            let data: Option<Box<RawValue>> = doc.data.clone().and_then(|text| raw_json(text).ok());
            if let Some(subscribers) = self.paths.get(path.as_str()) {
                // Encoded once; only the subscription id differs between subscribers.
                let frame = frames::written_document(&path, version, data.as_deref());
                for Entry { subscriber: s, from } in subscribers.values() {
                    if version > *from {
                        s.outbox.push_snapshot(s.id, frame.with_id(s.id));
                    }
                }
            }
            let kind = match (doc.existed, data.is_some()) {
                (false, true) => ChangeType::Added,
                (true, true) => ChangeType::Modified,
                (true, false) => ChangeType::Removed,
                (false, false) => continue, // deleting what was not there changes no listing
            };
            let Some(collection) = path.parent() else { continue };
            let id = doc.path.rsplit('/').next().unwrap_or_default();
            match collections.iter_mut().find(|(c, _)| *c == collection) {
                Some((_, changes)) => changes.push((kind, id, data)),
                None => collections.push((collection, vec![(kind, id, data)])),
            }
        }
        for (collection, changes) in &collections {
            self.publish_changes(collection, version, changes, reads);
        }
    }

    /// One commit's changes to one collection, to its subscribers and its live queries.
    fn publish_changes(
        &mut self,
        collection: &Path,
        version: u64,
        changes: &[(ChangeType, &str, Option<Box<RawValue>>)],
        reads: &mut dyn Reads,
    ) {
        if let Some(subscribers) = self.paths.get_mut(collection.as_str()) {
            let frame = frames::written_changes(
                version,
                changes
                    .iter()
                    .map(|(kind, id, data)| Change {
                        kind: *kind,
                        id: (*id).to_owned(),
                        version,
                        data: data.as_deref(),
                    })
                    .collect(),
            );
            let mut full: Option<Option<FullListing>> = None; // read at most once, and only if needed
            for entry in subscribers.values_mut() {
                if version <= entry.from {
                    continue;
                }
                let s = &entry.subscriber;
                let mut listed_at = None;
                s.outbox.push_delta(s.id, frame.with_id(s.id), || {
                    let (listing, as_of) = full.get_or_insert_with(|| reads.listing(collection)).as_ref()?;
                    listed_at = Some(*as_of);
                    Some(frames::collection(s.id, collection, listing))
                });
                // The listing may hold writes not published yet (another node's): not again.
                if let Some(as_of) = listed_at {
                    entry.from = entry.from.max(as_of);
                }
            }
        }
        let docs: Vec<(&str, Option<&RawValue>)> = changes.iter().map(|(_, id, data)| (*id, data.as_deref())).collect();
        self.queries.publish(collection, version, &docs, &mut |c, q, l| reads.query(c, q, l));
    }
}
