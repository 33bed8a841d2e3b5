//! [`CollectionView`]: a collection's documents in a query's order (a plain listing is the empty
//! query: id order), and the changes between two views with Firestore's indexes.

use livepath_protocol::query::{Key, Query, Value};

use super::{ChangeKind, DocChange, DocState, Fields, fields::AsDocument};

/// One document of a collection, as the client holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionDoc<D> {
    /// Where it sits in its view: the values of the query's `orderBy` fields and the document id
    /// (the last path segment).
    pub key: Key,
    /// The version of its last write the server confirmed (0: only written locally so far).
    pub version: u64,
    /// Its data.
    pub data: D,
    /// What identifies this exact content: the version for server state, a value above every version
    /// for a local write not yet acknowledged. Two views differ on a document when `rev` differs.
    pub rev: u64,
    /// A local write not yet acknowledged shaped this document.
    pub pending: bool,
}

impl<D> CollectionDoc<D> {
    /// A document as the server sent it; its key's values are filled in by [`CollectionDoc::keyed`].
    pub fn confirmed(id: String, version: u64, data: D) -> Self {
        Self { key: Key { values: Vec::new(), id }, version, data, rev: version, pending: false }
    }

    /// The document id.
    pub fn id(&self) -> &str {
        &self.key.id
    }
}

impl<D: Clone> CollectionDoc<D> {
    /// The document's state, as a document listener would see it.
    pub fn state(&self) -> DocState<D> {
        DocState { version: self.version, exists: true, data: Some(self.data.clone()) }
    }
}

impl<D: Fields> CollectionDoc<D> {
    /// The document with its key in `query`'s order: the server said it is in the result, so its
    /// filters are not evaluated again, and a missing `orderBy` field (which the server would not
    /// have sent) reads as `null`.
    pub fn keyed(mut self, query: &Query) -> Self {
        let mut values = Vec::with_capacity(query.order_by.len());
        for order in &query.order_by {
            values.push(self.data.field(&order.field).unwrap_or(Value::Null));
        }
        self.key.values = values;
        self
    }
}

/// The key of document `id` holding `data` in `query`'s result, or `None` when it is not in it: the
/// one evaluation of `livepath_protocol::query`, on the client's data.
pub fn evaluate<D: Fields>(query: &Query, id: &str, data: &D) -> Option<Key> {
    query.evaluate(id, &AsDocument(data))
}

/// A collection's documents in a query's order (as the server orders them).
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionView<D> {
    /// The documents, sorted by key.
    pub docs: Vec<CollectionDoc<D>>,
    /// The highest version seen.
    pub version: u64,
}

impl<D: Clone> Default for CollectionView<D> {
    fn default() -> Self {
        Self { docs: Vec::new(), version: 0 }
    }
}

fn change<D: Clone>(kind: ChangeKind, doc: &CollectionDoc<D>, old_index: usize, new_index: usize) -> DocChange<D> {
    // -1 for the index a change has not (`NONE`; `usize` is 32 bits in the wasm, 64 natively).
    let index = |i: usize| if i == NONE { -1 } else { i as i64 };
    DocChange {
        kind,
        id: doc.key.id.clone(),
        doc: DocState { version: doc.version, exists: kind != ChangeKind::Removed, data: Some(doc.data.clone()) },
        pending: doc.pending,
        old_index: index(old_index),
        new_index: index(new_index),
    }
}

/// No index: `added` has no old one, `removed` no new one.
const NONE: usize = usize::MAX;

/// Where `key` is in `docs` (sorted by `query`'s order), or would be inserted.
fn locate<D>(docs: &[CollectionDoc<D>], query: &Query, key: &Key) -> Result<usize, usize> {
    docs.binary_search_by(|d| query.compare(&d.key, key))
}

/// The index of document `id` in `docs`, looked up by `hint` (its key, if it has not moved), else by
/// id: a binary search in id order (no `orderBy`), a scan otherwise.
fn index_of<D>(docs: &[CollectionDoc<D>], query: &Query, id: &str, hint: &Key) -> Option<usize> {
    if let Ok(i) = locate(docs, query, hint) {
        return (docs[i].key.id == id).then_some(i);
    }
    if query.order_by.is_empty() {
        return None; // the hint was the id itself
    }
    docs.iter().position(|d| d.key.id == id)
}

impl<D: Clone> CollectionView<D> {
    /// The index of document `id`.
    pub fn find(&self, query: &Query, id: &str) -> Option<usize> {
        index_of(&self.docs, query, id, &Key { values: Vec::new(), id: id.to_owned() })
    }

