//! End-to-end tests: the zonerw binary against a real NSD primary and
//! secondary on loopback and a local HTTP(S) "main server".
//!
//! Every test asserts what the *secondary* serves over DNS (what users of
//! the domain would see), plus zonerw's exit code and output, as laid down in
//! README.md, zonerw(8) and notes/CONTRACT.md.

use std::fs;
use std::io::Write;
use std::net::Ipv4Addr;
use std::ops::Range;
use std::time::Duration;

use jiff::Timestamp;

use crate::support::*;

const EXTRA_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 55);

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

/// NSD pair with the seed zone, a main server in `mode`, zonerw configured.
fn setup(main: MainServer, tweak: impl FnOnce(&mut Settings)) -> (NsdPair, MainServer, Zonerw) {
    let nsd = NsdPair::new(&[ZONE]);
    let mut settings = Settings::new(&main.url("/up.txt"));
    tweak(&mut settings);
    let z = Zonerw::new(&nsd, settings);
    (nsd, main, z)
}

/// Wait until the secondary serves `serial` and check www's address.
#[track_caller]
fn assert_secondary(nsd: &NsdPair, serial: u32, www: Ipv4Addr) {
    nsd.assert_secondary(ZONE, serial, www, PROPAGATE);
}

/// Wait (2 s) until the secondary answers `name` A with exactly `want`.
/// Right after a zone update NSD's old server child may still answer a
/// query or two with the old data, so poll instead of asking once.
#[track_caller]
fn wait_a(nsd: &NsdPair, name: &str, want: Ipv4Addr) {
    let mut last = Vec::new();
    let ok = poll(Duration::from_secs(2), || {
        last = a_record(nsd.secondary.port, name);
        (last == vec![want]).then_some(())
    });
    assert!(
        ok.is_some(),
        "secondary answers {name} A {last:?}, expected {want}\n{}",
        nsd.diagnostics()
    );
}

/// Lines the primary logged about control connections since log line `from`.
fn control_lines(nsd: &NsdPair, from: usize) -> Vec<String> {
    nsd.primary_log_since(from)
        .into_iter()
        .filter(|l| l.contains("control"))
        .collect()
}

const SWITCH_TO_BACKUP: &str = "web: main (127.0.0.1) -> backup (198.51.100.7): ";
const SWITCH_TO_MAIN: &str = "web: backup (198.51.100.7) -> main (127.0.0.1): ";
/// The switch line of a failback after one good run (rise 1).
const FAILBACK: &str =
    "web: backup (198.51.100.7) -> main (127.0.0.1): main healthy again (1 good run, rise 1)";

/// The switch line of a failover from main, which refuses connections.
fn failover() -> String {
    failover_line(MAIN_IP)
}

/// The same line for a failover that is not committed (the run failed).
fn failover_pending() -> String {
    pending_failover_line(MAIN_IP)
}

/// The first line of stderr when nsd-checkzone rejects the zone rendered for `zone`;
/// nsd-checkzone's own report follows, quoted line by line.
fn checkzone_rejects(zone: &str) -> String {
    format!(
        "zonerw: error: {zone}: nsd-checkzone rejected the rendered zone; it was not installed and NSD keeps serving the old one:"
    )
}

/// Stderr of a run whose rendering of `template` (`path`) nsd-checkzone rejected at `line`:
/// zonerw's line exactly, then nsd-checkzone's report, quoted, naming the line.
#[track_caller]
fn assert_checkzone_rejected(r: &Run, zone: &str, path: &std::path::Path, line: usize) {
    let mut lines = r.stderr.lines();
    assert_eq!(lines.next(), Some(checkzone_rejects(zone).as_str()), "{r}");
    let report: Vec<&str> = lines.collect();
    let at = format!("zonerw:   {}:{line}: ", path.display());
    assert!(
        !report.is_empty() && report.iter().all(|l| l.starts_with("zonerw:   ")),
        "nsd-checkzone's report, quoted\n{r}"
    );
    assert!(
        report.iter().any(|l| l.starts_with(&at)),
        "the report names {at:?}\n{r}"
    );
}

// ---------------------------------------------------------------------------
// harness self-tests
// ---------------------------------------------------------------------------

#[test]
fn harness_nsd_pair_transfers_seed_and_reloads() {
    let mut nsd = NsdPair::new(&[ZONE]);
    // Polled: right after a transfer NSD's previous server process may still answer a
    // query or two without the zone.
    nsd.assert_secondary(ZONE, SEED_SERIAL, SEED_IP, PROPAGATE);
    fs::write(nsd.zone_file(ZONE), seed_zone(ZONE, 5)).unwrap();
    let reload = |nsd: &NsdPair| {
        std::process::Command::new("nsd-control")
            .arg("-c")
            .arg(&nsd.primary.conf)
            .args(["reload", ZONE])
            .output()
            .unwrap()
    };
    let out = reload(&nsd);
    assert!(out.status.success(), "{out:?}");
    nsd.wait_secondary_serial(ZONE, 5, PROPAGATE);
    // Stop/start the primary on the same port; it serves again.
    nsd.stop_primary();
    assert_eq!(nsd.primary_serial(ZONE), None);
    assert!(!reload(&nsd).status.success());
    nsd.start_primary();
    nsd.wait_primary_serial(ZONE, 5, PROPAGATE);
    nsd.stop_secondary();
    nsd.start_secondary();
    nsd.wait_secondary_serial(ZONE, 5, PROPAGATE);
}

#[test]
fn harness_main_server_modes() {
    let agent = |tls: bool| {
        let mut b = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_millis(500)))
            .http_status_as_error(false)
            .proxy(None);
        if tls {
            b = b.tls_config(
                ureq::tls::TlsConfig::builder()
                    .disable_verification(true)
                    .build(),
            );
        }
        b.build().new_agent()
    };
    let get = |agent: &ureq::Agent, url: &str| -> Result<(u16, String), String> {
        let mut resp = agent
            .get(url)
            .header("Host", "www.example.test")
            .call()
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        Ok((status, body))
    };
    let main = MainServer::http(Mode::Up);
    let url = format!("http://127.0.0.1:{}/up.txt", main.port());
    let a = agent(false);
    assert_eq!(get(&a, &url), Ok((200, "OK up".into())));
    let seen = poll(Duration::from_secs(2), || main.seen().pop()).unwrap();
    assert_eq!(seen.host.as_deref(), Some("www.example.test"));
    assert_eq!(seen.request_line.as_deref(), Some("GET /up.txt HTTP/1.1"));
    main.set_mode(Mode::Status500);
    assert_eq!(get(&a, &url).unwrap().0, 500);
    main.set_mode(Mode::WrongBody);
    assert_eq!(get(&a, &url), Ok((200, "maintenance".into())));
    main.set_mode(Mode::Refusing);
    let e = get(&a, &url).unwrap_err();
    assert!(e.to_lowercase().contains("refused"), "{e}");
    main.set_mode(Mode::BlackHole);
    let t = std::time::Instant::now();
    assert!(get(&a, &url).is_err());
    assert!(t.elapsed() >= Duration::from_millis(450));
    main.set_mode(Mode::Trickle);
    let t = std::time::Instant::now();
    assert!(get(&a, &url).is_err());
    assert!(t.elapsed() < Duration::from_secs(1));
    main.set_mode(Mode::Up);
    assert_eq!(get(&a, &url), Ok((200, "OK up".into())));

    let tls = MainServer::https(Mode::Up);
    let url = format!("https://127.0.0.1:{}/", tls.port());
    assert_eq!(get(&agent(true), &url), Ok((200, "OK up".into())));
    // Verification on: the self-signed cert is rejected.
    assert!(get(&agent(false), &url).is_err());
}

// ---------------------------------------------------------------------------
// 1. failover / failback
// ---------------------------------------------------------------------------

