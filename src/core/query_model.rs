//! The model-based test of live queries in the core: thousands of random writes against a dozen
//! random queries (and a plain listing), with the server played by a reference that runs each query
//! afresh and sends what changed. After every delivery, each listener's documents, their order and
//! their data equal the query run over the confirmed state with the pending writes on top (cut to
//! what the client can know), and its changes replayed on its previous list give the new one.

use livepath_protocol::{
    ClientMessage, Path,
    query::{Direction, Filter, Key, Op, Order, Query, Value},
};

use super::*;

/// An update merges top-level members, as `Data` does in the browser.
impl Merge for Value {
    fn merged(&self, fields: &Self) -> Self {
        match (self, fields) {
            (Value::Object(base), Value::Object(fields)) => {
                let mut members = base.clone();
                members.extend(fields.iter().cloned());
                Value::object(members)
            }
            _ => fields.clone(),
        }
    }
}

/// The core tests' seeded generator.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize].clone()
    }
}

const COLLECTION: &str = "rooms/r1/messages";

fn s(text: &str) -> Value {
    Value::String(text.to_owned())
}

fn n(x: f64) -> Value {
    Value::Number(x)
}

/// A document: some of `status`, `n` (a number, sometimes a string), `tags`, `author.name`.
fn random_doc(rng: &mut Rng) -> Value {
    let mut members = Vec::new();
    if rng.below(5) > 0 {
        members.push(("status".to_owned(), rng.pick(&[s("open"), s("done"), Value::Null])));
    }
    if rng.below(6) > 0 {
        let value = if rng.below(8) == 0 { s(&rng.below(3).to_string()) } else { n(rng.below(10) as f64) };
        members.push(("n".to_owned(), value));
    }
    if rng.below(2) == 0 {
        members.push(("tags".to_owned(), Value::Array(vec![rng.pick(&[s("a"), s("b"), s("c")])])));
    }
    if rng.below(3) > 0 {
        let name = rng.pick(&[s("ann"), s("bob"), s("cy")]);
        members.push(("author".to_owned(), Value::object(vec![("name".to_owned(), name)])));
    }
    Value::object(members)
}

fn random_query(rng: &mut Rng) -> Query {
    loop {
        let mut query = Query::default();
        for _ in 0..rng.below(3) {
            let k = rng.below(10) as f64;
            let filter = match rng.below(8) {
                0 => ("status", Op::Eq, s("open")),
                1 => ("status", Op::Ne, s("done")),
                2 => ("n", Op::Gt, n(k)),
                3 => ("n", Op::Le, n(k)),
                4 => ("n", Op::In, Value::Array(vec![n(k), n(k + 1.0), s("1")])),
                5 => ("tags", Op::ArrayContains, s("a")),
                6 => ("author.name", Op::Eq, s("bob")),
                _ => ("status", Op::NotIn, Value::Array(vec![Value::Null, s("done")])),
            };
            query.filters.push(Filter { field: filter.0.to_owned(), op: filter.1, value: filter.2 });
        }
        for _ in 0..rng.below(3) {
            let field = rng.pick(&["n", "status", "author.name"]).to_owned();
            let direction = rng.pick(&[Direction::Asc, Direction::Desc]);
            query.order_by.push(Order { field, direction });
        }
        if rng.below(3) > 0 {
            query.limit = Some(1 + rng.below(8) as u32);
        }
        if !query.order_by.is_empty() && rng.below(4) == 0 {
            query.start_after = Some(vec![n(rng.below(6) as f64)]);
        }
        if query.check().is_ok() {
            return query;
        }
    }
}

/// Each document: its id, version and data.
type Docs = Vec<(String, u64, Value)>;

/// The query's result over `docs`, in order.
fn run(query: &Query, docs: &Docs) -> Docs {
    let mut keyed: Vec<(Key, (String, u64, Value))> = Vec::new();
    for (id, version, data) in docs {
        if let Some(key) = query.evaluate(id, data) {
            keyed.push((key, (id.clone(), *version, data.clone())));
        }
    }
    keyed.sort_by(|a, b| query.compare(&a.0, &b.0));
    if let Some(limit) = query.limit {
        keyed.truncate(limit as usize);
    }
    keyed.into_iter().map(|(_, doc)| doc).collect()
}

