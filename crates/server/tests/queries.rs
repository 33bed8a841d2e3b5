//! Live queries over real sockets: a subscription's view, followed frame by frame, always equals the
//! query run afresh on the documents written (a model-based test over thousands of random writes and
//! a dozen random queries, on SQLite and on two nodes of PostgreSQL), windows refill from the store
//! when their buffer runs out, equal queries share one live result, and bad queries fail alone.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::{Client, Rng, TestServer, pg::Cluster};
use livepath_protocol::query::{Query, Value as QValue};
use livepath_server::{Config, config::IndexSpec};
use serde_json::{Value, json};

fn random_number(rng: &mut Rng) -> Value {
    match rng.below(10) {
        0 => json!(null),
        1 => json!("3"),
        2 => json!(2.5),
        _ => json!(rng.below(6)),
    }
}

fn random_doc(rng: &mut Rng) -> Value {
    let mut doc = serde_json::Map::new();
    if rng.below(8) != 0 {
        doc.insert("n".into(), random_number(rng));
    }
    if rng.below(6) != 0 {
        doc.insert("tag".into(), json!(rng.pick(&["a", "b", "c"])));
    }
    if rng.below(3) != 0 {
        let tags: Vec<&str> = (0..rng.below(3)).map(|_| *rng.pick(&["a", "b", "c"])).collect();
        doc.insert("tags".into(), json!(tags));
    }
    if rng.below(2) == 0 {
        doc.insert("meta".into(), json!({"rank": random_number(rng)}));
    }
    Value::Object(doc)
}

fn random_query(rng: &mut Rng) -> Value {
    let mut query = serde_json::Map::new();
    let filters: Vec<Value> = (0..rng.below(3))
        .map(|_| match rng.below(4) {
            0 | 1 => {
                let field = *rng.pick(&["n", "meta.rank"]);
                let op = *rng.pick(&["==", "!=", "<", "<=", ">", ">=", "in", "not-in"]);
                let value = if op.contains("in") { json!([rng.below(6), rng.below(6)]) } else { json!(rng.below(6)) };
                json!([field, op, value])
            }
            2 => {
                let op = *rng.pick(&["==", "!=", ">", "in", "not-in"]);
                let value = if op.contains("in") { json!(["a", "c"]) } else { json!(rng.pick(&["a", "b", "c"])) };
                json!(["tag", op, value])
            }
            _ => {
                let op = *rng.pick(&["array-contains", "array-contains-any"]);
                let value = if op == "array-contains" { json!(rng.pick(&["a", "b"])) } else { json!(["b", "c"]) };
                json!(["tags", op, value])
            }
        })
        .collect();
    if !filters.is_empty() {
        query.insert("where".into(), json!(filters));
    }
    let mut order: Vec<Value> = Vec::new();
    for field in ["n", "tag", "meta.rank"] {
        if rng.below(3) == 0 {
            order.push(json!([field, rng.pick(&["asc", "desc"])]));
        }
    }
    if rng.below(2) == 0 {
        order.reverse();
    }
    if !order.is_empty() {
        if rng.below(5) == 0 {
            query.insert("startAfter".into(), json!([rng.below(4)]));
        } else if rng.below(8) == 0 {
            query.insert("endBefore".into(), json!([rng.below(6)]));
        }
        query.insert("orderBy".into(), json!(order));
    }
    if rng.below(4) != 0 {
        query.insert("limit".into(), json!(1 + rng.below(6)));
    }
    Value::Object(query)
}

/// The documents of the collection, as the writes left them.
type Model = BTreeMap<String, Value>;

/// `query` run afresh on `model`: the ids and data in the query's order.
fn run(query: &Query, model: &Model) -> Vec<(String, Value)> {
    let docs = model.iter().map(|(id, data)| (id.clone(), serde_json::from_value::<QValue>(data.clone()).unwrap()));
    query.run(docs).into_iter().map(|(key, _)| (key.id.clone(), model[&key.id].clone())).collect()
}

