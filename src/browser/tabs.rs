//! [`SharedTabs`]: one WebSocket for every tab of an origin that uses one client `name` (`tabs:
//! "shared"`). The tabs elect a leader with a Web Lock; it alone holds the WebSocket, and carries the
//! other tabs' frames over a `BroadcastChannel`, with their subscription ids and write numbers
//! rewritten so that they cannot collide. A client sees an ordinary socket (the snippet's
//! `TabSocket`): when the leader goes, its socket closes and it reconnects as after any drop —
//! resuming every path with `since` and sending its pending writes again with their keys. The leader
//! tells the other tabs of each write it carries (`pending`, then `settled`), so they show it at once;
//! a write that waits to be stored before it is sent (persistence) is told ahead of its frame
//! ([`tell`]), so the other tabs never wait for the writing tab's storage.
//!
//! Without the `tabs` feature (or where `navigator.locks` or `BroadcastChannel` is missing) there is
//! nothing to share and each client keeps its own socket.

use wasm_bindgen::JsValue;
#[cfg(feature = "tabs")]
use wasm_bindgen::prelude::wasm_bindgen;

// The tabs' own snippet (its own `inline_js`, so a build without the feature ships none of it).
#[cfg(feature = "tabs")]
#[wasm_bindgen(inline_js = "
// Revision 2 of the messages between tabs (2 added a write told ahead of its frame): a page of another
// revision (a deploy while tabs are open) uses other locks and channels, so never meets this one.
const LOCK = 'livepath-tabs-2 ';
const OPS = ['set', 'update', 'delete'];
// Messages between the tabs, by `k`: 0 a socket asks the leader for a connection, 1 a frame (to the
// leader: the text a client sent; to a socket: the object the server sent, ids rewritten), 2 a
// socket's end, 3 a write its client cannot send yet (being stored; the text of its frame, for the
// other tabs only), 4 connected, 5 end and keep a socket of its own (another server or user), 6
// asked (the leader is connecting). Channels: `at(null)` tells of a new leader, `at(0)` is the leader's,
// `at(tab)` each tab's (a tab's lock has its channel's name).
export function openTabs(name, WS = globalThis.WebSocket) {
  const locks = globalThis.navigator?.locks;
  if (!locks || typeof BroadcastChannel != 'function') return;
  const id = Math.random().toString(36).slice(2);
  const at = (tab) => LOCK + JSON.stringify([name, tab]);
  const t = { id, n: 0, misses: 0, WS, at, sockets: new Map(), stop: new AbortController(), release: [] };
  const channel = (tab, onmessage) => Object.assign(new BroadcastChannel(at(tab)), { onmessage });
  t.lock = (tab, then) => locks.request(at(tab), { signal: t.stop.signal }, () => t.closed || then()).catch((e) => {
    // Web Locks refused (an opaque origin, a sandboxed frame): each client keeps its own socket.
    if (!(e instanceof DOMException)) console.error('livepath: shared tabs:', e);
    else if (e.name !== 'AbortError') {
      t.broken = true;
      for (const s of [...t.sockets.values()]) s.end();
    }
  });
  const hold = (then) => () => new Promise((r) => { t.release.push(r); then(); });
  // The tab's own lock, held while it lives: the leader waits for it to learn that the tab is gone.
  t.held = new Promise((granted) => t.lock(id, hold(granted)));
  t.lock(null, hold(() => lead(t)));
  t.ch = channel(null, ({ data }) => attach(t, data));
  t.down = channel(id, ({ data: d }) => t.sockets.get(d.to)?.hear(d));
  t.up = channel(0);
  t.out = new Map();
  t.Socket = function (url, protocol) {
    return t.broken || t.alone > Date.now() ? new t.WS(url, protocol) : new TabSocket(t, url, protocol);
  };
  return t;
}
export function tabsSocket(t) { return t.Socket; }
export function tellTabs(ws, text) { if (ws instanceof TabSocket) ws.tell(text); }
export function closeTabs(t) {
  t.closed = true;
  for (const s of [...t.sockets.values()]) s.end();
  if (t.hub) shut(t, t.hub);
  t.hub = null;
  t.stop.abort();
  t.release.forEach((r) => r());
  for (const c of [t.ch, t.down, t.up, ...t.out.values()]) c.close();
}
const toHub = (t, d) => (t.hub ? queueMicrotask(() => t.hub && take(t, t.hub, d)) : t.closed || t.up.postMessage(d));
// A minute on a socket of its own: another user or server has the connection, or the leader does
// not answer (a frozen page, a dialog open); then the tab tries to share again.
const alone = (t) => { t.alone = Date.now() + 60000; };
// A socket as the client's core sees one (readyState, send, close, onopen, onmessage, onclose), carried
// by the leader's WebSocket.
class TabSocket {
  constructor(t, url, protocol) {
    // What the WebSocket constructor refuses, this one does too (and the leader compares URLs so).
    const u = new URL(url, globalThis.location?.href);
    if (!/^(ws|http)s?:$/.test(u.protocol) || u.hash) throw new SyntaxError(`not a WebSocket URL: ${url}`);
    Object.assign(this, { t, url: u.href, protocol, id: t.id + ' ' + ++t.n, readyState: 0 });
    t.sockets.set(this.id, this);
    this.wait(5000); // until a leader answers (one may be being chosen)
    t.held.then(() => this.ask());
  }
  // No answer in time: fail, and the client retries; after two misses in a row, a socket of its own.
  wait(ms) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (++this.t.misses > 1) {
        this.t.misses = 0;
        alone(this.t);
      }
      this.close();
    }, ms);
  }
  ask() {
    if (this.readyState === 0) toHub(this.t, { k: 0, from: this.id, tab: this.t.id, url: this.url, protocol: this.protocol });
  }
  send(m) { if (this.readyState === 1) toHub(this.t, { k: 1, from: this.id, m }); }
  tell(m) { if (this.readyState === 1) toHub(this.t, { k: 3, from: this.id, m }); }
  close() {
    if (this.readyState < 2) toHub(this.t, { k: 2, from: this.id });
    this.end();
  }
  hear(d) {
    const t = this.t;
    if (d.k > 3 && d.k !== 5) {
      // Only the leader of the moment: a message from one that has since gone may arrive late.
      if (this.readyState || (t.leader ??= d.hub) !== d.hub) return;
      t.misses = 0;
      this.hub = d.hub;
      if (d.k === 4) {
        clearTimeout(this.timer);
        this.readyState = 1;
        this.onopen?.();
      } else this.wait(30000); // the leader is connecting: as long as a handshake may take

    } else if (d.hub !== this.hub && d.hub !== t.leader) return;
    else if (d.k === 1) this.readyState === 1 && this.onmessage?.({ data: d.m, parsed: true });
    else {
      if (d.k === 5) alone(t);
      this.end();
    }
  }
  end() {
    if (this.readyState > 2) return;
    this.readyState = 3;
    clearTimeout(this.timer);
    this.t.sockets.delete(this.id);
    this.onclose?.();
  }
}
// A new leader: sockets carried by another one end (their clients reconnect, and resume), sockets
// waiting ask it.
function attach(t, hub) {
  t.leader = hub;
  t.misses = 0;
  for (const s of [...t.sockets.values()]) {
    if (s.readyState) s.hub !== hub && s.end();
    else {
      s.hub = undefined; // whatever the one before said of it
      t.held.then(() => s.ask());
    }
  }
}
function lead(t) {
  const h = t.hub = { ports: new Map(), subs: new Map(), reqs: new Map(), n: 0, heard: 0 };
  t.up.onmessage = ({ data }) => take(t, h, data);
  t.ch.postMessage(t.id);
  attach(t, t.id);
}
function post(t, h, p, m, k = 1) {
  const d = { k, to: p.id, hub: t.id, m };
  p.sent = Date.now();
  if (p.tab === t.id) return queueMicrotask(() => t.sockets.get(p.id)?.hear(d));
  // A channel per tab carried (closed when it goes); a word to any other, on one used once.
  const c = t.out.get(p.tab) ?? new BroadcastChannel(t.at(p.tab));
  c.postMessage(d);
  if (!t.out.has(p.tab)) c.close();
}
function opened(t, h, p) {
  if (p.open) return;
  p.open = true;
  post(t, h, p, 0, 4);
  if (h.welcome) post(t, h, p, h.welcome);
}
const open = (h) => [...h.ports.values()].filter((p) => p.open);
// Those that said who they are: they share the connection's user.
const known = (h) => open(h).filter((p) => p.known);
function take(t, h, d) {
  const p = h.ports.get(d.from);
  if (d.k === 0) {
    if (p) {
      // Asked again (its answer came before it heard of this leader): the same answer again.
      post(t, h, p, 0, 6);
      if (p.open) {
        p.open = false;
        opened(t, h, p);
      }
      return;
    }
    // A server silent for two heartbeats is gone: the clients found out first, and come back.
    if (h.ws && Date.now() - h.heard > 2 * (h.welcome?.heartbeatMs ?? 25000) && h.ws.readyState === 1) shut(t, h);
    const q = { id: d.from, tab: d.tab, subs: new Map() };
    // One connection, one server: a client of another URL keeps a socket of its own.
    if (h.url && h.url !== d.url) {
      post(t, h, q, 0, 6);
      return post(t, h, q, 0, 5);
    }
    h.ports.set(d.from, q);
    if (d.tab !== t.id && !t.out.has(d.tab)) {
      t.out.set(d.tab, new BroadcastChannel(t.at(d.tab)));
      // Granted once that tab is gone (closed or crashed): its subscriptions end.
      t.lock(d.tab, () => {
        t.out.get(d.tab)?.close();
        t.out.delete(d.tab);
        for (const p of [...h.ports.values()]) if (p.tab === d.tab) drop(t, h, p);
      });
    }
    post(t, h, q, 0, 6);
    if (!h.ws) connect(t, h, d);
    else if (h.ws.readyState === 1) opened(t, h, q);
  } else if (!p) {
    // A socket this leader does not carry (it asked an earlier one): it ends, and asks again.
    if (d.k === 1) post(t, h, { id: d.from, tab: d.from.split(' ')[0] }, 0, 2);
  } else if (d.k === 2) drop(t, h, p);
  else if (d.k === 3) told(t, h, p, JSON.parse(d.m));
  else forward(t, h, p, JSON.parse(d.m));
}
function connect(t, h, d) {
  let ws;
  h.url = d.url;
  try {
    ws = h.ws = new t.WS(d.url, d.protocol);
  } catch {
    return shut(t, h);
  }
  ws.onerror = () => {};
  ws.onopen = () => {
    h.heard = Date.now();
    for (const p of h.ports.values()) opened(t, h, p);
  };
  ws.onmessage = (e) => typeof e.data === 'string' && received(t, h, e.data);
  ws.onclose = () => h.ws === ws && shut(t, h);
}
// The WebSocket closed, failed to open, or the leader is leaving: every socket it carried ends.
function shut(t, h) {
  const ws = h.ws;
  h.ws = h.welcome = h.url = h.user = h.hello = undefined;
  if (ws) {
    ws.onopen = ws.onmessage = ws.onclose = null;
    ws.close(1000);
  }
  for (const p of h.ports.values()) post(t, h, p, 0, 2);
  h.ports.clear();
  h.subs.clear();
  h.reqs.clear();
}
function send(h, m) { if (h.ws?.readyState === 1) h.ws.send(JSON.stringify(m)); }
// A socket ended: its subscriptions end on the server, its writes stop being pending for the others
// (its client sends them again, with their keys, on its next socket).
function drop(t, h, p) {
  h.ports.delete(p.id);
  if (h.hello === p) h.hello = undefined;
  for (const id of p.subs.values()) {
    send(h, { type: 'unsubscribe', id });
    h.subs.delete(id);
  }
  for (const [req, w] of h.reqs) if (w[0] === p) settled(t, h, req);
  for (const key of p.told ?? []) over(t, h, p, key); // told, never sent: they forget it too
  if (!h.ports.size) shut(t, h);
}
function settled(t, h, req) {
  const [from, , key] = h.reqs.get(req);
  h.reqs.delete(req);
  over(t, h, from, key);
  return from;
}
// The other tabs stop showing the write `from` made with idempotency key `key`.
function over(t, h, from, key) {
  if (key) for (const p of known(h)) if (p !== from) post(t, h, p, { type: 'settled', key });
}
// The other tabs show it at once too, until it is settled.
function pending(t, h, p, m) {
  const d = { type: 'pending', op: OPS.indexOf(m.type), path: m.path, data: m.data, key: m.key };
  for (const q of known(h)) if (q !== p) post(t, h, q, d);
}
// A write its client stores before sending it: the other tabs are told now, not once it is stored
// (which a busy IndexedDB may make wait for seconds); its frame, when it comes, is not told again.
function told(t, h, p, m) {
  if (!p.known || !OPS.includes(m.type) || !m.key) return;
  (p.told ??= new Set()).add(m.key);
  pending(t, h, p, m);
}
// Whom a token names: its `sub`, read without checking (the server checks); '' for a token that is
// no JWT (a server without authentication, which reads none).
function user(token) {
  try {
    return String(JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).sub ?? '');
  } catch {
    return '';
  }
}
function forward(t, h, p, m) {
  const type = m.type;
  // One connection, one user: a client's first frame says who it is (its hello's user, or nobody);
  // a client that is someone else than the connection's first keeps a socket of its own.
  if (!p.known || type === 'hello') {
    const who = type === 'hello' && m.token ? user(m.token) : null;
    p.known = true;
    if (h.user === undefined) h.user = who;
    if (who !== h.user) {
      // The only one left: the connection is its own to make again, as that user.
      if (h.ports.size === 1) return shut(t, h);
      post(t, h, p, 0, 5);
      return drop(t, h, p);
    }
  }
  if (type === 'hello') h.hello = p;
  if (type === 'subscribe') {
    p.subs.set(m.id, ++h.n);
    h.subs.set(h.n, [p, m.id]);
    m.id = h.n;
  } else if (type === 'unsubscribe') {
    const id = p.subs.get(m.id);
    if (!id) return;
    p.subs.delete(m.id);
    h.subs.delete(id);
    m.id = id;
  }
  if (m.req !== undefined) {
    h.reqs.set(++h.n, [p, m.req, m.key]);
    m.req = h.n;
  }
  if (OPS.includes(type) && !p.told?.delete(m.key)) pending(t, h, p, m);
  send(h, m);
}
function received(t, h, text) {
  let m, to;
  try {
    m = JSON.parse(text);
  } catch {
    return;
  }
  const now = h.heard = Date.now();
  if (m.type === 'welcome') h.welcome = m;
  else if (m.id !== undefined) {
    const s = h.subs.get(m.id);
    if (!s) return;
    if (m.type === 'error') {
      h.subs.delete(m.id);
      s[0].subs.delete(s[1]);
    }
    [to, m.id] = s;
  } else if (m.req !== undefined) {
    if (!h.reqs.has(m.req)) return;
    const req = h.reqs.get(m.req)[1];
    to = settled(t, h, m.req);
    m.req = req;
  } else if (m.type === 'error') to = h.hello; // a refused token: the last hello's
  if (to) post(t, h, to, m);
  else for (const p of m.type === 'error' ? known(h) : open(h)) post(t, h, p, m);
  // A socket that hears nothing for two heartbeats takes the server for gone: the quiet ones hear a ping.
  const beat = h.welcome?.heartbeatMs ?? 25000;
  for (const p of h.ports.values()) if (p.open && now - p.sent > beat / 2) post(t, h, p, { type: 'ping' });
}
")]
extern "C" {
    #[wasm_bindgen(js_name = openTabs)]
    fn open_tabs(name: &str, web_socket: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = tabsSocket)]
    fn tabs_socket(tabs: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = closeTabs)]
    fn close_tabs(tabs: &JsValue);
    #[wasm_bindgen(js_name = tellTabs)]
    fn tell_tabs(socket: &JsValue, text: &JsValue);
}

