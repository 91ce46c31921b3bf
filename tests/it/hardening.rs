//! Hardening: zonerw killed with SIGKILL at each step of a run, a hung `nsd-control`, and a
//! full disk, against a real NSD primary and secondary on loopback.
//!
//! README.md: zonerw "never leaves NSD with a broken or half-written zone or a serial that
//! goes backwards"; "a retried run never reuses a serial for different content"; exit 1
//! means "the state was not advanced, so the next run retries". Every scenario ends with a
//! clean run after which the *secondary* serves the intended zone.
//!
//! The `nsd-control` / `nsd-checkzone` stand-ins are shell scripts that record their pid and
//! mark their environment. zonerw starts each in its own process group, so when zonerw is
//! killed with SIGKILL they live on as orphans; `Wrappers`' Drop kills them by that process
//! group (after checking the environment mark), never by name.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::ops::{Deref, DerefMut};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::*;

// ---------------------------------------------------------------------------
// processes
// ---------------------------------------------------------------------------

fn sigkill(pid: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions; `pid` is a process we started.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

/// SIGKILL a zonerw we spawned (just that process: its helpers are in their own groups).
fn kill_zonerw(running: &Running) {
    sigkill(running.pid().cast_signed());
}

/// `(state, pgrp)` of a process from /proc/PID/stat.
fn proc_stat(pid: i32) -> Option<(String, i32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some((fields.first()?.to_string(), fields.get(2)?.parse().ok()?))
}

/// Wrapper scripts zonerw runs instead of `nsd-control` / `nsd-checkzone`.
struct Wrappers {
    dir: PathBuf,
    primary_conf: PathBuf,
}

impl Wrappers {
    fn new(nsd: &NsdPair) -> Wrappers {
        let dir = nsd.dir.join("wrappers");
        fs::create_dir_all(&dir).unwrap();
        Wrappers {
            dir,
            primary_conf: nsd.primary.conf.clone(),
        }
    }

    /// The environment mark that identifies our wrapper processes in /proc/PID/environ.
    fn mark(&self) -> String {
        format!("ZRW_WRAPPER={}", self.dir.display())
    }

    fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.dir.join(name);
        // Re-exec (same pid) with the mark, so it is in /proc/PID/environ from the moment
        // the pid is recorded (`export` alone would not show there until the next exec).
        let text = format!(
            "#!/bin/sh\n[ \"$ZRW_WRAPPER\" = '{dir}' ] || exec env {mark} \"$0\" \"$@\"\necho $$ >> '{dir}/pids'\n{body}",
            mark = self.mark(),
            dir = self.dir.display()
        );
        fs::write(&path, text).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// Shell lines that atomically create `name` holding our pid and arguments, one a line.
    fn ready(&self, name: &str) -> String {
        let d = self.dir.display();
        format!("printf '%s\\n' $$ \"$@\" > '{d}/{name}.tmp' && mv '{d}/{name}.tmp' '{d}/{name}'\n")
    }

    /// `nsd-checkzone` that signals `checkzone.ready` and hangs.
    fn checkzone_hang(&self) -> PathBuf {
        let body = format!("{}exec sleep 60\n", self.ready("checkzone.ready"));
        self.script("checkzone-hang", &body)
    }

    /// The real `nsd-checkzone`, pid recorded.
    fn checkzone_real(&self) -> PathBuf {
        self.script("checkzone", "exec nsd-checkzone \"$@\"\n")
    }

    /// `nsd-control` for the primary that signals `control.ready` and hangs on `reload`.
    fn control_hang_on_reload(&self) -> PathBuf {
        let body = format!(
            "case \" $* \" in\n*\" reload \"*)\n{}exec sleep 60\n;;\nesac\nexec nsd-control -c '{}' \"$@\"\n",
            self.ready("control.ready"),
            self.primary_conf.display()
        );
        self.script("control-hang", &body)
    }

    /// `nsd-control` for the primary that, on `reload`, signals `control.ready` and waits
    /// (at most 60 s) for the test to create `go` before reloading for real.
    fn control_gate_on_reload(&self) -> PathBuf {
        let body = format!(
            "case \" $* \" in\n*\" reload \"*)\n{ready}i=0\nwhile [ ! -e '{d}/go' ] && [ $i -lt 6000 ]; do sleep 0.01; i=$((i+1)); done\n;;\nesac\nexec nsd-control -c '{conf}' \"$@\"\n",
            ready = self.ready("control.ready"),
            d = self.dir.display(),
            conf = self.primary_conf.display()
        );
        self.script("control-gate", &body)
    }

    /// The real `nsd-control` for the primary, pid recorded.
    fn control_real(&self) -> PathBuf {
        let body = format!(
            "exec nsd-control -c '{}' \"$@\"\n",
            self.primary_conf.display()
        );
        self.script("control", &body)
    }

    /// Wait (10 s) for a wrapper's readiness file; returns `(pid, arguments)`. If it never
    /// appears, zonerw is killed and the test fails with its output.
    fn wait_ready(&self, name: &str, running: Running) -> (Running, i32, Vec<String>) {
        let path = self.dir.join(name);
        if poll(Duration::from_secs(10), || path.exists().then_some(())).is_none() {
            kill_zonerw(&running);
            panic!("{name} never appeared\n{}", running.wait());
        }
        let text = fs::read_to_string(&path).unwrap();
        let mut lines = text.lines().map(str::to_owned);
        let pid = lines.next().and_then(|l| l.parse().ok()).expect("pid line");
        (running, pid, lines.collect())
    }

    fn pids(&self) -> Vec<i32> {
        fs::read_to_string(self.dir.join("pids"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Is `pid` one of our wrappers (or what it exec'd), alive and not a zombie?
    fn alive(&self, pid: i32) -> bool {
        let running = proc_stat(pid).is_some_and(|(state, _)| state != "Z" && state != "X");
        let environ = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let mark = self.mark();
        running && environ.split(|b| *b == 0).any(|var| var == mark.as_bytes())
    }

    /// Wait up to `timeout` for every wrapper to finish on its own; kill the rest.
    fn settle(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.pids().iter().any(|&p| self.alive(p)) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        self.kill_all();
    }

    /// SIGKILL every wrapper still alive, by its process group (zonerw starts each helper
    /// with `process_group(0)`, so pgid = pid) or else by pid.
    fn kill_all(&self) {
        for pid in self.pids() {
            if !self.alive(pid) {
                continue;
            }
            let own_group = proc_stat(pid).is_some_and(|(_, pgrp)| pgrp == pid);
            sigkill(if own_group { -pid } else { pid });
        }
    }
}

impl Drop for Wrappers {
    fn drop(&mut self) {
        self.kill_all();
    }
}

// ---------------------------------------------------------------------------
// zone texts and serials
// ---------------------------------------------------------------------------

/// What zonerw renders from `template` with `serial` and www = `ip`.
fn render(template: &str, serial: u32, ip: std::net::Ipv4Addr) -> String {
    template
        .replace("@serial@", &serial.to_string())
        .replace("@IP@", &ip.to_string())
}

/// The serial of a zone text rendered from our templates (`<serial> ; serial`).
fn serial_of(text: &str) -> Option<u32> {
    let line = text.lines().find(|l| l.contains("; serial"))?;
    line.split_whitespace().next()?.parse().ok()
}

/// Is `text` exactly a rendering of `template` (complete, not a prefix), for either address?
fn is_complete(template: &str, text: &str) -> bool {
    serial_of(text).is_some_and(|s| {
        text == render(template, s, MAIN_IP) || text == render(template, s, BACKUP_IP)
    })
}

/// Every zone text seen on disk, by serial, and the largest serial in serials.json: a
/// serial must never come with two different texts.
struct Ledger {
    template: String,
    texts: BTreeMap<u32, Seen>,
    reserved_max: Option<u32>,
    partial_temps: usize,
}

struct Seen {
    text: String,
    /// Where it was first seen.
    origin: String,
    /// Seen as the installed zone file, not only as a temporary file.
    installed: bool,
}

impl Ledger {
    fn new(template: &str) -> Ledger {
        Ledger {
            template: template.to_owned(),
            texts: BTreeMap::new(),
            reserved_max: None,
            partial_temps: 0,
        }
    }

    /// Record `text` seen at `origin`; `installed`: as the zone file NSD reads (so NSD may
    /// have loaded it), not just a temporary file.
    #[track_caller]
    fn record(&mut self, text: &str, origin: &str, installed: bool) {
        let serial = serial_of(text).unwrap_or_else(|| panic!("{origin}: no serial in\n{text}"));
        let seen = self.texts.entry(serial).or_insert_with(|| Seen {
            text: text.to_owned(),
            origin: origin.to_owned(),
            installed,
        });
        assert_eq!(
            seen.text, text,
            "serial {serial} was used for two different zone texts: {} and {origin}",
            seen.origin
        );
        seen.installed |= installed;
    }

    /// Record the installed file (which must be complete), every complete temporary file
    /// and serials.json. Returns the installed text.
    #[track_caller]
    fn scan(&mut self, z: &Zonerw, when: &str) -> String {
        let installed = fs::read_to_string(z.zone_path(ZONE)).unwrap();
        assert!(
            is_complete(&self.template, &installed),
            "{when}: the installed zone file is not a complete rendering:\n{installed}"
        );
        self.record(&installed, &format!("installed file {when}"), true);
        for entry in fs::read_dir(&z.zones).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') {
                continue;
            }
            let text = fs::read_to_string(entry.path()).unwrap_or_default();
            if is_complete(&self.template, &text) {
                self.record(&text, &format!("temporary file {name} {when}"), false);
            } else {
                // Cut off mid-write: never installed, so it has no serial to reuse.
                self.partial_temps += 1;
            }
        }
        if let Ok(text) = fs::read_to_string(z.state.join("serials.json")) {
            let v: serde_json::Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{when}: serials.json {text:?}: {e}"));
            if let Some(s) = v[ZONE].as_u64() {
                let s = u32::try_from(s).unwrap();
                self.reserved_max = Some(self.reserved_max.map_or(s, |m| m.max(s)));
            }
        }
        installed
    }

    /// The serials seen installed so far.
    fn installed(&self) -> BTreeSet<u32> {
        self.texts
            .iter()
            .filter(|(_, seen)| seen.installed)
            .map(|(serial, _)| *serial)
            .collect()
    }

    /// The final serial is newer than every serial installed with other content, and its
    /// text is the one seen with it before (if any). A serial the final run gave is not
    /// older than any reserved before it (`reserved_before`); one it adopted (a file
    /// installed before it, `installed_before`, that is already what it would render:
    /// CONTRACT.md, "adopted: reloaded, no new serial") may be, when a later run reserved a
    /// higher one and was killed before installing it: that serial never reached NSD. A
    /// serial seen only in a temporary file never reached NSD: a later run may use it, but
    /// only for the same text (checked by `record`).
    #[track_caller]
    fn assert_final(
        &mut self,
        text: &str,
        installed_before: &BTreeSet<u32>,
        reserved_before: Option<u32>,
    ) -> u32 {
        let serial = serial_of(text).unwrap();
        self.record(text, "the final installed file", true);
        for (s, seen) in &self.texts {
            if seen.installed && seen.text != text {
                assert!(
                    *s < serial,
                    "final serial {serial} is not newer than {s} ({}), which had other content",
                    seen.origin
                );
            }
        }
        let adopted = installed_before.contains(&serial);
        if let (false, Some(r)) = (adopted, reserved_before) {
            assert!(
                serial >= r,
                "the final run gave serial {serial}, below {r}, reserved before it"
            );
        }
        serial
    }
}

// ---------------------------------------------------------------------------
// scene: NSD pair, main server up, one clean run, then main fails
// ---------------------------------------------------------------------------

struct Scene {
    // Drop order = field order: orphaned wrappers go first, NSD last.
    w: Wrappers,
    z: Zonerw,
    main: MainServer,
    nsd: NsdPair,
    ledger: Ledger,
    s1: u32,
}

fn scene() -> Scene {
    let nsd = NsdPair::new(&[ZONE]);
    let main = MainServer::http(Mode::Up);
    let z = Zonerw::new(&nsd, Settings::new(&main.url("/up.txt")));
    let w = Wrappers::new(&nsd);
    let r = z.run(&[]);
    r.expect_ok();
    let s1 = r.new_serial(ZONE);
    nsd.assert_secondary(ZONE, s1, MAIN_IP, PROPAGATE);
    let mut ledger = Ledger::new(&default_template(ZONE));
    ledger.scan(&z, "after the first run");
    main.set_mode(Mode::Refusing);
    Scene {
        w,
        z,
        main,
        nsd,
        ledger,
        s1,
    }
}

impl Scene {
    /// Use the real tools again (through pid-recording wrappers) and `nsd.timeout` 10s.
    fn restore_tools(&mut self) {
        self.z.settings.control = Some(toml_argv(&self.w.control_real()));
        self.z.settings.checkzone = Some(self.w.checkzone_real().display().to_string());
        self.z.write_config();
    }

    /// A clean run completes the change (www = `www`) with a serial newer than any seen with
    /// other content; the secondary serves it; then a run is quiet.
    #[track_caller]
    fn recover(&mut self, www: std::net::Ipv4Addr, when: &str) -> u32 {
        self.restore_tools();
        let (installed_before, reserved_before) =
            (self.ledger.installed(), self.ledger.reserved_max);
        let r = self.z.run(&[]);
        r.expect_ok();
        let text = self.ledger.scan(&self.z, when);
        let serial = self
            .ledger
            .assert_final(&text, &installed_before, reserved_before);
        assert!(serial > self.s1, "{serial} after {}\n{r}", self.s1);
        assert_eq!(text, render(&self.ledger.template, serial, www), "{r}");
        self.nsd.assert_secondary(ZONE, serial, www, PROPAGATE);
        let quiet = self.z.run(&[]);
        quiet.expect_ok();
        assert_eq!(
            quiet.stdout, "",
            "converged: the next run is quiet\n{quiet}"
        );
        serial
    }

    fn state_bytes(&self) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        (
            fs::read(self.z.state_json()).ok(),
            fs::read(self.z.state.join("history.jsonl")).ok(),
        )
    }
}

fn toml_argv(program: &Path) -> String {
    format!("[\"{}\"]", program.display())
}

/// Replace the `[nsd] timeout` of the harness config.
fn set_nsd_timeout(z: &Zonerw, timeout: &str) {
    let text = z.config_text();
    let old = "timeout = \"10s\"\n";
    assert_eq!(text.matches(old).count(), 1, "{text}");
    fs::write(
        &z.config,
        text.replace(old, &format!("timeout = \"{timeout}\"\n")),
    )
    .unwrap();
}

// ---------------------------------------------------------------------------
// 1. crash points
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Crash {
    /// SIGKILL while `nsd-checkzone` runs on the rendered temporary file.
    AfterRender,
    /// SIGKILL as soon as `nsd-control reload` starts (the file is installed).
    AfterInstall,
    /// `nsd-control reload` hangs; zonerw's own `nsd.timeout = "1s"` ends it: exit 1.
    HungControlTimeout,
    /// `nsd-control reload` hangs for a second; then zonerw is killed with SIGKILL.
    HungControlKilled,
}

/// A scene killed (or timed out) at `crash` while failing over, with every assertion about
/// what is left on disk and served. Returns the scene, the real tools not yet restored, and
/// whether the helper zonerw was running is still alive (an orphan).
fn crash_at(crash: Crash) -> (Scene, bool) {
    let mut s = scene();
    let old = FileId::of(&s.z.zone_path(ZONE));
    let state_before = s.state_bytes();
    let serials_before = fs::read(s.z.state.join("serials.json")).ok();
    if crash == Crash::AfterRender {
        s.z.settings.checkzone = Some(s.w.checkzone_hang().display().to_string());
    } else {
        s.z.settings.control = Some(toml_argv(&s.w.control_hang_on_reload()));
    }
    s.z.write_config();
    if crash == Crash::HungControlTimeout {
        set_nsd_timeout(&s.z, "1s");
    }
    let ready = if crash == Crash::AfterRender {
        "checkzone.ready"
    } else {
        "control.ready"
    };
    let (running, helper, args) = s.w.wait_ready(ready, s.z.spawn(&[]));
    let r = if crash == Crash::HungControlTimeout {
        let r = running.wait();
        r.expect_code(1);
        r.expect_stderr(&lines!(format!(
            "zonerw: error: '{} reload {ZONE}' did not finish within 1s and was killed",
            s.w.dir.join("control-hang").display()
        )));
        r.expect_stdout(&lines!(pending_failover_line(MAIN_IP)));
        assert!(
            poll(Duration::from_secs(2), || (!s.w.alive(helper))
                .then_some(()))
            .is_some(),
            "zonerw left the timed-out nsd-control (pid {helper}) running"
        );
        r
    } else {
        if crash == Crash::HungControlKilled {
            thread::sleep(Duration::from_secs(1));
        }
        kill_zonerw(&running);
        let r = running.wait();
        assert_eq!(r.code, -1, "killed by SIGKILL\n{r}");
        assert!(s.w.alive(helper), "the orphaned helper {helper} lives on");
        r
    };
    assert_eq!(s.state_bytes(), state_before, "state advanced\n{r}");
    s.ledger.scan(&s.z, &format!("after {crash:?}"));
    let tmpl = s.ledger.template.clone();
    if crash == Crash::AfterRender {
        assert_eq!(
            FileId::of(&s.z.zone_path(ZONE)),
            old,
            "installed file touched"
        );
        assert_eq!(
            fs::read(s.z.state.join("serials.json")).ok(),
            serials_before,
            "serials are reserved only after nsd-checkzone"
        );
        assert_temp_left(&s, &args, &tmpl);
    } else {
        let installed = fs::read_to_string(s.z.zone_path(ZONE)).unwrap();
        let s2 = serial_of(&installed).unwrap();
        assert!(s2 > s.s1, "{installed}");
        assert_eq!(
            installed,
            render(&tmpl, s2, BACKUP_IP),
            "installed completely"
        );
        assert!(
            s.ledger.reserved_max >= Some(s2),
            "serial {s2} installed before it was recorded in serials.json"
        );
        assert_eq!(s.nsd.primary_serial(ZONE), Some(s.s1), "not reloaded yet");
    }
    // Users still get the old zone; nothing half-done is served.
    s.nsd
        .assert_secondary(ZONE, s.s1, MAIN_IP, Duration::from_secs(1));
    let orphan = s.w.alive(helper);
    assert_eq!(orphan, crash != Crash::HungControlTimeout);
    (s, orphan)
}

/// Crash at `crash`, then a clean run completes the failover. For a SIGKILL the clean run
/// happens while the killed run's helper still sleeps: it must not hold the lock (exit 75).
fn crash_then_recover(crash: Crash) {
    let (mut s, orphan) = crash_at(crash);
    let last = s.recover(BACKUP_IP, &format!("after recovering from {crash:?}"));
    eprintln!(
        "{crash:?}: serial {} -> {last}, recovered with the orphan {}",
        s.s1,
        if orphan { "alive" } else { "gone" }
    );
}

/// The temporary file of a run killed during `nsd-checkzone`: dot-prefixed, beside the
/// zone, a complete rendering of the failover, and not served.
fn assert_temp_left(s: &Scene, args: &[String], template: &str) {
    assert_eq!(args.first().map(String::as_str), Some(ZONE), "{args:?}");
    let temp = PathBuf::from(&args[1]);
    let name = temp.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(temp.parent(), Some(s.z.zones.as_path()));
    assert!(
        name.starts_with(&format!(".{ZONE}.zone.")) && temp.extension() == Some("tmp".as_ref()),
        "{name}"
    );
    let text = fs::read_to_string(&temp).expect("SIGKILL leaves the temporary file");
    let s2 = serial_of(&text).unwrap();
    assert!(s2 > s.s1);
    assert_eq!(text, render(template, s2, BACKUP_IP));
    assert_ne!(
        s.nsd.primary_serial(ZONE),
        Some(s2),
        "temporary file served"
    );
}

#[test]
fn sigkill_after_render_leaves_the_old_zone_installed() {
    crash_then_recover(Crash::AfterRender);
}

#[test]
fn sigkill_after_install_leaves_a_complete_zone_that_the_next_run_reloads() {
    crash_then_recover(Crash::AfterInstall);
}

#[test]
fn hung_nsd_control_is_killed_by_the_timeout_and_the_next_run_reloads() {
    crash_then_recover(Crash::HungControlTimeout);
}

#[test]
fn sigkill_during_a_hung_nsd_control_then_the_next_run_reloads() {
    crash_then_recover(Crash::HungControlKilled);
}

/// The installed-but-never-reloaded failover zone must not keep its serial when the next
/// run writes different content (main is back): NSD may have loaded that file meanwhile.
#[test]
fn sigkill_after_install_then_main_back_gets_a_newer_serial() {
    let (mut s, _) = crash_at(Crash::AfterInstall);
    s.main.set_mode(Mode::Up);
    let last = s.recover(MAIN_IP, "after main came back");
    eprintln!("AfterInstall, then main back: serial {} -> {last}", s.s1);
}

/// xorshift64*: enough randomness for kill delays, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("ZRW_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
                u64::from(t.subsec_nanos()) ^ (t.as_secs() << 20) ^ u64::from(std::process::id())
            });
        eprintln!("random kill delays: ZRW_SEED={seed}");
        Rng(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// What a run left on disk: installed serial, reserved serial, serial in state.json, names
/// of temporary files.
type Disk = (Option<u32>, Option<u64>, Option<u64>, Vec<String>);

fn disk(z: &Zonerw) -> Disk {
    let json = |name: &str| -> serde_json::Value {
        fs::read_to_string(z.state.join(name))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    };
    let mut temps = dir_names(&z.zones);
    temps.retain(|n| n.starts_with('.'));
    (
        fs::read_to_string(z.zone_path(ZONE))
            .ok()
            .and_then(|t| serial_of(&t)),
        json("serials.json")[ZONE].as_u64(),
        json("state.json")["zones"][ZONE]["serial"].as_u64(),
        temps,
    )
}

/// How far a killed run got, from the disk before and after it.
fn stage_reached(r: &Run, before: &Disk, after: &Disk) -> &'static str {
    match () {
        () if r.code == 0 => "done",
        () if after.2 != before.2 => "saved state",
        () if r.stdout.contains(", reloaded") => "reloaded",
        () if after.0 != before.0 => "installed",
        () if after.1 != before.1 => "reserved",
        () if after.3.len() > before.3.len() => "rendered",
        () => "early",
    }
}

