//! [`EventListener`]: a DOM event listener that is removed when dropped.

use js_sys::Function;
use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use web_sys::EventTarget;

/// `target.addEventListener(kind, callback)` until dropped, then `removeEventListener`.
#[must_use = "the listener is removed when dropped"]
pub struct EventListener {
    /// What it listens on.
    target: EventTarget,
    /// The event type.
    kind: &'static str,
    /// The callback, alive as long as the browser may call it.
    callback: Closure<dyn FnMut(JsValue)>,
}

impl EventListener {
    /// Listens for `kind` on `target`; `None` if `target` is not an `EventTarget`.
    pub fn new(target: &JsValue, kind: &'static str, callback: impl FnMut(JsValue) + 'static) -> Option<Self> {
        let target = target.dyn_ref::<EventTarget>()?.clone();
        let callback = Closure::wrap(Box::new(callback) as Box<dyn FnMut(JsValue)>);
        target.add_event_listener_with_callback(kind, callback.as_ref().unchecked_ref::<Function>()).ok()?;
        Some(Self { target, kind, callback })
    }
}

impl Drop for EventListener {
    fn drop(&mut self) {
        let _ = self.target.remove_event_listener_with_callback(self.kind, self.callback.as_ref().unchecked_ref());
    }
}
