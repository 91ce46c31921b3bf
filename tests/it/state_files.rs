//! The state directory on real files: links are never followed, modes do not depend on the
//! umask, a run never leaves state the service user cannot write, and a history line cut
//! short by a full disk (a real tmpfs) loses nothing else.
//!
//! No NSD is needed: the runs here switch a pool and have no zones.

use crate::support::{
    NOBODY, REFUSED, Tmpfs, assert_text, closed_port, line_matches, lines, root_or_skip,
    zone_change,
};

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A template for zone `origin` that uses no marker (it does not follow the pool).
fn zone_text(origin: &str) -> String {
    format!(
        "$ORIGIN {origin}.\n$TTL 60\n@ IN SOA ns1 hm ( @serial@ 300 60 7257600 60 )\n  IN NS ns1\nns1 IN A 192.0.2.53\n"
    )
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    /// A config whose pool "web" fails over from main (a refused port) to backup (no
    /// check), so the first run writes a history line and state.json; no templates.
    fn new() -> Env {
        let dir = tempfile::Builder::new()
            .prefix("zrwstate")
            .tempdir()
            .unwrap();
        // Readable by everyone, so that a test can run zonerw as another user.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        for d in ["templates", "zones"] {
            fs::create_dir(dir.path().join(d)).unwrap();
        }
        // A zone that does not depend on the pool: a switch rewrites no zone (and so no
        // serials.json), only the history and state.json.
        fs::write(
            dir.path().join("templates/example.test.zone"),
            zone_text("example.test"),
        )
        .unwrap();
        let stub = dir.path().join("nsd-control");
        fs::write(&stub, "#!/bin/sh\necho ok\n").unwrap();
        fs::set_permissions(&stub, fs::Permissions::from_mode(0o755)).unwrap();
        let port = closed_port();
        let config = format!(
            "templates = \"templates\"\nzones = \"zones\"\nstate = \"state\"\n\
             [nsd]\ncontrol = [\"{}\"]\ncheckzone = \"\"\n\
             [[pool]]\nname = \"web\"\nfall = 1\n[pool.check]\ntimeout = \"1s\"\nattempts = 1\n\
             [[pool.server]]\nname = \"main\"\nipv4 = \"127.0.0.1\"\ncheck = \"http://127.0.0.1:{port}/\"\n\
             [[pool.server]]\nname = \"backup\"\nipv4 = \"127.0.0.2\"\n",
            stub.display()
        );
        fs::write(dir.path().join("zonerw.toml"), config).unwrap();
        Env { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_zonerw"));
        command.arg("-c").arg(self.path("zonerw.toml")).args(args);
        command
    }

    fn zonerw(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Run with umask 000.
    fn zonerw_umask0(&self, args: &[&str]) -> Output {
        let mut command = self.command(args);
        // SAFETY: umask is async-signal-safe and touches only this (forked) process.
        unsafe {
            command.pre_exec(|| {
                libc::umask(0);
                Ok(())
            });
        }
        command.output().unwrap()
    }

    fn history_lines(&self) -> Vec<String> {
        fs::read_to_string(self.path("state/history.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// Stdout and stderr of `out` are exactly `stdout` and `stderr` (see `assert_text`).
#[track_caller]
fn expect_output(what: &str, out: &Output, stdout: &str, stderr: &str) {
    assert_text(
        &format!("{what}: stdout"),
        &text(&out.stdout),
        stdout,
        &show(out),
    );
    assert_text(
        &format!("{what}: stderr"),
        &text(&out.stderr),
        stderr,
        &show(out),
    );
}

/// `zonerw: error: cannot <verb> '<path>': it is a symbolic link; ...`, the refusal of a
/// link in the state directory.
fn link_refused(verb: &str, path: &Path) -> String {
    format!(
        "zonerw: error: cannot {verb} '{}': it is a symbolic link; zonerw does not follow links in its state directory",
        path.display()
    )
}

/// What the first run of an `Env` prints: main refuses, so the pool switches to backup,
/// and the zone (which does not depend on the pool) is installed.
#[track_caller]
fn expect_first_run(what: &str, out: &Output, stderr: &str) {
    let Some((None, serial)) = zone_change(&text(&out.stdout), "example.test") else {
        panic!("{what}: no first zone line\n{}", show(out));
    };
    expect_output(
        what,
        out,
        &lines!(
            format!(
                "web: main (127.0.0.1) -> backup (127.0.0.2): main failed 1/1 attempts: {REFUSED}"
            ),
            format!("example.test: serial none -> {serial}, reloaded"),
        ),
        stderr,
    );
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

#[test]
fn history_link_is_not_followed() {
    let env = Env::new();
    fs::create_dir(env.path("state")).unwrap();
    let victim = env.path("victim");
    fs::write(&victim, "precious\n").unwrap();
    symlink(&victim, env.path("state/history.jsonl")).unwrap();
    let out = env.zonerw(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    // The zone is installed and reloaded, but the switch is not committed.
    let Some((None, serial)) = zone_change(&text(&out.stdout), "example.test") else {
        panic!("no zone line\n{}", show(&out));
    };
    let history = env.path("state/history.jsonl");
    expect_output(
        "run",
        &out,
        &lines!(
            format!(
                "web: main (127.0.0.1) -> backup (127.0.0.2) (not applied yet: the run failed, see the errors; the next run retries): main failed 1/1 attempts: {REFUSED}"
            ),
            format!("example.test: serial none -> {serial}, reloaded"),
        ),
        &lines!(link_refused("append to", &history)),
    );
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(!env.path("state/state.json").exists(), "the state advanced");
    // status refuses to read through it too.
    let out = env.zonerw(&["status"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    expect_output("status", &out, "", &lines!(link_refused("read", &history)));
}

#[test]
fn dangling_lock_link_is_not_created() {
    let env = Env::new();
    fs::create_dir(env.path("state")).unwrap();
    let target = env.path("created-through-the-link");
    symlink(&target, env.path("state/lock")).unwrap();
    let out = env.zonerw(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let refused = link_refused("open lock file", &env.path("state/lock"));
    expect_output("dangling", &out, "", &lines!(refused));
    assert!(!target.exists(), "root created the file the lock links to");
    // A link to an existing file is refused as well (not locked, not opened).
    fs::write(&target, "x").unwrap();
    let out = env.zonerw(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    expect_output("to a file", &out, "", &lines!(refused));
}

#[test]
fn state_and_serials_links_are_refused_and_atomic_writes_replace_links() {
    let env = Env::new();
    fs::create_dir(env.path("state")).unwrap();
    let victim = env.path("victim.json");
    fs::write(&victim, "{}").unwrap();
    symlink(&victim, env.path("state/state.json")).unwrap();
    for args in [&[][..], &["status"][..], &["--dry-run"][..]] {
        let out = env.zonerw(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", show(&out));
        let refused = link_refused("read", &env.path("state/state.json"));
        expect_output(&format!("{args:?}"), &out, "", &lines!(refused));
    }
    fs::remove_file(env.path("state/state.json")).unwrap();
    symlink(&victim, env.path("state/serials.json")).unwrap();
    let out = env.zonerw(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let refused = link_refused("read", &env.path("state/serials.json"));
    expect_output("serials.json", &out, "", &lines!(refused));
    assert_eq!(fs::read_to_string(&victim).unwrap(), "{}");

    // write_atomically (temp file + rename) replaces a link instead of writing through it.
    let link = env.path("state/other.json");
    symlink(&victim, &link).unwrap();
    zonerw::fsio::write_atomically(&link, b"new\n").unwrap();
    assert!(!fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(fs::read_to_string(&link).unwrap(), "new\n");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "{}");
    assert_eq!(mode(&link), 0o644);
}

#[test]
fn modes_do_not_depend_on_the_umask() {
    let env = Env::new();
    let out = env.zonerw_umask0(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    expect_first_run("umask 000", &out, "");
    assert_eq!(mode(&env.path("state")), 0o755);
    for file in ["state.json", "history.jsonl", "lock"] {
        assert_eq!(mode(&env.path("state").join(file)), 0o644, "{file}");
    }
    // A missing parent is created too; the state directory itself is 0755.
    let env = Env::new();
    let config = fs::read_to_string(env.path("zonerw.toml"))
        .unwrap()
        .replace("state = \"state\"", "state = \"var/state\"");
    fs::write(env.path("zonerw.toml"), config).unwrap();
    let out = env.zonerw_umask0(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(mode(&env.path("var/state")), 0o755);
    assert_eq!(mode(&env.path("var/state/history.jsonl")), 0o644);
}

#[test]
fn an_open_state_directory_is_warned_about() {
    let env = Env::new();
    fs::create_dir(env.path("state")).unwrap();
    fs::set_permissions(env.path("state"), fs::Permissions::from_mode(0o777)).unwrap();
    let out = env.zonerw(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let warning = format!(
        "zonerw: warning: the state directory {0} is writable by its group and others (mode 0777); make it writable by its owner only: chmod go-w {0}",
        env.path("state").display()
    );
    assert_text("stderr", &text(&out.stderr), &lines!(warning), &show(&out));
    assert!(env.path("state/state.json").exists(), "the run went on");
    fs::set_permissions(env.path("state"), fs::Permissions::from_mode(0o755)).unwrap();
    let out = env.zonerw(&[]);
    expect_output("mode 0755", &out, "", "");
}

#[test]
fn a_run_as_another_user_than_the_state_owner_is_refused() {
    if !root_or_skip("chown") {
        return;
    }
    let env = Env::new();
    fs::create_dir(env.path("state")).unwrap();
    std::os::unix::fs::chown(env.path("state"), Some(NOBODY), Some(NOBODY)).unwrap();
    let out = env.zonerw(&["--force"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let want = format!(
        "zonerw: error: the state directory {} belongs to user nobody, not to root, who runs this; run it as that user: sudo -u nobody {} -c {} --force",
        env.path("state").display(),
        env!("CARGO_BIN_EXE_zonerw"),
        env.path("zonerw.toml").display()
    );
    expect_output("as root", &out, "", &lines!(want));
    assert_eq!(
        fs::read_dir(env.path("state")).unwrap().count(),
        0,
        "the refused run touched the state directory"
    );
    // A dry run and status change nothing: allowed.
    assert_eq!(env.zonerw(&["--dry-run"]).status.code(), Some(0));
    assert_eq!(env.zonerw(&["status"]).status.code(), Some(0));
    // Run as the owner, it works and the files are the owner's.
    std::os::unix::fs::chown(env.path("zones"), Some(NOBODY), Some(NOBODY)).unwrap();
    let out = env.command(&[]).uid(NOBODY).gid(NOBODY).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    expect_first_run("as nobody", &out, "");
    for file in ["state.json", "history.jsonl", "lock"] {
        let meta = fs::metadata(env.path("state").join(file)).unwrap();
        assert_eq!(meta.uid(), NOBODY, "{file}");
    }
}

#[test]
fn check_names_state_files_a_run_could_not_write() {
    if !root_or_skip("chown") {
        return;
    }
    let env = Env::new();
    // A pool whose first server is healthy (no check), so only the state can fail check.
    let config = fs::read_to_string(env.path("zonerw.toml"))
        .unwrap()
        .replace(
            "check = \"http://127.0.0.1:",
            "# check = \"http://127.0.0.1:",
        );
    fs::write(env.path("zonerw.toml"), config).unwrap();
    let out = env.zonerw(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    // Files left by a run as root in a directory of the service user (the old
    // `sudo zonerw --force` trap).
    fs::create_dir(env.path("state")).unwrap();
    fs::write(env.path("state/history.jsonl"), "").unwrap();
    fs::write(env.path("state/state.json"), "{\"version\": 1}\n").unwrap();
    std::os::unix::fs::chown(env.path("state"), Some(NOBODY), Some(NOBODY)).unwrap();
    std::os::unix::fs::chown(env.path("state/state.json"), Some(NOBODY), None).unwrap();
    let out = env.zonerw(&["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    // The pools are healthy; only history.jsonl is named, not state.json (nobody's).
    let history = env.path("state/history.jsonl");
    let head = |zones: &str| {
        lines!(
            format!(
                "ok    config {}: 1 pool, 2 servers",
                env.path("zonerw.toml").display()
            ),
            "ok    template example.test: uses no pool",
            format!(
                "ok    {}: an executable file",
                env.path("nsd-control").display()
            ),
            "skip  nsd-checkzone: [nsd] checkzone = \"\": rendered zones are not checked, in a run either",
            "ok    nsd-control status: NSD answers",
            "skip  zone example.test: NSD serves it; from which file, nsd-checkconf cannot tell: {...}",
            zones,
        )
    };
    let tail = lines!(
        "POOL  SERVER  ADDRESS    RESULT     LATENCY  REASON",
        "web   main    127.0.0.1  unchecked  -        no check configured, counted healthy",
        "web   backup  127.0.0.2  unchecked  -        no check configured, counted healthy",
        "ok    pool web: first server main counts as healthy (no check configured)",
    );
    let zones = env.path("zones");
    expect_output(
        "check as root",
        &out,
        &(head(&format!(
            "ok    zones directory {}: root can write it",
            zones.display()
        )) + &lines!(
            format!(
                "FAIL  state file {0}: owner root, mode 0644: not owned by nobody, who owns the state directory, so a run as nobody would fail",
                history.display()
            ),
            format!("      fix: chown nobody {}", history.display()),
        ) + &tail
            + "check: 1 of 7 failed, 2 skipped\n"),
        "",
    );
    // As the service user: it cannot write the root-owned file (nor the zones directory).
    let out = env
        .command(&["check"])
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    expect_output(
        "check as nobody",
        &out,
        &(head(&format!(
            "FAIL  zones directory {0}: nobody cannot write it\n      fix: chown nobody {0} (or run zonerw as its owner)",
            zones.display()
        )) + &lines!(
            format!(
                "FAIL  state file {}: owner root, mode 0644: nobody cannot write it, so a run would fail",
                history.display()
            ),
            format!(
                "      fix: chown nobody {} (or run zonerw as root)",
                history.display()
            ),
        ) + &tail
            + "check: 2 of 7 failed, 2 skipped\n"),
        "",
    );
}

// ------------------------------------------------------------------ a full disk

/// A zone history line of exactly `len` bytes (without its newline).
fn zone_line(n: u64, len: usize) -> String {
    let head = format!(
        "{{\"time\":\"2026-01-01T00:00:00Z\",\"event\":\"zone\",\"zone\":\"z{n}\",\"from_serial\":{n},\"to_serial\":{},\"pad\":\"",
        n + 1
    );
    let line = format!("{head}{}\"}}", "x".repeat(len - head.len() - 2));
    assert_eq!(line.len(), len);
    line
}

fn assert_every_line_parses(lines: &[String]) {
    for (i, line) in lines.iter().enumerate() {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("history line {}: {e}: {line}", i + 1));
        assert!(value.is_object());
    }
}

#[test]
fn the_history_survives_a_disk_that_fills_mid_append() {
    let env = Env::new();
    fs::create_dir(env.path("state")).unwrap();
    let tmpfs = match Tmpfs::mount(&env.path("state")) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("SKIPPED: {e}");
            return;
        }
    };
    // fall = 2: the first run (with space) records the zone and main's first failure; the
    // second, on a full disk, switches the pool, which appends to the history.
    let config = fs::read_to_string(env.path("zonerw.toml"))
        .unwrap()
        .replace("fall = 1", "fall = 2");
    fs::write(env.path("zonerw.toml"), config).unwrap();
    let out = env.zonerw(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(env.path("state/serials.json").exists());
    // 4000 bytes of history: one page, with 96 bytes of slack before the next page, which
    // the full tmpfs cannot give. The switch line is longer than that, so its append is
    // cut short mid-line.
    let old: Vec<String> = (0..20).map(|n| zone_line(n, 199)).collect();
    fs::write(env.path("state/history.jsonl"), old.join("\n") + "\n").unwrap();
    assert_eq!(
        fs::metadata(env.path("state/history.jsonl")).unwrap().len(),
        4000
    );
    let filler = tmpfs.fill(0);

    let out = env.zonerw(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let switch = "web: main (127.0.0.1) -> backup (127.0.0.2)";
    let reason = format!("main down for 2 runs (fall 2): failed 1/1 attempts: {REFUSED}");
    expect_output(
        "full disk",
        &out,
        &lines!(format!(
            "{switch} (not applied yet: the run failed, see the errors; the next run retries): {reason}"
        )),
        &lines!(format!(
            "zonerw: error: cannot append to '{}': No space left on device (os error 28)",
            env.path("state/history.jsonl").display()
        )),
    );
    // No fragment is left behind: the failed append was cut back off.
    let lines = env.history_lines();
    assert_eq!(lines, old);
    let out = env.zonerw(&["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    // Space again: the retried switch is recorded, intact.
    fs::remove_file(filler).unwrap();
    let out = env.zonerw(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    expect_output(
        "space again",
        &out,
        &lines!(format!("{switch}: {reason}")),
        "",
    );
    let lines = env.history_lines();
    assert_eq!(lines.len(), old.len() + 1);
    assert_every_line_parses(&lines);
    assert!(
        lines[old.len()].contains("\"event\":\"switch\""),
        "{lines:?}"
    );
    let out = env.zonerw(&["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let recorded = format!("  {{time}}  web: main -> backup: {reason}");
    assert!(
        text(&out.stdout)
            .lines()
            .any(|l| line_matches(&recorded, l)),
        "status shows the switch, {recorded:?}\n{}",
        show(&out)
    );
    drop(tmpfs);
}

#[test]
fn a_fragment_left_by_a_crash_is_skipped_and_not_glued_to_the_next_line() {
    let env = Env::new();
    fs::create_dir(env.path("state")).unwrap();
    // What a crash (or an older zonerw on a full disk) leaves: a line cut short.
    let good = zone_line(1, 120);
    fs::write(
        env.path("state/history.jsonl"),
        format!("{good}\n{{\"time\":\"2026-01-01T00:"),
    )
    .unwrap();
    let out = env.zonerw(&["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let skipped = format!(
        "zonerw: warning: {}:2: skipped an unreadable history line",
        env.path("state/history.jsonl").display()
    );
    assert_text("stderr", &text(&out.stderr), &lines!(skipped), &show(&out));
    let out = env.zonerw(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let mut lines = env.history_lines();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(lines.remove(1), "{\"time\":\"2026-01-01T00:");
    assert_every_line_parses(&lines);
    assert!(lines[1].contains("\"event\":\"switch\""), "{lines:?}");
    assert!(lines[2].contains("\"event\":\"zone\""), "{lines:?}");
    let out = env.zonerw(&["status", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["history"].as_array().unwrap().len(), 3);
}

/// A FIFO where state.json should be is refused at once, never opened blocking (a run
/// would otherwise wait forever, with the lock held, for a writer that never comes).
#[test]
fn a_fifo_as_state_json_is_refused_without_blocking() {
    let env = Env::new();
    fs::create_dir(env.path("state")).unwrap();
    let fifo = std::ffi::CString::new(env.path("state/state.json").to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid C string.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let start = std::time::Instant::now();
    let out = env
        .command(&[])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let refused = format!(
        "zonerw: error: cannot read '{}': it is a FIFO; zonerw keeps only regular files in its state directory",
        env.path("state/state.json").display()
    );
    expect_output("FIFO", &out, "", &lines!(refused));
}

/// A template the user running zonerw cannot read (mode 0600, another owner) fails its
/// own zone only, like any broken template: the run applies the rest (the switch, the
/// other zone), names the file and the cause, exits 2, and installs nothing for it.
#[test]
fn an_unreadable_template_fails_only_its_zone() {
    if !root_or_skip("run as another user") {
        return;
    }
    let env = Env::new();
    let secret = env.path("templates/other.test.zone");
    fs::write(&secret, zone_text("other.test")).unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    fs::create_dir(env.path("state")).unwrap();
    for dir in ["state", "zones"] {
        std::os::unix::fs::chown(env.path(dir), Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let denied = lines!(format!(
        "zonerw: error: {}: cannot read template: Permission denied (os error 13)",
        secret.display()
    ));
    let out = env.command(&[]).uid(NOBODY).gid(NOBODY).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    expect_first_run("an unreadable template", &out, &denied);
    assert!(env.path("zones/example.test.zone").is_file());
    assert!(!env.path("zones/other.test.zone").exists());
    // The switch and the sound zone were committed: the next run redoes neither.
    let again = env.command(&[]).uid(NOBODY).gid(NOBODY).output().unwrap();
    assert_eq!(again.status.code(), Some(2), "{}", show(&again));
    expect_output("again", &again, "", &denied);
}
