//! End-to-end tests of issue 3 (notes/CONTRACT.md, "Issue 3: guard, verify,
//! hooks"): the zonerw binary against a real NSD primary and secondary on
//! loopback and a switchable local "main server".
//!
//! The main server listens on 127.0.0.3 here, not 127.0.0.1: the NSD
//! secondary is on 127.0.0.1, and zonerw does not wait for a secondary whose
//! address is that of a server that is down. Witnesses and hooks are small
//! shell scripts the tests write; they record what they saw in files.

use std::collections::BTreeMap;
use std::fs;
use std::net::{Ipv4Addr, UdpSocket};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::support::*;
use domain::base::iana::Rcode;
use domain::base::{Message, MessageBuilder, Name, Serial, Ttl};
use domain::rdata::Soa;
use serde_json::Value;

/// Address of server `main` in these tests (the local HTTP server listens there).
const MAIN3: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

const SWITCH_TO_BACKUP: &str = "web: main (127.0.0.3) -> backup (198.51.100.7): ";
const SWITCH_TO_MAIN: &str = "web: backup (198.51.100.7) -> main (127.0.0.3): ";
const STAYING: &str = "web: staying on main (127.0.0.3): ";
const NOT_COUNTED: &str = "so our own link seems down; this run is not counted towards fall";

/// Why main fails in these tests (it refuses connections), as switch lines say it.
fn main_failed() -> String {
    format!("main failed 2/2 attempts: {REFUSED}")
}

/// The switch line of a failover from main, which refuses connections.
fn failover() -> String {
    failover_line(MAIN3)
}

/// Why main fails on the second run in a row with `fall = 2`.
fn main_down_twice() -> String {
    format!("main down for 2 runs (fall 2): failed 2/2 attempts: {REFUSED}")
}

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

/// NSD pair with the seed zone, an (up) main server on 127.0.0.3, zonerw
/// configured; `tweak` may use the pair (ports, directory for scripts).
fn setup(tweak: impl FnOnce(&mut Settings, &NsdPair)) -> (NsdPair, MainServer, Zonerw) {
    let main = MainServer::http_on(MAIN3, Mode::Up);
    let nsd = NsdPair::new(&[ZONE]);
    let mut settings = Settings::new(&main.url("/up.txt"));
    settings.main_ip = MAIN3;
    tweak(&mut settings, &nsd);
    let z = Zonerw::new(&nsd, settings);
    (nsd, main, z)
}

/// `[verify]` with the pair's primary, the given secondaries and timeout.
fn verify_table(nsd: &NsdPair, secondaries: &[String], timeout: &str) -> String {
    format!(
        "[verify]\nprimary = \"127.0.0.1:{}\"\nsecondaries = {}\ntimeout = \"{timeout}\"\n",
        nsd.primary.port,
        toml_list(secondaries)
    )
}

/// The real secondary as a `[verify] secondaries` entry.
fn secondary_addr(nsd: &NsdPair) -> String {
    format!("127.0.0.1:{}", nsd.secondary.port)
}

/// Write a `/bin/sh` script into the pair's directory.
fn script(nsd: &NsdPair, name: &str, body: &str) -> PathBuf {
    let path = nsd.dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    path
}

/// `sh <path>` as the witness/hook names it in messages.
fn sh_name(path: &Path) -> String {
    format!("sh {}", path.display())
}

/// Wait until the secondary serves `serial` and check www's address.
#[track_caller]
fn assert_secondary(nsd: &NsdPair, serial: u32, www: Ipv4Addr) {
    nsd.assert_secondary(ZONE, serial, www, PROPAGATE);
}

/// Give a (wrong) change time to arrive, then check both servers still
/// serve `serial` with www = main.
#[track_caller]
fn assert_still_on_main(nsd: &NsdPair, serial: u32, r: &Run) {
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(nsd.primary_serial(ZONE), Some(serial), "primary\n{r}");
    assert_eq!(nsd.secondary_serial(ZONE), Some(serial), "secondary\n{r}");
    assert_eq!(nsd.secondary_www(ZONE), vec![MAIN3], "secondary www\n{r}");
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()))
}

/// (chosen, main's bad count, main's good count) of pool `web` in state.json.
fn web_counters(z: &Zonerw) -> (String, u64, u64) {
    let state = read_json(&z.state_json());
    let pool = &state["pools"]["web"];
    let main = &pool["servers"]["main"];
    (
        pool["chosen"].as_str().unwrap_or("?").to_owned(),
        main["bad"].as_u64().unwrap_or(u64::MAX),
        main["good"].as_u64().unwrap_or(u64::MAX),
    )
}

fn history_events(z: &Zonerw, event: &str) -> Vec<Value> {
    read_history(z)
        .into_iter()
        .filter(|v| v["event"] == event)
        .collect()
}

