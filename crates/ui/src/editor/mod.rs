//! The campaign editor: a campaign as the editor's form holds it, which may be incomplete
//! while a person edits it (a webhook step without a URL yet).
//!
//! Like the segment builder's tree, the draft travels in the form, one field per value
//! (`step.2.url`, `where.0.op`), so the page needs no script to hold it: every change posts the
//! form and the server answers with the draft rebuilt (`form.rs`) and changed (`ops.rs`).
//! `json.rs` turns the draft into the campaign format and back, and each send step into the
//! message a preview renders; the campaign's own validation (`Campaigns::validate`) stays the
//! judge of what is valid.

pub mod form;
pub mod json;
pub mod ops;

use crate::builder::FilterNode;
use herald_domain::CampaignId;

/// The kinds of step, their wire names and what the editor calls them.
pub const STEP_KINDS: [(&str, &str); 4] = [
    ("delay", "Delay"),
    ("webhook", "Webhook"),
    ("email", "Email"),
    ("push", "Push"),
];

/// The webhook methods.
pub const METHODS: [&str; 5] = ["POST", "PUT", "PATCH", "GET", "DELETE"];

/// A campaign being edited, each value as typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// The saved campaign this edits; `None` for a new one.
    pub campaign_id: Option<CampaignId>,
    pub name: String,
    /// `event`, `segment`, `object` or `transactional`.
    pub trigger: String,
    pub event_name: String,
    /// The event trigger's data filters, or the object trigger's object attribute filters.
    pub wheres: Vec<FilterNode>,
    /// The object trigger's object type (`"1"`).
    pub object_type_id: String,
    /// `updated`, `added`, `changed` or `removed`.
    pub object_on: String,
    pub segment_id: String,
    /// `enter` or `exit`.
    pub segment_on: String,
    /// `once` or `every_time`.
    pub frequency: String,
    /// `future` or `current_and_future`.
    pub enrollment: String,
    /// `none`, `in` (the person is in a segment), `not_in` or `json` (any definition).
    pub filter: String,
    pub filter_segment: String,
    pub filter_json: String,
    pub steps: Vec<StepDraft>,
}

impl Draft {
    /// What a new campaign starts from: an event trigger to be named and one webhook step.
    pub fn starting() -> Self {
        Self {
            campaign_id: None,
            name: String::new(),
            trigger: "event".into(),
            event_name: String::new(),
            wheres: Vec::new(),
            object_type_id: "1".into(),
            object_on: "added".into(),
            segment_id: String::new(),
            segment_on: "enter".into(),
            frequency: "every_time".into(),
            enrollment: "future".into(),
            filter: "none".into(),
            filter_segment: String::new(),
            filter_json: String::new(),
            steps: vec![StepDraft::empty("webhook").expect("a known kind")],
        }
    }
}

/// One step, each value as typed; which fields count depends on the kind.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepDraft {
    /// `delay`, `webhook`, `email` or `push`.
    pub kind: String,
    /// A delay's amount and unit (`minutes`, `hours`, `days`, `weeks`).
    pub amount: String,
    pub unit: String,
    pub method: String,
    pub url: String,
    /// A webhook's headers or a push's data, one `Name: template` a line.
    pub pairs: String,
    /// A webhook's or a push's body.
    pub body: String,
    pub to: String,
    pub from: String,
    pub subject: String,
    pub html: String,
    pub text: String,
    pub title: String,
}

impl StepDraft {
    /// A new step of a kind the editor offers.
    pub fn empty(kind: &str) -> Option<Self> {
        let mut step = Self {
            kind: kind.to_owned(),
            amount: "1".into(),
            unit: "days".into(),
            method: "POST".into(),
            ..Self::default()
        };
        match kind {
            "delay" | "webhook" | "push" => {}
            "email" => step.to = "{{ customer.email }}".into(),
            _ => return None,
        }
        Some(step)
    }
}
