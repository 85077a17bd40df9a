//! A connection's socket, closed when its client stalls between requests or while sending a
//! request's headers.
//!
//! The connection is *idle* from its start and after each answer until a byte of the next
//! request arrives; it then reads a *head* until the request reaches a handler (its headers are
//! complete). An idle connection is closed after the keep-alive timeout, and one whose head
//! does not complete within the header timeout too; that bounds the TLS handshake as well,
//! since it happens before the first request's head. While a handler runs the socket has no
//! deadline of its own: the request body's deadline is the admission middleware's, and a
//! handler may take as long as its work takes. Writes that make no progress for the keep-alive
//! timeout end the connection too, so a client that never reads its answers cannot hold one.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// How long a connection may wait in each phase.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// From the first byte of a request until its headers are complete.
    pub header: Duration,
    /// Between requests (and before the first), with no byte arriving.
    pub idle: Duration,
}

/// What the connection's service tells its socket: requests in a handler now, and requests
/// answered so far.
#[derive(Debug, Default)]
pub struct Activity {
    busy: AtomicUsize,
    answered: AtomicU64,
    /// The task that found the socket without data while a handler ran. hyper may not read
    /// again until something wakes it, so the end of the request wakes it: the read that
    /// follows starts the idle deadline.
    parked: Mutex<Option<Waker>>,
}

impl Activity {
    /// Marks a request as handed to a handler; the guard marks it answered when dropped.
    pub fn begin(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::SeqCst);
        Busy(self.clone())
    }
}

/// A request in a handler.
#[derive(Debug)]
pub struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.answered.fetch_add(1, Ordering::SeqCst);
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
        let parked = self
            .0
            .parked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(waker) = parked {
            waker.wake();
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Head,
}

/// A socket with the deadlines above.
pub struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
    deadlines: Deadlines,
    phase: Phase,
    /// When the current phase began.
    since: Instant,
    /// The answers counted when the phase was last looked at: a new answer starts a new idle
    /// phase.
    answered: u64,
    read_timer: Pin<Box<Sleep>>,
    write_timer: Option<Pin<Box<Sleep>>>,
}

impl<S> Watched<S> {
    pub fn new(inner: S, activity: Arc<Activity>, deadlines: Deadlines) -> Self {
        let now = Instant::now();
        Self {
            inner,
            activity,
            deadlines,
            phase: Phase::Idle,
            since: now,
            answered: 0,
            read_timer: Box::pin(tokio::time::sleep_until(now + deadlines.idle)),
            write_timer: None,
        }
    }

    fn busy(&self) -> bool {
        self.activity.busy.load(Ordering::SeqCst) > 0
    }

    /// Starts a new idle phase if a request was answered since the last look.
    fn catch_up(&mut self) {
        let answered = self.activity.answered.load(Ordering::SeqCst);
        if answered != self.answered {
            self.answered = answered;
            self.phase = Phase::Idle;
            self.since = Instant::now();
        }
    }

    fn read_deadline(&self) -> Instant {
        match self.phase {
            Phase::Idle => self.since + self.deadlines.idle,
            Phase::Head => self.since + self.deadlines.header,
        }
    }
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what.to_owned())
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.catch_up();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before && this.phase == Phase::Idle && !this.busy() {
                    this.phase = Phase::Head;
                    this.since = Instant::now();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => {
                if this.busy() {
                    *this
                        .activity
                        .parked
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
                    // The request may have ended since `busy` was read: then nobody will use
                    // the waker just parked, so this read must not wait without a deadline.
                    if this.busy() {
                        return Poll::Pending;
                    }
                    this.catch_up();
                }
                let deadline = this.read_deadline();
                if this.read_timer.deadline() != deadline {
                    this.read_timer.as_mut().reset(deadline);
                }
                match this.read_timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(timed_out(match this.phase {
                        Phase::Idle => {
                            "the connection was idle for longer than the keep-alive timeout"
                        }
                        Phase::Head => {
                            "the request's headers did not arrive within the header timeout"
                        }
                    }))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> Watched<S> {
    /// Tracks a write that made no progress: it fails once it stalled for the idle deadline.
    fn stalled(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let deadline = self.deadlines.idle;
        let timer = self
            .write_timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(deadline)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(timed_out("the client stopped reading its answer")),
            Poll::Pending => Poll::Pending,
        }
    }

    fn progressed<T>(
        &mut self,
        result: Poll<io::Result<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<T>> {
        match result {
            Poll::Pending => match self.stalled(cx) {
                Poll::Ready(error) => Poll::Ready(Err(error)),
                Poll::Pending => Poll::Pending,
            },
            ready => {
                self.write_timer = None;
                ready
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, data);
        self.progressed(result, cx)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_flush(cx);
        self.progressed(result, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.progressed(result, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