#[test]
fn failover_when_main_refuses_and_failback_when_up_again() {
    let (nsd, main, z) = setup(MainServer::http(Mode::Up), |_| {});
    let r = z.run(&[]);
    r.expect_ok();
    let s1 = r.new_serial(ZONE);
    // No pool switch on a healthy first run; one line per change.
    r.expect_stdout(&lines!(zone_line(ZONE, SEED_SERIAL, s1)));
    r.expect_stderr("");
    assert_secondary(&nsd, s1, MAIN_IP);
    // zonerw connected to 127.0.0.1 but sent the URL's host.
    let seen = poll(Duration::from_secs(2), || main.seen().pop()).expect("main saw a request");
    assert_eq!(seen.host, Some(format!("www.example.test:{}", main.port())));
    assert_eq!(seen.local.ip().to_string(), "127.0.0.1");
    assert_eq!(seen.request_line.as_deref(), Some("GET /up.txt HTTP/1.1"));

    // Main refuses connections: fail over.
    main.set_mode(Mode::Refusing);
    let r = z.run(&[]);
    r.expect_ok();
    // The pool line first, then the zone's.
    r.expect_stdout(&lines!(failover(), zone_line(ZONE, s1, s1 + 1)));
    r.expect_stderr("");
    assert_secondary(&nsd, s1 + 1, BACKUP_IP);

    // Main is back: fail back after one good run (rise 1).
    main.set_mode(Mode::Up);
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stdout(&lines!(FAILBACK, zone_line(ZONE, s1 + 1, s1 + 2)));
    r.expect_stderr("");
    assert_secondary(&nsd, s1 + 2, MAIN_IP);

    // history.jsonl: both switches, in order.
    let switches: Vec<_> = read_history(&z)
        .into_iter()
        .filter(|v| v["event"] == "switch")
        .collect();
    assert_eq!(switches.len(), 2, "{switches:?}");
    assert_eq!(
        (switches[0]["from"].as_str(), switches[0]["to"].as_str()),
        (Some("main"), Some("backup"))
    );
    assert_eq!(switches[0]["to_address"], "198.51.100.7");
    assert_eq!(
        (switches[1]["from"].as_str(), switches[1]["to"].as_str()),
        (Some("backup"), Some("main"))
    );
    let zone_events: Vec<_> = read_history(&z)
        .into_iter()
        .filter(|v| v["event"] == "zone")
        .map(|v| {
            (
                v["zone"].as_str().map(str::to_owned),
                v["to_serial"].as_u64(),
            )
        })
        .collect();
    let want: Vec<_> = [s1, s1 + 1, s1 + 2]
        .iter()
        .map(|s| (Some(ZONE.to_owned()), Some(u64::from(*s))))
        .collect();
    assert_eq!(zone_events, want, "history zone events");

    // Installed 0644 (NSD may run as another user), no temp files left behind.
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &fs::metadata(z.zone_path(ZONE)).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o644, "installed zone mode {mode:o}");
    assert_eq!(zones_dir_listing(&z), vec![format!("{ZONE}.zone")]);
}

/// Every file in `dir` with its inode, mtime and bytes.
fn dir_snapshot(dir: &std::path::Path) -> Vec<(String, FileId)> {
    let mut v: Vec<(String, FileId)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                FileId::of(&e.path()),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Names in the zones directory.
fn zones_dir_listing(z: &Zonerw) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(&z.zones)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A failover with an option that changes where the files are or what is printed.
struct FailoverVariant {
    name: &'static str,
    tweak: fn(&mut Settings),
    args: &'static [&'static str],
    /// `-q`: nothing on stdout or stderr.
    quiet: bool,
}

/// Main refuses after a healthy first run: the failover is applied and served, whatever
/// the option.
#[test]
fn failover_variants_are_applied() {
    let cases = [
        FailoverVariant {
            name: "-q prints only errors",
            tweak: |_| {},
            args: &["-q"],
            quiet: true,
        },
        FailoverVariant {
            name: "relative paths resolve against the config directory",
            tweak: |s| s.relative_paths = true,
            args: &[],
            quiet: false,
        },
    ];
    check_cases(
        &cases,
        |c| c.name,
        |c| {
            let (nsd, main, z) = setup(MainServer::http(Mode::Up), c.tweak);
            if z.settings.relative_paths {
                assert!(z.config_text().contains("templates = \"templates\""));
            }
            let s1 = first_run(&nsd, &z, MAIN_IP);
            main.set_mode(Mode::Refusing);
            let r = z.run(c.args);
            r.expect_ok();
            if c.quiet {
                r.expect_stdout("");
            } else {
                r.expect_stdout(&lines!(failover(), zone_line(ZONE, s1, s1 + 1)));
            }
            r.expect_stderr("");
            assert_secondary(&nsd, s1 + 1, BACKUP_IP);
            assert!(
                z.state_json().exists(),
                "state.json under the config's directory"
            );
        },
    );
}

#[test]
fn fall_and_rise_need_consecutive_runs() {
    let (nsd, main, z) = setup(MainServer::http(Mode::Up), |s| {
        s.fall = 2;
        s.rise = 2;
    });
    let s1 = first_run(&nsd, &z, MAIN_IP);
    main.set_mode(Mode::Refusing);
    let r = z.run(&[]);
    r.expect_ok();
    assert_eq!(
        r.stdout, "",
        "one failed run with fall 2 changes nothing\n{r}"
    );
    assert_eq!(nsd.secondary_serial(ZONE), Some(s1));
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stdout(&lines!(
        format!("{SWITCH_TO_BACKUP}main down for 2 runs (fall 2): failed 2/2 attempts: {REFUSED}"),
        zone_line(ZONE, s1, s1 + 1),
    ));
    let s2 = s1 + 1;
    assert_secondary(&nsd, s2, BACKUP_IP);
    main.set_mode(Mode::Up);
    let r = z.run(&[]);
    r.expect_ok();
    assert_eq!(
        r.stdout, "",
        "one good run with rise 2 changes nothing\n{r}"
    );
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stdout(&lines!(
        format!("{SWITCH_TO_MAIN}main healthy again (2 good runs, rise 2)"),
        zone_line(ZONE, s2, s2 + 1),
    ));
    assert_secondary(&nsd, s2 + 1, MAIN_IP);
}

#[test]
fn two_zones_fail_over_and_back_together() {
    let zones = ["example.test", "example.org"];
    let main = MainServer::http(Mode::Up);
    let nsd = NsdPair::new(&zones);
    let z = Zonerw::new(&nsd, Settings::new(&main.url("/up.txt")));
    let r = z.run(&[]);
    r.expect_ok();
    let s1 = r.new_serial("example.org");
    // One line per zone, in the order of their names.
    r.expect_stdout(&lines!(
        zone_line("example.org", SEED_SERIAL, s1),
        zone_line("example.test", SEED_SERIAL, s1),
    ));
    for round in 0..4 {
        let (mode, ip, switch) = if round % 2 == 0 {
            (Mode::Refusing, BACKUP_IP, failover())
        } else {
            (Mode::Up, MAIN_IP, FAILBACK.to_owned())
        };
        main.set_mode(mode);
        let r = z.run(&[]);
        r.expect_ok();
        let serial = s1 + round + 1;
        r.expect_stdout(&lines!(
            switch,
            zone_line("example.org", serial - 1, serial),
            zone_line("example.test", serial - 1, serial),
        ));
        for zone in zones {
            nsd.wait_secondary_serial(zone, serial, PROPAGATE);
            wait_a(&nsd, &format!("www.{zone}"), ip);
        }
    }
}

// ---------------------------------------------------------------------------
// 2. quiet when nothing changed
// ---------------------------------------------------------------------------

