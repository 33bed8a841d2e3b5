//! [`Outbox`]: a connection's outbound queue, bounded for snapshots.
//!
//! A reader that falls behind must neither grow the server's memory without bound nor be dropped (the
//! axum chat example's answer) nor miss the final state. So a document snapshot replaces, in place, a
//! snapshot of the same subscription still waiting: the reader skips versions it had no time to see
//! and still gets the latest, and a connection holds at most one waiting snapshot per subscription.
//! Collection deltas cannot replace each other; once the queue holds `capacity` frames or `max_bytes`
//! bytes, a collection's waiting deltas become one full listing. Other frames (acks, errors) are small
//! and answer the connection's own requests.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, MutexGuard},
};

use tokio::sync::Notify;

use crate::metrics::{Metrics, inc};

/// A close frame to send once the queue has drained: code and reason.
pub type CloseReason = (u16, String);

/// What the writer does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Send this text frame.
    Frame(String),
    /// Send a close frame (or none) and stop.
    Close(Option<CloseReason>),
}

/// A connection's queue of frames waiting to be written. One consumer (the connection's writer task),
/// any number of producers (the hub publishing writes, the connection answering requests).
#[derive(Debug)]
pub struct Outbox {
    /// The frames and the close request; a std mutex, never held across an await.
    state: Mutex<State>,
    /// Wakes the writer when a frame or the close request arrives.
    ready: Notify,
    /// Frames past which snapshots coalesce.
    capacity: usize,
    /// Queued bytes past which snapshots coalesce, however few the frames.
    max_bytes: usize,
    /// Where coalescing is counted (`queue_overflows`).
    metrics: Arc<Metrics>,
}

#[derive(Debug, Default)]
struct State {
    /// Frames in send order; `sub` marks a document snapshot that a newer one may replace.
    queue: VecDeque<(Option<u64>, String)>,
    /// Set by [`Outbox::close`]; the writer sends it after the queue drains.
    close: Option<Option<CloseReason>>,
    /// Waiting frames superseded because the reader was behind: snapshots replaced in place, and
    /// collection deltas folded into a full listing (each also counted in `queue_overflows`).
    coalesced: u64,
    /// The total length of the queued frames.
    bytes: usize,
}

impl State {
    fn remove_sub(&mut self, sub: u64) -> u64 {
        let before = self.queue.len();
        let mut freed = 0;
        self.queue.retain(|(s, frame)| {
            let keep = *s != Some(sub);
            if !keep {
                freed += frame.len();
            }
            keep
        });
        self.bytes -= freed;
        (before - self.queue.len()) as u64
    }
}

impl Outbox {
    /// An empty outbox that coalesces past `capacity` frames or `max_bytes` bytes.
    pub fn new(capacity: usize, max_bytes: usize, metrics: Arc<Metrics>) -> Self {
        let state = Mutex::new(State::default());
        Self { state, ready: Notify::new(), capacity: capacity.max(1), max_bytes, metrics }
    }

    /// Whether the queue holds `capacity` frames or `max_bytes` bytes: its reader is behind.
    pub fn is_full(&self) -> bool {
        self.full(&self.state())
    }

