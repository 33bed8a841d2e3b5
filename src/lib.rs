//! livepath: real-time documents for the browser. Subscribe to a path, get its current value at once
//! and every change after, over one WebSocket, and never leak a listener.
//!
//! ```ignore
//! let client = livepath::Client::new(livepath::ClientOptions::default());
//! let subscription = client.on_snapshot("rooms/r1", |snapshot| web_sys::console::log_1(snapshot))?;
//! // ...
//! drop(subscription); // the listener is gone; the socket closes after the linger
//! ```
//!
//! # Layout
//! - [`core`]: the sans-IO state machine: listeners, shared subscriptions, reconnect with backoff,
//!   resume, pending writes, collection views. Plain Rust, unit-tested natively.
//! - `browser`: the thin shell: the WebSocket ([`browser::socket::Socket`]), frame decoding, and
//!   conversions to JavaScript values.
//! - [`client`]: [`Client`], the Rust API; its driver performs what the core decides, and its link
//!   holds the socket and the token.
//! - `js`: the whole JavaScript API: the free functions (`connect`, `init`, `onSnapshot`,
//!   `isLivepathError`), the `Client` class's methods and the TypeScript types.
//! - `data`: [`Data`], a document's data as a JS object, and the checks a write's data must pass.
//! - `query`: [`Query`], a live query as Rust builds it (`Query::new(path).filter(…).order_by(…)
//!   .limit(…)`) and as the JS `Query` object is read; the rules are `livepath_protocol::query`'s.
//!
//! - `allocator`: the wasm module's memory allocator (feature `allocator`, on by default).
//!
//! The wire protocol is the `livepath-protocol` crate, shared with the server.

#[cfg(all(target_arch = "wasm32", feature = "allocator"))]
mod allocator;
pub mod browser;
pub mod client;
pub mod core;
mod data;
mod js;
mod query;

pub use client::{Client, ClientOptions, Error, Subscription, Tabs, Token};
pub use data::Data;
pub use js::{connect, init, is_livepath_error, on_snapshot};
pub use livepath_protocol::query::{Direction, Op, Value};
pub use query::Query;
