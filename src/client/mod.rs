//! [`Client`]: one WebSocket carrying every listener and write of an application, driven by the
//! sans-IO [`Core`](crate::core::Core). This file is the Rust API; `driver` performs what the core
//! decides (timers, microtasks, deliveries) and `link` runs the socket (events, token, `hello`). The
//! JavaScript face of the same client is `crate::js`.

#[cfg(feature = "persistence")]
mod cache;
#[cfg(not(feature = "persistence"))]
#[path = "no_cache.rs"]
mod cache;
mod driver;
mod link;

use std::{
    cell::RefCell,
    rc::{Rc, Weak},
};

use js_sys::Function;
use livepath_protocol::{ErrorCode, Path};
use wasm_bindgen::{JsValue, prelude::wasm_bindgen};

use crate::{
    Data, Query,
    browser::{convert, snippet, tabs::SharedTabs},
    core::{CoreOptions, ListenerId, Persistence, Snapshot, Status, WriteOp},
    query::Checked,
};

pub(crate) use driver::Callback;
use driver::{Inner, Shared, State};
use link::Link;

/// How to reach the server and how to behave; the Rust form of the JS `ClientOptions`.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// `ws(s)://host/v1/ws`; `None`: `/v1/ws` on the page's own origin. Outside a browser there is no
    /// such origin: every listener and write then fails with `invalid-argument`, naming this option.
    pub url: Option<String>,
    /// The WebSocket class to open sockets with (the `ws` package's on Node 20); `undefined` (the
    /// default): the global `WebSocket`.
    pub web_socket: JsValue,
    /// Credentials sent in `hello` on every connection.
    pub token: Option<Token>,
    /// Which of the origin's clients this is: clients of one name share their cache (with
    /// `core.persistent`); `None`: `"default"`.
    pub name: Option<String>,
    /// The cache's size cap in bytes (`None`: 40 MiB): past it, the least recently used paths without
    /// a listener are evicted.
    pub cache_bytes: Option<f64>,
    /// Whether the tabs of this origin with this client `name` share one socket.
    pub tabs: Tabs,
    /// Reconnect, linger, write-queue and persistence settings.
    pub core: CoreOptions,
}

/// Whether a client has its own socket or shares one with the other tabs (the JS `tabs` option).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Tabs {
    /// Its own socket (the default).
    #[default]
    Single,
    /// One socket for every tab of the origin with the same client `name`: the tabs elect a leader
    /// (Web Locks), which alone holds it; the others talk to it over a `BroadcastChannel`. Where
    /// either is missing or refused, or for a tab whose user or URL differs from the shared
    /// connection's, the client keeps its own socket. (A build without the `tabs` feature always
    /// does; the JS API refuses `tabs: "shared"` there.)
    Shared,
}

/// Where the `hello` token comes from.
#[derive(Debug, Clone)]
pub enum Token {
    /// The same token every time.
    Static(String),
    /// Asked on every (re)connect; may return a string or a promise of one.
    Function(Function),
}

/// The cache's default size cap: 40 MiB, as Firestore's.
const DEFAULT_CACHE_BYTES: f64 = 41_943_040.0;

/// A livepath client: one socket, shared subscriptions, reconnects by itself.
///
/// Cloning is cheap and shares the client. Dropping every handle closes the socket.
#[wasm_bindgen]
#[derive(Clone)]
pub struct Client {
    shared: Shared,
}

/// A listener registration. Dropping it removes the listener; once dropped, its callback is never
/// called again.
#[must_use = "the listener is removed as soon as the Subscription is dropped"]
pub struct Subscription {
    shared: Weak<RefCell<Inner>>,
    listener: ListenerId,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            driver::unlisten(&shared, self.listener);
        }
    }
}

/// An error from the client: the code users match on and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What programs match on.
    pub code: ErrorCode,
    /// What people read.
    pub message: String,
}

impl From<Error> for JsValue {
    fn from(e: Error) -> Self {
        convert::error(e.code, &e.message)
    }
}

fn parse_path(path: &str) -> Result<Path, Error> {
    Path::parse(path).map_err(|e| Error { code: ErrorCode::InvalidArgument, message: e.to_string() })
}

impl Client {
    /// A client for `options`. Nothing connects until the first listener or write, so a client made
    /// while a page renders on a server (or at a module's top level there) never opens a socket.
    pub fn new(options: ClientOptions) -> Self {
        install_panic_hook();
        let url = options.url.map_or(JsValue::UNDEFINED, |url| JsValue::from_str(&url));
        let name = options.name.unwrap_or_else(|| "default".to_owned());
        let tabs = match options.tabs {
            Tabs::Shared => SharedTabs::open(&name, &options.web_socket),
            Tabs::Single => None,
        };
        let web_socket = tabs.as_ref().map_or(options.web_socket, SharedTabs::socket_class);
        let link = Link::new(url, web_socket, options.token);
        let cache_bytes = options.cache_bytes.unwrap_or(DEFAULT_CACHE_BYTES);
        Self { shared: driver::start(options.core, link, tabs, &name, cache_bytes) }
    }

