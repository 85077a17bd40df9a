//! Two nodes' dispatchers and registries on one PostgreSQL database: each due message is sent
//! by one of them, once, and a campaign changed on one reaches the other.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use herald_delivery::{NetworkGuard, PushConfig, PushSender, WebhookConfig, WebhookSender};
use herald_domain::{CampaignId, Clock, ManualClock, WorkspaceId};
use herald_ingest::Ingest;
use herald_store::{CampaignRow, CampaignState, NewWorkspace, RunState, StoreHandle};
use herald_store_postgres::PostgresStore;
use herald_store_postgres::test_database::TestSchema;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::{DispatchConfig, Dispatcher, Registry, Senders, Triggers};

const NOW: i64 = 1_800_000_000;
const PEOPLE: usize = 120;

/// A webhook receiver on a real port that answers 200 to everything and keeps each request's
/// path and `Idempotency-Key`.
async fn receiver() -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let address = listener.local_addr().expect("an address");
    let received = Arc::new(Mutex::new(Vec::new()));
    let keep = received.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let keep = keep.clone();
            tokio::spawn(async move {
                let mut bytes = Vec::new();
                let mut buffer = [0_u8; 4096];
                // Reads the head and as much body as it announces.
                let (head, length) = loop {
                    let Ok(read) = socket.read(&mut buffer).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    bytes.extend_from_slice(&buffer[..read]);
                    if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&bytes[..end]).to_string();
                        let length = header(&head, "content-length")
                            .and_then(|value| value.parse::<usize>().ok())
                            .unwrap_or(0);
                        break (head, end + 4 + length);
                    }
                };
                while bytes.len() < length {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => bytes.extend_from_slice(&buffer[..read]),
                    }
                }
                let path = head
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                let key = header(&head, "idempotency-key").unwrap_or_default();
                if let Ok(mut received) = keep.lock() {
                    received.push((path, key));
                }
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (format!("http://{address}"), received)
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}

/// The senders of the dispatcher tests: webhooks through `guard`, no SMTP, no push gateway.
pub(crate) fn senders(guard: NetworkGuard) -> Senders {
    Senders {
        webhook: WebhookSender::new(WebhookConfig {
            timeout: Duration::from_secs(5),
            signing_secret: b"secret".to_vec(),
            guard,
        })
        .expect("a webhook sender"),
        email: None,
        push: PushSender::new(PushConfig {
            gateway_url: None,
            timeout: Duration::from_secs(1),
        })
        .expect("a push sender"),
    }
}

/// A new workspace named `name`; returns its id.
async fn workspace(store: &StoreHandle, name: &str) -> WorkspaceId {
    let new = NewWorkspace {
        name: name.into(),
        site_id: format!("site-{name}"),
        api_key_hash: format!("key-{name}"),
        app_api_key_hash: format!("app-{name}"),
        created_at: 1,
    };
    store
        .write(move |tx| tx.create_workspace(&new))
        .await
        .expect("store works")
        .expect("created")
        .id
}

/// Saves a campaign's changes.
async fn update(store: &StoreHandle, row: &CampaignRow) {
    let row = row.clone();
    store
        .write(move |tx| tx.update_campaign(&row))
        .await
        .expect("store works")
        .expect("updated");
}

/// One node's dispatcher on `store`, with the campaign in its registry.
fn node(store: &StoreHandle, clock: &Arc<dyn Clock>, campaign: &CampaignRow) -> Dispatcher {
    let registry = Arc::new(Registry::new());
    registry.upsert(campaign);
    Dispatcher::start(
        store.clone(),
        clock.clone(),
        registry,
        senders(NetworkGuard::parse(&["127.0.0.1".to_owned()]).expect("an address")),
        DispatchConfig {
            public_url: "http://127.0.0.1:9".into(),
            tracking_key: b"key".to_vec(),
            max_attempts: 3,
            retry_base_seconds: 1,
            concurrency: 8,
            crash_after_send: false,
        },
        Arc::new(Notify::new()),
    )
}