#[test]
fn run_without_changes_is_silent_and_touches_nothing() {
    let (nsd, main, z) = setup(MainServer::http(Mode::Up), |_| {});
    let s1 = first_run(&nsd, &z, MAIN_IP);

    // A run that changes nothing: it writes no file, calls no nsd-control, prints
    // `stdout` (the probes with -v, else nothing) and nothing on stderr.
    let assert_untouched_run = |label: &str, args: &[&str], stdout: &str| {
        let before = FileId::of(&z.zone_path(ZONE));
        let state_before = dir_snapshot(&z.state);
        let zones_before = dir_snapshot(&z.zones);
        let log_from = nsd.primary_log_lines();
        std::thread::sleep(Duration::from_millis(20)); // a rewrite would show in the mtime
        let r = z.run(args);
        r.expect_ok();
        assert_eq!(
            before,
            FileId::of(&z.zone_path(ZONE)),
            "{label}: zone file was rewritten\n{r}"
        );
        // README.md: nothing changed, no file is written (state files included).
        assert_eq!(
            zones_before,
            dir_snapshot(&z.zones),
            "{label}: zones dir\n{r}"
        );
        assert_eq!(
            state_before,
            dir_snapshot(&z.state),
            "{label}: a state file was written\n{r}"
        );
        std::thread::sleep(Duration::from_millis(50));
        let ctl = control_lines(&nsd, log_from);
        assert!(
            ctl.is_empty(),
            "{label}: nsd-control was called: {ctl:?}\n{r}"
        );
        assert_text(&format!("{label}: stdout"), &r.stdout, stdout, &r);
        assert_text(&format!("{label}: stderr"), &r.stderr, "", &r);
    };

    assert_untouched_run("healthy", &[], "");
    assert_eq!(nsd.secondary_serial(ZONE), Some(s1));

    // -v prints the probe results, and still changes nothing.
    assert_untouched_run(
        "verbose",
        &["-v"],
        &lines!(
            "probe web/main 127.0.0.1: up, HTTP 200 in {ms} ms",
            "probe web/backup 198.51.100.7: no check, counted healthy",
        ),
    );

    // After a failover, the next run with main still dead is silent too.
    main.set_mode(Mode::Refusing);
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stdout(&lines!(failover(), zone_line(ZONE, s1, s1 + 1)));
    assert_secondary(&nsd, s1 + 1, BACKUP_IP);
    assert_untouched_run("still down", &[], "");
    assert_untouched_run("quiet", &["-q"], "");
}

// ---------------------------------------------------------------------------
// 3. --force, template edits, hand-edited zones
// ---------------------------------------------------------------------------

#[test]
fn force_and_template_edits_are_served() {
    let (nsd, _main, z) = setup(MainServer::http(Mode::Up), |_| {});
    let s1 = first_run(&nsd, &z, MAIN_IP);

    // --force with nothing changed: new serial anyway.
    let r = z.run(&["--force"]);
    r.expect_ok();
    r.expect_stdout(&lines!(zone_line(ZONE, s1, s1 + 1)));
    assert_secondary(&nsd, s1 + 1, MAIN_IP);

    // Hand edit of the template, pushed out with --force.
    let extra = |ip: &str| format!("{}extra IN A {ip}\n", default_template(ZONE));
    z.write_template(ZONE, &extra("192.0.2.55"));
    let r = z.run(&["--force"]);
    r.expect_ok();
    r.expect_stdout(&lines!(zone_line(ZONE, s1 + 1, s1 + 2)));
    assert_secondary(&nsd, s1 + 2, MAIN_IP);
    wait_a(&nsd, "extra.example.test", EXTRA_IP);

    // A template edit is picked up by a plain run, without --force.
    z.write_template(ZONE, &extra("192.0.2.56"));
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stdout(&lines!(zone_line(ZONE, s1 + 2, s1 + 3)));
    assert_secondary(&nsd, s1 + 3, MAIN_IP);
    wait_a(&nsd, "extra.example.test", Ipv4Addr::new(192, 0, 2, 56));

    // And then it is quiet again.
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stdout("");
}

#[test]
fn hand_edited_or_deleted_zone_file_is_replaced_and_serial_never_goes_back() {
    let (nsd, _main, z) = setup(MainServer::http(Mode::Up), |_| {});
    let s1 = first_run(&nsd, &z, MAIN_IP);

    // Someone edits the installed zone and gives it a much higher serial.
    let high = s1 + 50;
    fs::write(z.zone_path(ZONE), seed_zone(ZONE, high)).unwrap();
    let r = z.run(&[]);
    r.expect_ok();
    // The new serial exceeds the installed one.
    let s2 = high + 1;
    r.expect_stdout(&lines!(zone_line(ZONE, high, s2)));
    assert_secondary(&nsd, s2, MAIN_IP);

    // Someone deletes the installed zone file.
    fs::remove_file(z.zone_path(ZONE)).unwrap();
    let r = z.run(&[]);
    r.expect_ok();
    let s3 = s2 + 1;
    r.expect_stdout(&lines!(zone_line(ZONE, s2, s3)));
    assert!(z.zone_path(ZONE).exists());
    assert_secondary(&nsd, s3, MAIN_IP);

    // Losing state.json must not make the serial go backwards either.
    fs::remove_file(z.state_json()).unwrap();
    let r = z.run(&["--force"]);
    r.expect_ok();
    let s4 = s3 + 1;
    r.expect_stdout(&lines!(zone_line(ZONE, s3, s4)));
    assert_secondary(&nsd, s4, MAIN_IP);
}

/// A serial scheme, by the serial it would give a zone at time `t` if that is newer than
/// the zone's serial (`None`: the scheme only counts).
struct SerialScheme {
    name: &'static str,
    scheme: Option<&'static str>,
    candidate: fn(Timestamp) -> Option<u32>,
}

/// The serials a run between `t0` and `t1` may give a zone whose serial is `prev`: the
/// scheme's candidate at a second of the run, or `prev + 1` when that is not newer.
fn next_serials(scheme: &SerialScheme, prev: u32, t0: Timestamp, t1: Timestamp) -> Vec<u32> {
    let mut serials: Vec<u32> = (t0.as_second()..=t1.as_second())
        .map(|second| {
            let t = Timestamp::from_second(second).unwrap();
            (scheme.candidate)(t)
                .filter(|&c| c > prev)
                .unwrap_or(prev + 1)
        })
        .collect();
    serials.dedup();
    serials
}

/// Each scheme's first serial (over the seed zone's serial 1), then two forced runs back to
/// back (within one second, mostly): every serial is the scheme's, and is served.
#[test]
fn serial_schemes_pick_the_first_serial_and_count_up() {
    let cases = [
        SerialScheme {
            name: "date (the default): today's YYYYMMDD00, then + 1",
            scheme: None,
            candidate: |t| Some(utc_yyyymmdd(t) * 100),
        },
        SerialScheme {
            name: "unixtime: epoch seconds, + 1 within a second",
            scheme: Some("unixtime"),
            candidate: |t| u32::try_from(t.as_second()).ok(),
        },
        SerialScheme {
            name: "counter: the installed serial + 1",
            scheme: Some("counter"),
            candidate: |_| None,
        },
    ];
    check_cases(
        &cases,
        |c| c.name,
        |c| {
            let (nsd, _main, z) = setup(MainServer::http(Mode::Up), |s| {
                s.scheme = c.scheme.map(str::to_owned);
            });
            let mut prev = SEED_SERIAL;
            for args in [&[][..], &["--force"], &["--force"]] {
                let t0 = Timestamp::now();
                let r = z.run(args);
                let t1 = Timestamp::now();
                r.expect_ok();
                let want = next_serials(c, prev, t0, t1);
                let (from, to) = r
                    .zone_change(ZONE)
                    .unwrap_or_else(|| panic!("{args:?}: no zone line\n{r}"));
                assert_eq!(from, Some(prev), "{args:?}\n{r}");
                assert!(
                    want.contains(&to),
                    "{args:?}: serial {to}, not one of {want:?}\n{r}"
                );
                r.expect_stdout(&lines!(zone_line(ZONE, prev, to)));
                r.expect_stderr("");
                assert_secondary(&nsd, to, MAIN_IP);
                prev = to;
            }
        },
    );
}

// ---------------------------------------------------------------------------
// 4. broken template
// ---------------------------------------------------------------------------

