//! The tree as the builder's form sends it: `<path>.<field>` for every value, where a path is
//! `0` for the root, `<parent>.<n>` for a group's or a Not's conditions and `<event>~<n>` for an
//! event's data filters. Whatever is missing reads as empty; the order of a group's conditions
//! is their numbers' order.

use std::collections::HashMap;

use super::{EventNode, FilterNode, Join, Node};

/// The fields of each path.
struct Fields<'f> {
    by_path: HashMap<&'f str, HashMap<&'f str, &'f str>>,
}

impl<'f> Fields<'f> {
    fn new(form: &'f [(String, String)]) -> Self {
        let mut by_path: HashMap<&str, HashMap<&str, &str>> = HashMap::new();
        for (name, value) in form {
            if let Some((path, field)) = name.rsplit_once('.')
                && path.starts_with('0')
            {
                by_path
                    .entry(path)
                    .or_default()
                    .insert(field, value.as_str());
            }
        }
        Self { by_path }
    }

    fn get(&self, path: &str, field: &str) -> &'f str {
        self.by_path
            .get(path)
            .and_then(|fields| fields.get(field))
            .copied()
            .unwrap_or_default()
    }

    fn text(&self, path: &str, field: &str, default: &str) -> String {
        match self.get(path, field) {
            "" if !default.is_empty() => default.to_owned(),
            text => text.to_owned(),
        }
    }

    /// The numbers of the paths right below `path` joined by `separator`, in order.
    fn below(&self, path: &str, separator: char) -> Vec<String> {
        let prefix = format!("{path}{separator}");
        let mut numbers: Vec<usize> = self
            .by_path
            .keys()
            .filter_map(|key| key.strip_prefix(&prefix))
            .filter_map(|rest| rest.parse().ok())
            .collect();
        numbers.sort_unstable();
        numbers.dedup();
        numbers
            .into_iter()
            .map(|number| format!("{prefix}{number}"))
            .collect()
    }

    fn node(&self, path: &str, depth: usize) -> Node {
        // Deeper than the definition format takes: the definition's check says so.
        if depth > 40 {
            return Node::Event(EventNode::default());
        }
        match self.get(path, "kind") {
            "group" => Node::Group {
                join: if self.get(path, "join") == "or" {
                    Join::Any
                } else {
                    Join::All
                },
                children: self
                    .below(path, '.')
                    .iter()
                    .map(|child| self.node(child, depth + 1))
                    .collect(),
            },
            "not" => Node::Not(Box::new(self.below(path, '.').first().map_or_else(
                || Node::Event(EventNode::default()),
                |child| self.node(child, depth + 1),
            ))),
            "attribute" => Node::Attribute(self.filter(path)),
            "segment" => Node::Segment(self.get(path, "segment").parse().ok()),
            _ => Node::Event(self.event(path)),
        }
    }

    fn filter(&self, path: &str) -> FilterNode {
        let defaults = FilterNode::default();
        FilterNode {
            field: self.text(path, "field", ""),
            op: self.text(path, "op", &defaults.op),
            value: self.text(path, "value", ""),
            ago: self.text(path, "ago", ""),
            ago_unit: self.text(path, "ago_unit", &defaults.ago_unit),
            at: self.text(path, "at", ""),
        }
    }

    fn event(&self, path: &str) -> EventNode {
        let defaults = EventNode::default();
        EventNode {
            name: self.text(path, "name", ""),
            kind: self.text(path, "type", &defaults.kind),
            performed: self.get(path, "performed") != "no",
            count_op: self.text(path, "count_op", &defaults.count_op),
            count: self.text(path, "count", ""),
            when: self.text(path, "when", &defaults.when),
            within: self.text(path, "within", ""),
            within_unit: self.text(path, "within_unit", &defaults.within_unit),
            from: self.text(path, "from", ""),
            to: self.text(path, "to", ""),
            filters: self
                .below(path, '~')
                .iter()
                .map(|filter| self.filter(filter))
                .collect(),
            profile_age: self.get(path, "profile_age") == "on",
        }
    }
}

/// The fields a builder form sends for a tree, as its page names them: what a browser posts,
/// for clients that post it themselves (the benchmark's live count).
pub fn fields_of(root: &Node) -> Vec<(String, String)> {
    let mut out = Vec::new();
    write(root, "0", &mut out);
    out
}

