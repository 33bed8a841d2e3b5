//! The persistent cache as the core drives it: what is read, stored, sent and evicted, and when.

use livepath_protocol::{ClientMessage, ErrorCode};

use super::tests::{A, delivered, doc_state, opened, path, sends, snapshot, welcome_from};
use super::*;

fn persistent() -> Core<&'static str> {
    Core::new(CoreOptions { persistent: true, ..CoreOptions::default() })
}

fn from_cache(snapshot: &Snapshot<&'static str>) -> bool {
    match snapshot {
        Snapshot::Document { from_cache, .. } | Snapshot::Collection { from_cache, .. } => *from_cache,
    }
}

/// A cached document, as the shell reads it back: a `snapshot` frame (its id unused).
fn cached_doc(version: u64, data: &'static str) -> Option<Frame<&'static str>> {
    Some(Frame::Snapshot { id: 0, version, exists: true, data: Some(data) })
}

fn read(key: &str) -> A {
    A::Cache(CacheOp::Read, key.into())
}

/// The snapshots stored: each key with its state's version and documents' data.
fn stored_snapshots(actions: &[A]) -> Vec<(String, u64, Vec<&'static str>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            A::StoreSnapshot {
                key,
                snapshot: Snapshot::Document { state, from_cache: false, pending: false, .. },
                ..
            } => Some((key.clone(), state.version, state.data.into_iter().collect())),
            A::StoreSnapshot { key, snapshot: Snapshot::Collection { docs, version, .. }, .. } => {
                Some((key.clone(), *version, docs.iter().map(|d| d.data).collect()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn the_cached_snapshot_comes_first_then_the_socket_and_a_resume_from_its_version() {
    let mut c = persistent();
    let (l, actions) = c.listen(&path("rooms/r1"));
    assert_eq!(actions, [read("rooms/r1"), A::Status(Status::Connecting)], "no socket yet");
    assert_eq!(c.cache_opened(Vec::new()), [], "the read is still out");
    let actions = c.cache_read("rooms/r1", None, cached_doc(7, "cached"));
    let first = delivered(&actions);
    assert_eq!(first[0].0, [l]);
    assert_eq!(doc_state(&first[0].1), (Some("cached"), true, false));
    assert!(from_cache(&first[0].1));
    assert_eq!(actions.last(), Some(&A::Connect), "the socket opens after the cached delivery");
    let sent = sends(&opened(&mut c));
    assert_eq!(sent, [ClientMessage::Subscribe { id: 1, path: "rooms/r1".into(), since: Some(7), query: None }]);
    // Confirmed unchanged: one more callback, same data, no longer from the cache.
    let confirmed = delivered(&c.received(Frame::Unchanged { id: 1 }));
    assert_eq!(confirmed.len(), 1);
    assert_eq!(doc_state(&confirmed[0].1), (Some("cached"), true, false));
    assert!(!from_cache(&confirmed[0].1));
    assert!(c.received(Frame::Unchanged { id: 1 }).is_empty(), "said once");
}

#[test]
fn a_listener_added_while_the_socket_is_open_reads_the_cache_before_it_subscribes() {
    let mut c = persistent();
    c.cache_opened(Vec::new());
    let (_, actions) = c.write(&path("warm/up"), WriteOp::Delete, "k0".into());
    assert!(actions.contains(&A::Connect));
    opened(&mut c);
    let (_, actions) = c.listen(&path("c/d"));
    assert!(sends(&actions).is_empty(), "the subscribe waits for the read");
    let actions = c.cache_read("c/d", None, cached_doc(3, "old"));
    assert!(from_cache(&delivered(&actions)[0].1), "cached data is marked so even while the socket is open");
    assert!(matches!(sends(&actions)[..], [ClientMessage::Subscribe { since: Some(3), .. }]));
    let fresh = delivered(&c.received(snapshot(1, 5, Some("new"))));
    assert_eq!(doc_state(&fresh[0].1), (Some("new"), true, false));
    assert!(!from_cache(&fresh[0].1));
}

#[test]
fn nothing_cached_means_one_read_then_an_ordinary_subscribe() {
    let mut c = persistent();
    c.cache_opened(Vec::new());
    c.listen(&path("c/d"));
    let actions = c.cache_read("c/d", None, None);
    assert!(delivered(&actions).is_empty());
    assert_eq!(actions, [A::Connect]);
    assert!(matches!(sends(&opened(&mut c))[..], [ClientMessage::Subscribe { since: None, .. }]));
}

#[test]
fn a_write_is_sent_only_once_stored_and_never_before_an_earlier_one() {
    let mut c = persistent();
    c.cache_opened(Vec::new());
    let (w1, actions) = c.write(&path("c/a"), WriteOp::Set("one"), "k1".into());
    assert!(actions.contains(&A::StoreWrite(StoredWrite {
        key: "k1".into(),
        path: "c/a".into(),
        op: WriteOp::Set("one")
    })));
    assert!(sends(&opened(&mut c)).is_empty(), "not stored yet: not sent even though the socket is open");
    let (w2, actions) = c.write(&path("c/b"), WriteOp::Delete, "k2".into());
    assert!(sends(&actions).is_empty());
    assert!(sends(&c.write_stored("k2")).is_empty(), "the second waits for the first");
    let sent = sends(&c.write_stored("k1"));
    assert_eq!(
        sent,
        [
            ClientMessage::Set {
                req: w1,
                path: "c/a".into(),
                data: "one",
                key: Some("k1".into()),
                merge: false,
                transforms: vec![],
                condition: None
            },
            ClientMessage::Delete { req: w2, path: "c/b".into(), key: Some("k2".into()), condition: None },
        ]
    );
    let actions = c.received(Frame::Ack { req: w1, version: 1 });
    assert!(actions.contains(&A::Cache(CacheOp::ForgetWrite, "k1".into())), "an acknowledged write is forgotten");
}

#[test]
fn writes_an_earlier_page_left_are_pending_at_once_and_go_first_with_their_keys() {
    let mut c = persistent();
    let (l, _) = c.listen(&path("c/d"));
    c.write(&path("c/e"), WriteOp::Set("new"), "k-new".into());
    let left = vec![
        StoredWrite { key: "k-old1".into(), path: "c/d".into(), op: WriteOp::Set("left") },
        StoredWrite { key: "k-old2".into(), path: "c/d".into(), op: WriteOp::Update("again") },
    ];
    let shown = delivered(&c.cache_opened(left));
    assert_eq!(shown[0].0, [l]);
    assert_eq!(doc_state(&shown[0].1), (Some("again"), true, true), "the left writes show as pending");
    let actions = c.cache_read("c/d", None, cached_doc(2, "server"));
    assert!(delivered(&actions).is_empty(), "the cached server state is under the pending writes");
    c.write_stored("k-new");
    let keys: Vec<_> = sends(&opened(&mut c))
        .into_iter()
        .filter_map(|m| match m {
            ClientMessage::Set { key, .. } | ClientMessage::Update { key, .. } => key,
            _ => None,
        })
        .collect();
    assert_eq!(keys, ["k-old1", "k-old2", "k-new"]);
    assert_eq!(c.pending_write_count(), 3);
}

#[test]
fn server_state_is_stored_a_moment_after_it_changes_and_when_its_subscription_goes() {
    let mut c = persistent();
    c.cache_opened(Vec::new());
    let (l, _) = c.listen(&path("c/d"));
    c.cache_read("c/d", None, None);
    opened(&mut c);
    c.received(welcome_from("e1"));
    let actions = c.received(snapshot(1, 4, Some("v4")));
    assert!(actions.contains(&A::ArmFlush(FLUSH_MS)));
    assert!(!c.received(snapshot(1, 5, Some("v5"))).contains(&A::ArmFlush(FLUSH_MS)), "armed once");
    let actions = c.flush_due();
    assert_eq!(stored_snapshots(&actions), [("c/d".to_owned(), 5, vec!["v5"])]);
    assert!(matches!(&actions[..], [A::StoreSnapshot { epoch: Some(e), .. }] if e == "e1"), "{actions:?}");
    assert!(c.flush_due().is_empty(), "nothing changed since");
    c.received(snapshot(1, 6, Some("v6")));
    c.unlisten(l);
    let actions = c.release_unused();
    assert_eq!(stored_snapshots(&actions), [("c/d".to_owned(), 6, vec!["v6"])]);
    assert!(actions.contains(&A::Cache(CacheOp::Release, "c/d".into())), "then it may be evicted");
}

#[test]
fn a_failing_cache_falls_back_to_memory_once_and_sends_what_waited() {
    let mut c = persistent();
    let (_, _) = c.listen(&path("c/d"));
    let (w, _) = c.write(&path("c/e"), WriteOp::Set("kept"), "k".into());
    let actions = c.cache_failed();
    assert!(actions.contains(&A::Connect), "nothing waits for the cache any more");
    assert_eq!(c.persistence(), Persistence::Unavailable);
    let sent = sends(&opened(&mut c));
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent.contains(&ClientMessage::Set {
        req: w,
        path: "c/e".into(),
        data: "kept",
        key: Some("k".into()),
        merge: false,
        transforms: vec![],
        condition: None
    }));
    assert!(c.cache_failed().is_empty(), "once");
    let (_, actions) = c.write(&path("c/f"), WriteOp::Delete, "k2".into());
    assert_eq!(sends(&actions).len(), 1, "later writes go at once, unstored");
    assert!(!actions.iter().any(|a| matches!(a, A::StoreWrite(_) | A::Cache(..))));
}

#[test]
fn clear_persistence_is_refused_while_listening_or_writing() {
    let mut c = persistent();
    c.cache_opened(Vec::new());
    let (l, _) = c.listen(&path("c/d"));
    assert_eq!(c.clear_persistence().map_err(|e| e.0), Err(ErrorCode::FailedPrecondition));
    c.unlisten(l);
    c.release_unused();
    assert_eq!(c.clear_persistence(), Ok(true));
    c.write(&path("c/d"), WriteOp::Delete, "k".into());
    assert!(c.clear_persistence().is_err());
    let mut memory = super::tests::core();
    assert_eq!(memory.clear_persistence(), Ok(false), "nothing stored: nothing to clear");
}

#[test]
fn a_cached_state_from_another_epoch_is_shown_but_fetched_again_in_full() {
    let mut c = persistent();
    c.cache_opened(Vec::new());
    c.listen(&path("c/d"));
    c.cache_read("c/d", Some("e-old".into()), cached_doc(9, "old db"));
    assert!(sends(&c.opened()).is_empty(), "welcome first");
    let sent = sends(&c.received(welcome_from("e-new")));
    assert_eq!(sent, [ClientMessage::Subscribe { id: 1, path: "c/d".into(), since: None, query: None }]);
}

#[test]
fn a_listing_is_cached_with_its_documents_and_read_back_in_its_query_order() {
    let mut c = persistent();
    c.cache_opened(Vec::new());
    c.listen(&path("rooms"));
    let docs = vec![CollectionDoc::confirmed("a".into(), 3, "A"), CollectionDoc::confirmed("b".into(), 8, "B")];
    let actions = c.cache_read("rooms", None, Some(Frame::Collection { id: 0, version: 8, docs }));
    match &delivered(&actions)[0].1 {
        Snapshot::Collection { docs, changes, version: 8, from_cache: true, .. } => {
            assert_eq!(docs.iter().map(|d| d.id()).collect::<Vec<_>>(), ["a", "b"]);
            assert_eq!(changes.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    opened(&mut c);
    c.received(Frame::Changes { id: 1, changes: vec![("c".into(), 9, Some("C"))] });
    assert_eq!(stored_snapshots(&c.flush_due()), [("rooms".to_owned(), 9, vec!["A", "B", "C"])]);
}

#[test]
fn a_subscription_the_server_refuses_is_forgotten_by_the_cache() {
    let mut c = persistent();
    let (l, _) = c.listen(&path("rooms/secret"));
    c.cache_opened(Vec::new());
    c.cache_read("rooms/secret", None, cached_doc(3, "someone else's"));
    opened(&mut c);
    let actions =
        c.received(Frame::Error { id: Some(1), req: None, code: ErrorCode::PermissionDenied, message: "no".into() });
    assert!(actions.contains(&A::Cache(CacheOp::Forget, "rooms/secret".into())), "{actions:?}");
    assert!(actions.iter().any(|a| matches!(a, A::Fail { listeners, .. } if listeners == &[l])));
}
