//! The states a stored row moves through, as types: each is written and read by its name, and
//! only here are the names listed, so that a backend's SQL and the code that acts on a state
//! cannot disagree about them.

use serde::Serialize;

/// What every stored state offers the decoders (`herald_store::codec::stored_state`): the
/// column it is stored in and the kind of row it belongs to, for the message that names a row
/// holding a name no version wrote.
pub trait StoredState: Sized + Copy {
    /// The column's word for it: "state" or "status".
    const FIELD: &'static str;
    /// What a valid name is, as a message says it: "a run state".
    const WHAT: &'static str;
    /// The state of a stored name; `None` for a name no version wrote.
    fn parse_stored(name: &str) -> Option<Self>;
}

/// Declares a state stored by its name: the enum with each variant's name (also its JSON), the
/// list of all of them, and `as_str`, `parse` and `Display` from that one list; `$field` and
/// `$what` name it in the message about a stored name that is none of them.
macro_rules! stored_state {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($field:literal, $what:literal) {
            $($(#[$variant_meta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        pub enum $name {
            $($(#[$variant_meta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every state, in the order of a row's life.
            pub const ALL: &'static [$name] = &[$(Self::$variant),+];

            /// The name stored and shown for this state.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// The state of a stored name; `None` for a name no version wrote.
            pub fn parse(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|state| state.as_str() == name)
            }
        }

        impl StoredState for $name {
            const FIELD: &'static str = $field;
            const WHAT: &'static str = $what;
            fn parse_stored(name: &str) -> Option<Self> {
                Self::parse(name)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

stored_state! {
    /// Where a run (one person going through one campaign) stands.
    pub enum RunState ("state", "a run state") {
        /// Waiting for its next step, due at `due_at`.
        Active = "active",
        /// Every step ran.
        Done = "done",
        /// The person did not match the campaign's filter when the first step came due.
        Filtered = "filtered",
        /// Ended from outside: the campaign was deleted or archived, or the person deleted or
        /// merged away.
        Cancelled = "cancelled",
        /// A message could not be rendered, or the dispatcher failed on the run.
        Failed = "failed",
    }
}

stored_state! {
    /// Where a campaign stands.
    pub enum CampaignState ("state", "a campaign state") {
        /// Saved, never started: its triggers start nothing.
        Draft = "draft",
        /// Its triggers start runs and its runs move on.
        Running = "running",
        /// Stopped for now: triggers start nothing and runs wait where they are.
        Paused = "paused",
        /// Put away: it starts nothing, its runs were ended, and it cannot be started until
        /// restored.
        Archived = "archived",
    }
}

stored_state! {
    /// Where a delivery (one message of one step of a run) stands: sent or not, then how far its
    /// metrics took it.
    pub enum DeliveryStatus ("status", "a delivery status") {
        /// Recorded with its rendered content, not sent yet (or waiting for a retry).
        Queued = "queued",
        /// Accepted by the receiver, the SMTP server or the push service.
        Sent = "sent",
        Delivered = "delivered",
        /// Bounced, dropped or reported as spam.
        Bounced = "bounced",
        Opened = "opened",
        Clicked = "clicked",
        Converted = "converted",
        /// Given up on: its last attempt failed, or the message could not be sent at all.
        Failed = "failed",
    }
}

stored_state! {
    /// Where a segment stands.
    pub enum SegmentState ("state", "a segment state") {
        /// Its definition changed and its memberships are being built or stored.
        Build = "build",
        /// Its memberships are stored and kept live (a manual segment is always finished).
        Finished = "finished",
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Debug;

    use super::{CampaignState, DeliveryStatus, RunState, SegmentState};

    /// Every state parses from its name, serializes as it and displays as it; `unknown` is none.
    fn round_trip<T: Copy + Debug + PartialEq + serde::Serialize + std::fmt::Display>(
        all: &[T],
        as_str: fn(T) -> &'static str,
        parse: fn(&str) -> Option<T>,
        unknown: &str,
    ) {
        for state in all.iter().copied() {
            assert_eq!(parse(as_str(state)), Some(state));
            assert_eq!(
                serde_json::to_value(state).expect("serializes"),
                serde_json::Value::String(as_str(state).into())
            );
            assert_eq!(state.to_string(), as_str(state));
        }
        assert_eq!(parse(unknown), None, "{unknown}");
    }

    #[test]
    fn states_round_trip_by_name() {
        round_trip(RunState::ALL, RunState::as_str, RunState::parse, "Active");
        round_trip(
            CampaignState::ALL,
            CampaignState::as_str,
            CampaignState::parse,
            "stopped",
        );
        // A metric that moves a delivery to `bounced`, not a status of its own.
        round_trip(
            DeliveryStatus::ALL,
            DeliveryStatus::as_str,
            DeliveryStatus::parse,
            "dropped",
        );
        round_trip(
            SegmentState::ALL,
            SegmentState::as_str,
            SegmentState::parse,
            "building",
        );
    }
}
