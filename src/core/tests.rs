//! The client's behaviour as a state machine: events in, actions out.

use livepath_protocol::{ClientMessage, ErrorCode, Path};

use super::*;

pub(super) type A = Action<&'static str>;

/// In these tests an update's fields replace the whole value: enough to see which write won.
impl Merge for &'static str {
    fn merged(&self, fields: &Self) -> Self {
        fields
    }
}

/// Plain strings have no fields: enough for documents and plain listings, whose order is by id.
impl Fields for &'static str {
    fn field(&self, _: &str) -> Option<livepath_protocol::query::Value> {
        None
    }
}

pub(super) fn path(p: &str) -> Path {
    Path::parse(p).unwrap()
}

pub(super) fn core() -> Core<&'static str> {
    Core::new(CoreOptions::default())
}

pub(super) fn open_core() -> Core<&'static str> {
    let mut c = core();
    let (l, _) = c.listen(&path("warmup/doc"));
    opened(&mut c);
    c.unlisten(l);
    c.release_unused();
    c.linger_expired();
    let (_, actions) = c.listen(&path("warmup/doc2"));
    assert!(actions.contains(&A::Connect));
    opened(&mut c);
    c
}

/// The socket opens, `hello` goes and `welcome` (with no epoch, as from an older server) arrives:
/// the actions of the last two.
pub(super) fn opened(c: &mut Core<&'static str>) -> Vec<A> {
    let mut actions = c.opened();
    actions.extend(c.received(Frame::Welcome { heartbeat_ms: 25_000, epoch: None }));
    actions
}

pub(super) fn sends(actions: &[A]) -> Vec<ClientMessage<&'static str>> {
    actions.iter().filter_map(|a| if let A::Send(m) = a { Some(m.clone()) } else { None }).collect()
}

/// The wire id of the subscribe among `actions`.
pub(super) fn sub_id(actions: &[A]) -> u64 {
    match sends(actions).first() {
        Some(ClientMessage::Subscribe { id, .. }) => *id,
        other => panic!("expected a subscribe, got {other:?}"),
    }
}

pub(super) type F = Frame<&'static str>;

pub(super) fn snapshot(id: u64, version: u64, data: Option<&'static str>) -> F {
    Frame::Snapshot { id, version, exists: data.is_some(), data }
}

pub(super) fn delivered(actions: &[A]) -> Vec<(Vec<ListenerId>, Snapshot<&'static str>)> {
    actions
        .iter()
        .filter_map(|a| {
            if let A::Deliver { listeners, snapshot, .. } = a {
                Some((listeners.clone(), snapshot.clone()))
            } else {
                None
            }
        })
        .collect()
}

#[test]
fn the_first_listener_opens_the_socket_and_subscribes_once_it_is_open() {
    let mut c = core();
    let (_, actions) = c.listen(&path("rooms/r1"));
    assert_eq!(actions, [A::Status(Status::Connecting), A::Connect]);
    let actions = opened(&mut c);
    assert_eq!(actions[0], A::Status(Status::Open));
    assert_eq!(
        sends(&actions),
        [ClientMessage::Subscribe { id: 1, path: "rooms/r1".into(), since: None, query: None }]
    );
}

