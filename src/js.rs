//! The JavaScript API's free functions and its TypeScript types.

use std::cell::RefCell;

use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue, prelude::wasm_bindgen};

use crate::{
    client::{Client, ClientOptions, Token},
    core::BackoffConfig,
};

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
export type Unsubscribe = () => void;
export type SnapshotCallback = (s: Snapshot) => void;
export type ErrorCallback = (e: LivepathError) => void;

export interface ClientOptions {
  /** ws(s)://…/v1/ws; default: /v1/ws on the page's own origin. */
  url?: string;
  /** Sent in `hello`; asked again on every reconnect. */
  token?: string | (() => string | Promise<string>);
  /** Keep the socket open this long after the last listener leaves (default 10000). */
  lingerMs?: number;
  /** Reconnect delays: default 500 / 20000 / 2, with full jitter. */
  backoff?: { initialMs?: number; maxMs?: number; multiplier?: number };
  /** Writes queued while offline (default 1000); past it writes reject. */
  maxPendingWrites?: number;
}

export type Snapshot = DocumentSnapshot | CollectionSnapshot;

export interface DocumentSnapshot {
  kind: "document"; path: string; id: string; exists: boolean;
  data: Record<string, unknown> | null; version: number; fromCache: boolean; hasPendingWrites: boolean;
}

export interface CollectionSnapshot {
  kind: "collection"; path: string; docs: DocumentSnapshot[];
  changes: DocChange[]; version: number; fromCache: boolean; hasPendingWrites: boolean;
}

/** `oldIndex` is -1 for added, `newIndex` -1 for removed, as in Firestore. */
export interface DocChange {
  type: "added" | "modified" | "removed"; doc: DocumentSnapshot; oldIndex: number; newIndex: number;
}

export type ErrorCode = "invalid-argument" | "not-found" | "permission-denied" | "unauthenticated"
  | "resource-exhausted" | "unavailable" | "internal" | "failed-precondition";

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

fn number(object: &JsValue, key: &str) -> Option<f64> {
    Reflect::get(object, &JsValue::from_str(key)).ok()?.as_f64().filter(|n| n.is_finite() && *n >= 0.0)
}

fn options(value: &JsValue) -> ClientOptions {
    let mut options = ClientOptions::default();
    if !value.is_object() {
        return options;
    }
    options.url = Reflect::get(value, &JsValue::from_str("url")).ok().and_then(|v| v.as_string());
    let token = Reflect::get(value, &JsValue::from_str("token")).unwrap_or(JsValue::UNDEFINED);
    options.token = match token.as_string() {
        Some(token) => Some(Token::Static(token)),
        None => token.dyn_into::<Function>().ok().map(Token::Function),
    };
    options.core.refreshable_token = matches!(options.token, Some(Token::Function(_)));
    let core = &mut options.core;
    if let Some(ms) = number(value, "lingerMs") {
        core.linger_ms = ms.min(f64::from(u32::MAX)) as u32;
    }
    if let Some(n) = number(value, "maxPendingWrites") {
        core.max_pending_writes = n as usize;
    }
    if let Ok(backoff) = Reflect::get(value, &JsValue::from_str("backoff")) {
        let d = BackoffConfig::default();
        core.backoff = BackoffConfig {
            initial_ms: number(&backoff, "initialMs").unwrap_or(d.initial_ms),
            max_ms: number(&backoff, "maxMs").unwrap_or(d.max_ms),
            multiplier: number(&backoff, "multiplier").unwrap_or(d.multiplier),
        };
    }
    options
}

/// An independent client.
#[wasm_bindgen(js_name = connect)]
pub fn connect(#[wasm_bindgen(unchecked_param_type = "ClientOptions")] options: JsValue) -> Client {
    Client::new(self::options(&options))
}

/// Configures the default client (the one behind the free `onSnapshot`), closing any previous one.
#[wasm_bindgen(js_name = init)]
pub fn init(#[wasm_bindgen(unchecked_param_type = "ClientOptions")] options: JsValue) -> Client {
    let client = connect(options);
    if let Some(previous) = DEFAULT.with(|d| d.borrow_mut().replace(client.clone())) {
        previous.close();
    }
    client
}

/// Listens to a document or collection with the default client; returns the function that stops.
#[wasm_bindgen(js_name = onSnapshot, unchecked_return_type = "Unsubscribe")]
pub fn on_snapshot(path: &str, next: SnapshotCallback, error: Option<ErrorCallback>) -> Result<Function, JsValue> {
    let client = DEFAULT.with(|d| d.borrow_mut().get_or_insert_with(|| Client::new(ClientOptions::default())).clone());
    client.on_snapshot_js(path, next, error)
}

/// Whether `e` is a `LivepathError`.
#[wasm_bindgen(js_name = isLivepathError, unchecked_return_type = "e is LivepathError")]
pub fn is_livepath_error(#[wasm_bindgen(unchecked_param_type = "unknown")] e: JsValue) -> bool {
    crate::browser::snippet::livepath_error_shape(&e)
}

