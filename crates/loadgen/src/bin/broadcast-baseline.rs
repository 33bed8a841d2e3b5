//! `broadcast-baseline`: the least a fan-out server can do, as the practical limit livepath's server
//! is measured against. tokio-tungstenite, one task per connection, one `tokio::sync::broadcast`
//! channel per path. It speaks just the part of the livepath protocol the load generator uses
//! (`subscribe`, `set`): no store, no versions, no access checks, and each broadcast frame is encoded
//! once for every subscriber (the load generator always subscribes with id 1).

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use livepath_protocol::{ClientMessage, SUBPROTOCOL, ServerMessage};
use serde_json::Value;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::{
    Message, Utf8Bytes,
    handshake::server::{ErrorResponse, Request, Response},
    http::HeaderValue,
    protocol::WebSocketConfig,
};

/// A minimal broadcast server for the fan-out baseline.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7071")]
    listen: SocketAddr,
}

/// One broadcast channel per path.
type Channels = Arc<Mutex<HashMap<String, broadcast::Sender<Utf8Bytes>>>>;

fn channel(channels: &Channels, path: &str) -> broadcast::Sender<Utf8Bytes> {
    let mut channels = channels.lock().unwrap_or_else(|p| p.into_inner());
    channels.entry(path.to_owned()).or_insert_with(|| broadcast::channel(64).0).clone()
}

fn encode<D: serde::Serialize>(message: &ServerMessage<D>) -> Utf8Bytes {
    serde_json::to_string(message).unwrap_or_default().into()
}

/// Answers the handshake with the livepath subprotocol (clients insist on it).
#[allow(clippy::result_large_err)] // the error type is tungstenite's, and unused here
fn choose_subprotocol(_: &Request, mut response: Response) -> Result<Response, ErrorResponse> {
    response.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static(SUBPROTOCOL));
    Ok(response)
}

async fn serve(stream: tokio::net::TcpStream, channels: Channels) {
    let _ = stream.set_nodelay(true);
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(4096);
    let Ok(mut socket) =
        tokio_tungstenite::accept_hdr_async_with_config(stream, choose_subprotocol, Some(config)).await
    else {
        return;
    };
    let mut updates: Option<broadcast::Receiver<Utf8Bytes>> = None;
    loop {
        let frame = tokio::select! {
            message = socket.next() => match message {
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<ClientMessage<Value>>(&text) {
                    Ok(ClientMessage::Subscribe { id, path, .. }) => {
                        updates = Some(channel(&channels, &path).subscribe());
                        encode(&ServerMessage::<()>::Snapshot { id, path, version: 0, exists: false, data: None })
                    }
                    Ok(ClientMessage::Set { req, path, data, .. }) => {
                        let snapshot = ServerMessage::Snapshot { id: 1, path: path.clone(), version: req, exists: true, data: Some(data) };
                        let _ = channel(&channels, &path).send(encode(&snapshot));
                        encode(&ServerMessage::<()>::Ack { req, version: req })
                    }
                    _ => continue,
                },
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => continue,
            },
            update = async { updates.as_mut()?.recv().await.ok() }, if updates.is_some() => match update {
                Some(frame) => frame,
                None => continue, // lagged: skip to the newest, as livepath's outbox does
            },
        };
        if socket.send(Message::Text(frame)).await.is_err() {
            return;
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    eprintln!("broadcast-baseline listening on {}", listener.local_addr()?);
    let channels = Channels::default();
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(serve(stream, channels.clone()));
    }
}
