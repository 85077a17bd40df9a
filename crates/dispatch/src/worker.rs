//! The dispatcher: takes due runs from the store (the durable queue) through their steps.
//!
//! Each send step is recorded as a `queued` delivery, with its rendered content, before the
//! message leaves; the send's outcome and the run's next step are then recorded in one write.
//! So a crash anywhere but between a send and its record loses and repeats nothing, and a
//! crash in that gap repeats the message with the same delivery id and idempotency key.
//!
//! Several nodes may share one store: a run is advanced by the node that claimed it
//! (`herald_store::RunClaims`), and the first look after a claim reads the run afresh, so a
//! node that takes over a run another node left (or died in) goes on from what was recorded.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use herald_campaigns::{Channel, Step};
use herald_delivery::{
    DeliveryError, EmailMessage, EmailSender, PushMessage, PushSender, WebhookRequest,
    WebhookSender, instrument_html,
};
use herald_domain::{
    ActivityKind, CampaignId, Clock, PersonSeq, RunId, UnixSeconds, WorkspaceId, panic_message,
};
use herald_segment_engine::reference::matches;
use herald_segments::history_of;
use herald_store::{
    DeliveryRow, DeliveryStatus, Device, DueRun, Person, PersonRelationship, RunClaims, RunRow,
    RunState, StoreError, StoreHandle,
};
use herald_templates::Template;
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore};

use crate::listing::Listing;
use crate::registry::{Loaded, Registry};
use crate::relationships;
use crate::render::{Context, channel_name, render_step, unsubscribe_url};
use crate::triggers::log;

/// How the dispatcher works.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// Where people reach this server: tracking links and unsubscribe links point here.
    pub public_url: String,
    /// Signs click-tracking links.
    pub tracking_key: Vec<u8>,
    /// Attempts at one message before it is marked failed.
    pub max_attempts: i64,
    /// The wait before the first retry; each later one waits twice as long (at most an hour).
    pub retry_base_seconds: i64,
    /// Messages in flight at once.
    pub concurrency: usize,
    /// For the crash test: abort the process right after a message was sent and before the
    /// send is recorded.
    pub crash_after_send: bool,
}

/// The senders the dispatcher hands messages to.
#[derive(Clone)]
pub struct Senders {
    pub webhook: WebhookSender,
    /// `None` when no SMTP server is configured: email steps fail with that reason.
    pub email: Option<EmailSender>,
    pub push: PushSender,
}

/// How the error of a delivery that could not be rendered begins.
const RENDER_FAILED: &str = "cannot render";

/// How often the dispatcher looks for due runs when nothing woke it.
const POLL: Duration = Duration::from_millis(100);
/// How long the dispatcher gathers wake-ups before it looks at the queue.
const COALESCE: Duration = Duration::from_millis(2);
/// How many due runs one look takes.
const BATCH: i64 = 512;

struct Inner {
    store: StoreHandle,
    clock: Arc<dyn Clock>,
    registry: Arc<Registry>,
    senders: Senders,
    config: DispatchConfig,
    wake: Arc<Notify>,
    /// Runs being worked on, so a run is never taken twice at once.
    in_flight: Mutex<HashSet<RunId>>,
    /// Runs that were listed due but could not be read (their row or their person's is
    /// damaged): left out of later listings, which would otherwise offer them again at once,
    /// forever.
    unreadable: Mutex<HashSet<RunId>>,
    /// The store's claims, so that no other node works on the same run meanwhile.
    claims: Arc<dyn RunClaims>,
}

/// A handle to the dispatcher task.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Dispatcher")
    }
}

impl Dispatcher {
    /// Starts the dispatcher on the current tokio runtime. `wake` is the one the triggers
    /// notify.
    pub fn start(
        store: StoreHandle,
        clock: Arc<dyn Clock>,
        registry: Arc<Registry>,
        senders: Senders,
        config: DispatchConfig,
        wake: Arc<Notify>,
    ) -> Self {
        let claims = store.run_claims();
        let inner = Arc::new(Inner {
            store,
            clock,
            registry,
            senders,
            config,
            wake,
            in_flight: Mutex::default(),
            unreadable: Mutex::default(),
            claims,
        });
        tokio::spawn(run_loop(inner.clone()));
        Self { inner }
    }

