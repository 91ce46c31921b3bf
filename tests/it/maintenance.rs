//! Planned maintenance: `zonerw drain|undrain|pin|unpin` against a real NSD primary and
//! secondary, asserting what the secondary serves once the command has returned, the
//! command's output and exit code, the history, `status` and the metrics.

use std::fs;
use std::io::Write;
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

/// The switch lines of pool web (main is the local test server at 127.0.0.1).
const MAIN_TO_BACKUP: &str = "web: main (127.0.0.1) -> backup (198.51.100.7): ";
const BACKUP_TO_MAIN: &str = "web: backup (198.51.100.7) -> main (127.0.0.1): ";

/// NSD pair with the seed zone, a main server that is up, zonerw configured (with the
/// metrics textfile in its directory), and its first run done: the secondary serves main.
/// Returns the first run's serial too.
fn setup() -> (NsdPair, MainServer, Zonerw, u32) {
    let nsd = NsdPair::new(&[ZONE]);
    let main = MainServer::http(Mode::Up);
    let mut settings = Settings::new(&main.url("/up.txt"));
    settings.extra_tables = format!(
        "[metrics]\ntextfile = \"{}\"\n",
        nsd.dir.join("zonerw.prom").display()
    );
    let z = Zonerw::new(&nsd, settings);
    let s1 = first_run(&nsd, &z, MAIN_IP);
    (nsd, main, z, s1)
}

/// `zonerw status --json`'s pool web.
fn status_web(z: &Zonerw) -> Value {
    let r = z.run(&["status", "--json"]);
    r.expect_ok();
    let v: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}\n{r}"));
    v["pools"][0].clone()
}

/// The samples of metric `name` in the textfile, `{labels} value` each.
fn samples(z: &Zonerw, name: &str) -> Vec<String> {
    let text = fs::read_to_string(z.dir.join("zonerw.prom")).unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix(name))
        .filter(|rest| rest.starts_with('{'))
        .map(str::to_owned)
        .collect()
}

/// The last `n` history entries, each as `event pool server`-ish words plus its JSON.
fn last_events(z: &Zonerw, n: usize) -> Vec<Value> {
    let all = read_history(z);
    all[all.len().saturating_sub(n)..].to_vec()
}

#[test]
fn drain_moves_the_names_at_once_and_undrain_brings_them_back() {
    let (nsd, _main, z, s1) = setup();
    let r = z.run(&["drain", "web", "main", "--reason", "patching"]);
    r.expect_ok();
    r.expect_stdout(&lines!(
        "web: main drained: patching",
        format!("{MAIN_TO_BACKUP}main drained: patching"),
        zone_line(ZONE, s1, s1 + 1),
    ));
    r.expect_stderr("");
    // The command returned after the reload: the change is on its way to the secondary.
    nsd.assert_secondary(ZONE, s1 + 1, BACKUP_IP, PROPAGATE);
    let events: Vec<Value> = last_events(&z, 3);
    assert_eq!(events[0]["event"], "drain", "{events:?}");
    assert_eq!(
        (&events[0]["server"], &events[0]["reason"]),
        (&Value::from("main"), &Value::from("patching"))
    );
    assert_eq!(events[1]["event"], "switch");
    assert_eq!(events[1]["reason"], "main drained: patching");
    assert_eq!(events[2]["event"], "zone");

    // main is healthy, but drained: a run changes nothing.
    let r = z.run(&[]);
    r.expect_ok().expect_stdout("").expect_stderr("");

    // status shows the drain, in text and JSON; the metrics too.
    let r = z.run(&["status"]);
    r.expect_ok();
    assert!(
        r.stdout
            .lines()
            .any(|l| line_matches("main drained since {time}: patching", l)),
        "{r}"
    );
    let web = status_web(&z);
    let drained = &web["servers"][0]["drained"];
    assert_eq!(drained["reason"], "patching", "{web}");
    assert_eq!(drained["until"], Value::Null, "{web}");
    assert!(drained["since"].is_string(), "{web}");
    assert_eq!(web["servers"][1]["drained"], Value::Null, "{web}");
    assert_eq!(
        samples(&z, "zonerw_server_drained"),
        [
            "{pool=\"web\",server=\"main\"} 1",
            "{pool=\"web\",server=\"backup\"} 0"
        ]
    );

    // check: a drain without an end is a failure (a forgotten one keeps the names away).
    let r = z.run(&["check"]);
    r.expect_code(1);
    assert!(
        r.stdout.lines().any(|l| line_matches(
            "FAIL  pool web: main drained since {time}: patching, with no end: the pool does not return to it",
            l
        )),
        "{r}"
    );
    assert!(
        r.stdout.contains("\n      fix: 'zonerw undrain web main' when the maintenance is over (a drain --for DURATION ends by itself)\n"),
        "{r}"
    );

    let r = z.run(&["undrain", "web", "main"]);
    r.expect_ok();
    r.expect_stdout(&lines!(
        "web: main undrained",
        format!("{BACKUP_TO_MAIN}main undrained"),
        zone_line(ZONE, s1 + 1, s1 + 2),
    ));
    r.expect_stderr("");
    nsd.assert_secondary(ZONE, s1 + 2, MAIN_IP, PROPAGATE);
    assert_eq!(last_events(&z, 3)[0]["event"], "undrain");
    assert_eq!(last_events(&z, 3)[0]["cause"], "command");
    assert_eq!(status_web(&z)["servers"][0]["drained"], Value::Null);
    assert_eq!(
        samples(&z, "zonerw_server_drained"),
        [
            "{pool=\"web\",server=\"main\"} 0",
            "{pool=\"web\",server=\"backup\"} 0"
        ]
    );
    // Undraining again is said and changes nothing.
    let r = z.run(&["undrain", "web", "main"]);
    r.expect_ok()
        .expect_stdout(&lines!("web: main is not drained"));
    let r = z.run(&["check"]);
    assert!(!r.stdout.contains("drained"), "{r}");
}

