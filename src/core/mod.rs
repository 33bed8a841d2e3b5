//! The sans-IO client: every decision the client makes, with no socket, timer or JavaScript inside.
//!
//! [`Core`] takes events (a listener added, a frame received, the socket closed, a timer fired) and
//! returns [`Action`]s (open a socket, send this, deliver that snapshot, arm a timer). The browser shell
//! in `crate::browser` performs the actions; the logic is unit-tested natively with `cargo test`.
//!
//! It is generic over `D`, the type holding a document's data: `JsValue` in the browser, anything
//! `Clone` in tests.

mod backoff;
mod collection;

use std::collections::{BTreeMap, HashMap, VecDeque};

use livepath_protocol::{ClientMessage, ErrorCode, Path, PathKind, ServerMessage};

pub use backoff::{Backoff, BackoffConfig};
pub use collection::{CollectionDoc, CollectionView};

/// Identifies one `onSnapshot` registration.
pub type ListenerId = u64;
/// Identifies one write (`req` on the wire).
pub type WriteId = u64;

/// The connection status users see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// No socket: nothing to listen to or write.
    Idle,
    /// Opening the first socket.
    Connecting,
    /// The socket is open.
    Open,
    /// The socket was lost; retrying with backoff.
    Reconnecting,
    /// `close()` was called; the client is finished.
    Closed,
}

impl Status {
    /// The string the JavaScript API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Connecting => "connecting",
            Self::Open => "open",
            Self::Reconnecting => "reconnecting",
            Self::Closed => "closed",
        }
    }
}

/// A document's state as last seen.
#[derive(Debug, Clone, PartialEq)]
pub struct DocState<D> {
    /// The version of its last write (0: never written).
    pub version: u64,
    /// Whether it exists.
    pub exists: bool,
    /// Its data, when it exists.
    pub data: Option<D>,
}

/// Added, modified or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// New in the collection.
    Added,
    /// Changed in place.
    Modified,
    /// Gone from the collection.
    Removed,
}

impl ChangeKind {
    /// The string the JavaScript API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "added",
            Self::Modified => "modified",
            Self::Removed => "removed",
        }
    }
}

/// One change of a collection snapshot, with Firestore's indexes (-1 where not applicable).
#[derive(Debug, Clone, PartialEq)]
pub struct DocChange<D> {
    /// What happened.
    pub kind: ChangeKind,
    /// The document id.
    pub id: String,
    /// The document after the change (for a removal: as it was, with the removal's version).
    pub doc: DocState<D>,
    /// Its index before the change; -1 for `added`.
    pub old_index: i64,
    /// Its index after the change; -1 for `removed`.
    pub new_index: i64,
}

/// What a listener receives.
#[derive(Debug, Clone, PartialEq)]
pub enum Snapshot<D> {
    /// A document's state.
    Document {
        /// The document path.
        path: String,
        /// Its state.
        state: DocState<D>,
        /// True when delivered from the client's copy while not connected.
        from_cache: bool,
    },
    /// A collection's documents and what changed since this listener's previous snapshot.
    Collection {
        /// The collection path.
        path: String,
        /// The documents, ordered by id.
        docs: Vec<CollectionDoc<D>>,
        /// The changes, in order.
        changes: Vec<DocChange<D>>,
        /// The highest version seen.
        version: u64,
        /// True when delivered from the client's copy while not connected.
        from_cache: bool,
    },
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action<D> {
    /// Open a socket (none is open).
    Connect,
    /// Send this message on the open socket.
    Send(ClientMessage<D>),
    /// Close the socket, if any, and cancel the timers.
    Disconnect,
    /// Call these listeners with this snapshot (skipping any removed meanwhile).
    Deliver {
        /// Who.
        listeners: Vec<ListenerId>,
        /// What.
        snapshot: Snapshot<D>,
        /// Deliver in a microtask rather than now: the listener was just added, inside the caller's code.
        later: bool,
    },
    /// The subscription failed: call these listeners' error callbacks; they are removed already.
    Fail {
        /// Who.
        listeners: Vec<ListenerId>,
        /// Why.
        code: ErrorCode,
        /// What people read.
        message: String,
    },
    /// Settle a write's promise.
    Settle {
        /// Which write.
        req: WriteId,
        /// The committed version, or why it failed.
        result: Result<u64, (ErrorCode, String)>,
    },
    /// Tell status listeners.
    Status(Status),
    /// Call [`Core::reconnect_due`] after this many milliseconds.
    ArmReconnect(u32),
    /// Call [`Core::linger_expired`] after this many milliseconds (replaces an armed linger).
    ArmLinger(u32),
    /// Forget an armed linger.
    CancelLinger,
    /// Call [`Core::release_unused`] at the end of the current task (a microtask).
    ScheduleRelease,
}

/// The knobs of [`Core`].
#[derive(Debug, Clone)]
pub struct CoreOptions {
    /// Keep the socket this long after the last listener and write are gone.
    pub linger_ms: u32,
    /// Writes held while not acknowledged; past it, writes fail with `resource-exhausted`.
    pub max_pending_writes: usize,
    /// Reconnect delays.
    pub backoff: BackoffConfig,
}

impl Default for CoreOptions {
    fn default() -> Self {
        Self { linger_ms: 10_000, max_pending_writes: 1000, backoff: BackoffConfig::default() }
    }
}

/// What a write does.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp<D> {
    /// Create or replace.
    Set(D),
    /// Merge top-level fields.
    Update(D),
    /// Delete.
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// No socket, none wanted.
    Idle,
    /// A socket is opening (first time: `reconnecting` is false).
    Opening { reconnecting: bool },
    /// The socket is open.
    Open,
    /// Waiting for the backoff timer before opening again.
    Waiting,
    /// The client is closed for good.
    Closed,
}