#[test]
fn random_sigkill_during_forced_runs_never_half_writes_or_reuses_a_serial() {
    let mut s = scene();
    s.restore_tools();
    let mut rng = Rng::new();
    let mut outcomes = Vec::new();
    for i in 0..10 {
        let delay = rng.below(151);
        let before = disk(&s.z);
        let running = s.z.spawn(&["--force"]);
        thread::sleep(Duration::from_millis(delay));
        kill_zonerw(&running);
        let r = running.wait();
        assert!(r.code == 0 || r.code == -1, "iteration {i}\n{r}");
        // Orphaned nsd-control/nsd-checkzone finish in milliseconds; then check the disk.
        s.w.settle(Duration::from_secs(5));
        outcomes.push(format!(
            "{delay}ms:{}",
            stage_reached(&r, &before, &disk(&s.z))
        ));
        s.ledger
            .scan(&s.z, &format!("after iteration {i} ({delay} ms)"));
        let out = Command::new("nsd-checkzone")
            .arg(ZONE)
            .arg(s.z.zone_path(ZONE))
            .output()
            .unwrap();
        assert!(out.status.success(), "iteration {i}: {out:?}");
    }
    eprintln!(
        "iterations: {}; {} temporary files left ({} partly written), {} serials seen",
        outcomes.join(" "),
        disk(&s.z).3.len(),
        s.ledger.partial_temps,
        s.ledger.texts.len()
    );
    s.recover(BACKUP_IP, "after the clean run");
}