/// The documents of a `collection` frame: id and data, in the frame's order.
fn docs_of(frame: &Value) -> Vec<(String, Value)> {
    let docs = frame["docs"].as_array().unwrap_or_else(|| panic!("not a collection frame: {frame}"));
    docs.iter().map(|d| (d["id"].as_str().unwrap().to_owned(), d["data"].clone())).collect()
}

/// One live query's view, as a client following its frames holds it.
struct View {
    query: Query,
    docs: BTreeMap<String, Value>,
    frames: usize,
}

impl View {
    /// Applies a frame for this subscription. A `collection` frame must list its documents in the
    /// query's order.
    fn apply(&mut self, frame: &Value) {
        self.frames += 1;
        match frame["type"].as_str() {
            Some("collection") => {
                let docs = docs_of(frame);
                let listed: Model = docs.iter().cloned().collect();
                assert_eq!(docs, run(&self.query, &listed), "a collection frame in the query's order");
                self.docs = listed;
            }
            Some("changes") => {
                for change in frame["changes"].as_array().unwrap() {
                    let id = change["id"].as_str().unwrap().to_owned();
                    match change["type"].as_str().unwrap() {
                        "removed" => assert!(self.docs.remove(&id).is_some(), "removed {id}, which the view lacks"),
                        "added" => {
                            assert!(self.docs.insert(id.clone(), change["data"].clone()).is_none(), "added {id} twice")
                        }
                        _ => assert!(
                            self.docs.insert(id.clone(), change["data"].clone()).is_some(),
                            "modified {id}, not in the view"
                        ),
                    }
                }
            }
            Some("unchanged") => {}
            _ => panic!("unexpected frame for a query: {frame}"),
        }
    }

    fn ordered(&self) -> Vec<(String, Value)> {
        run(&self.query, &self.docs)
    }
}

/// Routes frames to views by subscription id; returns what was not for a view.
fn route(views: &mut BTreeMap<u64, View>, frame: Value) -> Option<Value> {
    match frame["id"].as_u64().and_then(|id| views.get_mut(&id)) {
        Some(view) if frame["type"] != "error" => {
            view.apply(&frame);
            None
        }
        _ => Some(frame),
    }
}

async fn subscribe_queries(c: &mut Client, rng: &mut Rng, count: u64) -> BTreeMap<u64, View> {
    let mut views = BTreeMap::new();
    for id in 1..=count {
        let query = random_query(rng);
        c.send(json!({"type":"subscribe","id":id,"path":"items","query":query})).await;
        let parsed: Query = serde_json::from_value(query).unwrap();
        views.insert(id, View { query: parsed, docs: BTreeMap::new(), frames: 0 });
    }
    for frame in c.sync().await {
        assert!(route(&mut views, frame.clone()).is_none(), "{frame}");
    }
    views
}

/// Random sets, updates and deletes of `items/*`, `steps` of them; `on_write` runs after each with
/// its number.
async fn write_randomly(
    writer: &mut Client,
    views: &mut BTreeMap<u64, View>,
    rng: &mut Rng,
    model: &mut Model,
    req: u64,
) {
    let id = format!("d{:02}", rng.below(30));
    let path = format!("items/{id}");
    let frame = match (rng.below(6), model.get(&id)) {
        (0, Some(_)) => {
            model.remove(&id);
            json!({"type":"delete","req":req,"path":path})
        }
        (1, Some(existing)) => {
            let fields = random_doc(rng);
            let mut merged = existing.as_object().unwrap().clone();
            merged.extend(fields.as_object().unwrap().clone());
            model.insert(id, Value::Object(merged));
            json!({"type":"update","req":req,"path":path,"data":fields})
        }
        _ => {
            let data = random_doc(rng);
            model.insert(id, data.clone());
            json!({"type":"set","req":req,"path":path,"data":data})
        }
    };
    writer.send(frame).await;
    loop {
        let frame = writer.recv().await;
        let Some(frame) = route(views, frame) else { continue };
        assert_eq!((frame["type"].as_str(), frame["req"].as_u64()), (Some("ack"), Some(req)), "{frame}");
        return;
    }
}

