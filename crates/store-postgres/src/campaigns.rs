//! Campaigns and the durable delivery queue: reads and writes `campaigns`, `runs`,
//! `enrollments` and `deliveries`, and reads `delivery_metrics` for a campaign's outcome counts.

use herald_domain::{CampaignId, PersonSeq, RunId, UnixSeconds, WorkspaceId};
use herald_store::codec::{self, corrupt_row, parse_json, to_json};
use herald_store::{
    CampaignRow, CampaignState, DeliveryQuery, DeliveryRow, DeliveryStatus, DueRun,
    PersonDeliveryQuery, RunRow, RunState, StoreChange, StoreError,
};
use postgres::Row;
use postgres::types::ToSql;

use crate::changes::notify;
use crate::pg::Pg;

const CAMPAIGN_COLUMNS: &str = "id, workspace_id, name, definition, state, created_at, updated_at";

/// A campaign selected as [`CAMPAIGN_COLUMNS`]; a definition that is not JSON or a state no
/// version wrote makes the row corrupt.
fn campaign_from_row(row: &Row) -> Result<CampaignRow, StoreError> {
    let id: i64 = row.get(0);
    let definition: String = row.get(3);
    let state: String = row.get(4);
    Ok(CampaignRow {
        id: CampaignId::new(id),
        workspace_id: row.get(1),
        name: row.get(2),
        definition: parse_json(&definition).map_err(|error| corrupt_row("campaigns", id, error))?,
        state: codec::stored_state("campaigns", id, &state)?,
        created_at: row.get(5),
        updated_at: row.get(6),
    })
}

const RUN_COLUMNS: &str = "id, workspace_id, campaign_id, person_seq, run_key, trigger, step, due_at, state, attempts, created_at, updated_at";

/// A run selected as [`RUN_COLUMNS`]; a trigger that is not JSON or a state no version wrote
/// makes the row corrupt.
fn run_from_row(row: &Row) -> Result<RunRow, StoreError> {
    let id: i64 = row.get(0);
    let trigger: String = row.get(5);
    let state: String = row.get(8);
    Ok(RunRow {
        id: RunId::new(id),
        workspace_id: row.get(1),
        campaign_id: row.get(2),
        person_seq: row.get(3),
        run_key: row.get(4),
        trigger: parse_json(&trigger).map_err(|error| corrupt_row("runs", id, error))?,
        step: row.get(6),
        due_at: row.get(7),
        state: codec::stored_state("runs", id, &state)?,
        attempts: row.get(9),
        created_at: row.get(10),
        updated_at: row.get(11),
    })
}

const DELIVERY_COLUMNS: &str = "id, workspace_id, campaign_id, run_id, person_seq, step, channel, status, content, idempotency_key, attempts, error, created_at, updated_at, sent_at";

/// A delivery selected as [`DELIVERY_COLUMNS`]; content that is not JSON or a status no version
/// wrote makes the row corrupt.
fn delivery_from_row(row: &Row) -> Result<DeliveryRow, StoreError> {
    let id: String = row.get(0);
    let status: String = row.get(7);
    let content: String = row.get(8);
    let content = parse_json(&content).map_err(|error| corrupt_row("deliveries", &id, error))?;
    let status = codec::stored_state("deliveries", &id, &status)?;
    Ok(DeliveryRow {
        id,
        workspace_id: row.get(1),
        campaign_id: row.get(2),
        run_id: row.get(3),
        person_seq: row.get(4),
        step: row.get(5),
        channel: row.get(6),
        status,
        content,
        idempotency_key: row.get(9),
        attempts: row.get(10),
        error: row.get(11),
        created_at: row.get(12),
        updated_at: row.get(13),
        sent_at: row.get(14),
    })
}

pub(crate) fn campaigns(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
) -> Result<Vec<CampaignRow>, StoreError> {
    let sql =
        format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE workspace_id = $1 ORDER BY id");
    pg.all(&sql, &[&workspace_id], campaign_from_row)
}

pub(crate) fn campaign(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    id: CampaignId,
) -> Result<Option<CampaignRow>, StoreError> {
    let sql =
        format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE workspace_id = $1 AND id = $2");
    pg.one(&sql, &[&workspace_id, &id], campaign_from_row)
}

