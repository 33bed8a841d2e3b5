//! [`Db`]: the handle connections and HTTP handlers share. It serialises writes, so that publishing
//! happens in commit order, and it registers subscriptions atomically with reading their first state,
//! so no write falls between the two.

use std::sync::{Arc, Mutex, MutexGuard};

use livepath_protocol::{Change, ChangeType, Path, PathKind, ServerMessage};
use serde_json::value::RawValue;

use crate::{
    ApiError, Config,
    hub::{Hub, Subscriber, collection_frame, encode},
    metrics::{Metrics, inc},
    store::{Listing, Mutation, Store, StoredDoc, sqlite::SqliteStore},
};

/// A cheap, cloneable handle to the store and the hub.
#[derive(Clone)]
pub struct Db {
    shared: Arc<Shared>,
}

struct Shared {
    /// The store. Held while a write commits and publishes, and while a subscription reads its first
    /// state and registers: that is what orders snapshots by version. Lock order: `store`, then `hub`.
    store: Mutex<Box<dyn Store>>,
    /// The subscribers.
    hub: Mutex<Hub>,
    /// Counters for `/metrics`.
    metrics: Arc<Metrics>,
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

impl Db {
    /// Opens the store the configuration names.
    pub fn open(config: &Config) -> Result<Self, ApiError> {
        let store: Box<dyn Store> = if config.memory {
            Box::new(SqliteStore::in_memory(config.max_document_bytes)?)
        } else {
            Box::new(SqliteStore::open(&config.data_dir, config.max_document_bytes)?)
        };
        Ok(Self {
            shared: Arc::new(Shared {
                store: Mutex::new(store),
                hub: Mutex::new(Hub::default()),
                metrics: Arc::default(),
            }),
        })
    }

    /// Runs `f` on the blocking pool (the store does disk I/O).
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Shared) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || f(&shared)).await.map_err(|e| ApiError::internal("a storage task", e))?
    }

    /// Commits a write to the document at `path`, publishes it, and returns its version.
    pub async fn write(&self, path: &str, mutation: Mutation, key: Option<String>) -> Result<u64, ApiError> {
        let path = document_path(path)?;
        self.blocking(move |shared| {
            let mut store = lock(&shared.store);
            let committed = store.write(path.as_str(), &mutation, key.as_deref())?;
            if !committed.replayed {
                inc(&shared.metrics.writes);
                let mut listing = |collection: &Path| store.list(collection.as_str()).ok();
                lock(&shared.hub).publish(&path, &committed, &mut listing);
            }
            Ok(committed.version)
        })
        .await
    }

    /// Reads the document or collection at `path`.
    pub async fn read(&self, path: &str) -> Result<Read, ApiError> {
        let path = Path::parse(path)?;
        self.blocking(move |shared| {
            let mut store = lock(&shared.store);
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
        self.blocking(move |shared| {
            let mut store = lock(&shared.store);
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
