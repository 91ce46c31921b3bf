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
}
