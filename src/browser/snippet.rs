//! The package's hand-written JavaScript. wasm-bindgen makes a file of each `inline_js` snippet;
//! scripts/shrink.mjs inlines them all into the glue (one request, one gzip stream). The features'
//! snippets (`indexed_db.rs`, `tabs.rs`) are their own so that a build without them has none of
//! their code.
//!
//! Every JS object the client reads or makes goes through these functions: objects are built with
//! all their fields in one call, and fields are read by number. None of js-sys's `Reflect`, `Object`
//! or `Array` bindings is used by the package: each binding brings its own glue (docs/wasm-size.md).
//! (The Rust API's `Client::on_query` builds its query object with them; the package has no use
//! for it, so leaves them out.)

use wasm_bindgen::{JsValue, prelude::wasm_bindgen};

/// The fields [`field`] reads, by their index in the snippet's `FIELDS`.
#[allow(missing_docs)]
pub mod fields {
    pub const ID: u32 = 0;
    pub const REQ: u32 = 1;
    pub const VERSION: u32 = 2;
    pub const EXISTS: u32 = 3;
    pub const DATA: u32 = 4;
    pub const DOCS: u32 = 5;
    pub const CHANGES: u32 = 6;
    pub const MESSAGE: u32 = 7;
    pub const HEARTBEAT_MS: u32 = 8;
    pub const URL: u32 = 9;
    pub const TOKEN: u32 = 10;
    pub const LINGER_MS: u32 = 11;
    pub const MAX_PENDING_WRITES: u32 = 12;
    pub const BACKOFF: u32 = 13;
    pub const INITIAL_MS: u32 = 14;
    pub const MAX_MS: u32 = 15;
    pub const MULTIPLIER: u32 = 16;
    pub const WEB_SOCKET: u32 = 17;
    pub const EPOCH: u32 = 18;
    pub const PATH: u32 = 19;
    pub const WHERE: u32 = 20;
    pub const ORDER_BY: u32 = 21;
    pub const LIMIT: u32 = 22;
    pub const START_AFTER: u32 = 23;
    pub const END_BEFORE: u32 = 24;
    pub const PERSISTENCE: u32 = 25;
    pub const NAME: u32 = 26;
    pub const CACHE_BYTES: u32 = 27;
    pub const TABS: u32 = 28;
    pub const OP: u32 = 29;
    pub const KEY: u32 = 30;
}

use js_sys::Function;

#[wasm_bindgen(
    inline_js = "const FIELDS = ['id', 'req', 'version', 'exists', 'data', 'docs', 'changes', 'message', 'heartbeatMs', 'url',
  'token', 'lingerMs', 'maxPendingWrites', 'backoff', 'initialMs', 'maxMs', 'multiplier', 'WebSocket', 'epoch', 'path',
  'where', 'orderBy', 'limit', 'startAfter', 'endBefore', 'persistence', 'name', 'cacheBytes', 'tabs', 'op', 'key'];
const KINDS = ['welcome', 'snapshot', 'collection', 'changes', 'unchanged', 'ack', 'error', 'pending', 'settled'];
const CODES = ['invalid-argument', 'not-found', 'permission-denied', 'unauthenticated', 'resource-exhausted',
  'unavailable', 'internal', 'failed-precondition', 'already-exists', 'aborted'];

