//! [`WakeUps`]: the page's `online` event and its becoming visible again, the moments to retry a lost
//! connection at once instead of waiting for the backoff.

use js_sys::Function;
use wasm_bindgen::{JsValue, closure::Closure};

use super::snippet::{report, wake_ups};

/// Calls its callback on `online` and when the page becomes visible, until dropped; then both DOM
/// listeners are removed. Where there is no page (a worker without `document`, Node), only what exists
/// is listened to.
#[must_use = "the listeners are removed when dropped"]
pub struct WakeUps {
    /// Removes both DOM listeners.
    remove: Function,
    /// The callback, alive as long as the browser may call it.
    _callback: Closure<dyn FnMut()>,
}

impl WakeUps {
    /// Listens; `callback` runs on each wake-up.
    pub fn new(callback: impl FnMut() + 'static) -> Self {
        let callback = Closure::wrap(Box::new(callback) as Box<dyn FnMut()>);
        Self { remove: wake_ups(callback.as_ref()), _callback: callback }
    }
}

impl Drop for WakeUps {
    fn drop(&mut self) {
        report(&self.remove, &JsValue::UNDEFINED);
    }
}
