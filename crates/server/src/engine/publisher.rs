//! [`Publisher`]: what the store thread has published to the hub, and how the next writes get there —
//! its own batches as they commit, other nodes' writes from the store's log, and the answers to
//! writes, which never go out before the write is published on this node.

use livepath_protocol::{Path, Query};

use super::{Batch, Shared, WriteReply, lock};
use crate::{
    frames,
    hub::{FullListing, Reads},
    metrics::inc,
    store::{Commit, Committed, Feed, Initial, InitialState, QueryRead, Store},
};

/// The last version published to the hub, and the answers waiting for it.
pub struct Publisher {
    /// Every write up to this version is published (or was there before this node started).
    published: u64,
    /// Answers to writes that are committed but not published here yet (another node's writes came
    /// between, and the log could not be read just then; or a replayed key named another node's write
    /// not read yet): each goes once `published` reaches its version, so that a writer never gets its
    /// `ack` before the subscribers on its node get the write.
    deferred: Vec<(u64, WriteReply)>,
}

impl Publisher {
    /// Everything up to `published` counts as published.
    pub fn new(published: u64) -> Self {
        Self { published, deferred: Vec::new() }
    }

    pub fn published(&self) -> u64 {
        self.published
    }

    /// Commits `batch`, publishes what it wrote in version order (with what other nodes wrote before
    /// it), and answers each write, or defers its answer until it is published.
    pub fn commit(&mut self, store: &mut dyn Store, shared: &Shared, batch: &mut Batch) {
        let commits: Vec<&Commit> = batch.iter().map(|(commit, _)| commit).collect();
        let results = store.commit_batch(&commits);
        drop(commits);
        for committed in results.iter().flatten().filter(|c| !c.replayed && !c.docs.is_empty()) {
            inc(&shared.metrics.commits);
            shared.metrics.writes.fetch_add(committed.docs.len() as u64, std::sync::atomic::Ordering::Relaxed);
        }
        // A batch's new versions follow one another. When the first follows the last one published, no
        // other node wrote in between, and the batch is published as it stands; otherwise the log has
        // everything in order, this batch included.
        let wrote = |c: &&Committed| !c.replayed && !c.docs.is_empty();
        let first = results.iter().flatten().find(wrote).map(|c| c.version);
        if first.is_none_or(|first| first == self.published + 1) {
            for committed in results.iter().flatten().filter(wrote) {
                publish(store, shared, committed);
                self.published = committed.version;
            }
        } else {
            self.catch_up(store, shared);
        }
        for ((_, reply), result) in batch.drain(..).zip(results) {
            match result {
                Ok(committed) if committed.version > self.published => {
                    self.deferred.push((committed.version, reply));
                }
                result => reply(result.map(|committed| committed.version)),
            }
        }
    }

    /// Publishes, in order, the writes the store's log holds above what is published. When the log no
    /// longer reaches back that far, every subscriber is sent its full state instead. Then sends the
    /// answers this made due.
    pub fn catch_up(&mut self, store: &mut dyn Store, shared: &Shared) {
        loop {
            match store.changes_after(self.published) {
                Ok(Feed::Writes(commits)) if commits.is_empty() => break,
                Ok(Feed::Writes(commits)) => {
                    for committed in commits {
                        publish(store, shared, &committed);
                        self.published = committed.version;
                    }
                }
                Ok(Feed::Gone) => {
                    self.resend_all(store, shared);
                    break;
                }
                Err(e) => {
                    tracing::debug!("reading the store's log: {e}");
                    break;
                }
            }
        }
        let published = self.published;
        let (due, waiting) = std::mem::take(&mut self.deferred).into_iter().partition(|(v, _)| *v <= published);
        self.deferred = waiting;
        for (version, reply) in due {
            reply(Ok(version));
        }
    }

