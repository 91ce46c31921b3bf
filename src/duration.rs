//! Durations as the config and the command line write them, parsed and printed.
//!
//! One reader for both kinds: a short bound on a wait ([`parse`]: "500ms", "5s", "2m",
//! "1h", one number and one unit, at most 24h) and a long span ([`parse_long`]: "14d",
//! "5d", "1h30m", units `s`, `m`, `h`, `d`, one or more parts, at most a given maximum).

use std::time::Duration;

/// The longest duration accepted for a wait (every `timeout`).
pub const MAX: Duration = Duration::from_hours(24);

/// The units of [`parse`], longest name first (so "ms" is not read as "m").
const SHORT_UNITS: [(&str, u64); 4] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)];
/// The units of [`parse_long`].
const LONG_UNITS: [(&str, u64); 4] = [
    ("s", 1000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];

/// Read `text` as whole numbers each followed by one of `units` (milliseconds per unit):
/// one part only, or as many as written when `compound`. None for anything else, and for
/// a sum that does not fit.
fn read(text: &str, units: &[(&str, u64)], compound: bool) -> Option<Duration> {
    let mut total: u128 = 0;
    let mut rest = text;
    let mut parts = 0;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 || (parts == 1 && !compound) {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, ms) = units.iter().find(|(unit, _)| rest.starts_with(unit))?;
        rest = &rest[unit.len()..];
        total = total.checked_add(u128::from(n) * u128::from(*ms))?;
        parts += 1;
    }
    let secs = u64::try_from(total / 1000).ok()?;
    let nanos = u32::try_from(total % 1000).ok()? * 1_000_000;
    (parts > 0).then(|| Duration::new(secs, nanos))
}

/// Parse a duration such as "500ms", "5s", "2m", "1h" (a bare number is rejected), more
/// than zero and at most [`MAX`].
pub fn parse(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {text:?}: write e.g. \"500ms\", \"5s\", \"2m\"");
    // A number too large for the sum is still "a number and a unit": it is too long.
    let duration = read(text, &SHORT_UNITS, false)
        .or_else(|| too_long(text))
        .ok_or_else(bad)?;
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

/// A number and a unit of [`parse`] too large for a `Duration` ("99999999999999999999h"
/// fits a u64, not as seconds) is longer than any maximum: [`Duration::MAX`].
fn too_long(text: &str) -> Option<Duration> {
    let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let unit = &text[digits..];
    let known = SHORT_UNITS.iter().any(|(u, _)| *u == unit);
    (digits > 0 && known && text[..digits].parse::<u64>().is_ok()).then_some(Duration::MAX)
}

/// Parse a long duration: whole numbers with a unit, `s`, `m`, `h` or `d`, one or more
/// of them (`90s`, `2h`, `1h30m`, `14d`), more than zero and at most `max` (the message
/// says `max` as [`format_long`] writes it).
pub fn parse_long(text: &str, max: Duration) -> Result<Duration, String> {
    let total = read(text, &LONG_UNITS, true).ok_or_else(|| {
        format!("invalid duration {text:?}: write e.g. \"30m\", \"2h\", \"1h30m\" or \"7d\"")
    })?;
    if total.is_zero() {
        return Err(format!("invalid duration {text:?}: must be more than zero"));
    }
    if total > max {
        return Err(format!(
            "invalid duration {text:?}: at most {}",
            format_long(max)
        ));
    }
    Ok(total)
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

/// Format a long duration in its largest whole unit: "14d", "36h", "90m", "20s" (whole
/// seconds; a fraction is dropped).
#[must_use]
pub fn format_long(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0s".into(),
        _ if s.is_multiple_of(86_400) => format!("{}d", s / 86_400),
        _ if s.is_multiple_of(3600) => format!("{}h", s / 3600),
        _ if s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
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
        assert_eq!(parse("24h"), Ok(Duration::from_hours(24)));
        for bad in [
            "", "5", "s", "5sec", "-1s", "0s", "1.5s", "1h30m", "1d", "5 s", "ms",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse("5x").unwrap_err(),
            "invalid duration \"5x\": write e.g. \"500ms\", \"5s\", \"2m\""
        );
        assert_eq!(
            parse("0ms").unwrap_err(),
            "invalid duration \"0ms\": must be more than zero"
        );
        for long in [
            "25h",
            "1441m",
            "99999999999999999h",
            "18446744073709551615h",
            "18446744073709551615ms",
        ] {
            assert_eq!(
                parse(long).unwrap_err(),
                format!("invalid duration {long:?}: at most 24h"),
                "{long}"
            );
        }
        assert!(
            parse("999999999999999999999h")
                .unwrap_err()
                .contains("write e.g."),
            "a number beyond u64 is no number"
        );
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

    #[test]
    fn long_durations() {
        let max = Duration::from_hours(24 * 366);
        for (text, secs) in [
            ("20s", 20),
            ("90s", 90),
            ("5d", 432_000),
            ("14d", 1_209_600),
            ("1d12h", 129_600),
            ("1h30m", 5400),
            ("366d", 31_622_400),
        ] {
            assert_eq!(
                parse_long(text, max),
                Ok(Duration::from_secs(secs)),
                "{text}"
            );
        }
        for bad in ["", "5", "d", "1.5d", "-1d", "2h 30m", "500ms", "1w", "1dd"] {
            assert_eq!(
                parse_long(bad, max).unwrap_err(),
                format!(
                    "invalid duration {bad:?}: write e.g. \"30m\", \"2h\", \"1h30m\" or \"7d\""
                ),
                "{bad}"
            );
        }
        assert_eq!(
            parse_long("0d0s", max).unwrap_err(),
            "invalid duration \"0d0s\": must be more than zero"
        );
        assert_eq!(
            parse_long("367d", max).unwrap_err(),
            "invalid duration \"367d\": at most 366d"
        );
        assert!(
            parse_long("99999999999999999999d", max).is_err(),
            "no overflow"
        );
        assert_eq!(
            parse_long("9999999999999d", Duration::MAX),
            Ok(Duration::from_hours(9_999_999_999_999 * 24))
        );
    }

    #[test]
    fn long_durations_printed_in_their_largest_unit() {
        for (secs, text) in [
            (1_209_600, "14d"),
            (129_600, "36h"),
            (5400, "90m"),
            (20, "20s"),
            (0, "0s"),
        ] {
            assert_eq!(format_long(Duration::from_secs(secs)), text);
            if secs > 0 {
                assert_eq!(
                    parse_long(text, Duration::MAX),
                    Ok(Duration::from_secs(secs))
                );
            }
        }
    }
}
