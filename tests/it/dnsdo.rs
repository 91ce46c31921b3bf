//! The DO query (`zonerw::dns::soa_rrsigs`) against a real NSD serving zones signed with
//! `ldns-signzone`: the served serial, the RRSIG over the SOA (key tag, algorithm, the
//! inception and expiration as signed) and what `zonerw::sigcheck::classify` makes of
//! it; an unsigned zone has no RRSIG.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use zonerw::dns::{SignedSoa, SoaRrsig, soa_rrsigs};
use zonerw::sigcheck::{Validity, classify};

use crate::support::*;

const SIGNED: &str = "signed.test";
const PLAIN: &str = "plain.test";
const EXPIRED: &str = "expired.test";
const FUTURE: &str = "future.test";

/// ECDSAP256SHA256, what the notes recommend.
const ALGORITHM: u8 = 13;

/// A key made by `ldns-keygen -a 13 [-k] ZONE` in `dir`: its base name (what
/// `ldns-signzone` takes) and the key tag ldns-keygen prints in it (`Kzone.+013+TAG`).
fn keygen(dir: &Path, zone: &str, ksk: bool) -> (String, u16) {
    let mut cmd = Command::new("ldns-keygen");
    cmd.current_dir(dir).args(["-a", "13"]);
    if ksk {
        cmd.arg("-k");
    }
    let out = cmd.arg(zone).output().expect("run ldns-keygen (ldnsutils)");
    assert!(out.status.success(), "{out:?}");
    let base = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let tag = base
        .rsplit_once('+')
        .and_then(|(head, tag)| head.ends_with("+013").then(|| tag.parse().ok())?)
        .unwrap_or_else(|| panic!("ldns-keygen printed {base:?}"));
    assert!(dir.join(format!("{base}.key")).is_file(), "{base}");
    (dir.join(base).to_string_lossy().into_owned(), tag)
}

/// The keys of one zone: (KSK base, KSK tag), (ZSK base, ZSK tag).
type Keys = ((String, u16), (String, u16));

fn keys(dir: &Path, zone: &str) -> Keys {
    (keygen(dir, zone, true), keygen(dir, zone, false))
}

/// Sign the seed zone of `zone` with `serial` into `out`, valid from `inception` to
/// `expiration` (epoch seconds, the only date form ldns-signzone cannot misread), NSEC3
/// with RFC 9276 parameters.
fn sign(
    dir: &Path,
    zone: &str,
    keys: &Keys,
    serial: u32,
    inception: i64,
    expiration: i64,
    out: &Path,
) {
    let input = dir.join(format!("{zone}.in"));
    std::fs::write(&input, seed_zone(zone, serial)).unwrap();
    let ((ksk, _), (zsk, _)) = keys;
    let run = Command::new("ldns-signzone")
        .args(["-o", zone, "-n", "-t", "0"])
        .args(["-i", &inception.to_string(), "-e", &expiration.to_string()])
        .arg("-f")
        .arg(out)
        .arg(&input)
        .args([ksk, zsk])
        .output()
        .expect("run ldns-signzone (ldnsutils)");
    // ldns-signzone exits 0 even when it cannot read a key: stderr must be empty too.
    assert!(run.status.success() && run.stderr.is_empty(), "{run:?}");
    let text = std::fs::read_to_string(out).unwrap();
    assert!(text.contains("\tRRSIG\tSOA "), "{text}");
}

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap()
}

fn ask(port: u16, zone: &str, now: Timestamp) -> SignedSoa {
    let server = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    soa_rrsigs(server, zone, now, Instant::now() + Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("{zone} at {server}: {e}"))
}