// ---------------------------------------------------------------------------
// 2. disk full
// ---------------------------------------------------------------------------

/// An NSD pair whose zones directory is a tmpfs, mounted before NSD starts. Drop stops
/// NSD, then unmounts, then the pair removes its directory.
struct TmpfsPair {
    nsd: NsdPair,
    zones: Option<Tmpfs>,
}

impl TmpfsPair {
    fn new(zones: &[&str]) -> Result<TmpfsPair, String> {
        let nsd = NsdPair::prepare(zones);
        let mount = Tmpfs::mount(&nsd.zones_dir())?;
        let mut pair = TmpfsPair {
            nsd,
            zones: Some(mount),
        };
        for z in zones {
            fs::write(pair.zone_file(z), seed_zone(z, SEED_SERIAL)).unwrap();
        }
        pair.start_both();
        for z in zones {
            pair.wait_primary_serial(z, SEED_SERIAL, PROPAGATE);
            pair.wait_secondary_serial(z, SEED_SERIAL, PROPAGATE);
        }
        Ok(pair)
    }

    fn tmpfs(&self) -> &Tmpfs {
        self.zones.as_ref().unwrap()
    }
}

impl Deref for TmpfsPair {
    type Target = NsdPair;
    fn deref(&self) -> &NsdPair {
        &self.nsd
    }
}

