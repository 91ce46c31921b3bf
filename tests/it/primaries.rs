//! Knot DNS 3.2 and BIND 9.18 as the *primary* (`[server] kind = "knot" | "bind"`), with a
//! real NSD secondary transferring from it, on loopback: failover and failback, broken
//! templates, back-to-back runs, zones added at run time, `[verify]`, the servers' traps
//! (notes/SERVERS.md lists them, each with the test that covers it) and `zonerw check`.
//!
//! Each test has its own `/tmp/zrwXXXXXX` directory: `primary/` is where the primary loads
//! zone files from (zonerw's `zones`, also the daemon's configs, socket and databases),
//! `secondary/` the NSD secondary's. The daemons run as our children in their own process
//! groups and are stopped by pid in `Drop`, also when a test panics.
//!
//! The main server listens on 127.0.0.3 (as in `guard_verify.rs`): the NSD secondary is on
//! 127.0.0.1, and zonerw does not wait for a secondary on the address of a server that is
//! down.
//!
//! Without knotd/knotc/kzonecheck (Knot) or named/rndc/named-checkzone/tsig-keygen (BIND)
//! the tests fail, unless `ZONERW_SKIP_PRIMARIES=1` says to skip them.

use std::fs;
use std::net::Ipv4Addr;
use std::ops::Deref;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use domain::base::iana::{Rcode, Rtype};

use crate::support::*;

/// Address of server `main` in these tests (the local HTTP server listens there).
const MAIN3: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
/// The failback line after one good run (rise 1).
const FAILBACK3: &str =
    "web: backup (198.51.100.7) -> main (127.0.0.3): main healthy again (1 good run, rise 1)";
/// A record that only a changed template has.
const EXTRA_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 55);
/// A zone that only appears at run time.
const NEW: &str = "new.test";
/// How long a daemon may take to start serving (2 cores shared with ~140 tests).
const START: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------
// The primary: Knot or BIND
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Knot,
    Bind,
}

impl Kind {
    /// `[server] kind`.
    fn name(self) -> &'static str {
        match self {
            Kind::Knot => "knot",
            Kind::Bind => "bind",
        }
    }

    /// The programs the primary of this kind needs (the daemon, its control tool and
    /// checker, and for BIND the key generator).
    fn tools(self) -> &'static [&'static str] {
        match self {
            Kind::Knot => &["knotd", "knotc", "kzonecheck"],
            Kind::Bind => &["named", "rndc", "named-checkzone", "tsig-keygen"],
        }
    }
}

/// Whether the tools of `kind` are installed. Without them the test fails (a primaries
/// test that passes without a primary proves nothing), unless `ZONERW_SKIP_PRIMARIES=1`
/// says to skip it.
fn available(kind: Kind, test: &str) -> bool {
    let path = search_path();
    let missing: Vec<&str> = kind
        .tools()
        .iter()
        .chain(["nsd", "nsd-control"].iter())
        .copied()
        .filter(|tool| {
            !path.split(':').any(|dir| {
                !dir.is_empty()
                    && fs::metadata(Path::new(dir).join(tool)).is_ok_and(|m| {
                        use std::os::unix::fs::PermissionsExt;
                        m.is_file() && m.permissions().mode() & 0o111 != 0
                    })
            })
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("ZONERW_SKIP_PRIMARIES").is_some_and(|v| v == "1"),
        "{test}: {missing:?} not installed (apt-get install knot knot-dnsutils \
         knot-dnssecutils bind9 bind9-utils), or set ZONERW_SKIP_PRIMARIES=1 to skip the \
         Knot/BIND primary tests"
    );
    eprintln!("{test}: skipped (ZONERW_SKIP_PRIMARIES=1): {missing:?} not installed");
    false
}

/// How the primary is configured.
#[derive(Clone, Debug, Default)]
struct Opts {
    /// Knot: `dnssec-signing: on` in the templates; BIND: `dnssec-policy default;
    /// inline-signing yes;` in every zone.
    signing: bool,
    /// Knot: settings of the recommended three (`zonefile-sync`, `zonefile-load`,
    /// `journal-content`) left out of the templates, so that Knot's default applies.
    knot_omit: &'static [&'static str],
    /// BIND: more text in every zone statement (e.g. `allow-update { 127.0.0.1; };`).
    bind_zone_extra: &'static str,
}

/// The Knot or BIND daemon, in `dir` (= zonerw's zones directory).
struct Primary {
    kind: Kind,
    dir: PathBuf,
    port: u16,
    /// BIND's rndc port (unused for Knot).
    control_port: u16,
    proc: Option<Group>,
}

impl Primary {
    fn conf(&self) -> PathBuf {
        self.dir.join(match self.kind {
            Kind::Knot => "knot.conf",
            Kind::Bind => "named.conf",
        })
    }

    fn log(&self) -> PathBuf {
        self.dir.join(match self.kind {
            Kind::Knot => "knot.log",
            Kind::Bind => "named.log",
        })
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("knot.sock")
    }

    fn rndc_conf(&self) -> PathBuf {
        self.dir.join("rndc.conf")
    }

    /// `[server] control`: the control tool and its arguments before the command.
    fn control_argv(&self) -> Vec<String> {
        match self.kind {
            Kind::Knot => vec![
                "knotc".into(),
                "-s".into(),
                self.socket().display().to_string(),
            ],
            Kind::Bind => vec![
                "rndc".into(),
                "-c".into(),
                self.rndc_conf().display().to_string(),
            ],
        }
    }

    /// Run the control tool (`knotc -s SOCK ARGS` / `rndc -c CONF ARGS`).
    fn control(&self, args: &[&str]) -> Output {
        let tool = self.control_argv();
        let mut cmd = Command::new(&tool[0]);
        cmd.args(&tool[1..]);
        if self.kind == Kind::Knot {
            cmd.args(["-t", "5"]);
        }
        cmd.args(args)
            .env("PATH", search_path())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", tool[0]))
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        assert!(self.proc.is_none(), "primary already running");
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("daemon.stderr"))?;
        let mut cmd = match self.kind {
            Kind::Knot => {
                let mut c = Command::new("knotd");
                c.arg("-c").arg(self.conf());
                c
            }
            Kind::Bind => {
                let mut c = Command::new("named");
                c.args(["-f", "-4", "-c"]).arg(self.conf());
                c
            }
        };
        let child = cmd
            .env("PATH", search_path())
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0)
            .spawn()?;
        self.proc = Some(Group { child });
        Ok(())
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.proc
            .as_mut()
            .and_then(|g| g.child.try_wait().ok().flatten())
    }

    /// Did the daemon say that its DNS or control port is taken?
    fn port_taken(&self) -> bool {
        let log = fs::read_to_string(self.log()).unwrap_or_default()
            + &fs::read_to_string(self.dir.join("daemon.stderr")).unwrap_or_default();
        log.contains("address in use") || log.contains("already in use")
    }

    /// Stop the way an operator would (`knotc stop` / `rndc stop`), then make sure by pid.
    fn stop(&mut self) {
        if self.proc.is_none() {
            return;
        }
        let out = self.control(&["stop"]);
        let mut g = self.proc.take().expect("running");
        if !out.status.success() {
            g.terminate(false);
        }
        g.wait_gone(Duration::from_secs(10));
    }

    fn diagnostics(&self) -> String {
        format!(
            "--- {} primary log ({}) ---\n{}\n--- stderr ---\n{}",
            self.kind.name(),
            self.log().display(),
            tail(&self.log(), 40),
            tail(&self.dir.join("daemon.stderr"), 10)
        )
    }
}

