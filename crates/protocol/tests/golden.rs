//! Golden fixtures: every message, byte for byte as it goes on the wire.
//!
//! Each fixture is built here from the typed message and compared with the file, then parsed back. A change
//! to the protocol shows up as a diff of `tests/fixtures/`; adding a fixture without listing it here fails.

use std::{collections::BTreeSet, fs, path::PathBuf};

use livepath_protocol::{
    Change, ChangeType, ClientMessage, DocEntry, ErrorCode, Precondition, ServerMessage, Transform, TransformKind,
    Write,
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};

fn fixture_dir(side: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(side)
}

fn check<M: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(side: &str, name: &str, message: M) {
    let file = fixture_dir(side).join(format!("{name}.json"));
    let text = fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let text = text.trim_end();
    assert_eq!(
        serde_json::to_string(&message).expect("a message serializes"),
        text,
        "{side}/{name} serializes differently"
    );
    let parsed: M = serde_json::from_str(text).unwrap_or_else(|e| panic!("{side}/{name} does not parse: {e}"));
    assert_eq!(parsed, message, "{side}/{name} parses differently");
}

fn listed_files(side: &str) -> BTreeSet<String> {
    fs::read_dir(fixture_dir(side))
        .expect("the fixtures directory")
        .map(|e| e.expect("a fixture").file_name().to_string_lossy().trim_end_matches(".json").to_owned())
        .collect()
}

#[test]
fn client_messages_match_their_fixtures() {
    type M = ClientMessage<Value>;
    let cases: Vec<(&str, M)> = vec![
        ("hello", M::Hello { token: Some("eyJhbGciOiJIUzI1NiJ9.e30.sig".into()) }),
        ("hello-anonymous", M::Hello { token: None }),
        ("subscribe", M::Subscribe { id: 1, path: "rooms/r1".into(), since: Some(41), query: None }),
        ("subscribe-fresh", M::Subscribe { id: 2, path: "rooms".into(), since: None, query: None }),
        (
            "subscribe-query",
            M::Subscribe {
                id: 7,
                path: "rooms/r1/messages".into(),
                since: None,
                query: Some(
                    serde_json::from_value(json!({
                        "where": [["status", "==", "open"], ["priority", ">=", 2]],
                        "orderBy": [["createdAt", "desc"]],
                        "limit": 50,
                        "startAfter": [1764720000000_i64]
                    }))
                    .expect("a query"),
                ),
            },
        ),
        ("unsubscribe", M::Unsubscribe { id: 1 }),
        (
            "set",
            M::Set {
                req: 7,
                path: "rooms/r1".into(),
                data: json!({"open": true, "title": "Lobby"}),
                key: Some("k-7f3a".into()),
                merge: false,
                transforms: vec![],
                condition: None,
            },
        ),
        (
            "set-merge",
            M::Set {
                req: 10,
                path: "rooms/r1".into(),
                data: json!({"stats": {"views": 1}}),
                key: None,
                merge: true,
                transforms: vec![Transform { field: "updatedAt".into(), kind: TransformKind::ServerTimestamp }],
                condition: Some(Precondition::Exists(true)),
            },
        ),
        (
            "update",
            M::Update {
                req: 8,
                path: "rooms/r1".into(),
                data: json!({"open": false, "stats.count": 3}),
                key: Some("k-7f3b".into()),
                transforms: vec![],
                condition: None,
            },
        ),
        ("delete", M::Delete { req: 9, path: "rooms/r1".into(), key: Some("k-7f3c".into()), condition: None }),
        (
            "commit",
            M::Commit {
                req: 11,
                key: Some("k-7f3d".into()),
                writes: vec![
                    Write::Set {
                        path: "rooms/r1".into(),
                        data: json!({"title": "Hi"}),
                        merge: false,
                        transforms: vec![
                            Transform { field: "createdAt".into(), kind: TransformKind::ServerTimestamp },
                            Transform { field: "tags".into(), kind: TransformKind::ArrayUnion(json!(["new"])) },
                        ],
                        condition: Some(Precondition::Exists(false)),
                    },
                    Write::Update {
                        path: "rooms/r0".into(),
                        data: json!({"stats.count": 3}),
                        transforms: vec![
                            Transform { field: "stats.likes".into(), kind: TransformKind::Increment(json!(1)) },
                            Transform { field: "tags".into(), kind: TransformKind::ArrayRemove(json!(["old"])) },
                            Transform { field: "draft".into(), kind: TransformKind::DeleteField },
                        ],
                        condition: Some(Precondition::Version(41)),
                    },
                    Write::Delete { path: "rooms/r2".into(), condition: Some(Precondition::Exists(true)) },
                    Write::Check { path: "rooms/r3".into(), condition: Precondition::Version(40) },
                ],
            },
        ),
        ("get", M::Get { req: 12, path: "rooms/r1".into(), query: None }),
        (
            "get-query",
            M::Get {
                req: 13,
                path: "rooms".into(),
                query: Some(serde_json::from_value(json!({"orderBy": [["title"]], "limit": 2})).expect("a query")),
            },
        ),
        ("ping", M::Ping),
    ];
    let names: BTreeSet<String> = cases.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(names, listed_files("client"), "every client fixture is checked, and only those");
    for (name, message) in cases {
        check("client", name, message);
    }
}

