//! Signed zones (`[dnssec]`) against the real NSD primary and secondary, the real
//! `ldns-signzone` and `ldns-verify-zone`, and `delv` validating from a trust anchor made
//! of the zone's KSK (`delv -a ANCHOR +root=ZONE`, the anchor a `trust-anchors` statement
//! with the KSK as a `static-key`: see `anchor` and `delv` below): what a validating
//! resolver behind the *secondary* would see.
//!
//! Keys are made per test with `ldns-keygen -a 13` in the test's directory. The tests are
//! skipped (with a line saying so) only when `ldns-signzone` is not installed; scripts/test
//! installs ldnsutils, so in CI they run.

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::*;

/// One way to break signing.
struct Breakage {
    name: &'static str,
    /// Break signing (in the zonerw directory, with the keys): returns extra
    /// `[dnssec]` lines.
    apply: fn(&Path, &Keys) -> String,
    /// The start of the error after `zonerw: error: example.test: `.
    error: fn(&Keys) -> String,
}

/// A second zone in the same runs, without keys: it must stay exactly as without `[dnssec]`.
const PLAIN: &str = "plain.test";

/// Whether the ldns tools are there. Without them the test fails (a signing test that
/// passes without signing proves nothing), unless `ZONERW_SKIP_DNSSEC=1` says to skip it.
fn ldns_available(test: &str) -> bool {
    let found = Command::new("ldns-signzone")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("ZONERW_SKIP_DNSSEC").is_some_and(|v| v == "1"),
            "{test}: ldns-signzone is not installed (apt-get install ldnsutils; scripts/test \
             installs it), or set ZONERW_SKIP_DNSSEC=1 to skip the signing tests"
        );
        eprintln!("{test}: skipped (ZONERW_SKIP_DNSSEC=1): ldns-signzone is not installed");
    }
    found
}

/// The keys of a zone, made with `ldns-keygen -a 13 [-k] ZONE` in `dir`.
struct Keys {
    dir: PathBuf,
    ksk: String,
    zsk: String,
}

impl Keys {
    fn new(dir: &Path, zone: &str) -> Keys {
        fs::create_dir_all(dir).unwrap();
        let keygen = |ksk: bool| {
            let mut args = vec!["-a", "13"];
            if ksk {
                args.push("-k");
            }
            args.push(zone);
            let out = Command::new("ldns-keygen")
                .args(&args)
                .current_dir(dir)
                .output()
                .expect("run ldns-keygen");
            assert!(out.status.success(), "ldns-keygen {args:?}: {out:?}");
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        };
        Keys {
            dir: dir.to_owned(),
            ksk: keygen(true),
            zsk: keygen(false),
        }
    }

    /// The key tag in a key's name (`Kexample.test.+013+35008` -> 35008).
    fn tag(stem: &str) -> u16 {
        stem.rsplit('+').next().unwrap().parse().unwrap()
    }

    /// A `delv -a` trust anchor file from the KSK's DNSKEY record.
    fn anchor(&self) -> PathBuf {
        let key = fs::read_to_string(self.dir.join(format!("{}.key", self.ksk))).unwrap();
        let f: Vec<&str> = key.split_whitespace().collect();
        // owner IN DNSKEY flags protocol algorithm key
        let text = format!(
            "trust-anchors {{\n  {} static-key {} {} {} \"{}\";\n}};\n",
            f[0], f[3], f[4], f[5], f[6]
        );
        // Beside the keys directory, which a test may move away.
        let path = self.dir.with_file_name("anchor.conf");
        fs::write(&path, text).unwrap();
        path
    }
}

/// What `delv` says about `www.<zone>` A, asked at 127.0.0.1:`port` with `anchor` as the
/// only trust anchor (delv exits 0 whatever it found: read what it printed).
fn delv(port: u16, anchor: &Path, zone: &str) -> String {
    let out = Command::new("delv")
        .arg("@127.0.0.1")
        .args(["-p", &port.to_string(), "-a"])
        .arg(anchor)
        .arg(format!("+root={zone}"))
        .args([&format!("www.{zone}"), "A"])
        .output()
        .expect("run delv");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Wait (5 s) until delv, asking the secondary, fully validates `www.<zone>` A = `www`;
/// returns what delv printed.
#[track_caller]
fn assert_validated(nsd: &NsdPair, anchor: &Path, zone: &str, www: Ipv4Addr) -> String {
    let mut last = String::new();
    let ok = poll(Duration::from_secs(5), || {
        last = delv(nsd.secondary.port, anchor, zone);
        let validated = last.lines().any(|l| l.starts_with("; fully validated"));
        let answer = last.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() == 5 && f[0] == format!("www.{zone}.") && f[3] == "A" && f[4] == www.to_string()
        });
        (validated && answer).then_some(())
    });
    assert!(
        ok.is_some(),
        "delv at the secondary did not fully validate www.{zone} A {www}:\n{last}\n{}",
        nsd.diagnostics()
    );
    last
}

