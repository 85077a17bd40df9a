//! Objects and relationships as pages show them: the rows of a profile's Relationships and of an
//! object's People, and the links between the two.

use herald_domain::WorkspaceId;
use herald_store::{ObjectRelationship, ObjectRow, PersonRelationship};
use serde_json::{Map, Value};

use crate::view::{PersonView, moment, pretty};

/// Attributes as name and value, in the stored order, each value as `pretty` shows it.
pub fn pairs(attributes: &Map<String, Value>) -> Vec<(String, String)> {
    attributes
        .iter()
        .map(|(name, value)| (name.clone(), pretty(value)))
        .collect()
}

/// A path segment with everything but unreserved characters percent-encoded, so that an id
/// with `/`, `?`, `#` or spaces stays one segment (axum decodes it back).
fn segment(text: &str) -> String {
    // `byte_serialize` writes a space as `+` (and a `+` as `%2B`), which a path reads literally.
    form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// The object's page in the UI.
pub fn object_path(workspace_id: WorkspaceId, object_type_id: &str, object_id: &str) -> String {
    format!(
        "/ui/w/{workspace_id}/objects/{}/{}",
        segment(object_type_id),
        segment(object_id)
    )
}

/// One of a person's relationships: the object, its attributes and the relationship's.
pub struct RelationshipView {
    pub object_type_id: String,
    pub object_id: String,
    pub link: String,
    pub object_attributes: Vec<(String, String)>,
    pub attributes: Vec<(String, String)>,
    pub since: String,
}

impl RelationshipView {
    pub fn new(workspace_id: WorkspaceId, relationship: &PersonRelationship) -> Self {
        let object = &relationship.object;
        Self {
            object_type_id: object.object_type_id.clone(),
            object_id: object.object_id.clone(),
            link: object_path(workspace_id, &object.object_type_id, &object.object_id),
            object_attributes: pairs(&object.attributes),
            attributes: pairs(&relationship.attributes),
            since: moment(relationship.created_at),
        }
    }
}

/// An object as its page shows it.
pub struct ObjectView {
    pub object_type_id: String,
    pub object_id: String,
    pub cio_object_id: String,
    pub attributes: Vec<(String, String)>,
    pub created: String,
    pub updated: String,
    /// This page's own path, for its pager.
    pub link: String,
}

impl From<&ObjectRow> for ObjectView {
    fn from(object: &ObjectRow) -> Self {
        Self {
            object_type_id: object.object_type_id.clone(),
            object_id: object.object_id.clone(),
            cio_object_id: object.cio_object_id.clone(),
            attributes: pairs(&object.attributes),
            created: moment(object.created_at),
            updated: moment(object.updated_at),
            link: object_path(
                object.workspace_id,
                &object.object_type_id,
                &object.object_id,
            ),
        }
    }
}

/// One of an object's people, with the relationship's attributes.
pub struct MemberView {
    pub person: PersonView,
    pub attributes: Vec<(String, String)>,
}

impl From<&ObjectRelationship> for MemberView {
    fn from(relationship: &ObjectRelationship) -> Self {
        Self {
            person: PersonView::from(&relationship.person),
            attributes: pairs(&relationship.attributes),
        }
    }
}

/// A page of rows read one past its size: the rows shown, and the cursor of the next page when
/// the extra row says there is one.
pub fn page_of<T, C>(
    mut rows: Vec<T>,
    size: usize,
    cursor: impl Fn(&T) -> C,
) -> (Vec<T>, Option<C>) {
    let next = (rows.len() > size).then(|| cursor(&rows[size - 1]));
    rows.truncate(size);
    (rows, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_id_stays_one_path_segment() {
        assert_eq!(
            object_path(WorkspaceId::new(3), "1", "a/b c+d?#é"),
            "/ui/w/3/objects/1/a%2Fb%20c%2Bd%3F%23%C3%A9"
        );
    }

    #[test]
    fn a_page_read_one_past_its_size_names_the_next() {
        assert_eq!(page_of(vec![1, 2, 3], 2, |n| *n), (vec![1, 2], Some(2)));
        assert_eq!(page_of(vec![1, 2], 2, |n| *n), (vec![1, 2], None));
    }
}