/// Lines that break the default template (8 lines long), and how zonerw says so.
struct BrokenTemplate {
    name: &'static str,
    lines: &'static str,
    /// Exit 1: nothing is committed. Exit 2 (a template error of zonerw's own): the pool's
    /// switch is, and the zone's record is kept as it was (issue 8, point 6).
    code: i32,
    /// The line of the template named on stderr.
    line: usize,
    /// zonerw's own message after `FILE:LINE: `; `None`: nsd-checkzone's (see
    /// `assert_checkzone_rejected`).
    own_error: Option<&'static str>,
}

/// With a failover pending (main refuses), a broken template is not installed: the run
/// fails naming the template's `FILE:LINE`, nothing is reloaded, both servers go on
/// serving the old zone; once the broken line is gone the next run applies the failover.
#[test]
fn broken_template_is_not_installed_and_old_zone_keeps_being_served() {
    let cases = [
        BrokenTemplate {
            name: "an invalid address (nsd-checkzone)",
            lines: "bad IN A 192.0.2.300\n",
            code: 1,
            line: 9,
            own_error: None,
        },
        BrokenTemplate {
            name: "an unknown type (nsd-checkzone)",
            lines: "bad IN BOGUSTYPE foo\n",
            code: 1,
            line: 9,
            own_error: None,
        },
        BrokenTemplate {
            name: "an unknown marker, after an e-mail address that is none",
            lines: "info IN TXT \"mail user@example.com\"\nbad IN TXT \"@bogus@\"\n",
            code: 2,
            line: 10,
            own_error: Some("unknown marker @bogus@"),
        },
    ];
    check_cases(
        &cases,
        |c| c.name,
        |c| {
            let (nsd, main, z) = setup(MainServer::http(Mode::Up), |_| {});
            let s1 = first_run(&nsd, &z, MAIN_IP);
            main.set_mode(Mode::Refusing); // a change is pending as well
            let state_before = fs::read(z.state_json()).unwrap();
            let records_before = state_zones(&z);
            let zone_before = FileId::of(&z.zone_path(ZONE));
            let log_from = nsd.primary_log_lines();
            z.write_template(ZONE, &format!("{}{}", default_template(ZONE), c.lines));
            let r = z.run(&[]);
            r.expect_code(c.code);
            let template = z.template_path(ZONE);
            if let Some(error) = c.own_error {
                r.expect_stderr(&lines!(format!(
                    "zonerw: error: {}:{}: {error}",
                    template.display(),
                    c.line
                )));
            } else {
                assert_checkzone_rejected(&r, ZONE, &template, c.line);
            }
            // The pool's switch is printed as done only if it was committed.
            let committed = c.code == 2;
            let switch = if committed {
                failover()
            } else {
                failover_pending()
            };
            r.expect_stdout(&lines!(switch));
            assert_eq!(
                zone_before,
                FileId::of(&z.zone_path(ZONE)),
                "broken zone installed\n{r}"
            );
            if c.code == 1 {
                assert_eq!(
                    state_before,
                    fs::read(z.state_json()).unwrap(),
                    "state.json changed\n{r}"
                );
            }
            assert_eq!(records_before, state_zones(&z), "the zone's record\n{r}");
            // Both servers still serve the old zone (not SERVFAIL); NSD was not asked to reload.
            std::thread::sleep(Duration::from_millis(200));
            assert!(control_lines(&nsd, log_from).is_empty(), "{r}");
            assert_eq!(nsd.primary_serial(ZONE), Some(s1), "{}", nsd.diagnostics());
            assert_eq!(nsd.primary_www(ZONE), vec![MAIN_IP]);
            assert_eq!(nsd.secondary_serial(ZONE), Some(s1));
            assert_eq!(nsd.secondary_www(ZONE), vec![MAIN_IP]);
            // Fixed (the broken last line removed): the next run applies the failover.
            let kept = c
                .lines
                .trim_end()
                .rsplit_once('\n')
                .map_or(String::new(), |(kept, _)| format!("{kept}\n"));
            z.write_template(ZONE, &format!("{}{kept}", default_template(ZONE)));
            let r = z.run(&[]);
            r.expect_ok();
            let zone = zone_line(ZONE, s1, s1 + 1);
            if committed {
                r.expect_stdout(&lines!(zone));
            } else {
                r.expect_stdout(&lines!(failover(), zone));
            }
            r.expect_stderr("");
            assert_secondary(&nsd, s1 + 1, BACKUP_IP);
        },
    );
}

/// The `zones` part of state.json.
fn state_zones(z: &Zonerw) -> serde_json::Value {
    let state: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(z.state_json()).unwrap()).unwrap();
    state["zones"].clone()
}

#[test]
fn one_broken_zone_does_not_hold_the_others_hostage() {
    let zones = ["example.test", "example.org"];
    let main = MainServer::http(Mode::Up);
    let nsd = NsdPair::new(&zones);
    let z = Zonerw::new(&nsd, Settings::new(&main.url("/up.txt")));
    let r = z.run(&[]);
    r.expect_ok();
    let (good0, bad0) = (r.new_serial("example.test"), r.new_serial("example.org"));
    r.expect_stdout(&lines!(
        zone_line("example.org", SEED_SERIAL, bad0),
        zone_line("example.test", SEED_SERIAL, good0),
    ));
    nsd.wait_secondary_serial("example.org", bad0, PROPAGATE);
    z.write_template(
        "example.org",
        &format!("{}bad IN A 192.0.2.300\n", default_template("example.org")),
    );
    main.set_mode(Mode::Refusing);
    let state_before = fs::read(z.state_json()).unwrap();
    let r = z.run(&[]);
    r.expect_code(1);
    assert_checkzone_rejected(&r, "example.org", &z.template_path("example.org"), 9);
    assert_eq!(
        state_before,
        fs::read(z.state_json()).unwrap(),
        "state advanced\n{r}"
    );
    // The good zone failed over anyway; the broken one keeps its old data.
    let good = good0 + 1;
    r.expect_stdout(&lines!(
        failover_pending(),
        zone_line("example.test", good0, good)
    ));
    nsd.wait_secondary_serial("example.test", good, PROPAGATE);
    wait_a(&nsd, "www.example.test", BACKUP_IP);
    assert_eq!(nsd.secondary_serial("example.org"), Some(bad0));
    wait_a(&nsd, "www.example.org", MAIN_IP);
    // Fixed: the next run completes the work and exits 0.
    z.write_template("example.org", &default_template("example.org"));
    let r = z.run(&[]);
    r.expect_ok();
    // The switch is committed now; the good zone's file was installed by the failed run.
    let fixed = bad0 + 1;
    r.expect_stdout(&lines!(
        failover(),
        zone_line("example.org", bad0, fixed),
        format!("example.test: serial {good} already installed, reloaded"),
    ));
    r.expect_stderr("");
    nsd.wait_secondary_serial("example.org", fixed, PROPAGATE);
    wait_a(&nsd, "www.example.org", BACKUP_IP);
    assert_eq!(
        nsd.secondary_serial("example.test"),
        Some(good),
        "good zone untouched or same serial\n{r}"
    );
}

#[test]
fn ip6_marker_with_a_server_without_ipv6_is_a_config_error() {
    let (nsd, _main, z) = setup(MainServer::http(Mode::Up), |_| {});
    z.write_template(
        ZONE,
        &format!("{}www IN AAAA @IP6@\n", default_template(ZONE)),
    );
    let r = z.run(&[]);
    r.expect_code(2);
    // FILE:LINE and the server.
    r.expect_stderr(&lines!(format!(
        "zonerw: error: {}:9: @IP6@ is used, but server \"main\" of pool \"web\" has no ipv6 address",
        z.template_path(ZONE).display()
    )));
    r.expect_stdout("");
    // The broken template skips its zone (issue 8, point 6): no zone state is recorded.
    let state: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(z.state_json()).unwrap()).unwrap();
    assert_eq!(state["zones"], serde_json::json!({}), "{r}");
    assert_eq!(
        fs::read_to_string(z.zone_path(ZONE)).unwrap(),
        seed_zone(ZONE, SEED_SERIAL)
    );
    assert_eq!(nsd.secondary_serial(ZONE), Some(SEED_SERIAL));
}

