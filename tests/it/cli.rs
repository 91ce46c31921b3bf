//! Fast CLI-level tests with a stub `nsd-control` (the real-NSD proofs are in e2e.rs).

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::support::{
    REFUSED, assert_table, assert_text, closed_port, lines, zone_change, zone_line,
};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new(pool: &str) -> Env {
        let dir = tempfile::Builder::new().prefix("zrwcli").tempdir().unwrap();
        let root = dir.path();
        for d in ["templates", "zones", "state"] {
            fs::create_dir(root.join(d)).unwrap();
        }
        let stub = root.join("nsd-control");
        fs::write(
            &stub,
            "#!/bin/sh\necho \"$*\" >> \"$(dirname \"$0\")/calls\"\necho ok\n",
        )
        .unwrap();
        fs::set_permissions(&stub, fs::Permissions::from_mode(0o755)).unwrap();
        let config = format!(
            "templates = \"templates\"\nzones = \"zones\"\nstate = \"state\"\n\
             [nsd]\ncontrol = [\"{}\"]\ncheckzone = \"\"\n{pool}",
            stub.display()
        );
        fs::write(root.join("zonerw.toml"), config).unwrap();
        Env { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn template(&self, zone: &str, body: &str) {
        fs::write(self.path(&format!("templates/{zone}.zone")), body).unwrap();
    }

    fn zonerw(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_zonerw"))
            .arg("-c")
            .arg(self.path("zonerw.toml"))
            .args(args)
            .output()
            .unwrap()
    }

    fn calls(&self) -> Vec<String> {
        fs::read_to_string(self.path("calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// A pool whose one server, backup, has no check: always chosen, never probed.
const BACKUP_POOL: &str =
    "[[pool]]\nname = \"web\"\n[[pool.server]]\nname = \"backup\"\nipv4 = \"198.51.100.7\"\n";

fn zone_text(origin: &str) -> String {
    format!(
        "$ORIGIN {origin}.\n$TTL 60\n@ IN SOA ns1 hm ( @serial@ 300 60 7257600 60 )\n  IN NS ns1\nns1 IN A 192.0.2.53\nwww IN A @IP@\n"
    )
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Stdout and stderr of `out` are exactly `stdout` and `stderr` (see `assert_text`).
#[track_caller]
fn expect_output(what: &str, out: &Output, stdout: &str, stderr: &str) {
    let context = format!("{out:?}");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    assert_text(
        &format!("{what}: stdout"),
        &text(&out.stdout),
        stdout,
        &context,
    );
    assert_text(
        &format!("{what}: stderr"),
        &text(&out.stderr),
        stderr,
        &context,
    );
}

/// The serial of the `<zone>: serial none -> N, reloaded` line of a first run.
#[track_caller]
fn first_serial(out: &Output, zone: &str) -> u32 {
    match zone_change(&stdout(out), zone) {
        Some((None, serial)) => serial,
        _ => panic!("no first zone line for {zone}: {out:?}"),
    }
}

#[test]
fn servers_are_probed_concurrently() {
    // Three black holes: they accept (the kernel completes the handshake) and never answer.
    let holes: Vec<TcpListener> = (0..3)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let mut pool =
        String::from("[[pool]]\nname = \"web\"\n[pool.check]\ntimeout = \"500ms\"\nattempts = 2\n");
    for (i, hole) in holes.iter().enumerate() {
        let port = hole.local_addr().unwrap().port();
        pool.push_str(&format!(
            "[[pool.server]]\nname = \"s{i}\"\nipv4 = \"127.0.0.1\"\ncheck = \"http://www.example.test:{port}/\"\n"
        ));
    }
    let env = Env::new(&pool);
    env.template("example.test", &zone_text("example.test"));
    let start = Instant::now();
    let out = env.zonerw(&["check"]);
    let elapsed = start.elapsed();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let header: &[&str] = &["POOL", "SERVER", "ADDRESS", "RESULT", "LATENCY", "REASON"];
    let row = |server| -> [&str; 6] {
        [
            "web",
            server,
            "127.0.0.1",
            "down",
            "-",
            "failed 2/2 attempts: timed out after 500ms",
        ]
    };
    let rows = [row("s0"), row("s1"), row("s2")];
    // The probe table among the check lines (tests/it/check.rs has those).
    let table: String = stdout(&out)
        .lines()
        .filter(|l| l.starts_with("POOL  ") || l.starts_with("web   "))
        .flat_map(|l| [l, "\n"])
        .collect();
    assert_table(
        &table,
        &[header, &rows[0], &rows[1], &rows[2]],
        &format!("{out:?}"),
    );
    // One server takes 2 x 500 ms; three in sequence would take 3 s.
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    assert!(
        elapsed < Duration::from_secs(2),
        "probes ran one after another: {elapsed:?}"
    );
}

#[test]
fn several_changed_zones_get_one_plain_reload_and_one_zone_a_named_one() {
    let env = Env::new(BACKUP_POOL);
    env.template("a.test", &zone_text("a.test"));
    env.template("b.test", &zone_text("b.test"));
    let out = env.zonerw(&[]);
    assert!(out.status.success(), "{out:?}");
    let serial = first_serial(&out, "a.test");
    expect_output(
        "first run",
        &out,
        &lines!(
            format!("a.test: serial none -> {serial}, reloaded"),
            format!("b.test: serial none -> {serial}, reloaded"),
        ),
        "",
    );
    // zones met for the first time are checked with zonestatus (NSD may not know them yet)
    assert_eq!(
        env.calls(),
        ["zonestatus a.test", "zonestatus b.test", "reload"]
    );
    let text = zone_text("b.test").replace("www IN", "www2 IN A 192.0.2.9\nwww IN");
    env.template("b.test", &text);
    let out = env.zonerw(&[]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(env.calls()[2..], ["reload", "reload b.test"]);
    expect_output(
        "b.test changed",
        &out,
        &lines!(zone_line("b.test", serial, serial + 1)),
        "",
    );
    let installed = fs::read_to_string(env.path("zones/b.test.zone")).unwrap();
    assert!(installed.contains("www2 IN A 192.0.2.9\nwww IN A 198.51.100.7\n"));
    let mode = fs::metadata(env.path("zones/b.test.zone"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    assert_no_temp_files(&env.path("zones"));
}

#[test]
fn a_hung_nsd_control_is_killed_at_the_timeout_and_state_is_kept() {
    let env = Env::new(BACKUP_POOL);
    env.template("a.test", &zone_text("a.test"));
    let stub = env.path("nsd-control");
    fs::write(&stub, "#!/bin/sh\nsleep 60\n").unwrap();
    let config = fs::read_to_string(env.path("zonerw.toml")).unwrap();
    fs::write(
        env.path("zonerw.toml"),
        config.replace("checkzone = \"\"", "checkzone = \"\"\ntimeout = \"500ms\""),
    )
    .unwrap();
    let start = Instant::now();
    let out = env.zonerw(&[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
    expect_output(
        "hung nsd-control",
        &out,
        "",
        &lines!(format!(
            "zonerw: error: '{} reload a.test' did not finish within 500ms and was killed",
            stub.display()
        )),
    );
    assert!(
        !env.path("state/state.json").exists(),
        "state must not be saved"
    );
}

fn assert_no_temp_files(dir: &Path) {
    let leftovers: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A pool whose main server refuses connections, guarded by `witnesses` (shell snippets).
fn guarded_env(witnesses: &[&str], reference: Option<&str>) -> Env {
    let port = closed_port();
    let list: Vec<String> = witnesses
        .iter()
        .map(|w| format!("[\"sh\", \"-c\", {w:?}]"))
        .collect();
    let reference = reference.map_or_else(String::new, |r| format!("reference = [{r:?}]\n"));
    let pool = format!(
        "[[pool]]\nname = \"web\"\n[[pool.server]]\nname = \"main\"\nipv4 = \"127.0.0.1\"\n\
         check = \"http://www.example.test:{port}/\"\n[[pool.server]]\nname = \"backup\"\n\
         ipv4 = \"198.51.100.7\"\n[guard]\n{reference}witnesses = [{}]\ntimeout = \"1s\"\n",
        list.join(", ")
    );
    let env = Env::new(&pool);
    env.template("a.test", &zone_text("a.test"));
    env
}

#[test]
fn witness_answers_decide_the_failover() {
    // (witnesses, what the guard says after the pool's switch or staying line)
    let cases: &[(&[&str], &str)] = &[
        (&["exit 1", "exit 1"], "confirmed by 2 of 2 witnesses"),
        (&["exit 1", "exit 7"], "confirmed by 1 of 2 witnesses"),
        (
            &["exit 1", "exit 0"],
            "failover vetoed: witness 'sh -c exit 0' reaches main",
        ),
        (
            &["exit 7", "sleep 30", "/nonexistent/witness"],
            "no witness answered (3 of 3 gave no answer), so our own link seems down; this run is not counted towards fall",
        ),
    ];
    for (witnesses, want) in cases {
        let env = guarded_env(witnesses, None);
        let start = Instant::now();
        let out = env.zonerw(&[]);
        assert_eq!(out.status.code(), Some(0), "{witnesses:?}: {out:?}");
        assert!(start.elapsed() < Duration::from_secs(10), "{witnesses:?}");
        let failed_over = want.starts_with("confirmed");
        let pool = if failed_over {
            "web: main (127.0.0.1) -> backup (198.51.100.7)"
        } else {
            "web: staying on main (127.0.0.1)"
        };
        let serial = first_serial(&out, "a.test");
        expect_output(
            &format!("{witnesses:?}"),
            &out,
            &lines!(
                format!("{pool}: main failed 2/2 attempts: {REFUSED}; {want}"),
                format!("a.test: serial none -> {serial}, reloaded"),
            ),
            "",
        );
        let installed = fs::read_to_string(env.path("zones/a.test.zone")).unwrap();
        assert_eq!(
            installed.contains("198.51.100.7"),
            failed_over,
            "{witnesses:?}"
        );
        let state = fs::read_to_string(env.path("state/state.json")).unwrap();
        let verdict = if failed_over {
            "confirmed"
        } else if want.contains("vetoed") {
            "vetoed"
        } else {
            "own-link-down"
        };
        assert!(
            state.contains(&format!("\"verdict\": \"{verdict}\"")),
            "{state}"
        );
        let history = fs::read_to_string(env.path("state/history.jsonl")).unwrap();
        assert!(history.contains("\"event\":\"guard\""), "{history}");
    }
}

#[test]
fn unreachable_references_mean_our_own_link_is_down() {
    let url = format!("http://127.0.0.1:{}/", closed_port());
    let env = guarded_env(&["exit 1"], Some(&url));
    let out = env.zonerw(&[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let serial = first_serial(&out, "a.test");
    expect_output(
        "references",
        &out,
        &lines!(
            format!(
                "web: staying on main (127.0.0.1): main failed 2/2 attempts: {REFUSED}; no reference URL answered within 1s, so our own link seems down; this run is not counted towards fall"
            ),
            format!("a.test: serial none -> {serial}, reloaded"),
        ),
        "",
    );
    let state = fs::read_to_string(env.path("state/state.json")).unwrap();
    assert!(state.contains("\"chosen\": \"main\""), "{state}");
    assert!(
        !state.contains("\"bad\": 1"),
        "the run must not count: {state}"
    );
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    for (shell, checker) in [("bash", "bash"), ("zsh", ""), ("fish", "")] {
        let out = Command::new(env!("CARGO_BIN_EXE_zonerw"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}: {out:?}");
        let script = String::from_utf8(out.stdout).unwrap();
        for word in [
            "--dry-run",
            "--force",
            "check",
            "status",
            "probe",
            "--connect",
        ] {
            // fish spells a long option `-l dry-run`
            let word = if shell == "fish" {
                word.trim_start_matches('-')
            } else {
                word
            };
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
        if !checker.is_empty() {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("zonerw.bash");
            fs::write(&file, &script).unwrap();
            let syntax = Command::new(checker).arg("-n").arg(&file).status().unwrap();
            assert!(
                syntax.success(),
                "{shell} completion is not valid {checker}"
            );
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_zonerw"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "unknown shell is a usage error");
}

#[test]
fn metrics_textfile_is_written_after_every_run_even_a_failed_one() {
    let env = Env::new(&format!(
        "{BACKUP_POOL}[metrics]\ntextfile = \"zonerw.prom\"\n"
    ));
    env.template("a.test", &zone_text("a.test"));
    let prom = env.path("zonerw.prom");
    let out = env.zonerw(&[]);
    assert!(out.status.success(), "{out:?}");
    let first = fs::read_to_string(&prom).unwrap();
    for line in [
        "zonerw_last_run_success 1",
        "zonerw_last_run_exit_code 0",
        "zonerw_server_up{pool=\"web\",server=\"backup\"} 1",
        "zonerw_server_chosen{pool=\"web\",server=\"backup\"} 1",
        "zonerw_failovers_total{pool=\"web\"} 0",
        "zonerw_zone_serial{zone=\"a.test\"} ",
        "# TYPE zonerw_run_duration_seconds gauge",
    ] {
        assert!(first.contains(line), "missing {line:?}:\n{first}");
    }
    let success = |text: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix("zonerw_last_success_timestamp_seconds "))
            .map(str::to_owned)
    };
    let first_success = success(&first).expect("a success time");
    // A failing run (nsd-control fails) still writes the file and keeps the last success.
    fs::write(
        env.path("nsd-control"),
        "#!/bin/sh\necho 'error: connect: refused' >&2\nexit 1\n",
    )
    .unwrap();
    let out = env.zonerw(&["--force"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let second = fs::read_to_string(&prom).unwrap();
    assert!(second.contains("zonerw_last_run_success 0"), "{second}");
    assert!(second.contains("zonerw_last_run_exit_code 1"), "{second}");
    assert_eq!(success(&second), Some(first_success), "{second}");
    let mode = fs::metadata(&prom).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644);
    // A dry run touches nothing, not even the metrics.
    let before = fs::metadata(&prom).unwrap().modified().unwrap();
    let out = env.zonerw(&["--dry-run"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(fs::metadata(&prom).unwrap().modified().unwrap(), before);
}

/// A first run (or `--force`) stages every zone before installing any: with more zones
/// than the run may have files open, it must still install them all (a staged file holds
/// no descriptor). Run with `RLIMIT_NOFILE` = 64 and 300 zones.
#[test]
fn a_run_stages_more_zones_than_it_may_have_files_open() {
    use std::os::unix::process::CommandExt;
    let env = Env::new(BACKUP_POOL);
    // `zonestatus` with no zone lists every zone NSD has: here, every template's.
    fs::write(
        env.path("nsd-control"),
        "#!/bin/sh\nd=$(dirname \"$0\")\necho \"$*\" >> \"$d/calls\"\n\
         if [ \"$*\" = zonestatus ]; then for f in \"$d\"/templates/*.zone; do \
         n=${f##*/}; printf 'zone:\\t%s\\n\\tstate: master\\n' \"${n%.zone}\"; done; fi\n",
    )
    .unwrap();
    let names: Vec<String> = (0..300).map(|i| format!("z{i:03}.test")).collect();
    for name in &names {
        env.template(name, &zone_text(name));
    }
    let mut command = Command::new(env!("CARGO_BIN_EXE_zonerw"));
    command.arg("-c").arg(env.path("zonerw.toml"));
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 64,
                rlim_max: 64,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raw const limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let out = command.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let serial = first_serial(&out, "z000.test");
    let want: String = names.iter().fold(String::new(), |mut s, n| {
        s.push_str(&format!("{n}: serial none -> {serial}, reloaded\n"));
        s
    });
    expect_output("300 zones, 64 files", &out, &want, "");
    assert_eq!(
        env.calls(),
        ["zonestatus", "reload"],
        "one listing, one reload"
    );
    assert_no_temp_files(&env.path("zones"));
}

/// A run with nothing to change does not read the templates whose size, times and inode
/// are the ones in its cache (issue 13: ten thousand zones), yet any write to a template still
/// shows: also one that keeps the size and puts the modification time back (`cp -p`,
/// `touch -r`). And a config change checks every template again, changed or not.
#[test]
fn an_unread_template_is_still_seen_to_change() {
    let env = Env::new(&format!("{BACKUP_POOL}ipv6 = \"2001:db8::7\"\n"));
    let six = format!("{}www IN AAAA @IP6@\n", zone_text("six.test"));
    env.template("six.test", &six);
    env.template("four.test", &zone_text("four.test"));
    // A stamp is recorded only for a template last changed 2 s before the run.
    std::thread::sleep(Duration::from_millis(2100));
    let out = env.zonerw(&[]);
    assert!(out.status.success(), "{out:?}");
    let serial = first_serial(&out, "four.test");
    let cache_file = env.path("state/templates.json");
    let cache = fs::read_to_string(&cache_file).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&cache).unwrap();
    for zone in ["four.test", "six.test"] {
        let stamp = &parsed["zones"][zone]["stamp"];
        assert!(stamp["ctime_ns"].as_u64().is_some(), "{zone}: {cache}");
    }
    let out = env.zonerw(&[]);
    expect_output("nothing changed", &out, "", "");
    assert_eq!(fs::read_to_string(&cache_file).unwrap(), cache, "rewritten");
    // Only a cache: a broken one is read past, and replaced.
    fs::write(&cache_file, "{\"context\": 1").unwrap();
    let out = env.zonerw(&[]);
    expect_output("a broken cache", &out, "", "");
    assert_eq!(fs::read_to_string(&cache_file).unwrap(), cache);

    // The same length, the modification time put back: only the bytes and the change
    // time differ.
    let path = env.path("templates/four.test.zone");
    let before = fs::metadata(&path).unwrap();
    let edited = zone_text("four.test").replace("192.0.2.53", "192.0.2.54");
    fs::write(&path, &edited).unwrap();
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(before.modified().unwrap())
        .unwrap();
    let after = fs::metadata(&path).unwrap();
    assert_eq!(
        (after.len(), after.modified().unwrap()),
        (before.len(), before.modified().unwrap())
    );
    let out = env.zonerw(&[]);
    assert!(out.status.success(), "{out:?}");
    let Some((Some(from), to)) = zone_change(&stdout(&out), "four.test") else {
        panic!("four.test was not rewritten: {out:?}");
    };
    assert!(from == serial && to > serial, "{out:?}");
    let installed = fs::read_to_string(env.path("zones/four.test.zone")).unwrap();
    assert!(installed.contains("ns1 IN A 192.0.2.54"), "{installed}");
    assert!(zone_change(&stdout(&out), "six.test").is_none(), "{out:?}");

    // A server without IPv6 joins the pool: no address a zone uses changes, no template
    // changed, and six.test's, which uses @IP6@, is checked again all the same.
    let config = fs::read_to_string(env.path("zonerw.toml")).unwrap();
    let spare = "[[pool.server]]\nname = \"spare\"\nipv4 = \"198.51.100.8\"\n";
    fs::write(env.path("zonerw.toml"), format!("{config}{spare}")).unwrap();
    let out = env.zonerw(&[]);
    expect_output(
        "a server without IPv6 joined the pool",
        &out,
        "",
        &format!(
            "zonerw: error: {}:7: @IP6@ is used, but server \"spare\" of pool \"web\" has no ipv6 address\n",
            env.path("templates/six.test.zone").display()
        ),
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// The template cache is only a cache: a directory in its place (a write that fails, as
/// on a full disk) is a warning, and the run's work stands; a link in its place is never
/// written through, and is replaced by the cache.
#[test]
fn the_template_cache_never_fails_a_run_nor_writes_through_a_link() {
    let env = Env::new(BACKUP_POOL);
    env.template("a.test", &zone_text("a.test"));
    // A stamp is recorded only for a template last changed 2 s before the run.
    std::thread::sleep(Duration::from_millis(2100));
    let cache = env.path("state/templates.json");
    fs::create_dir(&cache).unwrap();
    let out = env.zonerw(&[]);
    assert!(out.status.success(), "{out:?}");
    let serial = first_serial(&out, "a.test");
    expect_output(
        "a directory as the cache",
        &out,
        &format!("a.test: serial none -> {serial}, reloaded\n"),
        &format!(
            "zonerw: warning: cannot install '{}': Is a directory (os error 21) (the template cache: the next run reads every template)\n",
            cache.display()
        ),
    );
    let state = fs::read_to_string(env.path("state/state.json")).unwrap();
    assert!(state.contains("\"a.test\""), "{state}");

    fs::remove_dir(&cache).unwrap();
    let outside = env.path("outside.json");
    fs::write(&outside, "not zonerw's").unwrap();
    std::os::unix::fs::symlink(&outside, &cache).unwrap();
    let out = env.zonerw(&[]);
    expect_output("a link as the cache", &out, "", "");
    assert_eq!(fs::read_to_string(&outside).unwrap(), "not zonerw's");
    assert!(fs::symlink_metadata(&cache).unwrap().file_type().is_file());
    let written = fs::read_to_string(&cache).unwrap();
    assert!(written.contains("\"a.test\""), "{written}");
}

/// The strict-input rules, through the binary: each config below is refused with exit 2,
/// with one error naming the file and line (and column, and the line itself, where the
/// TOML gives them), and nothing is touched: the state directory stays empty, no zone is
/// written, `nsd-control` is not called.
#[test]
fn strict_config_errors_exit_2_naming_the_line_and_touch_nothing() {
    let pool = |check: &str, marker: &str| {
        format!(
            "[[pool]]\nname = \"web\"\nmarker = \"{marker}\"\n\
             [[pool.server]]\nname = \"main\"\nipv4 = \"192.0.2.1\"\ncheck = \"{check}\"\n\
             [[pool.server]]\nname = \"backup\"\nipv4 = \"198.51.100.7\"\n"
        )
    };
    let good = || pool("http://www.example.test/up", "IP");
    let no_move = ("", "");
    // (what, config text after [nsd], a directory key moved, the error lines; {config}
    // and {root} stand for the config file and its directory)
    let cases = [
        (
            "check URL port 0",
            pool("http://www.example.test:0/up", "IP"),
            no_move,
            "zonerw: error: {config}:13:9: invalid URL \"http://www.example.test:0/up\": port \"0\" is not a port number from 1 to 65535\n\
             zonerw:     check = \"http://www.example.test:0/up\"\n",
        ),
        (
            "check URL port 65536",
            pool("http://www.example.test:65536/up", "IP"),
            no_move,
            "zonerw: error: {config}:13:9: invalid URL \"http://www.example.test:65536/up\": port \"65536\" is not a port number from 1 to 65535\n\
             zonerw:     check = \"http://www.example.test:65536/up\"\n",
        ),
        (
            "check URL without a scheme",
            pool("www.example.test/up", "IP"),
            no_move,
            "zonerw: error: {config}:13:9: invalid URL \"www.example.test/up\": must start with http:// or https://, e.g. \"http://www.example.test/up\"\n\
             zonerw:     check = \"www.example.test/up\"\n",
        ),
        (
            "a marker with a trailing space",
            pool("http://www.example.test/up", "my ip "),
            no_move,
            "zonerw: error: {config}:9:10: marker \"my ip \": must not start or end with a space\n\
             zonerw:     marker = \"my ip \"\n",
        ),
        (
            "a verify secondary on port 0",
            format!("{}[verify]\nsecondaries = [\"127.0.0.1:0\"]\n", good()),
            no_move,
            "zonerw: error: {config}:18:15: invalid DNS server \"127.0.0.1:0\": port 0 is not a port; write e.g. \"192.0.2.1:53\"\n\
             zonerw:     secondaries = [\"127.0.0.1:0\"]\n",
        ),
        (
            "zones inside templates",
            good(),
            ("zones", "templates/zones"),
            "zonerw: error: {config}: zones ({root}/templates/zones) is inside templates ({root}/templates): templates, zones and state must be three separate directories, none inside another\n",
        ),
        (
            "state the same directory as templates",
            good(),
            ("state", "templates"),
            "zonerw: error: {config}: templates ({root}/templates) is the same directory as state ({root}/templates): templates, zones and state must be three separate directories, none inside another\n",
        ),
    ];
    for (what, tail, (key, dir), error) in cases {
        let env = Env::new(&tail);
        env.template("example.test", &zone_text("example.test"));
        let config = env.path("zonerw.toml");
        if !key.is_empty() {
            fs::create_dir_all(env.path(dir)).unwrap();
            let text = fs::read_to_string(&config).unwrap();
            let from = format!("{key} = \"{key}\"");
            assert!(text.contains(&from), "{what}: {text}");
            fs::write(&config, text.replace(&from, &format!("{key} = \"{dir}\""))).unwrap();
        }
        // Every directory the config names, as it was (the moved one included).
        let listing = || {
            ["templates", "zones", "state", dir]
                .iter()
                .filter(|d| !d.is_empty())
                .map(|d| {
                    let mut names: Vec<String> = fs::read_dir(env.path(d))
                        .unwrap()
                        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                        .collect();
                    names.sort();
                    (*d, names)
                })
                .collect::<Vec<_>>()
        };
        let before = listing();
        let out = env.zonerw(&[]);
        assert_eq!(out.status.code(), Some(2), "{what}: {out:?}");
        let error = error
            .replace("{config}", &config.display().to_string())
            .replace("{root}", &env.dir.path().display().to_string());
        expect_output(what, &out, "", &error);
        let entries = |d: &str| fs::read_dir(env.path(d)).unwrap().count();
        assert_eq!(
            (entries("state"), entries("zones")),
            (0, 0),
            "{what}: written"
        );
        assert_eq!(listing(), before, "{what}: written");
        assert_eq!(env.calls(), Vec::<String>::new(), "{what}");
    }
}

/// `zonerw -c zonerw.toml` (a bare file name, as a crontab line in the config's directory
/// has it) with relative paths: the run, its state and its metrics textfile go where the
/// config says, without a warning (a bare name's parent is "", once synced as a directory).
#[test]
fn a_bare_config_file_name_with_relative_paths_runs_cleanly() {
    let env = Env::new(&format!(
        "{BACKUP_POOL}[metrics]\ntextfile = \"metrics.prom\"\n"
    ));
    env.template("example.test", &zone_text("example.test"));
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_zonerw"))
            .args(["-c", "zonerw.toml"])
            .current_dir(env.dir.path())
            .output()
            .unwrap()
    };
    let out = run();
    assert!(out.status.success(), "{out:?}");
    let serial = first_serial(&out, "example.test");
    expect_output(
        "first run",
        &out,
        &format!("example.test: serial none -> {serial}, reloaded\n"),
        "",
    );
    let metrics = fs::read_to_string(env.path("metrics.prom")).unwrap();
    assert!(metrics.contains("zonerw_last_run_success 1"), "{metrics}");
    assert!(env.path("state/state.json").is_file());
    expect_output("second run", &run(), "", "");
}
