//! [`Window`]: a live query's result, kept up to date write by write.
//!
//! A window tracks the first documents of the query's full result, in order: the `limit` that its
//! subscribers see, and past them a buffer of as many more (at most 1,000), which nobody sees. When a
//! visible document leaves, the first buffered one moves up, with no read of the store; only once the
//! buffer is used up (fewer tracked documents than the limit, while the store may hold more) does the
//! window ask to be read again. Meteor's oplog driver keeps its limited queries the same way.
//!
//! Invariant: `docs` is the start of the result, in the query's order. `complete` says whether it is
//! the whole result; when it is not, a document that would sort after the last tracked one is not
//! tracked (others the window never saw may come first).

use std::collections::{HashMap, HashSet};

use livepath_protocol::{
    ChangeType,
    query::{Key, Query, Value},
};

/// The most documents a window tracks beyond its limit.
const MAX_BUFFER: usize = 1000;

/// A document the window tracks.
#[derive(Debug, Clone)]
pub struct Tracked<T> {
    /// Where it sorts (its id is in the key).
    pub key: Key,
    /// The version of its last write.
    pub version: u64,
    /// Its data.
    pub data: T,
}

/// A change to what a window's subscribers see.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen<T> {
    /// Entered, changed (or moved) within, or left the visible documents.
    pub kind: ChangeType,
    /// The document id.
    pub id: String,
    /// The version it holds now (a document that left: the version of the write that moved it out).
    pub version: u64,
    /// Its data; `None` when it left.
    pub data: Option<T>,
}

/// What [`Window::apply`] did.
#[derive(Debug)]
pub struct Applied<T> {
    /// The changes to the visible documents, in order.
    pub changes: Vec<Seen<T>>,
    /// The window shows fewer documents than its limit while the store may hold more: read it
    /// again ([`Window::refill`]).
    pub refill: bool,
}

/// The tracked start of one query's result. See the module docs.
#[derive(Debug)]
pub struct Window<T> {
    query: Query,
    /// How many documents subscribers see (`usize::MAX`: no limit).
    limit: usize,
    /// How many documents it tracks at most (`usize::MAX`: no limit).
    capacity: usize,
    /// The start of the result, in order.
    docs: Vec<Tracked<T>>,
    /// The ids in `docs`.
    ids: HashSet<String>,
    /// `docs` is the whole result.
    complete: bool,
}

impl<T: Clone> Window<T> {
    /// How many documents a window for `query` reads from the store: its limit and the buffer.
    pub fn capacity(query: &Query) -> Option<usize> {
        query.limit.map(|limit| limit as usize + (limit as usize).clamp(20, MAX_BUFFER))
    }

    /// A window over `docs`, the start of `query`'s result as the store read it (at most
    /// [`Window::capacity`] of them; fewer means there were no more).
    pub fn new(query: Query, docs: Vec<Tracked<T>>) -> Self {
        let capacity = Self::capacity(&query).unwrap_or(usize::MAX);
        Self::with_capacity(query, capacity, docs)
    }

    fn with_capacity(query: Query, capacity: usize, docs: Vec<Tracked<T>>) -> Self {
        let limit = query.limit.map_or(usize::MAX, |l| l as usize);
        let mut window = Self { query, limit, capacity, docs: Vec::new(), ids: HashSet::new(), complete: true };
        window.replace(docs);
        window
    }

    fn replace(&mut self, docs: Vec<Tracked<T>>) {
        self.complete = docs.len() < self.capacity;
        self.ids = docs.iter().map(|d| d.key.id.clone()).collect();
        self.docs = docs;
    }

    /// The query.
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// What subscribers see: the first `limit` documents.
    pub fn visible(&self) -> &[Tracked<T>] {
        &self.docs[..self.docs.len().min(self.limit)]
    }

