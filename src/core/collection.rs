//! [`CollectionView`]: a collection's documents ordered by id, and the changes with Firestore's indexes.

use super::{DocChange, DocState, ChangeKind};

/// One document of a collection, as the client holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionDoc<D> {
    /// The document id (the last path segment).
    pub id: String,
    /// The version of its last write.
    pub version: u64,
    /// Its data.
    pub data: D,
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
        old_index,
        new_index,
    }
}

impl<D: Clone> CollectionView<D> {
    /// Every document as `added`, in order: what a new listener's first snapshot reports.
    pub fn all_added(&self) -> Vec<DocChange<D>> {
        self.docs.iter().enumerate().map(|(i, d)| change(ChangeKind::Added, d, -1, i as i64)).collect()
    }

    /// Replaces the view with a full listing and returns what changed: removals first, then additions
    /// and modifications in id order, each index valid at the moment its change applies (as Firestore).
    pub fn replace(&mut self, docs: Vec<CollectionDoc<D>>, version: u64) -> Vec<DocChange<D>> {
        let mut docs = docs;
        docs.sort_by(|a, b| a.id.as_bytes().cmp(b.id.as_bytes()));
        docs.dedup_by(|a, b| a.id == b.id);
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
                    if old.version != new.version {
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

    /// Applies one change from the server (`data: None` removes) and returns it with its indexes, or
    /// `None` if it changes nothing the view holds (an old version, a removal of an unknown id).
    pub fn apply(&mut self, id: &str, version: u64, data: Option<D>) -> Option<DocChange<D>> {
        self.version = self.version.max(version);
        let found = self.docs.binary_search_by(|d| d.id.as_bytes().cmp(id.as_bytes()));
        match (found, data) {
            (Ok(i), Some(data)) => {
                if self.docs[i].version >= version {
                    return None;
                }
                self.docs[i] = CollectionDoc { id: id.to_owned(), version, data };
                Some(change(ChangeKind::Modified, &self.docs[i], i as i64, i as i64))
            }
            (Ok(i), None) => {
                if self.docs[i].version >= version {
                    return None;
                }
                let old = self.docs.remove(i);
                Some(change(ChangeKind::Removed, &CollectionDoc { version, ..old }, i as i64, -1))
            }
            (Err(i), Some(data)) => {
                self.docs.insert(i, CollectionDoc { id: id.to_owned(), version, data });
                Some(change(ChangeKind::Added, &self.docs[i], -1, i as i64))
            }
            (Err(_), None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str, version: u64) -> CollectionDoc<&'static str> {
        CollectionDoc { id: id.to_owned(), version, data: "d" }
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
    fn single_changes_carry_indexes_in_the_ordered_view() {
        let mut view = CollectionView::default();
        view.replace(vec![doc("a", 1), doc("c", 2)], 2);
        let added = view.apply("b", 3, Some("d")).unwrap();
        assert_eq!((added.kind, added.old_index, added.new_index), (ChangeKind::Added, -1, 1));
        let modified = view.apply("c", 4, Some("d")).unwrap();
        assert_eq!((modified.kind, modified.old_index, modified.new_index), (ChangeKind::Modified, 2, 2));
        let removed = view.apply("a", 5, None).unwrap();
        assert_eq!((removed.kind, removed.old_index, removed.new_index), (ChangeKind::Removed, 0, -1));
        assert_eq!(view.docs.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["b", "c"]);
        assert_eq!(view.apply("c", 4, Some("d")), None, "an old version changes nothing");
        assert_eq!(view.apply("zz", 6, None), None, "removing an unknown id changes nothing");
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
}
