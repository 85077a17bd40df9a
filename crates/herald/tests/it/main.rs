//! Integration tests: one test binary (faster to link) that starts the real `herald` binary on a
//! random port with a temporary data dir and speaks HTTP to it.

mod backup;
mod behaviour;
mod browser_api;
mod browser_chromium;
mod campaigns;
mod cli;
mod clients_node;
mod clients_python;
mod copy;
mod customer_search;
mod database;
mod delivery;
mod dev_clock;
mod durability;
mod health;
mod helpers;
mod hostile_input;
mod ingest;
mod liquid_overflow;
mod logs;
mod metrics;
mod nodes;
mod objects;
mod objects_campaigns;
mod objects_liquid;
mod overload;
mod pipelines;
mod receiver;
mod restart;
mod segments;
#[path = "../../../delivery/tests/support/smtp_sink.rs"]
mod smtp_sink;
mod stored_damage;
mod timeouts;
mod tracking;
mod transactional;
mod ui;
mod ui_campaign_editor;
mod ui_objects;
mod unsupported;
mod validation;
mod workspace_keys;
