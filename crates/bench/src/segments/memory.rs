//! This process's memory, from `/proc/self/status`.

/// Resident memory now and at its peak, in bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    pub rss: u64,
    pub peak: u64,
}

impl Memory {
    /// Reads `VmRSS` and `VmHWM`; zeros off Linux, where the file does not exist.
    pub fn now() -> Self {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.trim().strip_suffix("kB"))
                .and_then(|kb| kb.trim().parse::<u64>().ok())
                .map_or(0, |kb| kb * 1024)
        };
        Self {
            rss: field("VmRSS:"),
            peak: field("VmHWM:"),
        }
    }
}

/// Bytes as mebibytes with one decimal, for reports.
pub fn mib(bytes: u64) -> f64 {
    (bytes as f64 / (1024.0 * 1024.0) * 10.0).round() / 10.0
}
