//! [`CollectionView`]: a collection's documents ordered by id, and the changes between two views with
//! Firestore's indexes.

use super::{ChangeKind, DocChange, DocState};

/// One document of a collection, as the client holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionDoc<D> {
    /// The document id (the last path segment).
    pub id: String,
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
    /// A document as the server sent it.
    pub fn confirmed(id: String, version: u64, data: D) -> Self {
        Self { id, version, data, rev: version, pending: false }
    }
}

/// A collection's documents, ordered by id in byte order (as the server orders them).
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionView<D> {
    /// The documents, sorted by id.
    pub docs: Vec<CollectionDoc<D>>,
    /// The highest version seen.
    pub version: u64,
}

impl<D: Clone> Default for CollectionView<D> {
    fn default() -> Self {
        Self { docs: Vec::new(), version: 0 }
    }
}

fn change<D: Clone>(kind: ChangeKind, doc: &CollectionDoc<D>, old_index: i64, new_index: i64) -> DocChange<D> {
    DocChange {
        kind,
        id: doc.id.clone(),
        doc: DocState { version: doc.version, exists: kind != ChangeKind::Removed, data: Some(doc.data.clone()) },
        pending: doc.pending,
        old_index,
        new_index,
    }
}

impl<D: Clone> CollectionView<D> {
    /// Where document `id` is, or would be inserted.
    pub fn position(&self, id: &str) -> Result<usize, usize> {
        self.docs.binary_search_by(|d| d.id.as_bytes().cmp(id.as_bytes()))
    }

    /// Every document as `added`, in order: what a new listener's first snapshot reports.
    pub fn all_added(&self) -> Vec<DocChange<D>> {
        // A loop rather than an iterator chain (docs/wasm-size.md).
        let mut changes = Vec::with_capacity(self.docs.len());
        for (i, d) in self.docs.iter().enumerate() {
            changes.push(change(ChangeKind::Added, d, -1, i as i64));
        }
        changes
    }

    /// Replaces the view with `docs` and returns what changed: removals first, then additions and
    /// modifications in id order, each index valid at the moment its change applies (as Firestore).
    pub fn replace(&mut self, docs: Vec<CollectionDoc<D>>, version: u64) -> Vec<DocChange<D>> {
        // The server sends ids in order, so each insertion lands at the end; any other order still
        // sorts (and a repeated id keeps its last entry), without pulling a sort into the wasm.
        let mut sorted: Vec<CollectionDoc<D>> = Vec::with_capacity(docs.len());
        for doc in docs {
            match sorted.binary_search_by(|d| d.id.as_bytes().cmp(doc.id.as_bytes())) {
                Ok(i) => sorted[i] = doc,
                Err(i) => sorted.insert(i, doc),
            }
        }
        let docs = sorted;
        let mut changes = Vec::new();
        let mut index = 0;
        self.docs.retain(|old| {
            let keep = docs.binary_search_by(|d| d.id.as_bytes().cmp(old.id.as_bytes())).is_ok();
            if keep {
                index += 1;
            } else {
                changes.push(change(ChangeKind::Removed, old, index, -1));
            }
            keep
        });
        for (i, new) in docs.iter().enumerate() {
            match self.docs.get(i) {
                Some(old) if old.id == new.id => {
                    if old.rev != new.rev {
                        changes.push(change(ChangeKind::Modified, new, i as i64, i as i64));
                    }
                }
                _ => {
                    self.docs.insert(i, new.clone());
                    changes.push(change(ChangeKind::Added, new, -1, i as i64));
                }
            }
        }
        self.docs = docs;
        self.version = self.version.max(version);
        changes
    }

    /// Applies one change from the server (`data: None` removes). Returns false if it changes nothing
    /// (an old version, a removal of an unknown id).
    pub fn apply(&mut self, id: &str, version: u64, data: Option<D>) -> bool {
        self.version = self.version.max(version);
        match (self.position(id), data) {
            (Ok(i), _) if self.docs[i].version >= version => false,
            (Ok(i), Some(data)) => {
                self.docs[i] = CollectionDoc::confirmed(id.to_owned(), version, data);
                true
            }
            (Ok(i), None) => {
                self.docs.remove(i);
                true
            }
            (Err(i), Some(data)) => {
                self.docs.insert(i, CollectionDoc::confirmed(id.to_owned(), version, data));
                true
            }
            (Err(_), None) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str, version: u64) -> CollectionDoc<&'static str> {
        CollectionDoc::confirmed(id.to_owned(), version, "d")
    }

    fn summary(changes: &[DocChange<&str>]) -> Vec<(ChangeKind, String, i64, i64)> {
        changes.iter().map(|c| (c.kind, c.id.clone(), c.old_index, c.new_index)).collect()
    }

    #[test]
    fn the_first_listing_is_all_added_in_id_order() {
        let mut view = CollectionView::default();
        let changes = view.replace(vec![doc("b", 2), doc("a", 1)], 2);
        assert_eq!(summary(&changes), [(ChangeKind::Added, "a".into(), -1, 0), (ChangeKind::Added, "b".into(), -1, 1)]);
        assert_eq!(summary(&view.all_added()), summary(&changes));
    }

    #[test]
    fn server_changes_apply_in_id_order_and_old_versions_change_nothing() {
        let mut view = CollectionView::default();
        view.replace(vec![doc("a", 1), doc("c", 2)], 2);
        assert!(view.apply("b", 3, Some("d")));
        assert!(view.apply("c", 4, Some("d")));
        assert!(view.apply("a", 5, None));
        assert_eq!(view.docs.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["b", "c"]);
        assert!(!view.apply("c", 4, Some("d")), "an old version changes nothing");
        assert!(!view.apply("zz", 6, None), "removing an unknown id changes nothing");
        assert_eq!(view.version, 6);
    }

    #[test]
    fn replacing_with_a_new_listing_reports_removals_first_then_additions_and_modifications() {
        let mut view = CollectionView::default();
        view.replace(vec![doc("a", 1), doc("b", 2), doc("c", 3), doc("d", 4)], 4);
        let changes = view.replace(vec![doc("b", 2), doc("bb", 6), doc("d", 7), doc("e", 8)], 8);
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
        let mut view = CollectionView::default();
        view.replace(vec![doc("a", 1)], 1);
        let local = CollectionDoc { rev: u64::MAX, pending: true, ..doc("a", 1) };
        let changes = view.replace(vec![local], 1);
        assert_eq!(summary(&changes), [(ChangeKind::Modified, "a".into(), 0, 0)]);
        assert!(changes[0].pending);
    }
}
