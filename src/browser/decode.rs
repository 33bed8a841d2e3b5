//! Incoming frames: the browser's `JSON.parse`, then fields read by number, straight into the core's
//! [`Frame`]. Deserializing with serde inside the wasm would more than double the module
//! (docs/wasm-size.md), and document data stays the `JsValue` that `JSON.parse` made.

#[cfg(feature = "serde-json-decode")]
pub use by_serde_json::decode;
#[cfg(not(feature = "serde-json-decode"))]
pub use by_snippet::decode;
pub use by_snippet::{decode_object, write};

mod by_snippet {
    use livepath_protocol::ErrorCode;
    use wasm_bindgen::JsValue;

    use crate::{
        Data,
        browser::snippet::{error_code, field, fields::*, frame_kind, item, parse_frame},
        core::{CollectionDoc, Frame, StoredWrite, WriteOp},
    };

    /// A whole number in `0..=2^53-1`, as every id and version on the wire is.
    fn whole(value: JsValue) -> Option<u64> {
        let n = value.as_f64()?;
        (n >= 0.0 && n.fract() == 0.0 && n <= 9_007_199_254_740_991.0).then_some(n as u64)
    }

    fn number(object: &JsValue, i: u32) -> Option<u64> {
        whole(field(object, i))
    }

    fn data(object: &JsValue) -> Option<Data> {
        let value = field(object, DATA);
        value.is_object().then_some(Data(value))
    }

    /// Each element of `object`'s field `i` read by `read` (none if it is not an array); `None` if
    /// `read` refuses one.
    fn list<T>(object: &JsValue, i: u32, read: impl Fn(&JsValue) -> Option<T>) -> Option<Vec<T>> {
        let array = field(object, i);
        let mut items = Vec::new();
        loop {
            let value = item(&array, items.len() as u32);
            if value.is_undefined() {
                return Some(items);
            }
            items.push(read(&value)?);
        }
    }

    /// Parses a text frame. `None` for malformed frames and for types this client does not read (a
    /// newer server may send them); both are ignored.
    #[cfg_attr(feature = "serde-json-decode", allow(dead_code))]
    pub fn decode(text: &JsValue) -> Option<Frame<Data>> {
        decode_object(&parse_frame(text))
    }

    /// A write as the shared tabs' leader tells of another tab's (`pending`) and as the cache gives
    /// back a stored one: `{ key, path, op, data }`, `op` 0 set, 1 update, 2 delete.
    pub fn write(m: &JsValue) -> Option<StoredWrite<Data>> {
        Some(StoredWrite {
            key: field(m, KEY).as_string()?,
            path: field(m, PATH).as_string()?,
            op: match number(m, OP)? {
                0 => WriteOp::Set(data(m)?),
                1 => WriteOp::Update(data(m)?),
                _ => WriteOp::Delete,
            },
        })
    }

    /// A frame already parsed (as the cache keeps subscription states).
    pub fn decode_object(m: &JsValue) -> Option<Frame<Data>> {
        let id = || number(m, ID);
        let version = || number(m, VERSION);
        Some(match frame_kind(m) {
            0 => Frame::Welcome { heartbeat_ms: number(m, HEARTBEAT_MS)?, epoch: field(m, EPOCH).as_string() },
            1 => Frame::Snapshot { id: id()?, version: version()?, exists: field(m, EXISTS).as_bool()?, data: data(m) },
            2 => Frame::Collection {
                id: id()?,
                version: version()?,
                docs: list(m, DOCS, |d| {
                    Some(CollectionDoc::confirmed(field(d, ID).as_string()?, number(d, VERSION)?, data(d)?))
                })?,
            },
            3 => Frame::Changes {
                id: id()?,
                changes: list(m, CHANGES, |c| Some((field(c, ID).as_string()?, number(c, VERSION)?, data(c))))?,
            },
            4 => Frame::Unchanged { id: id()? },
            5 => Frame::Ack { req: number(m, REQ)?, version: version()? },
            6 => Frame::Error {
                id: id(),
                req: number(m, REQ),
                code: match error_code(m) {
                    -2 => return None,
                    i => ErrorCode::ALL.get(i as usize).copied().unwrap_or(ErrorCode::Internal),
                },
                message: field(m, MESSAGE).as_string().unwrap_or_default(),
            },
            7 if cfg!(feature = "tabs") => Frame::Pending(write(m)?),
            8 if cfg!(feature = "tabs") => Frame::Settled { key: field(m, KEY).as_string()? },
            _ => return None,
        })
    }
}

#[cfg(feature = "serde-json-decode")]
mod by_serde_json {
    use livepath_protocol::ServerMessage;

    use crate::{
        Data,
        core::{CollectionDoc, Frame},
    };

    /// The variant measured in BENCHMARKS.md: serde_json inside the wasm, data handed to JS through
    /// serde-wasm-bindgen. Not used by the package.
    pub fn decode(text: &wasm_bindgen::JsValue) -> Option<Frame<Data>> {
        // A frame the shared tabs' leader relays is already parsed.
        let Some(text) = text.as_string() else { return super::by_snippet::decode_object(text) };
        let message: ServerMessage<serde_json::Value> = serde_json::from_str(&text).ok()?;
        let serializer = serde_wasm_bindgen::Serializer::json_compatible();
        let message = message.map_data(|v| serde::Serialize::serialize(&v, &serializer).ok().map(Data))?;
        Some(match message {
            ServerMessage::Welcome { heartbeat_ms, epoch, .. } => Frame::Welcome { heartbeat_ms, epoch },
            ServerMessage::Snapshot { id, version, exists, data, .. } => Frame::Snapshot { id, version, exists, data },
            ServerMessage::Collection { id, version, docs, .. } => Frame::Collection {
                id,
                version,
                docs: docs.into_iter().map(|d| CollectionDoc::confirmed(d.id, d.version, d.data)).collect(),
            },
            ServerMessage::Changes { id, changes, .. } => {
                Frame::Changes { id, changes: changes.into_iter().map(|c| (c.id, c.version, c.data)).collect() }
            }
            ServerMessage::Unchanged { id, .. } => Frame::Unchanged { id },
            ServerMessage::Ack { req, version } => Frame::Ack { req, version },
            ServerMessage::Error { id, req, code, message, .. } => Frame::Error { id, req, code, message },
            // The client sends no `get` yet, so reads no `result`.
            ServerMessage::Result { .. } | ServerMessage::Pong | ServerMessage::Ping => return None,
        })
    }
}