#[test]
fn the_do_query_reads_the_rrsig_over_a_signed_soa() {
    let now = Timestamp::now();
    let keydir = tempfile::tempdir().unwrap();
    let keys = keys(keydir.path(), SIGNED);
    let ((_, ksk_tag), (_, zsk_tag)) = keys;
    let (inception, expiration) = (now.as_second() - 3600, now.as_second() + 14 * 86_400);

    let mut nsd = NsdPair::prepare(&[SIGNED, PLAIN]);
    sign(
        keydir.path(),
        SIGNED,
        &keys,
        2_026_112_901,
        inception,
        expiration,
        &nsd.zone_file(SIGNED),
    );
    std::fs::write(nsd.zone_file(PLAIN), seed_zone(PLAIN, 7)).unwrap();
    nsd.start_both();
    for (zone, serial) in [(SIGNED, 2_026_112_901), (PLAIN, 7)] {
        nsd.wait_primary_serial(zone, serial, Duration::from_secs(10));
        nsd.wait_secondary_serial(zone, serial, PROPAGATE);
    }

    // The SOA is signed by the ZSK alone (the KSK signs the DNSKEY RRset), with the
    // times given to the signer; the secondary serves what it transferred.
    let want = SignedSoa {
        serial: 2_026_112_901,
        dnssec_ok: true,
        rrsigs: vec![SoaRrsig {
            key_tag: zsk_tag,
            algorithm: ALGORITHM,
            inception: at(inception),
            expiration: at(expiration),
        }],
    };
    assert_ne!(ksk_tag, zsk_tag);
    for port in [nsd.primary.port, nsd.secondary.port] {
        let got = ask(port, SIGNED, now);
        assert_eq!(got, want, "port {port}\n{}", nsd.diagnostics());
        let verdict = classify(now, &got.rrsigs);
        assert_eq!(
            verdict,
            Validity::Valid {
                until: at(expiration)
            }
        );
        assert!(verdict.to_string().starts_with("valid until "), "{verdict}");
    }

    // The unsigned zone: NSD copies the DO bit, and there is no RRSIG.
    for port in [nsd.primary.port, nsd.secondary.port] {
        let got = ask(port, PLAIN, now);
        assert_eq!(
            got,
            SignedSoa {
                serial: 7,
                dnssec_ok: true,
                rrsigs: Vec::new()
            }
        );
        assert_eq!(
            classify(now, &got.rrsigs).to_string(),
            "no RRSIG (unsigned or DO ignored)"
        );
    }
}

#[test]
fn expired_and_future_signatures_are_read_as_served() {
    let now = Timestamp::now();
    let s = now.as_second();
    let keydir = tempfile::tempdir().unwrap();
    let mut nsd = NsdPair::prepare(&[EXPIRED, FUTURE]);
    // ldns-signzone accepts both (the notes' trap 3); NSD serves both without a word.
    let cases = [
        (EXPIRED, s - 14 * 86_400, s - 60),
        (FUTURE, s + 3600, s + 14 * 86_400),
    ];
    let mut tags = Vec::new();
    for (zone, inception, expiration) in cases {
        let keys = keys(keydir.path(), zone);
        sign(
            keydir.path(),
            zone,
            &keys,
            3,
            inception,
            expiration,
            &nsd.zone_file(zone),
        );
        tags.push(keys.1.1);
    }
    nsd.start_both();
    for ((zone, inception, expiration), zsk_tag) in cases.into_iter().zip(tags) {
        nsd.wait_primary_serial(zone, 3, Duration::from_secs(10));
        let got = ask(nsd.primary.port, zone, now);
        assert_eq!(got.serial, 3);
        assert_eq!(
            got.rrsigs,
            vec![SoaRrsig {
                key_tag: zsk_tag,
                algorithm: ALGORITHM,
                inception: at(inception),
                expiration: at(expiration),
            }],
            "{zone}"
        );
        let verdict = classify(now, &got.rrsigs);
        if zone == EXPIRED {
            assert_eq!(verdict, Validity::Expired { at: at(expiration) });
            assert!(verdict.to_string().starts_with("expired at "));
        } else {
            assert_eq!(
                verdict,
                Validity::NotYetValid {
                    until: at(inception)
                }
            );
            // An hour later it is valid.
            let later = now + SignedDuration::from_hours(1);
            assert!(classify(later, &got.rrsigs).is_valid());
        }
    }
}
