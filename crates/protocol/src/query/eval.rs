//! Evaluation: whether a document is in a query's result, its [`Key`] there, and the order of keys.

use core::cmp::Ordering;
use std::borrow::Cow;

use super::{Direction, Filter, Op, Query, Value};

/// A document as a query reads it: the value of a field, if present.
pub trait Document {
    /// The value at `field`, a dotted path (`"author.name"`); `None` when it is missing. Borrowed
    /// where the document holds values already (a [`Value`]), made where it must be converted.
    fn field(&self, field: &str) -> Option<Cow<'_, Value>>;
}

/// A document held as a [`Value`] (an object).
impl Document for Value {
    fn field(&self, field: &str) -> Option<Cow<'_, Value>> {
        let mut value = self;
        for name in field.split('.') {
            value = value.get(name)?;
        }
        Some(Cow::Borrowed(value))
    }
}

/// Where a document sits in a query's order: the values of its `orderBy` fields, then its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// One value per `orderBy` field, in order.
    pub values: Vec<Value>,
    /// The document id.
    pub id: String,
}

impl Filter {
    /// Whether a field holding `value` meets this filter (a missing field meets none).
    pub fn matches(&self, value: &Value) -> bool {
        let list: &[Value] = match &self.value {
            Value::Array(items) => items,
            _ => &[],
        };
        let same_type = value.rank() == self.value.rank();
        match self.op {
            Op::Eq => *value == self.value,
            Op::Ne => *value != self.value,
            Op::Lt => same_type && *value < self.value,
            Op::Le => same_type && *value <= self.value,
            Op::Gt => same_type && *value > self.value,
            Op::Ge => same_type && *value >= self.value,
            Op::In => list.contains(value),
            Op::NotIn => !list.contains(value),
            Op::ArrayContains => matches!(value, Value::Array(items) if items.contains(&self.value)),
            Op::ArrayContainsAny => matches!(value, Value::Array(items) if items.iter().any(|i| list.contains(i))),
        }
    }
}

impl Query {
    /// The key of document `id` in this query's result, or `None` when it is not in it: a filter
    /// fails, an `orderBy` field is missing, or a cursor leaves it out. The limit is not applied
    /// here (it depends on the other documents): see [`Query::run`].
    pub fn evaluate(&self, id: &str, doc: &impl Document) -> Option<Key> {
        for filter in &self.filters {
            if !filter.matches(&*doc.field(&filter.field)?) {
                return None;
            }
        }
        let mut values = Vec::with_capacity(self.order_by.len());
        for order in &self.order_by {
            values.push(doc.field(&order.field)?.into_owned());
        }
        if let Some(cursor) = &self.start_after {
            if self.compare_values(&values, cursor) != Ordering::Greater {
                return None;
            }
        }
        if let Some(cursor) = &self.end_before {
            if self.compare_values(&values, cursor) != Ordering::Less {
                return None;
            }
        }
        Some(Key { values, id: id.to_owned() })
    }

    /// The order of two keys in the result: by the `orderBy` fields, each in its direction, then by
    /// id in the direction of the last one.
    pub fn compare(&self, a: &Key, b: &Key) -> Ordering {
        self.compare_values(&a.values, &b.values).then_with(|| {
            let by_id = a.id.as_bytes().cmp(b.id.as_bytes());
            match self.order_by.last() {
                Some(order) if order.direction == Direction::Desc => by_id.reverse(),
                _ => by_id,
            }
        })
    }

    /// `values` against `other`, field by field in the query's directions, over as many fields as
    /// the shorter has (a cursor may give fewer values than there are `orderBy` fields).
    fn compare_values(&self, values: &[Value], other: &[Value]) -> Ordering {
        for ((a, b), order) in values.iter().zip(other).zip(&self.order_by) {
            let by_field = match order.direction {
                Direction::Asc => a.cmp(b),
                Direction::Desc => b.cmp(a),
            };
            if by_field != Ordering::Equal {
                return by_field;
            }
        }
        Ordering::Equal
    }

