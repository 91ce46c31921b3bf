//! A signed zone read back: its RRSIG records, checked against what was meant to be
//! signed, and the header line zonerw puts on top of the signed file it installs. Pure.
//!
//! The signer's output is one record per line with its class (`ldns-signzone` writes it
//! so; `dnssec-signzone -O full` too): `owner TTL class RRSIG covered algorithm labels
//! original-TTL expiration inception key-tag signer signature`. The expiration and
//! inception are `YYYYMMDDHHmmSS` in UTC (or seconds since the epoch).

use jiff::Timestamp;

use crate::config::{Denial, zone_key};
use crate::zone::fingerprint;

/// One RRSIG record, the fields zonerw checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rrsig<'a> {
    /// Owner name, as written.
    pub owner: &'a str,
    /// The type it covers, as written (`SOA`, `DNSKEY`, ...).
    pub covered: &'a str,
    /// Signature expiration, seconds since the epoch.
    pub expiration: i64,
    /// Signature inception, seconds since the epoch.
    pub inception: i64,
    /// The key tag of the key that made it.
    pub key_tag: u16,
    /// The signer's name, as written.
    pub signer: &'a str,
}

/// The fields of a record line of a zone file in the signer's layout: owner, then at most
/// a TTL and a class, then the type and its data. None for blank lines, comments,
/// directives and lines without an owner.
fn record(line: &str) -> Option<(&str, &str, Vec<&str>)> {
    if line.starts_with([' ', '\t', ';', '$']) {
        return None;
    }
    let data = line.split(';').next().unwrap_or("");
    let mut tokens = data.split_whitespace();
    let owner = tokens.next()?;
    let mut rtype = tokens.next()?;
    for _ in 0..2 {
        let is_ttl = rtype.bytes().all(|b| b.is_ascii_digit());
        let is_class = ["IN", "CH", "HS"]
            .iter()
            .any(|c| rtype.eq_ignore_ascii_case(c));
        if !is_ttl && !is_class {
            break;
        }
        rtype = tokens.next()?;
    }
    Some((owner, rtype, tokens.collect()))
}

/// A time of an RRSIG: `YYYYMMDDHHmmSS` (UTC) or seconds since the epoch.
fn rrsig_time(text: &str) -> Option<i64> {
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if text.len() == 14 {
        let civil = jiff::civil::DateTime::strptime("%Y%m%d%H%M%S", text).ok()?;
        return Some(
            civil
                .to_zoned(jiff::tz::TimeZone::UTC)
                .ok()?
                .timestamp()
                .as_second(),
        );
    }
    text.parse().ok()
}

/// Every RRSIG record of `text`, in order; an RRSIG line that cannot be read is an error
/// that quotes it.
pub fn rrsigs(text: &str) -> impl Iterator<Item = Result<Rrsig<'_>, String>> {
    text.lines().filter_map(|line| {
        let (owner, rtype, data) = record(line)?;
        if !rtype.eq_ignore_ascii_case("RRSIG") {
            return None;
        }
        let parsed = (|| {
            if data.len() < 9 {
                return None;
            }
            Some(Rrsig {
                owner,
                covered: data[0],
                expiration: rrsig_time(data[4])?,
                inception: rrsig_time(data[5])?,
                key_tag: data[6].parse().ok()?,
                signer: data[7],
            })
        })();
        Some(parsed.ok_or_else(|| {
            let shown: String = line.chars().take(120).collect();
            format!("cannot read the RRSIG record {shown:?}")
        }))
    })
}