// ---------------------------------------------------------------------------
// 5. NSD primary down
// ---------------------------------------------------------------------------

#[test]
fn primary_down_fails_the_run_and_the_next_run_applies() {
    let (mut nsd, main, z) = setup(MainServer::http(Mode::Up), |_| {});
    let s1 = first_run(&nsd, &z, MAIN_IP);
    nsd.stop_primary();
    main.set_mode(Mode::Refusing);
    let state_before = fs::read(z.state_json()).unwrap();
    let r = z.run(&[]);
    r.expect_code(1);
    // The failed nsd-control command, then what it said.
    r.expect_stderr(&lines!(
        format!(
            "zonerw: error: 'nsd-control -c {} reload {ZONE}' failed (exit status: 1): {{...}}",
            nsd.primary.conf.display()
        ),
        "zonerw: fix: nothing answers on NSD's control interface {...}",
    ));
    r.expect_stdout(&lines!(failover_pending()));
    assert_eq!(
        state_before,
        fs::read(z.state_json()).unwrap(),
        "state advanced\n{r}"
    );
    assert_eq!(nsd.secondary_serial(ZONE), Some(s1));
    assert_eq!(nsd.secondary_www(ZONE), vec![MAIN_IP]);

    nsd.start_primary();
    let r = z.run(&[]);
    r.expect_ok();
    let served = poll(PROPAGATE, || {
        let serial = nsd.secondary_serial(ZONE)?;
        (serial > s1 && nsd.secondary_www(ZONE) == vec![BACKUP_IP]).then_some(serial)
    })
    .unwrap_or_else(|| {
        panic!(
            "secondary never served the failover\n{r}\n{}",
            nsd.diagnostics()
        )
    });
    assert_eq!(nsd.primary_serial(ZONE), Some(served));
    // The failed run had installed the zone; NSD loaded it on its start.
    assert_eq!(served, s1 + 1);
    r.expect_stdout(&lines!(
        failover(),
        format!("{ZONE}: serial {served} already installed, reloaded"),
    ));
    r.expect_stderr("");
    let r = z.run(&[]);
    r.expect_ok();
    assert_eq!(
        r.stdout, "",
        "state advanced: the following run is quiet\n{r}"
    );
}

#[test]
fn retry_after_failed_reload_never_reuses_a_serial_for_other_content() {
    let (mut nsd, main, z) = setup(MainServer::http(Mode::Up), |_| {});
    let s1 = first_run(&nsd, &z, MAIN_IP);
    nsd.stop_primary();
    main.set_mode(Mode::Refusing);
    z.run(&[]).expect_code(1); // may have installed s1+1 (backup) before the reload failed
    // Main comes back before anything else happens; NSD starts and loads
    // whatever is installed, and the secondary transfers it.
    main.set_mode(Mode::Up);
    nsd.start_primary();
    let installed = nsd.primary_serial(ZONE);
    let r = z.run(&[]);
    r.expect_ok();
    // Whatever happened, both servers must end up serving main's address,
    // with one serial for one content.
    let ok = poll(PROPAGATE, || {
        let p = nsd.primary_serial(ZONE)?;
        let s = nsd.secondary_serial(ZONE)?;
        (p == s
            && nsd.secondary_www(ZONE) == vec![MAIN_IP]
            && nsd.primary_www(ZONE) == vec![MAIN_IP])
        .then_some(s)
    });
    assert!(
        ok.is_some(),
        "secondary does not serve main's address (primary loaded {installed:?} at start)\n{r}\nprimary {:?} {:?}, secondary {:?} {:?}\n{}",
        nsd.primary_serial(ZONE),
        nsd.primary_www(ZONE),
        nsd.secondary_serial(ZONE),
        nsd.secondary_www(ZONE),
        nsd.diagnostics()
    );
    if installed == Some(s1 + 1) {
        assert!(
            ok.unwrap() > s1 + 1,
            "serial {ok:?} reused for other content\n{r}"
        );
    }
}

// ---------------------------------------------------------------------------
// 6. / 7. serials
// ---------------------------------------------------------------------------

#[test]
fn more_than_100_changes_in_a_day_keep_serials_increasing() {
    let (nsd, _main, z) = setup(MainServer::http(Mode::Up), |_| {});
    let s1 = first_run(&nsd, &z, MAIN_IP);
    assert_eq!(s1 % 100, 0, "first serial of the day ends in 00");
    let mut prev = s1;
    for i in 0..105 {
        let r = z.run(&["--force"]);
        r.expect_ok();
        let to = prev + 1;
        assert_text(
            &format!("run {i}: stdout"),
            &r.stdout,
            &lines!(zone_line(ZONE, prev, to)),
            &r,
        );
        // The primary really loaded it (mtime trap, quick successive runs).
        nsd.wait_primary_serial(ZONE, to, Duration::from_secs(2));
        prev = to;
    }
    assert_eq!(prev, s1 + 105);
    assert_eq!(
        prev / 100,
        s1 / 100 + 1,
        "the 101st change of the day uses the next day's range"
    );
    nsd.wait_secondary_serial(ZONE, prev, PROPAGATE);
}

#[test]
fn two_forced_runs_back_to_back_both_take_effect() {
    let (nsd, _main, z) = setup(MainServer::http(Mode::Up), |_| {});
    let mut prev = first_run(&nsd, &z, MAIN_IP);
    for round in 0..5 {
        let a = z.run(&["--force"]);
        let b = z.run(&["--force"]);
        a.expect_ok();
        b.expect_ok();
        let (sa, sb) = (prev + 1, prev + 2);
        assert_text(
            &format!("round {round}, first run"),
            &a.stdout,
            &lines!(zone_line(ZONE, prev, sa)),
            &a,
        );
        assert_text(
            &format!("round {round}, second run"),
            &b.stdout,
            &lines!(zone_line(ZONE, sa, sb)),
            &b,
        );
        prev = sb;
        nsd.wait_primary_serial(ZONE, sb, Duration::from_secs(2));
        nsd.wait_secondary_serial(ZONE, sb, PROPAGATE);
    }
}

// ---------------------------------------------------------------------------
// 8. probe behaviours
// ---------------------------------------------------------------------------

/// A way the main server fails its probe.
struct ProbeFailure {
    name: &'static str,
    mode: Mode,
    tweak: fn(&mut Settings),
    /// The probe's verdict in the switch line, after `main failed 2/2 attempts: `.
    reason: &'static str,
    /// How long the run may take.
    took: Range<Duration>,
}

/// Main is up on the first run, then fails its probe: the next run fails over within the
/// bounds (a black hole or a trickle is cut off by the timeout), saying why.
#[test]
fn probe_failures_fail_over() {
    let one_second: fn(&mut Settings) = |s| {
        s.timeout = "1s".into();
        s.attempts = 2;
    };
    let secs = Duration::from_secs;
    let cases = [
        ProbeFailure {
            name: "black hole, bounded by the timeout",
            mode: Mode::BlackHole,
            tweak: one_second,
            reason: "timed out after 1s",
            took: secs(2)..secs(3),
        },
        ProbeFailure {
            name: "trickle, bounded by the timeout",
            mode: Mode::Trickle,
            tweak: one_second,
            reason: "timed out after 1s",
            took: secs(2)..secs(3),
        },
        ProbeFailure {
            name: "status 500",
            mode: Mode::Status500,
            tweak: |_| {},
            reason: "HTTP 500 (expected 200-399)",
            took: secs(0)..secs(3),
        },
        ProbeFailure {
            name: "wrong body with expect-body",
            mode: Mode::WrongBody,
            tweak: |s| s.expect_body = Some("OK up".into()),
            reason: "HTTP 200 but the body does not contain \"OK up\"",
            took: secs(0)..secs(3),
        },
    ];
    check_cases(
        &cases,
        |c| c.name,
        |c| {
            let (nsd, main, z) = setup(MainServer::http(Mode::Up), c.tweak);
            let s1 = first_run(&nsd, &z, MAIN_IP);
            main.set_mode(c.mode);
            let r = z.run(&[]);
            r.expect_ok();
            assert!(
                c.took.contains(&r.elapsed),
                "run took {:?}, not within {:?}\n{r}",
                r.elapsed,
                c.took
            );
            r.expect_stdout(&lines!(
                format!("{SWITCH_TO_BACKUP}main failed 2/2 attempts: {}", c.reason),
                zone_line(ZONE, s1, s1 + 1),
            ));
            r.expect_stderr("");
            assert_secondary(&nsd, s1 + 1, BACKUP_IP);
        },
    );
}

