//! [`Queries`]: the live queries of the server, by collection, one [`Group`] per distinct query
//! (its canonical form), shared by every subscription to it: a write is evaluated once per query,
//! however many subscribers it has, and only for the queries on its own collection.

use std::{collections::HashMap, sync::Arc};

use livepath_protocol::{Path, Query, query::Value};
use serde_json::value::RawValue;

use super::Subscriber;
use crate::{
    frames,
    store::{QueryRead, raw_json},
    window::{Seen, Tracked, Window},
};

/// A document's data as windows hold it and frames embed it.
pub type Data = Arc<RawValue>;

/// Reads a query's result afresh: the start of it, at most `limit` documents.
pub type Requery<'a> = dyn FnMut(&Path, &Query, Option<usize>) -> Option<QueryRead> + 'a;

/// One distinct query on one collection and its subscribers.
#[derive(Debug)]
pub struct Group {
    window: Window<Data>,
    /// Writes up to this version are in the window already: it was read at this version.
    from: u64,
    /// The version the window's state is as of (the read's, or the last write to the collection
    /// since): a subscriber resuming from it or later has nothing to catch up on.
    version: u64,
    /// By (connection, subscription id).
    subscribers: HashMap<(u64, u64), Subscriber>,
    /// The window ran short and reading it again failed: it is read again on the next write to the
    /// collection, or the next tick.
    short: bool,
}

impl Group {
    /// A group over `read`, the start of `query`'s result (as many documents as
    /// [`Window::capacity`] asks for).
    pub fn new(query: Query, read: QueryRead) -> Self {
        let (from, version) = (read.as_of, read.version);
        let window = Window::new(query, tracked(read.docs));
        Self { window, from, version, subscribers: HashMap::new(), short: false }
    }

    /// The subscription's first frame from what the group holds: `unchanged` when the client
    /// resumes from `since` and the collection has not changed after it, else the result.
    pub fn first_frame(&self, id: u64, path: &Path, since: Option<u64>) -> String {
        match since {
            Some(since) if since >= self.version => frames::unchanged(id, since),
            _ => frames::query_result(id, path, self.version, self.window.visible()),
        }
    }

    fn push(&self, path: &Path, version: u64, changes: &[Seen<Data>]) {
        if changes.is_empty() {
            return;
        }
        let frame = frames::query_changes(version, changes);
        for s in self.subscribers.values() {
            s.outbox.push_delta(s.id, frame.with_id(s.id), || {
                Some(frames::query_result(s.id, path, self.version, self.window.visible()))
            });
        }
    }

    /// Reads the result again after the window ran short, and returns what changed.
    fn refill(&mut self, path: &Path, requery: &mut Requery<'_>) -> Vec<Seen<Data>> {
        let Some(read) = requery(path, self.window.query(), Window::<Data>::capacity(self.window.query())) else {
            self.short = true;
            return Vec::new();
        };
        self.short = false;
        // The read holds every write up to its version (other nodes' too, not published yet).
        self.from = self.from.max(read.as_of);
        self.version = self.version.max(read.version);
        self.window.refill(tracked(read.docs), read.as_of)
    }
}

fn tracked(docs: Vec<crate::store::Matched>) -> Vec<Tracked<Data>> {
    docs.into_iter()
        .filter_map(|d| Some(Tracked { key: d.key, version: d.version, data: Arc::from(raw_json(d.data).ok()?) }))
        .collect()
}

/// The live queries, by collection path, then by canonical query.
#[derive(Debug, Default)]
pub struct Queries {
    collections: HashMap<String, HashMap<String, Group>>,
}

impl Queries {
    /// The group of `canonical` on `collection`, if it has subscribers.
    pub fn get(&self, collection: &Path, canonical: &str) -> Option<&Group> {
        self.collections.get(collection.as_str())?.get(canonical)
    }

    /// Adds `subscriber` to the group of `canonical` on `collection`: the one there, or else
    /// `group`. Returns whether the subscription is new, or the subscriber back when there is no
    /// group for it.
    pub fn add(
        &mut self,
        collection: &Path,
        canonical: &str,
        subscriber: Subscriber,
        group: Option<Group>,
    ) -> Result<bool, Subscriber> {
        let groups = self.collections.entry(collection.as_str().to_owned()).or_default();
        let group = match (groups.get_mut(canonical), group) {
            (Some(existing), _) => existing,
            (None, Some(group)) => groups.entry(canonical.to_owned()).or_insert(group),
            (None, None) => {
                if groups.is_empty() {
                    self.collections.remove(collection.as_str());
                }
                return Err(subscriber);
            }
        };
        Ok(group.subscribers.insert((subscriber.conn, subscriber.id), subscriber).is_none())
    }

    /// Removes subscription `id` of connection `conn`; a group left without subscribers goes.
    /// Returns whether it was there.
    pub fn remove(&mut self, collection: &Path, canonical: &str, conn: u64, id: u64) -> bool {
        let Some(groups) = self.collections.get_mut(collection.as_str()) else { return false };
        let Some(group) = groups.get_mut(canonical) else { return false };
        let removed = group.subscribers.remove(&(conn, id)).is_some();
        if group.subscribers.is_empty() {
            groups.remove(canonical);
            if groups.is_empty() {
                self.collections.remove(collection.as_str());
            }
        }
        removed
    }

