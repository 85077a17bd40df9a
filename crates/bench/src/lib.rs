//! The reusable half of `herald-bench`: pieces that other benchmark code (and the tests) use
//! directly: the synthetic segmentation workload of `/work/shared/bench/workload.md`, and the
//! in-process segment engine benchmark that runs on it.

pub mod segments;
pub mod workload;
