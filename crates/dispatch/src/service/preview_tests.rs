//! Previews, test sends and archiving, on the same real store, ingest and engine as the other
//! campaign service tests.

use herald_domain::{CampaignId, PersonSeq};
use std::collections::BTreeMap;

use herald_campaigns::Channel;
use herald_store::{CampaignState, RunState};
use serde_json::json;

use super::tests::{Setup, setup};
use super::{CampaignsError, MessageDraft, MessagePreview, PreviewRequest, SampleEvent, SampleOf};

impl Setup {
    async fn seq_of(&self, id: &str) -> PersonSeq {
        let (workspace, identifier) =
            (self.workspace, herald_domain::Identifier::Id(id.to_owned()));
        self.store
            .read(move |r| r.person(workspace, &identifier))
            .await
            .expect("read")
            .expect("the person exists")
            .seq
    }
}

fn webhook(body: &str) -> MessageDraft {
    MessageDraft {
        channel: Channel::Webhook,
        method: None,
        templates: BTreeMap::from([
            ("url".to_owned(), "http://127.0.0.1:9/hook".to_owned()),
            ("body".to_owned(), body.to_owned()),
            (
                "headers.X-Plan".to_owned(),
                "{{ customer.plan }}".to_owned(),
            ),
        ]),
    }
}

fn request(person_seq: Option<PersonSeq>, event: Option<SampleEvent>) -> PreviewRequest {
    PreviewRequest {
        campaign_id: CampaignId::new(0),
        campaign_name: "Welcome".into(),
        person_seq,
        event,
        sample: SampleOf::Event,
    }
}

impl Setup {
    /// One message's preview.
    async fn preview_one(
        &self,
        message: MessageDraft,
        person_seq: Option<PersonSeq>,
        event: Option<SampleEvent>,
    ) -> Result<MessagePreview, CampaignsError> {
        let mut answers = self
            .campaigns
            .preview(self.workspace, &request(person_seq, event), &[message])
            .await?;
        assert_eq!(answers.len(), 1, "one answer a message");
        Ok(answers.remove(0))
    }
}

#[tokio::test]
async fn a_preview_renders_as_a_run_would_with_the_latest_event_as_sample() {
    let s = setup().await;
    s.submit(
        json!({"type": "person", "identifiers": {"id": "ann"}, "action": "identify",
        "attributes": {"email": "ann@example.com", "plan": "pro"}}),
    )
    .await;
    for day in ["2026-01-01", "2026-02-02"] {
        s.submit(
            json!({"type": "person", "identifiers": {"id": "ann"}, "action": "event",
            "name": "signed up", "attributes": {"sign up date": day}}),
        )
        .await;
    }
    let ann = s.seq_of("ann").await;

    let sample = s
        .campaigns
        .sample_event(s.workspace, ann, "signed up")
        .await
        .expect("read")
        .expect("ann has such an event");
    assert_eq!(
        sample.data,
        json!({"sign up date": "2026-02-02"}),
        "the latest"
    );
    assert!(
        s.campaigns
            .sample_event(s.workspace, ann, "purchased")
            .await
            .expect("read")
            .is_none()
    );

    let body = r#"{{ event["sign up date"] }} {{ customer.email }} {{ campaign.name }}"#;
    let preview = s
        .preview_one(webhook(body), Some(ann), Some(sample))
        .await
        .expect("rendered");
    assert!(preview.errors.is_empty(), "{:?}", preview.errors);
    let content = preview.content.expect("content");
    assert_eq!(content["body"], "2026-02-02 ann@example.com Welcome");
    assert_eq!(content["headers"]["X-Plan"], "pro");
    assert_eq!(content["method"], "POST");

    // Nobody chosen: an empty profile, which renders empty, as a missing attribute does.
    let anonymous = s
        .preview_one(webhook(body), None, None)
        .await
        .expect("rendered");
    assert_eq!(anonymous.content.expect("content")["body"], "  Welcome");
}

