//! [`SharedTabs`]: one WebSocket for every tab of an origin that uses one client `name` (`tabs:
//! "shared"`). The tabs elect a leader with a Web Lock; it alone holds the WebSocket, and carries the
//! other tabs' frames over a `BroadcastChannel`, with their subscription ids and write numbers
//! rewritten so that they cannot collide. A client sees an ordinary socket (the snippet's
//! `TabSocket`): when the leader goes, its socket closes and it reconnects as after any drop —
//! resuming every path with `since` and sending its pending writes again with their keys. The leader
//! tells the other tabs of each write it carries (`pending`, then `settled`), so they show it at once.
//!
//! Without the `tabs` feature (or where `navigator.locks` or `BroadcastChannel` is missing) there is
//! nothing to share and each client keeps its own socket.

use wasm_bindgen::JsValue;
#[cfg(feature = "tabs")]
use wasm_bindgen::prelude::wasm_bindgen;

// The tabs' own snippet (its own `inline_js`, so a build without the feature ships none of it).
#[cfg(feature = "tabs")]
#[wasm_bindgen(inline_js = "
const LOCK = 'livepath-tabs ';
const OPS = ['set', 'update', 'delete'];
// Messages between the tabs (BroadcastChannel, or a microtask inside the leader's own tab), by `k`:
// 0 a socket asks the leader for a connection, 1 a frame (to the leader: the text a client sent; to a
// socket: the object the server sent, ids rewritten), 2 a socket's end, 3 a new leader, 4 connected.
export function openTabs(name, WS = globalThis.WebSocket) {
  const locks = globalThis.navigator?.locks;
  if (!locks || typeof BroadcastChannel != 'function') return;
  const t = { id: Math.random().toString(36).slice(2), n: 0, WS, sockets: new Map(), stop: new AbortController(), release: [] };
  t.ch = new BroadcastChannel(LOCK + name);
  t.lock = (tab, then) => locks.request(LOCK + name + (tab ? ' tab ' + tab : ''), { signal: t.stop.signal }, () => {
    if (!t.closed) return then();
  }).catch(() => {});
  const hold = (then) => () => new Promise((r) => { t.release.push(r); then(); });
  // The tab's own lock, held while it lives: the leader waits for it to learn that the tab is gone.
  t.held = new Promise((granted) => t.lock(t.id, hold(granted)));
  t.lock('', hold(() => lead(t)));
  t.ch.onmessage = ({ data: d }) => {
    if (d.k === 3) attach(t, d.hub);
    else if (d.to === undefined) t.hub?.take(d);
    else t.sockets.get(d.to)?.hear(d);
  };
  t.Socket = function (url, protocol) { return new TabSocket(t, url, protocol); };
  return t;
}
export function tabsSocket(t) { return t.Socket; }
export function closeTabs(t) {
  t.closed = true;
  for (const s of [...t.sockets.values()]) s.end();
  if (t.hub) shut(t, t.hub);
  t.hub = null;
  t.stop.abort();
  t.release.forEach((r) => r());
  t.ch.close();
}
const toHub = (t, d) => t.hub ? queueMicrotask(() => t.hub?.take(d)) : t.closed || t.ch.postMessage(d);
// A socket as the client's core sees one (readyState, send, close, onopen, onmessage, onclose), carried
// by the leader's WebSocket.
class TabSocket {
  constructor(t, url, protocol) {
    Object.assign(this, { t, url, protocol, id: t.id + ' ' + ++t.n, readyState: 0 });
    t.sockets.set(this.id, this);
    // No leader answers (one is being chosen, or the tab is closing): fail, and the client retries.
    this.timer = setTimeout(() => this.close(), 5000);
    t.held.then(() => this.ask());
  }
  ask() {
    if (this.readyState === 0) toHub(this.t, { k: 0, from: this.id, tab: this.t.id, url: this.url, protocol: this.protocol });
  }
  send(m) { if (this.readyState === 1) toHub(this.t, { k: 1, from: this.id, m }); }
  close() {
    if (this.readyState < 2) toHub(this.t, { k: 2, from: this.id });
    this.end();
  }
  hear(d) {
    if (d.k === 4) {
      if (this.readyState) return;
      this.hub = d.hub;
      this.readyState = 1;
      clearTimeout(this.timer);
      this.onopen?.();
    } else if (this.readyState === 1 && d.hub === this.hub) d.k === 1 ? this.onmessage?.({ data: d.m, parsed: true }) : this.end();
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
  for (const s of [...t.sockets.values()]) s.readyState ? s.hub !== hub && s.end() : s.ask();
}
function lead(t) {
  const h = t.hub = { ports: new Map(), subs: new Map(), reqs: new Map(), tabs: new Set(), n: 0, heard: 0 };
  h.take = (d) => take(t, h, d);
  t.ch.postMessage({ k: 3, hub: t.id });
  attach(t, t.id);
}
function post(t, h, p, m, k = 1) {
  const d = { k, to: p.id, hub: t.id, m };
  p.sent = Date.now();
  p.tab === t.id ? queueMicrotask(() => t.sockets.get(p.id)?.hear(d)) : t.ch.postMessage(d);
}
function opened(t, h, p) {
  if (p.open) return;
  p.open = true;
  post(t, h, p, 0, 4);
  if (h.welcome) post(t, h, p, h.welcome);
}
const open = (h) => [...h.ports.values()].filter((p) => p.open);
function take(t, h, d) {
  const p = h.ports.get(d.from);
  if (d.k === 0) {
    if (p) return;
    // A server silent for two heartbeats is gone: the clients found out first, and come back.
    if (h.ws && Date.now() - h.heard > 2 * (h.welcome?.heartbeatMs ?? 25000) && h.ws.readyState === 1) shut(t, h);
    const q = { id: d.from, tab: d.tab, subs: new Map() };
    h.ports.set(d.from, q);
    if (d.tab !== t.id && !h.tabs.has(d.tab)) {
      h.tabs.add(d.tab);
      // Granted once that tab is gone (closed or crashed): its subscriptions end.
      t.lock(d.tab, () => {
        h.tabs.delete(d.tab);
        for (const p of [...h.ports.values()]) if (p.tab === d.tab) drop(t, h, p);
      });
    }
    if (!h.ws) connect(t, h, d);
    else if (h.ws.readyState === 1) opened(t, h, q);
  } else if (!p) {
    // A socket this leader does not carry (it asked an earlier one): it ends, and asks again.
    if (d.k === 1) post(t, h, { id: d.from, tab: d.from.split(' ')[0] }, 0, 2);
  } else if (d.k === 2) drop(t, h, p);
  else forward(t, h, p, JSON.parse(d.m));
}
function connect(t, h, d) {
  let ws;
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
// The WebSocket closed (or the leader is leaving): every socket it carried ends.
function shut(t, h) {
  const ws = h.ws;
  h.ws = h.welcome = null;
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
  for (const id of p.subs.values()) {
    send(h, { type: 'unsubscribe', id });
    h.subs.delete(id);
  }
  for (const [req, w] of h.reqs) if (w[0] === p) settled(t, h, req);
  if (!h.ports.size) shut(t, h);
}
function settled(t, h, req) {
  const [from, , key] = h.reqs.get(req);
  h.reqs.delete(req);
  for (const p of open(h)) if (p !== from) post(t, h, p, { type: 'settled', key });
  return from;
}
function forward(t, h, p, m) {
  const type = m.type;
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
  } else if (OPS.includes(type)) {
    h.reqs.set(++h.n, [p, m.req, m.key]);
    m.req = h.n;
    // The other tabs show it at once too, until it is settled.
    const pending = { type: 'pending', op: OPS.indexOf(type), path: m.path, data: m.data, key: m.key };
    for (const q of open(h)) if (q !== p) post(t, h, q, pending);
  }
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
  }
  if (to) post(t, h, to, m);
  else for (const p of open(h)) post(t, h, p, m);
  // A socket that hears nothing for two heartbeats takes the server for gone: the quiet ones hear a ping.
  const beat = h.welcome?.heartbeatMs ?? 25000;
  for (const p of open(h)) if (now - p.sent > beat / 2) post(t, h, p, { type: 'ping' });
}
")]
extern "C" {
    #[wasm_bindgen(js_name = openTabs)]
    fn open_tabs(name: &str, web_socket: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = tabsSocket)]
    fn tabs_socket(tabs: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = closeTabs)]
    fn close_tabs(tabs: &JsValue);
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
