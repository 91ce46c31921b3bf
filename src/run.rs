//! One cron run: lock → load state → probe → decide → plan → check → install → reload → save.
//!
//! Crash ordering: zone files are installed (atomically) first, NSD reloads them next, and
//! state.json is saved last. State is the commit point: a crash or failure anywhere before
//! it leaves the old state, so the next run redoes the same work. A zone that was already
//! installed is then found equal to what would be rendered and is adopted without a new
//! serial. Serials are recorded in serials.json *before* any file carrying them is
//! installed, so a retry never hands out a serial already used for other content.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::Instant;

use jiff::Timestamp;

use crate::config::{Clock, Config};
use crate::decide::{Decision, ProbeOutcome, decide};
use crate::error::{Error, Result};
use crate::fsio;
use crate::guard::Verdict;
use crate::lock;
use crate::metrics;
use crate::plan::{self, Inputs, ZonePlan};
use crate::probe;
use crate::serial;
use crate::state::{Reserved, State};
use crate::store::{StateFiles, load_reserved, load_state};
use crate::templates::{self, Templates};
use crate::verify::Propagation;
use crate::zone::Zone;

mod apply;
mod commit;
mod proof;
mod report;

use self::apply::apply;
use self::commit::{commit, run_hooks};
use self::proof::{guard_failovers, primary_failures, verify_reloaded};
use self::report::{print_dry_run, print_probes, print_switches, report_zones};

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

/// What a run saw, for the metrics written at its end whatever happened.
#[derive(Debug, Default)]
struct Seen {
    outcomes: Option<Vec<Vec<ProbeOutcome>>>,
    state: Option<State>,
}

/// Do one run, then write the metrics textfile (if configured), also after a failure.
pub fn run(config: &Config, options: RunOptions, now: Timestamp) -> Result<()> {
    let started = Instant::now();
    let mut seen = Seen::default();
    let result = run_steps(config, options, now, &mut seen);
    let locked = matches!(result, Err(Error::Locked { .. }));
    if let (Some(path), false, false) = (&config.metrics_textfile, options.dry_run, locked) {
        let code = result.as_ref().err().map_or(0, Error::exit_code);
        if let Err(e) = write_metrics(config, path, &seen, now, started, code) {
            // The run's own result stands; a metrics problem must not undo or fail it.
            crate::errln!("zonerw: warning: {e}");
        }
    }
    result
}

fn write_metrics(
    config: &Config,
    path: &Path,
    seen: &Seen,
    now: Timestamp,
    started: Instant,
    code: u8,
) -> Result<()> {
    let duration = started.elapsed();
    #[allow(
        clippy::cast_precision_loss,
        reason = "seconds since the epoch fit in f64"
    )]
    let ended = now.as_millisecond() as f64 / 1000.0 + duration.as_secs_f64();
    let previous = fsio::read_optional(path)?
        .and_then(|b| metrics::previous_success(&String::from_utf8_lossy(&b)));
    let snapshot = metrics::Snapshot {
        config,
        ended,
        duration,
        last_success: if code == 0 { Some(ended) } else { previous },
        success: code == 0,
        exit_code: code,
        outcomes: seen.outcomes.as_deref(),
        state: seen.state.as_ref(),
    };
    fsio::write_atomically(path, metrics::render(&snapshot).as_bytes())
}

fn run_steps(config: &Config, options: RunOptions, now: Timestamp, seen: &mut Seen) -> Result<()> {
    let Templates {
        zones,
        broken,
        errors: mut all,
    } = templates::load_templates(config)?;
    // Every template error is reported, whatever else happens; only "another run holds the
    // lock" stands alone (that run reports them).
    match run_zones(config, options, now, seen, &zones, &broken) {
        Ok(()) => {}
        Err(e @ Error::Locked { .. }) => return Err(e),
        Err(Error::Many(errors)) => all.extend(errors),
        Err(e) => all.push(e),
    }
    combine(all)
}

/// A run over the sound templates (`zones`); `broken` names the zones skipped.
fn run_zones(
    config: &Config,
    options: RunOptions,
    now: Timestamp,
    seen: &mut Seen,
    zones: &[Zone],
    broken: &[String],
) -> Result<()> {
    let clock = serial_clock(config, now)?;
    let files = StateFiles::in_dir(&config.state);
    let _lock = prepare(config, options, &files)?;
    let old = load_state(&files.state)?;
    seen.state.clone_from(&old);
    let reserved = load_reserved(&files.serials)?;

    let outcomes = probe::probe_all(config);
    if options.verbosity >= Verbosity::Verbose {
        print_probes(config, &outcomes);
    }
    seen.outcomes = Some(outcomes.clone());
    let mut decisions = decide_all(config, old.as_ref(), &outcomes);
    let guarded = guard_failovers(config, &mut decisions, old.as_ref());
    let addresses = chosen_addresses(config, &decisions);
    let inputs = Inputs {
        config,
        force: options.force,
        clock,
        addresses: &addresses,
    };
    let mut plans = plan_all(zones, inputs, old.as_ref(), &reserved)?;
    if options.dry_run {
        if options.verbosity >= Verbosity::Normal {
            print_switches(config, &decisions, &guarded, None);
        }
        return print_dry_run(config, zones, &plans, options.verbosity);
    }

    let applied = apply(config, zones, &mut plans, reserved, &files);
    let propagation = verify_reloaded(config, zones, &plans, &outcomes);
    let mut errors = match applied {
        Ok(()) => Vec::new(),
        Err(Error::Many(errors)) => errors,
        Err(e) => vec![e],
    };
    errors.extend(primary_failures(config, zones, &plans, &propagation));
    // The commit point: only a run whose every change was applied saves the state.
    let committed = errors.is_empty() && {
        let outcome = Outcome {
            zones,
            broken,
            plans: &plans,
            decisions: &decisions,
            guarded: &guarded,
            propagation: &propagation,
        };
        match commit(config, &outcome, old, &files, now) {
            Ok(state) => {
                seen.state = Some(state);
                true
            }
            Err(e) => {
                errors.push(e);
                false
            }
        }
    };
    // Say what happened, not what was meant to: a switch is printed as done only once it
    // is committed; before that it is pending, and the next run retries it.
    if options.verbosity >= Verbosity::Normal {
        print_switches(config, &decisions, &guarded, Some(committed));
    }
    report_zones(zones, &plans, &propagation, options.verbosity);
    if committed {
        run_hooks(config, &decisions);
    }
    combine(errors)
}

