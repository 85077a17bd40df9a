//! `herald-bench campaigns`: the campaign delivery benchmark (issue 4).
//!
//! It starts a webhook receiver in this process, creates and starts an event-triggered
//! campaign with one webhook step on a running Herald, identifies the people the events are
//! about, and then runs its phases, printing one JSON line each:
//!
//! - `latency`: `purchased` events at a steady `--rate`, each with a unique `seq`; the figure is
//!   the time from an event's send start to its webhook's arrival at the receiver.
//! - `burst`: `--burst` events as fast as the server takes them; the figure is the rate at
//!   which their webhooks arrive, from the first to the last.
//! - `visibility`: the time from a Track event to the App API listing the segment it put the
//!   person in (see `visibility.rs`).
//!
//! Each event carries its sequence number as `data.seq` and the campaign renders it as the
//! webhook's body, which is how an arrival is matched with its event.

mod burst;
pub(crate) mod client;
mod latency;
mod receiver;
mod sender;
mod setup;
mod threads;
mod timeline;
mod usage;
mod visibility;

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use crate::args::{CampaignPhase, CampaignsArgs};
use crate::report::round;
use crate::target::Target;

use self::timeline::Timeline;

/// Connections that identify the people before the phases.
const IDENTIFY_CONNECTIONS: u64 = 16;

pub fn main(args: &CampaignsArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.rate > 0, "--rate must be at least 1");
    anyhow::ensure!(args.people > 0, "--people must be at least 1");
    crate::runtime::build(args.threads)?.block_on(run(args))
}

async fn run(args: &CampaignsArgs) -> anyhow::Result<()> {
    let target = Target::new(&args.url, &args.keys.site_id, &args.keys.api_key)?;
    let latency_events = if args.phases.contains(&CampaignPhase::Latency) {
        latency::events(args)
    } else {
        0
    };
    let timeline = Arc::new(Timeline::new(latency_events + args.burst));
    let receiver = receiver::start(timeline.clone()).await?;

    let begin = Instant::now();
    let campaign = setup::start_campaign(&target, &args.keys.app_api_key, receiver).await?;
    setup::identify(&target, args.people, IDENTIFY_CONNECTIONS).await?;
    let setup = json!({
        "phase": "setup",
        "campaign_id": campaign,
        "receiver": receiver.to_string(),
        "people_identified": args.people,
        "secs": round(begin.elapsed().as_secs_f64(), 3),
    });
    println!("{setup}");

    if args.phases.contains(&CampaignPhase::Latency) {
        println!("{}", latency::run(args, &target, &timeline).await?);
    }
    if args.phases.contains(&CampaignPhase::Burst) {
        let range = latency_events..latency_events + args.burst;
        println!("{}", burst::run(args, &target, &timeline, range).await?);
    }
    if args.phases.contains(&CampaignPhase::Visibility) {
        println!("{}", visibility::run(args, &target).await?);
    }
    Ok(())
}
