//! Fail over when it matters: output that cannot be written, templates that would lie about
//! the serial or load differently in NSD, installed files that are not zone files, and one
//! broken template among sound ones. Each against a real NSD primary and secondary on
//! loopback: what matters is what the *secondary* serves.

use std::fs;
use std::net::Ipv4Addr;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

const OTHER: &str = "other.test";

/// Breaks the template of `OTHER` (given the harness, its path and a second path); returns
/// the error zonerw must print (after `zonerw: error: `).
type Break = fn(&Zonerw, &Path, &Path) -> String;

/// Start zonerw with `-c config` and the given stdout/stderr (cwd "/", own process
/// group); `in_child` runs between fork and exec (it must only make system calls).
fn spawn_with(z: &Zonerw, stdout: Stdio, stderr: Stdio, in_child: Option<fn()>) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zonerw"));
    command
        .args(["-c", z.config.to_str().unwrap()])
        .current_dir("/")
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0);
    if let Some(in_child) = in_child {
        // SAFETY: `in_child` only makes async-signal-safe system calls (close, signal).
        unsafe {
            command.pre_exec(move || {
                in_child();
                Ok(())
            });
        }
    }
    command.spawn().expect("spawn zonerw")
}

/// Wait for `child` up to `limit`; past it, kill its process group and fail the test.
/// Returns the exit code (128 + signal for a signal).
fn wait_bounded(mut child: Child, limit: Duration) -> i32 {
    let Some(status) = poll(limit, || child.try_wait().unwrap()) else {
        // SAFETY: the process group of the child we started.
        unsafe {
            libc::kill(-child.id().cast_signed(), libc::SIGKILL);
        }
        let _ = child.wait();
        panic!("zonerw ran longer than {limit:?}");
    };
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Toggle the main server between up and refusing; the address www gets after a run.
fn flip(main: &MainServer) -> Ipv4Addr {
    if main.mode() == Mode::Up {
        main.set_mode(Mode::Refusing);
        BACKUP_IP
    } else {
        main.set_mode(Mode::Up);
        MAIN_IP
    }
}

/// The switch line of the run after `flip` returned `www`.
fn switch_to(www: Ipv4Addr) -> String {
    if www == BACKUP_IP {
        failover_line(MAIN_IP)
    } else {
        "web: backup (198.51.100.7) -> main (127.0.0.1): main healthy again (1 good run, rise 1)"
            .to_owned()
    }
}

/// Make a FIFO at `path`.
fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

/// NSD pair with `zones`, main up, metrics on, and an on-change hook that appends
/// `$ZONERW_TO` to `hook.log` in the pair's directory.
fn setup_failover(zones: &[&str]) -> (NsdPair, MainServer, Zonerw) {
    let nsd = NsdPair::new(zones);
    let main = MainServer::http(Mode::Up);
    let hook = nsd.dir.join("hook");
    script(
        &hook,
        &format!(
            "echo \"$ZONERW_TO\" >> '{}'\n",
            nsd.dir.join("hook.log").display()
        ),
    );
    let mut settings = Settings::new(&main.url("/up.txt"));
    settings.extra_tables = format!(
        "[metrics]\ntextfile = \"zonerw.prom\"\n\n[hooks]\non-change = [\"{}\"]\n",
        hook.display()
    );
    let z = Zonerw::new(&nsd, settings);
    (nsd, main, z)
}

/// A failed write to stdout or stderr never changes what a run does: with stdout on
/// /dev/full, on a pipe whose reader is gone, or closed altogether, the failover is applied,
/// committed and served, the hook runs, and the metrics are written.
#[test]
fn unwritable_output_never_stops_a_failover() {
    type Outputs = fn() -> (Stdio, Stdio, bool, &'static str);
    let cases: [Outputs; 3] = [
        || {
            let full = || {
                fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .unwrap()
            };
            (full().into(), full().into(), false, "/dev/full")
        },
        || {
            // Both readers dropped at once: every write gets EPIPE (and SIGPIPE).
            let (r1, w1) = std::io::pipe().unwrap();
            let (r2, w2) = std::io::pipe().unwrap();
            drop((r1, r2));
            (w1.into(), w2.into(), false, "a closed pipe")
        },
        || (Stdio::null(), Stdio::null(), true, "closed descriptors"),
    ];
    for case in cases {
        let (nsd, main, z) = setup_failover(&[ZONE]);
        let first = z.run(&[]);
        first.expect_ok();
        let s1 = first.new_serial(ZONE);
        nsd.assert_secondary(ZONE, s1, MAIN_IP, PROPAGATE);
        main.set_mode(Mode::Refusing);
        let metrics = z.dir.join("zonerw.prom");
        fs::remove_file(&metrics).unwrap();

        let (stdout, stderr, close, what) = case();
        let close_std: fn() = || {
            // SAFETY: close(2) has no memory-safety preconditions.
            unsafe {
                libc::close(1);
                libc::close(2);
            }
        };
        let start = Instant::now();
        let child = spawn_with(&z, stdout, stderr, close.then_some(close_std));
        let code = wait_bounded(child, Duration::from_mins(1));
        let elapsed = start.elapsed();
        assert_eq!(code, 0, "stdout and stderr on {what}: exit {code}");
        let state = fs::read_to_string(z.state_json()).unwrap();
        assert!(
            state.contains("\"chosen\": \"backup\""),
            "{what}: state not committed: {state}"
        );
        let served = poll(PROPAGATE, || nsd.secondary_serial(ZONE).filter(|s| *s > s1));
        assert!(served.is_some(), "{what}: no new serial on the secondary");
        assert_eq!(nsd.secondary_www(ZONE), vec![BACKUP_IP], "{what}");
        let text = fs::read_to_string(&metrics).unwrap_or_default();
        assert!(
            text.contains("zonerw_last_run_success 1"),
            "{what}: metrics not written: {text:?}"
        );
        let hooked = fs::read_to_string(z.dir.join("hook.log")).unwrap_or_default();
        assert_eq!(hooked, "backup\n", "{what}: the hook did not run once");
        fs::remove_file(z.dir.join("hook.log")).unwrap();
        // No message leaked into a file zonerw opened in place of a closed descriptor.
        let zone = fs::read_to_string(z.zone_path(ZONE)).unwrap();
        assert!(!zone.contains("->"), "{what}: output in the zone file");
        eprintln!("stdout and stderr on {what}: exit 0 after {elapsed:?}, failover served");
    }
}

/// A template whose SOA serial is a literal number, or whose `@serial@` sits only in a
/// comment, is a template error (`FILE:LINE`, exit 2): before, its changes went out with the
/// same or a lower serial that no secondary transfers. The sound zone beside it fails over.
#[test]
fn a_literal_serial_is_a_template_error_and_holds_only_its_zone() {
    let (nsd, main, z) = setup_failover(&[ZONE, OTHER]);
    let first = z.run(&[]);
    first.expect_ok();
    let s1 = first.new_serial(ZONE);
    let o1 = first.new_serial(OTHER);
    nsd.assert_secondary(OTHER, o1, MAIN_IP, PROPAGATE);
    let installed = FileId::of(&z.zone_path(OTHER));

    let literal = default_template(OTHER).replace("@serial@ ; serial", "2025010101 ; serial");
    let in_comment =
        default_template(OTHER).replace("@serial@ ; serial", "2025010101 ; serial @serial@");
    let mut serial = s1;
    for (template, what) in [(literal, "literal"), (in_comment, "in a comment")] {
        z.write_template(OTHER, &template);
        let www = flip(&main);
        let r = z.run(&[]);
        r.expect_code(2);
        let want = format!(
            "zonerw: error: {}:4: the SOA serial is the literal 2025010101; write @serial@ in its place (zonerw owns the serial, and a fixed one would hide changes from the secondaries)",
            z.template_path(OTHER).display()
        );
        assert_text(&format!("{what}: stderr"), &r.stderr, &lines!(want), &r);
        // The sound zone switched and is served; the broken one was not touched.
        let s = serial + 1;
        assert_text(
            &format!("{what}: stdout"),
            &r.stdout,
            &lines!(switch_to(www), zone_line(ZONE, serial, s)),
            &r,
        );
        serial = s;
        nsd.assert_secondary(ZONE, s, www, PROPAGATE);
        assert_eq!(FileId::of(&z.zone_path(OTHER)), installed, "{what}");
        assert_eq!(nsd.secondary_serial(OTHER), Some(o1));
    }
    // Fixed, and main down again: the zone catches up with a newer serial.
    z.write_template(OTHER, &default_template(OTHER));
    main.set_mode(Mode::Refusing);
    let r = z.run(&[]);
    r.expect_ok();
    let o2 = o1 + 1;
    r.expect_stdout(&lines!(
        switch_to(BACKUP_IP),
        zone_line(ZONE, serial, serial + 1),
        zone_line(OTHER, o1, o2),
    ));
    r.expect_stderr("");
    nsd.assert_secondary(OTHER, o2, BACKUP_IP, PROPAGATE);
}

/// `$INCLUDE` is refused (`FILE:LINE`, exit 2): nsd-checkzone resolved a relative include
/// from zonerw's working directory, NSD from elsewhere, so a checked zone went SERVFAIL.
/// NSD keeps serving the old zone, and the other zone is applied.
#[test]
fn include_is_refused_and_nsd_keeps_serving_the_old_zone() {
    let (nsd, main, z) = setup_failover(&[ZONE, OTHER]);
    let first = z.run(&[]);
    first.expect_ok();
    let s1 = first.new_serial(ZONE);
    let o1 = first.new_serial(OTHER);
    fs::write(z.templates.join("extra.inc"), "extra IN A 192.0.2.77\n").unwrap();
    fs::write(z.dir.join("extra.inc"), "extra IN A 192.0.2.77\n").unwrap();
    z.write_template(
        OTHER,
        &format!("{}$INCLUDE extra.inc\n", default_template(OTHER)),
    );
    main.set_mode(Mode::Refusing);
    let r = z.run(&[]);
    r.expect_code(2);
    r.expect_stderr(&lines!(format!(
        "zonerw: error: {}:9: $INCLUDE is not supported: NSD would resolve the included file elsewhere than the check before installing did, so the zone it loads could differ from the one checked; put those records into the template itself",
        z.template_path(OTHER).display()
    )));
    r.expect_stdout(&lines!(switch_to(BACKUP_IP), zone_line(ZONE, s1, s1 + 1)));
    nsd.assert_secondary(ZONE, s1 + 1, BACKUP_IP, PROPAGATE);
    assert_eq!(nsd.primary_serial(OTHER), Some(o1), "{}", nsd.diagnostics());
    assert_eq!(
        soa_rcode(nsd.primary.port, OTHER),
        Some(domain::base::iana::Rcode::NOERROR)
    );
    assert_eq!(nsd.secondary_serial(OTHER), Some(o1));
}

/// A broken template (unknown marker, invalid UTF-8, two templates for one zone) skips only
/// its own zone: every sound zone is applied, each error is printed with its file (and
/// line), and the run exits 2 at the end. The broken zone's state is kept.
#[test]
fn one_broken_template_holds_only_itself() {
    let (nsd, main, z) = setup_failover(&[ZONE, OTHER]);
    let first = z.run(&[]);
    first.expect_ok();
    let mut serial = first.new_serial(ZONE);
    let o1 = first.new_serial(OTHER);
    let installed = FileId::of(&z.zone_path(OTHER));
    let other_template = z.template_path(OTHER);
    let upper = z.templates.join("OTHER.test.zone");

    let breaks: [(&str, Break); 3] = [
        ("unknown marker", |z, t, _| {
            z.write_template(
                OTHER,
                &format!("{}mail IN A @IPV4@\n", default_template(OTHER)),
            );
            format!("{}:9: unknown marker @IPV4@", t.display())
        }),
        ("invalid UTF-8", |_, t, _| {
            let mut bytes = default_template(OTHER).into_bytes();
            bytes.extend(b"x IN TXT \"\xff\"\n");
            fs::write(t, bytes).unwrap();
            format!("{}:9: not valid UTF-8", t.display())
        }),
        ("two templates for one zone", |z, t, upper| {
            z.write_template(OTHER, &default_template(OTHER));
            fs::write(upper, default_template(OTHER)).unwrap();
            format!(
                "{}: zone OTHER.test has more than one template: this file and '{}' (DNS names ignore case, and .zone and ..zone are both the root); none of them is used until only one is left",
                upper.display(),
                t.display()
            )
        }),
    ];
    let mut www = MAIN_IP;
    for (what, breaking) in breaks {
        let want = breaking(&z, &other_template, &upper);
        www = flip(&main);
        let r = z.run(&[]);
        r.expect_code(2);
        let error = format!("zonerw: error: {want}");
        assert_text(&format!("{what}: stderr"), &r.stderr, &lines!(error), &r);
        let s = serial + 1;
        assert_text(
            &format!("{what}: stdout"),
            &r.stdout,
            &lines!(switch_to(www), zone_line(ZONE, serial, s)),
            &r,
        );
        serial = s;
        nsd.assert_secondary(ZONE, s, www, PROPAGATE);
        assert_eq!(FileId::of(&z.zone_path(OTHER)), installed, "{what}");
        assert_eq!(nsd.secondary_serial(OTHER), Some(o1), "{what}");
        let state = fs::read_to_string(z.state_json()).unwrap();
        assert!(
            state.contains(&format!("\"{OTHER}\"")),
            "{what}: the broken zone's state was dropped: {state}"
        );
        eprintln!("{what}: exit 2, {ZONE} served with {www}, {OTHER} untouched");
    }
    fs::remove_file(&upper).unwrap();
    let r = z.run(&[]);
    r.expect_ok();
    let o2 = o1 + 1;
    r.expect_stdout(&lines!(zone_line(OTHER, o1, o2)));
    r.expect_stderr("");
    nsd.assert_secondary(OTHER, o2, www, PROPAGATE);
}

/// An installed zone file that is a FIFO (reading it would block forever, with the lock
/// held) or a link to /dev/zero (reading it never ends) is never read: the run ends at once
/// and replaces it with a regular file, which NSD serves.
#[test]
fn an_installed_fifo_or_device_link_is_replaced_without_being_read() {
    let (nsd, main, z) = setup_failover(&[ZONE]);
    let first = z.run(&[]);
    first.expect_ok();
    let mut serial = first.new_serial(ZONE);
    let path = z.zone_path(ZONE);
    for what in ["a FIFO", "a symbolic link"] {
        fs::remove_file(&path).unwrap();
        if what == "a FIFO" {
            mkfifo(&path);
        } else {
            std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
        }
        let www = flip(&main);
        let r = z.run(&[]);
        r.expect_ok();
        assert!(r.elapsed < Duration::from_secs(10), "{what}: {r}");
        let want = format!(
            "zonerw: warning: {ZONE}: '{}' is {what}, not a zone file; it is not read, and is replaced",
            path.display()
        );
        assert_text(&format!("{what}: stderr"), &r.stderr, &lines!(want), &r);
        let s = serial + 1;
        assert_text(
            &format!("{what}: stdout"),
            &r.stdout,
            &lines!(switch_to(www), zone_line(ZONE, serial, s)),
            &r,
        );
        serial = s;
        let meta = fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_file(), "{what} not replaced");
        nsd.assert_secondary(ZONE, s, www, PROPAGATE);
        eprintln!("{what}: replaced in {:?}", r.elapsed);
    }
}

/// A switch whose run failed (NSD down: exit 1, nothing committed) is printed as pending on
/// every retry, never as done; once a run commits it, the plain change line appears.
#[test]
fn an_uncommitted_switch_is_printed_as_pending() {
    let (mut nsd, main, z) = setup_failover(&[ZONE]);
    let first = z.run(&[]);
    first.expect_ok();
    let s1 = first.new_serial(ZONE);
    nsd.stop_primary();
    main.set_mode(Mode::Refusing);
    let pending = pending_failover_line(MAIN_IP);
    for attempt in 1..=2 {
        let r = z.run(&[]);
        r.expect_code(1);
        let what = format!("attempt {attempt}");
        assert_text(&what, &r.stdout, &lines!(pending), &r);
        let error = format!(
            "zonerw: error: 'nsd-control -c {} reload {ZONE}' failed (exit status: 1): {{...}}",
            nsd.primary.conf.display()
        );
        let fix = "zonerw: fix: nothing answers on NSD's control interface {...}";
        assert_text(&what, &r.stderr, &lines!(error, fix), &r);
    }
    nsd.start_primary();
    let r = z.run(&[]);
    r.expect_ok();
    // Done now; the file the failed runs installed is adopted.
    r.expect_stdout(&lines!(
        switch_to(BACKUP_IP),
        format!("{ZONE}: serial {} already installed, reloaded", s1 + 1),
    ));
    r.expect_stderr("");
    let served = poll(PROPAGATE, || {
        (nsd.secondary_www(ZONE) == vec![BACKUP_IP]).then_some(())
    });
    assert!(served.is_some(), "{r}\n{}", nsd.diagnostics());
}

/// Write an executable shell script.
fn script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// An `nsd-checkzone` that hangs past `nsd.timeout` is reported by the template it checked,
/// not by the temporary file (deleted by the time the message is read); the zone is not
/// installed and NSD keeps serving the old one.
#[test]
fn a_checkzone_timeout_names_the_template() {
    let nsd = NsdPair::new(&[ZONE]);
    let main = MainServer::http(Mode::Up);
    let checker = nsd.dir.join("checkzone-hang");
    // `exec` keeps the pid: the process group zonerw kills is the sleep itself.
    script(&checker, "exec sleep 30\n");
    let mut settings = Settings::new(&main.url("/up.txt"));
    settings.checkzone = Some(checker.display().to_string());
    let z = Zonerw::new(&nsd, settings);
    let text = z
        .config_text()
        .replace("timeout = \"10s\"", "timeout = \"1s\"");
    fs::write(&z.config, text).unwrap();
    let r = z.run(&[]);
    r.expect_code(1);
    // It names the template, not the temporary file.
    r.expect_stderr(&lines!(format!(
        "zonerw: error: {ZONE}: '{} {ZONE}' on the zone rendered from '{}' did not finish within 1s and was killed; it was not installed and NSD keeps serving the old zone",
        checker.display(),
        z.template_path(ZONE).display()
    )));
    r.expect_stdout("");
    assert!(r.elapsed < Duration::from_secs(5), "{r}");
    assert_eq!(
        fs::read_to_string(z.zone_path(ZONE)).unwrap(),
        seed_zone(ZONE, SEED_SERIAL)
    );
    assert_eq!(nsd.secondary_serial(ZONE), Some(SEED_SERIAL));
}

/// A hook that fails without printing anything gets a warning that ends with its exit
/// status, not with a dangling ": "; the switch stays committed and served.
#[test]
fn a_silent_failing_hook_ends_its_warning_cleanly() {
    let nsd = NsdPair::new(&[ZONE]);
    let main = MainServer::http(Mode::Up);
    let hook = nsd.dir.join("hook-silent");
    script(&hook, "exit 3\n");
    let mut settings = Settings::new(&main.url("/up.txt"));
    settings.extra_tables = format!("[hooks]\non-change = [\"{}\"]\n", hook.display());
    let z = Zonerw::new(&nsd, settings);
    let s1 = first_run(&nsd, &z, MAIN_IP);
    main.set_mode(Mode::Refusing);
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stderr(&lines!(format!(
        "zonerw: warning: on-change hook '{}' failed: exit status: 3",
        hook.display()
    )));
    r.expect_stdout(&lines!(switch_to(BACKUP_IP), zone_line(ZONE, s1, s1 + 1)));
    nsd.assert_secondary(ZONE, s1 + 1, BACKUP_IP, PROPAGATE);
}

/// A template that is a dangling link or a FIFO is a template error of its zone (exit 2,
/// naming it), not a silent skip that dropped the zone's state; reading it never blocks.
/// The other zone fails over.
#[test]
fn a_template_that_is_not_a_file_is_a_template_error() {
    let (nsd, main, z) = setup_failover(&[ZONE, OTHER]);
    let first = z.run(&[]);
    first.expect_ok();
    let mut serial = first.new_serial(ZONE);
    let o1 = first.new_serial(OTHER);
    let installed = FileId::of(&z.zone_path(OTHER));
    let template = z.template_path(OTHER);
    let cases = [
        (
            "a dangling link",
            "cannot read template: it is a link to a file that does not exist",
        ),
        ("a FIFO", "it is a FIFO, not a template file"),
    ];
    let mut www = MAIN_IP;
    for (what, message) in cases {
        fs::remove_file(&template).unwrap();
        if what == "a FIFO" {
            mkfifo(&template);
        } else {
            std::os::unix::fs::symlink(z.dir.join("unmounted/other.zone"), &template).unwrap();
        }
        www = flip(&main);
        let r = z.run(&[]);
        r.expect_code(2);
        let want = format!("zonerw: error: {}: {message}", template.display());
        assert_text(&format!("{what}: stderr"), &r.stderr, &lines!(want), &r);
        let s = serial + 1;
        assert_text(
            &format!("{what}: stdout"),
            &r.stdout,
            &lines!(switch_to(www), zone_line(ZONE, serial, s)),
            &r,
        );
        serial = s;
        nsd.assert_secondary(ZONE, s, www, PROPAGATE);
        assert_eq!(FileId::of(&z.zone_path(OTHER)), installed, "{what}");
        let state = fs::read_to_string(z.state_json()).unwrap();
        assert!(
            state.contains(&format!("\"{OTHER}\"")),
            "{what}: state dropped"
        );
    }
    // A link to a regular file is a template like any other.
    fs::remove_file(&template).unwrap();
    let real = z.dir.join("other.test.zone.real");
    fs::write(&real, default_template(OTHER)).unwrap();
    std::os::unix::fs::symlink(&real, &template).unwrap();
    assert_eq!(www, MAIN_IP);
    main.set_mode(Mode::Refusing);
    let r = z.run(&[]);
    r.expect_ok();
    let o2 = o1 + 1;
    r.expect_stdout(&lines!(
        switch_to(BACKUP_IP),
        zone_line(ZONE, serial, serial + 1),
        zone_line(OTHER, o1, o2),
    ));
    r.expect_stderr("");
    nsd.assert_secondary(OTHER, o2, BACKUP_IP, PROPAGATE);
}

/// A run started with SIGHUP ignored (`nohup`, a shell's `trap '' HUP`) keeps ignoring it:
/// closing the terminal does not stop the failover half-way.
#[test]
fn an_ignored_sighup_does_not_stop_a_run() {
    let nsd = NsdPair::new(&[ZONE]);
    let main = MainServer::http(Mode::Refusing);
    let checker = nsd.dir.join("checkzone-slow");
    let ready = nsd.dir.join("checkzone.ready");
    script(
        &checker,
        &format!(
            "touch '{}'\nsleep 1\nexec nsd-checkzone \"$@\"\n",
            ready.display()
        ),
    );
    let mut settings = Settings::new(&main.url("/up.txt"));
    settings.checkzone = Some(checker.display().to_string());
    let z = Zonerw::new(&nsd, settings);
    let nohup: fn() = || {
        // SAFETY: signal(2) between fork and exec, as nohup does.
        unsafe {
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
        }
    };
    let child = spawn_with(&z, Stdio::null(), Stdio::null(), Some(nohup));
    let pid = child.id().cast_signed();
    assert!(poll(Duration::from_secs(10), || ready.exists().then_some(())).is_some());
    // SAFETY: signalling the zonerw we started.
    unsafe {
        libc::kill(pid, libc::SIGHUP);
    }
    assert_eq!(wait_bounded(child, Duration::from_secs(30)), 0);
    let served = poll(PROPAGATE, || {
        (nsd.secondary_www(ZONE) == vec![BACKUP_IP]).then_some(())
    });
    assert!(served.is_some(), "{}", nsd.diagnostics());
}
