//! SOA serials: the three schemes and RFC 1982 "newer than".

use domain::base::Serial;
use jiff::civil::Date;

use crate::config::Scheme;

/// What a new serial is computed from: the clock, read once per run.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Seconds since the epoch.
    pub unix: i64,
    /// Today in the configured clock's calendar (for the `date` scheme).
    pub today: Date,
}

/// True if `a` is newer than `b` under RFC 1982 serial arithmetic.
///
/// RFC 1982 §3.2: s1 < s2 if (i1 < i2 and i2 - i1 < 2^31) or (i1 > i2 and i1 - i2 > 2^31);
/// at exactly 2^31 apart the comparison is undefined, and we call that "not newer".
#[must_use]
pub fn is_newer(a: u32, b: u32) -> bool {
    Serial(a) > Serial(b)
}

/// The newer of two serials (RFC 1982); `a` when they are incomparable.
#[must_use]
pub fn newest(a: u32, b: u32) -> u32 {
    if is_newer(b, a) { b } else { a }
}

/// The serial `scheme` would pick at `clock` if nothing came before.
#[must_use]
pub fn candidate(scheme: Scheme, clock: Clock) -> u32 {
    match scheme {
        Scheme::Date => {
            let d = clock.today;
            let ymd =
                i64::from(d.year()) * 10_000 + i64::from(d.month()) * 100 + i64::from(d.day());
            u32::try_from(ymd * 100).unwrap_or(u32::MAX)
        }
        // RFC 1982 wraps, so a unix time past 2106 is still a usable serial.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Scheme::Unixtime => clock.unix as u32,
        Scheme::Counter => 1,
    }
}

