//! The tree laid out for the template: one item per group opening and closing, Not, and
//! condition, in page order, each with its path (for field names and buttons), its number as
//! people read it ("2.1"), and what its buttons may do (move up or down, into which groups).

use super::{EventNode, FilterNode, Join, Node};

/// One line of the builder.
pub struct Item {
    /// `open`, `close`, `not-open`, `not-close`, `event`, `attribute` or `segment`.
    pub kind: &'static str,
    pub path: String,
    pub number: String,
    pub depth: usize,
    pub root: bool,
    pub join_any: bool,
    pub event: EventNode,
    /// The event's data filters with their paths.
    pub filters: Vec<(String, FilterNode)>,
    pub filter: FilterNode,
    pub segment: Option<i64>,
    pub can_up: bool,
    pub can_down: bool,
    /// The groups it can move into: (path, name).
    pub targets: Vec<(String, String)>,
}

impl Item {
    fn new(kind: &'static str, path: &str, number: &str, depth: usize) -> Self {
        Self {
            kind,
            path: path.to_owned(),
            number: number.to_owned(),
            depth: depth.min(8),
            root: path == "0",
            join_any: false,
            event: EventNode::default(),
            filters: Vec::new(),
            filter: FilterNode::default(),
            segment: None,
            can_up: false,
            can_down: false,
            targets: Vec::new(),
        }
    }

    /// Whether this segment condition names segment `id`.
    pub fn refers_to(&self, id: impl std::borrow::Borrow<herald_domain::SegmentId>) -> bool {
        self.segment == Some(id.borrow().get())
    }

    /// What the page calls it.
    pub fn title(&self) -> String {
        if self.number.is_empty() {
            "the definition".to_owned()
        } else {
            format!("condition {}", self.number)
        }
    }
}

/// Every group of the tree: (path, name), the root first.
fn groups(node: &Node, path: &str, number: &str, out: &mut Vec<(String, String)>) {
    match node {
        Node::Group { children, .. } => {
            let name = if number.is_empty() {
                "the top group".to_owned()
            } else {
                format!("group {number}")
            };
            out.push((path.to_owned(), name));
            for (index, child) in children.iter().enumerate() {
                groups(
                    child,
                    &format!("{path}.{index}"),
                    &child_number(number, index),
                    out,
                );
            }
        }
        Node::Not(child) => groups(child, &format!("{path}.0"), number, out),
        _ => {}
    }
}

fn child_number(parent: &str, index: usize) -> String {
    if parent.is_empty() {
        (index + 1).to_string()
    } else {
        format!("{parent}.{}", index + 1)
    }
}

/// Lays the tree out.
pub fn items(root: &Node) -> Vec<Item> {
    let mut all_groups = Vec::new();
    groups(root, "0", "", &mut all_groups);
    let mut out = Vec::new();
    walk(root, "0", "", 0, (false, false), &all_groups, &mut out);
    out
}

/// The groups a node at `path` may move into: not itself or inside itself, not its own group.
fn targets(path: &str, parent: &str, all: &[(String, String)]) -> Vec<(String, String)> {
    all.iter()
        .filter(|(group, _)| {
            group != parent && group != path && !group.starts_with(&format!("{path}."))
        })
        .cloned()
        .collect()
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('.').map_or("", |(parent, _)| parent)
}

fn walk(
    node: &Node,
    path: &str,
    number: &str,
    depth: usize,
    (can_up, can_down): (bool, bool),
    all: &[(String, String)],
    out: &mut Vec<Item>,
) {
    // A Not's condition moves with it: its own buttons act on the Not's place.
    let item = |kind: &'static str| {
        let mut item = Item::new(kind, path, number, depth);
        item.can_up = can_up;
        item.can_down = can_down;
        if path != "0" {
            item.targets = targets(path, parent_of(path), all);
        }
        item
    };
    match node {
        Node::Group { join, children } => {
            let mut open = item("open");
            open.join_any = *join == Join::Any;
            out.push(open);
            let last = children.len().saturating_sub(1);
            for (index, child) in children.iter().enumerate() {
                walk(
                    child,
                    &format!("{path}.{index}"),
                    &child_number(number, index),
                    depth + 1,
                    (index > 0, index < last),
                    all,
                    out,
                );
            }
            out.push(Item::new("close", path, number, depth));
        }
        Node::Not(child) => {
            out.push(item("not-open"));
            walk(
                child,
                &format!("{path}.0"),
                number,
                depth + 1,
                (false, false),
                all,
                out,
            );
            out.push(Item::new("not-close", path, number, depth));
        }
        Node::Event(event) => {
            let mut line = item("event");
            line.event = event.clone();
            line.filters = event
                .filters
                .iter()
                .enumerate()
                .map(|(index, filter)| (format!("{path}~{index}"), filter.clone()))
                .collect();
            out.push(line);
        }
        Node::Attribute(filter) => {
            let mut line = item("attribute");
            line.filter = filter.clone();
            out.push(line);
        }
        Node::Segment(id) => {
            let mut line = item("segment");
            line.segment = *id;
            out.push(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_follow_the_page_with_numbers_and_move_targets() {
        let tree = Node::Group {
            join: Join::All,
            children: vec![
                Node::Event(EventNode::default()),
                Node::Group {
                    join: Join::Any,
                    children: vec![Node::Not(Box::new(Node::Segment(Some(3))))],
                },
            ],
        };
        let items = items(&tree);
        let kinds: Vec<(&str, &str, &str)> = items
            .iter()
            .map(|i| (i.kind, i.path.as_str(), i.number.as_str()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("open", "0", ""),
                ("event", "0.0", "1"),
                ("open", "0.1", "2"),
                ("not-open", "0.1.0", "2.1"),
                ("segment", "0.1.0.0", "2.1"),
                ("not-close", "0.1.0", "2.1"),
                ("close", "0.1", "2"),
                ("close", "0", ""),
            ]
        );
        assert!(!items[1].can_up && items[1].can_down);
        assert_eq!(
            items[1].targets,
            vec![("0.1".to_owned(), "group 2".to_owned())]
        );
        assert_eq!(
            items[2].targets,
            Vec::<(String, String)>::new(),
            "a group's only other group is its own parent"
        );
        assert_eq!(
            items[3].targets,
            vec![("0".to_owned(), "the top group".to_owned())]
        );
    }
}
