//! [`Socket`]: a browser WebSocket and the closures it calls, released together.

use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use web_sys::{MessageEvent, WebSocket};

use livepath_protocol::SUBPROTOCOL;

use super::snippet::{close_socket, send_text, set_handlers};

/// What the socket tells its owner.
pub enum SocketEvent {
    /// The upgrade succeeded.
    Open,
    /// A text frame arrived (a JS string, parsed where it is: no copy into the wasm).
    Text(JsValue),
    /// The socket closed (or failed to open).
    Closed,
}

/// An open or opening WebSocket with its handlers attached. Dropping it detaches the handlers and
/// closes the socket, so no event reaches its owner afterwards.
#[must_use = "the socket closes when dropped"]
pub struct Socket {
    /// The browser's socket.
    ws: WebSocket,
    /// `onopen`, `onmessage`, `onclose`: kept alive as long as the socket may call them.
    _handlers: [Closure<dyn FnMut(JsValue)>; 3],
}

impl Socket {
    /// Opens a socket to `url` with the livepath subprotocol; `on_event` receives its events.
    pub fn open(url: &str, on_event: impl Fn(SocketEvent) + Clone + 'static) -> Result<Self, JsValue> {
        let ws = WebSocket::new_with_str(url, SUBPROTOCOL)?;
        let handler = |f: Box<dyn FnMut(JsValue)>| Closure::wrap(f);
        let open = {
            let on_event = on_event.clone();
            handler(Box::new(move |_: JsValue| on_event(SocketEvent::Open)))
        };
        let message = {
            let on_event = on_event.clone();
            handler(Box::new(move |event: JsValue| {
                let text = event.unchecked_into::<MessageEvent>().data();
                if text.is_string() {
                    on_event(SocketEvent::Text(text));
                }
            }))
        };
        let close = handler(Box::new(move |_: JsValue| on_event(SocketEvent::Closed)));
        set_handlers(&ws, open.as_ref(), message.as_ref(), close.as_ref());
        Ok(Self { ws, _handlers: [open, message, close] })
    }

    /// Sends a text frame. Returns false if the socket is not open (the frame is not sent; the close
    /// event that follows makes the client resend what matters).
    pub fn send(&self, text: &JsValue) -> bool {
        self.ws.ready_state() == WebSocket::OPEN && send_text(&self.ws, text).is_ok()
    }

    /// The socket's state as `stats()` reports it.
    pub fn state(&self) -> &'static str {
        match self.ws.ready_state() {
            WebSocket::CONNECTING => "connecting",
            WebSocket::OPEN => "open",
            _ => "closing",
        }
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        close_socket(&self.ws);
    }
}