#[derive(Debug)]
enum View<D> {
    Document(Option<DocState<D>>),
    Collection(Option<CollectionView<D>>),
}

#[derive(Debug)]
struct Subscription<D> {
    /// The wire id, unique per client (so per connection too).
    id: u64,
    /// Its listeners, in registration order.
    listeners: Vec<ListenerId>,
    /// The last state received, if any.
    view: View<D>,
}

#[derive(Debug)]
struct PendingWrite<D> {
    req: WriteId,
    path: String,
    op: WriteOp<D>,
    /// The idempotency key: a resend after a reconnect carries the same one.
    key: String,
}

/// The client's state machine. See the module docs.
#[derive(Debug)]
pub struct Core<D> {
    options: CoreOptions,
    /// Listener → its path.
    listeners: BTreeMap<ListenerId, String>,
    /// Path → its one server subscription, shared by all its listeners.
    subscriptions: HashMap<String, Subscription<D>>,
    /// Wire id → path.
    wire_ids: HashMap<u64, String>,
    /// Writes not yet acknowledged, in the order they were made (and are sent).
    writes: VecDeque<PendingWrite<D>>,
    next_listener: ListenerId,
    next_wire_id: u64,
    next_req: WriteId,
    link: Link,
    backoff: Backoff,
    /// A release check is queued (`ScheduleRelease` sent, `release_unused` not yet called).
    release_scheduled: bool,
    /// A linger timer is armed.
    lingering: bool,
}

impl<D: Clone> Core<D> {
    /// A client with nothing to do.
    pub fn new(options: CoreOptions) -> Self {
        let backoff = Backoff::new(options.backoff);
        Self {
            options,
            listeners: BTreeMap::new(),
            subscriptions: HashMap::new(),
            wire_ids: HashMap::new(),
            writes: VecDeque::new(),
            next_listener: 1,
            next_wire_id: 1,
            next_req: 1,
            link: Link::Idle,
            backoff,
            release_scheduled: false,
            lingering: false,
        }
    }

    /// The status users see.
    pub fn status(&self) -> Status {
        match self.link {
            Link::Idle => Status::Idle,
            Link::Opening { reconnecting: false } => Status::Connecting,
            Link::Opening { reconnecting: true } | Link::Waiting => Status::Reconnecting,
            Link::Open => Status::Open,
            Link::Closed => Status::Closed,
        }
    }

    /// Live listeners.
    pub fn listener_count(&self) -> usize {
        self.listeners.len()
    }

    /// Server subscriptions held (one per path with listeners, until released).
    pub fn subscription_count(&self) -> usize {
        self.subscriptions.len()
    }

    /// Writes not yet acknowledged.
    pub fn pending_write_count(&self) -> usize {
        self.writes.len()
    }

    /// Whether the client was closed.
    pub fn is_closed(&self) -> bool {
        self.link == Link::Closed
    }

