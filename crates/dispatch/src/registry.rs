//! The campaigns the server knows, parsed and with their templates compiled, for the hot paths
//! (every ingested event asks which running campaigns it starts).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use herald_campaigns::{Campaign, Step};
use herald_store::{CampaignRow, CampaignState, StoreError, StoreHandle};
use herald_templates::{Template, Templates};

/// One stored campaign, ready to run.
#[derive(Debug)]
pub struct Loaded {
    pub id: i64,
    pub workspace_id: i64,
    pub name: String,
    pub state: CampaignState,
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
    by_id: HashMap<i64, Arc<Loaded>>,
    /// The running campaigns of each workspace.
    running: HashMap<i64, Vec<Arc<Loaded>>>,
}

/// The campaign registry. Readers take an `Arc` of the current snapshot, so a change (rare)
/// never blocks the ingest path for more than a pointer copy.
#[derive(Debug)]
pub struct Registry {
    templates: Templates,
    snapshot: RwLock<Arc<Snapshot>>,
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
        }
    }

    /// The template compiler campaigns are checked and compiled with.
    pub fn templates(&self) -> &Templates {
        &self.templates
    }

    /// Loads every stored campaign of every workspace.
    pub fn load(&self, store: &StoreHandle) -> Result<(), StoreError> {
        let rows = store.read_blocking(|reader| {
            let mut rows = Vec::new();
            for workspace in reader.workspaces()? {
                rows.extend(reader.campaigns(workspace.id)?);
            }
            Ok::<_, StoreError>(rows)
        })?;
        for row in rows {
            self.upsert(&row);
        }
        Ok(())
    }

    /// Adds or replaces a campaign. A stored campaign that no longer parses (it was valid when
    /// saved) is left out with an error in the log rather than stopping the server.
    pub fn upsert(&self, row: &CampaignRow) {
        let loaded = match self.compile(row) {
            Ok(loaded) => Some(Arc::new(loaded)),
            Err(message) => {
                tracing::error!(campaign = row.id, error = %message, "a stored campaign no longer parses; it will not run");
                None
            }
        };
        self.change(|snapshot| {
            snapshot.by_id.remove(&row.id);
            if let Some(loaded) = loaded {
                snapshot.by_id.insert(row.id, loaded);
            }
        });
    }

    /// Forgets a deleted campaign.
    pub fn remove(&self, id: i64) {
        self.change(|snapshot| {
            snapshot.by_id.remove(&id);
        });
    }

    pub fn get(&self, id: i64) -> Option<Arc<Loaded>> {
        self.current().by_id.get(&id).cloned()
    }

    /// Returns the running campaigns of a workspace.
    pub fn running(&self, workspace_id: i64) -> Vec<Arc<Loaded>> {
        self.current()
            .running
            .get(&workspace_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Tells whether any campaign runs in a workspace, without copying the list.
    pub fn any_running(&self, workspace_id: i64) -> bool {
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
            campaign,
            templates,
        })
    }
}