    /// The distinct live queries.
    pub fn groups(&self) -> usize {
        self.collections.values().map(HashMap::len).sum()
    }

    /// Applies what one commit at `version` wrote to documents of `collection` (`docs`: each id and
    /// its JSON after the commit, `None` if deleted) to every query on that collection, and queues
    /// the changes it makes to each result as one `changes` frame.
    pub fn publish(
        &mut self,
        collection: &Path,
        version: u64,
        docs: &[(&str, Option<&RawValue>)],
        requery: &mut Requery<'_>,
    ) {
        let Some(groups) = self.collections.get_mut(collection.as_str()) else { return };
        // Parsed and copied once for every query on the collection.
        let parsed: Vec<(&str, Option<(Value, Data)>)> = docs
            .iter()
            .map(|(id, data)| {
                let doc = match data {
                    None => None,
                    Some(raw) => match serde_json::from_str::<Value>(raw.get()) {
                        Ok(value) => Some((value, Arc::from((*raw).to_owned()))),
                        Err(e) => {
                            tracing::error!("a written document does not parse ({e}); queries see it deleted");
                            None
                        }
                    },
                };
                (*id, doc)
            })
            .collect();
        for group in groups.values_mut() {
            if version <= group.from {
                continue;
            }
            group.version = group.version.max(version);
            // Several documents at once: what subscribers saw before, to send the net change, each
            // document once (one by one, a document could be modified, then pushed out, by one commit).
            let before = (parsed.len() > 1).then(|| group.window.seen());
            let mut changes = Vec::new();
            let mut refill = group.short;
            for (id, doc) in &parsed {
                let applied = group.window.apply(id, version, doc.as_ref().map(|(value, data)| (value, data.clone())));
                changes.extend(applied.changes);
                refill |= applied.refill;
            }
            if refill {
                changes.extend(group.refill(collection, requery));
            }
            if let Some(before) = before {
                changes = group.window.changes_since(&before, version);
            }
            group.push(collection, version, &changes);
        }
    }

    /// Reads again the results whose last re-read failed, and sends what changed.
    pub fn retry_short(&mut self, requery: &mut Requery<'_>) {
        for (collection, groups) in &mut self.collections {
            let Ok(path) = Path::parse(collection) else { continue };
            for group in groups.values_mut().filter(|g| g.short) {
                let changes = group.refill(&path, requery);
                group.push(&path, group.version, &changes);
            }
        }
    }

    /// Every group's query, to read them all again ([`Queries::reload`]).
    pub fn all(&self) -> Vec<(Path, String, Query)> {
        let mut all = Vec::new();
        for (collection, groups) in &self.collections {
            let Ok(path) = Path::parse(collection) else { continue };
            for (canonical, group) in groups {
                all.push((path.clone(), canonical.clone(), group.window.query().clone()));
            }
        }
        all
    }

