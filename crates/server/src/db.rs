//! [`Db`]: the handle connections and HTTP handlers share. One thread owns the store and runs every
//! request to it in arrival order: writes are committed and published in that order, and a
//! subscription reads its first state and registers with no write in between.
//!
//! Writes that queue up while the store is busy are committed together (one sync to disk for all),
//! and a connection does not wait for its write: the store thread queues the `ack` itself. So a
//! connection reads its next frame at once, and a burst of writes costs one transaction, not one
//! each.

use std::sync::{Arc, Mutex, MutexGuard};

use livepath_protocol::{Change, ChangeType, Path, PathKind, ServerMessage};
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};

use crate::{
    ApiError, Config,
    hub::{Hub, Subscriber, collection_frame, encode},
    metrics::{Metrics, inc},
    store::{Listing, Mutation, Store, StoredDoc, Write, sqlite::SqliteStore},
};

/// Requests queued for the store thread before senders wait for room.
const QUEUE: usize = 1024;
/// Most writes committed in one transaction.
const MAX_BATCH: usize = 256;

/// A cheap, cloneable handle to the store thread and the hub.
#[derive(Clone)]
pub struct Db {
    jobs: mpsc::Sender<Job>,
    shared: Arc<Shared>,
}

/// What the store thread and the connections share.
struct Shared {
    /// The subscribers: locked by the store thread (subscribing, publishing) and by unsubscribes.
    hub: Mutex<Hub>,
    /// Counters for `/metrics`.
    metrics: Arc<Metrics>,
}

/// What to do with a write's outcome (its version), on the store thread, once it is committed and
/// published.
pub type WriteReply = Box<dyn FnOnce(Result<u64, ApiError>) + Send>;

/// Work run on the store thread between write batches.
type Task = Box<dyn FnOnce(&mut dyn Store, &Shared) + Send>;

/// A request to the store thread.
enum Job {
    /// A write; consecutive ones are committed as one batch.
    Write { path: Path, mutation: Mutation, key: Option<String>, reply: WriteReply },
    /// Anything else (reads, subscriptions), run between batches.
    Run(Task),
}

