//! Atomic commits over real sockets: random commits of sets, merges, dotted updates, deletes and checks,
//! with every transform and precondition, answer and leave what a plain model of the rules predicts (on
//! SQLite and on two PostgreSQL nodes), one-time reads and live listeners (documents, collections and
//! live queries, the last applied as the client applies them) see each commit whole, and concurrent
//! commits, server timestamps, idempotency keys and `POST /v1/commit` keep their promises.

// Helpers outside #[test] functions unwrap too: a failed unwrap is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    cmp::Ordering,
    collections::{BTreeMap, BTreeSet},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use common::{Client, Rng, TestServer, pg::Cluster};
use livepath_server::Config;
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------------------
// Servers and connections.

/// Queues long enough that no snapshot coalesces: a listener must see every commit.
fn roomy(config: Config) -> Config {
    Config { outbox_frames: 1 << 20, outbox_bytes: 1 << 30, ..config }
}

async fn sqlite() -> TestServer {
    TestServer::start(roomy(Config::in_memory())).await
}

/// `n` nodes on one fresh PostgreSQL database.
async fn postgres_nodes(n: usize) -> Vec<TestServer> {
    let db = Cluster::shared().database().await;
    let mut nodes = Vec::new();
    for _ in 0..n {
        nodes.push(TestServer::start(roomy(Config { database_url: Some(db.clone()), ..Config::default() })).await);
    }
    nodes
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// A connection for requests (it subscribes to nothing, so every frame it gets is an answer).
struct Conn {
    client: Client,
    req: u64,
}

impl Conn {
    async fn open(node: &TestServer) -> Self {
        Self { client: node.connect().await, req: 0 }
    }

    /// Sends `message` with the next `req`; the answer to it.
    async fn ask(&mut self, mut message: Value) -> Value {
        self.req += 1;
        message["req"] = json!(self.req);
        self.client.send(message.clone()).await;
        let answer = self.client.recv().await;
        assert_eq!(answer["req"], self.req, "the next frame answers {message}: {answer}");
        answer
    }

    /// A one-time read: the `result` frame.
    async fn get(&mut self, path: &str) -> Value {
        let result = self.ask(json!({"type": "get", "path": path})).await;
        assert_eq!(result["type"], "result", "get {path}: {result}");
        result
    }
}

fn commit(writes: Value) -> Value {
    json!({"type": "commit", "writes": writes})
}

/// `(type, code, write)` of an answer, to compare in one assertion.
fn outcome(answer: &Value) -> (Option<&str>, Option<&str>, Option<u64>) {
    (answer["type"].as_str(), answer["code"].as_str(), answer["write"].as_u64())
}

async fn post_commit(node: &TestServer, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new().post(node.http("/v1/commit")).json(body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The HTTP status the contract gives each error code.
fn status_of(code: &str) -> u16 {
    match code {
        "not-found" => 404,
        "already-exists" | "aborted" => 409,
        "failed-precondition" => 412,
        "invalid-argument" => 400,
        other => panic!("no status agreed for {other}"),
    }
}

/// Prints the seed when the test that holds it fails.
struct SeedReport(u64);

impl Drop for SeedReport {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("failed with seed {} (replay: LIVEPATH_COMMITS_SEED={} cargo test ...)", self.0, self.0);
        }
    }
}

/// The seeds of the model-based tests: `LIVEPATH_COMMITS_SEED` (a replay), else three fixed ones.
fn seeds() -> Vec<u64> {
    match std::env::var("LIVEPATH_COMMITS_SEED") {
        Ok(seed) if !seed.is_empty() => vec![seed.parse().expect("a number")],
        _ => vec![1, 2, 3],
    }
}

// ---------------------------------------------------------------------------------------------------
// The model: the rules of the contract, written out plainly.

/// The store: every existing document's path, version and data.
type Docs = BTreeMap<String, (u64, Value)>;

/// What the earlier writes of one commit left: per path, `None` when deleted, else the version (`None`
/// once this commit wrote it: the commit's own, unknown until the ack) and the data.
type Pending = BTreeMap<String, Option<(Option<u64>, Value)>>;

/// A way the model allows a commit to fail.
#[derive(Debug, Clone, PartialEq)]
struct Failure {
    code: &'static str,
    write: usize,
    /// Whether the answer must name `write` (a refusal found while reading the JSON may not know it).
    named: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Prediction {
    /// The commit applies: what it leaves at each path it wrote (`None`: deleted).
    Applies(BTreeMap<String, Option<Value>>),
    /// The commit fails; any of these answers fits the contract.
    Fails(Vec<Failure>),
}

fn field_path(field: &str) -> Vec<&str> {
    field.split('.').collect()
}

fn get_field<'a>(doc: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut value = doc;
    for segment in path {
        value = value.as_object()?.get(*segment)?;
    }
    Some(value)
}

/// Sets the field, making missing parents and replacing parents that are not objects.
fn set_field(doc: &mut Value, path: &[&str], new: Value) {
    let (last, parents) = path.split_last().unwrap();
    let mut value = doc;
    for segment in parents {
        let member = value.as_object_mut().unwrap().entry(segment.to_string()).or_insert_with(|| json!({}));
        if !member.is_object() {
            *member = json!({});
        }
        value = member;
    }
    value.as_object_mut().unwrap().insert(last.to_string(), new);
}

/// Removes the field if it is there (a missing parent or one that is not an object: nothing to do).
fn delete_field(doc: &mut Value, path: &[&str]) {
    let (last, parents) = path.split_last().unwrap();
    let mut value = doc;
    for segment in parents {
        match value.as_object_mut().and_then(|o| o.get_mut(*segment)) {
            Some(member) => value = member,
            None => return,
        }
    }
    if let Some(object) = value.as_object_mut() {
        object.remove(*last);
    }
}

/// Equality as queries compare: numbers by value (`1 == 1.0`), objects whatever their member order.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn increment(current: Option<&Value>, by: &Value) -> Value {
    let Some(Value::Number(current)) = current else { return by.clone() };
    match (current.as_i64(), by.as_i64()) {
        (Some(a), Some(b)) => json!(a.saturating_add(b)),
        _ => json!(current.as_f64().unwrap() + by.as_f64().unwrap()),
    }
}

fn array_union(current: Option<&Value>, items: &[Value]) -> Value {
    let mut out = match current {
        Some(Value::Array(existing)) => existing.clone(),
        _ => Vec::new(),
    };
    for item in items {
        if !out.iter().any(|e| same(e, item)) {
            out.push(item.clone());
        }
    }
    Value::Array(out)
}

fn array_remove(current: Option<&Value>, items: &[Value]) -> Value {
    match current {
        Some(Value::Array(existing)) => {
            Value::Array(existing.iter().filter(|e| !items.iter().any(|i| same(e, i))).cloned().collect())
        }
        _ => json!([]),
    }
}

/// Applies one transform to the document; `ts` stands for the commit's server timestamp.
fn transform(doc: &mut Value, t: &Value, ts: i64) {
    let path = field_path(t["field"].as_str().unwrap());
    let current = get_field(doc, &path);
    let new = if let Some(by) = t.get("increment") {
        increment(current, by)
    } else if let Some(Value::Array(items)) = t.get("arrayUnion") {
        array_union(current, items)
    } else if let Some(Value::Array(items)) = t.get("arrayRemove") {
        array_remove(current, items)
    } else if t.get("serverTimestamp").is_some() {
        json!(ts)
    } else {
        assert!(t.get("deleteField").is_some(), "a transform the model knows: {t}");
        delete_field(doc, &path);
        return;
    };
    set_field(doc, &path, new);
}

/// Objects merge member by member; anything else replaces.
fn deep_merge(into: &mut Map<String, Value>, data: &Map<String, Value>) {
    for (key, value) in data {
        match (into.get_mut(key), value) {
            (Some(Value::Object(existing)), Value::Object(more)) => deep_merge(existing, more),
            _ => {
                into.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Whether the write is refused before any state matters: `Some(named)`, `named` when the answer
/// must say which write it was.
fn malformed(w: &Value) -> Option<bool> {
    let loose = Some(false);
    let Some(op) = w["op"].as_str() else { return loose };
    if !["set", "update", "delete", "check"].contains(&op) {
        return loose;
    }
    let Some(path) = w["path"].as_str() else { return loose };
    // The only document paths this test writes are `collection/id`.
    if path.split('/').count() != 2 || path.split('/').any(str::is_empty) {
        return loose;
    }
    if matches!(op, "set" | "update") != w["data"].is_object() {
        return loose;
    }
    let merge = op == "set" && w["merge"] == json!(true);
    for t in w["transforms"].as_array().into_iter().flatten() {
        if !matches!(op, "set" | "update") || !t["field"].is_string() {
            return loose;
        }
        let valid = if let Some(by) = t.get("increment") {
            by.is_number()
        } else if let Some(items) = t.get("arrayUnion").or_else(|| t.get("arrayRemove")) {
            items.is_array()
        } else if let Some(flag) = t.get("serverTimestamp") {
            *flag == json!(true)
        } else if let Some(flag) = t.get("deleteField") {
            if *flag == json!(true) && op == "set" && !merge {
                return Some(true);
            }
            *flag == json!(true)
        } else {
            false
        };
        if !valid {
            return loose;
        }
    }
    match w.get("if") {
        None if op == "check" => loose,
        None => None,
        Some(c) if c["exists"].is_boolean() || c["version"].is_u64() => None,
        Some(_) => loose,
    }
}

/// The document at `path` as the store and the commit's earlier writes leave it.
fn state(docs: &Docs, pending: &Pending, path: &str) -> Option<(Option<u64>, Value)> {
    match pending.get(path) {
        Some(after) => after.clone(),
        None => docs.get(path).map(|(v, d)| (Some(*v), d.clone())),
    }
}

/// One (well-formed) write on the state so far: `Err` with the codes the contract allows.
fn step(docs: &Docs, pending: &mut Pending, w: &Value, ts: i64) -> Result<(), Vec<&'static str>> {
    let op = w["op"].as_str().unwrap();
    let path = w["path"].as_str().unwrap();
    let before = state(docs, pending, path);
    if let Some(condition) = w.get("if") {
        if let Some(exists) = condition["exists"].as_bool() {
            match (exists, before.is_some()) {
                (true, false) => return Err(vec!["not-found"]),
                (false, true) => return Err(vec!["already-exists"]),
                _ => {}
            }
        }
        if let Some(n) = condition["version"].as_u64() {
            // A missing document is at version 0; one this commit wrote is at the commit's version,
            // newer than any version a client can name.
            let version = match &before {
                None => Some(0),
                Some((v, _)) => *v,
            };
            if version != Some(n) {
                // An update of a missing document is refused for one reason or the other.
                return Err(if op == "update" && before.is_none() {
                    vec!["failed-precondition", "not-found"]
                } else {
                    vec!["failed-precondition"]
                });
            }
        }
    }
    let transforms = w["transforms"].as_array().cloned().unwrap_or_default();
    let after = match op {
        "check" => return Ok(()),
        "delete" => None,
        "set" => {
            let mut doc = if w["merge"] == json!(true) {
                let mut base = before.map_or_else(Map::new, |(_, d)| d.as_object().unwrap().clone());
                deep_merge(&mut base, w["data"].as_object().unwrap());
                Value::Object(base)
            } else {
                w["data"].clone()
            };
            for t in &transforms {
                transform(&mut doc, t, ts);
            }
            Some(doc)
        }
        "update" => {
            let Some((_, mut doc)) = before else { return Err(vec!["not-found"]) };
            for (field, value) in w["data"].as_object().unwrap() {
                set_field(&mut doc, &field_path(field), value.clone());
            }
            for t in &transforms {
                transform(&mut doc, t, ts);
            }
            Some(doc)
        }
        other => panic!("not an op: {other}"),
    };
    pending.insert(path.to_owned(), after.map(|d| (None, d)));
    Ok(())
}

/// What the contract says of `writes` on `docs`, with `ts` as the commit's server timestamp.
fn predict(docs: &Docs, writes: &[Value], ts: i64) -> Prediction {
    let invalid = |write, named| Failure { code: "invalid-argument", write, named };
    if writes.is_empty() || writes.len() > 500 {
        return Prediction::Fails(vec![invalid(0, false)]);
    }
    let first_malformed = writes.iter().enumerate().find_map(|(i, w)| malformed(w).map(|named| (i, named)));
    let mut pending = Pending::new();
    for (i, w) in writes.iter().enumerate() {
        if let Some((j, named)) = first_malformed {
            if i == j {
                return Prediction::Fails(vec![invalid(j, named)]);
            }
        }
        if let Err(codes) = step(docs, &mut pending, w, ts) {
            let mut allowed: Vec<Failure> =
                codes.into_iter().map(|code| Failure { code, write: i, named: true }).collect();
            // A server may check the form of every write before it reads any document.
            if let Some((j, named)) = first_malformed {
                allowed.push(invalid(j, named));
            }
            return Prediction::Fails(allowed);
        }
    }
    Prediction::Applies(pending.into_iter().map(|(path, after)| (path, after.map(|(_, d)| d))).collect())
}

fn applied(prediction: Prediction) -> BTreeMap<String, Option<Value>> {
    match prediction {
        Prediction::Applies(outcome) => outcome,
        Prediction::Fails(f) => {
            panic!("the model applies a commit with one timestamp and fails it with another: {f:?}")
        }
    }
}

/// Where two documents differ first (a path of object members), if they do.
fn first_difference(a: &Value, b: &Value, at: &mut Vec<String>) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) if x.len() == y.len() && x.keys().eq(y.keys()) => {
            for (key, value) in x {
                at.push(key.clone());
                if first_difference(value, &y[key], at) {
                    return true;
                }
                at.pop();
            }
            false
        }
        _ => a != b,
    }
}

