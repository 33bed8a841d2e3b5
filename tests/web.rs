//! The client in headless Chromium against a real livepath-server.
//!
//! `scripts/test` starts the server and builds these tests with `LIVEPATH_TEST_SERVER=127.0.0.1:PORT`.
#![cfg(target_arch = "wasm32")]

use std::{cell::RefCell, rc::Rc};

use gloo_timers::future::TimeoutFuture;
use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const SERVER: &str = match option_env!("LIVEPATH_TEST_SERVER") {
    Some(server) => server,
    None => "127.0.0.1:7070",
};

fn ws_url() -> String {
    format!("ws://{SERVER}/v1/ws")
}

fn options() -> JsValue {
    let o = js_sys::Object::new();
    Reflect::set(&o, &"url".into(), &ws_url().into()).unwrap();
    Reflect::set(&o, &"lingerMs".into(), &200.into()).unwrap();
    o.into()
}

/// A path no other test uses.
fn unique(collection: &str) -> String {
    format!("{collection}/d{}", (js_sys::Math::random() * 1e15) as u64)
}

async fn http(method: &str, path: &str, body: Option<&str>) -> (u16, JsValue) {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(body) = body {
        init.set_body(&body.into());
        let headers = web_sys::Headers::new().unwrap();
        headers.set("content-type", "application/json").unwrap();
        init.set_headers(&headers);
    }
    let url = format!("http://{SERVER}/v1/docs/{path}");
    let window = web_sys::window().unwrap();
    let response: web_sys::Response =
        JsFuture::from(window.fetch_with_str_and_init(&url, &init)).await.unwrap().unchecked_into();
    let json = JsFuture::from(response.json().unwrap()).await.unwrap();
    (response.status(), json)
}

/// Writes over HTTP (as a backend would) and returns the version.
async fn put(path: &str, body: &str) -> f64 {
    let (status, json) = http("PUT", path, Some(body)).await;
    assert_eq!(status, 200, "PUT {path}");
    Reflect::get(&json, &"version".into()).unwrap().as_f64().unwrap()
}

fn get(value: &JsValue, path: &str) -> JsValue {
    path.split('.').fold(value.clone(), |v, k| Reflect::get(&v, &k.into()).unwrap())
}

/// Polls `condition` every 10 ms for up to 5 s.
async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..500 {
        if condition() {
            return;
        }
        TimeoutFuture::new(10).await;
    }
    panic!("timed out waiting until {what}");
}

/// A JS callback recording every snapshot it receives.
struct Recorder {
    seen: Rc<RefCell<Vec<JsValue>>>,
    function: Function,
    _closure: Closure<dyn FnMut(JsValue)>,
}

impl Recorder {
    fn new() -> Self {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let sink = seen.clone();
        let closure = Closure::wrap(Box::new(move |s: JsValue| sink.borrow_mut().push(s)) as Box<dyn FnMut(JsValue)>);
        let function = closure.as_ref().unchecked_ref::<Function>().clone();
        Self { seen, function, _closure: closure }
    }

    fn len(&self) -> usize {
        self.seen.borrow().len()
    }

    fn last(&self, field: &str) -> JsValue {
        get(self.seen.borrow().last().expect("a snapshot"), field)
    }
}

