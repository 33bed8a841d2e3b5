//! The client's persistent cache (feature `persistence`, on by default): opening it in IndexedDB
//! (`browser::indexed_db`), performing the core's cache actions on it, and feeding its answers back
//! into the core. A build without the feature has `no_cache.rs` in this file's place.

use wasm_bindgen::JsValue;

use super::driver::{Shared, State, drive, resolved};
use crate::{
    Data,
    browser::{
        convert,
        indexed_db::{CLEAR, CacheEvent, IndexedDb, STORE, STORE_WRITE},
        snippet,
    },
    core::{Action, Core, StoredWrite, WriteOp},
};

/// The open (or opening) cache.
pub(super) type Cache = IndexedDb;

/// Persistence can be asked for in this build.
pub(super) const COMPILED: bool = true;

/// Opens the cache of client `name` (at most `cache_bytes` of state) for `shared`, whose core hears
/// its events.
pub(super) fn open(shared: &Shared, name: &str, cache_bytes: f64) -> Option<Cache> {
    let weak = std::rc::Rc::downgrade(shared);
    // A tab id no other client uses: its pending writes are its own while it lives.
    let tab = snippet::idempotency_key().as_string().unwrap_or_default();
    Some(IndexedDb::open(name, &tab, cache_bytes, move |event| {
        if let Some(shared) = weak.upgrade() {
            on_event(&shared, event);
        }
    }))
}

/// Operation `op` on the cache (see `browser::indexed_db`); nothing once it has failed.
fn op(shared: &Shared, op: u32, key: &str, value: &JsValue, extra: &JsValue) -> JsValue {
    // The snippet never calls back from inside an operation: the borrow is not met again.
    match &shared.state().cache {
        Some(cache) => cache.op(op, key, value, extra),
        None => resolved(),
    }
}

fn on_event(shared: &Shared, event: CacheEvent) {
    match event {
        CacheEvent::Opened(writes) => drive(shared, |core| core.cache_opened(writes)),
        CacheEvent::Adopted(writes) => drive(shared, |core| core.adopted(writes)),
        CacheEvent::Read(key, epoch, frame) => drive(shared, |core| core.cache_read(&key, epoch, frame)),
        CacheEvent::WriteStored(key) => drive(shared, |core| core.write_stored(&key)),
        CacheEvent::Failed(problem) => {
            let (cache, listeners, status) = {
                let mut inner = shared.state_mut();
                inner.flush_timer = None;
                let status = JsValue::from_str(inner.core.status().as_str());
                (inner.cache.take(), inner.status_listeners.clone(), status)
            };
            drop(cache);
            snippet::tell_problem(&listeners, &status, &problem);
            drive(shared, Core::cache_failed);
        }
    }
}

/// Performs a cache action of the core (the others are the driver's).
pub(super) fn perform(shared: &Shared, action: Action<Data>) {
    match action {
        Action::Cache(code, key) => {
            op(shared, code as u32, &key, &JsValue::UNDEFINED, &JsValue::UNDEFINED);
        }
        Action::StoreSnapshot { key, epoch, snapshot } => {
            let epoch = epoch.map_or(JsValue::UNDEFINED, |e| JsValue::from_str(&e));
            op(shared, STORE, &key, &convert::snapshot(&snapshot), &epoch);
        }
        Action::StoreWrite(StoredWrite { key, path, op: write }) => {
            let (kind, data) = match write {
                WriteOp::Set(data) => (0, data.0),
                WriteOp::Update(data) => (1, data.0),
                WriteOp::Delete => (2, JsValue::NULL),
            };
            op(shared, STORE_WRITE + kind, &key, &data, &JsValue::from_str(&path));
        }
        _ => {}
    }
}

/// Empties the cache's snapshots: the promise of its end.
pub(super) fn clear(shared: &Shared) -> JsValue {
    op(shared, CLEAR, "", &JsValue::UNDEFINED, &JsValue::UNDEFINED)
}

/// What the cache holds, for `stats()` (`undefined`: nothing).
pub(super) fn stats(cache: Option<&Cache>) -> JsValue {
    cache.map_or(JsValue::UNDEFINED, Cache::stats)
}