/// Whether `text` holds any DNSSEC record (RRSIG, DNSKEY, NSEC, NSEC3): a signed zone (or
/// one that was), in any layout: read with the zone file lexer, so records without their
/// owner (BIND's and many hand-kept files' layout) and in parentheses count too.
#[must_use]
pub fn is_signed(text: &str) -> bool {
    use crate::zonefile::{Entry, entries, is_type};
    const DNSSEC: [(&str, u32); 4] = [("RRSIG", 46), ("DNSKEY", 48), ("NSEC", 47), ("NSEC3", 50)];
    header(text).is_some()
        || entries(text).iter().any(|entry| match entry {
            Entry::Record {
                rtype: Some(rtype), ..
            } => {
                let word = &text[rtype.span.clone()];
                DNSSEC.iter().any(|(name, code)| is_type(word, name, *code))
            }
            _ => false,
        })
}

/// The earliest signature expiration in `text`, if it has any readable RRSIG.
#[must_use]
pub fn earliest_expiration(text: &str) -> Option<Timestamp> {
    let earliest = rrsigs(text)
        .filter_map(Result::ok)
        .map(|r| r.expiration)
        .min()?;
    Timestamp::from_second(earliest).ok()
}

/// The key tags of the signatures in `text`, sorted.
#[must_use]
pub fn key_tags(text: &str) -> Vec<u16> {
    let mut tags: Vec<u16> = rrsigs(text)
        .filter_map(Result::ok)
        .map(|r| r.key_tag)
        .collect();
    tags.sort_unstable();
    tags.dedup();
    tags
}

/// What a zone was signed for: its name, its keys (key tag, is a KSK), the planned
/// signature times and the denial of existence asked for.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    /// The zone.
    pub zone: &'a str,
    /// Every key the signer was given: (key tag, is a KSK).
    pub keys: &'a [(u16, bool)],
    /// The planned inception, seconds since the epoch.
    pub inception: i64,
    /// The planned expiration, seconds since the epoch.
    pub expiration: i64,
    /// NSEC3 or NSEC.
    pub denial: Denial,
}

/// How far a signature time may be from the planned one, in seconds.
const SLACK: i64 = 1;

/// Check a signed zone against what it was signed for: there are signatures; each was
/// made by one of the zone's keys, for the zone, with the planned inception and
/// expiration; the DNSKEY set is signed by a KSK; every key signed something (a key the
/// signer could not read signs nothing, and it says so only on stderr); the denial of
/// existence is the one asked for. Returns the earliest expiration.
pub fn check(text: &str, expected: &Expected<'_>) -> Result<Timestamp, String> {
    let zone = zone_key(expected.zone);
    let mut count = 0_usize;
    let mut earliest = i64::MAX;
    let mut used = vec![false; expected.keys.len()];
    let mut dnskey_by_ksk = false;
    let when =
        |t: i64| Timestamp::from_second(t).map_or_else(|_| t.to_string(), crate::state::rfc3339);
    for rrsig in rrsigs(text) {
        let rrsig = rrsig?;
        count += 1;
        // Key tags may collide (two keys, or one key under two file names): a signature
        // counts for every key with its tag.
        let by: Vec<usize> = (0..expected.keys.len())
            .filter(|&i| expected.keys[i].0 == rrsig.key_tag)
            .collect();
        if by.is_empty() {
            let ours: Vec<String> = expected.keys.iter().map(|(t, _)| t.to_string()).collect();
            return Err(format!(
                "the {} signature of {} is by key {}, which is not one of the zone's keys ({})",
                rrsig.covered,
                rrsig.owner,
                rrsig.key_tag,
                ours.join(", ")
            ));
        }
        for &i in &by {
            used[i] = true;
        }
        if zone_key(rrsig.signer) != zone {
            return Err(format!(
                "the {} signature of {} names the signer {}, not the zone",
                rrsig.covered, rrsig.owner, rrsig.signer
            ));
        }
        if (rrsig.expiration - expected.expiration).abs() > SLACK {
            return Err(format!(
                "the {} signature of {} expires at {}, not at the planned {}",
                rrsig.covered,
                rrsig.owner,
                when(rrsig.expiration),
                when(expected.expiration)
            ));
        }
        if (rrsig.inception - expected.inception).abs() > SLACK {
            return Err(format!(
                "the {} signature of {} is valid from {}, not from the planned {}",
                rrsig.covered,
                rrsig.owner,
                when(rrsig.inception),
                when(expected.inception)
            ));
        }
        earliest = earliest.min(rrsig.expiration);
        if rrsig.covered.eq_ignore_ascii_case("DNSKEY")
            && zone_key(rrsig.owner) == zone
            && by.iter().any(|&i| expected.keys[i].1)
        {
            dnskey_by_ksk = true;
        }
    }
    if count == 0 {
        return Err("the signed zone has no signatures (RRSIG records)".into());
    }
    if !dnskey_by_ksk {
        return Err(
            "the DNSKEY set is not signed by a KSK: a validator could not follow the DS at the \
             parent into the zone"
                .into(),
        );
    }
    if let Some(i) = used.iter().position(|u| !u) {
        let (tag, ksk) = expected.keys[i];
        return Err(format!(
            "the {} {tag} signed nothing: the signer could not use it",
            if ksk { "KSK" } else { "ZSK" }
        ));
    }
    check_denial(text, expected.denial)?;
    Timestamp::from_second(earliest).map_err(|e| format!("signature expiration: {e}"))
}

