//! JavaScript values as queries compare them ([`Value`]), and back: a document's fields for the
//! client's evaluation of its live queries, and a query's operands for its JSON on the wire.

use livepath_protocol::query::Value;
use wasm_bindgen::JsValue;

use crate::{
    Data,
    browser::snippet::{at, entries, item, value_kind},
    core::Fields,
};

/// `value` as JSON would write it (non-finite numbers are `null`), or `None` for what JSON leaves
/// out (`undefined`, functions, symbols).
pub fn from_js(value: &JsValue) -> Option<Value> {
    Some(match value_kind(value) {
        0 => Value::Null,
        1 => Value::Bool(value.as_bool()?),
        2 => Value::Number(value.as_f64()?),
        3 => Value::String(value.as_string()?),
        kind @ (4 | 5) => {
            // `[key, value, key, value, …]`; an array's keys are its indexes, in order.
            let pairs = entries(value);
            let mut items = Vec::new();
            let mut members: Vec<(String, Value)> = Vec::new();
            let mut i = 0;
            while let Some(key) = item(&pairs, i).as_string() {
                let member = from_js(&item(&pairs, i + 1));
                i += 2;
                if kind == 4 {
                    items.push(member.unwrap_or(Value::Null));
                } else if let Some(member) = member {
                    // Members sorted by key bytes, as `Value::Object` keeps them; keys are unique.
                    let at = members.binary_search_by(|(k, _)| k.as_bytes().cmp(key.as_bytes())).unwrap_or_else(|i| i);
                    members.insert(at, (key, member));
                }
            }
            if kind == 4 { Value::Array(items) } else { Value::Object(members) }
        }
        _ => return None,
    })
}

/// `value` as a JavaScript value (an object's members in key order). Only the Rust API's
/// `Client::on_query` needs it, so it uses js-sys's bindings, which the npm package (which has no use
/// for it) leaves out, rather than functions of the snippet, which every page would load.
pub fn to_js(value: &Value) -> JsValue {
    match value {
        Value::Null => JsValue::NULL,
        Value::Bool(b) => JsValue::from_bool(*b),
        Value::Number(n) => JsValue::from_f64(*n),
        Value::String(s) => JsValue::from_str(s),
        Value::Array(items) => {
            let array = js_sys::Array::new();
            for item in items {
                array.push(&to_js(item));
            }
            array.into()
        }
        Value::Object(members) => {
            let object = js_sys::Object::new();
            for (key, member) in members {
                // Setting a member of a plain object made here cannot fail.
                let _ = js_sys::Reflect::set(&object, &JsValue::from_str(key), &to_js(member));
            }
            object.into()
        }
    }
}

/// A document's fields, read in JavaScript (only through plain objects and their own members) and
/// converted one field at a time.
impl Fields for Data {
    fn field(&self, field: &str) -> Option<Value> {
        from_js(&at(&self.0, field))
    }
}
