//! The reusable half of `herald-bench`: pieces that other benchmark code (and the tests) use
//! directly, starting with the synthetic segmentation workload of
//! `/work/shared/bench/workload.md`.

pub mod workload;
