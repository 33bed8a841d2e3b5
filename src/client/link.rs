//! The link to the server: the socket of the moment, which socket that is (a generation, so a late
//! answer reaches only the socket that asked), and the token its `hello` carries, which a token
//! function may give only later, through a promise. It knows nothing of the core: the driver reacts to
//! the events and answers.

use wasm_bindgen::{JsValue, closure::Closure};

use super::Token;
use crate::browser::{
    snippet::report,
    socket::{Socket, SocketEvent},
    tabs,
};

/// The socket, while one is open or opening, and what its `hello` needs.
pub(super) struct Link {
    /// Where sockets connect: a JS string, or `undefined` for `/v1/ws` on the page's own origin.
    url: JsValue,
    /// The WebSocket class sockets are made with; `undefined`: the global one.
    web_socket: JsValue,
    /// The current socket.
    socket: Option<Socket>,
    /// Bumped for every socket.
    generation: u64,
    /// Where `hello` tokens come from.
    token: Option<Token>,
    /// The wait for a token promise, if one is pending.
    token_wait: Option<TokenWait>,
}

/// A pending token promise: the callback it answers, and the function that stops it from answering.
/// Dropping it cancels first, so a promise that settles later never calls a dropped closure.
struct TokenWait {
    _answer: Closure<dyn FnMut(JsValue)>,
    cancel: JsValue,
}

impl Drop for TokenWait {
    fn drop(&mut self) {
        report(&self.cancel, &JsValue::UNDEFINED);
    }
}

impl Link {
    pub(super) fn new(url: JsValue, web_socket: JsValue, token: Option<Token>) -> Self {
        Self { url, web_socket, socket: None, generation: 0, token, token_wait: None }
    }

    /// Opens a new socket whose events go to `on_event`; when none can be made, the `LivepathError`
    /// saying why (see [`Socket::open`]).
    pub(super) fn open(&mut self, on_event: impl Fn(SocketEvent) + 'static) -> Result<(), JsValue> {
        self.generation += 1;
        self.socket = Some(Socket::open(&self.url, &self.web_socket, on_event)?);
        Ok(())
    }

    /// Forgets the socket and any token being waited for; the caller drops the socket (closing it)
    /// once it holds no borrow.
    pub(super) fn take(&mut self) -> Option<Socket> {
        self.token_wait = None;
        self.socket.take()
    }

    /// Whether the socket of `generation` is still the current one.
    pub(super) fn is_current(&self, generation: u64) -> bool {
        self.generation == generation && self.socket.is_some()
    }

    /// The generation of the current socket.
    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// Sends a text frame on the socket, if one is open.
    pub(super) fn send(&self, text: &JsValue) {
        if let Some(socket) = &self.socket {
            socket.send(text);
        }
    }

    /// Tells the other tabs sharing the socket of a write (its frame as JSON text) that is not sent
    /// yet; nothing where the socket is not the shared tabs' one.
    pub(super) fn tell(&self, text: &JsValue) {
        if let Some(socket) = &self.socket {
            tabs::tell(socket.js(), text);
        }
    }

    /// The browser's socket, or `undefined` (for `stats()`).
    pub(super) fn socket_js(&self) -> JsValue {
        self.socket.as_ref().map_or(JsValue::UNDEFINED, |s| s.js().clone())
    }

    /// The token source, cloned so it can be asked with no borrow held (a token function is user code).
    pub(super) fn token(&self) -> Option<Token> {
        self.token.clone()
    }

    /// Keeps the callback of a token promise alive until it settles or the socket goes; `cancel` stops
    /// the promise from calling it.
    pub(super) fn wait_for_token(&mut self, answer: Closure<dyn FnMut(JsValue)>, cancel: JsValue) {
        self.token_wait = Some(TokenWait { _answer: answer, cancel });
    }

    /// A promise settled: its callback can go.
    pub(super) fn token_settled(&mut self) {
        self.token_wait = None;
    }
}
