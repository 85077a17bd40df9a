//! Opening connections: the URL's server and database, and the schema Herald's tables live in.

use herald_store::StoreError;
use postgres::{Client, NoTls};

use crate::PostgresOptions;

/// Opens a connection whose `search_path` is the options' schema, if they name one.
pub(crate) fn connect(options: &PostgresOptions) -> Result<Client, StoreError> {
    let mut config: postgres::Config = options.url.parse().map_err(|error| {
        StoreError::Backend(format!("the database URL cannot be read: {error}"))
    })?;
    config.application_name("herald");
    // An address that drops packets would otherwise hold a start (or a command) forever.
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(std::time::Duration::from_secs(10));
    }
    if let Some(schema) = &options.schema {
        check_schema_name(schema)?;
        config.options(&format!("-c search_path={schema}"));
    }
    config
        .connect(NoTls)
        .map_err(|error| StoreError::Backend(format!("cannot connect to PostgreSQL: {error}")))
}

/// A schema name goes into the connection's options and into `CREATE SCHEMA` unquoted, so only
/// plain lowercase identifiers are taken.
pub(crate) fn check_schema_name(schema: &str) -> Result<(), StoreError> {
    let plain = schema
        .chars()
        .enumerate()
        .all(|(at, c)| c == '_' || c.is_ascii_lowercase() || (at > 0 && c.is_ascii_digit()));
    if plain && !schema.is_empty() && schema.len() <= 63 {
        Ok(())
    } else {
        Err(StoreError::Backend(format!(
            "the schema name {schema:?} must be lowercase letters, digits and underscores"
        )))
    }
}