    /// Calls `callback` with the current snapshot of `path` and every change after, until the returned
    /// [`Subscription`] is dropped. An invalid path is an `invalid-argument` error.
    pub fn on_snapshot(
        &self,
        path: &str,
        callback: impl FnMut(&Snapshot<Data>) + 'static,
    ) -> Result<Subscription, Error> {
        self.listen(path, Callback::Rust(Rc::new(RefCell::new(callback))))
    }

    /// Calls `callback` with the current result of the live query `query` (its documents in the
    /// query's order) and every change after, until the returned [`Subscription`] is dropped. A query
    /// that breaks a rule (see `livepath_protocol::query`) is an `invalid-argument` error.
    pub fn on_query(
        &self,
        query: Query,
        callback: impl FnMut(&Snapshot<Data>) + 'static,
    ) -> Result<Subscription, Error> {
        self.listen_query(query.checked()?, Callback::Rust(Rc::new(RefCell::new(callback))))
    }

    /// The connection status.
    pub fn status(&self) -> Status {
        self.shared.state().core.status()
    }

    /// Ends everything: the socket closes, pending writes reject, later calls fail with
    /// `failed-precondition`.
    pub fn close(&self) {
        driver::close(&self.shared);
    }

    /// Where the client keeps what it learns, now: [`Persistence::Unavailable`] once the storage
    /// asked for has failed.
    pub fn persistence(&self) -> Persistence {
        self.shared.state().core.persistence()
    }

    /// Forgets every cached snapshot (writes stored by a closed tab are kept, to be sent): a promise
    /// that resolves once they are gone, or rejects with
    /// `failed-precondition` while a listener is active or a write is pending.
    pub fn clear_persistence(&self) -> JsValue {
        driver::clear_persistence(&self.shared)
    }

    pub(crate) fn listen(&self, path: &str, callback: Callback) -> Result<Subscription, Error> {
        let path = parse_path(path)?;
        self.open()?;
        let listener = driver::listen(&self.shared, |core| core.listen(&path), callback);
        Ok(self.subscription(listener))
    }

    pub(crate) fn listen_query(&self, (path, query, text): Checked, callback: Callback) -> Result<Subscription, Error> {
        self.open()?;
        let listener = driver::listen(&self.shared, |core| core.listen_query(&path, query, text), callback);
        Ok(self.subscription(listener))
    }

    /// A listener refused before it began (a bad query): its error callback is called with `error`
    /// at the end of the task, unless it unsubscribes first.
    pub(crate) fn refuse(&self, callback: Callback, error: Error) -> Subscription {
        self.subscription(driver::refuse(&self.shared, callback, error.into()))
    }

    fn subscription(&self, listener: ListenerId) -> Subscription {
        Subscription { shared: Rc::downgrade(&self.shared), listener }
    }

    /// `failed-precondition` once the client is closed.
    fn open(&self) -> Result<(), Error> {
        if self.shared.state().core.is_closed() {
            return Err(Error { code: ErrorCode::FailedPrecondition, message: "the client is closed".into() });
        }
        Ok(())
    }

    /// Starts a write; its promise settles with `{ version }` or a `LivepathError`.
    pub(crate) fn write(&self, path: &str, op: Result<WriteOp<Data>, Error>) -> JsValue {
        match parse_path(path).and_then(|path| Ok((path, op?))) {
            Ok((path, op)) => {
                driver::write(&self.shared, &path, op, snippet::idempotency_key().as_string().unwrap_or_default())
            }
            Err(e) => driver::rejected(e.into()),
        }
    }

    /// Calls `callback` with the current status now and on every change, until the returned function
    /// is called.
    pub(crate) fn on_status(&self, callback: &JsValue) -> JsValue {
        driver::on_status(&self.shared, callback)
    }

    /// The object `stats()` returns: counts of what the client holds (listeners, subscriptions,
    /// pending writes), the browser's socket's state, the persistence, what the cache holds and this
    /// tab's part in a shared socket.
    pub(crate) fn stats_js(&self) -> JsValue {
        let inner = self.shared.state();
        let core = &inner.core;
        snippet::stats(
            core.listener_count() as f64,
            core.subscription_count() as f64,
            core.pending_write_count() as f64,
            &inner.link.socket_js(),
            core.persistence().as_str(),
            &cache::stats(inner.cache.as_ref()),
            &inner.tabs.as_ref().map_or(JsValue::UNDEFINED, |t| t.js().clone()),
        )
    }
}

/// Panics are reported on the browser console (once per module). `console_error_panic_hook::set_once`
/// does the same through a `std::sync::Once`, whose code is larger (docs/wasm-size.md).
fn install_panic_hook() {
    thread_local!(static INSTALLED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
    if !INSTALLED.with(|installed| installed.replace(true)) {
        std::panic::set_hook(Box::new(console_error_panic_hook::hook));
    }
}
