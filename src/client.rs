//! [`Client`]: one WebSocket carrying every listener and write of an application, driven by the
//! sans-IO [`Core`] and usable from Rust and (through `crate::js`) from JavaScript.

use std::{
    cell::{Ref, RefCell, RefMut},
    rc::{Rc, Weak},
};

use gloo_timers::callback::Timeout;
use js_sys::Function;
use livepath_protocol::{ErrorCode, Path};
use wasm_bindgen::{JsCast, JsValue, closure::Closure, prelude::wasm_bindgen};

use crate::{
    Data,
    browser::{
        convert, decode,
        listener::EventListener,
        snippet,
        socket::{Socket, SocketEvent},
    },
    core::{Action, Core, CoreOptions, IdMap, ListenerId, Snapshot, WriteOp},
    js::{ErrorCallback, SnapshotCallback},
};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = queueMicrotask)]
    fn queue_microtask(callback: &Function);
    /// The page's (or worker's) global object. `js_sys::global()` also finds it in pre-2019 engines, by
    /// probing four names, at the cost of their bindings in the wasm.
    #[wasm_bindgen(thread_local_v2, js_name = globalThis)]
    static GLOBAL: JsValue;
}

fn global() -> JsValue {
    GLOBAL.with(JsValue::clone)
}

/// How to reach the server and how to behave; the Rust form of the JS `ClientOptions`.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// `ws(s)://host/v1/ws`; `None`: `/v1/ws` on the page's own origin.
    pub url: Option<String>,
    /// Credentials sent in `hello` on every connection.
    pub token: Option<Token>,
    /// Reconnect, linger and write-queue settings.
    pub core: CoreOptions,
}

/// Where the `hello` token comes from.
#[derive(Debug, Clone)]
pub enum Token {
    /// The same token every time.
    Static(String),
    /// Asked on every (re)connect; may return a string or a promise of one.
    Function(Function),
}

/// A listener's callbacks.
enum Callback {
    /// From JavaScript: `next(snapshot)` and the optional `error(e)`.
    Js { next: Function, error: Option<Function> },
    /// From Rust: called with the snapshot.
    Rust(Rc<RefCell<dyn FnMut(&Snapshot<Data>)>>),
}

/// Work queued for the end of the current task.
enum Microtask {
    /// A cached snapshot for listeners that were just added.
    Deliver(Vec<ListenerId>, Snapshot<Data>),
    /// Release subscriptions left without listeners.
    Release,
}

/// Everything a client owns. Held in `Rc<RefCell<_>>`; browser callbacks hold only a `Weak`, so
/// dropping the last `Client` handle releases the socket, the timers and the closures.
struct Inner {
    /// The decisions.
    core: Core<Data>,
    /// Where the socket connects.
    url: String,
    /// The socket, while one is open or opening.
    socket: Option<Socket>,
    /// Listener callbacks; a listener missing here is never called.
    callbacks: IdMap<Callback>,
    /// `resolve` and `reject` of each write's promise, by write id.
    writes: IdMap<(Function, Function)>,
    /// `onStatus` callbacks by registration id.
    status_listeners: Vec<(u64, Function)>,
    /// The next `onStatus` registration id.
    next_status_listener: u64,
    /// Armed while waiting to reconnect; dropping it cancels it.
    reconnect_timer: Option<Timeout>,
    /// Armed while lingering with nothing to do; dropping it cancels it.
    linger_timer: Option<Timeout>,
    /// Work for the end of the current task.
    microtasks: Vec<Microtask>,
    /// Runs `microtasks`; created once, passed to `queueMicrotask` whenever work is queued.
    flush: Option<Closure<dyn FnMut()>>,
    /// A flush is queued.
    flush_queued: bool,
    /// Where `hello` tokens come from.
    token: Option<Token>,
    /// Bumped for every socket, so a late token answers only the socket that asked.
    socket_generation: u64,
    /// The `then` callbacks of a token promise being waited for.
    token_wait: Option<(Closure<dyn FnMut(JsValue)>, Closure<dyn FnMut(JsValue)>)>,
    /// The server's heartbeat from `welcome`; silence for twice this means a dead link.
    heartbeat_ms: f64,
    /// Wall-clock time (`Date.now()`) of the last frame: throttled timers in background tabs fire late
    /// but cannot make a live link look dead.
    last_frame_at: f64,
    /// Checks for a silent server while a socket is open: a timeout armed again after each check, as
    /// the client's other timers are (an `Interval` would bring its own JS imports).
    watchdog: Option<Timeout>,
    /// `online` and `visibilitychange`: retry at once instead of waiting for the backoff.
    _wake_listeners: Vec<EventListener>,
}

