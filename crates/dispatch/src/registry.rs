//! The campaigns the server knows, parsed and with their templates compiled, for the hot paths
//! (every ingested event asks which running campaigns it starts).

use herald_domain::{CampaignId, WorkspaceId};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use herald_campaigns::{Campaign, Step};
use herald_store::{CampaignRow, CampaignState, StoreChange, StoreError, StoreHandle, StoreRead};
use herald_templates::{Template, Templates};
use tokio::sync::broadcast::error::RecvError;

/// One stored campaign, ready to run.
#[derive(Debug)]
pub struct Loaded {
    pub id: CampaignId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub state: CampaignState,
    /// The stored definition it was compiled from, to tell a changed campaign at a resync.
    pub definition: serde_json::Value,
    pub campaign: Campaign,
    /// Each send step's compiled templates, by step index and field.
    pub templates: HashMap<usize, BTreeMap<String, Template>>,
}

impl Loaded {
    pub fn is_running(&self) -> bool {
        self.state == CampaignState::Running
    }
}

#[derive(Debug, Default)]
struct Snapshot {
    by_id: HashMap<CampaignId, Arc<Loaded>>,
    /// The running campaigns of each workspace.
    running: HashMap<WorkspaceId, Vec<Arc<Loaded>>>,
}

/// The campaign registry. Readers take an `Arc` of the current snapshot, so a change (rare)
/// never blocks the ingest path for more than a pointer copy.
#[derive(Debug)]
pub struct Registry {
    templates: Templates,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Every change takes this lock for its whole check and write, so that a change decided on
    /// an older snapshot (a resync's read) never overwrites one published meanwhile.
    writes: Mutex<Writes>,
}

/// What the registry remembers of this process's own changes (`upsert`, `remove`), so that a
/// read of the store that began before one of them does not undo it.
#[derive(Debug, Default)]
struct Writes {
    /// Counts this process's own changes.
    generation: u64,
    /// The generation of each campaign's last change by this process.
    touched: HashMap<CampaignId, u64>,
}

impl Writes {
    /// Whether this process changed campaign `id` after generation `since`.
    fn touched_since(&self, id: CampaignId, since: u64) -> bool {
        self.touched.get(&id).is_some_and(|at| *at > since)
    }