/// The server timestamp the store used for a commit, read off its documents: at the first place where
/// the model's outcomes with timestamps `ta` and `tb` differ, the model holds `ta + k`, so the store's
/// value there is `T + k`.
fn read_timestamp(
    with_a: &BTreeMap<String, Option<Value>>,
    ta: i64,
    with_b: &BTreeMap<String, Option<Value>>,
    stored: &BTreeMap<String, Option<(u64, Value)>>,
) -> Option<(i64, String)> {
    for (path, a) in with_a {
        let (Some(a), Some(Some(b))) = (a, with_b.get(path)) else { continue };
        let mut at = Vec::new();
        if !first_difference(a, b, &mut at) {
            continue;
        }
        let segments: Vec<&str> = at.iter().map(String::as_str).collect();
        let place = format!("{path} {}", at.join("."));
        let modelled = get_field(a, &segments)?;
        let store = get_field(&stored.get(path)?.as_ref()?.1, &segments)?;
        let t = match (modelled.as_i64(), store.as_i64()) {
            (Some(m), Some(s)) => (i128::from(s) - (i128::from(m) - i128::from(ta))) as i64,
            _ => (store.as_f64()? - (modelled.as_f64()? - ta as f64)).round() as i64,
        };
        return Some((t, place));
    }
    None
}

// ---------------------------------------------------------------------------------------------------
// Random commits.

const COLLECTIONS: [&str; 3] = ["rooms", "users", "notes"];
const IDS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];
/// Field paths for update keys and transforms: nested, through a non-object (`n.q`), and timestamps.
const FIELDS: [&str; 12] = ["n", "s", "tags", "t", "m", "m.x", "m.y", "m.list", "m.z.w", "n.q", "ts", "m.ts"];

fn random_scalar(rng: &mut Rng) -> Value {
    match rng.below(12) {
        0..=3 => json!(rng.below(10) as i64 - 3),
        4 => json!(rng.below(10) as f64 + 0.5),
        5 => json!(*rng.pick(&[i64::MAX - 1, i64::MIN + 1, i64::MAX])),
        6 | 7 => json!(*rng.pick(&["x", "y", ""])),
        8 => json!(rng.below(2) == 0),
        9 => Value::Null,
        _ => json!(rng.below(3)),
    }
}

/// `n`, which the live queries order by and filter on: mostly a small number (increments move it),
/// sometimes at the range filter's bound or past it, or of another type.
fn random_n(rng: &mut Rng) -> Value {
    match rng.below(16) {
        0..=8 => json!(rng.below(10) as i64 - 3),
        9 => json!(rng.below(8) as f64 - 2.5),
        10 => json!(*rng.pick(&[-1_000_000, -1_000_001, i64::MAX, i64::MAX - 1, i64::MIN + 1])),
        11 => json!(*rng.pick(&["x", "3", ""])),
        12 => rng.pick(&[Value::Null, json!(true), json!(false)]).clone(),
        13 => rng.pick(&[json!([]), json!([1]), json!([1, "a"]), json!({"q": 1}), json!({})]).clone(),
        _ => json!(rng.below(3)),
    }
}

/// `s`, which the live queries filter on (`== "x"`, `!= "x"`, `== "y"`) and order by.
fn random_s(rng: &mut Rng) -> Value {
    match rng.below(10) {
        0..=3 => json!("x"),
        4..=6 => json!("y"),
        7 => json!(*rng.pick(&["", "z", "X"])),
        8 => json!(rng.below(3)),
        _ => rng.pick(&[Value::Null, json!(["x"]), json!({"x": 1})]).clone(),
    }
}

/// Array elements, with look-alikes that queries count equal (`1` and `1.0`, member order).
fn random_element(rng: &mut Rng) -> Value {
    rng.pick(&[
        json!(1),
        json!(1.0),
        json!(2),
        json!(2.5),
        json!(0),
        json!("a"),
        json!("b"),
        json!(true),
        Value::Null,
        json!({"k": 1}),
        json!({"k": 1.0}),
        json!({"k": 1, "j": "x"}),
        json!([1]),
        json!([1.0, "a"]),
    ])
    .clone()
}

fn random_elements(rng: &mut Rng, at_least: u64) -> Value {
    let count = at_least + rng.below(4 - at_least);
    Value::Array((0..count).map(|_| random_element(rng)).collect())
}

fn random_object(rng: &mut Rng, depth: u32) -> Map<String, Value> {
    let names: &[&str] =
        if depth == 0 { &["n", "s", "tags", "m", "t", "ts"] } else { &["x", "y", "z", "list", "ts", "w"] };
    let mut object = Map::new();
    for _ in 0..rng.below(4) {
        let name = *rng.pick(names);
        let value = match rng.below(6) {
            _ if depth < 2 && matches!(name, "m" | "z") && rng.below(3) != 0 => {
                Value::Object(random_object(rng, depth + 1))
            }
            0 if depth < 2 => Value::Object(random_object(rng, depth + 1)),
            1 => random_elements(rng, 0),
            _ => random_scalar(rng),
        };
        object.insert(name.to_owned(), value);
    }
    if depth == 0 {
        // The live queries' fields, often.
        if rng.below(4) != 0 {
            object.insert("n".into(), random_n(rng));
        }
        if rng.below(2) == 0 {
            object.insert("s".into(), random_s(rng));
        }
    }
    object
}

/// Update keys: field paths, none a prefix of another (their order would then matter).
fn random_update_data(rng: &mut Rng) -> Value {
    let overlaps = |a: &str, b: &str| a == b || a.starts_with(&format!("{b}.")) || b.starts_with(&format!("{a}."));
    let mut data = Map::new();
    // The live queries' fields, often.
    if rng.below(3) == 0 {
        data.insert("n".into(), random_n(rng));
    }
    if rng.below(4) == 0 {
        data.insert("s".into(), random_s(rng));
    }
    for _ in 0..rng.below(4) {
        let field = *rng.pick(&FIELDS);
        if data.keys().all(|k| !overlaps(k, field)) {
            let value = if rng.below(4) == 0 { Value::Object(random_object(rng, 1)) } else { random_scalar(rng) };
            data.insert(field.to_owned(), value);
        }
    }
    Value::Object(data)
}

fn random_transform(rng: &mut Rng, may_delete: bool) -> Value {
    // Increments of `n`, often: documents move within, into and out of the live queries' results.
    if rng.below(3) == 0 {
        let by = rng.pick(&[json!(1), json!(-1), json!(2), json!(-4), json!(0.5)]).clone();
        return json!({"field": "n", "increment": by});
    }
    let field = *rng.pick(&FIELDS);
    match rng.below(if may_delete { 9 } else { 8 }) {
        0 | 1 => {
            let by = rng
                .pick(&[
                    json!(1),
                    json!(2),
                    json!(-3),
                    json!(0.5),
                    json!(-1.25),
                    json!(i64::MAX),
                    json!(i64::MIN),
                    json!(1_i64 << 62),
                ])
                .clone();
            json!({"field": field, "increment": by})
        }
        2 | 3 => json!({"field": field, "arrayUnion": random_elements(rng, 1)}),
        4 | 5 => json!({"field": field, "arrayRemove": random_elements(rng, 1)}),
        6 | 7 => json!({"field": field, "serverTimestamp": true}),
        _ => json!({"field": field, "deleteField": true}),
    }
}

/// A precondition that holds four times in five, given the document's state.
fn random_condition(rng: &mut Rng, docs: &Docs, path: &str, now: &Option<(Option<u64>, Value)>) -> Value {
    let holds = rng.below(5) != 0;
    let version = match now {
        None => Some(0),
        Some((v, _)) => *v,
    };
    match version {
        Some(v) if rng.below(2) == 0 => {
            let other = *rng.pick(&[v + 1, v.saturating_sub(1), 0, 1000]);
            json!({"version": if holds { v } else { other }})
        }
        // Written earlier in this commit: the version it had before no longer holds.
        None if rng.below(4) == 0 => json!({"version": docs.get(path).map_or(0, |(v, _)| *v)}),
        _ => json!({"exists": now.is_some() == holds}),
    }
}

