//! What the RRSIGs a server serves over a zone's SOA say about its signatures now: valid
//! until when, expired since when, not valid yet, or missing (pure; the query is
//! `dns::soa_rrsigs`).

use std::fmt;

use jiff::Timestamp;

use crate::dns::SoaRrsig;

/// The verdict on the RRSIGs covering a served SOA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// At least one RRSIG covers now; `until` is the latest expiration among those that
    /// do: after it no served signature covers the time any more.
    Valid {
        /// When the last signature covering now expires.
        until: Timestamp,
    },
    /// Every RRSIG has expired; `at` is the latest expiration (when the last one did).
    Expired {
        /// When the last signature expired.
        at: Timestamp,
    },
    /// None covers now, and at least one has its inception still ahead: `until` is the
    /// earliest such inception, when the zone validates again (if that signature has
    /// not expired by then, which a signer does not produce).
    NotYetValid {
        /// When the first future signature becomes valid.
        until: Timestamp,
    },
    /// No RRSIG covers the SOA: the zone is not signed, or the server ignored the DO bit.
    NoRrsig,
}

impl Validity {
    /// Valid now (a validating resolver that trusts the key would accept the SOA).
    #[must_use]
    pub fn is_valid(self) -> bool {
        matches!(self, Validity::Valid { .. })
    }
}

impl fmt::Display for Validity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Validity::Valid { until } => write!(f, "valid until {until}"),
            Validity::Expired { at } => write!(f, "expired at {at}"),
            Validity::NotYetValid { until } => write!(f, "not yet valid until {until}"),
            Validity::NoRrsig => f.write_str("no RRSIG (unsigned or DO ignored)"),
        }
    }
}

/// Judge `rrsigs` at `now`. An RRSIG covers now when inception <= now <= expiration
/// (RFC 4034 §3.1.5: it must not be used before its inception or after its expiration;
/// both ends count as valid). One covering RRSIG is enough, as for a validator (RFC 6840
/// §5.11): during an algorithm rollover either signature will do.
#[must_use]
pub fn classify(now: Timestamp, rrsigs: &[SoaRrsig]) -> Validity {
    let valid_until = rrsigs
        .iter()
        .filter(|sig| sig.inception <= now && now <= sig.expiration)
        .map(|sig| sig.expiration)
        .max();
    if let Some(until) = valid_until {
        return Validity::Valid { until };
    }
    if let Some(until) = rrsigs
        .iter()
        .filter(|sig| now < sig.inception)
        .map(|sig| sig.inception)
        .min()
    {
        return Validity::NotYetValid { until };
    }
    rrsigs
        .iter()
        .map(|sig| sig.expiration)
        .max()
        .map_or(Validity::NoRrsig, |at| Validity::Expired { at })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn sig(inception: &str, expiration: &str) -> SoaRrsig {
        SoaRrsig {
            key_tag: 36_291,
            algorithm: 13,
            inception: at(inception),
            expiration: at(expiration),
        }
    }

    #[test]
    fn one_signature_at_each_point_of_its_life() {
        let s = sig("2026-11-29T15:40:06Z", "2026-12-13T16:40:06Z");
        let cases = [
            (
                "2026-11-29T15:40:05Z",
                "not yet valid until 2026-11-29T15:40:06Z",
            ),
            // Both ends are valid.
            ("2026-11-29T15:40:06Z", "valid until 2026-12-13T16:40:06Z"),
            ("2026-12-01T00:00:00Z", "valid until 2026-12-13T16:40:06Z"),
            ("2026-12-13T16:40:06Z", "valid until 2026-12-13T16:40:06Z"),
            ("2026-12-13T16:40:07Z", "expired at 2026-12-13T16:40:06Z"),
            ("2027-06-01T00:00:00Z", "expired at 2026-12-13T16:40:06Z"),
        ];
        for (now, want) in cases {
            assert_eq!(classify(at(now), &[s]).to_string(), want, "{now}");
        }
        assert!(classify(at("2026-12-01T00:00:00Z"), &[s]).is_valid());
        assert!(!classify(at("2026-12-14T00:00:00Z"), &[s]).is_valid());
    }

    #[test]
    fn no_signature_is_said_so() {
        let v = classify(at("2026-12-01T00:00:00Z"), &[]);
        assert_eq!(v, Validity::NoRrsig);
        assert!(!v.is_valid());
        assert_eq!(v.to_string(), "no RRSIG (unsigned or DO ignored)");
    }

    #[test]
    fn several_signatures() {
        let now = at("2026-12-01T00:00:00Z");
        let old = sig("2026-11-01T00:00:00Z", "2026-11-15T00:00:00Z");
        let older = sig("2026-10-01T00:00:00Z", "2026-10-15T00:00:00Z");
        let soon = sig("2026-11-20T00:00:00Z", "2026-12-02T00:00:00Z");
        let later = sig("2026-11-25T00:00:00Z", "2026-12-09T00:00:00Z");
        let future = sig("2026-12-05T00:00:00Z", "2026-12-19T00:00:00Z");
        let far = sig("2026-12-10T00:00:00Z", "2026-12-24T00:00:00Z");
        let cases: [(&[SoaRrsig], Validity); 5] = [
            // Any covering signature makes it valid, until the last of them expires.
            (
                &[old, soon, future, later],
                Validity::Valid {
                    until: at("2026-12-09T00:00:00Z"),
                },
            ),
            (
                &[future, soon],
                Validity::Valid {
                    until: at("2026-12-02T00:00:00Z"),
                },
            ),
            // Nothing covers now: a future one says when it gets better.
            (
                &[old, far, future],
                Validity::NotYetValid {
                    until: at("2026-12-05T00:00:00Z"),
                },
            ),
            (
                &[older, old],
                Validity::Expired {
                    at: at("2026-11-15T00:00:00Z"),
                },
            ),
            (
                &[old, older],
                Validity::Expired {
                    at: at("2026-11-15T00:00:00Z"),
                },
            ),
        ];
        for (sigs, want) in cases {
            assert_eq!(classify(now, sigs), want, "{sigs:?}");
        }
    }
}
