//! The node's listening connection: `LISTEN livepath` on a connection of its own, and a wake-up of the
//! engine for every notification, after every (re)connection (notifications sent while it was away are
//! lost, so what they announced must be looked for) and now and then anyway. A notification is only a
//! hint: the engine reads the log for what actually changed.

use std::time::Duration;

use futures_util::{StreamExt, stream};
use tokio_postgres::AsyncMessage;

use super::tls::Tls;
use crate::store::Wake;

/// The channel every committing write notifies.
pub const CHANNEL: &str = "livepath";

/// The longest wait between attempts to reconnect.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How long a listening connection must last for the backoff to start over.
const STABLE: Duration = Duration::from_secs(10);

/// How often the task checks that the engine is still there while nothing is notified.
const ALIVE_CHECK: Duration = Duration::from_secs(5);

/// Runs until the engine is gone (`wake` answers false).
pub async fn listen((mut config, tls): (tokio_postgres::Config, Tls), wake: Wake) {
    config.application_name("livepath-server listen");
    let mut backoff = Duration::from_millis(100);
    loop {
        match config.connect(tls.clone()).await {
            Ok((client, mut connection)) => {
                let (tx, mut notified) = tokio::sync::mpsc::unbounded_channel();
                // The connection delivers notifications as it is polled: poll it in a task of its own.
                let driver = tokio::spawn(async move {
                    let mut messages = stream::poll_fn(move |cx| connection.poll_message(cx));
                    while let Some(message) = messages.next().await {
                        match message {
                            Ok(AsyncMessage::Notification(n)) => {
                                if tx.send(n.payload().parse::<u64>().ok()).is_err() {
                                    return;
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(
                                    "the PostgreSQL listening connection failed: {}",
                                    super::session::describe(&e)
                                );
                                return;
                            }
                        }
                    }
                });
                if let Err(e) = client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                    tracing::warn!("LISTEN failed: {}", super::session::describe(&e));
                } else {
                    let listening = std::time::Instant::now();
                    // Whatever was notified while no one listened.
                    if !wake(None) {
                        return;
                    }
                    loop {
                        tokio::select! {
                            got = notified.recv() => match got {
                                Some(version) => if !wake(version) { return },
                                None => break, // the connection ended
                            },
                            () = tokio::time::sleep(ALIVE_CHECK) => if !wake(None) { return },
                        }
                    }
                    // A connection that held a while starts the backoff over; one cut again and again
                    // (a flapping network) keeps it growing.
                    if listening.elapsed() > STABLE {
                        backoff = Duration::from_millis(100);
                    }
                }
                drop(client);
                driver.abort();
            }
            Err(e) => tracing::debug!("connecting to PostgreSQL to listen: {}", super::session::describe(&e)),
        }
        if !wake(None) {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
