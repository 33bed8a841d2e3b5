//! The driver: the client's state, and the performing of the core's actions — deliveries, write
//! promises, status callbacks, timers and the end-of-task microtask. No `RefCell` borrow is held while
//! JavaScript runs, so callbacks may call back into the client (unsubscribe, write, close).

use std::{
    cell::{Ref, RefCell, RefMut},
    rc::Rc,
};

use gloo_timers::callback::Timeout;
use js_sys::Function;
use livepath_protocol::{ClientMessage, Path};
use wasm_bindgen::{JsValue, closure::Closure, prelude::wasm_bindgen};

use super::{Token, cache, link::Link};
use crate::{
    Data,
    browser::{convert, decode, function::gc_function, snippet, socket::SocketEvent, tabs::SharedTabs, wake::WakeUps},
    core::{Action, Core, CoreOptions, IdMap, ListenerId, Snapshot, WriteOp},
};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = queueMicrotask)]
    fn queue_microtask(callback: &Function);
}

/// A listener's callbacks.
pub(crate) enum Callback {
    /// From JavaScript: `next(snapshot)` and the optional `error(e)`.
    Js { next: Function, error: Option<Function> },
    /// From Rust: called with the snapshot.
    Rust(RustCallback),
}

/// A Rust listener, shared so it can be called with no borrow of the client held.
pub(crate) type RustCallback = Rc<RefCell<dyn FnMut(&Snapshot<Data>)>>;

/// Work queued for the end of the current task.
enum Microtask {
    /// A cached snapshot for listeners that were just added.
    Deliver(Vec<ListenerId>, Snapshot<Data>),
    /// Release subscriptions left without listeners.
    Release,
    /// A listener refused before it began: its error callback, if it is still there.
    Fail(ListenerId, JsValue),
    /// No socket could be made (see [`connect`]): fail the listeners and writes still there, with this
    /// `LivepathError`.
    Refused(JsValue),
}

/// Everything a client owns. Held in `Rc<RefCell<_>>`; browser callbacks hold only a `Weak`, so
/// dropping the last `Client` handle releases the socket, the timers and the closures.
pub(super) struct Inner {
    /// The decisions.
    pub(super) core: Core<Data>,
    /// The socket and its token.
    pub(super) link: Link,
    /// With `tabs: "shared"`: this tab's part among the tabs sharing one socket (which the link's
    /// sockets go through). Declared after `link`, so the socket closes first.
    pub(super) tabs: Option<SharedTabs>,
    /// Listener callbacks; a listener missing here is never called.
    callbacks: IdMap<Callback>,
    /// `resolve` and `reject` of each write's promise, by write id.
    writes: IdMap<(Function, Function)>,
    /// The `onStatus` callbacks (`browser::snippet::status_listeners`).
    pub(super) status_listeners: JsValue,
    /// Armed while waiting to reconnect; dropping it cancels it.
    reconnect_timer: Option<Timeout>,
    /// Armed while lingering with nothing to do; dropping it cancels it.
    linger_timer: Option<Timeout>,
    /// Armed while a socket is open, to check that the server still speaks; dropping it cancels it.
    watchdog: Option<Timeout>,
    /// Work for the end of the current task.
    microtasks: Vec<Microtask>,
    /// Runs `microtasks`; created once, passed to `queueMicrotask` whenever work is queued. Owned by
    /// the JS garbage collector (`into_js_value`), not by this value: a microtask queued just before the
    /// client is dropped still finds it, and does nothing (it holds only a `Weak`).
    flush: Option<Function>,
    /// A flush is queued.
    flush_queued: bool,
    /// `online` and the page becoming visible: retry at once instead of waiting for the backoff.
    _wake_ups: Option<WakeUps>,
    /// The persistent cache, while persistence is on; dropped (closed) when it fails.
    pub(super) cache: Option<cache::Cache>,
    /// Armed while changed state waits to be written to the cache.
    pub(super) flush_timer: Option<Timeout>,
}

pub(super) type Shared = Rc<RefCell<Inner>>;