/// The zone file zonerw writes for `zone` in the primary's directory.
fn zone_file(dir: &Path, zone: &str) -> PathBuf {
    dir.join(format!("{zone}.zone"))
}

// ---------------------------------------------------------------------------
// The setup: primary + NSD secondary
// ---------------------------------------------------------------------------

/// A private Knot or BIND primary and an NSD secondary transferring from it.
struct Setup {
    kind: Kind,
    opts: Opts,
    dir: PathBuf,
    zones: Vec<String>,
    primary: Primary,
    secondary: Nsd,
    tmp: Option<tempfile::TempDir>,
}

impl Setup {
    /// Seed zones (serial 1, www = 192.0.2.99) for every zone, both servers started, and
    /// the secondary serving what the primary serves.
    fn new(kind: Kind, zones: &[&str], opts: Opts) -> Setup {
        let tmp = tempfile::Builder::new()
            .prefix("zrw")
            .rand_bytes(6)
            .tempdir_in("/tmp")
            .expect("create temp dir");
        let dir = tmp.path().to_path_buf();
        for sub in ["primary", "secondary", "templates"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let mut s = Setup {
            kind,
            opts,
            zones: zones.iter().map(ToString::to_string).collect(),
            primary: Primary {
                kind,
                dir: dir.join("primary"),
                port: 0,
                control_port: 0,
                proc: None,
            },
            secondary: Nsd {
                name: "secondary",
                dir: dir.join("secondary"),
                conf: dir.join("secondary/nsd.conf"),
                log: dir.join("secondary/nsd.log"),
                port: 0,
                proc: None,
            },
            dir,
            tmp: Some(tmp),
        };
        assert!(
            s.primary.socket().as_os_str().len() < 100,
            "control socket path too long"
        );
        for z in zones {
            fs::write(zone_file(&s.primary.dir, z), seed_zone(z, SEED_SERIAL)).unwrap();
        }
        if kind == Kind::Bind {
            let out = Command::new("tsig-keygen")
                .args(["-a", "hmac-sha256", "rndc-key"])
                .env("PATH", search_path())
                .output()
                .expect("run tsig-keygen");
            assert!(out.status.success(), "tsig-keygen: {out:?}");
            fs::write(s.primary.dir.join("rndc.key"), out.stdout).unwrap();
        }
        s.start_both();
        for z in zones {
            let served = s.wait_primary(z, SEED_SERIAL, START);
            // Twenty first transfers at once can meet the primary's limit on transfers out
            // (BIND: 10), and NSD then waits the SOA retry (600 s): ask again after 3 s.
            let port = s.secondary.port;
            if poll(Duration::from_secs(3), || {
                soa_serial(port, z).filter(|&x| x >= served)
            })
            .is_none()
            {
                let out = s.secondary_control(&["force_transfer", z]);
                assert!(
                    out.status.success(),
                    "nsd-control force_transfer {z}: {out:?}"
                );
            }
            s.wait_secondary(z, served, START);
        }
        s
    }

    fn pick_ports(&mut self) {
        // Logs of an attempt that found a port taken would say so again.
        for file in [
            self.primary.log(),
            self.primary.dir.join("daemon.stderr"),
            self.secondary.log.clone(),
            self.secondary.dir.join("nsd.stderr"),
        ] {
            let _ = fs::remove_file(file);
        }
        self.primary.port = free_dns_port();
        self.primary.control_port = free_dns_port();
        self.secondary.port = free_dns_port();
        self.write_configs();
    }

    fn write_configs(&self) {
        let p = &self.primary;
        let pd = p.dir.display();
        let conf = match self.kind {
            Kind::Knot => {
                fs::create_dir_all(p.dir.join("db")).unwrap();
                let mut settings = String::new();
                for (key, value) in [
                    ("zonefile-sync", "-1"),
                    ("zonefile-load", "whole"),
                    ("journal-content", "none"),
                ] {
                    if !self.opts.knot_omit.contains(&key) {
                        settings.push_str(&format!("    {key}: {value}\n"));
                    }
                }
                if self.opts.signing {
                    settings.push_str("    dnssec-signing: on\n");
                }
                let template = |id: &str| {
                    format!(
                        "  - id: {id}\n    storage: \"{pd}\"\n    file: \"%s.zone\"\n    notify: secondary\n    acl: xfr_to_secondary\n{settings}"
                    )
                };
                let mut t = format!(
                    "server:\n    listen: 127.0.0.1@{port}\n    rundir: \"{pd}\"\n    pidfile: \"{pd}/knot.pid\"\n\ncontrol:\n    listen: \"{sock}\"\n\ndatabase:\n    storage: \"{pd}/db\"\n\nlog:\n  - target: \"{pd}/knot.log\"\n    any: info\n\nremote:\n  - id: secondary\n    address: 127.0.0.1@{sport}\n\nacl:\n  - id: xfr_to_secondary\n    address: 127.0.0.1\n    action: transfer\n\ntemplate:\n{default}{zonerw}\nzone:\n",
                    port = p.port,
                    sock = p.socket().display(),
                    sport = self.secondary.port,
                    default = template("default"),
                    zonerw = template("zonerw"),
                );
                for z in &self.zones {
                    t.push_str(&format!("  - domain: {z}\n"));
                }
                t
            }
            Kind::Bind => {
                fs::write(
                    p.rndc_conf(),
                    format!(
                        "include \"{pd}/rndc.key\";\noptions {{ default-key \"rndc-key\"; default-server 127.0.0.1; default-port {}; }};\n",
                        p.control_port
                    ),
                )
                .unwrap();
                let mut zone_extra = String::new();
                if self.opts.signing {
                    zone_extra.push_str(" dnssec-policy default; inline-signing yes;");
                }
                if !self.opts.bind_zone_extra.is_empty() {
                    zone_extra.push(' ');
                    zone_extra.push_str(self.opts.bind_zone_extra);
                }
                let mut t = format!(
                    "include \"{pd}/rndc.key\";\ncontrols {{ inet 127.0.0.1 port {cport} allow {{ 127.0.0.1; }} keys {{ \"rndc-key\"; }}; }};\noptions {{\n    directory \"{pd}\";\n    pid-file \"{pd}/named.pid\";\n    session-keyfile \"{pd}/session.key\";\n    managed-keys-directory \"{pd}\";\n    listen-on port {port} {{ 127.0.0.1; }};\n    listen-on-v6 {{ none; }};\n    recursion no;\n    dnssec-validation no;\n    notify explicit;\n    notify-delay 0;\n    notify-rate 1000;\n    also-notify {{ 127.0.0.1 port {sport}; }};\n    allow-transfer {{ 127.0.0.1; }};\n    allow-new-zones yes;\n}};\nlogging {{\n    channel log {{ file \"{pd}/named.log\"; print-time iso8601-utc; severity info; print-category yes; }};\n    category default {{ log; }};\n}};\n",
                    cport = p.control_port,
                    port = p.port,
                    sport = self.secondary.port,
                );
                for z in &self.zones {
                    t.push_str(&format!(
                        "zone \"{z}\" {{ type primary; file \"{}\";{zone_extra} }};\n",
                        zone_file(&p.dir, z).display()
                    ));
                }
                t
            }
        };
        fs::write(p.conf(), conf).unwrap();

        let s = &self.secondary;
        let mut sec = server_section(s, &s.dir);
        sec.push_str("    xfrd-reload-timeout: 0\n");
        sec.push_str(&format!(
            "\nremote-control:\n    control-enable: yes\n    control-interface: {}\n",
            s.dir.join("nsd.ctl").display()
        ));
        // For zones added at run time: `nsd-control addzone ZONE zonerw`.
        sec.push_str(&format!(
            "\npattern:\n    name: zonerw\n    zonefile: \"%s.zone\"\n    request-xfr: 127.0.0.1@{} NOKEY\n    allow-notify: 127.0.0.1 NOKEY\n",
            p.port
        ));
        for z in &self.zones {
            sec.push_str(&format!(
                "\nzone:\n    name: {z}\n    zonefile: {z}.zone\n    request-xfr: 127.0.0.1@{} NOKEY\n    allow-notify: 127.0.0.1 NOKEY\n",
                p.port
            ));
        }
        fs::write(&s.conf, sec).unwrap();
    }

    /// Start the primary, then the secondary; on a port someone else took, new ports for
    /// both (the configs name each other's ports) and again.
    fn start_both(&mut self) {
        for attempt in 0..5 {
            self.pick_ports();
            let started = self.try_start_primary().and_then(|()| {
                // Every zone loaded before the secondary asks for it: a zone the primary
                // refuses is retried only after the SOA retry interval.
                for z in &self.zones {
                    let port = self.primary.port;
                    if poll(START, || soa_serial(port, z)).is_none() {
                        return Err((false, format!("the primary never served {z}")));
                    }
                }
                self.try_start_secondary()
                    .map_err(|e| (e.contains("already in use"), e))
            });
            match started {
                Ok(()) => return,
                Err((true, e)) if attempt < 4 => {
                    eprintln!("ports taken, trying others: {}", e.lines().next().unwrap());
                    self.primary.stop();
                    self.secondary.stop_now();
                    // The daemons' leftovers (pid files, sockets, logs) do not matter.
                }
                Err((_, e)) => panic!("starting the servers failed: {e}"),
            }
        }
    }

    /// Spawn the primary and wait until it answers an SOA query for the first zone (any
    /// answer: it listens; callers then wait for the serial) and its control tool works.
    /// Err((port taken?, diagnostics)).
    fn try_start_primary(&mut self) -> Result<(), (bool, String)> {
        let zone = self.zones.first().cloned().unwrap_or_else(|| ".".into());
        let p = &mut self.primary;
        p.spawn().map_err(|e| (false, format!("spawn: {e}")))?;
        let deadline = Instant::now() + START;
        loop {
            if let Some(status) = p.exited() {
                let diag = p.diagnostics();
                p.proc = None;
                return Err((
                    p.port_taken(),
                    format!("the primary exited early ({status})\n{diag}"),
                ));
            }
            if p.port_taken() {
                return Err((true, format!("a port is taken\n{}", p.diagnostics())));
            }
            if dns_query(p.port, &zone, Rtype::SOA).is_ok()
                && p.control(&["status"]).status.success()
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err((
                    false,
                    format!(
                        "the primary did not answer (and its control tool did not work) within {START:?}\n{}",
                        p.diagnostics()
                    ),
                ));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn try_start_secondary(&mut self) -> Result<(), String> {
        let zone = self.zones.first().cloned().unwrap_or_else(|| ".".into());
        let s = &mut self.secondary;
        s.spawn().map_err(|e| format!("spawn nsd: {e}"))?;
        let deadline = Instant::now() + START;
        loop {
            if let Some(status) = s.exited() {
                let diag = s.diagnostics();
                s.proc = None;
                return Err(format!("secondary nsd exited early ({status})\n{diag}"));
            }
            if dns_query(s.port, &zone, Rtype::SOA).is_ok()
                && s.control(&["status"]).status.success()
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "secondary nsd did not answer within {START:?}\n{}",
                    s.diagnostics()
                ));
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stop the primary as an operator would (`knotc stop` / `rndc stop`).
    fn stop_primary(&mut self) {
        self.primary.stop();
        assert_eq!(soa_serial(self.primary.port, &self.zones[0]), None);
    }

    /// Start the primary again on the same ports; wait until it answers (for any zone
    /// state: it may answer SERVFAIL).
    fn start_primary(&mut self) {
        self.try_start_primary()
            .unwrap_or_else(|(_, e)| panic!("{e}\n{}", self.secondary.diagnostics()));
    }

    /// The primary's control tool (e.g. `zone-sign`), as an operator would run it.
    fn primary_control(&self, args: &[&str]) -> Output {
        self.primary.control(args)
    }

    fn secondary_control(&self, args: &[&str]) -> Output {
        self.secondary.control(args)
    }

    fn primary_serial(&self, zone: &str) -> Option<u32> {
        soa_serial(self.primary.port, zone)
    }

    fn secondary_serial(&self, zone: &str) -> Option<u32> {
        soa_serial(self.secondary.port, zone)
    }

    fn primary_www(&self, zone: &str) -> Vec<Ipv4Addr> {
        a_record(self.primary.port, &format!("www.{zone}"))
    }

    fn secondary_www(&self, zone: &str) -> Vec<Ipv4Addr> {
        a_record(self.secondary.port, &format!("www.{zone}"))
    }

    /// Wait until the primary serves `zone` with a serial of at least `min` (signing may
    /// serve more than the file has); returns the serial.
    #[track_caller]
    fn wait_primary(&self, zone: &str, min: u32, timeout: Duration) -> u32 {
        self.wait_at_least(self.primary.port, "primary", zone, min, timeout)
    }

    /// Wait until the secondary serves `zone` with a serial of at least `min`.
    #[track_caller]
    fn wait_secondary(&self, zone: &str, min: u32, timeout: Duration) -> u32 {
        self.wait_at_least(self.secondary.port, "secondary", zone, min, timeout)
    }

    #[track_caller]
    fn wait_at_least(&self, port: u16, who: &str, zone: &str, min: u32, timeout: Duration) -> u32 {
        let mut last = None;
        poll(timeout, || {
            last = soa_serial(port, zone);
            last.filter(|s| *s >= min)
        })
        .unwrap_or_else(|| {
            panic!(
                "the {who} (port {port}) did not serve {zone} with serial >= {min} within {timeout:?}; last seen {last:?} ({:?})\n{}",
                soa_rcode(port, zone),
                self.diagnostics()
            )
        })
    }

    /// The secondary serves `zone` with exactly `serial` and www = `www` (polled: right
    /// after a transfer NSD's old server process may answer a query or two).
    #[track_caller]
    fn assert_secondary(&self, zone: &str, serial: u32, www: Ipv4Addr) {
        let mut last = (None, Vec::new());
        let ok = poll(PROPAGATE, || {
            last = (self.secondary_serial(zone), self.secondary_www(zone));
            (last == (Some(serial), vec![www])).then_some(())
        });
        assert!(
            ok.is_some(),
            "the secondary serves {zone} as (serial, www) {last:?}, expected ({serial}, {www})\n{}",
            self.diagnostics()
        );
    }

    /// The primary serves `zone` with a serial of at least `min` and www = `www`; returns
    /// the serial.
    #[track_caller]
    fn assert_primary(&self, zone: &str, min: u32, www: Ipv4Addr) -> u32 {
        let mut last = (None, Vec::new());
        let ok = poll(PROPAGATE, || {
            last = (self.primary_serial(zone), self.primary_www(zone));
            (last.0.is_some_and(|s| s >= min) && last.1 == vec![www]).then_some(())
        });
        assert!(
            ok.is_some(),
            "the primary serves {zone} as (serial, www) {last:?}, expected (>= {min}, {www})\n{}",
            self.diagnostics()
        );
        last.0.unwrap()
    }

    fn diagnostics(&self) -> String {
        format!(
            "{}\n{}",
            self.primary.diagnostics(),
            self.secondary.diagnostics()
        )
    }

    /// `[verify]` with the primary and the secondary.
    fn verify_table(&self, timeout: &str) -> String {
        format!(
            "[verify]\nprimary = \"127.0.0.1:{}\"\nsecondaries = [\"{}\"]\ntimeout = \"{timeout}\"\n",
            self.primary.port,
            self.secondary_addr()
        )
    }

    fn secondary_addr(&self) -> String {
        format!("127.0.0.1:{}", self.secondary.port)
    }

    /// zonerw configured for this primary, with `[verify]` (5 s) and main on 127.0.0.3.
    fn zonerw(&self, main: &MainServer, add_template: Option<&str>) -> Zrw {
        let mut settings = Settings::new(&main.url("/up.txt"));
        settings.main_ip = MAIN3;
        settings.extra_tables = self.verify_table("5s");
        let inner = Zonerw {
            dir: self.dir.clone(),
            config: self.dir.join("zonerw.toml"),
            templates: self.dir.join("templates"),
            zones: self.primary.dir.clone(),
            state: self.dir.join("state"),
            primary_conf: self.primary.conf(),
            zone_names: self.zones.clone(),
            settings,
        };
        let z = Zrw {
            inner,
            kind: self.kind,
            control: self.primary.control_argv(),
            add_template: add_template.map(str::to_owned),
        };
        z.write_config();
        for zone in &self.zones {
            z.write_template(zone, &default_template(zone));
        }
        z
    }

    /// `[server] add-template` that makes zones zonerw adds work like the configured ones.
    fn add_template(&self) -> String {
        match self.kind {
            Kind::Knot => "zonerw".to_owned(),
            Kind::Bind => format!(
                "notify explicit; also-notify {{ 127.0.0.1 port {}; }};",
                self.secondary.port
            ),
        }
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        // knotd and named shut down cleanly on SIGTERM, as on `knotc stop` / `rndc stop`.
        stop_pair(
            [self.primary.proc.take(), self.secondary.proc.take()],
            &mut self.tmp,
        );
    }
}

// ---------------------------------------------------------------------------
// zonerw with `[server]`
// ---------------------------------------------------------------------------

/// zonerw whose config has `[server] kind = "knot" | "bind"` instead of `[nsd]`. Derefs to
/// the harness's `Zonerw` for `run`, `spawn`, `template_path`...; `write_config` and
/// `config_text` here are the `[server]` ones.
struct Zrw {
    inner: Zonerw,
    kind: Kind,
    control: Vec<String>,
    add_template: Option<String>,
}

impl Deref for Zrw {
    type Target = Zonerw;
    fn deref(&self) -> &Zonerw {
        &self.inner
    }
}

impl Zrw {
    /// The harness's config with its `[nsd]` table replaced by `[server]`.
    fn config_text(&self) -> String {
        let nsd = self.inner.config_text();
        let at = nsd.find("[nsd]\n").expect("[nsd] table");
        let pools = nsd.find("[[pool]]").expect("[[pool]] table");
        let mut server = format!(
            "[server]\nkind = \"{}\"\ncontrol = {}\ntimeout = \"10s\"\n",
            self.kind.name(),
            toml_list(&self.control)
        );
        if let Some(t) = &self.add_template {
            server.push_str(&format!("add-template = {}\n", toml_string(t)));
        }
        server.push('\n');
        format!("{}{server}{}", &nsd[..at], &nsd[pools..])
    }

    fn write_config(&self) {
        fs::write(&self.inner.config, self.config_text()).unwrap();
    }
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The default template plus `extra` lines.
fn template_with(zone: &str, extra: &str) -> String {
    format!("{}{extra}\n", default_template(zone))
}

/// The serial of the run's line for `zone`: `serial A -> B, reloaded` (B) or `serial B
/// already installed, reloaded`.
#[track_caller]
fn installed_serial(r: &Run, zone: &str) -> u32 {
    if let Some((_, to)) = r.zone_change(zone) {
        return to;
    }
    let prefix = format!("{zone}: serial ");
    r.stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix(&prefix)?
                .strip_suffix(" already installed, reloaded")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no line saying which serial of {zone} was installed\n{r}"))
}

/// `status --json`'s entry of `zone`.
fn status_zone(z: &Zrw, zone: &str) -> serde_json::Value {
    let r = z.run(&["status", "--json"]);
    r.expect_ok();
    let status: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("status --json: {e}\n{r}"));
    status["zones"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["zone"] == zone))
        .cloned()
        .unwrap_or_else(|| panic!("no zone {zone} in status --json: {status}"))
}

/// Nothing is recorded as lagging for `zone`.
#[track_caller]
fn assert_nothing_lagging(z: &Zrw, zone: &str) {
    let entry = status_zone(z, zone);
    assert!(
        entry["lagging"]
            .as_object()
            .is_none_or(serde_json::Map::is_empty),
        "nothing lagging: {entry}"
    );
}

/// A setup with the seed zone(s), an up main server on 127.0.0.3 and zonerw configured.
fn setup(kind: Kind, zones: &[&str], opts: Opts) -> (Setup, MainServer, Zrw) {
    let main = MainServer::http_on(MAIN3, Mode::Up);
    let s = Setup::new(kind, zones, opts);
    let z = s.zonerw(&main, None);
    (s, main, z)
}

/// The first run of a fresh setup: exit 0, one zone line from the seed serial, nothing on
/// stderr, and the secondary serving the new serial with www = main. Returns the serial.
#[track_caller]
fn first_run(s: &Setup, z: &Zrw) -> u32 {
    let r = z.run(&[]);
    r.expect_ok();
    let s1 = r.new_serial(ZONE);
    r.expect_stdout(&lines!(zone_line(ZONE, SEED_SERIAL, s1)));
    r.expect_stderr("");
    s.assert_primary(ZONE, s1, MAIN3);
    s.assert_secondary(ZONE, s1, MAIN3);
    s1
}

// ---------------------------------------------------------------------------
// harness self-tests (these pass without zonerw's support for Knot and BIND)
// ---------------------------------------------------------------------------

/// The primary serves the seed, the NSD secondary transfers it; a new file reloaded with
/// the control tool reaches the secondary; stop and start on the same ports.
fn harness_primary_transfers_seed_and_reloads(kind: Kind) {
    let mut s = Setup::new(kind, &[ZONE], Opts::default());
    s.assert_secondary(ZONE, SEED_SERIAL, SEED_IP);
    fs::write(zone_file(&s.primary.dir, ZONE), seed_zone(ZONE, 5)).unwrap();
    let out = match kind {
        Kind::Knot => s.primary_control(&["-b", "zone-reload", ZONE]),
        Kind::Bind => s.primary_control(&["reload", ZONE]),
    };
    assert!(out.status.success(), "{out:?}");
    s.wait_primary(ZONE, 5, PROPAGATE);
    s.assert_secondary(ZONE, 5, SEED_IP);
    s.stop_primary();
    s.start_primary();
    assert_eq!(s.wait_primary(ZONE, 5, PROPAGATE), 5);
    s.stop_primary();
}

#[test]
fn harness_knot_primary_transfers_seed_and_reloads() {
    if available(Kind::Knot, "primaries::harness_knot_primary...") {
        harness_primary_transfers_seed_and_reloads(Kind::Knot);
    }
}

#[test]
fn harness_bind_primary_transfers_seed_and_reloads() {
    if available(Kind::Bind, "primaries::harness_bind_primary...") {
        harness_primary_transfers_seed_and_reloads(Kind::Bind);
    }
}

/// The signing setups start: Knot serves the file's serial, BIND (inline-signing) more.
#[test]
fn harness_signing_primaries_transfer_the_signed_seed() {
    for kind in [Kind::Knot, Kind::Bind] {
        if !available(kind, "primaries::harness_signing_primaries...") {
            continue;
        }
        let s = Setup::new(
            kind,
            &[ZONE],
            Opts {
                signing: true,
                ..Opts::default()
            },
        );
        let served = s.wait_primary(ZONE, SEED_SERIAL, START);
        if kind == Kind::Knot {
            assert_eq!(served, SEED_SERIAL, "whole + journal none: served == file");
        }
        s.assert_secondary(ZONE, s.primary_serial(ZONE).unwrap(), SEED_IP);
        let resp = dns_query(s.secondary.port, ZONE, Rtype::DNSKEY).unwrap();
        assert!(
            resp.answer().unwrap().count() > 0,
            "{kind:?}: the secondary serves DNSKEYs"
        );
    }
}

// ---------------------------------------------------------------------------
// 1. first run, failover, failback (+ 7. time to the backup address)
// ---------------------------------------------------------------------------

/// First run (seed served, then zonerw's serial), failover with main down (the secondary
/// serves the backup address, exit 0), failback. Prints how long after the failover
/// run's start the secondary served the backup address.
fn first_run_failover_and_failback(kind: Kind) {
    let (s, main, z) = setup(kind, &[ZONE], Opts::default());
    assert_eq!(s.secondary_www(ZONE), vec![SEED_IP]);
    let s1 = first_run(&s, &z);

    main.set_mode(Mode::Refusing);
    // Poll the secondary from a thread started just before the run.
    let stop = Arc::new(AtomicBool::new(false));
    let port = s.secondary.port;
    let watcher = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                if a_record(port, &format!("www.{ZONE}")) == vec![BACKUP_IP] {
                    return Some(Instant::now());
                }
                thread::sleep(Duration::from_millis(2));
            }
            None
        })
    };
    let started = Instant::now();
    let r = z.spawn(&[]).wait();
    // The run verified the secondary; give the watcher its last poll.
    let _ = poll(PROPAGATE, || watcher.is_finished().then_some(()));
    stop.store(true, Ordering::SeqCst);
    let seen = watcher.join().unwrap();
    r.expect_ok();
    r.expect_stdout(&lines!(failover_line(MAIN3), zone_line(ZONE, s1, s1 + 1)));
    r.expect_stderr("");
    s.assert_secondary(ZONE, s1 + 1, BACKUP_IP);
    let seen = seen
        .and_then(|t| t.checked_duration_since(started))
        .unwrap_or_else(|| panic!("the watcher never saw the backup address\n{r}"));
    eprintln!(
        "primaries: {} primary: failover run start -> NSD secondary serves the backup address: {} ms (the run took {} ms)",
        kind.name(),
        seen.as_millis(),
        r.elapsed.as_millis()
    );

    main.set_mode(Mode::Up);
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stdout(&lines!(FAILBACK3, zone_line(ZONE, s1 + 1, s1 + 2)));
    r.expect_stderr("");
    s.assert_secondary(ZONE, s1 + 2, MAIN3);
    assert_eq!(s.primary_serial(ZONE), Some(s1 + 2));
}

