//! Which of a query's filters a store's SQL can use to narrow the documents it reads, before the
//! exact evaluation (`livepath_protocol::query`) runs on what is left.
//!
//! A [`Narrow`] may let through documents the filter refuses (the evaluation drops them), never
//! the other way round: each store renders it only where its SQL keeps every matching document.
//! Filters left out (`!=`, `not-in`, the array operators, operands that are arrays or objects,
//! fields whose names hold a `"` or a `\`) narrow nothing; the evaluation alone decides them.

use livepath_protocol::query::{Op, Query, Value};

/// A scalar operand: what SQL can compare.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string.
    String(String),
}

/// A condition SQL can check on the field at `path` (its segments).
#[derive(Debug, Clone, PartialEq)]
pub struct Narrow {
    /// The field's segments: `author.name` is `["author", "name"]`.
    pub path: Vec<String>,
    /// What the field must be.
    pub test: Test,
}

/// What a narrowed field must be.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// Equal to one of these (one value for `==`).
    OneOf(Vec<Scalar>),
    /// Compared with `op` (`<`, `<=`, `>`, `>=`) to the scalar, of its type.
    Range(Op, Scalar),
}

fn scalar(value: &Value) -> Option<Scalar> {
    match value {
        Value::Bool(b) => Some(Scalar::Bool(*b)),
        Value::Number(n) => Some(Scalar::Number(*n)),
        Value::String(s) => Some(Scalar::String(s.clone())),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// The conditions of `query` that can narrow a store's read.
pub fn narrows(query: &Query) -> Vec<Narrow> {
    let mut narrows = Vec::new();
    for filter in &query.filters {
        // Quotes and backslashes would need escaping in a JSON path, which the stores do not do.
        if filter.field.contains(['"', '\\']) {
            continue;
        }
        let test = match (filter.op, &filter.value) {
            (Op::Eq, value) => scalar(value).map(|s| Test::OneOf(vec![s])),
            (Op::In, Value::Array(items)) => items.iter().map(scalar).collect::<Option<Vec<_>>>().map(Test::OneOf),
            (op @ (Op::Lt | Op::Le | Op::Gt | Op::Ge), value) => scalar(value).map(|s| Test::Range(op, s)),
            _ => None,
        };
        if let Some(test) = test {
            narrows.push(Narrow { path: filter.field.split('.').map(str::to_owned).collect(), test });
        }
    }
    narrows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equalities_lists_and_ranges_on_scalars_narrow_and_the_rest_is_left_to_the_evaluation() {
        let query: Query = serde_json::from_str(
            r#"{"where":[["a.b","==","x"],["n","in",[1,true]],["m",">=",2],["q","!=",1],["l","in",[[1]]],
                ["o","==",{"k":1}],["z","==",null],["t","array-contains","x"],["has\"quote","==",1],
                ["back\\slash","==",1]]}"#,
        )
        .unwrap();
        assert_eq!(
            narrows(&query),
            [
                Narrow { path: vec!["a".into(), "b".into()], test: Test::OneOf(vec![Scalar::String("x".into())]) },
                Narrow { path: vec!["n".into()], test: Test::OneOf(vec![Scalar::Number(1.0), Scalar::Bool(true)]) },
                Narrow { path: vec!["m".into()], test: Test::Range(Op::Ge, Scalar::Number(2.0)) },
            ]
        );
    }
}
