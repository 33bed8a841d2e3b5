//! The client in headless Chromium against a real livepath-server.
//!
//! `scripts/test` starts the server and builds these tests with `LIVEPATH_TEST_SERVER=127.0.0.1:PORT`.
#![cfg(target_arch = "wasm32")]

use std::{cell::RefCell, rc::Rc};

use gloo_timers::future::TimeoutFuture;
use js_sys::{Function, Reflect};
use livepath::core::Snapshot;
use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const SERVER: &str = match option_env!("LIVEPATH_TEST_SERVER") {
    Some(server) => server,
    None => "127.0.0.1:7070",
};

/// Waits for a promise the client returned (typed `JsValue`, as the package returns it).
fn settled(promise: JsValue) -> JsFuture {
    JsFuture::from(js_sys::Promise::from(promise))
}

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
    let client = livepath::connect(options()).expect("valid options");

    let listener = Recorder::new();
    let unsubscribe =
        client.on_snapshot_js(path.as_str().into(), listener.function.clone().unchecked_into(), None).unwrap();
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
    let _keep = client.on_snapshot_js(path.as_str().into(), observer.function.clone().unchecked_into(), None).unwrap();
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
    let client = livepath::connect(options()).expect("valid options");
    let listener = Recorder::new();
    let _unsubscribe =
        client.on_snapshot_js(path.as_str().into(), listener.function.clone().unchecked_into(), None).unwrap();
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
    let client = livepath::connect(options()).expect("valid options");
    let listener = Recorder::new();
    let _unsubscribe =
        client.on_snapshot_js(path.as_str().into(), listener.function.clone().unchecked_into(), None).unwrap();
    let data = js_sys::JSON::parse(r#"{"title":"from the client"}"#).unwrap();
    let result = settled(client.set(&path, data)).await.unwrap();
    let version = get(&result, "version").as_f64().unwrap();
    wait_until("the written value", || listener.len() >= 1 && listener.last("version") == version).await;
    assert_eq!(listener.last("data.title"), "from the client");
    let (status, doc) = http("GET", &path, None).await;
    assert_eq!((status, get(&doc, "data.title")), (200, JsValue::from("from the client")));

    let missing = unique("docs");
    let error = settled(client.update(&missing, js_sys::Object::new().into())).await.unwrap_err();
    assert!(livepath::is_livepath_error(error.clone()));
    assert_eq!(get(&error, "code"), "not-found");
    client.close();
}

#[wasm_bindgen_test]
fn an_invalid_path_throws_a_livepath_error_at_once() {
    let client = livepath::connect(options()).expect("valid options");
    let listener = Recorder::new();
    let error =
        client.on_snapshot_js("rooms//r1".into(), listener.function.clone().unchecked_into(), None).unwrap_err();
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
    let client = livepath::connect(options()).expect("valid options");
    let listener = Recorder::new();
    let _unsubscribe =
        client.on_snapshot_js(collection.as_str().into(), listener.function.clone().unchecked_into(), None).unwrap();
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
    livepath::init(options()).expect("valid options");
    let listener = Recorder::new();
    let unsubscribe =
        livepath::on_snapshot(path.as_str().into(), listener.function.clone().unchecked_into(), None).unwrap();
    wait_until("the snapshot", || listener.len() == 1).await;
    assert_eq!(listener.last("data.via"), "init");
    unsubscribe.call0(&JsValue::NULL).unwrap();
}

fn options_with(extra: &[(&str, JsValue)]) -> JsValue {
    let o = options();
    for (k, v) in extra {
        Reflect::set(&o, &(*k).into(), v).unwrap();
    }
    o
}

