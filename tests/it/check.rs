//! `zonerw check`, the preflight, against a real NSD primary and secondary: a correct setup
//! passes every check and changes nothing; each broken setup fails the check that names
//! it, with its fix, and exits 1.
//!
//! `zonerw check` writes nothing, so one NSD pair serves many configs.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::support::*;

/// How `zonerw check` is run: the environment and the user.
struct Invocation<'a> {
    path: &'a str,
    uid: Option<u32>,
}

const SBIN_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";
/// cron's PATH: no sbin directory.
const CRON_PATH: &str = "/usr/bin:/bin";

/// Run `zonerw ARGS -c CONFIG` with `how`, a private TMPDIR (returned: check must leave it
/// empty) and cwd "/".
fn zonerw(config: &Path, args: &[&str], how: &Invocation<'_>) -> (Run, tempfile::TempDir) {
    let tmp = tempfile::Builder::new().prefix("zrwtmp").tempdir().unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o1777)).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_zonerw"));
    command
        .args(args)
        .arg("-c")
        .arg(config)
        .current_dir("/")
        .env_clear()
        .env("PATH", how.path)
        .env("TMPDIR", tmp.path());
    if let Some(uid) = how.uid {
        command.uid(uid).gid(uid);
    }
    let start = Instant::now();
    let out = command.output().unwrap();
    let run = Run {
        args: args.iter().map(ToString::to_string).collect(),
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
    };
    (run, tmp)
}

fn check_as(z: &Zonerw, how: &Invocation<'_>) -> Run {
    let (run, tmp) = zonerw(&z.config, &["check"], how);
    let left: Vec<_> = fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "check left {left:?} in its TMPDIR\n{run}");
    run
}

fn check(z: &Zonerw) -> Run {
    check_as(
        z,
        &Invocation {
            path: SBIN_PATH,
            uid: None,
        },
    )
}

/// The lines of stdout before the probe table, and from the table on.
fn split(run: &Run) -> (String, String) {
    let at = run
        .stdout
        .find("POOL  SERVER")
        .unwrap_or_else(|| panic!("no probe table\n{run}"));
    (run.stdout[..at].to_owned(), run.stdout[at..].to_owned())
}

/// Every file under `dir` with its identity, to prove that nothing changed.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Option<FileId>)> {
    let mut all = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            if path.is_dir() {
                all.push((path.clone(), None));
                todo.push(path);
            } else if path.is_file() {
                all.push((path.clone(), Some(FileId::of(&path))));
            }
        }
    }
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

/// `[verify]` with the pair's primary and secondary.
fn verify_both(nsd: &NsdPair) -> String {
    format!(
        "[verify]\nprimary = \"127.0.0.1:{}\"\nsecondaries = [\"127.0.0.1:{}\"]\ntimeout = \"2s\"\n",
        nsd.primary.port, nsd.secondary.port
    )
}

/// A zonerw config of its own in `nsd`'s directory (named `name`), with its own
/// templates directory holding the default template.
fn zonerw_named(nsd: &NsdPair, name: &str, settings: Settings) -> Zonerw {
    let mut z = Zonerw::new(nsd, settings);
    let own = nsd.dir.join(name);
    fs::create_dir_all(own.join("templates")).unwrap();
    z.config = own.join("zonerw.toml");
    z.templates = own.join("templates");
    z.state = own.join("state");
    z.write_config();
    z.write_template(ZONE, &default_template(ZONE));
    z
}

