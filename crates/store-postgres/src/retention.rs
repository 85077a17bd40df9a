//! One step of the retention setting on PostgreSQL: the old events of a range of activities.

use herald_domain::{PersonSeq, UnixSeconds, WorkspaceId};
use herald_store::{DroppedEvents, StoreError};

use crate::pg::Pg;

/// The kinds of activity that are events, the ones retention drops.
const EVENT_KINDS: &str = "kind IN ('event', 'page', 'screen')";

pub(crate) fn drop_events_before(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    before: UnixSeconds,
    after_seq: i64,
    until_seq: i64,
) -> Result<DroppedEvents, StoreError> {
    // One statement deletes and names the people, so the range is read once.
    let rows = pg.query(
        &format!(
            "WITH dropped AS (
                 DELETE FROM activities
                 WHERE workspace_id = $1 AND seq > $2 AND seq <= $3 AND {EVENT_KINDS}
                   AND timestamp < $4
                 RETURNING person_seq)
             SELECT person_seq, count(*) FROM dropped GROUP BY person_seq"
        ),
        &[&workspace_id, &after_seq, &until_seq, &before],
    )?;
    let mut deleted = 0_u64;
    let mut people: Vec<PersonSeq> = Vec::new();
    for row in &rows {
        let count: i64 = row.get(1);
        deleted += count as u64;
        if let Some(person) = row.get::<_, Option<PersonSeq>>(0) {
            people.push(person);
        }
    }
    people.sort_unstable();
    let mut kept = Vec::with_capacity(people.len());
    let earliest = format!(
        "SELECT MIN(timestamp) FROM activities
         WHERE workspace_id = $1 AND person_seq = $2 AND {EVENT_KINDS}"
    );
    for person in people {
        let first: Option<UnixSeconds> = pg.query_one(&earliest, &[&workspace_id, &person])?.get(0);
        kept.push((person, first));
    }
    let more = pg
        .query_opt(
            "SELECT 1 FROM activities WHERE workspace_id = $1 AND seq > $2 LIMIT 1",
            &[&workspace_id, &until_seq],
        )?
        .is_some();
    Ok(DroppedEvents {
        deleted,
        people: kept,
        more,
    })
}
