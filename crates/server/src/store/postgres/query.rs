//! A query's read on PostgreSQL: one statement (one snapshot) that gives the version, the
//! collection's version and the documents the query's narrowing conditions let through (see
//! `store::narrow`), which the exact evaluation then trims.
//!
//! Documents are `json` (their text as this server wrote it), so each condition reads the field as
//! `json` and compares its text or, for numbers and booleans, its value. PostgreSQL's JSON functions
//! fail on a document holding `\u0000` (which `json` stores, and `jsonb` would refuse), so such a
//! document skips the conditions (it is a candidate either way) instead of failing the read.

use tokio_postgres::types::ToSql;

use crate::store::narrow::{Narrow, Scalar, Test};

/// A statement parameter.
pub type Arg = Box<dyn ToSql + Sync + Send>;

/// The statement for a read of collection `$1` narrowed by `narrows`, and its parameters after
/// `$1`. Its rows: the global version and the collection's (every row), then a document's id,
/// version and data (NULL columns in the one row of a collection with no candidate).
pub fn select(narrows: &[Narrow]) -> (String, Vec<Arg>) {
    let mut args: Vec<Arg> = Vec::new();
    let mut arg = |value: Arg| {
        args.push(value);
        format!("${}", args.len() + 1)
    };
    let mut conditions = String::new();
    for narrow in narrows {
        // Text order in SQL depends on the collation and would need the text unescaped.
        if matches!(narrow.test, Test::Range(_, Scalar::String(_))) {
            continue;
        }
        let field = format!("json_extract_path(d.data, VARIADIC {}::text[])", arg(Box::new(narrow.path.clone())));
        let number = |op: &str, n: f64, arg: &mut dyn FnMut(Arg) -> String| {
            format!(
                "CASE WHEN json_typeof({field}) = 'number' THEN ({field}::text)::float8 {op} {}::float8 END",
                arg(Box::new(n))
            )
        };
        let condition = match &narrow.test {
            Test::OneOf(values) => {
                let each: Vec<String> = values
                    .iter()
                    .map(|value| match value {
                        Scalar::Number(n) => number("=", *n, &mut arg),
                        // The JSON text of a string or a boolean: this server writes one form of each.
                        Scalar::String(s) => {
                            format!("{field}::text = {}", arg(Box::new(serde_json::to_string(s).unwrap_or_default())))
                        }
                        Scalar::Bool(b) => format!("{field}::text = '{b}'"),
                    })
                    .collect();
                format!("({})", each.join(" OR "))
            }
            Test::Range(op, Scalar::Number(n)) => number(op.as_str(), *n, &mut arg),
            Test::Range(op, Scalar::Bool(b)) => format!(
                "CASE WHEN json_typeof({field}) = 'boolean' THEN ({field}::text)::boolean {} {b} END",
                op.as_str()
            ),
            Test::Range(_, Scalar::String(_)) => continue,
        };
        if !conditions.is_empty() {
            conditions.push_str(" AND ");
        }
        conditions.push_str(&condition);
    }
    if !conditions.is_empty() {
        // CASE decides in order: the functions never see a document they would fail on.
        conditions = format!(" AND CASE WHEN strpos(d.data::text, '\\u0000') > 0 THEN true ELSE {conditions} END");
    }
    let sql = format!(
        "SELECT m.version, (SELECT COALESCE(MAX(version), 0) FROM livepath_docs WHERE collection = $1),
                d.id, d.version, d.data::text
         FROM livepath_meta m LEFT JOIN livepath_docs d ON d.collection = $1 AND d.data IS NOT NULL{conditions}"
    );
    (sql, args)
}
