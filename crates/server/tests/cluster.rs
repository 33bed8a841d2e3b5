//! Several nodes on one real PostgreSQL (a throwaway cluster; a database of its own per test): writes
//! on any node reach the subscribers of every node, in version order, exactly once.

// Helpers outside #[test] functions unwrap too: a failed unwrap is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use common::{Client, Rng, TestServer, pg::Cluster};
use livepath_server::Config;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn node_config(url: &str) -> Config {
    Config { database_url: Some(url.to_owned()), ..Config::default() }
}

async fn nodes(url: &str, n: usize) -> Vec<TestServer> {
    let mut nodes = Vec::new();
    for _ in 0..n {
        nodes.push(TestServer::start(node_config(url)).await);
    }
    nodes
}

async fn subscribe(c: &mut Client, id: u64, path: &str) -> Value {
    c.send(json!({"type":"subscribe","id":id,"path":path})).await;
    c.recv().await
}

/// Polls `check` every 50 ms until it holds or `within` has passed.
async fn eventually(within: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_write_on_one_node_reaches_the_subscribers_of_the_others_by_websocket_and_by_http() {
    let db = Cluster::shared().database().await;
    let nodes = nodes(&db, 3).await;
    let mut on1 = nodes[0].connect().await;
    let mut on3 = nodes[2].connect().await;
    assert_eq!(subscribe(&mut on1, 1, "c/d").await["exists"], false);
    assert_eq!(subscribe(&mut on3, 1, "c/d").await["exists"], false);
    let mut writer = nodes[0].connect().await;
    writer.send(json!({"type":"set","req":1,"path":"c/d","data":{"n":1}})).await;
    let version = writer.recv().await["version"].as_u64().unwrap();
    for c in [&mut on1, &mut on3] {
        let snapshot = c.recv().await;
        assert_eq!((snapshot["version"].as_u64(), &snapshot["data"]), (Some(version), &json!({"n":1})));
    }
    let (status, body) = nodes[1].put("c/d", json!({"n":2})).await;
    assert_eq!(status, 200);
    for c in [&mut on1, &mut on3] {
        let snapshot = c.recv().await;
        assert_eq!((&snapshot["version"], &snapshot["data"]), (&body["version"], &json!({"n":2})));
    }
    assert_eq!(nodes[2].get("c/d").await.1["data"], json!({"n":2}));
}

/// A write as its writer saw it acknowledged.
#[derive(Debug, Clone)]
struct Acked {
    path: String,
    /// `set`, `update` or `delete`.
    op: &'static str,
    data: Value,
}

const DOCS: [&str; 12] = ["m/0", "m/1", "m/2", "m/3", "m/4", "m/5", "m/6", "m/7", "n/0", "n/1", "n/2", "n/3"];

/// One writer on one node: `count` random writes, up to 32 in flight; what was acknowledged, by version.
async fn write_randomly(mut c: Client, seed: u64, count: usize) -> Vec<(u64, Acked)> {
    let mut rng = Rng(seed);
    let mut sent: HashMap<u64, Acked> = HashMap::new();
    let mut acked = Vec::new();
    let mut next = 0;
    while next < count || !sent.is_empty() {
        while next < count && sent.len() < 32 {
            let path = DOCS[rng.below(DOCS.len() as u64) as usize].to_owned();
            let (op, data) = match rng.below(10) {
                0..=5 => ("set", json!({"seed": seed, "i": next})),
                6..=7 => ("update", json!({"u": next})),
                _ => ("delete", Value::Null),
            };
            let req = next as u64 + 1;
            let mut message = json!({"type": op, "req": req, "path": path});
            if op != "delete" {
                message["data"] = data.clone();
            }
            c.send(message).await;
            sent.insert(req, Acked { path, op, data });
            next += 1;
        }
        let answer = c.recv().await;
        let req = answer["req"].as_u64().expect("an answer to a write");
        let write = sent.remove(&req).expect("a write in flight");
        match answer["type"].as_str() {
            Some("ack") => acked.push((answer["version"].as_u64().unwrap(), write)),
            Some("error") => assert_eq!(answer["code"], "not-found", "only an update of a missing document fails"),
            other => panic!("unexpected answer {other:?}: {answer}"),
        }
    }
    acked
}

/// What one subscriber connection received: per document, the versions of its snapshots and the last
/// data; per collection, the version of each change and the documents it ends with.
#[derive(Default, Debug)]
struct Seen {
    doc_versions: BTreeMap<String, Vec<u64>>,
    doc_data: BTreeMap<String, Value>,
    first_doc_version: BTreeMap<String, u64>,
    collection_changes: BTreeMap<String, Vec<u64>>,
    collection_first: BTreeMap<String, u64>,
    collections: BTreeMap<String, BTreeMap<String, Value>>,
}

/// Subscribes to every document and both collections, then records every frame until the sentinel
/// writes (the last ones) have arrived in both collections.
async fn watch(mut c: Client, mut sentinels: tokio::sync::watch::Receiver<Option<(u64, u64)>>) -> Seen {
    let mut seen = Seen::default();
    let mut paths = HashMap::new();
    for (i, path) in DOCS.iter().chain(["m", "n"].iter()).enumerate() {
        let id = i as u64 + 1;
        paths.insert(id, path.to_string());
        c.send(json!({"type":"subscribe","id":id,"path":path})).await;
    }
    loop {
        if let Some((m, n)) = *sentinels.borrow() {
            let last = |p: &str| seen.collection_changes.get(p).and_then(|v| v.last().copied());
            if last("m") == Some(m) && last("n") == Some(n) {
                return seen;
            }
        }
        // The sentinels may be named after their frames came: look again when they are.
        let frame = tokio::select! {
            frame = c.recv() => frame,
            _ = sentinels.changed() => continue,
        };
        let path = paths[&frame["id"].as_u64().unwrap()].clone();
        match frame["type"].as_str().unwrap() {
            "snapshot" => {
                let version = frame["version"].as_u64().unwrap();
                if seen.first_doc_version.contains_key(&path) {
                    seen.doc_versions.entry(path.clone()).or_default().push(version);
                } else {
                    seen.first_doc_version.insert(path.clone(), version);
                }
                seen.doc_data.insert(path, frame["data"].clone());
            }
            "collection" => {
                assert!(!seen.collection_first.contains_key(&path), "one full listing, then changes: {frame}");
                seen.collection_first.insert(path.clone(), frame["version"].as_u64().unwrap());
                let docs = frame["docs"].as_array().unwrap();
                seen.collections.insert(
                    path,
                    docs.iter().map(|d| (d["id"].as_str().unwrap().to_owned(), d["data"].clone())).collect(),
                );
            }
            "changes" => {
                let listing = seen.collections.get_mut(&path).expect("changes after the listing");
                for change in frame["changes"].as_array().unwrap() {
                    seen.collection_changes.entry(path.clone()).or_default().push(change["version"].as_u64().unwrap());
                    let id = change["id"].as_str().unwrap().to_owned();
                    match change["type"].as_str().unwrap() {
                        "removed" => assert!(listing.remove(&id).is_some(), "removed what was there: {change}"),
                        "added" => {
                            assert!(listing.insert(id, change["data"].clone()).is_none(), "added anew: {change}")
                        }
                        _ => assert!(listing.insert(id, change["data"].clone()).is_some(), "modified: {change}"),
                    }
                }
            }
            other => panic!("unexpected frame {other}: {frame}"),
        }
    }
}

#[tokio::test]
async fn concurrent_writers_on_three_nodes_reach_every_subscriber_in_version_order_with_no_gap_or_duplicate() {
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    println!("seed {seed}");
    let db = Cluster::shared().database().await;
    // Queues long enough that nothing coalesces: every version must arrive.
    let config = Config { outbox_frames: 1 << 20, outbox_bytes: 1 << 30, ..node_config(&db) };
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(TestServer::start(config.clone()).await);
    }
    let (sentinels_tx, sentinels) = tokio::sync::watch::channel(None);
    let mut watchers = Vec::new();
    for node in &nodes {
        watchers.push(tokio::spawn(watch(node.connect().await, sentinels.clone())));
    }
    // Let every subscription take its first state before the writes start (some will race it anyway).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut writers = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        writers.push(tokio::spawn(write_randomly(node.connect().await, seed.wrapping_add(i as u64 * 7919), 1700)));
    }
    // And one more subscriber per node while the writes flow: its first state races them, and whatever
    // commits between its read and its registration must still reach it once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for node in &nodes {
        watchers.push(tokio::spawn(watch(node.connect().await, sentinels.clone())));
    }
    let mut acked: BTreeMap<u64, Acked> = BTreeMap::new();
    for writer in writers {
        for (version, write) in writer.await.unwrap() {
            assert!(acked.insert(version, write).is_none(), "two writes acknowledged with version {version}");
        }
    }
    assert!(acked.len() >= 4000, "most writes land ({} of 5,100)", acked.len());
    let (_, m) = nodes[0].put("m/sentinel", json!({"last": true})).await;
    let (_, n) = nodes[1].put("n/sentinel", json!({"last": true})).await;
    let sentinel_versions = (m["version"].as_u64().unwrap(), n["version"].as_u64().unwrap());
    acked.insert(sentinel_versions.0, Acked { path: "m/sentinel".into(), op: "set", data: json!({"last": true}) });
    acked.insert(sentinel_versions.1, Acked { path: "n/sentinel".into(), op: "set", data: json!({"last": true}) });
    sentinels_tx.send(Some(sentinel_versions)).unwrap();

    // The reference: every acknowledged write applied in version order. Versions have no holes.
    let versions: Vec<u64> = acked.keys().copied().collect();
    assert_eq!(versions, (1..=versions.len() as u64).collect::<Vec<_>>(), "one sequence, no holes");
    let mut model: BTreeMap<String, Value> = BTreeMap::new();
    let mut writes_to: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut changes_in: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (version, write) in &acked {
        let existed = model.contains_key(&write.path);
        match write.op {
            "set" => {
                model.insert(write.path.clone(), write.data.clone());
            }
            "update" => {
                let doc = model.get_mut(&write.path).expect("an acknowledged update had a document to update");
                for (k, v) in write.data.as_object().unwrap() {
                    doc[k] = v.clone();
                }
            }
            _ => {
                model.remove(&write.path);
            }
        }
        writes_to.entry(write.path.clone()).or_default().push(*version);
        if existed || model.contains_key(&write.path) {
            let collection = write.path.split('/').next().unwrap().to_owned();
            changes_in.entry(collection).or_default().push(*version);
        }
    }
    for (w, watcher) in watchers.into_iter().enumerate() {
        let i = w % nodes.len();
        let seen = tokio::time::timeout(Duration::from_secs(30), watcher).await.expect("every write arrives").unwrap();
        if w >= nodes.len() {
            assert!(seen.collection_first["m"] > 0, "a late subscriber started while the writes flowed");
        }
        for path in DOCS {
            let first = seen.first_doc_version[path];
            let expected: Vec<u64> =
                writes_to.get(path).into_iter().flatten().copied().filter(|v| *v > first).collect();
            let got = seen.doc_versions.get(path).cloned().unwrap_or_default();
            // A snapshot still waiting is replaced by a newer one (the outbox's design): a document's
            // subscriber may skip versions, but gets each at most once, in order, and ends at the last.
            assert!(got.windows(2).all(|w| w[0] < w[1]), "node {}: {path}'s versions in order, once", i + 1);
            assert!(got.iter().all(|v| expected.binary_search(v).is_ok()), "node {}: only writes to {path}", i + 1);
            assert_eq!(got.last(), expected.last(), "node {}: {path} ends at its last version", i + 1);
            assert_eq!(seen.doc_data[path], model.get(path).cloned().unwrap_or(Value::Null), "node {}: {path}", i + 1);
        }
        for collection in ["m", "n"] {
            let first = seen.collection_first[collection];
            let expected: Vec<u64> =
                changes_in.get(collection).into_iter().flatten().copied().filter(|v| *v > first).collect();
            assert_eq!(seen.collection_changes[collection], expected, "node {}: changes of {collection}", i + 1);
            let (_, listing) = nodes[i].get(collection).await;
            let stored: BTreeMap<String, Value> = listing["docs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| (d["id"].as_str().unwrap().to_owned(), d["data"].clone()))
                .collect();
            assert_eq!(seen.collections[collection], stored, "node {}: the listing ends as the database", i + 1);
            let modeled: BTreeMap<String, Value> = model
                .iter()
                .filter_map(|(p, d)| p.strip_prefix(&format!("{collection}/")).map(|id| (id.to_owned(), d.clone())))
                .collect();
            assert_eq!(stored, modeled, "the database holds what the writes, in version order, make");
        }
    }
}