#[tokio::test]
async fn a_preview_sees_the_persons_relationships_as_a_run_does() {
    let s = setup().await;
    s.submit(json!({"type": "object", "action": "identify",
        "identifiers": {"object_type_id": "1", "object_id": "acme"},
        "attributes": {"name": "Acme"},
        "cio_relationships": [{"identifiers": {"id": "ann"},
                               "relationship_attributes": {"role": "admin"}}]}))
        .await;
    s.submit(json!({"type": "person", "action": "add_relationships",
        "identifiers": {"id": "ann"},
        "cio_relationships": [{"identifiers": {"object_type_id": "2", "object_id": "course-7"}}]}))
        .await;
    let ann = s.seq_of("ann").await;
    let body = "{% for r in customer.cio_relationships %}{{ r.object_type_id }}/{{ r.object_id }} \
                {{ r.object_attributes.name }} {{ r.relationship_attributes.role }};{% endfor %}\
                {% assign acme = customer.cio_relationships | where: \"object_id\", \"acme\" | first %}\
                {{ acme.relationship_attributes.role }}";
    let preview = s
        .preview_one(webhook(body), Some(ann), None)
        .await
        .expect("rendered");
    assert!(preview.errors.is_empty(), "{:?}", preview.errors);
    assert_eq!(
        preview.content.expect("content")["body"],
        "1/acme Acme admin;2/course-7  ;admin"
    );
}

#[tokio::test]
async fn a_template_that_does_not_compile_is_named_with_its_line() {
    let s = setup().await;
    let preview = s
        .preview_one(webhook("first line\n{{ customer.email "), None, None)
        .await
        .expect("answered");
    assert!(preview.content.is_none());
    assert_eq!(preview.errors.len(), 1, "{:?}", preview.errors);
    assert_eq!(preview.errors[0].field, "body");
    assert!(
        preview.errors[0].message.contains("line 2"),
        "{}",
        preview.errors[0].message
    );
    let gone = s
        .preview_one(webhook("x"), Some(PersonSeq::new(999)), None)
        .await;
    assert!(
        matches!(gone, Err(CampaignsError::PersonNotFound)),
        "{gone:?}"
    );
}

#[tokio::test]
async fn a_test_send_needs_a_person_and_stores_no_delivery() {
    let s = setup().await;
    s.identify("ann", "pro").await;
    let ann = s.seq_of("ann").await;
    let nobody = s
        .campaigns
        .send_test(s.workspace, &request(None, None), &webhook("x"))
        .await;
    assert!(
        matches!(nobody, Err(CampaignsError::Invalid(_))),
        "{nobody:?}"
    );
    // The senders refuse loopback addresses here: the refusal is the answer, not an error.
    let refused = s
        .campaigns
        .send_test(s.workspace, &request(Some(ann), None), &webhook("x"))
        .await
        .expect("answered");
    assert!(refused.is_err(), "{refused:?}");
    let workspace = s.workspace;
    let stored = s
        .store
        .read(move |r| {
            r.deliveries(&herald_store::DeliveryQuery {
                workspace_id: workspace,
                campaign_id: None,
                person_seq: None,
                status: None,
                after: None,
                limit: 10,
            })
        })
        .await
        .expect("read");
    assert!(stored.is_empty(), "a test is not a delivery: {stored:?}");
}

#[tokio::test]
async fn archiving_ends_the_runs_and_a_restored_campaign_waits_paused() {
    let s = setup().await;
    let campaign = s
        .campaigns
        .create(
            s.workspace,
            json!({"name": "Later", "trigger": {"event": {"name": "signed up"}},
                "steps": [{"delay": {"days": 1}}, {"webhook": {"url": "http://127.0.0.1:9/x"}}]}),
        )
        .await
        .expect("created");
    s.campaigns
        .start(s.workspace, campaign.id)
        .await
        .expect("started");
    s.submit(
        json!({"type": "person", "identifiers": {"id": "ann"}, "action": "event",
        "name": "signed up"}),
    )
    .await;
    assert_eq!(s.runs(campaign.id).await, vec![RunState::Active]);

    let archived = s
        .campaigns
        .archive(s.workspace, campaign.id)
        .await
        .expect("archived");
    assert_eq!(archived.state, CampaignState::Archived);
    assert_eq!(s.runs(campaign.id).await, vec![RunState::Cancelled]);
    let start = s.campaigns.start(s.workspace, campaign.id).await;
    assert!(
        matches!(start, Err(CampaignsError::Invalid(_))),
        "{start:?}"
    );
    // An archived campaign starts nothing.
    s.submit(
        json!({"type": "person", "identifiers": {"id": "bob"}, "action": "event",
        "name": "signed up"}),
    )
    .await;
    assert_eq!(s.runs(campaign.id).await, vec![RunState::Cancelled]);

    let restored = s
        .campaigns
        .restore(s.workspace, campaign.id)
        .await
        .expect("restored");
    assert_eq!(restored.state, CampaignState::Paused);
}
