//! `zonerw status`: what zonerw believes now, and the recent changes.
//!
//! [`report`] gathers it into a [`StatusReport`] and [`text`] renders that, both without
//! I/O; `--json` is the report's serialisation.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use serde::{Serialize, Serializer};

use crate::config::Config;
use crate::error::Result;
use crate::fsio;
use crate::state::{GuardRecord, HistoryEntry, PoolState, State};
use crate::store::{StateFiles, load_state};
use crate::table::table;

/// How many history entries are shown.
const RECENT: usize = 10;

/// What `zonerw status` shows.
///
/// `status --json` prints it with the keys of every object in alphabetical order, as it
/// always has (it was once built as a `serde_json::Value`, whose objects sort their keys),
/// so scripts that compare the output see no change. Hence the fields of the structs
/// here are declared in alphabetical order, and the state's own records (the guard's
/// decision, the history entries), whose field order is that of state.json and
/// history.jsonl, are serialised with their keys sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// Whether state.json exists (a run has completed).
    pub has_state: bool,
    /// The last entries of history.jsonl, oldest first.
    #[serde(serialize_with = "keys_sorted")]
    pub history: Vec<HistoryEntry>,
    /// When the state last changed (RFC 3339).
    pub last_change: Option<String>,
    /// Per configured pool, in config order.
    pub pools: Vec<PoolReport>,
    /// The path of state.json, as shown.
    pub state_file: String,
    /// Per zone in the state, by name.
    pub zones: Vec<ZoneReport>,
}

/// A pool: its chosen server, since when, its servers, its pin and the guard's last
/// decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolReport {
    /// The chosen server's name (the first server before any run).
    pub chosen: String,
    /// Its address; None if it is no longer in the config.
    pub chosen_address: Option<IpAddr>,
    /// Whether a run decided the pool yet (the state has it).
    #[serde(skip)]
    pub decided: bool,
    /// The guard's last decision, if it was ever consulted.
    #[serde(serialize_with = "keys_sorted")]
    pub guard: Option<GuardRecord>,
    /// The pool's name.
    pub name: String,
    /// The server the pool is pinned to (`zonerw pin`).
    pub pinned: Option<PinReport>,
    /// Per configured server, in config order.
    pub servers: Vec<ServerReport>,
    /// Since when the chosen server is chosen (RFC 3339): its first decision or its last
    /// switch; None before the first run, and for a state written before zonerw recorded
    /// the first decision, until a switch.
    pub since: Option<String>,
}

/// A pool's pin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PinReport {
    /// Why, in the operator's words.
    pub reason: Option<String>,
    /// The server.
    pub server: String,
    /// Since when (RFC 3339).
    pub since: String,
    /// When it ends by itself (RFC 3339): the first run after it drops it.
    pub until: Option<String>,
}

/// A server's drain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DrainReport {
    /// Why, in the operator's words.
    pub reason: Option<String>,
    /// Since when (RFC 3339).
    pub since: String,
    /// When it ends by itself (RFC 3339): the first run after it drops it.
    pub until: Option<String>,
}

/// A server of a pool and its counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerReport {
    /// Its address.
    pub address: IpAddr,
    /// Consecutive bad runs.
    pub bad: u32,
    /// Whether it has a check (one without is always healthy).
    pub checked: bool,
    /// Its drain (`zonerw drain`), if it is drained.
    pub drained: Option<DrainReport>,
    /// The pool's fall.
    pub fall: u32,
    /// Consecutive good runs.
    pub good: u32,
    /// Healthy after fall/rise.
    pub healthy: bool,
    /// The last probe result, in words.
    pub last: Option<String>,
    /// Its name.
    pub name: String,
    /// The pool's rise.
    pub rise: u32,
}

/// A zone as zonerw last wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZoneReport {
    /// Secondaries that did not serve `serial`, and what they did instead.
    pub lagging: BTreeMap<String, String>,
    /// The serial of the installed file.
    pub serial: u32,
    /// A signed zone: when the earliest signature of the installed file expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_expiry: Option<String>,
    /// The marker values it was rendered with.
    pub vars: BTreeMap<String, String>,
    /// The zone's name.
    pub zone: String,
}