pub(crate) fn campaign_days(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    campaign_id: CampaignId,
    since: UnixSeconds,
) -> Result<Vec<(i64, String, i64)>, StoreError> {
    // Deliveries are created when queued and settle within the retries' few hours: their
    // creation time bounds the index range, the outcome's time decides the day. Integer
    // division of the Unix seconds gives the same UTC days as SQLite's. SQLite answers each part
    // in the order of its groups; the explicit order gives the same answer here, where a hashed
    // grouping would come back in any order.
    let rows = pg.query(
        r#"SELECT day, outcome, count FROM (
             SELECT 1 AS part, created_at / 86400 AS day, 'triggered' AS outcome, COUNT(*) AS count
               FROM runs WHERE workspace_id = $1 AND campaign_id = $2 AND created_at >= $3 GROUP BY 2
             UNION ALL
             SELECT 2, sent_at / 86400, 'sent', COUNT(*) FROM deliveries
               WHERE workspace_id = $1 AND campaign_id = $2 AND created_at >= $3::BIGINT - 7 * 86400
                 AND sent_at >= $3 GROUP BY 2
             UNION ALL
             SELECT 3, updated_at / 86400, $4::TEXT, COUNT(*) FROM deliveries
               WHERE workspace_id = $1 AND campaign_id = $2 AND created_at >= $3::BIGINT - 7 * 86400
                 AND status = $4 AND updated_at >= $3 GROUP BY 2
             UNION ALL
             SELECT 4, m.timestamp / 86400, m.metric, COUNT(DISTINCT m.delivery_id)
               FROM delivery_metrics m JOIN deliveries d ON d.id = m.delivery_id
               WHERE d.workspace_id = $1 AND d.campaign_id = $2 AND d.created_at >= $3::BIGINT - 7 * 86400
                 AND m.timestamp >= $3 AND m.metric IN ('delivered', 'opened', 'clicked')
               GROUP BY 2, 3
           ) AS days
           ORDER BY part, day, outcome COLLATE "C""#,
        &[
            &workspace_id,
            &campaign_id,
            &since,
            &DeliveryStatus::Failed.as_str(),
        ],
    )?;
    Ok(rows
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect())
}

pub(crate) fn campaign_sent_since(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    campaign_id: CampaignId,
    since: UnixSeconds,
) -> Result<i64, StoreError> {
    // A delivery is created when it is queued and sent within moments, or within the retries'
    // few hours: its creation time bounds the index range, its send time decides.
    let row = pg.query_one(
        "SELECT COUNT(*) FROM deliveries
         WHERE workspace_id = $1 AND campaign_id = $2 AND created_at >= $3::BIGINT - 7 * 86400
           AND sent_at >= $3",
        &[&workspace_id, &campaign_id, &since],
    )?;
    Ok(row.get(0))
}

pub(crate) fn is_enrolled(
    pg: &mut Pg<'_>,
    campaign_id: CampaignId,
    person_seq: PersonSeq,
) -> Result<bool, StoreError> {
    let row = pg.query_one(
        "SELECT EXISTS (SELECT 1 FROM enrollments WHERE campaign_id = $1 AND person_seq = $2)",
        &[&campaign_id, &person_seq],
    )?;
    Ok(row.get(0))
}

pub(crate) fn due_runs(
    pg: &mut Pg<'_>,
    now: UnixSeconds,
    limit: i64,
    skip: &[RunId],
    after: Option<DueRun>,
) -> Result<Vec<DueRun>, StoreError> {
    // Runs of paused campaigns stay due and wait; the join keeps them out of the batch. The
    // runs being worked on are left out in SQL, so a busy dispatcher does not read and throw
    // away hundreds of rows each time it looks.
    // The states are written into the statement, not bound: the planner can use the partial
    // index of active runs (`runs_due`) only when the query implies its predicate, which a
    // parameter's value cannot do for a statement planned once.
    let active = RunState::Active.as_str();
    let running = CampaignState::Running.as_str();
    let sql = format!(
        "SELECT r.id, r.campaign_id, r.step, r.due_at FROM runs r
           JOIN campaigns c ON c.id = r.campaign_id
         WHERE r.state = '{active}' AND r.due_at <= $1 AND c.state = '{running}'
           AND (r.due_at, r.id) > ($4, $5)
           AND r.id <> ALL($3)
         ORDER BY r.due_at, r.id LIMIT $2"
    );
    // Without a run to go on after, the listing starts before every run.
    let (after_due, after_id) = after.map_or((i64::MIN, RunId::new(0)), |run| (run.due_at, run.id));
    pg.all(&sql, &[&now, &limit, &skip, &after_due, &after_id], |row| {
        Ok(DueRun {
            id: row.get(0),
            campaign_id: row.get(1),
            step: row.get(2),
            due_at: row.get(3),
        })
    })
}

