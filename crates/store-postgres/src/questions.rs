//! Questions one node asks the other nodes' engines, and their answers
//! (`engine_questions`, `engine_answers`; migration 8). The store keeps the bodies as bytes and
//! announces each question and answer on the change channel, so that the nodes hear of them at
//! commit.

use herald_domain::UnixSeconds;
use herald_store::{StoreChange, StoreError};

use crate::changes::notify;
use crate::pg::Pg;

pub(crate) fn ask(
    pg: &mut Pg<'_>,
    node: &str,
    body: &[u8],
    now: UnixSeconds,
) -> Result<i64, StoreError> {
    let id: i64 = pg
        .query_one(
            "INSERT INTO engine_questions (node, asked_at, body) VALUES ($1, $2, $3) RETURNING id",
            &[&node, &now, &body],
        )?
        .get(0);
    notify(pg, StoreChange::Question { id })?;
    Ok(id)
}

pub(crate) fn answer(
    pg: &mut Pg<'_>,
    question: i64,
    node: &str,
    body: &[u8],
) -> Result<(), StoreError> {
    pg.execute(
        "INSERT INTO engine_answers (question, node, body) VALUES ($1, $2, $3)
         ON CONFLICT (question, node) DO NOTHING",
        &[&question, &node, &body],
    )?;
    notify(pg, StoreChange::Answer { question })
}

pub(crate) fn forget(pg: &mut Pg<'_>, before: UnixSeconds) -> Result<usize, StoreError> {
    // Answers first: the two tables are not tied by a foreign key, which Citus would refuse
    // between tables left on the coordinator and added after the distribution.
    pg.execute(
        "DELETE FROM engine_answers WHERE question IN
             (SELECT id FROM engine_questions WHERE asked_at < $1)",
        &[&before],
    )?;
    let removed = pg.execute(
        "DELETE FROM engine_questions WHERE asked_at < $1",
        &[&before],
    )?;
    Ok(usize::try_from(removed).unwrap_or(usize::MAX))
}

pub(crate) fn question(pg: &mut Pg<'_>, id: i64) -> Result<Option<(String, Vec<u8>)>, StoreError> {
    Ok(pg
        .query_opt(
            "SELECT node, body FROM engine_questions WHERE id = $1",
            &[&id],
        )?
        .map(|row| (row.get(0), row.get(1))))
}

pub(crate) fn answers(
    pg: &mut Pg<'_>,
    question: i64,
) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    Ok(pg
        .query(
            "SELECT node, body FROM engine_answers WHERE question = $1 ORDER BY node",
            &[&question],
        )?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect())
}