struct Write {
    req: WriteId,
    id: String,
    op: WriteOp<Value>,
}

/// `doc` after `op` (`None`: it does not exist), or `Err` for an update of nothing known.
fn written(doc: Option<&Value>, op: &WriteOp<Value>) -> Result<Option<Value>, ()> {
    match (op, doc) {
        (WriteOp::Set(data), _) => Ok(Some(data.clone())),
        (WriteOp::Delete, _) => Ok(None),
        (WriteOp::Update(fields), Some(doc)) => Ok(Some(doc.merged(fields))),
        (WriteOp::Update(_), None) => Err(()),
    }
}

struct Model {
    core: Core<Value>,
    /// The confirmed documents.
    docs: Docs,
    version: u64,
    /// The queries (the last is the plain listing), with the wire id and listener of each.
    queries: Vec<(Query, u64, ListenerId)>,
    /// What each query's server subscription holds (the last result the server sent).
    results: Vec<Docs>,
    /// What each listener last saw, as ids.
    seen: Vec<Option<Vec<String>>>,
    pending: Vec<Write>,
}

impl Model {
    fn find(docs: &Docs, id: &str) -> Option<usize> {
        docs.iter().position(|d| d.0 == id)
    }

    /// What listener `q` must see now: its query over the documents its result holds and those
    /// written since, each as the confirmed state with the pending writes on top.
    fn expected(&self, q: usize) -> Docs {
        let mut local = self.docs.clone();
        for w in &self.pending {
            let at = Self::find(&local, &w.id);
            let Ok(after) = written(at.map(|i| &local[i].2), &w.op) else { continue };
            let version = at.map_or(0, |i| local[i].1);
            if let Some(i) = at {
                local.remove(i);
            }
            if let Some(data) = after {
                local.push((w.id.clone(), version, data));
            }
        }
        let held = &self.results[q];
        let candidates: Docs = local
            .into_iter()
            .filter(|d| Self::find(held, &d.0).is_some() || self.pending.iter().any(|w| w.id == d.0))
            .collect();
        run(&self.queries[q].0, &candidates)
    }

    fn check(&mut self, actions: &[Action<Value>]) {
        for action in actions {
            let Action::Deliver { listeners, snapshot: Snapshot::Collection { docs, changes, .. }, .. } = action else {
                continue;
            };
            for listener in listeners {
                let q = self.queries.iter().position(|(_, _, l)| l == listener).expect("a listener of the test");
                let got: Vec<(String, Value)> = docs.iter().map(|d| (d.id().to_owned(), d.data.clone())).collect();
                let want: Vec<(String, Value)> = self.expected(q).into_iter().map(|(id, _, data)| (id, data)).collect();
                assert_eq!(got, want, "query {:?}", self.queries[q].0);
                let mut replayed = self.seen[q].take().unwrap_or_default();
                for c in changes {
                    if c.old_index >= 0 {
                        assert_eq!(replayed.remove(c.old_index as usize), c.id, "oldIndex of {c:?}");
                    }
                    if c.new_index >= 0 {
                        replayed.insert(c.new_index as usize, c.id.clone());
                    }
                }
                assert_eq!(replayed, got.iter().map(|d| d.0.clone()).collect::<Vec<_>>(), "changes replayed");
                self.seen[q] = Some(replayed);
            }
        }
    }