#[test]
fn a_correct_setup_passes_every_check_and_changes_nothing() {
    let nsd = NsdPair::new(&[ZONE]);
    let main = MainServer::http(Mode::Up);
    let mut settings = Settings::new(&main.url("/up.txt"));
    settings.extra_tables = verify_both(&nsd);
    let z = Zonerw::new(&nsd, settings);
    let owned = |z: &Zonerw| {
        let mut all = snapshot(&z.zones);
        all.extend(snapshot(&z.templates));
        all.push((z.config.clone(), Some(FileId::of(&z.config))));
        all
    };
    let before = owned(&z);
    let run = check(&z);
    run.expect_ok();
    assert_eq!(run.stderr, "", "{run}");
    let (lines, table) = split(&run);
    let zones = z.zones.display();
    assert_text(
        "check lines",
        &lines,
        &lines!(
            format!("ok    config {}: 1 pool, 2 servers", z.config.display()),
            "ok    template example.test: @IP@ of pool web",
            "ok    nsd-control: /usr/sbin/nsd-control",
            "ok    nsd-checkzone: /usr/sbin/nsd-checkzone",
            "ok    nsd-checkzone example.test: passes with each server of web (main, backup) (2 renderings)",
            "ok    nsd-control status: NSD {...}",
            format!(
                "ok    zone example.test: NSD serves it from {zones}/example.test.zone, the file zonerw writes"
            ),
            format!("ok    zones directory {zones}: {{...}}"),
            format!(
                "ok    state directory {}: not there yet; the first run creates it",
                z.state.display()
            ),
            format!(
                "ok    verify primary 127.0.0.1:{}: serves example.test (serial 1)",
                nsd.primary.port
            ),
            format!(
                "ok    verify secondary 127.0.0.1:{}: serves example.test (serial 1)",
                nsd.secondary.port
            ),
        ),
        &run,
    );
    let (table, after) = table.split_at(table.find("\nok    pool").unwrap() + 1);
    assert_table(
        table,
        &[
            &["POOL", "SERVER", "ADDRESS", "RESULT", "LATENCY", "REASON"],
            &["web", "main", "127.0.0.1", "up", "{ms} ms", "HTTP 200"],
            &[
                "web",
                "backup",
                "198.51.100.7",
                "unchecked",
                "-",
                "no check configured, counted healthy",
            ],
        ],
        &run,
    );
    assert_text(
        "after the table",
        after,
        &lines!(
            "ok    pool web: first server main is up (HTTP 200 in {ms} ms)",
            "check: all 12 passed",
        ),
        &run,
    );
    assert!(owned(&z) == before, "check changed files\n{run}");
    assert!(!z.state.exists(), "check made the state directory\n{run}");
    assert_eq!(
        nsd.primary_serial(ZONE),
        Some(SEED_SERIAL),
        "NSD reloaded nothing"
    );
}

/// An NSD pair serving the seed zone and a healthy main server.
fn healthy() -> (NsdPair, MainServer) {
    (NsdPair::new(&[ZONE]), MainServer::http(Mode::Up))
}

#[test]
fn a_template_invalid_for_one_server_fails_naming_zone_and_server() {
    let (nsd, main) = healthy();
    let settings = || Settings::new(&main.url("/up.txt"));
    // A template that renders a valid zone for main (127.0.0.100) but not for backup.
    let bad = zonerw_named(&nsd, "bad", settings());
    bad.write_template(ZONE, &default_template(ZONE).replace("@IP@", "@IP@00"));
    let run = check(&bad);
    run.expect_code(1);
    let template = bad.template_path(ZONE);
    assert_text(
        "bad template",
        run.stdout.lines().nth(4).unwrap_or_default(),
        &format!(
            "FAIL  nsd-checkzone example.test with web=backup (198.51.100.7): {}:8: invalid IPv4 address '198.51.100.700'",
            template.display()
        ),
        &run,
    );
    assert!(
        run.stdout.contains(&format!(
            "\n      fix: correct the template {}: as it is, a run choosing backup would not install example.test (NSD would keep serving the old zone)\n",
            template.display()
        )),
        "{run}"
    );
    assert!(run.stdout.ends_with("check: 1 of 10 failed\n"), "{run}");
}

