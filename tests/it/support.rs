//! Test harness for the end-to-end tests: a real NSD primary and secondary on
//! loopback, a switchable HTTP(S) "main server", and a bounded `zonerw` runner.
//!
//! Everything a test starts is owned by a value whose `Drop` stops it, so a
//! panicking test still cleans up. Processes are only ever stopped by the pid
//! and process group we spawned them with, never by name.

use std::ffi::CString;
use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use domain::base::iana::{Rcode, Rtype};
use domain::base::{Message, MessageBuilder, Name};
use domain::rdata::{A, Soa};

/// The zone most tests use.
pub const ZONE: &str = "example.test";
/// Address of the backup server in the harness config (no check).
pub const BACKUP_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
/// Address of the main server in the harness config (the local test server).
pub const MAIN_IP: Ipv4Addr = Ipv4Addr::LOCALHOST;
/// `www` address in the seed zone NSD starts with, before zonerw ran.
pub const SEED_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 99);
/// SOA serial of the seed zone.
pub const SEED_SERIAL: u32 = 1;
/// How long the secondary may take to serve what the primary loaded (NOTIFY + transfer).
pub const PROPAGATE: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/// Poll `f` until it returns `Some`, or `None` after `timeout`: at once, then after 1 ms,
/// 2 ms, 4 ms... and every 10 ms from then on (what tests wait for, a reload or a transfer,
/// mostly takes a few milliseconds).
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

/// The UTC date of `t` as the number YYYYMMDD.
pub fn utc_yyyymmdd(t: jiff::Timestamp) -> u32 {
    let d = t.to_zoned(jiff::tz::TimeZone::UTC).date();
    let n = |v: i16| u32::try_from(v).expect("date fields are positive");
    n(d.year()) * 10000 + n(d.month().into()) * 100 + n(d.day().into())
}

/// Run `check` on every case of a table, each in its own thread named after the case, all
/// at once: the cases are independent setups (own NSD pair, own main server) that spend
/// most of their time waiting, on probe timeouts or on NSD. A failing case prints its
/// panic under its name (`thread '<case>' panicked at ...`); then the test fails, listing
/// every case that failed.
pub fn check_cases<C: Sync>(cases: &[C], name: fn(&C) -> &str, check: impl Fn(&C) + Sync) {
    let failed: Vec<&str> = thread::scope(|scope| {
        let running: Vec<_> = cases
            .iter()
            .map(|case| {
                let handle = thread::Builder::new()
                    .name(name(case).to_owned())
                    .spawn_scoped(scope, || check(case))
                    .expect("spawn a case thread");
                (name(case), handle)
            })
            .collect();
        running
            .into_iter()
            .filter_map(|(name, handle)| handle.join().is_err().then_some(name))
            .collect()
    });
    assert!(
        failed.is_empty(),
        "{} of {} cases failed (their panics are printed above): {failed:?}",
        failed.len(),
        cases.len()
    );
}

/// A TOML array of strings.
pub fn toml_list<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| format!("\"{}\"", s.as_ref()))
        .collect();
    format!("[{}]", quoted.join(", "))
}

/// Last `n` lines of a file, for failure messages.
pub fn tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_else(|e| format!("<{}: {e}>", path.display()));
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Identity of a file for "was it touched?" assertions: inode, mtime (ns), bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileId {
    pub ino: u64,
    pub mtime_ns: i128,
    pub bytes: Vec<u8>,
}

impl FileId {
    pub fn of(path: &Path) -> FileId {
        let md = fs::metadata(path).unwrap_or_else(|e| panic!("stat {}: {e}", path.display()));
        FileId {
            ino: md.ino(),
            mtime_ns: i128::from(md.mtime()) * 1_000_000_000 + i128::from(md.mtime_nsec()),
            bytes: fs::read(path).unwrap(),
        }
    }
}

// ---------------------------------------------------------------------------
// DNS queries (real UDP, `domain` crate)
// ---------------------------------------------------------------------------

static QUERY_ID: AtomicU16 = AtomicU16::new(1);

/// Send one query to 127.0.0.1:`port` and return the answer (3 tries, 300 ms each).
pub fn dns_query(port: u16, name: &str, rtype: Rtype) -> Result<Message<Vec<u8>>, String> {
    let qname = Name::<Vec<u8>>::from_str(name).map_err(|e| format!("bad name {name}: {e}"))?;
    let mut builder = MessageBuilder::new_vec();
    let id = QUERY_ID.fetch_add(1, Ordering::Relaxed) ^ (std::process::id() & 0xffff) as u16;
    builder.header_mut().set_id(id);
    builder.header_mut().set_rd(false);
    let mut q = builder.question();
    q.push((&qname, rtype))
        .map_err(|e| format!("push question: {e}"))?;
    let query = q.into_message();

    let sock = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    sock.connect(("127.0.0.1", port))
        .map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut last_err = String::new();
    for _ in 0..3 {
        sock.send(query.as_slice()).map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 65535];
        loop {
            match sock.recv(&mut buf) {
                Ok(n) => {
                    buf.truncate(n);
                    let resp = Message::from_octets(buf.clone()).map_err(|e| e.to_string())?;
                    if resp.is_answer(&query) {
                        return Ok(resp);
                    }
                    buf = vec![0u8; 65535];
                    // else a stale reply of an earlier try: keep reading
                }
                Err(e) => {
                    last_err = e.to_string();
                    break;
                }
            }
        }
    }
    Err(format!(
        "no answer from 127.0.0.1:{port} for {name} {rtype}: {last_err}"
    ))
}

/// The SOA serial `port` serves for `zone`, or `None` (no answer, REFUSED, SERVFAIL...).
pub fn soa_serial(port: u16, zone: &str) -> Option<u32> {
    let resp = dns_query(port, zone, Rtype::SOA).ok()?;
    if resp.header().rcode() != Rcode::NOERROR {
        return None;
    }
    let answer = resp.answer().ok()?;
    if let Some(rr) = answer.limit_to::<Soa<_>>().next() {
        let rr = rr.ok()?;
        return Some(rr.data().serial().into_int());
    }
    None
}

/// The A records `port` serves for `name` (empty on any failure).
pub fn a_record(port: u16, name: &str) -> Vec<Ipv4Addr> {
    let Ok(resp) = dns_query(port, name, Rtype::A) else {
        return Vec::new();
    };
    if resp.header().rcode() != Rcode::NOERROR {
        return Vec::new();
    }
    let Ok(answer) = resp.answer() else {
        return Vec::new();
    };
    let mut out: Vec<Ipv4Addr> = answer
        .limit_to::<A>()
        .filter_map(|rr| rr.ok().map(|rr| rr.data().addr()))
        .collect();
    out.sort();
    out
}

/// The response code `port` gives for an SOA query of `zone` (for SERVFAIL checks).
pub fn soa_rcode(port: u16, zone: &str) -> Option<Rcode> {
    dns_query(port, zone, Rtype::SOA)
        .ok()
        .map(|m| m.header().rcode())
}

// ---------------------------------------------------------------------------
// Ports and processes
// ---------------------------------------------------------------------------

static NEXT_PORT: AtomicU16 = AtomicU16::new(0);

