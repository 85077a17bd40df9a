//! Leases on the segment engine's partitions (`herald_store::PartitionLeases`) in the
//! `nodes` and `partition_leases` tables, on a thread and connection of their own.
//!
//! A renewal is one transaction: the node's heartbeat (it counts as live until its leases would
//! expire), its leases extended, those beyond its share given up, and its share of the free and
//! expired ones taken. Rows are taken with `FOR UPDATE SKIP LOCKED`, so two nodes renewing at
//! once never take the same partition, and a partition changes owner only through an update of
//! its row that bumps the epoch. The times are the callers' (`now`), so that the tests run on an
//! injected clock; nodes are expected to keep their clocks within a few seconds of each other
//! (a lease lasts `LEASE_SECONDS`).

use std::sync::mpsc as std_mpsc;

use herald_domain::UnixSeconds;
use herald_store::{
    LEASE_SECONDS, Lease, LeaseReply, Ownership, PARTITIONS, PartitionLeases, PartitionSet,
    StoreError,
};
use postgres::Client;
use tokio::sync::oneshot;

use crate::PostgresOptions;
use crate::pg::{Pg, backend};
use crate::session::Session;

/// How long a node that stopped renewing stays in `nodes`.
const FORGET_SECONDS: i64 = 3600;

enum Command {
    Renew(
        String,
        UnixSeconds,
        PartitionSet,
        oneshot::Sender<Result<Ownership, StoreError>>,
    ),
    Release(String, oneshot::Sender<Result<Ownership, StoreError>>),
}

/// The leases of one store, renewed on a thread of their own.
pub(crate) struct PgLeases {
    session: Session<Command>,
}

impl PgLeases {
    /// Starts the leases thread; it connects when first asked.
    pub(crate) fn spawn(options: &PostgresOptions) -> Result<Self, StoreError> {
        Ok(Self {
            session: Session::spawn("herald-pg-leases", options, serve)?,
        })
    }

    fn send(&self, command: Command) {
        self.session.send(command);
    }
}

impl PartitionLeases for PgLeases {
    fn renew(&self, node: &str, now: UnixSeconds, held: PartitionSet) -> LeaseReply {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Renew(node.to_owned(), now, held, reply));
        answer
    }

    fn release(&self, node: &str) -> LeaseReply {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Release(node.to_owned(), reply));
        answer
    }
}

/// The key of the advisory lock a node holds on its leases' connection for as long as it
/// lives, as SQL over the node's name (`node`, an expression): a node whose lock nobody holds
/// has lost its connection (it died, or PostgreSQL dropped it), and its partitions are free at
/// once rather than when its leases run out. One per schema, so schemas do not see each other.
fn lock_key(node: &str) -> String {
    format!("hashtextextended(current_schema() || ' ' || {node}, 0)")
}

/// Whether the node named by the SQL expression `node` holds its lock: a condition for SQL.
fn alive(node: &str) -> String {
    let key = lock_key(node);
    format!(
        "EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted
             AND l.objsubid = 1
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND l.classid = ((({key}) >> 32) & 4294967295)::oid
             AND l.objid = (({key}) & 4294967295)::oid)"
    )
}

fn serve(options: &PostgresOptions, commands: &std_mpsc::Receiver<Command>) {
    let mut client: Option<Client> = None;
    // The nodes whose lock this connection holds.
    let mut locked = std::collections::HashSet::new();
    while let Ok(command) = commands.recv() {
        if client.is_none() {
            locked.clear();
            match crate::connection::connect(options) {
                Ok(connected) => client = Some(connected),
                Err(error) => {
                    let reply = match command {
                        Command::Renew(_, _, _, reply) | Command::Release(_, reply) => reply,
                    };
                    let _ = reply.send(Err(error));
                    continue;
                }
            }
        }
        let Some(session) = client.as_mut() else {
            continue;
        };
        let (answer, reply) = match command {
            Command::Renew(node, now, held, reply) => {
                let answer = take_lock(session, &node, &mut locked)
                    .and_then(|()| renew(session, &node, now, &held));
                (answer, reply)
            }
            Command::Release(node, reply) => (release(session, &node), reply),
        };
        if answer.is_err() {
            // The next command connects again; a transaction left open goes with the session.
            client = None;
        }
        let _ = reply.send(answer);
    }
}

