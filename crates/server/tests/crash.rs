//! Crash durability: acknowledged writes survive `kill -9` of the server at random moments, and
//! versions only grow across restarts. 20 cycles on one data directory.
//!
//! (A killed process keeps what it handed the kernel; this proves no acknowledged write lives only in
//! the server's memory. Power loss is what `synchronous = FULL` is for, and is not simulated here.)

mod common;

use std::{
    collections::BTreeMap,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use common::ServerProcess;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// A small deterministic PRNG, seeded from the clock and printed, so a failure can be replayed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9_and_versions_only_grow() {
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    println!("crash test seed: {seed}");
    let mut random = XorShift(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut acked: BTreeMap<String, u64> = BTreeMap::new();
    let mut highest = 0;
    let mut req = 0u64;
    let mut port = None;

    for cycle in 0..20 {
        let args = ["--data-dir", dir.path().to_str().unwrap()];
        let server = match port {
            None => ServerProcess::spawn(&args).await,
            Some(port) => ServerProcess::spawn_on(port, &args).await, // where the last one was
        };
        port = Some(server.port);
        let mut ws = server.connect().await;
        // Everything acknowledged before any crash is there, with its version (one listing of `crash`).
        ws.send(Message::Text(json!({"type":"subscribe","id":0,"path":"crash"}).to_string().into())).await.unwrap();
        let listing = loop {
            let Some(Ok(Message::Text(text))) = ws.next().await else { panic!("cycle {cycle}: socket ended") };
            let frame: Value = serde_json::from_str(&text).unwrap();
            if frame["type"] == "collection" {
                break frame;
            }
        };
        let stored: BTreeMap<String, u64> = listing["docs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (format!("crash/{}", d["id"].as_str().unwrap()), d["version"].as_u64().unwrap()))
            .collect();
        for (path, version) in &acked {
            assert_eq!(stored.get(path), Some(version), "cycle {cycle}: {path} (seed {seed})");
        }
        ws.send(Message::Text(json!({"type":"unsubscribe","id":0}).to_string().into())).await.unwrap();
        // Write as fast as acks come back, and kill the server at a random moment once this cycle has
        // had at least one write acknowledged (on a loaded machine the first acks can take a while).
        let kill_after = Duration::from_millis(5 + random.next() % 60);
        let mut started = Instant::now();
        let before = acked.len();
        let give_up = Instant::now() + Duration::from_secs(20);
        let mut in_flight: BTreeMap<u64, String> = BTreeMap::new();
        while started.elapsed() < kill_after || acked.len() == before {
            assert!(Instant::now() < give_up, "cycle {cycle}: no write acknowledged in 20 s");
            if acked.len() == before {
                started = Instant::now();
            }
            for _ in 0..4 {
                let path = format!("crash/w{req}");
                ws.send(Message::Text(
                    json!({"type":"set","req":req,"path":path,"data":{"cycle":cycle}}).to_string().into(),
                ))
                .await
                .unwrap();
                in_flight.insert(req, path);
                req += 1;
            }
            while let Ok(Some(Ok(Message::Text(text)))) =
                tokio::time::timeout(Duration::from_millis(2), ws.next()).await
            {
                let frame: Value = serde_json::from_str(&text).unwrap();
                if frame["type"] == "ack" {
                    let version = frame["version"].as_u64().unwrap();
                    assert!(version > highest, "cycle {cycle}: version {version} after {highest} (seed {seed})");
                    highest = version;
                    let path = in_flight.remove(&frame["req"].as_u64().unwrap()).unwrap();
                    acked.insert(path, version);
                }
            }
        }
        server.kill(); // SIGKILL
        drop(ws);
    }
    assert!(acked.len() >= 20, "every cycle acknowledged writes ({})", acked.len());
}
