//! `herald user create EMAIL --password-stdin`: a web UI user, made from scripts. Like
//! `herald workspace`, it opens the data dir's database directly.

use std::io::BufRead;
use std::path::Path;

use anyhow::Context;
use herald_domain::{Clock, SystemClock};
use herald_store::NewUser;

use crate::cli::UserCommand;
use crate::store_location::StoreLocation;

pub fn run(config: Option<&Path>, command: UserCommand) -> anyhow::Result<()> {
    let UserCommand::Create {
        email,
        password_stdin,
        admin,
        workspaces,
        store,
    } = command;
    anyhow::ensure!(
        password_stdin,
        "give the password on standard input with --password-stdin, e.g. `printf '%s' \"$PASSWORD\" | herald user create {email} --password-stdin`"
    );
    let email = email.trim().to_lowercase();
    anyhow::ensure!(email.contains('@'), "{email:?} is not an email address");
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .context("cannot read the password from standard input")?;
    let password = password.trim_end_matches(['\n', '\r']);
    let password_hash =
        herald_ui::hash_password(password).map_err(|error| anyhow::anyhow!("{error}"))?;
    let store = StoreLocation::load(config, store)?.open()?;
    let all = store
        .read_blocking(|r| r.workspaces())
        .context("cannot read the workspaces")?;
    let granted: Vec<herald_domain::WorkspaceId> = if admin {
        Vec::new()
    } else if workspaces.is_empty() {
        all.iter().map(|w| w.id).collect()
    } else {
        workspaces
            .iter()
            .map(|name| {
                all.iter()
                    .find(|w| w.name == *name)
                    .map(|w| w.id)
                    .with_context(|| {
                        format!("no workspace is named {name:?} (see `herald workspace list`)")
                    })
            })
            .collect::<anyhow::Result<_>>()?
    };
    let new = NewUser {
        email: email.clone(),
        password_hash,
        admin,
        created_at: SystemClock.now(),
    };
    let user = store
        .write_blocking(move |tx| {
            let user = tx.insert_user(&new)?;
            for workspace in &granted {
                tx.grant_workspace(user.id, *workspace)?;
            }
            Ok::<_, herald_store::StoreError>(user)
        })
        .context("the store is unavailable")?
        .with_context(|| format!("cannot create the user {email:?}"))?;
    println!(
        "created the user {} ({}); sign in at /ui/sign-in",
        user.email,
        if user.admin {
            "every workspace".to_owned()
        } else {
            "its granted workspaces".to_owned()
        }
    );
    Ok(())
}
