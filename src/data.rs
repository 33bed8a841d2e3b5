//! [`Data`]: a document's data in the browser, and the checks a write's data must pass.

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
        let invalid = |message: String| Error { code: ErrorCode::InvalidArgument, message };
        let json = snippet::data_json(&value).map_err(|e| {
            let reason = snippet::error_message(&e).as_string().unwrap_or_default();
            invalid(format!("data cannot be written as JSON: {reason}"))
        })?;
        let Some(json) = json.as_string() else { return Err(invalid("data must be a plain object".into())) };
        if json.len() + ENVELOPE_BYTES > MAX_FRAME_BYTES {
            let limit = MAX_FRAME_BYTES - ENVELOPE_BYTES;
            return Err(invalid(format!("data is {} bytes of JSON; the limit is {limit}", json.len())));
        }
        if nesting(&json) > MAX_DEPTH {
            return Err(invalid(format!("data nests deeper than {MAX_DEPTH} levels")));
        }
        Ok(Data(value))
    }
}

/// The deepest nesting of objects and arrays in JSON text (brackets inside strings do not count).
fn nesting(json: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in json.bytes() {
        match (in_string, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (true, false, _) => {}
            (false, _, b'"') => in_string = true,
            (false, _, b'{' | b'[') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (false, _, b'}' | b']') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::nesting;

    #[test]
    fn nesting_counts_brackets_outside_strings() {
        assert_eq!(nesting(r#"{"a":[1,{"b":2}]}"#), 3);
        assert_eq!(nesting(r#"{"a":"[[[{{{","b":"\"[["}"#), 1);
        assert_eq!(nesting(&format!("{}{}", "[".repeat(150), "]".repeat(150))), 150);
    }
}
