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
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::config::{Clock, Config};
use crate::decide::{Decision, ProbeOutcome, decide};
use crate::error::{Error, Result};
use crate::fsio::{self, Staged};
use crate::nsd;
use crate::plan::{self, Action, Inputs, ZonePlan};
use crate::probe;
use crate::serial;
use crate::state::{self, HistoryEntry, Reserved, STATE_VERSION, State, ZoneState};
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
    let decisions = decide_all(config, old.as_ref(), &outcomes);
    let addresses = chosen_addresses(config, &decisions);
    let inputs = Inputs {
        config,
        force: options.force,
        clock,
        addresses: &addresses,
    };
    let mut plans = plan_all(&zones, inputs, old.as_ref(), &reserved)?;
    if options.verbosity >= Verbosity::Normal {
        print_switches(config, &decisions);
    }
    if options.dry_run {
        return print_dry_run(config, &zones, &plans, options.verbosity);
    }

    let result = apply(config, &zones, &mut plans, reserved, &files);
    if options.verbosity >= Verbosity::Normal {
        for (zone, plan) in zones.iter().zip(&plans) {
            if plan.action != Action::Keep {
                println!("{}", zone_line(zone, plan));
            }
        }
    }
    result?;
    commit(config, &zones, &plans, &decisions, old, &files, now)
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

fn print_switches(config: &Config, decisions: &[Decision]) {
    for (i, d) in decisions.iter().enumerate() {
        if let Some(line) = switch_line(config, i, d) {
            println!("{line}");
        }
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
    zones: &[Zone],
    plans: &[ZonePlan],
    decisions: &[Decision],
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
    for (i, (pool, d)) in config.pools.iter().zip(decisions).enumerate() {
        let mut pool_state = d.state.clone();
        if let Some(switch) = &d.switch {
            pool_state.since = Some(time.clone());
            let to = &pool.servers[switch.to];
            history.push(HistoryEntry::Switch {
                time: time.clone(),
                pool: pool.name.clone(),
                from: switch.from_name.clone(),
                to: to.name.clone(),
                from_address: switch
                    .from
                    .map(|f| pool.servers[f].address().to_string())
                    .unwrap_or_default(),
                to_address: to.address().to_string(),
                reason: switch.reason.clone(),
            });
            let _ = i;
        }
        new.pools.insert(pool.name.clone(), pool_state);
    }
    for (zone, plan) in zones.iter().zip(plans) {
        let entry = match plan.action {
            Action::Keep => old.zones.get(&zone.name).cloned(),
            Action::Write | Action::Adopt => {
                history.push(HistoryEntry::Zone {
                    time: time.clone(),
                    zone: zone.name.clone(),
                    from_serial: plan.old_serial,
                    to_serial: plan.serial.unwrap_or(0),
                });
                Some(ZoneState {
                    serial: plan.serial.unwrap_or(0),
                    template: zone.fingerprint.clone(),
                    installed: fingerprint(plan.contents.as_bytes()),
                    vars: plan.vars.clone(),
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