/// `dig +short` at `port`.
fn dig(port: u16, name: &str, rtype: &str, dnssec: bool) -> String {
    let mut cmd = Command::new("dig");
    cmd.args([
        "@127.0.0.1",
        "-p",
        &port.to_string(),
        "+norec",
        "+time=2",
        "+tries=2",
    ]);
    if dnssec {
        cmd.args(["+dnssec", "+noall", "+answer", "+authority"]);
    } else {
        cmd.arg("+short");
    }
    let out = cmd.args([name, rtype]).output().expect("run dig");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether dig's `owner TTL class TYPE data` lines hold a record of `rtype`.
fn has_type(records: &str, rtype: &str) -> bool {
    records
        .lines()
        .any(|l| l.split_whitespace().nth(3) == Some(rtype))
}

/// The `[dnssec]` table of a test: keys in `keys`, and more lines.
fn dnssec_table(keys: &Path, more: &str) -> String {
    format!("[dnssec]\nkeys = \"{}\"\n{more}", keys.display())
}

/// NSD pair serving ZONE (with keys) and PLAIN (without), main server up, zonerw
/// configured with `[dnssec]` (`more` lines added to the table).
fn setup(more: &str) -> (NsdPair, MainServer, Zonerw, Keys) {
    let nsd = NsdPair::new(&[ZONE, PLAIN]);
    let main = MainServer::http(Mode::Up);
    let keys = Keys::new(&nsd.dir.join("keys"), ZONE);
    let mut settings = Settings::new(&main.url("/up.txt"));
    settings.extra_tables = dnssec_table(&keys.dir, more);
    let z = Zonerw::new(&nsd, settings);
    (nsd, main, z, keys)
}

/// The state's recorded signature expiry of `zone`.
fn recorded_expiry(z: &Zonerw, zone: &str) -> Option<String> {
    let state: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(z.state_json()).unwrap()).unwrap();
    state["zones"][zone]["signature_expiry"]
        .as_str()
        .map(str::to_owned)
}

/// The line of a signed zone written for a change.
fn signed_line(zone: &str, from: u32, to: u32) -> String {
    format!("{zone}: serial {from} -> {to}, signed, reloaded")
}

#[test]
fn a_signed_zone_validates_at_the_secondary_after_the_first_run_a_failover_and_a_failback() {
    if !ldns_available("dnssec::a_signed_zone_validates...") {
        return;
    }
    check_cases(&["nsec3", "nsec"], |c| c, |c| validates_through_failover(c));
}

