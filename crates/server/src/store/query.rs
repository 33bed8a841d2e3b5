//! A query's result read from a store: [`QueryRead`], and [`run`], which evaluates a query on a
//! collection's listing with the protocol's one evaluation (`livepath_protocol::query`).

use livepath_protocol::query::{Key, Query, Value};

use super::{ListedDoc, Listing};

/// A document of a query's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Matched {
    /// Where it sorts; its id is in the key.
    pub key: Key,
    /// The version of its last write.
    pub version: u64,
    /// Its data as JSON text.
    pub data: String,
}

/// The start of a query's result, read at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryRead {
    /// The last version committed at that moment: every write not in `docs` has a higher one.
    pub as_of: u64,
    /// The collection's version then (the highest among its documents and tombstones; 0: never
    /// written): a client that has seen it has nothing to catch up on.
    pub version: u64,
    /// The documents, in the query's order, at most as many as asked for.
    pub docs: Vec<Matched>,
}

/// `query` on the live documents of `listing`, read at `as_of`: the first `limit` matching
/// documents in order (all of them without a limit).
pub fn run(listing: Listing, query: &Query, limit: Option<usize>, as_of: u64) -> QueryRead {
    run_on(listing.docs, listing.version, query, limit, as_of)
}

/// [`run`] on some of a collection's documents (all those that may match: a store may narrow them
/// first, see `narrow`), the collection's version being `version`.
pub fn run_on(candidates: Vec<ListedDoc>, version: u64, query: &Query, limit: Option<usize>, as_of: u64) -> QueryRead {
    let mut docs = Vec::new();
    for doc in candidates {
        let value: Value = match serde_json::from_str(&doc.data) {
            Ok(value) => value,
            Err(e) => {
                tracing::error!("a stored document does not parse ({e}); left out of a query");
                continue;
            }
        };
        if let Some(key) = query.evaluate(&doc.id, &value) {
            docs.push(Matched { key, version: doc.version, data: doc.data });
        }
    }
    let order = |a: &Matched, b: &Matched| query.compare(&a.key, &b.key);
    if let Some(limit) = limit.filter(|limit| *limit < docs.len()) {
        // Only the first `limit` need sorting.
        if limit > 0 {
            docs.select_nth_unstable_by(limit - 1, order);
        }
        docs.truncate(limit);
    }
    docs.sort_unstable_by(order);
    QueryRead { as_of, version, docs }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ListedDoc;

    #[test]
    fn the_first_matching_documents_in_order_with_the_listings_version() {
        let listing = Listing {
            version: 9,
            docs: (0..50)
                .map(|i| ListedDoc { id: format!("d{i:02}"), version: i, data: format!("{{\"n\":{}}}", (i * 7) % 50) })
                .collect(),
        };
        let query: Query = serde_json::from_str(r#"{"where":[["n",">=",10]],"orderBy":[["n","desc"]]}"#).unwrap();
        let read = run(listing.clone(), &query, Some(3), 12);
        assert_eq!((read.as_of, read.version), (12, 9));
        let ns: Vec<&str> = read.docs.iter().map(|d| d.data.as_str()).collect();
        assert_eq!(ns, [r#"{"n":49}"#, r#"{"n":48}"#, r#"{"n":47}"#]);
        assert_eq!(run(listing.clone(), &query, None, 12).docs.len(), 40);
        assert!(run(listing, &query, Some(0), 12).docs.is_empty());
    }
}