#[test]
fn knot_first_run_failover_and_failback() {
    if available(
        Kind::Knot,
        "primaries::knot_first_run_failover_and_failback",
    ) {
        first_run_failover_and_failback(Kind::Knot);
    }
}

#[test]
fn bind_first_run_failover_and_failback() {
    if available(
        Kind::Bind,
        "primaries::bind_first_run_failover_and_failback",
    ) {
        first_run_failover_and_failback(Kind::Bind);
    }
}

// ---------------------------------------------------------------------------
// 2. a broken template is never installed
// ---------------------------------------------------------------------------

/// `bad IN A 192.0.2.300` on line 9: exit 1 (the failover stays pending), the installed
/// file untouched, state.json untouched, both servers keep the old zone, and the error
/// names the template and the line. Fixed, the next run applies the failover.
fn broken_template_is_never_installed(kind: Kind) {
    let (s, main, z) = setup(kind, &[ZONE], Opts::default());
    let s1 = first_run(&s, &z);
    main.set_mode(Mode::Refusing);
    let zone_before = FileId::of(&z.zone_path(ZONE));
    let state_before = fs::read(z.state_json()).unwrap();
    z.write_template(ZONE, &template_with(ZONE, "bad IN A 192.0.2.300"));

    let r = z.run(&[]);
    r.expect_code(1);
    r.expect_stdout(&lines!(pending_failover_line(MAIN3)));
    let template = z.template_path(ZONE).display().to_string();
    assert!(
        r.stderr.starts_with(&format!("zonerw: error: {ZONE}: ")),
        "the error names the zone\n{r}"
    );
    assert!(
        r.stderr.lines().any(|l| l.contains(&template)
            && (l.contains(&format!("{template}:9")) || l.contains("line 9"))),
        "the error names the template {template} and its line 9\n{r}"
    );
    assert_eq!(
        zone_before,
        FileId::of(&z.zone_path(ZONE)),
        "the installed file changed\n{r}"
    );
    assert_eq!(
        state_before,
        fs::read(z.state_json()).unwrap(),
        "state.json changed\n{r}"
    );
    thread::sleep(Duration::from_millis(200));
    assert_eq!(s.primary_serial(ZONE), Some(s1), "{}", s.diagnostics());
    assert_eq!(s.primary_www(ZONE), vec![MAIN3]);
    assert_eq!(s.secondary_serial(ZONE), Some(s1));
    assert_eq!(s.secondary_www(ZONE), vec![MAIN3]);

    z.write_template(ZONE, &default_template(ZONE));
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stdout(&lines!(failover_line(MAIN3), zone_line(ZONE, s1, s1 + 1)));
    r.expect_stderr("");
    s.assert_secondary(ZONE, s1 + 1, BACKUP_IP);
}