#[tokio::test]
async fn a_keyed_write_retried_on_another_node_commits_once() {
    let db = Cluster::shared().database().await;
    let nodes = nodes(&db, 2).await;
    let mut on1 = nodes[0].connect().await;
    on1.send(json!({"type":"set","req":1,"path":"c/d","data":{"n":1},"key":"k-retry"})).await;
    let first = on1.recv().await;
    let mut on2 = nodes[1].connect().await;
    on2.send(json!({"type":"set","req":1,"path":"c/d","data":{"n":2},"key":"k-retry"})).await;
    let again = on2.recv().await;
    assert_eq!((again["type"].as_str(), &again["version"]), (Some("ack"), &first["version"]));
    let (_, doc) = nodes[1].get("c/d").await;
    assert_eq!((&doc["data"], &doc["version"]), (&json!({"n":1}), &first["version"]));
}

#[tokio::test]
async fn nodes_migrating_an_empty_database_at_the_same_moment_all_start_and_share_one_epoch() {
    let db = Cluster::shared().database().await;
    let (a, b, c, d) = tokio::join!(
        TestServer::start(node_config(&db)),
        TestServer::start(node_config(&db)),
        TestServer::start(node_config(&db)),
        TestServer::start(node_config(&db)),
    );
    let mut epochs = Vec::new();
    for node in [&a, &b, &c, &d] {
        assert_eq!(node.put("c/d", json!({"n":1})).await.0, 200);
        epochs.push(node.connect_welcomed().await.1["epoch"].as_str().unwrap().to_owned());
    }
    assert!(epochs.iter().all(|e| *e == epochs[0]), "one database, one epoch: {epochs:?}");
    let other = TestServer::start(node_config(&Cluster::shared().database().await)).await;
    assert_ne!(other.connect_welcomed().await.1["epoch"], epochs[0].as_str(), "another database, another epoch");
    let schema = common::pg::connect(&db).await;
    let versions = schema.query("SELECT version FROM livepath_schema", &[]).await.unwrap();
    assert_eq!(versions.len(), 1, "the schema was made once");
}