type Shared = Rc<RefCell<Inner>>;

/// Borrows of the client's state. `RefCell`'s own borrows are `#[track_caller]`: each of some forty call
/// sites would carry its own panic location in the wasm, for a conflict the design rules out (no borrow
/// is held while JavaScript runs). These share one.
trait State {
    /// `RefCell::borrow`.
    fn state(&self) -> Ref<'_, Inner>;
    /// `RefCell::borrow_mut`.
    fn state_mut(&self) -> RefMut<'_, Inner>;
}

impl State for RefCell<Inner> {
    fn state(&self) -> Ref<'_, Inner> {
        self.borrow()
    }

    fn state_mut(&self) -> RefMut<'_, Inner> {
        self.borrow_mut()
    }
}

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
            unlisten(&shared, self.listener);
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
    /// A client for `options`. Nothing connects until the first listener or write.
    pub fn new(options: ClientOptions) -> Self {
        install_panic_hook();
        let shared = Rc::new(RefCell::new(Inner {
            core: Core::new(options.core),
            url: options.url.unwrap_or_else(|| snippet::default_url().as_string().unwrap_or_default()),
            socket: None,
            callbacks: IdMap::default(),
            writes: IdMap::default(),
            status_listeners: Vec::new(),
            next_status_listener: 1,
            reconnect_timer: None,
            linger_timer: None,
            microtasks: Vec::new(),
            flush: None,
            flush_queued: false,
            token: options.token,
            socket_generation: 0,
            token_wait: None,
            heartbeat_ms: 25_000.0,
            last_frame_at: 0.0,
            watchdog: None,
            _wake_listeners: Vec::new(),
        }));
        let weak = Rc::downgrade(&shared);
        let flush = Closure::wrap(Box::new(move || {
            if let Some(shared) = weak.upgrade() {
                flush_microtasks(&shared);
            }
        }) as Box<dyn FnMut()>);
        let document = js_sys::Reflect::get(&global(), &JsValue::from_str("document")).unwrap_or(JsValue::UNDEFINED);
        let wake = |only_if_visible: bool| {
            let weak = Rc::downgrade(&shared);
            move |_: JsValue| {
                let Some(shared) = weak.upgrade() else { return };
                if only_if_visible && !snippet::page_visible() {
                    return;
                }
                shared.state_mut().reconnect_timer = None;
                drive(&shared, Core::reconnect_due);
            }
        };
        let listeners =
            [EventListener::new(&global(), "online", wake(false)), EventListener::new(&document, "visibilitychange", wake(true))];
        let mut inner = shared.state_mut();
        inner.flush = Some(flush);
        // A loop: `flatten().collect()` is larger in the wasm.
        for listener in listeners.into_iter().flatten() {
            inner._wake_listeners.push(listener);
        }
        drop(inner);
        Self { shared }
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

    fn listen(&self, path: &str, callback: Callback) -> Result<Subscription, Error> {
        let path = parse_path(path)?;
        self.ensure_open()?;
        let (listener, actions) = {
            let mut inner = self.shared.state_mut();
            let (listener, actions) = inner.core.listen(&path);
            inner.callbacks.insert(listener, callback);
            (listener, actions)
        };
        perform(&self.shared, actions);
        Ok(Subscription { shared: Rc::downgrade(&self.shared), listener })
    }

    fn ensure_open(&self) -> Result<(), Error> {
        if self.shared.state().core.is_closed() {
            return Err(Error { code: ErrorCode::FailedPrecondition, message: "the client is closed".into() });
        }
        Ok(())
    }

    /// Starts a write; its promise settles with `{ version }` or a `LivepathError`.
    fn write(&self, path: &str, op: WriteOp<Data>) -> js_sys::Promise {
        let path = match parse_path(path) {
            Ok(path) => path,
            Err(e) => return js_sys::Promise::reject(&e.into()),
        };
        let mut settle = None;
        let promise = js_sys::Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
        let key = idempotency_key();
        let actions = {
            let mut inner = self.shared.state_mut();
            let (req, actions) = inner.core.write(&path, op, key);
            if let Some(settle) = settle {
                inner.writes.insert(req, settle);
            }
            actions
        };
        perform(&self.shared, actions);
        promise
    }
}

