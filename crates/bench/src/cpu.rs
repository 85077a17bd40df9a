//! CPU time of a process, read from `/proc/<pid>/stat`, so that a run can say how the machine's
//! cores were split between the generator and the server.

/// Linux reports process times in clock ticks of `USER_HZ`, which is 100 on every mainstream
/// architecture; reading it properly would need `sysconf`, which this crate cannot call safely.
const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU seconds of `pid` ("self" for this process), or `None` off Linux or when
/// the process is gone.
pub fn seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses, so fields are counted from
    // the last closing parenthesis: after it come field 3 (state) onwards.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the state field.
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / TICKS_PER_SECOND)
}

/// Busy CPU seconds of the whole machine, summed over its cores, from the first line of
/// `/proc/stat`. Compared with the generator's and the server's share it shows whether anything
/// else (a compiler, say) ran during the measurement.
pub fn machine_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<f64> = line
        .split_whitespace()
        .map(|field| field.parse().unwrap_or(0.0))
        .collect();
    // Fields: user nice system idle iowait irq softirq steal guest guest_nice; guest time is
    // already counted in user, and idle and iowait are not work.
    let busy: f64 = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&index| ticks.get(index))
        .sum();
    Some(busy / TICKS_PER_SECOND)
}

/// The CPU seconds of the generator, the server (if known) and the machine at one instant.
#[derive(Clone, Copy)]
pub struct Snapshot {
    pub generator: Option<f64>,
    pub server: Option<f64>,
    pub machine: Option<f64>,
}

impl Snapshot {
    pub fn take(server_pid: Option<u32>) -> Self {
        Self {
            generator: seconds("self"),
            server: server_pid.and_then(|pid| seconds(&pid.to_string())),
            machine: machine_seconds(),
        }
    }
}

/// Cores used on average between two snapshots `elapsed` seconds apart.
pub fn cores(before: Option<f64>, after: Option<f64>, elapsed: f64) -> Option<f64> {
    Some((after? - before?) / elapsed)
}

/// A memory figure of `/proc/<pid>/status` (`VmRSS` now, `VmHWM` the peak), in MB.
pub fn memory_mb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes / 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_cpu_time() {
        if cfg!(target_os = "linux") {
            assert!(seconds("self").is_some());
            assert!(machine_seconds().is_some());
        }
    }
}