pub(crate) fn run(pg: &mut Pg<'_>, id: RunId) -> Result<Option<RunRow>, StoreError> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1");
    pg.one(&sql, &[&id], run_from_row)
}

pub(crate) fn runs_of_campaign(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    campaign_id: CampaignId,
) -> Result<Vec<RunRow>, StoreError> {
    let sql = format!(
        "SELECT {RUN_COLUMNS} FROM runs WHERE workspace_id = $1 AND campaign_id = $2 ORDER BY id"
    );
    pg.all(&sql, &[&workspace_id, &campaign_id], run_from_row)
}

pub(crate) fn delivery(pg: &mut Pg<'_>, id: &str) -> Result<Option<DeliveryRow>, StoreError> {
    let sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = $1");
    pg.one(&sql, &[&id], delivery_from_row)
}

pub(crate) fn delivery_status(
    pg: &mut Pg<'_>,
    id: &str,
) -> Result<Option<DeliveryStatus>, StoreError> {
    pg.one(
        "SELECT status FROM deliveries WHERE id = $1",
        &[&id],
        |row| codec::stored_state("deliveries", id, &row.get::<_, String>(0)),
    )
}

pub(crate) fn delivery_of_step(
    pg: &mut Pg<'_>,
    run_id: RunId,
    step: i64,
) -> Result<Option<DeliveryRow>, StoreError> {
    let sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE run_id = $1 AND step = $2");
    pg.one(&sql, &[&run_id, &step], delivery_from_row)
}

pub(crate) fn deliveries(
    pg: &mut Pg<'_>,
    query: &DeliveryQuery,
) -> Result<Vec<DeliveryRow>, StoreError> {
    // Only the filters given are written into the statement: PostgreSQL may plan a prepared
    // statement once for all its parameters' values, and such a plan of `$2 IS NULL OR
    // campaign_id = $2` cannot use the campaign's or the person's index. Each combination of
    // filters is its own cached statement.
    let status = query.status.map(DeliveryStatus::as_str);
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&query.workspace_id, &query.limit];
    let mut filters = String::from("workspace_id = $1");
    let mut filter = |column: &str, value| {
        params.push(value);
        filters.push_str(&format!(" AND {column} = ${}", params.len()));
    };
    if let Some(campaign_id) = &query.campaign_id {
        filter("campaign_id", campaign_id);
    }
    if let Some(person_seq) = &query.person_seq {
        filter("person_seq", person_seq);
    }
    if let Some(status) = &status {
        filter("status", status);
    }
    // Ids are compared byte by byte, as SQLite does, whatever the database's collation.
    if let Some((time, id)) = &query.after {
        params.push(time);
        params.push(id);
        let (time, id) = (params.len() - 1, params.len());
        filters.push_str(&format!(
            r#" AND (created_at < ${time} OR (created_at = ${time} AND id COLLATE "C" < ${id}))"#
        ));
    }
    let sql = format!(
        r#"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE {filters}
           ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT $2"#
    );
    pg.all(&sql, &params, delivery_from_row)
}