impl DerefMut for TmpfsPair {
    fn deref_mut(&mut self) -> &mut NsdPair {
        &mut self.nsd
    }
}

impl Drop for TmpfsPair {
    fn drop(&mut self) {
        self.nsd.stop_primary();
        self.nsd.stop_secondary();
        self.zones.take();
    }
}

/// The default template plus 60 TXT records: about 6 KB, more than one 4 KiB page.
fn big_template(zone: &str) -> String {
    let mut t = default_template(zone);
    for i in 0..60 {
        t.push_str(&format!(
            "pad{i:02} IN TXT \"zonerw disk-full test padding, record number {i:02}, ....................\"\n"
        ));
    }
    t
}

fn dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_full_disk_fails_the_run_and_keeps_the_old_zone_and_state() {
    let nsd = match TmpfsPair::new(&[ZONE]) {
        Ok(nsd) => nsd,
        Err(why) => {
            eprintln!("SKIPPED: {why}");
            return;
        }
    };
    let main = MainServer::http(Mode::Up);
    let z = Zonerw::new(&nsd, Settings::new(&main.url("/up.txt")));
    let template = big_template(ZONE);
    z.write_template(ZONE, &template);
    let r = z.run(&[]);
    r.expect_ok();
    let s1 = r.new_serial(ZONE);
    nsd.assert_secondary(ZONE, s1, MAIN_IP, PROPAGATE);
    main.set_mode(Mode::Refusing);

    let zone_len = u64::try_from(render(&template, s1, BACKUP_IP).len()).unwrap();
    let old = FileId::of(&z.zone_path(ZONE));
    let state_files = ["state.json", "serials.json", "history.jsonl"];
    let state_before: Vec<_> = state_files
        .iter()
        .map(|f| fs::read(z.state.join(f)).ok())
        .collect();
    // First one page free (the write starts, then fails), then none at all.
    for leave in [4096, 0] {
        let filler = nsd.tmpfs().fill(leave);
        let free = nsd.tmpfs().free();
        assert!(free < zone_len, "{free} bytes free, zone is {zone_len}");
        let r = z.run(&[]);
        r.expect_code(1);
        let what = format!("{free} bytes free");
        let error = format!(
            "zonerw: error: cannot write (a temporary copy of) '{}': No space left on device (os error 28)",
            z.zone_path(ZONE).display()
        );
        assert_text(&what, &r.stderr, &lines!(error), &r);
        assert_text(
            &what,
            &r.stdout,
            &lines!(pending_failover_line(MAIN_IP)),
            &r,
        );
        assert_eq!(
            FileId::of(&z.zone_path(ZONE)),
            old,
            "old zone file touched\n{r}"
        );
        assert_eq!(
            dir_names(&z.zones),
            vec![format!("{ZONE}.zone"), "filler".to_owned()],
            "a temporary file was left behind\n{r}"
        );
        let state_now: Vec<_> = state_files
            .iter()
            .map(|f| fs::read(z.state.join(f)).ok())
            .collect();
        assert_eq!(state_now, state_before, "state changed\n{r}");
        assert_eq!(nsd.primary_serial(ZONE), Some(s1));
        nsd.assert_secondary(ZONE, s1, MAIN_IP, Duration::from_secs(1));
        eprintln!(
            "{free} bytes free: exit 1, old zone kept; stderr: {}",
            r.stderr.trim()
        );
        fs::remove_file(filler).unwrap();
    }

    let r = z.run(&[]);
    r.expect_ok();
    let s2 = s1 + 1;
    r.expect_stdout(&lines!(failover_line(MAIN_IP), zone_line(ZONE, s1, s2)));
    r.expect_stderr("");
    assert_eq!(
        fs::read_to_string(z.zone_path(ZONE)).unwrap(),
        render(&template, s2, BACKUP_IP)
    );
    assert_eq!(dir_names(&z.zones), vec![format!("{ZONE}.zone")]);
    nsd.assert_secondary(ZONE, s2, BACKUP_IP, PROPAGATE);
    let quiet = z.run(&[]);
    quiet.expect_ok();
    assert_eq!(quiet.stdout, "", "{quiet}");
}