/// What a read of a path found.
#[derive(Debug)]
pub enum Read {
    /// A document path: the document or tombstone, if ever written.
    Document(Option<StoredDoc>),
    /// A collection path: its live documents.
    Collection(Listing),
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn raw(text: &str) -> Option<Box<RawValue>> {
    RawValue::from_string(text.to_owned()).ok()
}

fn stopped() -> ApiError {
    ApiError::new(livepath_protocol::ErrorCode::Unavailable, "the store has stopped")
}

impl Db {
    /// Opens the store the configuration names and starts its thread, which ends when the last
    /// handle is dropped.
    pub fn open(config: &Config) -> Result<Self, ApiError> {
        let store: Box<dyn Store> = if config.memory {
            Box::new(SqliteStore::in_memory(config.max_document_bytes)?)
        } else {
            Box::new(SqliteStore::open(&config.data_dir, config.max_document_bytes)?)
        };
        let shared = Arc::new(Shared { hub: Mutex::new(Hub::default()), metrics: Arc::default() });
        let (jobs, queue) = mpsc::channel(QUEUE);
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

    /// Queues a write to the document at `path` (a document path: see [`document_path`]); `reply`
    /// gets its version (or error) on the store thread once it is committed and published. Waits only
    /// while the store's queue is full.
    pub async fn write_then(&self, path: Path, mutation: Mutation, key: Option<String>, reply: WriteReply) {
        if let Err(mpsc::error::SendError(Job::Write { reply, .. })) =
            self.jobs.send(Job::Write { path, mutation, key, reply }).await
        {
            reply(Err(stopped()));
        }
    }

    /// Commits a write to the document at `path`, publishes it, and returns its version.
    pub async fn write(&self, path: Path, mutation: Mutation, key: Option<String>) -> Result<u64, ApiError> {
        let (tx, rx) = oneshot::channel();
        let reply = Box::new(move |result| {
            let _ = tx.send(result);
        });
        self.write_then(path, mutation, key, reply).await;
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

    /// Registers `subscriber` on `path` and queues its first frame: the current state, `unchanged` when
    /// `since` is already current, or for a collection the `changes` since then. A `since` beyond the
    /// store's last version (the client saw another database) gets the full state.
    pub async fn subscribe(&self, subscriber: Subscriber, path: Path, since: Option<u64>) -> Result<(), ApiError> {
        self.run(move |store, shared| {
            let id = subscriber.id;
            let current = store.current_version()?;
            let since = since.filter(|since| *since <= current);
            match path.kind() {
                PathKind::Document => {
                    let doc = store.get(path.as_str())?;
                    let version = doc.as_ref().map_or(0, |d| d.version);
                    let frame = if since.is_some_and(|since| since >= version) {
                        encode(&ServerMessage::<()>::Unchanged { id, version })
                    } else {
                        let data = doc.and_then(|d| d.data).and_then(|d| raw(&d));
                        encode(&ServerMessage::Snapshot {
                            id,
                            path: path.as_str().to_owned(),
                            version,
                            exists: data.is_some(),
                            data,
                        })
                    };
                    subscriber.outbox.push_snapshot(id, frame);
                }
                PathKind::Collection => {
                    let frame = match since {
                        Some(since) => {
                            let changed = store.changes_since(path.as_str(), since)?;
                            if changed.is_empty() {
                                encode(&ServerMessage::<()>::Unchanged { id, version: since })
                            } else {
                                let version = changed.iter().map(|c| c.version).max().unwrap_or(since);
                                let changes = changed
                                    .into_iter()
                                    .map(|c| {
                                        let kind = match (&c.data, c.created > since) {
                                            (None, _) => ChangeType::Removed,
                                            (Some(_), true) => ChangeType::Added,
                                            (Some(_), false) => ChangeType::Modified,
                                        };
                                        let data = c.data.as_deref().and_then(raw);
                                        Change { kind, id: c.id, version: c.version, data }
                                    })
                                    .collect();
                                encode(&ServerMessage::Changes { id, version, changes })
                            }
                        }
                        None => collection_frame(id, &path, &store.list(path.as_str())?),
                    };
                    subscriber.outbox.push_delta(id, frame, || None);
                }
            }
            lock(&shared.hub).add(&path, subscriber);
            Ok(())
        })
        .await
    }

    /// Ends subscription `id` of connection `conn` on `path`.
    pub fn unsubscribe(&self, path: &Path, conn: u64, id: u64) {
        lock(&self.shared.hub).remove(path, conn, id);
    }

    /// Live subscriptions on the server.
    pub fn subscriptions(&self) -> usize {
        lock(&self.shared.hub).len()
    }

    /// The server's counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }
}

/// The store thread: takes requests in order until every [`Db`] is dropped. Writes that are already
/// waiting when one arrives join its batch.
fn store_thread(mut store: Box<dyn Store>, mut queue: mpsc::Receiver<Job>, shared: &Shared) {
    let mut batch = Vec::new();
    while let Some(job) = queue.blocking_recv() {
        let mut next = Some(job);
        while let Some(job) = next {
            match job {
                Job::Write { path, mutation, key, reply } => batch.push((path, mutation, key, reply)),
                Job::Run(f) => {
                    commit(&mut *store, shared, &mut batch);
                    f(&mut *store, shared);
                }
            }
            if batch.len() >= MAX_BATCH {
                commit(&mut *store, shared, &mut batch);
            }
            next = queue.try_recv().ok();
        }
        commit(&mut *store, shared, &mut batch);
    }
}

/// Commits the batched writes, publishes each in order, then answers them.
fn commit(store: &mut dyn Store, shared: &Shared, batch: &mut Vec<(Path, Mutation, Option<String>, WriteReply)>) {
    if batch.is_empty() {
        return;
    }
    let writes: Vec<Write<'_>> = batch
        .iter()
        .map(|(path, mutation, key, _)| Write { path: path.as_str(), mutation, key: key.as_deref() })
        .collect();
    let results = store.write_batch(&writes);
    drop(writes);
    for ((path, _, _, reply), result) in batch.drain(..).zip(results) {
        let result = result.map(|committed| {
            if !committed.replayed {
                inc(&shared.metrics.writes);
                let mut listing = |collection: &Path| store.list(collection.as_str()).ok();
                lock(&shared.hub).publish(&path, &committed, &mut listing);
            }
            committed.version
        });
        reply(result);
    }
}

/// Parses `text` and requires a document path.
pub fn document_path(text: &str) -> Result<Path, ApiError> {
    let path = Path::parse(text)?;
    match path.kind() {
        PathKind::Document => Ok(path),
        PathKind::Collection => Err(ApiError::invalid(format!(
            "{path} is a collection (an odd number of segments); writes need a document path such as {path}/some-id"
        ))),
    }
}