/// The last `guard` event in history.jsonl; checks pool, server and verdict.
#[track_caller]
fn assert_last_guard_event(z: &Zonerw, verdict: &str, r: &Run) {
    let guards = history_events(z, "guard");
    let last = guards
        .last()
        .unwrap_or_else(|| panic!("no guard event in history.jsonl\n{r}"));
    assert_eq!(last["pool"], "web", "{last}");
    assert_eq!(last["server"], "main", "{last}");
    assert_eq!(last["verdict"], verdict, "{last}");
    assert!(
        last["time"].is_string() && last["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "guard event needs time and detail: {last}"
    );
}

/// A run in which main failed (`failure`) and the guard kept the pool on it: its one
/// stdout line (CONTRACT) is `STAYING<failure>; <detail>`, nothing on stderr, nothing
/// changed (both servers still serve `s1` with www = main, the pool's counters are still
/// `before`), and the verdict is recorded in history.jsonl and shown by `status --json`.
#[track_caller]
#[allow(clippy::too_many_arguments, reason = "the parts of one expectation")]
fn assert_stayed(
    nsd: &NsdPair,
    z: &Zonerw,
    r: &Run,
    s1: u32,
    before: &(String, u64, u64),
    verdict: &str,
    failure: &str,
    detail: &str,
) {
    r.expect_ok();
    r.expect_stdout(&lines!(format!("{STAYING}{failure}; {detail}")));
    r.expect_stderr("");
    assert_eq!(
        &web_counters(z),
        before,
        "CONTRACT: the pool's state stays as before\n{r}"
    );
    assert_still_on_main(nsd, s1, r);
    assert_last_guard_event(z, verdict, r);
    let guard = status_guard(z);
    assert_eq!(guard["verdict"], verdict, "status --json guard: {guard}");
    assert!(
        guard["time"].is_string() && guard["detail"].is_string(),
        "{guard}"
    );
}
/// A run in which main failed (`failure`) and the guard confirmed the failover: the switch
/// line `SWITCH_TO_BACKUP<failure>; <detail>` and the zone line from `s1` to `s1 + 1`, www =
/// backup served, and "confirmed" recorded in history.jsonl and shown by `status --json`.
#[track_caller]
fn assert_confirmed(nsd: &NsdPair, z: &Zonerw, r: &Run, s1: u32, failure: &str, detail: &str) {
    r.expect_ok();
    r.expect_stdout(&lines!(
        format!("{SWITCH_TO_BACKUP}{failure}; {detail}"),
        zone_line(ZONE, s1, s1 + 1),
    ));
    r.expect_stderr("");
    assert_secondary(nsd, s1 + 1, BACKUP_IP);
    assert_last_guard_event(z, "confirmed", r);
    assert_eq!(status_guard(z)["verdict"], "confirmed", "status --json");
}
/// `zonerw status --json`, parsed.
fn status_json(z: &Zonerw) -> Value {
    let r = z.run(&["status", "--json"]);
    r.expect_ok();
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("status --json: {e}\n{r}"))
}

/// status --json pools[name = web].guard
fn status_guard(z: &Zonerw) -> Value {
    let status = status_json(z);
    status["pools"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == "web"))
        .map_or_else(
            || panic!("no pool web in status --json: {status}"),
            |p| p["guard"].clone(),
        )
}

/// status --json zones[zone = ZONE]
fn status_zone(z: &Zonerw) -> Value {
    let status = status_json(z);
    status["zones"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["zone"] == ZONE))
        .cloned()
        .unwrap_or_else(|| panic!("no zone {ZONE} in status --json: {status}"))
}

/// The zone's record in `status --json` lists no lagging secondary.
#[track_caller]
fn assert_nothing_lagging(z: &Zonerw) {
    let zone = status_zone(z);
    assert!(
        zone["lagging"]
            .as_object()
            .is_none_or(serde_json::Map::is_empty),
        "nothing lagging: {zone}"
    );
}

/// `NAME=value` lines of a file written by `env`, only the ZONERW_ ones.
fn zonerw_env(path: &Path) -> BTreeMap<String, String> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.starts_with("ZONERW_"))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn env_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn default_template_with(extra: &str) -> String {
    format!("{}{extra}\n", default_template(ZONE))
}

/// Is process `pid` alive (and not a zombie), and ours (its command line or
/// environment contains `tag`)?
fn our_live_process(pid: i32, tag: &str) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or("X");
    if state == "Z" || state == "X" {
        return false;
    }
    let has_tag = |file: &str| {
        fs::read(format!("/proc/{pid}/{file}"))
            .is_ok_and(|b| String::from_utf8_lossy(&b).contains(tag))
    };
    has_tag("cmdline") || has_tag("environ")
}

/// Processes started by witness scripts, as `<kind> <pid>` lines in a file.
/// Drop SIGKILLs every one of them still alive, so a failing test leaves
/// nothing behind. Processes are identified by pid plus a per-test tag.
struct WitnessPids {
    file: PathBuf,
    tag: String,
}

impl WitnessPids {
    fn entries(&self) -> Vec<(String, i32)> {
        pid_entries(&self.file)
    }

    fn alive(&self) -> Vec<(String, i32)> {
        self.entries()
            .into_iter()
            .filter(|(_, pid)| our_live_process(*pid, &self.tag))
            .collect()
    }
}

