//! Waiting for an answer that is expected within microseconds, without parking.

use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// Waits for `receiver`'s value (`None` when its sender was dropped) by polling it for up to `budget`, then by parking as `.await`
/// does. A parked tokio worker takes tens of microseconds to wake on a virtual machine, as long
/// as a whole preview's engine work at a million people: for the few interactive reads whose
/// answer comes that soon (a segment builder's live count), polling it back is most of the
/// gain. The budget bounds the CPU spent; use it only where callers are few.
pub async fn answer_soon<T>(mut receiver: oneshot::Receiver<T>, budget: Duration) -> Option<T> {
    let started = Instant::now();
    loop {
        match receiver.try_recv() {
            Ok(value) => return Some(value),
            // A closed receiver must not be awaited after `try_recv` saw it closed.
            Err(oneshot::error::TryRecvError::Closed) => return None,
            Err(oneshot::error::TryRecvError::Empty) if started.elapsed() < budget => {
                std::hint::spin_loop();
            }
            Err(oneshot::error::TryRecvError::Empty) => return receiver.await.ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime")
            .block_on(future)
    }

    #[test]
    fn an_answer_in_time_an_answer_after_the_budget_and_none_all_arrive() {
        let (sender, receiver) = oneshot::channel();
        sender.send(1).expect("sent");
        assert_eq!(
            block_on(answer_soon(receiver, Duration::from_millis(1))),
            Some(1)
        );

        // Sent by another thread after the budget is spent: the wait parks and still gets it.
        let (sender, receiver) = oneshot::channel();
        let late = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            sender.send(2).expect("sent");
        });
        assert_eq!(
            block_on(answer_soon(receiver, Duration::from_micros(50))),
            Some(2)
        );
        late.join().expect("the sender ran");

        let (sender, receiver) = oneshot::channel::<i32>();
        drop(sender);
        assert!(block_on(answer_soon(receiver, Duration::from_millis(1))).is_none());
    }
}