    /// Applies a write to document `id` of the collection: `doc` is its data after the write (as a
    /// value to evaluate, and as the subscribers get it), `None` if it was deleted. A write older
    /// than what the window holds of the document changes nothing.
    pub fn apply(&mut self, id: &str, version: u64, doc: Option<(&Value, T)>) -> Applied<T> {
        let nothing = || Applied { changes: Vec::new(), refill: false };
        let old = if self.ids.contains(id) { self.docs.iter().position(|d| d.key.id == id) } else { None };
        if let Some(i) = old {
            if self.docs[i].version >= version {
                return nothing();
            }
        }
        let new = doc.and_then(|(value, data)| Some((self.query.evaluate(id, value)?, data)));
        if old.is_none() && new.is_none() {
            return nothing();
        }
        let was_visible = old.is_some_and(|i| i < self.limit);
        if let Some(i) = old {
            self.docs.remove(i);
            self.ids.remove(id);
        }
        let mut is_visible = false;
        let mut entered = None;
        // The last visible document, when the write pushes it down out of sight.
        let mut down = None;
        if let Some((key, data)) = new {
            let at = self.docs.partition_point(|d| self.query.compare(&d.key, &key).is_lt());
            // Past the last tracked document of an incomplete result, others may come first.
            if at < self.docs.len() || self.complete {
                is_visible = at < self.limit;
                entered = Some(data.clone());
                self.docs.insert(at, Tracked { key, version, data });
                self.ids.insert(id.to_owned());
                if is_visible && !was_visible {
                    down = self.docs.get(self.limit).map(|d| d.key.id.clone());
                }
                if self.docs.len() > self.capacity {
                    if let Some(last) = self.docs.pop() {
                        self.ids.remove(&last.key.id);
                    }
                    self.complete = false;
                }
            }
        }
        let mut changes = Vec::new();
        let seen = |kind, doc: &Tracked<T>| Seen {
            kind,
            id: doc.key.id.clone(),
            version: doc.version,
            data: Some(doc.data.clone()),
        };
        let left = |id: &str| Seen { kind: ChangeType::Removed, id: id.to_owned(), version, data: None };
        match (was_visible, is_visible) {
            (true, true) => {
                changes.push(Seen { kind: ChangeType::Modified, id: id.to_owned(), version, data: entered })
            }
            (true, false) => {
                changes.push(left(id));
                // The first document past the visible ones moves up.
                if let Some(up) = self.docs.get(self.limit.saturating_sub(1)) {
                    changes.push(seen(ChangeType::Added, up));
                }
            }
            (false, true) => {
                changes.push(Seen { kind: ChangeType::Added, id: id.to_owned(), version, data: entered });
                if let Some(down) = down {
                    changes.push(left(&down));
                }
            }
            (false, false) => {}
        }
        Applied { changes, refill: !self.complete && self.docs.len() < self.limit }
    }

    /// Replaces the tracked documents with a new read of the store (as for [`Window::new`]) and
    /// returns how what subscribers see changed: departures first, then arrivals and changes in
    /// the result's order. `version` is the version the read was made at.
    pub fn refill(&mut self, docs: Vec<Tracked<T>>, version: u64) -> Vec<Seen<T>> {
        let before = self.seen();
        self.replace(docs);
        self.changes_since(&before, version)
    }

    /// What subscribers see now, by id, with each document's version: to tell afterwards how it
    /// changed ([`Window::changes_since`]).
    pub fn seen(&self) -> HashMap<String, u64> {
        self.visible().iter().map(|d| (d.key.id.clone(), d.version)).collect()
    }

