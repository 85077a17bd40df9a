//! Waiting for an answer that is expected within microseconds, without parking.

use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// Waits for `receiver`'s value by polling it for up to `budget`, then by parking as `.await`
/// does. A parked tokio worker takes tens of microseconds to wake on a virtual machine, as long
/// as a whole preview's engine work at a million people: for the few interactive reads whose
/// answer comes that soon (a segment builder's live count), polling it back is most of the
/// gain. The budget bounds the CPU spent; use it only where callers are few.
pub async fn answer_soon<T>(
    mut receiver: oneshot::Receiver<T>,
    budget: Duration,
) -> Result<T, oneshot::error::RecvError> {
    let started = Instant::now();
    loop {
        match receiver.try_recv() {
            Ok(value) => return Ok(value),
            Err(oneshot::error::TryRecvError::Closed) => break,
            Err(oneshot::error::TryRecvError::Empty) if started.elapsed() < budget => {
                std::hint::spin_loop();
            }
            Err(oneshot::error::TryRecvError::Empty) => break,
        }
    }
    receiver.await
}
