//! [`Socket`]: a browser WebSocket and the closures it calls, released together.

use wasm_bindgen::{JsValue, closure::Closure};

use livepath_protocol::SUBPROTOCOL;

use super::snippet::{close_socket, livepath_error_shape, open_socket, send_text};

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
    ws: JsValue,
    /// The handler of its events, kept alive as long as the socket may call it.
    _handler: Closure<dyn FnMut(JsValue)>,
}

impl Socket {
    /// Opens a socket to `url` (a JS string, or `undefined` for none) with the livepath subprotocol,
    /// made by `web_socket` (a WebSocket class, or `undefined` for the global one); `on_event`
    /// receives its events. When none can be made (no URL, no WebSocket class, a URL the constructor
    /// refuses), an `invalid-argument` `LivepathError` saying why.
    pub fn open(
        url: &JsValue,
        web_socket: &JsValue,
        on_event: impl Fn(SocketEvent) + 'static,
    ) -> Result<Self, JsValue> {
        let handler = Closure::wrap(Box::new(move |event: JsValue| {
            on_event(match event.as_bool() {
                Some(true) => SocketEvent::Open,
                Some(false) => SocketEvent::Closed,
                None => SocketEvent::Text(event),
            })
        }) as Box<dyn FnMut(JsValue)>);
        let ws = open_socket(url, SUBPROTOCOL, handler.as_ref(), web_socket);
        if livepath_error_shape(&ws) { Err(ws) } else { Ok(Self { ws, _handler: handler }) }
    }

    /// Sends a text frame if the socket is open (else the close event that follows makes the client
    /// resend what matters).
    pub fn send(&self, text: &JsValue) {
        send_text(&self.ws, text);
    }

    /// The browser's socket, for `stats()`.
    pub fn js(&self) -> &JsValue {
        &self.ws
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        close_socket(&self.ws);
    }
}
