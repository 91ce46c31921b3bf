//! One cron run: lock → load state → probe → decide → plan → check → install → reload → save.
//!
//! Crash ordering: zone files are installed (atomically) first, NSD reloads them next, and
//! state.json is saved last. State is the commit point: a crash or failure anywhere before
//! it leaves the old state, so the next run redoes the same work. A zone that was already
//! installed is then found equal to what would be rendered and is adopted without a new
//! serial. Serials are recorded in serials.json *before* any file carrying them is
//! installed, so a retry never hands out a serial already used for other content.

use std::collections::BTreeMap;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Instant;

use jiff::Timestamp;

use crate::command::run_bounded;
use crate::config::{Clock, Config, Pool};
use crate::decide::{self, Decision, ProbeOutcome, Switch, decide};
use crate::error::{Error, Result};
use crate::fsio::{self, Staged};
use crate::guard::{self, Verdict};
use crate::nsd;
use crate::plan::{self, Action, Inputs, ZonePlan};
use crate::probe;
use crate::probe::fmt_duration;
use crate::serial;
use crate::state::{self, GuardRecord, HistoryEntry, Reserved, STATE_VERSION, State, ZoneState};
use crate::verify::{self, Propagation, Reloaded};
use crate::zones::{self, Zone, fingerprint};

/// How much a run prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// Only errors.
    Quiet,
    /// Changes and errors.
    Normal,
    /// Also every probe result.
    Verbose,
}

/// Options of a run.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Rewrite every zone with a new serial.
    pub force: bool,
    /// Print what would change; touch nothing.
    pub dry_run: bool,
    /// How much to print.
    pub verbosity: Verbosity,
}

/// Paths of the files in the state directory.
#[derive(Debug, Clone)]
pub struct StateFiles {
    /// state.json.
    pub state: PathBuf,
    /// serials.json.
    pub serials: PathBuf,
    /// history.jsonl.
    pub history: PathBuf,
    /// lock.
    pub lock: PathBuf,
}

impl StateFiles {
    /// The files in `dir`.
    #[must_use]
    pub fn in_dir(dir: &Path) -> Self {
        StateFiles {
            state: dir.join("state.json"),
            serials: dir.join("serials.json"),
            history: dir.join("history.jsonl"),
            lock: dir.join("lock"),
        }
    }
}

