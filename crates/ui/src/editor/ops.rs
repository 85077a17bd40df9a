//! What the editor's buttons do to the draft: `add-step:<kind>`, `remove-step:<n>`,
//! `step-up:<n>`, `step-down:<n>`, `add-where` and `remove-where:<n>`. An op that names
//! nothing that exists changes nothing.

use super::{Draft, StepDraft};
use crate::builder::FilterNode;

/// Applies one button's op.
pub fn apply(draft: &mut Draft, op: &str) {
    let (name, argument) = op.split_once(':').unwrap_or((op, ""));
    let index = argument.parse::<usize>().ok();
    match (name, index) {
        ("add-step", _) => {
            if let Some(step) = StepDraft::empty(argument) {
                draft.steps.push(step);
            }
        }
        ("remove-step", Some(at)) if at < draft.steps.len() => {
            draft.steps.remove(at);
        }
        ("step-up", Some(at)) if at > 0 && at < draft.steps.len() => draft.steps.swap(at - 1, at),
        ("step-down", Some(at)) if at + 1 < draft.steps.len() => draft.steps.swap(at, at + 1),
        ("add-where", _) => draft.wheres.push(FilterNode::default()),
        ("remove-where", Some(at)) if at < draft.wheres.len() => {
            draft.wheres.remove(at);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(draft: &Draft) -> Vec<&str> {
        draft.steps.iter().map(|step| step.kind.as_str()).collect()
    }

    #[test]
    fn steps_are_added_removed_and_reordered() {
        let mut draft = Draft::starting();
        apply(&mut draft, "add-step:delay");
        apply(&mut draft, "add-step:email");
        apply(&mut draft, "add-step:nonsense");
        assert_eq!(kinds(&draft), ["webhook", "delay", "email"]);
        apply(&mut draft, "step-up:1");
        assert_eq!(kinds(&draft), ["delay", "webhook", "email"]);
        apply(&mut draft, "step-down:1");
        assert_eq!(kinds(&draft), ["delay", "email", "webhook"]);
        apply(&mut draft, "step-down:2");
        apply(&mut draft, "step-up:0");
        apply(&mut draft, "remove-step:9");
        assert_eq!(kinds(&draft), ["delay", "email", "webhook"]);
        apply(&mut draft, "remove-step:0");
        assert_eq!(kinds(&draft), ["email", "webhook"]);
        apply(&mut draft, "add-where");
        apply(&mut draft, "add-where");
        apply(&mut draft, "remove-where:0");
        assert_eq!(draft.wheres.len(), 1);
    }
}
