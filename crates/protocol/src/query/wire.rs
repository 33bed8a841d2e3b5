//! How a filter (`[field, op, value]`) and an `orderBy` entry (`[field]` or `[field, direction]`) are
//! written on the wire: arrays, read with errors that say what was expected.

use core::fmt;

use serde::{
    Deserialize, Deserializer, Serialize, Serializer,
    de::{Error, SeqAccess, Visitor},
    ser::SerializeTuple,
};

use super::{Direction, Filter, Op, Order, Value};

impl Serialize for Filter {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(3)?;
        tuple.serialize_element(&self.field)?;
        tuple.serialize_element(&self.op)?;
        tuple.serialize_element(&self.value)?;
        tuple.end()
    }
}

impl<'de> Deserialize<'de> for Filter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(FilterVisitor)
    }
}

const FILTER: &str = "a filter: [field, op, value]";

struct FilterVisitor;

impl<'de> Visitor<'de> for FilterVisitor {
    type Value = Filter;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(FILTER)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Filter, A::Error> {
        let field: String = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(0, &FILTER))?;
        let op: Op = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(1, &FILTER))?;
        let value: Value = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(2, &FILTER))?;
        if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
            return Err(A::Error::invalid_length(4, &FILTER));
        }
        Ok(Filter { field, op, value })
    }
}

impl Serialize for Order {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(2)?;
        tuple.serialize_element(&self.field)?;
        tuple.serialize_element(&self.direction)?;
        tuple.end()
    }
}

impl<'de> Deserialize<'de> for Order {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(OrderVisitor)
    }
}

const ORDER: &str = "an orderBy entry: [field] or [field, \"asc\" | \"desc\"]";

struct OrderVisitor;

impl<'de> Visitor<'de> for OrderVisitor {
    type Value = Order;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(ORDER)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Order, A::Error> {
        let field: String = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(0, &ORDER))?;
        let direction: Direction = seq.next_element()?.unwrap_or_default();
        if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
            return Err(A::Error::invalid_length(3, &ORDER));
        }
        Ok(Order { field, direction })
    }
}

/// A `limit`: a whole number, written as an integer or not (`5.0`), that fits a `u32` (the range
/// itself is [`super::Query::check`]'s to judge).
pub fn limit<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    let n = f64::deserialize(deserializer)?;
    if n.fract() != 0.0 || !(0.0..=f64::from(u32::MAX)).contains(&n) {
        return Err(D::Error::custom(format_args!(
            "a query's limit is a whole number between 1 and {}; this one is {n}",
            super::MAX_LIMIT
        )));
    }
    Ok(Some(n as u32))
}
