//! The campaign calls on a real SQLite store, the real ingest path and a running segment
//! engine: validation, the first start's enrollment in the start's own write, pause and delete.

use std::sync::Arc;

use herald_delivery::NetworkGuard;
use herald_domain::{CampaignId, Clock, ManualClock, PersonSeq, SegmentId, WorkspaceId};
use herald_ingest::Ingest;
use herald_segments::{SegmentDraft, Segments};
use herald_store::{CampaignState, NewWorkspace, RunState, StoreHandle};
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::{Campaigns, CampaignsError};
use crate::{DispatchConfig, Dispatcher, Registry, Triggers};

const NOW: i64 = 1_800_000_000;

pub(super) struct Setup {
    pub(super) store: StoreHandle,
    pub(super) ingest: Ingest,
    pub(super) segments: Segments,
    pub(super) campaigns: Campaigns,
    pub(super) triggers: Arc<Triggers>,
    pub(super) workspace: WorkspaceId,
    _dir: tempfile::TempDir,
}

/// Everything the server wires, on the current runtime (the dispatcher is a task of it).
pub(super) async fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let options = herald_store_sqlite::SqliteOptions::new(dir.path().join("herald.db"));
    let store = herald_store_sqlite::SqliteStore::open_handle(&options).expect("the store opens");
    let new = NewWorkspace {
        name: "campaigns".into(),
        site_id: "site".into(),
        api_key_hash: "key".into(),
        app_api_key_hash: "app".into(),
        created_at: 1,
    };
    let workspace = store
        .write(move |tx| tx.create_workspace(&new))
        .await
        .expect("store works")
        .expect("created")
        .id;
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(NOW));
    let registry = Arc::new(Registry::new());
    let wake = Arc::new(Notify::new());
    let triggers = Arc::new(Triggers::new(registry.clone(), wake.clone()));
    let segments = Segments::start(store.clone(), clock.clone(), Some(triggers.clone()), None)
        .expect("the engine starts");
    let feed = segments.feed();
    let ingest = Ingest::new(store.clone(), clock.clone())
        .with_feed(Arc::new(move |committed: herald_ingest::Committed| {
            feed(committed.workspace_id, committed.inputs, committed.position);
        }))
        .with_triggers(triggers.clone());
    let senders = crate::nodes_tests::senders(NetworkGuard::new(Vec::new()));
    let config = DispatchConfig {
        public_url: "http://127.0.0.1:9".into(),
        tracking_key: b"key".to_vec(),
        max_attempts: 1,
        retry_base_seconds: 1,
        concurrency: 1,
        crash_after_send: false,
    };
    let dispatcher = Dispatcher::start(
        store.clone(),
        clock.clone(),
        registry.clone(),
        senders,
        config,
        wake,
    );
    let campaigns = Campaigns::new(store.clone(), clock, registry, dispatcher, segments.clone());
    Setup {
        store,
        ingest,
        segments,
        campaigns,
        triggers,
        workspace,
        _dir: dir,
    }
}

impl Setup {
    pub(super) async fn identify(&self, id: &str, plan: &str) {
        self.submit(
            json!({"type": "person", "identifiers": {"id": id}, "action": "identify",
            "attributes": {"plan": plan}}),
        )
        .await;
    }

    /// Submits one Track API v2 operation through ingest, at `NOW`.
    pub(super) async fn submit(&self, item: Value) {
        let operation = herald_ingest::validate_v2::operation(&item, NOW)
            .expect("valid")
            .expect("an operation");
        self.ingest
            .submit(self.workspace, vec![operation])
            .await
            .expect("committed");
    }

    /// The number of the person with the id `id`.
    pub(super) async fn person_seq(&self, id: &str) -> PersonSeq {
        let (workspace, id) = (self.workspace, id.to_owned());
        self.store
            .read(move |r| r.person(workspace, &herald_domain::Identifier::Id(id)))
            .await
            .expect("read")
            .expect("the person exists")
            .seq
    }

    pub(super) async fn runs(&self, campaign: CampaignId) -> Vec<RunState> {
        let workspace = self.workspace;
        self.store
            .read(move |r| r.runs_of_campaign(workspace, campaign))
            .await
            .expect("read")
            .into_iter()
            .map(|run| run.state)
            .collect()
    }
}

/// Waits a day before its message, so nothing is sent while the test looks.
fn onboarding(segment: SegmentId) -> Value {
    json!({
        "name": "Pro onboarding",
        "trigger": {"segment": {"id": segment, "on": "enter"}},
        "enrollment": "current_and_future",
        "steps": [{"delay": {"days": 1}}, {"webhook": {"url": "http://127.0.0.1:9/{{ customer.id }}"}}]
    })
}

