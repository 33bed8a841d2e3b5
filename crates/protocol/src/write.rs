//! The writes of a `commit`: what each does to one document, the field transforms applied after its
//! data, and the condition it needs.
//!
//! # Writes: `{"op": …, "path": …}`
//! - `set`: replaces the document with `data` (creating it). With `"merge": true` it deep-merges
//!   `data` into the document instead (objects merge member by member, anything else replaces),
//!   creating it when missing.
//! - `update`: the document must exist (`not-found` otherwise). Each key of `data` is a field path
//!   (`"a.b"` is member `b` of object `a`, the same paths as queries'): the field is set, missing
//!   parents are made, a parent that is not an object becomes one.
//! - `delete`: deletes the document; a missing one is fine.
//! - `check`: writes nothing, only asserts its `if`, which it must have: what a transaction sends for
//!   a document it read and did not write.
//!
//! # Transforms: `{"field": F, <kind>: operand}`
//! Applied after `data`, in order (see [`TransformKind`] for each kind). A `deleteField` is only
//! allowed where a field can be left out: in `update` and merge-`set`.
//!
//! # Conditions: `"if"`
//! `{"exists": true}`, `{"exists": false}` or `{"version": N}` (a missing document's version is 0).
//! A failed `exists: false` is `already-exists`, a failed `exists: true` is `not-found`, another
//! version is `failed-precondition`.
//!
//! # A commit
//! All or nothing: each write is checked against the state the earlier writes of the same commit
//! leave, and if one fails, none applies (the `error` names it with `write`, its index). Every
//! document a commit writes gets the commit's one version.

use serde::{Deserialize, Deserializer, Serialize, Serializer, de, ser::SerializeMap};

/// The most writes in one commit.
pub const MAX_WRITES: usize = 500;

/// One write of a commit. `D` holds a document's data and a transform's operand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase", deny_unknown_fields)]
pub enum Write<D> {
    /// Replaces the document, or with `merge` deep-merges into it; creates it when missing.
    Set {
        /// The document path.
        path: String,
        /// The new data: a JSON object.
        data: D,
        /// Deep-merge `data` into the document instead of replacing it.
        #[serde(default, skip_serializing_if = "is_false")]
        merge: bool,
        /// Applied after `data`, in order.
        #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
        transforms: Vec<Transform<D>>,
        /// The condition the document must meet.
        #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
        condition: Option<Precondition>,
    },
    /// Sets fields of an existing document: `data`'s keys are field paths.
    Update {
        /// The document path.
        path: String,
        /// Field paths and their new values: a JSON object.
        data: D,
        /// Applied after `data`, in order.
        #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
        transforms: Vec<Transform<D>>,
        /// The condition the document must meet.
        #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
        condition: Option<Precondition>,
    },
    /// Deletes the document (the server keeps a tombstone so that resuming clients learn of it).
    Delete {
        /// The document path.
        path: String,
        /// The condition the document must meet.
        #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
        condition: Option<Precondition>,
    },
    /// Writes nothing; only asserts its condition.
    Check {
        /// The document path.
        path: String,
        /// The condition the document must meet.
        #[serde(rename = "if")]
        condition: Precondition,
    },
}

impl<D> Write<D> {
    /// The document the write is to.
    pub fn path(&self) -> &str {
        match self {
            Self::Set { path, .. }
            | Self::Update { path, .. }
            | Self::Delete { path, .. }
            | Self::Check { path, .. } => path,
        }
    }
}

/// For `skip_serializing_if`: a `false` flag is left out of the frame.
pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// What a document must be for a write to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Precondition {
    /// It exists (`true`) or does not (`false`).
    Exists(bool),
    /// Its version is this one (0: it does not exist).
    Version(u64),
}

/// A change to one field, computed from what the field holds when the commit applies.
#[derive(Debug, Clone, PartialEq)]
pub struct Transform<D> {
    /// A field path, as in queries (`"stats.likes"`).
    pub field: String,
    /// What to do to it.
    pub kind: TransformKind<D>,
}

/// The kinds of transform, each written as the key beside `field`.
#[derive(Debug, Clone, PartialEq)]
pub enum TransformKind<D> {
    /// `increment`: adds a number. A missing or non-number field becomes the operand; integers stay
    /// integers and saturate at the bounds of a 64-bit signed integer; an integer plus a fraction is
    /// a fraction.
    Increment(D),
    /// `arrayUnion`: appends each element of a list not already equal to one of the array's (equal
    /// as in queries: `1 == 1.0`; the list's own repeats count once). A missing or non-array field
    /// becomes the list's distinct elements.
    ArrayUnion(D),
    /// `arrayRemove`: removes every element equal to one of a list's. A missing or non-array field
    /// becomes `[]`.
    ArrayRemove(D),
    /// `serverTimestamp: true`: the commit's time on the server, integer milliseconds since the Unix
    /// epoch; the same for every transform of one commit, never lower than an earlier commit's.
    ServerTimestamp,
    /// `deleteField: true`: removes the field.
    DeleteField,
}

impl<D> TransformKind<D> {
    /// The key it is written with.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Increment(_) => "increment",
            Self::ArrayUnion(_) => "arrayUnion",
            Self::ArrayRemove(_) => "arrayRemove",
            Self::ServerTimestamp => "serverTimestamp",
            Self::DeleteField => "deleteField",
        }
    }
}

impl<D: Serialize> Serialize for Transform<D> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("field", &self.field)?;
        match &self.kind {
            TransformKind::Increment(d) | TransformKind::ArrayUnion(d) | TransformKind::ArrayRemove(d) => {
                map.serialize_entry(self.kind.name(), d)?
            }
            TransformKind::ServerTimestamp | TransformKind::DeleteField => {
                map.serialize_entry(self.kind.name(), &true)?
            }
        }
        map.end()
    }
}

/// The wire form, every kind optional, so that a transform with none or two gets its own message.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TransformFields<D> {
    field: String,
    increment: Option<D>,
    array_union: Option<D>,
    array_remove: Option<D>,
    server_timestamp: Option<bool>,
    delete_field: Option<bool>,
}

impl<'de, D: Deserialize<'de>> Deserialize<'de> for Transform<D> {
    fn deserialize<De: Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        let t = TransformFields::<D>::deserialize(deserializer)?;
        let flag = |set: Option<bool>, name: &str| match set {
            None => Ok(false),
            Some(true) => Ok(true),
            Some(false) => Err(de::Error::custom(format!("transform `{name}` takes `true`"))),
        };
        let mut kinds = Vec::new();
        kinds.extend(t.increment.map(TransformKind::Increment));
        kinds.extend(t.array_union.map(TransformKind::ArrayUnion));
        kinds.extend(t.array_remove.map(TransformKind::ArrayRemove));
        if flag(t.server_timestamp, "serverTimestamp")? {
            kinds.push(TransformKind::ServerTimestamp);
        }
        if flag(t.delete_field, "deleteField")? {
            kinds.push(TransformKind::DeleteField);
        }
        let kind = kinds.pop().ok_or_else(|| {
            de::Error::custom(
                "a transform needs one of increment, arrayUnion, arrayRemove, serverTimestamp, deleteField",
            )
        })?;
        if !kinds.is_empty() {
            return Err(de::Error::custom(format!(
                "a transform has one kind; field \"{}\" names {} and {}",
                t.field,
                kinds[0].name(),
                kind.name()
            )));
        }
        Ok(Transform { field: t.field, kind })
    }
}