/// Panics are reported on the browser console (once per module). `console_error_panic_hook::set_once`
/// does the same through a `std::sync::Once`, whose code is larger in the wasm than this flag.
fn install_panic_hook() {
    thread_local!(static INSTALLED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
    if !INSTALLED.with(|installed| installed.replace(true)) {
        std::panic::set_hook(Box::new(console_error_panic_hook::hook));
    }
}

/// A key no other write of any client will use: time, randomness and a counter.
fn idempotency_key() -> String {
    thread_local!(static COUNTER: std::cell::Cell<u64> = const { std::cell::Cell::new(0) });
    let n = COUNTER.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    let random = (js_sys::Math::random() * 9_007_199_254_740_991.0) as u64;
    // Decimal: the module formats decimal numbers anyway, and hexadecimal would add its own code.
    format!("{}-{random}-{n}", js_sys::Date::now() as u64)
}

fn unlisten(shared: &Shared, listener: ListenerId) {
    let actions = {
        let mut inner = shared.state_mut();
        inner.callbacks.remove(listener);
        inner.core.unlisten(listener)
    };
    perform(shared, actions);
}

/// Runs `event` on the core and performs the actions it returns.
fn drive(shared: &Shared, event: impl FnOnce(&mut Core<Data>) -> Vec<Action<Data>>) {
    let actions = event(&mut shared.state_mut().core);
    perform(shared, actions);
}

fn on_socket_event(weak: &Weak<RefCell<Inner>>, event: SocketEvent) {
    let Some(shared) = weak.upgrade() else { return };
    match event {
        SocketEvent::Open => {
            shared.state_mut().last_frame_at = js_sys::Date::now();
            start_watchdog(&shared);
            say_hello(&shared);
        }
        SocketEvent::Text(text) => {
            shared.state_mut().last_frame_at = js_sys::Date::now();
            if let Some(message) = decode::decode(&text) {
                if let livepath_protocol::ServerMessage::Welcome { heartbeat_ms, .. } = &message {
                    shared.state_mut().heartbeat_ms = *heartbeat_ms as f64;
                }
                drive(&shared, |core| core.received(message));
            }
        }
        SocketEvent::Closed => socket_lost(&shared),
    }
}

/// The socket is gone (closed, failed, or silent too long): forget it and let the core decide.
fn socket_lost(shared: &Shared) {
    let socket = {
        let mut inner = shared.state_mut();
        inner.watchdog = None;
        inner.token_wait = None;
        inner.socket.take()
    };
    drop(socket);
    drive(shared, |core| core.closed(js_sys::Math::random()));
}

/// While the socket is open, checks every second whether the server has been silent for more than
/// two heartbeats (by the wall clock), and if so treats the socket as lost.
fn start_watchdog(shared: &Shared) {
    let weak = Rc::downgrade(shared);
    let watchdog = Timeout::new(1000, move || {
        let Some(shared) = weak.upgrade() else { return };
        let silent = {
            let inner = shared.state();
            js_sys::Date::now() - inner.last_frame_at > 2.0 * inner.heartbeat_ms
        };
        if silent {
            web_sys::console::warn_1(&"livepath: the server went silent; reconnecting".into());
            socket_lost(&shared);
        } else {
            start_watchdog(&shared);
        }
    });
    shared.state_mut().watchdog = Some(watchdog);
}

/// Sends `hello` with a fresh token when one is configured, then lets the core resubscribe.
fn say_hello(shared: &Shared) {
    let (token, generation) = {
        let inner = shared.state();
        (inner.token.clone(), inner.socket_generation)
    };
    let send_hello = |shared: &Shared, token: Option<String>| {
        let hello = livepath_protocol::ClientMessage::<Data>::Hello { token };
        perform(shared, vec![Action::Send(hello)]);
        drive(shared, Core::opened);
    };
    let function = match token {
        None => return drive(shared, Core::opened),
        Some(Token::Static(token)) => return send_hello(shared, Some(token)),
        Some(Token::Function(function)) => function,
    };
    let answer = match function.call0(&JsValue::NULL) {
        Ok(answer) => answer,
        Err(e) => {
            web_sys::console::error_2(&"livepath: the token function threw:".into(), &e);
            return socket_lost(shared);
        }
    };
    if let Some(token) = answer.as_string() {
        return send_hello(shared, Some(token));
    }
    // A promise (or thenable): wait for it, then answer only if this socket is still the current one.
    let current = move |shared: &Shared| shared.state().socket_generation == generation && shared.state().socket.is_some();
    let weak = Rc::downgrade(shared);
    let resolved = Closure::wrap(Box::new(move |token: JsValue| {
        let Some(shared) = weak.upgrade() else { return };
        if current(&shared) {
            shared.state_mut().token_wait = None;
            send_hello(&shared, token.as_string());
        }
    }) as Box<dyn FnMut(JsValue)>);
    let weak = Rc::downgrade(shared);
    let rejected = Closure::wrap(Box::new(move |e: JsValue| {
        let Some(shared) = weak.upgrade() else { return };
        web_sys::console::error_2(&"livepath: the token function failed:".into(), &e);
        if current(&shared) {
            socket_lost(&shared);
        }
    }) as Box<dyn FnMut(JsValue)>);
    let promise = js_sys::Promise::resolve(&answer);
    let _ = promise.then2(&resolved, &rejected);
    shared.state_mut().token_wait = Some((resolved, rejected));
}

/// Performs actions in order. No `RefCell` borrow is held while JavaScript runs, so callbacks may
/// call back into the client (unsubscribe, write, close).
fn perform(shared: &Shared, actions: Vec<Action<Data>>) {
    for action in actions {
        match action {
            Action::Connect => {
                let weak = Rc::downgrade(shared);
                let url = {
                    let mut inner = shared.state_mut();
                    inner.socket_generation += 1;
                    inner.url.clone()
                };
                match Socket::open(&url, move |event| on_socket_event(&weak, event)) {
                    Ok(socket) => shared.state_mut().socket = Some(socket),
                    Err(e) => {
                        web_sys::console::error_2(&"livepath: cannot open a WebSocket:".into(), &e);
                        drive(shared, |core| core.closed(js_sys::Math::random()));
                    }
                }
            }
            Action::Send(message) => {
                if let Some(socket) = &shared.state().socket {
                    socket.send(&convert::encode(&message));
                }
            }
            Action::Disconnect => {
                let mut inner = shared.state_mut();
                let socket = inner.socket.take();
                inner.reconnect_timer = None;
                inner.linger_timer = None;
                inner.watchdog = None;
                inner.token_wait = None;
                drop(inner);
                drop(socket);
            }
            Action::Deliver { listeners, snapshot, later } => {
                if later {
                    queue(shared, Microtask::Deliver(listeners, snapshot));
                } else {
                    deliver(shared, &listeners, &snapshot);
                }
            }
            Action::Fail { listeners, code, message } => {
                let error = convert::error(code, &message);
                for listener in listeners {
                    let callback = shared.state_mut().callbacks.remove(listener);
                    match callback {
                        Some(Callback::Js { error: Some(on_error), .. }) => report(on_error.call1(&JsValue::NULL, &error)),
                        Some(_) => web_sys::console::error_1(&error),
                        None => {}
                    }
                }
            }
            Action::Settle { req, result } => {
                let settle = shared.state_mut().writes.remove(req);
                if let Some((resolve, reject)) = settle {
                    let _ = match result {
                        Ok(version) => resolve.call1(&JsValue::NULL, &convert::version(version)),
                        Err((code, message)) => reject.call1(&JsValue::NULL, &convert::error(code, &message)),
                    };
                }
            }
            Action::Status(status) => {
                // Cloned first: a listener may add or remove listeners. A loop: `map(..).collect()` is
                // larger in the wasm.
                let mut listeners = Vec::new();
                for (_, f) in &shared.state().status_listeners {
                    listeners.push(f.clone());
                }
                let value = JsValue::from_str(status.as_str());
                for f in listeners {
                    report(f.call1(&JsValue::NULL, &value));
                }
            }
            Action::ArmReconnect(ms) => {
                let weak = Rc::downgrade(shared);
                let timer = Timeout::new(ms, move || {
                    if let Some(shared) = weak.upgrade() {
                        shared.state_mut().reconnect_timer = None;
                        drive(&shared, Core::reconnect_due);
                    }
                });
                shared.state_mut().reconnect_timer = Some(timer);
            }
            Action::ArmLinger(ms) => {
                let weak = Rc::downgrade(shared);
                let timer = Timeout::new(ms, move || {
                    if let Some(shared) = weak.upgrade() {
                        shared.state_mut().linger_timer = None;
                        drive(&shared, Core::linger_expired);
                    }
                });
                shared.state_mut().linger_timer = Some(timer);
            }
            Action::CancelLinger => shared.state_mut().linger_timer = None,
            Action::ScheduleRelease => queue(shared, Microtask::Release),
            Action::Reconnect => socket_lost(shared),
        }
    }
}

/// Calls each listener still registered at the moment of its call. JavaScript listeners share one
/// snapshot object, made on first need.
fn deliver(shared: &Shared, listeners: &[ListenerId], snapshot: &Snapshot<Data>) {
    let mut js: Option<JsValue> = None;
    for listener in listeners {
        let callback = match shared.state().callbacks.get(*listener) {
            Some(Callback::Js { next, .. }) => Callback::Js { next: next.clone(), error: None },
            Some(Callback::Rust(f)) => Callback::Rust(f.clone()),
            None => continue,
        };
        match callback {
            Callback::Js { next, .. } => {
                let value = js.get_or_insert_with(|| convert::snapshot(snapshot));
                report(next.call1(&JsValue::NULL, value));
            }
            Callback::Rust(f) => {
                if let Ok(mut f) = f.try_borrow_mut() {
                    f(snapshot);
                }
            }
        }
    }
}

/// A callback that threw must not break the client: report it and carry on.
fn report(result: Result<JsValue, JsValue>) {
    if let Err(e) = result {
        web_sys::console::error_2(&"livepath: a callback threw:".into(), &e);
    }
}

fn queue(shared: &Shared, task: Microtask) {
    let mut inner = shared.state_mut();
    inner.microtasks.push(task);
    if !inner.flush_queued {
        inner.flush_queued = true;
        if let Some(flush) = &inner.flush {
            queue_microtask(flush.as_ref().unchecked_ref());
        }
    }
}

fn flush_microtasks(shared: &Shared) {
    let tasks = {
        let mut inner = shared.state_mut();
        inner.flush_queued = false;
        std::mem::take(&mut inner.microtasks)
    };
    for task in tasks {
        match task {
            Microtask::Deliver(listeners, snapshot) => deliver(shared, &listeners, &snapshot),
            Microtask::Release => drive(shared, Core::release_unused),
        }
    }
}

/// The JavaScript face of [`Client`].
#[wasm_bindgen]
impl Client {
    /// Listens to a document or collection; returns the function that stops listening.
    #[wasm_bindgen(js_name = onSnapshot, unchecked_return_type = "Unsubscribe")]
    pub fn on_snapshot_js(
        &self,
        path: &str,
        next: SnapshotCallback,
        error: Option<ErrorCallback>,
    ) -> Result<Function, JsValue> {
        let (next, error) = (next.unchecked_into(), error.map(JsCast::unchecked_into));
        let subscription = self.listen(path, Callback::Js { next, error })?;
        Ok(unsubscribe_function(subscription))
    }

    /// Creates or replaces the document at `path`.
    #[wasm_bindgen(unchecked_return_type = "Promise<{ version: number }>")]
    pub fn set(&self, path: &str, #[wasm_bindgen(unchecked_param_type = "object")] data: JsValue) -> js_sys::Promise {
        match check_object(&data) {
            Ok(()) => self.write(path, WriteOp::Set(Data(data))),
            Err(e) => js_sys::Promise::reject(&e.into()),
        }
    }

    /// Merges top-level fields into the existing document at `path`.
    #[wasm_bindgen(unchecked_return_type = "Promise<{ version: number }>")]
    pub fn update(&self, path: &str, #[wasm_bindgen(unchecked_param_type = "object")] data: JsValue) -> js_sys::Promise {
        match check_object(&data) {
            Ok(()) => self.write(path, WriteOp::Update(Data(data))),
            Err(e) => js_sys::Promise::reject(&e.into()),
        }
    }

    /// Deletes the document at `path`.
    #[wasm_bindgen(unchecked_return_type = "Promise<{ version: number }>")]
    pub fn delete(&self, path: &str) -> js_sys::Promise {
        self.write(path, WriteOp::Delete)
    }

    /// Calls `callback` with the current status now and on every change.
    #[wasm_bindgen(js_name = onStatus, unchecked_return_type = "Unsubscribe")]
    pub fn on_status(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(s: \"idle\" | \"connecting\" | \"open\" | \"reconnecting\" | \"closed\") => void")]
        callback: Function,
    ) -> Function {
        let (id, status) = {
            let mut inner = self.shared.state_mut();
            let id = inner.next_status_listener;
            inner.next_status_listener += 1;
            inner.status_listeners.push((id, callback.clone()));
            (id, inner.core.status())
        };
        report(callback.call1(&JsValue::NULL, &JsValue::from_str(status.as_str())));
        let weak = Rc::downgrade(&self.shared);
        closure_function(move || {
            if let Some(shared) = weak.upgrade() {
                shared.state_mut().status_listeners.retain(|(i, _)| *i != id);
            }
        })
    }

    /// Counts of what the client holds, for leak checks.
    #[wasm_bindgen(unchecked_return_type = "{ listeners: number; subscriptions: number; pendingWrites: number; socket: \"none\" | \"connecting\" | \"open\" | \"closing\" }")]
    pub fn stats(&self) -> JsValue {
        let inner = self.shared.state();
        let o = js_sys::Object::new();
        let set = |k: &str, v: JsValue| {
            let _ = js_sys::Reflect::set(&o, &JsValue::from_str(k), &v);
        };
        set("listeners", (inner.core.listener_count() as f64).into());
        set("subscriptions", (inner.core.subscription_count() as f64).into());
        set("pendingWrites", (inner.core.pending_write_count() as f64).into());
        set("socket", inner.socket.as_ref().map_or("none", Socket::state).into());
        o.into()
    }

    /// The current connection status.
    #[wasm_bindgen(getter, unchecked_return_type = "\"idle\" | \"connecting\" | \"open\" | \"reconnecting\" | \"closed\"")]
    pub fn status(&self) -> String {
        self.shared.state().core.status().as_str().to_owned()
    }

    /// Ends everything: the socket closes, pending writes reject, later calls fail with
    /// `failed-precondition`.
    pub fn close(&self) {
        let actions = self.shared.state_mut().core.close();
        perform(&self.shared, actions);
        let mut inner = self.shared.state_mut();
        inner.callbacks.clear();
        inner.microtasks.clear();
    }
}

