//! The whole JavaScript API: the TypeScript types, the free functions (`connect`, `init`,
//! `onSnapshot`, `isLivepathError`), the `Client` class's methods, and the reading of JS options.

use std::cell::RefCell;

use js_sys::Function;
use livepath_protocol::ErrorCode;
use wasm_bindgen::{JsCast, JsValue, prelude::wasm_bindgen};

use crate::{
    Data, Query,
    browser::{
        function::gc_function,
        snippet::{field, fields},
    },
    client::{Callback, Client, ClientOptions, Error, Subscription, Tabs, Token},
    core::{BackoffConfig, WriteOp},
};

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
export type Unsubscribe = () => void;

/** What the client needs of a WebSocket class (the browser's, Node 22's, or the `ws` package's). */
export type WebSocketClass = new (url: string, protocol: string) => {
  readonly readyState: number; send(data: string): void; close(code?: number): void;
};
export type SnapshotCallback = (s: Snapshot) => void;
export type ErrorCallback = (e: LivepathError) => void;

export interface ClientOptions {
  /** ws(s)://…/v1/ws; default: /v1/ws on the page's own origin. Outside a browser there is no such
   * origin: without `url`, each listener and write fails with `invalid-argument` (`connect()` itself
   * never throws, so a module-scope client is safe in server-rendered code). */
  url?: string;
  /** The WebSocket class to use instead of the global `WebSocket`: on Node 20, the `ws` package's
   * (`import { WebSocket } from "ws"`). Browsers and Node 22+ have a global one. */
  WebSocket?: WebSocketClass;
  /** Sent in `hello`; a function is asked again on every reconnect, and may answer `null` (nobody signed in). */
  token?: string | (() => string | null | Promise<string | null>);
  /** Keep the socket open this long after the last listener leaves (default 10000). */
  lingerMs?: number;
  /** Reconnect delays: default 500 / 20000 / 2, with full jitter. */
  backoff?: { initialMs?: number; maxMs?: number; multiplier?: number };
  /** Writes queued while offline (default 1000); past it writes reject. */
  maxPendingWrites?: number;
  /** "indexeddb": keep the last snapshot of every path listened to, and every pending write, in
   * IndexedDB, so a reload shows cached data at once (`fromCache: true`) and unsent writes survive
   * it. Default "memory". Where IndexedDB fails, the client goes on in memory and says so once to the
   * status callbacks (`stats().persistence` is "unavailable"). */
  persistence?: "memory" | "indexeddb";
  /** Which of this origin's clients this is (default "default"): clients of one name share a cache. */
  name?: string;
  /** The cache's size cap in bytes (default 40 MiB): past it, the least recently used paths without a
   * listener are evicted. Pending writes are never evicted. */
  cacheBytes?: number;
  /** "shared": the tabs of this origin with this `name` share one WebSocket. They elect a leader (Web
   * Locks), which alone holds it and carries the others' frames over a BroadcastChannel; when it
   * closes or crashes another tab takes over and every tab resumes. Listeners, writes and status
   * behave as with a socket of one's own; another tab's write shows at once, with
   * `hasPendingWrites`. One connection is one user: a tab whose token names another user (or none,
   * where the first had one) keeps a socket of its own for a while. Where Web Locks or BroadcastChannel are
   * missing or refused, each tab keeps its own socket (`stats().tabs` says which). Default "single". */
  tabs?: "single" | "shared";
}

export type Status = "idle" | "connecting" | "open" | "reconnecting" | "closed";

/** The second argument of a status callback, once, when persistence fails. */
export interface StatusNotice { persistence: "unavailable"; message: string; }

/** A JSON value, as filters and cursors take them. */
export type QueryValue = null | boolean | number | string | QueryValue[] | { [key: string]: QueryValue };

export type WhereOp = "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not-in" | "array-contains"
  | "array-contains-any";

