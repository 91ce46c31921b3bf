//! Durations as the config writes them: "500ms", "5s", "2m", "1h", parsed and printed.

use std::time::Duration;

/// The longest duration accepted anywhere.
pub const MAX: Duration = Duration::from_hours(24);

/// Parse a duration such as "500ms", "5s", "2m", "1h" (a bare number is rejected).
pub fn parse(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {text:?}: write e.g. \"500ms\", \"5s\", \"2m\"");
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .filter(|&i| i > 0)
        .ok_or_else(bad)?;
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let duration = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => return Err(bad()),
    };
    if duration.is_zero() {
        return Err(format!("invalid duration {text:?}: must be more than zero"));
    }
    // Every duration here bounds a wait; a day is more than any of them needs, and a
    // bound keeps `Instant::now() + d` from overflowing (found by the property tests).
    if duration > MAX {
        return Err(format!("invalid duration {text:?}: at most 24h"));
    }
    Ok(duration)
}

/// Format a duration the way the config writes it: "5s", "500ms", "2m".
#[must_use]
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(60_000) && ms >= 60_000 {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("2m"), Ok(Duration::from_mins(2)));
        assert_eq!(parse("1h"), Ok(Duration::from_hours(1)));
        for bad in ["", "5", "s", "5sec", "-1s", "0s", "1.5s"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn printed_as_written() {
        for (ms, text) in [
            (500, "500ms"),
            (5000, "5s"),
            (120_000, "2m"),
            (90_000, "90s"),
            (1500, "1500ms"),
        ] {
            assert_eq!(format(Duration::from_millis(ms)), text);
            assert_eq!(parse(text), Ok(Duration::from_millis(ms)));
        }
    }
}