/// A port in 20000..32000 (below Linux's ephemeral range, so NSD's own
/// outgoing sockets can't take it) that is free for both TCP and UDP right now.
pub fn free_dns_port() -> u16 {
    // Start at a per-process offset so parallel test binaries spread out.
    let _ = NEXT_PORT.compare_exchange(
        0,
        (std::process::id() % 11000) as u16 + 1,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..12000 {
        let n = NEXT_PORT.fetch_add(1, Ordering::SeqCst);
        let port = 20000 + (n % 12000);
        let tcp = TcpListener::bind(("127.0.0.1", port));
        let udp = UdpSocket::bind(("127.0.0.1", port));
        if tcp.is_ok() && udp.is_ok() {
            return port;
        }
    }
    panic!("no free port in 20000..32000");
}

/// Is any non-zombie process in process group `pgid` still around?
fn group_alive(pgid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence.
    if unsafe { libc::kill(-pgid, 0) } != 0 {
        return false;
    }
    // kill() also succeeds for zombies, and PID 1 here does not reap orphans,
    // so look at /proc for a live member.
    let Ok(dir) = fs::read_dir("/proc") else {
        return true;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(proc_pid) = name.to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{proc_pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...; comm may contain spaces, so split after ')'
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 2 && fields[2] == pgid.to_string() && fields[0] != "Z" && fields[0] != "X"
        {
            return true;
        }
    }
    false
}

/// A child we spawned with `process_group(0)`, so its pid is its pgid.
pub struct Group {
    pub child: Child,
}

impl Group {
    pub fn pgid(&self) -> i32 {
        self.child.id().cast_signed()
    }

    /// Send SIGTERM to the leader (or the group), reap it.
    pub fn terminate(&mut self, whole_group: bool) {
        let pgid = self.pgid();
        // SAFETY: signalling our own child / its process group.
        unsafe {
            libc::kill(if whole_group { -pgid } else { pgid }, libc::SIGTERM);
        }
    }

    /// Wait up to `timeout` for the whole group to go away, then SIGKILL it.
    pub fn wait_gone(&mut self, timeout: Duration) {
        let pgid = self.pgid();
        let deadline = Instant::now() + timeout;
        loop {
            let _ = self.child.try_wait();
            if !group_alive(pgid) {
                break;
            }
            if Instant::now() >= deadline {
                // SAFETY: as above.
                unsafe {
                    libc::kill(-pgid, libc::SIGKILL);
                }
                break;
            }
            thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// NSD primary + secondary
// ---------------------------------------------------------------------------

/// One NSD instance (primary or secondary) in its own directory.
pub struct Nsd {
    pub name: &'static str,
    pub dir: PathBuf,
    pub conf: PathBuf,
    pub log: PathBuf,
    pub port: u16,
    pub proc: Option<Group>,
}

impl Nsd {
    pub fn spawn(&mut self) -> io::Result<()> {
        assert!(self.proc.is_none(), "{} nsd already running", self.name);
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("nsd.stderr"))?;
        let child = Command::new("nsd")
            .arg("-d")
            .arg("-c")
            .arg(&self.conf)
            .env("PATH", search_path())
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0)
            .spawn()?;
        self.proc = Some(Group { child });
        Ok(())
    }

    /// Run `nsd-control` against this server.
    pub fn control(&self, args: &[&str]) -> std::process::Output {
        Command::new("nsd-control")
            .arg("-c")
            .arg(&self.conf)
            .args(args)
            .env("PATH", search_path())
            .output()
            .expect("run nsd-control")
    }

    /// Has the spawned nsd exited (e.g. port busy)?
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.proc
            .as_mut()
            .and_then(|g| g.child.try_wait().ok().flatten())
    }

    pub fn stop_now(&mut self) {
        if let Some(mut g) = self.proc.take() {
            g.terminate(false);
            g.wait_gone(Duration::from_secs(10));
        }
    }

    pub fn diagnostics(&self) -> String {
        format!(
            "--- {} nsd log ({}) ---\n{}\n--- stderr ---\n{}",
            self.name,
            self.log.display(),
            tail(&self.log, 30),
            tail(&self.dir.join("nsd.stderr"), 10)
        )
    }
}

/// A private NSD primary (serving the `zones` directory zonerw writes into)
/// and a secondary that transfers from it, on loopback, in `/tmp/zrwXXXXXX`.
pub struct NsdPair {
    pub dir: PathBuf,
    pub zones: Vec<String>,
    pub primary: Nsd,
    pub secondary: Nsd,
    tmp: Option<tempfile::TempDir>,
}

impl NsdPair {
    /// Make the directory and configs, write a seed zone (serial 1, www =
    /// 192.0.2.99) for every zone, start both servers and wait until the
    /// secondary has transferred the seed.
    pub fn new(zones: &[&str]) -> NsdPair {
        let mut pair = NsdPair::prepare(zones);
        for z in zones {
            fs::write(
                pair.zones_dir().join(format!("{z}.zone")),
                seed_zone(z, SEED_SERIAL),
            )
            .unwrap();
        }
        pair.start_both();
        for z in zones {
            pair.wait_primary_serial(z, SEED_SERIAL, Duration::from_secs(10));
            pair.wait_secondary_serial(z, SEED_SERIAL, Duration::from_secs(10));
        }
        pair
    }

    /// Directory and configs only; nothing started, no zone files.
    pub fn prepare(zones: &[&str]) -> NsdPair {
        let tmp = tempfile::Builder::new()
            .prefix("zrw")
            .rand_bytes(6)
            .tempdir_in("/tmp")
            .expect("create temp dir");
        let dir = tmp.path().to_path_buf();
        for sub in ["primary", "secondary", "zones", "templates"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let mk = |name: &'static str| Nsd {
            name,
            dir: dir.join(name),
            conf: dir.join(name).join("nsd.conf"),
            log: dir.join(name).join("nsd.log"),
            port: 0,
            proc: None,
        };
        let mut pair = NsdPair {
            zones: zones.iter().map(std::string::ToString::to_string).collect(),
            primary: mk("primary"),
            secondary: mk("secondary"),
            dir,
            tmp: Some(tmp),
        };
        pair.pick_ports();
        assert!(
            pair.primary.dir.join("nsd.ctl").as_os_str().len() < 100,
            "control socket path too long"
        );
        pair
    }

    fn pick_ports(&mut self) {
        self.primary.port = free_dns_port();
        self.secondary.port = free_dns_port();
        self.write_configs();
    }

    /// The directory the primary serves zone files from (= zonerw's `zones`).
    pub fn zones_dir(&self) -> PathBuf {
        self.dir.join("zones")
    }

    pub fn zone_file(&self, zone: &str) -> PathBuf {
        self.zones_dir().join(format!("{zone}.zone"))
    }

    fn write_configs(&self) {
        let zones_dir = self.zones_dir();
        let p = &self.primary;
        let s = &self.secondary;
        let mut primary = server_section(p, &zones_dir);
        let mut secondary = server_section(s, &s.dir);
        secondary.push_str("    xfrd-reload-timeout: 0\n");
        for text in [&mut primary, &mut secondary] {
            text.push_str("\nremote-control:\n    control-enable: yes\n");
        }
        primary.push_str(&format!(
            "    control-interface: {}\n",
            p.dir.join("nsd.ctl").display()
        ));
        secondary.push_str(&format!(
            "    control-interface: {}\n",
            s.dir.join("nsd.ctl").display()
        ));
        // A pattern for zones added at run time (`nsd-control addzone ZONE zonerw`).
        primary.push_str(&format!(
            "\npattern:\n    name: zonerw\n    zonefile: \"%s.zone\"\n    notify: 127.0.0.1@{} NOKEY\n    provide-xfr: 127.0.0.1 NOKEY\n",
            s.port
        ));
        secondary.push_str(&format!(
            "\npattern:\n    name: zonerw\n    zonefile: \"%s.zone\"\n    request-xfr: 127.0.0.1@{} NOKEY\n    allow-notify: 127.0.0.1 NOKEY\n",
            p.port
        ));
        for z in &self.zones {
            primary.push_str(&format!(
                "\nzone:\n    name: {z}\n    zonefile: {z}.zone\n    notify: 127.0.0.1@{} NOKEY\n    provide-xfr: 127.0.0.1 NOKEY\n",
                s.port
            ));
            secondary.push_str(&format!(
                "\nzone:\n    name: {z}\n    zonefile: {z}.zone\n    request-xfr: 127.0.0.1@{} NOKEY\n    allow-notify: 127.0.0.1 NOKEY\n",
                p.port
            ));
        }
        fs::write(&p.conf, primary).unwrap();
        fs::write(&s.conf, secondary).unwrap();
    }

    /// Start primary then secondary; retry with new ports if one is taken.
    pub fn start_both(&mut self) {
        for attempt in 0..5 {
            match self.try_start(true).and_then(|()| self.try_start(false)) {
                Ok(()) => return,
                Err(e) if attempt < 4 && e.contains("already in use") => {
                    self.primary.stop_now();
                    self.secondary.stop_now();
                    self.pick_ports();
                }
                Err(e) => panic!("starting NSD failed: {e}"),
            }
        }
    }

    /// Spawn one server and wait (10 s) until it answers an SOA query for
    /// the first zone with anything at all (a NOERROR or SERVFAIL/REFUSED
    /// reply proves it is listening; callers then wait for the serial) and
    /// its control socket is there.
    fn try_start(&mut self, primary: bool) -> Result<(), String> {
        let zone = self.zones.first().cloned();
        let nsd = if primary {
            &mut self.primary
        } else {
            &mut self.secondary
        };
        nsd.spawn().map_err(|e| format!("spawn nsd: {e}"))?;
        let port = nsd.port;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = nsd.exited() {
                let diag = nsd.diagnostics();
                nsd.proc = None;
                return Err(format!("{} nsd exited early ({status})\n{diag}", nsd.name));
            }
            let answered = match &zone {
                Some(z) => dns_query(port, z, Rtype::SOA).is_ok(),
                None => dns_query(port, ".", Rtype::SOA).is_ok(),
            };
            // Under load NSD may answer queries before its control socket listens; tests
            // (and zonerw) use nsd-control right away.
            if answered && nsd.control(&["status"]).status.success() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} nsd did not answer (and open its control socket) within 10 s\n{}",
                    nsd.name,
                    nsd.diagnostics()
                ));
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn stop_primary(&mut self) {
        self.primary.stop_now();
    }

    pub fn stop_secondary(&mut self) {
        self.secondary.stop_now();
    }

    /// Start the primary again on the same port and wait until it answers.
    pub fn start_primary(&mut self) {
        self.try_start(true).unwrap_or_else(|e| panic!("{e}"));
    }

    pub fn start_secondary(&mut self) {
        self.try_start(false).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Run `nsd-control` against the secondary (e.g. `addzone`, as an operator would).
    pub fn secondary_control(&self, args: &[&str]) -> std::process::Output {
        self.secondary.control(args)
    }

    pub fn primary_serial(&self, zone: &str) -> Option<u32> {
        soa_serial(self.primary.port, zone)
    }

    pub fn secondary_serial(&self, zone: &str) -> Option<u32> {
        soa_serial(self.secondary.port, zone)
    }

    /// `www.<zone>` A records as the secondary serves them.
    /// Wait until the secondary serves `serial` for `zone`, then check www's address
    /// (polled briefly, so a lost UDP answer under load is not mistaken for wrong data).
    #[track_caller]
    pub fn assert_secondary(&self, zone: &str, serial: u32, www: Ipv4Addr, propagate: Duration) {
        self.wait_secondary_serial(zone, serial, propagate);
        let mut last = Vec::new();
        let ok = poll(Duration::from_secs(2), || {
            last = self.secondary_www(zone);
            (last == vec![www]).then_some(())
        });
        assert!(
            ok.is_some(),
            "secondary serves serial {serial} but www = {last:?} ({:?}), expected {www}\n{}",
            dns_query(self.secondary.port, &format!("www.{zone}"), Rtype::A)
                .map(|m| m.header().rcode()),
            self.diagnostics()
        );
    }

    pub fn secondary_www(&self, zone: &str) -> Vec<Ipv4Addr> {
        a_record(self.secondary.port, &format!("www.{zone}"))
    }

    pub fn primary_www(&self, zone: &str) -> Vec<Ipv4Addr> {
        a_record(self.primary.port, &format!("www.{zone}"))
    }

    /// Wait until the secondary serves exactly `serial` for `zone`; panic with
    /// both logs otherwise. Returns how long it took.
    pub fn wait_secondary_serial(&self, zone: &str, serial: u32, timeout: Duration) -> Duration {
        self.wait_serial(false, zone, serial, timeout)
    }

    pub fn wait_primary_serial(&self, zone: &str, serial: u32, timeout: Duration) -> Duration {
        self.wait_serial(true, zone, serial, timeout)
    }

    fn wait_serial(&self, primary: bool, zone: &str, serial: u32, timeout: Duration) -> Duration {
        let nsd = if primary {
            &self.primary
        } else {
            &self.secondary
        };
        let start = Instant::now();
        let mut last = None;
        let ok = poll(timeout, || {
            last = soa_serial(nsd.port, zone);
            (last == Some(serial)).then_some(())
        });
        assert!(
            ok.is_some(),
            "{} (port {}) did not serve {zone} serial {serial} within {timeout:?}; last seen {last:?}\n{}\n{}",
            nsd.name,
            nsd.port,
            self.primary.diagnostics(),
            self.secondary.diagnostics()
        );
        start.elapsed()
    }

    /// Number of lines in the primary's log (to check for new lines later).
    pub fn primary_log_lines(&self) -> usize {
        fs::read_to_string(&self.primary.log).map_or(0, |t| t.lines().count())
    }

    /// Lines of the primary's log after line `from`.
    pub fn primary_log_since(&self, from: usize) -> Vec<String> {
        fs::read_to_string(&self.primary.log)
            .unwrap_or_default()
            .lines()
            .skip(from)
            .map(str::to_owned)
            .collect()
    }

    /// The `nsd-control` commands the primary logged from line `from` on (`control cmd:
    /// ...` lines).
    pub fn primary_control_cmds(&self, from: usize) -> Vec<String> {
        self.primary_log_since(from)
            .into_iter()
            .filter(|l| l.contains("control cmd:"))
            .collect()
    }

    /// Both logs, for assertion messages.
    pub fn diagnostics(&self) -> String {
        format!(
            "{}\n{}",
            self.primary.diagnostics(),
            self.secondary.diagnostics()
        )
    }
}

/// Stop a primary and a secondary: SIGTERM both at once, then wait for both groups
/// (SIGKILL after 10 s); with `ZRW_KEEP` set, keep their directory `tmp`.
pub fn stop_pair(groups: [Option<Group>; 2], tmp: &mut Option<tempfile::TempDir>) {
    let mut groups: Vec<Group> = groups.into_iter().flatten().collect();
    for g in &mut groups {
        g.terminate(false);
    }
    for g in &mut groups {
        g.wait_gone(Duration::from_secs(10));
    }
    if std::env::var_os("ZRW_KEEP").is_some()
        && let Some(t) = tmp.take()
    {
        eprintln!("keeping {}", t.keep().display());
    }
}

impl Drop for NsdPair {
    fn drop(&mut self) {
        stop_pair(
            [self.primary.proc.take(), self.secondary.proc.take()],
            &mut self.tmp,
        );
        // TempDir's own Drop removes the directory.
    }
}

pub fn server_section(nsd: &Nsd, zonesdir: &Path) -> String {
    let d = nsd.dir.display();
    format!(
        "server:\n    ip-address: 127.0.0.1\n    port: {port}\n    do-ip6: no\n    server-count: 1\n    username: \"\"\n    chroot: \"\"\n    zonesdir: \"{zonesdir}\"\n    database: \"\"\n    zonelistfile: \"{d}/zone.list\"\n    pidfile: \"{d}/nsd.pid\"\n    xfrdfile: \"{d}/xfrd.state\"\n    xfrdir: \"{d}\"\n    cookie-secret-file: \"{d}/cookiesecrets.txt\"\n    logfile: \"{d}/nsd.log\"\n    verbosity: 2\n",
        port = nsd.port,
        zonesdir = zonesdir.display(),
    )
}

/// The zone NSD starts with before zonerw ever ran.
pub fn seed_zone(zone: &str, serial: u32) -> String {
    format!(
        "$ORIGIN {zone}.\n$TTL 60\n@   IN SOA ns1.{zone}. hostmaster.{zone}. (\n        {serial} ; serial\n        3600 600 86400 60 )\n    IN NS ns1.{zone}.\nns1 IN A 127.0.0.1\nwww IN A {SEED_IP}\n"
    )
}

/// The standard template: www follows the `web` pool.
pub fn default_template(zone: &str) -> String {
    format!(
        "$ORIGIN {zone}.\n$TTL 60\n@   IN SOA ns1.{zone}. hostmaster.{zone}. (\n        @serial@ ; serial\n        3600 600 86400 60 )\n    IN NS ns1.{zone}.\nns1 IN A 127.0.0.1\nwww IN A @IP@\n"
    )
}

pub fn search_path() -> String {
    let cur = std::env::var("PATH").unwrap_or_default();
    format!("/usr/sbin:/usr/bin:/sbin:/bin:{cur}")
}

// ---------------------------------------------------------------------------
// The "main server": switchable HTTP / HTTPS responder
// ---------------------------------------------------------------------------

/// How the main server behaves for new connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// 200, body "OK up".
    Up,
    /// Listener closed: connections are refused.
    Refusing,
    /// Accepts and never answers (no TLS handshake either).
    BlackHole,
    /// Sends a valid 200 response at one byte per second.
    Trickle,
    /// 500, body "error".
    Status500,
    /// 200, body "maintenance".
    WrongBody,
}

