//! The browser shell: performs what [`crate::core::Core`] decides, with web-sys and JavaScript.
//!
//! Every browser resource here is owned by a Rust value whose `Drop` releases it: the WebSocket and
//! its handler closures ([`socket::Socket`]), the timers (`gloo_timers::callback::Timeout`), the
//! microtask callback (owned by the client). There is no `Closure::forget`.

pub mod convert;
pub mod decode;
pub mod snippet;
pub mod socket;
pub mod wake;
