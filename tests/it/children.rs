//! Every child process is bounded in time and output, whatever its descendants do
//! (issue point 1): a hook or witness that leaves a background process holding its
//! output does not hold the run (nor the lock); a witness that prints without end does
//! not grow zonerw's memory; SIGTERM to a run stops its children, removes its
//! temporaries, frees the lock and saves nothing.
//!
//! Against a real NSD primary and secondary on loopback and a switchable local "main
//! server" on 127.0.0.3 (as in `guard_verify.rs`). Scripts record the pids of what they
//! start, and mark those processes with a per-test tag in their environment; cleanup
//! kills by pid (after checking the tag), never by name.

use std::fs;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::*;

/// Address of server `main` in these tests (the local HTTP server listens there).
const MAIN3: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
/// The switch line of a failover from main (refusing connections) to backup.
fn failover() -> String {
    failover_line(MAIN3)
}

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

/// NSD pair with the seed zone, an (up) main server on 127.0.0.3, zonerw configured, and
/// the tracker of the processes the test's scripts start; `tweak` writes those scripts
/// (with the tracker) into the settings.
fn setup(tweak: impl FnOnce(&mut Settings, &Tracked)) -> (NsdPair, MainServer, Zonerw, Tracked) {
    let main = MainServer::http_on(MAIN3, Mode::Up);
    let nsd = NsdPair::new(&[ZONE]);
    let tracked = Tracked::new(&nsd);
    let mut settings = Settings::new(&main.url("/up.txt"));
    settings.main_ip = MAIN3;
    tweak(&mut settings, &tracked);
    let z = Zonerw::new(&nsd, settings);
    (nsd, main, z, tracked)
}

/// The `[guard]` table with `witnesses` (may be empty) and a timeout of `timeout`.
fn guard_table(witnesses: &[&Path], timeout: &str) -> String {
    let argvs: Vec<String> = witnesses
        .iter()
        .map(|w| toml_list(&[w.to_str().unwrap()]))
        .collect();
    format!(
        "[guard]\nwitnesses = [{}]\ntimeout = \"{timeout}\"\n",
        argvs.join(", ")
    )
}

/// A run that had a background grandchild to deal with ended within the 2 s guard
/// timeout + 1 s, and nothing the scripts started is still running.
#[track_caller]
fn assert_prompt_and_nothing_left(r: &Run, tracked: &Tracked, what: &str) {
    eprintln!("{what}: run took {:?}", r.elapsed);
    r.expect_ok();
    assert!(
        r.elapsed < Duration::from_secs(3),
        "the run must end within the 2s guard timeout + 1 s; it took {:?}\n{r}",
        r.elapsed
    );
    let left = tracked.settle();
    assert!(
        left.is_empty(),
        "still running after the run: {left:?}\n{r}"
    );
}

/// Processes started by the test's scripts: each script line `echo "<kind> $pid" >> FILE`;
/// every one of them has `ZRW_TEST_TAG=<tag>` in its environment. Drop SIGKILLs those
/// still alive, by pid, after checking the tag.
struct Tracked {
    dir: PathBuf,
    file: PathBuf,
    tag: String,
}

impl Tracked {
    fn new(nsd: &NsdPair) -> Tracked {
        Tracked {
            dir: nsd.dir.clone(),
            file: nsd.dir.join("pids"),
            tag: format!("ZRW_TEST_TAG={}", nsd.dir.display()),
        }
    }

    /// A `/bin/sh` script (executable) whose processes carry the tag: it re-execs itself
    /// with the tag in its environment (same pid), so the tag is visible at once.
    fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.dir.join(name);
        let text = format!(
            "#!/bin/sh\n[ \"$ZRW_TEST_TAG\" = '{dir}' ] || exec env '{tag}' \"$0\" \"$@\"\n{body}",
            dir = self.dir.display(),
            tag = self.tag,
        );
        fs::write(&path, text).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// Shell line recording `$pid` (a shell expression) as `kind`.
    fn record(&self, kind: &str, pid: &str) -> String {
        format!("echo \"{kind} {pid}\" >> '{}'\n", self.file.display())
    }

    fn entries(&self) -> Vec<(String, i32)> {
        pid_entries(&self.file)
    }

    fn is_ours_and_alive(&self, pid: i32) -> bool {
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .unwrap_or("X");
        let environ = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        state != "Z"
            && state != "X"
            && environ
                .split(|b| *b == 0)
                .any(|var| var == self.tag.as_bytes())
    }

    fn alive(&self) -> Vec<(String, i32)> {
        self.entries()
            .into_iter()
            .filter(|(_, pid)| self.is_ours_and_alive(*pid))
            .collect()
    }

    /// Wait (up to 2 s) until none is alive; the ones still alive.
    fn settle(&self) -> Vec<(String, i32)> {
        poll(Duration::from_secs(2), || {
            self.alive().is_empty().then_some(())
        });
        self.alive()
    }