/// What the server saw on one request.
#[derive(Clone, Debug)]
pub struct Seen {
    pub local: SocketAddr,
    pub sni: Option<String>,
    pub host: Option<String>,
    pub request_line: Option<String>,
    pub tls_error: Option<String>,
}

struct Shared {
    ip: Ipv4Addr,
    port: u16,
    mode: Mutex<Mode>,
    listener: Mutex<Option<TcpListener>>,
    stop: AtomicBool,
    seen: Mutex<Vec<Seen>>,
    accepted: AtomicUsize,
    tls: Option<Arc<rustls::ServerConfig>>,
    handlers: Mutex<Vec<JoinHandle<()>>>,
}

/// A loopback HTTP(S) server on 127.0.0.1:<random port> (or another
/// loopback address, see `http_on`) whose behaviour
/// the test switches at runtime. Stops its threads on drop.
pub struct MainServer {
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

impl MainServer {
    pub fn http(mode: Mode) -> MainServer {
        MainServer::start(MAIN_IP, mode, None)
    }

    /// Plain HTTP on another loopback address, e.g. 127.0.0.3 (so the main
    /// server's address differs from the NSD secondary's 127.0.0.1).
    pub fn http_on(ip: Ipv4Addr, mode: Mode) -> MainServer {
        MainServer::start(ip, mode, None)
    }