    fn set_link(&mut self, link: Link, actions: &mut Vec<Action<D>>) {
        let before = self.status();
        self.link = link;
        if self.status() != before {
            actions.push(Action::Status(self.status()));
        }
    }

    /// Makes sure a socket is open or opening; cancels a linger.
    fn want_socket(&mut self, actions: &mut Vec<Action<D>>) {
        if self.lingering {
            self.lingering = false;
            actions.push(Action::CancelLinger);
        }
        if self.link == Link::Idle {
            self.set_link(Link::Opening { reconnecting: false }, actions);
            actions.push(Action::Connect);
        }
    }

    fn subscribe_message(&self, path: &str, sub: &Subscription<D>) -> ClientMessage<D> {
        let since = match &sub.view {
            View::Document(state) => state.as_ref().map(|s| s.version),
            View::Collection(view) => view.as_ref().map(|v| v.version),
        };
        ClientMessage::Subscribe { id: sub.id, path: path.to_owned(), since }
    }

    /// Adds a listener to `path`. A path that already has a snapshot delivers it to the new listener
    /// (later, in a microtask) without asking the server.
    pub fn listen(&mut self, path: &Path) -> (ListenerId, Vec<Action<D>>) {
        let mut actions = Vec::new();
        let listener = self.next_listener;
        self.next_listener += 1;
        self.listeners.insert(listener, path.as_str().to_owned());
        if let Some(sub) = self.subscriptions.get_mut(path.as_str()) {
            sub.listeners.push(listener);
            let from_cache = self.link != Link::Open;
            if let Some(snapshot) = current_snapshot(path.as_str(), &sub.view, from_cache) {
                actions.push(Action::Deliver { listeners: vec![listener], snapshot, later: true });
            }
        } else {
            let id = self.next_wire_id;
            self.next_wire_id += 1;
            let view = match path.kind() {
                PathKind::Document => View::Document(None),
                PathKind::Collection => View::Collection(None),
            };
            let sub = Subscription { id, listeners: vec![listener], view };
            if self.link == Link::Open {
                actions.push(Action::Send(self.subscribe_message(path.as_str(), &sub)));
            }
            self.wire_ids.insert(id, path.as_str().to_owned());
            self.subscriptions.insert(path.as_str().to_owned(), sub);
        }
        self.want_socket(&mut actions);
        (listener, actions)
    }

    /// Removes a listener (idempotent). Its path's server subscription is released at the end of the
    /// current task if no listener came back by then, so React StrictMode's mount → unmount → mount
    /// keeps one subscription.
    pub fn unlisten(&mut self, listener: ListenerId) -> Vec<Action<D>> {
        let mut actions = Vec::new();
        let Some(path) = self.listeners.remove(&listener) else { return actions };
        if let Some(sub) = self.subscriptions.get_mut(&path) {
            sub.listeners.retain(|l| *l != listener);
            if sub.listeners.is_empty() && !self.release_scheduled {
                self.release_scheduled = true;
                actions.push(Action::ScheduleRelease);
            }
        }
        actions
    }

    /// Releases the subscriptions left without listeners, and starts the linger once nothing is left.
    pub fn release_unused(&mut self) -> Vec<Action<D>> {
        let mut actions = Vec::new();
        self.release_scheduled = false;
        let unused: Vec<String> =
            self.subscriptions.iter().filter(|(_, s)| s.listeners.is_empty()).map(|(p, _)| p.clone()).collect();
        for path in unused {
            if let Some(sub) = self.subscriptions.remove(&path) {
                self.wire_ids.remove(&sub.id);
                if self.link == Link::Open {
                    actions.push(Action::Send(ClientMessage::Unsubscribe { id: sub.id }));
                }
            }
        }
        self.maybe_linger(&mut actions);
        actions
    }

    fn idle_work(&self) -> bool {
        self.subscriptions.is_empty() && self.writes.is_empty()
    }

    fn maybe_linger(&mut self, actions: &mut Vec<Action<D>>) {
        if !self.idle_work() {
            return;
        }
        match self.link {
            Link::Open | Link::Opening { .. } if !self.lingering => {
                self.lingering = true;
                actions.push(Action::ArmLinger(self.options.linger_ms));
            }
            Link::Waiting => {
                // Nothing left to reconnect for.
                self.set_link(Link::Idle, actions);
                actions.push(Action::Disconnect);
            }
            _ => {}
        }
    }