/**
 * A live query on the collection at `path`: the documents every filter keeps, in `orderBy` order
 * (then by id), at most `limit` of them. Fields are top-level names or dotted paths
 * (`"author.name"`). Values order across types as null < booleans < numbers < strings < arrays <
 * objects; ranges match only the operand's type. Limits: 10 filters, lists of 1–30 values, limit
 * 1–10000; a bad query fails its listener with `invalid-argument`.
 */
export interface Query {
  path: string;
  where?: [field: string, op: WhereOp, value: QueryValue][];
  orderBy?: ([field: string] | [field: string, direction: "asc" | "desc"])[];
  limit?: number;
  /** Values of the first `orderBy` fields: only documents after them. */
  startAfter?: QueryValue[];
  /** Values of the first `orderBy` fields: only documents before them. */
  endBefore?: QueryValue[];
}

/**
 * `fromCache` is true until the server has confirmed what is shown on the current socket: for a
 * snapshot from the persistent cache, and for local writes made while disconnected. A resume that
 * finds nothing changed (`unchanged`) calls the listener once more with the same data and
 * `fromCache: false`.
 */
export type Snapshot = DocumentSnapshot | CollectionSnapshot;

export interface DocumentSnapshot {
  kind: "document"; path: string; id: string; exists: boolean;
  data: Record<string, unknown> | null; version: number; fromCache: boolean; hasPendingWrites: boolean;
}

/** `docs` are in the query's order (a plain collection: by id). */
export interface CollectionSnapshot {
  kind: "collection"; path: string; docs: DocumentSnapshot[];
  changes: DocChange[]; version: number; fromCache: boolean; hasPendingWrites: boolean;
}

/** `oldIndex` is -1 for added, `newIndex` -1 for removed, as in Firestore. */
export interface DocChange {
  type: "added" | "modified" | "removed"; doc: DocumentSnapshot; oldIndex: number; newIndex: number;
}

export type ErrorCode = "invalid-argument" | "not-found" | "permission-denied" | "unauthenticated"
  | "resource-exhausted" | "unavailable" | "internal" | "failed-precondition" | "already-exists" | "aborted";

/** A real `Error` object. */
export interface LivepathError extends Error { name: "LivepathError"; code: ErrorCode; }
"#;

#[wasm_bindgen]
extern "C" {
    /// `(s: Snapshot) => void`.
    #[wasm_bindgen(typescript_type = "SnapshotCallback")]
    pub type SnapshotCallback;
    /// `(e: LivepathError) => void`.
    #[wasm_bindgen(typescript_type = "ErrorCallback")]
    pub type ErrorCallback;
}

thread_local! {
    /// The client behind the free `onSnapshot`: set by `init`, or made on first use.
    static DEFAULT: RefCell<Option<Client>> = const { RefCell::new(None) };
}

/// A non-negative finite number, or `None`.
fn number(value: JsValue) -> Option<f64> {
    value.as_f64().filter(|n| n.is_finite() && *n >= 0.0)
}