    /// HTTPS with a self-signed leaf certificate for www.example.test (CA:FALSE).
    pub fn https(mode: Mode) -> MainServer {
        MainServer::start(MAIN_IP, mode, Some(Arc::new(tls_config())))
    }

    fn start(ip: Ipv4Addr, mode: Mode, tls: Option<Arc<rustls::ServerConfig>>) -> MainServer {
        let listener = TcpListener::bind((ip, 0)).expect("bind main server");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let shared = Arc::new(Shared {
            ip,
            port,
            mode: Mutex::new(Mode::Up),
            listener: Mutex::new(Some(listener)),
            stop: AtomicBool::new(false),
            seen: Mutex::new(Vec::new()),
            accepted: AtomicUsize::new(0),
            tls,
            handlers: Mutex::new(Vec::new()),
        });
        let s = Arc::clone(&shared);
        let accept_thread = thread::spawn(move || accept_loop(&s));
        let server = MainServer {
            shared,
            accept_thread: Some(accept_thread),
        };
        server.set_mode(mode);
        server
    }

    pub fn port(&self) -> u16 {
        self.shared.port
    }

    /// `http(s)://www.example.test:<port><path>`
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.shared.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://www.example.test:{}{path}", self.port())
    }

    /// Switch behaviour; takes effect for every connection accepted afterwards.
    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
        let mut l = self.shared.listener.lock().unwrap();
        if mode == Mode::Refusing {
            *l = None; // closes the socket: connects now get RST
            wait_refused(self.shared.ip, self.shared.port);
        } else if l.is_none() {
            let listener = poll(Duration::from_secs(5), || {
                TcpListener::bind((self.shared.ip, self.shared.port)).ok()
            })
            .expect("re-bind main server port");
            listener.set_nonblocking(true).unwrap();
            *l = Some(listener);
        }
    }

    pub fn mode(&self) -> Mode {
        *self.shared.mode.lock().unwrap()
    }

    /// Everything seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// Number of TCP connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for MainServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.listener.lock().unwrap().take();
        if let Some(t) = self.accept_thread.take() {
            let _ = t.join();
        }
        let handlers: Vec<_> = self.shared.handlers.lock().unwrap().drain(..).collect();
        for h in handlers {
            let _ = h.join();
        }
    }
}

