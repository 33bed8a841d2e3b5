//! [`Commit`]: writes to any number of documents, checked and applied as one unit. This is the one
//! place that says what a write does (set, merge, update by field path, delete, check, the field
//! transforms and the conditions; the rules are in [`livepath_protocol::write`]); both stores call
//! [`Commit::apply`] inside their transaction, on the documents as that transaction sees them.

use std::collections::{BTreeSet, HashMap};

use livepath_protocol::{
    ErrorCode, Path, Precondition, TransformKind,
    query::{MAX_FIELD_BYTES, Value as Ordered},
    write::{MAX_WRITES, Write},
};
use serde_json::{Map, Number, Value};

use super::{Object, StoredDoc, checked_key, object};
use crate::error::ApiError;

/// A commit, checked: paths parsed, field paths split, operands of the right kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    /// The writes, in order.
    pub writes: Vec<DocWrite>,
    /// The idempotency key, if any.
    pub key: Option<String>,
}

/// One write of a commit.
#[derive(Debug, Clone, PartialEq)]
pub struct DocWrite {
    /// The document.
    pub path: Path,
    /// What to do to it.
    pub op: Op,
    /// Applied after `op`'s data, in order.
    pub transforms: Vec<FieldTransform>,
    /// What the document must be for the commit to apply.
    pub condition: Option<Precondition>,
}

/// What a write does to its document's data.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Replace (or create).
    Set(Object),
    /// Deep-merge into the document (or create it).
    Merge(Object),
    /// Set fields of an existing document, by field path.
    Update(Vec<(Vec<String>, Value)>),
    /// Delete, leaving a tombstone.
    Delete,
    /// Nothing: only the condition.
    Check,
}

/// One transform: a field path and what to do to it.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldTransform {
    /// The field path's segments.
    pub field: Vec<String>,
    /// What to do.
    pub kind: Transform,
}

/// The transforms, with their operands checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Transform {
    /// Add a number.
    Increment(Number),
    /// Append the elements not already there.
    ArrayUnion(Vec<Value>),
    /// Remove every equal element.
    ArrayRemove(Vec<Value>),
    /// The commit's time.
    ServerTimestamp,
    /// Remove the field.
    DeleteField,
}

/// What a commit did to one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenDoc {
    /// The document's path.
    pub path: String,
    /// Whether it existed (not a tombstone) before the commit.
    pub existed: bool,
    /// Its data after the commit as JSON text; `None` if it is now deleted.
    pub data: Option<String>,
}

/// How deep a document may nest (objects and arrays), as the client checks before it sends: past
/// that, JSON parsers (serde_json's stops at 128) could not read it back.
pub const MAX_DEPTH: usize = 100;

/// A document as a commit holds it: missing, as stored (not parsed until a write builds on it), or
/// as the commit's writes have made it.
enum Held {
    Missing,
    Stored(String),
    Parsed(Object),
}

impl Held {
    fn exists(&self) -> bool {
        !matches!(self, Held::Missing)
    }

    /// A copy of the document's data to build on, `None` when missing.
    fn object(&self) -> Result<Option<Object>, ApiError> {
        match self {
            Held::Missing => Ok(None),
            Held::Parsed(data) => Ok(Some(data.clone())),
            Held::Stored(text) => serde_json::from_str::<Object>(text)
                .map(Some)
                .map_err(|e| ApiError::internal("reading a stored document", e)),
        }
    }
}

/// The levels of objects and arrays in `data`, itself included.
fn depth(data: &Object) -> usize {
    fn of(value: &Value) -> usize {
        match value {
            Value::Object(members) => 1 + members.values().map(of).max().unwrap_or(0),
            Value::Array(items) => 1 + items.iter().map(of).max().unwrap_or(0),
            _ => 0,
        }
    }
    1 + data.values().map(of).max().unwrap_or(0)
}

