//! The browser shell: performs what [`crate::core::Core`] decides, with web-sys and JavaScript.
//!
//! Every browser resource here is owned by a Rust value whose `Drop` releases it: the WebSocket and
//! its handler closure ([`socket::Socket`]), the IndexedDB database, its handler and the tab's lock
//! ([`indexed_db::IndexedDb`]), the shared tabs' channel, locks and leader's WebSocket
//! ([`tabs::SharedTabs`]), the `online`/visibility listeners ([`wake::WakeUps`]), the
//! timers (`gloo_timers::callback::Timeout`). Functions that JS may call at any time (an unsubscribe,
//! the microtask flush) are owned by the JS garbage collector ([`function::gc_function`]) and hold only
//! `Weak` references. There is no `Closure::forget`.

pub mod convert;
pub mod decode;
pub mod function;
#[cfg(feature = "persistence")]
pub mod indexed_db;
pub mod snippet;
pub mod socket;
pub mod tabs;
pub mod value;
pub mod wake;
