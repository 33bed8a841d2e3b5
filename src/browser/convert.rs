//! Outgoing values: snapshots as plain JS objects, errors as `Error` objects with a `code`, and client
//! messages as JSON text.

use js_sys::{Array, Object, Reflect};
use livepath_protocol::{ClientMessage, ErrorCode};
use wasm_bindgen::JsValue;

use crate::{
    Data,
    browser::snippet::{client_frame, document_snapshot},
    core::{CollectionDoc, DocChange, DocState, Snapshot, split_last},
};

fn set(object: &Object, key: &str, value: impl Into<JsValue>) {
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(object, &JsValue::from_str(key), &value.into());
}

/// The document `id` of `collection`.
fn document(collection: &str, id: &str, state: &DocState<Data>, from_cache: bool, pending: bool) -> Object {
    let data = state.data.as_ref().map_or(JsValue::NULL, |d| d.0.clone());
    document_snapshot(collection, id, state.exists, &data, state.version as f64, from_cache, pending)
}

fn collection_doc(collection: &str, doc: &CollectionDoc<Data>, from_cache: bool) -> Object {
    let state = DocState { version: doc.version, exists: true, data: Some(doc.data.clone()) };
    document(collection, &doc.id, &state, from_cache, doc.pending)
}

fn change(collection: &str, change: &DocChange<Data>, from_cache: bool) -> Object {
    let o = Object::new();
    set(&o, "type", change.kind.as_str());
    set(&o, "doc", document(collection, &change.id, &change.doc, from_cache, change.pending));
    set(&o, "oldIndex", change.old_index as f64);
    set(&o, "newIndex", change.new_index as f64);
    o
}

/// The `Snapshot` object listeners receive (see the TypeScript types in `crate::js`).
pub fn snapshot(snapshot: &Snapshot<Data>) -> JsValue {
    match snapshot {
        Snapshot::Document { path, state, from_cache, pending } => {
            // A document's path always has a parent collection.
            let (collection, id) = split_last(path).unwrap_or_default();
            document(collection, id, state, *from_cache, *pending).into()
        }
        Snapshot::Collection { path, docs, changes, version, from_cache, pending } => {
            let o = Object::new();
            set(&o, "kind", "collection");
            set(&o, "path", path.as_str());
            // Arrays filled by loops: `collect::<Array>()` (js-sys's `Extend`) is larger in the wasm.
            let array = Array::new();
            for d in docs {
                array.push(&collection_doc(path, d, *from_cache));
            }
            set(&o, "docs", array);
            let array = Array::new();
            for c in changes {
                array.push(&change(path, c, *from_cache));
            }
            set(&o, "changes", array);
            set(&o, "version", *version as f64);
            set(&o, "fromCache", *from_cache);
            set(&o, "hasPendingWrites", *pending);
            o.into()
        }
    }
}

/// A `LivepathError`: a real `Error` with `name` "LivepathError" and a `code`.
pub fn error(code: ErrorCode, message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    e.set_name("LivepathError");
    set(&e, "code", code.as_str());
    e.into()
}

/// `{ version }`, what a write resolves with.
pub fn version(version: u64) -> JsValue {
    let o = Object::new();
    set(&o, "version", version as f64);
    o.into()
}

/// The fields a client message may have; `None` ones are left out of its JSON.
#[derive(Default)]
struct Frame<'a> {
    kind: &'static str,
    id: Option<u64>,
    req: Option<u64>,
    path: Option<&'a str>,
    since: Option<u64>,
    data: Option<&'a Data>,
    key: Option<&'a str>,
    token: Option<&'a str>,
}

impl<'a> Frame<'a> {
    /// A `set`, `update` or `delete`.
    fn write(kind: &'static str, req: u64, path: &'a str, data: Option<&'a Data>, key: &'a Option<String>) -> Self {
        Frame { kind, req: Some(req), path: Some(path), data, key: key.as_deref(), ..Frame::default() }
    }
}

/// A client message as JSON text (a JS string, handed to the socket without a copy into the wasm), with
/// the fields `livepath_protocol`'s serde derive gives it. The frame is built in JS: serde-wasm-bindgen's
/// serializer (and its string cache) would add about 4 KB of wasm, and the data is a JS object already.
pub fn encode(message: &ClientMessage<Data>) -> JsValue {
    let frame = match message {
        ClientMessage::Hello { token } => Frame { kind: "hello", token: token.as_deref(), ..Frame::default() },
        ClientMessage::Subscribe { id, path, since } => {
            Frame { kind: "subscribe", id: Some(*id), path: Some(path), since: *since, ..Frame::default() }
        }
        ClientMessage::Unsubscribe { id } => Frame { kind: "unsubscribe", id: Some(*id), ..Frame::default() },
        ClientMessage::Set { req, path, data, key } => Frame::write("set", *req, path, Some(data), key),
        ClientMessage::Update { req, path, data, key } => Frame::write("update", *req, path, Some(data), key),
        ClientMessage::Delete { req, path, key } => Frame::write("delete", *req, path, None, key),
        ClientMessage::Ping => Frame { kind: "ping", ..Frame::default() },
    };
    let number = |n: Option<u64>| n.map(|n| n as f64);
    client_frame(
        frame.kind,
        number(frame.id),
        number(frame.req),
        frame.path,
        number(frame.since),
        frame.data.map_or(&JsValue::UNDEFINED, |d| &d.0),
        frame.key,
        frame.token,
    )
}
