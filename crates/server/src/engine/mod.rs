//! [`Engine`]: the handle connections and HTTP handlers share to the store thread, the hub and the
//! metrics. (The database itself is the [`Store`].) One thread owns the store and runs every request
//! to it in arrival order: writes are committed and published in version order, and a subscription
//! reads its first state (as of some version) and registers in the hub with no publication in between.
//!
//! Writes that queue up while the store is busy are committed together (one sync to disk, or one
//! transaction on PostgreSQL, for all), and a connection does not wait for its write: the store thread
//! queues the `ack` itself, once the write is published. So a connection reads its next frame at once,
//! and a burst of writes costs one transaction, not one each.
//!
//! With a store other nodes write too (PostgreSQL), the store thread also publishes their writes: it
//! keeps the last version it published and reads the store's log above it when woken (a notification
//! from the database, once a second anyway, and whenever its own batch's versions do not follow on from
//! it). A subscriber is sent only writes above the version its first state was read at, so a write
//! committed between that read and its publication reaches it once.

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use livepath_protocol::{Path, PathKind, Query};
use tokio::sync::{mpsc, oneshot};

use crate::{
    config::Config,
    error::ApiError,
    frames,
    hub::{Group, Hub, Subscriber},
    metrics::Metrics,
    store::{
        Commit, InitialState, ListedDoc, Listing, Store, StoredDoc, Wake, postgres::PgStore, resumable,
        sqlite::SqliteStore,
    },
    window::Window,
};

mod publisher;

use publisher::Publisher;

/// Requests queued for the store thread before senders wait for room.
const QUEUE: usize = 1024;
/// Most commits committed in one transaction.
const MAX_BATCH: usize = 256;
/// Most documents written in one transaction: a batch of large commits stops early, so that one
/// transaction (which holds the version row on PostgreSQL) stays short.
const MAX_BATCH_WRITES: usize = 5_000;
/// How often the store thread looks for writes of other nodes it was not told of, and does its
/// housekeeping.
pub const TICK: Duration = Duration::from_secs(1);

/// A cheap, cloneable handle to the store thread, the hub and the metrics.
#[derive(Clone)]
pub struct Engine {
    jobs: mpsc::Sender<Job>,
    shared: Arc<Shared>,
}

/// What the store thread and the connections share.
struct Shared {
    /// The subscribers: locked by the store thread (subscribing, publishing) and by unsubscribes.
    hub: Mutex<Hub>,
    /// Counters for `/metrics`.
    metrics: Arc<Metrics>,
    /// The store's epoch, for `welcome`.
    epoch: String,
    /// Why the store cannot serve right now, as the store thread last saw it (for `/healthz`).
    unavailable: Mutex<Option<String>>,
    /// A catch-up is queued and not yet run: more wake-ups need not queue another.
    catch_up_queued: AtomicBool,
    /// The last version published to the hub, as the store thread last set it.
    published: AtomicU64,
}

/// What to do with a commit's outcome (its version), on the store thread, once it is committed and
/// published.
pub type WriteReply = Box<dyn FnOnce(Result<u64, ApiError>) + Send>;

/// Work run on the store thread between write batches.
type Task = Box<dyn FnOnce(&mut dyn Store, &Shared) + Send>;

/// A request to the store thread.
enum Job {
    /// A commit; consecutive ones are committed as one batch.
    Write { commit: Commit, reply: WriteReply },
    /// Anything else (reads, subscriptions), run between batches.
    Run(Task),
    /// Other nodes may have written: publish what the store's log holds above the last version
    /// published.
    CatchUp,
    /// The timer: catch up, and let the store do its housekeeping.
    Tick,
}

/// What a read of a path found.
#[derive(Debug)]
pub enum Read {
    /// A document path: the document or tombstone, if ever written.
    Document(Option<StoredDoc>),
    /// A collection path: its live documents.
    Collection(Listing),
}

