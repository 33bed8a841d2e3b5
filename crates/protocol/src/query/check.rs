//! The limits a query must keep, checked before it runs: each broken rule has its own message.

use core::fmt;

use super::{Op, Query, Value};

/// The most filters in one query.
pub const MAX_FILTERS: usize = 10;
/// The most values in the list of an `in`, `not-in` or `array-contains-any` filter.
pub const MAX_VALUES: usize = 30;
/// The largest `limit`.
pub const MAX_LIMIT: u32 = 10_000;
/// The most `orderBy` fields.
pub const MAX_ORDER_BY: usize = 10;
/// The longest field path, in bytes.
pub const MAX_FIELD_BYTES: usize = 1500;

/// Why a query was refused; the text says which rule it broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError(pub String);

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for QueryError {}

fn refuse<T>(message: impl Into<String>) -> Result<T, QueryError> {
    Err(QueryError(message.into()))
}

/// A field path: not empty, no empty segment, at most [`MAX_FIELD_BYTES`].
fn check_field(field: &str) -> Result<(), QueryError> {
    if field.is_empty() {
        return refuse("a query field cannot be empty");
    }
    if field.len() > MAX_FIELD_BYTES {
        return refuse(format!("a query field is at most {MAX_FIELD_BYTES} bytes"));
    }
    if field.split('.').any(str::is_empty) {
        return refuse(format!("query field \"{field}\" has an empty segment (no leading, trailing or double '.')"));
    }
    Ok(())
}

fn check_finite(value: &Value, what: &str) -> Result<(), QueryError> {
    if value.is_finite() { Ok(()) } else { refuse(format!("{what} holds a number that is not finite")) }
}

