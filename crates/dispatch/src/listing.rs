//! Where the dispatcher's next look at the queue of due runs starts.
//!
//! A look at the whole queue leaves out the runs in flight, which under load are hundreds: the
//! database reads past each of them, and builds the list to leave out, at every look, and looks
//! come every few milliseconds. So the dispatcher goes on after the last run it listed, which
//! reads only runs not listed yet: new triggers and runs that became due since all come later
//! in the queue's order (due time, then id). What it would miss are runs that came due behind
//! that point: a run whose trigger read the clock a second before another's but reached the
//! writer after it (a larger id with an earlier second), a run whose step failed on a store
//! error, one another node let go, one of a campaign resumed.
//! Those come in the next look at the whole queue, which is taken once a look from the last run
//! finds nothing, and at least every [`RELIST`]: under a load that never lets the dispatcher
//! find nothing, such a run can wait up to that long (docs/benchmarks.md, "a look that finds
//! nothing keeps its place", tried and not kept for this reason).

use std::time::{Duration, Instant};

use herald_store::DueRun;

/// How long the dispatcher goes on from its last listing before it looks at the whole queue
/// again.
pub(crate) const RELIST: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// The last run listed, when the next look goes on after it.
    last: Option<DueRun>,
    /// When the last look at the whole queue was taken.
    whole_at: Option<Instant>,
}

impl Listing {
    /// Where the look taken `now` starts: after a run, or at the head of the queue (`None`).
    pub(crate) fn next(&mut self, now: Instant) -> Option<DueRun> {
        let recent = self
            .whole_at
            .is_some_and(|at| now.saturating_duration_since(at) < RELIST);
        if !recent {
            self.last = None;
        }
        if self.last.is_none() {
            self.whole_at = Some(now);
        }
        self.last
    }

    /// Notes what a look found: the next one goes on after its last run or, when it found
    /// none, looks at the whole queue.
    pub(crate) fn listed(&mut self, due: &[DueRun]) {
        self.last = due.last().copied();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_domain::{CampaignId, RunId};

    fn run(id: i64, due_at: i64) -> DueRun {
        DueRun {
            id: RunId::new(id),
            campaign_id: CampaignId::new(1),
            step: 0,
            due_at,
        }
    }

    #[test]
    fn a_look_goes_on_after_the_last_run_it_found() {
        let start = Instant::now();
        let mut listing = Listing::default();
        assert_eq!(
            listing.next(start),
            None,
            "the first look takes the whole queue"
        );
        listing.listed(&[run(1, 10), run(2, 10), run(7, 11)]);
        assert_eq!(listing.next(start), Some(run(7, 11)));
        listing.listed(&[run(8, 12)]);
        assert_eq!(listing.next(start + RELIST / 2), Some(run(8, 12)));
    }

    #[test]
    fn a_look_that_finds_nothing_sends_the_next_to_the_head_of_the_queue() {
        let start = Instant::now();
        let mut listing = Listing::default();
        listing.next(start);
        listing.listed(&[run(1, 10)]);
        assert_eq!(listing.next(start), Some(run(1, 10)));
        listing.listed(&[]);
        assert_eq!(listing.next(start), None);
        // An empty queue is looked at whole each time.
        listing.listed(&[]);
        assert_eq!(listing.next(start), None);
    }

    #[test]
    fn the_whole_queue_is_looked_at_again_after_a_while_however_busy() {
        let start = Instant::now();
        let mut listing = Listing::default();
        listing.next(start);
        listing.listed(&[run(1, 10)]);
        assert_eq!(
            listing.next(start + RELIST - Duration::from_millis(1)),
            Some(run(1, 10))
        );
        listing.listed(&[run(2, 10)]);
        assert_eq!(listing.next(start + RELIST), None, "a whole look is due");
        listing.listed(&[run(3, 10)]);
        // The while counts from that whole look.
        assert_eq!(listing.next(start + RELIST + RELIST / 2), Some(run(3, 10)));
        listing.listed(&[run(4, 10)]);
        assert_eq!(listing.next(start + RELIST * 2), None);
    }
}