/// RFC 3339 UTC to the second.
#[must_use]
pub fn rfc3339(now: Timestamp) -> String {
    now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Load state.json; a missing file is the empty state, a corrupt one an error.
pub fn load_state(path: &Path) -> Result<Option<State>> {
    let Some(bytes) = fsio::read_optional(path)? else {
        return Ok(None);
    };
    let corrupt = |message| Error::StateCorrupt {
        path: path.to_owned(),
        message,
    };
    let text = String::from_utf8(bytes).map_err(|e| corrupt(e.to_string()))?;
    State::parse(&text).map(Some).map_err(corrupt)
}

fn load_reserved(path: &Path) -> Result<Reserved> {
    let Some(bytes) = fsio::read_optional(path)? else {
        return Ok(Reserved::new());
    };
    let text = String::from_utf8_lossy(&bytes);
    state::parse_reserved(&text).map_err(|message| Error::StateCorrupt {
        path: path.to_owned(),
        message,
    })
}

/// The clock a run computes serials from.
fn serial_clock(config: &Config, now: Timestamp) -> Result<serial::Clock> {
    let tz = match config.clock {
        Clock::Utc => jiff::tz::TimeZone::UTC,
        Clock::Local => jiff::tz::TimeZone::try_system().map_err(|e| {
            Error::config(
                &config.path,
                format!("serial.clock = \"local\": cannot determine the system time zone: {e}"),
            )
        })?,
    };
    Ok(serial::Clock {
        unix: now.as_second(),
        today: now.to_zoned(tz).date(),
    })
}

/// Do one run.
pub fn run(config: &Config, options: RunOptions, now: Timestamp) -> Result<()> {
    let zones = zones::load_templates(config)?;
    let clock = serial_clock(config, now)?;
    let files = StateFiles::in_dir(&config.state);
    let _lock = prepare(config, options, &files)?;
    let old = load_state(&files.state)?;
    let reserved = load_reserved(&files.serials)?;

    let outcomes = probe::probe_all(config);
    if options.verbosity >= Verbosity::Verbose {
        print_probes(config, &outcomes);
    }
    let mut decisions = decide_all(config, old.as_ref(), &outcomes);
    let guarded = guard_failovers(config, &mut decisions, old.as_ref());
    let addresses = chosen_addresses(config, &decisions);
    let inputs = Inputs {
        config,
        force: options.force,
        clock,
        addresses: &addresses,
    };
    let mut plans = plan_all(&zones, inputs, old.as_ref(), &reserved)?;
    if options.verbosity >= Verbosity::Normal {
        print_switches(config, &decisions, &guarded);
    }
    if options.dry_run {
        return print_dry_run(config, &zones, &plans, options.verbosity);
    }

    let applied = apply(config, &zones, &mut plans, reserved, &files);
    let propagation = verify_reloaded(config, &zones, &plans, &outcomes);
    report_zones(&zones, &plans, &propagation, options.verbosity);
    let mut errors = match applied {
        Ok(()) => Vec::new(),
        Err(Error::Many(errors)) => errors,
        Err(e) => vec![e],
    };
    errors.extend(primary_failures(config, &zones, &plans, &propagation));
    match errors.len() {
        0 => {}
        1 => return Err(errors.remove(0)),
        _ => return Err(Error::Many(errors)),
    }
    let outcome = Outcome {
        zones: &zones,
        plans: &plans,
        decisions: &decisions,
        guarded: &guarded,
        propagation: &propagation,
    };
    commit(config, &outcome, old, &files, now)?;
    run_hooks(config, &decisions);
    Ok(())
}

/// What a run did, for the commit.
struct Outcome<'a> {
    zones: &'a [Zone],
    plans: &'a [ZonePlan],
    decisions: &'a [Decision],
    guarded: &'a [Guarded],
    propagation: &'a BTreeMap<String, Propagation>,
}

/// A failover the guard was asked about.
struct Guarded {
    pool: usize,
    server: String,
    /// The failure that started it (the switch reason).
    failure: String,
    verdict: Verdict,
}

/// Ask the guard about every failover; a vetoed one, or one while our own link seems
/// down, is replaced by holding the pool exactly as it was (this run does not count).
fn guard_failovers(
    config: &Config,
    decisions: &mut [Decision],
    old: Option<&State>,
) -> Vec<Guarded> {
    let Some(guard) = &config.guard else {
        return Vec::new();
    };
    let mut guarded = Vec::new();
    for (i, (pool, d)) in config.pools.iter().zip(decisions.iter_mut()).enumerate() {
        let Some(switch) = d.switch.as_mut().filter(|s| s.is_failover()) else {
            continue;
        };
        let server = &pool.servers[switch.from.expect("a failover has a from")];
        let verdict = guard::consult(guard, config.guard_timeout, pool, server);
        let failure = switch.reason.clone();
        if let Verdict::Confirmed(detail) = &verdict {
            switch.reason = format!("{}; {detail}", switch.reason);
        } else {
            *d = decide::hold(pool, old.and_then(|s| s.pools.get(&pool.name)));
        }
        guarded.push(Guarded {
            pool: i,
            server: server.name.clone(),
            failure,
            verdict,
        });
    }
    guarded
}

/// The servers found down in this run, by address (a secondary there is not waited for).
fn down_servers(config: &Config, outcomes: &[Vec<ProbeOutcome>]) -> Vec<(IpAddr, String)> {
    let mut down = Vec::new();
    for (pool, outcomes) in config.pools.iter().zip(outcomes) {
        for (server, outcome) in pool.servers.iter().zip(outcomes) {
            if !outcome.is_up() {
                let ips = [server.ipv4.map(IpAddr::V4), server.ipv6.map(IpAddr::V6)];
                down.extend(
                    ips.into_iter()
                        .flatten()
                        .map(|ip| (ip, server.name.clone())),
                );
            }
        }
    }
    down
}