/// The next serial after `previous`: the scheme's candidate if that is newer, else previous + 1.
///
/// With the `date` scheme the 100th change of a day thus moves on into the next day's range
/// (2026112299 + 1 = 2026112300) instead of failing.
#[must_use]
pub fn next(scheme: Scheme, previous: Option<u32>, clock: Clock) -> u32 {
    let candidate = candidate(scheme, clock);
    match previous {
        None => candidate,
        Some(prev) if scheme != Scheme::Counter && is_newer(candidate, prev) => candidate,
        Some(prev) => Serial(prev).add(1).into_int(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn clock(today: Date, unix: i64) -> Clock {
        Clock { unix, today }
    }

    #[test]
    fn rfc1982_examples() {
        // RFC 1982 §5.2: with SERIAL_BITS = 32, 1 is newer than 0, 0 is newer than 2^32-1,
        // and values exactly 2^31 apart are not comparable.
        assert!(is_newer(1, 0));
        assert!(is_newer(0, u32::MAX));
        assert!(!is_newer(0, 1));
        assert!(!is_newer(1 << 31, 0));
        assert!(!is_newer(0, 1 << 31));
        assert!(is_newer(44, 4_000_000_000));
        assert_eq!(newest(5, 7), 7);
        assert_eq!(newest(u32::MAX, 3), 3);
    }

    #[test]
    fn next_serial_table() {
        let today = date(2026, 11, 23);
        let c = clock(today, 1_795_000_000);
        let cases: &[(Scheme, Option<u32>, u32)] = &[
            (Scheme::Date, None, 2_026_112_300),
            (Scheme::Date, Some(2_026_112_200), 2_026_112_300),
            (Scheme::Date, Some(2_026_112_300), 2_026_112_301),
            (Scheme::Date, Some(2_026_112_398), 2_026_112_399),
            // the 100th change of the day moves into tomorrow's range
            (Scheme::Date, Some(2_026_112_399), 2_026_112_400),
            // a hand-edited serial from the future is never undercut
            (Scheme::Date, Some(2_030_010_105), 2_030_010_106),
            // an old-style small serial is far away but still older (RFC 1982)
            (Scheme::Date, Some(7), 2_026_112_300),
            (Scheme::Unixtime, None, 1_795_000_000),
            (Scheme::Unixtime, Some(1_794_999_999), 1_795_000_000),
            (Scheme::Unixtime, Some(1_795_000_000), 1_795_000_001),
            (Scheme::Counter, None, 1),
            (Scheme::Counter, Some(41), 42),
            // wraparound
            (Scheme::Counter, Some(u32::MAX), 0),
        ];
        for &(scheme, prev, want) in cases {
            let got = next(scheme, prev, c);
            assert_eq!(got, want, "{scheme:?} after {prev:?}");
            if let Some(p) = prev {
                assert!(is_newer(got, p), "{got} must be newer than {p}");
            }
        }
    }

    #[test]
    fn clock_going_backwards_never_lowers_the_serial() {
        let yesterday = clock(date(2026, 11, 22), 1_794_900_000);
        assert_eq!(
            next(Scheme::Date, Some(2_026_112_305), yesterday),
            2_026_112_306
        );
        assert_eq!(
            next(Scheme::Unixtime, Some(1_795_000_000), yesterday),
            1_795_000_001
        );
    }

    #[test]
    fn several_bumps_in_one_day_are_strictly_increasing() {
        let c = clock(date(2026, 11, 23), 0);
        let mut serial = None;
        for _ in 0..150 {
            let n = next(Scheme::Date, serial, c);
            if let Some(p) = serial {
                assert!(is_newer(n, p));
            }
            serial = Some(n);
        }
        assert_eq!(serial, Some(2_026_112_449));
    }

    #[test]
    fn incomparable_previous_is_stepped_past() {
        // 2^31 away from today's candidate: not comparable, so previous + 1.
        let c = clock(date(2026, 11, 23), 0);
        let far = 2_026_112_300u32.wrapping_add(1 << 31);
        assert_eq!(next(Scheme::Date, Some(far), c), far + 1);
    }

    #[test]
    fn date_serials_roll_over_within_and_across_days() {
        // (today, previous, next)
        let cases = [
            // yesterday's last change of the day: today's range starts afresh
            (date(2026, 11, 24), 2_026_112_399, 2_026_112_400),
            // yesterday's 100th change spilled into today's range: go on from there
            (date(2026, 11, 24), 2_026_112_400, 2_026_112_401),
            (date(2026, 11, 24), 2_026_112_499, 2_026_112_500),
            // a whole day later the date wins again
            (date(2026, 11, 25), 2_026_112_412, 2_026_112_500),
            // the end of a month and of a year spill into days that do not exist...
            (date(2026, 2, 28), 2_026_022_899, 2_026_022_900),
            (date(2026, 12, 31), 2_026_123_199, 2_026_123_200),
            // ...which the next real day is newer than
            (date(2026, 3, 1), 2_026_022_900, 2_026_030_100),
            (date(2027, 1, 1), 2_026_123_200, 2_027_010_100),
        ];
        for (today, previous, want) in cases {
            let got = next(Scheme::Date, Some(previous), clock(today, 0));
            assert_eq!(got, want, "{today} after {previous}");
            assert!(is_newer(got, previous));
        }
    }

    #[test]
    fn candidates_at_the_edges() {
        let at = |today, unix| clock(today, unix);
        let cases = [
            (Scheme::Date, at(date(2026, 1, 1), 0), 2_026_010_100),
            (Scheme::Date, at(date(4294, 12, 31), 0), 4_294_123_100),
            // a date past what 32 bits hold saturates
            (Scheme::Date, at(date(4295, 1, 1), 0), u32::MAX),
            (Scheme::Date, at(date(9999, 12, 31), 0), u32::MAX),
            (
                Scheme::Unixtime,
                at(date(2026, 1, 1), 1_795_000_000),
                1_795_000_000,
            ),
            // past 2106 the unix time wraps, as RFC 1982 serials do
            (Scheme::Unixtime, at(date(2106, 2, 8), (1 << 32) + 5), 5),
            (Scheme::Unixtime, at(date(1969, 12, 31), -1), u32::MAX),
            (Scheme::Counter, at(date(2026, 1, 1), 1_795_000_000), 1),
        ];
        for (scheme, c, want) in cases {
            assert_eq!(candidate(scheme, c), want, "{scheme:?} {c:?}");
        }
    }

    #[test]
    fn serials_wrap_as_rfc1982_says() {
        // A unix-time serial just before the wrap, then the wrapped clock: newer.
        let wrapped = clock(date(2106, 2, 8), (1 << 32) + 5);
        assert_eq!(next(Scheme::Unixtime, Some(u32::MAX - 10), wrapped), 5);
        // The counter ignores the clock entirely.
        assert_eq!(next(Scheme::Counter, Some(5), wrapped), 6);
        assert_eq!(next(Scheme::Counter, Some((1 << 31) - 1), wrapped), 1 << 31);
        // 2^31 - 1 ahead is newer; 2^31 + 1 ahead is older; 2^31 apart neither.
        let cases = [
            (0, 0, false, false),
            ((1 << 31) - 1, 0, true, false),
            ((1 << 31) + 1, 0, false, true),
            (1 << 31, 0, false, false),
            (5, u32::MAX - 5, true, false),
        ];
        for (a, b, a_newer, b_newer) in cases {
            assert_eq!(
                (is_newer(a, b), is_newer(b, a)),
                (a_newer, b_newer),
                "{a} vs {b}"
            );
        }
        // newest keeps the first of two incomparable serials.
        assert_eq!(newest(0, 1 << 31), 0);
        assert_eq!(newest(1 << 31, 0), 1 << 31);
        assert_eq!(newest(7, 7), 7);
    }
}