/// Borrows of the client's state. `RefCell`'s own borrows are `#[track_caller]`: each of some forty call
/// sites would carry its own panic location, for a conflict the design rules out (no borrow is held
/// while JavaScript runs). These share one.
pub(super) trait State {
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

/// The state of a new client, with its microtask callback, its wake-up listeners and, when
/// `options.persistent`, the cache of client `name` (at most `cache_bytes`), opened at once: writes an
/// earlier page left are sent even if this one never listens nor writes.
pub(super) fn start(
    mut options: CoreOptions,
    link: Link,
    tabs: Option<SharedTabs>,
    name: &str,
    cache_bytes: f64,
) -> Shared {
    options.persistent &= cache::COMPILED;
    let persistent = options.persistent;
    let shared = Rc::new(RefCell::new(Inner {
        core: Core::new(options),
        link,
        tabs,
        callbacks: IdMap::default(),
        writes: IdMap::default(),
        status_listeners: snippet::status_listeners(),
        reconnect_timer: None,
        linger_timer: None,
        watchdog: None,
        microtasks: Vec::new(),
        flush: None,
        flush_queued: false,
        _wake_ups: None,
        cache: None,
        flush_timer: None,
    }));
    let weak = Rc::downgrade(&shared);
    let flush = gc_function(move || {
        if let Some(shared) = weak.upgrade() {
            flush_microtasks(&shared);
        }
    });
    let weak = Rc::downgrade(&shared);
    let wake_ups = WakeUps::new(move || {
        if let Some(shared) = weak.upgrade() {
            shared.state_mut().reconnect_timer = None;
            drive(&shared, Core::reconnect_due);
        }
    });
    let cache = if persistent { cache::open(&shared, name, cache_bytes) } else { None };
    let mut inner = shared.state_mut();
    inner.flush = Some(flush);
    inner._wake_ups = Some(wake_ups);
    inner.cache = cache;
    drop(inner);
    shared
}

/// `clearPersistence()`: a promise that settles once the cache is empty, or rejects with
/// `failed-precondition` while listeners or writes are active.
pub(super) fn clear_persistence(shared: &Shared) -> JsValue {
    let cleared = shared.state_mut().core.clear_persistence();
    match cleared {
        Err((code, message)) => rejected(convert::error(code, &message)),
        Ok(true) => cache::clear(shared),
        Ok(false) => resolved(),
    }
}

/// Adds a listener (`add` adds it to the core) whose callback is `callback`.
pub(super) fn listen(
    shared: &Shared,
    add: impl FnOnce(&mut Core<Data>) -> (ListenerId, Vec<Action<Data>>),
    callback: Callback,
) -> ListenerId {
    let (listener, actions) = {
        let mut inner = shared.state_mut();
        let (listener, actions) = add(&mut inner.core);
        inner.callbacks.insert(listener, callback);
        (listener, actions)
    };
    perform(shared, actions);
    listener
}

/// A listener that fails with `error` at the end of the task (unless removed first), never added to
/// the core.
pub(super) fn refuse(shared: &Shared, callback: Callback, error: JsValue) -> ListenerId {
    let listener = {
        let mut inner = shared.state_mut();
        let listener = inner.core.new_listener_id();
        inner.callbacks.insert(listener, callback);
        listener
    };
    queue(shared, Microtask::Fail(listener, error));
    listener
}

pub(super) fn unlisten(shared: &Shared, listener: ListenerId) {
    let actions = {
        let mut inner = shared.state_mut();
        inner.callbacks.remove(listener);
        inner.core.unlisten(listener)
    };
    perform(shared, actions);
}

/// Starts a write; the promise settles when the core settles it.
pub(super) fn write(shared: &Shared, path: &Path, op: WriteOp<Data>, key: String) -> JsValue {
    let (promise, settle) = deferred();
    let actions = {
        let mut inner = shared.state_mut();
        let (req, actions) = inner.core.write(path, op, key);
        inner.writes.insert(req, settle);
        actions
    };
    perform(shared, actions);
    promise
}

/// A promise resolved with `undefined`.
pub(super) fn resolved() -> JsValue {
    let (promise, (resolve, _)) = deferred();
    snippet::report(&resolve, &JsValue::UNDEFINED);
    promise
}

/// A promise rejected with `error`.
pub(super) fn rejected(error: JsValue) -> JsValue {
    let (promise, (_, reject)) = deferred();
    snippet::report(&reject, &error);
    promise
}

/// A pending promise and its `resolve` and `reject`.
fn deferred() -> (JsValue, (Function, Function)) {
    let parts = snippet::deferred();
    let function = |i| Function::from(snippet::item(&parts, i));
    (snippet::item(&parts, 0), (function(1), function(2)))
}

pub(super) fn close(shared: &Shared) {
    let actions = shared.state_mut().core.close();
    perform(shared, actions);
    let mut inner = shared.state_mut();
    inner.callbacks.clear();
    inner.microtasks.clear();
    inner.flush_timer = None;
    // The cache closes too (after the writes close() forgot), releasing the tab's lock, so another
    // tab may take over what this client left; and another tab leads the shared socket.
    let cache = inner.cache.take();
    let tabs = inner.tabs.take();
    drop(inner);
    drop(cache);
    drop(tabs);
}

pub(super) fn on_status(shared: &Shared, callback: &JsValue) -> JsValue {
    let (listeners, status) = {
        let inner = shared.state();
        (inner.status_listeners.clone(), inner.core.status())
    };
    snippet::add_status_listener(&listeners, callback, &JsValue::from_str(status.as_str()))
}

/// Runs `event` on the core and performs the actions it returns.
pub(super) fn drive(shared: &Shared, event: impl FnOnce(&mut Core<Data>) -> Vec<Action<Data>>) {
    let actions = event(&mut shared.state_mut().core);
    perform(shared, actions);
}

/// Arms the timer in `slot` to run `event` on the core after `ms`, unless the client is gone by then.
/// A timer in its slot is cancelled by dropping it; a fired one leaves its slot first.
fn arm(
    shared: &Shared,
    ms: u32,
    slot: fn(&mut Inner) -> &mut Option<Timeout>,
    event: fn(&mut Core<Data>) -> Vec<Action<Data>>,
) {
    let weak = Rc::downgrade(shared);
    let timer = Timeout::new(ms, move || {
        if let Some(shared) = weak.upgrade() {
            *slot(&mut shared.state_mut()) = None;
            drive(&shared, event);
        }
    });
    *slot(&mut shared.state_mut()) = Some(timer);
}

/// Performs actions in order.
pub(super) fn perform(shared: &Shared, actions: Vec<Action<Data>>) {
    for action in actions {
        match action {
            Action::Connect => connect(shared),
            Action::Send(message) => {
                let inner = shared.state();
                let query = match &message {
                    ClientMessage::Subscribe { id, query: Some(_), .. } => inner.core.query_text(*id),
                    _ => None,
                };
                inner.link.send(&convert::encode(&message, query));
            }
            Action::Tell(message) => {
                // Only a client sharing its socket with other tabs has anyone to tell.
                let inner = shared.state();
                if inner.tabs.is_some() {
                    inner.link.tell(&convert::encode(&message, None));
                }
            }
            Action::Disconnect => {
                let mut inner = shared.state_mut();
                let socket = inner.link.take();
                inner.reconnect_timer = None;
                inner.linger_timer = None;
                inner.watchdog = None;
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
                let error_value = convert::error(code, &message);
                for listener in listeners {
                    let callback = shared.state_mut().callbacks.remove(listener);
                    if let Some(callback) = callback {
                        failed(&callback, &error_value);
                    }
                }
            }
            Action::Settle { req, result } => {
                let settle = shared.state_mut().writes.remove(req);
                if let Some((resolve, reject)) = settle {
                    match result {
                        Ok(version) => snippet::report(&resolve, &convert::version(version)),
                        Err((code, message)) => snippet::report(&reject, &convert::error(code, &message)),
                    }
                }
            }
            Action::Status(status) => {
                let listeners = shared.state().status_listeners.clone();
                snippet::tell_status(&listeners, &JsValue::from_str(status.as_str()));
            }
            Action::ArmReconnect(ms) => arm(shared, ms, |i| &mut i.reconnect_timer, Core::reconnect_due),
            Action::ArmLinger(ms) => arm(shared, ms, |i| &mut i.linger_timer, Core::linger_expired),
            Action::CancelLinger => shared.state_mut().linger_timer = None,
            Action::ArmWatchdog(ms) => {
                arm(shared, ms, |i| &mut i.watchdog, |core| core.watchdog_due(js_sys::Date::now()))
            }
            Action::ScheduleRelease => queue(shared, Microtask::Release),
            Action::Reconnect => socket_lost(shared),
            action @ (Action::Cache(..) | Action::StoreSnapshot { .. } | Action::StoreWrite(_)) => {
                cache::perform(shared, action)
            }
            Action::ArmFlush(ms) => arm(shared, ms, |i| &mut i.flush_timer, Core::flush_due),
        }
    }
}

/// Tells a listener's error callback (or, where it has none, the console) that it ended with `error`.
fn failed(callback: &Callback, error: &JsValue) {
    match callback {
        Callback::Js { error: Some(on_error), .. } => snippet::failed(on_error, error),
        _ => snippet::failed(&JsValue::UNDEFINED, error),
    }
}

/// No socket can be made, and trying again would not help: every listener and write still there
/// fails with `error`, once, and the client goes back to idle.
/// The core forgets them all first; their callbacks and promises here are the same set, taken one at a
/// time so that none is called with a borrow held, nor after an earlier callback unsubscribed it.
fn refused(shared: &Shared, error: &JsValue) {
    let actions = shared.state_mut().core.cannot_connect();
    loop {
        let first = shared.state_mut().callbacks.take_first();
        let Some((_, callback)) = first else { break };
        failed(&callback, error);
    }
    loop {
        let first = shared.state_mut().writes.take_first();
        let Some((_, (_, reject))) = first else { break };
        snippet::report(&reject, error);
    }
    perform(shared, actions);
}

/// Opens a socket to the client's URL (the core asked for one). When none can be made, every
/// listener and write gets the reason (an `invalid-argument` error) once, and nothing retries.
/// The WebSocket class is constructed under the client's borrow: a class that calls back into the
/// client while it is being constructed is not supported (a WebSocket never does).
fn connect(shared: &Shared) {
    let weak = Rc::downgrade(shared);
    let opened = shared.state_mut().link.open(move |event| {
        if let Some(shared) = weak.upgrade() {
            on_socket_event(&shared, event);
        }
    });
    if let Err(error) = opened {
        // At the end of the task, not inside the `onSnapshot` or `set` that asked for the socket; and
        // listeners unsubscribed by then are not told.
        queue(shared, Microtask::Refused(error));
    }
}

fn on_socket_event(shared: &Shared, event: SocketEvent) {
    match event {
        SocketEvent::Open => {
            drive(shared, |core| core.socket_opened(js_sys::Date::now()));
            say_hello(shared);
        }
        SocketEvent::Text(text) => {
            shared.state_mut().core.heard(js_sys::Date::now());
            if let Some(message) = decode::decode(&text) {
                drive(shared, |core| core.received(message));
            }
        }
        SocketEvent::Closed => socket_lost(shared),
    }
}

/// The socket is gone (closed, failed, refused the credentials, or silent too long): forget it and
/// let the core decide.
fn socket_lost(shared: &Shared) {
    let socket = {
        let mut inner = shared.state_mut();
        inner.watchdog = None;
        inner.link.take()
    };
    drop(socket);
    drive(shared, |core| core.closed(js_sys::Math::random()));
}

/// Sends `hello` with a fresh token when one is configured (waiting for a token promise if need be),
/// then lets the core resubscribe.
fn say_hello(shared: &Shared) {
    let (token, generation) = {
        let inner = shared.state();
        (inner.link.token(), inner.link.generation())
    };
    let hello = |shared: &Shared, token: Option<String>| {
        shared.state_mut().core.hello_sent(token.is_some());
        perform(shared, vec![Action::Send(ClientMessage::Hello { token })]);
        drive(shared, Core::opened);
    };
    let function = match token {
        None => return drive(shared, Core::opened),
        Some(Token::Static(token)) => return hello(shared, Some(token)),
        Some(Token::Function(function)) => function,
    };
    // A late answer counts only if this socket is still the current one.
    let weak = Rc::downgrade(shared);
    let answer = Closure::wrap(Box::new(move |token: JsValue| {
        let Some(shared) = weak.upgrade() else { return };
        if !shared.state().link.is_current(generation) {
            return;
        }
        shared.state_mut().link.token_settled();
        match token.as_bool() {
            Some(false) => socket_lost(&shared),
            _ => hello(&shared, token.as_string()),
        }
    }) as Box<dyn FnMut(JsValue)>);
    let now = snippet::ask_token(&function, answer.as_ref());
    match (now.as_string(), now.as_bool()) {
        (Some(token), _) => hello(shared, Some(token)),
        (None, Some(false)) => socket_lost(shared),
        _ => shared.state_mut().link.wait_for_token(answer, now),
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
                snippet::report(&next, value);
            }
            Callback::Rust(f) => {
                if let Ok(mut f) = f.try_borrow_mut() {
                    f(snapshot);
                }
            }
        }
    }
}

fn queue(shared: &Shared, task: Microtask) {
    let mut inner = shared.state_mut();
    inner.microtasks.push(task);
    if !inner.flush_queued {
        inner.flush_queued = true;
        if let Some(flush) = &inner.flush {
            queue_microtask(flush);
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
            Microtask::Refused(error) => refused(shared, &error),
            Microtask::Fail(listener, error) => {
                let callback = shared.state_mut().callbacks.remove(listener);
                if let Some(callback) = callback {
                    failed(&callback, &error);
                }
            }
        }
    }
}
