//! The SQL baselines' results, read from the lines the baseline scripts print
//! (`postgres S1 count=125849 median_ms=103.2`), so that their ratios to the engine are computed
//! and printed by the same run.

/// One segment's result on one baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    pub system: String,
    pub segment: String,
    pub count: usize,
    pub median_ms: f64,
}

/// Reads every well-formed result line; anything else (the scripts' own chatter) is skipped.
pub fn parse(text: &str) -> Vec<Baseline> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Baseline> {
    let mut fields = line.split_whitespace();
    let system = fields.next()?.to_owned();
    let segment = fields.next()?.to_owned();
    let count = fields.next()?.strip_prefix("count=")?.parse().ok()?;
    let median_ms = fields.next()?.strip_prefix("median_ms=")?.parse().ok()?;
    fields.next().is_none().then_some(Baseline {
        system,
        segment,
        count,
        median_ms,
    })
}

/// The fastest baseline of a segment.
pub fn best<'b>(baselines: &'b [Baseline], segment: &str) -> Option<&'b Baseline> {
    baselines
        .iter()
        .filter(|b| b.segment == segment)
        .min_by(|a, b| a.median_ms.total_cmp(&b.median_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_result_lines_only() {
        let text = "loading…\npostgres S1 count=125849 median_ms=103.2\nduckdb S1 count=125849 median_ms=48.0\nsqlite S2 count=597 median_ms=\n";
        let parsed = parse(text);
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].system, "postgres");
        assert_eq!(parsed[0].count, 125_849);
        assert_eq!(
            best(&parsed, "S1").map(|b| b.system.as_str()),
            Some("duckdb")
        );
        assert!(best(&parsed, "S3").is_none());
    }
}
