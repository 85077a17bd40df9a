//! The builder's buttons: each names a change and the path of the node it applies to (as the
//! page laid the tree out), e.g. `add:0.1:event`, `remove:0.2`, `up:0.2`, `not:0.2`,
//! `move:0.2:0.1`, `add-filter:0.2`, `remove-filter:0.2~0`.

use super::{FilterNode, Node};

/// The indices from the root down to a node: `0.2.1` is `[2, 1]`.
fn indices(path: &str) -> Option<Vec<usize>> {
    let mut parts = path.split('.');
    if parts.next() != Some("0") {
        return None;
    }
    parts.map(|part| part.parse().ok()).collect()
}

fn children_mut(node: &mut Node) -> Option<&mut Vec<Node>> {
    match node {
        Node::Group { children, .. } => Some(children),
        _ => None,
    }
}

fn at<'n>(root: &'n mut Node, path: &[usize]) -> Option<&'n mut Node> {
    let mut node = root;
    for index in path {
        node = match node {
            Node::Group { children, .. } => children.get_mut(*index)?,
            Node::Not(child) if *index == 0 => child.as_mut(),
            _ => return None,
        };
    }
    Some(node)
}

/// Takes the node at `path` out of its group (a Not around it goes with it); `None` when the
/// path names the root or nothing.
fn take(root: &mut Node, path: &[usize]) -> Option<Node> {
    let (last, parent_path) = path.split_last()?;
    let parent = at(root, parent_path)?;
    match parent {
        Node::Group { children, .. } if *last < children.len() => Some(children.remove(*last)),
        Node::Not(_) => take(root, parent_path),
        _ => None,
    }
}

/// Applies a button's change to the tree; an unknown or stale change leaves it as it is.
/// `move_to` is the target group chosen beside a `move` button.
pub fn apply(root: &mut Node, op: &str, move_to: &str) {
    let mut parts = op.splitn(3, ':');
    let (name, path) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let extra = parts.next().unwrap_or_default();
    if let Some((event, filter)) = path.split_once('~') {
        if name == "remove-filter"
            && let (Some(event), Ok(filter)) = (indices(event), filter.parse::<usize>())
            && let Some(Node::Event(event)) = at(root, &event)
            && filter < event.filters.len()
        {
            event.filters.remove(filter);
        }
        return;
    }
    let Some(path) = indices(path) else {
        return;
    };
    match name {
        "add" => {
            if let (Some(node), Some(children)) =
                (Node::empty(extra), at(root, &path).and_then(children_mut))
            {
                children.push(node);
            }
        }
        "remove" => {
            take(root, &path);
        }
        "up" | "down" => {
            let Some((last, parent)) = path.split_last() else {
                return;
            };
            if let Some(children) = at(root, parent).and_then(children_mut) {
                let other = if name == "up" {
                    last.checked_sub(1)
                } else {
                    Some(last + 1)
                };
                if let Some(other) = other.filter(|other| *other < children.len()) {
                    children.swap(*last, other);
                }
            }
        }
        "not" => {
            if let Some(node) = at(root, &path) {
                let inner = std::mem::replace(node, Node::Segment(None));
                *node = Node::Not(Box::new(inner));
            }
        }
        "unnot" => {
            if let Some(node) = at(root, &path)
                && let Node::Not(inner) = node
            {
                let inner = std::mem::replace(inner.as_mut(), Node::Segment(None));
                *node = inner;
            }
        }
        "move" => {
            let Some(target) = indices(move_to) else {
                return;
            };
            // Not into itself; the target must be a group. Appending to the target first leaves
            // every existing path as it was, so the node is then taken from where it was.
            if target.starts_with(&path) || at(root, &target).and_then(children_mut).is_none() {
                return;
            }
            let Some(node) = at(root, &path).map(|node| node.clone()) else {
                return;
            };
            let whole = wrapping_not(root, &path);
            let moved = match whole {
                Some(not_path) => at(root, &not_path).map(|n| n.clone()).unwrap_or(node),
                None => node,
            };
            if let Some(children) = at(root, &target).and_then(children_mut) {
                children.push(moved);
            }
            take(root, &path);
        }
        "add-filter" => {
            if let Some(Node::Event(event)) = at(root, &path) {
                event.filters.push(FilterNode::default());
            }
        }
        _ => {}
    }
}

/// The path of the Not that wraps the node at `path` (the outermost of several), if any.
fn wrapping_not(root: &mut Node, path: &[usize]) -> Option<Vec<usize>> {
    let mut found = None;
    let mut current = path.to_vec();
    while let Some((_, parent)) = current.split_last() {
        let parent = parent.to_vec();
        if matches!(at(root, &parent), Some(Node::Not(_))) {
            found = Some(parent.clone());
            current = parent;
        } else {
            break;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::super::{EventNode, Join};
    use super::*;

    fn event(name: &str) -> Node {
        Node::Event(EventNode {
            name: name.into(),
            ..EventNode::default()
        })
    }

    fn names(node: &Node) -> String {
        match node {
            Node::Group { join, children } => format!(
                "{}({})",
                if *join == Join::All { "all" } else { "any" },
                children.iter().map(names).collect::<Vec<_>>().join(",")
            ),
            Node::Not(child) => format!("not {}", names(child)),
            Node::Event(event) => event.name.clone(),
            Node::Attribute(_) => "attr".into(),
            Node::Segment(_) => "seg".into(),
        }
    }

    #[test]
    fn buttons_add_remove_reorder_negate_and_move() {
        let mut tree = Node::Group {
            join: Join::All,
            children: vec![event("a"), event("b")],
        };
        apply(&mut tree, "add:0:group", "");
        assert_eq!(names(&tree), "all(a,b,any())");
        apply(&mut tree, "down:0.0", "");
        assert_eq!(names(&tree), "all(b,a,any())");
        apply(&mut tree, "up:0.0", "");
        assert_eq!(names(&tree), "all(b,a,any())", "the first cannot go up");
        apply(&mut tree, "not:0.1", "");
        assert_eq!(names(&tree), "all(b,not a,any())");
        // Moving the negated condition into the group takes its Not along.
        apply(&mut tree, "move:0.1.0", "0.2");
        assert_eq!(names(&tree), "all(b,any(,not a))");
        apply(&mut tree, "unnot:0.1.1", "");
        assert_eq!(names(&tree), "all(b,any(,a))");
        apply(&mut tree, "move:0.1", "0.1.0");
        assert_eq!(
            names(&tree),
            "all(b,any(,a))",
            "a group cannot move into itself"
        );
        apply(&mut tree, "add-filter:0.1.1", "");
        apply(&mut tree, "add-filter:0.1.1", "");
        apply(&mut tree, "remove-filter:0.1.1~0", "");
        let Node::Group { children, .. } = &tree else {
            panic!()
        };
        let Node::Group { children, .. } = &children[1] else {
            panic!()
        };
        assert!(matches!(&children[1], Node::Event(e) if e.filters.len() == 1));
        apply(&mut tree, "remove:0.0", "");
        assert_eq!(names(&tree), "all(any(,a))");
        apply(&mut tree, "remove:0", "");
        apply(&mut tree, "nonsense:0.9", "");
        assert_eq!(
            names(&tree),
            "all(any(,a))",
            "the root stays; stale paths change nothing"
        );
    }
}