    /// The linger timer fired: close the socket if there is still nothing to do.
    pub fn linger_expired(&mut self) -> Vec<Action<D>> {
        let mut actions = Vec::new();
        if !self.lingering {
            return actions;
        }
        self.lingering = false;
        if self.idle_work() && matches!(self.link, Link::Open | Link::Opening { .. }) {
            self.set_link(Link::Idle, &mut actions);
            actions.push(Action::Disconnect);
        }
        actions
    }

    /// The socket opened: resubscribe every path with the last version seen, then resend every
    /// unacknowledged write (same idempotency keys), in order.
    pub fn opened(&mut self) -> Vec<Action<D>> {
        let mut actions = Vec::new();
        if !matches!(self.link, Link::Opening { .. }) {
            return actions;
        }
        self.set_link(Link::Open, &mut actions);
        self.backoff.reset();
        let mut paths: Vec<&String> = self.subscriptions.keys().collect();
        paths.sort_by_key(|p| self.subscriptions[*p].id);
        for path in paths {
            actions.push(Action::Send(self.subscribe_message(path, &self.subscriptions[path])));
        }
        for w in &self.writes {
            actions.push(Action::Send(write_message(w)));
        }
        self.maybe_linger(&mut actions);
        actions
    }

    /// The socket closed or failed. `random` is uniform in `[0, 1)`, for the backoff's jitter.
    pub fn closed(&mut self, random: f64) -> Vec<Action<D>> {
        let mut actions = Vec::new();
        match self.link {
            Link::Open | Link::Opening { .. } => {}
            Link::Idle | Link::Waiting | Link::Closed => return actions,
        }
        if self.idle_work() {
            self.lingering = false;
            actions.push(Action::CancelLinger);
            self.set_link(Link::Idle, &mut actions);
            return actions;
        }
        self.set_link(Link::Waiting, &mut actions);
        actions.push(Action::ArmReconnect(self.backoff.next_delay_ms(random)));
        actions
    }

    /// The backoff timer fired (or the browser came back online): open a socket again.
    pub fn reconnect_due(&mut self) -> Vec<Action<D>> {
        let mut actions = Vec::new();
        if self.link == Link::Waiting {
            self.set_link(Link::Opening { reconnecting: true }, &mut actions);
            actions.push(Action::Connect);
        }
        actions
    }

    /// Queues a write; it is sent now if the socket is open, else once it opens.
    pub fn write(&mut self, path: &Path, op: WriteOp<D>, key: String) -> (WriteId, Vec<Action<D>>) {
        let mut actions = Vec::new();
        let req = self.next_req;
        self.next_req += 1;
        if self.link == Link::Closed {
            let error = (ErrorCode::FailedPrecondition, "the client is closed".to_owned());
            actions.push(Action::Settle { req, result: Err(error) });
            return (req, actions);
        }
        if self.writes.len() >= self.options.max_pending_writes {
            let message = format!("{} writes are already waiting to be sent", self.writes.len());
            actions.push(Action::Settle { req, result: Err((ErrorCode::ResourceExhausted, message)) });
            return (req, actions);
        }
        let write = PendingWrite { req, path: path.as_str().to_owned(), op, key };
        if self.link == Link::Open {
            actions.push(Action::Send(write_message(&write)));
        }
        self.writes.push_back(write);
        self.want_socket(&mut actions);
        (req, actions)
    }

    /// Ends everything: pending writes fail with `failed-precondition`, listeners are dropped.
    pub fn close(&mut self) -> Vec<Action<D>> {
        let mut actions = Vec::new();
        if self.link == Link::Closed {
            return actions;
        }
        for w in self.writes.drain(..) {
            let error = (ErrorCode::FailedPrecondition, "the client was closed before the write was acknowledged".into());
            actions.push(Action::Settle { req: w.req, result: Err(error) });
        }
        self.listeners.clear();
        self.subscriptions.clear();
        self.wire_ids.clear();
        self.lingering = false;
        actions.push(Action::Disconnect);
        self.set_link(Link::Closed, &mut actions);
        actions
    }

