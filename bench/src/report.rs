//! Small statistics and Markdown helpers for the report.

use std::fmt::Write as _;
use std::time::Duration;

/// The median of some durations (zero when empty).
pub fn median(xs: &[Duration]) -> Duration {
    percentile(xs, 50.0)
}

/// Nearest-rank percentile of some durations (zero when empty).
pub fn percentile(xs: &[Duration], p: f64) -> Duration {
    if xs.is_empty() {
        return Duration::ZERO;
    }
    let mut v = xs.to_vec();
    v.sort();
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// Milliseconds with a precision that suits the size.
pub fn ms(d: Duration) -> String {
    let x = d.as_secs_f64() * 1e3;
    if x >= 100.0 {
        format!("{x:.0} ms")
    } else if x >= 10.0 {
        format!("{x:.1} ms")
    } else {
        format!("{x:.2} ms")
    }
}

pub fn us(d: Duration) -> String {
    let x = d.as_secs_f64() * 1e6;
    if x >= 100.0 {
        format!("{x:.0} µs")
    } else {
        format!("{x:.1} µs")
    }
}

/// `a / b` as "×1.23" (or "–" when `b` is zero).
pub fn ratio(a: f64, b: f64) -> String {
    if b == 0.0 || !a.is_finite() || !b.is_finite() {
        "–".into()
    } else {
        let r = a / b;
        if r >= 100.0 {
            format!("×{r:.0}")
        } else if r >= 10.0 {
            format!("×{r:.1}")
        } else {
            format!("×{r:.2}")
        }
    }
}

pub fn dratio(a: Duration, b: Duration) -> String {
    ratio(a.as_secs_f64(), b.as_secs_f64())
}

pub fn bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64)
    } else {
        format!("{:.0} KiB", n as f64 / 1024.0)
    }
}

/// A Markdown table.
pub fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "| {} |", head.join(" | "));
    let _ = writeln!(
        s,
        "|{}|",
        head.iter().map(|_| "---").collect::<Vec<_>>().join("|")
    );
    for r in rows {
        let _ = writeln!(s, "| {} |", r.join(" | "));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let xs: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(median(&xs), Duration::from_millis(50));
        assert_eq!(percentile(&xs, 99.0), Duration::from_millis(99));
        assert_eq!(median(&[]), Duration::ZERO);
        assert_eq!(ratio(3.0, 2.0), "×1.50");
    }
}
