//! A real server on port 0 and a real WebSocket client, for the integration tests.
#![allow(dead_code, missing_docs)]

use std::{net::SocketAddr, time::Duration};

use futures_util::{SinkExt, StreamExt};
use livepath_server::Config;
use serde_json::Value;
use tokio::{net::TcpStream, sync::oneshot, task::JoinHandle};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

pub const WAIT: Duration = Duration::from_secs(5);

/// The `livepath-server` binary with `args` (for tests that kill it or measure its memory).
pub fn spawn_server(args: &[&str]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_livepath-server"))
        .args(args)
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("livepath-server starts")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A WebSocket to a server on `port`, retrying for 10 s while it starts.
pub async fn connect_port(port: u16) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut request = format!("ws://127.0.0.1:{port}/v1/ws").into_client_request().unwrap();
        request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("livepath.v1"));
        match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => return ws,
            Err(e) if std::time::Instant::now() > deadline => panic!("the server did not come up: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    pub async fn start(config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            livepath_server::run(listener, config, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Self { addr, stop: Some(stop), task: Some(task) }
    }

    pub async fn memory() -> Self {
        Self::start(Config::in_memory()).await
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Asks for a graceful shutdown and waits until `run` has returned.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(WAIT, self.task.take().unwrap()).await.expect("run returns after shutdown").unwrap();
    }

    pub async fn connect(&self) -> Client {
        let mut request = format!("ws://{}/v1/ws", self.addr).into_client_request().unwrap();
        request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("livepath.v1"));
        let (ws, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(response.headers()["sec-websocket-protocol"], "livepath.v1");
        let mut client = Client { ws };
        assert_eq!(client.recv().await["type"], "welcome");
        client
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        let response = reqwest::Client::new().put(self.http(&format!("/v1/docs/{path}"))).json(&body).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = reqwest::get(self.http(&format!("/v1/docs/{path}"))).await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub async fn send(&mut self, message: Value) {
        self.ws.send(Message::Text(message.to_string().into())).await.unwrap();
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.ws.send(message).await.unwrap();
    }

    /// The next JSON frame, skipping heartbeats.
    pub async fn recv(&mut self) -> Value {
        loop {
            match self.next_message().await {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text).unwrap();
                    if value["type"] != "ping" {
                        return value;
                    }
                }
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    pub async fn next_message(&mut self) -> Message {
        tokio::time::timeout(WAIT, self.ws.next()).await.expect("a frame within 5 s").expect("the socket is open").unwrap()
    }

    /// The close frame's code, skipping anything before it.
    pub async fn close_code(&mut self) -> u16 {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await.expect("a close within 5 s") {
                Some(Ok(Message::Close(Some(frame)))) => return frame.code.into(),
                Some(Ok(Message::Close(None))) | None => panic!("closed without a code"),
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("read error before the close frame: {e}"),
            }
        }
    }

    /// Round trip: everything the server queued before this is received.
    pub async fn sync(&mut self) -> Vec<Value> {
        self.send(serde_json::json!({"type": "ping"})).await;
        let mut before = Vec::new();
        loop {
            let frame = self.recv().await;
            if frame["type"] == "pong" {
                return before;
            }
            before.push(frame);
        }
    }
}
