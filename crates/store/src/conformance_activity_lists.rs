//! Conformance: the activity log listed by kind and by name, across a log long enough that a
//! backend may keep these lists by block (SQLite does, 1,024 activities a block).

use herald_domain::{ActivityKind, WorkspaceId};

use super::{event, new_person, new_workspace};
use crate::{Activity, ActivityQuery, NewActivity, StoreHandle};

/// Activities appended per write job, so that the log spans blocks at a test's cost.
const PER_JOB: usize = 500;

fn append_all(store: &StoreHandle, activities: Vec<NewActivity>) {
    let mut activities = activities.into_iter().peekable();
    while activities.peek().is_some() {
        let job: Vec<NewActivity> = activities.by_ref().take(PER_JOB).collect();
        store
            .write_blocking(move |tx| {
                job.iter()
                    .try_for_each(|activity| tx.append_activity(activity).map(|_| ()))
            })
            .expect("store works")
            .expect("appended");
    }
}

/// Every page of a list, read `limit` at a time from the newest down.
fn pages(store: &StoreHandle, query: ActivityQuery) -> Vec<Vec<Activity>> {
    let mut pages = Vec::new();
    let mut before_seq = query.before_seq;
    loop {
        let page_query = ActivityQuery {
            before_seq,
            ..query.clone()
        };
        let page = store
            .read_blocking(move |r| r.activities(&page_query))
            .expect("read");
        let Some(last) = page.last() else {
            return pages;
        };
        assert!(page.len() <= query.limit, "a page holds at most its limit");
        before_seq = Some(last.seq);
        pages.push(page);
    }
}

fn list(ws: WorkspaceId, kind: Option<&str>, name: Option<&str>) -> ActivityQuery {
    ActivityQuery {
        workspace_id: ws,
        person_seq: None,
        kind: kind.map(str::to_owned),
        name: name.map(str::to_owned),
        before_seq: None,
        since: 0,
        limit: 2,
    }
}

pub fn lists_by_kind_and_name_find_every_match_across_a_long_log(store: &StoreHandle) {
    let ws = new_workspace(store, "lists");
    let other = new_workspace(store, "lists-other");
    let person = new_person(store, ws, "p", None);
    // 3,000 activities: mostly `common`, a `rare` event at the start, the middle and the end,
    // a few pages named `rare` too, and the other workspace's `rare` events in between.
    let mut activities = Vec::new();
    for index in 0..3_000_i64 {
        let (workspace, name) = match index {
            7 | 1_500 | 2_990 => (ws, "rare"),
            400 | 2_000 => (other, "rare"),
            _ => (ws, "common"),
        };
        let mut activity = event(
            workspace,
            Some(person).filter(|_| workspace == ws),
            name,
            100 + index,
        );
        if matches!(index, 1_200 | 2_500) {
            activity.kind = ActivityKind::Page;
            activity.name = Some("rare".into());
        }
        activities.push(activity);
    }
    append_all(store, activities);
    let timestamps = |pages: Vec<Vec<Activity>>| -> Vec<i64> {
        pages.into_iter().flatten().map(|a| a.timestamp).collect()
    };
    assert_eq!(
        timestamps(pages(store, list(ws, None, Some("rare")))),
        vec![100 + 2_990, 100 + 2_500, 100 + 1_500, 100 + 1_200, 100 + 7],
        "every activity named rare, newest first, and none of the other workspace's"
    );
    assert_eq!(
        timestamps(pages(store, list(ws, Some("event"), Some("rare")))),
        vec![100 + 2_990, 100 + 1_500, 100 + 7]
    );
    assert_eq!(
        timestamps(pages(store, list(ws, Some("page"), None))),
        vec![100 + 2_500, 100 + 1_200]
    );
    assert_eq!(
        timestamps(pages(store, list(other, None, Some("rare")))),
        vec![100 + 2_000, 100 + 400]
    );
    let events = pages(store, list(ws, Some("event"), None));
    assert_eq!(events.iter().map(Vec::len).sum::<usize>(), 3_000 - 4);
    let seqs: Vec<i64> = events.iter().flatten().map(|a| a.seq).collect();
    assert!(
        seqs.windows(2).all(|pair| pair[0] > pair[1]),
        "newest first, each once"
    );
    // A page may start anywhere: below the middle `rare` event, the list goes on from there.
    let middle = pages(store, list(ws, Some("event"), Some("rare")))[0][1].seq;
    let rest = ActivityQuery {
        before_seq: Some(middle),
        limit: 10,
        ..list(ws, None, Some("rare"))
    };
    assert_eq!(timestamps(pages(store, rest)), vec![100 + 1_200, 100 + 7]);
    // A name nobody used lists nothing.
    assert!(pages(store, list(ws, None, Some("never"))).is_empty());
}