/// What a one-time read (`get`) found, at one version.
#[derive(Debug)]
pub struct Found {
    /// The store's version the read was taken at.
    pub version: u64,
    /// The document (none or one) or the collection's documents, by id or in the query's order.
    pub docs: Vec<ListedDoc>,
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn stopped() -> ApiError {
    ApiError::new(livepath_protocol::ErrorCode::Unavailable, "the store has stopped")
}

impl Engine {
    /// Opens the store the configuration names (PostgreSQL with `--database-url`, else SQLite) and
    /// starts its thread, which ends when the last handle is dropped.
    pub async fn open(config: &Config) -> Result<Self, ApiError> {
        let retention = config.tombstone_retention.as_secs() as i64;
        let store: Box<dyn Store> = if let Some(url) = &config.database_url {
            if !config.indexes.is_empty() {
                tracing::warn!("--index is for SQLite: on PostgreSQL queries are read without these indexes");
            }
            Box::new(
                PgStore::connect(url, config.database_ca_file.as_deref(), config.max_document_bytes, retention).await?,
            )
        } else {
            let store = if config.memory {
                SqliteStore::in_memory(config.max_document_bytes)?
            } else {
                SqliteStore::open(&config.data_dir, config.max_document_bytes)?
            };
            Box::new(store.with_tombstone_retention(retention)?.with_indexes(&config.indexes)?)
        };
        Self::with_store(store)
    }

