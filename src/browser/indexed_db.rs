//! [`IndexedDb`]: the client's persistent cache, the browser's IndexedDB behind the snippet's
//! `openCache` and `cacheOp` (one JS function for every operation: far smaller than web-sys's `Idb*`
//! bindings, docs/wasm-size.md), and the reading of what it answers into the core's types. A
//! subscription's state is stored shaped as the server's frame, so it is read back by the frame
//! decoder.

use wasm_bindgen::{JsValue, closure::Closure};

use super::{
    decode::decode_object,
    snippet::{cache_op, field, fields::EPOCH, item, open_cache},
};
use crate::{
    Data,
    core::{Frame, StoredWrite, WriteOp},
};

/// What the cache tells its owner.
pub enum CacheEvent {
    /// It is open: the pending writes an earlier page left, oldest first.
    Opened(Vec<StoredWrite<Data>>),
    /// The pending writes of a tab that has gone since, oldest first.
    Adopted(Vec<StoredWrite<Data>>),
    /// It failed (the status callbacks were told why); nothing more follows.
    Failed,
    /// A read of a key: the epoch and the state stored, if any.
    Read(String, Option<String>, Option<Frame<Data>>),
    /// A pending write is stored.
    WriteStored(String),
}

/// The operations of the snippet's `cacheOp`. Reads, releases and forgetting a write are the core's
/// `CacheOp` values (0, 1, 3).
pub const STORE: u32 = 4;
/// Forget every cached snapshot; stored writes stay, to be sent (answered by a promise).
pub const CLEAR: u32 = 5;
const CLOSE: u32 = 6;
/// Store a pending write: 20 + its kind (0 set, 1 update, 2 delete).
pub const STORE_WRITE: u32 = 20;
const READ: u32 = 0;
const OPENED: u32 = 10;
const FAILED: u32 = 11;
const ADOPTED: u32 = 12;

/// The open (or opening) cache with its event handler. Dropping it closes the database and releases
/// the tab's lock, so no event reaches its owner afterwards.
#[must_use = "the cache closes when dropped"]
pub struct IndexedDb {
    /// The snippet's handle.
    handle: JsValue,
    /// The handler of its events, alive as long as the database may call it.
    _handler: Closure<dyn FnMut(JsValue)>,
}

impl IndexedDb {
    /// Opens the cache of client `name` for the tab `tab`, holding at most `cap` bytes of state; its
    /// events go to `on_event`, from the end of the current task on, and a failure is told to the
    /// status callbacks `listeners`.
    pub fn open(name: &str, tab: &str, cap: f64, listeners: &JsValue, on_event: impl Fn(CacheEvent) + 'static) -> Self {
        let handler = Closure::wrap(Box::new(move |event: JsValue| {
            if let Some(event) = decode(&event) {
                on_event(event);
            }
        }) as Box<dyn FnMut(JsValue)>);
        Self { handle: open_cache(name, tab, cap, handler.as_ref(), listeners), _handler: handler }
    }

    /// Operation `op` on `key` (see the constants above and `snippet::cache_op`): for a clear, the
    /// promise of its end.
    pub fn op(&self, op: u32, key: &str, value: &JsValue, extra: &JsValue) -> JsValue {
        cache_op(&self.handle, op, key, value, extra)
    }

    /// The snippet's handle (for `stats()`).
    pub fn js(&self) -> &JsValue {
        &self.handle
    }
}

impl Drop for IndexedDb {
    fn drop(&mut self) {
        self.op(CLOSE, "", &JsValue::UNDEFINED, &JsValue::UNDEFINED);
    }
}

/// An event from the snippet; `None` for answers nobody waits for (stores, evictions).
fn decode(event: &JsValue) -> Option<CacheEvent> {
    let at = |i| item(event, i);
    let key = || at(1).as_string().unwrap_or_default();
    Some(match at(0).as_f64()? as u32 {
        op @ (OPENED | ADOPTED) => {
            let (list, mut writes, mut i) = (at(1), Vec::new(), 0);
            while let (Some(key), Some(path)) = (item(&list, i).as_string(), item(&list, i + 1).as_string()) {
                let data = Data(item(&list, i + 3));
                let op = match item(&list, i + 2).as_f64() {
                    Some(0.0) => WriteOp::Set(data),
                    Some(1.0) => WriteOp::Update(data),
                    _ => WriteOp::Delete,
                };
                writes.push(StoredWrite { key, path, op });
                i += 4;
            }
            if op == OPENED { CacheEvent::Opened(writes) } else { CacheEvent::Adopted(writes) }
        }
        FAILED => CacheEvent::Failed,
        READ => {
            let value = at(2);
            CacheEvent::Read(key(), field(&value, EPOCH).as_string(), decode_object(&value))
        }
        op if op >= STORE_WRITE => CacheEvent::WriteStored(key()),
        _ => return None,
    })
}