/// Query the primary and the secondaries for every zone reloaded in this run.
fn verify_reloaded(
    config: &Config,
    zones: &[Zone],
    plans: &[ZonePlan],
    outcomes: &[Vec<ProbeOutcome>],
) -> BTreeMap<String, Propagation> {
    let reloaded_at = Instant::now();
    let Some(v) = &config.verify else {
        return BTreeMap::new();
    };
    let reloaded: Vec<Reloaded> = zones
        .iter()
        .zip(plans)
        .filter(|(_, p)| p.action != Action::Keep)
        .filter_map(|(z, p)| {
            p.serial.map(|serial| Reloaded {
                zone: z.name.clone(),
                serial,
            })
        })
        .collect();
    if reloaded.is_empty() {
        return BTreeMap::new();
    }
    verify::verify(
        v,
        &config.nsd,
        &reloaded,
        &down_servers(config, outcomes),
        reloaded_at,
    )
}

/// An error for every zone the primary did not serve in time.
fn primary_failures(
    config: &Config,
    zones: &[Zone],
    plans: &[ZonePlan],
    propagation: &BTreeMap<String, Propagation>,
) -> Vec<Error> {
    let Some(v) = &config.verify else {
        return Vec::new();
    };
    zones
        .iter()
        .zip(plans)
        .filter_map(|(zone, plan)| {
            let what = propagation.get(&zone.name)?.primary_failure.as_ref()?;
            Some(Error::Verify {
                zone: zone.name.clone(),
                message: format!(
                    "the primary {} {what}, not {}, {} after the reload (NSD did not load the new file; see its log); the state was not advanced, so the next run retries",
                    v.primary.map(|p| p.to_string()).unwrap_or_default(),
                    plan.serial.unwrap_or(0),
                    fmt_duration(v.timeout),
                ),
            })
        })
        .collect()
}

/// Print a line per reloaded zone, the propagation (-v), skipped secondaries and laggards.
fn report_zones(
    zones: &[Zone],
    plans: &[ZonePlan],
    propagation: &BTreeMap<String, Propagation>,
    verbosity: Verbosity,
) {
    for (zone, plan) in zones.iter().zip(plans) {
        if plan.action == Action::Keep {
            continue;
        }
        let serial = plan.serial.unwrap_or(0);
        if verbosity >= Verbosity::Normal {
            println!("{}", zone_line(zone, plan));
        }
        let Some(p) = propagation.get(&zone.name) else {
            continue;
        };
        if verbosity >= Verbosity::Verbose {
            println!("{}", propagation_line(&zone.name, serial, p));
        }
        if verbosity >= Verbosity::Normal {
            for (addr, name) in &p.skipped {
                println!(
                    "{}: secondary {addr} is {name}, which is down; it will get serial {serial} when it is back",
                    zone.name
                );
            }
        }
        for (addr, what) in &p.lagging {
            eprintln!(
                "zonerw: warning: {}: secondary {addr} still {what}",
                zone.name
            );
        }
    }
}

fn propagation_line(zone: &str, serial: u32, p: &Propagation) -> String {
    // The primary first, then the secondaries in address order.
    let mut times: Vec<_> = p.times_ms.iter().collect();
    times.sort_by_key(|(server, _)| *server != "primary");
    let parts: Vec<String> = times
        .into_iter()
        .map(|(server, ms)| {
            let who = if server == "primary" {
                "the primary"
            } else {
                server.as_str()
            };
            match ms {
                Some(ms) => format!("by {who} after {ms} ms"),
                None => format!("not by {who}"),
            }
        })
        .collect();
    format!("{zone}: serial {serial} served {}", parts.join(", "))
}

/// Run the on-change hook once per committed pool switch. A failing hook is reported but
/// never undoes the switch.
fn run_hooks(config: &Config, decisions: &[Decision]) {
    let Some(argv) = &config.on_change else {
        return;
    };
    for (pool, d) in config.pools.iter().zip(decisions) {
        let Some(switch) = &d.switch else {
            continue;
        };
        let to = &pool.servers[switch.to];
        let from_address = switch
            .from
            .map(|f| pool.servers[f].address().to_string())
            .unwrap_or_default();
        let env = [
            ("ZONERW_POOL", pool.name.clone()),
            ("ZONERW_FROM", switch.from_name.clone()),
            ("ZONERW_TO", to.name.clone()),
            ("ZONERW_FROM_ADDRESS", from_address),
            ("ZONERW_TO_ADDRESS", to.address().to_string()),
            ("ZONERW_REASON", switch.reason.clone()),
        ];
        let failure = match run_bounded(argv, &env, config.guard_timeout) {
            Ok(out) if out.status.success() => continue,
            Ok(out) => format!("{}: {}", out.status, out.stderr.trim().replace('\n', "; ")),
            Err(e) => e.to_string(),
        };
        eprintln!(
            "zonerw: warning: on-change hook '{}' failed: {failure}",
            argv.join(" ")
        );
    }
}