export function parseFrame(text) { try { return typeof text == 'string' ? JSON.parse(text) : text; } catch { return null; } }
export function frameKind(m) { return KINDS.indexOf(m?.type); }
export function errorCode(m) { return typeof m?.code === 'string' ? CODES.indexOf(m.code) : -2; }
export function field(o, i) { return o?.[FIELDS[i]]; }
export function item(a, i) { return Array.isArray(a) ? a[i] : undefined; }
export function documentSnapshot(collection, id, exists, data, version, fromCache, hasPendingWrites) {
  return { kind: 'document', path: collection + '/' + id, id, exists, data, version, fromCache, hasPendingWrites };
}
export function collectionSnapshot(path, docs, changes, version, fromCache, hasPendingWrites) {
  return { kind: 'collection', path, docs, changes, version, fromCache, hasPendingWrites };
}
export function docChange(type, doc, oldIndex, newIndex) { return { type, doc, oldIndex, newIndex }; }
export function livepathError(code, message) {
  const e = new Error(message);
  e.name = 'LivepathError';
  e.code = CODES[code];
  return e;
}
export function versionResult(version) { return { version }; }
export function statusListeners() { return new Set(); }
export function addStatusListener(listeners, callback, status) {
  const entry = [callback];
  listeners.add(entry);
  report(callback, status);
  return () => { listeners.delete(entry); };
}
export function tellStatus(listeners, status, problem) {
  listeners.status = status;
  const notice = problem === undefined ? undefined : { persistence: 'unavailable', message: problem };
  if (notice) console.warn('livepath: persistence is unavailable, the client goes on in memory:', problem);
  for (const [callback] of [...listeners]) report((s) => callback(s, notice), status);
}
export function failed(onError, error) {
  if (onError) report(onError, error);
  else console.error('livepath: a subscription failed:', error);
}
export function report(callback, value) {
  try {
    callback(value);
  } catch (e) {
    console.error('livepath: a callback threw:', e);
  }
}
export function deferred() {
  let settle;
  const promise = new Promise((resolve, reject) => { settle = [resolve, reject]; });
  return [promise, ...settle];
}
export function askToken(ask, answer) {
  let token;
  try {
    token = ask();
  } catch (e) {
    console.error('livepath: the token function threw:', e);
    return false;
  }
  if (typeof token === 'string') return token;
  let live = true;
  Promise.resolve(token).then((t) => live && answer(typeof t === 'string' ? t : null), (e) => {
    console.error('livepath: the token function failed:', e);
    if (live) answer(false);
  });
  return () => { live = false; };
}
export function stats(listeners, subscriptions, pendingWrites, ws, persistence, cache, t) {
  const socket = ws ? ['connecting', 'open'][ws.readyState] ?? 'closing' : 'none';
  const tabs = !t || t.broken ? 'single' : t.hub ? 'leader' : t.alone > Date.now() ? 'single' : 'follower';
  return { listeners, subscriptions, pendingWrites, socket, persistence, cache: cache ?? { documents: 0, bytes: 0 }, tabs };
}
const plain = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
export function dataProblem(v, maxBytes, maxDepth) {
  if (!plain(v)) return 'data must be a plain object';
  let json;
  try {
    json = JSON.stringify(v);
  } catch (e) {
    return `data cannot be written as JSON: ${e instanceof Error ? e.message : ''}`;
  }
  if (typeof json !== 'string') return 'data cannot be written as JSON: it has no JSON form (toJSON)';
  let bytes = 0, depth = 0, deepest = 0, inString = false, escaped = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    bytes += c < 0x80 ? 1 : c < 0x800 || (c >= 0xd800 && c < 0xe000) ? 2 : 3;
    if (inString) {
      if (escaped) escaped = false;
      else if (c === 92) escaped = true;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) deepest = Math.max(deepest, ++depth);
    else if (c === 125 || c === 93) depth--;
  }
  if (bytes > maxBytes) return `data is ${bytes} bytes of JSON; the limit is ${maxBytes}`;
  if (deepest > maxDepth) return `data nests deeper than ${maxDepth} levels`;
}
let keys = 0;
export function idempotencyKey() { return `${Date.now()}-${Math.floor(Math.random() * 2 ** 53)}-${++keys}`; }
export function clientFrame(type, id, req, path, since, query, data, key, token) {
  return JSON.stringify({ type, id, req, path, since, query: query && JSON.parse(query), data, key, token });
}
export function at(o, field) {
  for (const name of field.split('.')) {
    if (!plain(o) || !Object.hasOwn(o, name)) return;
    o = o[name];
  }
  return o;
}
export function valueKind(v) {
  const t = typeof v;
  return v === null || (t === 'number' && !isFinite(v)) ? 0 : ['boolean', 'number', 'string'].indexOf(t) + 1
    || (Array.isArray(v) ? 4 : t === 'object' ? 5 : -1);
}
export function entries(o) { return Object.entries(o).flat(); }
const json = (v) => v === null || typeof v === 'boolean' || typeof v === 'string' || Number.isFinite(v)
  || ((Array.isArray(v) || plain(v)) && Object.values(v).every(json));