#[test]
fn knot_broken_template_is_never_installed() {
    if available(Kind::Knot, "primaries::knot_broken_template...") {
        broken_template_is_never_installed(Kind::Knot);
    }
}

#[test]
fn bind_broken_template_is_never_installed() {
    if available(Kind::Bind, "primaries::bind_broken_template...") {
        broken_template_is_never_installed(Kind::Bind);
    }
}

// ---------------------------------------------------------------------------
// 3. back-to-back forced runs
// ---------------------------------------------------------------------------

/// Two `--force` runs in a row, no pause: each is verified ([verify]: exit 0 and no
/// lagging warning means the primary and the secondary served its serial), and the
/// secondary ends on the second one.
fn back_to_back_forced_runs_both_take_effect(kind: Kind) {
    let (s, _main, z) = setup(kind, &[ZONE], Opts::default());
    let s1 = first_run(&s, &z);
    let r1 = z.run(&["--force"]);
    let r2 = z.run(&["--force"]);
    for (r, from) in [(&r1, s1), (&r2, s1 + 1)] {
        r.expect_ok();
        r.expect_stdout(&lines!(zone_line(ZONE, from, from + 1)));
        r.expect_stderr("");
    }
    assert_eq!(s.primary_serial(ZONE), Some(s1 + 2));
    s.assert_secondary(ZONE, s1 + 2, MAIN3);
    assert_nothing_lagging(&z, ZONE);
}