/// Serialise `value` with the keys of its objects in alphabetical order (through a
/// `serde_json::Value`, whose objects sort their keys).
fn keys_sorted<T: Serialize, S: Serializer>(
    value: &T,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serde_json::to_value(value)
        .map_err(serde::ser::Error::custom)?
        .serialize(serializer)
}

/// Print the status (text or JSON); exit code 0.
pub fn status(config: &Config, json: bool) -> Result<u8> {
    let files = StateFiles::in_dir(&config.state);
    let state = load_state(&files.state)?;
    let history = recent_history(&files)?;
    let report = report(config, state.as_ref(), history, &files.state);
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(&report).expect("json"));
    } else {
        crate::out!("{}", text(&report));
    }
    Ok(0)
}

fn recent_history(files: &StateFiles) -> Result<Vec<HistoryEntry>> {
    let Some(bytes) = fsio::read_state_file(&files.history)? else {
        return Ok(Vec::new());
    };
    let text = String::from_utf8_lossy(&bytes);
    let (recent, skipped) = last_entries(&text, RECENT);
    for line in skipped {
        crate::errln!(
            "zonerw: warning: {}:{line}: skipped an unreadable history line",
            files.history.display()
        );
    }
    Ok(recent)
}

/// The last `count` readable entries of history.jsonl text, oldest first, and the numbers
/// of the unreadable lines met among them (a line cut short by a full disk, say), which
/// are skipped: one bad line must not hide the rest of the history.
fn last_entries(text: &str, count: usize) -> (Vec<HistoryEntry>, Vec<usize>) {
    let mut recent = Vec::new();
    let mut skipped = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate().rev() {
        if recent.len() == count {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        match HistoryEntry::parse(line) {
            Ok(entry) => recent.push(entry),
            Err(_) => skipped.push(i + 1),
        }
    }
    recent.reverse();
    skipped.reverse();
    (recent, skipped)
}

/// The report on `config`'s pools, the committed `state` (None before the first run) and
/// the recent `history`; `state_file` is the path of state.json, as shown.
#[must_use]
pub fn report(
    config: &Config,
    state: Option<&State>,
    history: Vec<HistoryEntry>,
    state_file: &Path,
) -> StatusReport {
    let pools = config
        .pools
        .iter()
        .map(|pool| {
            let ps: Option<&PoolState> = state.and_then(|s| s.pools.get(&pool.name));
            let chosen = ps.map_or(pool.servers[0].name.as_str(), |p| p.chosen.as_str());
            let servers = pool
                .servers
                .iter()
                .map(|s| {
                    let st = ps
                        .and_then(|p| p.servers.get(&s.name))
                        .cloned()
                        .unwrap_or_default();
                    ServerReport {
                        address: s.address(),
                        bad: st.bad,
                        checked: s.check.is_some(),
                        drained: ps
                            .and_then(|p| p.drained.get(&s.name))
                            .map(|d| DrainReport {
                                reason: d.reason.clone(),
                                since: d.since.clone(),
                                until: d.until.clone(),
                            }),
                        fall: pool.fall,
                        good: st.good,
                        healthy: st.healthy,
                        last: st.last,
                        name: s.name.clone(),
                        rise: pool.rise,
                    }
                })
                .collect();
            PoolReport {
                chosen: chosen.to_owned(),
                chosen_address: pool
                    .servers
                    .iter()
                    .find(|s| s.name == chosen)
                    .map(crate::config::Server::address),
                decided: ps.is_some(),
                guard: ps.and_then(|p| p.guard.clone()),
                name: pool.name.clone(),
                pinned: ps.and_then(|p| p.pinned.as_ref()).map(|p| PinReport {
                    reason: p.reason.clone(),
                    server: p.server.clone(),
                    since: p.since.clone(),
                    until: p.until.clone(),
                }),
                servers,
                since: ps.and_then(|p| p.since.clone()),
            }
        })
        .collect();
    let zones = state
        .map(|s| {
            s.zones
                .iter()
                .map(|(name, z)| ZoneReport {
                    lagging: z.lagging.clone(),
                    serial: z.serial,
                    signature_expiry: z.signature_expiry.clone(),
                    vars: z.vars.clone(),
                    zone: name.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    StatusReport {
        has_state: state.is_some(),
        history,
        last_change: state.and_then(|s| s.last_run.clone()),
        pools,
        state_file: state_file.display().to_string(),
        zones,
    }
}

/// The text form of `report`.
#[must_use]
pub fn text(report: &StatusReport) -> String {
    let mut out = String::new();
    if report.has_state {
        out.push_str(&format!(
            "last change: {}\n",
            or_dash(report.last_change.as_deref())
        ));
    } else {
        out.push_str(&format!(
            "no run has completed yet ({} does not exist)\n",
            report.state_file
        ));
    }
    for pool in &report.pools {
        out.push_str(&pool_text(pool));
    }
    out.push_str(&zones_text(&report.zones));
    out.push_str(&history_text(&report.history));
    out
}

/// An optional value, or "-".
fn or_dash(value: Option<&str>) -> &str {
    value.unwrap_or("-")
}

fn pool_text(pool: &PoolReport) -> String {
    let address = pool.chosen_address.map(|a| a.to_string());
    let since = match (&pool.since, pool.decided) {
        (Some(since), _) => format!(" since {since}"),
        (None, true) => " since an unknown time (no switch recorded)".into(),
        (None, false) => ", no run has decided yet".into(),
    };
    let mut out = format!(
        "\npool {}: {} ({}){since}\n",
        pool.name,
        pool.chosen,
        or_dash(address.as_deref()),
    );
    let mut rows = vec![
        [
            "",
            "SERVER",
            "ADDRESS",
            "HEALTH",
            "GOOD",
            "BAD",
            "LAST PROBE",
        ]
        .map(String::from),
    ];
    for s in &pool.servers {
        rows.push([
            if s.name == pool.chosen { "*" } else { "" }.into(),
            s.name.clone(),
            s.address.to_string(),
            match (s.checked, s.healthy) {
                (false, _) => "unchecked",
                (true, true) => "healthy",
                (true, false) => "unhealthy",
            }
            .into(),
            format!("{}/{}", s.good, s.rise),
            format!("{}/{}", s.bad, s.fall),
            or_dash(s.last.as_deref()).into(),
        ]);
    }
    out.push_str(&table(&rows));
    if let Some(p) = &pool.pinned {
        out.push_str(&format!(
            "pinned to {}{}\n",
            p.server,
            crate::state::held_words(&p.since, p.until.as_deref(), p.reason.as_deref())
        ));
    }
    for s in &pool.servers {
        if let Some(d) = &s.drained {
            out.push_str(&format!(
                "{} drained{}\n",
                s.name,
                crate::state::held_words(&d.since, d.until.as_deref(), d.reason.as_deref())
            ));
        }
    }
    if let Some(g) = &pool.guard {
        out.push_str(&format!("guard, {}: {}\n", g.time, g.describe()));
    }
    out
}

fn zones_text(zones: &[ZoneReport]) -> String {
    let mut out = String::new();
    if !zones.is_empty() {
        out.push_str("\nzones:\n");
        for z in zones {
            let vars: Vec<String> = z.vars.iter().map(|(k, v)| format!("@{k}@={v}")).collect();
            out.push_str(&format!(
                "  {}  serial {}  {}\n",
                z.zone,
                z.serial,
                vars.join(" ")
            ));
            if let Some(expiry) = &z.signature_expiry {
                out.push_str(&format!("    signed: the signatures expire at {expiry}\n"));
            }
            for (addr, what) in &z.lagging {
                out.push_str(&format!("    lagging: secondary {addr} {what}\n"));
            }
        }
    }
    out
}

fn history_text(history: &[HistoryEntry]) -> String {
    let mut out = String::new();
    if !history.is_empty() {
        out.push_str("\nrecent changes:\n");
        for h in history {
            out.push_str(&format!("  {}  {}\n", h.time(), h.describe()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE_POOL: &str = r#"templates = "t"
zones = "z"
state = "state"

[[pool]]
name = "web"
marker = "IP"
fall = 2
rise = 3
  [[pool.server]]
  name = "main"
  ipv4 = "192.0.2.1"
  check = "https://www.example.com/up.txt"
  [[pool.server]]
  name = "backup"
  ipv4 = "198.51.100.7"
"#;

    const MAIL_POOL: &str = r#"
[[pool]]
name = "mail"
marker = "MX"
  [[pool.server]]
  name = "m1"
  ipv6 = "2001:db8::1"
  [[pool.server]]
  name = "m2"
  ipv4 = "203.0.113.9"
"#;

    /// Pool web on its first server, probed once; backup never probed.
    const FIRST_SERVER: &str = r#"{"version": 1, "pools": {"web": {"chosen": "main",
        "servers": {"main": {"healthy": true, "good": 1, "bad": 0, "last": "HTTP 200 in 3 ms"}}}}}"#;

    /// Pool web failed over (its third failover; the count is for the metrics, status does
    /// not show it), with the guard's record; pool mail chose a server that has since left
    /// the config.
    const FAILED_OVER: &str = r#"{"version": 1, "last_run": "2026-11-23T18:00:00Z", "pools": {
        "web": {"chosen": "backup", "since": "2026-11-23T17:59:00Z", "servers": {
            "main": {"healthy": false, "good": 0, "bad": 4, "last": "refused \"x\" ü"},
            "backup": {"healthy": true, "good": 7, "bad": 0, "last": null}},
          "failovers": 3,
          "guard": {"time": "2026-11-23T17:59:00Z", "server": "main", "verdict": "confirmed",
            "detail": "2 of 2 witnesses cannot reach it"}},
        "mail": {"chosen": "gone", "servers": {}}}}"#;

    /// Two zones, one with vars and lagging secondaries, one without either.
    const ZONES: &str = r#"{"version": 1, "last_run": "2026-11-23T18:00:00Z", "zones": {
        "example.com": {"serial": 2026112301, "template": "ab", "installed": "cd",
          "vars": {"IP": "198.51.100.7", "IP6": "2001:db8::7"},
          "lagging": {"203.0.113.53": "serves serial 2026112300", "192.0.2.53": "did not answer"}},
        "example.org": {"serial": 7, "template": "ab", "installed": "cd"}}}"#;

    /// A state with neither pools nor zones.
    const EMPTY: &str = r#"{"version": 1, "last_run": "2026-11-23T18:00:00Z"}"#;

    /// Every kind of history entry.
    const HISTORY: [&str; 9] = [
        r#"{"event":"zone","time":"2026-11-23T17:00:00Z","zone":"example.com","from_serial":null,"to_serial":2026112300}"#,
        r#"{"event":"guard","time":"2026-11-23T17:58:00Z","pool":"web","server":"main","verdict":"vetoed","detail":"witness w1 reaches it"}"#,
        r#"{"event":"switch","time":"2026-11-23T17:59:00Z","pool":"web","from":"main","to":"backup","from_address":"192.0.2.1","to_address":"198.51.100.7","reason":"main failed: refused"}"#,
        r#"{"event":"zone","time":"2026-11-23T17:59:00Z","zone":"example.com","from_serial":2026112300,"to_serial":2026112301,"propagation_ms":{"primary":3,"192.0.2.53":null,"203.0.113.53":120}}"#,
        r#"{"event":"switch","time":"2026-11-23T18:00:00Z","pool":"mail","from":"gone","to":"m2","from_address":"","to_address":"203.0.113.9","reason":"gone is no longer in the config"}"#,
        r#"{"event":"zone","time":"2026-11-23T18:01:00Z","zone":"example.org","from_serial":7,"to_serial":7}"#,
        r#"{"event":"drain","time":"2026-11-23T18:02:00Z","pool":"web","server":"main","reason":"patching"}"#,
        r#"{"event":"pin","time":"2026-11-23T18:03:00Z","pool":"web","server":"backup","until":"2026-11-24T06:00:00Z"}"#,
        r#"{"event":"undrain","time":"2026-11-23T18:04:00Z","pool":"mail","server":"m1","cause":"expired"}"#,
    ];

    fn state(json: &str) -> State {
        State::parse(json).unwrap()
    }

    /// `FAILED_OVER`'s pools and `ZONES`'s zones, with pool web pinned to backup and its
    /// server main drained.
    fn full() -> State {
        let mut full = State {
            zones: state(ZONES).zones,
            ..state(FAILED_OVER)
        };
        let web = full.pools.get_mut("web").unwrap();
        web.pinned = Some(crate::state::Pin {
            server: "backup".into(),
            since: "2026-11-23T18:03:00Z".into(),
            until: Some("2026-11-24T06:00:00Z".into()),
            reason: None,
        });
        web.drained.insert(
            "main".into(),
            crate::state::Drain {
                since: "2026-11-23T18:02:00Z".into(),
                until: None,
                reason: Some("patching".into()),
            },
        );
        full
    }

    fn render(toml: &str, state: Option<&State>, history: &[&str]) -> StatusReport {
        let config = Config::parse(toml, Path::new("/etc/zonerw/zonerw.toml")).unwrap();
        let history = history
            .iter()
            .map(|line| HistoryEntry::parse(line).unwrap())
            .collect();
        report(&config, state, history, Path::new("state/state.json"))
    }

    /// A situation and the exact text `zonerw status` prints for it.
    struct Case<'a> {
        what: &'a str,
        toml: &'a str,
        state: Option<State>,
        history: &'a [&'a str],
        want: &'a str,
    }

    #[test]
    #[allow(clippy::too_many_lines, reason = "a table of whole outputs")]
    fn text_of_each_situation() {
        let two_pools = format!("{ONE_POOL}{MAIL_POOL}");
        let cases = [
            Case {
                what: "no state yet",
                toml: ONE_POOL,
                state: None,
                history: &[],
                want: concat!(
                    "no run has completed yet (state/state.json does not exist)\n",
                    "\n",
                    "pool web: main (192.0.2.1), no run has decided yet\n",
                    "   SERVER  ADDRESS       HEALTH     GOOD  BAD  LAST PROBE\n",
                    "*  main    192.0.2.1     healthy    0/3   0/2  -\n",
                    "   backup  198.51.100.7  unchecked  0/3   0/2  -\n",
                ),
            },
            Case {
                what: "a pool on its first server",
                toml: ONE_POOL,
                state: Some(state(FIRST_SERVER)),
                history: &[],
                want: concat!(
                    "last change: -\n",
                    "\n",
                    "pool web: main (192.0.2.1) since an unknown time (no switch recorded)\n",
                    "   SERVER  ADDRESS       HEALTH     GOOD  BAD  LAST PROBE\n",
                    "*  main    192.0.2.1     healthy    1/3   0/2  HTTP 200 in 3 ms\n",
                    "   backup  198.51.100.7  unchecked  0/3   0/2  -\n",
                ),
            },
            Case {
                what: "failed over, with a guard record; a chosen server gone from the config",
                toml: &two_pools,
                state: Some(state(FAILED_OVER)),
                history: &[],
                want: concat!(
                    "last change: 2026-11-23T18:00:00Z\n",
                    "\n",
                    "pool web: backup (198.51.100.7) since 2026-11-23T17:59:00Z\n",
                    "   SERVER  ADDRESS       HEALTH     GOOD  BAD  LAST PROBE\n",
                    "   main    192.0.2.1     unhealthy  0/3   4/2  refused \"x\" ü\n",
                    "*  backup  198.51.100.7  unchecked  7/3   0/2  -\n",
                    "guard, 2026-11-23T17:59:00Z: confirmed about leaving main: 2 of 2 witnesses cannot reach it\n",
                    "\n",
                    "pool mail: gone (-) since an unknown time (no switch recorded)\n",
                    "  SERVER  ADDRESS      HEALTH     GOOD  BAD  LAST PROBE\n",
                    "  m1      2001:db8::1  unchecked  0/1   0/1  -\n",
                    "  m2      203.0.113.9  unchecked  0/1   0/1  -\n",
                ),
            },
            Case {
                what: "zones with lagging secondaries",
                toml: ONE_POOL,
                state: Some(state(ZONES)),
                history: &[],
                want: concat!(
                    "last change: 2026-11-23T18:00:00Z\n",
                    "\n",
                    "pool web: main (192.0.2.1), no run has decided yet\n",
                    "   SERVER  ADDRESS       HEALTH     GOOD  BAD  LAST PROBE\n",
                    "*  main    192.0.2.1     healthy    0/3   0/2  -\n",
                    "   backup  198.51.100.7  unchecked  0/3   0/2  -\n",
                    "\n",
                    "zones:\n",
                    "  example.com  serial 2026112301  @IP@=198.51.100.7 @IP6@=2001:db8::7\n",
                    "    lagging: secondary 192.0.2.53 did not answer\n",
                    "    lagging: secondary 203.0.113.53 serves serial 2026112300\n",
                    "  example.org  serial 7  \n",
                ),
            },
            Case {
                what: "a history with each kind of entry",
                toml: ONE_POOL,
                state: Some(state(EMPTY)),
                history: &HISTORY,
                want: concat!(
                    "last change: 2026-11-23T18:00:00Z\n",
                    "\n",
                    "pool web: main (192.0.2.1), no run has decided yet\n",
                    "   SERVER  ADDRESS       HEALTH     GOOD  BAD  LAST PROBE\n",
                    "*  main    192.0.2.1     healthy    0/3   0/2  -\n",
                    "   backup  198.51.100.7  unchecked  0/3   0/2  -\n",
                    "\n",
                    "recent changes:\n",
                    "  2026-11-23T17:00:00Z  example.com: serial none -> 2026112300\n",
                    "  2026-11-23T17:58:00Z  web: guard vetoed about leaving main: witness w1 reaches it\n",
                    "  2026-11-23T17:59:00Z  web: main -> backup: main failed: refused\n",
                    "  2026-11-23T17:59:00Z  example.com: serial 2026112300 -> 2026112301\n",
                    "  2026-11-23T18:00:00Z  mail: gone -> m2: gone is no longer in the config\n",
                    "  2026-11-23T18:01:00Z  example.org: serial 7 adopted (already installed)\n",
                    "  2026-11-23T18:02:00Z  web: main drained: patching\n",
                    "  2026-11-23T18:03:00Z  web: pinned to backup until 2026-11-24T06:00:00Z\n",
                    "  2026-11-23T18:04:00Z  mail: drain of m1 expired\n",
                ),
            },
            Case {
                what: "everything",
                toml: &two_pools,
                state: Some(full()),
                history: &HISTORY,
                want: concat!(
                    "last change: 2026-11-23T18:00:00Z\n",
                    "\n",
                    "pool web: backup (198.51.100.7) since 2026-11-23T17:59:00Z\n",
                    "   SERVER  ADDRESS       HEALTH     GOOD  BAD  LAST PROBE\n",
                    "   main    192.0.2.1     unhealthy  0/3   4/2  refused \"x\" ü\n",
                    "*  backup  198.51.100.7  unchecked  7/3   0/2  -\n",
                    "pinned to backup since 2026-11-23T18:03:00Z until 2026-11-24T06:00:00Z\n",
                    "main drained since 2026-11-23T18:02:00Z: patching\n",
                    "guard, 2026-11-23T17:59:00Z: confirmed about leaving main: 2 of 2 witnesses cannot reach it\n",
                    "\n",
                    "pool mail: gone (-) since an unknown time (no switch recorded)\n",
                    "  SERVER  ADDRESS      HEALTH     GOOD  BAD  LAST PROBE\n",
                    "  m1      2001:db8::1  unchecked  0/1   0/1  -\n",
                    "  m2      203.0.113.9  unchecked  0/1   0/1  -\n",
                    "\n",
                    "zones:\n",
                    "  example.com  serial 2026112301  @IP@=198.51.100.7 @IP6@=2001:db8::7\n",
                    "    lagging: secondary 192.0.2.53 did not answer\n",
                    "    lagging: secondary 203.0.113.53 serves serial 2026112300\n",
                    "  example.org  serial 7  \n",
                    "\n",
                    "recent changes:\n",
                    "  2026-11-23T17:00:00Z  example.com: serial none -> 2026112300\n",
                    "  2026-11-23T17:58:00Z  web: guard vetoed about leaving main: witness w1 reaches it\n",
                    "  2026-11-23T17:59:00Z  web: main -> backup: main failed: refused\n",
                    "  2026-11-23T17:59:00Z  example.com: serial 2026112300 -> 2026112301\n",
                    "  2026-11-23T18:00:00Z  mail: gone -> m2: gone is no longer in the config\n",
                    "  2026-11-23T18:01:00Z  example.org: serial 7 adopted (already installed)\n",
                    "  2026-11-23T18:02:00Z  web: main drained: patching\n",
                    "  2026-11-23T18:03:00Z  web: pinned to backup until 2026-11-24T06:00:00Z\n",
                    "  2026-11-23T18:04:00Z  mail: drain of m1 expired\n",
                ),
            },
        ];
        for case in cases {
            let report = render(case.toml, case.state.as_ref(), case.history);
            assert_eq!(text(&report), case.want, "{}", case.what);
        }
    }

    /// The exact `status --json` of a report before any run.
    #[test]
    fn json_before_any_run() {
        let json = serde_json::to_string_pretty(&render(ONE_POOL, None, &[])).unwrap();
        assert_eq!(
            json,
            r#"{
  "has_state": false,
  "history": [],
  "last_change": null,
  "pools": [
    {
      "chosen": "main",
      "chosen_address": "192.0.2.1",
      "guard": null,
      "name": "web",
      "pinned": null,
      "servers": [
        {
          "address": "192.0.2.1",
          "bad": 0,
          "checked": true,
          "drained": null,
          "fall": 2,
          "good": 0,
          "healthy": true,
          "last": null,
          "name": "main",
          "rise": 3
        },
        {
          "address": "198.51.100.7",
          "bad": 0,
          "checked": false,
          "drained": null,
          "fall": 2,
          "good": 0,
          "healthy": true,
          "last": null,
          "name": "backup",
          "rise": 3
        }
      ],
      "since": null
    }
  ],
  "state_file": "state/state.json",
  "zones": []
}"#
        );
    }

    /// The exact `status --json` of a report with everything: a failover with a guard
    /// record, a chosen server gone from the config, a server never probed, zones with and
    /// without vars and laggards, and each kind of history entry: the keys of every object
    /// in alphabetical order, absent values as null.
    #[test]
    fn json_of_a_full_report() {
        let json = serde_json::to_string_pretty(&render(
            &format!("{ONE_POOL}{MAIL_POOL}"),
            Some(&full()),
            &HISTORY,
        ))
        .unwrap();
        assert_eq!(json, FULL_JSON);
    }

    #[test]
    fn a_torn_history_line_is_skipped_and_named() {
        let good = |n: u32| {
            format!(
                "{{\"time\":\"t{n}\",\"event\":\"zone\",\"zone\":\"z\",\"from_serial\":{n},\"to_serial\":{}}}",
                n + 1
            )
        };
        // A fragment glued to nothing (the disk filled mid-append), then a newline-led batch.
        let text = format!(
            "{}\n{}\n{{\"time\":\"t3\",\"ev\n{}\n",
            good(1),
            good(2),
            good(4)
        );
        let (recent, skipped) = last_entries(&text, 10);
        assert_eq!(skipped, [3]);
        let times: Vec<&str> = recent.iter().map(HistoryEntry::time).collect();
        assert_eq!(times, ["t1", "t2", "t4"]);
        // Only the last `count` readable ones.
        let (recent, _) = last_entries(&text, 2);
        let times: Vec<&str> = recent.iter().map(HistoryEntry::time).collect();
        assert_eq!(times, ["t2", "t4"]);
        // A fragment at the very end (no newline after it) too.
        let (recent, skipped) = last_entries(&format!("{}\n{{\"ti", good(1)), 10);
        assert_eq!((recent.len(), skipped), (1, vec![2]));
        // JSON that is not a history entry (an unknown event, a missing field) is skipped
        // and named the same way: it would show only as "-".
        let text = format!(
            "{}\n{{\"time\":\"t\",\"event\":\"reboot\"}}\n{{\"time\":\"t\",\"event\":\"switch\"}}\n[]\n{}\n",
            good(1),
            good(5)
        );
        let (recent, skipped) = last_entries(&text, 10);
        assert_eq!((recent.len(), skipped), (2, vec![2, 3, 4]));
    }

    #[test]
    fn status_works_with_a_torn_history() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();
        std::fs::write(
            state.join("history.jsonl"),
            "{\"time\":\"t\",\"event\":\"sw",
        )
        .unwrap();
        let config = Config::parse(
            &format!(
                "templates = \"t\"\nzones = \"z\"\nstate = \"{}\"\n",
                state.display()
            ),
            &dir.path().join("zonerw.toml"),
        )
        .unwrap();
        assert_eq!(status(&config, true).unwrap(), 0);
    }

    /// What `json_of_a_full_report` expects: byte for byte what `zonerw status --json`
    /// printed for it before the report was typed, with the pin (`pools[].pinned`) and the
    /// drains (`pools[].servers[].drained`) added since, `null` when there are none.
    const FULL_JSON: &str = r#"{
  "has_state": true,
  "history": [
    {
      "event": "zone",
      "from_serial": null,
      "time": "2026-11-23T17:00:00Z",
      "to_serial": 2026112300,
      "zone": "example.com"
    },
    {
      "detail": "witness w1 reaches it",
      "event": "guard",
      "pool": "web",
      "server": "main",
      "time": "2026-11-23T17:58:00Z",
      "verdict": "vetoed"
    },
    {
      "event": "switch",
      "from": "main",
      "from_address": "192.0.2.1",
      "pool": "web",
      "reason": "main failed: refused",
      "time": "2026-11-23T17:59:00Z",
      "to": "backup",
      "to_address": "198.51.100.7"
    },
    {
      "event": "zone",
      "from_serial": 2026112300,
      "propagation_ms": {
        "192.0.2.53": null,
        "203.0.113.53": 120,
        "primary": 3
      },
      "time": "2026-11-23T17:59:00Z",
      "to_serial": 2026112301,
      "zone": "example.com"
    },
    {
      "event": "switch",
      "from": "gone",
      "from_address": "",
      "pool": "mail",
      "reason": "gone is no longer in the config",
      "time": "2026-11-23T18:00:00Z",
      "to": "m2",
      "to_address": "203.0.113.9"
    },
    {
      "event": "zone",
      "from_serial": 7,
      "time": "2026-11-23T18:01:00Z",
      "to_serial": 7,
      "zone": "example.org"
    },
    {
      "event": "drain",
      "pool": "web",
      "reason": "patching",
      "server": "main",
      "time": "2026-11-23T18:02:00Z"
    },
    {
      "event": "pin",
      "pool": "web",
      "server": "backup",
      "time": "2026-11-23T18:03:00Z",
      "until": "2026-11-24T06:00:00Z"
    },
    {
      "cause": "expired",
      "event": "undrain",
      "pool": "mail",
      "server": "m1",
      "time": "2026-11-23T18:04:00Z"
    }
  ],
  "last_change": "2026-11-23T18:00:00Z",
  "pools": [
    {
      "chosen": "backup",
      "chosen_address": "198.51.100.7",
      "guard": {
        "detail": "2 of 2 witnesses cannot reach it",
        "server": "main",
        "time": "2026-11-23T17:59:00Z",
        "verdict": "confirmed"
      },
      "name": "web",
      "pinned": {
        "reason": null,
        "server": "backup",
        "since": "2026-11-23T18:03:00Z",
        "until": "2026-11-24T06:00:00Z"
      },
      "servers": [
        {
          "address": "192.0.2.1",
          "bad": 4,
          "checked": true,
          "drained": {
            "reason": "patching",
            "since": "2026-11-23T18:02:00Z",
            "until": null
          },
          "fall": 2,
          "good": 0,
          "healthy": false,
          "last": "refused \"x\" ü",
          "name": "main",
          "rise": 3
        },
        {
          "address": "198.51.100.7",
          "bad": 0,
          "checked": false,
          "drained": null,
          "fall": 2,
          "good": 7,
          "healthy": true,
          "last": null,
          "name": "backup",
          "rise": 3
        }
      ],
      "since": "2026-11-23T17:59:00Z"
    },
    {
      "chosen": "gone",
      "chosen_address": null,
      "guard": null,
      "name": "mail",
      "pinned": null,
      "servers": [
        {
          "address": "2001:db8::1",
          "bad": 0,
          "checked": false,
          "drained": null,
          "fall": 1,
          "good": 0,
          "healthy": true,
          "last": null,
          "name": "m1",
          "rise": 1
        },
        {
          "address": "203.0.113.9",
          "bad": 0,
          "checked": false,
          "drained": null,
          "fall": 1,
          "good": 0,
          "healthy": true,
          "last": null,
          "name": "m2",
          "rise": 1
        }
      ],
      "since": null
    }
  ],
  "state_file": "state/state.json",
  "zones": [
    {
      "lagging": {
        "192.0.2.53": "did not answer",
        "203.0.113.53": "serves serial 2026112300"
      },
      "serial": 2026112301,
      "vars": {
        "IP": "198.51.100.7",
        "IP6": "2001:db8::7"
      },
      "zone": "example.com"
    },
    {
      "lagging": {},
      "serial": 7,
      "vars": {},
      "zone": "example.org"
    }
  ]
}"#;
}
