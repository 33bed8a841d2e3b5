//! Incoming frames: the browser's `JSON.parse`, then fields read with `Reflect`, into the protocol's
//! [`ServerMessage`]. Cheaper in wasm than serde deserialization (see shared/WASM-SIZE.md), and document
//! data stays the `JsValue` JSON.parse made.

#[cfg(not(feature = "serde-json-decode"))]
pub use by_reflect::decode;
#[cfg(feature = "serde-json-decode")]
pub use by_serde_json::decode;

#[cfg(not(feature = "serde-json-decode"))]
mod by_reflect {
    use js_sys::Reflect;
    use livepath_protocol::{Change, ChangeType, DocEntry, ErrorCode, ServerMessage};
    use wasm_bindgen::{JsCast, JsValue, prelude::wasm_bindgen};

    #[wasm_bindgen]
    extern "C" {
        /// `JSON.parse` of a JS string as it came from the socket (js-sys's takes a Rust `&str`).
        #[wasm_bindgen(catch, js_namespace = JSON, js_name = parse)]
        fn parse(text: &JsValue) -> Result<JsValue, JsValue>;
    }

    use crate::Data;

    fn field(object: &JsValue, name: &str) -> JsValue {
        Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
    }

    fn u64_field(object: &JsValue, name: &str) -> Option<u64> {
        let n = field(object, name).as_f64()?;
        (n >= 0.0 && n.fract() == 0.0 && n <= 9_007_199_254_740_991.0).then_some(n as u64)
    }

    fn string_field(object: &JsValue, name: &str) -> Option<String> {
        field(object, name).as_string()
    }

    fn data_field(object: &JsValue, name: &str) -> Option<Data> {
        let value = field(object, name);
        (value.is_object()).then_some(Data(value))
    }

    /// Each element of the array `object[name]` read by `item` (none if it is not an array); `None` if
    /// `item` refuses one. A loop rather than `collect::<Option<_>>()`, which is larger in the wasm.
    fn list_field<T>(object: &JsValue, name: &str, item: impl Fn(&JsValue) -> Option<T>) -> Option<Vec<T>> {
        let mut items = Vec::new();
        if let Ok(array) = field(object, name).dyn_into::<js_sys::Array>() {
            for value in array.iter() {
                items.push(item(&value)?);
            }
        }
        Some(items)
    }

    /// Parses a text frame. `None` for malformed frames and for types this client does not know (a newer
    /// server may send them); both are ignored.
    pub fn decode(text: &JsValue) -> Option<ServerMessage<Data>> {
        let m = parse(text).ok()?;
        let kind = string_field(&m, "type")?;
        Some(match kind.as_str() {
            "welcome" => ServerMessage::Welcome {
                session: string_field(&m, "session")?,
                heartbeat_ms: u64_field(&m, "heartbeatMs")?,
                protocol: u64_field(&m, "protocol")? as u32,
            },
            // The client knows each subscription's path by its id: not copying the frame's saves time.
            "snapshot" => ServerMessage::Snapshot {
                id: u64_field(&m, "id")?,
                path: String::new(),
                version: u64_field(&m, "version")?,
                exists: field(&m, "exists").as_bool()?,
                data: data_field(&m, "data"),
            },
            "collection" => ServerMessage::Collection {
                id: u64_field(&m, "id")?,
                path: String::new(),
                version: u64_field(&m, "version")?,
                docs: list_field(&m, "docs", |d| {
                    Some(DocEntry { id: string_field(d, "id")?, version: u64_field(d, "version")?, data: data_field(d, "data")? })
                })?,
            },
            "changes" => ServerMessage::Changes {
                id: u64_field(&m, "id")?,
                version: u64_field(&m, "version")?,
                changes: list_field(&m, "changes", |c| {
                    let kind = match string_field(c, "type")?.as_str() {
                        "added" => ChangeType::Added,
                        "modified" => ChangeType::Modified,
                        "removed" => ChangeType::Removed,
                        _ => return None,
                    };
                    Some(Change {
                        kind,
                        id: string_field(c, "id")?,
                        version: u64_field(c, "version")?,
                        data: data_field(c, "data"),
                    })
                })?,
            },
            "unchanged" => ServerMessage::Unchanged { id: u64_field(&m, "id")?, version: u64_field(&m, "version")? },
            "ack" => ServerMessage::Ack { req: u64_field(&m, "req")?, version: u64_field(&m, "version")? },
            "error" => ServerMessage::Error {
                id: u64_field(&m, "id"),
                req: u64_field(&m, "req"),
                code: ErrorCode::parse(&string_field(&m, "code")?).unwrap_or(ErrorCode::Internal),
                message: string_field(&m, "message").unwrap_or_default(),
            },
            "pong" => ServerMessage::Pong,
            "ping" => ServerMessage::Ping,
            _ => return None,
        })
    }
}

#[cfg(feature = "serde-json-decode")]
mod by_serde_json {
    use livepath_protocol::ServerMessage;

    use crate::Data;

    /// The variant measured in BENCHMARKS.md: serde_json inside the wasm, data handed to JS through
    /// serde-wasm-bindgen. Not used by the package.
    pub fn decode(text: &wasm_bindgen::JsValue) -> Option<ServerMessage<Data>> {
        let message: ServerMessage<serde_json::Value> = serde_json::from_str(&text.as_string()?).ok()?;
        let serializer = serde_wasm_bindgen::Serializer::json_compatible();
        message.map_data(|v| serde::Serialize::serialize(&v, &serializer).ok().map(Data))
    }
}