#[tokio::test]
async fn the_first_start_enrolls_the_current_members_once() {
    let s = setup().await;
    s.identify("ann", "pro").await;
    s.identify("bob", "pro").await;
    s.identify("cat", "free").await;
    let segment = s
        .segments
        .create(
            s.workspace,
            SegmentDraft {
                name: "Pro".into(),
                description: String::new(),
                definition: Some(
                    json!({"attribute": {"field": "plan", "op": "eq", "value": "pro"}}),
                ),
            },
        )
        .await
        .expect("a segment");
    assert_eq!(
        s.segments
            .count(s.workspace, segment.id)
            .await
            .expect("counted"),
        2
    );

    let draft = s
        .campaigns
        .create(s.workspace, onboarding(segment.id))
        .await
        .expect("created");
    assert_eq!(draft.state, CampaignState::Draft);
    assert_eq!(draft.name, "Pro onboarding");
    assert!(s.runs(draft.id).await.is_empty(), "a draft enrolls nobody");

    let started = s
        .campaigns
        .start(s.workspace, draft.id)
        .await
        .expect("started");
    assert_eq!(started.state, CampaignState::Running);
    // Both members, from the start's own write: they are there when start returns.
    assert_eq!(
        s.runs(draft.id).await,
        vec![RunState::Active, RunState::Active]
    );

    // Later entries come through the live trigger; a second start enrolls nobody again.
    s.identify("cat", "pro").await;
    // Stored (with the run its trigger starts) before the pause: an entry while paused
    // starts nothing.
    s.segments.flush().await.expect("memberships stored");
    assert_eq!(s.runs(draft.id).await.len(), 3);
    s.campaigns
        .pause(s.workspace, draft.id)
        .await
        .expect("paused");
    s.campaigns
        .start(s.workspace, draft.id)
        .await
        .expect("started again");
    assert_eq!(
        s.runs(draft.id).await.len(),
        3,
        "a second start enrolls nobody"
    );

    s.campaigns
        .delete(s.workspace, draft.id)
        .await
        .expect("deleted");
    assert_eq!(s.runs(draft.id).await, vec![RunState::Cancelled; 3]);
    let gone = s.campaigns.get(s.workspace, draft.id).await;
    assert!(matches!(gone, Err(CampaignsError::NotFound)), "{gone:?}");
}

#[tokio::test]
async fn invalid_campaigns_are_refused_with_the_field_named() {
    let s = setup().await;
    let unknown = s
        .campaigns
        .create(s.workspace, onboarding(SegmentId::new(999)))
        .await;
    assert!(
        matches!(&unknown, Err(CampaignsError::Invalid(message)) if message.contains("999")),
        "{unknown:?}"
    );
    let mut bad_template = onboarding(SegmentId::new(999));
    bad_template["trigger"] = json!({"event": {"name": "purchased"}});
    bad_template["enrollment"] = json!("future");
    bad_template["steps"][1]["webhook"]["url"] = json!("http://x/{{ customer.id");
    let refused = s.campaigns.create(s.workspace, bad_template).await;
    assert!(
        matches!(&refused, Err(CampaignsError::Invalid(message)) if message.contains("steps[1]")),
        "{refused:?}"
    );
    assert!(
        s.campaigns
            .list(s.workspace)
            .await
            .expect("listed")
            .is_empty()
    );
    let missing = s.campaigns.start(s.workspace, CampaignId::new(12345)).await;
    assert!(matches!(missing, Err(CampaignsError::NotFound)));
}

/// A campaign of `trigger` that waits a day before its message.
fn waiting(name: &str, trigger: Value, frequency: &str) -> Value {
    json!({
        "name": name,
        "trigger": trigger,
        "frequency": frequency,
        "steps": [{"delay": {"days": 1}}, {"webhook": {"url": "http://127.0.0.1:9/{{ customer.id }}"}}]
    })
}