/// A field path's segments, by the rules of query fields: not empty, no empty segment, at most
/// [`MAX_FIELD_BYTES`].
fn field_path(field: &str) -> Result<Vec<String>, ApiError> {
    if field.is_empty() {
        return Err(ApiError::invalid("a field path cannot be empty"));
    }
    if field.len() > MAX_FIELD_BYTES {
        return Err(ApiError::invalid(format!("a field path is at most {MAX_FIELD_BYTES} bytes")));
    }
    let segments: Vec<String> = field.split('.').map(str::to_owned).collect();
    if segments.len() >= MAX_DEPTH {
        return Err(ApiError::invalid(format!("a field path has fewer than {MAX_DEPTH} segments")));
    }
    if segments.iter().any(String::is_empty) {
        return Err(ApiError::invalid(format!(
            "field path \"{field}\" has an empty segment (no leading, trailing or double '.')"
        )));
    }
    Ok(segments)
}

fn list(operand: Value, kind: &str) -> Result<Vec<Value>, ApiError> {
    match operand {
        Value::Array(items) => Ok(items),
        _ => Err(ApiError::invalid(format!("{kind} takes a list of values"))),
    }
}

impl Commit {
    /// Checks the writes of a `commit` message (or the one write of `set`, `update`, `delete`): 1 to
    /// [`MAX_WRITES`] of them, each on a document path, with operands of the right kind. An error
    /// names the write it is about.
    pub fn parse(writes: Vec<Write<Value>>, key: Option<String>) -> Result<Self, ApiError> {
        if writes.is_empty() {
            return Err(ApiError::invalid("a commit needs at least one write"));
        }
        if writes.len() > MAX_WRITES {
            return Err(ApiError::invalid(format!(
                "a commit has at most {MAX_WRITES} writes; this one has {}",
                writes.len()
            )));
        }
        let key = checked_key(key)?;
        let writes = writes
            .into_iter()
            .enumerate()
            .map(|(i, w)| DocWrite::parse(w).map_err(|e| e.at_write(i)))
            .collect::<Result<_, _>>()?;
        Ok(Self { writes, key })
    }

    /// A commit of one write (what `set`, `update` and `delete` are).
    pub fn one(write: Write<Value>, key: Option<String>) -> Result<Self, ApiError> {
        Self::parse(vec![write], key).map_err(|e| e.indexed(false)) // there is no list to point into
    }

    /// Whether any write takes the commit's time.
    pub fn uses_server_time(&self) -> bool {
        self.writes.iter().any(|w| w.transforms.iter().any(|t| t.kind == Transform::ServerTimestamp))
    }

    /// Whether the commit writes anything (a commit of checks only does not: it takes no version).
    pub fn writes_anything(&self) -> bool {
        self.writes.iter().any(|w| w.op != Op::Check)
    }