#[test]
fn an_ipv6_marker_without_ipv6_servers_fails() {
    let (nsd, main) = healthy();
    let settings = || Settings::new(&main.url("/up.txt"));
    let v6 = zonerw_named(&nsd, "v6", settings());
    v6.write_template(
        ZONE,
        &format!("{}www IN AAAA @IP6@\n", default_template(ZONE)),
    );
    let run = check(&v6);
    run.expect_code(1);
    assert!(
        run.stdout.contains(&format!(
            "\nFAIL  template example.test: {}:9: @IP6@ is used, but server \"main\" of pool \"web\" has no ipv6 address\n      fix: correct the template; until then a run skips zone example.test (exit 2) and NSD keeps serving the installed file\n",
            v6.template_path(ZONE).display()
        )),
        "{run}"
    );
    // The checks its template is needed for are skipped, and say why.
    for skipped in [
        "skip  nsd-checkzone example.test: not run: its template does not load (see above)",
        "skip  zone example.test: NSD not asked about it: its template does not load (see above)",
    ] {
        assert!(
            run.stdout.lines().any(|l| l == skipped),
            "no line {skipped:?}\n{run}"
        );
    }
}

#[test]
fn a_config_without_a_pool_fails() {
    // No pool: the template's marker is unknown too.
    let (nsd, main) = healthy();
    let settings = || Settings::new(&main.url("/up.txt"));
    let none = zonerw_named(&nsd, "none", settings());
    let text = none.config_text();
    fs::write(&none.config, &text[..text.find("[[pool]]").unwrap()]).unwrap();
    let run = check(&none);
    run.expect_code(1);
    assert_text(
        "no pool",
        &run.stdout.lines().take(4).collect::<Vec<_>>().join("\n"),
        &[
            format!("FAIL  config {}: no pool configured", none.config.display()),
            "      fix: add a [[pool]] with its [[pool.server]] entries (see zonerw.toml(5)); until then a run has nothing to decide".into(),
            format!(
                "FAIL  template example.test: {}:8: unknown marker @IP@",
                none.template_path(ZONE).display()
            ),
            "      fix: correct the template; until then a run skips zone example.test (exit 2) and NSD keeps serving the installed file".into(),
        ]
        .join("\n"),
        &run,
    );
    assert!(
        !run.stdout.contains("POOL  SERVER"),
        "no table without pools\n{run}"
    );
}

#[test]
fn commands_found_nowhere_fail_naming_the_key() {
    let (nsd, main) = healthy();
    let settings = || Settings::new(&main.url("/up.txt"));
    let mut s = settings();
    s.checkzone = Some("zonerw-no-nsd-checkzone".into());
    s.extra_tables = "[hooks]\non-change = [\"/nonexistent/alert\"]\n".into();
    let missing = zonerw_named(&nsd, "missing", s);
    let run = check(&missing);
    run.expect_code(1);
    for want in [
        format!(
            "FAIL  zonerw-no-nsd-checkzone: not found on PATH ({SBIN_PATH}) nor in /usr/local/sbin:/usr/sbin:/sbin\n      fix: install it, or give its absolute path in [nsd] checkzone\n"
        ),
        "FAIL  hook /nonexistent/alert: /nonexistent/alert is not an executable file\n      fix: correct the path in [hooks] on-change, or make the file executable\n".into(),
        "skip  nsd-checkzone of the rendered zones: the program was not found (see above)\n".into(),
    ] {
        assert!(run.stdout.contains(&want), "{want}\n{run}");
    }
}