/// The first run, a failover and a failback with `[dnssec] denial = denial`: delv at the
/// secondary validates www each time; the zone without keys is served unsigned.
fn validates_through_failover(denial: &str) {
    let (nsd, main, z, keys) = setup(&format!("denial = \"{denial}\"\n"));
    let anchor = keys.anchor();
    // First run: both zones written, only ZONE signed.
    let r = z.run(&["-v"]);
    r.expect_ok();
    let serial = r.new_serial(ZONE);
    let plain = r.new_serial(PLAIN);
    assert!(
        r.stdout.contains(&signed_line(ZONE, SEED_SERIAL, serial)),
        "{r}"
    );
    assert!(
        r.stdout.contains(&zone_line(PLAIN, SEED_SERIAL, plain)),
        "the unsigned zone's line is as ever\n{r}"
    );
    let signed_in = r
        .stdout
        .lines()
        .find(|l| l.starts_with(&format!("{ZONE}: signed in ")))
        .unwrap_or_else(|| panic!("-v says how it was signed\n{r}"));
    let tags = format!(
        "with KSK {}, ZSK {} (algorithm 13), verified in ",
        Keys::tag(&keys.ksk),
        Keys::tag(&keys.zsk)
    );
    assert!(signed_in.contains(&tags), "{signed_in}");
    eprintln!("{denial}: first run {:?}; {signed_in}", r.elapsed);
    nsd.assert_secondary(ZONE, serial, MAIN_IP, PROPAGATE);
    let first = assert_validated(&nsd, &anchor, ZONE, MAIN_IP);
    // The denial of existence asked for, as the secondary serves it.
    let param = dig(nsd.secondary.port, ZONE, "NSEC3PARAM", false);
    let missing = dig(nsd.secondary.port, &format!("nope.{ZONE}"), "A", true);
    if denial == "nsec3" {
        assert_eq!(param.trim(), "1 0 0 -", "RFC 9276 parameters");
        assert!(has_type(&missing, "NSEC3"), "{missing}");
    } else {
        assert_eq!(param.trim(), "", "no NSEC3PARAM with NSEC");
        assert!(has_type(&missing, "NSEC"), "{missing}");
        assert!(!has_type(&missing, "NSEC3"), "{missing}");
    }
    // The unsigned zone is served as it was rendered, with no signature.
    nsd.assert_secondary(PLAIN, plain, MAIN_IP, PROPAGATE);
    let answer = dig(nsd.secondary.port, PLAIN, "SOA", true);
    assert!(
        has_type(&answer, "SOA") && !has_type(&answer, "RRSIG"),
        "{answer}"
    );
    assert!(recorded_expiry(&z, PLAIN).is_none());
    let expiry = recorded_expiry(&z, ZONE).expect("the signed zone's expiry recorded");
    let expiry: jiff::Timestamp = expiry.parse().unwrap();
    let lifetime = expiry.as_second() - jiff::Timestamp::now().as_second();
    assert!(
        (14 * 86400 - 120..=14 * 86400).contains(&lifetime),
        "14 days of validity: {lifetime} s"
    );
    // Nothing changed: nothing printed, nothing written.
    let before = FileId::of(&z.zone_path(ZONE));
    z.run(&[]).expect_ok().expect_stdout("");
    assert_eq!(FileId::of(&z.zone_path(ZONE)), before);

    // Failover: signed again with the backup's address.
    main.set_mode(Mode::Refusing);
    let r = z.run(&[]);
    r.expect_ok();
    let failover = r.new_serial(ZONE);
    let plain_failover = r.new_serial(PLAIN);
    r.expect_stdout(&format!(
        "{}\n{}\n{}\n",
        failover_line(MAIN_IP),
        signed_line(ZONE, serial, failover),
        zone_line(PLAIN, plain, plain_failover)
    ));
    nsd.assert_secondary(ZONE, failover, BACKUP_IP, PROPAGATE);
    let after_failover = assert_validated(&nsd, &anchor, ZONE, BACKUP_IP);

    // Failback.
    main.set_mode(Mode::Up);
    let r = z.run(&[]);
    r.expect_ok();
    let failback = r.new_serial(ZONE);
    assert!(
        r.stdout.contains(&signed_line(ZONE, failover, failback)),
        "{r}"
    );
    nsd.assert_secondary(ZONE, failback, MAIN_IP, PROPAGATE);
    let after_failback = assert_validated(&nsd, &anchor, ZONE, MAIN_IP);
    nsd.assert_secondary(PLAIN, r.new_serial(PLAIN), MAIN_IP, PROPAGATE);
    eprintln!(
        "{denial}: delv at the secondary after the first run:\n{first}\nafter the failover:\n{after_failover}\nafter the failback:\n{after_failback}"
    );
}

#[test]
fn a_zone_whose_signing_fails_keeps_its_signed_version_served_and_the_run_exits_1() {
    if !ldns_available("dnssec::a_zone_whose_signing_fails...") {
        return;
    }
    let cases = [
        Breakage {
            name: "garbage private key",
            apply: |_, keys| {
                fs::write(keys.dir.join(format!("{}.private", keys.zsk)), "garbage\n").unwrap();
                String::new()
            },
            error: |keys| {
                format!(
                    "DNSSEC keys in {}: {}.private: not a private key file (no 'Private-key-format:' line)",
                    keys.dir.display(),
                    keys.zsk
                )
            },
        },
        Breakage {
            name: "signer exits 1",
            apply: |dir, _| {
                let stub = dir.join("failing-signer");
                fs::write(&stub, "#!/bin/sh\necho 'Error: out of luck' >&2\nexit 1\n").unwrap();
                chmod_x(&stub);
                format!("signer = \"{}\"\n", stub.display())
            },
            error: |_| "signing failed: ".to_owned(),
        },
        Breakage {
            // ldns-signzone 1.8.3 signs without a key it cannot read and exits 0 (trap 15):
            // a signer that leaves out the ZSK is caught by reading the output back.
            name: "a key left out",
            apply: |dir, _| {
                let stub = dir.join("forgetful-signer");
                fs::write(
                    &stub,
                    "#!/bin/bash\n# the last argument is the ZSK: leave it out\nexec ldns-signzone \"${@:1:$#-1}\"\n",
                )
                .unwrap();
                chmod_x(&stub);
                format!("signer = \"{}\"\n", stub.display())
            },
            error: |keys| {
                format!(
                    "signing failed: the ZSK {} signed nothing: the signer could not use it",
                    Keys::tag(&keys.zsk)
                )
            },
        },
        Breakage {
            name: "verifier rejects",
            apply: |dir, _| {
                let stub = dir.join("failing-verifier");
                fs::write(
                    &stub,
                    "#!/bin/sh\necho \"Error: $1: DNSSEC signature has expired for example.test.\tNS\" >&2\nexit 36\n",
                )
                .unwrap();
                chmod_x(&stub);
                format!("verifier = \"{}\"\n", stub.display())
            },
            error: |_| "signing failed: ".to_owned(),
        },
    ];
    check_cases(&cases, |c| c.name, keeps_the_signed_zone);
}