/// NSEC3 with RFC 9276's parameters (`NSEC3PARAM 1 0 0 -`), or NSEC and no NSEC3PARAM.
fn check_denial(text: &str, denial: Denial) -> Result<(), String> {
    let mut nsec = false;
    let mut params = Vec::new();
    for line in text.lines() {
        let Some((_, rtype, data)) = record(line) else {
            continue;
        };
        if rtype.eq_ignore_ascii_case("NSEC") {
            nsec = true;
        } else if rtype.eq_ignore_ascii_case("NSEC3PARAM") {
            params.push(data.join(" "));
        }
    }
    match denial {
        Denial::Nsec3 if params == ["1 0 0 -"] => Ok(()),
        Denial::Nsec3 if params.is_empty() => Err("it has no NSEC3PARAM record".into()),
        Denial::Nsec3 => Err(format!(
            "its NSEC3 parameters are {:?}, not \"1 0 0 -\" (SHA-1, no extra iterations, no salt)",
            params.join("; ")
        )),
        Denial::Nsec if !params.is_empty() => {
            Err("it has NSEC3 records, and [dnssec] denial is \"nsec\"".into())
        }
        Denial::Nsec if !nsec => Err("it has no NSEC records".into()),
        Denial::Nsec => Ok(()),
    }
}

/// The start of the first line of a signed zone zonerw installed.
const HEADER: &str = "; zonerw signed ";

/// The header line zonerw puts on top of a signed zone: the fingerprints (SHA-256) of the
/// rendered text it was signed from and of the signed text below it. With it a run finds
/// an installed signed file to be exactly one it made from the rendering it would make now
/// (after a run that installed it died before saving its state), and adopts it instead of
/// signing again with yet another serial.
#[must_use]
pub fn header_line(rendered: &str, signed: &str) -> String {
    format!(
        "{HEADER}rendered={} signed={}\n",
        fingerprint(rendered.as_bytes()),
        fingerprint(signed.as_bytes())
    )
}

/// The rendered-text fingerprint of a signed file's header, if the header is there and the
/// signed text below it is still what it says.
#[must_use]
pub fn header(text: &str) -> Option<&str> {
    let (first, body) = text.split_once('\n')?;
    let rest = first.strip_prefix(HEADER)?;
    let (rendered, signed) = rest.strip_prefix("rendered=")?.split_once(" signed=")?;
    (signed == fingerprint(body.as_bytes())).then_some(rendered)
}

/// Whether `text` is a signed file zonerw made from exactly `rendered`.
#[must_use]
pub fn made_from(text: &str, rendered: &str) -> bool {
    header(text).is_some_and(|h| h == fingerprint(rendered.as_bytes()))
}