fn check(views: &BTreeMap<u64, View>, model: &Model, step: usize) {
    for (id, view) in views {
        assert_eq!(view.ordered(), run(&view.query, model), "query {id} {:?} after write {step}", view.query);
    }
}

#[tokio::test]
async fn on_one_node_every_live_view_equals_its_query_run_afresh_after_every_write() {
    every_live_view_equals_its_query_run_afresh(TestServer::memory().await).await;
}

#[tokio::test]
async fn with_indexes_declared_every_live_view_still_equals_its_query_run_afresh() {
    use livepath_protocol::query::Direction::{Asc, Desc};
    let spec = |fields: &[(&str, livepath_protocol::query::Direction)]| IndexSpec {
        fields: fields.iter().map(|(f, d)| (f.to_string(), *d)).collect(),
    };
    let indexes = vec![spec(&[("tag", Asc), ("n", Desc)]), spec(&[("n", Asc)]), spec(&[("meta.rank", Desc)])];
    every_live_view_equals_its_query_run_afresh(TestServer::start(Config { indexes, ..Config::in_memory() }).await)
        .await;
}

async fn every_live_view_equals_its_query_run_afresh(server: TestServer) {
    let mut c = server.connect().await;
    let mut rng = Rng::new(7);
    let mut model = Model::new();
    let mut views = subscribe_queries(&mut c, &mut rng, 12).await;
    for step in 0..3000 {
        write_randomly(&mut c, &mut views, &mut rng, &mut model, step as u64 + 1).await;
        check(&views, &model, step);
    }
    let busy = views.values().filter(|v| v.frames > 20).count();
    assert!(busy >= 6, "most queries saw traffic: {busy} of 12");
    let nonempty = views.values().filter(|v| !v.docs.is_empty()).count();
    assert!(nonempty >= 6, "most results are not empty at the end: {nonempty}");
    // Late subscribers to the same queries (sharing the live windows) get the same results.
    let mut late = server.connect().await;
    for (id, view) in &views {
        late.send(json!({"type":"subscribe","id":id,"path":"items","query":view.query})).await;
        let frame = late.recv().await;
        let docs = docs_of(&frame);
        assert_eq!(docs, run(&view.query, &model), "a late subscriber to query {id}");
    }
}

#[tokio::test]
async fn on_two_postgresql_nodes_a_view_on_one_converges_on_the_writes_made_on_the_other() {
    let db = Cluster::shared().database().await;
    let config = || Config { database_url: Some(db.clone()), ..Config::default() };
    let (writing, watching) = (TestServer::start(config()).await, TestServer::start(config()).await);
    let mut writer = writing.connect().await;
    let mut watcher = watching.connect().await;
    let mut rng = Rng::new(11);
    let mut model = Model::new();
    let mut views = subscribe_queries(&mut watcher, &mut rng, 12).await;
    watcher.send(json!({"type":"subscribe","id":100,"path":"sentinel/s"})).await;
    assert_eq!(watcher.recv().await["type"], "snapshot");
    let mut unrouted = BTreeMap::new();
    for step in 0..1500 {
        write_randomly(&mut writer, &mut unrouted, &mut rng, &mut model, step as u64 + 1).await;
        if step % 50 == 49 {
            // Once the watcher has the sentinel written after them, it has published every write before.
            writer.send(json!({"type":"set","req":100_000 + step,"path":"sentinel/s","data":{"step":step}})).await;
            assert_eq!(writer.recv().await["type"], "ack");
            loop {
                let frame = watcher.recv().await;
                if let Some(frame) = route(&mut views, frame) {
                    if frame["id"] == 100 && frame["data"]["step"] == step {
                        break;
                    }
                }
            }
            check(&views, &model, step);
        }
    }
    let busy = views.values().filter(|v| v.frames > 10).count();
    assert!(busy >= 6, "most queries saw traffic: {busy} of 12");
}