/// Wait (5 s) until connections to `ip:port` are refused. A socket we closed may live on
/// for a moment in a child another test is forking (until it execs): meanwhile a connection
/// is accepted and then reset, not refused.
fn wait_refused(ip: Ipv4Addr, port: u16) {
    let addr = SocketAddr::from((ip, port));
    poll(Duration::from_secs(5), || match TcpStream::connect_timeout(
        &addr,
        Duration::from_millis(200),
    ) {
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Some(()),
        _ => None,
    })
    .unwrap_or_else(|| panic!("{addr} still takes connections after its socket was closed"));
}

/// The uid of `nobody` on Debian, a user that owns nothing here.
pub const NOBODY: u32 = 65534;

/// Whether this test runs as root (it needs to chown, or to run zonerw as [`NOBODY`]);
/// if not, says `SKIPPED: needs root to {why}` on stderr.
pub fn root_or_skip(why: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() == 0 };
    if !root {
        eprintln!("SKIPPED: needs root to {why}");
    }
    root
}

/// A loopback TCP port that refuses connections (nothing listens on it).
pub fn closed_port() -> u16 {
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("bind a loopback port")
        .port();
    wait_refused(Ipv4Addr::LOCALHOST, port);
    port
}

fn accept_loop(shared: &Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        let accepted = {
            let l = shared.listener.lock().unwrap();
            match l.as_ref() {
                Some(l) => l.accept().ok(),
                None => None,
            }
        };
        match accepted {
            Some((stream, peer)) => {
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                let mode = *shared.mode.lock().unwrap();
                let s = Arc::clone(shared);
                let h = thread::spawn(move || handle(&s, stream, peer, mode));
                shared.handlers.lock().unwrap().push(h);
            }
            None => thread::sleep(Duration::from_millis(3)),
        }
    }
}

fn tls_config() -> rustls::ServerConfig {
    let mut params = rcgen::CertificateParams::new(vec!["www.example.test".to_string()]).unwrap();
    params.is_ca = rcgen::IsCa::ExplicitNoCa; // basicConstraints CA:FALSE
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key_der)
        .unwrap()
}

/// Sleep in small steps until `stop` or `d` elapsed. Returns false if stopped.
fn nap(shared: &Shared, d: Duration) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if shared.stop.load(Ordering::SeqCst) {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
    true
}

fn handle(shared: &Shared, stream: TcpStream, peer: SocketAddr, mode: Mode) {
    let _ = stream.set_nonblocking(false);
    let local = stream.local_addr().unwrap_or(peer);
    let mut seen = Seen {
        local,
        sni: None,
        host: None,
        request_line: None,
        tls_error: None,
    };
    if mode == Mode::BlackHole {
        // Hold the connection open, answer nothing, for up to 2 minutes.
        nap(shared, Duration::from_mins(2));
        shared.seen.lock().unwrap().push(seen);
        return;
    }
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    match &shared.tls {
        None => {
            let mut s = stream;
            serve(shared, &mut s, mode, &mut seen);
        }
        Some(cfg) => {
            let conn = match rustls::ServerConnection::new(Arc::clone(cfg)) {
                Ok(c) => c,
                Err(e) => {
                    seen.tls_error = Some(e.to_string());
                    shared.seen.lock().unwrap().push(seen);
                    return;
                }
            };
            let mut s = rustls::StreamOwned::new(conn, stream);
            serve(shared, &mut s, mode, &mut seen);
            seen.sni = s.conn.server_name().map(str::to_owned);
            s.conn.send_close_notify();
            let _ = s.conn.complete_io(&mut s.sock);
        }
    }
    shared.seen.lock().unwrap().push(seen);
}

/// Read the request head, record it, answer per `mode`.
fn serve<S: Read + Write>(shared: &Shared, s: &mut S, mode: Mode, seen: &mut Seen) {
    let mut head = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
        if shared.stop.load(Ordering::SeqCst) || Instant::now() >= deadline {
            return;
        }
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                seen.tls_error = Some(e.to_string());
                return;
            }
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    seen.request_line = lines.next().map(str::to_owned);
    for line in lines {
        if let Some((k, v)) = line.split_once(':')
            && k.trim().eq_ignore_ascii_case("host")
        {
            seen.host = Some(v.trim().to_owned());
        }
    }
    let (status, body) = match mode {
        Mode::Up | Mode::Trickle => ("200 OK", "OK up"),
        Mode::Status500 => ("500 Internal Server Error", "error"),
        Mode::WrongBody => ("200 OK", "maintenance"),
        Mode::Refusing | Mode::BlackHole => unreachable!(),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if mode == Mode::Trickle {
        for b in response.as_bytes() {
            if s.write_all(&[*b]).and_then(|()| s.flush()).is_err() {
                return;
            }
            if !nap(shared, Duration::from_secs(1)) {
                return;
            }
        }
    } else {
        let _ = s.write_all(response.as_bytes());
        let _ = s.flush();
    }
}

// ---------------------------------------------------------------------------
// Exact output
// ---------------------------------------------------------------------------

/// How a probe of a server that refuses connections fails, in switch lines and reports.
pub const REFUSED: &str = "connect: Connection refused (os error 111)";

/// The text of `lines`, each ended by a newline: `lines!(a, b)` is `"{a}\n{b}\n"`.
macro_rules! lines {
    ($($line:expr),* $(,)?) => {{
        let mut text = String::new();
        $(
            text.push_str(&$line);
            text.push('\n');
        )*
        text
    }};
}
pub(crate) use lines;

/// The switch line of pool `web` failing over from main at `main` (which refuses
/// connections) to backup.
pub fn failover_line(main: Ipv4Addr) -> String {
    format!("web: main ({main}) -> backup ({BACKUP_IP}): main failed 2/2 attempts: {REFUSED}")
}

/// The same switch line when the switch is not committed (the run failed).
pub fn pending_failover_line(main: Ipv4Addr) -> String {
    format!(
        "web: main ({main}) -> backup ({BACKUP_IP}) (not applied yet: the run failed, see the errors; the next run retries): main failed 2/2 attempts: {REFUSED}"
    )
}

/// `(from, to)` of the `<zone>: serial FROM -> TO, reloaded` line of `stdout`, if any
/// (`from` is None for "none").
pub fn zone_change(stdout: &str, zone: &str) -> Option<(Option<u32>, u32)> {
    let prefix = format!("{zone}: serial ");
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix(&prefix) else {
            continue;
        };
        let (from, rest) = rest.split_once(" -> ")?;
        let to: String = rest.chars().take_while(char::is_ascii_digit).collect();
        return Some((from.parse().ok(), to.parse().ok()?));
    }
    None
}

/// The line zonerw prints for a zone it installed and reloaded.
pub fn zone_line(zone: &str, from: u32, to: u32) -> String {
    format!("{zone}: serial {from} -> {to}, reloaded")
}