    /// Starts the store thread over `store`, and the timer that ticks it.
    fn with_store(mut store: Box<dyn Store>) -> Result<Self, ApiError> {
        let shared = Arc::new(Shared {
            hub: Mutex::new(Hub::default()),
            metrics: Arc::default(),
            epoch: store.epoch().to_owned(),
            unavailable: Mutex::new(None),
            catch_up_queued: AtomicBool::new(false),
            published: AtomicU64::new(0),
        });
        let (jobs, queue) = mpsc::channel(QUEUE);
        // The timer and the store's watcher hold weak senders: the thread still ends with the last
        // handle.
        let weak = jobs.downgrade();
        let wake_shared = Arc::downgrade(&shared);
        let wake: Wake = Arc::new(move |version| {
            let (Some(jobs), Some(shared)) = (weak.upgrade(), wake_shared.upgrade()) else { return false };
            if version.is_some_and(|v| v <= shared.published.load(Ordering::Acquire)) {
                return true; // published already: this node's own write, most often
            }
            if !shared.catch_up_queued.swap(true, Ordering::AcqRel) && jobs.try_send(Job::CatchUp).is_err() {
                shared.catch_up_queued.store(false, Ordering::Release);
            }
            true
        });
        store.watch(wake);
        let ticks = jobs.downgrade();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(TICK);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let Some(jobs) = ticks.upgrade() else { return };
                let _ = jobs.try_send(Job::Tick);
            }
        });
        let thread_shared = shared.clone();
        std::thread::Builder::new()
            .name("livepath-store".into())
            .spawn(move || store_thread(store, queue, &thread_shared))
            .map_err(|e| ApiError::internal("starting the store thread", e))?;
        Ok(Self { jobs, shared })
    }

    /// Runs `f` on the store thread, in order with the writes, and returns its result.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Store, &Shared) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (tx, rx) = oneshot::channel();
        let job = Job::Run(Box::new(move |store, shared| {
            let _ = tx.send(f(store, shared));
        }));
        self.jobs.send(job).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// Queues a commit; `reply` gets its version (or error) on the store thread once it is committed
    /// and published. Waits only while the store's queue is full.
    pub async fn commit_then(&self, commit: Commit, reply: WriteReply) {
        if let Err(mpsc::error::SendError(Job::Write { reply, .. })) =
            self.jobs.send(Job::Write { commit, reply }).await
        {
            reply(Err(stopped()));
        }
    }

    /// Commits `commit`, publishes it, and returns its version.
    pub async fn commit(&self, commit: Commit) -> Result<u64, ApiError> {
        let (tx, rx) = oneshot::channel();
        let reply = Box::new(move |result| {
            let _ = tx.send(result);
        });
        self.commit_then(commit, reply).await;
        rx.await.map_err(|_| stopped())?
    }

    /// Runs `f` on the store thread once everything queued before it is done: to answer a request
    /// after the writes that preceded it.
    pub async fn after_queued(&self, f: impl FnOnce() + Send + 'static) {
        // Refused only once the store has stopped, at shutdown: then there is no one to answer.
        let _ = self.jobs.send(Job::Run(Box::new(move |_, _| f()))).await;
    }

    /// Reads the document or collection at `path`.
    pub async fn read(&self, path: &str) -> Result<Read, ApiError> {
        let path = Path::parse(path)?;
        self.run(move |store, _| {
            Ok(match path.kind() {
                PathKind::Document => Read::Document(store.get(path.as_str())?),
                PathKind::Collection => Read::Collection(store.list(path.as_str())?),
            })
        })
        .await
    }

    /// Reads the document or collection at `path` once, at one version: with `query` (a collection's),
    /// only its result, in its order. Queued after the writes before it.
    pub async fn get(&self, path: Path, query: Option<Query>) -> Result<Found, ApiError> {
        self.run(move |store, _| match (path.kind(), query) {
            (PathKind::Collection, Some(query)) => {
                let limit = query.limit.map(|l| l as usize);
                let read = store.query(&path, &query, limit)?;
                Ok(Found {
                    version: read.as_of,
                    docs: read
                        .docs
                        .into_iter()
                        .map(|m| ListedDoc { id: m.key.id, version: m.version, data: m.data })
                        .collect(),
                })
            }
            (_, Some(_)) => Err(ApiError::invalid(format!(
                "{} is a document: a query needs a collection path (an odd number of segments)",
                path.as_str()
            ))),
            (_, None) => {
                let initial = store.initial(&path, None)?;
                let docs = match initial.state {
                    InitialState::Document { doc: Some(StoredDoc { version, data: Some(data) }), .. } => {
                        vec![ListedDoc { id: path.id().to_owned(), version, data }]
                    }
                    InitialState::Document { .. } => Vec::new(),
                    InitialState::Collection(listing) => listing.docs,
                    InitialState::Changes { .. } => {
                        return Err(ApiError::internal("a one-time read", "a resumed state without since"));
                    }
                };
                Ok(Found { version: initial.as_of, docs })
            }
        })
        .await
    }

    /// Registers `subscriber` on `path` and queues its first frame: the current state, `unchanged` when
    /// `since` is already current, or for a collection the `changes` since then. A `since` beyond the
    /// store's last version (the client saw another database), or below its horizon (deletes after it
    /// may be forgotten), gets the full state.
    pub async fn subscribe(&self, subscriber: Subscriber, path: Path, since: Option<u64>) -> Result<(), ApiError> {
        self.run(move |store, shared| {
            let id = subscriber.id;
            let initial = store.initial(&path, since)?;
            match initial.state {
                InitialState::Document { doc, since } => {
                    subscriber.outbox.push_snapshot(id, frames::document(id, &path, doc, since));
                }
                InitialState::Changes { since, changes } => {
                    subscriber.outbox.push_delta(id, frames::resumed_collection(id, since, changes), || None);
                }
                InitialState::Collection(listing) => {
                    subscriber.outbox.push_delta(id, frames::collection(id, &path, &listing), || None);
                }
            }
            lock(&shared.hub).add(&path, subscriber, initial.as_of);
            Ok(())
        })
        .await
    }

    /// Registers `subscriber` on the live query `query` (its canonical form: `canonical`) on the
    /// collection at `path`, and queues its first frame: the query's result, or `unchanged` when
    /// `since` is resumable and nothing in the collection changed after it. Equal queries share one
    /// live window: the first subscriber's reads it from the store, later ones get what it holds.
    pub async fn subscribe_query(
        &self,
        subscriber: Subscriber,
        path: Path,
        query: Query,
        canonical: String,
        since: Option<u64>,
    ) -> Result<(), ApiError> {
        self.run(move |store, shared| {
            let since = match since {
                Some(since) => resumable(Some(since), store.current_version()?, store.horizon()?),
                None => None,
            };
            let id = subscriber.id;
            let mut hub = lock(&shared.hub);
            if let Some(group) = hub.queries.get(&path, &canonical) {
                subscriber.outbox.push_delta(id, group.first_frame(id, &path, since), || None);
                // Only this thread makes and removes groups with no subscribers, so it is there.
                let _ = hub.add_query(&path, &canonical, subscriber, None);
                return Ok(());
            }
            drop(hub);
            let read = store.query(&path, &query, Window::<()>::capacity(&query))?;
            let unchanged = since.filter(|since| read.version <= *since);
            let group = Group::new(query, read);
            let frame = match unchanged {
                Some(since) => frames::unchanged(id, since),
                None => group.first_frame(id, &path, None),
            };
            subscriber.outbox.push_delta(id, frame, || None);
            let _ = lock(&shared.hub).add_query(&path, &canonical, subscriber, Some(group));
            Ok(())
        })
        .await
    }

    /// Ends subscription `id` of connection `conn` on `path` (to the live query `canonical`, if
    /// given).
    pub fn unsubscribe(&self, path: &Path, canonical: Option<&str>, conn: u64, id: u64) {
        let mut hub = lock(&self.shared.hub);
        match canonical {
            Some(canonical) => hub.remove_query(path, canonical, conn, id),
            None => hub.remove(path, conn, id),
        }
    }

    /// Live subscriptions on the server.
    pub fn subscriptions(&self) -> usize {
        lock(&self.shared.hub).len()
    }

    /// Distinct live queries on the server.
    pub fn live_queries(&self) -> usize {
        lock(&self.shared.hub).queries.groups()
    }

    /// The database's epoch: versions from another one mean nothing here.
    pub fn epoch(&self) -> &str {
        &self.shared.epoch
    }

    /// Why the store cannot serve right now (`None`: it can).
    pub fn unavailable(&self) -> Option<String> {
        lock(&self.shared.unavailable).clone()
    }

    /// The server's counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }
}