/// The server's default limit on a frame (and on a document). A write whose frame would exceed it
/// is refused here: the server would close the socket (1009) and every resend would do the same.
const MAX_FRAME_BYTES: usize = 1 << 20;
/// Room for the envelope around the data: type, req, path (≤ 64 × 256 bytes) and key.
const ENVELOPE_BYTES: usize = 17 * 1024;

fn check_object(data: &JsValue) -> Result<(), Error> {
    let invalid = |message: String| Error { code: ErrorCode::InvalidArgument, message };
    if !data.is_object() || js_sys::Array::is_array(data) {
        return Err(invalid("data must be a plain object".into()));
    }
    let json = js_sys::JSON::stringify(data).map_err(|e| {
        let reason = snippet::error_message(&e).as_string().unwrap_or_default();
        invalid(format!("data cannot be written as JSON: {reason}"))
    })?;
    let json = json.as_string().unwrap_or_default();
    if json.len() + ENVELOPE_BYTES > MAX_FRAME_BYTES {
        let limit = MAX_FRAME_BYTES - ENVELOPE_BYTES;
        return Err(invalid(format!("data is {} bytes of JSON; the limit is {limit}", json.len())));
    }
    if nesting(&json) > MAX_DEPTH {
        return Err(invalid(format!("data nests deeper than {MAX_DEPTH} levels")));
    }
    Ok(())
}