    /// A frame from the server.
    pub fn received(&mut self, message: ServerMessage<D>) -> Vec<Action<D>> {
        let mut actions = Vec::new();
        match message {
            ServerMessage::Snapshot { id, version, exists, data, .. } => {
                let Some((path, sub)) = self.subscription_mut(id) else { return actions };
                let View::Document(state) = &mut sub.view else { return actions };
                if state.as_ref().is_some_and(|s| s.version >= version && s.exists == exists) {
                    return actions; // already seen (a resume answered with the same state)
                }
                let new = DocState { version, exists, data: if exists { data } else { None } };
                *state = Some(new.clone());
                let snapshot = Snapshot::Document { path, state: new, from_cache: false };
                actions.push(Action::Deliver { listeners: sub.listeners.clone(), snapshot, later: false });
            }
            ServerMessage::Collection { id, version, docs, .. } => {
                let Some((path, sub)) = self.subscription_mut(id) else { return actions };
                let View::Collection(view) = &mut sub.view else { return actions };
                let docs = docs.into_iter().map(|d| CollectionDoc { id: d.id, version: d.version, data: d.data }).collect();
                let first = view.is_none();
                let view = view.get_or_insert_with(CollectionView::default);
                let changes = view.replace(docs, version);
                if first || !changes.is_empty() {
                    let snapshot = Snapshot::Collection {
                        path,
                        docs: view.docs.clone(),
                        changes,
                        version: view.version,
                        from_cache: false,
                    };
                    actions.push(Action::Deliver { listeners: sub.listeners.clone(), snapshot, later: false });
                }
            }
            ServerMessage::Changes { id, changes, .. } => {
                let Some((path, sub)) = self.subscription_mut(id) else { return actions };
                let View::Collection(Some(view)) = &mut sub.view else { return actions };
                let applied: Vec<_> = changes.into_iter().filter_map(|c| view.apply(&c.id, c.version, c.data)).collect();
                if !applied.is_empty() {
                    let snapshot = Snapshot::Collection {
                        path,
                        docs: view.docs.clone(),
                        changes: applied,
                        version: view.version,
                        from_cache: false,
                    };
                    actions.push(Action::Deliver { listeners: sub.listeners.clone(), snapshot, later: false });
                }
            }
            ServerMessage::Ack { req, version } => {
                if let Some(i) = self.writes.iter().position(|w| w.req == req) {
                    self.writes.remove(i);
                    actions.push(Action::Settle { req, result: Ok(version) });
                    self.maybe_linger(&mut actions);
                }
            }
            ServerMessage::Error { id: Some(id), code, message, .. } => {
                let Some(path) = self.wire_ids.remove(&id) else { return actions };
                if let Some(sub) = self.subscriptions.remove(&path) {
                    for l in &sub.listeners {
                        self.listeners.remove(l);
                    }
                    actions.push(Action::Fail { listeners: sub.listeners, code, message });
                }
                self.maybe_linger(&mut actions);
            }
            ServerMessage::Error { req: Some(req), code, message, .. } => {
                if let Some(i) = self.writes.iter().position(|w| w.req == req) {
                    self.writes.remove(i);
                    actions.push(Action::Settle { req, result: Err((code, message)) });
                    self.maybe_linger(&mut actions);
                }
            }
            ServerMessage::Welcome { .. }
            | ServerMessage::Unchanged { .. }
            | ServerMessage::Error { .. }
            | ServerMessage::Pong
            | ServerMessage::Ping => {}
        }
        actions
    }

    fn subscription_mut(&mut self, id: u64) -> Option<(String, &mut Subscription<D>)> {
        let path = self.wire_ids.get(&id)?.clone();
        let sub = self.subscriptions.get_mut(&path)?;
        Some((path, sub))
    }
}

fn current_snapshot<D: Clone>(path: &str, view: &View<D>, from_cache: bool) -> Option<Snapshot<D>> {
    match view {
        View::Document(Some(state)) => Some(Snapshot::Document { path: path.to_owned(), state: state.clone(), from_cache }),
        View::Collection(Some(view)) => Some(Snapshot::Collection {
            path: path.to_owned(),
            docs: view.docs.clone(),
            changes: view.all_added(),
            version: view.version,
            from_cache,
        }),
        _ => None,
    }
}

fn write_message<D: Clone>(w: &PendingWrite<D>) -> ClientMessage<D> {
    let (req, path, key) = (w.req, w.path.clone(), Some(w.key.clone()));
    match &w.op {
        WriteOp::Set(data) => ClientMessage::Set { req, path, data: data.clone(), key },
        WriteOp::Update(data) => ClientMessage::Update { req, path, data: data.clone(), key },
        WriteOp::Delete => ClientMessage::Delete { req, path, key },
    }
}

#[cfg(test)]
mod tests;