async fn metric(server: &TestServer, name: &str) -> u64 {
    let text = reqwest::get(server.http("/metrics")).await.unwrap().text().await.unwrap();
    let line = text.lines().find(|l| l.starts_with(&format!("livepath_{name} "))).unwrap();
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn deleting_the_top_documents_pulls_the_next_ones_in_and_reads_the_store_again_once_the_buffer_is_used_up() {
    let server = TestServer::memory().await;
    let mut c = server.connect().await;
    for n in 0..40 {
        c.send(json!({"type":"set","req":n,"path":format!("scores/s{n:02}"),"data":{"points":n}})).await;
    }
    c.sync().await;
    let query = json!({"orderBy":[["points","desc"]],"limit":2});
    c.send(json!({"type":"subscribe","id":1,"path":"scores","query":query})).await;
    let first = c.recv().await;
    let ids: Vec<&str> = first["docs"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["s39", "s38"]);
    for (i, top) in (0..40).rev().enumerate().take(30) {
        c.send(json!({"type":"delete","req":100 + i,"path":format!("scores/s{top:02}")})).await;
        let changes = c.recv().await;
        let summary: Vec<(&str, &str)> = changes["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["type"].as_str().unwrap(), c["id"].as_str().unwrap()))
            .collect();
        let removed = format!("s{top:02}");
        let added = format!("s{:02}", top - 2);
        assert_eq!(summary, [("removed", removed.as_str()), ("added", added.as_str())], "deleting {removed}");
        assert_eq!(c.recv().await["type"], "ack");
    }
    // 2 shown and 20 buffered: the buffer ran out once within 30 deletions.
    assert_eq!(metric(&server, "query_rereads_total").await, 1);
}

#[tokio::test]
async fn equal_queries_share_one_live_result_whatever_their_key_order_and_a_bad_query_fails_alone() {
    let server = TestServer::memory().await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    a.send(json!({"type":"subscribe","id":1,"path":"todos","query":{"where":[["done","==",false]],"limit":5}})).await;
    b.send(json!({"type":"subscribe","id":9,"path":"todos","query":{"limit":5.0,"where":[["done","==",false]]}})).await;
    assert_eq!(a.recv().await["type"], "collection");
    assert_eq!(b.recv().await["type"], "collection");
    assert_eq!(metric(&server, "live_queries").await, 1);
    for (id, query, message) in [
        (2, json!({"where":[["done","=",false]]}), "unknown variant `=`"),
        (3, json!({"limit":0}), "invalid query: a query's limit is between 1 and 10000; this one is 0"),
        (4, json!({"orderBy":[["a"]],"startAfter":[1,2]}), "startAfter takes 1 to 1 values"),
    ] {
        a.send(json!({"type":"subscribe","id":id,"path":"todos","query":query})).await;
        let error = a.recv().await;
        assert_eq!(
            (error["type"].as_str(), error["id"].as_u64(), error["code"].as_str()),
            (Some("error"), Some(id), Some("invalid-argument"))
        );
        assert!(error["message"].as_str().unwrap().contains(message), "{error}");
    }
    a.send(json!({"type":"subscribe","id":5,"path":"todos/t1","query":{}})).await;
    let error = a.recv().await;
    assert!(error["message"].as_str().unwrap().contains("a query needs a collection path"), "{error}");
    // The good subscription still gets its changes.
    b.send(json!({"type":"set","req":1,"path":"todos/t1","data":{"done":false}})).await;
    let change = a.recv().await;
    assert_eq!((change["type"].as_str(), change["id"].as_u64()), (Some("changes"), Some(1)));
    b.send(json!({"type":"unsubscribe","id":9})).await;
    b.sync().await;
    assert_eq!(metric(&server, "live_queries").await, 1, "one subscriber left");
    a.send(json!({"type":"unsubscribe","id":1})).await;
    a.sync().await;
    assert_eq!((metric(&server, "live_queries").await, metric(&server, "subscriptions").await), (0, 0));
}

#[tokio::test]
async fn a_resumed_query_is_unchanged_when_its_collection_is_and_gets_the_result_when_it_is_not() {
    let server = TestServer::memory().await;
    let mut c = server.connect().await;
    c.send(json!({"type":"set","req":1,"path":"todos/a","data":{"n":1}})).await;
    c.sync().await;
    let query = json!({"orderBy":[["n"]]});
    c.send(json!({"type":"subscribe","id":1,"path":"todos","query":query})).await;
    let version = c.recv().await["version"].as_u64().unwrap();
    c.send(json!({"type":"set","req":2,"path":"other/x","data":{}})).await;
    c.sync().await;
    let mut again = server.connect().await;
    again.send(json!({"type":"subscribe","id":1,"path":"todos","query":query,"since":version})).await;
    assert_eq!(again.recv().await["type"], "unchanged", "nothing in todos changed");
    c.send(json!({"type":"set","req":3,"path":"todos/b","data":{"n":0}})).await;
    c.sync().await;
    let mut third = server.connect().await;
    third.send(json!({"type":"subscribe","id":1,"path":"todos","query":query,"since":version})).await;
    let result = third.recv().await;
    assert_eq!(result["type"], "collection");
    let ids: Vec<&str> = result["docs"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["b", "a"]);
}

/// Documents whose fields hold every type (and look-alikes: `1` and `"1"`, `true` and `1`), then
/// each `==`, `in` and range filter the stores narrow their reads with, on plain, nested and quoted
/// fields: every first result equals the query run on what was written.
async fn narrowed_reads_keep_what_the_evaluation_keeps(server: &TestServer) {
    let values = [
        "null",
        "true",
        "false",
        "0",
        "1",
        "1.0",
        "2.5",
        "-3",
        "1e300",
        "9007199254740993",
        "9007199254740992",
        "\"\"",
        "\"1\"",
        "\"a\"",
        "\"b\"",
        "\"é\"",
        "\"\\u0000x\"",
        "[1]",
        "{\"x\":1}",
    ];
    let mut c = server.connect().await;
    let mut model = Model::new();
    for (i, a) in values.iter().enumerate() {
        for (j, b) in ["{}", "1", "\"a\"", "{\"c\":true}", "{\"c\":2}"].iter().enumerate() {
            let id = format!("d{i:02}{j}");
            let data: Value =
                serde_json::from_str(&format!("{{\"a\":{a},\"b\":{b},\"w e\":{a},\"s\\\\l\":{a}}}")).unwrap();
            c.send(json!({"type":"set","req":i * 10 + j,"path":format!("mixed/{id}"),"data":data})).await;
            model.insert(id, data);
        }
    }
    c.sync().await;
    let (mut id, mut kept) = (0, 0);
    for op in ["==", "<", "<=", ">", ">=", "in"] {
        for operand in values {
            let operand = if op == "in" { format!("[{operand}, 0]") } else { operand.to_owned() };
            for field in ["a", "b.c", "w e", "s\\\\l"] {
                let query: Value =
                    serde_json::from_str(&format!("{{\"where\":[[\"{field}\",\"{op}\",{operand}]]}}")).unwrap();
                let parsed: Query = serde_json::from_value(query.clone()).unwrap();
                if parsed.check().is_err() {
                    continue;
                }
                id += 1;
                c.send(json!({"type":"subscribe","id":id,"path":"mixed","query":query})).await;
                let frame = c.recv().await;
                let docs = docs_of(&frame);
                let expected = run(&parsed, &model);
                kept += usize::from(!expected.is_empty());
                assert_eq!(docs, expected, "{query}");
            }
        }
    }
    assert!(kept > 100, "most queries keep something: {kept}");
}

#[tokio::test]
async fn on_sqlite_narrowed_reads_keep_every_document_that_matches() {
    narrowed_reads_keep_what_the_evaluation_keeps(&TestServer::memory().await).await;
}

#[tokio::test]
async fn on_postgresql_narrowed_reads_keep_every_document_that_matches() {
    let db = Cluster::shared().database().await;
    let server = TestServer::start(Config { database_url: Some(db), ..Config::default() }).await;
    narrowed_reads_keep_what_the_evaluation_keeps(&server).await;
}
