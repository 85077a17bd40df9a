//! Where a command's data is: the data dir, and the embedded SQLite file in it or a PostgreSQL
//! database; resolved from flags (with their environment variables) over the config file.

use std::path::PathBuf;

use anyhow::Context;
use herald_store::StoreHandle;
use herald_store_postgres::{PostgresOptions, PostgresStore};
use herald_store_sqlite::{SqliteOptions, SqliteStore, Synchronous};

use crate::cli::StoreArgs;
use crate::config::{FileConfig, Settings};

/// The data dir always exists: it holds the key file that seals workspace keys and the segment
/// engine's image, whichever database keeps the data.
#[derive(Debug, Clone)]
pub struct StoreLocation {
    pub data_dir: PathBuf,
    /// The PostgreSQL database, when one is given; otherwise the SQLite file in the data dir.
    pub postgres: Option<PostgresOptions>,
}

impl StoreLocation {
    /// Layers the flags over the config file's keys (`data_dir`, `database_url`,
    /// `database_schema`).
    pub fn resolve(file: &FileConfig, args: StoreArgs) -> anyhow::Result<Self> {
        let data_dir = args
            .data_dir
            .or_else(|| file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from("./herald-data"));
        let url = args.database_url.or_else(|| file.database_url.clone());
        let schema = args
            .database_schema
            .or_else(|| file.database_schema.clone());
        let postgres = match (url, schema) {
            (Some(url), schema) => Some(PostgresOptions {
                schema,
                ..PostgresOptions::new(url)
            }),
            (None, Some(_)) => {
                anyhow::bail!("database_schema is set without database_url: give both or neither")
            }
            (None, None) => None,
        };
        Ok(Self { data_dir, postgres })
    }

    /// Reads the config file at `config` and resolves the flags over it.
    pub fn load(config: Option<&std::path::Path>, args: StoreArgs) -> anyhow::Result<Self> {
        Self::resolve(&FileConfig::load(config)?, args)
    }

    /// Opens the store for a command (creating the data dir if needed).
    pub fn open(&self) -> anyhow::Result<StoreHandle> {
        self.open_with(Synchronous::Normal, false, false)
    }

    /// Opens the store for `herald serve`: the one server on its database, or one of several
    /// (`cluster`, PostgreSQL only); `synchronous` applies to SQLite.
    pub fn open_server(
        &self,
        synchronous: Synchronous,
        cluster: bool,
    ) -> anyhow::Result<StoreHandle> {
        self.open_with(synchronous, true, cluster)
    }

    fn open_with(
        &self,
        synchronous: Synchronous,
        node: bool,
        shared: bool,
    ) -> anyhow::Result<StoreHandle> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("cannot create the data dir {}", self.data_dir.display()))?;
        match &self.postgres {
            // The URL may hold a password, so the message names only the schema.
            Some(options) => PostgresStore::open_handle(&PostgresOptions {
                node,
                shared,
                ..options.clone()
            })
            .with_context(|| {
                format!(
                    "cannot open the PostgreSQL database (schema {})",
                    options.schema.as_deref().unwrap_or("default")
                )
            }),
            None => {
                let sqlite = SqliteOptions {
                    synchronous,
                    ..SqliteOptions::new(Settings::database_path(&self.data_dir))
                };
                SqliteStore::open_handle(&sqlite).with_context(|| {
                    format!("cannot open the database in {}", self.data_dir.display())
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_url_from_flags_or_the_file_chooses_postgresql() {
        let file = FileConfig {
            database_url: Some("postgres://file@db/herald".into()),
            database_schema: Some("from_file".into()),
            ..FileConfig::default()
        };
        let location = StoreLocation::resolve(&file, StoreArgs::default()).unwrap();
        let postgres = location.postgres.expect("PostgreSQL");
        assert_eq!(postgres.url, "postgres://file@db/herald");
        assert_eq!(postgres.schema.as_deref(), Some("from_file"));
        assert_eq!(location.data_dir, PathBuf::from("./herald-data"));

        let flags = StoreArgs {
            database_url: Some("host=flag dbname=herald".into()),
            ..StoreArgs::default()
        };
        let postgres = StoreLocation::resolve(&file, flags)
            .unwrap()
            .postgres
            .unwrap();
        assert_eq!(postgres.url, "host=flag dbname=herald", "the flag wins");
        assert_eq!(postgres.schema.as_deref(), Some("from_file"));

        let embedded = StoreLocation::resolve(&FileConfig::default(), StoreArgs::default());
        assert!(embedded.unwrap().postgres.is_none(), "SQLite by default");

        let schema_alone = FileConfig {
            database_schema: Some("lost".into()),
            ..FileConfig::default()
        };
        let error = StoreLocation::resolve(&schema_alone, StoreArgs::default()).unwrap_err();
        assert!(
            error.to_string().contains("without database_url"),
            "{error}"
        );
    }
}
