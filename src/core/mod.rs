//! The sans-IO client: every decision the client makes, with no socket, timer or JavaScript inside.
//!
//! [`Core`] takes events (a listener added, a frame received, the socket closed, a timer fired) and
//! returns [`Action`]s (open a socket, send this, deliver that snapshot, arm a timer). The browser shell
//! in `crate::browser` performs the actions; the logic is unit-tested natively with `cargo test`.
//!
//! It is generic over `D`, the type holding a document's data: `JsValue` in the browser, anything
//! `Clone` in tests.

mod backoff;
mod cache;
mod collection;
mod fields;
mod frame;
mod id_map;

use livepath_protocol::{ClientMessage, ErrorCode, Path, PathKind, Query};

pub use backoff::{Backoff, BackoffConfig};
pub use cache::{CacheOp, FLUSH_MS, Persistence, StoredWrite, cache_key};
pub use collection::{CollectionDoc, CollectionView, evaluate};
pub use fields::{AsDocument, Fields};
pub use frame::Frame;
pub use id_map::IdMap;

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
    /// The document after the change (for a removal: as it was).
    pub doc: DocState<D>,
    /// The document reflects a local write not yet acknowledged.
    pub pending: bool,
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
        /// It reflects local writes the server has not acknowledged yet.
        pending: bool,
    },
    /// A collection's documents and what changed since this listener's previous snapshot.
    Collection {
        /// The collection path.
        path: String,
        /// The documents, in the query's order (a plain listing: by id).
        docs: Vec<CollectionDoc<D>>,
        /// The changes, in order.
        changes: Vec<DocChange<D>>,
        /// The highest version seen.
        version: u64,
        /// True when delivered from the client's copy while not connected.
        from_cache: bool,
        /// Some document reflects local writes the server has not acknowledged yet.
        pending: bool,
    },
}

/// Document data the core can merge, to show an `update` before the server confirms it.
pub trait Merge: Clone {
    /// `self` with the top-level fields of `fields` replaced or added.
    fn merged(&self, fields: &Self) -> Self;
}

/// Above every server version: the `rev` of a document shaped by local write `req`.
const LOCAL_REV: u64 = 1 << 62;

/// What the shell must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action<D> {
    /// Open a socket (none is open).
    Connect,
    /// Send this message on the open socket.
    Send(ClientMessage<D>),
    /// Tell the tabs that share the open socket (if it is a shared tabs' one; else nothing) of this
    /// write, which waits to be stored before it is sent: they show it at once, as the writing tab
    /// does, instead of once its storage has answered.
    Tell(ClientMessage<D>),
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
    /// Call [`Core::watchdog_due`] after this many milliseconds (replaces an armed one). Cancelled
    /// with the socket.
    ArmWatchdog(u32),
    /// Call [`Core::release_unused`] at the end of the current task (a microtask).
    ScheduleRelease,
    /// Drop the socket and report it closed ([`Core::closed`]): the server refused the credentials (the
    /// token function will be asked again on the next connection), could not reach its database
    /// (`unavailable`), or went silent.
    Reconnect,
    /// An operation on the cache's entry `key` (see [`CacheOp`]).
    Cache(CacheOp, String),
    /// Write this server state (`from_cache` and `pending` false) to the cache under `key`, with the
    /// epoch its versions come from.
    StoreSnapshot {
        /// The subscription's key ([`cache_key`]).
        key: String,
        /// The epoch its versions come from.
        epoch: Option<String>,
        /// The state.
        snapshot: Snapshot<D>,
    },
    /// Store this pending write, then call [`Core::write_stored`]: it is not sent before.
    StoreWrite(StoredWrite<D>),
    /// Call [`Core::flush_due`] after this many milliseconds.
    ArmFlush(u32),
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
    /// The token can be asked again (a token function): an `unauthenticated` answer reconnects with a
    /// fresh one instead of failing the listener or write.
    pub refreshable_token: bool,
    /// Keep snapshots and pending writes in persistent storage (the shell opens it and calls
    /// [`Core::cache_opened`] or [`Core::cache_failed`]).
    pub persistent: bool,
}