/// A write, mostly to a document of `home`, the commit's collection.
fn random_write(rng: &mut Rng, docs: &Docs, pending: &Pending, home: &str) -> Value {
    let path = if !pending.is_empty() && rng.below(3) == 0 {
        let paths: Vec<&String> = pending.keys().collect();
        (*rng.pick(&paths)).clone()
    } else {
        let collection = if rng.below(4) != 0 { home } else { rng.pick(&COLLECTIONS) };
        format!("{collection}/{}", rng.pick(&IDS))
    };
    let now = state(docs, pending, &path);
    let mut op =
        *rng.pick(&["set", "set", "set", "merge", "merge", "update", "update", "update", "delete", "delete", "check"]);
    if op == "update" && now.is_none() && rng.below(2) == 0 {
        op = "merge";
    }
    let mut write = match op {
        "set" => json!({"op": "set", "path": path, "data": random_object(rng, 0)}),
        "merge" => {
            // Mostly with a nested object, so that merging member by member shows.
            let mut data = random_object(rng, 0);
            if rng.below(3) != 0 {
                let mut nested = random_object(rng, 1);
                nested.insert(rng.pick(&["x", "y", "z"]).to_string(), random_scalar(rng));
                data.insert("m".into(), Value::Object(nested));
            }
            json!({"op": "set", "path": path, "data": data, "merge": true})
        }
        "update" => json!({"op": "update", "path": path, "data": random_update_data(rng)}),
        "delete" => json!({"op": "delete", "path": path}),
        _ => json!({"op": "check", "path": path}),
    };
    if matches!(op, "set" | "merge" | "update") && rng.below(20) < 9 {
        let transforms: Vec<Value> = (0..1 + rng.below(3)).map(|_| random_transform(rng, op != "set")).collect();
        write["transforms"] = json!(transforms);
    }
    if op == "set" && rng.below(4) == 0 {
        write["merge"] = json!(false);
    }
    if op == "check" || rng.below(10) < 3 {
        write["if"] = random_condition(rng, docs, &path, &now);
    }
    write
}

/// A write the server must refuse whatever the state: `invalid-argument`.
fn random_malformed_write(rng: &mut Rng) -> Value {
    let path = format!("{}/{}", rng.pick(&COLLECTIONS), rng.pick(&IDS));
    match rng.below(5) {
        0 | 1 => {
            json!({"op": "set", "path": path, "data": {"n": 1}, "transforms": [{"field": "t", "deleteField": true}]})
        }
        2 => json!({"op": "check", "path": path}),
        3 => json!({"op": "update", "path": path, "data": {}, "transforms": [{"field": "n", "increment": "x"}]}),
        _ => json!({"op": "set", "path": path, "data": {}, "transforms": [{"field": "tags", "arrayUnion": 5}]}),
    }
}

fn random_commit(rng: &mut Rng, docs: &Docs, ts: i64) -> Vec<Value> {
    let count = 1 + rng.below(4) + if rng.below(5) == 0 { rng.below(6) } else { 0 };
    // Most writes on one collection: a commit changes several documents of a query's result at once.
    let home = *rng.pick(&COLLECTIONS);
    let mut pending = Pending::new();
    let mut writes = Vec::new();
    for _ in 0..count {
        let write = random_write(rng, docs, &pending, home);
        // A write that fails leaves the state for the next ones as it was; the commit fails anyway.
        let _ = step(docs, &mut pending, &write, ts);
        writes.push(write);
    }
    if rng.below(16) == 0 {
        let at = rng.below(writes.len() as u64 + 1) as usize;
        writes.insert(at, random_malformed_write(rng));
    }
    writes
}

// ---------------------------------------------------------------------------------------------------
// Sending commits and reading answers.

/// How a commit travels.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Form {
    /// A `commit` message.
    Commit,
    /// A `set`, `update` or `delete` message of its one write.
    OneWrite,
    /// `POST /v1/commit`.
    Http,
}

#[derive(Debug, Clone, PartialEq)]
enum Answer {
    Ack(u64),
    Refused { code: String, write: Option<u64> },
}

fn message(form: Form, writes: &[Value], key: Option<&str>) -> Value {
    let mut message = match form {
        Form::Commit => json!({"type": "commit", "writes": writes}),
        Form::Http => json!({"writes": writes}),
        Form::OneWrite => {
            let mut one = writes[0].clone();
            let op = one.as_object_mut().unwrap().remove("op").unwrap();
            one["type"] = op;
            one
        }
    };
    if let Some(key) = key {
        message["key"] = json!(key);
    }
    message
}

async fn send(form: Form, node: &TestServer, conn: &mut Conn, message: Value) -> Answer {
    if form == Form::Http {
        let (status, body) = post_commit(node, &message).await;
        if status == 200 {
            return Answer::Ack(body["version"].as_u64().unwrap_or_else(|| panic!("a version: {body}")));
        }
        let code = body["code"].as_str().unwrap_or_else(|| panic!("an error code: {status} {body}")).to_owned();
        assert_eq!(status, status_of(&code), "the status of {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "a message: {body}");
        return Answer::Refused { write: body["write"].as_u64(), code };
    }
    let answer = conn.ask(message).await;
    match answer["type"].as_str() {
        Some("ack") => Answer::Ack(answer["version"].as_u64().unwrap()),
        Some("error") => {
            assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()), "a message: {answer}");
            Answer::Refused { code: answer["code"].as_str().unwrap().to_owned(), write: answer["write"].as_u64() }
        }
        _ => panic!("not an answer to a write: {answer}"),
    }
}

fn check_answer(predicted: &Prediction, answer: &Answer, form: Form, what: &str) {
    match (predicted, answer) {
        (Prediction::Applies(_), Answer::Ack(_)) => {}
        (Prediction::Fails(allowed), Answer::Refused { code, write }) => {
            let fits = |f: &Failure| {
                f.code == code
                    && match write {
                        Some(w) => *w == f.write as u64,
                        None => !f.named || form == Form::OneWrite,
                    }
            };
            assert!(allowed.iter().any(fits), "{what}\nanswered {answer:?}; the model allows {allowed:?}");
        }
        _ => panic!("{what}\nanswered {answer:?}; the model predicts {predicted:?}"),
    }
}

/// A `result`'s documents as the model holds them (and its version).
fn result_docs(result: &Value) -> (u64, Vec<Value>) {
    (
        result["version"].as_u64().unwrap_or_else(|| panic!("a version: {result}")),
        result["docs"].as_array().unwrap().clone(),
    )
}

fn entry(id: &str, version: u64, data: &Value) -> Value {
    json!({"id": id, "version": version, "data": data})
}

/// The model's documents of `collection`, by id.
fn listing(docs: &Docs, collection: &str) -> BTreeMap<String, (u64, Value)> {
    let prefix = format!("{collection}/");
    docs.iter().filter_map(|(p, d)| p.strip_prefix(&prefix).map(|id| (id.to_owned(), d.clone()))).collect()
}

// ---------------------------------------------------------------------------------------------------
// Live queries: a few on every collection, and their results as the rules of
// crates/protocol/src/query/mod.rs give them, computed plainly.

/// The live queries every listener holds on each collection. The model reads their `where` (`==`,
/// `!=`, `<`, `<=`, `>`, `>=`), `orderBy` and `limit` as written.
const QUERIES: [&str; 7] = [
    // Numbers only (a range filter keeps its operand's type), largest first, ties by id descending.
    r#"{"where":[["n",">=",-1000000]],"orderBy":[["n","desc"]],"limit":2}"#,
    // Every type of `n`, null < booleans < numbers < strings < arrays < objects; ties by id ascending.
    r#"{"orderBy":[["n","asc"]],"limit":3}"#,
    // No orderBy: by id.
    r#"{"where":[["s","==","x"]],"limit":2}"#,
    // Both fields present; ties by id in the direction of the last orderBy (ascending).
    r#"{"where":[["s","!=","x"]],"orderBy":[["s","desc"],["n","asc"]],"limit":2}"#,
    // No limit.
    r#"{"where":[["s","==","y"]],"orderBy":[["n","desc"]]}"#,
    // Arrays (and objects above them) compared element by element: `tags` is mostly a list.
    r#"{"orderBy":[["tags","desc"]],"limit":2}"#,
    // Objects compared member by member: `m` is mostly an object.
    r#"{"orderBy":[["m","desc"]],"limit":2}"#,
];

fn live_queries() -> Vec<Value> {
    QUERIES.iter().map(|q| serde_json::from_str(q).unwrap()).collect()
}