/// One error for all the errors of a run, or Ok.
fn combine(mut errors: Vec<Error>) -> Result<()> {
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(Error::Many(errors)),
    }
}

/// A failover the guard was asked about.
struct Guarded {
    pool: usize,
    server: String,
    /// The failure that started it (the switch reason).
    failure: String,
    verdict: Verdict,
}

/// What a run did, for the commit.
struct Outcome<'a> {
    zones: &'a [Zone],
    /// Zones whose template is broken this run: their state stays as it was.
    broken: &'a [String],
    plans: &'a [ZonePlan],
    decisions: &'a [Decision],
    guarded: &'a [Guarded],
    propagation: &'a BTreeMap<String, Propagation>,
}

/// Check the zones directory and take the lock (a dry run needs neither).
fn prepare(config: &Config, options: RunOptions, files: &StateFiles) -> Result<Option<lock::Lock>> {
    if options.dry_run {
        return Ok(None);
    }
    if !config.zones.is_dir() {
        return Err(Error::config(
            &config.path,
            format!("zones: '{}' is not a directory", config.zones.display()),
        ));
    }
    check_state_owner(&config.state)?;
    if !fsio::create_state_dir(&config.state)? {
        warn_if_state_dir_is_open(&config.state);
    }
    let lock = lock::lock_exclusive(&files.lock)?;
    fsio::remove_stale_temporaries(&config.zones);
    fsio::remove_stale_temporaries(&config.state);
    Ok(Some(lock))
}

/// A run by another user than the owner of the state directory (typically root running
/// `zonerw --force` by hand where the timer runs as `zonerw`) would leave state files the
/// service user cannot write, and every later run of the timer would fail: refuse it
/// before touching anything.
fn check_state_owner(dir: &Path) -> Result<()> {
    let Some((owner, _)) = fsio::owner_and_mode(dir) else {
        return Ok(());
    };
    let me = fsio::effective_uid();
    if owner == me {
        return Ok(());
    }
    let owner_name = fsio::user_name(owner);
    let args: Vec<String> = std::env::args_os()
        .map(|a| shell_word(&a.to_string_lossy()))
        .collect();
    Err(Error::Usage(format!(
        "the state directory {} belongs to user {owner_name}, not to {}, who runs this; \
         run it as that user: sudo -u {} {}",
        dir.display(),
        fsio::user_name(me),
        shell_word(&owner_name),
        args.join(" ")
    )))
}

/// `word` quoted for a POSIX shell if it needs quoting.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Warn (the run goes on) when others than its owner may write the state directory: they
/// could replace state.json or plant links.
fn warn_if_state_dir_is_open(dir: &Path) {
    if let Some((_, mode)) = fsio::owner_and_mode(dir)
        && mode & 0o022 != 0
    {
        crate::errln!(
            "zonerw: warning: the state directory {} is writable by {} (mode {mode:04o}); \
             make it writable by its owner only: chmod go-w {}",
            dir.display(),
            if mode & 0o020 != 0 && mode & 0o002 != 0 {
                "its group and others"
            } else if mode & 0o020 != 0 {
                "its group"
            } else {
                "others"
            },
            dir.display()
        );
    }
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
            let path = inputs.config.zones.join(&zone.file_name);
            let last = old.and_then(|s| s.zones.get(&zone.name));
            let stamp = fsio::stamp(&path);
            if let Some(keep) = plan::keep_by_stamp(zone, inputs, last, stamp) {
                return Ok(keep);
            }
            let reserved = reserved.get(&zone.name).copied();
            if inputs.force && stamp.is_some() && last.is_some_and(|l| l.stamp == stamp) {
                // The installed file is still the one zonerw wrote, so its serial is the
                // recorded one: a forced rewrite need not read it (a thousand zones).
                return Ok(plan::plan_zone(zone, inputs, last, reserved, None));
            }
            let installed = match fsio::read_installed(&path)? {
                fsio::Installed::File(bytes) => Some(bytes),
                fsio::Installed::Absent => None,
                fsio::Installed::NotAFile(kind) => {
                    // rename(2) replaces anything but a directory.
                    let then = if kind == fsio::NotAFile::Directory {
                        "zonerw cannot replace a directory: remove it"
                    } else {
                        "it is not read, and is replaced"
                    };
                    crate::errln!(
                        "zonerw: warning: {}: '{}' is {kind}, not a zone file; {then}",
                        zone.name,
                        path.display()
                    );
                    None
                }
            };
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