#[tokio::test]
async fn what_if_names_what_would_start_and_why_the_rest_would_not() {
    let s = setup().await;
    s.identify("ann", "free").await;
    let buyers = s
        .segments
        .create(
            s.workspace,
            SegmentDraft {
                name: "Buyers".into(),
                description: String::new(),
                definition: Some(json!({"event": {"name": "purchased"}})),
            },
        )
        .await
        .expect("a segment");
    let free = s
        .segments
        .create(
            s.workspace,
            SegmentDraft {
                name: "Free plan".into(),
                description: String::new(),
                definition: Some(
                    json!({"attribute": {"field": "plan", "op": "eq", "value": "free"}}),
                ),
            },
        )
        .await
        .expect("a segment");
    let purchased = json!({"event": {"name": "purchased"}});
    let mut specs = vec![
        waiting("Receipt", purchased.clone(), "every_time"),
        waiting(
            "Refund",
            json!({"event": {"name": "refunded"}}),
            "every_time",
        ),
        waiting(
            "Big spender",
            json!({"event": {"name": "purchased", "where": [{"field": "price", "op": "gt", "value": 100}]}}),
            "every_time",
        ),
        waiting("First purchase", purchased.clone(), "once"),
        waiting("Pro receipt", purchased.clone(), "every_time"),
        waiting(
            "Welcome buyer",
            json!({"segment": {"id": buyers.id, "on": "enter"}}),
            "every_time",
        ),
        waiting(
            "Free nudge",
            json!({"segment": {"id": free.id, "on": "enter"}}),
            "every_time",
        ),
        waiting("Paused", purchased.clone(), "every_time"),
    ];
    specs[4]["filter"] = json!({"attribute": {"field": "plan", "op": "eq", "value": "pro"}});
    let mut ids = Vec::new();
    for spec in specs {
        let row = s
            .campaigns
            .create(s.workspace, spec)
            .await
            .expect("created");
        if row.name != "Paused" {
            s.campaigns
                .start(s.workspace, row.id)
                .await
                .expect("started");
        }
        ids.push(row.id);
    }
    // Ann went through "First purchase" before: enrolled in the store as its trigger does.
    let (first, workspace) = (ids[3], s.workspace);
    let ann = s.person_seq("ann").await;
    s.store
        .write(move |tx| tx.enroll_once(workspace, first, ann, NOW))
        .await
        .expect("store works")
        .expect("enrolled");

    let data = json!({"price": 12})
        .as_object()
        .cloned()
        .expect("an object");
    let what_if = s
        .campaigns
        .what_if_event(s.workspace, ann, "purchased", &data)
        .await
        .expect("answered");
    let entered: Vec<&str> = what_if.entered.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(entered, vec!["Buyers"]);
    assert!(what_if.left.is_empty());
    assert_eq!(what_if.not_running, 1);
    let outcome = |name: &str| {
        what_if
            .campaigns
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{name} is listed"))
            .not_started_because
            .clone()
    };
    assert_eq!(outcome("Receipt"), None);
    assert_eq!(outcome("Welcome buyer"), None);
    let because = |name: &str, part: &str| {
        let reason = outcome(name).unwrap_or_else(|| panic!("{name} would not start"));
        assert!(reason.contains(part), "{name}: {reason}");
    };
    because("Refund", "“refunded”, not “purchased”");
    because("Big spender", r#"{"field":"price","op":"gt","value":100}"#);
    because("First purchase", "frequency is “once”");
    because("Pro receipt", "filter");
    because("Free nudge", "already in “Free plan”");
    assert!(
        what_if.campaigns.iter().all(|c| c.name != "Paused"),
        "only running campaigns are listed"
    );

    // Nothing was stored: no runs, no membership.
    for id in &ids {
        assert!(s.runs(*id).await.is_empty());
    }
    assert_eq!(
        s.segments
            .count(s.workspace, buyers.id)
            .await
            .expect("counted"),
        0
    );
}

/// Ingest wakes the dispatcher after a commit only when the commit's events started a run:
/// woken after every event, it read the due runs hundreds of times a second under ingest with
/// no campaign running.
#[tokio::test]
async fn events_wake_the_dispatcher_only_when_they_start_a_run() {
    use herald_ingest::{EventTriggers, TriggerEvent};

    let s = setup().await;
    s.identify("ann", "free").await;
    let workspace = s.workspace;
    let ann = s.person_seq("ann").await;
    let starts = |name: &'static str| {
        let triggers = s.triggers.clone();
        let event = TriggerEvent {
            person_seq: ann,
            kind: "event",
            name: name.into(),
            timestamp: NOW,
            data: serde_json::Map::new(),
            blocked: None,
        };
        s.store
            .write(move |tx| triggers.on_events(tx, workspace, &[event], NOW))
    };
    assert!(
        !starts("purchased")
            .await
            .expect("store works")
            .expect("ran"),
        "no campaign runs yet"
    );
    let first = s
        .campaigns
        .create(
            workspace,
            waiting(
                "First purchase",
                json!({"event": {"name": "purchased"}}),
                "once",
            ),
        )
        .await
        .expect("created");
    s.campaigns
        .start(workspace, first.id)
        .await
        .expect("started");
    assert!(!starts("viewed").await.expect("store works").expect("ran"));
    assert!(
        starts("purchased")
            .await
            .expect("store works")
            .expect("ran")
    );
    assert_eq!(s.runs(first.id).await, [RunState::Active]);
    assert!(
        !starts("purchased")
            .await
            .expect("store works")
            .expect("ran"),
        "a campaign of frequency once skips the second purchase"
    );
    assert_eq!(s.runs(first.id).await, [RunState::Active]);
}
