//! The persistent cache, as the core sees it: what it keeps (the server's last state of every
//! subscription, with its version and epoch, and every pending write), when it reads and writes it,
//! and what it evicts. The storage itself (IndexedDB) is the shell's; this file only decides, so it
//! is unit-tested natively like the rest of the core.
//!
//! - A subscription started while persistence is on reads its key first ([`Action::ReadCache`]);
//!   its `subscribe` waits for the answer, so it resumes with the cached `since`, and the cached state
//!   is delivered (`from_cache`) before the server's answer. The first socket waits until the cache
//!   has opened and those first reads are answered, so the first callback never waits for the network.
//! - Server state is written back ([`Action::StoreSnapshot`]) a moment after it changes
//!   ([`FLUSH_MS`]: a burst of changes is one write) and when a subscription is released.
//! - A write is stored before its frame is sent ([`Action::StoreWrite`], then
//!   [`Core::write_stored`]), so a page that dies after sending it sends it again, with the same key,
//!   on its next load; it is forgotten once the server answers.
//! - Past `cache_bytes`, the least recently used keys without a subscription are evicted (by the
//!   shell, which knows the sizes; [`CacheOp::Release`] says a key is no longer in use); pending
//!   writes are kept apart and never evicted.
//! - When the storage fails (refused, full, closed by another tab), the client goes on in memory:
//!   writes are sent without being stored, reads are no longer waited for.

use livepath_protocol::ErrorCode;

use super::{Action, Core, Fields, Frame, Link, Merge, Snapshot, Subscription, View, WriteOp};

/// How long after a change the server's state is written to the cache.
pub const FLUSH_MS: u32 = 100;

/// Where the client keeps what it learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// In memory, gone with the page (the default).
    Memory,
    /// Persistent storage is asked for and opening: the first socket waits for it.
    Opening,
    /// In persistent storage (IndexedDB).
    On,
    /// Asked for, but the storage failed or was refused: in memory.
    Unavailable,
}

impl Persistence {
    /// What `stats().persistence` says.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Opening | Self::On => "indexeddb",
            Self::Unavailable => "unavailable",
        }
    }

    /// Asked for and not failed (a build without the `persistence` feature: never, so the
    /// optimizer drops every branch that needs it).
    pub(super) fn is_on(self) -> bool {
        cfg!(feature = "persistence") && matches!(self, Self::Opening | Self::On)
    }

    /// Open: state is stored.
    fn is_open(self) -> bool {
        cfg!(feature = "persistence") && self == Self::On
    }
}

/// What [`Action::Cache`] does to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOp {
    /// Read the cached state of this subscription key and answer with [`Core::cache_read`]; the key
    /// is in use (never evicted) until released.
    Read = 0,
    /// The subscription of this key is gone: its entry may be evicted (least recently used first)
    /// once the cache holds more than `cache_bytes`.
    Release = 1,
    /// The server refused this subscription (permission denied, say): forget its cached state, so it
    /// is not shown again (to another user of this browser, perhaps) before the server refuses it.
    Forget = 2,
    /// Forget the stored write with this idempotency key: the server answered it.
    ForgetWrite = 3,
}

/// A pending write as the cache returns it on the next load.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredWrite<D> {
    /// Its idempotency key.
    pub key: String,
    /// The document path.
    pub path: String,
    /// What it does.
    pub op: WriteOp<D>,
}

/// The cache's key for the subscription to `path` with the query whose canonical JSON is `canonical`
/// (empty for none). The two are joined by U+0001, which no path may contain (a `?` may be in one).
pub fn cache_key(path: &str, canonical: &str) -> String {
    let mut key = path.to_owned();
    if !canonical.is_empty() {
        #[allow(clippy::single_char_add_str)] // `push('\u{1}')` brings in the encoding of a char
        key.push_str("\u{1}");
        key.push_str(canonical);
    }
    key
}

/// The server state of `sub` as listeners would see it without local writes, if there is any.
fn server_snapshot<D: Clone>(sub: &Subscription<D>) -> Option<Snapshot<D>> {
    let path = sub.path.clone();
    Some(match &sub.view {
        View::Document(state) => Snapshot::Document { path, state: state.clone()?, from_cache: false, pending: false },
        View::Collection(view) => {
            let view = view.as_ref()?;
            let (docs, version) = (view.docs.clone(), view.version);
            Snapshot::Collection { path, docs, changes: Vec::new(), version, from_cache: false, pending: false }
        }
    })
}