    /// The result over `docs` (each an id and a document): the matching ones in order, at most
    /// `limit` of them, each with its key. The reference the stores' and windows' results are
    /// measured against.
    pub fn run<T: Document>(&self, docs: impl IntoIterator<Item = (String, T)>) -> Vec<(Key, T)> {
        let mut result: Vec<(Key, T)> =
            docs.into_iter().filter_map(|(id, doc)| Some((self.evaluate(&id, &doc)?, doc))).collect();
        result.sort_by(|a, b| self.compare(&a.0, &b.0));
        if let Some(limit) = self.limit {
            result.truncate(limit as usize);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(json: &str) -> Value {
        serde_json::from_str(json).unwrap()
    }

    fn q(json: &str) -> Query {
        let query: Query = serde_json::from_str(json).unwrap();
        query.check().unwrap();
        query
    }

    /// The ids of `docs` (id, JSON) that `query` keeps, in its order.
    fn ids(query: &str, docs: &[(&str, &str)]) -> Vec<String> {
        let docs = docs.iter().map(|(id, json)| (id.to_string(), v(json)));
        q(query).run(docs).into_iter().map(|(key, _)| key.id).collect()
    }

    fn filter(op: &str, operand: &str, field: &str) -> bool {
        let query = q(&format!("{{\"where\":[[\"f\",\"{op}\",{operand}]]}}"));
        let doc = if field.is_empty() { v("{}") } else { v(&format!("{{\"f\":{field}}}")) };
        query.evaluate("d", &doc).is_some()
    }

    #[test]
    fn equality_compares_values_across_number_forms_and_object_member_order() {
        assert!(filter("==", "1", "1.0"));
        assert!(filter("==", "{\"a\":1,\"b\":2}", "{\"b\":2,\"a\":1}"));
        assert!(filter("==", "null", "null"));
        assert!(!filter("==", "1", "\"1\""));
        assert!(!filter("==", "false", "null"));
        assert!(!filter("==", "null", ""), "a missing field is not null");
        assert!(filter("!=", "1", "2"));
        assert!(filter("!=", "1", "null"), "null is present, and not 1");
        assert!(filter("!=", "1", "\"1\""));
        assert!(!filter("!=", "1", "1.0"));
        assert!(!filter("!=", "1", ""), "!= needs the field present");
    }

    #[test]
    fn ranges_match_only_values_of_the_operands_type() {
        assert!(filter("<", "2", "1"));
        assert!(!filter("<", "2", "2"));
        assert!(filter("<=", "2", "2.0"));
        assert!(filter(">", "2", "2.5"));
        assert!(filter(">=", "2", "2"));
        assert!(!filter(">", "2", "\"3\""), "a string is above every number, but not of its type");
        assert!(!filter("<", "\"a\"", "1"), "a number is below every string, but not of its type");
        assert!(!filter("<", "2", "null"));
        assert!(!filter(">", "false", "1"));
        assert!(filter(">", "false", "true"));
        assert!(filter("<", "\"b\"", "\"a\""));
        assert!(filter("<", "\"a\"", "\"B\""), "strings by byte: upper case first");
        assert!(!filter("<", "\"B\"", "\"a\""));
        assert!(filter(">", "[1]", "[1, 0]"));
        assert!(filter("<", "{\"a\":2}", "{\"a\":1,\"z\":9}"));
        assert!(!filter(">", "[1]", "{\"a\":1}"));
        assert!(!filter("<", "1", ""));
    }

    #[test]
    fn lists_and_arrays() {
        assert!(filter("in", "[1, \"a\"]", "\"a\""));
        assert!(filter("in", "[[1, 2]]", "[1, 2]"), "an array field equals an array in the list");
        assert!(!filter("in", "[1, 2]", "3"));
        assert!(!filter("in", "[1, 2]", "[1]"));
        assert!(filter("not-in", "[1, 2]", "3"));
        assert!(filter("not-in", "[1, 2]", "null"));
        assert!(!filter("not-in", "[1, 2]", "2.0"));
        assert!(!filter("not-in", "[1, 2]", ""), "not-in needs the field present");
        assert!(filter("array-contains", "\"x\"", "[\"a\", \"x\"]"));
        assert!(filter("array-contains", "{\"k\":1}", "[{\"k\":1.0}]"));
        assert!(!filter("array-contains", "\"x\"", "\"x\""), "the field must be an array");
        assert!(!filter("array-contains", "\"x\"", "[[\"x\"]]"));
        assert!(filter("array-contains-any", "[\"y\", 2]", "[1, 2, 3]"));
        assert!(!filter("array-contains-any", "[\"y\", 4]", "[1, 2, 3]"));
        assert!(!filter("array-contains-any", "[1]", "1"));
    }

    #[test]
    fn nested_fields_are_dotted_paths_and_anything_in_the_way_makes_them_missing() {
        let query = q(r#"{"where":[["author.name","==","ana"]]}"#);
        assert!(query.evaluate("d", &v(r#"{"author":{"name":"ana"}}"#)).is_some());
        assert!(query.evaluate("d", &v(r#"{"author":{"name":"bo"}}"#)).is_none());
        assert!(query.evaluate("d", &v(r#"{"author":"ana"}"#)).is_none());
        assert!(query.evaluate("d", &v(r#"{"author.name":"ana"}"#)).is_none(), "a dotted member name is not the path");
        assert!(query.evaluate("d", &v(r#"{"author":[{"name":"ana"}]}"#)).is_none(), "no path into arrays");
    }

    #[test]
    fn order_is_by_fields_in_their_directions_and_ties_by_id_in_the_last_direction() {
        let docs = [
            ("a", r#"{"n":2,"s":"x"}"#),
            ("b", r#"{"n":1,"s":"y"}"#),
            ("c", r#"{"n":2,"s":"y"}"#),
            ("d", r#"{"n":2,"s":"x"}"#),
            ("e", r#"{"s":"z"}"#),
            ("f", r#"{"n":"2","s":"x"}"#),
            ("g", r#"{"n":null,"s":"x"}"#),
        ];
        assert_eq!(ids(r#"{"orderBy":[["n"]]}"#, &docs), ["g", "b", "a", "c", "d", "f"], "e has no n");
        assert_eq!(ids(r#"{"orderBy":[["n","desc"]]}"#, &docs), ["f", "d", "c", "a", "b", "g"]);
        assert_eq!(ids(r#"{"orderBy":[["n","desc"],["s","asc"]]}"#, &docs), ["f", "a", "d", "c", "b", "g"]);
        assert_eq!(ids(r#"{"orderBy":[["s","desc"],["n","asc"]]}"#, &docs), ["b", "c", "g", "a", "d", "f"]);
        assert_eq!(ids(r#"{}"#, &docs), ["a", "b", "c", "d", "e", "f", "g"], "no orderBy: by id");
        assert_eq!(ids(r#"{"where":[["n","==",2]]}"#, &docs), ["a", "c", "d"]);
        assert_eq!(ids(r#"{"orderBy":[["n"]],"limit":2}"#, &docs), ["g", "b"]);
    }

    #[test]
    fn cursors_keep_what_is_strictly_after_or_before_and_may_name_a_prefix() {
        let docs =
            [("a", r#"{"n":1,"m":1}"#), ("b", r#"{"n":2,"m":1}"#), ("c", r#"{"n":2,"m":2}"#), ("d", r#"{"n":3}"#)];
        assert_eq!(ids(r#"{"orderBy":[["n"]],"startAfter":[1]}"#, &docs), ["b", "c", "d"]);
        assert_eq!(ids(r#"{"orderBy":[["n"]],"startAfter":[2]}"#, &docs), ["d"]);
        assert_eq!(ids(r#"{"orderBy":[["n"],["m"]],"startAfter":[2,1]}"#, &docs), ["c"], "d has no m");
        assert_eq!(ids(r#"{"orderBy":[["n"],["m"]],"startAfter":[2]}"#, &docs), Vec::<String>::new());
        assert_eq!(ids(r#"{"orderBy":[["n","desc"]],"startAfter":[3]}"#, &docs), ["c", "b", "a"]);
        assert_eq!(ids(r#"{"orderBy":[["n"]],"endBefore":[2]}"#, &docs), ["a"]);
        assert_eq!(ids(r#"{"orderBy":[["n"]],"startAfter":[1],"endBefore":[3],"limit":1}"#, &docs), ["b"]);
        assert_eq!(
            ids(r#"{"orderBy":[["n"]],"startAfter":["a"]}"#, &docs),
            Vec::<String>::new(),
            "strings follow numbers"
        );
    }

    #[test]
    fn several_filters_all_apply_including_inequalities_on_different_fields() {
        let docs =
            [("a", r#"{"x":1,"y":5}"#), ("b", r#"{"x":3,"y":5}"#), ("c", r#"{"x":3,"y":9}"#), ("d", r#"{"x":3}"#)];
        assert_eq!(ids(r#"{"where":[["x",">",2],["y","<",7]]}"#, &docs), ["b"]);
        assert_eq!(ids(r#"{"where":[["x",">",2],["y","!=",5]],"orderBy":[["y","desc"]]}"#, &docs), ["c"]);
    }
}