    /// Applies the writes in order to the documents as `read` gives them (`read(path)`: the stored
    /// document or tombstone, if ever written; asked once per path), as version `version` at time
    /// `now_ms`. Every condition is checked against what the earlier writes of the commit left; the
    /// first that fails fails the commit, naming its write. What each written document becomes,
    /// in the order of first writes, each no more than `max_bytes` of JSON.
    pub fn apply(
        &self,
        version: u64,
        now_ms: i64,
        max_bytes: usize,
        mut read: impl FnMut(&str) -> Result<Option<StoredDoc>, ApiError>,
    ) -> Result<Vec<WrittenDoc>, ApiError> {
        struct Doc {
            existed: bool,
            /// What the commit has made of it so far.
            data: Held,
            /// Its version for conditions: 0 while missing.
            version: u64,
            written: bool,
        }
        let mut docs: HashMap<&str, Doc> = HashMap::new();
        let mut order: Vec<&str> = Vec::new();
        for (i, write) in self.writes.iter().enumerate() {
            let path = write.path.as_str();
            if !docs.contains_key(path) {
                let stored = read(path)?;
                let (data, version) = match stored {
                    Some(StoredDoc { version, data: Some(text) }) => (Held::Stored(text), version),
                    _ => (Held::Missing, 0),
                };
                docs.insert(path, Doc { existed: data.exists(), data, version, written: false });
            }
            let doc = docs.get_mut(path).expect("inserted above");
            let at = |e: ApiError| e.at_write(i);
            if let Some(condition) = write.condition {
                check(condition, path, doc.data.exists(), doc.version).map_err(at)?;
            }
            // A stored document is parsed only by the writes that build on it: a `set` or a `delete`
            // of one that cannot be read (written before a limit existed, say) still works.
            let data = match &write.op {
                Op::Check => continue,
                Op::Delete => None,
                Op::Set(data) => Some(data.clone()),
                Op::Merge(data) => {
                    let mut merged = doc.data.object()?.unwrap_or_default();
                    deep_merge(&mut merged, data);
                    Some(merged)
                }
                Op::Update(fields) => {
                    let Some(mut current) = doc.data.object()? else {
                        return Err(at(ApiError::new(ErrorCode::NotFound, format!("document {path} does not exist"))));
                    };
                    for (field, value) in fields {
                        set_field(&mut current, field, value.clone());
                    }
                    Some(current)
                }
            };
            let data = match data {
                Some(mut data) => {
                    for t in &write.transforms {
                        transform(&mut data, &t.field, &t.kind, now_ms).map_err(at)?;
                    }
                    Held::Parsed(data)
                }
                None => Held::Missing,
            };
            doc.data = data;
            doc.version = if doc.data.exists() { version } else { 0 };
            if !doc.written {
                doc.written = true;
                order.push(path);
            }
        }
        order
            .into_iter()
            .map(|path| {
                let doc = &docs[path];
                // The last write that changed it is the one that made it too big or too deep.
                let index = self.writes.iter().rposition(|w| w.path.as_str() == path && w.op != Op::Check).unwrap_or(0);
                let data = match &doc.data {
                    Held::Missing => None,
                    Held::Stored(text) => Some(text.clone()),
                    Held::Parsed(data) => {
                        if depth(data) > MAX_DEPTH {
                            return Err(ApiError::invalid(format!(
                                "document {path} would nest deeper than {MAX_DEPTH} levels"
                            ))
                            .at_write(index));
                        }
                        let text =
                            serde_json::to_string(data).map_err(|e| ApiError::internal("encoding a document", e))?;
                        if text.len() > max_bytes {
                            return Err(ApiError::invalid(format!(
                                "document {path} would be {} bytes of JSON; the limit is {max_bytes}",
                                text.len()
                            ))
                            .at_write(index));
                        }
                        Some(text)
                    }
                };
                Ok(WrittenDoc { path: path.to_owned(), existed: doc.existed, data })
            })
            .collect()
    }
}

/// Why the writes of a commit (a message's or a body's `writes`, as JSON) do not parse, naming the
/// first write that does not: so that a malformed write is blamed like a refused one, by its index.
/// `None` when each write parses on its own (what is wrong is elsewhere).
pub fn malformed_write(writes: &Value) -> Option<ApiError> {
    let Value::Array(writes) = writes else { return None };
    writes.iter().enumerate().find_map(|(i, w)| {
        let error = serde_json::from_value::<Write<Value>>(w.clone()).err()?;
        Some(ApiError::invalid(format!("invalid write: {error}")).at_write(i))
    })
}