/// A batch of commits waiting to be committed.
type Batch = Vec<(Commit, WriteReply)>;

/// The store thread: takes requests in order until every [`Engine`] is dropped. Writes that are already
/// waiting when one arrives join its batch.
fn store_thread(mut store: Box<dyn Store>, mut queue: mpsc::Receiver<Job>, shared: &Shared) {
    let mut batch = Vec::new();
    // The documents the batch writes, to cut it at MAX_BATCH_WRITES.
    let mut batch_writes = 0;
    // The last version published to the hub: everything before this node started counts as published.
    let mut publisher = Publisher::new(loop {
        match store.current_version() {
            Ok(version) => break version,
            Err(e) => {
                tracing::warn!("reading the store's version: {e}");
                std::thread::sleep(TICK);
            }
        }
    });
    while let Some(job) = queue.blocking_recv() {
        let mut next = Some(job);
        while let Some(job) = next {
            match job {
                Job::Write { commit, reply } => {
                    batch_writes += commit.writes.len();
                    batch.push((commit, reply));
                }
                Job::Run(f) => {
                    commit(&mut *store, shared, &mut batch, &mut publisher);
                    // A panic fails this request (its answer channel is dropped), not the store.
                    if catch_unwind(AssertUnwindSafe(|| f(&mut *store, shared))).is_err() {
                        tracing::error!("a store request panicked");
                    }
                }
                Job::CatchUp => {
                    shared.catch_up_queued.store(false, Ordering::Release);
                    commit(&mut *store, shared, &mut batch, &mut publisher);
                    guarded("catching up", || publisher.catch_up(&mut *store, shared));
                }
                Job::Tick => {
                    commit(&mut *store, shared, &mut batch, &mut publisher);
                    guarded("catching up", || publisher.catch_up(&mut *store, shared));
                    guarded("reading live queries again", || publisher::retry_short_queries(&mut *store, shared));
                    guarded("housekeeping", || store.maintain());
                }
            }
            if batch.len() >= MAX_BATCH || batch_writes >= MAX_BATCH_WRITES {
                commit(&mut *store, shared, &mut batch, &mut publisher);
            }
            if batch.is_empty() {
                batch_writes = 0;
            }
            next = queue.try_recv().ok();
        }
        commit(&mut *store, shared, &mut batch, &mut publisher);
        batch_writes = 0;
        shared.published.store(publisher.published(), Ordering::Release);
        *lock(&shared.unavailable) = store.unavailable();
    }
}