/// The Rust form of JS `ClientOptions`; fields that are missing or of the wrong type keep their
/// defaults, except a `persistence` or `tabs` the client does not know (`invalid-argument`: a
/// misspelt one must not quietly lose what was asked for).
fn options(value: &JsValue) -> Result<ClientOptions, JsValue> {
    let token = field(value, fields::TOKEN);
    let token = match token.as_string() {
        Some(token) => Some(Token::Static(token)),
        None => token.dyn_into::<Function>().ok().map(Token::Function),
    };
    // Not checked here: the snippet says so when it is not a class, as when there is none.
    let web_socket = field(value, fields::WEB_SOCKET);
    let mut options =
        ClientOptions { url: field(value, fields::URL).as_string(), web_socket, token, ..Default::default() };
    let core = &mut options.core;
    core.refreshable_token = matches!(options.token, Some(Token::Function(_)));
    if let Some(ms) = number(field(value, fields::LINGER_MS)) {
        core.linger_ms = ms.min(f64::from(u32::MAX)) as u32;
    }
    if let Some(n) = number(field(value, fields::MAX_PENDING_WRITES)) {
        core.max_pending_writes = n as usize;
    }
    let persistence = field(value, fields::PERSISTENCE);
    core.persistent = match persistence.as_string().as_deref() {
        Some("indexeddb") if cfg!(feature = "persistence") => true,
        Some("memory") => false,
        _ if persistence.is_undefined() => false,
        _ => {
            let message = "connect({ persistence }) takes \"memory\" or \"indexeddb\"";
            return Err(Error { code: ErrorCode::InvalidArgument, message: message.into() }.into());
        }
    };
    let tabs = field(value, fields::TABS);
    options.tabs = match tabs.as_string().as_deref() {
        Some("shared") if cfg!(feature = "tabs") => Tabs::Shared,
        Some("single") => Tabs::Single,
        _ if tabs.is_undefined() => Tabs::Single,
        _ => {
            let message = "connect({ tabs }) takes \"single\" or \"shared\"";
            return Err(Error { code: ErrorCode::InvalidArgument, message: message.into() }.into());
        }
    };
    options.name = field(value, fields::NAME).as_string();
    options.cache_bytes = number(field(value, fields::CACHE_BYTES));
    let (d, backoff) = (BackoffConfig::default(), field(value, fields::BACKOFF));
    core.backoff = BackoffConfig {
        initial_ms: number(field(&backoff, fields::INITIAL_MS)).unwrap_or(d.initial_ms),
        max_ms: number(field(&backoff, fields::MAX_MS)).unwrap_or(d.max_ms),
        multiplier: number(field(&backoff, fields::MULTIPLIER)).unwrap_or(d.multiplier),
    };
    Ok(options)
}

/// An independent client. Throws (`invalid-argument`) only for an unknown `persistence` or `tabs`.
#[wasm_bindgen(js_name = connect)]
pub fn connect(#[wasm_bindgen(unchecked_param_type = "ClientOptions")] options: JsValue) -> Result<Client, JsValue> {
    Ok(Client::new(self::options(&options)?))
}

/// Configures the default client (the one behind the free `onSnapshot`), closing any previous one.
#[wasm_bindgen(js_name = init)]
pub fn init(#[wasm_bindgen(unchecked_param_type = "ClientOptions")] options: JsValue) -> Result<Client, JsValue> {
    let client = connect(options)?;
    if let Some(previous) = DEFAULT.with(|d| d.borrow_mut().replace(client.clone())) {
        previous.close();
    }
    Ok(client)
}

/// Listens to a document, a collection or a query with the default client; returns the function
/// that stops.
#[wasm_bindgen(js_name = onSnapshot, unchecked_return_type = "Unsubscribe")]
pub fn on_snapshot(
    #[wasm_bindgen(js_name = "pathOrQuery", unchecked_param_type = "string | Query")] path_or_query: JsValue,
    next: SnapshotCallback,
    error: Option<ErrorCallback>,
) -> Result<Function, JsValue> {
    let client = DEFAULT.with(|d| d.borrow_mut().get_or_insert_with(|| Client::new(ClientOptions::default())).clone());
    client.on_snapshot_js(path_or_query, next, error)
}

/// Whether `e` is a `LivepathError`.
#[wasm_bindgen(js_name = isLivepathError, unchecked_return_type = "e is LivepathError")]
pub fn is_livepath_error(#[wasm_bindgen(unchecked_param_type = "unknown")] e: JsValue) -> bool {
    crate::browser::snippet::livepath_error_shape(&e)
}

