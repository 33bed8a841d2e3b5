//! Outgoing values: snapshots as plain JS objects, errors as `Error` objects with a `code`, and client
//! messages as JSON text.

use livepath_protocol::{ClientMessage, ErrorCode};
use wasm_bindgen::JsValue;

use crate::{
    Data,
    browser::snippet::{
        client_frame, collection_snapshot, doc_change, document_snapshot, livepath_error, version_result,
    },
    core::{CollectionDoc, DocState, Snapshot, split_last},
};

/// The document `id` of `collection`.
fn document(collection: &str, id: &str, state: &DocState<Data>, from_cache: bool, pending: bool) -> JsValue {
    let data = state.data.as_ref().map_or(JsValue::NULL, |d| d.0.clone());
    document_snapshot(collection, id, state.exists, &data, state.version as f64, from_cache, pending)
}

fn collection_doc(collection: &str, doc: &CollectionDoc<Data>, from_cache: bool) -> JsValue {
    document(collection, doc.id(), &doc.state(), from_cache, doc.pending)
}

/// The `Snapshot` object listeners receive (see the TypeScript types in `crate::js`).
pub fn snapshot(snapshot: &Snapshot<Data>) -> JsValue {
    match snapshot {
        Snapshot::Document { path, state, from_cache, pending } => {
            // A document's path always has a parent collection.
            let (collection, id) = split_last(path).unwrap_or_default();
            document(collection, id, state, *from_cache, *pending)
        }
        Snapshot::Collection { path, docs, changes, version, from_cache, pending } => {
            let mut js_docs = Vec::with_capacity(docs.len());
            for d in docs {
                js_docs.push(collection_doc(path, d, *from_cache));
            }
            let mut js_changes = Vec::with_capacity(changes.len());
            for c in changes {
                let doc = document(path, &c.id, &c.doc, *from_cache, c.pending);
                js_changes.push(doc_change(c.kind.as_str(), &doc, c.old_index as f64, c.new_index as f64));
            }
            collection_snapshot(path, js_docs, js_changes, *version as f64, *from_cache, *pending)
        }
    }
}

/// A `LivepathError`: a real `Error` with `name` "LivepathError" and a `code`.
pub fn error(code: ErrorCode, message: &str) -> JsValue {
    livepath_error(code as u32, message)
}

/// `{ version }`, what a write resolves with.
pub fn version(version: u64) -> JsValue {
    version_result(version as f64)
}

/// The fields a client message may have; `None` ones are left out of its JSON.
#[derive(Default)]
struct Frame<'a> {
    kind: &'static str,
    id: Option<u64>,
    req: Option<u64>,
    path: Option<&'a str>,
    since: Option<u64>,
    query: Option<&'a str>,
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
/// the fields `livepath_protocol`'s serde derive gives it; a `subscribe`'s query is written as `query`,
/// its canonical JSON (the core holds it). The frame is built in JS, where the data already
/// is, rather than by serde-wasm-bindgen's serializer (docs/wasm-size.md).
pub fn encode(message: &ClientMessage<Data>, query: Option<&str>) -> JsValue {
    let frame = match message {
        ClientMessage::Hello { token } => Frame { kind: "hello", token: token.as_deref(), ..Frame::default() },
        ClientMessage::Subscribe { id, path, since, .. } => {
            Frame { kind: "subscribe", id: Some(*id), path: Some(path), since: *since, query, ..Frame::default() }
        }
        ClientMessage::Unsubscribe { id } => Frame { kind: "unsubscribe", id: Some(*id), ..Frame::default() },
        ClientMessage::Set { req, path, data, key, .. } => Frame::write("set", *req, path, Some(data), key),
        ClientMessage::Update { req, path, data, key, .. } => Frame::write("update", *req, path, Some(data), key),
        ClientMessage::Delete { req, path, key, .. } => Frame::write("delete", *req, path, None, key),
        ClientMessage::Get { req, path, .. } => {
            Frame { kind: "get", req: Some(*req), path: Some(path), query, ..Frame::default() }
        }
        // The core does not send commits of several writes yet: only the one-write messages above.
        ClientMessage::Commit { req, key, .. } => {
            Frame { kind: "commit", req: Some(*req), key: key.as_deref(), ..Frame::default() }
        }
        ClientMessage::Ping => Frame { kind: "ping", ..Frame::default() },
    };
    let number = |n: Option<u64>| n.map(|n| n as f64);
    client_frame(
        frame.kind,
        number(frame.id),
        number(frame.req),
        frame.path,
        number(frame.since),
        frame.query,
        frame.data.map_or(&JsValue::UNDEFINED, |d| &d.0),
        frame.key,
        frame.token,
    )
}