    /// Makes the dispatcher look for due runs now (after a campaign started, or the dev clock
    /// moved).
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Where people reach this server, for links rendered outside a run (previews).
    pub fn public_url(&self) -> &str {
        &self.inner.config.public_url
    }

    /// Sends one rendered message now, as a test: nothing is stored (so no metric counts it),
    /// and the message says it is a test (`X-Herald-Test: true` on a webhook and an email,
    /// `herald_test` in a push's data). Returns the id it was sent with.
    pub async fn send_test(
        &self,
        channel: &Channel,
        mut content: Value,
    ) -> Result<String, DeliveryError> {
        let id = format!("test-{}", ulid::Ulid::new().to_string().to_lowercase());
        let marks = match channel {
            Channel::Webhook => Some("headers"),
            Channel::Push => Some("data"),
            Channel::Email => None,
        };
        if let Some(Value::Object(entries)) = marks.and_then(|key| content.get_mut(key)) {
            let (name, value) = match channel {
                Channel::Webhook => (TEST_HEADER, "true"),
                _ => ("herald_test", "true"),
            };
            entries.insert(name.to_owned(), Value::String(value.to_owned()));
        }
        let now = self.inner.clock.now();
        let delivery = DeliveryRow {
            id: id.clone(),
            workspace_id: WorkspaceId::new(0),
            campaign_id: CampaignId::new(0),
            run_id: RunId::new(0),
            person_seq: PersonSeq::new(0),
            step: 0,
            channel: channel_name(channel).to_owned(),
            status: DeliveryStatus::Queued,
            content,
            idempotency_key: id.clone(),
            attempts: 0,
            error: None,
            created_at: now,
            updated_at: now,
            sent_at: None,
        };
        send(&self.inner, &delivery).await.map(|()| id)
    }
}

/// The header that marks a test message.
const TEST_HEADER: &str = "X-Herald-Test";

