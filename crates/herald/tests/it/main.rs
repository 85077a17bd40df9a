//! Integration tests: one test binary (faster to link) that starts the real `herald` binary on a
//! random port with a temporary data dir and speaks HTTP to it.

mod behaviour;
mod campaigns;
mod cli;
mod clients_node;
mod clients_python;
mod dev_clock;
mod durability;
mod helpers;
mod ingest;
mod segments;
mod validation;
