//! The numbers that name stored rows, as types: a workspace's, a segment's, a campaign's, a
//! run's and a person's (their seq) are each their own type, so that one cannot be handed where
//! another belongs. Each is the bare number on the wire (JSON), in the database and in text.

use serde::{Deserialize, Serialize};

/// Declares an id: a copyable newtype over the stored `i64`, serialized, displayed, debugged and
/// bound in SQL (with the `sqlite` and `postgres` features) exactly as the bare number. `Debug`
/// too, because messages that reach clients format lists of ids with it (`{users:?}`).
macro_rules! stored_id {
    (
        $(#[$meta:meta])*
        pub struct $name:ident;
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            /// The id stored as `id`.
            pub const fn new(id: i64) -> Self {
                Self(id)
            }

            /// The stored number.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                Self(id)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&self.0, f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                text.parse().map(Self)
            }
        }

        #[cfg(feature = "sqlite")]
        impl rusqlite::types::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(rusqlite::types::ToSqlOutput::from(self.0))
            }
        }

        #[cfg(feature = "sqlite")]
        impl rusqlite::types::FromSql for $name {
            fn column_result(
                value: rusqlite::types::ValueRef<'_>,
            ) -> rusqlite::types::FromSqlResult<Self> {
                i64::column_result(value).map(Self)
            }
        }

        #[cfg(feature = "postgres")]
        impl postgres_types::ToSql for $name {
            fn to_sql(
                &self,
                ty: &postgres_types::Type,
                out: &mut bytes::BytesMut,
            ) -> Result<postgres_types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
                self.0.to_sql(ty, out)
            }

            fn accepts(ty: &postgres_types::Type) -> bool {
                <i64 as postgres_types::ToSql>::accepts(ty)
            }

            postgres_types::to_sql_checked!();
        }

        #[cfg(feature = "postgres")]
        impl<'a> postgres_types::FromSql<'a> for $name {
            fn from_sql(
                ty: &postgres_types::Type,
                raw: &'a [u8],
            ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
                i64::from_sql(ty, raw).map(Self)
            }

            fn accepts(ty: &postgres_types::Type) -> bool {
                <i64 as postgres_types::FromSql>::accepts(ty)
            }
        }
    };
}

stored_id! {
    /// A workspace: every person, segment, campaign and message belongs to one.
    pub struct WorkspaceId;
}

stored_id! {
    /// A segment of a workspace's people.
    pub struct SegmentId;
}

stored_id! {
    /// A campaign of a workspace.
    pub struct CampaignId;
}

stored_id! {
    /// A person of a workspace: the store's dense internal number for them (`seq`), never
    /// reused; a merge keeps the primary's.
    pub struct PersonSeq;
}

stored_id! {
    /// A run: one person going through one campaign.
    pub struct RunId;
}

stored_id! {
    /// An object of a workspace (a company, an account): the store's internal number for it;
    /// its public identifiers are its type's id and its `object_id`.
    pub struct ObjectSeq;
}

#[cfg(test)]
mod tests {
    use super::WorkspaceId;

    /// An id is the bare number in JSON, both ways, and in text.
    #[test]
    fn ids_are_bare_numbers() {
        let id = WorkspaceId::new(42);
        assert_eq!(serde_json::to_string(&id).expect("serializes"), "42");
        assert_eq!(
            serde_json::from_str::<WorkspaceId>("42").expect("deserializes"),
            id
        );
        assert_eq!(id.to_string(), "42");
        assert_eq!(format!("{:?}", vec![id]), "[42]");
        assert_eq!("42".parse::<WorkspaceId>(), Ok(id));
        assert_eq!(id.get(), 42);
        assert_eq!(i64::from(id), 42);
    }
}
