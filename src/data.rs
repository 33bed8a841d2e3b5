//! [`Data`]: a document's data in the browser, and the limits a write's data must keep (checked in JS,
//! where the object and its JSON are: `browser::snippet::data_problem`).

use livepath_protocol::ErrorCode;
use wasm_bindgen::JsValue;

use crate::{Error, browser::snippet, core::Merge};

/// A document's data in the browser: the object `JSON.parse` produced, serialized back as it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Data(pub JsValue);

impl Merge for Data {
    /// `{ ...self, ...fields }`, as a new object: snapshots already handed out never change.
    fn merged(&self, fields: &Self) -> Self {
        Data(snippet::merged(&self.0, &fields.0))
    }
}

/// The server's default limit on a frame (and on a document). A write whose frame would exceed it
/// is refused here: the server would close the socket (1009) and every resend would do the same.
const MAX_FRAME_BYTES: usize = 1 << 20;
/// Room for the envelope around the data: type, req, path (≤ 64 × 256 bytes) and key.
const ENVELOPE_BYTES: usize = 17 * 1024;
/// How deep documents may nest. The server's JSON parser stops at 128 levels, frame included, and
/// could then not even tell which write failed.
const MAX_DEPTH: usize = 100;

impl Data {
    /// `value` as a document's data, if it is one the server will take: a plain object that JSON can
    /// write, small enough for a frame, nested at most [`MAX_DEPTH`] levels. Else `invalid-argument`.
    pub fn checked(value: JsValue) -> Result<Self, Error> {
        let max_bytes = (MAX_FRAME_BYTES - ENVELOPE_BYTES) as f64;
        match snippet::data_problem(&value, max_bytes, MAX_DEPTH as f64).as_string() {
            Some(message) => Err(Error { code: ErrorCode::InvalidArgument, message }),
            None => Ok(Data(value)),
        }
    }
}