/// Pushes the store action for `sub` if persistence is open and its state changed since it was last
/// stored.
fn store_if_dirty<D: Clone>(
    persistence: Persistence,
    epoch: &Option<String>,
    sub: &mut Subscription<D>,
    actions: &mut Vec<Action<D>>,
) {
    if !std::mem::take(&mut sub.dirty) || !persistence.is_open() {
        return;
    }
    if let Some(snapshot) = server_snapshot(sub) {
        actions.push(Action::StoreSnapshot { key: sub.key.clone(), epoch: epoch.clone(), snapshot });
    }
}

impl<D: Merge + Fields> Core<D> {
    /// Where the client keeps what it learns, now.
    pub fn persistence(&self) -> Persistence {
        self.persistence
    }

    /// The first socket waits: the cache is opening, or a subscription's cached state is being read.
    pub(super) fn holding(&self) -> bool {
        self.persistence.is_on()
            && (self.persistence == Persistence::Opening || self.subscriptions.iter().any(|(_, sub)| sub.loading))
    }

    /// Opens the socket that waited for the cache, once nothing is being read any more.
    pub(super) fn unhold(&mut self, actions: &mut Vec<Action<D>>) {
        if self.connect_held && !self.holding() {
            self.connect_held = false;
            actions.push(Action::Connect);
        }
    }

    /// Stores a new pending write first, when persistence is on; whether it is stored already.
    pub(super) fn store_write(&self, key: &str, path: &str, op: &WriteOp<D>, actions: &mut Vec<Action<D>>) -> bool {
        if !self.persistence.is_on() {
            return true;
        }
        actions.push(Action::StoreWrite(StoredWrite { key: key.to_owned(), path: path.to_owned(), op: op.clone() }));
        false
    }

    /// `op` on the cache's `key`, when persistence is on.
    pub(super) fn cache_op(&self, op: CacheOp, key: String, actions: &mut Vec<Action<D>>) {
        if self.persistence.is_on() {
            actions.push(Action::Cache(op, key));
        }
    }

    /// Forgets a pending write the server answered (or that failed for good).
    pub(super) fn forget_write(&self, key: String, actions: &mut Vec<Action<D>>) {
        self.cache_op(CacheOp::ForgetWrite, key, actions);
    }

    /// Subscription `id`'s server state changed: write it back soon.
    pub(super) fn changed(&mut self, id: u64, actions: &mut Vec<Action<D>>) {
        if !self.persistence.is_open() {
            return;
        }
        if let Some(sub) = self.subscriptions.get_mut(id) {
            sub.dirty = true;
        }
        if !self.flush_armed {
            self.flush_armed = true;
            actions.push(Action::ArmFlush(FLUSH_MS));
        }
    }

    /// The store action for subscription `id` if its state changed since it was last stored.
    pub(super) fn store_if_dirty(&mut self, id: u64, actions: &mut Vec<Action<D>>) {
        if let Some(sub) = self.subscriptions.get_mut(id) {
            store_if_dirty(self.persistence, &self.epoch, sub, actions);
        }
    }

    /// The flush timer fired: write back every subscription whose state changed.
    pub fn flush_due(&mut self) -> Vec<Action<D>> {
        let mut actions = Vec::new();
        self.flush_armed = false;
        for sub in self.subscriptions.values_mut() {
            store_if_dirty(self.persistence, &self.epoch, sub, &mut actions);
        }
        actions
    }

    /// Pending writes from the cache, oldest first, before those made since (`first`) or after them;
    /// listeners see them at once, and they are sent once the socket is open.
    fn restore(&mut self, writes: Vec<StoredWrite<D>>, first: bool, actions: &mut Vec<Action<D>>) {
        let mut restored = Vec::with_capacity(writes.len() + self.writes.len());
        let mut paths = Vec::with_capacity(writes.len());
        for w in writes {
            paths.push(w.path.clone());
            restored.push(self.known_write(w));
        }
        if first {
            restored.append(&mut self.writes);
            self.writes = restored;
        } else {
            self.writes.append(&mut restored);
        }
        for path in &paths {
            self.refresh_written(path, actions);
        }
        if !paths.is_empty() {
            self.want_socket(actions);
        }
    }

