//! [`Fields`]: how the core reads a document's fields, to evaluate live queries on the client's own
//! copy of the data (latency compensation) with the protocol's one evaluation.

use std::borrow::Cow;

use livepath_protocol::query::{Document, Value};

/// Document data whose fields a query can read.
pub trait Fields {
    /// The value at `field`, a dotted path (`"author.name"`), converted for comparison; `None` when
    /// it is missing.
    fn field(&self, field: &str) -> Option<Value>;
}

/// Data seen as the protocol's [`Document`].
pub struct AsDocument<'a, D>(pub &'a D);

impl<D: Fields> Document for AsDocument<'_, D> {
    fn field(&self, field: &str) -> Option<Cow<'_, Value>> {
        self.0.field(field).map(Cow::Owned)
    }
}

/// A document held as a [`Value`], as the core's tests and Rust programs may hold one.
impl Fields for Value {
    fn field(&self, field: &str) -> Option<Value> {
        Document::field(self, field).map(Cow::into_owned)
    }
}
