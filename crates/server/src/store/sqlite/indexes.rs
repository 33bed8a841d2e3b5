//! Declared indexes (`--index "priority, createdAt desc"`): SQLite expression indexes on
//! `livepath_key` of document fields (see `functions`), across every collection, and the read of a
//! query that one of them serves: its `==` filters on the index's first fields, its order the rest.
//! Such a read walks the index from the first document of the result and stops at the limit.

use livepath_protocol::{
    Query,
    query::{Direction, Op, key},
};
use rusqlite::{Connection, types::Value as Sql};

use crate::config::IndexSpec;

/// The name of the index for `spec`: the same for the same fields, run after run (FNV-1a of them).
fn name(spec: &IndexSpec) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (field, direction) in &spec.fields {
        for b in field.bytes().chain([0, *direction as u8]) {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("livepath_index_{hash:016x}")
}

fn key_of(field: &str) -> String {
    format!("livepath_key(data, '{}')", field.replace('\'', "''"))
}

fn sql_direction(direction: Direction) -> &'static str {
    match direction {
        Direction::Asc => "ASC",
        Direction::Desc => "DESC",
    }
}

/// Creates the indexes `specs` declare and drops those an earlier start declared and this one does
/// not (each costs every write).
pub fn declare(conn: &Connection, specs: &[IndexSpec]) -> rusqlite::Result<()> {
    let wanted: Vec<String> = specs.iter().map(name).collect();
    let existing: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'livepath_index_%'")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for old in existing.iter().filter(|n| !wanted.contains(n)) {
        conn.execute_batch(&format!("DROP INDEX \"{old}\""))?;
    }
    for (spec, name) in specs.iter().zip(&wanted) {
        let mut columns = vec!["collection".to_owned()];
        for (field, direction) in &spec.fields {
            columns.push(format!("{} {}", key_of(field), sql_direction(*direction)));
        }
        let last = spec.fields.last().map_or(Direction::Asc, |(_, d)| *d);
        columns.push(format!("id {}", sql_direction(last)));
        conn.execute_batch(&format!(
            "CREATE INDEX IF NOT EXISTS \"{name}\" ON docs ({}) WHERE data IS NOT NULL",
            columns.join(", ")
        ))?;
    }
    Ok(())
}

/// An index's read of a query: the equalities it looks up, then its order.
#[derive(Debug, PartialEq)]
pub struct Plan {
    /// Fields of `==` filters on the index's first fields, and the key each must have.
    equal: Vec<(String, Vec<u8>)>,
}

/// The plan of the first of `specs` that serves `query`, if one does: the index's first fields all
/// have `==` filters, and the others are the query's `orderBy` fields in order, each in its
/// direction, or each in the opposite one (the index is then read backwards).
pub fn plan(specs: &[IndexSpec], query: &Query) -> Option<Plan> {
    let equal_to = |field: &str| query.filters.iter().find(|f| f.op == Op::Eq && f.field == field).map(|f| &f.value);
    specs.iter().find_map(|spec| {
        let looked_up = spec.fields.iter().take_while(|(field, _)| equal_to(field).is_some()).count();
        let ordered = &spec.fields[looked_up..];
        if ordered.len() != query.order_by.len() {
            return None;
        }
        let same = ordered.iter().zip(&query.order_by).all(|((f, d), o)| *f == o.field && *d == o.direction);
        let reversed = ordered.iter().zip(&query.order_by).all(|((f, d), o)| *f == o.field && *d != o.direction);
        if !(same || reversed) {
            return None;
        }
        let equal = spec.fields[..looked_up]
            .iter()
            .filter_map(|(field, _)| Some((field.clone(), key::key(equal_to(field)?))))
            .collect();
        Some(Plan { equal })
    })
}

/// The `SELECT` of the first `limit` documents (all without one) of `query` on collection `?1`
/// through `plan`'s index, in the query's order, and its parameters after `?1`.
pub fn select(plan: &Plan, query: &Query, limit: Option<usize>) -> (String, Vec<Sql>) {
    let mut sql = String::from("SELECT id, version, data FROM docs WHERE collection = ?1 AND data IS NOT NULL");
    let mut args = Vec::new();
    for (field, key) in &plan.equal {
        args.push(Sql::Blob(key.clone()));
        sql.push_str(&format!(" AND {} = ?{}", key_of(field), args.len() + 1));
    }
    args.push(Sql::Text(serde_json::to_string(query).unwrap_or_default()));
    sql.push_str(&format!(" AND livepath_match(data, ?{})", args.len() + 1));
    let mut order: Vec<String> =
        query.order_by.iter().map(|o| format!("{} {}", key_of(&o.field), sql_direction(o.direction))).collect();
    let last = query.order_by.last().map_or(Direction::Asc, |o| o.direction);
    order.push(format!("id {}", sql_direction(last)));
    args.push(Sql::Integer(limit.map_or(-1, |l| l as i64)));
    sql.push_str(&format!(" ORDER BY {} LIMIT ?{}", order.join(", "), args.len() + 1));
    (sql, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(fields: &[(&str, Direction)]) -> IndexSpec {
        IndexSpec { fields: fields.iter().map(|(f, d)| (f.to_string(), *d)).collect() }
    }

    fn q(json: &str) -> Query {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn an_index_serves_the_queries_whose_equalities_and_order_it_has_in_its_order() {
        use Direction::{Asc, Desc};
        let specs = [spec(&[("room", Asc), ("at", Desc)]), spec(&[("score", Asc)])];
        let served = |json: &str| plan(&specs, &q(json)).map(|p| p.equal.len());
        assert_eq!(served(r#"{"where":[["room","==","r1"]],"orderBy":[["at","desc"]],"limit":5}"#), Some(1));
        assert_eq!(
            served(r#"{"where":[["room","==","r1"],["x",">",1]],"orderBy":[["at","asc"]]}"#),
            Some(1),
            "backwards"
        );
        assert_eq!(served(r#"{"where":[["room","==","r1"],["at","==",5]]}"#), Some(2), "both looked up, order by id");
        assert_eq!(served(r#"{"orderBy":[["score","desc"]]}"#), Some(0));
        assert_eq!(served(r#"{"orderBy":[["room"],["at","desc"]]}"#), Some(0), "no equality: the whole index in order");
        assert_eq!(served(r#"{"where":[["room","==","r1"]]}"#), None, "ordered by id, but the index orders by at");
        assert_eq!(served(r#"{"where":[["room","!=","r1"]],"orderBy":[["at","desc"]]}"#), None);
        assert_eq!(served(r#"{"orderBy":[["room"],["at","asc"]]}"#), None, "mixed directions");
        assert_eq!(served(r#"{"where":[["x","==",1]],"orderBy":[["score"],["y"]]}"#), None);
    }

    #[test]
    fn index_names_are_stable_and_tell_indexes_apart() {
        use Direction::{Asc, Desc};
        assert_eq!(name(&spec(&[("a", Asc)])), name(&spec(&[("a", Asc)])));
        assert_ne!(name(&spec(&[("a", Asc)])), name(&spec(&[("a", Desc)])));
        assert_ne!(name(&spec(&[("ab", Asc)])), name(&spec(&[("a", Asc), ("b", Asc)])));
    }
}