impl DocWrite {
    fn parse(write: Write<Value>) -> Result<Self, ApiError> {
        let (path, op, transforms, condition) = match write {
            Write::Set { path, data, merge, transforms, condition } => {
                let data = object(data)?;
                (path, if merge { Op::Merge(data) } else { Op::Set(data) }, transforms, condition)
            }
            Write::Update { path, data, transforms, condition } => {
                let mut fields: Vec<(Vec<String>, Value)> = Vec::new();
                for (key, value) in object(data)? {
                    fields.push((field_path(&key)?, value));
                }
                // Sorted, a path and one inside it are neighbours.
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                for pair in fields.windows(2) {
                    if pair[1].0.starts_with(&pair[0].0) {
                        return Err(ApiError::invalid(format!(
                            "field paths \"{}\" and \"{}\" overlap: give one or the other",
                            pair[0].0.join("."),
                            pair[1].0.join(".")
                        )));
                    }
                }
                (path, Op::Update(fields), transforms, condition)
            }
            Write::Delete { path, condition } => (path, Op::Delete, Vec::new(), condition),
            Write::Check { path, condition } => (path, Op::Check, Vec::new(), Some(condition)),
        };
        let path = livepath_protocol::document_path(&path)?;
        let may_delete_fields = matches!(op, Op::Merge(_) | Op::Update(_));
        let transforms = transforms
            .into_iter()
            .map(|t| {
                let field = field_path(&t.field)?;
                let kind = match t.kind {
                    TransformKind::Increment(Value::Number(n)) => Transform::Increment(n),
                    TransformKind::Increment(_) => return Err(ApiError::invalid("increment takes a number")),
                    TransformKind::ArrayUnion(v) => Transform::ArrayUnion(list(v, "arrayUnion")?),
                    TransformKind::ArrayRemove(v) => Transform::ArrayRemove(list(v, "arrayRemove")?),
                    TransformKind::ServerTimestamp => Transform::ServerTimestamp,
                    TransformKind::DeleteField if may_delete_fields => Transform::DeleteField,
                    TransformKind::DeleteField => {
                        return Err(ApiError::invalid(format!(
                            "deleteField (on \"{}\") is only allowed in update and in set with merge",
                            t.field
                        )));
                    }
                };
                Ok(FieldTransform { field, kind })
            })
            .collect::<Result<_, ApiError>>()?;
        Ok(Self { path, op, transforms, condition })
    }
}

/// Whether a document that exists or not, at `version` (0 when missing), meets `condition`.
fn check(condition: Precondition, path: &str, exists: bool, version: u64) -> Result<(), ApiError> {
    match condition {
        Precondition::Exists(true) if !exists => {
            Err(ApiError::new(ErrorCode::NotFound, format!("document {path} does not exist")))
        }
        Precondition::Exists(false) if exists => {
            Err(ApiError::new(ErrorCode::AlreadyExists, format!("document {path} already exists")))
        }
        Precondition::Version(want) if want != version => Err(ApiError::new(
            ErrorCode::FailedPrecondition,
            if exists {
                format!("document {path} is at version {version}, not {want}")
            } else {
                format!("document {path} does not exist (version 0), not at version {want}")
            },
        )),
        _ => Ok(()),
    }
}

/// Merges `from` into `into`: objects member by member, anything else replaces.
fn deep_merge(into: &mut Object, from: &Object) {
    for (key, value) in from {
        match (into.get_mut(key), value) {
            (Some(Value::Object(inner)), Value::Object(more)) => deep_merge(inner, more),
            _ => {
                into.insert(key.clone(), value.clone());
            }
        }
    }
}

/// The object that holds `field`'s last segment, made (and parents that are not objects replaced)
/// on the way.
fn parent_of<'a>(data: &'a mut Object, field: &[String]) -> &'a mut Object {
    let mut at = data;
    for segment in &field[..field.len() - 1] {
        let slot = at.entry(segment.clone()).or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        at = slot.as_object_mut().expect("made an object above");
    }
    at
}

fn set_field(data: &mut Object, field: &[String], value: Value) {
    parent_of(data, field).insert(field[field.len() - 1].clone(), value);
}

/// The value at `field`, if every parent is an object and the member is there.
fn get_field<'a>(data: &'a Object, field: &[String]) -> Option<&'a Value> {
    let mut at = data.get(&field[0])?;
    for segment in &field[1..] {
        at = at.as_object()?.get(segment)?;
    }
    Some(at)
}

fn remove_field(data: &mut Object, field: &[String]) {
    let mut at = data;
    for segment in &field[..field.len() - 1] {
        match at.get_mut(segment).and_then(Value::as_object_mut) {
            Some(inner) => at = inner,
            None => return,
        }
    }
    at.remove(&field[field.len() - 1]);
}

