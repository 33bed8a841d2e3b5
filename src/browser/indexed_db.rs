//! [`IndexedDb`]: the client's persistent cache, the browser's IndexedDB behind the snippet's
//! `openCache` and `cacheOp` (one JS function for every operation: far smaller than web-sys's `Idb*`
//! bindings, docs/wasm-size.md), and the reading of what it answers into the core's types. A
//! subscription's state is stored shaped as the server's frame, so it is read back by the frame
//! decoder.

use wasm_bindgen::{JsValue, closure::Closure, prelude::wasm_bindgen};

use super::{
    decode::{self, decode_object},
    snippet::{field, fields::EPOCH, item},
};
use crate::{
    Data,
    core::{Frame, StoredWrite},
};

// The cache's own snippet (its own `inline_js` beside the client's, so a build without the `persistence`
// feature ships none of it).
#[wasm_bindgen(inline_js = "
const STORES = ['s', 'm', 'w'];
export function openCache(name, tab, cap, handler) {
  const c = { tab, cap, handler, queue: [], ops: [], meta: new Map(), live: new Set() };
  const lock = (t) => `livepath ${name} ${t}`;
  c.fail = (e) => {
    if (c.dead) return;
    c.dead = true;
    c.db?.close();
    handler([11, String(e?.message ?? e)]);
    for (const op of c.queue.splice(0)) op();
  };
  // Where there is no IndexedDB at all (Node, a page rendered on a server) the client fails over to
  // memory only when it first needs the cache: a client made at a module's top level stays quiet.
  if (!globalThis.indexedDB) {
    c.lazy = 'there is no IndexedDB here';
    return c;
  }
  Promise.resolve().then(async () => {
    const held = new Set();
    const locks = globalThis.navigator?.locks;
    try {
      for (const l of (await locks?.query())?.held ?? []) held.add(l.name);
      // Held from before the database opens, so no other tab takes this one's writes.
      await new Promise((granted) => locks?.request(lock(tab), () => {
        granted();
        return c.dead || new Promise((r) => { c.release = r; });
      }).catch(granted) ?? granted());
    } catch {}
    // An open that never answers (a browser's storage stuck) must not hold the first socket forever.
    setTimeout(() => c.ready || c.fail('the cache did not open within 10 s'), 10000);
    const open = indexedDB.open(`livepath-${name}`, 1);
    open.onupgradeneeded = () => STORES.forEach((s) => open.result.createObjectStore(s));
    open.onblocked = () => c.fail('another tab holds an older version of the cache open');
    open.onerror = () => c.fail(open.error);
    open.onsuccess = () => {
      const db = c.db = open.result;
      if (c.dead) return db.close();
      db.onversionchange = () => c.fail('another tab is changing the cache');
      db.onclose = () => c.fail('the browser closed the cache');
      const t = txn(c, () => {
        c.ready = true;
        handler([10, taken.writes]);
        for (const op of c.queue.splice(0)) op();
        // Writes of tabs alive a moment ago: theirs until their lock is free, then this one's.
        for (const owner of taken.others) {
          locks.request(lock(owner), () => new Promise((done) => {
            if (c.dead) return done();
            const later = adopt(txn(c, () => handler([12, later.writes]), done), tab, (t) => t === owner);
          }));
        }
      });
      const mk = t.objectStore('m').getAllKeys(), mv = t.objectStore('m').getAll();
      mv.onsuccess = () => mk.result.forEach((k, i) => c.meta.set(k, mv.result[i]));
      const taken = adopt(t, tab, (t) => !held.has(lock(t)));
    };
  }).catch(c.fail);
  return c;
}
/** In transaction `t`, takes for `tab` the stored writes whose owner `mine` accepts: the result's
 * `writes` (oldest first) once `t` completes, and `others`, the owners left. */
