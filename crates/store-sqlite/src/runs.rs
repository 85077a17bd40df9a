//! Campaign runs, enrollments and deliveries: the SQL of the durable delivery queue.

use herald_domain::{CampaignId, PersonSeq, RunId, UnixSeconds, WorkspaceId};
use herald_store::codec::stored_state;
use herald_store::{
    CampaignState, DeliveryQuery, DeliveryRow, DeliveryStatus, DueRun, PersonDeliveryQuery, RunRow,
    RunState, StoreError,
};
use rusqlite::{Connection, Row, params};
use serde_json::Value;

use crate::queries::corrupt_row;
use crate::queries::{Queries, backend, execute, parse_json, to_json};

/// The columns of a run as `run_from_row` reads them; a macro, so that the statements the
/// dispatcher runs for every message are literals rather than strings formatted each time.
macro_rules! run_columns {
    () => {
        "id, workspace_id, campaign_id, person_seq, run_key, trigger, step, due_at, state, attempts, created_at, updated_at"
    };
}
const RUN_COLUMNS: &str = run_columns!();

/// A run as read, with its trigger's JSON and its state's name, both checked by `finish_run`.
type StoredRun = (RunRow, String, String);

fn run_from_row(row: &Row<'_>) -> rusqlite::Result<StoredRun> {
    Ok((
        RunRow {
            id: row.get(0)?,
            workspace_id: row.get(1)?,
            campaign_id: row.get(2)?,
            person_seq: row.get(3)?,
            run_key: row.get(4)?,
            trigger: Value::Null,
            step: row.get(6)?,
            due_at: row.get(7)?,
            state: RunState::Active,
            attempts: row.get(9)?,
            created_at: row.get(10)?,
            updated_at: row.get(11)?,
        },
        row.get(5)?,
        row.get(8)?,
    ))
}

fn finish_run((mut run, trigger, state): StoredRun) -> Result<RunRow, StoreError> {
    run.trigger = parse_json(&trigger).map_err(|error| corrupt_row("runs", run.id, error))?;
    run.state = stored_state("runs", run.id, &state)?;
    Ok(run)
}

/// The columns of a delivery as `delivery_from_row` reads them (a macro, as `run_columns!`).
macro_rules! delivery_columns {
    () => {
        "id, workspace_id, campaign_id, run_id, person_seq, step, channel, status, content, idempotency_key, attempts, error, created_at, updated_at, sent_at"
    };
}
const DELIVERY_COLUMNS: &str = delivery_columns!();

/// A delivery as read, with its content's JSON and its status's name, both checked by
/// `finish_delivery`.
type StoredDelivery = (DeliveryRow, String, String);

fn delivery_from_row(row: &Row<'_>) -> rusqlite::Result<StoredDelivery> {
    Ok((
        DeliveryRow {
            id: row.get(0)?,
            workspace_id: row.get(1)?,
            campaign_id: row.get(2)?,
            run_id: row.get(3)?,
            person_seq: row.get(4)?,
            step: row.get(5)?,
            channel: row.get(6)?,
            status: DeliveryStatus::Queued,
            content: Value::Null,
            idempotency_key: row.get(9)?,
            attempts: row.get(10)?,
            error: row.get(11)?,
            created_at: row.get(12)?,
            updated_at: row.get(13)?,
            sent_at: row.get(14)?,
        },
        row.get(8)?,
        row.get(7)?,
    ))
}

fn finish_delivery(
    (mut delivery, content, status): StoredDelivery,
) -> Result<DeliveryRow, StoreError> {
    delivery.content =
        parse_json(&content).map_err(|error| corrupt_row("deliveries", &delivery.id, error))?;
    delivery.status = stored_state("deliveries", &delivery.id, &status)?;
    Ok(delivery)
}