#[test]
fn knot_back_to_back_forced_runs_both_take_effect() {
    if available(Kind::Knot, "primaries::knot_back_to_back...") {
        back_to_back_forced_runs_both_take_effect(Kind::Knot);
    }
}

#[test]
fn bind_back_to_back_forced_runs_both_take_effect() {
    if available(Kind::Bind, "primaries::bind_back_to_back...") {
        back_to_back_forced_runs_both_take_effect(Kind::Bind);
    }
}

// ---------------------------------------------------------------------------
// 4. a zone the primary does not know
// ---------------------------------------------------------------------------

/// With `add-template`, a new template's zone is added to the primary (Knot: conf-begin,
/// conf-set with template zonerw, conf-commit; BIND: rndc addzone) and served; once the
/// operator adds it to the NSD secondary (pattern zonerw), the secondary serves it too.
fn new_zone_is_added_with_add_template(kind: Kind) {
    let main = MainServer::http_on(MAIN3, Mode::Up);
    let s = Setup::new(kind, &[ZONE], Opts::default());
    let z = s.zonerw(&main, Some(&s.add_template()));
    first_run(&s, &z);
    assert_eq!(soa_rcode(s.primary.port, NEW), Some(Rcode::REFUSED));
    z.write_template(NEW, &default_template(NEW));

    let r = z.run(&[]);
    r.expect_ok();
    let serial = r.new_serial(NEW);
    r.expect_stdout(&lines!(format!("{NEW}: serial none -> {serial}, reloaded")));
    // The secondary does not have the zone yet (the operator adds it below): [verify]
    // says so, truthfully, and the run still succeeds.
    assert!(
        r.stderr.lines().all(
            |l| l.starts_with(&format!("zonerw: warning: {NEW}: secondary "))
                && l.contains(" still answers REFUSED, not ")
        ),
        "{r}"
    );
    assert!(z.zone_path(NEW).exists(), "{r}");
    assert_eq!(s.assert_primary(NEW, serial, MAIN3), serial);
    let out = s.secondary_control(&["addzone", NEW, "zonerw"]);
    assert!(out.status.success(), "nsd-control addzone: {out:?}");
    s.assert_secondary(NEW, serial, MAIN3);
    // Known now: the next run has nothing to do.
    let r = z.run(&[]);
    r.expect_ok();
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""), "{r}");
    // And a change reaches the secondary (the added zone notifies it).
    let r = z.run(&["--force"]);
    r.expect_ok();
    r.expect_stderr("");
    let next = r.new_serial(NEW);
    s.assert_secondary(NEW, next, MAIN3);
}