#[tokio::test]
async fn two_nodes_send_each_due_message_once() {
    let schema = TestSchema::new();
    let first = PostgresStore::open_handle(&schema.options()).expect("the store opens");
    let second = PostgresStore::open_handle(&schema.options()).expect("the store opens");
    let (url, received) = receiver().await;
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(NOW));

    let workspace = workspace(&first, "claims").await;
    let row = CampaignRow {
        id: CampaignId::new(0),
        workspace_id: workspace,
        name: "Thanks".into(),
        definition: json!({
            "name": "Thanks",
            "trigger": {"event": {"name": "ordered"}},
            "steps": [{"webhook": {"url": format!("{url}/{{{{ customer.id }}}}")}}]
        }),
        state: CampaignState::Running,
        created_at: NOW,
        updated_at: NOW,
    };
    let campaign = first
        .write(move |tx| tx.insert_campaign(&row))
        .await
        .expect("store works")
        .expect("stored");

    // Both dispatchers run before the events arrive, so they compete for every run.
    let _first_node = node(&first, &clock, &campaign);
    let _second_node = node(&second, &clock, &campaign);
    let registry = Arc::new(Registry::new());
    registry.upsert(&campaign);
    let ingest = Ingest::new(first.clone(), clock.clone())
        .with_triggers(Arc::new(Triggers::new(registry, Arc::new(Notify::new()))));
    for person in 0..PEOPLE {
        let item = json!({"type": "person", "identifiers": {"id": format!("p{person}")},
            "action": "event", "name": "ordered"});
        let operation = herald_ingest::validate_v2::operation(&item, NOW)
            .expect("valid")
            .expect("an operation");
        ingest
            .submit(workspace, vec![operation])
            .await
            .expect("committed");
    }

    let campaign_id = campaign.id;
    let mut states = Vec::new();
    for _ in 0..1000 {
        states = first
            .read(move |r| r.runs_of_campaign(workspace, campaign_id))
            .await
            .expect("read")
            .into_iter()
            .map(|run| run.state)
            .collect();
        if states.len() == PEOPLE && states.iter().all(|state| *state != RunState::Active) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(states, vec![RunState::Done; PEOPLE]);

    let mut paths: Vec<String> = received
        .lock()
        .expect("not poisoned")
        .iter()
        .map(|(path, key)| {
            assert!(!key.is_empty(), "every message carries its idempotency key");
            path.clone()
        })
        .collect();
    paths.sort();
    let mut expected: Vec<String> = (0..PEOPLE).map(|person| format!("/p{person}")).collect();
    expected.sort();
    assert_eq!(paths, expected, "each message was received exactly once");
}

/// Waits, a few seconds at most, until `done` holds: a change reaches another node after its
/// commit, through the database's notifications.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what} did not happen within 5 s");
}

#[tokio::test]
async fn a_campaign_changed_on_one_node_reaches_the_others() {
    let schema = TestSchema::new();
    let first = PostgresStore::open_handle(&schema.options()).expect("the store opens");
    let second = PostgresStore::open_handle(&schema.options()).expect("the store opens");
    let follower = Arc::new(Registry::new());
    follower.follow(second.clone());

    let workspace = workspace(&first, "follow").await;
    let mut row = CampaignRow {
        id: CampaignId::new(0),
        workspace_id: workspace,
        name: "Thanks".into(),
        definition: json!({
            "name": "Thanks",
            "trigger": {"event": {"name": "ordered"}},
            "steps": [{"webhook": {"url": "https://example.com/{{ customer.id }}"}}]
        }),
        state: CampaignState::Running,
        created_at: NOW,
        updated_at: NOW,
    };
    let stored = row.clone();
    row.id = first
        .write(move |tx| tx.insert_campaign(&stored))
        .await
        .expect("store works")
        .expect("stored")
        .id;
    eventually("the new campaign running on the other node", || {
        follower.any_running(workspace)
    })
    .await;

    row.state = CampaignState::Paused;
    update(&first, &row).await;
    eventually("the pause on the other node", || {
        !follower.any_running(workspace) && follower.get(row.id).is_some()
    })
    .await;

    // A rolled-back change is never told.
    let mut unsaved = row.clone();
    unsaved.state = CampaignState::Running;
    let refused = first
        .write(move |tx| {
            tx.update_campaign(&unsaved)?;
            Err::<(), _>(herald_store::StoreError::Conflict("rolled back".into()))
        })
        .await
        .expect("store works");
    assert!(refused.is_err());
    // Notifications come in commit order: once a later change arrived, a notification of the
    // rolled-back one would have too.
    row.name = "Thanks again".into();
    update(&first, &row).await;
    eventually("the rename on the other node", || {
        follower
            .get(row.id)
            .is_some_and(|loaded| loaded.name == "Thanks again")
    })
    .await;
    assert!(
        !follower.any_running(workspace),
        "the rolled-back start never reached the other node"
    );

    let id = row.id;
    first
        .write(move |tx| tx.delete_campaign(workspace, id))
        .await
        .expect("store works")
        .expect("deleted");
    eventually("the deletion on the other node", || {
        follower.get(id).is_none()
    })
    .await;
}
