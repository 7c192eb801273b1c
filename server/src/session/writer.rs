//! The writing half of a connection: a task that owns the socket's sink, fed through a queue
//! bounded in bytes. The session's control loop only queues; it never waits for a client to
//! read, so its timeouts, the 1013 close and shutdown are always heard.
//!
//! - A queue past its byte bound means the client does not keep up: the session closes it.
//! - A write (a batch of queued frames, flushed) that takes longer than the write timeout
//!   means the client has stopped reading: the writer gives up and the connection is dropped.
//! - Queued bytes are counted per connection and across the server, so the sum is bounded too.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes};
// futures' channel allocates per queued frame; tokio's allocates 32 slots up front, which is
// 1.6 KB for each of 10,000 idle connections.
use futures_channel::mpsc;
use futures_util::{Sink, SinkExt, StreamExt};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Frames written in one go before a flush, at most.
const BATCH_BYTES: usize = 64 * 1024;

enum Command {
    Text(Utf8Bytes),
    /// The last frame: a close frame (or none), then the sink is closed.
    Close(Option<Message>),
}

/// Bytes waiting to be written, across every connection of the server.
#[derive(Default)]
pub struct QueuedBytes(AtomicUsize);

impl QueuedBytes {
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// Why a frame was not queued.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Full {
    /// This connection has too much waiting already: its client does not keep up.
    Connection,
    /// The server as a whole has too much waiting.
    Server,
}