/// Without `add-template`: exit 1, the error says the primary does not know the zone,
/// nothing is installed, the primary still refuses it, the known zone is untouched.
fn new_zone_without_add_template_is_an_error(kind: Kind) {
    let (s, _main, z) = setup(kind, &[ZONE], Opts::default());
    let s1 = first_run(&s, &z);
    z.write_template(NEW, &default_template(NEW));
    let r = z.run(&[]);
    r.expect_code(1);
    r.expect_stdout("");
    let first = r.stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("zonerw: error: {NEW}: ")),
        "the error names the zone\n{r}"
    );
    let lower = r.stderr.to_lowercase();
    assert!(
        [
            "does not serve",
            "does not know",
            "unknown",
            "no such zone",
            "not found"
        ]
        .iter()
        .any(|w| lower.contains(w)),
        "the error says the server does not know the zone\n{r}"
    );
    assert!(!z.zone_path(NEW).exists(), "nothing installed\n{r}");
    assert_eq!(soa_rcode(s.primary.port, NEW), Some(Rcode::REFUSED));
    assert_eq!(s.primary_serial(ZONE), Some(s1));
    assert_eq!(s.secondary_serial(ZONE), Some(s1));
}

#[test]
fn knot_new_zone_is_added_with_add_template() {
    if available(Kind::Knot, "primaries::knot_new_zone_is_added...") {
        new_zone_is_added_with_add_template(Kind::Knot);
    }
}

#[test]
fn bind_new_zone_is_added_with_add_template() {
    if available(Kind::Bind, "primaries::bind_new_zone_is_added...") {
        new_zone_is_added_with_add_template(Kind::Bind);
    }
}

#[test]
fn knot_new_zone_without_add_template_is_an_error() {
    if available(Kind::Knot, "primaries::knot_new_zone_without...") {
        new_zone_without_add_template_is_an_error(Kind::Knot);
    }
}

#[test]
fn bind_new_zone_without_add_template_is_an_error() {
    if available(Kind::Bind, "primaries::bind_new_zone_without...") {
        new_zone_without_add_template_is_an_error(Kind::Bind);
    }
}

// ---------------------------------------------------------------------------
// 5. [verify]
// ---------------------------------------------------------------------------

/// `-v` shows the primary and the secondary serving the new serial; nothing lagging. A
/// stopped primary fails the run (exit 1, state not advanced); started again, the next
/// run succeeds and both servers serve the change.
fn verify_confirms_and_a_stopped_primary_fails_the_run(kind: Kind) {
    let (mut s, _main, z) = setup(kind, &[ZONE], Opts::default());
    let r = z.run(&["-v"]);
    r.expect_ok();
    let s1 = r.new_serial(ZONE);
    r.expect_stdout(&lines!(
        "probe web/main 127.0.0.3: up, HTTP 200 in {ms} ms",
        "probe web/backup 198.51.100.7: no check, counted healthy",
        zone_line(ZONE, SEED_SERIAL, s1),
        format!(
            "{ZONE}: serial {s1} served by the primary after {{ms}} ms, by {} after {{ms}} ms",
            s.secondary_addr()
        ),
    ));
    r.expect_stderr("");
    assert_eq!(s.primary_serial(ZONE), Some(s1), "verified at exit\n{r}");
    assert_eq!(s.secondary_serial(ZONE), Some(s1), "verified at exit\n{r}");
    assert_nothing_lagging(&z, ZONE);

    s.stop_primary();
    z.write_template(
        ZONE,
        &template_with(ZONE, &format!("extra IN A {EXTRA_IP}")),
    );
    let state_before = fs::read(z.state_json()).unwrap();
    let r = z.run(&[]);
    r.expect_code(1);
    assert!(
        r.stderr.starts_with("zonerw: error: "),
        "an error says why\n{r}"
    );
    assert_eq!(
        state_before,
        fs::read(z.state_json()).unwrap(),
        "state.json advanced\n{r}"
    );
    assert_eq!(
        s.secondary_serial(ZONE),
        Some(s1),
        "the secondary keeps the old zone"
    );

    s.start_primary();
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stderr("");
    let s2 = installed_serial(&r, ZONE);
    assert!(s2 > s1, "{r}");
    assert_eq!(s.primary_serial(ZONE), Some(s2), "verified at exit\n{r}");
    s.assert_secondary(ZONE, s2, MAIN3);
    assert_eq!(
        a_record(s.secondary.port, &format!("extra.{ZONE}")),
        vec![EXTRA_IP]
    );
    assert_nothing_lagging(&z, ZONE);
}

#[test]
fn knot_verify_confirms_and_a_stopped_primary_fails_the_run() {
    if available(Kind::Knot, "primaries::knot_verify...") {
        verify_confirms_and_a_stopped_primary_fails_the_run(Kind::Knot);
    }
}

#[test]
fn bind_verify_confirms_and_a_stopped_primary_fails_the_run() {
    if available(Kind::Bind, "primaries::bind_verify...") {
        verify_confirms_and_a_stopped_primary_fails_the_run(Kind::Bind);
    }
}

// ---------------------------------------------------------------------------
// 6. traps
// ---------------------------------------------------------------------------

fn signing() -> Opts {
    Opts {
        signing: true,
        ..Opts::default()
    }
}

/// Have Knot re-sign ZONE, whose file has serial `s1`: it serves `s1 + 1` (returned).
#[track_caller]
fn knot_resign(s: &Setup, s1: u32) -> u32 {
    let out = s.primary_control(&["-b", "zone-sign", ZONE]);
    assert!(out.status.success(), "knotc zone-sign: {out:?}");
    let bumped = s.wait_primary(ZONE, s1 + 1, PROPAGATE);
    assert_eq!(bumped, s1 + 1, "a re-sign serves the file's serial + 1");
    bumped
}

