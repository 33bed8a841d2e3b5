//! The package's hand-written JavaScript. It is one `inline_js` snippet because wasm-bindgen makes a
//! file of each, and every file is one more request and its own gzip overhead.

use js_sys::Object;
use wasm_bindgen::{JsValue, prelude::wasm_bindgen};
use web_sys::WebSocket;

#[wasm_bindgen(inline_js = "export function documentSnapshot(collection, id, exists, data, version, fromCache, hasPendingWrites) {
  return { kind: 'document', path: collection + '/' + id, id, exists, data, version, fromCache, hasPendingWrites };
}
export function clientFrame(type, id, req, path, since, data, key, token) {
  return JSON.stringify({ type, id, req, path, since, data, key, token });
}
export function merged(base, fields) {
  return base instanceof Object && fields instanceof Object ? { ...base, ...fields } : fields;
}
export function defaultUrl() {
  const location = globalThis.location;
  return `${location?.protocol === 'https:' ? 'wss' : 'ws'}://${location?.host ?? 'localhost'}/v1/ws`;
}
export function pageVisible() { return globalThis.document?.visibilityState === 'visible'; }
export function livepathErrorShape(e) {
  return e instanceof Error && e.name === 'LivepathError' && typeof e.code === 'string';
}
export function errorMessage(e) { return e instanceof Error ? e.message : ''; }
export function sendText(ws, text) { ws.send(text); }
export function setHandlers(ws, onopen, onmessage, onclose) { Object.assign(ws, { onopen, onmessage, onclose }); }
export function closeSocket(ws) {
  setHandlers(ws, null, null, null);
  ws.close(1000);
}")]
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

    /// A client message as JSON text, built and stringified in one call: absent fields are
    /// `undefined`, which JSON leaves out, and the others keep the order of the protocol's serde
    /// derive. Field by field, each name and value would cross from wasm to JS on its own.
    #[wasm_bindgen(js_name = clientFrame)]
    #[allow(clippy::too_many_arguments)]
    pub fn client_frame(
        kind: &str,
        id: Option<f64>,
        req: Option<f64>,
        path: Option<&str>,
        since: Option<f64>,
        data: &JsValue,
        key: Option<&str>,
        token: Option<&str>,
    ) -> JsValue;

    /// `{ ...base, ...fields }` when both are objects, else `fields`: an `update` applied locally. One
    /// call instead of a type check of each and two `Object.assign`s.
    pub fn merged(base: &JsValue, fields: &JsValue) -> JsValue;

    /// `/v1/ws` on the page's own origin (`wss` on an `https:` page), or on `localhost` where there is
    /// no page, as a JS string. One call instead of three property reads and a `format!`; a `String`
    /// return type would bring its own glue.
    #[wasm_bindgen(js_name = defaultUrl)]
    pub fn default_url() -> JsValue;

    /// Whether the page is shown (`document.visibilityState` is "visible"), in one call instead of
    /// two property reads.
    #[wasm_bindgen(js_name = pageVisible)]
    pub fn page_visible() -> bool;

    /// Whether `e` is an `Error` named "LivepathError" with a string `code`: one call instead of a
    /// type check and two property reads.
    #[wasm_bindgen(js_name = livepathErrorShape)]
    pub fn livepath_error_shape(e: &JsValue) -> bool;

    /// The `message` of an `Error`, else an empty string: one call instead of a type check and a read.
    #[wasm_bindgen(js_name = errorMessage)]
    pub fn error_message(e: &JsValue) -> JsValue;

    /// `WebSocket.send` with a JS string as it is: web-sys's `send_with_str` takes a Rust `&str`, which
    /// would copy a frame built in JS into the wasm and back out again.
    #[wasm_bindgen(catch, js_name = sendText)]
    pub fn send_text(ws: &WebSocket, text: &JsValue) -> Result<(), JsValue>;

    /// Sets (or, with `null`s, clears) a socket's `onopen`, `onmessage` and `onclose` in one call: one
    /// import instead of three.
    #[wasm_bindgen(js_name = setHandlers)]
    pub fn set_handlers(ws: &WebSocket, onopen: &JsValue, onmessage: &JsValue, onclose: &JsValue);

    /// Clears the socket's handlers, so no event reaches its owner any more, and closes it with 1000
    /// (a normal close; a socket closing or closed already ignores it). One call instead of two imports.
    #[wasm_bindgen(js_name = closeSocket)]
    pub fn close_socket(ws: &WebSocket);
}