/// What the first run's probe of main (HTTP or HTTPS) finds.
struct FirstProbe {
    name: &'static str,
    main: fn() -> MainServer,
    tweak: fn(&mut Settings),
    /// Main is down: the reason in the switch line, after `main failed 2/2 attempts: `.
    down: Option<&'static str>,
    /// A request got through (the server saw its Host header), not just a TLS handshake.
    request: bool,
}

/// Before the first run the current choice is main; the run keeps it or switches away,
/// and the server saw the URL's host: as SNI (HTTPS) and in the Host header.
#[test]
fn probe_verdicts_on_the_first_run() {
    let cases = [
        FirstProbe {
            name: "a wrong body without expect-body is up",
            main: || MainServer::http(Mode::WrongBody),
            tweak: |_| {},
            down: None,
            request: true,
        },
        FirstProbe {
            name: "a self-signed HTTPS server is down when verifying",
            main: || MainServer::https(Mode::Up),
            tweak: |_| {},
            down: Some("connect: invalid peer certificate: UnknownIssuer"),
            request: false,
        },
        FirstProbe {
            name: "HTTPS without verification is up, with SNI and Host from the URL",
            main: || MainServer::https(Mode::Up),
            tweak: |s| s.tls_verify = Some(false),
            down: None,
            request: true,
        },
    ];
    check_cases(
        &cases,
        |c| c.name,
        |c| {
            let (nsd, main, z) = setup((c.main)(), c.tweak);
            let r = z.run(&[]);
            r.expect_ok();
            let s1 = r.new_serial(ZONE);
            let zone = zone_line(ZONE, SEED_SERIAL, s1);
            let www = if let Some(reason) = c.down {
                r.expect_stdout(&lines!(
                    format!("{SWITCH_TO_BACKUP}main failed 2/2 attempts: {reason}"),
                    zone
                ));
                BACKUP_IP
            } else {
                r.expect_stdout(&lines!(zone));
                MAIN_IP
            };
            r.expect_stderr("");
            assert_secondary(&nsd, s1, www);
            let https = main.url("/").starts_with("https:");
            let seen = poll(Duration::from_secs(2), || {
                main.seen()
                    .into_iter()
                    .find(|s| s.host.is_some() || !c.request)
            })
            .expect("a connection to main");
            let sni = https.then_some("www.example.test");
            assert_eq!(seen.sni.as_deref(), sni, "{seen:?}");
            if c.request {
                assert_eq!(
                    seen.host,
                    Some(format!("www.example.test:{}", main.port())),
                    "{seen:?}"
                );
                assert_eq!(seen.request_line.as_deref(), Some("GET /up.txt HTTP/1.1"));
                assert_eq!(seen.local.ip().to_string(), "127.0.0.1");
            }
        },
    );
}

// ---------------------------------------------------------------------------
// 9. lock
// ---------------------------------------------------------------------------

/// The 75 message: `zonerw: error: another run holds the lock <path>: pid <pid> since <RFC3339>`;
/// returns the time. (Where "since" comes from is zonerw's business.)
#[track_caller]
fn assert_lock_message(r: &Run, lock_path: &std::path::Path, pid: u32) -> jiff::Timestamp {
    r.expect_code(75);
    let prefix = format!(
        "zonerw: error: another run holds the lock {}: pid {pid} since ",
        lock_path.display()
    );
    r.expect_stderr(&lines!(format!("{prefix}{{time}}")));
    let since = r.stderr[prefix.len()..].trim();
    let t: jiff::Timestamp = since
        .parse()
        .unwrap_or_else(|e| panic!("'since' {since:?} is not RFC 3339: {e}\n{r}"));
    assert!(t <= jiff::Timestamp::now(), "'since' is in the future\n{r}");
    assert_eq!(r.stdout, "", "{r}");
    t
}

/// Does process `pid` hold a flock on `path`? From /proc/locks, whose lines read
/// `1: FLOCK  ADVISORY  WRITE <pid> <major>:<minor>:<inode> 0 EOF`.
fn holds_flock(pid: u32, path: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = fs::metadata(path) else {
        return false;
    };
    let (major, minor) = (libc::major(meta.dev()), libc::minor(meta.dev()));
    let file = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    let pid = pid.to_string();
    fs::read_to_string("/proc/locks").is_ok_and(|locks| {
        locks.lines().any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.iter().position(|f| *f == "FLOCK").is_some_and(|at| {
                fields.get(at + 3) == Some(&pid.as_str())
                    && fields.get(at + 4) == Some(&file.as_str())
            })
        })
    })
}

#[test]
fn lock_held_by_a_running_zonerw_exits_75_naming_it() {
    let (nsd, main, z) = setup(MainServer::http(Mode::Up), |s| s.timeout = "500ms".into());
    let s1 = first_run(&nsd, &z, MAIN_IP);
    let lock_path = z.state.join("lock");
    // A black-holed main keeps the first run busy for ~1 s (2 attempts x 500 ms).
    main.set_mode(Mode::BlackHole);
    let started = jiff::Timestamp::now();
    let slow = z.spawn(&[]);
    poll(Duration::from_secs(10), || {
        holds_flock(slow.pid(), &lock_path).then_some(())
    })
    .unwrap_or_else(|| panic!("the slow run never took the lock {}", lock_path.display()));
    let r = z.run(&[]);
    let since = assert_lock_message(&r, &lock_path, slow.pid());
    let drift = since.duration_since(started).as_secs_f64().abs();
    assert!(
        drift < 2.0,
        "the holder started at about {started}, message says {since}\n{r}"
    );
    let slow = slow.wait();
    slow.expect_ok();
    slow.expect_stdout(&lines!(
        format!("{SWITCH_TO_BACKUP}main failed 2/2 attempts: timed out after 500ms"),
        zone_line(ZONE, s1, s1 + 1),
    ));
    assert_secondary(&nsd, s1 + 1, BACKUP_IP);
}

#[test]
fn lock_held_by_another_process_exits_75_and_changes_nothing() {
    let (nsd, main, z) = setup(MainServer::http(Mode::Up), |_| {});
    let s1 = first_run(&nsd, &z, MAIN_IP);
    let lock_path = z.state.join("lock");
    main.set_mode(Mode::Refusing);
    let mut f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .unwrap();
    f.try_lock().expect("take the lock");
    f.set_len(0).unwrap();
    let me = std::process::id();
    writeln!(f, "pid {me} since 2026-11-23T18:00:00Z").unwrap();
    let zone_before = FileId::of(&z.zone_path(ZONE));
    let state_before = fs::read(z.state_json()).unwrap();
    let r = z.run(&[]);
    assert_lock_message(&r, &lock_path, me);
    assert_eq!(zone_before, FileId::of(&z.zone_path(ZONE)));
    assert_eq!(state_before, fs::read(z.state_json()).unwrap());
    assert_eq!(nsd.secondary_serial(ZONE), Some(s1));
    drop(f);
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stdout(&lines!(failover(), zone_line(ZONE, s1, s1 + 1)));
    assert_secondary(&nsd, s1 + 1, BACKUP_IP);
}

