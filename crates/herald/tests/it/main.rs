//! Integration tests: one test binary (faster to link) that starts the real `herald` binary on a
//! random port with a temporary data dir and speaks HTTP to it.

mod cli;
mod helpers;
mod ingest;
mod clients_node;
mod clients_python;