#[test]
fn a_pin_for_a_while_expires_and_the_probes_choose_again() {
    let (nsd, _main, z, s1) = setup();
    let r = z.run(&["pin", "web", "backup", "--for", "2s", "--reason", "test"]);
    r.expect_ok();
    r.expect_stdout(&lines!(
        "web: pinned to backup until {time}: test",
        format!("{MAIN_TO_BACKUP}pinned to backup until {{time}}: test"),
        zone_line(ZONE, s1, s1 + 1),
    ));
    r.expect_stderr("");
    nsd.assert_secondary(ZONE, s1 + 1, BACKUP_IP, PROPAGATE);
    let web = status_web(&z);
    let pinned = &web["pinned"];
    assert_eq!(
        (&pinned["server"], &pinned["reason"]),
        (&Value::from("backup"), &Value::from("test")),
        "{web}"
    );
    assert!(pinned["since"].is_string(), "{web}");
    let until: jiff::Timestamp = pinned["until"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        samples(&z, "zonerw_pool_pinned"),
        [
            "{pool=\"web\",server=\"main\"} 0",
            "{pool=\"web\",server=\"backup\"} 1"
        ]
    );
    let r = z.run(&["status"]);
    assert!(
        r.stdout
            .lines()
            .any(|l| line_matches("pinned to backup since {time} until {time}: test", l)),
        "{r}"
    );

    // Until its deadline, main being up changes nothing.
    if jiff::Timestamp::now() < until {
        z.run(&[]).expect_ok().expect_stdout("");
    }
    while jiff::Timestamp::now() <= until {
        std::thread::sleep(Duration::from_millis(100));
    }
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stdout(&lines!(
        "web: pin to backup expired",
        format!("{BACKUP_TO_MAIN}pin to backup expired"),
        zone_line(ZONE, s1 + 1, s1 + 2),
    ));
    r.expect_stderr("");
    nsd.assert_secondary(ZONE, s1 + 2, MAIN_IP, PROPAGATE);
    let events = last_events(&z, 3);
    assert_eq!(
        (&events[0]["event"], &events[0]["cause"]),
        (&Value::from("unpin"), &Value::from("expired")),
        "{events:?}"
    );
    assert_eq!(status_web(&z)["pinned"], Value::Null);
    let r = z.run(&["status"]);
    assert!(
        r.stdout
            .lines()
            .any(|l| line_matches("  {time}  web: pin to backup expired", l)),
        "recent changes show the expiry\n{r}"
    );
    assert_eq!(
        samples(&z, "zonerw_pool_pinned"),
        [
            "{pool=\"web\",server=\"main\"} 0",
            "{pool=\"web\",server=\"backup\"} 0"
        ]
    );
}

