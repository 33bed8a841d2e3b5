//! The WebSocket protocol against a real server on port 0.

mod common;

use common::TestServer;
use livepath_server::Config;
use serde_json::json;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

#[tokio::test]
async fn subscribing_to_a_missing_document_answers_exists_false() {
    let server = TestServer::memory().await;
    let mut c = server.connect().await;
    c.send(json!({"type":"subscribe","id":1,"path":"rooms/r1"})).await;
    assert_eq!(
        c.recv().await,
        json!({"type":"snapshot","id":1,"path":"rooms/r1","version":0,"exists":false,"data":null})
    );
}

#[tokio::test]
async fn a_write_reaches_every_subscriber_and_the_ack_follows_the_writers_own_snapshot() {
    let server = TestServer::memory().await;
    let mut writer = server.connect().await;
    let mut other = server.connect().await;
    for c in [&mut writer, &mut other] {
        c.send(json!({"type":"subscribe","id":5,"path":"rooms/r1"})).await;
        assert_eq!(c.recv().await["exists"], false);
    }
    writer.send(json!({"type":"set","req":1,"path":"rooms/r1","data":{"title":"Lobby"}})).await;
    let snapshot = writer.recv().await;
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["data"], json!({"title":"Lobby"}));
    let ack = writer.recv().await;
    assert_eq!(ack["type"], "ack");
    assert_eq!(ack["req"], 1);
    assert_eq!(ack["version"], snapshot["version"]);
    assert_eq!(other.recv().await, snapshot);
}

