//! The campaigns the server knows, parsed and with their templates compiled, for the hot paths
//! (every ingested event asks which running campaigns it starts).

use herald_domain::{CampaignId, WorkspaceId};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

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
    /// Counts this process's own changes (`upsert`, `remove`), so that a read of the store
    /// that began before one of them does not undo it.
    generation: std::sync::atomic::AtomicU64,
    /// The generation of each campaign's last change by this process.
    touched: std::sync::Mutex<HashMap<CampaignId, u64>>,
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
            generation: std::sync::atomic::AtomicU64::new(0),
            touched: std::sync::Mutex::default(),
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
                if self.touched_since(id, since) {
                    return Ok(());
                }
                match row {
                    Some(row) => self.upsert(&row),
                    None => self.remove(id),
                }
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
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether this process changed campaign `id` after generation `since`.
    fn touched_since(&self, id: CampaignId, since: u64) -> bool {
        let touched = match self.touched.lock() {
            Ok(touched) => touched,
            Err(poisoned) => poisoned.into_inner(),
        };
        touched.get(&id).is_some_and(|at| *at > since)
    }

    /// Records a change of campaign `id` by this process.
    fn touch(&self, id: CampaignId) {
        let at = self
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        let mut touched = match self.touched.lock() {
            Ok(touched) => touched,
            Err(poisoned) => poisoned.into_inner(),
        };
        touched.insert(id, at);
    }

    /// Makes `rows`, read from the store after this process's generation `since`, the whole
    /// registry, but for the campaigns this process changed after `since`, which stay as they
    /// are.
    fn replace_since(&self, rows: Vec<CampaignRow>, since: u64) {
        let current = self.current();
        let mut by_id = HashMap::with_capacity(rows.len());
        let newer: Vec<CampaignId> = current
            .by_id
            .keys()
            .copied()
            .filter(|id| self.touched_since(*id, since))
            .collect();
        for id in &newer {
            if let Some(loaded) = current.by_id.get(id) {
                by_id.insert(*id, loaded.clone());
            }
        }
        for row in rows {
            if self.touched_since(row.id, since) {
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
        self.change(|snapshot| snapshot.by_id = by_id);
    }

    /// Adds or replaces a campaign. A stored campaign that no longer parses (it was valid when
    /// saved) is left out with an error in the log rather than stopping the server.
    pub fn upsert(&self, row: &CampaignRow) {
        self.touch(row.id);
        let loaded = self.compiled(row);
        self.change(|snapshot| {
            snapshot.by_id.remove(&row.id);
            if let Some(loaded) = loaded {
                snapshot.by_id.insert(row.id, loaded);
            }
        });
    }

    /// Forgets a deleted campaign.
    pub fn remove(&self, id: CampaignId) {
        self.touch(id);
        self.change(|snapshot| {
            snapshot.by_id.remove(&id);
        });
    }

    /// Forgets every campaign of a deleted workspace.
    pub fn forget_workspace(&self, workspace_id: WorkspaceId) {
        self.change(|snapshot| {
            snapshot
                .by_id
                .retain(|_, loaded| loaded.workspace_id != workspace_id);
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

    fn change(&self, edit: impl FnOnce(&mut Snapshot)) {
        let mut guard = match self.snapshot.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut next = Snapshot {
            by_id: guard.by_id.clone(),
            running: HashMap::new(),
        };
        edit(&mut next);
        for loaded in next.by_id.values() {
            if loaded.is_running() {
                next.running
                    .entry(loaded.workspace_id)
                    .or_default()
                    .push(loaded.clone());
            }
        }
        for list in next.running.values_mut() {
            list.sort_by_key(|loaded| loaded.id);
        }
        *guard = Arc::new(next);
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
}