impl Default for CoreOptions {
    fn default() -> Self {
        Self {
            linger_ms: 10_000,
            max_pending_writes: 1000,
            backoff: BackoffConfig::default(),
            refreshable_token: false,
            persistent: false,
        }
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
    /// The document or collection path.
    path: String,
    /// A collection's query; a plain listing (and a document) has the empty one: every document, by id.
    query: Query,
    /// The query's canonical JSON (what the wire's `query` holds), empty for none: two listeners with
    /// equal queries on one path share a subscription.
    canonical: String,
    /// Its listeners, in registration order.
    listeners: Vec<ListenerId>,
    /// The last state the server sent, if any.
    view: View<D>,
    /// What listeners last saw (server state with local writes on top); `None` before the first
    /// delivery. For a document only whether something was delivered matters.
    delivered: Option<CollectionView<D>>,
    /// Whether the last delivery had pending writes.
    delivered_pending: bool,
    /// Whether the last delivery was marked `from_cache`.
    delivered_from_cache: bool,
    /// The server has sent this subscription's state (or said it is unchanged) on this connection;
    /// until then what listeners see is the client's copy (`from_cache`).
    synced: bool,
    /// Its key in the cache ([`cache_key`]).
    key: String,
    /// Its cached state is being read: its `subscribe` waits, to resume from it.
    loading: bool,
    /// Its server state changed since it was last stored.
    dirty: bool,
}

/// Why a subscription's snapshot is being recomputed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// New server state. While local writes to the path wait for their ack, it is held: the ack
    /// follows at once and delivers the confirmed state in one callback.
    Server,
    /// A local write was made, acknowledged or rejected.
    Local,
    /// The server said the state held is current (a resume answered `unchanged`, or with the same
    /// version): only `from_cache` may change.
    Confirmed,
}

#[derive(Debug)]
struct PendingWrite<D> {
    req: WriteId,
    path: String,
    op: WriteOp<D>,
    /// The idempotency key: a resend after a reconnect carries the same one.
    key: String,
    /// It is in the cache (or needs not be): it may be sent.
    stored: bool,
    /// It went on this connection.
    sent: bool,
    /// The other tabs sharing this connection were told of it before it went ([`Action::Tell`]).
    told: bool,
}

/// The client's state machine. See the module docs.
#[derive(Debug)]
pub struct Core<D> {
    options: CoreOptions,
    /// Listener → the wire id of its path's subscription.
    listeners: IdMap<u64>,
    /// Wire id (unique per client, so per connection too) → the one server subscription of a path,
    /// shared by all its listeners.
    subscriptions: IdMap<Subscription<D>>,
    /// Writes not yet acknowledged, in the order they were made (and are sent).
    writes: Vec<PendingWrite<D>>,
    /// Other tabs' writes that the shared tabs' leader carries and has not seen answered
    /// ([`Frame::Pending`]): shown under this client's own, never sent; forgotten with the socket.
    foreign: Vec<PendingWrite<D>>,
    next_listener: ListenerId,
    next_wire_id: u64,
    next_req: WriteId,
    link: Link,
    backoff: Backoff,
    /// A release check is queued (`ScheduleRelease` sent, `release_unused` not yet called).
    release_scheduled: bool,
    /// The server has answered a request on this connection; only then does the backoff start over,
    /// so a server that accepts sockets but refuses every request is not hammered.
    confirmed: bool,
    /// A linger timer is armed.
    lingering: bool,
    /// The server's heartbeat, from `welcome`: it sends something at least this often.
    heartbeat_ms: f64,
    /// This connection's `hello` carried no token (a token function answered none: signed out). An
    /// `unauthenticated` answer then fails the request: asking the function again would not help.
    anonymous: bool,
    /// When the socket last opened or brought a frame, in wall-clock milliseconds: throttled timers in
    /// background tabs fire late, but cannot make a live link look dead.
    last_heard: f64,
    /// The epoch the held versions come from (the last `welcome`'s), if a server named one.
    epoch: Option<String>,
    /// This socket's `hello` went (or none was needed).
    said_hello: bool,
    /// This socket's `welcome` arrived.
    welcomed: bool,
    /// Where what the client learns is kept.
    persistence: Persistence,
    /// A flush of changed state to the cache is armed.
    flush_armed: bool,
    /// The first socket is wanted, but waits for the cache ([`Core::holding`]).
    connect_held: bool,
}

/// How often an open socket is checked for silence.
pub const WATCHDOG_MS: u32 = 1000;
/// The heartbeat assumed until `welcome` says otherwise (the server's default).
const DEFAULT_HEARTBEAT_MS: f64 = 25_000.0;