// ---------------------------------------------------------------------------
// 10. check / status / probe subcommands
// ---------------------------------------------------------------------------

#[test]
fn check_prints_a_table_changes_nothing_and_sets_exit_code() {
    let (nsd, main, z) = setup(MainServer::http(Mode::Up), |_| {});
    let zone_before = FileId::of(&z.zone_path(ZONE));
    let log_from = nsd.primary_log_lines();
    let header: &[&str] = &["POOL", "SERVER", "ADDRESS", "RESULT", "LATENCY", "REASON"];
    let backup: &[&str] = &[
        "web",
        "backup",
        "198.51.100.7",
        "unchecked",
        "-",
        "no check configured, counted healthy",
    ];
    // The probe table among the check lines (`ok    ...`, tests/it/check.rs has them all).
    let table = |stdout: &str| -> String {
        stdout
            .lines()
            .filter(|l| l.starts_with("POOL  ") || l.starts_with("web   "))
            .flat_map(|l| [l, "\n"])
            .collect()
    };
    let r = z.run(&["check"]);
    r.expect_ok();
    let up: &[&str] = &["web", "main", "127.0.0.1", "up", "{ms} ms", "HTTP 200"];
    assert_table(&table(&r.stdout), &[header, up, backup], &r);
    assert!(r.stdout.ends_with("\ncheck: all 10 passed\n"), "{r}");
    r.expect_stderr("");
    main.set_mode(Mode::Refusing);
    let r = z.run(&["check"]);
    r.expect_code(1);
    let reason = format!("failed 2/2 attempts: {REFUSED}");
    let down: &[&str] = &["web", "main", "127.0.0.1", "down", "-", &reason];
    assert_table(&table(&r.stdout), &[header, down, backup], &r);
    assert!(r.stdout.ends_with("\ncheck: 1 of 10 failed\n"), "{r}");
    r.expect_stderr("");
    assert_eq!(
        zone_before,
        FileId::of(&z.zone_path(ZONE)),
        "check wrote the zone"
    );
    assert!(!z.state_json().exists(), "check saved state");
    // Only questions: status and zonestatus, nothing that changes NSD.
    let commands: Vec<String> = control_lines(&nsd, log_from)
        .iter()
        .filter_map(|l| {
            l.split_once("control cmd:")
                .map(|(_, c)| c.trim().to_owned())
        })
        .collect();
    assert!(
        !commands.is_empty()
            && commands
                .iter()
                .all(|c| c == "status" || c == &format!("zonestatus {ZONE}")),
        "check called nsd-control {commands:?}"
    );
    assert_eq!(nsd.secondary_serial(ZONE), Some(SEED_SERIAL));
    // A config error is exit 2.
    fs::write(&z.config, "templates = [\n").unwrap();
    let r = z.run(&["check"]);
    r.expect_code(2);
    r.expect_stderr(&lines!(
        format!(
            "zonerw: error: {}:1:14: unclosed array, expected `]`",
            z.config.display()
        ),
        "zonerw:     templates = [",
    ));
    r.expect_stdout("");
}

fn json_names_chosen(v: &serde_json::Value, server: &str) -> bool {
    use serde_json::Value;
    match v {
        Value::Object(m) => m.iter().any(|(k, val)| {
            let k = k.to_lowercase();
            let keyish = ["chosen", "current", "active", "selected"]
                .iter()
                .any(|w| k.contains(w));
            let names = val == server || val.get("name").is_some_and(|n| n == server);
            (keyish && names) || json_names_chosen(val, server)
        }),
        Value::Array(a) => a.iter().any(|x| json_names_chosen(x, server)),
        _ => false,
    }
}

#[test]
fn status_json_names_the_chosen_server() {
    let (nsd, main, z) = setup(MainServer::http(Mode::Up), |_| {});
    let s1 = first_run(&nsd, &z, MAIN_IP);
    main.set_mode(Mode::Refusing);
    z.run(&[]).expect_ok();
    let r = z.run(&["status", "--json"]);
    r.expect_ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("status --json is not JSON: {e}\n{r}"));
    assert!(
        json_names_chosen(&v, "backup"),
        "status --json should name backup as chosen\n{r}"
    );
    assert!(!json_names_chosen(&v, "main"), "{r}");
    let r = z.run(&["status"]);
    r.expect_ok();
    let s2 = s1 + 1;
    r.expect_stdout(&lines!(
        "last change: {time}",
        "",
        "pool web: backup (198.51.100.7) since {time}",
        "   SERVER  ADDRESS       HEALTH     GOOD  BAD  LAST PROBE",
        format!(
            "   main    127.0.0.1     unhealthy  0/1   1/1  down, failed 2/2 attempts: {REFUSED}"
        ),
        "*  backup  198.51.100.7  unchecked  0/1   0/1  no check, counted healthy",
        "",
        "zones:",
        format!("  {ZONE}  serial {s2}  @IP@=198.51.100.7"),
        "",
        "recent changes:",
        format!("  {{time}}  {ZONE}: serial {SEED_SERIAL} -> {s1}"),
        format!("  {{time}}  web: main -> backup: main failed 2/2 attempts: {REFUSED}"),
        format!("  {{time}}  {ZONE}: serial {s1} -> {s2}"),
    ));
    r.expect_stderr("");
}

/// `zonerw probe --connect 127.0.0.1 [OPTIONS] URL` against the main server in each mode:
/// its exit code and verdict; usage errors are exit 2; HTTPS is verified unless --insecure.
#[test]
fn probe_subcommand_exit_codes() {
    let main = MainServer::http(Mode::Up);
    let url = main.url("/up.txt");
    // (case, main's mode, options, exit code, stdout)
    let cases: &[(&str, Mode, &[&str], i32, &str)] = &[
        ("up", Mode::Up, &[], 0, "up: HTTP 200 in {ms} ms"),
        (
            "the expected body",
            Mode::Up,
            &["--expect-body", "OK up"],
            0,
            "up: HTTP 200 in {ms} ms",
        ),
        (
            "another body",
            Mode::Up,
            &["--expect-body", "nope"],
            1,
            "down: HTTP 200 but the body does not contain \"nope\"",
        ),
        (
            "status 500",
            Mode::Status500,
            &[],
            1,
            "down: HTTP 500 (expected 200-399)",
        ),
        (
            "status 500, expected",
            Mode::Status500,
            &["--expect-status", "500"],
            0,
            "up: HTTP 500 in {ms} ms",
        ),
        (
            "refused",
            Mode::Refusing,
            &[],
            1,
            "down: connect: Connection refused (os error 111)",
        ),
        (
            "a black hole, bounded by the timeout",
            Mode::BlackHole,
            &["--timeout", "500ms"],
            1,
            "down: timed out after 500ms",
        ),
    ];
    for (case, mode, options, code, stdout) in cases {
        main.set_mode(*mode);
        let mut args = vec!["probe", "--connect", "127.0.0.1"];
        args.extend(*options);
        args.push(&url);
        let r = run_zonerw(&args);
        assert_eq!(r.code, *code, "{case}\n{r}");
        assert_text(case, &r.stdout, &lines!(stdout), &r);
        assert_text(case, &r.stderr, "", &r);
        assert!(r.elapsed < Duration::from_secs(2), "{case}\n{r}");
    }
    // Usage errors.
    let r = run_zonerw(&["probe", "not a url"]);
    r.expect_code(2);
    r.expect_stderr(&lines!(
        "zonerw: error: invalid URL \"not a url\": must start with http:// or https://, e.g. \"http://not a url\""
    ));
    let r = run_zonerw(&["probe", "--connect", "not-an-ip", &url]);
    r.expect_code(2);
    r.expect_stderr(&lines!(
        "zonerw: error: invalid value 'not-an-ip' for '--connect <ADDR>': invalid IP address syntax",
        "",
        "For more information, try '--help'.",
    ));
    // Every usage error carries the prefix of every other error.
    let r = run_zonerw(&["--bogus"]);
    r.expect_code(2);
    r.expect_stderr(&lines!(
        "zonerw: error: unexpected argument '--bogus' found",
        "",
        "Usage: zonerw [OPTIONS] [COMMAND]",
        "",
        "For more information, try '--help'.",
    ));

    let tls = MainServer::https(Mode::Up);
    let url = tls.url("/");
    let r = run_zonerw(&["probe", "--connect", "127.0.0.1", &url]);
    r.expect_code(1);
    r.expect_stdout(&lines!(
        "down: connect: invalid peer certificate: UnknownIssuer"
    ));
    let r = run_zonerw(&["probe", "--connect", "127.0.0.1", "--insecure", &url]);
    r.expect_ok();
    r.expect_stdout(&lines!("up: HTTP 200 in {ms} ms"));
    let seen = poll(Duration::from_secs(2), || {
        tls.seen().into_iter().find(|s| s.host.is_some())
    })
    .expect("a TLS request");
    assert_eq!(seen.sni.as_deref(), Some("www.example.test"));
}