/// Check the zones directory and take the lock (a dry run needs neither).
fn prepare(config: &Config, options: RunOptions, files: &StateFiles) -> Result<Option<fsio::Lock>> {
    if options.dry_run {
        return Ok(None);
    }
    if !config.zones.is_dir() {
        return Err(Error::config(
            &config.path,
            format!("zones: '{}' is not a directory", config.zones.display()),
        ));
    }
    fs::create_dir_all(&config.state)
        .map_err(|e| Error::io(&config.state, "create state directory", e))?;
    fsio::lock_exclusive(&files.lock).map(Some)
}

fn decide_all(
    config: &Config,
    old: Option<&State>,
    outcomes: &[Vec<ProbeOutcome>],
) -> Vec<Decision> {
    config
        .pools
        .iter()
        .zip(outcomes)
        .map(|(pool, o)| decide(pool, old.and_then(|s| s.pools.get(&pool.name)), o))
        .collect()
}

fn chosen_addresses(
    config: &Config,
    decisions: &[Decision],
) -> Vec<(Option<Ipv4Addr>, Option<Ipv6Addr>)> {
    config
        .pools
        .iter()
        .zip(decisions)
        .map(|(p, d)| (p.servers[d.chosen].ipv4, p.servers[d.chosen].ipv6))
        .collect()
}

fn plan_all(
    zones: &[Zone],
    inputs: Inputs<'_>,
    old: Option<&State>,
    reserved: &Reserved,
) -> Result<Vec<ZonePlan>> {
    zones
        .iter()
        .map(|zone| {
            let installed = fsio::read_optional(&inputs.config.zones.join(&zone.file_name))?;
            let last = old.and_then(|s| s.zones.get(&zone.name));
            let reserved = reserved.get(&zone.name).copied();
            Ok(plan::plan_zone(
                zone,
                inputs,
                last,
                reserved,
                installed.as_deref(),
            ))
        })
        .collect()
}

fn print_probes(config: &Config, outcomes: &[Vec<ProbeOutcome>]) {
    for (pool, outcomes) in config.pools.iter().zip(outcomes) {
        for (server, outcome) in pool.servers.iter().zip(outcomes) {
            println!(
                "probe {}/{} {}: {}",
                pool.name,
                server.name,
                server.address(),
                outcome.describe()
            );
        }
    }
}

/// The change line of a pool switch.
fn switch_line(config: &Config, pool: usize, d: &Decision) -> Option<String> {
    let switch = d.switch.as_ref()?;
    let pool = &config.pools[pool];
    let from = match switch.from {
        Some(i) => format!("{} ({})", pool.servers[i].name, pool.servers[i].address()),
        None => switch.from_name.clone(),
    };
    let to = &pool.servers[switch.to];
    Some(format!(
        "{}: {from} -> {} ({}): {}",
        pool.name,
        to.name,
        to.address(),
        switch.reason
    ))
}

fn print_switches(config: &Config, decisions: &[Decision], guarded: &[Guarded]) {
    for (i, d) in decisions.iter().enumerate() {
        if let Some(line) = switch_line(config, i, d) {
            println!("{line}");
        }
    }
    for g in guarded {
        if matches!(g.verdict, Verdict::Confirmed(_)) {
            continue;
        }
        let pool = &config.pools[g.pool];
        let stay = &pool.servers[decisions[g.pool].chosen];
        let uncounted = if matches!(g.verdict, Verdict::OwnLinkDown(_)) {
            "; this run is not counted towards fall"
        } else {
            ""
        };
        println!(
            "{}: staying on {} ({}): {}; {}{uncounted}",
            pool.name,
            stay.name,
            stay.address(),
            g.failure,
            g.verdict.detail()
        );
    }
}

