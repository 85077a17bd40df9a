//! The kinds of entries in a person's activity log (Customer.io's activity `type` values).

use serde::{Deserialize, Serialize};

/// The type of one activity log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    Event,
    Page,
    Screen,
    AttributeChange,
    FailedAttributeChange,
    ProfileCreate,
    ProfileDelete,
    ProfileMerge,
    AnonMerge,
    DeviceChange,
    DeviceDelete,
    Suppress,
    Unsuppress,
    FormSubmit,
    /// A campaign message was sent.
    DeliverySent,
    /// A campaign message could not be sent.
    DeliveryFailed,
    /// A metric (opened, clicked, …) was reported for a sent message.
    DeliveryMetric,
    /// A campaign trigger matched but started nothing (the 72-hour rule, frequency, filter).
    TriggerSkipped,
    /// The person was related to an object, or the relationship's attributes changed.
    AddRelationship,
    /// The person's relationship to an object ended.
    DeleteRelationship,
}

impl ActivityKind {
    /// Every kind, for parsing and documentation.
    pub const ALL: [ActivityKind; 20] = [
        Self::Event,
        Self::Page,
        Self::Screen,
        Self::AttributeChange,
        Self::FailedAttributeChange,
        Self::ProfileCreate,
        Self::ProfileDelete,
        Self::ProfileMerge,
        Self::AnonMerge,
        Self::DeviceChange,
        Self::DeviceDelete,
        Self::Suppress,
        Self::Unsuppress,
        Self::FormSubmit,
        Self::DeliverySent,
        Self::DeliveryFailed,
        Self::DeliveryMetric,
        Self::TriggerSkipped,
        Self::AddRelationship,
        Self::DeleteRelationship,
    ];

    /// Returns the wire name, as stored and as filtered on by `GET /v1/activities?type=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Event => "event",
            Self::Page => "page",
            Self::Screen => "screen",
            Self::AttributeChange => "attribute_change",
            Self::FailedAttributeChange => "failed_attribute_change",
            Self::ProfileCreate => "profile_create",
            Self::ProfileDelete => "profile_delete",
            Self::ProfileMerge => "profile_merge",
            Self::AnonMerge => "anon_merge",
            Self::DeviceChange => "device_change",
            Self::DeviceDelete => "device_delete",
            Self::Suppress => "suppress",
            Self::Unsuppress => "unsuppress",
            Self::FormSubmit => "form_submit",
            Self::DeliverySent => "delivery_sent",
            Self::DeliveryFailed => "delivery_failed",
            Self::DeliveryMetric => "delivery_metric",
            Self::TriggerSkipped => "trigger_skipped",
            Self::AddRelationship => "add_relationship",
            Self::DeleteRelationship => "delete_relationship",
        }
    }

    /// Parses a wire name.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == value)
    }

    /// Tells whether entries of this kind are events (they have a name, data and a timestamp
    /// of their own, and count for segments).
    pub fn is_event(self) -> bool {
        matches!(self, Self::Event | Self::Page | Self::Screen)
    }
}