const sortedKeys = (k, v) => (plain(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v);
export function readQuery(q) {
  if (!plain(q) || typeof q.path !== 'string') return 'onSnapshot takes a path or a query: { path, where?, orderBy?, limit?, startAfter?, endBefore? }';
  const { path, ...read } = q;
  if (!json(read)) return 'a query holds only JSON values (no undefined, NaN or functions)';
  if (Array.isArray(read.orderBy)) read.orderBy = read.orderBy.map((o) => (Array.isArray(o) && o.length === 1 ? [o[0], 'asc'] : o));
  for (const list of ['where', 'orderBy']) if (read[list]?.length === 0) delete read[list];
  return [path, JSON.stringify(read, sortedKeys), read];
}
export function merged(base, fields) {
  return base instanceof Object && fields instanceof Object ? { ...base, ...fields } : fields;
}
export function wakeUps(callback) {
  const page = globalThis.document;
  const visible = () => page.visibilityState === 'visible' && callback();
  globalThis.addEventListener?.('online', callback);
  page?.addEventListener('visibilitychange', visible);
  return () => {
    globalThis.removeEventListener?.('online', callback);
    page?.removeEventListener('visibilitychange', visible);
  };
}
export function livepathErrorShape(e) {
  return e instanceof Error && e.name === 'LivepathError' && typeof e.code === 'string';
}
export function openSocket(url, protocol, handler, WS = globalThis.WebSocket) {
  const page = globalThis.location;
  url ||= page && page.origin.replace('http', 'ws') + '/v1/ws';
  let ws;
  if (!url) return livepathError(0, 'connect({ url }) is needed outside a browser');
  try {
    ws = new WS(url, protocol);
  } catch (e) {
    return livepathError(0, typeof WS == 'function' ? e.message : 'no WebSocket class: pass connect({ WebSocket })');
  }
  ws.onerror = () => {};
  ws.onopen = () => handler(true);
  ws.onmessage = (e) => (typeof e.data === 'string' || e.parsed) && handler(e.data);
  ws.onclose = () => handler(false);
  return ws;
}
export function sendText(ws, text) { if (ws.readyState === 1) ws.send(text); }
export function closeSocket(ws) {
  ws.onopen = ws.onmessage = ws.onclose = null;
  ws.close(1000);
}"
)]
extern "C" {
    /// `JSON.parse` of a frame as the socket gave it (a JS string: no copy into the wasm); `null` if
    /// it is not JSON. A frame that came through the shared tabs' leader is already an object.
    #[wasm_bindgen(js_name = parseFrame)]
    pub fn parse_frame(text: &JsValue) -> JsValue;

    /// The index of a parsed frame's `type` among the types the client reads, or -1.
    #[wasm_bindgen(js_name = frameKind)]
    pub fn frame_kind(frame: &JsValue) -> i32;

    /// The index of an `error` frame's `code` in `ErrorCode::ALL` (the snippet's `CODES`), -1 for a
    /// code this client does not know, -2 if there is none.
    #[wasm_bindgen(js_name = errorCode)]
    pub fn error_code(frame: &JsValue) -> i32;

    /// The field numbered `i` (see [`fields`]) of `object`, or `undefined`. A number crosses from the
    /// wasm instead of a field name.
    pub fn field(object: &JsValue, i: u32) -> JsValue;

    /// Element `i` of `array`; `undefined` past its end or if it is not an array.
    pub fn item(array: &JsValue, i: u32) -> JsValue;

    /// A `CollectionSnapshot` from its parts, in one call.
    #[wasm_bindgen(js_name = collectionSnapshot)]
    pub fn collection_snapshot(
        path: &str,
        docs: Vec<JsValue>,
        changes: Vec<JsValue>,
        version: f64,
        from_cache: bool,
        pending: bool,
    ) -> JsValue;

    /// A `DocChange`, in one call.
    #[wasm_bindgen(js_name = docChange)]
    pub fn doc_change(kind: &str, doc: &JsValue, old_index: f64, new_index: f64) -> JsValue;

    /// A `LivepathError`: a real `Error` named "LivepathError" with a `code`, given as its index in
    /// `ErrorCode::ALL` (the snippet's `CODES`).
    #[wasm_bindgen(js_name = livepathError)]
    pub fn livepath_error(code: u32, message: &str) -> JsValue;

    /// `{ version }`, what a write resolves with.
    #[wasm_bindgen(js_name = versionResult)]
    pub fn version_result(version: f64) -> JsValue;

    /// `[promise, resolve, reject]`: a promise and the functions that settle it. One call instead of
    /// a Rust closure handed to the `Promise` constructor, which brings its own glue.
    pub fn deferred() -> JsValue;

    /// Asks a token function for a connection's token: a string now, `false` if it threw (reported
    /// on the console), else a function that cancels the wait, and `answer` is called later (unless
    /// cancelled first) with the token (a string), `null` (none: nobody signed in) or `false` (its
    /// promise failed, reported on the console).
    #[wasm_bindgen(js_name = askToken)]
    pub fn ask_token(ask: &JsValue, answer: &JsValue) -> JsValue;

    /// Calls `callback(value)`; if it throws, the error is reported on the console and nothing else
    /// happens: a listener's bug must not break the client.
    pub fn report(callback: &JsValue, value: &JsValue);

    /// A subscription failed: `error` goes to its listener's `onError` through [`report`], or, where
    /// the listener has none, to the console.
    pub fn failed(on_error: &JsValue, error: &JsValue);

    /// An empty set of `onStatus` callbacks.
    #[wasm_bindgen(js_name = statusListeners)]
    pub fn status_listeners() -> JsValue;

    /// Adds `callback` to `listeners` (twice if added twice) and calls it with `status` at once;
    /// returns the function that removes it. A callback that throws is reported on the console.
    #[wasm_bindgen(js_name = addStatusListener)]
    pub fn add_status_listener(listeners: &JsValue, callback: &JsValue, status: &JsValue) -> JsValue;

    /// Calls every callback in `listeners` with `status`; those added or removed meanwhile as the set
    /// was when it began.
    #[wasm_bindgen(js_name = tellStatus)]
    pub fn tell_status(listeners: &JsValue, status: &JsValue);

    /// [`tell_status`] with the reason persistence failed: each callback gets
    /// `{ persistence: "unavailable", message: problem }` as its second argument, and the console a
    /// warning.
    #[wasm_bindgen(js_name = tellStatus)]
    pub fn tell_problem(listeners: &JsValue, status: &JsValue, problem: &JsValue);

    /// The object `stats()` returns; `ws` is the client's WebSocket (its state is reported as
    /// "connecting", "open" or "closing"), or `undefined` for "none"; `persistence`, and `cache`, what
    /// the cache holds (`undefined`: nothing), and `tabs`, the shared tabs' handle (`undefined`: a
    /// socket of its own).
    pub fn stats(
        listeners: f64,
        subscriptions: f64,
        pending_writes: f64,
        ws: &JsValue,
        persistence: &str,
        cache: &JsValue,
        tabs: &JsValue,
    ) -> JsValue;

    /// Why `value` cannot be a document's data, as a message (a JS string), or `undefined` if it can:
    /// a plain object that JSON can write, at most `max_bytes` of JSON (UTF-8), nested at most
    /// `max_depth` objects and arrays deep (brackets inside strings do not count). In JS, where the
    /// object and its JSON already are: the JSON never crosses into the wasm.
    #[wasm_bindgen(js_name = dataProblem)]
    pub fn data_problem(value: &JsValue, max_bytes: f64, max_depth: f64) -> JsValue;

    /// A key no other write of any client on this page will use: time, randomness and a counter.
    #[wasm_bindgen(js_name = idempotencyKey)]
    pub fn idempotency_key() -> JsValue;

    /// Builds a `DocumentSnapshot` in one call: one wasm→JS crossing instead of one per field. Its
    /// path is joined in JS: the documents of a collection snapshot would each need a `format!`.
    #[wasm_bindgen(js_name = documentSnapshot)]
    pub fn document_snapshot(
        collection: &str,
        id: &str,
        exists: bool,
        data: &JsValue,
        version: f64,
        from_cache: bool,
        pending: bool,
    ) -> JsValue;

    /// A client message as JSON text, built and stringified in one call: absent fields are
    /// `undefined`, which JSON leaves out, and the others keep the order of the protocol's serde
    /// derive. Field by field, each name and value would cross from wasm to JS on its own.
    #[wasm_bindgen(js_name = clientFrame)]
    #[allow(clippy::too_many_arguments)]
    pub fn client_frame(
        kind: &str,
        id: Option<f64>,
        req: Option<f64>,
        path: Option<&str>,
        since: Option<f64>,
        query: Option<&str>,
        data: &JsValue,
        key: Option<&str>,
        token: Option<&str>,
    ) -> JsValue;

    /// `{ ...base, ...fields }` when both are objects, else `fields`: an `update` applied locally. One
    /// call instead of a type check of each and two `Object.assign`s.
    pub fn merged(base: &JsValue, fields: &JsValue) -> JsValue;

    /// Calls `callback` on `online` and when the page becomes visible; returns the function that
    /// removes both listeners. One call instead of a binding per event method and type check.
    #[wasm_bindgen(js_name = wakeUps)]
    pub fn wake_ups(callback: &JsValue) -> Function;

    /// Whether `e` is an `Error` named "LivepathError" with a string `code`: one call instead of a
    /// type check and two property reads.
    #[wasm_bindgen(js_name = livepathErrorShape)]
    pub fn livepath_error_shape(e: &JsValue) -> bool;

    /// A WebSocket to `url` (when it is `undefined`: `/v1/ws` on the page's own origin, `wss` on an
    /// `https:` page) with `protocol`, made by `web_socket` (a WebSocket class, such as the `ws`
    /// package's) or else the global `WebSocket`, whose events all go to `handler`: `true` when it
    /// opens, each text frame's data (a JS string, never copied into the wasm; this protocol has no
    /// binary frames), `false` when it closes. One closure instead of one per event. Instead of a
    /// socket, an `invalid-argument` `LivepathError` when none can be made, saying why: no URL (no
    /// `url` option, and no page whose origin to use), no WebSocket class, or the constructor threw
    /// (a malformed URL, a blocked port): nothing that trying again would fix. `onerror` is set to
    /// nothing and stays set after [`close_socket`]: the `ws` package (Node) throws an `error` event
    /// nobody listens to, and `close` follows it anyway, as in browsers.
    #[wasm_bindgen(js_name = openSocket)]
    pub fn open_socket(url: &JsValue, protocol: &str, handler: &JsValue, web_socket: &JsValue) -> JsValue;

    /// Sends a text frame if the socket is open; else nothing (the close event that follows makes the
    /// client resend what matters).
    #[wasm_bindgen(js_name = sendText)]
    pub fn send_text(ws: &JsValue, text: &JsValue);

    /// The value at `field` (a dotted path) of the document data `o`, through plain objects and their
    /// own members only (an array's `length` or an object's `constructor` is no field); `undefined`
    /// when missing.
    pub fn at(o: &JsValue, field: &str) -> JsValue;

    /// How JSON sees `v`: 0 `null` (and non-finite numbers, which JSON writes as `null`), 1 a
    /// boolean, 2 a number, 3 a string, 4 an array, 5 another object, -1 what JSON leaves out.
    #[wasm_bindgen(js_name = valueKind)]
    pub fn value_kind(v: &JsValue) -> i32;

    /// The own enumerable members of an object or array, flat: `[key, value, key, value, …]`.
    pub fn entries(o: &JsValue) -> JsValue;

    /// Reads a JS `Query` object: `[path, text, query]`, where `query` is the object without its path,
    /// `orderBy` directions spelled out and empty lists left out, and `text` its canonical JSON (keys
    /// sorted at every level: equal queries, however written, have the same text). Or a message (a JS
    /// string) when it is no object with a string `path`, or holds what JSON cannot write as it is
    /// (`undefined`, `NaN`, a function), which JSON would drop or turn into `null` in silence. The
    /// rest of its shape (members, filters, operators, limits) is the server's to check.
    #[wasm_bindgen(js_name = readQuery)]
    pub fn read_query(q: &JsValue) -> JsValue;

    /// Clears the socket's handlers, so no event reaches its owner any more, and closes it with 1000
    /// (a normal close; a socket closing or closed already ignores it).
    #[wasm_bindgen(js_name = closeSocket)]
    pub fn close_socket(ws: &JsValue);
}