#[test]
fn listeners_on_one_path_share_one_subscription_and_a_late_one_gets_the_cached_snapshot() {
    let mut c = open_core();
    let (a, actions) = c.listen(&path("rooms/r1"));
    let id = sub_id(&actions);
    let actions = c.received(snapshot(id, 3, Some("v3")));
    assert_eq!(delivered(&actions)[0].0, [a]);
    let (b, actions) = c.listen(&path("rooms/r1"));
    assert!(sends(&actions).is_empty(), "no second subscribe");
    match &actions[..] {
        [A::Deliver { listeners, later: true, snapshot: Snapshot::Document { state, from_cache: false, .. } }] => {
            assert_eq!(listeners, &[b]);
            assert_eq!(state.data, Some("v3"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.subscription_count(), 2); // warmup/doc2 and rooms/r1
}

#[test]
fn unsubscribe_then_resubscribe_in_the_same_task_sends_one_subscribe_and_no_unsubscribe() {
    let mut c = open_core();
    let (a, actions) = c.listen(&path("c/d"));
    assert_eq!(sends(&actions).len(), 1);
    assert_eq!(c.unlisten(a), [A::ScheduleRelease]);
    let (_, actions) = c.listen(&path("c/d"));
    assert!(sends(&actions).is_empty());
    assert!(sends(&c.release_unused()).is_empty(), "the path has a listener again");
}

#[test]
fn the_last_listener_leaving_releases_the_subscription_then_the_socket_after_the_linger() {
    let mut c = core();
    let (a, _) = c.listen(&path("c/d"));
    opened(&mut c);
    assert!(c.unlisten(a).contains(&A::ScheduleRelease));
    assert!(c.unlisten(a).is_empty(), "unlisten is idempotent");
    let actions = c.release_unused();
    assert_eq!(sends(&actions), [ClientMessage::Unsubscribe { id: 1 }]);
    assert!(actions.contains(&A::ArmLinger(10_000)));
    let (_, actions) = c.listen(&path("c/e"));
    assert!(actions.contains(&A::CancelLinger), "a listener within the linger reuses the socket");
    assert!(!actions.contains(&A::Connect));
}

#[test]
fn the_linger_expiring_closes_the_socket() {
    let mut c = core();
    let (a, _) = c.listen(&path("c/d"));
    opened(&mut c);
    c.unlisten(a);
    c.release_unused();
    assert_eq!(c.linger_expired(), [A::Status(Status::Idle), A::Disconnect]);
    assert_eq!(c.status(), Status::Idle);
}

#[test]
fn snapshots_for_a_released_subscription_are_dropped() {
    let mut c = open_core();
    let (a, actions) = c.listen(&path("c/d"));
    let id = sub_id(&actions);
    c.unlisten(a);
    c.release_unused();
    assert!(c.received(snapshot(id, 5, Some("late"))).is_empty());
}

#[test]
fn a_lost_socket_reconnects_with_backoff_and_resumes_with_the_last_version() {
    let mut c = core();
    let (_, _) = c.listen(&path("c/d"));
    opened(&mut c);
    c.received(snapshot(1, 7, Some("v7")));
    let actions = c.closed(1.0);
    assert_eq!(actions, [A::Status(Status::Reconnecting), A::ArmReconnect(500)]);
    assert_eq!(c.reconnect_due(), [A::Connect]);
    assert_eq!(c.closed(1.0), [A::ArmReconnect(1000)], "the next attempt waits longer");
    c.reconnect_due();
    let actions = opened(&mut c);
    assert_eq!(actions[0], A::Status(Status::Open));
    assert_eq!(sends(&actions), [ClientMessage::Subscribe { id: 1, path: "c/d".into(), since: Some(7), query: None }]);
    c.received(Frame::Unchanged { id: 1 });
    assert_eq!(c.closed(1.0), [A::Status(Status::Reconnecting), A::ArmReconnect(500)], "success reset the backoff");
}

#[test]
fn a_resumed_path_that_did_not_change_causes_no_callback_and_one_that_did_causes_one() {
    let mut c = core();
    c.listen(&path("c/d"));
    opened(&mut c);
    c.received(snapshot(1, 7, Some("v7")));
    c.closed(0.0);
    c.reconnect_due();
    opened(&mut c);
    assert!(c.received(Frame::Unchanged { id: 1 }).is_empty());
    assert!(c.received(snapshot(1, 7, Some("v7"))).is_empty(), "a repeated version is not delivered twice");
    assert_eq!(delivered(&c.received(snapshot(1, 9, Some("v9")))).len(), 1);
}

pub(super) fn welcome_from(epoch: &str) -> F {
    Frame::Welcome { heartbeat_ms: 25_000, epoch: Some(epoch.into()) }
}

#[test]
fn nothing_is_sent_until_both_hello_has_gone_and_welcome_has_come_in_either_order() {
    let mut c = core();
    c.listen(&path("c/d"));
    c.write(&path("c/e"), WriteOp::Set("x"), "k".into());
    c.socket_opened(0.0);
    assert!(c.opened().is_empty(), "hello went, but the server has not said which database it is");
    assert_eq!(c.status(), Status::Connecting);
    let actions = c.received(welcome_from("e1"));
    assert_eq!(actions[0], A::Status(Status::Open));
    assert_eq!(sends(&actions).len(), 2, "the subscribe and the write");
    c.closed(0.0);
    c.reconnect_due();
    c.socket_opened(1.0);
    // A token function still thinking: welcome first, hello after.
    assert!(c.received(welcome_from("e1")).is_empty());
    assert_eq!(sends(&c.opened()).len(), 2);
}

#[test]
fn a_new_epoch_resubscribes_without_since_and_its_state_replaces_the_old_even_at_lower_or_equal_versions() {
    let mut c = core();
    c.listen(&path("c/d"));
    let (l, _) = c.listen(&path("rooms"));
    c.opened();
    c.received(welcome_from("e1"));
    c.received(snapshot(1, 7, Some("v7")));
    let listing = |version, docs: Vec<(&str, u64, &'static str)>| Frame::Collection {
        id: 2,
        version,
        docs: docs.into_iter().map(|(id, v, data)| CollectionDoc::confirmed(id.into(), v, data)).collect(),
    };
    c.received(listing(3, vec![("a", 1, "A"), ("b", 3, "B")]));
    // Same epoch: resume from what was seen.
    c.closed(0.0);
    c.reconnect_due();
    c.opened();
    let resumed = sends(&c.received(welcome_from("e1")));
    assert_eq!(
        resumed,
        [
            ClientMessage::Subscribe { id: 1, path: "c/d".into(), since: Some(7), query: None },
            ClientMessage::Subscribe { id: 2, path: "rooms".into(), since: Some(3), query: None },
        ]
    );
    // Another database (a restored backup): its versions say nothing about what this client holds.
    c.closed(0.0);
    c.reconnect_due();
    c.opened();
    let fresh = sends(&c.received(welcome_from("e2")));
    assert_eq!(
        fresh,
        [
            ClientMessage::Subscribe { id: 1, path: "c/d".into(), since: None, query: None },
            ClientMessage::Subscribe { id: 2, path: "rooms".into(), since: None, query: None },
        ]
    );
    let doc = delivered(&c.received(snapshot(1, 2, Some("older"))));
    assert_eq!(doc_state(&doc[0].1).0, Some("older"), "a lower version from the new epoch still replaces");
    // `a` has the same id and version as before but other data: it is reported modified.
    let rooms = delivered(&c.received(listing(1, vec![("a", 1, "A2")])));
    assert_eq!(rooms[0].0, [l]);
    match &rooms[0].1 {
        Snapshot::Collection { docs, changes, .. } => {
            assert_eq!(docs.iter().map(|d| (d.id(), d.data)).collect::<Vec<_>>(), [("a", "A2")]);
            let kinds: Vec<_> = changes.iter().map(|ch| (ch.kind, ch.id.as_str())).collect();
            assert_eq!(kinds, [(ChangeKind::Removed, "b"), (ChangeKind::Modified, "a")]);
        }
        other => panic!("{other:?}"),
    }
    // The versions now come from e2. Then e3, dropped before anything came from it: the next
    // connection (to e3 still) must not resume from e2's versions either.
    c.closed(0.0);
    c.reconnect_due();
    c.opened();
    assert!(
        sends(&c.received(welcome_from("e2")))
            .iter()
            .all(|m| matches!(m, ClientMessage::Subscribe { since: Some(_), .. }))
    );
    c.closed(0.0);
    c.reconnect_due();
    c.opened();
    c.received(welcome_from("e3"));
    c.closed(0.0);
    c.reconnect_due();
    c.opened();
    let again = sends(&c.received(welcome_from("e3")));
    assert!(again.iter().all(|m| matches!(m, ClientMessage::Subscribe { since: None, .. })), "{again:?}");
}

#[test]
fn while_reconnecting_a_new_listener_gets_the_cached_snapshot_marked_from_cache() {
    let mut c = core();
    c.listen(&path("c/d"));
    opened(&mut c);
    c.received(snapshot(1, 7, Some("v7")));
    c.closed(0.0);
    let (_, actions) = c.listen(&path("c/d"));
    match &delivered(&actions)[0].1 {
        Snapshot::Document { from_cache, .. } => assert!(from_cache),
        other => panic!("{other:?}"),
    }
}

#[test]
fn writes_made_offline_are_sent_in_order_on_open_and_resent_with_the_same_key_after_a_drop() {
    let mut c = core();
    let (w1, actions) = c.write(&path("c/d"), WriteOp::Set("one"), "k1".into());
    assert!(actions.contains(&A::Connect));
    let (w2, _) = c.write(&path("c/d"), WriteOp::Delete, "k2".into());
    let sent = sends(&opened(&mut c));
    assert_eq!(
        sent,
        [
            ClientMessage::Set {
                req: w1,
                path: "c/d".into(),
                data: "one",
                key: Some("k1".into()),
                merge: false,
                transforms: vec![],
                condition: None
            },
            ClientMessage::Delete { req: w2, path: "c/d".into(), key: Some("k2".into()), condition: None },
        ]
    );
    assert_eq!(c.received(Frame::Ack { req: w1, version: 4 }), [A::Settle { req: w1, result: Ok(4) }]);
    c.closed(0.0);
    c.reconnect_due();
    let resent = sends(&opened(&mut c));
    assert_eq!(
        resent,
        [ClientMessage::Delete { req: w2, path: "c/d".into(), key: Some("k2".into()), condition: None }]
    );
    assert_eq!(c.pending_write_count(), 1);
}

#[test]
fn a_rejected_write_settles_with_the_servers_code() {
    let mut c = open_core();
    let (w, _) = c.write(&path("c/d"), WriteOp::Update("x"), "k".into());
    let actions = c.received(Frame::Error {
        id: None,
        req: Some(w),
        code: ErrorCode::NotFound,
        message: "document c/d does not exist".into(),
    });
    assert_eq!(
        actions[0],
        A::Settle { req: w, result: Err((ErrorCode::NotFound, "document c/d does not exist".into())) }
    );
}

#[test]
fn writes_past_the_pending_limit_fail_at_once() {
    let mut c = Core::new(CoreOptions { max_pending_writes: 1, ..CoreOptions::default() });
    c.write(&path("c/d"), WriteOp::Set("a"), "k1".into());
    let (w, actions) = c.write(&path("c/d"), WriteOp::Set("b"), "k2".into());
    assert!(matches!(&actions[..], [A::Settle { req, result: Err((ErrorCode::ResourceExhausted, _)) }] if *req == w));
}

#[test]
fn a_subscription_error_fails_its_listeners_and_removes_them() {
    let mut c = open_core();
    let (a, actions) = c.listen(&path("c/d"));
    let id = sub_id(&actions);
    let (b, _) = c.listen(&path("c/d"));
    let before = c.listener_count();
    let actions =
        c.received(Frame::Error { id: Some(id), req: None, code: ErrorCode::PermissionDenied, message: "no".into() });
    assert_eq!(actions[0], A::Fail { listeners: vec![a, b], code: ErrorCode::PermissionDenied, message: "no".into() });
    assert_eq!(c.listener_count(), before - 2);
    assert!(c.unlisten(a).is_empty());
}

#[test]
fn collection_snapshots_carry_the_ordered_docs_and_indexed_changes() {
    let mut c = open_core();
    let (a, actions) = c.listen(&path("rooms"));
    let id = sub_id(&actions);
    let full = Frame::Collection {
        id,
        version: 2,
        docs: vec![CollectionDoc::confirmed("a".into(), 1, "A"), CollectionDoc::confirmed("c".into(), 2, "C")],
    };
    let first = delivered(&c.received(full));
    assert_eq!(first[0].0, [a]);
    let delta = Frame::Changes { id, changes: vec![("b".into(), 3, Some("B"))] };
    match &delivered(&c.received(delta))[0].1 {
        Snapshot::Collection { docs, changes, version, .. } => {
            assert_eq!(docs.iter().map(|d| d.id()).collect::<Vec<_>>(), ["a", "b", "c"]);
            assert_eq!((changes[0].kind, changes[0].old_index, changes[0].new_index), (ChangeKind::Added, -1, 1));
            assert_eq!(*version, 3);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unauthenticated_with_a_token_function_reconnects_and_keeps_listeners_and_writes() {
    let mut c = Core::new(CoreOptions { refreshable_token: true, ..CoreOptions::default() });
    let (_, _) = c.listen(&path("c/d"));
    opened(&mut c);
    let (w, _) = c.write(&path("c/d"), WriteOp::Set("x"), "k".into());
    let refused = |id, req| Frame::Error { id, req, code: ErrorCode::Unauthenticated, message: "expired".into() };
    assert_eq!(c.received(refused(Some(1), None)), [A::Reconnect]);
    assert_eq!(c.received(refused(None, Some(w))), [A::Reconnect]);
    assert_eq!((c.listener_count(), c.pending_write_count()), (1, 1), "nothing failed");
    c.closed(1.0);
    c.reconnect_due();
    let sent = sends(&opened(&mut c));
    assert_eq!(sent.len(), 2, "resubscribed and resent: {sent:?}");
}

#[test]
fn unavailable_keeps_listeners_and_writes_and_retries_them_on_a_new_connection_after_a_growing_backoff() {
    // The server's database is down: the write is not lost, nor the listener; the next connection (a
    // proxy may pick another node) resends the write with its key and resubscribes.
    let mut c = Core::new(CoreOptions::default());
    let (_, _) = c.listen(&path("c/d"));
    opened(&mut c);
    let (w, _) = c.write(&path("c/d"), WriteOp::Set("x"), "k".into());
    let refused = |id, req| Frame::Error { id, req, code: ErrorCode::Unavailable, message: "database".into() };
    assert_eq!(c.received(refused(None, Some(w))), [A::Reconnect]);
    assert_eq!(c.received(refused(Some(1), None)), [A::Reconnect]);
    assert_eq!((c.listener_count(), c.pending_write_count()), (1, 1), "nothing failed");
    let mut delays = Vec::new();
    for _ in 0..3 {
        let timer = c.closed(1.0).into_iter().find_map(|a| match a {
            A::ArmReconnect(delay_ms) => Some(delay_ms),
            _ => None,
        });
        delays.push(timer.expect("a reconnect is scheduled"));
        c.reconnect_due();
        let sent = sends(&opened(&mut c));
        assert_eq!(sent.len(), 2, "resubscribed and resent: {sent:?}");
        assert!(
            sent.iter().any(|m| matches!(m, ClientMessage::Set { key: Some(k), .. } if k == "k")),
            "with its idempotency key: {sent:?}"
        );
        assert_eq!(c.received(refused(None, Some(w))), [A::Reconnect], "still down");
    }
    assert!(delays.windows(2).all(|d| d[0] < d[1]), "the tries are spaced out more and more: {delays:?}");
}

#[test]
fn unauthenticated_when_the_token_function_gave_no_token_fails_instead_of_reconnecting() {
    // A signed-out visitor (the function answers null) on a path that needs a user: asking the function
    // again would give nothing new, so the listener and the write fail and the socket stays up.
    let mut c = Core::new(CoreOptions { refreshable_token: true, ..CoreOptions::default() });
    let (_, _) = c.listen(&path("c/d"));
    c.hello_sent(false);
    opened(&mut c);
    let (w, _) = c.write(&path("c/d"), WriteOp::Set("x"), "k".into());
    let refused = |id, req| Frame::Error { id, req, code: ErrorCode::Unauthenticated, message: "sign in".into() };
    assert!(matches!(&c.received(refused(Some(1), None))[0], A::Fail { code: ErrorCode::Unauthenticated, .. }));
    assert!(matches!(
        &c.received(refused(None, Some(w)))[0],
        A::Settle { result: Err((ErrorCode::Unauthenticated, _)), .. }
    ));
    // After signing in, the next connection's hello has a token, and a refusal reconnects again.
    let (_, _) = c.listen(&path("c/e"));
    c.hello_sent(true);
    assert_eq!(c.received(refused(Some(2), None)), [A::Reconnect]);
}

#[test]
fn unauthenticated_with_a_fixed_token_fails_the_listener() {
    let mut c = open_core();
    let (_, actions) = c.listen(&path("c/d"));
    let id = sub_id(&actions);
    let error = Frame::Error { id: Some(id), req: None, code: ErrorCode::Unauthenticated, message: "no".into() };
    assert!(matches!(&c.received(error)[0], A::Fail { code: ErrorCode::Unauthenticated, .. }));
}

#[test]
fn the_backoff_starts_over_only_once_the_server_answers_a_request() {
    let mut c = core();
    c.listen(&path("c/d"));
    opened(&mut c);
    c.closed(1.0);
    c.reconnect_due();
    opened(&mut c); // the socket opens, but the server never answers (say it refuses every token)
    assert_eq!(c.closed(1.0), [A::Status(Status::Reconnecting), A::ArmReconnect(1000)], "still backing off");
    c.reconnect_due();
    opened(&mut c);
    c.received(snapshot(1, 1, Some("v")));
    assert_eq!(c.closed(1.0), [A::Status(Status::Reconnecting), A::ArmReconnect(500)]);
}

#[test]
fn close_fails_pending_writes_and_later_writes() {
    let mut c = core();
    let (w, _) = c.write(&path("c/d"), WriteOp::Set("a"), "k".into());
    let actions = c.close();
    assert!(matches!(&actions[0], A::Settle { req, result: Err((ErrorCode::FailedPrecondition, _)) } if *req == w));
    assert!(actions.contains(&A::Status(Status::Closed)));
    let (_, actions) = c.write(&path("c/d"), WriteOp::Set("b"), "k2".into());
    assert!(matches!(&actions[0], A::Settle { result: Err((ErrorCode::FailedPrecondition, _)), .. }));
}

#[test]
fn a_socket_that_cannot_be_opened_drops_every_listener_and_write_and_does_not_retry() {
    let mut c = core();
    let (a, actions) = c.listen(&path("c/d"));
    assert!(actions.contains(&A::Connect));
    c.listen(&path("c"));
    c.write(&path("c/d"), WriteOp::Set("x"), "k".into());
    assert_eq!(c.cannot_connect(), [A::Status(Status::Idle)]);
    assert_eq!((c.listener_count(), c.subscription_count(), c.pending_write_count()), (0, 0, 0));
    // Nothing is armed: no reconnect loop. The failed listeners are gone; a second report changes nothing.
    assert!(c.unlisten(a).is_empty());
    assert!(c.cannot_connect().is_empty());
    assert!(c.closed(0.5).is_empty());
    // A later listener tries again.
    let (_, actions) = c.listen(&path("c/e"));
    assert!(actions.contains(&A::Connect));
}

pub(super) fn doc_state(snapshot: &Snapshot<&'static str>) -> (Option<&'static str>, bool, bool) {
    match snapshot {
        Snapshot::Document { state, pending, .. } => (state.data, state.exists, *pending),
        other => panic!("{other:?}"),
    }
}

/// An open client whose listener on `c/d` has been shown the server's `"server"` at version 3: the
/// client, the listener and the subscription's wire id.
pub(super) fn showing_server() -> (Core<&'static str>, ListenerId, u64) {
    let mut c = open_core();
    let (a, actions) = c.listen(&path("c/d"));
    let id = sub_id(&actions);
    c.received(snapshot(id, 3, Some("server")));
    (c, a, id)
}

#[test]
fn a_write_shows_at_once_as_pending_then_confirmed_after_the_ack_in_one_more_callback() {
    let (mut c, a, id) = showing_server();
    let (w, actions) = c.write(&path("c/d"), WriteOp::Set("mine"), "k".into());
    let local = delivered(&actions);
    assert_eq!(local[0].0, [a]);
    assert_eq!(doc_state(&local[0].1), (Some("mine"), true, true), "local result, hasPendingWrites");
    assert!(delivered(&c.received(snapshot(id, 4, Some("mine")))).is_empty(), "held until the ack");
    let confirmed = delivered(&c.received(Frame::Ack { req: w, version: 4 }));
    assert_eq!(doc_state(&confirmed[0].1), (Some("mine"), true, false));
    match &confirmed[0].1 {
        Snapshot::Document { state, .. } => assert_eq!(state.version, 4),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_rejected_write_rolls_the_local_view_back() {
    let (mut c, _, _) = showing_server();
    let (w, actions) = c.write(&path("c/d"), WriteOp::Delete, "k".into());
    assert_eq!(doc_state(&delivered(&actions)[0].1), (None, false, true));
    let actions =
        c.received(Frame::Error { id: None, req: Some(w), code: ErrorCode::PermissionDenied, message: "no".into() });
    assert_eq!(doc_state(&delivered(&actions)[0].1), (Some("server"), true, false), "back to the server's state");
    assert!(matches!(actions.last(), Some(A::Settle { result: Err(_), .. })));
}

#[test]
fn a_write_to_a_collections_document_shows_in_the_collection_with_indexes() {
    let mut c = open_core();
    let (_, actions) = c.listen(&path("rooms"));
    let id = sub_id(&actions);
    c.received(Frame::Collection {
        id,
        version: 2,
        docs: vec![CollectionDoc::confirmed("a".into(), 1, "A"), CollectionDoc::confirmed("c".into(), 2, "C")],
    });
    let (w, actions) = c.write(&path("rooms/b"), WriteOp::Set("B"), "k".into());
    match &delivered(&actions)[0].1 {
        Snapshot::Collection { docs, changes, pending, .. } => {
            assert!(pending);
            assert_eq!(docs.iter().map(|d| d.id()).collect::<Vec<_>>(), ["a", "b", "c"]);
            assert_eq!((changes[0].kind, changes[0].new_index, changes[0].pending), (ChangeKind::Added, 1, true));
        }
        other => panic!("{other:?}"),
    }
    let echo = Frame::Changes { id, changes: vec![("b".into(), 3, Some("B"))] };
    assert!(delivered(&c.received(echo)).is_empty(), "held until the ack");
    match &delivered(&c.received(Frame::Ack { req: w, version: 3 }))[0].1 {
        Snapshot::Collection { docs, changes, pending, .. } => {
            assert!(!pending);
            assert_eq!(docs[1].version, 3);
            assert_eq!((changes[0].kind, changes[0].old_index, changes[0].pending), (ChangeKind::Modified, 1, false));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_update_merges_into_the_known_document_and_waits_for_the_server_when_unknown() {
    let mut c = open_core();
    let (w, actions) = c.write(&path("c/unknown"), WriteOp::Update("x"), "k".into());
    assert!(delivered(&actions).is_empty());
    let (_, actions) = c.listen(&path("c/unknown"));
    let id = sub_id(&actions);
    let first = delivered(&c.received(snapshot(id, 1, Some("base"))));
    assert_eq!(doc_state(&first[0].1), (Some("x"), true, true), "the first snapshot already shows the update");
    c.received(Frame::Ack { req: w, version: 2 });
}

fn welcome(heartbeat_ms: u64) -> F {
    Frame::Welcome { heartbeat_ms, epoch: None }
}

#[test]
fn a_server_silent_for_two_heartbeats_is_dropped_and_one_that_speaks_is_kept() {
    let mut c = core();
    c.listen(&path("rooms/r1"));
    assert_eq!(c.socket_opened(10_000.0), [A::ArmWatchdog(WATCHDOG_MS)]);
    opened(&mut c);
    c.received(welcome(1_000));
    c.heard(10_500.0);
    assert_eq!(c.watchdog_due(11_000.0), [A::ArmWatchdog(WATCHDOG_MS)]);
    assert_eq!(c.watchdog_due(12_500.0), [A::ArmWatchdog(WATCHDOG_MS)], "exactly two heartbeats is not yet silence");
    c.heard(12_400.0);
    assert_eq!(c.watchdog_due(14_000.0), [A::ArmWatchdog(WATCHDOG_MS)], "a frame restarts the count");
    assert_eq!(c.watchdog_due(14_401.0), [A::Reconnect]);
    // The shell drops the socket and reports it closed: the core reconnects with backoff.
    let actions = c.closed(0.5);
    assert_eq!(actions[0], A::Status(Status::Reconnecting));
    assert!(matches!(actions[1], A::ArmReconnect(_)));
}

#[test]
fn before_welcome_the_default_heartbeat_applies_and_a_late_timer_after_the_socket_is_gone_does_nothing() {
    let mut c = core();
    let (l, _) = c.listen(&path("rooms/r1"));
    c.socket_opened(0.0);
    c.opened();
    assert_eq!(c.watchdog_due(50_000.0), [A::ArmWatchdog(WATCHDOG_MS)]);
    assert_eq!(c.watchdog_due(50_001.0), [A::Reconnect]);
    c.unlisten(l);
    c.release_unused();
    c.linger_expired();
    assert_eq!(c.status(), Status::Idle);
    assert!(c.watchdog_due(200_000.0).is_empty(), "no socket, nothing to watch");
}

#[test]
fn a_socket_that_opens_while_the_client_is_idle_is_not_watched() {
    let mut c = core();
    assert!(c.socket_opened(0.0).is_empty());
    assert!(c.watchdog_due(100_000.0).is_empty());
}