/// Does `line` match `pattern`? A pattern is the line itself, except for placeholders
/// that stand for what a test cannot know:
/// - `{ms}`: a whole number (a duration in milliseconds);
/// - `{time}`: an RFC 3339 UTC time to the second, `YYYY-MM-DDTHH:MM:SSZ`;
/// - `{...}`: the rest of the line, whatever it is (words of another program, e.g. NSD's
///   tools, that zonerw passes on).
pub fn line_matches(pattern: &str, line: &str) -> bool {
    let Some(brace) = pattern.find('{') else {
        return pattern == line;
    };
    let (literal, rest) = pattern.split_at(brace);
    let Some(line) = line.strip_prefix(literal) else {
        return false;
    };
    if rest == "{...}" {
        return true;
    }
    if let Some(rest) = rest.strip_prefix("{ms}") {
        let digits = line.len() - line.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        return digits > 0 && line_matches(rest, &line[digits..]);
    }
    if let Some(rest) = rest.strip_prefix("{time}") {
        let (time, line) = line.split_at(line.len().min(20));
        return time.ends_with('Z')
            && time.parse::<jiff::Timestamp>().is_ok()
            && line_matches(rest, line);
    }
    // A brace that starts no placeholder is literal text.
    line.strip_prefix('{')
        .is_some_and(|line| line_matches(&rest[1..], line))
}

/// Assert that `text` is `expected`, line by line (see `line_matches`); on failure show the
/// first line that differs, both texts in full, and `context` (e.g. the run).
#[track_caller]
pub fn assert_text(what: &str, text: &str, expected: &str, context: &dyn fmt::Display) {
    let (got, want): (Vec<&str>, Vec<&str>) =
        (text.split('\n').collect(), expected.split('\n').collect());
    let differs = (0..got.len().max(want.len())).find(|&i| match (want.get(i), got.get(i)) {
        (Some(pattern), Some(line)) => !line_matches(pattern, line),
        _ => true,
    });
    if let Some(i) = differs {
        panic!(
            "{what} differs at line {}:\n  expected {:?}\n  got      {:?}\n--- expected {what} ---\n{expected}\n--- got ---\n{text}\n--- context ---\n{context}",
            i + 1,
            want.get(i).copied().unwrap_or("<end>"),
            got.get(i).copied().unwrap_or("<end>"),
        );
    }
}

/// Assert that `text` is a table (`zonerw check`, `zonerw status`): columns separated by
/// two spaces or more, every cell starting in the column of its header, and the cells are
/// `expected` (each matched with `line_matches`), header first.
#[track_caller]
pub fn assert_table(text: &str, expected: &[&[&str]], context: &dyn fmt::Display) {
    let cells = |line: &str| -> Vec<(usize, String)> {
        let mut cells = Vec::new();
        let mut start = None;
        let bytes = line.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            let gap =
                b == b' ' && (bytes.get(i + 1) == Some(&b' ') || i > 0 && bytes[i - 1] == b' ');
            match (start, gap) {
                (None, false) => start = Some(i),
                (Some(s), true) => {
                    cells.push((s, line[s..i].to_owned()));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            cells.push((s, line[s..].to_owned()));
        }
        cells
    };
    let rows: Vec<Vec<(usize, String)>> = text.lines().map(cells).collect();
    assert_eq!(
        rows.len(),
        expected.len(),
        "rows of the table\n{text}\n--- context ---\n{context}"
    );
    let columns: Vec<usize> = rows[0].iter().map(|(at, _)| *at).collect();
    for (row, want) in rows.iter().zip(expected) {
        let got: Vec<&str> = row.iter().map(|(_, cell)| cell.as_str()).collect();
        assert!(
            got.len() == want.len() && got.iter().zip(*want).all(|(g, w)| line_matches(w, g)),
            "table row {got:?}, expected {want:?}\n{text}\n--- context ---\n{context}"
        );
        let at: Vec<usize> = row.iter().map(|(at, _)| *at).collect();
        assert_eq!(
            at,
            columns[..at.len()],
            "cells of {got:?} not under their headers\n{text}\n--- context ---\n{context}"
        );
    }
}

#[test]
fn exact_output_placeholders() {
    assert!(line_matches(
        "up: HTTP 200 in {ms} ms",
        "up: HTTP 200 in 7 ms"
    ));
    assert!(!line_matches(
        "up: HTTP 200 in {ms} ms",
        "up: HTTP 200 in  ms"
    ));
    assert!(!line_matches(
        "up: HTTP 200 in {ms} ms",
        "up: HTTP 200 in 7 ms, and more"
    ));
    assert!(line_matches("since {time}.", "since 2026-11-29T19:42:27Z."));
    assert!(!line_matches("since {time}", "since 2026-11-29 19:42:27"));
    assert!(line_matches("failed: {...}", "failed: whatever NSD said"));
    assert!(line_matches("{ a literal brace", "{ a literal brace"));
    assert!(!line_matches("web: main", "web: main "));
    let differs = |text: &'static str, expected: &'static str| {
        std::panic::catch_unwind(|| assert_text("text", text, expected, &"")).is_err()
    };
    assert!(!differs("a\nb 12 ms\n", "a\nb {ms} ms\n"));
    assert!(differs("a\nb\n", "a\n"), "a line too many");
    assert!(differs("a\n", "a\nb\n"), "a line missing");
    assert!(differs("a", "a\n"), "no newline at the end");
}

// ---------------------------------------------------------------------------
// zonerw runner
// ---------------------------------------------------------------------------

/// Knobs of the harness config.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `check` URL of server `main`.
    pub check: String,
    /// `ipv4` of server `main` (default `MAIN_IP`, 127.0.0.1).
    pub main_ip: Ipv4Addr,
    pub fall: u32,
    pub rise: u32,
    pub timeout: String,
    pub attempts: u32,
    pub expect_body: Option<String>,
    pub tls_verify: Option<bool>,
    /// `[serial] scheme`; `None` = leave the key out (default "date").
    pub scheme: Option<String>,
    /// Extra lines appended at the top level (before any table).
    pub extra_top: String,
    /// Write `templates`/`zones`/`state` relative to the config file's directory.
    pub relative_paths: bool,
    /// `[nsd] control` as a TOML value; `None` = nsd-control for the primary.
    pub control: Option<String>,
    /// `[nsd] checkzone`; `None` = "nsd-checkzone".
    pub checkzone: Option<String>,
    /// Free-form TOML appended after the pool tables (`[guard]`, `[verify]`...).
    pub extra_tables: String,
}

impl Settings {
    pub fn new(check: &str) -> Settings {
        Settings {
            check: check.to_owned(),
            fall: 1,
            rise: 1,
            timeout: "2s".to_owned(),
            attempts: 2,
            expect_body: None,
            tls_verify: None,
            scheme: None,
            extra_top: String::new(),
            relative_paths: false,
            main_ip: MAIN_IP,
            control: None,
            checkzone: None,
            extra_tables: String::new(),
        }
    }
}