    /// The cache opened: `writes` are the pending writes an earlier page left (oldest first), which go
    /// before any made since, and are sent once the socket is open.
    pub fn cache_opened(&mut self, writes: Vec<StoredWrite<D>>) -> Vec<Action<D>> {
        let mut actions = Vec::new();
        if self.persistence != Persistence::Opening || self.link == Link::Closed {
            return actions;
        }
        self.persistence = Persistence::On;
        self.restore(writes, true, &mut actions);
        self.unhold(&mut actions);
        actions
    }

    /// Pending writes of a tab that has gone since the cache opened (the shell waited for its lock):
    /// this client sends them now, after its own.
    pub fn adopted(&mut self, writes: Vec<StoredWrite<D>>) -> Vec<Action<D>> {
        let mut actions = Vec::new();
        if !self.persistence.is_open() {
            return actions;
        }
        self.restore(writes, false, &mut actions);
        self.send_writes(&mut actions);
        actions
    }

    /// The storage failed (it could not be opened, it is full, another tab is upgrading it): the client
    /// goes on in memory (the shell tells the status callbacks, once); pending writes are kept
    /// (in memory) and sent, subscriptions waiting for a read go ahead without it.
    pub fn cache_failed(&mut self) -> Vec<Action<D>> {
        let mut actions = Vec::new();
        if !self.persistence.is_on() {
            return actions;
        }
        self.persistence = Persistence::Unavailable;
        for w in &mut self.writes {
            w.stored = true;
        }
        let mut waiting = Vec::new();
        for (id, sub) in self.subscriptions.iter() {
            if sub.loading {
                waiting.push(id);
            }
        }
        for id in waiting {
            self.read_done(id, &mut actions);
        }
        self.send_writes(&mut actions);
        self.unhold(&mut actions);
        actions
    }

    /// The cache's answer for `key`: the state stored (a `snapshot` or `collection` frame, its id
    /// unused) and the epoch of its versions, if any. It is delivered as the subscription's first
    /// snapshot (`from_cache`) and resumed from.
    pub fn cache_read(&mut self, key: &str, epoch: Option<String>, frame: Option<Frame<D>>) -> Vec<Action<D>> {
        let mut actions = Vec::new();
        let found = self.subscriptions.iter().find(|(_, sub)| sub.loading && sub.key == key).map(|(id, _)| id);
        if let Some(id) = found {
            if self.epoch.is_none() {
                self.epoch.clone_from(&epoch);
            }
            // Versions of another epoch mean nothing to the server the client now speaks to.
            if let Some(frame) = frame.filter(|_| epoch == self.epoch) {
                self.set_state(id, frame, false, &mut actions);
            }
            self.read_done(id, &mut actions);
        }
        self.unhold(&mut actions);
        actions
    }

    /// Subscription `id` no longer waits for the cache: it subscribes if the socket is open.
    fn read_done(&mut self, id: u64, actions: &mut Vec<Action<D>>) {
        let Some(sub) = self.subscriptions.get_mut(id) else { return };
        sub.loading = false;
        if self.link == Link::Open {
            actions.push(Action::Send(Self::subscribe_message(id, sub)));
        }
    }

    /// The write with idempotency key `key` is stored: it may be sent.
    pub fn write_stored(&mut self, key: &str) -> Vec<Action<D>> {
        let mut actions = Vec::new();
        for w in &mut self.writes {
            if w.key == key {
                w.stored = true;
            }
        }
        self.send_writes(&mut actions);
        actions
    }

    /// Forgets everything cached, for `clearPersistence()`: only while no listener is active and no
    /// write is pending (a write still waiting would be sent without being kept). `Ok(true)`: the
    /// shell clears its storage too.
    pub fn clear_persistence(&mut self) -> Result<bool, (ErrorCode, String)> {
        if !self.listeners.is_empty() || !self.writes.is_empty() {
            let message = "clearPersistence() needs every listener stopped and every write acknowledged first";
            return Err((ErrorCode::FailedPrecondition, message.to_owned()));
        }
        for sub in self.subscriptions.values_mut() {
            sub.dirty = false;
        }
        Ok(self.persistence.is_on())
    }
}