/// Sign, fail over with signing broken as `c` says: exit 1 naming the zone, the signed zone
/// as it was (validating), the unsigned one failed over, the state as it was.
fn keeps_the_signed_zone(c: &Breakage) {
    let (nsd, main, mut z, keys) = setup("");
    let anchor = keys.anchor();
    let r = z.run(&[]);
    r.expect_ok();
    let serial = r.new_serial(ZONE);
    let plain = r.new_serial(PLAIN);
    nsd.assert_secondary(ZONE, serial, MAIN_IP, PROPAGATE);
    assert_validated(&nsd, &anchor, ZONE, MAIN_IP);
    let installed = FileId::of(&z.zone_path(ZONE));
    let state = fs::read_to_string(z.state_json()).unwrap();

    let more = (c.apply)(&z.dir, &keys);
    z.settings.extra_tables = dnssec_table(&keys.dir, &more);
    z.write_config();
    main.set_mode(Mode::Refusing);
    let r = z.run(&[]);
    r.expect_code(1);
    let want = format!("zonerw: error: {ZONE}: {}", (c.error)(&keys));
    assert!(r.stderr.starts_with(&want), "want {want:?}\n{r}");
    assert!(
        r.stderr
            .contains("it was not installed and NSD keeps serving the old zone"),
        "{r}"
    );
    // Messages name the template, never a temporary file that is gone by now.
    assert!(!r.stderr.contains(&format!("/.{ZONE}.zone.")), "{r}");
    // The signed zone stays as it was, validating; the unsigned one failed over.
    assert_eq!(FileId::of(&z.zone_path(ZONE)), installed);
    let plain_failover = r.new_serial(PLAIN);
    r.expect_stdout(&format!(
        "{}\n{}\n",
        pending_failover_line(MAIN_IP),
        zone_line(PLAIN, plain, plain_failover)
    ));
    nsd.assert_secondary(PLAIN, plain_failover, BACKUP_IP, PROPAGATE);
    nsd.assert_secondary(ZONE, serial, MAIN_IP, PROPAGATE);
    assert_validated(&nsd, &anchor, ZONE, MAIN_IP);
    assert_eq!(
        fs::read_to_string(z.state_json()).unwrap(),
        state,
        "state not advanced"
    );
    let leftovers: Vec<String> = fs::read_dir(&z.zones)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| Path::new(n).extension().is_none_or(|e| e != "zone"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    // A dry run fails the same way, and writes nothing.
    let r = z.run(&["--dry-run"]);
    r.expect_code(1);
    assert!(r.stderr.starts_with(&want), "{r}");
    assert_eq!(FileId::of(&z.zone_path(ZONE)), installed);
}

fn chmod_x(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_signed_zone_is_re_signed_with_a_new_serial_once_its_signatures_expire_within_refresh() {
    if !ldns_available("dnssec::a_signed_zone_is_re_signed...") {
        return;
    }
    let metrics = "[metrics]\ntextfile = \"zonerw.prom\"\n";
    let nsd = NsdPair::new(&[ZONE, PLAIN]);
    let main = MainServer::http(Mode::Up);
    let keys = Keys::new(&nsd.dir.join("keys"), ZONE);
    let anchor = keys.anchor();
    let mut settings = Settings::new(&main.url("/up.txt"));
    settings.extra_tables = format!(
        "{}{metrics}",
        dnssec_table(&keys.dir, "validity = \"8s\"\nrefresh = \"4s\"\n")
    );
    let z = Zonerw::new(&nsd, settings);
    let started = jiff::Timestamp::now();
    let r = z.run(&[]);
    r.expect_ok();
    let serial = r.new_serial(ZONE);
    let plain = r.new_serial(PLAIN);
    nsd.assert_secondary(ZONE, serial, MAIN_IP, PROPAGATE);
    assert_validated(&nsd, &anchor, ZONE, MAIN_IP);
    let expiry = recorded_expiry(&z, ZONE).unwrap();
    let prom = fs::read_to_string(z.dir.join("zonerw.prom")).unwrap();
    let at: jiff::Timestamp = expiry.parse().unwrap();
    assert!(
        prom.contains(&format!(
            "zonerw_zone_signature_expiry_seconds{{zone=\"{ZONE}\"}} {}\n",
            at.as_second()
        )),
        "{prom}"
    );
    assert!(!prom.contains(&format!(
        "zonerw_zone_signature_expiry_seconds{{zone=\"{PLAIN}\""
    )));

    // Before the refresh point: silent, nothing written.
    let installed = FileId::of(&z.zone_path(ZONE));
    let state = fs::read_to_string(z.state_json()).unwrap();
    let r = z.run(&[]);
    r.expect_ok().expect_stdout("").expect_stderr("");
    assert!(
        jiff::Timestamp::now().as_second() < at.as_second() - 4,
        "the quiet run came before the refresh point: {r}"
    );
    assert_eq!(FileId::of(&z.zone_path(ZONE)), installed);
    assert_eq!(fs::read_to_string(z.state_json()).unwrap(), state);

    // After it: re-signed with a new serial, one line, and the secondary has it.
    let refresh_point = at.as_second() - 4;
    let wait = refresh_point - jiff::Timestamp::now().as_second();
    if wait >= 0 {
        std::thread::sleep(Duration::from_millis(
            u64::try_from(wait).unwrap() * 1000 + 1100,
        ));
    }
    let r = z.run(&[]);
    r.expect_ok();
    let resigned = r.new_serial(ZONE);
    assert!(resigned > serial, "{r}");
    r.expect_stdout(&format!(
        "{ZONE}: serial {serial} -> {resigned}, re-signed (the old signatures expire at {expiry}, within refresh 4s), reloaded\n"
    ));
    nsd.assert_secondary(ZONE, resigned, MAIN_IP, PROPAGATE);
    assert_validated(&nsd, &anchor, ZONE, MAIN_IP);
    let next: jiff::Timestamp = recorded_expiry(&z, ZONE).unwrap().parse().unwrap();
    assert!(next > at, "a later expiry recorded: {next} after {at}");
    assert_eq!(
        nsd.secondary_serial(PLAIN),
        Some(plain),
        "the unsigned zone is left alone"
    );
    eprintln!(
        "re-sign cadence: signed at {started} (expiry {expiry}), a quiet run, then at {} re-signed {serial} -> {resigned} (expiry {next}) in {:?}",
        jiff::Timestamp::now(),
        r.elapsed
    );
}

#[test]
fn a_signed_zone_is_never_installed_unsigned_until_the_config_says_so() {
    if !ldns_available("dnssec::a_signed_zone_is_never_installed_unsigned...") {
        return;
    }
    let (nsd, main, mut z, keys) = setup("");
    let anchor = keys.anchor();
    let r = z.run(&[]);
    r.expect_ok();
    let serial = r.new_serial(ZONE);
    nsd.assert_secondary(ZONE, serial, MAIN_IP, PROPAGATE);
    let installed = FileId::of(&z.zone_path(ZONE));

    // The keys are gone: the failover of the signed zone is refused, the other goes on.
    let moved = z.dir.join("keys.moved");
    fs::rename(&keys.dir, &moved).unwrap();
    fs::create_dir(&keys.dir).unwrap();
    main.set_mode(Mode::Refusing);
    let r = z.run(&[]);
    r.expect_code(1);
    assert!(
        r.stderr.starts_with(&format!(
            "zonerw: error: {ZONE}: the installed zone is signed, but there are no DNSSEC keys for it in {} (K{ZONE}.+<alg>+<id>.key and .private): ",
            keys.dir.display()
        )),
        "{r}"
    );
    assert_eq!(FileId::of(&z.zone_path(ZONE)), installed);
    nsd.assert_secondary(ZONE, serial, MAIN_IP, PROPAGATE);
    assert_validated(&nsd, &anchor, ZONE, MAIN_IP);

    // Without the [dnssec] table it is refused too.
    z.settings.extra_tables = String::new();
    z.write_config();
    let r = z.run(&[]);
    r.expect_code(1);
    assert!(
        r.stderr.contains(&format!(
            "zonerw: error: {ZONE}: the installed zone is signed, but the config has no [dnssec] table: "
        )),
        "{r}"
    );
    assert_eq!(FileId::of(&z.zone_path(ZONE)), installed);

    // A keys directory that cannot be read is a config error: nothing is touched.
    z.settings.extra_tables = dnssec_table(&z.dir.join("no-such-dir"), "");
    z.write_config();
    let r = z.run(&[]);
    r.expect_code(2);
    assert!(
        r.stderr.contains(&format!(
            "dnssec.keys: cannot read directory '{}': No such file or directory",
            z.dir.join("no-such-dir").display()
        )),
        "{r}"
    );

    // Listed in [dnssec] unsigned: installed unsigned, and the line says so.
    z.settings.extra_tables = dnssec_table(&keys.dir, &format!("unsigned = [\"{ZONE}\"]\n"));
    z.write_config();
    let r = z.run(&[]);
    r.expect_ok();
    let unsigned = r.new_serial(ZONE);
    assert!(
        r.stdout.contains(&format!(
            "{ZONE}: serial {serial} -> {unsigned}, now unsigned ([dnssec] unsigned lists it), reloaded"
        )),
        "{r}"
    );
    nsd.assert_secondary(ZONE, unsigned, BACKUP_IP, PROPAGATE);
    assert!(!has_type(
        &dig(nsd.secondary.port, ZONE, "SOA", true),
        "RRSIG"
    ));
    assert!(recorded_expiry(&z, ZONE).is_none());
    z.run(&[]).expect_ok().expect_stdout("");

    // Keys back (and off the list): signed for the first time again.
    fs::remove_dir(&keys.dir).unwrap();
    fs::rename(&moved, &keys.dir).unwrap();
    z.settings.extra_tables = dnssec_table(&keys.dir, "");
    z.write_config();
    let r = z.run(&[]);
    r.expect_ok();
    let again = r.new_serial(ZONE);
    r.expect_stdout(&format!(
        "{ZONE}: serial {unsigned} -> {again}, signed for the first time, reloaded\n"
    ));
    nsd.assert_secondary(ZONE, again, BACKUP_IP, PROPAGATE);
    assert_validated(&nsd, &anchor, ZONE, BACKUP_IP);
}

#[test]
fn a_dry_run_signs_in_private_and_shows_the_records_without_their_signatures() {
    if !ldns_available("dnssec::a_dry_run_signs...") {
        return;
    }
    let (nsd, main, z, _keys) = setup("");
    let r = z.run(&[]);
    r.expect_ok();
    let serial = r.new_serial(ZONE);
    nsd.assert_secondary(ZONE, serial, MAIN_IP, PROPAGATE);
    let installed = FileId::of(&z.zone_path(ZONE));
    main.set_mode(Mode::Refusing);
    let start = Instant::now();
    let r = z.run(&["--dry-run"]);
    r.expect_ok();
    assert_eq!(FileId::of(&z.zone_path(ZONE)), installed, "nothing written");
    let diff: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with(['+', '-']) && !l.starts_with("+++") && !l.starts_with("---"))
        .collect();
    assert!(
        diff.iter()
            .all(|l| !l.contains("RRSIG") && !has_type(&l[1..], "NSEC3")),
        "no signatures in the diff: {diff:?}\n{r}"
    );
    assert!(
        diff.iter()
            .any(|l| l.starts_with('-') && l.contains("127.0.0.1"))
            && diff
                .iter()
                .any(|l| l.starts_with('+') && l.contains("198.51.100.7")),
        "{r}"
    );
    assert!(
        r.stdout.contains(&format!(
            "({ZONE}: RRSIG, NSEC and NSEC3 records are left out of the diff: every signing makes them anew)"
        )),
        "{r}"
    );
    eprintln!("dry run with signing: {:?}", start.elapsed());
}

#[test]
fn adding_or_removing_a_key_re_signs_the_zone_with_the_keys_there_now() {
    if !ldns_available("dnssec::adding_or_removing_a_key...") {
        return;
    }
    let (nsd, _main, z, keys) = setup("");
    let anchor = keys.anchor();
    let r = z.run(&[]);
    r.expect_ok();
    let serial = r.new_serial(ZONE);
    nsd.assert_secondary(ZONE, serial, MAIN_IP, PROPAGATE);

    // A ZSK rollover, the operator's way: a new ZSK published next to the old one...
    let out = Command::new("ldns-keygen")
        .args(["-a", "13", ZONE])
        .current_dir(&keys.dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let new_zsk = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let r = z.run(&[]);
    r.expect_ok();
    let both = r.new_serial(ZONE);
    r.expect_stdout(&format!(
        "{ZONE}: serial {serial} -> {both}, re-signed (its keys changed), reloaded\n"
    ));
    nsd.assert_secondary(ZONE, both, MAIN_IP, PROPAGATE);
    assert_validated(&nsd, &anchor, ZONE, MAIN_IP);
    let dnskeys = dig(nsd.secondary.port, ZONE, "DNSKEY", false);
    assert_eq!(dnskeys.lines().count(), 3, "KSK and both ZSKs: {dnskeys}");
    z.run(&[]).expect_ok().expect_stdout("");

    // ... and the old one removed.
    for ext in ["key", "private"] {
        fs::remove_file(keys.dir.join(format!("{}.{ext}", keys.zsk))).unwrap();
    }
    let r = z.run(&[]);
    r.expect_ok();
    let after = r.new_serial(ZONE);
    r.expect_stdout(&format!(
        "{ZONE}: serial {both} -> {after}, re-signed (its keys changed), reloaded\n"
    ));
    nsd.assert_secondary(ZONE, after, MAIN_IP, PROPAGATE);
    let validated = assert_validated(&nsd, &anchor, ZONE, MAIN_IP);
    assert!(
        validated.contains(&format!(" {} {ZONE}. ", Keys::tag(&new_zsk))),
        "signed by the new ZSK:\n{validated}"
    );
    let dnskeys = dig(nsd.secondary.port, ZONE, "DNSKEY", false);
    assert_eq!(dnskeys.lines().count(), 2, "{dnskeys}");
}

/// `[verify]` asking the pair's primary and its real secondary (`timeout`).
fn verify_table(nsd: &NsdPair, timeout: &str) -> String {
    format!(
        "[verify]\nprimary = \"127.0.0.1:{}\"\nsecondaries = [\"127.0.0.1:{}\"]\ntimeout = \"{timeout}\"\n",
        nsd.primary.port, nsd.secondary.port
    )
}

/// `[verify]` with a signed zone: served means the new serial with an SOA RRSIG valid now
/// (asked with the DO bit). The primary and the secondary serve it: the run succeeds and
/// `-v` says so; the unsigned zone in the same run is verified as ever.
#[test]
fn verify_waits_for_the_signed_soa_at_the_primary_and_the_secondary() {
    if !ldns_available("dnssec::verify_waits_for_the_signed_soa...") {
        return;
    }
    let (nsd, main, mut z, keys) = setup("");
    z.settings.extra_tables = format!(
        "{}\n{}",
        dnssec_table(&keys.dir, ""),
        verify_table(&nsd, "5s")
    );
    z.write_config();
    let secondary = format!("127.0.0.1:{}", nsd.secondary.port);
    let r = z.run(&["-v"]);
    r.expect_ok();
    r.expect_stderr("");
    let serial = r.new_serial(ZONE);
    let plain = r.new_serial(PLAIN);
    let line = |r: &Run, zone: &str, serial: u32, how: &str| {
        r.stdout
            .lines()
            .find(|l| {
                l.starts_with(&format!(
                    "{zone}: serial {serial} {how} by the primary after "
                ))
            })
            .unwrap_or_else(|| panic!("no propagation line for {zone}\n{r}"))
            .to_owned()
    };
    let signed = line(&r, ZONE, serial, "served with a valid signature");
    assert!(
        signed.contains(&format!(", by {secondary} after ")),
        "{signed}"
    );
    let unsigned = line(&r, PLAIN, plain, "served");
    assert!(
        unsigned.contains(&format!(", by {secondary} after ")),
        "{unsigned}"
    );
    eprintln!("{signed}\n{unsigned}");
    // A failover is verified the same way at the primary (the secondary listens on the
    // main server's address, down now: it is not waited for).
    main.set_mode(Mode::Refusing);
    let r = z.run(&["-v"]);
    r.expect_ok();
    r.expect_stderr("");
    let failover = r.new_serial(ZONE);
    line(&r, ZONE, failover, "served with a valid signature");
    assert_validated(&nsd, &keys.anchor(), ZONE, BACKUP_IP);
}

/// The primary serves the new serial, but its SOA signature has expired (here an
/// `[nsd] control` wrapper backdates the SOA's RRSIG in the installed file just before the
/// reload, as anything else editing the file could): the run exits 1 naming the zone, the
/// primary and what it serves, the state is not advanced; once the file is left alone, the
/// next run gets a valid signature served.
#[test]
fn verify_fails_the_run_when_the_primary_serves_an_expired_soa_signature() {
    if !ldns_available("dnssec::verify_fails_the_run_when_the_primary...") {
        return;
    }
    let (nsd, _main, mut z, keys) = setup("");
    z.settings.extra_tables = format!(
        "{}\n{}",
        dnssec_table(&keys.dir, ""),
        verify_table(&nsd, "2s")
    );
    let wrapper = z.dir.join("backdating-control");
    fs::write(
        &wrapper,
        format!(
            "if [ \"$1\" = reload ]; then\n  f='{zone}'\n  awk '$4 == \"RRSIG\" && $5 == \"SOA\" {{ $9 = \"20200102000000\"; $10 = \"20200101000000\" }} {{ print }}' \"$f\" > \"$f.tmp\" && mv \"$f.tmp\" \"$f\"\nfi\nexec nsd-control -c '{conf}' \"$@\"\n",
            zone = z.zone_path(ZONE).display(),
            conf = z.primary_conf.display(),
        ),
    )
    .unwrap();
    z.settings.control = Some(format!("[\"sh\", \"{}\"]", wrapper.display()));
    z.write_config();
    let r = z.run(&[]);
    r.expect_code(1);
    let serial = r.new_serial(ZONE);
    r.expect_stderr(&format!(
        "zonerw: error: {ZONE}: the primary 127.0.0.1:{} serves serial {serial} but its SOA signature expired at 2020-01-02T00:00:00Z, 2s after the reload (validating resolvers answer SERVFAIL for it: is this host's clock right, and did anything else change the installed file?); the state was not advanced, so the next run retries\n",
        nsd.primary.port
    ));
    assert!(!z.state_json().exists(), "state not saved");
    assert_eq!(nsd.primary_serial(ZONE), Some(serial));

    // The file left alone: the next run gets a valid signature served.
    z.settings.control = None;
    z.write_config();
    let r = z.run(&["-v"]);
    r.expect_ok();
    r.expect_stderr("");
    assert!(
        r.stdout
            .contains(" served with a valid signature by the primary after "),
        "{r}"
    );
    assert!(recorded_expiry(&z, ZONE).is_some());
    assert_validated(&nsd, &keys.anchor(), ZONE, MAIN_IP);
}

/// The lines of `zonerw check` (stdout) that start with `prefix`.
fn check_lines(r: &Run, prefix: &str) -> Vec<String> {
    r.stdout
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

/// `zonerw check` per signed zone: its keys, its installed signatures (earliest expiry, the
/// next re-sign) and, with `[verify]`, the SOA signature the primary and the secondary
/// serve; a failure with its fix when the signatures expired or the keys are gone.
#[test]
fn check_shows_a_signed_zones_keys_signatures_and_served_soa_signature() {
    if !ldns_available("dnssec::check_shows_a_signed_zones...") {
        return;
    }
    let (nsd, _main, mut z, keys) = setup("");
    z.settings.extra_tables = format!(
        "{}\n{}",
        dnssec_table(&keys.dir, ""),
        verify_table(&nsd, "2s")
    );
    z.write_config();
    let keys_line = format!(
        "ok    dnssec {ZONE}: KSK {}, ZSK {} (algorithm 13)",
        Keys::tag(&keys.ksk),
        Keys::tag(&keys.zsk)
    );
    // Before the first run: the keys are there, nothing is signed yet.
    let r = z.run(&["check"]);
    assert_eq!(
        check_lines(&r, "ok    dnssec "),
        [keys_line.as_str()],
        "{r}"
    );
    assert_eq!(
        check_lines(&r, "skip  signatures "),
        [format!(
            "skip  signatures {ZONE}: none installed yet (the next run signs it)"
        )],
        "{r}"
    );
    assert_eq!(check_lines(&r, "ok    ldns-signzone: ").len(), 1, "{r}");
    assert_eq!(check_lines(&r, "ok    ldns-verify-zone: ").len(), 1, "{r}");
    // The zone without keys has no such lines.
    assert!(!r.stdout.contains(&format!("dnssec {PLAIN}")), "{r}");
    assert!(!r.stdout.contains(&format!("signatures {PLAIN}")), "{r}");

    z.run(&[]).expect_ok();
    let expiry = recorded_expiry(&z, ZONE).unwrap();
    let t: jiff::Timestamp = expiry.parse().unwrap();
    let due = (t - jiff::SignedDuration::from_hours(120))
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let r = z.run(&["check"]);
    r.expect_ok();
    assert_eq!(
        check_lines(&r, "ok    dnssec "),
        [keys_line.as_str()],
        "{r}"
    );
    assert_eq!(
        check_lines(&r, "ok    signatures "),
        [format!(
            "ok    signatures {ZONE}: valid until {expiry}; re-signed by the first run after {due}"
        )],
        "{r}"
    );
    assert_eq!(
        check_lines(&r, "ok    verify "),
        [
            format!(
                "ok    verify primary 127.0.0.1:{}: serves all 2 zones",
                nsd.primary.port
            ),
            format!(
                "ok    verify primary 127.0.0.1:{}: {ZONE}'s SOA signature valid until {expiry}",
                nsd.primary.port
            ),
            format!(
                "ok    verify secondary 127.0.0.1:{}: serves all 2 zones",
                nsd.secondary.port
            ),
            format!(
                "ok    verify secondary 127.0.0.1:{}: {ZONE}'s SOA signature valid until {expiry}",
                nsd.secondary.port
            ),
        ],
        "{r}"
    );
    eprintln!("{}", r.stdout);
    check_fails_on_expired_signatures_and_missing_keys(&z, &keys, &expiry);
}

/// `zonerw check` of the signed ZONE installed by `z` (signatures recorded to expire at
/// `expiry`): expired signatures, then its keys gone, each fail with the fix.
fn check_fails_on_expired_signatures_and_missing_keys(z: &Zonerw, keys: &Keys, expiry: &str) {
    // The state says the signatures expired (no run re-signed them): a failure.
    let state = fs::read_to_string(z.state_json()).unwrap();
    fs::write(
        z.state_json(),
        state.replace(expiry, "2020-01-01T00:00:00Z"),
    )
    .unwrap();
    let r = z.run(&["check"]);
    r.expect_code(1);
    assert_eq!(
        check_lines(&r, "FAIL  signatures "),
        [format!(
            "FAIL  signatures {ZONE}: expired at 2020-01-01T00:00:00Z: validating resolvers answer SERVFAIL for the zone"
        )],
        "{r}"
    );
    assert!(
        r.stdout
            .contains("      fix: a run should have re-signed it: look at the last runs' errors"),
        "{r}"
    );
    fs::write(z.state_json(), &state).unwrap();

    // The keys gone while the installed zone is signed: a failure naming the directory.
    let moved = keys.dir.with_file_name("keys-away");
    fs::rename(&keys.dir, &moved).unwrap();
    fs::create_dir(&keys.dir).unwrap();
    let r = z.run(&["check"]);
    r.expect_code(1);
    assert_eq!(
        check_lines(&r, "FAIL  dnssec "),
        [format!(
            "FAIL  dnssec {ZONE}: no K{ZONE}.+<alg>+<id>.key files in {}, but the installed zone is signed (a run never installs it unsigned)",
            keys.dir.display()
        )],
        "{r}"
    );
}
