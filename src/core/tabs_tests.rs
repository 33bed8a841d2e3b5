//! Other tabs' writes, as the shared tabs' leader tells of them (`pending`, then `settled`).

use super::tests::{A, delivered, doc_state, opened, path, sends, showing_server, snapshot};
use super::*;

fn pending(path: &str, data: &'static str, key: &str) -> Frame<&'static str> {
    Frame::Pending(StoredWrite { path: path.into(), op: WriteOp::Set(data), key: key.into() })
}

#[test]
fn another_tabs_write_shows_at_once_as_pending_and_is_confirmed_in_one_callback_once_settled() {
    let (mut c, a, id) = showing_server();
    let shown = delivered(&c.received(pending("c/d", "theirs", "k1")));
    assert_eq!(shown[0].0, [a]);
    assert_eq!(doc_state(&shown[0].1), (Some("theirs"), true, true), "their write, hasPendingWrites");
    assert_eq!(c.pending_write_count(), 0, "not this client's to send or to count");
    assert!(delivered(&c.received(snapshot(id, 4, Some("theirs")))).is_empty(), "held until settled");
    let confirmed = delivered(&c.received(Frame::Settled { key: "k1".into() }));
    assert_eq!(doc_state(&confirmed[0].1), (Some("theirs"), true, false));
    assert!(delivered(&c.received(Frame::Settled { key: "k1".into() })).is_empty(), "settled once");
}

#[test]
fn another_tabs_write_told_twice_counts_once_and_a_rejected_one_rolls_back() {
    let (mut c, _, _) = showing_server();
    c.received(pending("c/d", "theirs", "k1"));
    assert!(delivered(&c.received(pending("c/d", "theirs", "k1"))).is_empty());
    let back = delivered(&c.received(Frame::Settled { key: "k1".into() }));
    assert_eq!(doc_state(&back[0].1), (Some("server"), true, false), "no server state came: back to the last");
}

#[test]
fn other_tabs_writes_are_forgotten_with_the_socket_and_never_sent() {
    let (mut c, _, _) = showing_server();
    c.received(pending("c/d", "theirs", "k1"));
    let (_, actions) = c.write(&path("c/e"), WriteOp::Set("mine"), "k2".into());
    assert_eq!(sends(&actions).len(), 1);
    let actions = c.closed(0.0);
    let back = delivered(&actions);
    assert_eq!(doc_state(&back[0].1), (Some("server"), true, false), "their write goes with the socket");
    c.reconnect_due();
    let sent = sends(&opened(&mut c));
    assert!(
        sent.iter().all(|m| !matches!(m, ClientMessage::Set { key: Some(k), .. } if k == "k1")),
        "only this client's writes go again: {sent:?}"
    );
    assert!(sent.iter().any(|m| matches!(m, ClientMessage::Set { key: Some(k), .. } if k == "k2")));
}

#[test]
fn another_tabs_write_before_this_socket_is_ready_is_ignored() {
    let mut c = core_listening();
    assert!(c.received(pending("c/d", "theirs", "k1")).is_empty());
    let _: Vec<A> = opened(&mut c);
    assert!(c.received(Frame::Settled { key: "k1".into() }).is_empty());
}

fn core_listening() -> Core<&'static str> {
    let mut c = Core::new(CoreOptions::default());
    let _ = c.listen(&path("c/d"));
    c
}

/// The keys of the writes told to the other tabs among `actions` ([`Action::Tell`]).
fn told(actions: &[A]) -> Vec<String> {
    let key = |m: &ClientMessage<&'static str>| match m {
        ClientMessage::Set { key, .. } | ClientMessage::Update { key, .. } | ClientMessage::Delete { key, .. } => {
            key.clone().unwrap_or_default()
        }
        other => panic!("only writes are told: {other:?}"),
    };
    actions.iter().filter_map(|a| if let A::Tell(m) = a { Some(key(m)) } else { None }).collect()
}

fn keys(messages: &[ClientMessage<&'static str>]) -> Vec<String> {
    let mut keys = Vec::new();
    for m in messages {
        if let ClientMessage::Set { key: Some(k), .. } | ClientMessage::Delete { key: Some(k), .. } = m {
            keys.push(k.clone());
        }
    }
    keys
}

#[test]
fn a_write_waiting_to_be_stored_is_told_to_the_other_tabs_at_once_and_once_per_connection() {
    let mut c = Core::new(CoreOptions { persistent: true, ..CoreOptions::default() });
    c.cache_opened(Vec::new());
    c.listen(&path("c/d"));
    c.cache_read("c/d", None, None);
    opened(&mut c);
    let (_, actions) = c.write(&path("c/d"), WriteOp::Set("mine"), "k1".into());
    assert_eq!(told(&actions), ["k1"], "the other tabs show it without waiting for the storage");
    assert!(sends(&actions).is_empty(), "it goes to the server only once stored");
    assert_eq!(doc_state(&delivered(&actions)[0].1), (Some("mine"), true, true), "and this tab shows it at once");
    let (_, actions) = c.write(&path("c/e"), WriteOp::Delete, "k2".into());
    assert_eq!(told(&actions), ["k2"], "each write once");
    let actions = c.write_stored("k1");
    assert_eq!(keys(&sends(&actions)), ["k1"]);
    assert!(told(&actions).is_empty(), "a write that goes is not told again");
    // On the next connection, what still waits is told again, and the stored one goes again.
    c.closed(0.0);
    c.reconnect_due();
    let actions = opened(&mut c);
    assert_eq!(told(&actions), ["k2"]);
    assert_eq!(keys(&sends(&actions)), ["k1"]);
}

#[test]
fn without_persistence_a_write_goes_at_once_and_nothing_is_told_ahead_of_it() {
    let (mut c, _, _) = showing_server();
    let (_, actions) = c.write(&path("c/d"), WriteOp::Set("mine"), "k1".into());
    assert_eq!(keys(&sends(&actions)), ["k1"]);
    assert!(told(&actions).is_empty(), "the leader tells the other tabs of the frame itself");
}
