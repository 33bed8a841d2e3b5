//! [`Value`]: a JSON value as queries compare it, and the one order of values (see the module docs of
//! [`crate::query`] for the rules).

use core::cmp::Ordering;

/// A JSON value, as a query's operands and a document's fields are compared.
///
/// `Object` keeps its members sorted by key (byte order) with no key twice, so that two objects with
/// the same members are the same value whatever order they were written in.
#[derive(Debug, Clone)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// Any number: integers and fractions are one type, compared by value (`1 == 1.0`).
    Number(f64),
    /// A string, compared by its UTF-8 bytes.
    String(String),
    /// An array, compared element by element, then by length.
    Array(Vec<Value>),
    /// An object's members sorted by key, compared member by member (key, then value), then by count.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The place of the value's type in the order of types: null, booleans, numbers, strings, arrays,
    /// objects.
    pub fn rank(&self) -> u8 {
        match self {
            Self::Null => 0,
            Self::Bool(_) => 1,
            Self::Number(_) => 2,
            Self::String(_) => 3,
            Self::Array(_) => 4,
            Self::Object(_) => 5,
        }
    }

    /// An object from members in any order; for a key given twice the last one counts (as in
    /// `JSON.parse`).
    pub fn object(mut members: Vec<(String, Value)>) -> Self {
        // Stable, so equal keys keep their order and the last of each run is the one to keep.
        members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut unique: Vec<(String, Value)> = Vec::with_capacity(members.len());
        for member in members {
            match unique.last_mut() {
                Some(last) if last.0 == member.0 => *last = member,
                _ => unique.push(member),
            }
        }
        Self::Object(unique)
    }

    /// The member `key` of an object; `None` for a missing key or a value that is not an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        let Self::Object(members) = self else { return None };
        let i = members.binary_search_by(|(k, _)| k.as_bytes().cmp(key.as_bytes())).ok()?;
        Some(&members[i].1)
    }

    /// Whether every number inside is finite (JSON has no other kind; JavaScript values may).
    pub fn is_finite(&self) -> bool {
        match self {
            Self::Number(n) => n.is_finite(),
            Self::Array(items) => items.iter().all(Value::is_finite),
            Self::Object(members) => members.iter().all(|(_, v)| v.is_finite()),
            Self::Null | Self::Bool(_) | Self::String(_) => true,
        }
    }
}

/// Values for a query's operands and cursors, written in Rust (`Query::filter("n", Op::Gt, 2)`).
macro_rules! from_number {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Self {
                Self::Number(f64::from(n))
            }
        }
    )*};
}
from_number!(f64, f32, i32, u32, i16, u16, i8, u8);

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Self {
        Self::Array(items.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    /// `None` is `null`.
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Null, Into::into)
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Null, Self::Null) => Ordering::Equal,
            (Self::Bool(a), Self::Bool(b)) => a.cmp(b),
            // Both finite (JSON numbers); `-0 == 0`. A NaN (from JavaScript only) sorts first.
            (Self::Number(a), Self::Number(b)) => a.partial_cmp(b).unwrap_or_else(|| b.is_nan().cmp(&a.is_nan())),
            (Self::String(a), Self::String(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Self::Array(a), Self::Array(b)) => a.cmp(b),
            (Self::Object(a), Self::Object(b)) => {
                for ((ka, va), (kb, vb)) in a.iter().zip(b) {
                    let order = ka.as_bytes().cmp(kb.as_bytes()).then_with(|| va.cmp(vb));
                    if order != Ordering::Equal {
                        return order;
                    }
                }
                a.len().cmp(&b.len())
            }
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Equal in the order: `1 == 1.0`, `0 == -0`, objects whatever their members' written order.
impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

/// JSON, with numbers that are whole (and exact in a double) written as integers, so that `1` and
/// `1.0` serialize alike.
impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Self::Null => serializer.serialize_unit(),
            Self::Bool(b) => serializer.serialize_bool(*b),
            Self::Number(n) if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_991.0 => {
                serializer.serialize_i64(*n as i64)
            }
            Self::Number(n) => serializer.serialize_f64(*n),
            Self::String(s) => serializer.serialize_str(s),
            Self::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Self::Object(members) => {
                let mut map = serializer.serialize_map(Some(members.len()))?;
                for (k, v) in members {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Visitor)
    }
}

struct Visitor;

impl<'de> serde::de::Visitor<'de> for Visitor {
    type Value = Value;

    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        serde::Deserialize::deserialize(d)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n as f64))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n as f64))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(Value::Number(n))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Vec::new();
        while let Some(member) = map.next_entry::<String, Value>()? {
            members.push(member);
        }
        Ok(Value::object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(json: &str) -> Value {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn types_order_null_booleans_numbers_strings_arrays_objects() {
        let ascending = [
            "null",
            "false",
            "true",
            "-1e300",
            "-1",
            "0",
            "0.5",
            "1",
            "1e300",
            "\"\"",
            "\"A\"",
            "\"a\"",
            "\"aa\"",
            "\"é\"",
            "[]",
            "[null]",
            "[1]",
            "[1,2]",
            "[2]",
            "[\"a\"]",
            "{}",
            "{\"a\":1}",
            "{\"a\":1,\"b\":0}",
            "{\"a\":2}",
            "{\"b\":0}",
        ];
        for (i, a) in ascending.iter().enumerate() {
            for (j, b) in ascending.iter().enumerate() {
                assert_eq!(v(a).cmp(&v(b)), i.cmp(&j), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn numbers_compare_by_value_and_objects_by_members_whatever_their_order() {
        assert_eq!(v("1"), v("1.0"));
        assert_eq!(v("-0.0"), v("0"));
        assert_eq!(v("{\"a\":1,\"b\":[2]}"), v("{\"b\":[2.0],\"a\":1}"));
        assert_ne!(v("1"), v("\"1\""));
        assert_ne!(v("true"), v("1"));
        assert_ne!(v("null"), v("false"));
        assert!(Value::Number(f64::NAN) < Value::Number(-1e300), "NaN (JavaScript only) sorts first");
        assert_eq!(Value::Number(f64::NAN), Value::Number(f64::NAN));
    }

    #[test]
    fn a_key_given_twice_keeps_its_last_value_and_members_are_found_by_key() {
        let o = v("{\"b\":1,\"a\":2,\"b\":3}");
        assert_eq!(o.get("b"), Some(&Value::Number(3.0)));
        assert_eq!(o.get("a"), Some(&Value::Number(2.0)));
        assert_eq!(o.get("c"), None);
        assert_eq!(Value::Number(1.0).get("a"), None);
    }

    #[test]
    fn whole_numbers_serialize_as_integers_so_equal_values_serialize_alike() {
        let text = serde_json::to_string(&v("[1.0, 2.5, -0, 9007199254740993, {\"z\":1,\"a\":null}]")).unwrap();
        assert_eq!(text, "[1,2.5,0,9007199254740992.0,{\"a\":null,\"z\":1}]");
    }
}