/// The statement of [`Queries::due_runs_query`], made once.
static DUE_RUNS: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Active runs due by `?1` of running campaigns, in the queue's order (due time, then id),
/// after the run `(?4, ?5)` and without the runs of `?3` (a JSON array of ids), at most `?2`.
///
/// Runs of paused campaigns stay due and wait; the join keeps them out of the batch. The runs
/// being worked on are left out in SQL, so a busy dispatcher does not read and throw away
/// hundreds of rows each time it looks. The states are written into the statement, not bound:
/// only then can SQLite use the partial index of active runs (`runs_due`).
///
/// "After the run" is two parts merged in order, the rest of its second and the seconds after
/// it: SQLite seeks the index by a row value's first column only, so `(due_at, id) > (?4, ?5)`
/// stepped over every active run of the cursor's second before it (the runs in flight), and a
/// burst's runs share their second.
fn due_runs_sql() -> String {
    let active = RunState::Active.as_str();
    let running = CampaignState::Running.as_str();
    let part = |after: &str| {
        format!(
            "SELECT r.id, r.campaign_id, r.step, r.due_at FROM runs r
               JOIN campaigns c ON c.id = r.campaign_id
             WHERE r.state = '{active}' AND {after} AND r.due_at <= ?1 AND c.state = '{running}'
               AND r.id NOT IN (SELECT value FROM json_each(?3))"
        )
    };
    format!(
        "{} UNION ALL {} ORDER BY 4, 1 LIMIT ?2",
        part("r.due_at = ?4 AND r.id > ?5"),
        part("r.due_at > ?4")
    )
}

