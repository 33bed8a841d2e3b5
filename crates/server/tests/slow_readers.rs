//! Slow readers: two thousand connections that never read while a writer writes. The server's memory
//! stays bounded (each keeps at most its latest snapshot waiting), and a reader that resumes reading
//! gets the latest state.
#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use common::ServerProcess;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("a VmRSS line");
    line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).expect("VmRSS in KiB")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_readers_that_never_read_cost_bounded_memory_and_catch_up_to_the_latest() {
    const READERS: usize = 2000;
    const WRITES: usize = 100;
    let server = ServerProcess::spawn(&["--memory"]).await;
    let connect = || server.connect();
    let mut readers = Vec::with_capacity(READERS);
    for _ in 0..READERS / 100 {
        let batch = futures_util::future::join_all((0..100).map(|_| async {
            let mut ws = connect().await;
            ws.send(Message::Text(json!({"type":"subscribe","id":1,"path":"hot/doc"}).to_string().into()))
                .await
                .unwrap();
            ws
        }));
        readers.extend(batch.await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib(server.pid());

    let mut writer = connect().await;
    let padding = "x".repeat(4096);
    for n in 0..WRITES {
        let frame = json!({"type":"set","req":n,"path":"hot/doc","data":{"n":n,"padding":padding}});
        writer.send(Message::Text(frame.to_string().into())).await.unwrap();
    }
    let mut acks = 0;
    while acks < WRITES {
        let Some(Ok(Message::Text(text))) = writer.next().await else { panic!("writer socket ended") };
        acks += usize::from(serde_json::from_str::<Value>(&text).unwrap()["type"] == "ack");
    }
    let after = rss_kib(server.pid());
    // Without coalescing the waiting snapshots alone would be READERS × WRITES × 4 KiB ≈ 800 MiB.
    let growth_mib = after.saturating_sub(before) / 1024;
    println!("server RSS {before} KiB → {after} KiB with {READERS} stalled readers");
    assert!(growth_mib < 100, "server memory grew by {growth_mib} MiB");

    let mut reader = readers.pop().unwrap();
    let last = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let Some(Ok(Message::Text(text))) = reader.next().await else { panic!("reader socket ended") };
            let frame: Value = serde_json::from_str(&text).unwrap();
            if frame["type"] == "snapshot" && frame["data"]["n"] == WRITES - 1 {
                return frame;
            }
        }
    })
    .await
    .expect("the resumed reader reaches the latest state");
    assert_eq!(last["data"]["n"], WRITES - 1);
    server.kill();
}