    /// How what subscribers see changed since it was `before` (from [`Window::seen`]): each
    /// document once, departures first (at `version`), then arrivals and changes in the result's
    /// order. For changes that several writes made together (a commit, a read again), where telling
    /// them one by one could name a document twice.
    pub fn changes_since(&self, before: &HashMap<String, u64>, version: u64) -> Vec<Seen<T>> {
        let after: HashSet<&str> = self.visible().iter().map(|d| d.key.id.as_str()).collect();
        let mut changes: Vec<Seen<T>> = Vec::new();
        let mut gone: Vec<&String> = before.keys().filter(|id| !after.contains(id.as_str())).collect();
        gone.sort();
        for id in gone {
            changes.push(Seen { kind: ChangeType::Removed, id: id.clone(), version, data: None });
        }
        for doc in self.visible() {
            let kind = match before.get(&doc.key.id) {
                None => ChangeType::Added,
                Some(v) if *v != doc.version => ChangeType::Modified,
                Some(_) => continue,
            };
            changes.push(Seen { kind, id: doc.key.id.clone(), version: doc.version, data: Some(doc.data.clone()) });
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn q(json: &str) -> Query {
        serde_json::from_str(json).unwrap()
    }

    fn value(json: &str) -> Value {
        serde_json::from_str(json).unwrap()
    }

    /// The store in these tests: documents by id, with their versions.
    type Docs = BTreeMap<String, (u64, Value)>;

    /// What a store would answer for `query`: the start of the result, up to `capacity` documents.
    fn read(query: &Query, capacity: Option<usize>, docs: &Docs) -> Vec<Tracked<u64>> {
        let mut unlimited = query.clone();
        unlimited.limit = capacity.map(|c| c as u32);
        let versions: BTreeMap<&String, u64> = docs.iter().map(|(id, (v, _))| (id, *v)).collect();
        unlimited
            .run(docs.iter().map(|(id, (_, value))| (id.clone(), value.clone())))
            .into_iter()
            .map(|(key, _)| {
                let version = versions[&key.id];
                Tracked { key, version, data: version }
            })
            .collect()
    }

    /// What subscribers should see: the query run afresh.
    fn expected(query: &Query, docs: &Docs) -> Vec<(String, u64)> {
        let versions: BTreeMap<&String, u64> = docs.iter().map(|(id, (v, _))| (id, *v)).collect();
        query
            .run(docs.iter().map(|(id, (_, value))| (id.clone(), value.clone())))
            .into_iter()
            .map(|(key, _)| {
                let version = versions[&key.id];
                (key.id, version)
            })
            .collect()
    }

    /// The subscribers' view: the visible documents, changed by each `Seen` in order.
    fn follow(view: &mut Vec<(String, u64)>, changes: &[Seen<u64>]) {
        for change in changes {
            let at = view.iter().position(|(id, _)| *id == change.id);
            match (change.kind, at) {
                (ChangeType::Removed, Some(i)) => {
                    view.remove(i);
                }
                (ChangeType::Added, None) | (ChangeType::Modified, Some(_)) => {
                    if let Some(i) = at {
                        view.remove(i);
                    }
                    view.push((change.id.clone(), change.data.unwrap()));
                }
                (kind, at) => {
                    panic!("{kind:?} of {} which the view {}", change.id, if at.is_some() { "holds" } else { "lacks" })
                }
            }
        }
    }

    /// A tiny random generator, so that a failing seed can be replayed.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    fn random_doc(rng: &mut Rng) -> Value {
        let score = match rng.below(6) {
            0 => "null".to_owned(),
            1 => "\"s\"".to_owned(),
            _ => rng.below(8).to_string(),
        };
        let status = ["\"open\"", "\"done\""][rng.below(2) as usize];
        if rng.below(10) == 0 {
            value(&format!("{{\"status\":{status}}}"))
        } else {
            value(&format!("{{\"score\":{score},\"status\":{status}}}"))
        }
    }

    #[test]
    fn random_writes_keep_the_visible_documents_equal_to_the_query_run_afresh() {
        let queries = [
            r#"{"orderBy":[["score","desc"]],"limit":3}"#,
            r#"{"where":[["status","==","open"]],"orderBy":[["score"]],"limit":1}"#,
            r#"{"where":[["score",">=",3]],"limit":5}"#,
            r#"{"where":[["status","!=","open"]]}"#,
            r#"{"orderBy":[["score"],["status","desc"]],"startAfter":[2],"limit":4}"#,
        ];
        let mut refills = 0;
        for seed in 1..=16u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut docs = Docs::new();
            for query in queries.iter().map(|text| q(text)) {
                // A buffer of 0 to 2 documents beyond the limit, so that it runs out and refills happen.
                let capacity = query.limit.map(|l| l as usize + (seed % 3) as usize);
                let mut window =
                    Window::with_capacity(query.clone(), capacity.unwrap_or(usize::MAX), read(&query, capacity, &docs));
                let mut view: Vec<(String, u64)> =
                    window.visible().iter().map(|d| (d.key.id.clone(), d.version)).collect();
                let mut version = docs.values().map(|(v, _)| *v).max().unwrap_or(0);
                for step in 0..400 {
                    version += 1;
                    let id = format!("d{}", rng.below(40));
                    let doc = if rng.below(4) == 0 { None } else { Some(random_doc(&mut rng)) };
                    match &doc {
                        Some(value) => docs.insert(id.clone(), (version, value.clone())),
                        None => docs.remove(&id),
                    };
                    let applied = window.apply(&id, version, doc.as_ref().map(|v| (v, version)));
                    follow(&mut view, &applied.changes);
                    if applied.refill {
                        refills += 1;
                        follow(&mut view, &window.refill(read(&query, capacity, &docs), version));
                    }
                    let visible: Vec<(String, u64)> =
                        window.visible().iter().map(|d| (d.key.id.clone(), d.version)).collect();
                    let fresh = expected(&query, &docs);
                    assert_eq!(visible, fresh, "seed {seed}, step {step}, {query:?}");
                    let mut sorted_view = view.clone();
                    let mut sorted_fresh = fresh.clone();
                    sorted_view.sort();
                    sorted_fresh.sort();
                    assert_eq!(sorted_view, sorted_fresh, "the changes lead to the result: seed {seed}, step {step}");
                }
            }
        }
        assert!(refills > 100, "the buffers ran out now and then: {refills} refills");
    }