/// Tells the tabs sharing `socket` (if it is a shared tabs' socket; else nothing happens) of a write
/// its client has not sent yet, given as the JSON text of its frame: the leader has them show it at
/// once, and it is not told again when its frame goes. Without the `tabs` feature, nothing.
pub fn tell(socket: &JsValue, text: &JsValue) {
    #[cfg(feature = "tabs")]
    tell_tabs(socket, text);
    #[cfg(not(feature = "tabs"))]
    let _ = (socket, text);
}

/// This tab's part in sharing one socket among the tabs of client `name`: its locks, its channel and,
/// while it leads, the WebSocket. Dropping it releases all of them (another tab takes the lead).
#[must_use = "the tab leaves the others when dropped"]
pub struct SharedTabs {
    handle: JsValue,
}

impl SharedTabs {
    /// Joins the tabs of client `name`, whose leader opens sockets with `web_socket` (a WebSocket
    /// class, or `undefined` for the global one). `None` where tabs cannot share (no Web Locks or no
    /// `BroadcastChannel`, or a build without the feature).
    pub fn open(name: &str, web_socket: &JsValue) -> Option<Self> {
        #[cfg(feature = "tabs")]
        {
            let handle = open_tabs(name, web_socket);
            (!handle.is_undefined()).then(|| Self { handle })
        }
        #[cfg(not(feature = "tabs"))]
        {
            let _ = (name, web_socket);
            None
        }
    }

    /// The WebSocket class the client opens its sockets with: each is carried by the leader's.
    pub fn socket_class(&self) -> JsValue {
        #[cfg(feature = "tabs")]
        return tabs_socket(&self.handle);
        #[cfg(not(feature = "tabs"))]
        self.handle.clone() // never made in this build
    }

    /// The snippet's handle, for `stats()` (it tells whether this tab leads).
    pub fn js(&self) -> &JsValue {
        &self.handle
    }
}

impl Drop for SharedTabs {
    fn drop(&mut self) {
        #[cfg(feature = "tabs")]
        close_tabs(&self.handle);
    }
}