#[cfg(test)]
mod tests {
    use livepath_protocol::ErrorCode;

    use super::fields::*;

    /// The snippet's list `name` (`const NAME = [...]`), read from this file's source.
    fn snippet_list(name: &str) -> Vec<String> {
        let source = include_str!("snippet.rs");
        let head = format!("const {name} = [");
        let start = source.find(&head).map(|i| i + head.len());
        let list = start.and_then(|s| source.get(s..).and_then(|rest| rest.split(']').next())).unwrap_or_default();
        list.split(',').map(|item| item.trim().trim_matches('\'').to_owned()).collect()
    }

    #[test]
    fn the_snippets_error_codes_are_error_code_all_in_order() {
        let names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(snippet_list("CODES"), names);
    }

    #[test]
    fn each_field_number_names_its_field_in_the_snippet() {
        let fields = snippet_list("FIELDS");
        let expected = [
            (ID, "id"),
            (REQ, "req"),
            (VERSION, "version"),
            (EXISTS, "exists"),
            (DATA, "data"),
            (DOCS, "docs"),
            (CHANGES, "changes"),
            (MESSAGE, "message"),
            (HEARTBEAT_MS, "heartbeatMs"),
            (URL, "url"),
            (TOKEN, "token"),
            (LINGER_MS, "lingerMs"),
            (MAX_PENDING_WRITES, "maxPendingWrites"),
            (BACKOFF, "backoff"),
            (INITIAL_MS, "initialMs"),
            (MAX_MS, "maxMs"),
            (MULTIPLIER, "multiplier"),
            (WEB_SOCKET, "WebSocket"),
            (EPOCH, "epoch"),
            (PATH, "path"),
            (WHERE, "where"),
            (ORDER_BY, "orderBy"),
            (LIMIT, "limit"),
            (START_AFTER, "startAfter"),
            (END_BEFORE, "endBefore"),
            (PERSISTENCE, "persistence"),
            (NAME, "name"),
            (CACHE_BYTES, "cacheBytes"),
            (TABS, "tabs"),
            (OP, "op"),
            (KEY, "key"),
        ];
        for (i, name) in expected {
            assert_eq!(fields.get(i as usize).map(String::as_str), Some(name));
        }
        assert_eq!(fields.len(), expected.len(), "no field the client does not read");
    }
}