impl Queries<'_> {
    pub(crate) fn due_runs_query(
        &self,
        now: UnixSeconds,
        limit: i64,
        skip: &[RunId],
        after: Option<DueRun>,
    ) -> Result<Vec<DueRun>, StoreError> {
        let sql = DUE_RUNS.get_or_init(due_runs_sql);
        let skip = to_json(&skip)?;
        // Without a run to go on after, the listing starts before every run.
        let (after_due, after_id) = after.map_or((i64::MIN, 0), |run| (run.due_at, run.id.get()));
        self.all(
            sql,
            params![now, limit, skip, after_due, after_id],
            |row| {
                Ok(DueRun {
                    id: row.get(0)?,
                    campaign_id: row.get(1)?,
                    step: row.get(2)?,
                    due_at: row.get(3)?,
                })
            },
            Ok,
        )
    }

    pub(crate) fn run_query(&self, id: RunId) -> Result<Option<RunRow>, StoreError> {
        let sql = concat!("SELECT ", run_columns!(), " FROM runs WHERE id = ?1");
        self.one(sql, [id], run_from_row, finish_run)
    }

    pub(crate) fn runs_of_campaign_query(
        &self,
        workspace_id: WorkspaceId,
        campaign_id: CampaignId,
    ) -> Result<Vec<RunRow>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE workspace_id = ?1 AND campaign_id = ?2 ORDER BY id"
        );
        self.all(
            &sql,
            params![workspace_id, campaign_id],
            run_from_row,
            finish_run,
        )
    }

    pub(crate) fn delivery_query(&self, id: &str) -> Result<Option<DeliveryRow>, StoreError> {
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = ?1");
        self.one(&sql, [id], delivery_from_row, finish_delivery)
    }

    pub(crate) fn delivery_status_query(
        &self,
        id: &str,
    ) -> Result<Option<DeliveryStatus>, StoreError> {
        self.one(
            "SELECT status FROM deliveries WHERE id = ?1",
            [id],
            |row| row.get::<_, String>(0),
            |status| stored_state("deliveries", id, &status),
        )
    }

    pub(crate) fn delivery_of_step_query(
        &self,
        run_id: RunId,
        step: i64,
    ) -> Result<Option<DeliveryRow>, StoreError> {
        let sql = concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM deliveries WHERE run_id = ?1 AND step = ?2"
        );
        self.one(
            sql,
            params![run_id, step],
            delivery_from_row,
            finish_delivery,
        )
    }

    pub(crate) fn deliveries_query(
        &self,
        query: &DeliveryQuery,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        // NULL filters match everything, so one cached statement serves every combination.
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries
             WHERE workspace_id = ?1 AND (?2 IS NULL OR campaign_id = ?2) AND (?3 IS NULL OR person_seq = ?3)
               AND (?5 IS NULL OR status = ?5)
               AND (created_at < ?6 OR (created_at = ?6 AND id < ?7))
             ORDER BY created_at DESC, id DESC LIMIT ?4"
        );
        // No cursor is the widest one rather than NULL, as in the person's list below.
        let (cursor_time, cursor_id) = query.after.clone().unwrap_or((i64::MAX, String::new()));
        self.all(
            &sql,
            params![
                query.workspace_id,
                query.campaign_id,
                query.person_seq,
                query.limit,
                query.status.map(DeliveryStatus::as_str),
                cursor_time,
                cursor_id
            ],
            delivery_from_row,
            finish_delivery,
        )
    }

    pub(crate) fn person_deliveries_query(
        &self,
        query: &PersonDeliveryQuery,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        // Absent bounds and cursor are the widest values rather than NULLs, so the statement
        // stays one range of the person's index (`deliveries_by_person`).
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries
             WHERE workspace_id = ?1 AND person_seq = ?2 AND created_at >= ?3 AND created_at <= ?4
               AND (created_at < ?5 OR (created_at = ?5 AND id < ?6))
             ORDER BY created_at DESC, id DESC LIMIT ?7"
        );
        let (cursor_time, cursor_id) = query.after.clone().unwrap_or((i64::MAX, String::new()));
        self.all(
            &sql,
            params![
                query.workspace_id,
                query.person_seq,
                query.created_from.unwrap_or(i64::MIN),
                query.created_to.unwrap_or(i64::MAX),
                cursor_time,
                cursor_id,
                query.limit
            ],
            delivery_from_row,
            finish_delivery,
        )
    }

    pub(crate) fn campaign_days_query(
        &self,
        workspace_id: WorkspaceId,
        campaign_id: CampaignId,
        since: UnixSeconds,
    ) -> Result<Vec<(i64, String, i64)>, StoreError> {
        // Deliveries are created when queued and settle within the retries' few hours: their
        // creation time bounds the index range, the outcome's time decides the day.
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT created_at / 86400, 'triggered', COUNT(*) FROM runs
                   WHERE campaign_id = ?2 AND created_at >= ?3 GROUP BY 1
                 UNION ALL
                 SELECT sent_at / 86400, 'sent', COUNT(*) FROM deliveries
                   WHERE workspace_id = ?1 AND campaign_id = ?2 AND created_at >= ?3 - 7 * 86400
                     AND sent_at >= ?3 GROUP BY 1
                 UNION ALL
                 SELECT updated_at / 86400, ?4, COUNT(*) FROM deliveries
                   WHERE workspace_id = ?1 AND campaign_id = ?2 AND created_at >= ?3 - 7 * 86400
                     AND status = ?4 AND updated_at >= ?3 GROUP BY 1
                 UNION ALL
                 SELECT m.timestamp / 86400, m.metric, COUNT(DISTINCT m.delivery_id)
                   FROM delivery_metrics m JOIN deliveries d ON d.id = m.delivery_id
                   WHERE d.workspace_id = ?1 AND d.campaign_id = ?2 AND d.created_at >= ?3 - 7 * 86400
                     AND m.timestamp >= ?3 AND m.metric IN ('delivered', 'opened', 'clicked')
                   GROUP BY 1, 2",
            )
            .map_err(backend)?;
        let rows = statement
            .query_map(
                params![
                    workspace_id,
                    campaign_id,
                    since,
                    DeliveryStatus::Failed.as_str()
                ],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    pub(crate) fn campaign_metrics_query(
        &self,
        workspace_id: WorkspaceId,
        campaign_id: CampaignId,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let mut counts = Vec::new();
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT 'triggered', COUNT(*) FROM runs WHERE campaign_id = ?2
                 UNION ALL
                 SELECT 'sent', COUNT(*) FROM deliveries
                   WHERE workspace_id = ?1 AND campaign_id = ?2 AND sent_at IS NOT NULL
                 UNION ALL
                 SELECT status, COUNT(*) FROM deliveries
                   WHERE workspace_id = ?1 AND campaign_id = ?2 AND status IN (?3, ?4)
                   GROUP BY status
                 UNION ALL
                 SELECT m.metric, COUNT(DISTINCT m.delivery_id) FROM delivery_metrics m
                   JOIN deliveries d ON d.id = m.delivery_id
                   WHERE d.workspace_id = ?1 AND d.campaign_id = ?2
                   GROUP BY m.metric",
            )
            .map_err(backend)?;
        let rows = statement
            .query_map(
                params![
                    workspace_id,
                    campaign_id,
                    DeliveryStatus::Queued.as_str(),
                    DeliveryStatus::Failed.as_str()
                ],
                |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)),
            )
            .map_err(backend)?;
        for row in rows {
            counts.push(row.map_err(backend)?);
        }
        Ok(counts)
    }
}

pub(crate) fn insert_run(connection: &Connection, run: &RunRow) -> Result<RunRow, StoreError> {
    execute(
        connection,
        "INSERT INTO runs (workspace_id, campaign_id, person_seq, run_key, trigger, step, due_at, state, attempts, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            run.workspace_id,
            run.campaign_id,
            run.person_seq,
            run.run_key,
            to_json(&run.trigger)?,
            run.step,
            run.due_at,
            run.state.as_str(),
            run.attempts,
            run.created_at,
            run.updated_at
        ],
    )?;
    Ok(RunRow {
        id: RunId::new(connection.last_insert_rowid()),
        ..run.clone()
    })
}

