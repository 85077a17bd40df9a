//! Which events, segment changes and object changes start a campaign: pure functions of the
//! campaign.

use herald_domain::SegmentId;
use herald_segment_engine::filter::holds;
use serde_json::{Map, Value};

use crate::model::{Campaign, Trigger};
use crate::object_trigger::ObjectEvent;

impl Campaign {
    /// Tells whether an event of this name and data starts the campaign at `now` (the 72-hour
    /// rule is the caller's: it depends on when the event was received).
    pub fn is_triggered_by_event(&self, name: &str, data: &Map<String, Value>, now: i64) -> bool {
        match &self.trigger {
            Trigger::Event {
                name: wanted,
                filters,
            } => wanted == name && filters.iter().all(|filter| holds(filter, data, now)),
            Trigger::Segment { .. } | Trigger::Transactional | Trigger::Object { .. } => false,
        }
    }

    /// Tells whether entering (`entered`) or leaving a segment starts the campaign.
    pub fn is_triggered_by_change(&self, segment_id: SegmentId, entered: bool) -> bool {
        match &self.trigger {
            Trigger::Segment { id, on_enter } => *id == segment_id && *on_enter == entered,
            Trigger::Event { .. } | Trigger::Transactional | Trigger::Object { .. } => false,
        }
    }

    /// Tells whether a change of an object or of a relationship starts the campaign.
    pub fn is_triggered_by_object(&self, event: &ObjectEvent<'_>, now: i64) -> bool {
        match &self.trigger {
            Trigger::Object {
                object_type_id,
                on,
                filters,
            } => {
                object_type_id == event.object_type_id
                    && *on == event.change
                    && filters
                        .iter()
                        .all(|filter| holds(filter, event.attributes, now))
            }
            Trigger::Event { .. } | Trigger::Segment { .. } | Trigger::Transactional => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ObjectChange;

    fn campaign(trigger: Value) -> Campaign {
        Campaign::parse(
            &json!({"name": "c", "trigger": trigger, "steps": [{"push": {"title": "t", "body": "b"}}]}),
            &|_| Ok(()),
            &|_| true,
        )
        .unwrap()
    }

    #[test]
    fn event_triggers_check_the_name_and_every_filter() {
        let receipt = campaign(json!({"event": {"name": "purchased", "where": [
            {"field": "price", "op": "gt", "value": 10},
            {"field": "plan.tier", "op": "eq", "value": "pro"}]}}));
        let data = |price: Value| {
            json!({"price": price, "plan": {"tier": "pro"}})
                .as_object()
                .cloned()
                .unwrap()
        };
        assert!(receipt.is_triggered_by_event("purchased", &data(json!(12)), 0));
        assert!(receipt.is_triggered_by_event("purchased", &data(json!("23.45")), 0));
        assert!(!receipt.is_triggered_by_event("purchased", &data(json!(9)), 0));
        assert!(!receipt.is_triggered_by_event("refunded", &data(json!(12)), 0));
        assert!(!receipt.is_triggered_by_change(SegmentId::new(7), true));
    }

    #[test]
    fn segment_triggers_check_the_segment_and_the_direction() {
        let exit = campaign(json!({"segment": {"id": 7, "on": "exit"}}));
        assert!(exit.is_triggered_by_change(SegmentId::new(7), false));
        assert!(!exit.is_triggered_by_change(SegmentId::new(7), true));
        assert!(!exit.is_triggered_by_change(SegmentId::new(8), false));
        assert!(!exit.is_triggered_by_event("anything", &Map::new(), 0));
    }

    #[test]
    fn object_triggers_check_the_type_the_change_and_the_objects_attributes() {
        let upgraded = campaign(json!({"object": {"object_type_id": "1", "on": "updated",
            "where": [{"field": "plan", "op": "eq", "value": "enterprise"}]}}));
        let attributes = |plan: &str| json!({"plan": plan}).as_object().cloned().unwrap();
        let (enterprise, free) = (attributes("enterprise"), attributes("free"));
        let event = |object_type_id, change, attributes| ObjectEvent {
            object_type_id,
            change,
            attributes,
        };
        assert!(
            upgraded.is_triggered_by_object(&event("1", ObjectChange::Updated, &enterprise), 0)
        );
        assert!(!upgraded.is_triggered_by_object(&event("1", ObjectChange::Updated, &free), 0));
        assert!(
            !upgraded.is_triggered_by_object(&event("2", ObjectChange::Updated, &enterprise), 0)
        );
        assert!(!upgraded.is_triggered_by_object(&event("1", ObjectChange::Added, &enterprise), 0));
        assert!(!upgraded.is_triggered_by_event("updated", &enterprise, 0));
        assert!(!upgraded.is_triggered_by_change(SegmentId::new(1), true));
    }
}
