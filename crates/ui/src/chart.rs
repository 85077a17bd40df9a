//! The 30-day charts (an event's volume, a segment's size), drawn on the server as SVG bars (no
//! script, no inline style: the page's Content-Security-Policy allows neither), each with a
//! sentence that says what it shows for those who cannot see it, and the day-by-day figures for
//! a table.

use std::collections::HashMap;

const DAY: i64 = 86_400;

/// How many days a chart covers, today included.
pub const DAYS: i64 = 30;

/// One day's bar, in the chart's own units (a 300 × 100 box, bars from the bottom).
pub struct Bar {
    pub x: String,
    pub y: String,
    pub height: String,
    pub width: String,
    /// "2026-12-03: 41 events", the bar's tooltip.
    pub label: String,
}

/// One day's figure, for the table under a large chart.
pub struct DayCount {
    pub date: String,
    pub count: i64,
}

/// What a chart's figures are.
#[derive(Clone, Copy)]
pub enum Measure {
    /// Events per day: the figures add up.
    Events,
    /// People at the end of each day (a segment's size): each figure stands alone.
    People,
    /// A campaign's messages (or runs) with this outcome per day (`sent`, `opened`…): the
    /// figures add up.
    Outcome(&'static str),
}

impl Measure {
    fn of(self, count: i64) -> String {
        let (one, many) = match self {
            Self::Events => ("event", "events"),
            Self::People => ("person", "people"),
            Self::Outcome(outcome) => (outcome, outcome),
        };
        format!("{count} {}", if count == 1 { one } else { many })
    }
}

/// A 30-day chart: one bar a day.
pub struct DayChart {
    pub bars: Vec<Bar>,
    pub days: Vec<DayCount>,
    /// What the chart shows, in one sentence.
    pub summary: String,
    pub first_date: String,
    pub last_date: String,
}

/// The UTC day number of a time, and the date of a day number.
pub fn day_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(DAY)
}

fn date(day: i64) -> String {
    jiff::Timestamp::from_second(day * DAY).map_or_else(
        |_| day.to_string(),
        |at| at.strftime("%Y-%m-%d").to_string(),
    )
}

impl DayChart {
    /// The chart of the `DAYS` days ending with `today`, from figures by day number (days not
    /// listed had none).
    pub fn new(today: i64, counts: &HashMap<i64, i64>, measure: Measure) -> Self {
        let first = today - DAYS + 1;
        let days: Vec<DayCount> = (first..=today)
            .map(|day| DayCount {
                date: date(day),
                count: counts.get(&day).copied().unwrap_or(0),
            })
            .collect();
        let total: i64 = days.iter().map(|d| d.count).sum();
        let peak = days.iter().map(|d| d.count).max().unwrap_or(0);
        let slot = 300.0 / DAYS as f64;
        let bars = days
            .iter()
            .enumerate()
            .map(|(index, day)| {
                // An empty day still shows a hairline, so the axis reads as 30 days.
                let height = if peak == 0 || day.count == 0 {
                    1.0
                } else {
                    (day.count as f64 / peak as f64 * 100.0).max(3.0)
                };
                Bar {
                    x: format!("{:.2}", index as f64 * slot + slot * 0.1),
                    y: format!("{:.2}", 100.0 - height),
                    height: format!("{height:.2}"),
                    width: format!("{:.2}", slot * 0.8),
                    label: format!("{}: {}", day.date, measure.of(day.count)),
                }
            })
            .collect();
        let busiest = days
            .iter()
            .filter(|d| d.count == peak)
            .map(|d| d.date.clone())
            .next_back()
            .unwrap_or_default();
        let summary = match measure {
            Measure::Events if total == 0 => format!("No events in the last {DAYS} days."),
            Measure::Outcome(outcome) if total == 0 => {
                format!("None {outcome} in the last {DAYS} days.")
            }
            Measure::Events | Measure::Outcome(_) => format!(
                "{} in the last {DAYS} days; the most, {peak}, on {busiest}.",
                measure.of(total)
            ),
            Measure::People => {
                let first = days.first().map_or(0, |d| d.count);
                let last = days.last().map_or(0, |d| d.count);
                format!(
                    "{} now, {first} on {}; the most, {peak}, on {busiest}.",
                    measure.of(last),
                    date(today - DAYS + 1)
                )
            }
        };
        Self {
            first_date: date(first),
            last_date: date(today),
            bars,
            days,
            summary,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_covers_thirty_days_scaled_to_the_busiest() {
        let today = day_of(1_796_256_000); // 2026-12-03
        let counts = HashMap::from([(today, 10), (today - 1, 5), (today - 40, 99)]);
        let chart = DayChart::new(today, &counts, Measure::Events);
        assert_eq!(chart.bars.len(), 30);
        assert_eq!(
            chart.days.iter().map(|d| d.count).sum::<i64>(),
            15,
            "a day before the window does not count"
        );
        assert_eq!(chart.last_date, "2026-12-03");
        assert_eq!(chart.first_date, "2026-11-04");
        assert_eq!(chart.bars[29].height, "100.00");
        assert_eq!(chart.bars[28].height, "50.00");
        assert_eq!(chart.bars[0].height, "1.00");
        assert_eq!(chart.bars[29].label, "2026-12-03: 10 events");
        assert_eq!(
            chart.summary,
            "15 events in the last 30 days; the most, 10, on 2026-12-03."
        );
        let empty = DayChart::new(today, &HashMap::new(), Measure::Events);
        assert_eq!(empty.summary, "No events in the last 30 days.");
        let sizes = HashMap::from([(today, 1), (today - 29, 4), (today - 3, 9)]);
        let size = DayChart::new(today, &sizes, Measure::People);
        assert_eq!(
            size.summary,
            "1 person now, 4 on 2026-11-04; the most, 9, on 2026-11-30."
        );
        assert_eq!(size.bars[26].label, "2026-11-30: 9 people");
    }
}
