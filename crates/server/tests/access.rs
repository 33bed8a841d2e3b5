//! Authentication (HS256 tokens), path rules and origin checks, against a real server on port 0.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::TestServer;
use livepath_server::Config;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const SECRET: &str = "a-test-secret-of-32-bytes-at-least";

fn token(sub: &str, ttl_secs: u64) -> String {
    #[derive(serde::Serialize)]
    struct Claims<'a> {
        sub: &'a str,
        exp: u64,
    }
    let exp = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + ttl_secs;
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &Claims { sub, exp }, &key).unwrap()
}

const RULES: &str = r#"
[[rule]]
match = "users/{uid}/**"
read = "auth.uid == uid"
write = "auth.uid == uid"

[[rule]]
match = "public/**"
read = "true"
write = "auth != null"
"#;

async fn secured(rules: Option<&str>) -> (TestServer, Option<tempfile::NamedTempFile>) {
    let file = rules.map(|text| {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    });
    let config = Config {
        auth_secret: Some(SECRET.into()),
        rules: file.as_ref().map(|f| f.path().to_owned()),
        ..Config::in_memory()
    };
    (TestServer::start(config).await, file)
}

#[tokio::test]
async fn with_auth_on_nothing_is_read_or_written_before_a_valid_hello() {
    let (server, _rules) = secured(None).await;
    let mut c = server.connect().await;
    c.send(json!({"type":"subscribe","id":1,"path":"a/b"})).await;
    let error = c.recv().await;
    assert_eq!((error["code"].as_str(), error["id"].as_u64()), (Some("unauthenticated"), Some(1)));
    c.send(json!({"type":"set","req":2,"path":"a/b","data":{}})).await;
    let error = c.recv().await;
    assert_eq!((error["code"].as_str(), error["req"].as_u64()), (Some("unauthenticated"), Some(2)));
    c.send(json!({"type":"hello","token":"not-a-jwt"})).await;
    let error = c.recv().await;
    assert_eq!((error["code"].as_str(), error.get("id"), error.get("req")), (Some("unauthenticated"), None, None));
    c.send(json!({"type":"hello","token":token("ada", 60)})).await;
    c.send(json!({"type":"set","req":3,"path":"a/b","data":{"ok":true}})).await;
    assert_eq!(c.recv().await["type"], "ack");
}

#[tokio::test]
async fn an_expired_token_is_told_unauthenticated_and_the_connection_closes_with_4401() {
    let (server, _rules) = secured(None).await;
    let mut c = server.connect().await;
    c.send(json!({"type":"hello","token":token("ada", 1)})).await;
    c.send(json!({"type":"subscribe","id":1,"path":"a/b"})).await;
    assert_eq!(c.recv().await["type"], "snapshot");
    let error = c.recv().await; // within about a second
    assert_eq!((error["code"].as_str(), error["message"].as_str()), (Some("unauthenticated"), Some("the token expired")));
    assert_eq!(c.close_code().await, 4401);
}

#[tokio::test]
async fn rules_let_users_read_and_write_only_their_own_data() {
    let (server, _rules) = secured(Some(RULES)).await;
    let mut ada = server.connect().await;
    ada.send(json!({"type":"hello","token":token("ada", 60)})).await;
    ada.send(json!({"type":"set","req":1,"path":"users/ada/notes/n1","data":{"text":"mine"}})).await;
    assert_eq!(ada.recv().await["type"], "ack");
    ada.send(json!({"type":"subscribe","id":1,"path":"users/ada/notes"})).await;
    assert_eq!(ada.recv().await["docs"][0]["data"]["text"], "mine", "her own collection listing");

    let mut bob = server.connect().await;
    bob.send(json!({"type":"hello","token":token("bob", 60)})).await;
    bob.send(json!({"type":"subscribe","id":7,"path":"users/ada/notes/n1"})).await;
    let denied = bob.recv().await;
    assert_eq!((denied["code"].as_str(), denied["id"].as_u64()), (Some("permission-denied"), Some(7)));
    bob.send(json!({"type":"set","req":8,"path":"users/ada/notes/n1","data":{"text":"theirs"}})).await;
    let denied = bob.recv().await;
    assert_eq!((denied["code"].as_str(), denied["req"].as_u64()), (Some("permission-denied"), Some(8)));
    bob.send(json!({"type":"set","req":9,"path":"public/p1","data":{"by":"bob"}})).await;
    assert_eq!(bob.recv().await["type"], "ack", "a denial affects that request only");
    assert!(ada.sync().await.is_empty(), "ada saw nothing of bob's attempts");
}

#[tokio::test]
async fn http_requests_need_a_bearer_token_and_obey_the_rules() {
    let (server, _rules) = secured(Some(RULES)).await;
    let http = reqwest::Client::new();
    let url = server.http("/v1/docs/users/ada");
    let response = http.put(&url).json(&json!({"name":"Ada"})).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let response = http.put(&url).bearer_auth(token("bob", 60)).json(&json!({"name":"Bob"})).send().await.unwrap();
    assert_eq!(response.status(), 403);
    let response = http.put(&url).bearer_auth(token("ada", 60)).json(&json!({"name":"Ada"})).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let response = http.get(&url).bearer_auth(token("ada", 60)).send().await.unwrap();
    assert_eq!(response.json::<serde_json::Value>().await.unwrap()["data"]["name"], "Ada");
}

#[tokio::test]
async fn upgrades_from_other_origins_are_refused_with_403() {
    let config = Config { allowed_origins: vec!["http://app.example".into()], ..Config::in_memory() };
    let server = TestServer::start(config).await;
    let request = |origin: &str| {
        let mut request = format!("ws://{}/v1/ws", server.addr).into_client_request().unwrap();
        request.headers_mut().insert("sec-websocket-protocol", "livepath.v1".parse().unwrap());
        request.headers_mut().insert("origin", origin.parse().unwrap());
        request
    };
    match tokio_tungstenite::connect_async(request("http://evil.example")).await.unwrap_err() {
        tokio_tungstenite::tungstenite::Error::Http(response) => assert_eq!(response.status(), 403),
        other => panic!("expected 403, got {other}"),
    }
    assert!(tokio_tungstenite::connect_async(request("http://app.example")).await.is_ok());
}

#[tokio::test]
async fn a_bad_rules_file_or_a_short_secret_stops_the_server_with_a_clear_error() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "[[rule]]\nmatch = \"a/**/b\"\nread = \"true\"\n").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = Config { rules: Some(file.path().to_owned()), ..Config::in_memory() };
    let error = livepath_server::run(listener, config, async {}).await.unwrap_err().to_string();
    assert!(error.contains("rule 1 (a/**/b)"), "{error}");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = Config { auth_secret: Some("short".into()), ..Config::in_memory() };
    let error = livepath_server::run(listener, config, async {}).await.unwrap_err().to_string();
    assert!(error.contains("at least 16 bytes"), "{error}");
}