    /// Wait (10 s) until `n` processes were recorded.
    fn wait_for(&self, n: usize, running: &Running) {
        let seen = poll(Duration::from_secs(10), || {
            (self.entries().len() >= n).then_some(())
        });
        if seen.is_none() {
            signal(running.pid().cast_signed(), libc::SIGKILL);
            panic!(
                "the scripts never recorded {n} processes: {:?}",
                self.entries()
            );
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        for (_, pid) in self.alive() {
            signal(pid, libc::SIGKILL);
        }
    }
}

fn signal(pid: i32, sig: libc::c_int) {
    // SAFETY: kill(2) has no memory-safety preconditions; `pid` is a process we started.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// Peak resident set size (`VmHWM`, KiB) of a live process.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// `.*.tmp` files in `dir`.
fn temporaries(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && Path::new(n).extension().is_some_and(|x| x == "tmp"))
        .collect()
}

// ---------------------------------------------------------------------------
// a background grandchild holding the pipes
// ---------------------------------------------------------------------------

/// An on-change hook that starts `sleep 30 &` (which keeps the hook's stdout and stderr)
/// and exits 0 does not hold the run: it ends within `[guard] timeout` + 1 s, the
/// failover is done, and the sleep is killed.
#[test]
fn hook_with_a_background_grandchild_does_not_hold_the_run() {
    let (nsd, main, z, tracked) = setup(|s, t| {
        let hook = t.script(
            "hook.sh",
            &format!(
                "{}sleep 30 &\n{}echo hook done\nexit 0\n",
                t.record("hook", "$$"),
                t.record("sleep", "$!")
            ),
        );
        s.extra_tables = format!(
            "{}\n[hooks]\non-change = {}\n",
            guard_table(&[], "2s"),
            toml_list(&[hook.to_str().unwrap()])
        );
    });
    let s1 = first_run(&nsd, &z, MAIN3);
    main.set_mode(Mode::Refusing);

    let r = z.run(&[]);
    assert_prompt_and_nothing_left(&r, &tracked, "hook with a background grandchild");
    r.expect_stdout(&lines!(failover(), zone_line(ZONE, s1, s1 + 1)));
    // The hook exited 0: no warning.
    r.expect_stderr("");
    nsd.assert_secondary(ZONE, s1 + 1, BACKUP_IP, PROPAGATE);
    assert_eq!(tracked.entries().len(), 2, "hook and sleep started\n{r}");
}

/// A witness that starts `sleep 30 &` and exits 1 (confirms) does not hold the run: it
/// ends within `[guard] timeout` + 1 s and fails over.
#[test]
fn witness_with_a_background_grandchild_does_not_hold_the_run() {
    let (nsd, main, z, tracked) = setup(|s, t| {
        let witness = t.script(
            "witness.sh",
            &format!(
                "{}sleep 30 &\n{}exit 1\n",
                t.record("witness", "$$"),
                t.record("sleep", "$!")
            ),
        );
        s.extra_tables = guard_table(&[&witness], "2s");
    });
    let s1 = first_run(&nsd, &z, MAIN3);
    main.set_mode(Mode::Refusing);

    let r = z.run(&[]);
    assert_prompt_and_nothing_left(&r, &tracked, "witness with a background grandchild");
    r.expect_stdout(&lines!(
        format!("{}; confirmed by 1 of 1 witnesses", failover()),
        zone_line(ZONE, s1, s1 + 1),
    ));
    r.expect_stderr("");
    nsd.assert_secondary(ZONE, s1 + 1, BACKUP_IP, PROPAGATE);
}

// ---------------------------------------------------------------------------
// endless output
// ---------------------------------------------------------------------------

/// A witness that prints without end (`yes`) is read and discarded beyond 64 KiB: zonerw's
/// peak RSS stays under 50 MiB, the timeout still ends it, and the run goes on.
#[test]
fn witness_printing_without_end_does_not_grow_memory() {
    let (nsd, main, z, tracked) = setup(|s, t| {
        let witness = t.script(
            "yes.sh",
            &format!("{}exec yes 'all work and no play'\n", t.record("yes", "$$")),
        );
        s.extra_tables = guard_table(&[&witness], "2s");
    });
    let s1 = first_run(&nsd, &z, MAIN3);
    main.set_mode(Mode::Refusing);

    let running = z.spawn(&[]);
    let pid = running.pid();
    let mut peak = 0;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        match peak_rss_kib(pid) {
            Some(kib) => peak = peak.max(kib),
            None => break,
        }
        let zombie = fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        });
        if zombie || peak > 500 * 1024 {
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    if peak > 500 * 1024 {
        signal(pid.cast_signed(), libc::SIGKILL);
    }
    let r = running.wait();
    eprintln!(
        "witness printing without end: zonerw peak RSS {peak} KiB, run took {:?}",
        r.elapsed
    );
    assert!(
        peak < 50 * 1024,
        "zonerw's peak RSS was {peak} KiB (limit 50 MiB)\n{r}"
    );
    r.expect_ok();
    assert!(r.elapsed < Duration::from_secs(3), "{r}");
    // A witness killed by the timeout gives no answer.
    r.expect_stdout(&lines!(format!(
        "web: staying on main (127.0.0.3): main failed 2/2 attempts: {REFUSED}; no witness answered (1 of 1 gave no answer), so our own link seems down; this run is not counted towards fall"
    )));
    assert_eq!(nsd.primary_serial(ZONE), Some(s1), "{r}");
    let left = tracked.settle();
    assert!(
        left.is_empty(),
        "still running after the run: {left:?}\n{r}"
    );
}