fn fast_backoff() -> JsValue {
    js_sys::JSON::parse(r#"{"initialMs":20,"maxMs":100,"multiplier":2}"#).unwrap()
}

/// A counter from the server's `/metrics`.
async fn metric(name: &str) -> f64 {
    let window = web_sys::window().unwrap();
    let response: web_sys::Response =
        JsFuture::from(window.fetch_with_str(&format!("http://{SERVER}/metrics"))).await.unwrap().unchecked_into();
    let text = JsFuture::from(response.text().unwrap()).await.unwrap().as_string().unwrap();
    let prefix = format!("livepath_{name} ");
    text.lines().find_map(|l| l.strip_prefix(prefix.as_str())).expect(name).parse().unwrap()
}

/// Cuts every WebSocket of the server without a close frame (the server runs with --fault-injection).
async fn drop_connections() {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    let window = web_sys::window().unwrap();
    let response: web_sys::Response =
        JsFuture::from(window.fetch_with_str_and_init(&format!("http://{SERVER}/v1/_faults/drop-connections"), &init))
            .await
            .unwrap()
            .unchecked_into();
    assert_eq!(response.status(), 200, "the test server must run with --fault-injection");
}

fn stat(client: &livepath::Client, name: &str) -> JsValue {
    get(&client.stats(), name)
}

#[wasm_bindgen_test]
async fn two_listeners_on_one_path_share_one_server_subscription() {
    let path = unique("docs");
    put(&path, r#"{"n":1}"#).await;
    let before = metric("subscribes_total").await;
    let client = livepath::connect(options()).expect("valid options");
    let (a, b) = (Recorder::new(), Recorder::new());
    let _ua = client.on_snapshot_js(path.as_str().into(), a.function.clone().unchecked_into(), None).unwrap();
    let _ub = client.on_snapshot_js(path.as_str().into(), b.function.clone().unchecked_into(), None).unwrap();
    wait_until("both listeners have the value", || a.len() == 1 && b.len() == 1).await;
    assert_eq!(stat(&client, "listeners"), 2);
    assert_eq!(stat(&client, "subscriptions"), 1);
    assert_eq!(metric("subscribes_total").await - before, 1.0);
    client.close();
}

#[wasm_bindgen_test]
async fn mount_unmount_mount_in_one_task_sends_one_subscribe() {
    let path = unique("docs");
    put(&path, r#"{"n":1}"#).await;
    let before = metric("subscribes_total").await;
    let client = livepath::connect(options()).expect("valid options");
    let (first, second) = (Recorder::new(), Recorder::new());
    // React StrictMode runs an effect, its cleanup, and the effect again, synchronously.
    let unsubscribe =
        client.on_snapshot_js(path.as_str().into(), first.function.clone().unchecked_into(), None).unwrap();
    unsubscribe.call0(&JsValue::NULL).unwrap();
    let _keep = client.on_snapshot_js(path.as_str().into(), second.function.clone().unchecked_into(), None).unwrap();
    wait_until("the remounted listener has the value", || second.len() == 1).await;
    TimeoutFuture::new(50).await;
    assert_eq!(metric("subscribes_total").await - before, 1.0, "exactly one subscribe reached the server");
    assert_eq!(first.len(), 0, "the unmounted listener is never called");
    assert_eq!(stat(&client, "subscriptions"), 1);
    client.close();
}

#[wasm_bindgen_test]
async fn a_listener_removed_during_a_delivery_is_not_called_for_that_frame() {
    let path = unique("docs");
    put(&path, r#"{"n":1}"#).await;
    let client = livepath::connect(options()).expect("valid options");
    let victim = Recorder::new();
    let victim_unsubscribe: Rc<RefCell<Option<Function>>> = Rc::default();
    let seen_by_first = Rc::new(RefCell::new(0));
    let first = {
        let victim_unsubscribe = victim_unsubscribe.clone();
        let seen = seen_by_first.clone();
        Closure::wrap(Box::new(move |_s: JsValue| {
            *seen.borrow_mut() += 1;
            if *seen.borrow() == 2 {
                if let Some(f) = victim_unsubscribe.borrow_mut().take() {
                    f.call0(&JsValue::NULL).unwrap();
                }
            }
        }) as Box<dyn FnMut(JsValue)>)
    };
    let _u1 = client.on_snapshot_js(path.as_str().into(), first.as_ref().clone().unchecked_into(), None).unwrap();
    let u2 = client.on_snapshot_js(path.as_str().into(), victim.function.clone().unchecked_into(), None).unwrap();
    *victim_unsubscribe.borrow_mut() = Some(u2);
    wait_until("both have the first value", || *seen_by_first.borrow() == 1 && victim.len() == 1).await;
    put(&path, r#"{"n":2}"#).await;
    wait_until("the first listener sees the write", || *seen_by_first.borrow() == 2).await;
    TimeoutFuture::new(20).await;
    assert_eq!(victim.len(), 1, "unsubscribed inside the same delivery: never called with it");
    client.close();
}

#[wasm_bindgen_test]
async fn after_a_dropped_connection_the_client_reconnects_and_only_changed_paths_call_back() {
    let (changed, unchanged) = (unique("docs"), unique("docs"));
    put(&changed, r#"{"n":1}"#).await;
    put(&unchanged, r#"{"n":1}"#).await;
    let client = livepath::connect(options_with(&[("backoff", fast_backoff())])).expect("valid options");
    let statuses = Rc::new(RefCell::new(Vec::<String>::new()));
    let on_status = {
        let statuses = statuses.clone();
        Closure::wrap(
            Box::new(move |s: JsValue| statuses.borrow_mut().push(s.as_string().unwrap())) as Box<dyn FnMut(JsValue)>
        )
    };
    let _stop_status = client.on_status_js(on_status.as_ref().clone().unchecked_into());
    let (a, b) = (Recorder::new(), Recorder::new());
    let _ua = client.on_snapshot_js(changed.as_str().into(), a.function.clone().unchecked_into(), None).unwrap();
    let _ub = client.on_snapshot_js(unchanged.as_str().into(), b.function.clone().unchecked_into(), None).unwrap();
    wait_until("both values", || a.len() == 1 && b.len() == 1).await;

    drop_connections().await;
    wait_until("reconnecting", || statuses.borrow().iter().any(|s| s == "reconnecting")).await;
    put(&changed, r#"{"n":2}"#).await;
    wait_until("open again", || statuses.borrow().last().map(String::as_str) == Some("open")).await;
    wait_until("the change made while away", || a.len() == 2).await;
    assert_eq!(a.last("data.n"), 2);
    TimeoutFuture::new(100).await;
    assert_eq!(a.len(), 2, "one callback for the changed path");
    assert_eq!(b.len(), 1, "none for the unchanged path");
    let seen: Vec<String> = statuses.borrow().clone();
    let from = seen.iter().position(|s| s == "reconnecting").unwrap();
    assert_eq!(seen[from..].last().map(String::as_str), Some("open"), "{seen:?}");
    client.close();
}

#[wasm_bindgen_test]
async fn writes_cut_off_or_made_while_disconnected_are_applied_exactly_once() {
    let path = unique("docs");
    let client = livepath::connect(options_with(&[("backoff", fast_backoff())])).expect("valid options");
    let listener = Recorder::new();
    let _u = client.on_snapshot_js(path.as_str().into(), listener.function.clone().unchecked_into(), None).unwrap();
    wait_until("connected", || listener.len() == 1).await;
    let before = metric("writes_total").await;

    let in_flight = client.set(&path, js_sys::JSON::parse(r#"{"n":1}"#).unwrap());
    drop_connections().await;
    let offline = client.update(&path, js_sys::JSON::parse(r#"{"m":2}"#).unwrap());
    let first = settled(in_flight).await.unwrap();
    let second = settled(offline).await.unwrap();
    assert!(get(&second, "version").as_f64() > get(&first, "version").as_f64());
    assert_eq!(metric("writes_total").await - before, 2.0, "each write committed once");
    let (_, doc) = http("GET", &path, None).await;
    assert_eq!((get(&doc, "data.n"), get(&doc, "data.m")), (JsValue::from(1), JsValue::from(2)));
    assert_eq!(stat(&client, "pendingWrites"), 0);
    client.close();
}

#[wasm_bindgen_test]
async fn the_socket_closes_after_the_linger_once_the_last_listener_leaves() {
    let path = unique("docs");
    let client = livepath::connect(options()).expect("valid options");
    let listener = Recorder::new();
    let unsubscribe =
        client.on_snapshot_js(path.as_str().into(), listener.function.clone().unchecked_into(), None).unwrap();
    wait_until("the first snapshot", || listener.len() == 1).await;
    assert_eq!(stat(&client, "socket"), "open");
    unsubscribe.call0(&JsValue::NULL).unwrap();
    TimeoutFuture::new(0).await;
    assert_eq!(stat(&client, "listeners"), 0);
    assert_eq!(stat(&client, "subscriptions"), 0);
    assert_eq!(stat(&client, "socket"), "open", "the socket lingers");
    wait_until("the socket closes", || stat(&client, "socket") == "none").await;
    assert_eq!(client.status().as_str(), "idle");
}

#[wasm_bindgen_test]
async fn the_token_function_is_asked_again_on_every_connection_and_may_return_a_promise() {
    let path = unique("docs");
    put(&path, r#"{"n":1}"#).await;
    let asked = Rc::new(RefCell::new(0));
    let token = {
        let asked = asked.clone();
        Closure::wrap(Box::new(move || {
            *asked.borrow_mut() += 1;
            let token = JsValue::from(format!("token-{}", asked.borrow()));
            js_sys::Promise::resolve(&token).into()
        }) as Box<dyn FnMut() -> JsValue>)
    };
    let client = livepath::connect(options_with(&[("backoff", fast_backoff()), ("token", token.as_ref().clone())]))
        .expect("valid options");
    let listener = Recorder::new();
    let _u = client.on_snapshot_js(path.as_str().into(), listener.function.clone().unchecked_into(), None).unwrap();
    wait_until("the first snapshot, after hello", || listener.len() == 1).await;
    assert_eq!(*asked.borrow(), 1);
    drop_connections().await;
    wait_until("reconnected and asked again", || *asked.borrow() == 2 && client.status().as_str() == "open").await;
    put(&path, r#"{"n":2}"#).await;
    wait_until("listeners carry on", || listener.len() == 2).await;
    client.close();
}

#[wasm_bindgen_test]
async fn a_write_shows_at_once_with_pending_writes_then_confirmed() {
    let path = unique("docs");
    put(&path, r#"{"n":1}"#).await;
    let client = livepath::connect(options()).expect("valid options");
    let listener = Recorder::new();
    let _u = client.on_snapshot_js(path.as_str().into(), listener.function.clone().unchecked_into(), None).unwrap();
    wait_until("the first snapshot", || listener.len() == 1).await;
    let promise = client.update(&path, js_sys::JSON::parse(r#"{"m":2}"#).unwrap());
    assert_eq!(listener.len(), 2, "the local result is delivered synchronously with the write");
    assert_eq!((listener.last("data.n"), listener.last("data.m")), (JsValue::from(1), JsValue::from(2)));
    assert_eq!(listener.last("hasPendingWrites"), true);
    let version = get(&settled(promise).await.unwrap(), "version");
    wait_until("the confirmed snapshot", || listener.last("hasPendingWrites") == false).await;
    assert_eq!(listener.len(), 3, "one local and one confirmed callback");
    assert_eq!(listener.last("version"), version);
    assert_eq!(listener.last("data.m"), 2);
    client.close();
}

#[wasm_bindgen_test]
async fn a_write_the_server_rejects_rolls_the_local_view_back() {
    let path = unique("docs");
    put(&path, r#"{"n":1}"#).await;
    let client = livepath::connect(options_with(&[("backoff", fast_backoff())])).expect("valid options");
    let listener = Recorder::new();
    let _u = client.on_snapshot_js(path.as_str().into(), listener.function.clone().unchecked_into(), None).unwrap();
    wait_until("the first snapshot", || listener.len() == 1).await;
    // While this client is cut off, the document is deleted; its update then reaches the server late.
    drop_connections().await;
    assert_eq!(http("DELETE", &path, None).await.0, 200);
    let promise = client.update(&path, js_sys::JSON::parse(r#"{"m":2}"#).unwrap());
    assert_eq!((listener.last("data.m"), listener.last("hasPendingWrites")), (JsValue::from(2), JsValue::TRUE));
    let error = settled(promise).await.unwrap_err();
    assert_eq!(get(&error, "code"), "not-found");
    wait_until("the rollback", || listener.last("hasPendingWrites") == false).await;
    assert_eq!(listener.last("exists"), false, "the view shows the server's state, without the rejected write");
    client.close();
}

#[wasm_bindgen_test]
async fn a_collection_shows_a_local_addition_at_its_index_then_the_confirmed_document() {
    let collection = format!("lists{}", (js_sys::Math::random() * 1e15) as u64);
    put(&format!("{collection}/a"), r#"{"n":1}"#).await;
    put(&format!("{collection}/c"), r#"{"n":3}"#).await;
    let client = livepath::connect(options()).expect("valid options");
    let listener = Recorder::new();
    let _u =
        client.on_snapshot_js(collection.as_str().into(), listener.function.clone().unchecked_into(), None).unwrap();
    wait_until("the listing", || listener.len() == 1).await;
    let promise = client.set(&format!("{collection}/b"), js_sys::JSON::parse(r#"{"n":2}"#).unwrap());
    assert_eq!(listener.len(), 2);
    assert_eq!(listener.last("hasPendingWrites"), true);
    assert_eq!(listener.last("changes.0.type"), "added");
    assert_eq!(
        (listener.last("changes.0.oldIndex"), listener.last("changes.0.newIndex")),
        (JsValue::from(-1), JsValue::from(1))
    );
    assert_eq!(listener.last("docs.1.hasPendingWrites"), true);
    settled(promise).await.unwrap();
    wait_until("the confirmed listing", || listener.last("hasPendingWrites") == false).await;
    assert_eq!(listener.last("changes.0.type"), "modified");
    assert_eq!(listener.last("docs.1.id"), "b");
    assert_eq!(listener.last("docs.length"), 3);
    client.close();
}

#[wasm_bindgen_test]
async fn a_document_too_large_or_too_deep_is_refused_before_it_is_sent() {
    let client = livepath::connect(options()).expect("valid options");
    let big = js_sys::Object::new();
    Reflect::set(&big, &"s".into(), &"x".repeat(1 << 20).into()).unwrap();
    let error = settled(client.set(&unique("docs"), big.into())).await.unwrap_err();
    assert_eq!(get(&error, "code"), "invalid-argument");
    let deep = js_sys::JSON::parse(&format!(r#"{{"n":{}{}}}"#, "[".repeat(150), "]".repeat(150))).unwrap();
    let error = settled(client.set(&unique("docs"), deep)).await.unwrap_err();
    assert!(get(&error, "message").as_string().unwrap().contains("nests deeper"));
    // Multi-byte text counts in UTF-8 bytes, as the server counts it: 600,000 "é" are 1,200,000 bytes.
    let wide = js_sys::Object::new();
    Reflect::set(&wide, &"s".into(), &"é".repeat(600_000).into()).unwrap();
    let error = settled(client.set(&unique("docs"), wide.into())).await.unwrap_err();
    assert_eq!(get(&error, "code"), "invalid-argument", "{:?}", get(&error, "message"));
    // Not an object, or one whose JSON form is nothing (`toJSON` answering undefined): refused, not thrown.
    for bad in ["[1, 2]", "null"] {
        let error = settled(client.set(&unique("docs"), js_sys::JSON::parse(bad).unwrap())).await.unwrap_err();
        assert_eq!(get(&error, "code"), "invalid-argument", "{bad}");
    }
    let no_json = js_sys::Object::new();
    Reflect::set(&no_json, &"toJSON".into(), &js_sys::Function::new_no_args("return undefined")).unwrap();
    let error = settled(client.set(&unique("docs"), no_json.into())).await.unwrap_err();
    assert_eq!(get(&error, "code"), "invalid-argument");
    assert_eq!(stat(&client, "pendingWrites"), 0);
    client.close();
}

#[wasm_bindgen_test]
async fn the_rust_api_delivers_typed_snapshots_until_the_subscription_is_dropped() {
    let path = unique("docs");
    put(&path, r#"{"n":1}"#).await;
    let client = livepath::Client::new(livepath::ClientOptions { url: Some(ws_url()), ..Default::default() });
    let versions = Rc::new(RefCell::new(Vec::new()));
    let sink = versions.clone();
    let subscription = client
        .on_snapshot(path.as_str().into(), move |s| {
            if let Snapshot::Document { state, .. } = s {
                sink.borrow_mut().push(state.version);
            }
        })
        .unwrap();
    wait_until("the first snapshot", || versions.borrow().len() == 1).await;
    drop(subscription);
    put(&path, r#"{"n":2}"#).await;
    TimeoutFuture::new(100).await;
    assert_eq!(versions.borrow().len(), 1, "nothing after the Subscription is dropped");
    client.close();
}

#[wasm_bindgen_test]
async fn a_callback_that_throws_breaks_neither_the_client_nor_other_listeners() {
    let path = unique("docs");
    put(&path, r#"{"n":1}"#).await;
    let client = livepath::connect(options()).expect("valid options");
    let thrower =
        Closure::wrap(Box::new(|_s: JsValue| -> Result<(), JsValue> { Err(js_sys::Error::new("boom").into()) })
            as Box<dyn FnMut(JsValue) -> Result<(), JsValue>>);
    let _u1 = client.on_snapshot_js(path.as_str().into(), thrower.as_ref().clone().unchecked_into(), None).unwrap();
    let listener = Recorder::new();
    let _u2 = client.on_snapshot_js(path.as_str().into(), listener.function.clone().unchecked_into(), None).unwrap();
    wait_until("the first snapshot", || listener.len() == 1).await;
    put(&path, r#"{"n":2}"#).await;
    wait_until("the next snapshot", || listener.len() == 2).await;
    client.close();
}

#[wasm_bindgen_test]
async fn while_disconnected_a_new_listener_gets_the_cached_snapshot_from_cache() {
    let path = unique("docs");
    put(&path, r#"{"n":1}"#).await;
    let slow = js_sys::JSON::parse(r#"{"initialMs":60000,"maxMs":60000}"#).unwrap();
    let client = livepath::connect(options_with(&[("backoff", slow)])).expect("valid options");
    let first = Recorder::new();
    let _u1 = client.on_snapshot_js(path.as_str().into(), first.function.clone().unchecked_into(), None).unwrap();
    wait_until("the first snapshot", || first.len() == 1).await;
    assert_eq!(first.last("fromCache"), false);
    drop_connections().await;
    wait_until("disconnected", || client.status().as_str() == "reconnecting").await;
    let late = Recorder::new();
    let _u2 = client.on_snapshot_js(path.as_str().into(), late.function.clone().unchecked_into(), None).unwrap();
    wait_until("the cached snapshot", || late.len() == 1).await;
    assert_eq!((late.last("fromCache"), late.last("data.n")), (JsValue::TRUE, JsValue::from(1)));
    client.close();
}

#[wasm_bindgen_test]
async fn a_subscription_the_server_refuses_goes_to_its_error_callback_and_ends() {
    // The server allows 1000 subscriptions per connection (its default).
    let client = livepath::connect(options()).expect("valid options");
    let mut keep = Vec::new();
    let quiet = Recorder::new();
    for i in 0..1000 {
        keep.push(
            client.on_snapshot_js(format!("many/d{i}").into(), quiet.function.clone().unchecked_into(), None).unwrap(),
        );
    }
    wait_until("1000 snapshots", || quiet.len() == 1000).await;
    let listener = Recorder::new();
    let errors = Recorder::new();
    let _u = client
        .on_snapshot_js(
            "many/one-too-many".into(),
            listener.function.clone().unchecked_into(),
            Some(errors.function.clone().unchecked_into()),
        )
        .unwrap();
    wait_until("the error", || errors.len() == 1).await;
    let error = errors.seen.borrow()[0].clone();
    assert!(livepath::is_livepath_error(error.clone()));
    assert_eq!(get(&error, "code"), "resource-exhausted");
    assert_eq!(listener.len(), 0);
    assert_eq!(stat(&client, "listeners"), 1000, "the refused listener has ended");
    client.close();
}

const AUTH_SERVER: &str = match option_env!("LIVEPATH_TEST_AUTH_SERVER") {
    Some(server) => server,
    None => "127.0.0.1:7071",
};
const AUTH_SECRET: &str = match option_env!("LIVEPATH_TEST_AUTH_SECRET") {
    Some(secret) => secret,
    None => "a-local-secret-for-the-auth-tests",
};

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// An HS256 JWT for `sub`, expiring `ttl_secs` from now.
fn jwt(sub: &str, ttl_secs: f64) -> String {
    use hmac::Mac;
    let exp = (js_sys::Date::now() / 1000.0 + ttl_secs).floor();
    let header = base64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = base64url(format!(r#"{{"sub":"{sub}","exp":{exp}}}"#).as_bytes());
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(AUTH_SECRET.as_bytes()).unwrap();
    mac.update(format!("{header}.{claims}").as_bytes());
    format!("{header}.{claims}.{}", base64url(&mac.finalize().into_bytes()))
}

#[wasm_bindgen_test]
async fn when_the_token_expires_the_client_asks_for_a_new_one_and_listeners_carry_on() {
    let path = unique("docs");
    let asked = Rc::new(RefCell::new(0));
    let token = {
        let asked = asked.clone();
        Closure::wrap(Box::new(move || {
            *asked.borrow_mut() += 1;
            JsValue::from(jwt("ada", 2.0))
        }) as Box<dyn FnMut() -> JsValue>)
    };
    let o = js_sys::Object::new();
    Reflect::set(&o, &"url".into(), &format!("ws://{AUTH_SERVER}/v1/ws").into()).unwrap();
    Reflect::set(&o, &"token".into(), token.as_ref()).unwrap();
    Reflect::set(&o, &"backoff".into(), &fast_backoff()).unwrap();
    let client = livepath::connect(o.into()).expect("valid options");
    let (listener, errors) = (Recorder::new(), Recorder::new());
    let _u = client
        .on_snapshot_js(
            path.as_str().into(),
            listener.function.clone().unchecked_into(),
            Some(errors.function.clone().unchecked_into()),
        )
        .unwrap();
    wait_until("the first snapshot", || listener.len() == 1).await;
    let promise = client.set(&path, js_sys::JSON::parse(r#"{"n":1}"#).unwrap());
    settled(promise).await.unwrap();
    // The token lives two seconds: the server says unauthenticated and closes; the client carries on.
    for _ in 0..40 {
        if *asked.borrow() >= 2 && client.status().as_str() == "open" {
            break;
        }
        TimeoutFuture::new(100).await;
    }
    assert!(*asked.borrow() >= 2, "the token function was asked again");
    let promise = client.update(&path, js_sys::JSON::parse(r#"{"n":2}"#).unwrap());
    assert_eq!(get(&settled(promise).await.unwrap(), "version").is_truthy(), true);
    wait_until("the listener sees the write made with the new token", || listener.last("data.n") == 2).await;
    assert_eq!(errors.len(), 0, "no listener failed");
    client.close();
}

#[wasm_bindgen_test]
async fn without_a_valid_token_a_listener_fails_with_unauthenticated() {
    let o = js_sys::Object::new();
    Reflect::set(&o, &"url".into(), &format!("ws://{AUTH_SERVER}/v1/ws").into()).unwrap();
    Reflect::set(&o, &"token".into(), &"not-a-token".into()).unwrap();
    let client = livepath::connect(o.into()).expect("valid options");
    let (listener, errors) = (Recorder::new(), Recorder::new());
    let _u = client
        .on_snapshot_js(
            unique("docs").into(),
            listener.function.clone().unchecked_into(),
            Some(errors.function.clone().unchecked_into()),
        )
        .unwrap();
    wait_until("the error", || errors.len() == 1).await;
    assert_eq!(get(&errors.seen.borrow()[0], "code"), "unauthenticated");
    assert_eq!(listener.len(), 0);
    client.close();
}

#[wasm_bindgen_test]
async fn a_url_the_browser_refuses_fails_each_listener_and_write_once_and_nothing_retries() {
    let client =
        livepath::connect(options_with(&[("url", "ftp://127.0.0.1/v1/ws".into()), ("backoff", fast_backoff())]))
            .expect("valid options");
    let (next, errors) = (Recorder::new(), Recorder::new());
    let _u = client
        .on_snapshot_js(
            "refused/d".into(),
            next.function.clone().unchecked_into(),
            Some(errors.function.clone().unchecked_into()),
        )
        .unwrap();
    // Never before onSnapshot has returned: a callback may use the unsubscribe it is given.
    assert_eq!(errors.len(), 0);
    // A listener gone by the end of the task is not told.
    let gone = Recorder::new();
    let unsubscribe = client
        .on_snapshot_js(
            "refused/e".into(),
            gone.function.clone().unchecked_into(),
            Some(gone.function.clone().unchecked_into()),
        )
        .unwrap();
    unsubscribe.call0(&JsValue::NULL).unwrap();
    let write = settled(client.set("refused/d", js_sys::JSON::parse(r#"{"a":1}"#).unwrap())).await;
    let refusal = write.expect_err("the write rejects");
    assert_eq!(get(&refusal, "code"), "invalid-argument");
    wait_until("the listener's error", || errors.len() == 1).await;
    assert!(livepath::is_livepath_error(errors.seen.borrow()[0].clone()));
    assert_eq!(errors.last("code"), "invalid-argument");
    assert!(errors.last("message").as_string().unwrap().contains("ftp"), "the reason names the scheme");
    // The write, made in the same task as the listener, showed locally before the end of the task,
    // when both failed; nothing was ever confirmed.
    assert!(next.seen.borrow().iter().all(|s| get(s, "hasPendingWrites") == true), "only the local write");
    // No reconnect loop: well past several backoff delays, still one error each, nothing held.
    let seen = next.len();
    TimeoutFuture::new(300).await;
    assert_eq!((errors.len(), next.len(), gone.len()), (1, seen, 0));
    assert_eq!(client.status_js(), "idle");
    for (name, value) in [("listeners", 0), ("subscriptions", 0), ("pendingWrites", 0)] {
        assert_eq!(stat(&client, name), value, "{name}");
    }
    assert_eq!(stat(&client, "socket"), "none");
}

#[wasm_bindgen_test]
async fn the_web_socket_class_passed_in_is_the_one_the_client_uses() {
    // A subclass of the browser's WebSocket that counts its instances, as the `ws` package would stand
    // in for it on Node 20.
    let class = js_sys::eval(
        "(class Counted extends WebSocket { constructor(url, p) { super(url, p); Counted.made = (Counted.made ?? 0) + 1; } })",
    )
    .unwrap();
    let client = livepath::connect(options_with(&[("WebSocket", class.clone())])).expect("valid options");
    let path = unique("passed-class");
    put(&path, r#"{"n":1}"#).await;
    let next = Recorder::new();
    let _u = client.on_snapshot_js(path.as_str().into(), next.function.clone().unchecked_into(), None).unwrap();
    wait_until("the snapshot", || next.len() == 1).await;
    assert_eq!(next.last("data.n"), 1);
    assert_eq!(get(&class, "made"), 1);
    client.close();
}

/// A JS query object from JSON text.
fn query_object(json: &str) -> JsValue {
    js_sys::JSON::parse(json).unwrap()
}

#[wasm_bindgen_test]
async fn a_limited_query_pulls_the_next_document_in_and_a_move_reports_both_indexes() {
    let collection = format!("scores{}", (js_sys::Math::random() * 1e15) as u64);
    for (id, score) in [("a", 50), ("b", 40), ("c", 30)] {
        put(&format!("{collection}/{id}"), &format!(r#"{{"score":{score}}}"#)).await;
    }
    let client = livepath::connect(options()).expect("valid options");
    let listener = Recorder::new();
    let query = query_object(&format!(r#"{{"path":"{collection}","orderBy":[["score","desc"]],"limit":2}}"#));
    let _stop = client.on_snapshot_js(query, listener.function.clone().unchecked_into(), None).unwrap();
    wait_until("the first result", || listener.len() == 1).await;
    assert_eq!((listener.last("docs.0.id"), listener.last("docs.1.id")), ("a".into(), "b".into()));
    // The top one leaves over HTTP: the server pulls c into the window.
    let (status, _) = http("DELETE", &format!("{collection}/a"), None).await;
    assert_eq!(status, 200);
    wait_until("c pulled in", || listener.len() == 2).await;
    assert_eq!(listener.last("docs.length"), 2);
    assert_eq!((listener.last("docs.0.id"), listener.last("docs.1.id")), ("b".into(), "c".into()));
    assert_eq!(listener.last("changes.0.type"), "removed");
    assert_eq!(listener.last("changes.1.type"), "added");
    assert_eq!(listener.last("changes.1.newIndex"), 1);
    // c overtakes b: one modification, from index 1 to 0.
    put(&format!("{collection}/c"), r#"{"score":45}"#).await;
    wait_until("c moved", || listener.len() == 3).await;
    assert_eq!(listener.last("changes.length"), 1);
    assert_eq!(listener.last("changes.0.type"), "modified");
    assert_eq!((listener.last("changes.0.oldIndex"), listener.last("changes.0.newIndex")), (1.into(), 0.into()));
    client.close();
}

#[wasm_bindgen_test]
async fn equal_queries_from_rust_and_javascript_share_one_subscription_and_see_local_writes_at_once() {
    let collection = format!("notes{}", (js_sys::Math::random() * 1e15) as u64);
    put(&format!("{collection}/n1"), r#"{"status":"open","at":1}"#).await;
    let client = livepath::connect(options()).expect("valid options");
    let js = Recorder::new();
    let query =
        query_object(&format!(r#"{{"where":[["status","==","open"]],"path":"{collection}","orderBy":[["at"]]}}"#));
    let _stop = client.on_snapshot_js(query, js.function.clone().unchecked_into(), None).unwrap();
    let rust_seen = Rc::new(RefCell::new(Vec::new()));
    let sink = rust_seen.clone();
    let rust_query = livepath::Query::new(&collection)
        .filter("status", livepath::Op::Eq, "open")
        .order_by("at", livepath::Direction::Asc);
    let _subscription = client
        .on_query(rust_query, move |s| {
            if let livepath::core::Snapshot::Collection { docs, pending, .. } = s {
                sink.borrow_mut().push((docs.iter().map(|d| d.id().to_owned()).collect::<Vec<_>>(), *pending));
            }
        })
        .unwrap();
    wait_until("both first results", || js.len() == 1 && rust_seen.borrow().len() == 1).await;
    assert_eq!(get(&client.stats(), "subscriptions"), 1, "one subscription for both");
    // A local write enters the filtered view inside the call, before the server answers.
    let written = client.set(&format!("{collection}/n0"), query_object(r#"{"status":"open","at":0}"#));
    assert_eq!(rust_seen.borrow().last().cloned(), Some((vec!["n0".to_owned(), "n1".to_owned()], true)));
    assert_eq!(js.last("hasPendingWrites"), true);
    settled(written).await.unwrap();
    wait_until("the confirmed state", || rust_seen.borrow().last().is_some_and(|(_, pending)| !pending)).await;
    assert_eq!(js.last("docs.0.id"), "n0");
    // A query that breaks a rule fails at once in Rust.
    let bad = livepath::Query::new(&collection).limit(0);
    assert_eq!(client.on_query(bad, |_| {}).err().map(|e| e.code), Some(livepath_protocol::ErrorCode::InvalidArgument));
    client.close();
}

/// A Rust listener that records each document snapshot as (version, fromCache, hasPendingWrites).
fn record_documents(sink: Rc<RefCell<Vec<(u64, bool, bool)>>>) -> impl FnMut(&Snapshot<livepath::Data>) {
    move |s| {
        if let Snapshot::Document { state, from_cache, pending, .. } = s {
            sink.borrow_mut().push((state.version, *from_cache, *pending));
        }
    }
}

#[wasm_bindgen_test]
async fn the_rust_api_with_persistence_shows_a_second_client_the_cached_state_before_the_server_confirms_it() {
    use livepath::core::CoreOptions;
    let path = unique("docs");
    put(&path, r#"{"n":1}"#).await;
    let name = unique("cache").replace('/', "-");
    let persistent = || {
        livepath::Client::new(livepath::ClientOptions {
            url: Some(ws_url()),
            name: Some(name.clone()),
            core: CoreOptions { persistent: true, linger_ms: 0, ..Default::default() },
            ..Default::default()
        })
    };
    let seen = Rc::new(RefCell::new(Vec::new()));
    let first = persistent();
    let subscription = first.on_snapshot(path.as_str().into(), record_documents(seen.clone())).unwrap();
    wait_until("the first client's snapshot", || seen.borrow().len() == 1).await;
    let version = seen.borrow()[0].0;
    drop(subscription); // stored as it is released
    wait_until("stored", || get(&get(&first.stats(), "cache"), "documents") == 1).await;
    assert_eq!(first.persistence(), livepath::core::Persistence::On);
    first.close();

    let again = Rc::new(RefCell::new(Vec::new()));
    let second = persistent();
    let _subscription = second.on_snapshot(path.as_str().into(), record_documents(again.clone())).unwrap();
    wait_until("confirmed by the server", || again.borrow().len() == 2).await;
    assert_eq!(
        *again.borrow(),
        [(version, true, false), (version, false, false)],
        "the cached state, then the server's unchanged"
    );
    second.close();
}

#[wasm_bindgen_test]
async fn the_rust_api_with_shared_tabs_carries_two_clients_on_the_leaders_socket_and_hands_it_over_on_close() {
    use livepath::core::CoreOptions;
    let path = unique("docs");
    put(&path, r#"{"n":1}"#).await;
    // Two clients of one name in one page take part as two tabs would.
    let name = unique("tabs").replace('/', "-");
    let shared = || {
        livepath::Client::new(livepath::ClientOptions {
            url: Some(ws_url()),
            name: Some(name.clone()),
            tabs: livepath::Tabs::Shared,
            core: CoreOptions { linger_ms: 0, ..Default::default() },
            ..Default::default()
        })
    };
    let (a, b) = (shared(), shared());
    let (seen_a, seen_b) = (Rc::new(RefCell::new(Vec::new())), Rc::new(RefCell::new(Vec::new())));
    let _sa = a.on_snapshot(&path, record_documents(seen_a.clone())).unwrap();
    let _sb = b.on_snapshot(&path, record_documents(seen_b.clone())).unwrap();
    wait_until("both snapshots", || seen_a.borrow().len() == 1 && seen_b.borrow().len() == 1).await;
    let mut roles = [stat(&a, "tabs").as_string().unwrap(), stat(&b, "tabs").as_string().unwrap()];
    roles.sort();
    assert_eq!(roles, ["follower", "leader"]);
    let (leader, follower, seen) =
        if stat(&a, "tabs") == "leader" { (a, b, seen_b.clone()) } else { (b, a, seen_a.clone()) };
    let version = settled(follower.set(&path, query_object(r#"{"n":2}"#))).await.unwrap();
    let version = get(&version, "version").as_f64().unwrap() as u64;
    wait_until("the write, confirmed", || seen.borrow().last() == Some(&(version, false, false))).await;
    leader.close();
    wait_until("the follower leads", || stat(&follower, "tabs") == "leader").await;
    let later = put(&path, r#"{"n":3}"#).await as u64;
    wait_until("a later write, on the new leader's socket", || seen.borrow().last() == Some(&(later, false, false)))
        .await;
    follower.close();
}