fn zone_line(zone: &Zone, plan: &ZonePlan) -> String {
    let show = |s: Option<u32>| s.map_or_else(|| "none".to_owned(), |s| s.to_string());
    match plan.action {
        Action::Adopt => format!(
            "{}: serial {} already installed, reloaded",
            zone.name,
            show(plan.serial)
        ),
        _ => format!(
            "{}: serial {} -> {}, reloaded",
            zone.name,
            show(plan.old_serial),
            show(plan.serial)
        ),
    }
}

fn print_dry_run(
    config: &Config,
    zones: &[Zone],
    plans: &[ZonePlan],
    verbosity: Verbosity,
) -> Result<()> {
    let mut any = false;
    for (zone, plan) in zones.iter().zip(plans) {
        if plan.action == Action::Keep {
            continue;
        }
        any = true;
        if verbosity < Verbosity::Normal {
            continue;
        }
        let path = config.zones.join(&zone.file_name);
        let installed = fsio::read_optional(&path)?.unwrap_or_default();
        let installed = String::from_utf8_lossy(&installed);
        let shown = path.display().to_string();
        let diff = similar::TextDiff::from_lines(installed.as_ref(), plan.contents.as_str())
            .unified_diff()
            .context_radius(3)
            .header(&shown, &format!("{shown} (would be installed)"))
            .to_string();
        if diff.is_empty() {
            println!(
                "{} (unchanged text, would be reloaded)",
                zone_line(zone, plan)
            );
        } else {
            print!("{diff}");
            if !diff.ends_with('\n') {
                println!();
            }
        }
    }
    if any && verbosity >= Verbosity::Normal {
        println!("(dry run: nothing written)");
    }
    Ok(())
}

/// Steps 1–3 of DESIGN.md: render + check, install, reload. Zones that pass are installed
/// and reloaded even if another zone fails, so one broken template never holds a failover
/// hostage; any failure is still returned (exit 1) and the state is not saved.
fn apply(
    config: &Config,
    zones: &[Zone],
    plans: &mut [ZonePlan],
    mut reserved: Reserved,
    files: &StateFiles,
) -> Result<()> {
    let mut errors = Vec::new();
    let mut staged = Vec::new();
    for (i, (zone, plan)) in zones.iter().zip(plans.iter()).enumerate() {
        if plan.action != Action::Write {
            continue;
        }
        match stage(config, zone, plan) {
            Ok(s) => staged.push((i, s)),
            Err(e) => errors.push(e),
        }
    }
    let before = reserved.clone();
    for (i, _) in &staged {
        if let Some(serial) = plans[*i].serial {
            let entry = reserved.entry(zones[*i].name.clone()).or_insert(serial);
            *entry = serial::newest(*entry, serial);
        }
    }
    if reserved != before
        && let Err(e) = write_reserved(&files.serials, &reserved)
    {
        // Nothing installed yet: give up on every zone rather than risk serial reuse.
        errors.push(e);
        mark_failed(plans, staged.iter().map(|(i, _)| *i));
        return Err(Error::Many(errors));
    }
    let mut to_reload = Vec::new();
    for (i, s) in staged {
        match s.install(&config.zones.join(&zones[i].file_name)) {
            Ok(()) => to_reload.push(i),
            Err(e) => {
                errors.push(e);
                mark_failed(plans, [i]);
            }
        }
    }
    for (i, plan) in plans.iter().enumerate() {
        if plan.action == Action::Adopt {
            to_reload.push(i);
        }
    }
    // Failed Write plans are not reloaded; mark them Keep so no change line is printed.
    for (i, plan) in plans.iter_mut().enumerate() {
        if plan.action == Action::Write && !to_reload.contains(&i) {
            plan.action = Action::Keep;
        }
    }
    if !to_reload.is_empty() {
        let names: Vec<&str> = to_reload.iter().map(|&i| zones[i].name.as_str()).collect();
        if let Err(e) = nsd::reload(&config.nsd, &names) {
            errors.push(e);
            mark_failed(plans, to_reload);
        }
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(Error::Many(errors)),
    }
}