impl<D: Merge + Fields> Core<D> {
    /// A client with nothing to do.
    pub fn new(options: CoreOptions) -> Self {
        let backoff = Backoff::new(options.backoff);
        let persistence = if options.persistent { Persistence::Opening } else { Persistence::Memory };
        Self {
            options,
            listeners: IdMap::default(),
            subscriptions: IdMap::default(),
            writes: Vec::new(),
            foreign: Vec::new(),
            next_listener: 1,
            next_wire_id: 1,
            next_req: 1,
            link: Link::Idle,
            backoff,
            release_scheduled: false,
            confirmed: false,
            lingering: false,
            anonymous: false,
            heartbeat_ms: DEFAULT_HEARTBEAT_MS,
            last_heard: 0.0,
            epoch: None,
            said_hello: false,
            welcomed: false,
            persistence,
            flush_armed: false,
            connect_held: false,
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
        if matches!(link, Link::Opening { .. }) {
            // A new socket: its own `hello` and `welcome` are awaited.
            self.said_hello = false;
            self.welcomed = false;
        }
        if !matches!(link, Link::Opening { .. }) {
            self.connect_held = false;
        }
        let mut foreign = Vec::new();
        if self.link == Link::Open && link != Link::Open {
            // What listeners see from now on is the client's copy, until the server answers again.
            for sub in self.subscriptions.values_mut() {
                sub.synced = false;
            }
            // Other tabs send theirs again on their next sockets, and the leader tells of them again.
            foreign = std::mem::take(&mut self.foreign);
        }
        let before = self.status();
        self.link = link;
        if self.status() != before {
            actions.push(Action::Status(self.status()));
        }
        for w in foreign {
            self.refresh_written(&w.path, actions);
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
            if self.holding() {
                self.connect_held = true;
            } else {
                actions.push(Action::Connect);
            }
        }
    }

    /// A resume from the last version seen, if any.
    fn subscribe_message(id: u64, sub: &Subscription<D>) -> ClientMessage<D> {
        let since = match &sub.view {
            View::Document(state) => state.as_ref().map(|s| s.version),
            View::Collection(view) => view.as_ref().map(|v| v.version),
        };
        let query = (!sub.canonical.is_empty()).then(|| sub.query.clone());
        ClientMessage::Subscribe { id, path: sub.path.clone(), since, query }
    }

    /// The server's database is not the one the held versions come from (a restored backup, a wiped
    /// database): forget the server's state, so every path resubscribes for its full state; what
    /// listeners last saw stays, with no version, so each document that comes back reads as changed
    /// even where a version number happens to repeat.
    fn forget_versions(&mut self) {
        for sub in self.subscriptions.values_mut() {
            sub.view = match sub.view {
                View::Document(_) => View::Document(None),
                View::Collection(_) => View::Collection(None),
            };
            if let Some(delivered) = &mut sub.delivered {
                for doc in &mut delivered.docs {
                    doc.rev = 0;
                }
            }
        }
    }

    /// The wire id of the subscription to `path` with the query whose canonical form is `canonical`
    /// (empty: none). A scan: subscriptions are looked up when listeners are added, frames by wire id.
    fn subscription_id(&self, path: &str, canonical: &str) -> Option<u64> {
        self.subscriptions.iter().find(|(_, sub)| sub.path == path && sub.canonical == canonical).map(|(id, _)| id)
    }

    /// The canonical JSON of subscription `id`'s query, for its `subscribe` frame (the shell writes
    /// it on the wire as it is, instead of writing the query again).
    pub fn query_text(&self, id: u64) -> Option<&str> {
        self.subscriptions.get(id).map(|sub| sub.canonical.as_str()).filter(|text| !text.is_empty())
    }

    /// A listener id no listener has had: for each new listener, and for one refused before it was
    /// added (a bad query), whose error is delivered later.
    pub fn new_listener_id(&mut self) -> ListenerId {
        self.next_listener += 1;
        self.next_listener - 1
    }

    /// Adds a listener to `path`. A path that already has a snapshot delivers it to the new listener
    /// (later, in a microtask) without asking the server.
    pub fn listen(&mut self, path: &Path) -> (ListenerId, Vec<Action<D>>) {
        self.listen_query(path, Query::default(), String::new())
    }

    /// Adds a listener to the live query `query` on the collection at `path` (the empty query with
    /// an empty `canonical`: a plain listener, as [`Core::listen`]). `canonical` is its canonical
    /// JSON: listeners with the same one share a subscription. The query must be checked
    /// ([`Query::check`]) and `path` a collection's.
    pub fn listen_query(&mut self, path: &Path, query: Query, canonical: String) -> (ListenerId, Vec<Action<D>>) {
        let mut actions = Vec::new();
        let listener = self.new_listener_id();
        if let Some(id) = self.subscription_id(path.as_str(), &canonical) {
            if let Some(snapshot) = self.subscriptions.get(id).and_then(|sub| self.current_snapshot(sub)) {
                actions.push(Action::Deliver { listeners: vec![listener], snapshot, later: true });
            }
            if let Some(sub) = self.subscriptions.get_mut(id) {
                sub.listeners.push(listener);
            }
            self.listeners.insert(listener, id);
        } else {
            let id = self.next_wire_id;
            self.next_wire_id += 1;
            let view = match path.kind() {
                PathKind::Document => View::Document(None),
                PathKind::Collection => View::Collection(None),
            };
            let path = path.as_str().to_owned();
            let key = cache_key(&path, &canonical);
            let loading = self.persistence.is_on();
            if loading {
                actions.push(Action::Cache(CacheOp::Read, key.clone()));
            }
            let sub = Subscription {
                path,
                query,
                canonical,
                listeners: vec![listener],
                view,
                delivered: None,
                delivered_pending: false,
                delivered_from_cache: false,
                synced: false,
                key,
                loading,
                dirty: false,
            };
            if self.link == Link::Open && !loading {
                actions.push(Action::Send(Self::subscribe_message(id, &sub)));
            }
            self.subscriptions.insert(id, sub);
            self.listeners.insert(listener, id);
        }
        self.want_socket(&mut actions);
        (listener, actions)
    }

    /// Removes a listener (idempotent). Its path's server subscription is released at the end of the
    /// current task if no listener came back by then, so React StrictMode's mount → unmount → mount
    /// keeps one subscription.
    pub fn unlisten(&mut self, listener: ListenerId) -> Vec<Action<D>> {
        let mut actions = Vec::new();
        let Some(id) = self.listeners.remove(listener) else {
            return actions;
        };
        if let Some(sub) = self.subscriptions.get_mut(id) {
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
        // A loop rather than an iterator chain (docs/wasm-size.md).
        let mut unused = Vec::new();
        for (id, sub) in self.subscriptions.iter() {
            if sub.listeners.is_empty() {
                unused.push(id);
            }
        }
        for id in unused {
            self.store_if_dirty(id, &mut actions);
            let Some(sub) = self.subscriptions.remove(id) else { continue };
            self.cache_op(CacheOp::Release, sub.key, &mut actions);
            if self.link == Link::Open {
                actions.push(Action::Send(ClientMessage::Unsubscribe { id }));
            }
        }
        self.unhold(&mut actions);
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

    /// The socket's upgrade succeeded at `now` (wall-clock milliseconds); `hello` is next. Starts
    /// watching for a silent server.
    pub fn socket_opened(&mut self, now: f64) -> Vec<Action<D>> {
        self.last_heard = now;
        match self.link {
            Link::Opening { .. } => vec![Action::ArmWatchdog(WATCHDOG_MS)],
            _ => Vec::new(),
        }
    }

    /// The `hello` of this connection went with a token (`true`) or without one.
    pub fn hello_sent(&mut self, with_token: bool) {
        self.anonymous = !with_token;
    }

    /// A frame arrived at `now` (any frame, even one this client cannot read): the server is there.
    pub fn heard(&mut self, now: f64) {
        self.last_heard = now;
    }

    /// The watchdog fired at `now`: a server silent for more than two heartbeats is gone (reconnect),
    /// else check again later.
    pub fn watchdog_due(&mut self, now: f64) -> Vec<Action<D>> {
        if !matches!(self.link, Link::Open | Link::Opening { .. }) {
            return Vec::new();
        }
        if now - self.last_heard > 2.0 * self.heartbeat_ms {
            return vec![Action::Reconnect];
        }
        vec![Action::ArmWatchdog(WATCHDOG_MS)]
    }

    /// The socket opened and `hello` went (or none was needed). The link is open once `welcome` has
    /// arrived too: it names the epoch, which decides whether versions held can be resumed from.
    pub fn opened(&mut self) -> Vec<Action<D>> {
        self.said_hello = true;
        self.ready()
    }

    /// `hello` went and `welcome` came: resubscribe every path with the last version seen, then resend
    /// every unacknowledged write (same idempotency keys), in order. Called from two places: kept
    /// out of line so that its loops are not compiled twice.
    #[inline(never)]
    fn ready(&mut self) -> Vec<Action<D>> {
        let mut actions = Vec::new();
        if !(self.said_hello && self.welcomed && matches!(self.link, Link::Opening { .. })) {
            return actions;
        }
        self.set_link(Link::Open, &mut actions);
        self.confirmed = false;
        for (id, sub) in self.subscriptions.iter() {
            if !sub.loading {
                actions.push(Action::Send(Self::subscribe_message(id, sub)));
            }
        }
        for w in &mut self.writes {
            w.sent = false;
            w.told = false;
        }
        self.send_writes(&mut actions);
        self.maybe_linger(&mut actions);
        actions
    }

    /// Sends, in order, the writes not yet sent on this open socket, up to the first one not stored
    /// yet (a write goes only once it is stored, and never before an earlier one). The ones that wait
    /// are told to the tabs sharing the socket, once per connection: their latency compensation must
    /// not wait for this tab's storage (a busy IndexedDB held another tab's view of the write back
    /// for as long as it took).
    fn send_writes(&mut self, actions: &mut Vec<Action<D>>) {
        if self.link != Link::Open {
            return;
        }
        let mut stored = true;
        for w in &mut self.writes {
            stored &= w.stored;
            if stored && !w.sent {
                w.sent = true;
                actions.push(Action::Send(write_message(w)));
            } else if !stored && !w.told {
                w.told = true;
                actions.push(Action::Tell(write_message(w)));
            }
        }
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

    /// No socket can be opened at all, and trying again would not help (no URL outside a browser, no
    /// WebSocket class, a URL the WebSocket refuses): every listener and every pending write is
    /// forgotten (the caller fails each once, with the reason: the environment's to tell, not the
    /// core's) and the client goes back to idle instead of retrying. A later listener or write tries
    /// again.
    pub fn cannot_connect(&mut self) -> Vec<Action<D>> {
        let mut actions = Vec::new();
        if matches!(self.link, Link::Opening { .. }) {
            self.listeners.clear();
            self.subscriptions.clear();
            for w in std::mem::take(&mut self.writes) {
                self.forget_write(w.key, &mut actions);
            }
            self.set_link(Link::Idle, &mut actions);
        }
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
            // A fixed text (the count is the client's own `maxPendingWrites`): no formatting code for it.
            let message = "as many writes as maxPendingWrites allows are already waiting to be sent".to_owned();
            actions.push(Action::Settle { req, result: Err((ErrorCode::ResourceExhausted, message)) });
            return (req, actions);
        }
        let stored = self.store_write(&key, path.as_str(), &op, &mut actions);
        self.writes.push(PendingWrite {
            req,
            path: path.as_str().to_owned(),
            op,
            key,
            stored,
            sent: false,
            told: false,
        });
        self.send_writes(&mut actions);
        self.refresh_written(path.as_str(), &mut actions);
        self.want_socket(&mut actions);
        (req, actions)
    }

    /// Ends everything: pending writes fail with `failed-precondition`, listeners are dropped.
    pub fn close(&mut self) -> Vec<Action<D>> {
        let mut actions = Vec::new();
        if self.link == Link::Closed {
            return actions;
        }
        for w in std::mem::take(&mut self.writes) {
            let error =
                (ErrorCode::FailedPrecondition, "the client was closed before the write was acknowledged".into());
            actions.push(Action::Settle { req: w.req, result: Err(error) });
            self.forget_write(w.key, &mut actions);
        }
        self.listeners.clear();
        self.subscriptions.clear();
        self.lingering = false;
        actions.push(Action::Disconnect);
        self.set_link(Link::Closed, &mut actions);
        actions
    }

    /// A frame from the server.
    pub fn received(&mut self, frame: Frame<D>) -> Vec<Action<D>> {
        let mut actions = Vec::new();
        if !self.confirmed
            && matches!(
                frame,
                Frame::Snapshot { .. }
                    | Frame::Collection { .. }
                    | Frame::Changes { .. }
                    | Frame::Unchanged { .. }
                    | Frame::Ack { .. }
            )
        {
            self.confirmed = true;
            self.backoff.reset();
        }
        // Refusals that another connection may not meet: a token that a fresh one replaces, and a server
        // that cannot reach its database (another node may; the backoff spaces the tries). Nothing
        // fails: the request stays pending and goes again on the next connection.
        let retry = match &frame {
            Frame::Error { code: ErrorCode::Unauthenticated, .. } => self.options.refreshable_token && !self.anonymous,
            Frame::Error { code: ErrorCode::Unavailable, .. } => true,
            _ => false,
        };
        if retry {
            if self.link == Link::Open {
                actions.push(Action::Reconnect);
            }
            return actions;
        }
        match frame {
            Frame::Welcome { heartbeat_ms, epoch } => {
                self.heartbeat_ms = heartbeat_ms as f64;
                if epoch.is_some() {
                    if self.epoch.is_some() && self.epoch != epoch {
                        self.forget_versions();
                    }
                    self.epoch = epoch;
                }
                self.welcomed = true;
                return self.ready();
            }
            frame @ (Frame::Snapshot { id, .. } | Frame::Collection { id, .. }) => {
                self.set_state(id, frame, true, &mut actions);
            }
            Frame::Changes { id, changes } => {
                let Some(sub) = self.subscriptions.get_mut(id) else { return actions };
                sub.synced = true;
                let View::Collection(Some(view)) = &mut sub.view else { return actions };
                let mut changed = false;
                for (doc, version, data) in changes {
                    changed |= view.apply(&sub.query, &doc, version, data);
                }
                if changed {
                    self.changed(id, &mut actions);
                    self.refresh(id, Cause::Server, &mut actions);
                } else {
                    self.refresh(id, Cause::Confirmed, &mut actions);
                }
            }
            Frame::Unchanged { id } => {
                if let Some(sub) = self.subscriptions.get_mut(id) {
                    sub.synced = true;
                    self.refresh(id, Cause::Confirmed, &mut actions);
                }
            }
            Frame::Ack { req, version } => {
                if let Some(i) = self.writes.iter().position(|w| w.req == req) {
                    let write = self.writes.remove(i);
                    actions.push(Action::Settle { req, result: Ok(version) });
                    self.forget_write(write.key, &mut actions);
                    self.refresh_written(&write.path, &mut actions);
                    self.maybe_linger(&mut actions);
                }
            }
            Frame::Error { id: Some(id), code, message, .. } => {
                let Some(sub) = self.subscriptions.remove(id) else { return actions };
                for l in &sub.listeners {
                    self.listeners.remove(*l);
                }
                self.cache_op(CacheOp::Forget, sub.key, &mut actions);
                actions.push(Action::Fail { listeners: sub.listeners, code, message });
                self.maybe_linger(&mut actions);
            }
            Frame::Error { req: Some(req), code, message, .. } => {
                if let Some(i) = self.writes.iter().position(|w| w.req == req) {
                    let write = self.writes.remove(i);
                    self.forget_write(write.key, &mut actions);
                    // Listeners see the state without the rejected write: it rolls back.
                    self.refresh_written(&write.path, &mut actions);
                    actions.push(Action::Settle { req, result: Err((code, message)) });
                    self.maybe_linger(&mut actions);
                }
            }
            Frame::Error { .. } => {}
            Frame::Pending(write) => {
                if self.link == Link::Open && !self.foreign.iter().any(|w| w.key == write.key) {
                    let write = self.known_write(write);
                    let path = write.path.clone();
                    self.foreign.push(write);
                    self.refresh_written(&path, &mut actions);
                }
            }
            Frame::Settled { key } => {
                if let Some(i) = self.foreign.iter().position(|w| w.key == key) {
                    let write = self.foreign.remove(i);
                    self.refresh_written(&write.path, &mut actions);
                }
            }
        }
        actions
    }

    /// Subscription `id`'s state from a `snapshot` or `collection` frame: the server's (`live`), or
    /// the cache's (its listeners see it `from_cache`, and it is not stored again).
    fn set_state(&mut self, id: u64, frame: Frame<D>, live: bool, actions: &mut Vec<Action<D>>) {
        let Some(sub) = self.subscriptions.get_mut(id) else { return };
        sub.synced |= live;
        match (&mut sub.view, frame) {
            (View::Document(state), Frame::Snapshot { version, exists, data, .. }) => {
                if state.as_ref().is_some_and(|s| s.version >= version && s.exists == exists) {
                    // Already seen (a resume answered with the same state): only `from_cache` changes.
                    self.refresh(id, Cause::Confirmed, actions);
                    return;
                }
                *state = Some(DocState { version, exists, data: if exists { data } else { None } });
            }
            (View::Collection(view), Frame::Collection { version, docs, .. }) => {
                let mut keyed = Vec::with_capacity(docs.len());
                for doc in docs {
                    keyed.push(doc.keyed(&sub.query));
                }
                view.get_or_insert_with(CollectionView::default).replace(&sub.query, keyed, version);
            }
            _ => return,
        }
        if live {
            self.changed(id, actions);
        }
        self.refresh(id, Cause::Server, actions);
    }

    /// A write made elsewhere (stored by an earlier page, or another tab's), with a number of this
    /// client's own (a collection orders local documents by it); stored already, not yet sent here.
    fn known_write(&mut self, w: StoredWrite<D>) -> PendingWrite<D> {
        let req = self.next_req;
        self.next_req += 1;
        PendingWrite { req, path: w.path, op: w.op, key: w.key, stored: true, sent: false, told: false }
    }

    /// Every pending write as listeners see them applied: other tabs' (in the order the leader told
    /// of them), then this client's, oldest first.
    fn all_writes(&self) -> impl Iterator<Item = &PendingWrite<D>> {
        self.foreign.iter().chain(&self.writes)
    }

    /// Pending writes to the document at `path`, in [`Core::all_writes`]' order.
    fn writes_to<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a PendingWrite<D>> + 'a {
        self.all_writes().filter(move |w| w.path == path)
    }

    /// Pending writes to documents of the collection at `path`, in the same order.
    fn writes_in<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a PendingWrite<D>> + 'a {
        self.all_writes().filter(move |w| split_last(&w.path).is_some_and(|(parent, _)| parent == path))
    }

    /// The document at `path` as this client sees it: the server's state with pending writes on top.
    /// `None` while neither says anything (an `update` needs a known document to merge into).
    fn local_document(&self, path: &str, server: &Option<DocState<D>>) -> Option<DocState<D>> {
        let mut state = server.clone();
        for w in self.writes_to(path) {
            let version = state.as_ref().map_or(0, |s| s.version);
            state = match (&w.op, state) {
                (WriteOp::Set(data), _) => Some(DocState { version, exists: true, data: Some(data.clone()) }),
                (WriteOp::Delete, _) => Some(DocState { version, exists: false, data: None }),
                (WriteOp::Update(fields), Some(DocState { exists: true, data: Some(data), .. })) => {
                    Some(DocState { version, exists: true, data: Some(data.merged(fields)) })
                }
                (WriteOp::Update(_), other) => other, // nothing to merge into: the server decides
            };
        }
        state
    }

    /// The collection at `path` through `query` as this client sees it: the server's result with the
    /// pending writes to its documents on top, each written document evaluated again (it enters,
    /// moves or leaves), cut to the limit. A written document the result does not hold is looked for
    /// in the client's other subscriptions, so that an `update` can bring it in.
    fn local_collection(&self, path: &str, query: &Query, server: &CollectionView<D>) -> CollectionView<D> {
        let mut view = server.clone();
        let mut done: Vec<&str> = Vec::new();
        for w in self.writes_in(path) {
            let id = split_last(&w.path).map_or(w.path.as_str(), |(_, id)| id);
            if done.contains(&id) {
                continue;
            }
            done.push(id);
            // The document as the client knows it, then as its pending writes leave it.
            let at = view.find(query, id);
            let base = match at {
                Some(i) => Some(view.docs[i].state()),
                None => self.known(path, id),
            };
            let Some(state) = self.local_document(&w.path, &base) else { continue };
            if let Some(i) = at {
                view.docs.remove(i);
            }
            let (Some(data), Some(last)) = (state.data, self.writes_to(&w.path).last()) else { continue };
            if let Some(key) = evaluate(query, id, &data) {
                let doc = CollectionDoc { key, version: state.version, data, rev: LOCAL_REV + last.req, pending: true };
                view.insert(query, doc);
            }
        }
        if let Some(limit) = query.limit {
            view.docs.truncate(limit as usize);
        }
        view
    }

    /// What the client's subscriptions say of document `id` of the collection at `collection`, or
    /// `None` when none of them knows.
    fn known(&self, collection: &str, id: &str) -> Option<DocState<D>> {
        for (_, sub) in self.subscriptions.iter() {
            match &sub.view {
                View::Document(Some(state)) if split_last(&sub.path) == Some((collection, id)) => {
                    return Some(state.clone());
                }
                View::Collection(Some(view)) if sub.path == collection => {
                    if let Some(i) = view.find(&sub.query, id) {
                        return Some(view.docs[i].state());
                    }
                    if sub.canonical.is_empty() {
                        return Some(DocState { version: 0, exists: false, data: None }); // not in the whole listing
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// Recomputes what the listeners of the document at `path` and of its collection (every query on
    /// it) see, after a local write to it was made, acknowledged or rejected.
    fn refresh_written(&mut self, path: &str, actions: &mut Vec<Action<D>>) {
        let parent = split_last(path).map(|(parent, _)| parent);
        let mut ids = Vec::new();
        for (id, sub) in self.subscriptions.iter() {
            if sub.path == path || Some(sub.path.as_str()) == parent {
                ids.push(id);
            }
        }
        for id in ids {
            self.refresh(id, Cause::Local, actions);
        }
    }

    /// Delivers the subscription's new local snapshot to its listeners, if there is something to show.
    fn refresh(&mut self, id: u64, cause: Cause, actions: &mut Vec<Action<D>>) {
        let Some(sub) = self.subscriptions.get(id) else {
            return;
        };
        let path = sub.path.as_str();
        let from_cache = !sub.synced;
        if cause == Cause::Confirmed && !sub.delivered_from_cache {
            return;
        }
        let (snapshot, delivered) = match &sub.view {
            View::Document(server) => {
                let pending = self.writes_to(path).next().is_some();
                if cause != Cause::Local && pending && sub.delivered.is_some() {
                    return;
                }
                let Some(state) = self.local_document(path, server) else {
                    return;
                };
                (Snapshot::Document { path: path.to_owned(), state, from_cache, pending }, CollectionView::default())
            }
            View::Collection(None) => return, // local writes wait for the server's listing to sit in
            View::Collection(Some(server)) => {
                let pending = self.writes_in(path).next().is_some();
                if cause != Cause::Local && pending && sub.delivered.is_some() {
                    return;
                }
                let local = self.local_collection(path, &sub.query, server);
                let mut delivered = sub.delivered.clone().unwrap_or_default();
                let changes = delivered.replace(&sub.query, local.docs, local.version);
                if sub.delivered.is_some()
                    && changes.is_empty()
                    && pending == sub.delivered_pending
                    && from_cache == sub.delivered_from_cache
                {
                    return;
                }
                let snapshot = Snapshot::Collection {
                    path: path.to_owned(),
                    docs: delivered.docs.clone(),
                    changes,
                    version: delivered.version,
                    from_cache,
                    pending,
                };
                (snapshot, delivered)
            }
        };
        let pending = match &snapshot {
            Snapshot::Document { pending, .. } | Snapshot::Collection { pending, .. } => *pending,
        };
        if let Some(sub) = self.subscriptions.get_mut(id) {
            sub.delivered = Some(delivered);
            sub.delivered_pending = pending;
            sub.delivered_from_cache = from_cache;
            actions.push(Action::Deliver { listeners: sub.listeners.clone(), snapshot, later: false });
        }
    }

    /// What a listener joining `sub` sees first: exactly what the others last saw.
    fn current_snapshot(&self, sub: &Subscription<D>) -> Option<Snapshot<D>> {
        let path = sub.path.as_str();
        let from_cache = !sub.synced;
        let pending = sub.delivered_pending;
        match (&sub.view, &sub.delivered) {
            (View::Document(server), Some(_)) => {
                let state = self.local_document(path, server)?;
                Some(Snapshot::Document { path: path.to_owned(), state, from_cache, pending })
            }
            (View::Collection(_), Some(view)) => Some(Snapshot::Collection {
                path: path.to_owned(),
                docs: view.docs.clone(),
                changes: view.all_added(),
                version: view.version,
                from_cache,
                pending,
            }),
            (_, None) => None,
        }
    }
}

/// `path` split at its last `/`: the parent and the id. Searches bytes rather than chars
/// (docs/wasm-size.md).
pub(crate) fn split_last(path: &str) -> Option<(&str, &str)> {
    let slash = path.bytes().rposition(|b| b == b'/')?;
    Some((path.get(..slash)?, path.get(slash + 1..)?))
}

fn write_message<D: Clone>(w: &PendingWrite<D>) -> ClientMessage<D> {
    let (req, path, key) = (w.req, w.path.clone(), Some(w.key.clone()));
    match &w.op {
        WriteOp::Set(data) => ClientMessage::Set {
            req,
            path,
            data: data.clone(),
            key,
            merge: false,
            transforms: Vec::new(),
            condition: None,
        },
        WriteOp::Update(data) => {
            ClientMessage::Update { req, path, data: data.clone(), key, transforms: Vec::new(), condition: None }
        }
        WriteOp::Delete => ClientMessage::Delete { req, path, key, condition: None },
    }
}

#[cfg(test)]
mod cache_tests;
#[cfg(test)]
mod query_model;
#[cfg(test)]
mod tabs_tests;
#[cfg(test)]
mod tests;