#[test]
fn zones_nsd_reads_elsewhere_or_not_at_all_and_silent_secondaries_fail() {
    // NSD reads the zone from another directory than zonerw writes to; a zone NSD does not
    // serve; a secondary that does not answer.
    let (nsd, main) = healthy();
    let settings = || Settings::new(&main.url("/up.txt"));
    let mut s = settings();
    s.extra_tables = format!(
        "[verify]\nprimary = \"127.0.0.1:{}\"\nsecondaries = [\"127.0.0.1:{}\"]\ntimeout = \"500ms\"\n",
        nsd.primary.port,
        closed_port()
    );
    let mut elsewhere = zonerw_named(&nsd, "elsewhere", s);
    elsewhere.zones = nsd.dir.join("elsewhere/zones");
    fs::create_dir_all(&elsewhere.zones).unwrap();
    elsewhere.write_config();
    elsewhere.write_template("new.test", &default_template("new.test"));
    let run = check(&elsewhere);
    run.expect_code(1);
    let ours = elsewhere.zones.display();
    for want in [
        format!(
            "FAIL  zone example.test: NSD reads {}/example.test.zone, but zonerw writes {ours}/example.test.zone\n      fix: set zonefile: {ours}/example.test.zone for zone example.test in nsd.conf and run nsd-control reconfig, or point zones in zonerw.toml at {}\n",
            nsd.zones_dir().display(),
            nsd.zones_dir().display()
        ),
        format!(
            "FAIL  zone new.test: NSD does not serve it\n      fix: add it to nsd.conf (zone: name: new.test, zonefile: {ours}/new.test.zone, plus its notify: and provide-xfr: lines) and run nsd-control reconfig, or set [nsd] add-pattern so that zonerw adds it\n"
        ),
        "FAIL  verify secondary 127.0.0.1:".into(),
        ": example.test gives no answer\n      fix: make 127.0.0.1:".into(),
        format!(
            "ok    verify primary 127.0.0.1:{}: serves example.test (serial 1)\n",
            nsd.primary.port
        ),
    ] {
        assert!(run.stdout.contains(&want), "{want}\n{run}");
    }
    assert!(
        !run.stdout.contains("new.test gives no answer"),
        "a zone NSD does not serve is not asked over DNS\n{run}"
    );
}

#[test]
fn a_zone_new_to_nsd_passes_with_an_add_pattern_nsd_has() {
    // With add-pattern, a zone new to NSD is fine: the pattern reads it from our file.
    let (nsd, main) = healthy();
    let settings = || Settings::new(&main.url("/up.txt"));
    let added = zonerw_named(&nsd, "added", settings());
    let text = added
        .config_text()
        .replace("[nsd]\n", "[nsd]\nadd-pattern = \"zonerw\"\n");
    fs::write(&added.config, text).unwrap();
    added.write_template("new.test", &default_template("new.test"));
    let run = check(&added);
    run.expect_ok();
    assert!(
        run.stdout.contains(&format!(
            "\nok    zone new.test: unknown to NSD, will be added with pattern zonerw, whose zonefile is {}/new.test.zone\n",
            added.zones.display()
        )),
        "{run}"
    );
    let text = fs::read_to_string(&added.config)
        .unwrap()
        .replace("add-pattern = \"zonerw\"", "add-pattern = \"nopattern\"");
    fs::write(&added.config, text).unwrap();
    let run = check(&added);
    run.expect_code(1);
    assert!(
        run.stdout.contains("\nFAIL  zone new.test: unknown to NSD, and [nsd] add-pattern nopattern is no pattern of nsd.conf\n      fix: nsd.conf has no pattern nopattern: add one"),
        "{run}"
    );
}

#[test]
fn cron_path_finds_nsds_tools_in_sbin_for_check_and_run() {
    let nsd = NsdPair::new(&[ZONE]);
    let main = MainServer::http(Mode::Up);
    let z = Zonerw::new(&nsd, Settings::new(&main.url("/up.txt")));
    let cron = Invocation {
        path: CRON_PATH,
        uid: None,
    };
    let run = check_as(&z, &cron);
    run.expect_ok();
    for tool in ["nsd-control", "nsd-checkzone"] {
        let want = format!(
            "\nok    {tool}: /usr/sbin/{tool} (not on PATH, but zonerw also looks in /usr/local/sbin:/usr/sbin:/sbin)\n"
        );
        assert!(run.stdout.contains(&want), "{want}\n{run}");
    }
    // A run with cron's PATH checks, installs and reloads all the same.
    let (run, _tmp) = zonerw(&z.config, &[], &cron);
    run.expect_ok();
    let serial = run.new_serial(ZONE);
    nsd.assert_secondary(ZONE, serial, MAIN_IP, PROPAGATE);
}