    fn full(&self, state: &State) -> bool {
        state.queue.len() >= self.capacity || state.bytes >= self.max_bytes
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a frame that must not be dropped (welcome, ack, error, pong).
    pub fn push(&self, frame: String) {
        let mut state = self.state();
        if state.close.is_some() {
            return;
        }
        state.bytes += frame.len();
        state.queue.push_back((None, frame));
        drop(state);
        self.ready.notify_one();
    }

    /// Queues the latest document snapshot for subscription `sub`. A snapshot of the same subscription
    /// still waiting is replaced in place: it is stale already, and a reader that fell behind skips to
    /// the latest state (at its older place, so it still precedes the acks queued after it).
    pub fn push_snapshot(&self, sub: u64, frame: String) {
        let mut state = self.state();
        if state.close.is_some() {
            return;
        }
        {
            let state = &mut *state;
            if let Some(waiting) = state.queue.iter_mut().find(|(s, _)| *s == Some(sub)) {
                state.bytes = state.bytes - waiting.1.len() + frame.len();
                waiting.1 = frame;
                state.coalesced += 1;
                inc(&self.metrics.queue_overflows);
                return;
            }
        }
        state.bytes += frame.len();
        state.queue.push_back((Some(sub), frame));
        drop(state);
        self.ready.notify_one();
    }

    /// Queues a collection delta for subscription `sub`. Deltas cannot replace each other, so past
    /// capacity, when `sub` already has frames waiting, they are all replaced by one full listing from
    /// `full` (the subscriber's view catches up in one step; nothing is lost).
    pub fn push_delta(&self, sub: u64, frame: String, full: impl FnOnce() -> Option<String>) {
        let mut state = self.state();
        if state.close.is_some() {
            return;
        }
        let mut frame = frame;
        if self.full(&state) && state.queue.iter().any(|(s, _)| *s == Some(sub)) {
            if let Some(listing) = full() {
                let replaced = state.remove_sub(sub);
                state.coalesced += replaced;
                self.metrics.queue_overflows.fetch_add(replaced, std::sync::atomic::Ordering::Relaxed);
                frame = listing;
            }
        }
        state.bytes += frame.len();
        state.queue.push_back((Some(sub), frame));
        drop(state);
        self.ready.notify_one();
    }

    /// Drops the waiting snapshots of a subscription that just ended.
    pub fn forget(&self, sub: u64) {
        self.state().remove_sub(sub);
    }

    /// Asks the writer to send `reason` (or no close frame) once the queue is drained, and stop. Later
    /// pushes are ignored; the first close wins.
    pub fn close(&self, reason: Option<CloseReason>) {
        let mut state = self.state();
        if state.close.is_none() {
            state.close = Some(reason);
        }
        drop(state);
        self.ready.notify_one();
    }

    /// How many waiting frames were superseded by newer state because the reader was behind.
    pub fn coalesced(&self) -> u64 {
        self.state().coalesced
    }

    /// Moves every frame still queued into `into`, in order (what the writer sends along with the
    /// frame [`Outbox::next`] gave it, in one write to the socket).
    pub fn take_queued(&self, into: &mut Vec<String>) {
        let mut state = self.state();
        state.bytes = 0;
        into.extend(state.queue.drain(..).map(|(_, frame)| frame));
    }

    /// Waits for the next thing to write. Cancel-safe: a frame is taken only in the poll that returns it.
    pub async fn next(&self) -> Next {
        loop {
            {
                let mut state = self.state();
                if let Some((_, frame)) = state.queue.pop_front() {
                    state.bytes -= frame.len();
                    return Next::Frame(frame);
                }
                if let Some(reason) = state.close.take() {
                    state.close = Some(None); // stay closed
                    return Next::Close(reason);
                }
            }
            self.ready.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbox(capacity: usize) -> Outbox {
        Outbox::new(capacity, usize::MAX, Arc::default())
    }

    #[tokio::test]
    async fn past_the_byte_budget_collection_deltas_collapse_however_few_the_frames() {
        let outbox = Outbox::new(1000, 10, Arc::default());
        outbox.push_delta(1, "0123456789".into(), || Some("full".into()));
        outbox.push_delta(1, "abcdefghij".into(), || Some("full2".into()));
        outbox.push_delta(2, "x".into(), || Some("full3".into()));
        assert_eq!(drain(&outbox).await, ["full2", "x"]);
        assert_eq!(outbox.state().bytes, 0);
    }

    async fn drain(outbox: &Outbox) -> Vec<String> {
        outbox.close(None);
        let mut frames = Vec::new();
        while let Next::Frame(f) = outbox.next().await {
            frames.push(f);
        }
        frames
    }

    #[tokio::test]
    async fn a_waiting_snapshot_is_replaced_by_the_newer_one_of_its_subscription() {
        let outbox = outbox(100);
        outbox.push_snapshot(1, "s1v1".into());
        outbox.push_snapshot(2, "s2v1".into());
        outbox.push_snapshot(1, "s1v2".into());
        outbox.push_snapshot(1, "s1v3".into());
        outbox.push_snapshot(2, "s2v2".into());
        assert_eq!(drain(&outbox).await, ["s1v3", "s2v2"]);
        assert_eq!(outbox.coalesced(), 3);
        outbox.push_snapshot(1, "after".into());
        assert_eq!(outbox.next().await, Next::Close(None), "closed outboxes take nothing");
    }

    #[tokio::test]
    async fn frames_that_must_arrive_are_never_coalesced() {
        let outbox = outbox(1);
        outbox.push_snapshot(1, "s1v1".into());
        outbox.push("ack1".into());
        outbox.push_snapshot(1, "s1v2".into());
        outbox.push("ack2".into());
        // The newer snapshot takes the older one's place, so it still precedes the ack its write caused.
        assert_eq!(drain(&outbox).await, ["s1v2", "ack1", "ack2"]);
    }

    #[tokio::test]
    async fn a_subscription_that_ends_loses_its_waiting_snapshots() {
        let outbox = outbox(8);
        outbox.push_snapshot(1, "s1".into());
        outbox.push_snapshot(2, "s2".into());
        outbox.forget(1);
        assert_eq!(drain(&outbox).await, ["s2"]);
    }

    #[tokio::test]
    async fn past_capacity_a_collections_waiting_deltas_become_one_full_listing() {
        let outbox = outbox(2);
        outbox.push_delta(7, "d1".into(), || Some("full1".into()));
        outbox.push("ack".into());
        outbox.push_delta(7, "d2".into(), || Some("full2".into()));
        outbox.push_delta(7, "d3".into(), || Some("full3".into()));
        outbox.push_delta(8, "other".into(), || Some("full-other".into()));
        assert_eq!(drain(&outbox).await, ["ack", "full3", "other"]);
        assert_eq!(outbox.metrics.queue_overflows.load(std::sync::atomic::Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn close_is_sent_after_the_queue_drains_and_later_pushes_are_ignored() {
        let outbox = outbox(8);
        outbox.push("a".into());
        outbox.close(Some((1001, "bye".into())));
        outbox.push("b".into());
        assert_eq!(outbox.next().await, Next::Frame("a".into()));
        assert_eq!(outbox.next().await, Next::Close(Some((1001, "bye".into()))));
        assert_eq!(outbox.next().await, Next::Close(None));
    }
}
