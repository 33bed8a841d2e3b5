//! The package's hand-written JavaScript. It is one `inline_js` snippet because wasm-bindgen makes a
//! file of each, and every file is one more request and its own gzip overhead.

use js_sys::Object;
use wasm_bindgen::{JsValue, prelude::wasm_bindgen};
use web_sys::WebSocket;

#[wasm_bindgen(inline_js = "export function documentSnapshot(collection, id, exists, data, version, fromCache, hasPendingWrites) {
  return { kind: 'document', path: collection + '/' + id, id, exists, data, version, fromCache, hasPendingWrites };
}
export function writeFrame(type, req, path, data, key) {
  return JSON.stringify({ type, req, path, data, key });
}
export function merged(base, fields) {
  return base instanceof Object && fields instanceof Object ? { ...base, ...fields } : fields;
}
export function sendText(ws, text) { ws.send(text); }")]
extern "C" {
    /// Builds a `DocumentSnapshot` in one call: one wasm→JS crossing instead of one per field. Its
    /// path is joined in JS: the documents of a collection snapshot would each need a `format!`.
    #[wasm_bindgen(js_name = documentSnapshot)]
    pub fn document_snapshot(
        collection: &str,
        id: &str,
        exists: bool,
        data: &JsValue,
        version: f64,
        from_cache: bool,
        pending: bool,
    ) -> Object;

    /// A `set`, `update` or `delete` frame as JSON text, built and stringified in one call (an absent
    /// `data` or `key` is `undefined`, which JSON leaves out). Writes are the frames a client sends
    /// most; field by field, each name and value would cross from wasm to JS on its own.
    #[wasm_bindgen(js_name = writeFrame)]
    pub fn write_frame(kind: &str, req: f64, path: &str, data: &JsValue, key: Option<String>) -> JsValue;

    /// `{ ...base, ...fields }` when both are objects, else `fields`: an `update` applied locally. One
    /// call instead of a type check of each and two `Object.assign`s.
    pub fn merged(base: &JsValue, fields: &JsValue) -> JsValue;

    /// `WebSocket.send` with a JS string as it is: web-sys's `send_with_str` takes a Rust `&str`, which
    /// would copy a frame built in JS into the wasm and back out again.
    #[wasm_bindgen(catch, js_name = sendText)]
    pub fn send_text(ws: &WebSocket, text: &JsValue) -> Result<(), JsValue>;
}