/// The commit point itself fails: the zone is installed and reloaded (the failover is
/// live), then the state disk is full. Exit 1, state.json untouched (the history may have
/// gained the run's lines, it never loses any), no temporary file left; the next run adopts the installed zone without a new serial.
#[test]
fn a_full_state_disk_at_the_commit_fails_the_run_and_the_next_run_adopts() {
    let nsd = NsdPair::new(&[ZONE]);
    let main = MainServer::http(Mode::Up);
    let mut z = Zonerw::new(&nsd, Settings::new(&main.url("/up.txt")));
    fs::create_dir_all(&z.state).unwrap();
    let tmpfs = match Tmpfs::mount(&z.state) {
        Ok(t) => t,
        Err(why) => {
            eprintln!("SKIPPED: {why}");
            return;
        }
    };
    let w = Wrappers::new(&nsd);
    let r = z.run(&[]);
    r.expect_ok();
    let s1 = r.new_serial(ZONE);
    nsd.assert_secondary(ZONE, s1, MAIN_IP, PROPAGATE);
    main.set_mode(Mode::Refusing);
    z.settings.control = Some(toml_argv(&w.control_gate_on_reload()));
    z.write_config();
    let files = ["state.json", "history.jsonl"].map(|f| z.state.join(f));
    let before = files.clone().map(|f| fs::read(f).ok());

    let (running, _, _) = w.wait_ready("control.ready", z.spawn(&[]));
    let filler = tmpfs.fill(0);
    fs::write(w.dir.join("go"), "").unwrap();
    let r = running.wait();
    r.expect_code(1);
    r.expect_stderr(&lines!(format!(
        "zonerw: error: cannot write (a temporary copy of) '{}': No space left on device (os error 28)",
        z.state_json().display()
    )));
    // The zone was installed and reloaded; the switch is not committed.
    r.expect_stdout(&lines!(
        pending_failover_line(MAIN_IP),
        zone_line(ZONE, s1, s1 + 1)
    ));
    // state.json is the commit point and must be untouched. The history is appended just
    // before it, so it may have gained this run's lines (the next run appends them again);
    // what was there must still be there.
    let now = files.clone().map(|f| fs::read(f).ok());
    assert_eq!(now[0], before[0], "state.json changed\n{r}");
    let (old, new) = (
        before[1].clone().unwrap_or_default(),
        now[1].clone().unwrap_or_default(),
    );
    assert!(new.starts_with(&old), "history.jsonl lost lines\n{r}");
    let mut names = dir_names(&z.state);
    // The template cache is there once a run found templates 2 s old: timing, not the point.
    names.retain(|n| n != "filler" && n != "templates.json");
    assert_eq!(
        names,
        ["history.jsonl", "lock", "serials.json", "state.json"],
        "{r}"
    );
    let installed = fs::read_to_string(z.zone_path(ZONE)).unwrap();
    let s2 = serial_of(&installed).unwrap();
    assert_eq!(installed, render(&default_template(ZONE), s2, BACKUP_IP));
    nsd.assert_secondary(ZONE, s2, BACKUP_IP, PROPAGATE);

    fs::remove_file(filler).unwrap();
    z.settings.control = Some(toml_argv(&w.control_real()));
    z.write_config();
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stdout(&lines!(
        failover_line(MAIN_IP),
        format!("{ZONE}: serial {s2} already installed, reloaded"),
    ));
    r.expect_stderr("");
    assert_eq!(fs::read_to_string(z.zone_path(ZONE)).unwrap(), installed);
    nsd.assert_secondary(ZONE, s2, BACKUP_IP, PROPAGATE);
    let quiet = z.run(&[]);
    quiet.expect_ok();
    assert_eq!(quiet.stdout, "", "{quiet}");
}