    #[test]
    fn a_write_older_than_the_tracked_document_changes_nothing() {
        let mut window = Window::new(q(r#"{"limit":2}"#), Vec::new());
        let doc = value("{}");
        assert_eq!(window.apply("a", 5, Some((&doc, 5))).changes.len(), 1);
        assert!(window.apply("a", 5, Some((&doc, 5))).changes.is_empty());
        assert!(window.apply("a", 4, None).changes.is_empty());
        assert_eq!(window.visible().len(), 1);
    }

    #[test]
    fn the_top_document_deleted_pulls_the_next_one_in_from_the_buffer_without_a_read() {
        let query = q(r#"{"orderBy":[["n","desc"]],"limit":2}"#);
        let mut docs = Docs::new();
        for (i, id) in ["a", "b", "c", "d"].iter().enumerate() {
            docs.insert(id.to_string(), (i as u64 + 1, value(&format!("{{\"n\":{i}}}"))));
        }
        let mut window = Window::new(query.clone(), read(&query, Window::<u64>::capacity(&query), &docs));
        let applied = window.apply("d", 5, None);
        assert!(!applied.refill);
        let summary: Vec<_> = applied.changes.iter().map(|c| (c.kind, c.id.as_str())).collect();
        assert_eq!(summary, [(ChangeType::Removed, "d"), (ChangeType::Added, "b")]);
        let moved = value(r#"{"n":-1}"#);
        let applied = window.apply("c", 6, Some((&moved, 6)));
        let summary: Vec<_> = applied.changes.iter().map(|c| (c.kind, c.id.as_str())).collect();
        assert_eq!(summary, [(ChangeType::Removed, "c"), (ChangeType::Added, "a")], "c moves down past a");
    }
}
