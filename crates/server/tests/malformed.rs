//! Bad input, table-driven: each malformed frame gets its documented answer, the connection that sent it
//! keeps working, and a second connection never notices.
//!
//! The answers: a frame that is not a valid message gets `{"type":"error","code":"invalid-argument"}`,
//! naming the subscription (`id`) or write (`req`) when the frame says which (even if other fields are
//! wrong; a frame that is not JSON, or nests deeper than 128 levels, names nothing); a bad path is `invalid-argument` with the rule it broke; an update of a missing document is
//! `not-found`. Unknown fields are ignored (newer clients may send them). A binary frame closes with
//! 1003, a frame over `--max-frame-bytes` with 1009.

mod common;

use common::TestServer;
use livepath_server::Config;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

enum Expect {
    /// An error frame with this code, naming this subscription and write.
    Error(&'static str, Option<u64>, Option<u64>),
    /// A frame of this type.
    Frame(&'static str),
}
use Expect::{Error, Frame};

fn cases() -> Vec<(&'static str, String, Expect)> {
    let long_segment = format!("a/{}", "x".repeat(257));
    let deep_path = vec!["a"; 65].join("/");
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let s = |v: &str| v.to_owned();
    vec![
        ("empty frame", s(""), Error("invalid-argument", None, None)),
        ("not JSON", s("not json"), Error("invalid-argument", None, None)),
        ("truncated JSON", s("{\"type\":"), Error("invalid-argument", None, None)),
        ("an array", s("[]"), Error("invalid-argument", None, None)),
        ("null", s("null"), Error("invalid-argument", None, None)),
        ("a number", s("42"), Error("invalid-argument", None, None)),
        ("a string", s("\"subscribe\""), Error("invalid-argument", None, None)),
        ("no type", s("{}"), Error("invalid-argument", None, None)),
        ("type is a number", s(r#"{"type":42}"#), Error("invalid-argument", None, None)),
        ("unknown type", s(r#"{"type":"explode"}"#), Error("invalid-argument", None, None)),
        (
            "type in capitals",
            s(r#"{"type":"SUBSCRIBE","id":1,"path":"a/b"}"#),
            Error("invalid-argument", Some(1), None),
        ),
        ("subscribe without id", s(r#"{"type":"subscribe","path":"a/b"}"#), Error("invalid-argument", None, None)),
        ("subscribe without path", s(r#"{"type":"subscribe","id":1}"#), Error("invalid-argument", Some(1), None)),
        ("id is a string", s(r#"{"type":"subscribe","id":"1","path":"a/b"}"#), Error("invalid-argument", None, None)),
        ("negative id", s(r#"{"type":"subscribe","id":-1,"path":"a/b"}"#), Error("invalid-argument", None, None)),
        ("fractional id", s(r#"{"type":"subscribe","id":1.5,"path":"a/b"}"#), Error("invalid-argument", None, None)),
        (
            "id past u64",
            s(r#"{"type":"subscribe","id":18446744073709551616,"path":"a/b"}"#),
            Error("invalid-argument", None, None),
        ),
        (
            "number out of range",
            s(r#"{"type":"subscribe","id":1,"path":"a/b","since":1e400}"#),
            Error("invalid-argument", None, None),
        ),
        ("path is a number", s(r#"{"type":"subscribe","id":1,"path":42}"#), Error("invalid-argument", Some(1), None)),
        ("empty path", s(r#"{"type":"subscribe","id":1,"path":""}"#), Error("invalid-argument", Some(1), None)),
        ("leading slash", s(r#"{"type":"subscribe","id":2,"path":"/a"}"#), Error("invalid-argument", Some(2), None)),
        ("double slash", s(r#"{"type":"subscribe","id":3,"path":"a//b"}"#), Error("invalid-argument", Some(3), None)),
        (
            "dot-dot segment",
            s(r#"{"type":"subscribe","id":4,"path":"a/.."}"#),
            Error("invalid-argument", Some(4), None),
        ),
        (
            "control character",
            s(r#"{"type":"subscribe","id":5,"path":"a/\u0000"}"#),
            Error("invalid-argument", Some(5), None),
        ),
        (
            "overlong segment",
            json!({"type":"subscribe","id":6,"path":long_segment}).to_string(),
            Error("invalid-argument", Some(6), None),
        ),
        (
            "65 segments",
            json!({"type":"subscribe","id":7,"path":deep_path}).to_string(),
            Error("invalid-argument", Some(7), None),
        ),
        (
            "since is a string",
            s(r#"{"type":"subscribe","id":8,"path":"a/b","since":"x"}"#),
            Error("invalid-argument", Some(8), None),
        ),
        (
            "negative since",
            s(r#"{"type":"subscribe","id":9,"path":"a/b","since":-5}"#),
            Error("invalid-argument", Some(9), None),
        ),
        ("a valid subscribe", s(r#"{"type":"subscribe","id":100,"path":"a/b"}"#), Frame("snapshot")),
        (
            "duplicate subscription id",
            s(r#"{"type":"subscribe","id":100,"path":"a/c"}"#),
            Error("invalid-argument", Some(100), None),
        ),
        ("unsubscribe without id", s(r#"{"type":"unsubscribe"}"#), Error("invalid-argument", None, None)),
        ("unsubscribe id is a string", s(r#"{"type":"unsubscribe","id":"x"}"#), Error("invalid-argument", None, None)),
        ("set without data", s(r#"{"type":"set","req":1,"path":"a/b"}"#), Error("invalid-argument", None, Some(1))),
        (
            "data is null",
            s(r#"{"type":"set","req":2,"path":"a/b","data":null}"#),
            Error("invalid-argument", None, Some(2)),
        ),
        (
            "data is an array",
            s(r#"{"type":"set","req":3,"path":"a/b","data":[1]}"#),
            Error("invalid-argument", None, Some(3)),
        ),
        (
            "data is a string",
            s(r#"{"type":"set","req":4,"path":"a/b","data":"x"}"#),
            Error("invalid-argument", None, Some(4)),
        ),
        (
            "write to a collection path",
            s(r#"{"type":"set","req":5,"path":"a","data":{}}"#),
            Error("invalid-argument", None, Some(5)),
        ),
        (
            "key is a number",
            s(r#"{"type":"set","req":6,"path":"a/b","data":{},"key":5}"#),
            Error("invalid-argument", None, Some(6)),
        ),
        (
            "update of a missing document",
            s(r#"{"type":"update","req":7,"path":"a/missing","data":{"x":1}}"#),
            Error("not-found", None, Some(7)),
        ),
        ("delete without path", s(r#"{"type":"delete","req":8}"#), Error("invalid-argument", None, Some(8))),
        (
            "req is a string",
            s(r#"{"type":"set","req":"x","path":"a/b","data":{}}"#),
            Error("invalid-argument", None, None),
        ),
        // Past 128 levels the JSON parser stops, before it can read `req`: the error names nothing.
        (
            "10,000-deep nesting",
            format!(r#"{{"type":"set","req":9,"path":"a/b","data":{{"n":{nested}}}}}"#),
            Error("invalid-argument", None, None),
        ),
        (
            "document over the size limit",
            json!({"type":"set","req":10,"path":"a/b","data":{"s":"x".repeat(5000)}}).to_string(),
            Error("invalid-argument", None, Some(10)),
        ),
        ("hello token is a number", s(r#"{"type":"hello","token":5}"#), Error("invalid-argument", None, None)),
        ("unknown fields are ignored", s(r#"{"type":"ping","from":"a newer client"}"#), Frame("pong")),
        (
            "a valid write still works",
            s(r#"{"type":"set","req":11,"path":"a/b","data":{"ok":true}}"#),
            Frame("snapshot"),
        ),
    ]
}

#[tokio::test]
async fn every_malformed_frame_gets_its_documented_answer_and_nobody_else_notices() {
    let server = TestServer::start(Config { max_document_bytes: 4096, ..Config::in_memory() }).await;
    let mut bystander = server.connect().await;
    bystander.send(json!({"type":"subscribe","id":1,"path":"watched/doc"})).await;
    bystander.recv().await;
    let mut c = server.connect().await;
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    for (i, (name, frame, expect)) in cases.into_iter().enumerate() {
        c.send_raw(Message::Text(frame.into())).await;
        let answer = c.recv().await;
        match expect {
            Error(code, id, req) => {
                assert_eq!(answer["type"], "error", "{name}: {answer}");
                assert_eq!(answer["code"], code, "{name}: {answer}");
                assert_eq!((answer["id"].as_u64(), answer["req"].as_u64()), (id, req), "{name}: {answer}");
                assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()), "{name}");
            }
            Frame(kind) => assert_eq!(answer["type"], kind, "{name}: {answer}"),
        }
        if name == "a valid write still works" {
            assert_eq!(c.recv().await["type"], "ack");
        }
        if i % 10 == 9 {
            server.put("watched/doc", json!({"after": i})).await;
            assert_eq!(bystander.recv().await["data"]["after"], i, "the bystander keeps receiving ({name})");
        }
    }
    assert!(c.sync().await.is_empty(), "the sender's connection still works");
}

#[tokio::test]
async fn frames_that_cannot_be_answered_close_only_their_own_connection() {
    let server = TestServer::start(Config { max_frame_bytes: 64 * 1024, ..Config::in_memory() }).await;
    let mut bystander = server.connect().await;
    for (frame, code) in [
        (Message::Binary(vec![0, 1, 2].into()), 1003),
        (
            Message::Text(
                json!({"type":"set","req":1,"path":"a/b","data":{"s":"x".repeat(100_000)}}).to_string().into(),
            ),
            1009,
        ),
    ] {
        let mut c = server.connect().await;
        c.send_raw(frame).await;
        assert_eq!(c.close_code().await, code);
    }
    assert!(bystander.sync().await.is_empty());
    let _: Value = server.get("a/b").await.1;
}

#[tokio::test]
async fn with_auth_on_requests_before_a_valid_hello_get_unauthenticated_and_nobody_else_notices() {
    let config = Config { auth_secret: Some("a-secret-long-enough-for-the-check".into()), ..Config::in_memory() };
    let server = TestServer::start(config).await;
    let mut c = server.connect().await;
    let cases = [
        (
            "subscribe before hello",
            r#"{"type":"subscribe","id":1,"path":"a/b"}"#,
            Error("unauthenticated", Some(1), None),
        ),
        (
            "write before hello",
            r#"{"type":"set","req":2,"path":"a/b","data":{}}"#,
            Error("unauthenticated", None, Some(2)),
        ),
        ("delete before hello", r#"{"type":"delete","req":3,"path":"a/b"}"#, Error("unauthenticated", None, Some(3))),
        (
            "hello with a forged token",
            r#"{"type":"hello","token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}"#,
            Error("unauthenticated", None, None),
        ),
        ("hello with an empty token", r#"{"type":"hello","token":""}"#, Error("unauthenticated", None, None)),
        (
            "still nothing after a bad hello",
            r#"{"type":"set","req":4,"path":"a/b","data":{}}"#,
            Error("unauthenticated", None, Some(4)),
        ),
        ("ping needs no token", r#"{"type":"ping"}"#, Frame("pong")),
    ];
    for (name, frame, expect) in cases {
        c.send_raw(Message::Text(frame.into())).await;
        let answer = c.recv().await;
        match expect {
            Error(code, id, req) => {
                assert_eq!((answer["type"].as_str(), answer["code"].as_str()), (Some("error"), Some(code)), "{name}");
                assert_eq!((answer["id"].as_u64(), answer["req"].as_u64()), (id, req), "{name}");
            }
            Frame(kind) => assert_eq!(answer["type"], kind, "{name}"),
        }
    }
    let mut other = server.connect().await;
    assert!(other.sync().await.is_empty(), "another connection is unaffected");
}
