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
//! - [`client`]: [`Client`], which drives the core with the shell; the Rust API and the JS class.
//! - `js`: the JavaScript free functions (`connect`, `init`, `onSnapshot`, `isLivepathError`) and the
//!   TypeScript types.
//!
//! - `allocator`: the wasm module's memory allocator (feature `allocator`, on by default).
//!
//! The wire protocol is the `livepath-protocol` crate, shared with the server.

#[cfg(all(target_arch = "wasm32", feature = "allocator"))]
mod allocator;
pub mod browser;
pub mod client;
pub mod core;
mod js;

pub use client::{Client, ClientOptions, Error, Subscription, Token};
pub use js::{connect, init, is_livepath_error, on_snapshot};

/// A document's data in the browser: the object `JSON.parse` produced, serialized back as it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Data(pub wasm_bindgen::JsValue);

impl core::Merge for Data {
    /// `{ ...self, ...fields }`, as a new object: snapshots already handed out never change.
    fn merged(&self, fields: &Self) -> Self {
        Data(browser::snippet::merged(&self.0, &fields.0))
    }
}

impl serde::Serialize for Data {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde_wasm_bindgen::preserve::serialize(&self.0, serializer)
    }
}
