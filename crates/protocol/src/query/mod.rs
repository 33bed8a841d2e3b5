//! Queries: which documents of a collection a live query holds, and in which order. The rules are
//! written here once; [`Query::evaluate`] and [`Query::compare`] are their one implementation, used
//! by the server (stores and live windows) and by the client (latency compensation) alike.
//!
//! # The query
//! On the wire, the optional `query` of `subscribe` (the JavaScript `Query` without its `path`):
//! `{"where":[["status","==","open"]],"orderBy":[["createdAt","desc"]],"limit":50,"startAfter":[…],"endBefore":[…]}`.
//! Every part is optional; an unknown key is an error.
//!
//! # Fields
//! A field is a top-level name or a dotted path into nested objects: `"author.name"` is the member
//! `name` of the object in the member `author`. A path with an empty segment (`"a..b"`, `".a"`) is
//! refused; a member whose own name holds a dot cannot be named. A path that runs into a value that
//! is not an object, or a missing member, names no value: the field is *missing*.
//!
//! # The order of values
//! Across types: null < booleans < numbers < strings < arrays < objects. Within a type: `false <
//! true`; numbers by value, integers and fractions alike (`1 == 1.0`, `-0 == 0`); strings by their
//! UTF-8 bytes; arrays element by element, a shorter array first when one is the start of the other;
//! objects member by member in key order (key first, then value), fewer members first. Two values are
//! equal when neither comes first: objects are equal whatever order their members were written in.
//!
//! # Filters: `[field, op, value]`
//! Every filter needs its field present (not missing): a document without it is not in the result,
//! whatever the operator (so `!=` and `not-in` do not match a missing field, as in Firestore; a
//! `null` field is present).
//! - `==`, `!=`: equal or not, in the order above.
//! - `<`, `<=`, `>`, `>=`: only values of the operand's type match (`["n", ">", 1]` never matches a
//!   string), compared in the order above. A `null` operand is refused.
//! - `in`, `not-in`: the operand is a list of 1 to 30 values; the field equals one of them, or none.
//! - `array-contains`: the field is an array with an element equal to the operand.
//! - `array-contains-any`: the field is an array with an element equal to one of the operand's 1 to
//!   30 values.
//!
//! A query has at most 10 filters; all must match. Inequalities on several fields are allowed
//! (Firestore's rule that the first `orderBy` be on the inequality field does not apply: the
//! store evaluates every filter on the documents of the collection, so no index shape is assumed).
//!
//! # Order: `orderBy: [[field, "asc" | "desc"], …]`
//! Up to 10 fields, each at most once; the direction may be left out (`["createdAt"]` is ascending).
//! A document missing an `orderBy` field is not in the result. Documents are ordered by the first
//! field, then the next; ties (and a query without `orderBy`) by document id, in byte order, in the
//! direction of the last `orderBy` field (ascending without one).
//!
//! # Cursors: `startAfter`, `endBefore`
//! Each is a list of values for the first `orderBy` fields (as many as given, at least one, at most
//! one per `orderBy` field; a query with a cursor needs an `orderBy`). `startAfter` keeps the
//! documents that come after it in the query's order; `endBefore` those that come before it; a
//! document whose fields equal the cursor's values is on neither side, so it is left out by both.
//!
//! # Limit
//! `limit` keeps the first 1 to 10,000 documents of the ordered result; without it the result holds
//! every matching document.

mod check;
mod eval;
pub mod key;
mod value;
mod wire;

use serde::{Deserialize, Serialize};

pub use check::{MAX_FIELD_BYTES, MAX_FILTERS, MAX_LIMIT, MAX_ORDER_BY, MAX_VALUES, QueryError};
pub use eval::{Document, Key};
pub use value::Value;

/// A query on a collection: filters, order, cursors and a limit. Check it with [`Query::check`]
/// before evaluating it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Query {
    /// Conditions every document of the result meets.
    #[serde(rename = "where", default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    /// The order of the result, before the document id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order_by: Vec<Order>,
    /// At most this many documents, the first in order. Any whole number reads (`5.0` too).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "wire::limit")]
    pub limit: Option<u32>,
    /// Only documents after these values of the `orderBy` fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_after: Option<Vec<Value>>,
    /// Only documents before these values of the `orderBy` fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_before: Option<Vec<Value>>,
}

/// One condition: `[field, op, value]` on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The field, a dotted path.
    pub field: String,
    /// How the field is compared.
    pub op: Op,
    /// What it is compared with (a list for `in`, `not-in` and `array-contains-any`).
    pub value: Value,
}

/// A filter's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// `==`
    #[serde(rename = "==")]
    Eq,
    /// `!=`
    #[serde(rename = "!=")]
    Ne,
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `in`
    #[serde(rename = "in")]
    In,
    /// `not-in`
    #[serde(rename = "not-in")]
    NotIn,
    /// `array-contains`
    #[serde(rename = "array-contains")]
    ArrayContains,
    /// `array-contains-any`
    #[serde(rename = "array-contains-any")]
    ArrayContainsAny,
}

impl Op {
    /// Every operator, as written.
    pub const ALL: [(&'static str, Op); 10] = [
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        ("<=", Op::Le),
        (">", Op::Gt),
        (">=", Op::Ge),
        ("in", Op::In),
        ("not-in", Op::NotIn),
        ("array-contains", Op::ArrayContains),
        ("array-contains-any", Op::ArrayContainsAny),
    ];

    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        Self::ALL.iter().find(|(_, op)| *op == self).map_or("", |(text, _)| *text)
    }

    /// Whether its operand is a list of values.
    pub fn takes_list(self) -> bool {
        matches!(self, Op::In | Op::NotIn | Op::ArrayContainsAny)
    }
}

/// One `orderBy` entry: `[field, "asc" | "desc"]` on the wire (`[field]`: ascending).
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// The field, a dotted path.
    pub field: String,
    /// Ascending or descending.
    pub direction: Direction,
}

/// Which way an `orderBy` field sorts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}