/// The queue's side held by the session.
pub(super) struct Writer {
    commands: mpsc::UnboundedSender<Command>,
    queued: Arc<AtomicUsize>,
    global: Arc<QueuedBytes>,
    max_bytes: usize,
    global_max_bytes: usize,
    drained: Arc<Notify>,
    /// Cancelled when a write stalled or failed: the connection is gone.
    pub(super) broken: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Writer {
    /// Starts the writer task over `sink`.
    pub(super) fn spawn<S>(
        sink: S,
        max_bytes: usize,
        global: Arc<QueuedBytes>,
        global_max_bytes: usize,
        write_timeout: Duration,
    ) -> Writer
    where
        S: Sink<Message, Error = axum::Error> + Unpin + Send + 'static,
    {
        let (commands, receiver) = mpsc::unbounded();
        let queued = Arc::new(AtomicUsize::new(0));
        let drained = Arc::new(Notify::new());
        let broken = CancellationToken::new();
        let task = tokio::spawn(write_loop(
            sink,
            receiver,
            queued.clone(),
            global.clone(),
            drained.clone(),
            broken.clone(),
            write_timeout,
        ));
        Writer { commands, queued, global, max_bytes, global_max_bytes, drained, broken, task }
    }

    /// Queues a text frame, unless that would pass a bound.
    pub(super) fn send(&self, text: Utf8Bytes) -> Result<(), Full> {
        let len = text.len();
        if self.queued() + len > self.max_bytes {
            return Err(Full::Connection);
        }
        if self.global.get() + len > self.global_max_bytes {
            return Err(Full::Server);
        }
        self.queued.fetch_add(len, Ordering::Relaxed);
        self.global.0.fetch_add(len, Ordering::Relaxed);
        if self.commands.unbounded_send(Command::Text(text)).is_err() {
            // The writer has stopped (the connection broke): nothing will be written.
            self.release(len);
        }
        Ok(())
    }

    /// Bytes queued and not yet written.
    pub(super) fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Waits until at most `bytes` are queued.
    pub(super) async fn room(&self, bytes: usize) {
        loop {
            let drained = self.drained.notified();
            if self.queued() <= bytes || self.broken.is_cancelled() {
                return;
            }
            drained.await;
        }
    }

    fn release(&self, len: usize) {
        self.queued.fetch_sub(len, Ordering::Relaxed);
        self.global.0.fetch_sub(len, Ordering::Relaxed);
    }

    /// Writes what is queued, then `close` (if any), and ends the connection; gives up after
    /// `grace` (a client that does not read never gets its close frame).
    pub(super) async fn close(self, close: Option<Message>, grace: Duration) {
        let _ = self.commands.unbounded_send(Command::Close(close));
        let Writer { mut task, queued, global, .. } = self;
        if tokio::time::timeout(grace, &mut task).await.is_err() {
            task.abort();
            let _ = task.await;
        }
        // Whatever was never written is no longer waiting.
        let left = queued.swap(0, Ordering::Relaxed);
        global.0.fetch_sub(left, Ordering::Relaxed);
    }
}

async fn write_loop<S>(
    mut sink: S,
    mut commands: mpsc::UnboundedReceiver<Command>,
    queued: Arc<AtomicUsize>,
    global: Arc<QueuedBytes>,
    drained: Arc<Notify>,
    broken: CancellationToken,
    write_timeout: Duration,
) where
    S: Sink<Message, Error = axum::Error> + Unpin,
{
    let mut closing = None;
    while let Some(command) = commands.next().await {
        let mut batch = vec![];
        let mut bytes = 0;
        let mut next = Some(command);
        while let Some(command) = next.take() {
            match command {
                Command::Text(text) => {
                    bytes += text.len();
                    batch.push(Message::Text(text));
                    if bytes < BATCH_BYTES {
                        next = commands.try_recv().ok();
                    }
                }
                Command::Close(close) => closing = Some(close),
            }
        }
        let write = async {
            for message in batch {
                sink.feed(message).await?;
            }
            sink.flush().await
        };
        let written = tokio::time::timeout(write_timeout, write).await;
        queued.fetch_sub(bytes, Ordering::Relaxed);
        global.0.fetch_sub(bytes, Ordering::Relaxed);
        drained.notify_waiters();
        match written {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => {
                // Stalled past the timeout, or the connection failed: nothing more can be sent.
                broken.cancel();
                drained.notify_waiters();
                return;
            }
        }
        if let Some(close) = closing.take() {
            if let Some(close) = close {
                let _ = tokio::time::timeout(write_timeout, sink.send(close)).await;
            }
            // Also flushes a reply owed to the client's own close frame.
            let _ = tokio::time::timeout(write_timeout, sink.close()).await;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::channel::mpsc as chan;
    use futures::StreamExt;

    fn writer(max_bytes: usize, timeout: Duration) -> (Writer, chan::Receiver<Message>, Arc<QueuedBytes>) {
        // A sink with room for four frames: past that, writes wait until something is read.
        let (sink, written) = chan::channel::<Message>(4);
        let global = Arc::new(QueuedBytes::default());
        let sink = sink.sink_map_err(axum::Error::new);
        (Writer::spawn(sink, max_bytes, global.clone(), 1 << 20, timeout), written, global)
    }

    #[tokio::test]
    async fn frames_are_written_in_order_and_the_count_goes_back_to_zero() {
        let (writer, mut written, global) = writer(1024, Duration::from_secs(5));
        for n in 0..3 {
            writer.send(format!("frame {n}").into()).expect("room");
        }
        for n in 0..3 {
            assert_eq!(written.next().await, Some(Message::Text(format!("frame {n}").into())));
        }
        writer.room(0).await;
        assert_eq!((writer.queued(), global.get()), (0, 0));
    }

    #[tokio::test]
    async fn a_client_that_does_not_read_fills_the_queue_then_breaks_the_writer() {
        let (writer, written, global) = writer(100, Duration::from_millis(200));
        let mut refused = None;
        for n in 0..50 {
            if let Err(full) = writer.send(format!("frame {n:03}").into()) {
                refused = Some(full);
                break;
            }
        }
        assert_eq!(refused, Some(Full::Connection), "the queue is bounded in bytes");
        tokio::time::timeout(Duration::from_secs(2), writer.broken.cancelled())
            .await
            .expect("the stalled write gives up");
        writer.close(None, Duration::from_millis(100)).await;
        assert_eq!(global.get(), 0, "nothing is counted as waiting any more");
        drop(written);
    }

    #[tokio::test]
    async fn the_server_wide_bound_holds_across_connections() {
        let global = Arc::new(QueuedBytes::default());
        let (sink_a, _a) = chan::channel::<Message>(0);
        let (sink_b, _b) = chan::channel::<Message>(0);
        let spawn = |sink: chan::Sender<Message>| {
            Writer::spawn(
                sink.sink_map_err(axum::Error::new),
                1000,
                global.clone(),
                30,
                Duration::from_secs(5),
            )
        };
        let (a, b) = (spawn(sink_a), spawn(sink_b));
        a.send("0123456789".into()).expect("room");
        a.send("0123456789".into()).expect("room");
        assert_eq!(b.send("0123456789ab".into()), Err(Full::Server));
    }

    #[tokio::test]
    async fn close_writes_the_queue_then_the_close_frame() {
        let (writer, mut written, _) = writer(1024, Duration::from_secs(5));
        writer.send("last words".into()).expect("room");
        let reader = tokio::spawn(async move {
            let mut frames = vec![];
            while let Some(frame) = written.next().await {
                frames.push(frame);
            }
            frames
        });
        writer.close(Some(Message::Close(None)), Duration::from_secs(1)).await;
        assert_eq!(
            reader.await.expect("reader"),
            vec![Message::Text("last words".into()), Message::Close(None)]
        );
    }
}