#[test]
fn a_pin_to_a_failing_server_warns_on_every_run() {
    let (nsd, main, z, s1) = setup();
    let r = z.run(&["pin", "web", "main"]);
    r.expect_ok().expect_stdout(&lines!("web: pinned to main"));
    r.expect_stderr("");
    main.set_mode(Mode::Refusing);
    let warning = format!(
        "zonerw: warning: web: pinned to main, which fails its check (down, failed 2/2 attempts: {REFUSED}); 'zonerw unpin web' lets the probes choose again"
    );
    for _ in 0..2 {
        let r = z.run(&[]);
        r.expect_ok()
            .expect_stdout("")
            .expect_stderr(&lines!(warning));
    }
    assert_eq!(nsd.secondary_serial(ZONE), Some(s1));
    assert_eq!(nsd.secondary_www(ZONE), [MAIN_IP]);
    let web = status_web(&z);
    assert_eq!(web["chosen"], "main", "{web}");
    assert_eq!(web["servers"][0]["healthy"], false, "counters go on: {web}");

    let r = z.run(&["unpin", "web"]);
    r.expect_ok();
    r.expect_stdout(&lines!(
        "web: unpinned from main",
        format!("{MAIN_TO_BACKUP}unpinned from main; main failed 2/2 attempts: {REFUSED}"),
        zone_line(ZONE, s1, s1 + 1),
    ));
    r.expect_stderr("");
    nsd.assert_secondary(ZONE, s1 + 1, BACKUP_IP, PROPAGATE);
}

#[test]
fn draining_the_last_healthy_server_is_refused_without_force() {
    let (nsd, _main, z, s1) = setup();
    let r = z.run(&["drain", "web", "backup"]);
    r.expect_ok().expect_stdout(&lines!("web: backup drained"));
    let state = fs::read(z.state_json()).unwrap();
    let history = read_history(&z).len();
    let r = z.run(&["drain", "web", "main", "--reason", "patching"]);
    r.expect_code(2).expect_stdout("");
    r.expect_stderr(&lines!(
        "zonerw: error: pool web: refusing to drain main: no other server is healthy and not drained (backup is drained). With --force the drain is recorded anyway, and the pool leaves main as soon as another server is healthy"
    ));
    assert_eq!(fs::read(z.state_json()).unwrap(), state, "nothing recorded");
    assert_eq!(read_history(&z).len(), history);

    // Forced: recorded, and main stays chosen, being the only healthy server.
    let stays = "zonerw: warning: web: main is drained, but stays chosen: no other server is healthy and not drained";
    let r = z.run(&["drain", "web", "main", "--reason", "patching", "--force"]);
    r.expect_ok()
        .expect_stdout(&lines!("web: main drained (forced): patching"))
        .expect_stderr(&lines!(stays));
    assert_eq!(last_events(&z, 1)[0]["forced"], true);
    z.run(&[])
        .expect_ok()
        .expect_stdout("")
        .expect_stderr(&lines!(stays));
    assert_eq!(nsd.secondary_serial(ZONE), Some(s1));

    // Undraining backup lets the drain of main take effect.
    let r = z.run(&["undrain", "web", "backup"]);
    r.expect_ok().expect_stdout(&lines!(
        "web: backup undrained",
        format!("{MAIN_TO_BACKUP}main drained: patching"),
        zone_line(ZONE, s1, s1 + 1),
    ));
    nsd.assert_secondary(ZONE, s1 + 1, BACKUP_IP, PROPAGATE);

    // Unknown names: an error naming the known ones; nothing runs.
    for (args, error) in [
        (
            &["drain", "www", "main"][..],
            "zonerw: error: unknown pool 'www'; the pools are: web",
        ),
        (
            &["pin", "web", "spare"],
            "zonerw: error: pool web has no server 'spare'; its servers are: main, backup",
        ),
    ] {
        let r = z.run(args);
        r.expect_code(2)
            .expect_stdout("")
            .expect_stderr(&lines!(error));
    }
}

#[test]
fn a_held_lock_is_exit_75_and_records_nothing() {
    let (nsd, _main, z, s1) = setup();
    let lock_path = z.state.join("lock");
    let mut f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&lock_path)
        .unwrap();
    f.try_lock().expect("take the lock");
    writeln!(f, "held by the test").unwrap();
    let state = fs::read(z.state_json()).unwrap();
    for args in [
        &["drain", "web", "main"][..],
        &["undrain", "web", "main"],
        &["pin", "web", "backup", "--for", "1h"],
        &["unpin", "web"],
    ] {
        let r = z.run(args);
        r.expect_code(75).expect_stdout("");
        r.expect_stderr(&lines!(format!(
            "zonerw: error: another run holds the lock {}: pid {} since {{time}}; nothing was recorded: try again when it is done",
            lock_path.display(),
            std::process::id()
        )));
    }
    assert_eq!(fs::read(z.state_json()).unwrap(), state);
    drop(f);
    let r = z.run(&["drain", "web", "main"]);
    r.expect_ok();
    nsd.assert_secondary(ZONE, s1 + 1, BACKUP_IP, PROPAGATE);
}