/// Result of one zonerw invocation.
#[derive(Debug, Clone)]
pub struct Run {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "zonerw {:?}\n  exit {} after {:?}\n  --- stdout ---\n{}\n  --- stderr ---\n{}",
            self.args, self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

impl Run {
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "unexpected exit code\n{self}");
        self
    }

    #[track_caller]
    pub fn expect_ok(&self) -> &Run {
        self.expect_code(0)
    }

    /// Stdout is exactly `expected`, line by line, with the placeholders of `line_matches`.
    #[track_caller]
    pub fn expect_stdout(&self, expected: &str) -> &Run {
        assert_text("stdout", &self.stdout, expected, self);
        self
    }

    /// Stderr is exactly `expected`, line by line, with the placeholders of `line_matches`.
    #[track_caller]
    pub fn expect_stderr(&self, expected: &str) -> &Run {
        assert_text("stderr", &self.stderr, expected, self);
        self
    }

    /// `(from, to)` of the `<zone>: serial FROM -> TO, reloaded` line, if any
    /// (`from` is None for "none").
    pub fn zone_change(&self, zone: &str) -> Option<(Option<u32>, u32)> {
        zone_change(&self.stdout, zone)
    }

    /// Like `zone_change`, but panics with the output if there is no such line.
    #[track_caller]
    pub fn new_serial(&self, zone: &str) -> u32 {
        match self.zone_change(zone) {
            Some((_, to)) => to,
            None => panic!("no '{zone}: serial A -> B, reloaded' line on stdout\n{self}"),
        }
    }
}

/// zonerw with a config in the NSD pair's directory.
pub struct Zonerw {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub templates: PathBuf,
    pub zones: PathBuf,
    pub state: PathBuf,
    pub primary_conf: PathBuf,
    pub zone_names: Vec<String>,
    pub settings: Settings,
}

impl Zonerw {
    /// Writes the config and the default template of every zone of `nsd`.
    pub fn new(nsd: &NsdPair, settings: Settings) -> Zonerw {
        let z = Zonerw {
            dir: nsd.dir.clone(),
            config: nsd.dir.join("zonerw.toml"),
            templates: nsd.dir.join("templates"),
            zones: nsd.zones_dir(),
            state: nsd.dir.join("state"),
            primary_conf: nsd.primary.conf.clone(),
            zone_names: nsd.zones.clone(),
            settings,
        };
        z.write_config();
        for zone in &z.zone_names {
            z.write_template(zone, &default_template(zone));
        }
        z
    }

    pub fn config_text(&self) -> String {
        let s = &self.settings;
        let show = |p: &Path| {
            if s.relative_paths {
                p.strip_prefix(&self.dir).unwrap().display().to_string()
            } else {
                p.display().to_string()
            }
        };
        let mut t = format!(
            "templates = \"{}\"\nzones = \"{}\"\nstate = \"{}\"\n{}\n",
            show(&self.templates),
            show(&self.zones),
            show(&self.state),
            s.extra_top
        );
        if let Some(scheme) = &s.scheme {
            t.push_str(&format!("[serial]\nscheme = \"{scheme}\"\n\n"));
        }
        let control = s.control.clone().unwrap_or_else(|| {
            format!(
                "[\"nsd-control\", \"-c\", \"{}\"]",
                self.primary_conf.display()
            )
        });
        let checkzone = s.checkzone.as_deref().unwrap_or("nsd-checkzone");
        t.push_str(&format!(
            "[nsd]\ncontrol = {control}\ncheckzone = \"{checkzone}\"\ntimeout = \"10s\"\n\n"
        ));
        t.push_str(&format!(
            "[[pool]]\nname = \"web\"\nmarker = \"IP\"\nfall = {}\nrise = {}\n\n",
            s.fall, s.rise
        ));
        t.push_str(&format!(
            "  [[pool.server]]\n  name = \"main\"\n  ipv4 = \"{}\"\n  check = \"{}\"\n\n",
            s.main_ip, s.check
        ));
        t.push_str(&format!(
            "  [[pool.server]]\n  name = \"backup\"\n  ipv4 = \"{BACKUP_IP}\"\n\n"
        ));
        t.push_str(&format!(
            "  [pool.check]\n  timeout = \"{}\"\n  attempts = {}\n",
            s.timeout, s.attempts
        ));
        if let Some(body) = &s.expect_body {
            t.push_str(&format!("  expect-body = \"{body}\"\n"));
        }
        if let Some(v) = s.tls_verify {
            t.push_str(&format!("  tls-verify = {v}\n"));
        }
        if !s.extra_tables.is_empty() {
            t.push('\n');
            t.push_str(&s.extra_tables);
            if !s.extra_tables.ends_with('\n') {
                t.push('\n');
            }
        }
        t
    }

    pub fn write_config(&self) {
        fs::write(&self.config, self.config_text()).unwrap();
    }

    pub fn template_path(&self, zone: &str) -> PathBuf {
        self.templates.join(format!("{zone}.zone"))
    }

    pub fn write_template(&self, zone: &str, text: &str) {
        fs::write(self.template_path(zone), text).unwrap();
    }

    pub fn zone_path(&self, zone: &str) -> PathBuf {
        self.zones.join(format!("{zone}.zone"))
    }

    pub fn state_json(&self) -> PathBuf {
        self.state.join("state.json")
    }

    /// Run zonerw with `-c <config>` added (after the subcommand, if any).
    pub fn run(&self, args: &[&str]) -> Run {
        self.spawn(args).wait()
    }

    /// Like `run`, but return at once with the running process.
    pub fn spawn(&self, args: &[&str]) -> Running {
        let cfg = self.config.to_str().unwrap();
        let mut full: Vec<&str> = Vec::new();
        match args.first() {
            Some(&sub) if sub == "check" || sub == "status" => {
                full.push(sub);
                full.extend(["-c", cfg]);
                full.extend(&args[1..]);
            }
            _ => {
                full.extend(["-c", cfg]);
                full.extend(args);
            }
        }
        spawn_zonerw(&full)
    }
}

/// A zonerw process started with `spawn_zonerw`; `wait` bounds it to 60 s.
pub struct Running {
    args: Vec<String>,
    child: Child,
    start: Instant,
    out: Option<JoinHandle<Vec<u8>>>,
    err: Option<JoinHandle<Vec<u8>>>,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Wait for the exit (killing the process group after 60 s in all).
    pub fn wait(mut self) -> Run {
        let pgid = self.child.id().cast_signed();
        let deadline = self.start + Duration::from_mins(1);
        let status = loop {
            if let Some(st) = self.child.try_wait().expect("wait zonerw") {
                break Some(st);
            }
            if Instant::now() >= deadline {
                kill_group(pgid);
                let _ = self.child.wait();
                break None;
            }
            thread::sleep(Duration::from_millis(2));
        };
        let elapsed = self.start.elapsed();
        let stdout =
            String::from_utf8_lossy(&self.out.take().unwrap().join().unwrap()).into_owned();
        let stderr =
            String::from_utf8_lossy(&self.err.take().unwrap().join().unwrap()).into_owned();
        let run = Run {
            args: std::mem::take(&mut self.args),
            code: status.and_then(|s| s.code()).unwrap_or(-1),
            stdout,
            stderr,
            elapsed,
        };
        assert!(
            status.is_some(),
            "zonerw ran longer than 60 s and was killed\n{run}"
        );
        run
    }
}