pub(crate) fn person_deliveries(
    pg: &mut Pg<'_>,
    query: &PersonDeliveryQuery,
) -> Result<Vec<DeliveryRow>, StoreError> {
    // Absent bounds and cursor are the widest values rather than NULLs, so that one prepared
    // statement's plan stays a range of the person's index (`deliveries_by_person`); ids are
    // compared byte by byte, as SQLite does, whatever the database's collation.
    let sql = format!(
        r#"SELECT {DELIVERY_COLUMNS} FROM deliveries
           WHERE workspace_id = $1 AND person_seq = $2 AND created_at >= $3 AND created_at <= $4
             AND (created_at < $5 OR (created_at = $5 AND id COLLATE "C" < $6))
           ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT $7"#
    );
    let (cursor_time, cursor_id) = query.after.clone().unwrap_or((i64::MAX, String::new()));
    pg.all(
        &sql,
        &[
            &query.workspace_id,
            &query.person_seq,
            &query.created_from.unwrap_or(i64::MIN),
            &query.created_to.unwrap_or(i64::MAX),
            &cursor_time,
            &cursor_id,
            &query.limit,
        ],
        delivery_from_row,
    )
}

pub(crate) fn campaign_metrics(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    campaign_id: CampaignId,
) -> Result<Vec<(String, i64)>, StoreError> {
    // The explicit order is the one SQLite's grouping gives: metrics nobody lists by name are
    // shown in the order they come.
    let rows = pg.query(
        r#"SELECT name, count FROM (
             SELECT 1 AS part, 'triggered' AS name, COUNT(*) AS count FROM runs
               WHERE workspace_id = $1 AND campaign_id = $2
             UNION ALL
             SELECT 2, 'sent', COUNT(*) FROM deliveries
               WHERE workspace_id = $1 AND campaign_id = $2 AND sent_at IS NOT NULL
             UNION ALL
             SELECT 3, status, COUNT(*) FROM deliveries
               WHERE workspace_id = $1 AND campaign_id = $2 AND status IN ($3, $4)
               GROUP BY status
             UNION ALL
             SELECT 4, m.metric, COUNT(DISTINCT m.delivery_id) FROM delivery_metrics m
               JOIN deliveries d ON d.id = m.delivery_id
               WHERE d.workspace_id = $1 AND d.campaign_id = $2
               GROUP BY m.metric
           ) AS counts
           ORDER BY part, name COLLATE "C""#,
        &[
            &workspace_id,
            &campaign_id,
            &DeliveryStatus::Queued.as_str(),
            &DeliveryStatus::Failed.as_str(),
        ],
    )?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

pub(crate) fn insert_campaign(
    pg: &mut Pg<'_>,
    campaign: &CampaignRow,
) -> Result<CampaignRow, StoreError> {
    let row = pg.query_one(
        "INSERT INTO campaigns (workspace_id, name, definition, state, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        &[
            &campaign.workspace_id,
            &campaign.name,
            &to_json(&campaign.definition)?,
            &campaign.state.as_str(),
            &campaign.created_at,
            &campaign.updated_at,
        ],
    )?;
    let id = row.get(0);
    notify(
        pg,
        StoreChange::Campaign {
            workspace_id: campaign.workspace_id,
            id,
        },
    )?;
    Ok(CampaignRow {
        id,
        ..campaign.clone()
    })
}

pub(crate) fn update_campaign(pg: &mut Pg<'_>, campaign: &CampaignRow) -> Result<(), StoreError> {
    pg.execute(
        "UPDATE campaigns SET name = $3, definition = $4, state = $5, updated_at = $6
         WHERE workspace_id = $1 AND id = $2",
        &[
            &campaign.workspace_id,
            &campaign.id,
            &campaign.name,
            &to_json(&campaign.definition)?,
            &campaign.state.as_str(),
            &campaign.updated_at,
        ],
    )?;
    notify(
        pg,
        StoreChange::Campaign {
            workspace_id: campaign.workspace_id,
            id: campaign.id,
        },
    )
}

pub(crate) fn delete_campaign(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    id: CampaignId,
) -> Result<bool, StoreError> {
    let deleted = pg.execute(
        "DELETE FROM campaigns WHERE workspace_id = $1 AND id = $2",
        &[&workspace_id, &id],
    )?;
    if deleted > 0 {
        notify(pg, StoreChange::Campaign { workspace_id, id })?;
    }
    Ok(deleted > 0)
}