fn mark_failed(plans: &mut [ZonePlan], which: impl IntoIterator<Item = usize>) {
    for i in which {
        plans[i].action = Action::Keep;
    }
}

/// Write the rendered zone to a temporary file beside its target and run nsd-checkzone on it.
fn stage(config: &Config, zone: &Zone, plan: &ZonePlan) -> Result<Staged> {
    let staged = Staged::new(&config.zones, &zone.file_name, plan.contents.as_bytes())?;
    if let Some(program) = &config.nsd.checkzone {
        nsd::checkzone(
            &config.nsd,
            program,
            &zone.name,
            staged.path(),
            &zone.template_path,
        )?;
    }
    Ok(staged)
}

fn write_reserved(path: &Path, reserved: &Reserved) -> Result<()> {
    let mut text = serde_json::to_string_pretty(reserved).expect("serials serialise");
    text.push('\n');
    fsio::write_atomically(path, text.as_bytes())
}

/// Step 4: save the new state (only if it differs) and append the history.
fn commit(
    config: &Config,
    run: &Outcome<'_>,
    old: Option<State>,
    files: &StateFiles,
    now: Timestamp,
) -> Result<()> {
    let time = rfc3339(now);
    let old = old.unwrap_or_else(|| State {
        version: STATE_VERSION,
        ..State::default()
    });
    let mut new = State {
        version: STATE_VERSION,
        last_run: old.last_run.clone(),
        pools: BTreeMap::new(),
        zones: BTreeMap::new(),
    };
    let mut history = Vec::new();
    for (i, (pool, d)) in config.pools.iter().zip(run.decisions).enumerate() {
        let mut pool_state = d.state.clone();
        for g in run.guarded.iter().filter(|g| g.pool == i) {
            let record = GuardRecord {
                time: time.clone(),
                server: g.server.clone(),
                verdict: g.verdict.name().into(),
                detail: g.verdict.detail().into(),
            };
            history.push(HistoryEntry::Guard {
                time: time.clone(),
                pool: pool.name.clone(),
                server: record.server.clone(),
                verdict: record.verdict.clone(),
                detail: record.detail.clone(),
            });
            pool_state.guard = Some(record);
        }
        if let Some(switch) = &d.switch {
            pool_state.since = Some(time.clone());
            history.push(switch_entry(pool, switch, &time));
        }
        new.pools.insert(pool.name.clone(), pool_state);
    }
    for (zone, plan) in run.zones.iter().zip(run.plans) {
        let entry = match plan.action {
            Action::Keep => old.zones.get(&zone.name).cloned(),
            Action::Write | Action::Adopt => {
                let p = run.propagation.get(&zone.name);
                history.push(HistoryEntry::Zone {
                    time: time.clone(),
                    zone: zone.name.clone(),
                    from_serial: plan.old_serial,
                    to_serial: plan.serial.unwrap_or(0),
                    propagation_ms: p.map(|p| p.times_ms.clone()),
                });
                Some(ZoneState {
                    serial: plan.serial.unwrap_or(0),
                    template: zone.fingerprint.clone(),
                    installed: fingerprint(plan.contents.as_bytes()),
                    vars: plan.vars.clone(),
                    lagging: p.map(|p| p.lagging.clone()).unwrap_or_default(),
                })
            }
        };
        if let Some(entry) = entry {
            new.zones.insert(zone.name.clone(), entry);
        }
    }
    if new == old {
        return Ok(());
    }
    new.last_run = Some(time);
    fsio::write_atomically(&files.state, new.to_text().as_bytes())?;
    for entry in &history {
        let line = serde_json::to_string(entry).expect("history serialises");
        fsio::append_line(&files.history, &line)?;
    }
    Ok(())
}

fn switch_entry(pool: &Pool, switch: &Switch, time: &str) -> HistoryEntry {
    let to = &pool.servers[switch.to];
    HistoryEntry::Switch {
        time: time.to_owned(),
        pool: pool.name.clone(),
        from: switch.from_name.clone(),
        to: to.name.clone(),
        from_address: switch
            .from
            .map(|f| pool.servers[f].address().to_string())
            .unwrap_or_default(),
        to_address: to.address().to_string(),
        reason: switch.reason.clone(),
    }
}