/// Knot trap 3: a re-sign (`knotc zone-sign`) serves the file's serial + 1. The next
/// forced run must write a serial above what the primary served, and the secondary gets
/// it.
#[test]
fn knot_signing_bump_is_overtaken() {
    if !available(Kind::Knot, "primaries::knot_signing_bump_is_overtaken") {
        return;
    }
    let (s, _main, z) = setup(Kind::Knot, &[ZONE], signing());
    let s1 = first_run(&s, &z);
    let bumped = knot_resign(&s, s1);

    let r = z.run(&["--force"]);
    r.expect_ok();
    r.expect_stderr("");
    let s2 = r.new_serial(ZONE);
    assert!(
        s2 > bumped,
        "the new serial {s2} must be above the served {bumped}\n{r}"
    );
    assert_eq!(s.assert_primary(ZONE, s2, MAIN3), s2, "{r}");
    s.assert_secondary(ZONE, s2, MAIN3);
}

/// Knot trap 3, after a restart: a re-sign serves the file's serial + 1 and the secondary
/// takes it; a restart of knotd serves the file's serial again. The failover's new file
/// must then be above what the *secondary* serves, or NSD ignores it (same serial) and
/// keeps the old address while `[verify]` counts it as served. zonerw asks the `[verify]`
/// secondaries before it writes.
#[test]
fn knot_signing_bump_is_overtaken_after_a_restart() {
    if !available(
        Kind::Knot,
        "primaries::knot_signing_bump_is_overtaken_after_a_restart",
    ) {
        return;
    }
    let (mut s, main, z) = setup(Kind::Knot, &[ZONE], signing());
    let s1 = first_run(&s, &z);
    let bumped = knot_resign(&s, s1);
    s.wait_secondary(ZONE, bumped, PROPAGATE);
    s.stop_primary();
    s.start_primary();
    // Knot answers before it has loaded the (signed) zone: wait for the zone itself.
    assert_eq!(
        s.wait_primary(ZONE, s1, START),
        s1,
        "precondition: a restarted knotd serves the file's serial again"
    );
    assert_eq!(s.secondary_serial(ZONE), Some(bumped), "precondition");

    main.set_mode(Mode::Refusing);
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stderr("");
    let s2 = r.new_serial(ZONE);
    assert!(
        s2 > bumped,
        "the failover's serial {s2} must be above the secondary's {bumped}\n{r}"
    );
    s.assert_secondary(ZONE, s2, BACKUP_IP);
}

/// BIND trap 7: inline signing serves at least the file's serial, often more. `[verify]`
/// takes served > written as served; the next forced run writes above what is served,
/// and the secondary gets the new content.
#[test]
fn bind_inline_signing_serves_above_the_written_serial() {
    if !available(Kind::Bind, "primaries::bind_inline_signing...") {
        return;
    }
    let (s, main, z) = setup(Kind::Bind, &[ZONE], signing());
    let seeded = s.primary_serial(ZONE).unwrap();
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stderr("");
    let s1 = r.new_serial(ZONE);
    assert!(
        s1 > seeded,
        "written {s1} above the served seed {seeded}\n{r}"
    );
    s.assert_primary(ZONE, s1, MAIN3);
    // Another signing event: `rndc sign` re-signs and serves the written serial + 1.
    let out = s.primary_control(&["sign", ZONE]);
    assert!(out.status.success(), "rndc sign: {out:?}");
    let served = s.wait_primary(ZONE, s1 + 1, PROPAGATE);
    assert!(served > s1, "precondition: served {served} > written {s1}");
    s.wait_secondary(ZONE, served, PROPAGATE);
    // A run with nothing to change takes served > written as served: no complaint.
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stderr("");

    main.set_mode(Mode::Refusing);
    let r = z.run(&["--force"]);
    r.expect_ok();
    r.expect_stderr("");
    let s2 = r.new_serial(ZONE);
    assert!(
        s2 > served,
        "the new serial {s2} must be above the served {served}\n{r}"
    );
    let on_primary = s.assert_primary(ZONE, s2, BACKUP_IP);
    let on_secondary = s.wait_secondary(ZONE, on_primary, PROPAGATE);
    let mut www = Vec::new();
    poll(PROPAGATE, || {
        www = s.secondary_www(ZONE);
        (www == vec![BACKUP_IP]).then_some(())
    })
    .unwrap_or_else(|| panic!("secondary www {www:?} at serial {on_secondary}\n{r}"));
    assert_nothing_lagging(&z, ZONE);
    // Re-signed again after the run: still no complaint from a run with nothing to do.
    let out = s.primary_control(&["sign", ZONE]);
    assert!(out.status.success(), "rndc sign: {out:?}");
    s.wait_primary(ZONE, on_primary + 1, PROPAGATE);
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stderr("");
}

/// BIND trap 2: `rndc reload` of a file not newer than the last load answers `zone reload
/// up-to-date` and loads nothing. zonerw's rendering is put in place beforehand with an
/// mtime an hour old, so zonerw adopts the file as it is (no rename, no new mtime) and
/// must still get BIND to load it.
#[test]
fn bind_reload_of_an_old_mtime_file_is_not_taken_as_loaded() {
    if !available(Kind::Bind, "primaries::bind_reload_of_an_old_mtime_file...") {
        return;
    }
    let (s, _main, z) = setup(Kind::Bind, &[ZONE], Opts::default());
    let s1 = first_run(&s, &z);
    let template = template_with(ZONE, &format!("extra IN A {EXTRA_IP}"));
    z.write_template(ZONE, &template);
    // The serial the run will pick, from the dry run's diff.
    let dry = z.run(&["--dry-run"]);
    dry.expect_ok();
    let next: u32 = dry
        .stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix('+')?
                .trim()
                .strip_suffix(" ; serial")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no new serial in the dry run's diff\n{dry}"));
    assert!(next > s1, "{dry}");
    let rendered = template
        .replace("@serial@", &next.to_string())
        .replace("@IP@", &MAIN3.to_string());
    let path = z.zone_path(ZONE);
    fs::write(&path, &rendered).unwrap();
    let hour_ago = SystemTime::now() - Duration::from_hours(1);
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    // Precondition: BIND takes it as up to date.
    let out = s.primary_control(&["reload", ZONE]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("up-to-date"),
        "precondition: rndc reload says up-to-date: {out:?}"
    );
    assert_eq!(s.primary_serial(ZONE), Some(s1));

    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stdout(&lines!(format!(
        "{ZONE}: serial {next} already installed, reloaded"
    )));
    r.expect_stderr("");
    assert_eq!(s.primary_serial(ZONE), Some(next), "BIND loaded it\n{r}");
    assert_eq!(
        a_record(s.primary.port, &format!("extra.{ZONE}")),
        vec![EXTRA_IP]
    );
    s.assert_secondary(ZONE, next, MAIN3);
}