/// A number as an integer when it is one (saturated to the bounds of `i64`), else `None`.
fn integer(n: &Number) -> Option<i64> {
    n.as_i64().or_else(|| n.as_u64().map(|_| i64::MAX))
}

fn sum(a: &Number, b: &Number) -> Result<Number, ApiError> {
    if let (Some(a), Some(b)) = (integer(a), integer(b)) {
        return Ok(Number::from(a.saturating_add(b)));
    }
    let (a, b) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
    Number::from_f64(a + b).ok_or_else(|| ApiError::invalid("increment would make a number JSON cannot hold"))
}

/// A JSON value in the order queries compare values by (`1 == 1.0`; objects whatever the order of
/// their members).
fn ordered(value: &Value) -> Ordered {
    serde::Deserialize::deserialize(value).unwrap_or(Ordered::Null)
}

/// The elements of `items`, each kept only the first time an equal one appears (and not at all when
/// `seen` holds an equal one already), in order; `seen` gains them. A sorted set: a long list costs
/// `n log n`, not `n²`.
fn distinct(items: &[Value], seen: &mut BTreeSet<Ordered>) -> Vec<Value> {
    let mut out = Vec::new();
    for item in items {
        if seen.insert(ordered(item)) {
            out.push(item.clone());
        }
    }
    out
}