/// How deep documents may nest. The server's JSON parser stops at 128 levels, frame included, and
/// could then not even tell which write failed.
const MAX_DEPTH: usize = 100;

/// The deepest nesting of objects and arrays in JSON text (brackets inside strings do not count).
fn nesting(json: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in json.bytes() {
        match (in_string, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (true, false, _) => {}
            (false, _, b'"') => in_string = true,
            (false, _, b'{' | b'[') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (false, _, b'}' | b']') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::nesting;

    #[test]
    fn nesting_counts_brackets_outside_strings() {
        assert_eq!(nesting(r#"{"a":[1,{"b":2}]}"#), 3);
        assert_eq!(nesting(r#"{"a":"[[[{{{","b":"\"[["}"#), 1);
        assert_eq!(nesting(&format!("{}{}", "[".repeat(150), "]".repeat(150))), 150);
    }
}

/// Wraps a Rust closure as a JS function. The closure is handed to the JS garbage collector
/// (`into_js_value`), which frees it once the function is unreachable: nothing is leaked.
fn closure_function(f: impl FnMut() + 'static) -> Function {
    Closure::wrap(Box::new(f) as Box<dyn FnMut()>).into_js_value().unchecked_into()
}

/// The idempotent unsubscribe function handed to JavaScript: the first call drops the subscription.
pub(crate) fn unsubscribe_function(subscription: Subscription) -> Function {
    let mut subscription = Some(subscription);
    closure_function(move || drop(subscription.take()))
}

