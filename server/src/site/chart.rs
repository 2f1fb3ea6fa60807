//! The signing-rate chart: signatures added per hour or per day as SVG bars, laid out
//! here and drawn by the template (no script, no image file). One bar per period from
//! the first signature's to the last's, empty periods included, so the gaps show.

use ledger::record::Date;

const MS_PER_HOUR: u64 = 3_600_000;
/// Up to this many hours from first to last signature the bars are hours; beyond,
/// days.
const MAX_HOURLY_BARS: u64 = 72;

/// Drawing size in SVG user units (the SVG scales to its box).
const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 200.0;
/// Room for the value labels at the left and the date labels below.
const LEFT: f64 = 40.0;
const BOTTOM: f64 = 16.0;

pub(super) struct Bar {
    pub x: String,
    pub y: String,
    pub width: String,
    pub height: String,
    pub label: String,
    pub count: u64,
}

pub(super) struct Chart {
    pub width: u32,
    pub height: u32,
    pub left: u32,
    pub baseline: u32,
    /// `hour` or `day`.
    pub period: &'static str,
    pub max: u64,
    pub first: String,
    pub last: String,
    pub bars: Vec<Bar>,
}

impl Chart {
    /// The chart of `hourly` (start of the hour in Unix ms, signatures added in it),
    /// ascending.
    pub fn of(hourly: &[(u64, u64)]) -> Chart {
        let (Some(&(first, _)), Some(&(last, _))) = (hourly.first(), hourly.last()) else {
            return Chart::from_periods("day", Vec::new());
        };
        let hours = (last - first) / MS_PER_HOUR + 1;
        if hours <= MAX_HOURLY_BARS {
            let mut periods: Vec<(String, u64)> = (0..hours)
                .map(|h| (hour_label(first + h * MS_PER_HOUR), 0))
                .collect();
            for &(start, count) in hourly {
                periods[((start - first) / MS_PER_HOUR) as usize].1 += count;
            }
            return Chart::from_periods("hour", periods);
        }
        let day = |ms: u64| (ms / (24 * MS_PER_HOUR)) as i64;
        let (first_day, last_day) = (day(first), day(last));
        let mut periods: Vec<(String, u64)> =
            (first_day..=last_day).map(|d| (day_label(d), 0)).collect();
        for &(start, count) in hourly {
            periods[(day(start) - first_day) as usize].1 += count;
        }
        Chart::from_periods("day", periods)
    }

    fn from_periods(period: &'static str, periods: Vec<(String, u64)>) -> Chart {
        let max = periods.iter().map(|(_, c)| *c).max().unwrap_or(0);
        let plot_width = WIDTH - LEFT;
        let plot_height = HEIGHT - BOTTOM - 4.0;
        let slot = plot_width / periods.len().max(1) as f64;
        // A gap between bars while they are wide enough to show one.
        let gap = if slot > 3.0 { slot * 0.15 } else { 0.0 };
        let baseline = HEIGHT - BOTTOM;
        let first = periods.first().map(|(l, _)| l.clone()).unwrap_or_default();
        let last = periods.last().map(|(l, _)| l.clone()).unwrap_or_default();
        let bars = periods
            .into_iter()
            .enumerate()
            .map(|(i, (label, count))| {
                let height = if max == 0 {
                    0.0
                } else {
                    plot_height * count as f64 / max as f64
                };
                Bar {
                    x: format!("{:.2}", LEFT + i as f64 * slot + gap / 2.0),
                    y: format!("{:.2}", baseline - height),
                    width: format!("{:.2}", (slot - gap).max(0.5)),
                    height: format!("{height:.2}"),
                    label,
                    count,
                }
            })
            .collect();
        Chart {
            width: WIDTH as u32,
            height: HEIGHT as u32,
            left: LEFT as u32,
            baseline: baseline as u32,
            period,
            max,
            first,
            last,
            bars,
        }
    }
}

fn day_label(days: i64) -> String {
    Date::from_days_since_unix_epoch(days).map_or_else(|| format!("day {days}"), |d| d.to_string())
}

fn hour_label(ms: u64) -> String {
    let days = (ms / (24 * MS_PER_HOUR)) as i64;
    format!("{} {:02}:00", day_label(days), (ms / MS_PER_HOUR) % 24)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = MS_PER_HOUR;
    const T0: u64 = 1_667_347_200_000; // 2022-11-02T00:00:00Z

    #[test]
    fn one_bar_per_period_gaps_included() {
        let chart = Chart::of(&[(T0, 3), (T0 + 2 * H, 6)]);
        assert_eq!(chart.period, "hour");
        assert_eq!(chart.bars.len(), 3);
        let counts: Vec<u64> = chart.bars.iter().map(|b| b.count).collect();
        assert_eq!(counts, [3, 0, 6]);
        assert_eq!(chart.max, 6);
        assert_eq!(chart.first, "2022-11-02 00:00");
        assert_eq!(chart.bars[1].height, "0.00");

        let chart = Chart::of(&[(T0, 1), (T0 + 5, 1), (T0 + 10 * 24 * H + 3 * H, 4)]);
        assert_eq!(chart.period, "day");
        assert_eq!(chart.bars.len(), 11);
        assert_eq!(chart.bars[0].count, 2);
        assert_eq!(chart.bars[10].count, 4);
        assert_eq!(chart.last, "2022-11-12");

        assert!(Chart::of(&[]).bars.is_empty());
    }
}