/// When history.jsonl cannot be appended to, the run exits 1 without advancing state.json
/// ("the state was not advanced, so the next run retries", README.md), and the next run
/// records the failover. (This once failed: the state was saved before the history.)
#[test]
fn exit_1_means_the_state_was_not_advanced_even_when_history_cannot_be_written() {
    let mut s = scene();
    let history = s.z.state.join("history.jsonl");
    fs::remove_file(&history).unwrap();
    fs::create_dir(&history).unwrap(); // appending fails with EISDIR
    let before = fs::read(s.z.state_json()).unwrap();
    let r = s.z.run(&[]);
    r.expect_code(1);
    r.expect_stderr(&lines!(format!(
        "zonerw: error: cannot append to '{}': Is a directory (os error 21)",
        history.display()
    )));
    r.expect_stdout(&lines!(
        pending_failover_line(MAIN_IP),
        zone_line(ZONE, s.s1, s.s1 + 1)
    ));
    assert_eq!(
        fs::read(s.z.state_json()).unwrap(),
        before,
        "exit 1, but state.json was advanced\n{r}"
    );
    fs::remove_dir(&history).unwrap();
    s.recover(BACKUP_IP, "after history.jsonl is writable again");
    let text = fs::read_to_string(&history).unwrap_or_default();
    assert!(
        text.contains("\"event\":\"switch\""),
        "history lost the failover: {text:?}"
    );
}