/// BIND trap 5: with inline-signing, a file replaced while named was down leaves the zone
/// dead on restart (`journal out of sync`). The run with named down fails (exit 1) after
/// installing; once named is back, the next run removes the stale `ZONE.zone.jnl` and gets
/// the zone loaded and transferred.
#[test]
fn bind_stale_journal_is_removed_and_the_zone_loaded() {
    if !available(Kind::Bind, "primaries::bind_stale_journal...") {
        return;
    }
    let (mut s, _main, z) = setup(Kind::Bind, &[ZONE], signing());
    let r = z.run(&[]);
    r.expect_ok();
    let s1 = r.new_serial(ZONE);
    s.assert_primary(ZONE, s1, MAIN3);
    let jnl = s.primary.dir.join(format!("{ZONE}.zone.jnl"));
    poll(PROPAGATE, || jnl.exists().then_some(()))
        .unwrap_or_else(|| panic!("precondition: {} exists", jnl.display()));

    s.stop_primary();
    z.write_template(
        ZONE,
        &template_with(ZONE, &format!("extra IN A {EXTRA_IP}")),
    );
    let r = z.run(&[]);
    r.expect_code(1);
    assert!(
        fs::read_to_string(z.zone_path(ZONE))
            .unwrap()
            .contains("extra"),
        "the failed run installed the new file\n{r}"
    );
    s.start_primary();

    let r = z.run(&[]);
    r.expect_ok();
    let journal = z.zone_path(ZONE).with_extension("zone.jnl");
    r.expect_stderr(&format!(
        "zonerw: warning: {ZONE}: removed BIND's journal {}, which no longer matched the zone \
         file (named refused to load the zone: rndc: 'reload' failed: out of range)\n",
        journal.display()
    ));
    assert!(!journal.exists(), "{r}");
    let s2 = installed_serial(&r, ZONE);
    assert!(s2 > s1, "{r}");
    let served = s.wait_primary(ZONE, s2, PROPAGATE);
    assert_eq!(
        a_record(s.primary.port, &format!("extra.{ZONE}")),
        vec![EXTRA_IP],
        "{}",
        s.diagnostics()
    );
    s.wait_secondary(ZONE, served, PROPAGATE);
    assert_eq!(
        a_record(s.secondary.port, &format!("extra.{ZONE}")),
        vec![EXTRA_IP]
    );
}

/// 20 zones changed by one forced run: with [verify] every zone is served by the NSD
/// secondary with its new serial when the run ends (Knot: laggards re-notified with
/// `knotc zone-notify`), and no lagging warning.
fn burst_of_20_zones(kind: Kind) {
    let names: Vec<String> = (1..=20).map(|i| format!("z{i:02}.test")).collect();
    let zones: Vec<&str> = names.iter().map(String::as_str).collect();
    let (s, _main, z) = setup(kind, &zones, Opts::default());
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stderr("");
    let s1 = r.new_serial(zones[0]);
    let want: String = zones
        .iter()
        .map(|zone| zone_line(zone, SEED_SERIAL, s1) + "\n")
        .collect();
    r.expect_stdout(&want);

    let r = z.run(&["--force"]);
    r.expect_ok();
    r.expect_stderr("");
    let want: String = zones
        .iter()
        .map(|zone| zone_line(zone, s1, s1 + 1) + "\n")
        .collect();
    r.expect_stdout(&want);
    // Verified by the run: each secondary answer is already the new one (polled briefly
    // for NSD's old server process only).
    let lagging: Vec<(&str, Option<u32>)> = zones
        .iter()
        .map(|zone| {
            let mut last = None;
            poll(Duration::from_secs(1), || {
                last = s.secondary_serial(zone);
                (last == Some(s1 + 1)).then_some(())
            });
            (*zone, last)
        })
        .filter(|(_, last)| *last != Some(s1 + 1))
        .collect();
    assert!(
        lagging.is_empty(),
        "zones the secondary did not serve with {} at the end of the run: {lagging:?}\n{r}\n{}",
        s1 + 1,
        s.diagnostics()
    );
}

#[test]
fn knot_burst_of_20_zones_reaches_the_secondary() {
    if available(Kind::Knot, "primaries::knot_burst...") {
        burst_of_20_zones(Kind::Knot);
    }
}

#[test]
fn bind_burst_of_20_zones_reaches_the_secondary() {
    if available(Kind::Bind, "primaries::bind_burst...") {
        burst_of_20_zones(Kind::Bind);
    }
}

// ---------------------------------------------------------------------------
// zonerw check
// ---------------------------------------------------------------------------

/// One primary configuration and what `zonerw check` says about it.
struct CheckCase {
    name: &'static str,
    opts: Opts,
    /// `None`: all ok. `Some(words)`: exit 1, a FAIL line naming one of `words`.
    fail: Option<&'static [&'static str]>,
}

fn check_primary(kind: Kind, c: &CheckCase) {
    let (s, _main, z) = setup(kind, &[ZONE], c.opts.clone());
    let before = FileId::of(&z.zone_path(ZONE));
    let r = z.run(&["check"]);
    let lines: Vec<&str> = r.stdout.lines().collect();
    let ok_with = |words: &[&str]| {
        lines
            .iter()
            .any(|l| l.starts_with("ok") && words.iter().all(|w| l.contains(w)))
    };
    let fails: Vec<&&str> = lines.iter().filter(|l| l.starts_with("FAIL")).collect();
    let server = match kind {
        Kind::Knot => "Knot",
        Kind::Bind => "BIND",
    };
    match c.fail {
        None => {
            r.expect_ok();
            assert!(fails.is_empty(), "no FAIL line\n{r}");
            assert!(ok_with(&[server]), "an ok line names {server}\n{r}");
            assert!(
                ok_with(&[ZONE, "serves"]),
                "an ok line says the server serves {ZONE}\n{r}"
            );
            let reads = format!(
                "ok    zone {ZONE}: {} reads {}, the file zonerw writes",
                match kind {
                    Kind::Knot => "Knot DNS",
                    Kind::Bind => "BIND",
                },
                z.zone_path(ZONE).display()
            );
            assert!(lines.contains(&reads.as_str()), "{reads}\n{r}");
        }
        Some(words) => {
            r.expect_code(1);
            assert!(
                fails.iter().any(|l| words.iter().any(|w| l.contains(w))),
                "a FAIL line names one of {words:?}\n{r}"
            );
        }
    }
    // check changes nothing.
    assert_eq!(s.primary_serial(ZONE), Some(SEED_SERIAL));
    assert_eq!(
        before,
        FileId::of(&z.zone_path(ZONE)),
        "check wrote the zone file"
    );
    assert!(!z.state.exists(), "check made the state directory\n{r}");
}

#[test]
fn knot_check_passes_the_recommended_templates_and_fails_unsafe_ones() {
    if !available(Kind::Knot, "primaries::knot_check...") {
        return;
    }
    let cases = [
        CheckCase {
            name: "recommended template",
            opts: Opts::default(),
            fail: None,
        },
        CheckCase {
            name: "zonefile-sync left at its default",
            opts: Opts {
                knot_omit: &["zonefile-sync"],
                ..Opts::default()
            },
            fail: Some(&["zonefile-sync"]),
        },
        CheckCase {
            name: "journal-content left at its default",
            opts: Opts {
                knot_omit: &["journal-content"],
                ..Opts::default()
            },
            fail: Some(&["journal-content"]),
        },
    ];
    check_cases(&cases, |c| c.name, |c| check_primary(Kind::Knot, c));
}

#[test]
fn bind_check_passes_a_plain_primary_and_fails_a_dynamic_zone() {
    if !available(Kind::Bind, "primaries::bind_check...") {
        return;
    }
    let cases = [
        CheckCase {
            name: "plain primary",
            opts: Opts::default(),
            fail: None,
        },
        CheckCase {
            name: "allow-update",
            opts: Opts {
                bind_zone_extra: "allow-update { 127.0.0.1; };",
                ..Opts::default()
            },
            fail: Some(&["allow-update", "dynamic"]),
        },
    ];
    check_cases(&cases, |c| c.name, |c| check_primary(Kind::Bind, c));
}