#[test]
fn a_control_socket_this_user_may_not_use_fails_with_the_fix() {
    if !root_or_skip("run zonerw as another user") {
        return;
    }
    let nsd = NsdPair::new(&[ZONE]);
    let z = Zonerw::new(&nsd, Settings::new("http://127.0.0.1:1/"));
    // Let nobody read the config, the templates and NSD's config (not write anything).
    for dir in [&nsd.dir, &nsd.primary.dir] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let run = check_as(
        &z,
        &Invocation {
            path: SBIN_PATH,
            uid: Some(NOBODY),
        },
    );
    run.expect_code(1);
    let socket = nsd.primary.dir.join("nsd.ctl");
    let want = format!(
        "\nFAIL  nsd-control status: 'nsd-control -c {conf} status' failed (exit status: 1): error: connect ({socket}): Permission denied\n      \
         fix: NSD's control socket {socket} belongs to group root (NSD runs without a username:): run zonerw as root, or set username: nsd in nsd.conf (NSD then creates the socket for group nsd) and add nobody to group nsd (adduser nobody nsd)\n\
         skip  zones NSD serves: nsd-control status failed\n\
         FAIL  zones directory {zones}: nobody cannot write it\n      fix: chown nobody {zones} (or run zonerw as its owner)\n\
         FAIL  state directory {state}: not there, and nobody cannot create it\n      fix: create it: install -d -o nobody {state}\n",
        conf = nsd.primary.conf.display(),
        socket = socket.display(),
        zones = z.zones.display(),
        state = z.state.display(),
    );
    assert!(run.stdout.contains(&want), "{want}\n{run}");
    // A run as nobody (who may write the zones and state directories now) fails at the
    // reload, with the same fix.
    std::os::unix::fs::chown(&z.zones, Some(NOBODY), Some(NOBODY)).unwrap();
    fs::create_dir(&z.state).unwrap();
    std::os::unix::fs::chown(&z.state, Some(NOBODY), Some(NOBODY)).unwrap();
    let (run, _tmp) = zonerw(
        &z.config,
        &[],
        &Invocation {
            path: SBIN_PATH,
            uid: Some(NOBODY),
        },
    );
    run.expect_code(1);
    let want = format!(
        "zonerw: fix: NSD's control socket {} belongs to group root (NSD runs without a username:)",
        socket.display()
    );
    assert!(run.stderr.contains(&want), "{want}\n{run}");
}

#[test]
fn unreadable_control_keys_fail_with_the_fix() {
    if !root_or_skip("run zonerw as another user") {
        return;
    }
    // nsd-control over TLS with keys only root may read (as Debian installs them); no NSD
    // needs to run: nsd-control fails before it connects.
    let dir = tempfile::Builder::new()
        .prefix("zrwkeys")
        .tempdir()
        .unwrap();
    let d = dir.path();
    fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
    let setup = Command::new("/usr/sbin/nsd-control-setup")
        .arg("-d")
        .arg(d)
        .output()
        .unwrap();
    assert!(setup.status.success(), "{setup:?}");
    let conf = d.join("nsd.conf");
    fs::write(
        &conf,
        format!(
            "remote-control:\n    control-enable: yes\n    control-interface: 127.0.0.1\n    control-port: {port}\n    \
             server-cert-file: {d}/nsd_server.pem\n    control-key-file: {d}/nsd_control.key\n    control-cert-file: {d}/nsd_control.pem\n",
            port = closed_port(),
            d = d.display()
        ),
    )
    .unwrap();
    fs::create_dir(d.join("templates")).unwrap();
    fs::create_dir(d.join("zones")).unwrap();
    fs::write(
        d.join("templates/example.test.zone"),
        default_template(ZONE),
    )
    .unwrap();
    let config = d.join("zonerw.toml");
    fs::write(
        &config,
        format!(
            "templates = \"templates\"\nzones = \"zones\"\nstate = \"state\"\n[nsd]\ncontrol = [\"nsd-control\", \"-c\", \"{}\"]\n\
             [[pool]]\nname = \"web\"\n[[pool.server]]\nname = \"backup\"\nipv4 = \"198.51.100.7\"\n",
            conf.display()
        ),
    )
    .unwrap();
    let (run, _tmp) = zonerw(
        &config,
        &["check"],
        &Invocation {
            path: SBIN_PATH,
            uid: Some(NOBODY),
        },
    );
    run.expect_code(1);
    let pem = d.join("nsd_control.pem");
    let mode = fs::metadata(&pem).unwrap().permissions().mode() & 0o7777;
    let want = format!(
        "\nFAIL  nsd-control status: 'nsd-control -c {conf} status' failed (exit status: 1): error: Error setting up SSL_CTX client cert; {pem}: (null)\n      \
         fix: nobody cannot read NSD's control key {pem} (group root, mode {mode:04o}): use NSD's unix-socket control instead (in nsd.conf, remote-control: control-interface: /run/nsd/nsd.ctl, then restart NSD; see README \"Set up NSD\"), or run zonerw as root\n",
        conf = conf.display(),
        pem = pem.display(),
    );
    assert!(run.stdout.contains(&want), "{want}\n{run}");
}