impl Query {
    /// Checks the query against the rules of [`crate::query`]: at most [`MAX_FILTERS`] filters,
    /// lists of 1 to [`MAX_VALUES`] values where an operator takes one, no `null` operand for a
    /// range, at most [`MAX_ORDER_BY`] `orderBy` fields with none twice, a `limit` from 1 to
    /// [`MAX_LIMIT`], and cursors of 1 value up to one per `orderBy` field.
    pub fn check(&self) -> Result<(), QueryError> {
        if self.filters.len() > MAX_FILTERS {
            return refuse(format!("a query has at most {MAX_FILTERS} filters; this one has {}", self.filters.len()));
        }
        for filter in &self.filters {
            check_field(&filter.field)?;
            check_finite(&filter.value, "a filter's value")?;
            match (&filter.value, filter.op) {
                (Value::Array(items), op) if op.takes_list() && (items.is_empty() || items.len() > MAX_VALUES) => {
                    return refuse(format!(
                        "the '{}' filter on \"{}\" needs 1 to {MAX_VALUES} values; it has {}",
                        op.as_str(),
                        filter.field,
                        items.len()
                    ));
                }
                (Value::Array(_), _) => {}
                (_, op) if op.takes_list() => {
                    return refuse(format!(
                        "the '{}' filter on \"{}\" needs a list of values",
                        op.as_str(),
                        filter.field
                    ));
                }
                (Value::Null, op @ (Op::Lt | Op::Le | Op::Gt | Op::Ge)) => {
                    return refuse(format!(
                        "the '{}' filter on \"{}\" cannot compare with null: use '==' or '!='",
                        op.as_str(),
                        filter.field
                    ));
                }
                _ => {}
            }
        }
        if self.order_by.len() > MAX_ORDER_BY {
            return refuse(format!("a query orders by at most {MAX_ORDER_BY} fields"));
        }
        for (i, order) in self.order_by.iter().enumerate() {
            check_field(&order.field)?;
            if self.order_by[..i].iter().any(|o| o.field == order.field) {
                return refuse(format!("the query orders by \"{}\" twice", order.field));
            }
        }
        if let Some(limit) = self.limit {
            if limit == 0 || limit > MAX_LIMIT {
                return refuse(format!("a query's limit is between 1 and {MAX_LIMIT}; this one is {limit}"));
            }
        }
        for (name, cursor) in [("startAfter", &self.start_after), ("endBefore", &self.end_before)] {
            let Some(values) = cursor else { continue };
            if self.order_by.is_empty() {
                return refuse(format!("{name} needs an orderBy: its values are those of the orderBy fields"));
            }
            if values.is_empty() || values.len() > self.order_by.len() {
                return refuse(format!(
                    "{name} takes 1 to {} values (one per orderBy field); it has {}",
                    self.order_by.len(),
                    values.len()
                ));
            }
            for value in values {
                check_finite(value, name)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(json: &str) -> String {
        match serde_json::from_str::<Query>(json) {
            Ok(query) => query.check().expect_err(json).0,
            Err(e) => format!("parse: {e}"),
        }
    }

    #[test]
    fn each_broken_rule_says_which() {
        let eleven = (0..11).map(|i| format!("[\"f{i}\",\"==\",1]")).collect::<Vec<_>>().join(",");
        assert_eq!(error(&format!("{{\"where\":[{eleven}]}}")), "a query has at most 10 filters; this one has 11");
        let many = (0..31).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
        assert_eq!(
            error(&format!("{{\"where\":[[\"f\",\"in\",[{many}]]]}}")),
            "the 'in' filter on \"f\" needs 1 to 30 values; it has 31"
        );
        assert_eq!(
            error(r#"{"where":[["f","not-in",[]]]}"#),
            "the 'not-in' filter on \"f\" needs 1 to 30 values; it has 0"
        );
        assert_eq!(
            error(r#"{"where":[["f","array-contains-any",1]]}"#),
            "the 'array-contains-any' filter on \"f\" needs a list of values"
        );
        assert_eq!(
            error(r#"{"where":[["f","<",null]]}"#),
            "the '<' filter on \"f\" cannot compare with null: use '==' or '!='"
        );
        assert_eq!(error(r#"{"where":[["","==",1]]}"#), "a query field cannot be empty");
        assert_eq!(
            error(r#"{"where":[["a..b","==",1]]}"#),
            "query field \"a..b\" has an empty segment (no leading, trailing or double '.')"
        );
        assert_eq!(error(r#"{"orderBy":[["a"],["a","desc"]]}"#), "the query orders by \"a\" twice");
        assert_eq!(error(r#"{"limit":0}"#), "a query's limit is between 1 and 10000; this one is 0");
        assert_eq!(error(r#"{"limit":10001}"#), "a query's limit is between 1 and 10000; this one is 10001");
        assert_eq!(
            error(r#"{"startAfter":[1]}"#),
            "startAfter needs an orderBy: its values are those of the orderBy fields"
        );
        assert_eq!(
            error(r#"{"orderBy":[["a"]],"endBefore":[1,2]}"#),
            "endBefore takes 1 to 1 values (one per orderBy field); it has 2"
        );
        assert_eq!(
            error(r#"{"orderBy":[["a"]],"endBefore":[]}"#),
            "endBefore takes 1 to 1 values (one per orderBy field); it has 0"
        );
    }

    #[test]
    fn malformed_queries_are_refused_by_the_parser_with_what_was_expected() {
        assert!(error(r#"{"limt":5}"#).contains("unknown field `limt`"), "{}", error(r#"{"limt":5}"#));
        assert!(error(r#"{"where":[["f","=",1]]}"#).contains("unknown variant `=`"));
        assert!(error(r#"{"where":[["f","=="]]}"#).contains("a filter: [field, op, value]"));
        assert!(error(r#"{"orderBy":[["f","up"]]}"#).contains("unknown variant `up`"));
        assert!(error(r#"{"orderBy":["f"]}"#).contains("an orderBy entry"));
        assert!(
            error(r#"{"limit":2.5}"#)
                .contains("a query's limit is a whole number between 1 and 10000; this one is 2.5")
        );
        assert!(error(r#"{"limit":-1}"#).contains("this one is -1"));
        assert!(error(r#"{"limit":"5"}"#).starts_with("parse: "));
        let five: Query = serde_json::from_str(r#"{"limit":5.0}"#).unwrap();
        assert_eq!(five.limit, Some(5));
    }

    #[test]
    fn what_the_rules_allow_passes() {
        for ok in [
            r#"{}"#,
            r#"{"where":[["a.b","==",{"x":[1]}],["c","in",[1,2]],["d",">",1],["e","<","z"]],"limit":10000}"#,
            r#"{"orderBy":[["a"],["b","desc"]],"startAfter":[1],"endBefore":[5,"x"],"limit":1}"#,
            r#"{"where":[["f","array-contains",null],["g","==",null],["h","!=",null]]}"#,
        ] {
            let query: Query = serde_json::from_str(ok).unwrap();
            assert_eq!(query.check(), Ok(()), "{ok}");
        }
    }

    #[test]
    fn a_query_reads_back_as_it_was_written_and_equal_queries_serialize_alike() {
        let written = r#"{"where":[["status","==","open"],["n",">=",2]],"orderBy":[["createdAt","desc"],["t","asc"]],"limit":50,"startAfter":[1.0],"endBefore":[{"b":1,"a":2}]}"#;
        let query: Query = serde_json::from_str(written).unwrap();
        let text = serde_json::to_string(&query).unwrap();
        assert_eq!(
            text,
            r#"{"where":[["status","==","open"],["n",">=",2]],"orderBy":[["createdAt","desc"],["t","asc"]],"limit":50,"startAfter":[1],"endBefore":[{"a":2,"b":1}]}"#
        );
        let reordered: Query =
            serde_json::from_str(r#"{"limit":50,"endBefore":[{"a":2,"b":1}],"startAfter":[1],"orderBy":[["createdAt","desc"],["t"]],"where":[["status","==","open"],["n",">=",2.0]]}"#).unwrap();
        assert_eq!(serde_json::to_string(&reordered).unwrap(), text);
    }
}