pub(crate) fn insert_run(pg: &mut Pg<'_>, run: &RunRow) -> Result<RunRow, StoreError> {
    let row = pg.query_one(
        "INSERT INTO runs (workspace_id, campaign_id, person_seq, run_key, trigger, step, due_at, state, attempts, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        &[
            &run.workspace_id,
            &run.campaign_id,
            &run.person_seq,
            &run.run_key,
            &to_json(&run.trigger)?,
            &run.step,
            &run.due_at,
            &run.state.as_str(),
            &run.attempts,
            &run.created_at,
            &run.updated_at,
        ],
    )?;
    Ok(RunRow {
        id: row.get(0),
        ..run.clone()
    })
}

pub(crate) fn forget_message(
    pg: &mut Pg<'_>,
    run_id: RunId,
    trigger: &serde_json::Value,
    delivery_id: &str,
    content: &serde_json::Value,
) -> Result<(), StoreError> {
    pg.execute(
        "UPDATE runs SET trigger = $2 WHERE id = $1",
        &[&run_id, &to_json(trigger)?],
    )?;
    pg.execute(
        "UPDATE deliveries SET content = $2 WHERE id = $1",
        &[&delivery_id, &to_json(content)?],
    )?;
    Ok(())
}

pub(crate) fn update_run(pg: &mut Pg<'_>, run: &RunRow) -> Result<(), StoreError> {
    pg.execute(
        // Only an active run moves on: one cancelled with its campaign while the dispatcher was
        // working on it stays cancelled.
        "UPDATE runs SET step = $2, due_at = $3, state = $4, attempts = $5, updated_at = $6
         WHERE id = $1 AND state = $7",
        &[
            &run.id,
            &run.step,
            &run.due_at,
            &run.state.as_str(),
            &run.attempts,
            &run.updated_at,
            &RunState::Active.as_str(),
        ],
    )?;
    Ok(())
}

pub(crate) fn enroll_once(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    campaign_id: CampaignId,
    person_seq: PersonSeq,
    now: UnixSeconds,
) -> Result<bool, StoreError> {
    // A second enrollment is answered, not raised: a unique violation would abort the writer's
    // transaction up to the job's savepoint, and the caller goes on after a `false`.
    let inserted = pg.execute(
        "INSERT INTO enrollments (workspace_id, campaign_id, person_seq, created_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
        &[&workspace_id, &campaign_id, &person_seq, &now],
    )?;
    Ok(inserted > 0)
}

pub(crate) fn cancel_runs(
    pg: &mut Pg<'_>,
    campaign_id: CampaignId,
    now: UnixSeconds,
) -> Result<u64, StoreError> {
    pg.execute(
        "UPDATE runs SET state = $3, updated_at = $2 WHERE campaign_id = $1 AND state = $4",
        &[
            &campaign_id,
            &now,
            &RunState::Cancelled.as_str(),
            &RunState::Active.as_str(),
        ],
    )
}

pub(crate) fn insert_delivery(pg: &mut Pg<'_>, delivery: &DeliveryRow) -> Result<(), StoreError> {
    pg.execute(
        "INSERT INTO deliveries (id, workspace_id, campaign_id, run_id, person_seq, step, channel, status, content, idempotency_key, attempts, error, created_at, updated_at, sent_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        &[
            &delivery.id,
            &delivery.workspace_id,
            &delivery.campaign_id,
            &delivery.run_id,
            &delivery.person_seq,
            &delivery.step,
            &delivery.channel,
            &delivery.status.as_str(),
            &to_json(&delivery.content)?,
            &delivery.idempotency_key,
            &delivery.attempts,
            &delivery.error,
            &delivery.created_at,
            &delivery.updated_at,
            &delivery.sent_at,
        ],
    )?;
    Ok(())
}

pub(crate) fn update_delivery(pg: &mut Pg<'_>, delivery: &DeliveryRow) -> Result<(), StoreError> {
    pg.execute(
        "UPDATE deliveries SET status = $2, attempts = $3, error = $4, updated_at = $5, sent_at = $6
         WHERE id = $1",
        &[
            &delivery.id,
            &delivery.status.as_str(),
            &delivery.attempts,
            &delivery.error,
            &delivery.updated_at,
            &delivery.sent_at,
        ],
    )?;
    Ok(())
}