    /// Inserts `doc` at its place.
    pub fn insert(&mut self, query: &Query, doc: CollectionDoc<D>) -> usize {
        let i = locate(&self.docs, query, &doc.key).unwrap_or_else(|i| i);
        self.docs.insert(i, doc);
        i
    }

    /// Every document as `added`, in order: what a new listener's first snapshot reports.
    pub fn all_added(&self) -> Vec<DocChange<D>> {
        // A loop rather than an iterator chain (docs/wasm-size.md).
        let mut changes = Vec::with_capacity(self.docs.len());
        for (i, d) in self.docs.iter().enumerate() {
            changes.push(change(ChangeKind::Added, d, NONE, i));
        }
        changes
    }

    /// Replaces the view with `docs` and returns what changed, as Firestore reports it: removals
    /// first (in the old order), then additions and modifications (in the new order), each index
    /// valid at the moment its change applies. A modification that moves the document says so with
    /// `oldIndex` ≠ `newIndex`; applying the changes one by one to the old list gives the new one.
    pub fn replace(&mut self, query: &Query, docs: Vec<CollectionDoc<D>>, version: u64) -> Vec<DocChange<D>> {
        // The server sends documents in order, so each insertion lands at the end; any other order
        // still sorts (a repeated document keeps its last entry), without pulling a sort into the wasm.
        let mut new: Vec<CollectionDoc<D>> = Vec::with_capacity(docs.len());
        for doc in docs {
            match locate(&new, query, &doc.key) {
                Ok(i) => new[i] = doc,
                Err(i) => new.insert(i, doc),
            }
        }
        let mut changes = Vec::new();
        // Always in order: each document at its own key, old or new.
        let mut tracker = std::mem::take(&mut self.docs);
        let mut index = 0;
        tracker.retain(|old| {
            let keep = index_of(&new, query, &old.key.id, &old.key).is_some();
            if keep {
                index += 1;
            } else {
                changes.push(change(ChangeKind::Removed, old, index, NONE));
            }
            keep
        });
        for doc in &new {
            let old = index_of(&tracker, query, &doc.key.id, &doc.key);
            if let Some(i) = old {
                if tracker[i].rev == doc.rev && tracker[i].key == doc.key {
                    continue;
                }
                tracker.remove(i);
            }
            let at = locate(&tracker, query, &doc.key).unwrap_or_else(|i| i);
            tracker.insert(at, doc.clone());
            let (kind, from) = match old {
                Some(i) => (ChangeKind::Modified, i),
                None => (ChangeKind::Added, NONE),
            };
            changes.push(change(kind, doc, from, at));
        }
        self.docs = new;
        self.version = self.version.max(version);
        changes
    }
}

