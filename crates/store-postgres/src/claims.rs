//! Claims on campaign runs across every process on one database: a session-level advisory
//! lock per run, held on a connection of the claimant's own.
//!
//! A session lock is not part of any transaction, so holding one never makes the writer wait:
//! the claimant's writer updates the run while the lock is held, and another process's writer
//! could too (no process advances a run it has not claimed). It lasts as long as the session,
//! so a process that dies, or whose connection breaks, frees every run it held at once, and
//! another process takes them over at its next look at the queue. The lock's key is the
//! schema's hash (so that schemas on one database do not share claims) and the run's id on 32
//! bits: two runs whose ids differ by a multiple of 2^32 share a key, so one of them may wait
//! for the other, which delays it and never lets two processes hold one run.

use herald_domain::RunId;
use std::collections::HashSet;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use herald_store::{ClaimReply, RunClaims, StoreError};
use postgres::Client;
use tokio::sync::oneshot;

use crate::PostgresOptions;
use crate::pg::backend;
use crate::session::Session;

/// Mixed into the schema's hash, so that run claims share no key with the other advisory locks
/// Herald takes (the schema lock of a server, `migrations::NODE_LOCK`, is keyed the other way
/// round).
const RUNS: i32 = 0x7275_6e73; // "runs"

/// How long the claims thread waits before it connects again after losing its connection.
const RECONNECT: Duration = Duration::from_millis(500);

enum Command {
    Claim(Vec<RunId>, oneshot::Sender<Result<Vec<RunId>, StoreError>>),
    Release(Vec<RunId>),
}

/// The claims of one process, made on a thread and connection of their own.
pub(crate) struct PgClaims {
    session: Session<Command>,
}

impl PgClaims {
    /// Starts the claims thread; it connects when it is first asked.
    pub(crate) fn spawn(options: &PostgresOptions) -> Result<Self, StoreError> {
        Ok(Self {
            session: Session::spawn("herald-pg-claims", options, serve)?,
        })
    }

    fn send(&self, command: Command) {
        self.session.send(command);
    }
}

impl RunClaims for PgClaims {
    fn claim(&self, runs: Vec<RunId>) -> ClaimReply {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Claim(runs, reply));
        answer
    }

    fn release(&self, runs: Vec<RunId>) {
        self.send(Command::Release(runs));
    }
}

/// The lock's second key for a run: its id on 32 bits (see the module's note).
fn key(run: RunId) -> i32 {
    // Truncation is the point: ids past 2^32 share keys, which only delays a run.
    (run.get() as u32).cast_signed()
}

fn serve(options: &PostgresOptions, commands: &std_mpsc::Receiver<Command>) {
    let mut client: Option<Client> = None;
    // The runs this process holds, to lock again after a lost connection.
    let mut held: HashSet<RunId> = HashSet::new();
    while let Ok(command) = commands.recv() {
        if client.is_none() {
            client = reconnect(options, &held);
        }
        match command {
            Command::Claim(runs, reply) => {
                let answer = match client.as_mut() {
                    Some(session) => try_lock(session, &runs),
                    None => Err(StoreError::Backend(
                        "cannot reach PostgreSQL to claim campaign runs".into(),
                    )),
                };
                if let Ok(claimed) = &answer {
                    held.extend(claimed.iter().copied());
                }
                if answer.is_err() {
                    client = None;
                }
                let _ = reply.send(answer);
            }
            Command::Release(runs) => {
                for run in &runs {
                    held.remove(run);
                }
                if let Some(session) = client.as_mut()
                    && let Err(error) = unlock(session, &runs)
                {
                    // A broken session has freed its locks already; the next command connects
                    // again and locks what is still held.
                    tracing::warn!(error = %error, "cannot release campaign run claims; reconnecting");
                    client = None;
                }
            }
        }
    }
}

/// Connects, and locks again the runs still held, which a lost session had freed: another
/// process may have taken one meanwhile, which is logged (its message may then be sent twice,
/// with the same delivery id and idempotency key, as after a crash).
fn reconnect(options: &PostgresOptions, held: &HashSet<RunId>) -> Option<Client> {
    let mut client = match crate::connection::connect(options) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(error = %error, "cannot connect to claim campaign runs");
            std::thread::sleep(RECONNECT);
            return None;
        }
    };
    let runs: Vec<RunId> = held.iter().copied().collect();
    match try_lock(&mut client, &runs) {
        Ok(claimed) if claimed.len() == runs.len() => Some(client),
        Ok(claimed) => {
            tracing::warn!(
                lost = runs.len() - claimed.len(),
                "campaign runs this node was working on were claimed by another node while its \
                 connection was lost"
            );
            Some(client)
        }
        Err(error) => {
            tracing::error!(error = %error, "cannot claim campaign runs again after reconnecting");
            None
        }
    }
}

fn try_lock(client: &mut Client, runs: &[RunId]) -> Result<Vec<RunId>, StoreError> {
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<i32> = runs.iter().map(|run| key(*run)).collect();
    let rows = client
        .query(
            "SELECT run FROM unnest($1::bigint[], $2::int[]) AS wanted(run, key) \
             WHERE pg_try_advisory_lock(hashtext(current_schema()) # $3, key)",
            &[&runs, &keys, &RUNS],
        )
        .map_err(backend)?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

fn unlock(client: &mut Client, runs: &[RunId]) -> Result<(), StoreError> {
    if runs.is_empty() {
        return Ok(());
    }
    let keys: Vec<i32> = runs.iter().map(|run| key(*run)).collect();
    client
        .execute(
            "SELECT pg_advisory_unlock(hashtext(current_schema()) # $2, key) \
             FROM unnest($1::int[]) AS held(key)",
            &[&keys, &RUNS],
        )
        .map_err(backend)?;
    Ok(())
}