    /// Sends every subscriber its path's full state, and moves `published` to the version they were
    /// read at: the writes in between cannot be told one by one any more.
    fn resend_all(&mut self, store: &mut dyn Store, shared: &Shared) {
        let Ok(current) = store.current_version() else { return };
        tracing::warn!(
            "the store's log no longer reaches back to version {}: resending every subscribed path",
            self.published
        );
        let paths = lock(&shared.hub).paths();
        for path in paths {
            let Ok(path) = Path::parse(&path) else { continue };
            let Ok(initial) = store.initial(&path, None) else { return };
            let mut hub = lock(&shared.hub);
            match initial.state {
                InitialState::Document { doc, .. } => {
                    hub.resend(&path, initial.as_of, |id| frames::document(id, &path, doc.clone(), None));
                }
                InitialState::Collection(listing) => {
                    hub.resend(&path, initial.as_of, |id| frames::collection(id, &path, &listing));
                }
                InitialState::Changes { .. } => {}
            }
        }
        let queries = lock(&shared.hub).queries.all();
        for (collection, canonical, query) in queries {
            let capacity = crate::window::Window::<()>::capacity(&query);
            let Ok(read) = store.query(&collection, &query, capacity) else { return };
            lock(&shared.hub).queries.reload(&collection, &canonical, read);
        }
        self.published = current;
    }
}

impl Drop for Publisher {
    /// At shutdown: the deferred writes are committed, so they are acknowledged, published or not.
    fn drop(&mut self) {
        for (version, reply) in self.deferred.drain(..) {
            reply(Ok(version));
        }
    }
}

/// The store, for the reads publishing needs, and the metrics that count them.
struct StoreReads<'a>(&'a mut dyn Store, &'a Shared);

impl Reads for StoreReads<'_> {
    fn listing(&mut self, collection: &Path) -> Option<FullListing> {
        match self.0.initial(collection, None) {
            Ok(Initial { as_of, state: InitialState::Collection(listing) }) => Some((listing, as_of)),
            _ => None,
        }
    }

    fn query(&mut self, collection: &Path, query: &Query, limit: Option<usize>) -> Option<QueryRead> {
        inc(&self.1.metrics.query_rereads);
        self.0.query(collection, query, limit).inspect_err(|e| tracing::warn!("reading a live query again: {e}")).ok()
    }
}

/// Reads again the live queries whose last re-read failed.
pub fn retry_short_queries(store: &mut dyn Store, shared: &Shared) {
    let mut reads = StoreReads(store, shared);
    lock(&shared.hub).queries.retry_short(&mut |c, q, l| reads.query(c, q, l));
}

/// Publishes one commit to the hub.
fn publish(store: &mut dyn Store, shared: &Shared, committed: &Committed) {
    lock(&shared.hub).publish(committed, &mut StoreReads(store, shared));
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64},
    };

    use serde_json::json;

    use super::*;
    use crate::{
        engine::WriteReply,
        hub::Hub,
        store::{commit, sqlite::SqliteStore},
    };

    fn shared() -> Shared {
        Shared {
            hub: Mutex::new(Hub::default()),
            metrics: Arc::default(),
            epoch: String::new(),
            unavailable: Mutex::new(None),
            catch_up_queued: AtomicBool::new(false),
            published: AtomicU64::new(0),
        }
    }

    fn set(path: &str) -> Commit {
        commit::of(json!([{"op":"set","path":path,"data":{"n":1}}]))
    }

    /// A reply that records what it was answered.
    fn recorded() -> (WriteReply, Arc<Mutex<Vec<u64>>>) {
        let answers = Arc::new(Mutex::new(Vec::new()));
        let into = answers.clone();
        (Box::new(move |r| into.lock().unwrap().push(r.unwrap())), answers)
    }

    fn batch_of(path: &str, reply: WriteReply) -> Batch {
        vec![(set(path), reply)]
    }

    #[test]
    fn a_write_in_turn_is_answered_at_once_and_one_after_unpublished_writes_waits_for_them() {
        let mut store = SqliteStore::in_memory(1 << 20).unwrap();
        let shared = shared();
        let mut publisher = Publisher::new(0);
        let (reply, answers) = recorded();
        publisher.commit(&mut store, &shared, &mut batch_of("c/a", reply));
        assert_eq!(*answers.lock().unwrap(), [1], "in turn: published and answered");

        // Versions 2 and 3 are written behind the publisher's back (another node, as it sees it), and
        // this store has no log to read them from: the next write cannot be published in order yet.
        store.commit(&set("c/x")).unwrap();
        store.commit(&set("c/y")).unwrap();
        let (reply, answers) = recorded();
        publisher.commit(&mut store, &shared, &mut batch_of("c/b", reply));
        publisher.catch_up(&mut store, &shared);
        assert!(answers.lock().unwrap().is_empty(), "no ack before the write is published here");
        assert_eq!(publisher.published(), 1);
        drop(publisher);
        assert_eq!(*answers.lock().unwrap(), [4], "at shutdown a committed write is acknowledged");
    }
}