// ---------------------------------------------------------------------------
// 11. bad state / bad config
// ---------------------------------------------------------------------------

#[test]
fn corrupt_state_exits_1_naming_the_file_and_touches_nothing() {
    let (nsd, main, z) = setup(MainServer::http(Mode::Up), |_| {});
    let s1 = first_run(&nsd, &z, MAIN_IP);
    main.set_mode(Mode::Refusing);
    fs::write(z.state_json(), "{ this is not json").unwrap();
    let zone_before = FileId::of(&z.zone_path(ZONE));
    let log_from = nsd.primary_log_lines();
    let r = z.run(&[]);
    r.expect_code(1);
    // It names the file.
    r.expect_stderr(&lines!(format!(
        "zonerw: error: state file '{}' is corrupt: key must be a string at line 1 column 3 (nothing was changed; fix or remove it)",
        z.state_json().display()
    )));
    r.expect_stdout("");
    assert_eq!(
        fs::read_to_string(z.state_json()).unwrap(),
        "{ this is not json"
    );
    assert_eq!(zone_before, FileId::of(&z.zone_path(ZONE)));
    std::thread::sleep(Duration::from_millis(50));
    assert!(control_lines(&nsd, log_from).is_empty());
    assert_eq!(nsd.secondary_serial(ZONE), Some(s1));
    assert_eq!(nsd.secondary_www(ZONE), vec![MAIN_IP]);
}

#[test]
fn unknown_config_key_exits_2_naming_key_and_line() {
    let (nsd, _main, mut z) = setup(MainServer::http(Mode::Up), |_| {});
    let zone_before = FileId::of(&z.zone_path(ZONE));
    z.settings.extra_top = "frobnicate = 1".into();
    z.write_config();
    let text = z.config_text();
    let line_of =
        |needle: &str, text: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    // The error names the file, line and column, the key and the keys allowed there, and
    // shows the line.
    let check = |z: &Zonerw, text: &str, key: &str, allowed: &str| {
        let line = line_of(key, text);
        let shown = text.lines().nth(line - 1).unwrap();
        let column = shown.find(key).unwrap() + 1;
        let r = z.run(&[]);
        r.expect_code(2);
        r.expect_stderr(&lines!(
            format!(
                "zonerw: error: {}:{line}:{column}: unknown field `{key}`, expected one of {allowed}",
                z.config.display()
            ),
            format!("zonerw:     {shown}"),
        ));
        r.expect_stdout("");
        assert!(!z.state.exists(), "state dir written\n{r}");
        assert_eq!(zone_before, FileId::of(&z.zone_path(ZONE)));
    };
    check(
        &z,
        &text,
        "frobnicate",
        "`templates`, `zones`, `state`, `serial`, `nsd`, `server`, `pool`, `guard`, `verify`, `hooks`, `metrics`, `dnssec`",
    );
    // A misspelt key inside a nested table.
    z.settings.extra_top.clear();
    let text = z.config_text().replace("attempts =", "atempts =");
    fs::write(&z.config, &text).unwrap();
    check(
        &z,
        &text,
        "atempts",
        "`timeout`, `attempts`, `expect-status`, `expect-body`, `tls-verify`",
    );
    assert_eq!(nsd.secondary_serial(ZONE), Some(SEED_SERIAL));
}

// ---------------------------------------------------------------------------
// --dry-run
// ---------------------------------------------------------------------------

#[test]
fn dry_run_runs_nsd_checkzone_and_says_what_would_fail() {
    let (nsd, main, z) = setup(MainServer::http(Mode::Up), |_| {});
    let s1 = first_run(&nsd, &z, MAIN_IP);
    // Nothing to change: one summary line.
    let r = z.run(&["--dry-run"]);
    r.expect_ok();
    r.expect_stdout(&lines!("(dry run: nothing would change)"));
    r.expect_stderr("");
    // A template nsd-checkzone rejects: the dry run fails as the real run would (exit 1,
    // naming the zone and the template line), and still installs nothing.
    main.set_mode(Mode::Refusing);
    z.write_template(
        ZONE,
        &format!("{}bad IN A 192.0.2.300\n", default_template(ZONE)),
    );
    let zone_before = FileId::of(&z.zone_path(ZONE));
    let state_before = fs::read(z.state_json()).unwrap();
    let log_from = nsd.primary_log_lines();
    let r = z.run(&["--dry-run", "-q"]);
    r.expect_code(1);
    r.expect_stdout("");
    assert_checkzone_rejected(&r, ZONE, &z.template_path(ZONE), 9);
    let r = z.run(&["--dry-run"]);
    r.expect_code(1);
    assert!(
        r.stdout.ends_with("(dry run: nothing written; 1 zone would fail its check and not be installed, see the errors)\n"),
        "{r}"
    );
    assert_eq!(zone_before, FileId::of(&z.zone_path(ZONE)));
    assert_eq!(state_before, fs::read(z.state_json()).unwrap());
    assert!(control_lines(&nsd, log_from).is_empty());
    assert_eq!(nsd.secondary_serial(ZONE), Some(s1));
}

#[test]
fn dry_run_prints_diff_and_writes_nothing() {
    let (nsd, main, z) = setup(MainServer::http(Mode::Up), |_| {});
    let s1 = first_run(&nsd, &z, MAIN_IP);
    main.set_mode(Mode::Refusing);
    let zone_before = FileId::of(&z.zone_path(ZONE));
    let state_before = fs::read(z.state_json()).unwrap();
    let log_from = nsd.primary_log_lines();
    let r = z.run(&["--dry-run"]);
    r.expect_ok();
    // The pool line, the diff of what would be installed, and that nothing was.
    let zp = z.zone_path(ZONE).display().to_string();
    r.expect_stdout(&lines!(
        failover(),
        format!("--- {zp}"),
        format!("+++ {zp} (would be installed)"),
        "@@ -1,8 +1,8 @@",
        format!(" $ORIGIN {ZONE}."),
        " $TTL 60",
        format!(" @   IN SOA ns1.{ZONE}. hostmaster.{ZONE}. ("),
        format!("-        {s1} ; serial"),
        format!("+        {} ; serial", s1 + 1),
        "         3600 600 86400 60 )",
        format!("     IN NS ns1.{ZONE}."),
        " ns1 IN A 127.0.0.1",
        "-www IN A 127.0.0.1",
        "+www IN A 198.51.100.7",
        "(dry run: nothing written)",
    ));
    r.expect_stderr("");
    assert_eq!(zone_before, FileId::of(&z.zone_path(ZONE)));
    assert_eq!(state_before, fs::read(z.state_json()).unwrap());
    std::thread::sleep(Duration::from_millis(50));
    assert!(control_lines(&nsd, log_from).is_empty());
    assert_eq!(nsd.secondary_serial(ZONE), Some(s1));
    // The real run then does it, printing the same pool line (CONTRACT.md).
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stdout(&lines!(failover(), zone_line(ZONE, s1, s1 + 1)));
    assert_secondary(&nsd, s1 + 1, BACKUP_IP);
}
