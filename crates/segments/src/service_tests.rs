//! The segment service calls on a real SQLite store, the real ingest path and a running engine
//! thread: the checks the App API and the web UI share, and their typed answers.

use std::sync::Arc;

use herald_domain::{Clock, Identifier, ManualClock, PersonSeq, WorkspaceId};
use herald_ingest::Ingest;

use serde_json::{Value, json};

use crate::{SegmentDraft, SegmentEdit, Segments, SegmentsError};

pub(crate) const NOW: i64 = 1_800_000_000;

pub(crate) struct Setup {
    pub(crate) runtime: tokio::runtime::Runtime,
    pub(crate) segments: Segments,
    ingest: Ingest,
    pub(crate) workspace: WorkspaceId,
    _dir: tempfile::TempDir,
}

pub(crate) fn setup() -> Setup {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    // The same real store and workspace as the load's tests.
    let (store, dir) = crate::loading_tests::store();
    let workspace = crate::loading_tests::workspace(&store);
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(NOW));
    let segments = Segments::start(store.clone(), clock.clone(), None, None).expect("started");
    let feed = segments.feed();
    let ingest = Ingest::new(store, clock).with_feed(Arc::new(
        move |committed: herald_ingest::Committed| {
            feed(committed.workspace_id, committed.inputs, committed.position);
        },
    ));
    Setup {
        runtime,
        segments,
        ingest,
        workspace,
        _dir: dir,
    }
}

impl Setup {
    pub(crate) fn track(&self, items: &[Value]) {
        crate::loading_tests::submit(&self.ingest, &self.runtime, self.workspace, items);
    }

    pub(crate) fn create(
        &self,
        definition: Option<Value>,
    ) -> Result<herald_store::SegmentRow, SegmentsError> {
        let draft = SegmentDraft {
            name: " Buyers ".into(),
            description: String::new(),
            definition,
        };
        self.runtime
            .block_on(self.segments.create(self.workspace, draft))
    }
}

impl Setup {
    /// A person's internal number by id.
    fn seq(&self, id: &str) -> PersonSeq {
        let identifier = Identifier::Id(id.to_owned());
        let workspace = self.workspace;
        self.runtime
            .block_on(
                self.segments
                    .store
                    .read(move |r| r.person(workspace, &identifier)),
            )
            .expect("read")
            .expect("the person exists")
            .seq
    }
}

fn purchase(id: &str, at: i64) -> Value {
    json!({"type": "person", "identifiers": {"id": id}, "action": "event", "name": "purchase", "timestamp": at})
}

#[test]
fn definitions_are_checked_before_anything_is_saved() {
    let s = setup();
    let bad = s.create(Some(json!({"event": {"count": 2}})));
    assert!(
        matches!(&bad, Err(SegmentsError::InvalidDefinition(message)) if message.starts_with("invalid definition at")),
        "{bad:?}"
    );
    let loose = s.create(Some(
        json!({"attribute": {"field": "plan", "op": "exists", "value": "pro"}}),
    ));
    assert!(
        matches!(&loose, Err(SegmentsError::InvalidDefinition(message)) if message.starts_with("invalid definition at attribute.value: exists takes no value")),
        "{loose:?}"
    );
    let missing = s.create(Some(json!({"segment": {"id": 999}})));
    assert!(
        matches!(&missing, Err(SegmentsError::InvalidDefinition(message)) if message.contains("segment 999, which does not exist")),
        "{missing:?}"
    );
    let blank = s.runtime.block_on(s.segments.create(
        s.workspace,
        SegmentDraft {
            name: "  ".into(),
            description: String::new(),
            definition: None,
        },
    ));
    assert!(matches!(blank, Err(SegmentsError::Invalid(_))));
    let listed = s
        .runtime
        .block_on(s.segments.list(s.workspace))
        .expect("listed");
    assert!(listed.is_empty(), "nothing was saved: {listed:?}");

    // A cycle: a refers to b, then b is edited to refer to a.
    let b = s
        .create(Some(json!({"event": {"name": "purchase"}})))
        .expect("b");
    assert_eq!(b.name, "Buyers", "names are trimmed");
    let a = s.create(Some(json!({"segment": {"id": b.id}}))).expect("a");
    let edit = SegmentEdit {
        definition: Some(Some(json!({"segment": {"id": a.id}}))),
        ..SegmentEdit::default()
    };
    let cycle = s
        .runtime
        .block_on(s.segments.update(s.workspace, b.id, edit));
    assert!(
        matches!(&cycle, Err(SegmentsError::InvalidDefinition(message)) if message.contains("refer to itself")),
        "{cycle:?}"
    );
    let in_use = s.runtime.block_on(s.segments.delete(s.workspace, b.id));
    assert!(
        matches!(&in_use, Err(SegmentsError::InUse { id, users }) if *id == b.id && users == &vec![a.id]),
        "{in_use:?}"
    );
    s.runtime
        .block_on(s.segments.delete(s.workspace, a.id))
        .expect("a goes");
    s.runtime
        .block_on(s.segments.delete(s.workspace, b.id))
        .expect("then b");
    let gone = s.runtime.block_on(s.segments.get(s.workspace, b.id));
    assert!(matches!(gone, Err(SegmentsError::NotFound)));
}