fn transform(data: &mut Object, field: &[String], kind: &Transform, now_ms: i64) -> Result<(), ApiError> {
    let current = get_field(data, field);
    let next = match kind {
        Transform::DeleteField => {
            remove_field(data, field);
            return Ok(());
        }
        Transform::ServerTimestamp => Value::from(now_ms),
        Transform::Increment(by) => match current {
            Some(Value::Number(n)) => Value::Number(sum(n, by)?),
            _ => Value::Number(by.clone()),
        },
        Transform::ArrayUnion(items) => match current {
            Some(Value::Array(existing)) => {
                let mut seen: BTreeSet<Ordered> = existing.iter().map(ordered).collect();
                let mut out = existing.clone();
                out.extend(distinct(items, &mut seen));
                Value::Array(out)
            }
            _ => Value::Array(distinct(items, &mut BTreeSet::new())),
        },
        Transform::ArrayRemove(items) => match current {
            Some(Value::Array(existing)) => {
                let remove: BTreeSet<Ordered> = items.iter().map(ordered).collect();
                Value::Array(existing.iter().filter(|e| !remove.contains(&ordered(e))).cloned().collect())
            }
            _ => Value::Array(Vec::new()),
        },
    };
    set_field(data, field, next);
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn commit(writes: Value) -> Commit {
        Commit::parse(serde_json::from_value(writes).expect("writes"), None).expect("a valid commit")
    }

    /// Applies `writes` to `before` (path -> data) as version 10 at time 1000.
    fn run(before: &[(&str, Value)], writes: Value) -> Result<Vec<(String, Option<Value>)>, ApiError> {
        let stored: HashMap<String, StoredDoc> = before
            .iter()
            .map(|(p, d)| ((*p).to_owned(), StoredDoc { version: 5, data: Some(d.to_string()) }))
            .collect();
        let written = commit(writes).apply(10, 1000, 1 << 20, |p| Ok(stored.get(p).cloned()))?;
        Ok(written.into_iter().map(|w| (w.path, w.data.map(|t| serde_json::from_str(&t).expect("json")))).collect())
    }

    fn one(before: Value, write: Value) -> Value {
        let mut out = run(&[("c/d", before)], json!([write])).expect("applies");
        out.pop().and_then(|(_, d)| d).expect("a document")
    }

    #[test]
    fn merge_is_deep_for_objects_and_replaces_anything_else() {
        let after = one(
            json!({"a":{"x":1,"y":{"z":1}},"b":[1,2],"c":1}),
            json!({"op":"set","path":"c/d","merge":true,"data":{"a":{"y":{"w":2}},"b":[3],"c":{"n":1}}}),
        );
        assert_eq!(after, json!({"a":{"x":1,"y":{"z":1,"w":2}},"b":[3],"c":{"n":1}}));
    }

    #[test]
    fn update_sets_field_paths_making_parents_and_replacing_parents_that_are_not_objects() {
        let after = one(
            json!({"a":{"x":1},"s":"text","keep":true}),
            json!({"op":"update","path":"c/d","data":{"a.y":2,"s.t":3,"new.deep.er":4}}),
        );
        assert_eq!(after, json!({"a":{"x":1,"y":2},"s":{"t":3},"new":{"deep":{"er":4}},"keep":true}));
    }

    #[test]
    fn increments_keep_integers_saturate_and_turn_fractions_into_fractions() {
        let inc = |before: Value, by: Value| {
            one(
                json!({"n": before}),
                json!({"op":"update","path":"c/d","data":{},"transforms":[{"field":"n","increment":by}]}),
            )["n"]
                .clone()
        };
        assert_eq!(inc(json!(2), json!(3)).to_string(), "5");
        assert_eq!(inc(json!(i64::MAX - 1), json!(5)), json!(i64::MAX));
        assert_eq!(inc(json!(i64::MIN + 1), json!(-5)), json!(i64::MIN));
        assert_eq!(inc(json!(1), json!(0.5)), json!(1.5));
        assert_eq!(inc(json!("text"), json!(2)), json!(2), "a non-number becomes the operand");
        assert_eq!(inc(json!(null), json!(2.5)), json!(2.5));
        let missing =
            one(json!({}), json!({"op":"update","path":"c/d","data":{},"transforms":[{"field":"a.n","increment":1}]}));
        assert_eq!(missing, json!({"a":{"n":1}}));
    }

    #[test]
    fn array_union_and_remove_compare_values_as_queries_do() {
        let t = |before: Value, kind: &str, operand: Value| {
            one(
                json!({"a": before}),
                json!({"op":"update","path":"c/d","data":{},"transforms":[{"field":"a",kind:operand}]}),
            )["a"]
                .clone()
        };
        assert_eq!(t(json!([1, "x"]), "arrayUnion", json!([1.0, 2, 2, {"k":1}])), json!([1, "x", 2, {"k":1}]));
        assert_eq!(t(json!("no"), "arrayUnion", json!([3, 3, 3.0])), json!([3]));
        assert_eq!(t(json!([1, 2.0, 2, {"a":1,"b":2}]), "arrayRemove", json!([2, {"b":2,"a":1}])), json!([1]));
        assert_eq!(t(json!(5), "arrayRemove", json!([5])), json!([]));
    }

    #[test]
    fn a_server_timestamp_is_the_commits_time_in_every_write() {
        let out = run(
            &[],
            json!([
                {"op":"set","path":"c/a","data":{},"transforms":[{"field":"at","serverTimestamp":true}]},
                {"op":"set","path":"c/b","data":{"x":1},"transforms":[{"field":"m.at","serverTimestamp":true}]}
            ]),
        )
        .unwrap();
        assert_eq!(out[0].1, Some(json!({"at":1000})));
        assert_eq!(out[1].1, Some(json!({"x":1,"m":{"at":1000}})));
    }

    #[test]
    fn delete_field_removes_a_field_and_is_refused_where_nothing_could_be_left_out() {
        let after = one(
            json!({"a":{"b":1,"c":2},"d":3}),
            json!({"op":"update","path":"c/d","data":{},"transforms":[{"field":"a.b","deleteField":true},{"field":"x.y","deleteField":true}]}),
        );
        assert_eq!(after, json!({"a":{"c":2},"d":3}));
        let plain: Vec<Write<Value>> = serde_json::from_value(
            json!([{"op":"set","path":"c/d","data":{},"transforms":[{"field":"a","deleteField":true}]}]),
        )
        .unwrap();
        assert_eq!(Commit::parse(plain, None).unwrap_err().code, ErrorCode::InvalidArgument);
    }

    #[test]
    fn conditions_fail_with_their_own_codes_against_what_earlier_writes_left() {
        let code = |before: &[(&str, Value)], writes: Value| run(before, writes).map_err(|e| (e.code, e.write));
        let doc = [("c/d", json!({}))];
        assert_eq!(
            code(&doc, json!([{"op":"set","path":"c/d","data":{},"if":{"exists":false}}])),
            Err((ErrorCode::AlreadyExists, Some(0)))
        );
        assert_eq!(
            code(&[], json!([{"op":"delete","path":"c/d","if":{"exists":true}}])),
            Err((ErrorCode::NotFound, Some(0)))
        );
        assert_eq!(
            code(&doc, json!([{"op":"check","path":"c/d","if":{"version":4}}])),
            Err((ErrorCode::FailedPrecondition, Some(0)))
        );
        assert!(code(&doc, json!([{"op":"check","path":"c/d","if":{"version":5}}])).is_ok());
        assert!(code(&[], json!([{"op":"check","path":"c/x","if":{"version":0}}])).is_ok(), "missing is version 0");
        // The second write sees the first: the document now exists at the commit's version.
        assert!(
            code(
                &[],
                json!([
                    {"op":"set","path":"c/n","data":{}},
                    {"op":"check","path":"c/n","if":{"version":10}},
                    {"op":"update","path":"c/n","data":{"a":1},"if":{"exists":true}}
                ])
            )
            .is_ok()
        );
        assert_eq!(
            code(
                &doc,
                json!([
                    {"op":"delete","path":"c/d"},
                    {"op":"set","path":"c/e","data":{}},
                    {"op":"update","path":"c/d","data":{"a":1}}
                ])
            ),
            Err((ErrorCode::NotFound, Some(2)))
        );
    }

    #[test]
    fn a_document_written_twice_is_reported_once_with_its_final_state_and_what_it_was_before() {
        let stored = StoredDoc { version: 5, data: Some(r#"{"n":1}"#.into()) };
        let written = commit(json!([
            {"op":"delete","path":"c/d"},
            {"op":"set","path":"c/e","data":{}},
            {"op":"set","path":"c/d","data":{"n":2}}
        ]))
        .apply(10, 0, 1 << 20, |p| Ok((p == "c/d").then(|| stored.clone())))
        .unwrap();
        assert_eq!(
            written,
            [
                WrittenDoc { path: "c/d".into(), existed: true, data: Some(r#"{"n":2}"#.into()) },
                WrittenDoc { path: "c/e".into(), existed: false, data: Some("{}".into()) },
            ]
        );
    }

    #[test]
    fn commits_are_refused_when_empty_too_long_or_holding_overlapping_or_empty_field_paths() {
        let parse = |writes: Value| {
            Commit::parse(serde_json::from_value(writes).unwrap(), None).map(|_| ()).map_err(|e| (e.code, e.write))
        };
        assert_eq!(parse(json!([])), Err((ErrorCode::InvalidArgument, None)));
        let many: Vec<Value> = (0..=MAX_WRITES).map(|i| json!({"op":"delete","path":format!("c/{i}")})).collect();
        assert_eq!(parse(Value::Array(many)), Err((ErrorCode::InvalidArgument, None)));
        assert_eq!(
            parse(json!([{"op":"delete","path":"c/ok"},{"op":"update","path":"c/d","data":{"a":1,"a.b":2}}])),
            Err((ErrorCode::InvalidArgument, Some(1)))
        );
        assert_eq!(
            parse(json!([{"op":"update","path":"c/d","data":{"a..b":1}}])),
            Err((ErrorCode::InvalidArgument, Some(0)))
        );
        assert_eq!(parse(json!([{"op":"set","path":"c","data":{}}])), Err((ErrorCode::InvalidArgument, Some(0))));
        assert_eq!(
            parse(json!([{"op":"set","path":"c/d","data":{},"transforms":[{"field":"n","increment":"1"}]}])),
            Err((ErrorCode::InvalidArgument, Some(0)))
        );
    }

    #[test]
    fn long_array_transforms_take_sorted_sets_not_quadratic_scans() {
        // 40,000 distinct elements, half already there: many seconds if quadratic, milliseconds here.
        let existing: Vec<Value> = (0..20_000).map(Value::from).collect();
        let operand: Vec<Value> = (10_000..50_000).map(Value::from).collect();
        let after = one(
            json!({"a": existing}),
            json!({"op":"update","path":"c/d","data":{},"transforms":[
                {"field":"a","arrayUnion":operand},{"field":"b","arrayUnion":operand}]}),
        );
        assert_eq!(after["a"].as_array().map(Vec::len), Some(50_000));
        assert_eq!(after["b"].as_array().map(Vec::len), Some(40_000));
        assert_eq!(after["a"][20_000], json!(20_000), "new elements follow, in the operand's order");
    }

    #[test]
    fn a_write_nesting_a_document_too_deep_is_refused_and_one_stored_unreadable_can_still_be_replaced() {
        let deep = (0..MAX_DEPTH + 5).map(|_| "a").collect::<Vec<_>>().join(".");
        let writes: Vec<Write<Value>> =
            serde_json::from_value(json!([{"op":"update","path":"c/d","data":{ deep: 1 }}])).unwrap();
        assert_eq!(Commit::parse(writes, None).unwrap_err().code, ErrorCode::InvalidArgument);
        // Nested by a field path of fewer segments onto data that is deep already.
        let mut nested = json!(1);
        for _ in 0..60 {
            nested = json!({ "x": nested });
        }
        let path = (0..60).map(|_| "y").collect::<Vec<_>>().join(".");
        let stored = StoredDoc { version: 1, data: Some(json!({ "n": nested }).to_string()) };
        let c =
            commit(json!([{"op":"set","path":"c/e","data":{}},{"op":"update","path":"c/d","data":{ path: nested }}]));
        let error = c.apply(2, 0, 1 << 20, |_| Ok(Some(stored.clone()))).unwrap_err();
        assert_eq!((error.code, error.write), (ErrorCode::InvalidArgument, Some(1)));
        // A stored document that does not parse is not read by a set or a delete.
        let broken = StoredDoc { version: 1, data: Some("{not json".into()) };
        for op in [json!({"op":"set","path":"c/d","data":{}}), json!({"op":"delete","path":"c/d","if":{"exists":true}})]
        {
            assert!(commit(json!([op])).apply(2, 0, 1 << 20, |_| Ok(Some(broken.clone()))).is_ok());
        }
    }

    #[test]
    fn a_malformed_write_is_named_by_its_index() {
        let writes = json!([{"op":"delete","path":"c/a"},{"op":"check","path":"c/b"},{"op":"nope"}]);
        let error = malformed_write(&writes).expect("write 1 does not parse");
        assert_eq!((error.code, error.write), (ErrorCode::InvalidArgument, Some(1)));
        assert!(error.message.contains("`if`"), "{}", error.message);
        assert!(malformed_write(&json!([{"op":"delete","path":"c/a"}])).is_none());
    }

    #[test]
    fn a_commit_leaving_a_document_over_the_limit_fails_on_its_last_write_to_it() {
        let writes = json!([
            {"op":"set","path":"c/d","data":{"s":"x"}},
            {"op":"set","path":"c/e","data":{}},
            {"op":"update","path":"c/d","data":{"t":"y".repeat(100)}}
        ]);
        let error = commit(writes).apply(1, 0, 50, |_| Ok(None)).unwrap_err();
        assert_eq!((error.code, error.write), (ErrorCode::InvalidArgument, Some(2)));
    }
}

/// For tests of the stores and the engine: a commit of the writes `writes` lists (wire form).
#[cfg(test)]
pub fn of(writes: Value) -> Commit {
    Commit::parse(serde_json::from_value(writes).expect("writes in wire form"), None).expect("a valid commit")
}

/// For tests: `of` with an idempotency key.
#[cfg(test)]
pub fn keyed(writes: Value, key: &str) -> Commit {
    Commit { key: Some(key.to_owned()), ..of(writes) }
}