fn write(node: &Node, path: &str, out: &mut Vec<(String, String)>) {
    let mut put =
        |field: &str, value: &str| out.push((format!("{path}.{field}"), value.to_owned()));
    match node {
        Node::Group { join, children } => {
            put("kind", "group");
            put("join", if *join == Join::Any { "or" } else { "and" });
            for (index, child) in children.iter().enumerate() {
                write(child, &format!("{path}.{index}"), out);
            }
        }
        Node::Not(child) => {
            put("kind", "not");
            write(child, &format!("{path}.0"), out);
        }
        Node::Segment(id) => {
            put("kind", "segment");
            put("segment", &id.map(|id| id.to_string()).unwrap_or_default());
        }
        Node::Attribute(filter) => {
            put("kind", "attribute");
            write_filter(filter, path, out);
        }
        Node::Event(event) => {
            put("kind", "event");
            put("name", &event.name);
            put("type", &event.kind);
            put("performed", if event.performed { "yes" } else { "no" });
            put("count_op", &event.count_op);
            put("count", &event.count);
            put("when", &event.when);
            put("within", &event.within);
            put("within_unit", &event.within_unit);
            put("from", &event.from);
            put("to", &event.to);
            if event.profile_age {
                put("profile_age", "on");
            }
            for (index, filter) in event.filters.iter().enumerate() {
                write_filter(filter, &format!("{path}~{index}"), out);
            }
        }
    }
}

fn write_filter(filter: &FilterNode, path: &str, out: &mut Vec<(String, String)>) {
    for (field, value) in [
        ("field", &filter.field),
        ("op", &filter.op),
        ("value", &filter.value),
        ("ago", &filter.ago),
        ("ago_unit", &filter.ago_unit),
        ("at", &filter.at),
    ] {
        out.push((format!("{path}.{field}"), value.clone()));
    }
}

/// The tree a builder form holds; a form without one holds the starting tree.
pub fn tree_of(form: &[(String, String)]) -> Node {
    let fields = Fields::new(form);
    if fields.get("0", "kind").is_empty() {
        return Node::starting();
    }
    fields.node("0", 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_form_gives_its_tree_in_number_order() {
        let tree = tree_of(&form(&[
            ("0.kind", "group"),
            ("0.join", "and"),
            ("0.10.kind", "segment"),
            ("0.10.segment", "7"),
            ("0.2.kind", "event"),
            ("0.2.name", "purchased"),
            ("0.2.performed", "no"),
            ("0.2~1.field", "price"),
            ("0.2~1.op", "gt"),
            ("0.2~1.value", "10"),
            ("0.3.kind", "not"),
            ("0.3.0.kind", "attribute"),
            ("0.3.0.field", "plan"),
            ("name", "ignored"),
        ]));
        let Node::Group { join, children } = tree else {
            panic!("a group")
        };
        assert_eq!(join, Join::All);
        assert_eq!(children.len(), 3);
        let Node::Event(event) = &children[0] else {
            panic!("the event first")
        };
        assert!(!event.performed);
        assert_eq!(event.filters.len(), 1);
        assert_eq!(event.filters[0].value, "10");
        assert!(matches!(&children[1], Node::Not(inner) if matches!(**inner, Node::Attribute(_))));
        assert_eq!(children[2], Node::Segment(Some(7)));
        assert_eq!(tree_of(&[]), Node::starting());
    }

    #[test]
    fn the_fields_of_a_tree_give_the_tree_back() {
        let definition = serde_json::json!({"and": [
            {"event": {"name": "purchased", "count": {"at_least": 3}, "within": {"days": 30},
                       "where": [{"field": "price", "op": "gt", "value": 20}]}},
            {"not": {"or": [{"segment": {"id": 4}},
                            {"attribute": {"field": "plan", "op": "after_ago", "value": {"weeks": 2}}}]}},
            {"event": {"name": "invited", "performed": false, "within": {"days": 14},
                       "require_profile_age": true}}
        ]});
        let tree = super::super::json::from_json(&definition).expect("a tree");
        assert_eq!(tree_of(&fields_of(&tree)), tree);
    }
}
