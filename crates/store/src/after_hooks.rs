//! What a commit's hooks put off until every hook of the transaction has run.
//!
//! The writer calls each job's `on_commit` in commit order, one after another, on its own
//! thread. A hook that hands work to another thread (the segment engine's inputs) would wake
//! that thread once per job; on two cores the woken thread took the writer's core each time
//! and gave it back, tens of thousands of times a second under single-event requests. A hook
//! instead gathers its work and [`defer`]s one hand-over, which runs once the transaction's
//! last hook has. Whatever must stay ordered after that hand-over (a caller's reply, after
//! which the caller may ask the engine about its write) is deferred too, so it keeps its
//! place: deferred work runs in the order it was deferred.

use std::cell::RefCell;

type Deferred = Box<dyn FnOnce()>;

thread_local! {
    /// The work deferred by the hooks of the transaction whose hooks run on this thread, or
    /// `None` outside the writer's hooks.
    static DEFERRED: RefCell<Option<Vec<Deferred>>> = const { RefCell::new(None) };
}

/// Runs `work` once every hook of the current transaction has run, after the work deferred
/// before it; outside a writer's hooks (a test calling a hook itself), runs it now.
pub fn defer(work: impl FnOnce() + 'static) {
    let work: Deferred = Box::new(work);
    let left = DEFERRED.with(|deferred| match deferred.borrow_mut().as_mut() {
        Some(queue) => {
            queue.push(work);
            None
        }
        None => Some(work),
    });
    if let Some(work) = left {
        work();
    }
}

/// Runs `commit` (which calls the transaction's hooks), then what they deferred, in order. The
/// writer ([`crate::group_commit`]) runs each transaction this way; a test of a hook stands in
/// for it with this.
pub fn run<R>(commit: impl FnOnce() -> R) -> R {
    let outer = DEFERRED.with(|deferred| deferred.borrow_mut().replace(Vec::new()));
    let result = commit();
    let queue = DEFERRED.with(|deferred| std::mem::replace(&mut *deferred.borrow_mut(), outer));
    // The queue is taken out first, so that work which defers more (it should not) runs it
    // at once instead of finding the queue borrowed.
    for work in queue.unwrap_or_default() {
        work();
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    #[test]
    fn deferred_work_runs_after_the_commit_in_the_order_it_was_deferred() {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let log = |what: &'static str| {
            let seen = seen.clone();
            move || seen.borrow_mut().push(what)
        };
        run(|| {
            defer(log("first deferred"));
            seen.borrow_mut().push("hook");
            defer(log("second deferred"));
            seen.borrow_mut().push("last hook");
        });
        assert_eq!(
            *seen.borrow(),
            ["hook", "last hook", "first deferred", "second deferred"]
        );
    }

    #[test]
    fn outside_a_commit_deferred_work_runs_at_once() {
        let ran = Rc::new(RefCell::new(false));
        let flag = ran.clone();
        defer(move || *flag.borrow_mut() = true);
        assert!(*ran.borrow());
        // A commit that ended leaves nothing behind for the next call.
        run(|| {});
        let after = Rc::new(RefCell::new(false));
        let flag = after.clone();
        defer(move || *flag.borrow_mut() = true);
        assert!(*after.borrow());
    }
}