#[tokio::test]
async fn subscribers_converge_when_the_listening_connection_is_cut_again_and_again() {
    let cluster = Cluster::shared();
    let db = cluster.database().await;
    let nodes = nodes(&db, 2).await;
    let mut on2 = nodes[1].connect().await;
    assert_eq!(subscribe(&mut on2, 1, "c").await["type"], "collection");
    let admin = cluster.connect().await;
    let name = db.rsplit('/').next().unwrap().to_owned();
    for i in 0..10 {
        // Cut node 2's listening connection (notifications sent meanwhile are lost), then write on node 1.
        common::pg::terminate(&admin, &name, "livepath-server listen").await;
        assert_eq!(nodes[0].put(&format!("c/{i}"), json!({"i": i})).await.0, 200);
    }
    let mut ids = Vec::new();
    while ids.len() < 10 {
        let frame =
            tokio::time::timeout(Duration::from_secs(3), on2.recv()).await.expect("within the catch-up interval");
        for change in frame["changes"].as_array().unwrap() {
            ids.push(change["id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(ids, (0..10).map(|i| i.to_string()).collect::<Vec<_>>(), "every write, once, in order");
}

#[tokio::test]
async fn while_postgresql_is_down_writes_are_refused_unavailable_health_says_why_and_everything_catches_up_after() {
    // A cluster of its own: this test stops it.
    let cluster = Cluster::start();
    let db = cluster.database().await;
    let nodes = nodes(&db, 2).await;
    let mut on2 = nodes[1].connect().await;
    assert_eq!(subscribe(&mut on2, 1, "c/d").await["exists"], false);
    let (_, before) = nodes[0].put("c/before", json!({"kept": true})).await;
    // Connected before the outage: new connections are refused during it.
    let mut writer = nodes[0].connect().await;
    let dir = cluster.stop().await;

    writer.send(json!({"type":"set","req":1,"path":"c/d","data":{"n":1},"key":"k-outage"})).await;
    let refused = writer.recv().await;
    assert_eq!((refused["type"].as_str(), refused["code"].as_str()), (Some("error"), Some("unavailable")), "{refused}");
    for node in &nodes {
        eventually(Duration::from_secs(5), "/healthz says not ready", async || {
            let response = reqwest::get(node.http("/healthz")).await.unwrap();
            response.status() == 503 && response.text().await.unwrap().contains("PostgreSQL")
        })
        .await;
    }
    // The subscriber's connection stays open and answers; a new connection is refused before the
    // upgrade, so that a proxy tries another node.
    assert!(on2.sync().await.is_empty());
    let mut request = format!("ws://{}/v1/ws", nodes[1].addr).into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "livepath.v1".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 503),
        other => panic!("expected 503 while PostgreSQL is down, got {:?}", other.map(|_| ())),
    }

    cluster.resume(&dir);
    for node in &nodes {
        eventually(Duration::from_secs(15), "/healthz ready again", async || {
            reqwest::get(node.http("/healthz")).await.unwrap().status() == 200
        })
        .await;
    }
    // The client retries with its key: it applies once, and reaches the subscriber on the other node.
    writer.send(json!({"type":"set","req":2,"path":"c/d","data":{"n":1},"key":"k-outage"})).await;
    let ack = writer.recv().await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let snapshot = on2.recv().await;
    assert_eq!((&snapshot["data"], &snapshot["version"]), (&json!({"n":1}), &ack["version"]));
    let (_, kept) = nodes[1].get("c/before").await;
    assert_eq!(kept["version"], before["version"], "what was acknowledged before the outage is there");
}

#[tokio::test]
async fn a_resume_from_before_the_tombstone_horizon_gets_the_full_listing_without_the_deleted_document() {
    let db = Cluster::shared().database().await;
    let config = Config { tombstone_retention: Duration::from_secs(1), ..node_config(&db) };
    let node = TestServer::start(config).await;
    node.put("c/kept", json!({})).await;
    let (_, gone) = node.put("c/gone", json!({})).await;
    let since = gone["version"].as_u64().unwrap();
    reqwest::Client::new().delete(node.http("/v1/docs/c/gone")).send().await.unwrap();
    let admin = common::pg::connect(&db).await;
    eventually(Duration::from_secs(10), "the tombstone is removed", async || {
        admin.query("SELECT 1 FROM livepath_docs WHERE id = 'gone'", &[]).await.unwrap().is_empty()
    })
    .await;
    let mut c = node.connect().await;
    c.send(json!({"type":"subscribe","id":1,"path":"c","since":since})).await;
    let full = c.recv().await;
    assert_eq!(full["type"], "collection", "a full listing, never a delta that forgets the delete: {full}");
    let ids: Vec<_> = full["docs"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["kept"]);
}

#[tokio::test]
async fn documents_come_back_byte_for_byte_from_every_node_whatever_json_holds() {
    let db = Cluster::shared().database().await;
    let nodes = nodes(&db, 2).await;
    let mut on2 = nodes[1].connect().await;
    assert_eq!(subscribe(&mut on2, 1, "c/d").await["exists"], false);
    // Keys in another order than PostgreSQL's jsonb keeps them, a number jsonb would spell out in 300
    // digits, and a NUL character, which jsonb refuses.
    let body = r#"{"zz":1,"a":[1,2],"big":1e300,"nul":"a\u0000b"}"#;
    let response = reqwest::Client::new()
        .put(nodes[0].http("/v1/docs/c/d"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let stored = r#""data":{"a":[1,2],"big":1e+300,"nul":"a\u0000b","zz":1}"#;
    for node in &nodes {
        let text = reqwest::get(node.http("/v1/docs/c/d")).await.unwrap().text().await.unwrap();
        assert!(text.contains(stored), "the same text from every node: {text}");
    }
    match on2.next_message().await {
        tokio_tungstenite::tungstenite::Message::Text(text) => {
            assert!(text.contains(stored), "and in the other node's snapshot: {text}")
        }
        other => panic!("expected a snapshot, got {other:?}"),
    }
}

#[tokio::test]
async fn a_bad_idempotency_key_fails_its_own_write_and_not_the_others_of_its_batch() {
    let db = Cluster::shared().database().await;
    let node = TestServer::start(node_config(&db)).await;
    let mut c = node.connect().await;
    // Sent back to back, so that they can share a transaction.
    c.send(json!({"type":"set","req":1,"path":"c/a","data":{},"key":"good-1"})).await;
    c.send(json!({"type":"set","req":2,"path":"c/b","data":{},"key":"bad\u{0}key"})).await;
    c.send(json!({"type":"set","req":3,"path":"c/c","data":{},"key":"x".repeat(300)})).await;
    c.send(json!({"type":"set","req":4,"path":"c/d","data":{},"key":"good-2"})).await;
    let mut answers = BTreeMap::new();
    for _ in 0..4 {
        let answer = c.recv().await;
        answers.insert(answer["req"].as_u64().unwrap(), answer);
    }
    for req in [1, 4] {
        assert_eq!(answers[&req]["type"], "ack", "{}", answers[&req]);
    }
    for req in [2, 3] {
        assert_eq!(answers[&req]["code"], "invalid-argument", "{}", answers[&req]);
        assert!(answers[&req]["message"].as_str().unwrap().contains("idempotency key"), "{}", answers[&req]);
    }
}

/// The application name of each livepath connection to database `name`, and whether it uses TLS.
async fn encrypted(url: &str, name: &str) -> Vec<(String, bool)> {
    let rows = common::pg::connect(url)
        .await
        .query(
            "SELECT a.application_name, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
             WHERE a.datname = $1 AND a.application_name LIKE 'livepath-server%' ORDER BY 1",
            &[&name],
        )
        .await
        .unwrap();
    rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, bool>(1))).collect()
}

#[tokio::test]
async fn with_sslmode_require_and_the_ca_file_the_nodes_connections_are_encrypted_and_without_the_ca_refused() {
    let cluster = Cluster::start_tls();
    let db = cluster.database().await;
    let ca = cluster.ca_certificate().await;
    let name = db.rsplit('/').next().unwrap().to_owned();

    let config = Config {
        database_url: Some(format!("{db}?sslmode=require")),
        database_ca_file: Some(ca.clone().into()),
        ..Config::default()
    };
    let node = TestServer::start(config).await;
    assert_eq!(node.put("c/d", json!({"n":1})).await.0, 200);
    eventually(Duration::from_secs(5), "both connections up", async || encrypted(&cluster.url, &name).await.len() == 2)
        .await;
    let both = encrypted(&cluster.url, &name).await;
    assert_eq!(both, [("livepath-server".into(), true), ("livepath-server listen".into(), true)], "{both:?}");
    drop(node);

    // Verified, not merely encrypted: the test CA is no Mozilla root.
    let unverified = Config { database_url: Some(format!("{db}?sslmode=require")), ..Config::default() };
    let error = TestServer::start_error("127.0.0.1", unverified).await;
    assert!(error.contains("certificate") || error.contains("UnknownIssuer"), "{error}");
    // A CA file that is not one.
    let bad = Config {
        database_ca_file: Some("Cargo.toml".into()),
        ..Config { database_url: Some(db.clone()), ..Config::default() }
    };
    assert!(TestServer::start_error("127.0.0.1", bad).await.contains("--database-ca-file"));
}

#[tokio::test]
async fn keyed_writes_retried_while_the_store_connection_is_cut_again_and_again_each_apply_exactly_once() {
    const WRITES: u64 = 200;
    let cluster = Cluster::shared();
    let db = cluster.database().await;
    let node = TestServer::start(node_config(&db)).await;
    let name = db.rsplit('/').next().unwrap().to_owned();
    let admin = cluster.connect().await;
    let mut c = node.connect().await;
    // A commit that takes a while (a deferred trigger sleeping 5 ms a row), so that cuts land during
    // it, when only the log can tell the node whether its batch committed.
    common::pg::connect(&db)
        .await
        .batch_execute(
            "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS
                 $$ BEGIN PERFORM pg_sleep(0.005); RETURN NULL; END $$;
             CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON livepath_log
                 DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();",
        )
        .await
        .unwrap();

    // Cut the node's store connection every 100 ms while the writes go.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cutting = stop.clone();
    let cutter = tokio::spawn(async move {
        let mut cuts = 0;
        while !cutting.load(std::sync::atomic::Ordering::Relaxed) {
            cuts += common::pg::terminate(&admin, &name, "livepath-server").await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        cuts
    });

    // As the client does: up to 16 in flight, and a write refused `unavailable` is sent again with
    // its key.
    let send = |i: u64| json!({"type":"set","req":i,"path":format!("c/{i}"),"data":{"i":i},"key":format!("k-{i}")});
    let mut acked: BTreeMap<u64, u64> = BTreeMap::new();
    let (mut next, mut in_flight, mut retries) = (1, 0, 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while (acked.len() as u64) < WRITES {
        assert!(Instant::now() < deadline, "every write lands ({} of {WRITES})", acked.len());
        while in_flight < 16 && next <= WRITES {
            c.send(send(next)).await;
            (next, in_flight) = (next + 1, in_flight + 1);
        }
        let answer = c.recv().await;
        let req = answer["req"].as_u64().expect("an answer to a write");
        match answer["type"].as_str() {
            Some("ack") => {
                in_flight -= 1;
                assert!(acked.insert(req, answer["version"].as_u64().unwrap()).is_none(), "one ack per write");
            }
            _ => {
                assert_eq!(answer["code"], "unavailable", "{answer}");
                retries += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
                c.send(send(req)).await;
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let cuts = cutter.await.unwrap();
    println!("{cuts} cuts, {retries} writes refused and sent again");
    assert!(cuts > 0 && retries > 0, "the connection was cut ({cuts}) and writes refused meanwhile ({retries})");

    // Each write is one version of the sequence (none applied twice) and holds the version it was
    // acknowledged with.
    let check = common::pg::connect(&db).await;
    let version: i64 = check.query_one("SELECT version FROM livepath_meta", &[]).await.unwrap().get(0);
    assert_eq!(version as u64, WRITES, "no write applied twice");
    for (i, acked_version) in &acked {
        let (_, doc) = node.get(&format!("c/{i}")).await;
        assert_eq!((&doc["data"]["i"], doc["version"].as_u64()), (&json!(i), Some(*acked_version)), "c/{i}");
    }
}