#[test]
fn previews_counts_explanations_and_histories_agree() {
    let s = setup();
    s.track(&[
        purchase("ann", NOW - 100),
        purchase("ann", NOW - 50),
        purchase("bob", NOW - 10),
    ]);
    let twice = json!({"event": {"name": "purchase", "count": {"at_least": 2}}});
    let preview = s
        .runtime
        .block_on(s.segments.preview(s.workspace, &twice, 10))
        .expect("previewed");
    assert_eq!(preview.count, 1);
    assert_eq!(preview.sample, vec![Some("ann".to_owned())]);
    let refused = s
        .runtime
        .block_on(s.segments.preview(s.workspace, &json!({"nope": 1}), 10));
    assert!(matches!(refused, Err(SegmentsError::InvalidDefinition(_))));

    let segment = s.create(Some(twice)).expect("created");
    let count = s
        .runtime
        .block_on(s.segments.count(s.workspace, segment.id))
        .expect("counted");
    assert_eq!(count, 1);
    let page = s
        .runtime
        .block_on(s.segments.members_page(s.workspace, segment.id, None, 10))
        .expect("a page");
    assert_eq!(page.people.len(), 1);
    assert_eq!(page.people[0].id.as_deref(), Some("ann"));
    assert_eq!(page.next, None);

    let seq = |id: &str| s.seq(id);
    let ann = s
        .runtime
        .block_on(s.segments.explain(s.workspace, segment.id, seq("ann")))
        .expect("explained");
    assert!(ann.member && !ann.manual);
    assert!(ann.condition.is_some());
    let bob = s
        .runtime
        .block_on(s.segments.explain(s.workspace, segment.id, seq("bob")))
        .expect("explained");
    assert!(!bob.member);
    let of_ann = s
        .runtime
        .block_on(s.segments.of_person(s.workspace, seq("ann")))
        .expect("read");
    assert_eq!(
        of_ann.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![segment.id]
    );

    // Saving another definition over it: who would enter and leave, nothing saved.
    let change = s
        .runtime
        .block_on(s.segments.preview_change(
            s.workspace,
            segment.id,
            &json!({"event": {"name": "purchase"}}),
            10,
        ))
        .expect("previewed");
    assert_eq!(
        (change.preview.count, change.entering, change.leaving),
        (2, 1, 0)
    );
    let change = s
        .runtime
        .block_on(s.segments.preview_change(
            s.workspace,
            segment.id,
            &json!({"event": {"name": "never"}}),
            10,
        ))
        .expect("previewed");
    assert_eq!(
        (change.preview.count, change.entering, change.leaving),
        (0, 0, 1)
    );
    // Built today (NOW's day) with ann: one person at the end of today, none the day before.
    let today = NOW.div_euclid(86_400);
    let sizes = s
        .runtime
        .block_on(s.segments.sizes_by_day(s.workspace, segment.id, today, 3))
        .expect("sizes");
    assert_eq!(sizes, vec![(today - 2, 0), (today - 1, 0), (today, 1)]);
    let history = s
        .runtime
        .block_on(s.segments.history(s.workspace, segment.id, seq("ann")))
        .expect("read");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].exited_at, None);
}

