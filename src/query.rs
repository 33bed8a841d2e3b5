//! [`Query`]: a live query on a collection, as Rust programs build it and as the JavaScript
//! `Query` object is read. The rules (operators, order, limits) are `livepath_protocol::query`'s.
//!
//! ```ignore
//! use livepath::{Direction, Op, Query};
//! let open = Query::new("rooms/r1/messages").filter("status", Op::Eq, "open").order_by("createdAt", Direction::Desc).limit(50);
//! let subscription = client.on_query(open, |snapshot| { /* … */ })?;
//! ```

use livepath_protocol::{
    ErrorCode, Path, PathKind,
    query::{self, Direction, Filter, Op, Order, Value},
};
use wasm_bindgen::JsValue;

use crate::{
    Error,
    browser::{
        snippet::{item, read_query},
        value::{from_js, to_js},
    },
};

/// A query on the collection at `path`: filters, order, cursors and a limit.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The collection.
    pub path: String,
    /// The rest, as the wire has it.
    pub query: query::Query,
}

/// A checked query: its path, the query, and its canonical JSON.
pub(crate) type Checked = (Path, query::Query, String);

fn invalid(message: impl Into<String>) -> Error {
    Error { code: ErrorCode::InvalidArgument, message: message.into() }
}

impl Query {
    /// Every document of the collection at `path`, by id, until filters, an order or a limit are added.
    pub fn new(path: &str) -> Self {
        Self { path: path.to_owned(), query: query::Query::default() }
    }

    /// Only documents whose `field` (a dotted path) compares with `value` by `op`.
    pub fn filter(mut self, field: &str, op: Op, value: impl Into<Value>) -> Self {
        self.query.filters.push(Filter { field: field.to_owned(), op, value: value.into() });
        self
    }

    /// Ordered by `field` (after the fields already given), in `direction`.
    pub fn order_by(mut self, field: &str, direction: Direction) -> Self {
        self.query.order_by.push(Order { field: field.to_owned(), direction });
        self
    }

    /// At most `n` documents, the first in order.
    pub fn limit(mut self, n: u32) -> Self {
        self.query.limit = Some(n);
        self
    }

    /// Only documents after these values of the `orderBy` fields.
    pub fn start_after(mut self, values: Vec<Value>) -> Self {
        self.query.start_after = Some(values);
        self
    }

    /// Only documents before these values of the `orderBy` fields.
    pub fn end_before(mut self, values: Vec<Value>) -> Self {
        self.query.end_before = Some(values);
        self
    }

    /// The query checked for the Rust API: the rules of `livepath_protocol::query` kept (else an
    /// `invalid-argument` error saying which it breaks), then read as the JavaScript `Query` object
    /// it is, as [`Query::from_js`] reads every query.
    pub(crate) fn checked(self) -> Result<Checked, Error> {
        self.query.check().map_err(|e| invalid(e.0))?;
        let mut filters = Vec::new();
        for f in &self.query.filters {
            filters.push(Value::Array(vec![f.field.as_str().into(), f.op.as_str().into(), f.value.clone()]));
        }
        let mut order_by = Vec::new();
        for o in &self.query.order_by {
            let direction = if o.direction == Direction::Desc { "desc" } else { "asc" };
            order_by.push(Value::Array(vec![o.field.as_str().into(), direction.into()]));
        }
        let mut members = vec![
            ("path".to_owned(), Value::String(self.path)),
            ("where".to_owned(), Value::Array(filters)),
            ("orderBy".to_owned(), Value::Array(order_by)),
        ];
        if let Some(limit) = self.query.limit {
            members.push(("limit".to_owned(), Value::from(limit)));
        }
        for (name, cursor) in [("startAfter", self.query.start_after), ("endBefore", self.query.end_before)] {
            if let Some(values) = cursor {
                members.push((name.to_owned(), Value::Array(values)));
            }
        }
        Self::from_js(&to_js(&Value::object(members)))
    }

    /// Reads a JavaScript `Query` object. The snippet's `readQuery` checks that it is one (an object
    /// with a string `path`, of JSON values only) and writes its canonical JSON; the rest of its
    /// shape and the rules' limits (members, filters, operators, how many, the range of `limit`) are
    /// the server's to check, with the same messages for every client. Until its answer, the parts
    /// this reading cannot use are left out of the client's own evaluation.
    pub(crate) fn from_js(q: &JsValue) -> Result<Checked, Error> {
        let read = read_query(q);
        if let Some(problem) = read.as_string() {
            return Err(invalid(problem));
        }
        let path = collection(&item(&read, 0).as_string().unwrap_or_default())?;
        let text = item(&read, 1).as_string().unwrap_or_default();
        let value = from_js(&item(&read, 2)).unwrap_or(Value::Null);
        let list = |name| match value.get(name) {
            Some(Value::Array(items)) => &items[..],
            _ => &[],
        };
        let mut query = query::Query::default();
        for f in list("where") {
            if let Value::Array(parts) = f {
                if let [Value::String(field), Value::String(op), value] = &parts[..] {
                    if let Some((_, op)) = Op::ALL.iter().find(|(text, _)| text == op) {
                        query.filters.push(Filter { field: field.clone(), op: *op, value: value.clone() });
                    }
                }
            }
        }
        for o in list("orderBy") {
            if let Value::Array(parts) = o {
                if let [Value::String(field), Value::String(direction)] = &parts[..] {
                    let direction = if direction == "desc" { Direction::Desc } else { Direction::Asc };
                    query.order_by.push(Order { field: field.clone(), direction });
                }
            }
        }
        // Out of range, it saturates; the server refuses it.
        if let Some(Value::Number(n)) = value.get("limit") {
            query.limit = Some(*n as u32);
        }
        let cursor = |name| match value.get(name) {
            Some(Value::Array(values)) => Some(values.clone()),
            _ => None,
        };
        query.start_after = cursor("startAfter");
        query.end_before = cursor("endBefore");
        Ok((path, query, text))
    }
}

/// `path` parsed, if it is a collection's; else `invalid-argument`.
fn collection(path: &str) -> Result<Path, Error> {
    let parsed = Path::parse(path).map_err(|e| invalid(e.to_string()))?;
    if parsed.kind() != PathKind::Collection {
        // Joined rather than `format!`, which the package has no other use for (docs/wasm-size.md).
        let mut message = path.to_owned();
        message.push_str(" is a document: a query needs a collection path (an odd number of segments)");
        return Err(invalid(message));
    }
    Ok(parsed)
}