/// The lines of a zone without its RRSIG, NSEC and NSEC3 records (new on every signing),
/// for a dry run's diff; the rest (SOA, DNSKEY, NSEC3PARAM, data) stays.
#[must_use]
pub fn without_signatures(text: &str) -> String {
    let mut kept = String::with_capacity(text.len() / 4);
    for line in text.split_inclusive('\n') {
        let churn = record(line.trim_end_matches(['\n', '\r'])).is_some_and(|(_, rtype, _)| {
            ["RRSIG", "NSEC", "NSEC3"]
                .iter()
                .any(|t| rtype.eq_ignore_ascii_case(t))
        });
        if !churn && !line.starts_with(HEADER) {
            kept.push_str(line);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ldns-signzone's output (NSEC3, KSK 35008, ZSK 37124), cut to a few names.
    const SIGNED: &str = "\
example.test.\t60\tIN\tSOA\tns1.example.test. hostmaster.example.test. 2026112901 3600 600 86400 60
example.test.\t60\tIN\tRRSIG\tSOA 13 2 60 20261129224701 20261129214641 37124 example.test. TKmtYz3/bvfJ==
example.test.\t60\tIN\tNS\tns1.example.test.
example.test.\t60\tIN\tRRSIG\tNS 13 2 60 20261129224701 20261129214641 37124 example.test. 2R2EvRLZ41==
example.test.\t60\tIN\tDNSKEY\t256 3 13 gVygZ2sbjcXfKpyBJdH1IuCWbbyw3== ;{id = 37124 (zsk), size = 256b}
example.test.\t60\tIN\tDNSKEY\t257 3 13 r72PESwAT6CR+2IW059CiQmRw2ggZ6h== ;{id = 35008 (ksk), size = 256b}
example.test.\t60\tIN\tRRSIG\tDNSKEY 13 2 60 20261129224701 20261129214641 35008 example.test. Kx9Jo6pQ8Mi4==
example.test.\t3600\tIN\tNSEC3PARAM\t1 0 0 - 
example.test.\t3600\tIN\tRRSIG\tNSEC3PARAM 13 2 3600 20261129224701 20261129214641 37124 example.test. jQYePtRmWq==
jbas736chung3bb701jkjdhqkqlhvug7.example.test.\t60\tIN\tNSEC3\t1 0 0 -  v3n2r9chqlp7tdetolmmakfms81udcje NS SOA RRSIG DNSKEY NSEC3PARAM 
jbas736chung3bb701jkjdhqkqlhvug7.example.test.\t60\tIN\tRRSIG\tNSEC3 13 3 60 20261129224701 20261129214641 37124 example.test. A+U7OwKEEW==
www.example.test.\t60\tIN\tA\t192.0.2.1
www.example.test.\t60\tIN\tRRSIG\tA 13 3 60 20261129224701 20261129214641 37124 example.test. WbimLH6a10==
";

    const EXPIRATION: i64 = 1_795_992_421; // 2026-11-29T22:47:01Z
    const INCEPTION: i64 = 1_795_988_801; // 2026-11-29T21:46:41Z

    fn expected(keys: &[(u16, bool)]) -> Expected<'_> {
        Expected {
            zone: "example.test",
            keys,
            inception: INCEPTION,
            expiration: EXPIRATION,
            denial: Denial::Nsec3,
        }
    }

    const KEYS: [(u16, bool); 2] = [(35008, true), (37124, false)];

    #[test]
    fn rrsig_records_are_read() {
        let all: Vec<Rrsig<'_>> = rrsigs(SIGNED).map(Result::unwrap).collect();
        assert_eq!(all.len(), 6);
        assert_eq!(
            all[2],
            Rrsig {
                owner: "example.test.",
                covered: "DNSKEY",
                expiration: EXPIRATION,
                inception: INCEPTION,
                key_tag: 35008,
                signer: "example.test.",
            }
        );
        assert_eq!(rrsig_time("20261129224701"), Some(EXPIRATION));
        assert_eq!(rrsig_time("1795992421"), Some(EXPIRATION));
        for bad in ["2026-11-29", "", "20261329224701", "x"] {
            assert_eq!(rrsig_time(bad), None, "{bad}");
        }
        let broken =
            "www.example.test. 60 IN RRSIG A 13 3 60 soon 20261129214641 37124 example.test. x\n";
        assert!(
            rrsigs(broken)
                .next()
                .unwrap()
                .unwrap_err()
                .starts_with("cannot read the RRSIG record")
        );
        // Other layouts: no TTL, no class, lower case; comments and a TXT saying RRSIG.
        let other = "; RRSIG in a comment\nwww rrsig A 13 3 60 20261129224701 20261129214641 37124 example.test. x\n\
                     txt 60 IN TXT \"RRSIG\"\n  60 IN RRSIG A 13 3 60 1 1 1 x. y\n";
        let found: Vec<u16> = rrsigs(other).map(|r| r.unwrap().key_tag).collect();
        assert_eq!(found, [37124]);
        assert!(is_signed(SIGNED) && !is_signed("txt 60 IN TXT \"RRSIG\"\n"));
        // BIND's layout: the owner only on a name's first record, RRSIGs in parentheses;
        // a DNSKEY or an NSEC alone counts too.
        let bind = "$ORIGIN example.test.\n@ 3600 IN SOA ns hm 1 2 3 4 5\n\
                    \t3600 RRSIG SOA 13 2 3600 (\n\t\t20261213000000 20261129000000 1 example.test.\n\t\tabc= )\n";
        assert!(is_signed(bind));
        assert!(is_signed(
            "@ IN SOA ns hm 1 2 3 4 5\n  IN DNSKEY 257 3 13 abc=\n"
        ));
        assert!(is_signed(
            "@ IN SOA ns hm 1 2 3 4 5\n  3600 NSEC www A NS SOA\n"
        ));
        assert!(!is_signed(
            "@ IN SOA ns hm 1 2 3 4 5\n  IN TXT \"NSEC3 DNSKEY\"\n"
        ));
        assert_eq!(key_tags(SIGNED), [35008, 37124]);
        assert_eq!(
            earliest_expiration(SIGNED)
                .map(crate::state::rfc3339)
                .as_deref(),
            Some("2026-11-29T22:47:01Z")
        );
        assert_eq!(earliest_expiration("www IN A 192.0.2.1\n"), None);
    }

    #[test]
    fn a_signed_zone_as_planned_passes() {
        let earliest = check(SIGNED, &expected(&KEYS)).unwrap();
        assert_eq!(earliest.as_second(), EXPIRATION);
        // One second off either way is within the slack.
        let mut e = expected(&KEYS);
        e.expiration += 1;
        e.inception -= 1;
        check(SIGNED, &e).unwrap();
        // Colliding key tags (one key under two file names, or two keys with one tag):
        // every key with the tag counts as used.
        check(
            SIGNED,
            &expected(&[(35008, true), (37124, false), (37124, false)]),
        )
        .unwrap();
    }

    #[test]
    #[allow(clippy::too_many_lines, reason = "a table")]
    fn every_way_a_signer_can_go_wrong_is_named() {
        let one_key = [(35008, true)];
        let foreign = [(35008, true), (11111, false)];
        let nsec = SIGNED
            .lines()
            .filter(|l| !l.contains("NSEC3"))
            .chain(["www.example.test.\t60\tIN\tNSEC\texample.test. A RRSIG NSEC"])
            .collect::<Vec<_>>()
            .join("\n");
        let cases: Vec<(String, Expected<'_>, &str)> = vec![
            (
                SIGNED.into(),
                expected(&foreign),
                "the SOA signature of example.test. is by key 37124, which is not one of the zone's keys (35008, 11111)",
            ),
            (
                SIGNED.into(),
                Expected {
                    expiration: EXPIRATION + 2,
                    ..expected(&KEYS)
                },
                "the SOA signature of example.test. expires at 2026-11-29T22:47:01Z, not at the planned 2026-11-29T22:47:03Z",
            ),
            (
                SIGNED.into(),
                Expected {
                    inception: INCEPTION - 3600,
                    ..expected(&KEYS)
                },
                "the SOA signature of example.test. is valid from 2026-11-29T21:46:41Z, not from the planned 2026-11-29T20:46:41Z",
            ),
            (
                SIGNED.replace(
                    "RRSIG\tDNSKEY 13 2 60 20261129224701 20261129214641 35008",
                    "RRSIG\tDNSKEY 13 2 60 20261129224701 20261129214641 37124",
                ),
                expected(&KEYS),
                "the DNSKEY set is not signed by a KSK",
            ),
            (
                SIGNED.replace("37124 example.test.", "35008 example.test."),
                expected(&KEYS),
                "the ZSK 37124 signed nothing: the signer could not use it",
            ),
            (
                SIGNED
                    .lines()
                    .filter(|l| !l.contains("RRSIG"))
                    .collect::<Vec<_>>()
                    .join("\n"),
                expected(&one_key),
                "the signed zone has no signatures (RRSIG records)",
            ),
            (
                SIGNED.replace(
                    "37124 example.test. WbimLH6a10",
                    "37124 example.org. WbimLH6a10",
                ),
                expected(&KEYS),
                "the A signature of www.example.test. names the signer example.org., not the zone",
            ),
            (
                SIGNED.replace("NSEC3PARAM\t1 0 0 -", "NSEC3PARAM\t1 0 1 -"),
                expected(&KEYS),
                "its NSEC3 parameters are \"1 0 1 -\", not \"1 0 0 -\"",
            ),
            (nsec.clone(), expected(&KEYS), "it has no NSEC3PARAM record"),
            (
                SIGNED.into(),
                Expected {
                    denial: Denial::Nsec,
                    ..expected(&KEYS)
                },
                "it has NSEC3 records, and [dnssec] denial is \"nsec\"",
            ),
        ];
        for (text, e, want) in &cases {
            let got = check(text, e).unwrap_err();
            assert!(got.starts_with(want), "got  {got}\nwant {want}");
        }
        check(
            &nsec,
            &Expected {
                denial: Denial::Nsec,
                ..expected(&KEYS)
            },
        )
        .unwrap();
        let no_nsec: String = nsec
            .lines()
            .filter(|l| !l.contains("\tNSEC\t"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(
            check(
                &no_nsec,
                &Expected {
                    denial: Denial::Nsec,
                    ..expected(&KEYS)
                }
            )
            .unwrap_err(),
            "it has no NSEC records"
        );
    }

    #[test]
    fn the_header_ties_a_signed_file_to_its_rendering() {
        let rendered = "@ IN SOA ns hm ( 2026112901 1 2 3 4 )\nwww IN A 192.0.2.1\n";
        let file = format!("{}{SIGNED}", header_line(rendered, SIGNED));
        assert!(file.starts_with("; zonerw signed rendered="));
        assert!(made_from(&file, rendered));
        assert!(!made_from(&file, &rendered.replace(".1\n", ".2\n")));
        assert!(!made_from(SIGNED, rendered), "no header");
        let edited = file.replace("192.0.2.1", "192.0.2.9");
        assert!(!made_from(&edited, rendered), "the signed text was edited");
        assert!(is_signed(&file));
        assert_eq!(crate::zonefile::soa_serial(&file), Some(2_026_112_901));
        let shown = without_signatures(&file);
        assert!(!shown.contains("RRSIG") && !shown.contains("zonerw signed"));
        assert!(!shown.contains("\tNSEC3\t") && shown.contains("NSEC3PARAM"));
        assert!(shown.contains("\tDNSKEY\t") && shown.contains("192.0.2.1"));
        assert_eq!(shown.lines().count(), 6);
    }
}