impl<D: Clone + Fields> CollectionView<D> {
    /// Applies one change from the server (`data: None` removes) at its place in `query`'s order.
    /// Returns false if it changes nothing (an old version, a removal of an unknown id).
    pub fn apply(&mut self, query: &Query, id: &str, version: u64, data: Option<D>) -> bool {
        self.version = self.version.max(version);
        let at = self.find(query, id);
        if let Some(i) = at {
            if self.docs[i].version >= version {
                return false;
            }
            self.docs.remove(i);
        }
        match data {
            Some(data) => {
                self.insert(query, CollectionDoc::confirmed(id.to_owned(), version, data).keyed(query));
                true
            }
            None => at.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use livepath_protocol::query::{Direction, Order};

    use super::*;

    fn doc(id: &str, version: u64) -> CollectionDoc<&'static str> {
        CollectionDoc::confirmed(id.to_owned(), version, "d")
    }

    fn summary<D>(changes: &[DocChange<D>]) -> Vec<(ChangeKind, String, i64, i64)> {
        changes.iter().map(|c| (c.kind, c.id.clone(), c.old_index, c.new_index)).collect()
    }

    fn ids<D>(view: &CollectionView<D>) -> Vec<&str> {
        view.docs.iter().map(CollectionDoc::id).collect()
    }

    fn by_id() -> Query {
        Query::default()
    }

    #[test]
    fn the_first_listing_is_all_added_in_id_order() {
        let mut view = CollectionView::default();
        let changes = view.replace(&by_id(), vec![doc("b", 2), doc("a", 1)], 2);
        assert_eq!(summary(&changes), [(ChangeKind::Added, "a".into(), -1, 0), (ChangeKind::Added, "b".into(), -1, 1)]);
        assert_eq!(summary(&view.all_added()), summary(&changes));
    }

    #[test]
    fn server_changes_apply_in_id_order_and_old_versions_change_nothing() {
        let q = by_id();
        let mut view = CollectionView::default();
        view.replace(&q, vec![doc("a", 1), doc("c", 2)], 2);
        assert!(view.apply(&q, "b", 3, Some("d")));
        assert!(view.apply(&q, "c", 4, Some("d")));
        assert!(view.apply(&q, "a", 5, None));
        assert_eq!(ids(&view), ["b", "c"]);
        assert!(!view.apply(&q, "c", 4, Some("d")), "an old version changes nothing");
        assert!(!view.apply(&q, "zz", 6, None), "removing an unknown id changes nothing");
        assert_eq!(view.version, 6);
    }

    #[test]
    fn replacing_with_a_new_listing_reports_removals_first_then_additions_and_modifications() {
        let q = by_id();
        let mut view = CollectionView::default();
        view.replace(&q, vec![doc("a", 1), doc("b", 2), doc("c", 3), doc("d", 4)], 4);
        let changes = view.replace(&q, vec![doc("b", 2), doc("bb", 6), doc("d", 7), doc("e", 8)], 8);
        assert_eq!(
            summary(&changes),
            [
                (ChangeKind::Removed, "a".into(), 0, -1),
                (ChangeKind::Removed, "c".into(), 1, -1),
                (ChangeKind::Added, "bb".into(), -1, 1),
                (ChangeKind::Modified, "d".into(), 2, 2),
                (ChangeKind::Added, "e".into(), -1, 3),
            ]
        );
        assert_eq!(view.version, 8);
    }

    #[test]
    fn a_local_revision_of_the_same_version_counts_as_modified() {
        let q = by_id();
        let mut view = CollectionView::default();
        view.replace(&q, vec![doc("a", 1)], 1);
        let local = CollectionDoc { rev: u64::MAX, pending: true, ..doc("a", 1) };
        let changes = view.replace(&q, vec![local], 1);
        assert_eq!(summary(&changes), [(ChangeKind::Modified, "a".into(), 0, 0)]);
        assert!(changes[0].pending);
    }

    fn scored(id: &str, version: u64, score: f64) -> CollectionDoc<Value> {
        let data = Value::object(vec![("score".into(), Value::Number(score))]);
        CollectionDoc::confirmed(id.to_owned(), version, data).keyed(&by_score())
    }

    fn by_score() -> Query {
        Query { order_by: vec![Order { field: "score".into(), direction: Direction::Desc }], ..Query::default() }
    }

    #[test]
    fn a_document_that_moves_is_modified_with_its_old_and_new_index() {
        let q = by_score();
        let mut view = CollectionView::default();
        view.replace(&q, vec![scored("a", 1, 30.0), scored("b", 2, 20.0), scored("c", 3, 10.0)], 3);
        assert_eq!(ids(&view), ["a", "b", "c"]);
        let changes = view.replace(&q, vec![scored("a", 1, 30.0), scored("b", 2, 20.0), scored("c", 4, 40.0)], 4);
        assert_eq!(summary(&changes), [(ChangeKind::Modified, "c".into(), 2, 0)]);
        assert_eq!(ids(&view), ["c", "a", "b"]);
        // Ties break by id, descending with the last orderBy.
        assert!(view.apply(&q, "d", 5, Some(Value::object(vec![("score".into(), Value::Number(30.0))]))));
        assert_eq!(ids(&view), ["c", "d", "a", "b"]);
        assert!(view.apply(&q, "c", 6, None));
        assert_eq!(ids(&view), ["d", "a", "b"]);
    }

    /// Applying each change in turn (remove at `oldIndex`, insert at `newIndex`) to the old list gives
    /// the new one, over random reorderings, entries and exits.
    #[test]
    fn changes_replayed_on_the_old_list_give_the_new_one() {
        let q = by_score();
        let mut rng = crate::core::query_model::Rng(7);
        let mut next = move |n: u64| rng.below(n);
        let mut view = CollectionView::default();
        let mut version = 0;
        for _ in 0..300 {
            let mut docs = Vec::new();
            for id in 0..12 {
                if next(3) > 0 {
                    version += 1;
                    let v = if next(2) == 0 { version } else { id + 1 };
                    docs.push(scored(&format!("d{id}"), v, next(5) as f64));
                }
            }
            let mut replayed: Vec<String> = ids(&view).iter().map(|s| s.to_string()).collect();
            let changes = view.replace(&q, docs, version);
            for c in &changes {
                if c.old_index >= 0 {
                    assert_eq!(replayed.remove(c.old_index as usize), c.id);
                }
                if c.new_index >= 0 {
                    replayed.insert(c.new_index as usize, c.id.clone());
                }
            }
            assert_eq!(replayed, ids(&view));
            let mut sorted = view.docs.clone();
            sorted.sort_by(|a, b| q.compare(&a.key, &b.key));
            assert_eq!(sorted, view.docs, "the view is in the query's order");
        }
    }
}
