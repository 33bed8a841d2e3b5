//! `cache.rs` in a build without the `persistence` feature: no cache can be opened, so none of the
//! IndexedDB code (Rust or JS) is in the module. `persistence: "indexeddb"` is refused by `connect()`.

use wasm_bindgen::JsValue;

use super::driver::{Shared, resolved};
use crate::{Data, core::Action};

/// No cache is ever open.
pub(super) enum Cache {}

/// Persistence cannot be asked for in this build.
pub(super) const COMPILED: bool = false;

pub(super) fn open(_: &Shared, _: &str, _: f64) -> Option<Cache> {
    None
}

pub(super) fn perform(_: &Shared, _: Action<Data>) {}

pub(super) fn clear(_: &Shared) -> JsValue {
    resolved()
}

pub(super) fn stats(_: Option<&Cache>) -> JsValue {
    JsValue::UNDEFINED
}