/// Runs `f`, logging a panic instead of ending the store thread.
fn guarded(what: &str, f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        tracing::error!("{what} panicked");
    }
}

/// Commits the batched writes, publishes each in order, then answers them. A panic on the way fails
/// the writes not yet answered (an uncommitted transaction rolls back) and leaves the store thread
/// serving.
fn commit(store: &mut dyn Store, shared: &Shared, batch: &mut Batch, publisher: &mut Publisher) {
    if batch.is_empty() {
        return;
    }
    if catch_unwind(AssertUnwindSafe(|| publisher.commit(store, shared, batch))).is_err() {
        tracing::error!("committing a batch of writes panicked");
        for (_, reply) in batch.drain(..) {
            reply(Err(ApiError::new(livepath_protocol::ErrorCode::Internal, "the write failed")));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::{ChangedDoc, Committed, commit};

    /// SQLite in memory, but a write to `boom/*` panics inside the batch.
    struct Panicky(SqliteStore);

    impl Store for Panicky {
        fn get(&mut self, path: &str) -> Result<Option<StoredDoc>, ApiError> {
            self.0.get(path)
        }
        fn list(&mut self, path: &str) -> Result<Listing, ApiError> {
            self.0.list(path)
        }
        fn current_version(&mut self) -> Result<u64, ApiError> {
            self.0.current_version()
        }
        fn horizon(&mut self) -> Result<u64, ApiError> {
            self.0.horizon()
        }
        fn epoch(&self) -> &str {
            self.0.epoch()
        }
        fn changes_since(&mut self, path: &str, since: u64) -> Result<Vec<ChangedDoc>, ApiError> {
            self.0.changes_since(path, since)
        }
        fn commit_batch(&mut self, commits: &[&Commit]) -> Vec<Result<Committed, ApiError>> {
            assert!(!commits.iter().any(|c| c.writes[0].path.as_str().starts_with("boom/")), "a store bug");
            self.0.commit_batch(commits)
        }
    }

    fn set(path: &str, n: i64) -> Commit {
        commit::of(json!([{"op":"set","path":path,"data":{"n":n}}]))
    }

    #[tokio::test]
    async fn a_panic_in_the_store_fails_that_write_and_the_store_serves_on() {
        let store = SqliteStore::in_memory(1 << 20).expect("an in-memory store");
        let engine = Engine::with_store(Box::new(Panicky(store))).expect("the store thread starts");
        let failed = engine.commit(set("boom/a", 1)).await;
        assert_eq!(failed.map_err(|e| e.code), Err(livepath_protocol::ErrorCode::Internal));
        assert_eq!(engine.commit(set("c/a", 2)).await.map_err(|e| e.code), Ok(1));
        assert!(matches!(engine.read("c/a").await, Ok(Read::Document(Some(doc))) if doc.version == 1));
    }
}