/// Takes `node`'s lock on this connection, once. Another session holding it (a node of the
/// same name whose connection PostgreSQL has not closed yet, or another name of the same hash)
/// leaves it to that session: the node counts as alive either way, which is the safe side.
fn take_lock(
    client: &mut Client,
    node: &str,
    locked: &mut std::collections::HashSet<String>,
) -> Result<(), StoreError> {
    if locked.contains(node) {
        return Ok(());
    }
    let taken: bool = client
        .query_one(
            &format!("SELECT pg_try_advisory_lock({})", lock_key("$1")),
            &[&node],
        )
        .map_err(backend)?
        .get(0);
    if taken {
        locked.insert(node.to_owned());
    }
    Ok(())
}

fn renew(
    client: &mut Client,
    node: &str,
    now: UnixSeconds,
    holds: &PartitionSet,
) -> Result<Ownership, StoreError> {
    let until = now + LEASE_SECONDS;
    let holds: Vec<i32> = holds.iter().map(i32::from).collect();
    let mut tx = client.transaction().map_err(backend)?;
    tx.execute(
        "INSERT INTO nodes (node, expires_at) VALUES ($1, $2)
         ON CONFLICT (node) DO UPDATE SET expires_at = excluded.expires_at",
        &[&node, &until],
    )
    .map_err(backend)?;
    // Nodes gone for an hour are forgotten; until then they only count while their time lasts.
    tx.execute(
        "DELETE FROM nodes WHERE expires_at < $1",
        &[&(now - FORGET_SECONDS)],
    )
    .map_err(backend)?;
    // A node counts while its time lasts and its connection holds its lock.
    let live: i64 = tx
        .query_one(
            &format!(
                "SELECT count(*) FROM nodes WHERE expires_at > $1 AND {}",
                alive("nodes.node")
            ),
            &[&now],
        )
        .map_err(backend)?
        .get(0);
    // Every live node's share, rounded up, so that the shares cover every partition.
    let live = live.max(1);
    let share = (i64::from(PARTITIONS) + live - 1) / live;
    let mut held: Vec<(i32, i64)> = tx
        .query(
            "UPDATE partition_leases
             SET expires_at = $2, owner_holds = owner_holds OR partition = ANY($3)
             WHERE node = $1
             RETURNING partition, epoch",
            &[&node, &until, &holds],
        )
        .map_err(backend)?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    held.sort_unstable();
    let held_count = i64::try_from(held.len()).unwrap_or(i64::MAX);
    if held_count > share {
        // The partitions beyond the share go back, the highest first, so that the next node
        // to renew finds them free.
        let extra: Vec<i32> = held
            .split_off(usize::try_from(share).unwrap_or(0))
            .into_iter()
            .map(|(partition, _)| partition)
            .collect();
        tx.execute(
            "UPDATE partition_leases SET node = NULL, expires_at = 0
             WHERE partition = ANY($1) AND node = $2",
            &[&extra, &node],
        )
        .map_err(backend)?;
    } else if held_count < share {
        // Free partitions, and those of nodes whose leases ran out or whose connection is gone.
        let taken = tx
            .query(
                &format!(
                    "UPDATE partition_leases SET node = $1, epoch = epoch + 1, expires_at = $2,
                         owner_holds = partition = ANY($5)
                     WHERE partition IN (
                         SELECT partition FROM partition_leases p
                         WHERE p.node IS NULL OR p.expires_at <= $3 OR NOT {}
                         ORDER BY partition LIMIT $4 FOR UPDATE SKIP LOCKED)
                     RETURNING partition, epoch",
                    alive("p.node")
                ),
                &[&node, &until, &now, &(share - held_count), &holds],
            )
            .map_err(backend)?;
        held.extend(taken.iter().map(|row| (row.get(0), row.get(1))));
    }
    // What no owner's engine holds yet: a node that gave these up keeps their people.
    let unheld: PartitionSet = tx
        .query(
            "SELECT partition FROM partition_leases WHERE node IS NULL OR NOT owner_holds",
            &[],
        )
        .map_err(backend)?
        .iter()
        .filter_map(|row| u16::try_from(row.get::<_, i32>(0)).ok())
        .collect();
    tx.commit().map_err(backend)?;
    Ok(Ownership {
        unheld,
        live: u16::try_from(live).unwrap_or(u16::MAX),
        ..ownership(held, until)
    })
}