    /// Records a change of campaign `id` by this process.
    fn touch(&mut self, id: CampaignId) {
        self.generation += 1;
        self.touched.insert(id, self.generation);
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    pub fn new() -> Self {
        Self {
            templates: Templates::new(),
            snapshot: RwLock::default(),
            writes: Mutex::default(),
        }
    }

    /// The template compiler campaigns are checked and compiled with.
    pub fn templates(&self) -> &Templates {
        &self.templates
    }

    /// Loads every stored campaign of every workspace.
    pub fn load(&self, store: &StoreHandle) -> Result<(), StoreError> {
        self.replace(store.read_blocking(all_campaigns)?);
        Ok(())
    }

    /// Keeps the registry up to date with the campaigns other nodes on the same store change:
    /// a store that several nodes share tells each of them what changed, and the registry reads
    /// it afresh. Does nothing for a store that one process owns, whose `Campaigns` keeps the
    /// registry itself.
    pub fn follow(self: &Arc<Self>, store: StoreHandle) {
        let Some(mut changes) = store.subscribe_changes() else {
            return;
        };
        let registry = self.clone();
        tokio::spawn(async move {
            loop {
                let change = match changes.recv().await {
                    Ok(change) => change,
                    // Changes were missed: all of them are read again.
                    Err(RecvError::Lagged(_)) => StoreChange::Resync,
                    Err(RecvError::Closed) => return,
                };
                if let Err(error) = registry.apply(&store, change).await {
                    tracing::error!(error = %error, "cannot read a campaign another node changed; it is read again at the next change or resync");
                }
            }
        });
    }

    async fn apply(&self, store: &StoreHandle, change: StoreChange) -> Result<(), StoreError> {
        // What this process changes while the read runs is newer than what the read finds (a
        // resync's read began, a campaign was started here, then the read's stale row undid
        // the start: an event right after it started no run).
        let since = self.generation();
        match change {
            StoreChange::Campaign { workspace_id, id } => {
                let row = store.read(move |r| r.campaign(workspace_id, id)).await?;
                self.replace_one_since(id, row.as_ref(), since);
            }
            StoreChange::Resync => self.replace_since(store.read(all_campaigns).await?, since),
            StoreChange::Segment { .. }
            | StoreChange::Question { .. }
            | StoreChange::Answer { .. } => {}
        }
        Ok(())
    }

    /// Makes `rows` the whole registry, keeping what is compiled already for a campaign that
    /// did not change.
    fn replace(&self, rows: Vec<CampaignRow>) {
        self.replace_since(rows, u64::MAX);
    }

    /// This process's generation of changes now.
    fn generation(&self) -> u64 {
        self.lock_writes().generation
    }

    fn lock_writes(&self) -> MutexGuard<'_, Writes> {
        match self.writes.lock() {
            Ok(writes) => writes,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Makes `rows`, read from the store after this process's generation `since`, the whole
    /// registry, but for the campaigns this process changed after `since`, which stay as they
    /// are.
    fn replace_since(&self, rows: Vec<CampaignRow>, since: u64) {
        self.write(|writes, current| {
            let mut by_id = HashMap::with_capacity(rows.len());
            for (id, loaded) in &current.by_id {
                if writes.touched_since(*id, since) {
                    by_id.insert(*id, loaded.clone());
                }
            }
            for row in rows {
                if writes.touched_since(row.id, since) {
                    continue;
                }
                let kept = current.by_id.get(&row.id).filter(|loaded| {
                    loaded.state == row.state
                        && loaded.name == row.name
                        && loaded.definition == row.definition
                });
                let loaded = match kept {
                    Some(loaded) => Some(loaded.clone()),
                    None => self.compiled(&row),
                };
                if let Some(loaded) = loaded {
                    by_id.insert(row.id, loaded);
                }
            }
            Some(by_id)
        });
    }

    /// Makes `row`, campaign `id` as read from the store after this process's generation
    /// `since` (`None`: deleted), what the registry holds, unless this process changed it after
    /// `since`.
    fn replace_one_since(&self, id: CampaignId, row: Option<&CampaignRow>, since: u64) {
        let loaded = row.and_then(|row| self.compiled(row));
        self.write(|writes, current| {
            if writes.touched_since(id, since) {
                return None;
            }
            Some(with_one(current, id, loaded))
        });
    }

    /// Adds or replaces a campaign. A stored campaign that no longer parses (it was valid when
    /// saved) is left out with an error in the log rather than stopping the server.
    pub fn upsert(&self, row: &CampaignRow) {
        let loaded = self.compiled(row);
        self.write(|writes, current| {
            writes.touch(row.id);
            Some(with_one(current, row.id, loaded))
        });
    }

    /// Forgets a deleted campaign.
    pub fn remove(&self, id: CampaignId) {
        self.write(|writes, current| {
            writes.touch(id);
            Some(with_one(current, id, None))
        });
    }

    /// Forgets every campaign of a deleted workspace.
    pub fn forget_workspace(&self, workspace_id: WorkspaceId) {
        self.write(|_, current| {
            let mut by_id = current.by_id.clone();
            by_id.retain(|_, loaded| loaded.workspace_id != workspace_id);
            Some(by_id)
        });
    }

    pub fn get(&self, id: CampaignId) -> Option<Arc<Loaded>> {
        self.current().by_id.get(&id).cloned()
    }

    /// Returns the running campaigns of a workspace.
    pub fn running(&self, workspace_id: WorkspaceId) -> Vec<Arc<Loaded>> {
        self.current()
            .running
            .get(&workspace_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Tells whether any campaign runs in a workspace, without copying the list.
    pub fn any_running(&self, workspace_id: WorkspaceId) -> bool {
        self.current().running.contains_key(&workspace_id)
    }

    fn current(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(snapshot) => snapshot.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Publishes the campaigns `edit` returns (nothing when it returns `None`). `edit` runs
    /// holding the write lock, so the snapshot it is given stays the current one until the
    /// result replaces it, and its check of `Writes` cannot be overtaken by another change.
    fn write(
        &self,
        edit: impl FnOnce(&mut Writes, &Snapshot) -> Option<HashMap<CampaignId, Arc<Loaded>>>,
    ) {
        let mut writes = self.lock_writes();
        let current = self.current();
        let Some(by_id) = edit(&mut writes, &current) else {
            return;
        };
        let mut running: HashMap<WorkspaceId, Vec<Arc<Loaded>>> = HashMap::new();
        for loaded in by_id.values() {
            if loaded.is_running() {
                running
                    .entry(loaded.workspace_id)
                    .or_default()
                    .push(loaded.clone());
            }
        }
        for list in running.values_mut() {
            list.sort_by_key(|loaded| loaded.id);
        }
        let next = Arc::new(Snapshot { by_id, running });
        match self.snapshot.write() {
            Ok(mut guard) => *guard = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        drop(writes);
    }

    /// The campaign compiled, or `None` (logged) when it no longer parses.
    fn compiled(&self, row: &CampaignRow) -> Option<Arc<Loaded>> {
        match self.compile(row) {
            Ok(loaded) => Some(Arc::new(loaded)),
            Err(message) => {
                tracing::error!(campaign = row.id.get(), error = %message, "a stored campaign no longer parses; it will not run");
                None
            }
        }
    }

    fn compile(&self, row: &CampaignRow) -> Result<Loaded, String> {
        // Segment references were checked when the campaign was saved; a segment deleted
        // since then simply never triggers it.
        let campaign = Campaign::parse(
            &row.definition,
            &|source| {
                self.templates
                    .compile(source)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
            &|_| true,
        )
        .map_err(|error| error.to_string())?;
        let mut templates = HashMap::new();
        for (index, step) in campaign.steps.iter().enumerate() {
            if let Step::Send {
                templates: sources, ..
            } = step
            {
                let mut compiled = BTreeMap::new();
                for (field, source) in sources {
                    let template = self
                        .templates
                        .compile(source)
                        .map_err(|error| format!("{field}: {error}"))?;
                    compiled.insert(field.clone(), template);
                }
                templates.insert(index, compiled);
            }
        }
        Ok(Loaded {
            id: row.id,
            workspace_id: row.workspace_id,
            name: row.name.clone(),
            state: row.state,
            definition: row.definition.clone(),
            campaign,
            templates,
        })
    }
}

/// The campaigns of `current` with campaign `id` replaced by `loaded` (`None`: left out).
fn with_one(
    current: &Snapshot,
    id: CampaignId,
    loaded: Option<Arc<Loaded>>,
) -> HashMap<CampaignId, Arc<Loaded>> {
    let mut by_id = current.by_id.clone();
    by_id.remove(&id);
    if let Some(loaded) = loaded {
        by_id.insert(id, loaded);
    }
    by_id
}

/// Every stored campaign of every workspace.
fn all_campaigns(reader: &mut dyn StoreRead) -> Result<Vec<CampaignRow>, StoreError> {
    let mut rows = Vec::new();
    for workspace in reader.workspaces()? {
        rows.extend(reader.campaigns(workspace.id)?);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use herald_domain::{CampaignId, WorkspaceId};
    use herald_store::{CampaignRow, CampaignState};
    use serde_json::json;
    use std::sync::{Arc, Barrier};
    use std::thread;

    use super::Registry;

    fn row(state: CampaignState) -> CampaignRow {
        CampaignRow {
            id: CampaignId::new(7),
            workspace_id: WorkspaceId::new(1),
            name: "News".into(),
            definition: json!({
                "name": "News",
                "trigger": {"event": {"name": "purchased"}},
                "steps": [{"webhook": {"url": "https://example.com/hook"}}]
            }),
            state,
            created_at: 1,
            updated_at: 1,
        }
    }

    #[test]
    fn a_read_begun_before_a_change_made_here_does_not_undo_it() {
        let registry = Registry::new();
        registry.replace(vec![row(CampaignState::Draft)]);
        // A resync's read begins, the campaign is started here, then the read (which found it
        // a draft) is applied: the start stands.
        let since = registry.generation();
        registry.upsert(&row(CampaignState::Running));
        registry.replace_since(vec![row(CampaignState::Draft)], since);
        assert_eq!(registry.running(WorkspaceId::new(1)).len(), 1);
        // A read begun after the start is taken whole.
        let since = registry.generation();
        registry.replace_since(vec![row(CampaignState::Paused)], since);
        assert!(registry.running(WorkspaceId::new(1)).is_empty());
        // A removal here is not undone by an older read either.
        let since = registry.generation();
        registry.remove(CampaignId::new(7));
        registry.replace_since(vec![row(CampaignState::Running)], since);
        assert!(registry.get(CampaignId::new(7)).is_none());
    }

    /// A resync's stale rows and a start made here race on two threads, many times: whatever
    /// the interleaving, the start (made after the resync's read began) stands.
    #[test]
    fn a_change_made_here_while_a_stale_read_is_applied_stands() {
        let others: Vec<CampaignRow> = (100..200)
            .map(|n| CampaignRow {
                id: CampaignId::new(n),
                ..row(CampaignState::Draft)
            })
            .collect();
        for round in 0..60 {
            let registry = Arc::new(Registry::new());
            registry.replace(vec![row(CampaignState::Draft)]);
            let since = registry.generation();
            let mut stale = others.clone();
            stale.insert(round % others.len(), row(CampaignState::Draft));
            let barrier = Arc::new(Barrier::new(3));
            let resync = {
                let (registry, barrier) = (registry.clone(), barrier.clone());
                thread::spawn(move || {
                    barrier.wait();
                    registry.replace_since(stale, since);
                })
            };
            let follow = {
                let (registry, barrier) = (registry.clone(), barrier.clone());
                thread::spawn(move || {
                    barrier.wait();
                    registry.replace_one_since(
                        CampaignId::new(7),
                        Some(&row(CampaignState::Draft)),
                        since,
                    );
                })
            };
            barrier.wait();
            // Started once both stale reads were taken: neither may undo it.
            thread::yield_now();
            for _ in 0..round % 7 {
                std::hint::black_box(registry.get(CampaignId::new(100)));
            }
            registry.upsert(&row(CampaignState::Running));
            resync.join().unwrap();
            follow.join().unwrap();
            assert_eq!(
                registry.running(WorkspaceId::new(1)).len(),
                1,
                "round {round}: the start was undone"
            );
        }
    }
}