// ---------------------------------------------------------------------------
// SIGTERM
// ---------------------------------------------------------------------------

/// The name zonerw gives `signal` in its message.
fn signal_name(signal: libc::c_int) -> &'static str {
    match signal {
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGHUP => "SIGHUP",
        _ => unreachable!("zonerw handles only these"),
    }
}

/// Send `running` the `signal` and check that it stopped within 2 s, cleanly, having
/// removed `removed` temporary files (see below).
#[track_caller]
fn stop(
    running: Running,
    signal_number: libc::c_int,
    tracked: &Tracked,
    z: &Zonerw,
    state_before: &[u8],
    during: &str,
    removed: usize,
) -> Run {
    let name = signal_name(signal_number);
    let sent = Instant::now();
    signal(running.pid().cast_signed(), signal_number);
    let r = running.wait();
    let took = sent.elapsed();
    eprintln!(
        "{name} during {during}: exit {} {took:?} after the signal",
        r.code
    );
    assert!(
        took < Duration::from_secs(2),
        "took {took:?} after {name}\n{r}"
    );
    assert_stopped_cleanly(&r, signal_number, tracked, z, state_before, removed);
    r
}

/// Check what a run stopped by `signal` left: exit 128 + the signal with one line saying
/// so (and how many temporary files it `removed`), no tracked process, no temporary,
/// state.json unchanged, and the lock free.
#[track_caller]
fn assert_stopped_cleanly(
    r: &Run,
    signal_number: libc::c_int,
    tracked: &Tracked,
    z: &Zonerw,
    state_before: &[u8],
    removed: usize,
) {
    let name = signal_name(signal_number);
    assert_eq!(r.code, 128 + signal_number, "exit 128+{name}\n{r}");
    let files = if removed == 1 { "file" } else { "files" };
    r.expect_stderr(&lines!(format!(
        "zonerw: error: stopped by {name}: killed 1 running command (and its process group), removed {removed} temporary {files}; the state was not saved, so the next run redoes this one's work"
    )));
    r.expect_stdout("");
    let left = tracked.settle();
    assert!(left.is_empty(), "still running after {name}: {left:?}\n{r}");
    assert_eq!(
        temporaries(&z.zones),
        Vec::<String>::new(),
        "zones dir\n{r}"
    );
    assert_eq!(
        temporaries(&z.state),
        Vec::<String>::new(),
        "state dir\n{r}"
    );
    assert_eq!(
        fs::read(z.state_json()).unwrap(),
        state_before,
        "state.json must not change\n{r}"
    );
}

/// SIGTERM, SIGINT and SIGHUP (one run each) while a witness (and a process it started)
/// hangs: zonerw exits 128 + the signal at once, the witness's process group is gone,
/// nothing is saved, and the next run (the witness now confirming) is not locked out and
/// fails over.
#[test]
fn sigterm_sigint_or_sighup_during_a_hung_witness_stops_it_and_frees_the_lock() {
    let mut confirm = PathBuf::new();
    let (nsd, main, z, tracked) = setup(|s, t| {
        confirm = t.dir.join("confirm");
        let witness = t.script(
            "hang.sh",
            &format!(
                "[ -e '{}' ] && exit 1\n{}sleep 60 &\n{}wait\n",
                confirm.display(),
                t.record("witness", "$$"),
                t.record("sleep", "$!")
            ),
        );
        s.extra_tables = guard_table(&[&witness], "30s");
    });
    let s1 = first_run(&nsd, &z, MAIN3);
    main.set_mode(Mode::Refusing);
    let state_before = fs::read(z.state_json()).unwrap();

    let signals = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];
    for (k, sent) in signals.into_iter().enumerate() {
        let running = z.spawn(&[]);
        // Each run's witness records itself and its sleep.
        tracked.wait_for(2 * (k + 1), &running);
        stop(
            running,
            sent,
            &tracked,
            &z,
            &state_before,
            "a hung witness",
            0,
        );
    }

    fs::write(&confirm, "").unwrap();
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stdout(&lines!(
        format!("{}; confirmed by 1 of 1 witnesses", failover()),
        zone_line(ZONE, s1, s1 + 1),
    ));
    nsd.assert_secondary(ZONE, s1 + 1, BACKUP_IP, PROPAGATE);
}