function adopt(t, tab, mine) {
  const w = t.objectStore('w'), keys = w.getAllKeys(), values = w.getAll(), result = { writes: [], others: new Set() };
  values.onsuccess = () => {
    const all = values.result.map((r, i) => [r, keys.result[i]]).sort((a, b) => a[0][0] - b[0][0]);
    for (const [r, k] of all) {
      if (r[1] === tab) continue;
      if (!mine(r[1])) {
        result.others.add(r[1]);
        continue;
      }
      w.put([r[0], tab, ...r.slice(2)], k);
      result.writes.push({ key: k, path: r[2], op: r[3], data: r[4] });
    }
  };
  return result;
}
function txn(c, done, settle) {
  const t = c.db.transaction(STORES, 'readwrite');
  // Once the cache is closed or failed its owner hears nothing more (its handler is gone).
  t.oncomplete = () => {
    try {
      c.dead || done();
    } finally {
      settle?.();
    }
  };
  t.onerror = t.onabort = () => { c.fail(t.error ?? 'the cache could not be written'); settle?.(); };
  return t;
}
export function cacheOp(c, op, key, value, extra) {
  if (op === 1) return c.live.delete(key);
  if (op === 6) {
    if (c.ready && c.ops.length) run(c); // what the owner asked for last (forgetting writes) still goes in
    c.dead = true;
    c.db?.close();
    return c.release?.();
  }
  if (c.lazy) Promise.resolve(c.lazy).then(c.fail);
  if (op === 0) c.live.add(key);
  let settle;
  const cleared = op === 5 && new Promise((r) => { settle = r; });
  // A write's data as its frame will carry it (JSON, so a Proxy or a toJSON is what the server gets),
  // copied now: the app may change the object after the call.
  if (op >= 20 && value !== null) value = JSON.parse(JSON.stringify(value));
  c.ops.push([op, key, value, extra, settle]);
  // The operations of one task share a transaction: a page that starts 100 listeners reads 100 keys
  // in one.
  if (c.ops.length === 1) queueMicrotask(() => (c.ready || c.dead ? run(c) : c.queue.push(() => run(c))));
  return cleared;
}
function run(c) {
  const ops = c.ops.splice(0);
  const settle = () => ops.forEach((o) => o[4]?.());
  if (c.dead) return settle();
  const now = Date.now();
  const got = [];
  const t = txn(c, () => ops.forEach(([op, key], i) => c.handler([op, key, got[i]?.result])), settle);
  const [s, m, w] = STORES.map((x) => t.objectStore(x));
  try {
    ops.forEach(([op, key, value, extra], i) => runOne(c, s, m, w, got, now, op, key, value, extra, i));
  } catch (e) {
    c.fail(e); // before the abort: the batch's operations must not look done
    t.abort();
  }
}
function runOne(c, s, m, w, got, now, op, key, value, extra, i) {
  const meta = c.meta.get(key);
  if (op === 0) {
    got[i] = s.get(key);
    if (meta) {
      meta[2] = now;
      m.put(meta, key);
    } else {
      // Stored by another tab since this one opened: counted here too (stats, eviction).
      got[i].onsuccess = () => got[i].result && measure(c, m, key, got[i].result, now);
    }
  } else if (op === 4) {
    const frame = value.kind === 'document'
      ? { type: 'snapshot', id: 0, version: value.version, exists: value.exists, data: value.data, epoch: extra }
      : { type: 'collection', id: 0, version: value.version, epoch: extra,
        docs: value.docs.map(({ id, version, data }) => ({ id, version, data })) };
    s.put(frame, key);
    measure(c, m, key, frame, now);
    let total = 0;
    for (const [bytes] of c.meta.values()) total += bytes;
    for (;;) {
      let old;
      for (const [k, e] of c.meta) if (!c.live.has(k) && !(c.meta.get(old)?.[2] <= e[2])) old = k;
      if (total <= c.cap || !old) break;
      total -= c.meta.get(old)[0];
      c.meta.delete(old);
      s.delete(old);
      m.delete(old);
    }
  } else if (op >= 20) {
    // The order of writes across reloads and tabs: a clock that never repeats within a tab.
    c.at = Math.max(performance.timeOrigin + performance.now(), (c.at ?? 0) + 0.001);
    w.put([c.at, c.tab, extra, op - 20, value], key);
  } else if (op === 2) {
    c.live.delete(key);
    c.meta.delete(key);
    s.delete(key);
    m.delete(key);
  } else if (op === 3) w.delete(key);
  else if (op === 5) {
    s.clear();
    m.clear();
    c.meta.clear();
  }
}
function measure(c, m, key, frame, now) {
  c.meta.set(key, [JSON.stringify(frame).length + key.length, frame.docs?.length ?? +frame.exists, now]);
  m.put(c.meta.get(key), key);
}
export function cacheStats(c) {
  const cache = { documents: 0, bytes: 0 };
  c.meta.forEach(([bytes, documents]) => { cache.bytes += bytes; cache.documents += documents; });
  return cache;
}
")]
extern "C" {
    /// Opens the IndexedDB database `livepath-{name}` (its stores: `s` the cached state of each
    /// subscription key, shaped as the server's `snapshot` or `collection` frame with its `epoch`; `m`
    /// each key's `[bytes, documents, last use]`; `w` pending writes by idempotency key) for a client
    /// whose tab is `tab`, holding at most `cap` bytes of state, and returns its handle for
    /// [`cache_op`]. Nothing happens before the current task ends; `handler` then receives arrays:
    /// `[10, writes]` once open (`writes` as `{ key, path, op, data }`, oldest first), then
    /// `[op, key, value]` as each operation of [`cache_op`] completes (`value`: what a read found, or
    /// `undefined`), or once `[11, message]` when the storage fails (nothing more follows). Pending writes belong to
    /// the tab that made them while it lives (a Web Lock named after it, held from before the
    /// database opens until [`cache_op`] closes it): `writes` are those of tabs that are gone (all of
    /// them where there are no Web Locks), and those of a tab alive then come as `[12, writes]` once
    /// its lock is free (it closed, reloaded or crashed).
    #[wasm_bindgen(js_name = openCache)]
    pub fn open_cache(name: &str, tab: &str, cap: f64, handler: &JsValue) -> JsValue;

    /// An operation on the cache `c` (queued until it is open, in order; see
    /// `browser::indexed_db` for the codes). Storing a subscription's state (`value`: its server
    /// state as a `Snapshot` object, `extra`: its epoch) evicts, while the cache holds more than
    /// its cap, the least recently used key that is not in use (read and not yet released). A clear (of
    /// the cached snapshots: stored writes are still to be sent) returns a promise that resolves once
    /// it is done (or the cache has failed), else `false`.
    #[wasm_bindgen(js_name = cacheOp)]
    pub fn cache_op(c: &JsValue, op: u32, key: &str, value: &JsValue, extra: &JsValue) -> JsValue;

    /// What the cache `c` holds: `{ documents, bytes }`, for `stats()`.
    #[wasm_bindgen(js_name = cacheStats)]
    pub fn cache_stats(c: &JsValue) -> JsValue;
}