pub(crate) fn forget_message(
    connection: &Connection,
    run_id: RunId,
    trigger: &Value,
    delivery_id: &str,
    content: &Value,
) -> Result<(), StoreError> {
    execute(
        connection,
        "UPDATE runs SET trigger = ?2 WHERE id = ?1",
        params![run_id, to_json(trigger)?],
    )?;
    execute(
        connection,
        "UPDATE deliveries SET content = ?2 WHERE id = ?1",
        params![delivery_id, to_json(content)?],
    )?;
    Ok(())
}

pub(crate) fn update_run(connection: &Connection, run: &RunRow) -> Result<(), StoreError> {
    execute(
        connection,
        // Only an active run moves on: one cancelled with its campaign while the dispatcher was
        // working on it stays cancelled.
        "UPDATE runs SET step = ?2, due_at = ?3, state = ?4, attempts = ?5, updated_at = ?6
         WHERE id = ?1 AND state = ?7",
        params![
            run.id,
            run.step,
            run.due_at,
            run.state.as_str(),
            run.attempts,
            run.updated_at,
            RunState::Active.as_str()
        ],
    )?;
    Ok(())
}

pub(crate) fn enroll_once(
    connection: &Connection,
    campaign_id: CampaignId,
    person_seq: PersonSeq,
    now: UnixSeconds,
) -> Result<bool, StoreError> {
    let inserted = execute(
        connection,
        "INSERT OR IGNORE INTO enrollments (campaign_id, person_seq, created_at) VALUES (?1, ?2, ?3)",
        params![campaign_id, person_seq, now],
    )?;
    Ok(inserted > 0)
}

pub(crate) fn cancel_runs(
    connection: &Connection,
    campaign_id: CampaignId,
    now: UnixSeconds,
) -> Result<u64, StoreError> {
    let cancelled = execute(
        connection,
        "UPDATE runs SET state = ?3, updated_at = ?2 WHERE campaign_id = ?1 AND state = ?4",
        params![
            campaign_id,
            now,
            RunState::Cancelled.as_str(),
            RunState::Active.as_str()
        ],
    )?;
    Ok(cancelled as u64)
}

pub(crate) fn insert_delivery(
    connection: &Connection,
    delivery: &DeliveryRow,
) -> Result<(), StoreError> {
    execute(
        connection,
        "INSERT INTO deliveries (id, workspace_id, campaign_id, run_id, person_seq, step, channel, status, content, idempotency_key, attempts, error, created_at, updated_at, sent_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        params![
            delivery.id,
            delivery.workspace_id,
            delivery.campaign_id,
            delivery.run_id,
            delivery.person_seq,
            delivery.step,
            delivery.channel,
            delivery.status.as_str(),
            to_json(&delivery.content)?,
            delivery.idempotency_key,
            delivery.attempts,
            delivery.error,
            delivery.created_at,
            delivery.updated_at,
            delivery.sent_at
        ],
    )?;
    Ok(())
}

pub(crate) fn update_delivery(
    connection: &Connection,
    delivery: &DeliveryRow,
) -> Result<(), StoreError> {
    execute(
        connection,
        "UPDATE deliveries SET status = ?2, attempts = ?3, error = ?4, updated_at = ?5, sent_at = ?6 WHERE id = ?1",
        params![
            delivery.id,
            delivery.status.as_str(),
            delivery.attempts,
            delivery.error,
            delivery.updated_at,
            delivery.sent_at
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    /// The listing goes on from the cursor by a seek on both of the queue index's columns in
    /// the cursor's second, not by stepping over that second's runs before it.
    #[test]
    fn the_due_runs_listing_seeks_past_its_cursor() {
        let mut connection = Connection::open_in_memory().expect("a database");
        crate::migrations::apply(&mut connection).expect("migrated");
        let plan: Vec<String> = connection
            .prepare(&format!("EXPLAIN QUERY PLAN {}", super::due_runs_sql()))
            .expect("the statement compiles")
            .query_map(rusqlite::params![100, 256, "[]", 50, 7], |row| {
                row.get::<_, String>(3)
            })
            .expect("the plan")
            .collect::<Result<_, _>>()
            .expect("read");
        assert!(
            plan.iter()
                .any(|step| step.contains("runs_due (due_at=? AND id>?)")),
            "{plan:#?}"
        );
    }
}