#[test]
fn a_signal_during_check_removes_its_private_directory() {
    let nsd = NsdPair::new(&[ZONE]);
    let mut settings = Settings::new("http://127.0.0.1:1/");
    // An nsd-checkzone that hangs: check is stopped while the copies are being checked.
    let checker = nsd.dir.join("hung-checkzone");
    fs::write(&checker, "#!/bin/sh\nexec sleep 30\n").unwrap();
    fs::set_permissions(&checker, fs::Permissions::from_mode(0o755)).unwrap();
    settings.checkzone = Some(checker.display().to_string());
    let z = Zonerw::new(&nsd, settings);
    let tmp = tempfile::Builder::new().prefix("zrwtmp").tempdir().unwrap();
    let child = default_signals(&mut Command::new(env!("CARGO_BIN_EXE_zonerw")))
        .arg("check")
        .arg("-c")
        .arg(&z.config)
        .current_dir("/")
        .env("PATH", SBIN_PATH)
        .env("TMPDIR", tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let private = poll(std::time::Duration::from_secs(10), || {
        let dirs: Vec<PathBuf> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        // The copy is there (the checker is running on it).
        dirs.first()
            .filter(|d| fs::read_dir(d).is_ok_and(|mut e| e.next().is_some()))
            .cloned()
    });
    // SAFETY: SIGTERM to our own child.
    unsafe { libc::kill(child.id().cast_signed(), libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    let private = private.expect("check made a private directory with a copy in it");
    assert!(
        private
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("zonerw-check."),
        "{}",
        private.display()
    );
    assert_eq!(out.status.code(), Some(143), "{out:?}");
    // One or both renderings may be in nsd-checkzone at that moment.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("zonerw: error: stopped by SIGTERM: killed ")
            && stderr.ends_with("; nothing was written\n")
            && stderr.lines().count() == 1,
        "{stderr}"
    );
    let left: Vec<_> = fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_secondary_at_a_down_servers_address_is_skipped_as_a_run_skips_it() {
    let nsd = NsdPair::new(&[ZONE]);
    // main (127.0.0.1, like the secondary) refuses its check.
    let mut settings = Settings::new(&format!("http://127.0.0.1:{}/", closed_port()));
    settings.extra_tables = verify_both(&nsd);
    let z = Zonerw::new(&nsd, settings);
    let run = check(&z);
    run.expect_code(1);
    let (lines, table) = split(&run);
    let want = format!(
        "ok    verify primary 127.0.0.1:{}: serves example.test (serial 1)\n\
         skip  verify secondary 127.0.0.1:{}: server main there is down (a run does not wait for it)\n",
        nsd.primary.port, nsd.secondary.port
    );
    assert!(lines.ends_with(&want), "{want}\n{run}");
    assert!(
        table.ends_with(&format!(
            "FAIL  pool web: first server main is down: failed 2/2 attempts: {REFUSED}\n      \
             fix: bring main back, or correct its check in zonerw.toml; meanwhile runs fail over to backup\n\
             check: 1 of 11 failed, 1 skipped\n"
        )),
        "{run}"
    );
}