/// What the cache tells its owner.
pub enum CacheEvent {
    /// It is open: the pending writes an earlier page left, oldest first.
    Opened(Vec<StoredWrite<Data>>),
    /// The pending writes of a tab that has gone since, oldest first.
    Adopted(Vec<StoredWrite<Data>>),
    /// It failed, for this reason (a JS string); nothing more follows.
    Failed(JsValue),
    /// A read of a key: the epoch and the state stored, if any.
    Read(String, Option<String>, Option<Frame<Data>>),
    /// A pending write is stored.
    WriteStored(String),
}

/// The operations of the snippet's `cacheOp`. Reads, releases and forgetting a key or a write are the
/// core's `CacheOp` values (0–3).
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
    /// events go to `on_event`, from the end of the current task on.
    pub fn open(name: &str, tab: &str, cap: f64, on_event: impl Fn(CacheEvent) + 'static) -> Self {
        let handler = Closure::wrap(Box::new(move |event: JsValue| {
            if let Some(event) = decode(&event) {
                on_event(event);
            }
        }) as Box<dyn FnMut(JsValue)>);
        Self { handle: open_cache(name, tab, cap, handler.as_ref()), _handler: handler }
    }

    /// Operation `op` on `key` (see the constants above and [`cache_op`]): for a clear, the promise
    /// of its end.
    pub fn op(&self, op: u32, key: &str, value: &JsValue, extra: &JsValue) -> JsValue {
        cache_op(&self.handle, op, key, value, extra)
    }

    /// What it holds, `{ documents, bytes }` (for `stats()`).
    pub fn stats(&self) -> JsValue {
        cache_stats(&self.handle)
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
            loop {
                let value = item(&list, i);
                if value.is_undefined() {
                    break;
                }
                // One that cannot be read (stored by another version?) does not hide the others.
                writes.extend(decode::write(&value));
                i += 1;
            }
            if op == OPENED { CacheEvent::Opened(writes) } else { CacheEvent::Adopted(writes) }
        }
        FAILED => CacheEvent::Failed(at(1)),
        READ => {
            let value = at(2);
            CacheEvent::Read(key(), field(&value, EPOCH).as_string(), decode_object(&value))
        }
        op if op >= STORE_WRITE => CacheEvent::WriteStored(key()),
        _ => return None,
    })
}