impl Drop for Running {
    /// Only reached with the process still running if a test panicked first.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            kill_group(self.child.id().cast_signed());
            let _ = self.child.wait();
        }
    }
}

fn kill_group(pgid: i32) {
    // SAFETY: killing the process group of our own child.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// Have `command` start with SIGINT, SIGHUP and SIGTERM at their defaults, as a service
/// manager or a terminal starts zonerw. zonerw keeps a signal ignored that it was started
/// with ignored (as under nohup), and a shell without job control starts background jobs
/// with SIGINT ignored: the tests may run under one.
pub fn default_signals(command: &mut Command) -> &mut Command {
    // SAFETY: signal(2) between fork and exec, as a shell does.
    unsafe {
        command.pre_exec(|| {
            for sig in [libc::SIGINT, libc::SIGHUP, libc::SIGTERM] {
                libc::signal(sig, libc::SIG_DFL);
            }
            Ok(())
        })
    }
}

/// Start the zonerw binary with exactly `args` (cwd "/", own process group).
pub fn spawn_zonerw(args: &[&str]) -> Running {
    let start = Instant::now();
    let mut command = Command::new(env!("CARGO_BIN_EXE_zonerw"));
    command
        .args(args)
        .current_dir("/")
        .env("PATH", search_path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    default_signals(&mut command);
    let mut child = command.spawn().expect("spawn zonerw");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    Running {
        args: args.iter().map(std::string::ToString::to_string).collect(),
        child,
        start,
        out: Some(out),
        err: Some(err),
    }
}

/// Run the zonerw binary with exactly `args` (cwd "/"), killed after 60 s.
pub fn run_zonerw(args: &[&str]) -> Run {
    spawn_zonerw(args).wait()
}

/// Every entry of the state's history.jsonl.
pub fn read_history(z: &Zonerw) -> Vec<serde_json::Value> {
    fs::read_to_string(z.state.join("history.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("history line {l:?}: {e}")))
        .collect()
}

/// The first run of a fresh setup, with nothing unusual: exit 0, and the zone installed
/// and served by the secondary with www = `www`. Returns the serial.
#[track_caller]
pub fn first_run(nsd: &NsdPair, z: &Zonerw, www: Ipv4Addr) -> u32 {
    let r = z.run(&[]);
    r.expect_ok();
    let serial = r.new_serial(ZONE);
    nsd.assert_secondary(ZONE, serial, www, PROPAGATE);
    serial
}

// ---------------------------------------------------------------------------
// A full disk
// ---------------------------------------------------------------------------

/// A 64 KiB tmpfs mounted over a directory; unmounted on drop.
pub struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mount, or say why we may not (not root, no `CAP_SYS_ADMIN`).
    pub fn mount(path: &Path) -> Result<Tmpfs, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root, cannot mount a tmpfs".into());
        }
        let c = |s: &[u8]| CString::new(s).unwrap();
        let (target, fstype, data) = (
            c(path.as_os_str().as_bytes()),
            c(b"tmpfs"),
            c(b"size=64k,mode=0755"),
        );
        // SAFETY: NUL-terminated strings that outlive the call.
        let rc = unsafe {
            libc::mount(
                fstype.as_ptr(),
                target.as_ptr(),
                fstype.as_ptr(),
                0,
                data.as_ptr().cast(),
            )
        };
        if rc != 0 {
            return Err(format!("mount tmpfs: {}", io::Error::last_os_error()));
        }
        Ok(Tmpfs {
            path: path.to_owned(),
        })
    }

    /// Free bytes.
    pub fn free(&self) -> u64 {
        let path = CString::new(self.path.as_os_str().as_bytes()).unwrap();
        // SAFETY: statvfs fills the zeroed struct we pass.
        unsafe {
            let mut st: libc::statvfs = std::mem::zeroed();
            assert_eq!(libc::statvfs(path.as_ptr(), &raw mut st), 0);
            st.f_bavail * st.f_frsize
        }
    }

    /// Fill with `filler`, then free `leave` bytes (a multiple of the page size).
    pub fn fill(&self, leave: u64) -> PathBuf {
        let path = self.path.join("filler");
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        let chunk = [0u8; 4096];
        loop {
            match file.write(&chunk) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("fill: {e}"),
            }
        }
        let len = file.metadata().unwrap().len();
        file.set_len(len.saturating_sub(leave)).unwrap();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let target = CString::new(self.path.as_os_str().as_bytes()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        // SAFETY (both calls): a NUL-terminated path.
        while unsafe { libc::umount2(target.as_ptr(), 0) } != 0 {
            if Instant::now() >= deadline {
                // The last resort: detach now, freed when no longer busy.
                unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
                eprintln!("lazily unmounted {}", self.path.display());
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The `KIND PID` lines a test's shell scripts appended to `file` (missing: none).
pub fn pid_entries(file: &Path) -> Vec<(String, i32)> {
    fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (kind, pid) = l.split_once(' ')?;
            Some((kind.to_owned(), pid.trim().parse().ok()?))
        })
        .collect()
}

// ------------------------------------------------------------ the NSD corpus

/// Longest file name Linux file systems take (`NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// `nsd-control` stand-in: appends its argv to `nsd-control.log` beside it and says ok.
pub const STUB_NSD_CONTROL: &str =
    "#!/bin/sh\nprintf '%s\\n' \"$*\" >> \"$(dirname \"$0\")/nsd-control.log\"\necho ok\n";

/// The zone files of NSD's own test suite (`tests/fixtures/nsd-tpkg`).
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nsd-tpkg")
}

/// `(file, origin)` for every line of the corpus' `INDEX`; `.` for the root zone.
pub fn corpus_index() -> Vec<(String, String)> {
    let index = fs::read_to_string(corpus_dir().join("INDEX")).expect("read corpus INDEX");
    index
        .lines()
        .map(|line| {
            let (file, origin) = line.split_once(' ').unwrap_or((line, ""));
            let origin = match origin.trim() {
                "" => ".",
                origin => origin,
            };
            (file.to_owned(), origin.to_owned())
        })
        .collect()
}

/// How many corpus cases run at once.
const CORPUS_PARALLEL: usize = 4;

/// `check(file, origin)` for every corpus case, [`CORPUS_PARALLEL`] at a time; then fail
/// the test listing every case that failed. Returns the successes' values in no order.
pub fn check_corpus<T: Send>(
    cases: &[(String, String)],
    check: impl Fn(&str, &str) -> Result<T, String> + Sync,
) -> Vec<T> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..CORPUS_PARALLEL {
            scope.spawn(|| {
                while let Some((file, origin)) =
                    cases.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                {
                    let result = check(file, origin)
                        .map_err(|reason| format!("{file} ({origin}): {reason}"));
                    results.lock().expect("results").push(result);
                }
            });
        }
    });
    let (passed, failed): (Vec<_>, Vec<_>) = results
        .into_inner()
        .expect("results")
        .into_iter()
        .partition(Result::is_ok);
    let mut failures: Vec<String> = failed.into_iter().filter_map(Result::err).collect();
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} of {} corpus files failed:\n  {}",
        failures.len(),
        cases.len(),
        failures.join("\n  ")
    );
    passed.into_iter().filter_map(Result::ok).collect()
}