fn type_rank(value: &Value) -> u8 {
    match value {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

/// The order of values: across types by [`type_rank`]; numbers by value, strings by their bytes,
/// arrays element by element (a start of another first), objects member by member in key order
/// (key, then value; fewer members first).
fn value_order(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x.as_f64().unwrap().partial_cmp(&y.as_f64().unwrap()).unwrap(),
        (Value::String(x), Value::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Array(x), Value::Array(y)) => {
            lexicographic(x.iter().zip(y).map(|(a, b)| value_order(a, b)), x.len().cmp(&y.len()))
        }
        (Value::Object(x), Value::Object(y)) => {
            let members = |o: &Map<String, Value>| {
                let mut members: Vec<(String, Value)> = o.clone().into_iter().collect();
                members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                members
            };
            let (x, y) = (members(x), members(y));
            let pairs = x.iter().zip(&y);
            lexicographic(
                pairs.map(|((ka, va), (kb, vb))| ka.as_bytes().cmp(kb.as_bytes()).then_with(|| value_order(va, vb))),
                x.len().cmp(&y.len()),
            )
        }
        _ => type_rank(a).cmp(&type_rank(b)),
    }
}

/// The first of `orders` that is not equal, else `lengths`.
fn lexicographic(mut orders: impl Iterator<Item = Ordering>, lengths: Ordering) -> Ordering {
    orders.find(|o| o.is_ne()).unwrap_or(lengths)
}

/// Whether `data` passes `[field, op, operand]`: the field present, and for a range, of the
/// operand's type.
fn passes(data: &Value, filter: &Value) -> bool {
    let (field, op, operand) = (filter[0].as_str().unwrap(), filter[1].as_str().unwrap(), &filter[2]);
    let Some(value) = get_field(data, &field_path(field)) else { return false };
    let order = value_order(value, operand);
    match op {
        "==" => order.is_eq(),
        "!=" => order.is_ne(),
        _ if type_rank(value) != type_rank(operand) => false,
        "<" => order.is_lt(),
        "<=" => order.is_le(),
        ">" => order.is_gt(),
        ">=" => order.is_ge(),
        other => panic!("an operator the model knows: {other}"),
    }
}

/// The query's `orderBy`: each field and whether it is descending.
fn order_by(query: &Value) -> Vec<(String, bool)> {
    let orders = query["orderBy"].as_array().cloned().unwrap_or_default();
    orders.iter().map(|o| (o[0].as_str().unwrap().to_owned(), o[1] == "desc")).collect()
}

fn limit(query: &Value) -> usize {
    query["limit"].as_u64().map_or(usize::MAX, |l| l as usize)
}

/// The query's order of two documents, by their `orderBy` values and then their ids, the ids in the
/// direction of the last `orderBy` (ascending without one).
fn query_order(order: &[(String, bool)], a: (&str, &[Value]), b: (&str, &[Value])) -> Ordering {
    for ((_, descending), (x, y)) in order.iter().zip(a.1.iter().zip(b.1)) {
        let o = value_order(x, y);
        if o.is_ne() {
            return if *descending { o.reverse() } else { o };
        }
    }
    let by_id = a.0.as_bytes().cmp(b.0.as_bytes());
    if order.last().is_some_and(|(_, descending)| *descending) { by_id.reverse() } else { by_id }
}

/// Entries of `documents` in the query's order; `values` gives a document's `orderBy` values (or
/// leaves it out).
fn in_query_order(
    query: &Value,
    documents: &BTreeMap<String, (u64, Value)>,
    values: impl Fn(&Value, &str) -> Option<Value>,
) -> Vec<Value> {
    let order = order_by(query);
    let mut keyed: Vec<(&String, Vec<Value>, Value)> = documents
        .iter()
        .filter_map(|(id, (v, d))| {
            let key: Option<Vec<Value>> = order.iter().map(|(field, _)| values(d, field)).collect();
            Some((id, key?, entry(id, *v, d)))
        })
        .collect();
    keyed.sort_by(|a, b| query_order(&order, (a.0, &a.1), (b.0, &b.1)));
    keyed.into_iter().map(|(_, _, e)| e).collect()
}

/// Every document of the collection (by id) in the query's result, in order, without the limit.
fn query_matches(query: &Value, documents: &BTreeMap<String, (u64, Value)>) -> Vec<Value> {
    let filters = query["where"].as_array().cloned().unwrap_or_default();
    let passing: BTreeMap<String, (u64, Value)> = documents
        .iter()
        .filter(|(_, (_, d))| filters.iter().all(|f| passes(d, f)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // A document missing an orderBy field is not in the result.
    in_query_order(query, &passing, |d, field| get_field(d, &field_path(field)).cloned())
}

/// The query's result on the collection's documents (by id): its entries in order, cut to the limit.
fn query_result(query: &Value, documents: &BTreeMap<String, (u64, Value)>) -> Vec<Value> {
    let mut result = query_matches(query, documents);
    result.truncate(limit(query));
    result
}

/// What a client shows of a live query: the documents it holds, ordered as it keys them (the server
/// said they are in the result, so no filter is evaluated again, and a missing orderBy field reads as
/// null), cut to the limit.
fn query_shown(query: &Value, held: &BTreeMap<String, (u64, Value)>) -> Vec<Value> {
    let mut shown =
        in_query_order(query, held, |d, field| Some(get_field(d, &field_path(field)).cloned().unwrap_or(Value::Null)));
    shown.truncate(limit(query));
    shown
}

fn ids_of(entries: &[Value]) -> Vec<&str> {
    entries.iter().map(|e| e["id"].as_str().unwrap()).collect()
}

/// How a live query's view differs from the query's result, if it does: what it shows (cut to the
/// limit), or documents it still holds past the limit (hidden now, shown once those above leave).
fn query_difference(query: &Value, held: &BTreeMap<String, (u64, Value)>, result: &[Value]) -> Option<String> {
    let shown = query_shown(query, held);
    if shown != result {
        return Some(format!(
            "shows {:?}: {}\nthe query's result is {:?}: {}",
            ids_of(&shown),
            json!(shown),
            ids_of(result),
            json!(result)
        ));
    }
    if held.len() != result.len() {
        let all = query_shown(&json!({"orderBy": query["orderBy"]}), held);
        return Some(format!(
            "shows the result {:?}, but still holds {:?} past the limit (a client shows them when those above leave)",
            ids_of(result),
            ids_of(&all).into_iter().filter(|id| !ids_of(result).contains(id)).collect::<Vec<_>>()
        ));
    }
    None
}

// ---------------------------------------------------------------------------------------------------
// Listeners: a connection that subscribes to every collection (plainly and through each live query)
// and a few documents, and follows them.

const WATCHED: [&str; 4] = ["rooms/a", "rooms/b", "users/c", "notes/f"];
const SENTINEL: &str = "sentinel/s";

/// The acknowledged versions, each with the model's documents as of it (after that commit).
type Acked = BTreeMap<u64, Docs>;

/// The model's documents as of `version`: after the last acknowledged commit at or before it.
fn as_of(acked: &Acked, version: u64) -> Docs {
    acked.range(..=version).next_back().map(|(_, docs)| docs.clone()).unwrap_or_default()
}

enum Sub {
    Collection {
        path: String,
        docs: BTreeMap<String, (u64, Value)>,
        version: Option<u64>,
    },
    Document {
        path: String,
        seen: Option<(u64, bool, Value)>,
    },
    /// A live query: the documents the view holds (by id), as the client keeps them.
    Query {
        path: String,
        query: Value,
        docs: BTreeMap<String, (u64, Value)>,
        version: Option<u64>,
    },
}

struct Listener {
    node: usize,
    client: Client,
    subs: BTreeMap<u64, Sub>,
}

impl Listener {
    async fn open(node: &TestServer, index: usize) -> Self {
        let mut client = node.connect().await;
        let mut subs = BTreeMap::new();
        for (i, path) in COLLECTIONS.iter().enumerate() {
            let id = i as u64 + 1;
            client.send(json!({"type": "subscribe", "id": id, "path": path})).await;
            subs.insert(id, Sub::Collection { path: path.to_string(), docs: BTreeMap::new(), version: None });
        }
        for (i, path) in WATCHED.iter().chain([&SENTINEL]).enumerate() {
            let id = i as u64 + 10;
            client.send(json!({"type": "subscribe", "id": id, "path": path})).await;
            subs.insert(id, Sub::Document { path: path.to_string(), seen: None });
        }
        for (c, path) in COLLECTIONS.iter().enumerate() {
            for (q, query) in live_queries().into_iter().enumerate() {
                let id = 100 + 10 * c as u64 + q as u64;
                client.send(json!({"type": "subscribe", "id": id, "path": path, "query": query})).await;
                subs.insert(id, Sub::Query { path: path.to_string(), query, docs: BTreeMap::new(), version: None });
            }
        }
        let mut listener = Self { node: index, client, subs };
        for frame in listener.client.sync().await {
            listener.apply(&frame, &Acked::new());
        }
        for sub in listener.subs.values() {
            match sub {
                Sub::Collection { path, version, .. } => assert!(version.is_some(), "{path} listed"),
                Sub::Document { path, seen } => assert!(seen.is_some(), "{path} snapshot"),
                Sub::Query { path, query, version, .. } => assert!(version.is_some(), "{path} {query} listed"),
            }
        }
        listener
    }

    /// Follows one frame. Every `changes` frame is a newer commit than the last (so a commit comes as
    /// at most one frame per subscription) and every change in it carries the frame's version (a live
    /// query's: the document's, at most the frame's). A live query's frame is applied as the client
    /// applies it, and leaves the view showing the query's result as of the frame's version.
    fn apply(&mut self, frame: &Value, acked: &Acked) {
        let node = self.node;
        let id = frame["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("listener on node {node}: a frame for no subscription: {frame}"));
        let version = frame["version"].as_u64().unwrap_or_else(|| panic!("a version: {frame}"));
        let sub = self.subs.get_mut(&id).unwrap();
        match (frame["type"].as_str().unwrap(), sub) {
            ("collection", Sub::Collection { path, docs, version: last }) => {
                assert!(last.is_none(), "node {node}: one listing of {path}, then changes: {frame}");
                *docs = frame["docs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| {
                        (d["id"].as_str().unwrap().to_owned(), (d["version"].as_u64().unwrap(), d["data"].clone()))
                    })
                    .collect();
                *last = Some(version);
            }
            ("changes", Sub::Collection { path, docs, version: last }) => {
                let previous = last.unwrap();
                assert!(
                    version > previous,
                    "node {node}, {path}: one changes frame per commit, in order: {frame} after {previous}"
                );
                assert!(
                    acked.contains_key(&version),
                    "node {node}, {path}: changes of an acknowledged commit: {frame}"
                );
                for change in frame["changes"].as_array().unwrap() {
                    assert_eq!(
                        change["version"], version,
                        "node {node}, {path}: every change has the commit's version: {frame}"
                    );
                    let doc_id = change["id"].as_str().unwrap().to_owned();
                    let doc = (version, change["data"].clone());
                    match change["type"].as_str().unwrap() {
                        "removed" => assert!(
                            docs.remove(&doc_id).is_some(),
                            "node {node}, {path}: removed what was there: {frame}"
                        ),
                        "added" => {
                            assert!(docs.insert(doc_id, doc).is_none(), "node {node}, {path}: added anew: {frame}")
                        }
                        "modified" => assert!(
                            docs.insert(doc_id, doc).is_some(),
                            "node {node}, {path}: modified what was there: {frame}"
                        ),
                        other => panic!("a change type: {other}"),
                    }
                }
                *last = Some(version);
            }
            ("snapshot", Sub::Document { path, seen }) => {
                if let Some((previous, ..)) = seen {
                    assert!(
                        version > *previous,
                        "node {node}, {path}: snapshots in version order: {frame} after {previous}"
                    );
                    assert!(
                        acked.contains_key(&version),
                        "node {node}, {path}: a snapshot of an acknowledged commit: {frame}"
                    );
                }
                *seen = Some((version, frame["exists"].as_bool().unwrap(), frame["data"].clone()));
            }
            ("collection", Sub::Query { path, query, docs, version: last }) => {
                // The first frame, or (a queue that overflowed) the result instead of the changes.
                if let Some(previous) = *last {
                    assert!(
                        version >= previous,
                        "node {node}, {path} {query}: a result older than {previous}: {frame}"
                    );
                }
                let listed = frame["docs"].as_array().unwrap().clone();
                *docs = listed
                    .iter()
                    .map(|d| {
                        (d["id"].as_str().unwrap().to_owned(), (d["version"].as_u64().unwrap(), d["data"].clone()))
                    })
                    .collect();
                *last = Some(version);
                let result = query_result(query, &listing(&as_of(acked, version), path));
                assert_eq!(
                    json!(listed),
                    json!(result),
                    "node {node}, {path} {query}: the listing at {version} (left) is the query's result (right)"
                );
            }
            ("changes", Sub::Query { path, query, docs, version: last }) => {
                let previous = last.unwrap();
                assert!(
                    version > previous,
                    "node {node}, {path} {query}: one changes frame per commit, in order: {frame} after {previous}"
                );
                assert!(
                    acked.contains_key(&version),
                    "node {node}, {path} {query}: changes of an acknowledged commit: {frame}"
                );
                // What the client cannot apply as the server meant it: the server sends the net change
                // of a commit, each document once, and every change newer than what the view holds.
                let mut odd = Vec::new();
                let mut named = BTreeSet::new();
                for change in frame["changes"].as_array().unwrap() {
                    let doc_id = change["id"].as_str().unwrap().to_owned();
                    let kind = change["type"].as_str().unwrap();
                    let at = change["version"].as_u64().unwrap_or_else(|| panic!("a version: {frame}"));
                    assert!(at <= version, "node {node}, {path} {query}: a change newer than its frame: {frame}");
                    if !named.insert(doc_id.clone()) {
                        odd.push(format!("{doc_id} named twice"));
                    }
                    // The client's rule (src/core/collection.rs, `CollectionView::apply`): a change no
                    // newer than the document the view holds is ignored; else it goes, and an added or
                    // modified one comes in with its data.
                    let held = docs.get(&doc_id).map(|(v, _)| *v);
                    match (kind, held) {
                        (_, Some(held)) if held >= at => {
                            odd.push(format!("{kind} {doc_id} at {at}, ignored: the view holds it at {held}"));
                            continue;
                        }
                        ("removed", None) => odd.push(format!("removed {doc_id}, which the view does not hold")),
                        ("added", Some(_)) => odd.push(format!("added {doc_id}, which the view holds")),
                        ("modified", None) => odd.push(format!("modified {doc_id}, which the view does not hold")),
                        ("removed" | "added" | "modified", _) => {}
                        (other, _) => panic!("node {node}: a change type: {other}: {frame}"),
                    }
                    docs.remove(&doc_id);
                    if kind != "removed" {
                        docs.insert(doc_id, (at, change["data"].clone()));
                    }
                }
                *last = Some(version);
                let result = query_result(query, &listing(&as_of(acked, version), path));
                if let Some(difference) = query_difference(query, docs, &result) {
                    panic!(
                        "node {node}, {path} {query}: after the changes frame at {version}, the view {difference}\n\
                         the frame: {frame}\nthe changes the client could not apply as sent: {odd:?}"
                    );
                }
                assert!(odd.is_empty(), "node {node}, {path} {query}: {odd:?} in {frame}");
            }
            _ => panic!("node {node}: an unexpected frame: {frame}"),
        }
    }

    /// How the listener's view differs from the model, if it does.
    fn difference(&self, docs: &Docs) -> Option<String> {
        for sub in self.subs.values() {
            match sub {
                Sub::Collection { path, docs: view, .. } => {
                    let model = listing(docs, path);
                    if *view != model {
                        return Some(format!("{path} shows {view:?}\nthe model has {model:?}"));
                    }
                }
                Sub::Document { path, seen } if path != SENTINEL => {
                    let fits = match (docs.get(path), seen) {
                        (Some((v, d)), Some((sv, true, sd))) => v == sv && d == sd,
                        (None, Some((_, false, _))) => true,
                        _ => false,
                    };
                    if !fits {
                        return Some(format!("{path} shows {seen:?}\nthe model has {:?}", docs.get(path)));
                    }
                }
                Sub::Document { .. } => {}
                Sub::Query { path, query, docs: held, .. } => {
                    if let Some(difference) = query_difference(query, held, &query_result(query, &listing(docs, path)))
                    {
                        return Some(format!("{path} {query}: the view {difference}"));
                    }
                }
            }
        }
        None
    }

    /// Reads frames until the view equals the model (a listener on another node may lag a little).
    async fn converge(&mut self, docs: &Docs, acked: &Acked, what: &str) {
        while let Some(difference) = self.difference(docs) {
            let frame = tokio::time::timeout(Duration::from_secs(4), self.client.recv()).await.unwrap_or_else(|_| {
                panic!("{what}\nthe listener on node {} did not converge: {difference}", self.node)
            });
            self.apply(&frame, acked);
        }
    }

    /// Reads frames until the sentinel document exists: everything committed before it has arrived.
    async fn drain_until_sentinel(&mut self, acked: &Acked) {
        let sentinel = self
            .subs
            .iter()
            .find_map(|(id, s)| matches!(s, Sub::Document { path, .. } if path == SENTINEL).then_some(*id))
            .unwrap();
        loop {
            if let Some(Sub::Document { seen: Some((_, true, _)), .. }) = self.subs.get(&sentinel) {
                return;
            }
            let frame = self.client.recv().await;
            self.apply(&frame, acked);
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// 1. The model-based test.

/// In how many live queries a commit (`written`: the paths it wrote) made the change a client once
/// kept wrong: a shown document it wrote, still matching, pushed out past the limit by another
/// document of the commit arriving above it.
fn pushed_out_by_the_same_commit(before: &Docs, after: &Docs, written: &BTreeSet<String>) -> usize {
    let mut count = 0;
    for collection in COLLECTIONS {
        let ours: BTreeSet<String> =
            written.iter().filter_map(|p| p.strip_prefix(&format!("{collection}/")).map(str::to_owned)).collect();
        for query in live_queries() {
            let (was, now) = (listing(before, collection), listing(after, collection));
            let (was, all) = (query_result(&query, &was), query_matches(&query, &now));
            let shown = &all[..all.len().min(limit(&query))];
            let (was, shown, all) = (ids_of(&was), ids_of(shown), ids_of(&all));
            let out = ours
                .iter()
                .any(|a| was.contains(&a.as_str()) && !shown.contains(&a.as_str()) && all.contains(&a.as_str()));
            let came = ours.iter().any(|c| shown.contains(&c.as_str()) && !was.contains(&c.as_str()));
            count += usize::from(out && came);
        }
    }
    count
}

/// Stand-ins for a commit's server timestamp while the model does not know it yet.
const TA: i64 = 1_000_000_000_000;
const TB: i64 = TA + 7_919;

async fn random_commits_do_what_the_model_says(nodes: &[TestServer], seed: u64, steps: usize) {
    let _report = SeedReport(seed);
    let start = now_ms();
    let mut rng = Rng::new(seed);
    let mut writers = Vec::new();
    let mut listeners = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        writers.push(Conn::open(node).await);
        listeners.push(Listener::open(node, i).await);
    }
    let mut docs = Docs::new();
    let mut acked = Acked::new();
    let (mut last_version, mut last_ts) = (0_u64, i64::MIN);
    // Commits sent with a key and acknowledged: how they were sent and their version.
    let mut keyed: Vec<(Form, Value, u64)> = Vec::new();
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();

    for step in 0..steps {
        let node = step % nodes.len();
        if !keyed.is_empty() && rng.below(25) == 0 {
            let (form, message, version) = keyed[rng.below(keyed.len() as u64) as usize].clone();
            let answer = send(form, &nodes[node], &mut writers[node], message.clone()).await;
            assert_eq!(answer, Answer::Ack(version), "step {step}: a retry on node {node} of {message}");
            *tally.entry("retried".into()).or_default() += 1;
        } else {
            let writes = random_commit(&mut rng, &docs, TA);
            let one_write = writes.len() == 1 && writes[0]["op"] != "check" && writes[0]["op"].is_string();
            let form = if one_write && rng.below(3) == 0 {
                Form::OneWrite
            } else if rng.below(8) == 0 {
                Form::Http
            } else {
                Form::Commit
            };
            let key = (rng.below(5) == 0).then(|| format!("k-{seed}-{step}"));
            let message = message(form, &writes, key.as_deref());
            let what = format!("step {step}, node {node}, {form:?}: {message}");
            let predicted = predict(&docs, &writes, TA);
            let answer = send(form, &nodes[node], &mut writers[node], message.clone()).await;
            check_answer(&predicted, &answer, form, &what);
            match (predicted, answer) {
                (Prediction::Applies(with_a), Answer::Ack(version)) => {
                    let changes = with_a.iter().any(|(path, after)| after.is_some() || docs.contains_key(path));
                    if changes {
                        assert!(version > last_version, "{what}\nversion {version} after {last_version}");
                    } else {
                        assert!(version >= last_version, "{what}\nversion {version} after {last_version}");
                    }
                    last_version = last_version.max(version);
                    if key.is_some() {
                        keyed.push((form, message.clone(), version));
                    }
                    // Read back what it wrote, on the node that wrote it.
                    let mut stored = BTreeMap::new();
                    for path in with_a.keys() {
                        let (read_at, found) = result_docs(&writers[node].get(path).await);
                        assert!(read_at >= version, "{what}\nget {path} read at {read_at}, before the ack's {version}");
                        let found = match &found[..] {
                            [] => None,
                            [d] => Some((d["version"].as_u64().unwrap(), d["data"].clone())),
                            more => panic!("{what}\nget {path}: one document, not {more:?}"),
                        };
                        stored.insert(path.clone(), found);
                    }
                    // The server timestamp, where a document shows it.
                    let with_b = applied(predict(&docs, &writes, TB));
                    let outcome = match read_timestamp(&with_a, TA, &with_b, &stored) {
                        Some((ts, place)) => {
                            let now = now_ms();
                            assert!(
                                (start - 2_000..=now + 2_000).contains(&ts),
                                "{what}\nserver timestamp {ts} (at {place}) is not about now ({start}..{now})"
                            );
                            assert!(
                                ts >= last_ts,
                                "{what}\nserver timestamp {ts} (at {place}) is before an earlier commit's {last_ts}"
                            );
                            last_ts = ts;
                            *tally.entry("timestamped".into()).or_default() += 1;
                            applied(predict(&docs, &writes, ts))
                        }
                        None => with_a,
                    };
                    let before = docs.clone();
                    let written: BTreeSet<String> = outcome.keys().cloned().collect();
                    for (path, after) in outcome {
                        let want = after.map(|d| (version, d));
                        assert_eq!(
                            stored[&path], want,
                            "{what}\n{path} as stored (left) and as the model has it (right)"
                        );
                        match want {
                            Some(doc) => docs.insert(path, doc),
                            None => docs.remove(&path),
                        };
                    }
                    acked.insert(version, docs.clone());
                    *tally.entry("applied".into()).or_default() += 1;
                    let pushed_out = pushed_out_by_the_same_commit(&before, &docs, &written);
                    *tally.entry("pushed out by the same commit".into()).or_default() += pushed_out;
                }
                (_, Answer::Refused { code, .. }) => *tally.entry(code).or_default() += 1,
                _ => unreachable!("check_answer matched them"),
            }
        }

        // Every collection, read on the next node.
        let reader = (step + 1) % nodes.len();
        for collection in COLLECTIONS {
            let (read_at, found) = result_docs(&writers[reader].get(collection).await);
            assert!(
                read_at >= last_version,
                "step {step}: get {collection} on node {reader} read at {read_at}, before {last_version}"
            );
            let model: Vec<Value> = listing(&docs, collection).iter().map(|(id, (v, d))| entry(id, *v, d)).collect();
            assert_eq!(found, model, "step {step}: get {collection} on node {reader} (left), the model (right)");
        }
        for listener in &mut listeners {
            listener.converge(&docs, &acked, &format!("step {step}")).await;
        }
    }

    // Nothing more arrives than the model knows of: a last write, and every frame before it.
    let answer = writers[0].ask(json!({"type": "set", "path": SENTINEL, "data": {"end": true}})).await;
    acked.insert(answer["version"].as_u64().unwrap_or_else(|| panic!("{answer}")), docs.clone());
    for listener in &mut listeners {
        listener.drain_until_sentinel(&acked).await;
        if let Some(difference) = listener.difference(&docs) {
            panic!("at the end, the listener on node {}: {difference}", listener.node);
        }
    }
    println!("seed {seed}, {steps} commits on {} node(s): {tally:?}", nodes.len());
    let count = |what: &str| tally.get(what).copied().unwrap_or(0);
    assert!(count("applied") * 3 >= steps, "a third of the commits apply: {tally:?}");
    for what in [
        "failed-precondition",
        "not-found",
        "already-exists",
        "invalid-argument",
        "timestamped",
        "pushed out by the same commit",
    ] {
        assert!(count(what) > 0, "some commits are {what}: {tally:?}");
    }
}

const STEPS: usize = 150;

#[tokio::test]
async fn on_sqlite_random_commits_answer_and_leave_what_the_model_predicts_and_reads_and_listeners_agree() {
    for seed in seeds() {
        random_commits_do_what_the_model_says(&[sqlite().await], seed, STEPS).await;
    }
}

#[tokio::test]
async fn on_two_postgresql_nodes_random_commits_sent_to_either_do_what_the_model_predicts_and_both_nodes_listeners_agree()
 {
    for seed in seeds() {
        random_commits_do_what_the_model_says(&postgres_nodes(2).await, seed, STEPS).await;
    }
}

// ---------------------------------------------------------------------------------------------------
// 2. Concurrent increments.

async fn increments_from_eight_connections_each_count_once(nodes: &[TestServer]) {
    const CONNECTIONS: usize = 8;
    const EACH: u64 = 50;
    let increment = |req: u64| {
        json!({"type": "commit", "req": req, "writes": [
            {"op": "set", "path": "counters/c", "data": {}, "merge": true, "transforms": [{"field": "n", "increment": 1}]}
        ]})
    };
    let mut tasks = Vec::new();
    for i in 0..CONNECTIONS {
        let mut c = nodes[i % nodes.len()].connect().await;
        tasks.push(tokio::spawn(async move {
            for req in 1..=EACH {
                c.send(increment(req)).await;
            }
            let (mut versions, mut aborted) = (Vec::new(), 0);
            while versions.len() < EACH as usize {
                let answer = c.recv().await;
                match (answer["type"].as_str(), answer["code"].as_str()) {
                    (Some("ack"), _) => versions.push(answer["version"].as_u64().unwrap()),
                    // Given up under contention, applied nowhere: a client sends it again.
                    (Some("error"), Some("aborted")) => {
                        aborted += 1;
                        c.send(increment(answer["req"].as_u64().unwrap())).await;
                    }
                    _ => panic!("connection {i}: {answer}"),
                }
            }
            (versions, aborted)
        }));
    }
    let (mut versions, mut aborted) = (BTreeSet::new(), 0);
    for task in tasks {
        let (acks, gave_up) = task.await.unwrap();
        versions.extend(acks);
        aborted += gave_up;
    }
    println!("{aborted} commits answered aborted and sent again");
    assert_eq!(versions.len(), CONNECTIONS * EACH as usize, "every ack has a version of its own");
    for node in nodes {
        let result = Conn::open(node).await.get("counters/c").await;
        let doc = &result["docs"][0];
        assert_eq!(doc["data"], json!({"n": CONNECTIONS as u64 * EACH}), "{result}");
        assert_eq!(doc["version"].as_u64(), versions.last().copied(), "the last increment's version");
    }
}

#[tokio::test]
async fn on_sqlite_400_pipelined_increments_from_8_connections_count_400_with_400_versions() {
    increments_from_eight_connections_each_count_once(&[sqlite().await]).await;
}

#[tokio::test]
async fn on_two_postgresql_nodes_400_pipelined_increments_from_8_connections_count_400_with_400_versions() {
    increments_from_eight_connections_each_count_once(&postgres_nodes(2).await).await;
}

// ---------------------------------------------------------------------------------------------------
// 3. Racing preconditions.

/// Each round, six connections commit at once on a document they read at version V, conditioned on
/// V: by an update's `if`, or by a `check` before an unconditioned update of the same document.
async fn of_racing_commits_conditioned_on_one_version_exactly_one_wins(nodes: &[TestServer]) {
    let mut conns = Vec::new();
    for i in 0..6 {
        conns.push(Conn::open(&nodes[i % nodes.len()]).await);
    }
    for round in 0..20_u64 {
        let set = conns[0].ask(json!({"type": "set", "path": "race/doc", "data": {"round": round}})).await;
        let read = conns[1].get("race/doc").await;
        let version = read["docs"][0]["version"].as_u64().unwrap();
        assert_eq!(Some(version), set["version"].as_u64(), "round {round}: read at the set's version");
        for (i, c) in conns.iter_mut().enumerate() {
            let data = json!({"round": round, "winner": i});
            let writes = if round % 2 == 0 {
                json!([{"op": "update", "path": "race/doc", "data": data, "if": {"version": version}}])
            } else {
                json!([{"op": "check", "path": "race/doc", "if": {"version": version}},
                       {"op": "update", "path": "race/doc", "data": data}])
            };
            c.req += 1;
            c.client.send(json!({"type": "commit", "req": c.req, "writes": writes})).await;
        }
        let answers = futures_util::future::join_all(conns.iter_mut().map(|c| c.client.recv())).await;
        let winners: Vec<usize> = (0..answers.len()).filter(|i| answers[*i]["type"] == "ack").collect();
        assert_eq!(winners.len(), 1, "round {round}: one winner: {answers:?}");
        for (i, answer) in answers.iter().enumerate().filter(|(i, _)| *i != winners[0]) {
            assert_eq!(
                outcome(answer),
                (Some("error"), Some("failed-precondition"), Some(0)),
                "round {round}, {i}: {answer}"
            );
        }
        let after = conns[2].get("race/doc").await;
        assert_eq!(after["docs"][0]["data"], json!({"round": round, "winner": winners[0]}), "round {round}");
        assert_eq!(after["docs"][0]["version"], answers[winners[0]]["version"], "round {round}");
    }
}

#[tokio::test]
async fn on_sqlite_of_commits_racing_on_one_version_exactly_one_wins_and_the_rest_fail_their_precondition() {
    of_racing_commits_conditioned_on_one_version_exactly_one_wins(&[sqlite().await]).await;
}

#[tokio::test]
async fn on_two_postgresql_nodes_of_commits_racing_on_one_version_exactly_one_wins_and_the_rest_fail_their_precondition()
 {
    of_racing_commits_conditioned_on_one_version_exactly_one_wins(&postgres_nodes(2).await).await;
}

// ---------------------------------------------------------------------------------------------------
// 4. Server timestamps.

/// Four connections pipeline 40 commits each; each commit writes two new documents, three timestamps.
async fn server_timestamps_never_decrease_in_version_order(nodes: &[TestServer]) {
    const CONNECTIONS: usize = 4;
    const EACH: u64 = 40;
    let start = now_ms();
    let mut tasks = Vec::new();
    for c in 0..CONNECTIONS {
        let mut client = nodes[c % nodes.len()].connect().await;
        tasks.push(tokio::spawn(async move {
            for i in 0..EACH {
                client
                    .send(json!({"type": "commit", "req": i, "writes": [
                        {"op": "set", "path": format!("ts/{c}-{i}-0"), "data": {"c": c},
                         "transforms": [{"field": "at", "serverTimestamp": true}, {"field": "m.at", "serverTimestamp": true}]},
                        {"op": "set", "path": format!("ts/{c}-{i}-1"), "data": {}, "merge": true,
                         "transforms": [{"field": "at", "serverTimestamp": true}]}
                    ]}))
                    .await;
            }
            let mut acks = BTreeMap::new();
            while acks.len() < EACH as usize {
                let answer = client.recv().await;
                assert_eq!(answer["type"], "ack", "{answer}");
                acks.insert(format!("{c}-{}", answer["req"]), answer["version"].as_u64().unwrap());
            }
            acks
        }));
    }
    let mut acks = BTreeMap::new();
    for task in tasks {
        acks.extend(task.await.unwrap());
    }
    let end = now_ms();
    for (n, node) in nodes.iter().enumerate() {
        let listing = Conn::open(node).await.get("ts").await;
        let docs = listing["docs"].as_array().unwrap();
        assert_eq!(docs.len(), 2 * acks.len(), "node {n}: every document");
        // Per version, the one timestamp of its commit.
        let mut by_version: BTreeMap<u64, i64> = BTreeMap::new();
        for doc in docs {
            let id = doc["id"].as_str().unwrap();
            let version = doc["version"].as_u64().unwrap();
            assert_eq!(Some(&version), acks.get(&id[..id.len() - 2]), "node {n}: {id} has its commit's version");
            let mut stamps = vec![&doc["data"]["at"]];
            if id.ends_with("-0") {
                stamps.push(&doc["data"]["m"]["at"]);
            }
            for stamp in stamps {
                let ts = stamp.as_i64().unwrap_or_else(|| panic!("node {n}: integer milliseconds: {doc}"));
                assert!((start - 2_000..=end + 2_000).contains(&ts), "node {n}: {ts} is about now: {doc}");
                let first = *by_version.entry(version).or_insert(ts);
                assert_eq!(ts, first, "node {n}: one timestamp for all of commit {version}: {doc}");
            }
        }
        let in_version_order: Vec<i64> = by_version.values().copied().collect();
        let decreases: Vec<_> = by_version.iter().zip(by_version.iter().skip(1)).filter(|(a, b)| b.1 < a.1).collect();
        assert!(
            decreases.is_empty(),
            "node {n}: timestamps in version order never decrease: {decreases:?} of {in_version_order:?}"
        );
    }
}

#[tokio::test]
async fn on_sqlite_server_timestamps_are_one_per_commit_and_never_decrease_in_version_order() {
    server_timestamps_never_decrease_in_version_order(&[sqlite().await]).await;
}

#[tokio::test]
async fn on_two_postgresql_nodes_server_timestamps_are_one_per_commit_and_never_decrease_in_version_order() {
    server_timestamps_never_decrease_in_version_order(&postgres_nodes(2).await).await;
}

// ---------------------------------------------------------------------------------------------------
// 5. Exactly once.

async fn a_keyed_commit_retried_anywhere_applies_once(nodes: &[TestServer]) {
    let writes = json!([
        {"op": "set", "path": "once/a", "data": {}, "merge": true, "transforms": [{"field": "n", "increment": 1}]},
        {"op": "update", "path": "once/a", "data": {"m.x": 1}, "transforms": [{"field": "l", "arrayUnion": ["x"]}]},
        {"op": "set", "path": "once/b", "data": {"x": 1}}
    ]);
    let keyed = json!({"type": "commit", "key": "k-once", "writes": writes});
    let mut first_node = Conn::open(&nodes[0]).await;
    let mut last_node = Conn::open(nodes.last().unwrap()).await;
    let first = first_node.ask(keyed.clone()).await;
    assert_eq!(first["type"], "ack", "{first}");
    let version = first["version"].as_u64().unwrap();
    for (where_, c) in [("the same node", &mut first_node), ("the last node", &mut last_node)] {
        let again = c.ask(keyed.clone()).await;
        assert_eq!(
            (again["type"].as_str(), again["version"].as_u64()),
            (Some("ack"), Some(version)),
            "on {where_}: {again}"
        );
    }
    let (status, body) = post_commit(nodes.last().unwrap(), &json!({"key": "k-once", "writes": writes})).await;
    assert_eq!((status, body["version"].as_u64()), (200, Some(version)), "over HTTP: {body}");
    let result = last_node.get("once/a").await;
    assert_eq!(
        result["docs"],
        json!([entry("a", version, &json!({"n": 1, "m": {"x": 1}, "l": ["x"]}))]),
        "applied once"
    );
    // Another key is another commit.
    let other = first_node.ask(json!({"type": "commit", "key": "k-twice", "writes": writes})).await;
    assert!(other["version"].as_u64() > Some(version), "{other}");
    assert_eq!(last_node.get("once/a").await["docs"][0]["data"]["n"], 2);
}

#[tokio::test]
async fn on_sqlite_a_commit_retried_with_its_key_answers_the_first_version_and_applies_once() {
    a_keyed_commit_retried_anywhere_applies_once(&[sqlite().await]).await;
}

#[tokio::test]
async fn on_two_postgresql_nodes_a_commit_retried_with_its_key_on_either_node_answers_the_first_version_and_applies_once()
 {
    a_keyed_commit_retried_anywhere_applies_once(&postgres_nodes(2).await).await;
}

// ---------------------------------------------------------------------------------------------------
// 6. One behaviour each.

#[tokio::test]
async fn a_failed_write_in_the_middle_of_a_commit_leaves_every_document_as_it_was_and_is_named_by_its_index() {
    let server = sqlite().await;
    let mut c = Conn::open(&server).await;
    c.ask(commit(
        json!([{"op": "set", "path": "rooms/a", "data": {"n": 1}}, {"op": "set", "path": "rooms/b", "data": {"n": 1}}]),
    ))
    .await;
    let before = c.get("rooms").await;
    let mut watcher = server.connect().await;
    watcher.send(json!({"type": "subscribe", "id": 1, "path": "rooms"})).await;
    assert_eq!(watcher.recv().await["type"], "collection");
    let answer = c
        .ask(commit(json!([
            {"op": "update", "path": "rooms/a", "data": {}, "transforms": [{"field": "n", "increment": 1}]},
            {"op": "delete", "path": "rooms/b"},
            {"op": "set", "path": "rooms/c", "data": {"n": 3}, "if": {"version": 7}},
            {"op": "set", "path": "rooms/d", "data": {"n": 4}}
        ])))
        .await;
    assert_eq!(outcome(&answer), (Some("error"), Some("failed-precondition"), Some(2)), "{answer}");
    assert_eq!(c.get("rooms").await["docs"], before["docs"], "nothing applied");
    assert!(watcher.sync().await.is_empty(), "nothing published");
}

#[tokio::test]
async fn writes_of_one_commit_apply_in_order_each_seeing_the_earlier_ones() {
    let server = sqlite().await;
    let mut c = Conn::open(&server).await;
    let answer = c
        .ask(commit(json!([
            {"op": "set", "path": "c/a", "data": {"n": 1}, "if": {"exists": false}},
            {"op": "update", "path": "c/a", "data": {}, "transforms": [{"field": "n", "increment": 1}]},
            {"op": "check", "path": "c/a", "if": {"exists": true}},
            {"op": "set", "path": "c/a", "data": {"m": {"x": 1}}, "merge": true},
            {"op": "update", "path": "c/a", "data": {"m.y": 2}},
            {"op": "set", "path": "c/b", "data": {}},
            {"op": "delete", "path": "c/b"},
            {"op": "check", "path": "c/b", "if": {"version": 0}}
        ])))
        .await;
    assert_eq!(answer["type"], "ack", "{answer}");
    let version = answer["version"].as_u64().unwrap();
    assert_eq!(c.get("c").await["docs"], json!([entry("a", version, &json!({"n": 2, "m": {"x": 1, "y": 2}}))]));
}

#[tokio::test]
async fn a_commit_of_more_than_500_writes_or_of_none_is_invalid_argument() {
    let server = sqlite().await;
    let mut c = Conn::open(&server).await;
    let writes: Vec<Value> = (0..501).map(|i| json!({"op": "set", "path": format!("many/d{i}"), "data": {}})).collect();
    let answer = c.ask(commit(json!(writes))).await;
    assert_eq!(
        (answer["type"].as_str(), answer["code"].as_str()),
        (Some("error"), Some("invalid-argument")),
        "{answer}"
    );
    let answer = c.ask(commit(json!([]))).await;
    assert_eq!(
        (answer["type"].as_str(), answer["code"].as_str()),
        (Some("error"), Some("invalid-argument")),
        "{answer}"
    );
    assert_eq!(c.get("many").await["docs"], json!([]));
}

#[tokio::test]
async fn a_commit_of_500_writes_is_one_version_and_reaches_each_collection_subscriber_as_one_changes_frame() {
    let server = sqlite().await;
    let mut watcher = server.connect().await;
    for (id, path) in [(1, "left"), (2, "right"), (3, "left/x000")] {
        watcher.send(json!({"type": "subscribe", "id": id, "path": path})).await;
        watcher.recv().await;
    }
    let mut c = Conn::open(&server).await;
    let writes: Vec<Value> = (0..500)
        .map(|i| {
            let path = if i % 2 == 0 { format!("left/x{i:03}") } else { format!("right/y{i:03}") };
            json!({"op": "set", "path": path, "data": {"i": i}})
        })
        .collect();
    let answer = c.ask(commit(json!(writes))).await;
    assert_eq!(answer["type"], "ack", "{answer}");
    let version = answer["version"].as_u64().unwrap();
    let mut frames = BTreeMap::new();
    while frames.len() < 3 {
        let frame = watcher.recv().await;
        assert!(
            frames.insert(frame["id"].as_u64().unwrap(), frame.clone()).is_none(),
            "one frame per subscription: {frame}"
        );
    }
    assert!(watcher.sync().await.is_empty(), "and no more");
    for id in [1, 2] {
        let changes = &frames[&id];
        assert_eq!((changes["type"].as_str(), changes["version"].as_u64()), (Some("changes"), Some(version)));
        let entries = changes["changes"].as_array().unwrap();
        assert_eq!(entries.len(), 250);
        assert!(entries.iter().all(|e| e["type"] == "added" && e["version"] == version), "{changes}");
    }
    assert_eq!(frames[&3]["version"].as_u64(), Some(version));
    let listing = c.get("right").await;
    assert!(listing["docs"].as_array().unwrap().iter().all(|d| d["version"] == version), "{listing}");
}

#[tokio::test]
async fn a_one_time_get_of_a_missing_document_answers_no_docs_at_the_current_version() {
    let server = sqlite().await;
    let mut c = Conn::open(&server).await;
    let written = c.ask(json!({"type": "set", "path": "rooms/here", "data": {}})).await;
    let result = c.get("rooms/missing").await;
    assert_eq!(result, json!({"type": "result", "req": c.req, "version": written["version"], "docs": []}));
}

#[tokio::test]
async fn a_one_time_get_of_a_document_answers_its_entry() {
    let server = sqlite().await;
    let mut c = Conn::open(&server).await;
    let written = c.ask(json!({"type": "set", "path": "rooms/r1", "data": {"title": "Hi"}})).await;
    let version = written["version"].as_u64().unwrap();
    let result = c.get("rooms/r1").await;
    assert_eq!(result["docs"], json!([entry("r1", version, &json!({"title": "Hi"}))]));
    assert_eq!(result["version"], version);
}

#[tokio::test]
async fn a_one_time_get_of_a_collection_lists_by_id_and_with_a_query_in_the_querys_order() {
    let server = sqlite().await;
    let mut c = Conn::open(&server).await;
    for (id, data) in [
        ("a", json!({"n": 1})),
        ("d", json!({"n": 5})),
        ("b", json!({"n": 3})),
        ("c", json!({"n": 2})),
        ("e", json!({"m": 0})),
    ] {
        c.ask(json!({"type": "set", "path": format!("items/{id}"), "data": data})).await;
    }
    let ids = |result: &Value| -> Vec<String> {
        result["docs"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect()
    };
    let all = c.get("items").await;
    assert_eq!(ids(&all), ["a", "b", "c", "d", "e"]);
    assert_eq!(all["version"], 5);
    let query = json!({"where": [["n", ">", 1]], "orderBy": [["n", "desc"]], "limit": 2});
    let result = c.ask(json!({"type": "get", "path": "items", "query": query})).await;
    assert_eq!(ids(&result), ["d", "b"], "{result}");
    assert_eq!(result["docs"][0], json!({"id": "d", "version": 2, "data": {"n": 5}}));
}

#[tokio::test]
async fn http_post_commit_applies_every_write_at_one_version_and_answers_it() {
    let server = sqlite().await;
    let (status, body) = post_commit(
        &server,
        &json!({"writes": [
            {"op": "set", "path": "rooms/a", "data": {"n": 1}, "if": {"exists": false}},
            {"op": "set", "path": "rooms/b", "data": {"m": {"x": 1}}},
            {"op": "update", "path": "rooms/b", "data": {"m.y": 2}, "transforms": [{"field": "n", "increment": 2}]}
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let version = body["version"].as_u64().unwrap();
    assert_eq!(body, json!({"version": version}));
    let mut c = Conn::open(&server).await;
    assert_eq!(
        c.get("rooms").await["docs"],
        json!([entry("a", version, &json!({"n": 1})), entry("b", version, &json!({"m": {"x": 1, "y": 2}, "n": 2}))])
    );
}

#[tokio::test]
async fn http_post_commit_refusals_answer_404_409_412_and_400_naming_the_write_and_apply_nothing() {
    let server = sqlite().await;
    let (_, body) = post_commit(&server, &json!({"writes": [{"op": "set", "path": "rooms/a", "data": {}}]})).await;
    let version = body["version"].as_u64().unwrap();
    let fresh = json!({"op": "set", "path": "rooms/fresh", "data": {}});
    for (writes, status, code, write) in [
        (json!([fresh.clone(), {"op": "update", "path": "rooms/missing", "data": {"n": 1}}]), 404, "not-found", 1),
        (
            json!([fresh, {"op": "set", "path": "rooms/a", "data": {}, "if": {"exists": false}}]),
            409,
            "already-exists",
            1,
        ),
        (
            json!([{"op": "check", "path": "rooms/a", "if": {"version": version + 5}}, fresh.clone()]),
            412,
            "failed-precondition",
            0,
        ),
        (
            json!([fresh.clone(), {"op": "set", "path": "rooms/a", "data": {}, "transforms": [{"field": "x", "deleteField": true}]}]),
            400,
            "invalid-argument",
            1,
        ),
        // A write that does not even parse is named too.
        (json!([fresh, {"op": "check", "path": "rooms/a"}]), 400, "invalid-argument", 1),
    ] {
        let (got_status, body) = post_commit(&server, &json!({"writes": writes})).await;
        assert_eq!(
            (got_status, body["code"].as_str(), body["write"].as_u64()),
            (status, Some(code), Some(write)),
            "{writes}: {body}"
        );
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
    let (status, body) = post_commit(&server, &json!({"writes": []})).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid-argument")), "{body}");
    let listing = Conn::open(&server).await.get("rooms").await;
    assert_eq!(listing["docs"], json!([entry("a", version, &json!({}))]), "nothing applied");
}

#[tokio::test]
async fn an_http_patch_reads_dotted_keys_as_field_paths() {
    let server = sqlite().await;
    server.put("c/d", json!({"a": {"c": 0}, "x": 1, "s": "text"})).await;
    let response = reqwest::Client::new()
        .patch(server.http("/v1/docs/c/d"))
        .json(&json!({"a.b": 1, "s.t": true, "n.m.o": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        server.get("c/d").await.1["data"],
        json!({"a": {"b": 1, "c": 0}, "x": 1, "s": {"t": true}, "n": {"m": {"o": 2}}})
    );
}

#[tokio::test]
async fn an_update_message_reads_dotted_keys_as_field_paths() {
    let server = sqlite().await;
    let mut c = Conn::open(&server).await;
    c.ask(json!({"type": "set", "path": "c/d", "data": {"stats": {"views": 4}, "title": "a"}})).await;
    let answer = c.ask(json!({"type": "update", "path": "c/d", "data": {"stats.count": 3, "title": "x"}})).await;
    assert_eq!(answer["type"], "ack", "{answer}");
    assert_eq!(c.get("c/d").await["docs"][0]["data"], json!({"stats": {"views": 4, "count": 3}, "title": "x"}));
}

#[tokio::test]
async fn delete_field_is_invalid_argument_in_a_plain_set_and_removes_the_field_in_an_update_and_a_merge_set() {
    let server = sqlite().await;
    let mut c = Conn::open(&server).await;
    c.ask(json!({"type": "set", "path": "c/d", "data": {"n": 1, "m": {"x": 1, "y": 2}, "k": true}})).await;
    let delete = |field: &str| json!([{"field": field, "deleteField": true}]);
    let plain = json!({"op": "set", "path": "c/d", "data": {"n": 2}, "transforms": delete("n")});
    let answer = c.ask(commit(json!([plain]))).await;
    assert_eq!(outcome(&answer), (Some("error"), Some("invalid-argument"), Some(0)), "{answer}");
    let answer =
        c.ask(json!({"type": "set", "path": "c/d", "data": {"n": 2}, "merge": false, "transforms": delete("n")})).await;
    assert_eq!(
        (answer["type"].as_str(), answer["code"].as_str()),
        (Some("error"), Some("invalid-argument")),
        "{answer}"
    );
    let answer = c
        .ask(commit(json!([
            {"op": "update", "path": "c/d", "data": {}, "transforms": delete("m.x")},
            {"op": "set", "path": "c/d", "data": {"z": 0}, "merge": true, "transforms": delete("k")}
        ])))
        .await;
    assert_eq!(answer["type"], "ack", "{answer}");
    assert_eq!(c.get("c/d").await["docs"][0]["data"], json!({"n": 1, "m": {"y": 2}, "z": 0}));
}

#[tokio::test]
async fn a_check_without_a_condition_is_invalid_argument_naming_the_check() {
    let server = sqlite().await;
    let mut c = Conn::open(&server).await;
    let answer = c.ask(commit(json!([{"op": "set", "path": "c/a", "data": {}}, {"op": "check", "path": "c/a"}]))).await;
    assert_eq!(outcome(&answer), (Some("error"), Some("invalid-argument"), Some(1)), "{answer}");
    assert_eq!(c.get("c/a").await["docs"], json!([]));
}

#[tokio::test]
async fn failed_preconditions_answer_already_exists_not_found_and_failed_precondition() {
    let server = sqlite().await;
    let mut c = Conn::open(&server).await;
    let version = c.ask(json!({"type": "set", "path": "c/here", "data": {}})).await["version"].as_u64().unwrap();
    for (write, code) in [
        (json!({"op": "set", "path": "c/here", "data": {}, "if": {"exists": false}}), "already-exists"),
        (json!({"op": "delete", "path": "c/gone", "if": {"exists": true}}), "not-found"),
        (json!({"op": "check", "path": "c/here", "if": {"version": version + 1}}), "failed-precondition"),
        (json!({"op": "check", "path": "c/gone", "if": {"version": version}}), "failed-precondition"),
    ] {
        let answer = c.ask(commit(json!([write]))).await;
        assert_eq!(outcome(&answer), (Some("error"), Some(code), Some(0)), "{write}: {answer}");
    }
    for write in [
        json!({"op": "check", "path": "c/here", "if": {"version": version}}),
        json!({"op": "check", "path": "c/gone", "if": {"version": 0}}),
        json!({"op": "check", "path": "c/gone", "if": {"exists": false}}),
        json!({"op": "delete", "path": "c/gone"}),
    ] {
        let answer = c.ask(commit(json!([write]))).await;
        assert_eq!(answer["type"], "ack", "{write}: {answer}");
    }
}

#[tokio::test]
async fn the_one_write_messages_take_merge_transforms_and_conditions() {
    let server = sqlite().await;
    let mut c = Conn::open(&server).await;
    let first = c.ask(json!({"type": "set", "path": "c/d", "data": {"m": {"x": 1}}, "if": {"exists": false}})).await;
    let version = first["version"].as_u64().unwrap();
    let merged = c
        .ask(json!({"type": "set", "path": "c/d", "data": {"m": {"y": 2}}, "merge": true, "if": {"version": version}}))
        .await;
    assert_eq!(merged["type"], "ack", "{merged}");
    let stale = c.ask(json!({"type": "update", "path": "c/d", "data": {"n": 1}, "if": {"version": version}})).await;
    assert_eq!(
        (stale["type"].as_str(), stale["code"].as_str()),
        (Some("error"), Some("failed-precondition")),
        "{stale}"
    );
    let updated = c
        .ask(
            json!({"type": "update", "path": "c/d", "data": {"m.z": 3}, "transforms": [{"field": "n", "increment": 5}],
                    "if": {"version": merged["version"]}}),
        )
        .await;
    assert_eq!(updated["type"], "ack", "{updated}");
    let again = c.ask(json!({"type": "set", "path": "c/d", "data": {}, "if": {"exists": false}})).await;
    assert_eq!(again["code"], "already-exists", "{again}");
    let gone = c.ask(json!({"type": "delete", "path": "c/nothing", "if": {"exists": true}})).await;
    assert_eq!(gone["code"], "not-found", "{gone}");
    assert_eq!(c.get("c/d").await["docs"][0]["data"], json!({"m": {"x": 1, "y": 2, "z": 3}, "n": 5}));
}

#[tokio::test]
async fn increment_keeps_integers_integers_saturates_at_the_i64_bounds_and_adds_fractions() {
    let server = sqlite().await;
    let mut c = Conn::open(&server).await;
    c.ask(json!({"type": "set", "path": "c/d", "data": {"big": i64::MAX - 1, "small": i64::MIN + 1, "i": 1, "f": 0.25, "s": "x", "a": 3}}))
        .await;
    let by = |field: &str, n: Value| json!({"field": field, "increment": n});
    let answer = c
        .ask(commit(json!([{"op": "update", "path": "c/d", "data": {}, "transforms": [
            by("big", json!(5)), by("small", json!(i64::MIN)), by("i", json!(2)), by("f", json!(2)),
            by("i2", json!(0.5)), by("s", json!(2)), by("missing", json!(3)), by("a.b", json!(1)), by("x.y", json!(-1))
        ]}])))
        .await;
    assert_eq!(answer["type"], "ack", "{answer}");
    c.ask(json!({"type": "update", "path": "c/d", "data": {}, "transforms": [by("i", json!(0.5))]})).await;
    assert_eq!(
        c.get("c/d").await["docs"][0]["data"],
        json!({"big": i64::MAX, "small": i64::MIN, "i": 3.5, "f": 2.25, "i2": 0.5, "s": 2, "missing": 3, "a": {"b": 1}, "x": {"y": -1}})
    );
}

#[tokio::test]
async fn array_union_and_array_remove_compare_elements_as_queries_do() {
    let server = sqlite().await;
    let mut c = Conn::open(&server).await;
    c.ask(json!({"type": "set", "path": "c/d", "data": {"l": [1, "a"], "s": "x", "r": [1, 2, 1.0, {"k": 1, "j": 2}]}}))
        .await;
    let answer = c
        .ask(commit(json!([{"op": "update", "path": "c/d", "data": {}, "transforms": [
            {"field": "l", "arrayUnion": [1.0, {"k": 1}, {"k": 1.0}, "b", "b"]},
            {"field": "s", "arrayUnion": [2, 2.0, 3]},
            {"field": "new", "arrayUnion": ["x", "x"]},
            {"field": "r", "arrayRemove": [1.0, {"j": 2, "k": 1.0}]},
            {"field": "gone", "arrayRemove": [1]},
            {"field": "s2", "arrayRemove": [1]}
        ]}])))
        .await;
    assert_eq!(answer["type"], "ack", "{answer}");
    assert_eq!(
        c.get("c/d").await["docs"][0]["data"],
        json!({"l": [1, "a", {"k": 1}, "b"], "s": [2, 3], "new": ["x"], "r": [2], "gone": [], "s2": []})
    );
}