    /// Replaces a group's result with `read` and sends its subscribers what changed: for when the
    /// writes since what they were sent can no longer be told one by one.
    pub fn reload(&mut self, collection: &Path, canonical: &str, read: QueryRead) {
        let Some(group) = self.collections.get_mut(collection.as_str()).and_then(|g| g.get_mut(canonical)) else {
            return;
        };
        let as_of = read.as_of;
        let mut once = Some(read);
        let changes = group.refill(collection, &mut |_, _, _| once.take());
        group.push(collection, as_of, &changes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        outbox::{Next, Outbox},
        store::Matched,
    };

    fn read(docs: &[(&str, i64)], query: &Query, as_of: u64) -> QueryRead {
        let docs = docs
            .iter()
            .filter_map(|(id, n)| {
                let data = format!("{{\"n\":{n}}}");
                let value: Value = serde_json::from_str(&data).ok()?;
                Some(Matched { key: query.evaluate(id, &value)?, version: as_of, data })
            })
            .collect();
        QueryRead { as_of, version: as_of, docs }
    }

    #[tokio::test]
    async fn a_window_whose_re_read_failed_is_read_again_later_and_its_subscribers_get_what_changed() {
        let query: Query = serde_json::from_str(r#"{"orderBy":[["n","desc"]],"limit":1}"#).unwrap();
        let path = Path::parse("scores").unwrap();
        let outbox = Arc::new(Outbox::new(100, usize::MAX, Arc::default()));
        let mut queries = Queries::default();
        // A full window (the shown document and its buffer of 20) over a larger result: once all 21
        // are deleted the window must be read again.
        let ids: Vec<String> = (0..21).map(|i| format!("d{i:02}")).collect();
        let docs: Vec<(&str, i64)> = ids.iter().enumerate().map(|(i, id)| (id.as_str(), 100 - i as i64)).collect();
        let group = Group::new(query.clone(), read(&docs, &query, 1));
        queries.add(&path, "q", Subscriber { conn: 1, id: 7, outbox: outbox.clone() }, Some(group)).unwrap();
        let mut failing = |_: &Path, _: &Query, _: Option<usize>| -> Option<QueryRead> { None };
        for (i, id) in ids.iter().enumerate() {
            queries.publish(&path, 2 + i as u64, &[(id.as_str(), None)], &mut failing);
        }
        let mut store = |_: &Path, q: &Query, _: Option<usize>| Some(read(&[("later", 4)], q, 30));
        queries.retry_short(&mut store);
        queries.retry_short(&mut failing); // nothing short any more: not called
        outbox.close(None);
        let mut frames = Vec::new();
        while let Next::Frame(frame) = outbox.next().await {
            frames.push(serde_json::from_str::<serde_json::Value>(&frame).unwrap());
        }
        let changes: Vec<(String, String)> = frames
            .iter()
            .flat_map(|f| f["changes"].as_array().unwrap().clone())
            .map(|c| (c["type"].as_str().unwrap().to_owned(), c["id"].as_str().unwrap().to_owned()))
            .collect();
        let last: Vec<(String, String)> = changes[changes.len() - 3..].to_vec();
        let pair = |t: &str, id: &str| (t.to_owned(), id.to_owned());
        assert_eq!(last, [pair("added", "d20"), pair("removed", "d20"), pair("added", "later")]);
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_gets_the_result_in_one_frame_instead_of_every_change() {
        let query: Query = serde_json::from_str(r#"{"orderBy":[["n","desc"]],"limit":2}"#).unwrap();
        let path = Path::parse("scores").unwrap();
        let outbox = Arc::new(Outbox::new(2, usize::MAX, Arc::default()));
        let mut queries = Queries::default();
        let group = Group::new(query.clone(), read(&[("a", 1), ("b", 2)], &query, 2));
        let subscriber = Subscriber { conn: 1, id: 7, outbox: outbox.clone() };
        queries.add(&path, "q", subscriber, Some(group)).unwrap();
        let mut requery = |_: &Path, _: &Query, _: Option<usize>| -> Option<QueryRead> { None };
        // Four writes, each entering the top: more changes than the outbox holds.
        for (i, id) in ["c", "d", "e", "f"].iter().enumerate() {
            let data = RawValue::from_string(format!("{{\"n\":{}}}", 10 + i)).unwrap();
            queries.publish(&path, 3 + i as u64, &[(id, Some(&*data))], &mut requery);
        }
        outbox.close(None);
        let mut frames = Vec::new();
        while let Next::Frame(frame) = outbox.next().await {
            frames.push(serde_json::from_str::<serde_json::Value>(&frame).unwrap());
        }
        assert_eq!(frames[0]["type"], "collection", "the waiting changes became one result: {frames:?}");
        assert!(frames.len() < 4, "fewer frames than writes: {frames:?}");
        let mut view: Vec<String> =
            frames[0]["docs"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(view, ["e", "d"], "the result when it was queued, in order");
        for frame in &frames[1..] {
            for change in frame["changes"].as_array().unwrap() {
                let id = change["id"].as_str().unwrap().to_owned();
                view.retain(|v| *v != id);
                if change["type"] != "removed" {
                    view.push(id);
                }
            }
        }
        view.sort();
        assert_eq!(view, ["e", "f"], "and the changes after it lead to the latest");
    }

    #[tokio::test]
    async fn a_commit_that_changes_a_shown_document_and_pushes_it_out_sends_each_document_once() {
        let query: Query = serde_json::from_str(r#"{"orderBy":[["n","desc"]],"limit":1}"#).unwrap();
        let path = Path::parse("scores").unwrap();
        let outbox = Arc::new(Outbox::new(100, usize::MAX, Arc::default()));
        let mut queries = Queries::default();
        let group = Group::new(query.clone(), read(&[("a", 5), ("b", 3)], &query, 1));
        queries.add(&path, "q", Subscriber { conn: 1, id: 7, outbox: outbox.clone() }, Some(group)).unwrap();
        let mut requery = |_: &Path, _: &Query, _: Option<usize>| -> Option<QueryRead> { None };
        // One commit: `a` (shown) goes up to 6, and `c` arrives above it at 10.
        let (a, c) =
            (RawValue::from_string(r#"{"n":6}"#.into()).unwrap(), RawValue::from_string(r#"{"n":10}"#.into()).unwrap());
        queries.publish(&path, 2, &[("a", Some(&*a)), ("c", Some(&*c))], &mut requery);
        outbox.close(None);
        let Next::Frame(frame) = outbox.next().await else { panic!("a changes frame") };
        let frame: serde_json::Value = serde_json::from_str(&frame).unwrap();
        let changes: Vec<(&str, &str)> = frame["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["type"].as_str().unwrap(), c["id"].as_str().unwrap()))
            .collect();
        assert_eq!(changes, [("removed", "a"), ("added", "c")], "{frame}");
        assert!(matches!(outbox.next().await, Next::Close(_)), "one frame for the commit");
    }
}