impl Drop for WitnessPids {
    fn drop(&mut self) {
        for (_, pid) in self.alive() {
            // SAFETY: a process our test's witness script started (checked by tag).
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

/// A fake secondary on 127.0.0.1:<port> that answers every SOA query for
/// the zone with a fixed serial: it never catches up, NOTIFY or not.
struct StaleSecondary {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StaleSecondary {
    fn start(serial: u32) -> StaleSecondary {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let port = sock.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut buf = vec![0u8; 4096];
            while !flag.load(Ordering::SeqCst) {
                let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(query) = Message::from_octets(buf[..n].to_vec()) else {
                    continue;
                };
                if let Some(answer) = soa_answer(&query, serial) {
                    let _ = sock.send_to(&answer, peer);
                }
            }
        });
        StaleSecondary {
            port,
            stop,
            thread: Some(thread),
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for StaleSecondary {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An authoritative answer with the zone's SOA at `serial` (NOTIFYs too get
/// a reply, which the primary accepts as an acknowledgement).
fn soa_answer(query: &Message<Vec<u8>>, serial: u32) -> Option<Vec<u8>> {
    let zone = Name::<Vec<u8>>::from_str(&format!("{ZONE}.")).ok()?;
    let ns = Name::<Vec<u8>>::from_str(&format!("ns1.{ZONE}.")).ok()?;
    let mut answer = MessageBuilder::new_vec()
        .start_answer(query, Rcode::NOERROR)
        .ok()?;
    answer.header_mut().set_aa(true);
    let t = Ttl::from_secs;
    let soa = Soa::new(
        ns.clone(),
        ns,
        Serial::from(serial),
        t(3600),
        t(600),
        t(86400),
        t(60),
    );
    answer.push((zone, 60u32, soa)).ok()?;
    Some(answer.finish())
}

// ---------------------------------------------------------------------------
// guard
// ---------------------------------------------------------------------------

/// Reference URLs that all fail (one refusing, one black-holed local port):
/// no failover, "our own link seems down", and the run does not count
/// towards `fall`. Once a reference answers (any status), the failover happens.
#[test]
fn guard_unreachable_references_mean_own_link_down_and_the_run_is_not_counted() {
    let refusing = MainServer::http(Mode::Refusing);
    let hole = MainServer::http(Mode::BlackHole);
    let refs = [
        format!("http://127.0.0.1:{}/", refusing.port()),
        format!("http://127.0.0.1:{}/ping", hole.port()),
    ];
    let (nsd, main, z) = setup(|s, _| {
        s.fall = 2;
        s.extra_tables = format!(
            "[guard]\nreference = {}\ntimeout = \"1s\"\n",
            toml_list(&refs)
        );
    });
    let s1 = first_run(&nsd, &z, MAIN3);
    main.set_mode(Mode::Refusing);

    // First failure with fall 2: counted, not about to leave main, so no guard.
    let r = z.run(&[]);
    r.expect_ok();
    assert_eq!(r.stdout, "", "one failed run with fall 2 is silent\n{r}");
    let counted = ("main".to_owned(), 1, 0);
    assert_eq!(web_counters(&z), counted, "{r}");

    // Second and third failure: about to leave main; no reference answers. Not counted
    // towards fall: the pool's state stays as after the first failure.
    for round in 0..2 {
        let hole_hits = hole.accepted();
        let r = z.run(&[]);
        let detail = format!("no reference URL answered within 1s, {NOT_COUNTED}");
        let failure = main_down_twice();
        assert_stayed(
            &nsd,
            &z,
            &r,
            s1,
            &counted,
            "own-link-down",
            &failure,
            &detail,
        );
        assert!(
            r.elapsed < Duration::from_secs(4),
            "round {round}: the guard is bounded by its 1s timeout, took {:?}\n{r}",
            r.elapsed
        );
        assert!(
            hole.accepted() > hole_hits,
            "round {round}: the black-holed reference was not fetched\n{r}"
        );
    }

    // A reference answers (HTTP 500 counts: any status means the link is up).
    hole.set_mode(Mode::Status500);
    let r = z.run(&[]);
    let detail = "our link is up (1 of 2 reference URLs answered)";
    assert_confirmed(&nsd, &z, &r, s1, &main_down_twice(), detail);
    assert_eq!(web_counters(&z).0, "backup");
}

/// A witness that exits 0 (it reaches main) vetoes the failover even when
/// another confirms; once it confirms too, the failover happens.
#[test]
fn guard_a_witness_that_reaches_main_vetoes_the_failover() {
    let mut paths = (
        PathBuf::new(),
        PathBuf::new(),
        PathBuf::new(),
        PathBuf::new(),
    );
    let (nsd, main, z) = setup(|s, nsd| {
        let count = nsd.dir.join("veto.count");
        let code = nsd.dir.join("veto.code");
        fs::write(&code, "0\n").unwrap();
        let confirm = script(nsd, "confirm.sh", "exit 1\n");
        let veto = script(
            nsd,
            "veto.sh",
            &format!(
                "echo ran >> {}\nexit \"$(cat {})\"\n",
                count.display(),
                code.display()
            ),
        );
        s.extra_tables = format!(
            "[guard]\nwitnesses = [{}, {}]\ntimeout = \"5s\"\n",
            toml_list(&["sh", confirm.to_str().unwrap()]),
            toml_list(&["sh", veto.to_str().unwrap()])
        );
        paths = (count, code, confirm, veto);
    });
    let (count, code, _confirm, veto) = paths;
    let s1 = first_run(&nsd, &z, MAIN3);
    assert!(
        !count.exists(),
        "witnesses run only when about to fail over"
    );
    main.set_mode(Mode::Refusing);
    let before = web_counters(&z);

    let r = z.run(&[]);
    let veto = format!("failover vetoed: witness '{}' reaches main", sh_name(&veto));
    assert_stayed(&nsd, &z, &r, s1, &before, "vetoed", &main_failed(), &veto);
    assert_eq!(fs::read_to_string(&count).unwrap(), "ran\n");

    // Now both witnesses say main is unreachable.
    fs::write(&code, "1\n").unwrap();
    let r = z.run(&[]);
    let detail = "confirmed by 2 of 2 witnesses";
    assert_confirmed(&nsd, &z, &r, s1, &main_failed(), detail);
}

/// Witnesses that exit 1 confirm (one that exits 7 gives no answer and does
/// not block); every witness gets the server under suspicion in its env.
#[test]
fn guard_witnesses_that_exit_1_confirm_and_get_the_server_in_their_env() {
    let mut env_file = PathBuf::new();
    let (nsd, main, z) = setup(|s, nsd| {
        env_file = nsd.dir.join("witness-env");
        let confirm = script(
            nsd,
            "confirm.sh",
            &format!("env > {}.\"$1\"\nexit 1\n", env_file.display()),
        );
        let c = confirm.to_str().unwrap();
        s.extra_tables = format!(
            "[guard]\nwitnesses = [{}, {}, {}]\n",
            toml_list(&["sh", c, "a"]),
            toml_list(&["sh", "-c", "exit 7"]),
            toml_list(&["sh", c, "b"]),
        );
    });
    let s1 = first_run(&nsd, &z, MAIN3);
    main.set_mode(Mode::Refusing);
    let r = z.run(&[]);
    let detail = "confirmed by 2 of 3 witnesses";
    assert_confirmed(&nsd, &z, &r, s1, &main_failed(), detail);

    let want = env_map(&[
        ("ZONERW_POOL", "web"),
        ("ZONERW_SERVER", "main"),
        ("ZONERW_ADDRESS", "127.0.0.3"),
        ("ZONERW_URL", &main.url("/up.txt")),
    ]);
    for which in ["a", "b"] {
        let path = PathBuf::from(format!("{}.{which}", env_file.display()));
        assert_eq!(zonerw_env(&path), want, "env of witness {which}");
    }
}

/// Witnesses that hang are bounded by `[guard] timeout`: no failover, own
/// link down, the run ends within a few seconds and no witness process (nor
/// a child it started) is left running.
#[test]
fn guard_hung_witnesses_time_out_and_are_killed() {
    let mut pids = None;
    let (nsd, main, z) = setup(|s, nsd| {
        let tag = nsd.dir.display().to_string();
        let file = nsd.dir.join("witness.pids");
        let hang = script(
            nsd,
            "hang.sh",
            &format!(
                "exec >/dev/null 2>&1\nexport ZRW_TEST_TAG={tag}\necho \"witness $$\" >> {f}\nsleep 60 &\necho \"child $!\" >> {f}\nwait\n",
                f = file.display()
            ),
        );
        let h = hang.to_str().unwrap();
        s.extra_tables = format!(
            "[guard]\nwitnesses = [{}, {}]\ntimeout = \"1s\"\n",
            toml_list(&["sh", h, "one"]),
            toml_list(&["sh", h, "two"]),
        );
        pids = Some(WitnessPids { file, tag });
    });
    let pids = pids.unwrap();
    let s1 = first_run(&nsd, &z, MAIN3);
    main.set_mode(Mode::Refusing);
    let before = web_counters(&z);

    let r = z.run(&[]);
    let detail = format!("no witness answered (2 of 2 gave no answer), {NOT_COUNTED}");
    let failure = main_failed();
    assert_stayed(
        &nsd,
        &z,
        &r,
        s1,
        &before,
        "own-link-down",
        &failure,
        &detail,
    );
    assert!(
        r.elapsed < Duration::from_secs(5),
        "the 1s guard timeout bounds the witnesses; the run took {:?}\n{r}",
        r.elapsed
    );
    assert_eq!(pids.entries().len(), 4, "both witnesses started\n{r}");
    let left = poll(Duration::from_secs(2), || {
        let alive = pids.alive();
        alive.is_empty().then_some(())
    });
    assert!(
        left.is_some(),
        "witness processes still running after the run: {:?} (witness = the spawned sh, child = its sleep)\n{r}",
        pids.alive()
    );
}

// ---------------------------------------------------------------------------
// verify
// ---------------------------------------------------------------------------

/// A reload that NSD does not carry out.
struct UnloadedZone {
    name: &'static str,
    tweak: fn(&mut Settings),
    /// Breaks the next reload (after the first run).
    break_reload: fn(&mut Zonerw),
    /// NSD dropped the zone: the primary answers SERVFAIL (else it serves the old serial).
    servfail: bool,
    /// Undoes the break.
    fix: fn(&mut Zonerw),
    /// The fixed run adopts the file the failed run installed (same text: no new serial).
    adopts: bool,
    /// A name that only the fixed zone has, and its address.
    fixed_name: Option<(&'static str, Ipv4Addr)>,
}

/// The check of the primary catches a reload NSD did not carry out: exit 1 naming what the
/// primary serves, state not advanced, the secondary keeps the old zone. Once fixed, the
/// next run gets the zone served, verified at exit, and then a run is quiet.
#[test]
fn verify_primary_catches_a_zone_nsd_did_not_load() {
    let cases = [
        UnloadedZone {
            name: "nsd-control does nothing (control = true)",
            tweak: |_| {},
            break_reload: |z| {
                z.settings.control = Some("[\"true\"]".to_owned());
                z.write_config();
                z.write_template(ZONE, &default_template_with("info IN TXT \"v2\""));
            },
            servfail: false,
            fix: |z| {
                z.settings.control = None;
                z.write_config();
            },
            adopts: true,
            fixed_name: None,
        },
        UnloadedZone {
            name: "NSD drops a broken zone (no checkzone)",
            tweak: |s| s.checkzone = Some(String::new()),
            break_reload: |z| {
                z.write_template(ZONE, &default_template_with("bad IN A 192.0.2.300"));
            },
            servfail: true,
            fix: |z| {
                z.write_template(ZONE, &default_template_with("good IN A 192.0.2.30"));
            },
            adopts: false,
            fixed_name: Some(("good", Ipv4Addr::new(192, 0, 2, 30))),
        },
    ];
    check_cases(&cases, |c| c.name, check_unloaded_zone);
}

/// One case of `verify_primary_catches_a_zone_nsd_did_not_load`.
fn check_unloaded_zone(c: &UnloadedZone) {
    let (nsd, _main, mut z) = setup(|s, nsd| {
        (c.tweak)(s);
        s.extra_tables = verify_table(nsd, &[secondary_addr(nsd)], "2s");
    });
    let s1 = first_run(&nsd, &z, MAIN3);
    (c.break_reload)(&mut z);
    let state_before = fs::read(z.state_json()).unwrap();

    let r = z.run(&[]);
    r.expect_code(1);
    let answer = if c.servfail {
        "answers SERVFAIL".to_owned()
    } else {
        format!("serves serial {s1}")
    };
    r.expect_stderr(&lines!(format!(
        "zonerw: error: {ZONE}: the primary 127.0.0.1:{} {answer}, not {}, 2s after the reload (NSD did not load the new file; see its log); the state was not advanced, so the next run retries",
        nsd.primary.port,
        s1 + 1
    )));
    r.expect_stdout(&lines!(zone_line(ZONE, s1, s1 + 1)));
    if c.servfail {
        assert_eq!(
            soa_rcode(nsd.primary.port, ZONE),
            Some(Rcode::SERVFAIL),
            "precondition: NSD dropped the broken zone\n{}",
            nsd.diagnostics()
        );
    } else {
        assert_eq!(nsd.primary_serial(ZONE), Some(s1));
    }
    assert_eq!(
        state_before,
        fs::read(z.state_json()).unwrap(),
        "state.json advanced\n{r}"
    );
    assert_eq!(
        nsd.secondary_serial(ZONE),
        Some(s1),
        "secondary keeps the old zone"
    );

    (c.fix)(&mut z);
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stderr("");
    let new = if c.adopts {
        r.expect_stdout(&lines!(format!(
            "{ZONE}: serial {} already installed, reloaded",
            s1 + 1
        )));
        s1 + 1
    } else {
        r.expect_stdout(&lines!(zone_line(ZONE, s1 + 1, s1 + 2)));
        s1 + 2
    };
    assert_eq!(
        nsd.primary_serial(ZONE),
        Some(new),
        "verified: the primary serves it at exit\n{r}"
    );
    assert_secondary(&nsd, new, MAIN3);
    if let Some((name, ip)) = c.fixed_name {
        assert_eq!(
            a_record(nsd.secondary.port, &format!("{name}.{ZONE}")),
            vec![ip]
        );
    }
    let r = z.run(&[]);
    r.expect_ok();
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""), "{r}");
}

/// A run after which one secondary, `laggard`, lags behind: exit 0, and on stderr just
/// one warning, `warning`; `status --json` lists only `laggard` as lagging, and a run with
/// nothing to do is silent (it does not repeat the warning).
#[track_caller]
fn assert_one_laggard(z: &Zonerw, r: &Run, laggard: &str, warning: &str) {
    r.expect_ok();
    r.expect_stderr(&lines!(warning));
    let zone = status_zone(z);
    let lagging = zone["lagging"].as_object().cloned().unwrap_or_default();
    assert_eq!(
        lagging.keys().collect::<Vec<_>>(),
        vec![laggard],
        "status --json zones[].lagging: {zone}"
    );
    assert!(
        lagging[laggard].as_str().is_some_and(|s| !s.is_empty()),
        "status --json zones[].lagging should say what {laggard} serves: {zone}"
    );
    let r = z.run(&[]);
    r.expect_ok();
    assert_eq!(
        (r.stdout.as_str(), r.stderr.as_str()),
        ("", ""),
        "a no-change run does not repeat the warning\n{r}"
    );
}

/// A stopped secondary: one warning after the re-NOTIFY, exit 0, recorded
/// as lagging in `status --json`, and not repeated by a no-change run.
#[test]
fn verify_stopped_secondary_is_reported_once_and_recorded() {
    let (mut nsd, _main, z) = setup(|s, nsd| {
        s.extra_tables = verify_table(nsd, &[secondary_addr(nsd)], "500ms");
    });
    let s1 = first_run(&nsd, &z, MAIN3);
    let sec = secondary_addr(&nsd);
    nsd.stop_secondary();
    z.write_template(ZONE, &default_template_with("info IN TXT \"v2\""));
    let log_from = nsd.primary_log_lines();

    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stdout(&lines!(zone_line(ZONE, s1, s1 + 1)));
    assert_eq!(nsd.primary_serial(ZONE), Some(s1 + 1));
    assert!(
        r.elapsed < Duration::from_secs(10),
        "two waits of 500ms; took {:?}\n{r}",
        r.elapsed
    );
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        nsd.primary_control_cmds(log_from)
            .iter()
            .any(|l| l.contains("notify")),
        "zonerw should re-NOTIFY via nsd-control: {:?}\n{r}",
        nsd.primary_control_cmds(log_from)
    );
    let warning = format!(
        "zonerw: warning: {ZONE}: secondary {sec} still gives no answer, not {}, after a NOTIFY and two waits of 500ms",
        s1 + 1
    );
    assert_one_laggard(&z, &r, &sec, &warning);
}

/// A secondary that answers, but stays on an old serial: the warning says
/// what it still serves; the healthy real secondary is not mentioned.
#[test]
fn verify_secondary_stuck_on_an_old_serial_is_named_with_what_it_serves() {
    let stale = StaleSecondary::start(SEED_SERIAL);
    assert_eq!(
        soa_serial(stale.port, ZONE),
        Some(SEED_SERIAL),
        "precondition: the fake secondary answers"
    );
    let (nsd, _main, z) = setup(|s, nsd| {
        s.extra_tables = verify_table(nsd, &[secondary_addr(nsd), stale.addr()], "1s");
    });
    let r = z.run(&[]);
    r.expect_ok();
    let s1 = r.new_serial(ZONE);
    r.expect_stdout(&lines!(zone_line(ZONE, SEED_SERIAL, s1)));
    assert_secondary(&nsd, s1, MAIN3);
    let warning = format!(
        "zonerw: warning: {ZONE}: secondary {} still serves serial {SEED_SERIAL}, not {s1}, after a NOTIFY and two waits of 1s",
        stale.addr()
    );
    assert_one_laggard(&z, &r, &stale.addr(), &warning);
}

/// The secondary is down when the primary reloads and NOTIFYs; it comes back
/// (with its old copy, no transfer of its own) during zonerw's first wait, and
/// catches up through a NOTIFY from zonerw: its own, half a second after the reload (if
/// the secondary is back by then), or `nsd-control notify` after the first wait.
#[test]
fn verify_restarted_secondary_catches_up_through_zonerws_notify() {
    let (mut nsd, _main, z) = setup(|s, nsd| {
        s.extra_tables = verify_table(nsd, &[secondary_addr(nsd)], "2s");
    });
    let s1 = first_run(&nsd, &z, MAIN3);
    // Have the secondary write its copy, so that on restart it loads it and
    // waits for the SOA refresh (3600 s) instead of transferring at once.
    let out = nsd.secondary_control(&["write", ZONE]);
    assert!(out.status.success(), "nsd-control write: {out:?}");
    let copy = nsd.secondary.dir.join(format!("{ZONE}.zone"));
    poll(Duration::from_secs(5), || {
        let text = fs::read_to_string(&copy).ok()?;
        text.contains(&s1.to_string()).then_some(())
    })
    .unwrap_or_else(|| panic!("secondary did not write {}", copy.display()));
    nsd.stop_secondary();
    // Catch the primary's NOTIFY of the new serial on the secondary's port: the secondary
    // must miss it (else it would catch up on its own), and come back only after it.
    let catcher = UdpSocket::bind(("127.0.0.1", nsd.secondary.port)).unwrap();
    catcher
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    z.write_template(ZONE, &default_template_with("info IN TXT \"v2\""));
    let running = z.spawn(&[]);
    let mut notify = [0u8; 512];
    catcher
        .recv(&mut notify)
        .unwrap_or_else(|e| panic!("the primary sent no NOTIFY: {e}\n{}", nsd.diagnostics()));
    drop(catcher);
    poll(Duration::from_secs(10), || {
        (nsd.primary_serial(ZONE) == Some(s1 + 1)).then_some(())
    })
    .unwrap_or_else(|| panic!("the primary never served {}\n{}", s1 + 1, nsd.diagnostics()));
    nsd.start_secondary();
    let at_start = nsd.secondary_serial(ZONE);
    let r = running.wait();
    r.expect_ok();
    assert_eq!(
        at_start,
        Some(s1),
        "precondition: the restarted secondary serves its old copy\n{r}"
    );
    r.expect_stdout(&lines!(zone_line(ZONE, s1, s1 + 1)));
    // The secondary caught up: no warning.
    r.expect_stderr("");
    assert_eq!(
        nsd.secondary_serial(ZONE),
        Some(s1 + 1),
        "verified: the secondary serves the new serial at exit\n{r}"
    );
    // The primary's own NOTIFY went to the catcher, and its retry comes only after 15 s.
    assert_nothing_lagging(&z);
}

/// A secondary the primary does not NOTIFY (say, one the operator forgot in the
/// primary's `notify:` list, or whose NOTIFY was lost) gets one from zonerw itself half a
/// second after the reload, transfers the zone and serves it well within the first wait:
/// no lag, no warning. (`nsd-control notify` would not help it: NSD notifies only its
/// list.) Before, it lagged until its SOA refresh and every run warned.
#[test]
fn verify_notifies_a_lagging_secondary_itself() {
    let (mut nsd, main, z) = setup(|s, nsd| {
        s.extra_tables = verify_table(nsd, &[secondary_addr(nsd)], "3s");
    });
    let s1 = first_run(&nsd, &z, MAIN3);
    // The primary forgets the secondary: no `notify:` line, restarted to read it.
    let conf = fs::read_to_string(&nsd.primary.conf).unwrap();
    let kept: Vec<&str> = conf
        .lines()
        .filter(|l| !l.trim_start().starts_with("notify:"))
        .collect();
    let without = format!("{}\n", kept.join("\n"));
    assert_ne!(conf, without, "the primary's config had notify lines");
    fs::write(&nsd.primary.conf, without).unwrap();
    nsd.stop_primary();
    nsd.start_primary();
    nsd.wait_primary_serial(ZONE, s1, Duration::from_secs(10));

    main.set_mode(Mode::Refusing);
    let r = z.run(&["-v"]);
    r.expect_ok();
    r.expect_stderr("");
    let s2 = r.new_serial(ZONE);
    let sec = secondary_addr(&nsd);
    let prefix = format!("{ZONE}: serial {s2} served by the primary after ");
    r.expect_stdout(&lines!(
        format!("probe web/main 127.0.0.3: down, failed 2/2 attempts: {REFUSED}"),
        "probe web/backup 198.51.100.7: no check, counted healthy",
        failover(),
        zone_line(ZONE, s1, s2),
        format!("{prefix}{{ms}} ms, by {sec} after {{ms}} ms"),
    ));
    let line = r.stdout.lines().last().unwrap_or_default();
    let ms: u64 = line
        .strip_prefix(&prefix)
        .and_then(|rest| rest.rsplit_once(&format!(", by {sec} after ")))
        .and_then(|(_, rest)| rest.strip_suffix(" ms"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no time for the secondary in {line:?}\n{r}"));
    // Not before zonerw's NOTIFY; and in the first wait, since nothing lags.
    assert!(
        ms >= 500,
        "served {ms} ms after the reload, before zonerw's NOTIFY at 500 ms\n{r}"
    );
    nsd.assert_secondary(ZONE, s2, BACKUP_IP, PROPAGATE);
    assert_nothing_lagging(&z);
}

/// `-v` prints how long the primary and each secondary took to serve the new
/// serial; history zone events record it. Without `-v` no such line.
#[test]
fn verbose_run_shows_propagation_times_and_history_records_them() {
    let (nsd, main, z) = setup(|s, nsd| {
        s.extra_tables = verify_table(nsd, &[secondary_addr(nsd)], "5s");
    });
    let sec = secondary_addr(&nsd);
    let r = z.run(&["-v"]);
    r.expect_ok();
    let s1 = r.new_serial(ZONE);
    let prefix = format!("{ZONE}: serial {s1} served by the primary after ");
    r.expect_stdout(&lines!(
        "probe web/main 127.0.0.3: up, HTTP 200 in {ms} ms",
        "probe web/backup 198.51.100.7: no check, counted healthy",
        zone_line(ZONE, SEED_SERIAL, s1),
        format!("{prefix}{{ms}} ms, by {sec} after {{ms}} ms"),
    ));
    r.expect_stderr("");
    let line = r.stdout.lines().last().unwrap();
    let rest = &line[prefix.len()..];
    let parsed = rest.split_once(" ms, by ").and_then(|(p, rest)| {
        let q = rest
            .strip_prefix(&format!("{sec} after "))?
            .strip_suffix(" ms")?;
        Some((p.parse::<u64>().ok()?, q.parse::<u64>().ok()?))
    });
    let (p, q) = parsed
        .unwrap_or_else(|| panic!("want '{prefix}N ms, by {sec} after M ms', got {line:?}\n{r}"));
    assert!(p < 5000 && q < 5000, "{line}");
    let zones = history_events(&z, "zone");
    let last = zones.last().expect("zone event");
    assert_eq!(last["to_serial"], s1, "{last}");
    assert_eq!(last["propagation_ms"]["primary"], p, "{last}");
    assert_eq!(last["propagation_ms"][&sec], q, "{last}");
    assert_secondary(&nsd, s1, MAIN3);

    main.set_mode(Mode::Refusing);
    let r = z.run(&[]);
    r.expect_ok();
    // The switch and the zone line only, without -v.
    r.expect_stdout(&lines!(failover(), zone_line(ZONE, s1, s1 + 1)));
    assert_secondary(&nsd, s1 + 1, BACKUP_IP);
    let zones = history_events(&z, "zone");
    let last = zones.last().expect("zone event");
    assert_eq!(last["to_serial"], s1 + 1, "{last}");
    assert!(
        last["propagation_ms"]["primary"].is_u64() && last["propagation_ms"][&sec].is_u64(),
        "{last}"
    );
}

/// A secondary on the address of the server that is down is not waited for:
/// a note on stdout, no warning, and the run does not sit out the timeout.
#[test]
fn verify_does_not_wait_for_a_secondary_on_the_down_main_server() {
    let dead = UdpSocket::bind((MAIN3, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (nsd, main, mut z) = setup(|_, _| {});
    // Main is up on the first run, so its "secondary" would be waited for.
    let s1 = first_run(&nsd, &z, MAIN3);
    let on_main = format!("127.0.0.3:{dead}");
    z.settings.extra_tables = verify_table(&nsd, &[secondary_addr(&nsd), on_main.clone()], "5s");
    z.write_config();

    main.set_mode(Mode::Refusing);
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stdout(&lines!(
        failover(),
        zone_line(ZONE, s1, s1 + 1),
        format!(
            "{ZONE}: secondary {on_main} is main, which is down; it will get serial {} when it is back",
            s1 + 1
        ),
    ));
    // No warning for the down server.
    r.expect_stderr("");
    assert!(
        r.elapsed < Duration::from_secs(4),
        "not waited for (verify timeout 5s); took {:?}\n{r}",
        r.elapsed
    );
    assert_eq!(
        nsd.secondary_serial(ZONE),
        Some(s1 + 1),
        "real secondary verified"
    );
    assert_secondary(&nsd, s1 + 1, BACKUP_IP);
    let zone = status_zone(&z);
    assert!(
        zone["lagging"].get(&on_main).is_none(),
        "the down server is not lagging: {zone}"
    );
}

// ---------------------------------------------------------------------------
// hooks
// ---------------------------------------------------------------------------

/// The on-change hook script: appends "call" and its ZONERW_ env to `log`,
/// exits with the number in `code`.
fn hook_script(nsd: &NsdPair, log: &Path, code: &Path, exit: u8) -> PathBuf {
    fs::write(code, format!("{exit}\n")).unwrap();
    script(
        nsd,
        "hook.sh",
        &format!(
            "{{ echo call; env | grep '^ZONERW_' | sort; }} >> {}\nexit \"$(cat {})\"\n",
            log.display(),
            code.display()
        ),
    )
}

/// The env of each call in the hook log.
fn hook_calls(log: &Path) -> Vec<BTreeMap<String, String>> {
    let text = fs::read_to_string(log).unwrap_or_default();
    let mut calls = Vec::new();
    for line in text.lines() {
        if line == "call" {
            calls.push(BTreeMap::new());
        } else if let (Some(call), Some((k, v))) = (calls.last_mut(), line.split_once('=')) {
            call.insert(k.to_owned(), v.to_owned());
        }
    }
    calls
}

/// `setup` with the on-change hook of `hook_script`, exiting `exit`; also returns the
/// hook's log and its script.
fn setup_with_hook(exit: u8) -> (NsdPair, MainServer, Zonerw, PathBuf, PathBuf) {
    let mut files = (PathBuf::new(), PathBuf::new());
    let (nsd, main, z) = setup(|s, nsd| {
        let log = nsd.dir.join("hook.log");
        let hook = hook_script(nsd, &log, &nsd.dir.join("hook.code"), exit);
        s.extra_tables = format!(
            "[hooks]\non-change = {}\n",
            toml_list(&["sh", hook.to_str().unwrap()])
        );
        files = (log, hook);
    });
    (nsd, main, z, files.0, files.1)
}

#[test]
fn hook_on_change_gets_each_switch_in_its_env() {
    let (nsd, main, z, log, _hook) = setup_with_hook(0);
    let s1 = first_run(&nsd, &z, MAIN3);
    assert!(hook_calls(&log).is_empty(), "no switch, no hook");

    main.set_mode(Mode::Refusing);
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stderr("");
    r.expect_stdout(&lines!(failover(), zone_line(ZONE, s1, s1 + 1)));
    assert_secondary(&nsd, s1 + 1, BACKUP_IP);
    let switches = history_events(&z, "switch");
    let reason = switches.last().unwrap()["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(reason, main_failed());
    let calls = hook_calls(&log);
    assert_eq!(calls.len(), 1, "one call per switch: {calls:?}\n{r}");
    let want = env_map(&[
        ("ZONERW_POOL", "web"),
        ("ZONERW_FROM", "main"),
        ("ZONERW_TO", "backup"),
        ("ZONERW_FROM_ADDRESS", "127.0.0.3"),
        ("ZONERW_TO_ADDRESS", "198.51.100.7"),
        ("ZONERW_REASON", &reason),
    ]);
    assert_eq!(calls[0], want);

    let r = z.run(&[]);
    r.expect_ok();
    assert_eq!(r.stdout, "", "{r}");
    assert_eq!(hook_calls(&log).len(), 1, "no switch, no hook");

    main.set_mode(Mode::Up);
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stdout(&lines!(
        format!("{SWITCH_TO_MAIN}main healthy again (1 good run, rise 1)"),
        zone_line(ZONE, s1 + 1, s1 + 2),
    ));
    r.expect_stderr("");
    assert_secondary(&nsd, s1 + 2, MAIN3);
    let calls = hook_calls(&log);
    assert_eq!(calls.len(), 2, "{calls:?}\n{r}");
    let want = env_map(&[
        ("ZONERW_POOL", "web"),
        ("ZONERW_FROM", "backup"),
        ("ZONERW_TO", "main"),
        ("ZONERW_FROM_ADDRESS", "198.51.100.7"),
        ("ZONERW_TO_ADDRESS", "127.0.0.3"),
        ("ZONERW_REASON", "main healthy again (1 good run, rise 1)"),
    ]);
    assert_eq!(calls[1], want);
}

#[test]
fn hook_failure_is_a_warning_and_the_switch_stays_committed() {
    let (nsd, main, z, log, hook) = setup_with_hook(3);
    let s1 = first_run(&nsd, &z, MAIN3);
    main.set_mode(Mode::Refusing);
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stdout(&lines!(failover(), zone_line(ZONE, s1, s1 + 1)));
    r.expect_stderr(&lines!(format!(
        "zonerw: warning: on-change hook '{}' failed: exit status: 3",
        sh_name(&hook)
    )));
    assert_eq!(hook_calls(&log).len(), 1);
    assert_secondary(&nsd, s1 + 1, BACKUP_IP);
    assert_eq!(web_counters(&z).0, "backup", "switch committed");
    let r = z.run(&[]);
    r.expect_ok();
    assert_eq!(
        (r.stdout.as_str(), r.stderr.as_str()),
        ("", ""),
        "committed: the next run has nothing to do\n{r}"
    );
    assert_eq!(hook_calls(&log).len(), 1, "the hook is not retried");
}
