//! The retention setting (`--retention-days`): a background task that drops events older than
//! the setting, a bounded range of activities per write job, and tells the segment engine who
//! lost events in the same commit (`Ingest::drop_events_before`), so that segments stay exact
//! over what is kept. It reads the injected clock, so with `--dev-clock` the cutoff follows the
//! manual time.

use std::sync::Arc;
use std::time::Duration;

use herald_domain::Clock;
use herald_ingest::Ingest;

/// Activity numbers one step looks at: small enough that a step holds the writer briefly.
const STEP_SEQS: i64 = 20_000;

pub async fn run(ingest: Ingest, clock: Arc<dyn Clock>, days: u32, every: Duration) {
    let deleted_total = metrics::counter!("herald_retention_events_deleted_total");
    let mut interval = tokio::time::interval(every);
    loop {
        interval.tick().await;
        let before = clock.now() - i64::from(days) * 86_400;
        let workspaces = match ingest.store().read(|reader| reader.workspaces()).await {
            Ok(workspaces) => workspaces,
            Err(error) => {
                tracing::warn!(error = %error, "retention cannot list workspaces");
                continue;
            }
        };
        for workspace in workspaces {
            let (mut after, mut deleted, mut people) = (0_i64, 0_u64, 0_usize);
            loop {
                match ingest
                    .drop_events_before(workspace.id, before, after, after + STEP_SEQS)
                    .await
                {
                    Ok(step) => {
                        deleted += step.deleted;
                        people += step.people.len();
                        deleted_total.increment(step.deleted);
                        if !step.more {
                            break;
                        }
                        after += STEP_SEQS;
                    }
                    Err(error) => {
                        tracing::warn!(error = %error, workspace = %workspace.name, "retention stopped for this pass");
                        break;
                    }
                }
            }
            if deleted > 0 {
                tracing::info!(
                    workspace = %workspace.name,
                    deleted,
                    people,
                    before,
                    days,
                    "retention dropped events stamped before the cutoff"
                );
            }
        }
    }
}