#[test]
fn server_messages_match_their_fixtures() {
    type M = ServerMessage<Value>;
    let cases: Vec<(&str, M)> = vec![
        (
            "welcome",
            M::Welcome {
                session: "s-1a2b".into(),
                heartbeat_ms: 25000,
                protocol: 1,
                epoch: Some("9f86d081884c7d659a2feaa0c55ad015".into()),
            },
        ),
        // From a server older than epochs: still a welcome.
        (
            "welcome-without-epoch",
            M::Welcome { session: "s-1a2b".into(), heartbeat_ms: 25000, protocol: 1, epoch: None },
        ),
        (
            "snapshot",
            M::Snapshot {
                id: 1,
                path: "rooms/r1".into(),
                version: 42,
                exists: true,
                data: Some(json!({"title": "Lobby"})),
            },
        ),
        ("snapshot-missing", M::Snapshot { id: 1, path: "rooms/r9".into(), version: 0, exists: false, data: None }),
        (
            "collection",
            M::Collection {
                id: 2,
                path: "rooms".into(),
                version: 42,
                docs: vec![DocEntry { id: "r1".into(), version: 42, data: json!({"title": "Lobby"}) }],
            },
        ),
        (
            "changes",
            M::Changes {
                id: 2,
                version: 44,
                changes: vec![
                    Change {
                        kind: ChangeType::Added,
                        id: "r2".into(),
                        version: 43,
                        data: Some(json!({"title": "Den"})),
                    },
                    Change {
                        kind: ChangeType::Modified,
                        id: "r1".into(),
                        version: 43,
                        data: Some(json!({"title": "Hall"})),
                    },
                    Change { kind: ChangeType::Removed, id: "r3".into(), version: 44, data: None },
                ],
            },
        ),
        ("unchanged", M::Unchanged { id: 1, version: 42 }),
        ("ack", M::Ack { req: 7, version: 43 }),
        (
            "result",
            M::Result {
                req: 13,
                version: 44,
                docs: vec![
                    DocEntry { id: "r2".into(), version: 43, data: json!({"title": "Den"}) },
                    DocEntry { id: "r1".into(), version: 43, data: json!({"title": "Hall"}) },
                ],
            },
        ),
        ("result-missing", M::Result { req: 12, version: 44, docs: vec![] }),
        (
            "error-subscription",
            M::Error {
                id: Some(1),
                req: None,
                code: ErrorCode::InvalidArgument,
                message: "path segment 2 is empty (no leading, trailing or double '/')".into(),
                write: None,
            },
        ),
        (
            "error-write",
            M::Error {
                id: None,
                req: Some(8),
                code: ErrorCode::NotFound,
                message: "document rooms/r1 does not exist".into(),
                write: None,
            },
        ),
        (
            "error-commit",
            M::Error {
                id: None,
                req: Some(11),
                code: ErrorCode::FailedPrecondition,
                message: "rooms/r3 is at version 42, not 40".into(),
                write: Some(3),
            },
        ),
        (
            "error-connection",
            M::Error {
                id: None,
                req: None,
                code: ErrorCode::InvalidArgument,
                message: "frame is not valid JSON: expected value at line 1 column 1".into(),
                write: None,
            },
        ),
        ("pong", M::Pong),
        ("ping", M::Ping),
    ];
    let names: BTreeSet<String> = cases.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(names, listed_files("server"), "every server fixture is checked, and only those");
    for (name, message) in cases {
        check("server", name, message);
    }
}

#[test]
fn unknown_types_and_wrong_field_types_are_rejected() {
    for bad in [
        r#"{"type":"subscribe","id":"1","path":"rooms"}"#,
        r#"{"type":"subscribe","id":-1,"path":"rooms"}"#,
        r#"{"type":"subscribe","path":"rooms"}"#,
        r#"{"type":"explode"}"#,
        r#"{"id":1}"#,
        r#"[1,2]"#,
        // A transform needs exactly one kind, and a sentinel takes `true`.
        r#"{"type":"commit","req":1,"writes":[{"op":"update","path":"a/b","data":{},"transforms":[{"field":"n"}]}]}"#,
        r#"{"type":"commit","req":1,"writes":[{"op":"update","path":"a/b","data":{},"transforms":[{"field":"n","increment":1,"arrayUnion":[1]}]}]}"#,
        r#"{"type":"commit","req":1,"writes":[{"op":"update","path":"a/b","data":{},"transforms":[{"field":"n","serverTimestamp":false}]}]}"#,
        // A check needs its condition; a condition is one of exists and version.
        r#"{"type":"commit","req":1,"writes":[{"op":"check","path":"a/b"}]}"#,
        r#"{"type":"commit","req":1,"writes":[{"op":"delete","path":"a/b","if":{"exists":true,"version":1}}]}"#,
        r#"{"type":"commit","req":1,"writes":[{"op":"delete","path":"a/b","if":{}}]}"#,
        r#"{"type":"commit","req":1,"writes":[{"op":"explode","path":"a/b"}]}"#,
        r#"{"type":"commit","req":1,"writes":[{"op":"delete","path":"a/b","typo":1}]}"#,
    ] {
        assert!(serde_json::from_str::<ClientMessage<Value>>(bad).is_err(), "{bad}");
    }
}
