//! Proof that a change arrived: after the reload, the primary must serve each new serial,
//! and each secondary should (one NOTIFY and a second wait for those that lag). A signed
//! zone counts as served only once the SOA comes with an RRSIG valid now (asked with the DO
//! bit): a new serial with expired or missing signatures is what a validating resolver
//! answers SERVFAIL for.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;

use crate::config::Verify;
use crate::dns::{self, SignedSoa};
use crate::duration;
use crate::error::Error;
use crate::serial;
use crate::sigcheck::{self, Validity};

/// A zone that was reloaded, with the serial it should now have.
#[derive(Debug, Clone)]
pub struct Reloaded {
    /// Zone name.
    pub zone: String,
    /// Expected serial.
    pub serial: u32,
    /// The file installed is signed: the SOA's RRSIG must be valid too.
    pub signed: bool,
}

/// What verification found for one zone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Propagation {
    /// The primary's failure, if it did not serve the serial in time.
    pub primary_failure: Option<String>,
    /// Milliseconds from the reload until each server served it (None: it did not).
    pub times_ms: BTreeMap<String, Option<u64>>,
    /// Secondaries still lagging after a NOTIFY and a second wait: address -> what they serve.
    pub lagging: BTreeMap<String, String>,
    /// Secondaries not waited for because they are a server that is down: address -> name.
    pub skipped: BTreeMap<String, String>,
    /// The zone is signed: "served" meant with an SOA RRSIG valid at the time.
    pub signed: bool,
}

/// What one SOA answer means while waiting for serial `want`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// The server serves `want`, or (a secondary that got a later change already) newer.
    Served,
    /// Not yet: what it does serve, or why it did not answer.
    NotYet(String),
    /// No answer in time, after it did answer before: the earlier answer says more.
    Nothing,
}

/// Classify one answer (`Ok(serial)` or the query's error) while waiting for `want`.
/// `answered_before`: an earlier poll got an answer.
#[must_use]
pub fn classify(answer: Result<u32, String>, want: u32, answered_before: bool) -> Seen {
    match answer {
        Ok(serving) if serving == want || serial::is_newer(serving, want) => Seen::Served,
        Ok(serving) => Seen::NotYet(format!("serves serial {serving}")),
        // Running out of time is not news when the server did answer before.
        Err(e) if e == dns::NO_ANSWER && answered_before => Seen::Nothing,
        Err(e) => Seen::NotYet(e),
    }
}

/// What one answer to the DO query (`Ok(SignedSoa)` or the query's error) means while
/// waiting for a signed zone's serial `want` at `now`: the serial as [`classify`] says,
/// and then an RRSIG over the SOA valid at `now`. A server serving the serial with an
/// expired, not yet valid or missing signature is not there yet.
#[must_use]
pub fn classify_signed(
    answer: Result<SignedSoa, String>,
    want: u32,
    answered_before: bool,
    now: Timestamp,
) -> Seen {
    match answer {
        Ok(soa) => match classify(Ok(soa.serial), want, answered_before) {
            Seen::Served => match sigcheck::classify(now, &soa.rrsigs) {
                Validity::Valid { .. } => Seen::Served,
                invalid => Seen::NotYet(signature_problem(soa.serial, invalid)),
            },
            not_yet => not_yet,
        },
        Err(e) => classify(Err(e), want, answered_before),
    }
}

/// What a server serving `serial` with signatures that are not valid now serves, in
/// words: `serves serial N but its SOA signature expired at T`.
#[must_use]
pub fn signature_problem(serial: u32, validity: Validity) -> String {
    let problem = match validity {
        Validity::Valid { until } => return format!("serves serial {serial}, valid until {until}"),
        Validity::Expired { at } => format!("its SOA signature expired at {at}"),
        Validity::NotYetValid { until } => {
            format!("its SOA signature is not valid before {until}")
        }
        Validity::NoRrsig => "its SOA has no RRSIG (unsigned, or the DO bit ignored)".to_owned(),
    };
    format!("serves serial {serial} but {problem}")
}

/// Whether `what` (a [`Seen::NotYet`] text) is a [`signature_problem`]: the serial was
/// there, its signature was not.
fn is_signature_problem(what: &str) -> bool {
    what.starts_with("serves serial ") && what.contains(" but ")
}