/// SIGTERM while `nsd-checkzone` hangs (a wrapper that starts a child and waits): the
/// checker's group is killed, the rendered temporary in the zones dir is removed, the
/// installed zone and the state are unchanged, and the next run does the failover.
#[test]
fn sigterm_during_a_hung_checkzone_removes_the_temporary() {
    let mut hang = PathBuf::new();
    let (nsd, main, z, tracked) = setup(|s, t| {
        hang = t.dir.join("hang");
        let checkzone = t.script(
            "checkzone.sh",
            &format!(
                "[ -e '{}' ] || exec nsd-checkzone \"$@\"\n{}sleep 60 &\n{}wait\n",
                hang.display(),
                t.record("checkzone", "$$"),
                t.record("sleep", "$!")
            ),
        );
        s.checkzone = Some(checkzone.to_str().unwrap().to_owned());
    });
    let s1 = first_run(&nsd, &z, MAIN3);
    let installed = fs::read(z.zone_path(ZONE)).unwrap();
    main.set_mode(Mode::Refusing);
    let state_before = fs::read(z.state_json()).unwrap();
    fs::write(&hang, "").unwrap();

    let running = z.spawn(&[]);
    tracked.wait_for(2, &running);
    assert_eq!(
        temporaries(&z.zones).len(),
        1,
        "the rendered zone is staged while it is checked"
    );
    let r = stop(
        running,
        libc::SIGTERM,
        &tracked,
        &z,
        &state_before,
        "a hung checkzone",
        1,
    );
    assert_eq!(fs::read(z.zone_path(ZONE)).unwrap(), installed, "{r}");

    fs::remove_file(&hang).unwrap();
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stdout(&lines!(failover(), zone_line(ZONE, s1, s1 + 1)));
    nsd.assert_secondary(ZONE, s1 + 1, BACKUP_IP, PROPAGATE);
}

/// The same for a dry run: it checks in a private temporary directory, which a SIGTERM
/// removes with the file in it; nothing in the zones or state directory is touched.
#[test]
fn sigterm_during_a_dry_runs_hung_checkzone_removes_its_directory() {
    let mut hang = PathBuf::new();
    let mut staged = PathBuf::new();
    let (nsd, main, z, tracked) = setup(|s, t| {
        hang = t.dir.join("hang");
        staged = t.dir.join("staged");
        let checkzone = t.script(
            "checkzone.sh",
            &format!(
                "[ -e '{}' ] || exec nsd-checkzone \"$@\"\necho \"$2\" > '{}'\n{}sleep 60 &\n{}wait\n",
                hang.display(),
                staged.display(),
                t.record("checkzone", "$$"),
                t.record("sleep", "$!")
            ),
        );
        s.checkzone = Some(checkzone.to_str().unwrap().to_owned());
    });
    first_run(&nsd, &z, MAIN3);
    main.set_mode(Mode::Refusing);
    let state_before = fs::read(z.state_json()).unwrap();
    fs::write(&hang, "").unwrap();

    let running = z.spawn(&["--dry-run"]);
    tracked.wait_for(2, &running);
    let file = PathBuf::from(fs::read_to_string(&staged).unwrap().trim());
    let dir = file.parent().unwrap().to_owned();
    assert!(
        dir.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("zonerw-dry-run."),
        "{}",
        dir.display()
    );
    assert!(
        file.exists(),
        "the rendered zone is checked in the private directory"
    );
    let zone_before = fs::read(z.zone_path(ZONE)).unwrap();
    signal(running.pid().cast_signed(), libc::SIGTERM);
    let r = running.wait();
    assert_eq!(r.code, 128 + libc::SIGTERM, "exit 128+SIGTERM\n{r}");
    // The pool line a dry run prints before it checks, then the signal's line.
    r.expect_stdout(&lines!(failover()));
    r.expect_stderr(&lines!(
        "zonerw: error: stopped by SIGTERM: killed 1 running command (and its process group), removed 1 temporary file; nothing was written"
    ));
    let left = tracked.settle();
    assert!(
        left.is_empty(),
        "still running after SIGTERM: {left:?}\n{r}"
    );
    assert!(!dir.exists(), "{} left behind\n{r}", dir.display());
    assert_eq!(fs::read(z.zone_path(ZONE)).unwrap(), zone_before);
    assert_eq!(fs::read(z.state_json()).unwrap(), state_before);
    assert_eq!(temporaries(&z.zones), Vec::<String>::new());
}