/// The JavaScript face of [`Client`].
#[wasm_bindgen]
impl Client {
    /// Listens to a document or collection (a path) or to a live query (a `Query` object); returns
    /// the function that stops listening. An invalid path throws; an invalid query fails the
    /// listener (its `onError`) at the end of the task, as the server's refusals do.
    #[wasm_bindgen(js_name = onSnapshot, unchecked_return_type = "Unsubscribe")]
    pub fn on_snapshot_js(
        &self,
        #[wasm_bindgen(js_name = "pathOrQuery", unchecked_param_type = "string | Query")] path_or_query: JsValue,
        next: SnapshotCallback,
        error: Option<ErrorCallback>,
    ) -> Result<Function, JsValue> {
        let callback = Callback::Js { next: next.unchecked_into(), error: error.map(JsCast::unchecked_into) };
        let subscription = match path_or_query.as_string() {
            Some(path) => self.listen(&path, callback)?,
            None => match Query::from_js(&path_or_query) {
                Ok(checked) => self.listen_query(checked, callback)?,
                Err(e) => self.refuse(callback, e),
            },
        };
        Ok(unsubscribe_function(subscription))
    }

    /// Creates or replaces the document at `path`.
    #[wasm_bindgen(unchecked_return_type = "Promise<{ version: number }>")]
    pub fn set(&self, path: &str, #[wasm_bindgen(unchecked_param_type = "object")] data: JsValue) -> JsValue {
        self.write(path, Data::checked(data).map(WriteOp::Set))
    }

    /// Merges top-level fields into the existing document at `path`.
    #[wasm_bindgen(unchecked_return_type = "Promise<{ version: number }>")]
    pub fn update(&self, path: &str, #[wasm_bindgen(unchecked_param_type = "object")] data: JsValue) -> JsValue {
        self.write(path, Data::checked(data).map(WriteOp::Update))
    }

    /// Deletes the document at `path`.
    #[wasm_bindgen(unchecked_return_type = "Promise<{ version: number }>")]
    pub fn delete(&self, path: &str) -> JsValue {
        self.write(path, Ok(WriteOp::Delete))
    }

    /// Calls `callback` with the current status now and on every change.
    #[wasm_bindgen(js_name = onStatus, unchecked_return_type = "Unsubscribe")]
    pub fn on_status_js(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(s: Status, notice?: StatusNotice) => void")] callback: JsValue,
    ) -> JsValue {
        self.on_status(&callback)
    }

    /// Counts of what the client holds, for leak checks.
    #[wasm_bindgen(
        unchecked_return_type = "{ listeners: number; subscriptions: number; pendingWrites: number; socket: \"none\" | \"connecting\" | \"open\" | \"closing\"; persistence: \"memory\" | \"indexeddb\" | \"unavailable\"; cache: { documents: number; bytes: number }; tabs: \"single\" | \"leader\" | \"follower\" }"
    )]
    pub fn stats(&self) -> JsValue {
        self.stats_js()
    }

    /// Forgets every snapshot cached for this client's `name`; rejects with `failed-precondition`
    /// while a listener is active or a write is pending. Writes stored by a tab that closed before
    /// they were acknowledged are kept: they are still sent.
    #[wasm_bindgen(js_name = clearPersistence, unchecked_return_type = "Promise<void>")]
    pub fn clear_persistence_js(&self) -> JsValue {
        self.clear_persistence()
    }

    /// The current connection status.
    #[wasm_bindgen(getter = status, unchecked_return_type = "\"idle\" | \"connecting\" | \"open\" | \"reconnecting\" | \"closed\"")]
    pub fn status_js(&self) -> JsValue {
        JsValue::from_str(self.status().as_str())
    }

    /// Ends everything: the socket closes, pending writes reject, later calls fail with
    /// `failed-precondition`.
    #[wasm_bindgen(js_name = close)]
    pub fn close_js(&self) {
        self.close();
    }
}

/// The idempotent unsubscribe function handed to JavaScript: the first call drops the subscription.
fn unsubscribe_function(subscription: Subscription) -> Function {
    let mut subscription = Some(subscription);
    gc_function(move || drop(subscription.take()))
}