#[test]
fn only_manual_segments_take_people_by_hand() {
    let s = setup();
    s.track(&[purchase("ann", NOW - 100)]);
    let manual = s.create(None).expect("a manual segment");
    let dynamic = s
        .create(Some(json!({"event": {"name": "purchase"}})))
        .expect("a data-driven one");
    let people = vec![
        Identifier::Id("ann".into()),
        Identifier::Id("nobody".into()),
    ];
    let report = s
        .runtime
        .block_on(
            s.segments
                .set_manual_members(s.workspace, manual.id, people.clone(), true),
        )
        .expect("added; unknown ids are skipped");
    assert_eq!(report.matched, 1);
    assert_eq!(report.unmatched, vec!["nobody".to_owned()]);
    let count = s
        .runtime
        .block_on(s.segments.count(s.workspace, manual.id))
        .expect("counted");
    assert_eq!(count, 1);
    // Typed in the UI: an id, else an email (in any case); the rest is reported.
    s.track(&[
        json!({"type": "person", "identifiers": {"id": "cat"}, "action": "identify",
        "attributes": {"email": "Cat@Example.com"}}),
    ]);
    let report = s
        .runtime
        .block_on(s.segments.set_manual_members_by_text(
            s.workspace,
            manual.id,
            vec!["CAT@example.com".into(), "ghost".into()],
            true,
        ))
        .expect("added by email");
    assert_eq!(
        (report.matched, report.unmatched),
        (1, vec!["ghost".to_owned()])
    );
    let count = s
        .runtime
        .block_on(s.segments.count(s.workspace, manual.id))
        .expect("counted");
    assert_eq!(count, 2);
    let explained = s
        .runtime
        .block_on(
            s.segments
                .explain(s.workspace, manual.id, PersonSeq::new(1)),
        )
        .expect("explained");
    assert!(explained.manual && explained.member && explained.condition.is_none());
    let refused =
        s.runtime.block_on(
            s.segments
                .set_manual_members(s.workspace, dynamic.id, people, true),
        );
    assert!(
        matches!(&refused, Err(SegmentsError::Invalid(message)) if message.contains("data-driven")),
        "{refused:?}"
    );
}

#[test]
fn what_if_answers_each_segment_before_and_after_an_event_it_does_not_store() {
    let s = setup();
    s.track(&[purchase("ann", NOW - 100)]);
    let ann = s.seq("ann");
    let twice = s
        .create(Some(
            json!({"event": {"name": "purchase", "count": {"at_least": 2}}}),
        ))
        .expect("twice");
    let once_at_most = s
        .create(Some(
            json!({"event": {"name": "purchase", "count": {"at_most": 1}}}),
        ))
        .expect("at most once");
    let via_twice = s
        .create(Some(json!({"segment": {"id": twice.id}})))
        .expect("refers to twice");
    let manual = s.create(None).expect("manual");
    s.runtime
        .block_on(s.segments.set_manual_members(
            s.workspace,
            manual.id,
            vec![Identifier::Id("ann".into())],
            true,
        ))
        .expect("ann added by hand");

    let answer = |name: &str| {
        s.runtime
            .block_on(s.segments.what_if_event(
                s.workspace,
                ann,
                name.to_owned(),
                serde_json::Map::new(),
            ))
            .expect("answered")
    };
    let moved = |what_if: &crate::EventWhatIf| {
        what_if
            .segments
            .iter()
            .map(|a| (a.id, a.before, a.after))
            .collect::<Vec<_>>()
    };
    let purchase = answer("purchase");
    assert_eq!(purchase.now, NOW);
    assert_eq!(
        moved(&purchase),
        vec![
            (twice.id, false, true),
            (once_at_most.id, true, false),
            (via_twice.id, false, true),
            (manual.id, true, true),
        ]
    );
    assert!(purchase.member_after(via_twice.id) && !purchase.member_after(once_at_most.id));
    let other = answer("viewed");
    assert!(
        other.segments.iter().all(|a| a.before == a.after),
        "another event moves nothing: {:?}",
        other.segments
    );
    let count = s
        .runtime
        .block_on(s.segments.count(s.workspace, twice.id))
        .expect("counted");
    assert_eq!(count, 0, "nothing was stored");
    let gone = s.runtime.block_on(s.segments.what_if_event(
        s.workspace,
        PersonSeq::new(ann.get() + 100),
        "purchase".into(),
        serde_json::Map::new(),
    ));
    assert!(matches!(gone, Err(SegmentsError::PersonNotFound)));
}