    /// The server commits (or refuses) the oldest pending write: each subscription gets the changes to
    /// its result, then the writer its answer.
    fn serve(&mut self, rng: &mut Rng) {
        let w = self.pending.remove(0);
        // The core still holds the write until its answer comes.
        self.pending.insert(0, Write { req: w.req, id: w.id.clone(), op: w.op.clone() });
        let at = Self::find(&self.docs, &w.id);
        let refused = rng.below(10) == 0;
        let after = written(at.map(|i| &self.docs[i].2), &w.op);
        let frame = match after {
            Ok(after) if !refused => {
                self.version += 1;
                let version = self.version;
                if let Some(i) = at {
                    self.docs.remove(i);
                }
                if let Some(data) = after {
                    self.docs.push((w.id.clone(), version, data));
                }
                for q in 0..self.queries.len() {
                    let new = run(&self.queries[q].0, &self.docs);
                    let old = &self.results[q];
                    let mut changes = Vec::new();
                    for (id, _, _) in old {
                        if Self::find(&new, id).is_none() {
                            changes.push((id.clone(), version, None));
                        }
                    }
                    for (id, v, data) in &new {
                        if Self::find(old, id).is_none_or(|i| old[i].1 != *v) {
                            changes.push((id.clone(), *v, Some(data.clone())));
                        }
                    }
                    self.results[q] = new;
                    if !changes.is_empty() {
                        let actions = self.core.received(Frame::Changes { id: self.queries[q].1, changes });
                        self.check(&actions);
                    }
                }
                Frame::Ack { req: w.req, version }
            }
            _ => Frame::Error { id: None, req: Some(w.req), code: ErrorCode::PermissionDenied, message: "no".into() },
        };
        self.pending.remove(0);
        let actions = self.core.received(frame);
        self.check(&actions);
    }

    /// Every listener sees exactly its query over the confirmed documents.
    fn settled(&self) {
        for (q, (query, _, _)) in self.queries.iter().enumerate() {
            let want: Vec<String> = run(query, &self.docs).into_iter().map(|d| d.0).collect();
            assert_eq!(self.seen[q].as_ref(), Some(&want), "query {query:?}");
        }
    }
}

#[test]
fn live_queries_follow_random_writes_with_latency_compensation() {
    let mut rng = Rng(2026);
    let mut core: Core<Value> = Core::new(CoreOptions::default());
    let path = Path::parse(COLLECTION).unwrap();
    let mut queries = Vec::new();
    for _ in 0..12 {
        let query = random_query(&mut rng);
        let text = serde_json::to_string(&query).unwrap();
        let (listener, _) = core.listen_query(&path, query.clone(), text);
        queries.push((query, 0, listener));
    }
    let (listener, _) = core.listen(&path);
    queries.push((Query::default(), 0, listener));
    core.opened();
    let actions = core.received(Frame::Welcome { heartbeat_ms: 25_000, epoch: None });
    let mut ids = Vec::new();
    for action in &actions {
        if let Action::Send(ClientMessage::Subscribe { id, .. }) = action {
            ids.push(*id);
        }
    }
    assert_eq!(ids.len(), queries.len(), "one subscription per distinct query");
    for (q, id) in queries.iter_mut().zip(ids) {
        q.1 = id;
    }
    let mut docs = Vec::new();
    for i in 0..20 {
        docs.push((format!("m{i}"), i + 1, random_doc(&mut rng)));
    }
    let results: Vec<Docs> = queries.iter().map(|(q, _, _)| run(q, &docs)).collect();
    let seen = vec![None; queries.len()];
    let mut model = Model { core, docs, version: 20, queries, results, seen, pending: Vec::new() };
    for q in 0..model.queries.len() {
        let result = model.results[q].clone();
        let docs = result.into_iter().map(|(id, v, data)| CollectionDoc::confirmed(id, v, data)).collect();
        let actions = model.core.received(Frame::Collection { id: model.queries[q].1, version: 20, docs });
        model.check(&actions);
    }
    model.settled();
    let doc_path = |id: &str| Path::parse(&format!("{COLLECTION}/{id}")).unwrap();
    for step in 0..3000 {
        let id = format!("m{}", rng.below(30));
        let op = match rng.below(6) {
            0 => WriteOp::Delete,
            1 | 2 => WriteOp::Update(random_doc(&mut rng)),
            _ => WriteOp::Set(random_doc(&mut rng)),
        };
        let (req, actions) = model.core.write(&doc_path(&id), op.clone(), format!("k{step}"));
        model.pending.push(Write { req, id, op });
        model.check(&actions);
        // Sometimes a second write waits with the first; the server answers in order.
        if model.pending.len() < 3 && rng.below(3) == 0 {
            continue;
        }
        while !model.pending.is_empty() {
            model.serve(&mut rng);
        }
        model.settled();
    }
}