fn release(client: &mut Client, node: &str) -> Result<Ownership, StoreError> {
    let mut tx = client.transaction().map_err(backend)?;
    tx.execute(
        "UPDATE partition_leases SET node = NULL, expires_at = 0 WHERE node = $1",
        &[&node],
    )
    .map_err(backend)?;
    tx.execute("DELETE FROM nodes WHERE node = $1", &[&node])
        .map_err(backend)?;
    tx.commit().map_err(backend)?;
    Ok(ownership(Vec::new(), 0))
}

fn ownership(mut held: Vec<(i32, i64)>, until: UnixSeconds) -> Ownership {
    held.sort_unstable();
    Ownership {
        leases: held
            .into_iter()
            .filter_map(|(partition, epoch)| {
                Some(Lease {
                    partition: u16::try_from(partition).ok()?,
                    epoch,
                })
            })
            .collect(),
        until,
        unheld: PartitionSet::default(),
        live: 1,
    }
}

/// Whether `node` holds each of `leases`, locking their rows until the transaction ends: a
/// renewal takes rows with `SKIP LOCKED`, so no other node takes one of these partitions over
/// (and compares the stored memberships) before what this transaction stores is committed.
pub(crate) fn hold(
    pg: &mut Pg<'_>,
    node: &str,
    leases: &[Lease],
) -> Result<Vec<Lease>, StoreError> {
    if leases.is_empty() {
        return Ok(Vec::new());
    }
    let partitions: Vec<i32> = leases
        .iter()
        .map(|lease| i32::from(lease.partition))
        .collect();
    let held: Vec<(i32, Option<String>, i64)> = pg
        .query(
            "SELECT partition, node, epoch FROM partition_leases WHERE partition = ANY($1)
             ORDER BY partition FOR SHARE",
            &[&partitions],
        )?
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    // The rows of partitions no longer held stay locked too until the end of the transaction,
    // which only delays their new owner's next renewal by as much.
    Ok(leases
        .iter()
        .filter(|lease| {
            held.iter().any(|(partition, owner, epoch)| {
                *partition == i32::from(lease.partition)
                    && owner.as_deref() == Some(node)
                    && *epoch == lease.epoch
            })
        })
        .copied()
        .collect())
}

/// Records `node`'s image position and answers the smallest of the live nodes' (a node that
/// wrote no image yet keeps the whole log).
pub(crate) fn log_trim_point(
    pg: &mut Pg<'_>,
    node: &str,
    position: i64,
    now: UnixSeconds,
) -> Result<i64, StoreError> {
    pg.execute(
        "UPDATE nodes SET log_kept = GREATEST(log_kept, $2) WHERE node = $1",
        &[&node, &position],
    )?;
    let point: Option<i64> = pg
        .query_one(
            "SELECT min(log_kept) FROM nodes WHERE expires_at > $1",
            &[&now],
        )?
        .get(0);
    // No live node (this one's heartbeat lapsed): nothing is trimmed.
    Ok(point.unwrap_or(0).min(position))
}
