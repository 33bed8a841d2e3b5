//! The one way the integration tests start a real server, and a real WebSocket client: [`TestServer`] runs
//! the library in-process on port 0, [`ServerProcess`] the binary (for tests that kill it or measure it).
#![allow(dead_code, missing_docs, clippy::unwrap_used)]

use std::{net::SocketAddr, time::Duration};

use futures_util::{SinkExt, StreamExt};
use livepath_server::Config;
use serde_json::Value;
use tokio::{net::TcpStream, sync::oneshot, task::JoinHandle};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

pub mod pg;

pub const WAIT: Duration = Duration::from_secs(5);

/// The `livepath-server` binary, for tests that kill it or measure its memory: started on a loopback
/// port, and only returned once it answers `/healthz`. Killed (SIGKILL) when dropped.
pub struct ServerProcess {
    pub port: u16,
    child: std::process::Child,
}

impl ServerProcess {
    /// Starts the binary with `args` (`--listen` is added) on a free port.
    pub async fn spawn(args: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Self::spawn_on(port, args).await
    }

    /// Starts the binary with `args` on `port` (to restart a server where its clients expect it).
    pub async fn spawn_on(port: u16, args: &[&str]) -> Self {
        let listen = format!("127.0.0.1:{port}");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_livepath-server"))
            .args(args)
            .args(["--listen", &listen])
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("livepath-server starts");
        let mut server = Self { port, child };
        server.wait_until_it_answers().await;
        server
    }

    async fn wait_until_it_answers(&mut self) {
        let url = format!("http://127.0.0.1:{}/healthz", self.port);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("livepath-server exited before answering: {status}");
            }
            match reqwest::get(&url).await {
                Ok(response) if response.status().is_success() => return,
                _ if std::time::Instant::now() > deadline => panic!("livepath-server did not answer {url} in 10 s"),
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A WebSocket to the server (its `welcome` is the first frame to read).
    pub async fn connect(&self) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
        let mut request = format!("ws://127.0.0.1:{}/v1/ws", self.port).into_client_request().unwrap();
        request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("livepath.v1"));
        tokio_tungstenite::connect_async(request).await.expect("a WebSocket to the server").0
    }

    /// `kill -9`, and waits for the process to end.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tiny deterministic generator (xorshift), so that a failing seed can be replayed.
pub struct Rng(pub u64);

impl Rng {
    /// A generator from any seed (0 included), spread so that nearby seeds start far apart.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// Uniform-ish in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
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

    /// The error `run` stops with when started with `config` on `ip`, port 0 (for flags it refuses).
    pub async fn start_error(ip: &str, config: Config) -> String {
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        livepath_server::run(listener, config, async {}).await.expect_err("the server refuses to start").to_string()
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
        self.connect_welcomed().await.0
    }

    /// A connection, and the `welcome` it began with.
    pub async fn connect_welcomed(&self) -> (Client, Value) {
        let mut request = format!("ws://{}/v1/ws", self.addr).into_client_request().unwrap();
        request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("livepath.v1"));
        let (ws, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(response.headers()["sec-websocket-protocol"], "livepath.v1");
        let mut client = Client { ws };
        let welcome = client.recv().await;
        assert_eq!(welcome["type"], "welcome");
        (client, welcome)
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        let response =
            reqwest::Client::new().put(self.http(&format!("/v1/docs/{path}"))).json(&body).send().await.unwrap();
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
        tokio::time::timeout(WAIT, self.ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("the socket is open")
            .unwrap()
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
