//! Authentication (HS256 tokens), path rules and origin checks, against a real server on port 0.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::TestServer;
use livepath_server::Config;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const SECRET: &str = "a-test-secret-of-32-bytes-at-least";

fn token(sub: &str, ttl_secs: u64) -> String {
    token_expiring_at(sub, now() + ttl_secs)
}

/// Seconds since the Unix epoch.
fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("the clock is after 1970").as_secs()
}

/// A token whose `exp` is `exp` (seconds since the Unix epoch).
fn token_expiring_at(sub: &str, exp: u64) -> String {
    #[derive(serde::Serialize)]
    struct Claims<'a> {
        sub: &'a str,
        exp: u64,
    }
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &Claims { sub, exp }, &key).expect("a token")
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

[[rule]]
match = "lobby/{doc}"
read = "auth == null"
write = "auth == null"
"#;

async fn secured(rules: Option<&str>) -> (TestServer, Option<tempfile::NamedTempFile>) {
    let file = rules.map(|text| {
        let file = tempfile::NamedTempFile::new().expect("a temporary file");
        std::fs::write(file.path(), text).expect("the rules file is written");
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
    assert_eq!(
        (error["code"].as_str(), error["message"].as_str()),
        (Some("unauthenticated"), Some("the token expired"))
    );
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
async fn with_rules_a_connection_without_a_token_reads_what_anyone_may_read() {
    let (server, _rules) = secured(Some(RULES)).await;
    let mut ada = server.connect().await;
    ada.send(json!({"type":"hello","token":token("ada", 60)})).await;
    ada.send(json!({"type":"set","req":1,"path":"public/board","data":{"n":1}})).await;
    assert_eq!(ada.recv().await["type"], "ack");

    let mut visitor = server.connect().await;
    visitor.send(json!({"type":"hello","token":null})).await; // an anonymous hello is accepted
    visitor.send(json!({"type":"subscribe","id":1,"path":"public/board"})).await;
    let snapshot = visitor.recv().await;
    assert_eq!((snapshot["type"].as_str(), snapshot["data"]["n"].as_u64()), (Some("snapshot"), Some(1)));
    visitor.send(json!({"type":"subscribe","id":2,"path":"public"})).await;
    assert_eq!(visitor.recv().await["docs"][0]["id"], "board", "a public collection too");
    ada.send(json!({"type":"set","req":2,"path":"public/board","data":{"n":2}})).await;
    assert_eq!(ada.recv().await["type"], "ack");
    let frames = visitor.sync().await;
    assert!(frames.iter().any(|f| f["type"] == "snapshot" && f["data"]["n"] == 2), "live updates: {frames:?}");

    let mut resumed = server.connect().await; // no hello at all, resuming from version 1
    resumed.send(json!({"type":"subscribe","id":1,"path":"public","since":1})).await;
    let changes = resumed.recv().await;
    assert_eq!((changes["type"].as_str(), changes["changes"][0]["type"].as_str()), (Some("changes"), Some("modified")));
    resumed.send(json!({"type":"subscribe","id":2,"path":"users/ada"})).await;
    let denied = resumed.recv().await;
    assert_eq!((denied["code"].as_str(), denied["id"].as_u64()), (Some("unauthenticated"), Some(2)), "ada could");
}

#[tokio::test]
async fn an_anonymous_write_is_unauthenticated_where_a_user_could_write_and_permission_denied_where_none_could() {
    let (server, _rules) = secured(Some(RULES)).await;
    let mut visitor = server.connect().await;
    visitor.send(json!({"type":"set","req":1,"path":"public/p1","data":{"by":"nobody"}})).await;
    let error = visitor.recv().await;
    assert_eq!((error["code"].as_str(), error["req"].as_u64()), (Some("unauthenticated"), Some(1)));
    visitor.send(json!({"type":"delete","req":2,"path":"public/p1"})).await;
    assert_eq!(visitor.recv().await["code"], "unauthenticated");
    visitor.send(json!({"type":"set","req":3,"path":"secrets/s1","data":{}})).await;
    let error = visitor.recv().await;
    assert_eq!((error["code"].as_str(), error["req"].as_u64()), (Some("permission-denied"), Some(3)), "no rule");
    visitor.send(json!({"type":"subscribe","id":4,"path":"secrets/s1"})).await;
    assert_eq!(visitor.recv().await["code"], "permission-denied");
    assert_eq!(server.get("public/p1").await.0, 404, "nothing was written");
}

#[tokio::test]
async fn an_auth_equals_null_rule_admits_only_requests_without_a_token() {
    let (server, _rules) = secured(Some(RULES)).await;
    let mut visitor = server.connect().await;
    visitor.send(json!({"type":"set","req":1,"path":"lobby/counter","data":{"visits":1}})).await;
    assert_eq!(visitor.recv().await["type"], "ack");
    visitor.send(json!({"type":"subscribe","id":1,"path":"lobby/counter"})).await;
    assert_eq!(visitor.recv().await["data"]["visits"], 1);

    let mut ada = server.connect().await;
    ada.send(json!({"type":"hello","token":token("ada", 60)})).await;
    ada.send(json!({"type":"subscribe","id":1,"path":"lobby/counter"})).await;
    let denied = ada.recv().await;
    assert_eq!((denied["code"].as_str(), denied["id"].as_u64()), (Some("permission-denied"), Some(1)));
    let response = reqwest::Client::new()
        .get(server.http("/v1/docs/lobby/counter"))
        .bearer_auth(token("ada", 60))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(server.get("lobby/counter").await.0, 200);
}

#[tokio::test]
async fn http_requests_without_a_token_are_decided_by_the_rules() {
    let (server, _rules) = secured(Some(RULES)).await;
    let http = reqwest::Client::new();
    let put = http.put(server.http("/v1/docs/public/p1")).bearer_auth(token("ada", 60)).json(&json!({"n":1}));
    assert_eq!(put.send().await.unwrap().status(), 200);
    let (status, body) = server.get("public/p1").await;
    assert_eq!((status, body["data"]["n"].as_u64()), (200, Some(1)), "GET without a token: {body}");
    let (status, body) = server.get("public").await;
    assert_eq!((status, body["docs"][0]["id"].as_str()), (200, Some("p1")), "a public collection");
    let (status, body) = server.get("users/ada").await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthenticated")), "ada could: sign in");
    assert_eq!(server.get("secrets/s1").await.0, 403, "no one could");
    for request in [
        http.put(server.http("/v1/docs/public/p1")).json(&json!({"n":2})),
        http.patch(server.http("/v1/docs/public/p1")).json(&json!({"n":2})),
        http.delete(server.http("/v1/docs/public/p1")),
    ] {
        assert_eq!(request.send().await.unwrap().status(), 401);
    }
    assert_eq!(server.get("public/p1").await.1["data"]["n"], 1, "no anonymous write went through");
}

#[tokio::test]
async fn without_rules_auth_on_still_needs_a_token_even_for_an_anonymous_hello_or_get() {
    let (server, _rules) = secured(None).await;
    let mut c = server.connect().await;
    c.send(json!({"type":"hello","token":null})).await;
    c.send(json!({"type":"subscribe","id":1,"path":"public/p1"})).await;
    assert_eq!(c.recv().await["code"], "unauthenticated");
    let (status, body) = server.get("public/p1").await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthenticated")));
}

#[tokio::test]
async fn an_invalid_or_expired_token_is_unauthenticated_even_where_anyone_may_read() {
    let (server, _rules) = secured(Some(RULES)).await;
    let mut c = server.connect().await;
    c.send(json!({"type":"hello","token":"not-a-jwt"})).await;
    assert_eq!(c.recv().await["code"], "unauthenticated");
    c.send(json!({"type":"subscribe","id":1,"path":"public/p1"})).await;
    let error = c.recv().await;
    assert_eq!((error["code"].as_str(), error["id"].as_u64()), (Some("unauthenticated"), Some(1)), "not anonymous");
    c.send(json!({"type":"hello","token":null})).await;
    c.send(json!({"type":"set","req":2,"path":"lobby/l1","data":{}})).await;
    assert_eq!(c.recv().await["code"], "unauthenticated", "an anonymous hello does not clear a refused token");
    c.send(json!({"type":"hello","token":token("ada", 60)})).await;
    c.send(json!({"type":"subscribe","id":3,"path":"public/p1"})).await;
    assert_eq!(c.recv().await["type"], "snapshot", "a valid token clears it");

    let http = reqwest::Client::new();
    let expired = token_expiring_at("ada", now() - 10);
    for auth in [format!("Bearer {expired}"), "Bearer not-a-jwt".into(), "Basic YWRhOnB3".into()] {
        let response = http.get(server.http("/v1/docs/public/p1")).header("authorization", &auth).send().await.unwrap();
        assert_eq!(response.status(), 401, "{auth}");
    }
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
    let config = Config { rules: Some(file.path().to_owned()), ..Config::in_memory() };
    let error = TestServer::start_error("127.0.0.1", config).await;
    assert!(error.contains("rule 1 (a/**/b)"), "{error}");
    let config = Config { auth_secret: Some("short".into()), ..Config::in_memory() };
    let error = TestServer::start_error("127.0.0.1", config).await;
    assert!(error.contains("at least 16 bytes"), "{error}");
}

#[tokio::test]
async fn a_live_query_needs_read_permission_on_its_collection_as_a_listing_does() {
    let (server, _rules) = secured(Some(RULES)).await;
    let mut ada = server.connect().await;
    ada.send(json!({"type":"hello","token":token("ada", 60)})).await;
    let query = json!({"where":[["done","==",false]],"limit":10});
    ada.send(json!({"type":"subscribe","id":1,"path":"users/ada/todos","query":query})).await;
    assert_eq!(ada.recv().await["type"], "collection");
    ada.send(json!({"type":"subscribe","id":2,"path":"users/bo/todos","query":query})).await;
    let error = ada.recv().await;
    assert_eq!((error["code"].as_str(), error["id"].as_u64()), (Some("permission-denied"), Some(2)));
    // The refused query left nothing behind; the allowed one still follows its collection.
    ada.send(json!({"type":"set","req":3,"path":"users/ada/todos/t1","data":{"done":false}})).await;
    let change = ada.recv().await;
    assert_eq!((change["type"].as_str(), change["id"].as_u64()), (Some("changes"), Some(1)));
    assert_eq!(ada.recv().await["type"], "ack");
}

#[tokio::test]
async fn every_write_of_a_commit_is_checked_a_condition_needs_read_and_a_refusal_names_the_write() {
    // A drop box: anyone signed in may write, only its owner reads.
    let rules = r#"
[[rule]]
match = "users/{uid}/**"
read = "auth.uid == uid"
write = "auth.uid == uid"

[[rule]]
match = "dropbox/{doc}"
read = "false"
write = "auth != null"
"#;
    let (server, _rules) = secured(Some(rules)).await;
    let mut c = server.connect().await;
    c.send(json!({"type":"hello","token":token("ada", 60)})).await;
    let mut ask = async |writes: serde_json::Value| {
        c.send(json!({"type":"commit","req":1,"writes":writes})).await;
        let answer = c.recv().await;
        (
            answer["type"].as_str().map(str::to_owned),
            answer["code"].as_str().map(str::to_owned),
            answer["write"].as_u64(),
        )
    };
    let own = json!({"op":"set","path":"users/ada/notes/n1","data":{}});
    let theirs = json!({"op":"set","path":"users/bob/notes/n1","data":{}});
    assert_eq!(ask(json!([own, theirs])).await, (Some("error".into()), Some("permission-denied".into()), Some(1)));
    // Writing into the drop box is allowed; asking whether something is there is reading it.
    assert_eq!(ask(json!([{"op":"set","path":"dropbox/d1","data":{}}])).await.0.as_deref(), Some("ack"));
    for probe in [
        json!({"op":"set","path":"dropbox/d2","data":{},"if":{"exists":false}}),
        json!({"op":"check","path":"dropbox/d1","if":{"exists":true}}),
        json!({"op":"delete","path":"dropbox/d1","if":{"version":2}}),
    ] {
        assert_eq!(
            ask(json!([own, probe])).await,
            (Some("error".into()), Some("permission-denied".into()), Some(1)),
            "{probe}"
        );
    }
    // Nothing of the refused commits applied.
    c.send(json!({"type":"get","req":2,"path":"users/ada/notes"})).await;
    let result = c.recv().await;
    assert_eq!(result["docs"].as_array().map(Vec::len), Some(0), "{result}");
}