async fn run_loop(inner: Arc<Inner>) {
    let permits = Arc::new(Semaphore::new(inner.config.concurrency.max(1)));
    // For /metrics: the runs due at the last look (counted up to one batch) by the channel of
    // their next step (`wait` for a delay), and those in flight, the delivery queue as this
    // dispatcher sees it.
    let due_depth = DueDepth::new();
    let in_flight_depth = metrics::gauge!("herald_delivery_queue_depth", "state" => "in_flight");
    let mut listing = Listing::default();
    loop {
        let now = inner.clock.now();
        let after = listing.next(std::time::Instant::now());
        // A look at the whole queue leaves out the runs in flight in SQL; one that goes on
        // after its last run has none of them ahead of it (a few taken in an earlier whole look
        // may be, and `claim` drops those).
        let mut skip: Vec<RunId> = Vec::new();
        if after.is_none() {
            if let Ok(set) = inner.in_flight.lock() {
                skip.extend(set.iter().copied());
            }
            if let Ok(set) = inner.unreadable.lock() {
                skip.extend(set.iter().copied());
            }
        }
        let due = match inner
            .store
            .read(move |r| r.due_runs(now, BATCH, &skip, after))
            .await
        {
            Ok(due) => due,
            Err(error) => {
                tracing::error!(error = %error, "cannot read due campaign runs");
                Vec::new()
            }
        };
        listing.listed(&due);
        if after.is_none() {
            due_depth.record(&inner.registry, &due);
        }
        if let Ok(set) = inner.in_flight.lock() {
            in_flight_depth.set(set.len() as f64);
        }
        let mut started = 0;
        for id in claim(&inner, due).await {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            started += 1;
            let inner = inner.clone();
            tokio::spawn(async move {
                // The run advances in a task of its own so that a panic inside it (a bug met on
                // some person's data) ends there, and this task still records it and releases
                // the run; otherwise the run would stay in flight, and active, forever.
                let advancing = tokio::spawn({
                    let inner = inner.clone();
                    async move { advance(&inner, id).await }
                });
                match advancing.await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => {
                        tracing::error!(run = id.get(), error = %error, "a campaign run step failed; it will be tried again");
                    }
                    Err(failure) if failure.is_panic() => {
                        let message = panic_message(failure.into_panic().as_ref());
                        tracing::error!(run = id.get(), panic = %message, "a campaign run panicked; it is marked failed");
                        if let Err(error) = fail_run(&inner, id, &message).await {
                            tracing::error!(run = id.get(), error = %error, "cannot mark a panicked campaign run failed; it will be tried again");
                        }
                    }
                    // Cancelled: the runtime is shutting down, and the run is taken up again
                    // at the next start.
                    Err(_) => {}
                }
                // What the run did is committed by now, so another node that claims it next
                // reads it as it is.
                inner.claims.release(vec![id]);
                if let Ok(mut set) = inner.in_flight.lock() {
                    set.remove(&id);
                }
                drop(permit);
                inner.wake.notify_one();
            });
        }
        if started == 0 {
            tokio::select! {
                () = inner.wake.notified() => {
                    // Under load every commit and every finished run wakes the dispatcher; a
                    // short pause gathers those wake-ups into one look at the queue, which
                    // costs far more than the latency it adds.
                    tokio::time::sleep(COALESCE).await;
                }
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }
}

/// The gauges of due runs, one per channel of their next step.
struct DueDepth {
    webhook: metrics::Gauge,
    email: metrics::Gauge,
    push: metrics::Gauge,
    wait: metrics::Gauge,
}

impl DueDepth {
    fn new() -> Self {
        let gauge = |channel: &'static str| metrics::gauge!("herald_delivery_queue_depth", "state" => "due", "channel" => channel);
        Self {
            webhook: gauge("webhook"),
            email: gauge("email"),
            push: gauge("push"),
            wait: gauge("wait"),
        }
    }

    fn record(&self, registry: &Registry, due: &[DueRun]) {
        let mut counts = [0_u32; 4];
        for run in due {
            let step = registry.get(run.campaign_id).and_then(|campaign| {
                match campaign.campaign.steps.get(run.step as usize) {
                    Some(Step::Send { channel, .. }) => Some(channel.clone()),
                    _ => None,
                }
            });
            let slot = match step {
                Some(Channel::Webhook) => 0,
                Some(Channel::Email) => 1,
                Some(Channel::Push) => 2,
                None => 3,
            };
            counts[slot] += 1;
        }
        for (gauge, count) in [&self.webhook, &self.email, &self.push, &self.wait]
            .into_iter()
            .zip(counts)
        {
            gauge.set(f64::from(count));
        }
    }
}

/// Takes those of `due` that neither this dispatcher nor another node works on: first into
/// this dispatcher's own set, then through the store's claims, which other nodes on the same
/// database share. A run that another node holds is left for now; it comes up again at a later
/// look if it is still due then.
async fn claim(inner: &Inner, due: Vec<DueRun>) -> Vec<RunId> {
    // A run set aside as unreadable stays aside: a look that goes on after a run does not
    // leave those out in SQL.
    let aside: HashSet<RunId> = match inner.unreadable.lock() {
        Ok(set) => set.clone(),
        Err(_) => HashSet::new(),
    };
    let fresh: Vec<RunId> = match inner.in_flight.lock() {
        Ok(mut set) => due
            .into_iter()
            .map(|run| run.id)
            .filter(|id| !aside.contains(id) && set.insert(*id))
            .collect(),
        Err(_) => Vec::new(),
    };
    if fresh.is_empty() {
        return fresh;
    }
    let claimed: HashSet<RunId> = match inner.claims.claim(fresh.clone()).await {
        Ok(Ok(claimed)) => claimed.into_iter().collect(),
        Ok(Err(error)) => {
            tracing::error!(error = %error, "cannot claim due campaign runs; they will be tried again");
            HashSet::new()
        }
        Err(_) => HashSet::new(),
    };
    let (mine, others): (Vec<RunId>, Vec<RunId>) =
        fresh.into_iter().partition(|id| claimed.contains(id));
    if !others.is_empty()
        && let Ok(mut set) = inner.in_flight.lock()
    {
        for id in &others {
            set.remove(id);
        }
    }
    mine
}

/// Ends a run whose advance panicked as `failed`, with the panic recorded.
///
/// Runs have no error of their own, so the error goes where the person's campaign failures
/// are: the delivery of the step, when it was recorded already and not yet sent or failed
/// (as `queued`), and a `delivery_failed` activity, which names the run even when no delivery
/// was recorded (a panic in rendering comes before the delivery's record).
/// A run the panic left in another state than `active` (it finished before the panic) keeps
/// that state, but the panic is still logged.
async fn fail_run(inner: &Inner, run_id: RunId, panic: &str) -> Result<(), StoreError> {
    let now = inner.clock.now();
    let error = format!("the dispatcher failed unexpectedly: {panic}");
    let registry = inner.registry.clone();
    inner
        .store
        .write(move |tx| {
            let Some(mut run) = tx.run(run_id)? else {
                return Ok(());
            };
            let mut delivery_id = None;
            // Like the activities of `record`, the entry is named after the step's channel.
            let mut channel = registry
                .get(run.campaign_id)
                .and_then(
                    |campaign| match campaign.campaign.steps.get(run.step as usize) {
                        Some(Step::Send { channel, .. }) => Some(channel_name(channel).to_owned()),
                        _ => None,
                    },
                )
                .unwrap_or_else(|| "campaign".to_owned());
            if let Some(mut delivery) = tx.delivery_of_step(run.id, run.step)?
                && delivery.status == DeliveryStatus::Queued
            {
                delivery.status = DeliveryStatus::Failed;
                delivery.error = Some(error.clone());
                delivery.updated_at = now;
                tx.update_delivery(&delivery)?;
                channel = delivery.channel;
                delivery_id = Some(delivery.id);
            }
            if run.state == RunState::Active {
                run.state = RunState::Failed;
                run.updated_at = now;
                tx.update_run(&run)?;
            }
            log(
                tx,
                run.workspace_id,
                run.person_seq,
                ActivityKind::DeliveryFailed,
                &channel,
                json!({
                    "delivery_id": delivery_id,
                    "campaign_id": run.campaign_id,
                    "run_id": run.id,
                    "step": run.step,
                    "channel": channel,
                    "error": error,
                }),
                now,
            )
        })
        .await?
}

/// Everything a run's step needs to know about its person.
struct PersonView {
    person: Person,
    devices: Vec<Device>,
    relationships: Vec<PersonRelationship>,
}

/// What one read gives a run's next step: the run as stored (only on the first look), its
/// person and devices, and the delivery the step already recorded, if any.
struct Look {
    run: Option<RunRow>,
    view: Option<PersonView>,
    delivery: Option<DeliveryRow>,
}

/// Reads everything a step needs in one read job: reads are a large part of a message's cost,
/// by the statement, so the person's devices are read only for a push message, the one step
/// that uses them.
async fn look(inner: &Inner, run_id: RunId, known: Option<&RunRow>) -> Result<Look, StoreError> {
    let known = known.cloned();
    let registry = inner.registry.clone();
    inner
        .store
        .read(move |r| {
            let fresh = match known {
                Some(_) => None,
                None => match r.run(run_id)? {
                    Some(run) => Some(run),
                    None => {
                        return Ok(Look {
                            run: None,
                            view: None,
                            delivery: None,
                        });
                    }
                },
            };
            let Some(run) = fresh.as_ref().or(known.as_ref()) else {
                unreachable!("a run is either known or was just read");
            };
            let pushes = registry.get(run.campaign_id).is_some_and(|campaign| {
                matches!(
                    campaign.campaign.steps.get(run.step as usize),
                    Some(Step::Send {
                        channel: Channel::Push,
                        ..
                    })
                )
            });
            let view = match r.person_by_seq(run.workspace_id, run.person_seq)? {
                Some(person) => Some(PersonView {
                    devices: if pushes {
                        r.devices(run.workspace_id, run.person_seq)?
                    } else {
                        Vec::new()
                    },
                    relationships: relationships::read(r, run.workspace_id, run.person_seq)?,
                    person,
                }),
                None => None,
            };
            let delivery = r.delivery_of_step(run.id, run.step)?;
            Ok(Look {
                run: fresh,
                view,
                delivery,
            })
        })
        .await
}

/// Takes one run, listed as due, through every step that is due now.
async fn advance(inner: &Inner, run_id: RunId) -> Result<(), StoreError> {
    // The listing only names the run: it may have been read before the previous task on the
    // same run recorded its outcome, and working from that stale state could repeat a send
    // without its backoff. That task's writes are committed by now, so the run is read afresh.
    // A damaged run is set aside: the next listing would otherwise offer it again at once,
    // forever. (A run deleted since it was listed, with its workspace, is listed no more.)
    let mut first = match look(inner, run_id, None).await {
        Ok(first) => first,
        Err(StoreError::Corrupt(row)) => {
            if let Ok(mut set) = inner.unreadable.lock() {
                set.insert(run_id);
            }
            tracing::error!(run = run_id.get(), %row, "a due campaign run cannot be read (its own row or its person's); it is set aside until the server restarts, and `herald doctor` lists such rows");
            return Ok(());
        }
        Err(error) => return Err(error),
    };
    let Some(mut run) = first.run.take() else {
        return Ok(());
    };
    let mut looked = Some(first);
    loop {
        let now = inner.clock.now();
        if run.state != RunState::Active || run.due_at > now {
            return Ok(());
        }
        let Some(campaign) = inner.registry.get(run.campaign_id) else {
            run.state = RunState::Cancelled;
            return save_run(inner, run, now).await;
        };
        if !campaign.is_running() {
            return Ok(());
        }
        let current = match looked.take() {
            Some(current) => current,
            None => look(inner, run.id, Some(&run)).await?,
        };
        let Some(view) = current.view else {
            // The person was deleted (or merged away): the run ends.
            run.state = RunState::Cancelled;
            return save_run(inner, run, now).await;
        };
        if run.step == 0 && run.attempts == 0 && !passes_filter(inner, &campaign, &run, now).await?
        {
            run.state = RunState::Filtered;
            let (ws, seq, name, id) = (
                run.workspace_id,
                run.person_seq,
                campaign.name.clone(),
                campaign.id,
            );
            let trigger = run.trigger.clone();
            let saved = run.clone();
            return inner
                .store
                .write(move |tx| {
                    tx.update_run(&saved)?;
                    log(tx, ws, seq, ActivityKind::TriggerSkipped, &name,
                        json!({"campaign_id": id, "reason": "the person did not match the campaign's filter", "trigger": trigger}), now)
                })
                .await?;
        }
        let Some(step) = campaign.campaign.steps.get(run.step as usize) else {
            run.state = RunState::Done;
            return save_run(inner, run, now).await;
        };
        let steps = campaign.campaign.steps.len() as i64;
        match step {
            Step::Delay(seconds) => {
                // A delay counts from when its step became due (the trigger, or the previous
                // send), not from when the dispatcher got to it: a busy or restarted server
                // must not stretch "30 minutes after the purchase".
                run.step += 1;
                run.attempts = 0;
                run.due_at += seconds;
                finish_if_last(&mut run, steps);
                save_run(inner, run.clone(), now).await?;
            }
            Step::Send {
                channel, method, ..
            } => {
                let delivery = match current.delivery {
                    Some(existing) if existing.status == DeliveryStatus::Queued => existing,
                    Some(_) => {
                        // Recorded already: only the run's advance was missing.
                        run.step += 1;
                        run.attempts = 0;
                        finish_if_last(&mut run, steps);
                        save_run(inner, run.clone(), now).await?;
                        continue;
                    }
                    None => {
                        queued_delivery(
                            inner,
                            &campaign,
                            &run,
                            &view,
                            channel,
                            method.as_deref(),
                            now,
                        )
                        .await?
                    }
                };
                // A message that cannot be rendered for this person's data ends the run: its
                // later steps were written to follow this message, and the error is the
                // campaign's to fix.
                let ends_run = delivery.status == DeliveryStatus::Failed
                    && delivery
                        .error
                        .as_deref()
                        .is_some_and(|error| error.starts_with(RENDER_FAILED));
                let outcome = if delivery.status == DeliveryStatus::Failed {
                    Err(DeliveryError::Permanent(
                        delivery.error.clone().unwrap_or_default(),
                    ))
                } else {
                    send(inner, &delivery).await
                };
                if inner.config.crash_after_send && outcome.is_ok() {
                    tracing::error!(delivery = %delivery.id, "crash_after_send: aborting between the send and its record");
                    std::process::abort();
                }
                // The record uses the time the attempt started, so a retry's wait counts from
                // the attempt, however long the send took or when the clock moved meanwhile.
                if !record(inner, &mut run, delivery, outcome, steps, ends_run, now).await? {
                    return Ok(());
                }
            }
        }
    }
}

/// Marks a run done once its step index passed the last step, so that finishing costs no
/// write of its own.
fn finish_if_last(run: &mut RunRow, steps: i64) {
    if run.step >= steps {
        run.state = RunState::Done;
    }
}

async fn save_run(inner: &Inner, mut run: RunRow, now: UnixSeconds) -> Result<(), StoreError> {
    run.updated_at = now;
    inner
        .store
        .write_repeatable(move |tx| tx.update_run(&run))
        .await?
}

/// Checks the campaign's filter on the person as they are now.
async fn passes_filter(
    inner: &Inner,
    campaign: &Loaded,
    run: &RunRow,
    now: UnixSeconds,
) -> Result<bool, StoreError> {
    let Some(filter) = campaign.campaign.filter.clone() else {
        return Ok(true);
    };
    let (workspace_id, person_seq) = (run.workspace_id, run.person_seq);
    inner
        .store
        .read(move |r| {
            let Some(history) = history_of(r, workspace_id, person_seq.get())? else {
                return Ok(false);
            };
            let mut member_of = HashSet::new();
            for segment in filter.references() {
                let changes = r.segment_history(segment, person_seq)?;
                if changes.last().is_some_and(|change| change.entered) {
                    member_of.insert(segment);
                }
            }
            Ok(matches(
                &filter,
                &history,
                &|segment| member_of.contains(&segment),
                now,
            ))
        })
        .await
}

/// Records the step's delivery, rendered, as `queued` (or `failed` when it cannot be sent at
/// all) before anything is sent.
async fn queued_delivery(
    inner: &Inner,
    campaign: &Loaded,
    run: &RunRow,
    view: &PersonView,
    channel: &Channel,
    method: Option<&str>,
    now: UnixSeconds,
) -> Result<DeliveryRow, StoreError> {
    let transactional = crate::service::transactional_of_run(run);
    // A transactional send named its delivery when it was asked for.
    let id = transactional
        .and_then(|sent| sent.get("delivery_id"))
        .and_then(Value::as_str)
        .map_or_else(
            || ulid::Ulid::new().to_string().to_lowercase(),
            str::to_owned,
        );
    let token = herald_delivery::delivery_token(&inner.config.tracking_key, &id);
    let context = Context {
        person: &view.person,
        relationships: &view.relationships,
        run,
        campaign_id: campaign.id,
        campaign_name: &campaign.name,
        delivery_id: &id,
        delivery_token: &token,
        public_url: &inner.config.public_url,
    };
    let globals = context.globals();
    let templates = campaign.templates.get(&(run.step as usize));
    let empty = Default::default();
    let overrides = transactional
        .map(|sent| {
            crate::render::compile_overrides(sent.get("overrides"), inner.registry.templates())
        })
        .transpose();
    let rendered = overrides.and_then(|overrides| {
        let mut merged: BTreeMap<&String, &Template> = templates.unwrap_or(&empty).iter().collect();
        merged.extend(overrides.iter().flatten());
        let merged: BTreeMap<String, &Template> = merged
            .into_iter()
            .map(|(field, template)| (field.clone(), template))
            .collect();
        render_step(channel, method, &merged, &globals, &view.devices, now)
    });
    let sends_anyway = transactional
        .and_then(|sent| sent.get("send_to_unsubscribed"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let unsubscribed = !sends_anyway
        && view
            .person
            .attributes
            .get("unsubscribed")
            .is_some_and(|value| value == &Value::Bool(true) || value == "true");
    let (status, content, error) = match rendered {
        Ok(_) if *channel == Channel::Email && unsubscribed => (
            DeliveryStatus::Failed,
            json!({}),
            Some("the person unsubscribed".to_owned()),
        ),
        Ok(content) => (DeliveryStatus::Queued, content, None),
        Err(error) => (
            DeliveryStatus::Failed,
            json!({}),
            Some(format!("{RENDER_FAILED} {error}")),
        ),
    };
    let delivery = DeliveryRow {
        id,
        workspace_id: run.workspace_id,
        campaign_id: run.campaign_id,
        run_id: run.id,
        person_seq: run.person_seq,
        step: run.step,
        channel: channel_name(channel).to_owned(),
        status,
        content,
        idempotency_key: format!("{}-{}", run.run_key, run.step),
        attempts: 0,
        error,
        created_at: now,
        updated_at: now,
        sent_at: None,
    };
    // A delivery that failed before sending is written only with its record, in one commit
    // with the run's end and the failure's activity, so no reader sees it failed while its run
    // still looks active.
    if delivery.status == DeliveryStatus::Queued {
        let stored = delivery.clone();
        inner
            .store
            .write_repeatable(move |tx| tx.insert_delivery(&stored))
            .await??;
    }
    Ok(delivery)
}

fn text(content: &Value, field: &str) -> String {
    content
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Sends a recorded delivery through its channel.
async fn send(inner: &Inner, delivery: &DeliveryRow) -> Result<(), DeliveryError> {
    let content = &delivery.content;
    match delivery.channel.as_str() {
        "webhook" => {
            let headers = content
                .get("headers")
                .and_then(Value::as_object)
                .map(|headers| {
                    headers
                        .iter()
                        .map(|(name, value)| {
                            (name.clone(), value.as_str().unwrap_or_default().to_owned())
                        })
                        .collect()
                })
                .unwrap_or_default();
            let request = WebhookRequest {
                url: text(content, "url"),
                method: text(content, "method"),
                headers,
                body: text(content, "body"),
                delivery_id: delivery.id.clone(),
                idempotency_key: delivery.idempotency_key.clone(),
            };
            inner
                .senders
                .webhook
                .send(&request, inner.clock.now())
                .await
                .map(|_| ())
        }
        "email" => {
            let Some(sender) = &inner.senders.email else {
                return Err(DeliveryError::Permanent(
                    "no SMTP server is configured (smtp_url)".into(),
                ));
            };
            sender.send(&email_of(inner, delivery)).await
        }
        "push" => send_push(&inner.senders.push, delivery, &inner.config.tracking_key).await,
        other => Err(DeliveryError::Permanent(format!("unknown channel {other}"))),
    }
}

fn email_of(inner: &Inner, delivery: &DeliveryRow) -> EmailMessage {
    let content = &delivery.content;
    // A part whose template rendered nothing is left out rather than sent empty.
    let html = content
        .get("html")
        .and_then(Value::as_str)
        .filter(|html| !html.trim().is_empty())
        .map(|html| {
            instrument_html(
                html,
                &inner.config.public_url,
                &delivery.id,
                &inner.config.tracking_key,
            )
        });
    let unsubscribe = unsubscribe_url(&inner.config.public_url, &delivery.id);
    EmailMessage {
        from: text(content, "from"),
        to: text(content, "to"),
        subject: text(content, "subject"),
        html,
        text: content
            .get("text")
            .and_then(Value::as_str)
            .filter(|text| !text.trim().is_empty())
            .map(str::to_owned),
        message_id: format!("{}@herald", delivery.idempotency_key),
        headers: vec![
            ("List-Unsubscribe".into(), format!("<{unsubscribe}>")),
            (
                "List-Unsubscribe-Post".into(),
                "List-Unsubscribe=One-Click".into(),
            ),
            ("X-Herald-Delivery-Id".into(), delivery.id.clone()),
        ]
        .into_iter()
        .chain(
            delivery
                .id
                .starts_with("test-")
                .then(|| (TEST_HEADER.to_owned(), "true".to_owned())),
        )
        .collect(),
    }
}

/// Sends a push message to each of the person's devices: sent if any device took it.
async fn send_push(
    sender: &PushSender,
    delivery: &DeliveryRow,
    tracking_key: &[u8],
) -> Result<(), DeliveryError> {
    let content = &delivery.content;
    let devices = content
        .get("devices")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if devices.is_empty() {
        return Err(DeliveryError::Permanent("the person has no devices".into()));
    }
    let mut last_error = None;
    let mut any_sent = false;
    for device in devices {
        let message = PushMessage {
            delivery_id: delivery.id.clone(),
            delivery_token: herald_delivery::delivery_token(tracking_key, &delivery.id),
            device_token: text(&device, "token"),
            platform: text(&device, "platform"),
            title: text(content, "title"),
            body: text(content, "body"),
            data: content
                .get("data")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        };
        match sender.send(&message).await {
            Ok(()) => any_sent = true,
            Err(error) => last_error = Some(error),
        }
    }
    match (any_sent, last_error) {
        (true, _) | (false, None) => Ok(()),
        (false, Some(error)) => Err(error),
    }
}

/// Records a send's outcome and moves the run on; returns whether the run may continue now.
async fn record(
    inner: &Inner,
    run: &mut RunRow,
    mut delivery: DeliveryRow,
    outcome: Result<(), DeliveryError>,
    steps: i64,
    ends_run: bool,
    now: UnixSeconds,
) -> Result<bool, StoreError> {
    delivery.attempts += 1;
    delivery.updated_at = now;
    run.updated_at = now;
    let retry = matches!(&outcome, Err(error) if error.is_retryable())
        && delivery.attempts < inner.config.max_attempts;
    let activity = match &outcome {
        Ok(()) => {
            delivery.status = DeliveryStatus::Sent;
            delivery.sent_at = Some(now);
            delivery.error = None;
            Some((ActivityKind::DeliverySent, None))
        }
        Err(error) if retry => {
            delivery.error = Some(error.to_string());
            None
        }
        Err(error) => {
            delivery.status = DeliveryStatus::Failed;
            delivery.error = Some(error.to_string());
            Some((ActivityKind::DeliveryFailed, Some(error.to_string())))
        }
    };
    if retry {
        let wait = inner
            .config
            .retry_base_seconds
            .saturating_mul(1 << (run.attempts.min(20)))
            .min(3600);
        run.attempts += 1;
        run.due_at = now + wait;
        tracing::warn!(delivery = %delivery.id, attempt = delivery.attempts, error = ?delivery.error, wait, "a message failed; it will be retried");
    } else if ends_run {
        run.state = RunState::Failed;
    } else {
        run.step += 1;
        run.attempts = 0;
        run.due_at = now;
        finish_if_last(run, steps);
    }
    // The message went or failed for good: a send that asked not to retain it keeps only
    // where it went.
    let forgotten = (!retry && crate::retention::forgets(run)).then(|| {
        delivery.content = crate::retention::kept_content(&delivery.content);
        crate::retention::kept_trigger(&run.trigger)
    });
    if let Some(trigger) = &forgotten {
        run.trigger = trigger.clone();
    }
    let saved_run = run.clone();
    let mut delivery = delivery;
    let outcome_name = match (&activity, retry) {
        (_, true) => "retried",
        (Some((ActivityKind::DeliverySent, _)), _) => "sent",
        _ => "failed",
    };
    let channel = delivery.channel.clone();
    // Run again with its neighbours' when one of them fails: it reads the status afresh and
    // writes the same rows each time.
    inner
        .store
        .write_repeatable(move |tx| {
            // A metric (a fast open, a pixel) may have moved the delivery on while it was being
            // sent; the send's record must not move it back.
            match tx.delivery_status(&delivery.id)? {
                Some(current) => {
                    if current != DeliveryStatus::Queued
                        && delivery.status != DeliveryStatus::Queued
                    {
                        delivery.status = current;
                    }
                    tx.update_delivery(&delivery)?;
                }
                None => tx.insert_delivery(&delivery)?,
            }
            tx.update_run(&saved_run)?;
            if let Some(trigger) = &forgotten {
                tx.forget_message(saved_run.id, trigger, &delivery.id, &delivery.content)?;
            }
            if let Some((kind, error)) = &activity {
                log(
                    tx,
                    delivery.workspace_id,
                    delivery.person_seq,
                    *kind,
                    &delivery.channel,
                    json!({
                        "delivery_id": delivery.id,
                        "campaign_id": delivery.campaign_id,
                        "channel": delivery.channel,
                        "attempts": delivery.attempts,
                        "error": error,
                    }),
                    now,
                )?;
            }
            Ok::<_, StoreError>(())
        })
        .await??;
    metrics::counter!("herald_deliveries_total", "channel" => channel, "outcome" => outcome_name)
        .increment(1);
    Ok(!retry)
}