/// What a secondary still lagging after the NOTIFY and the second wait is reported with:
/// `what` it serves instead of `serial`, and how the NOTIFY went. `first` is how long the
/// first wait lasted (Knot: at most 2 s), `timeout` the second.
#[must_use]
pub fn lag_message(
    what: &str,
    serial: u32,
    (first, timeout): (Duration, Duration),
    notify_error: Option<&str>,
) -> String {
    let waits = if first == timeout {
        format!("two waits of {}", duration::format(timeout))
    } else {
        format!(
            "waits of {} and {}",
            duration::format(first),
            duration::format(timeout)
        )
    };
    let notify = match notify_error {
        None => format!("after a NOTIFY and {waits}"),
        Some(e) => format!("after {waits} (the NOTIFY failed: {e})"),
    };
    if is_signature_problem(what) {
        // The serial is there: what is missing is a valid signature.
        return format!("{what}, {notify}");
    }
    format!("{what}, not {serial}, {notify}")
}

/// The error for a zone the primary did not serve in time: it serves `what` instead of
/// `serial`. The hint tells a zone NSD refused (it answered, with the old serial or
/// SERVFAIL) from a primary that did not answer at all.
#[must_use]
pub fn primary_failure(
    verify: &Verify,
    server: &str,
    zone: &str,
    serial: u32,
    what: &str,
) -> Error {
    let primary = verify.primary.map(|p| p.to_string()).unwrap_or_default();
    let timeout = duration::format(verify.timeout);
    if is_signature_problem(what) {
        return Error::Verify {
            zone: zone.to_owned(),
            message: format!(
                "the primary {primary} {what}, {timeout} after the reload (validating resolvers \
                 answer SERVFAIL for it: is this host's clock right, and did anything else \
                 change the installed file?); the state was not advanced, so the next run \
                 retries"
            ),
        };
    }
    let hint = if what.starts_with("serves") || what.contains("SERVFAIL") {
        format!("{server} did not load the new file; see its log")
    } else {
        format!("is {server} running, and is verify.primary its address?")
    };
    Error::Verify {
        zone: zone.to_owned(),
        message: format!(
            "the primary {primary} {what}, not {serial}, {timeout} after the reload ({hint}); the state was not advanced, so the next run retries",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_while_waiting() {
        let cases = [
            (Ok(2_026_112_902), false, Seen::Served),
            (Ok(2_026_112_903), true, Seen::Served),
            // RFC 1982: 5 is newer than 4294967290 (the serial wrapped).
            (Ok(5), false, Seen::NotYet("serves serial 5".into())),
            (
                Ok(2_026_112_901),
                true,
                Seen::NotYet("serves serial 2026112901".into()),
            ),
            (Err(dns::NO_ANSWER.into()), true, Seen::Nothing),
            (
                Err(dns::NO_ANSWER.into()),
                false,
                Seen::NotYet(dns::NO_ANSWER.into()),
            ),
            (
                Err("answers SERVFAIL".into()),
                true,
                Seen::NotYet("answers SERVFAIL".into()),
            ),
        ];
        for (answer, before, want) in cases {
            assert_eq!(
                classify(answer.clone(), 2_026_112_902, before),
                want,
                "{answer:?}"
            );
        }
        assert_eq!(
            classify(Ok(5), 4_294_967_290, false),
            Seen::Served,
            "wrapped"
        );
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn signed(serial: u32, sigs: &[(&str, &str)]) -> SignedSoa {
        SignedSoa {
            serial,
            dnssec_ok: true,
            rrsigs: sigs
                .iter()
                .map(|(inception, expiration)| dns::SoaRrsig {
                    key_tag: 35_008,
                    algorithm: 13,
                    inception: at(inception),
                    expiration: at(expiration),
                })
                .collect(),
        }
    }

    #[test]
    fn a_signed_zone_is_served_once_its_serial_comes_with_a_valid_signature() {
        let now = at("2026-12-01T00:00:00Z");
        let valid = ("2026-11-30T23:00:00Z", "2026-12-15T00:00:00Z");
        let expired = ("2026-11-01T00:00:00Z", "2026-11-15T00:00:00Z");
        let future = ("2026-12-02T00:00:00Z", "2026-12-16T00:00:00Z");
        let cases = [
            (Ok(signed(7, &[valid])), Seen::Served),
            // A secondary that got a later change already.
            (Ok(signed(8, &[expired, valid])), Seen::Served),
            (Ok(signed(7, &[expired])),
                Seen::NotYet(
                    "serves serial 7 but its SOA signature expired at 2026-11-15T00:00:00Z".into(),
                ),
            ),
            (Ok(signed(7, &[future])),
                Seen::NotYet(
                    "serves serial 7 but its SOA signature is not valid before 2026-12-02T00:00:00Z"
                        .into(),
                ),
            ),
            (Ok(signed(7, &[])),
                Seen::NotYet(
                    "serves serial 7 but its SOA has no RRSIG (unsigned, or the DO bit ignored)"
                        .into(),
                ),
            ),
            // An older serial is lagging whatever its signatures.
            (Ok(signed(6, &[valid])),
                Seen::NotYet("serves serial 6".into()),
            ),
            (
                Err("answers SERVFAIL".into()),
                Seen::NotYet("answers SERVFAIL".into()),
            ),
        ];
        for (answer, want) in cases {
            assert_eq!(
                classify_signed(answer.clone(), 7, false, now),
                want,
                "{answer:?}"
            );
        }
        assert_eq!(
            classify_signed(Err(dns::NO_ANSWER.into()), 7, true, now),
            Seen::Nothing
        );
    }

    #[test]
    fn a_signature_problem_is_not_a_lagging_serial() {
        let what = signature_problem(
            7,
            Validity::Expired {
                at: at("2026-11-15T00:00:00Z"),
            },
        );
        assert_eq!(
            lag_message(
                &what,
                7,
                (Duration::from_secs(2), Duration::from_secs(2)),
                None
            ),
            "serves serial 7 but its SOA signature expired at 2026-11-15T00:00:00Z, after a NOTIFY and two waits of 2s"
        );
        let verify = Verify {
            primary: Some("127.0.0.1:53".parse().unwrap()),
            secondaries: Vec::new(),
            timeout: Duration::from_secs(2),
        };
        assert_eq!(
            primary_failure(&verify, "NSD", "example.com", 7, &what).to_string(),
            "example.com: the primary 127.0.0.1:53 serves serial 7 but its SOA signature expired at 2026-11-15T00:00:00Z, 2s after the reload (validating resolvers answer SERVFAIL for it: is this host's clock right, and did anything else change the installed file?); the state was not advanced, so the next run retries"
        );
        assert_eq!(
            primary_failure(&verify, "NSD", "a.", 7, &what).exit_code(),
            1
        );
    }

    #[test]
    fn a_lagging_secondary_says_what_it_serves_and_how_the_notify_went() {
        let timeout = Duration::from_secs(2);
        assert_eq!(
            lag_message("serves serial 1", 2, (timeout, timeout), None),
            "serves serial 1, not 2, after a NOTIFY and two waits of 2s"
        );
        assert_eq!(
            lag_message(
                "gives no answer",
                2,
                (timeout, timeout),
                Some("'nsd-control notify a.' exit status: 1")
            ),
            "gives no answer, not 2, after two waits of 2s (the NOTIFY failed: 'nsd-control notify a.' exit status: 1)"
        );
        // Knot: a NOTIFY after at most 2 s of the first wait.
        assert_eq!(
            lag_message(
                "serves serial 1",
                2,
                (timeout, Duration::from_secs(10)),
                None
            ),
            "serves serial 1, not 2, after a NOTIFY and waits of 2s and 10s"
        );
    }

    #[test]
    fn a_primary_failure_hints_at_the_likely_cause() {
        let verify = Verify {
            primary: Some("127.0.0.1:5300".parse().unwrap()),
            secondaries: Vec::new(),
            timeout: Duration::from_millis(1500),
        };
        let message = |what| primary_failure(&verify, "NSD", "example.com", 7, what).to_string();
        assert_eq!(
            message("serves serial 6"),
            "example.com: the primary 127.0.0.1:5300 serves serial 6, not 7, 1500ms after the reload (NSD did not load the new file; see its log); the state was not advanced, so the next run retries"
        );
        assert!(
            message("answers SERVFAIL").contains("(NSD did not load the new file; see its log)")
        );
        assert!(
            message("gives no answer")
                .contains("(is NSD running, and is verify.primary its address?)")
        );
        assert_eq!(primary_failure(&verify, "NSD", "a.", 1, "x").exit_code(), 1);
    }
}