#[wasm_bindgen_test]
async fn a_listener_gets_the_current_value_then_each_write_and_nothing_after_unsubscribe() {
    let path = unique("docs");
    put(&path, r#"{"n":1}"#).await;
    let client = livepath::connect(options());

    let listener = Recorder::new();
    let unsubscribe = client.on_snapshot_js(&path, listener.function.clone().unchecked_into(), None).unwrap();
    wait_until("the first snapshot", || listener.len() == 1).await;
    assert_eq!(listener.last("kind"), "document");
    assert_eq!(listener.last("exists"), true);
    assert_eq!(listener.last("data.n"), 1);
    assert_eq!(listener.last("path"), path.as_str());

    let version = put(&path, r#"{"n":2}"#).await;
    wait_until("the HTTP write to arrive", || listener.len() == 2).await;
    assert_eq!(listener.last("data.n"), 2);
    assert_eq!(listener.last("version"), version);

    // A second listener on the same path sees what the first would have seen.
    let observer = Recorder::new();
    let _keep = client.on_snapshot_js(&path, observer.function.clone().unchecked_into(), None).unwrap();
    wait_until("the cached snapshot", || observer.len() == 1).await;

    unsubscribe.call0(&JsValue::NULL).unwrap();
    unsubscribe.call0(&JsValue::NULL).unwrap(); // idempotent
    put(&path, r#"{"n":3}"#).await;
    wait_until("the observer to see the third write", || observer.len() == 2).await;
    assert_eq!(observer.last("data.n"), 3);
    assert_eq!(listener.len(), 2, "no callback after unsubscribe");
    client.close();
}

#[wasm_bindgen_test]
async fn a_missing_document_reports_exists_false_then_appears() {
    let path = unique("docs");
    let client = livepath::connect(options());
    let listener = Recorder::new();
    let _unsubscribe = client.on_snapshot_js(&path, listener.function.clone().unchecked_into(), None).unwrap();
    wait_until("the first snapshot", || listener.len() == 1).await;
    assert_eq!(listener.last("exists"), false);
    assert!(listener.last("data").is_null());
    put(&path, r#"{"hello":"world"}"#).await;
    wait_until("the document to appear", || listener.len() == 2).await;
    assert_eq!(listener.last("data.hello"), "world");
    client.close();
}

#[wasm_bindgen_test]
async fn writes_from_the_client_resolve_with_the_version_and_reach_listeners() {
    let path = unique("docs");
    let client = livepath::connect(options());
    let listener = Recorder::new();
    let _unsubscribe = client.on_snapshot_js(&path, listener.function.clone().unchecked_into(), None).unwrap();
    let data = js_sys::JSON::parse(r#"{"title":"from the client"}"#).unwrap();
    let result = JsFuture::from(client.set(&path, data)).await.unwrap();
    let version = get(&result, "version").as_f64().unwrap();
    wait_until("the written value", || listener.len() >= 1 && listener.last("version") == version).await;
    assert_eq!(listener.last("data.title"), "from the client");
    let (status, doc) = http("GET", &path, None).await;
    assert_eq!((status, get(&doc, "data.title")), (200, JsValue::from("from the client")));

    let missing = unique("docs");
    let error = JsFuture::from(client.update(&missing, js_sys::Object::new().into())).await.unwrap_err();
    assert!(livepath::is_livepath_error(error.clone()));
    assert_eq!(get(&error, "code"), "not-found");
    client.close();
}

#[wasm_bindgen_test]
fn an_invalid_path_throws_a_livepath_error_at_once() {
    let client = livepath::connect(options());
    let listener = Recorder::new();
    let error = client.on_snapshot_js("rooms//r1", listener.function.clone().unchecked_into(), None).unwrap_err();
    assert!(error.is_instance_of::<js_sys::Error>());
    assert!(livepath::is_livepath_error(error.clone()));
    assert_eq!(get(&error, "name"), "LivepathError");
    assert_eq!(get(&error, "code"), "invalid-argument");
    assert!(get(&error, "message").as_string().unwrap().contains("segment 2 is empty"));
    client.close();
}

#[wasm_bindgen_test]
async fn collections_list_documents_in_id_order_with_changes() {
    let collection = format!("lists{}", (js_sys::Math::random() * 1e15) as u64);
    put(&format!("{collection}/b"), r#"{"n":2}"#).await;
    put(&format!("{collection}/a"), r#"{"n":1}"#).await;
    let client = livepath::connect(options());
    let listener = Recorder::new();
    let _unsubscribe = client.on_snapshot_js(&collection, listener.function.clone().unchecked_into(), None).unwrap();
    wait_until("the listing", || listener.len() == 1).await;
    assert_eq!(listener.last("kind"), "collection");
    assert_eq!(listener.last("docs.0.id"), "a");
    assert_eq!(listener.last("docs.1.id"), "b");
    assert_eq!(listener.last("changes.1.type"), "added");
    put(&format!("{collection}/ab"), r#"{"n":3}"#).await;
    wait_until("the added document", || listener.len() == 2).await;
    assert_eq!(listener.last("changes.0.type"), "added");
    assert_eq!(listener.last("changes.0.newIndex"), 1);
    assert_eq!(listener.last("docs.length"), 3);
    client.close();
}

#[wasm_bindgen_test]
async fn the_free_on_snapshot_uses_the_client_configured_by_init() {
    let path = unique("docs");
    put(&path, r#"{"via":"init"}"#).await;
    livepath::init(options());
    let listener = Recorder::new();
    let unsubscribe = livepath::on_snapshot(&path, listener.function.clone().unchecked_into(), None).unwrap();
    wait_until("the snapshot", || listener.len() == 1).await;
    assert_eq!(listener.last("data.via"), "init");
    unsubscribe.call0(&JsValue::NULL).unwrap();
}