#[tokio::test]
async fn snapshots_arrive_in_version_order() {
    let server = TestServer::memory().await;
    let mut c = server.connect().await;
    c.send(json!({"type":"subscribe","id":1,"path":"c/d"})).await;
    c.recv().await;
    for n in 0..50 {
        c.send(json!({"type":"set","req":n,"path":"c/d","data":{"n":n}})).await;
    }
    let mut last = 0;
    let mut acks = 0;
    while acks < 50 {
        let frame = c.recv().await;
        match frame["type"].as_str().unwrap() {
            "snapshot" => {
                let v = frame["version"].as_u64().unwrap();
                assert!(v > last, "version {v} after {last}");
                last = v;
            }
            "ack" => {
                assert!(frame["version"].as_u64().unwrap() <= last, "an ack never precedes its snapshot");
                acks += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
}

#[tokio::test]
async fn a_burst_of_writes_is_acknowledged_in_order_and_a_ping_after_it_is_answered_last() {
    let server = TestServer::memory().await;
    let mut c = server.connect().await;
    for n in 1..=200 {
        c.send(json!({"type":"set","req":n,"path":format!("c/d{}", n % 7),"data":{"n":n}})).await;
    }
    c.send(json!({"type":"update","req":201,"path":"c/missing","data":{"n":0}})).await;
    c.send(json!({"type":"set","req":202,"path":"c/d0","data":{"n":202}})).await;
    let answers = c.sync().await;
    let reqs: Vec<u64> = answers.iter().map(|a| a["req"].as_u64().unwrap()).collect();
    assert_eq!(reqs, (1..=202).collect::<Vec<_>>(), "every write answered once, in order, before the pong");
    let versions: Vec<u64> = answers.iter().filter_map(|a| a["version"].as_u64()).collect();
    assert!(versions.windows(2).all(|w| w[1] == w[0] + 1), "versions follow the writes: {versions:?}");
    assert_eq!(answers[200]["code"], "not-found", "the refused write in the middle fails alone");
    assert_eq!(server.get("c/d0").await.1["data"], json!({"n":202}));
}

#[tokio::test]
async fn an_http_put_is_pushed_to_subscribers_and_readable_with_get() {
    let server = TestServer::memory().await;
    let mut c = server.connect().await;
    c.send(json!({"type":"subscribe","id":1,"path":"rooms/r1"})).await;
    c.recv().await;
    let (status, body) = server.put("rooms/r1", json!({"open":true})).await;
    assert_eq!(status, 200);
    let snapshot = c.recv().await;
    assert_eq!(snapshot["data"], json!({"open":true}));
    assert_eq!(snapshot["version"], body["version"]);
    let (status, doc) = server.get("rooms/r1").await;
    assert_eq!(status, 200);
    assert_eq!(doc["data"], json!({"open":true}));
    assert_eq!(doc["version"], body["version"]);
}

#[tokio::test]
async fn after_unsubscribe_no_snapshot_arrives() {
    let server = TestServer::memory().await;
    let mut c = server.connect().await;
    c.send(json!({"type":"subscribe","id":1,"path":"c/d"})).await;
    c.recv().await;
    c.send(json!({"type":"unsubscribe","id":1})).await;
    c.send(json!({"type":"set","req":1,"path":"c/d","data":{}})).await;
    assert_eq!(c.recv().await["type"], "ack");
    assert!(c.sync().await.is_empty());
}

#[tokio::test]
async fn collection_subscribers_see_added_modified_and_removed() {
    let server = TestServer::memory().await;
    server.put("rooms/a", json!({"n":1})).await;
    let mut c = server.connect().await;
    c.send(json!({"type":"subscribe","id":2,"path":"rooms"})).await;
    let first = c.recv().await;
    assert_eq!(first["type"], "collection");
    assert_eq!(first["docs"], json!([{"id":"a","version":1,"data":{"n":1}}]));
    server.put("rooms/b", json!({"n":2})).await;
    server.put("rooms/a", json!({"n":3})).await;
    c.send(json!({"type":"delete","req":1,"path":"rooms/b"})).await;
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let frame = c.recv().await;
        if frame["type"] == "changes" {
            let change = &frame["changes"][0];
            seen.push((change["type"].as_str().unwrap().to_owned(), change["id"].as_str().unwrap().to_owned()));
        }
    }
    assert_eq!(seen, [("added".into(), "b".into()), ("modified".into(), "a".into()), ("removed".into(), "b".into())]);
}

#[tokio::test]
async fn resuming_with_a_current_since_answers_unchanged() {
    let server = TestServer::memory().await;
    let (_, body) = server.put("c/d", json!({"n":1})).await;
    let version = body["version"].as_u64().unwrap();
    let mut c = server.connect().await;
    c.send(json!({"type":"subscribe","id":1,"path":"c/d","since":version})).await;
    assert_eq!(c.recv().await, json!({"type":"unchanged","id":1,"version":version}));
    c.send(json!({"type":"subscribe","id":2,"path":"c/d","since":version - 1})).await;
    assert_eq!(c.recv().await["type"], "snapshot");
}

#[tokio::test]
async fn a_retried_write_with_the_same_key_is_applied_once() {
    let server = TestServer::memory().await;
    let mut c = server.connect().await;
    c.send(json!({"type":"set","req":1,"path":"c/d","data":{"n":1},"key":"k1"})).await;
    let first = c.recv().await;
    c.send(json!({"type":"set","req":2,"path":"c/d","data":{"n":2},"key":"k1"})).await;
    let retry = c.recv().await;
    assert_eq!(retry["req"], 2);
    assert_eq!(retry["version"], first["version"]);
    assert_eq!(server.get("c/d").await.1["data"], json!({"n":1}));
}

#[tokio::test]
async fn bad_input_gets_an_error_frame_and_the_connection_keeps_working() {
    let server = TestServer::memory().await;
    let mut bystander = server.connect().await;
    bystander.send(json!({"type":"subscribe","id":1,"path":"c/watched"})).await;
    bystander.recv().await;
    let mut c = server.connect().await;
    let cases = [
        ("not json", None, None),
        (r#"{"type":"explode"}"#, None, None),
        (r#"{"type":"subscribe","id":"1","path":"c/d"}"#, None, None),
        (r#"{"type":"subscribe","id":3,"path":"c//d"}"#, Some(3), None),
        (r#"{"type":"set","req":4,"path":"c/d","data":[1]}"#, None, Some(4)),
        (r#"{"type":"set","req":5,"path":"rooms","data":{}}"#, None, Some(5)),
    ];
    for (text, id, req) in cases {
        c.send_raw(Message::Text(text.into())).await;
        let error = c.recv().await;
        assert_eq!(error["type"], "error", "{text}");
        assert_eq!(error["code"], "invalid-argument", "{text}");
        assert_eq!(error["id"].as_u64(), id, "{text}");
        assert_eq!(error["req"].as_u64(), req, "{text}");
        assert!(!error["message"].as_str().unwrap().is_empty());
    }
    c.send(json!({"type":"update","req":6,"path":"c/missing","data":{"a":1}})).await;
    let error = c.recv().await;
    assert_eq!((error["code"].as_str(), error["req"].as_u64()), (Some("not-found"), Some(6)));
    c.send(json!({"type":"subscribe","id":7,"path":"c/d"})).await;
    c.recv().await;
    c.send(json!({"type":"subscribe","id":7,"path":"c/e"})).await;
    let error = c.recv().await;
    assert_eq!((error["code"].as_str(), error["id"].as_u64()), (Some("invalid-argument"), Some(7)));
    assert!(c.sync().await.is_empty(), "the connection still answers");
    server.put("c/watched", json!({"still":"here"})).await;
    assert_eq!(bystander.recv().await["data"], json!({"still":"here"}), "other connections never notice");
}

#[tokio::test]
async fn an_upgrade_without_the_subprotocol_is_refused_with_400() {
    let server = TestServer::memory().await;
    let request = format!("ws://{}/v1/ws", server.addr).into_client_request().unwrap();
    let error = tokio_tungstenite::connect_async(request).await.unwrap_err();
    match error {
        tokio_tungstenite::tungstenite::Error::Http(response) => {
            assert_eq!(response.status(), 400);
            let body = String::from_utf8(response.body().clone().unwrap_or_default()).unwrap();
            assert!(body.contains("livepath.v1"), "{body}");
        }
        other => panic!("expected an HTTP 400, got {other}"),
    }
}

#[tokio::test]
async fn binary_frames_close_with_1003_and_oversized_frames_with_1009() {
    let server = TestServer::start(Config { max_frame_bytes: 1024, ..Config::in_memory() }).await;
    let mut c = server.connect().await;
    c.send_raw(Message::Binary(vec![1, 2, 3].into())).await;
    assert_eq!(c.close_code().await, 1003);
    let mut c = server.connect().await;
    c.send(json!({"type":"set","req":1,"path":"c/d","data":{"s":"x".repeat(2000)}})).await;
    assert_eq!(c.close_code().await, 1009);
}

#[tokio::test]
async fn graceful_shutdown_closes_sockets_with_1001() {
    let server = TestServer::memory().await;
    let mut c = server.connect().await;
    let stopping = tokio::spawn(server.stop());
    assert_eq!(c.close_code().await, 1001);
    stopping.await.unwrap();
}

#[tokio::test]
async fn acknowledged_writes_and_the_epoch_survive_a_restart_on_the_same_data_dir_and_a_wiped_one_is_a_new_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config { data_dir: dir.path().to_owned(), memory: false, ..Config::default() };
    let server = TestServer::start(config.clone()).await;
    let (mut c, welcome) = server.connect_welcomed().await;
    let epoch = welcome["epoch"].as_str().expect("welcome names the epoch").to_owned();
    c.send(json!({"type":"set","req":1,"path":"c/d","data":{"kept":true}})).await;
    let version = c.recv().await["version"].as_u64().unwrap();
    server.stop().await;
    let server = TestServer::start(config.clone()).await;
    let (status, doc) = server.get("c/d").await;
    assert_eq!(status, 200);
    assert_eq!((doc["data"].clone(), doc["version"].as_u64()), (json!({"kept":true}), Some(version)));
    assert_eq!(server.connect_welcomed().await.1["epoch"], epoch.as_str(), "the same database, the same epoch");
    server.stop().await;
    std::fs::remove_dir_all(dir.path()).unwrap();
    let server = TestServer::start(config).await;
    let fresh = server.connect_welcomed().await.1;
    assert!(fresh["epoch"].as_str().is_some_and(|e| e != epoch), "a wiped data directory is a new epoch: {fresh}");
}

#[tokio::test]
async fn resuming_a_collection_sends_only_what_changed_while_away() {
    let server = TestServer::memory().await;
    for id in ["kept", "edited", "gone"] {
        server.put(&format!("rooms/{id}"), json!({"id": id})).await;
    }
    let mut c = server.connect().await;
    c.send(json!({"type":"subscribe","id":1,"path":"rooms"})).await;
    let since = c.recv().await["version"].as_u64().unwrap();
    drop(c);
    server.put("rooms/edited", json!({"id":"edited","n":2})).await;
    reqwest::Client::new().delete(server.http("/v1/docs/rooms/gone")).send().await.unwrap();
    server.put("rooms/new", json!({"id":"new"})).await;

    let mut c = server.connect().await;
    c.send(json!({"type":"subscribe","id":1,"path":"rooms","since":since})).await;
    let delta = c.recv().await;
    assert_eq!(delta["type"], "changes");
    let changes: Vec<_> = delta["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["type"].as_str().unwrap().to_owned(), c["id"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        changes,
        [("modified".into(), "edited".into()), ("removed".into(), "gone".into()), ("added".into(), "new".into())]
    );
    let version = delta["version"].as_u64().unwrap();
    c.send(json!({"type":"subscribe","id":2,"path":"rooms","since":version})).await;
    assert_eq!(c.recv().await, json!({"type":"unchanged","id":2,"version":version}));
}

#[tokio::test]
async fn resuming_a_document_deleted_while_away_reports_it_gone() {
    let server = TestServer::memory().await;
    let (_, body) = server.put("c/d", json!({"n":1})).await;
    reqwest::Client::new().delete(server.http("/v1/docs/c/d")).send().await.unwrap();
    let mut c = server.connect().await;
    c.send(json!({"type":"subscribe","id":1,"path":"c/d","since":body["version"]})).await;
    let snapshot = c.recv().await;
    assert_eq!((snapshot["type"].as_str(), snapshot["exists"].as_bool()), (Some("snapshot"), Some(false)));
    assert!(snapshot["version"].as_u64() > body["version"].as_u64());
}

#[tokio::test]
async fn a_since_from_another_database_gets_the_full_state() {
    let server = TestServer::memory().await;
    server.put("c/d", json!({"n":1})).await;
    let mut c = server.connect().await;
    c.send(json!({"type":"subscribe","id":1,"path":"c/d","since":1000})).await;
    assert_eq!(c.recv().await["data"], json!({"n":1}));
    c.send(json!({"type":"subscribe","id":2,"path":"c","since":1000})).await;
    assert_eq!(c.recv().await["type"], "collection");
}

#[tokio::test]
async fn subscriptions_past_the_limit_get_resource_exhausted_and_the_rest_keep_working() {
    let server = TestServer::start(Config { max_subscriptions: 2, ..Config::in_memory() }).await;
    let mut c = server.connect().await;
    for id in 1..=3 {
        c.send(json!({"type":"subscribe","id":id,"path":format!("c/d{id}")})).await;
    }
    assert_eq!(c.recv().await["type"], "snapshot");
    assert_eq!(c.recv().await["type"], "snapshot");
    let error = c.recv().await;
    assert_eq!((error["code"].as_str(), error["id"].as_u64()), (Some("resource-exhausted"), Some(3)));
    c.send(json!({"type":"unsubscribe","id":1})).await;
    c.send(json!({"type":"subscribe","id":3,"path":"c/d3"})).await;
    assert_eq!(c.recv().await["type"], "snapshot", "a freed slot can be used again");
}

#[tokio::test]
async fn connections_past_the_limit_are_refused_with_503() {
    let server = TestServer::start(Config { max_connections: 1, ..Config::in_memory() }).await;
    let first = server.connect().await;
    let mut request = format!("ws://{}/v1/ws", server.addr).into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "livepath.v1".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await.unwrap_err() {
        tokio_tungstenite::tungstenite::Error::Http(response) => assert_eq!(response.status(), 503),
        other => panic!("expected 503, got {other}"),
    }
    drop(first);
}

#[tokio::test]
async fn a_document_over_the_size_limit_is_refused_and_nothing_is_written() {
    let server = TestServer::start(Config { max_document_bytes: 100, ..Config::in_memory() }).await;
    let mut c = server.connect().await;
    c.send(json!({"type":"set","req":1,"path":"c/d","data":{"s":"x".repeat(200)}})).await;
    let error = c.recv().await;
    assert_eq!((error["code"].as_str(), error["req"].as_u64()), (Some("invalid-argument"), Some(1)));
    assert!(error["message"].as_str().unwrap().contains("limit is 100"));
    assert_eq!(server.get("c/d").await.0, 404);
}

#[tokio::test]
async fn an_idle_link_gets_heartbeats_and_a_silent_client_is_dropped() {
    let server = TestServer::start(Config { heartbeat_ms: 100, ..Config::in_memory() }).await;
    let mut c = server.connect().await;
    let mut saw_ping = false;
    for _ in 0..5 {
        if let Message::Text(text) = c.next_message().await {
            saw_ping |= serde_json::from_str::<serde_json::Value>(&text).unwrap()["type"] == "ping";
            if saw_ping {
                break;
            }
        }
    }
    assert!(saw_ping, "a {{\"type\":\"ping\"}} arrives after a heartbeat without other frames");
    // Stop reading (so no Pong answers the server's Pings) and send nothing: after two heartbeats the
    // server closes it (with 4408, which this client cannot read: it fails answering a queued Ping).
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let text = reqwest::get(server.http("/metrics")).await.unwrap().text().await.unwrap();
        if text.contains("livepath_connections 0") {
            drop(c);
            return;
        }
    }
    panic!("the silent connection was not closed");
}

#[tokio::test]
async fn metrics_count_connections_subscriptions_frames_and_writes() {
    let server = TestServer::memory().await;
    let mut c = server.connect().await;
    c.send(json!({"type":"subscribe","id":1,"path":"c/d"})).await;
    c.recv().await;
    c.send(json!({"type":"set","req":1,"path":"c/d","data":{}})).await;
    c.recv().await;
    c.recv().await;
    // One commit of two documents: two writes, one commit.
    let two = json!([{"op":"set","path":"c/d","data":{"n":1}},{"op":"set","path":"c/e","data":{}}]);
    c.send(json!({"type":"commit","req":2,"writes":two})).await;
    c.recv().await;
    c.recv().await;
    let text = reqwest::get(server.http("/metrics")).await.unwrap().text().await.unwrap();
    let value = |name: &str| -> u64 {
        text.lines().find_map(|l| l.strip_prefix(&format!("livepath_{name} "))).unwrap().parse().unwrap()
    };
    assert_eq!(value("connections"), 1);
    assert_eq!(value("connections_total"), 1);
    assert_eq!(value("subscriptions"), 1);
    assert_eq!(value("writes_total"), 3);
    assert_eq!(value("commits_total"), 2);
    assert_eq!(value("frames_in_total"), 3);
    assert!(value("frames_out_total") >= 5, "welcome, snapshot, snapshot, ack, snapshot, ack");
    drop(c);
    for _ in 0..100 {
        let text = reqwest::get(server.http("/metrics")).await.unwrap().text().await.unwrap();
        if text.contains("livepath_subscriptions 0") && text.contains("livepath_connections 0") {
            assert!(text.contains("livepath_connections_total 1"), "a connection that left still counts");
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("subscriptions and connections return to 0 after the client leaves");
}

#[tokio::test]
async fn the_drop_connections_fault_cuts_sockets_without_a_close_frame() {
    let server = TestServer::start(Config { fault_injection: true, ..Config::in_memory() }).await;
    let mut c = server.connect().await;
    let response = reqwest::Client::new().post(server.http("/v1/_faults/drop-connections")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let end = tokio::time::timeout(common::WAIT, async {
        loop {
            match futures_util::StreamExt::next(&mut c.ws).await {
                Some(Ok(Message::Close(_))) => return "close frame",
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return "cut",
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(end, "cut");
    let mut again = server.connect().await;
    assert!(again.sync().await.is_empty(), "new connections work after the fault");
}

#[tokio::test]
async fn fault_injection_is_absent_by_default_and_refused_off_loopback() {
    let server = TestServer::memory().await;
    let response = reqwest::Client::new().post(server.http("/v1/_faults/drop-connections")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let config = Config { fault_injection: true, ..Config::in_memory() };
    let error = TestServer::start_error("0.0.0.0", config).await;
    assert!(error.contains("loopback"), "{error}");
}

#[tokio::test]
async fn writes_past_the_rate_limit_get_resource_exhausted_and_the_connection_carries_on() {
    let server = TestServer::start(Config { max_writes_per_second: 5, ..Config::in_memory() }).await;
    let mut c = server.connect().await;
    let mut other = server.connect().await;
    for req in 0..8 {
        c.send(json!({"type":"set","req":req,"path":format!("c/d{req}"),"data":{}})).await;
    }
    let mut answers = Vec::new();
    for _ in 0..8 {
        let frame = c.recv().await;
        answers.push(frame["code"].as_str().unwrap_or(frame["type"].as_str().unwrap()).to_owned());
    }
    assert_eq!(answers.iter().filter(|a| *a == "ack").count(), 5, "{answers:?}");
    assert_eq!(answers.iter().filter(|a| *a == "resource-exhausted").count(), 3, "{answers:?}");
    other.send(json!({"type":"set","req":1,"path":"c/other","data":{}})).await;
    assert_eq!(other.recv().await["type"], "ack", "another connection has its own budget");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    c.send(json!({"type":"set","req":9,"path":"c/later","data":{}})).await;
    assert_eq!(c.recv().await["type"], "ack", "the bucket refills");
}

#[tokio::test]
async fn connections_past_the_per_address_limit_get_429_and_other_addresses_do_not_care() {
    let server = TestServer::start(Config { max_connections_per_ip: 1, ..Config::in_memory() }).await;
    let from = |ip: &'static str| {
        let addr = server.addr;
        async move {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(format!("{ip}:0").parse().unwrap()).unwrap();
            let stream = socket.connect(addr).await.unwrap();
            let mut request = format!("ws://{addr}/v1/ws").into_client_request().unwrap();
            request.headers_mut().insert("sec-websocket-protocol", "livepath.v1".parse().unwrap());
            tokio_tungstenite::client_async(request, stream).await
        }
    };
    let _first = from("127.0.0.1").await.unwrap();
    match from("127.0.0.1").await.unwrap_err() {
        tokio_tungstenite::tungstenite::Error::Http(response) => assert_eq!(response.status(), 429),
        other => panic!("expected 429, got {other}"),
    }
    assert!(from("127.0.0.2").await.is_ok());
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_per_address_limit_counts_the_forwarded_client_and_elsewhere_ignores_the_header() {
    async fn forwarded_for(server: &TestServer, client: &str) -> Result<(), u16> {
        let mut request = format!("ws://{}/v1/ws", server.addr).into_client_request().unwrap();
        request.headers_mut().insert("sec-websocket-protocol", "livepath.v1".parse().unwrap());
        request.headers_mut().insert("x-forwarded-for", client.parse().unwrap());
        match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => {
                std::mem::forget(ws); // held open for the rest of the test
                Ok(())
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
            Err(other) => panic!("expected an upgrade or an HTTP error, got {other}"),
        }
    }
    let proxy = "127.0.0.1".parse().unwrap();
    let behind =
        TestServer::start(Config { max_connections_per_ip: 1, trusted_proxies: vec![proxy], ..Config::in_memory() })
            .await;
    assert_eq!(forwarded_for(&behind, "203.0.113.1").await, Ok(()));
    assert_eq!(forwarded_for(&behind, "203.0.113.2").await, Ok(()), "another client behind the same proxy");
    assert_eq!(forwarded_for(&behind, "203.0.113.1").await, Err(429), "the first client's second connection");
    // A forged front of the header gains nothing: the proxy's own entry, on the right, is the client.
    assert_eq!(forwarded_for(&behind, "198.51.100.7, 203.0.113.2").await, Err(429));

    let direct = TestServer::start(Config { max_connections_per_ip: 1, ..Config::in_memory() }).await;
    assert_eq!(forwarded_for(&direct, "203.0.113.1").await, Ok(()));
    assert_eq!(forwarded_for(&direct, "203.0.113.2").await, Err(429), "without --trust-proxy the header is ignored");
}

#[tokio::test]
async fn a_resume_from_before_the_tombstone_horizon_gets_the_full_state_never_a_delta_without_the_delete() {
    let config = Config { tombstone_retention: std::time::Duration::from_secs(1), ..Config::in_memory() };
    let server = TestServer::start(config).await;
    server.put("c/kept", json!({"n":1})).await;
    let (_, old) = server.put("c/old", json!({"n":1})).await;
    let since = old["version"].as_u64().unwrap();
    let response = reqwest::Client::new().delete(server.http("/v1/docs/c/old")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    // Past the retention, the next write removes the tombstone.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (_, later) = server.put("c/later", json!({"n":2})).await;
    let mut c = server.connect().await;
    c.send(json!({"type":"subscribe","id":1,"path":"c","since":since})).await;
    let listing = c.recv().await;
    assert_eq!(listing["type"], "collection", "a full listing, not changes: {listing}");
    let ids: Vec<_> = listing["docs"].as_array().unwrap().iter().map(|d| d["id"].clone()).collect();
    assert_eq!(ids, [json!("kept"), json!("later")], "without the deleted document");
    c.send(json!({"type":"subscribe","id":2,"path":"c/old","since":since})).await;
    let snapshot = c.recv().await;
    assert_eq!((snapshot["type"].clone(), snapshot["exists"].clone()), (json!("snapshot"), json!(false)));
    // From the horizon on, resuming still costs only what changed.
    let horizon = since + 1;
    c.send(json!({"type":"subscribe","id":3,"path":"c","since":horizon})).await;
    let changes = c.recv().await;
    assert_eq!(changes["type"], "changes", "{changes}");
    assert_eq!(changes["version"], later["version"]);
}
