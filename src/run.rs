//! One cron run: lock → load state → probe → decide → guard → plan → sign (zones with
//! keys) → check → install → reload → verify → save → hooks.
//!
//! Crash ordering: zone files are installed (atomically) first, NSD reloads them next, and
//! state.json is saved last. State is the commit point: a crash or failure anywhere before
//! it leaves the old state, so the next run redoes the same work. A zone that was already
//! installed is then found equal to what would be rendered and is adopted without a new
//! serial. Serials are recorded in serials.json *before* any file carrying them is
//! installed, so a retry never hands out a serial already used for other content.
//!
//! `zonerw pin|unpin|drain|undrain` are runs too: once the servers are probed, under the
//! lock, the command's change is recorded (saved at once), then the run goes on as any
//! other (`run_recording`).
//!
//! This file is the story; each step is a function elsewhere: the decisions are pure
//! (`outcome`, `decide`, `plan`, `guard::verdict`, `report`), the effects are in `run/`.

use std::rc::Rc;

use jiff::Timestamp;

use crate::config::Config;
use crate::error::{Error, Errors, Result};
use crate::maintenance::Change;
use crate::outcome::{self, Outcome};
use crate::output::{emit, print};
use crate::report;
use crate::store::{StateFiles, load_reserved, load_state};
use crate::templates::{self, Templates};

mod apply;
mod commit;
mod decide;
mod guard;
mod metrics;
mod plan;
mod prepare;
mod sign;
mod verify;

pub use crate::output::Verbosity;

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

/// Do one run, then write the metrics textfile (if configured), also after a failure.
pub fn run(config: &Config, options: RunOptions, now: Timestamp) -> Result<()> {
    run_recording(config, options, now, None)
}

/// [`run`], recording a maintenance command's `change` first: under the run's lock, once
/// the servers are probed (a drain is refused unless another server is healthy). The
/// record is saved at once, so it stands whatever becomes of the run that goes on.
pub fn run_recording(
    config: &Config,
    options: RunOptions,
    now: Timestamp,
    change: Option<&Change>,
) -> Result<()> {
    metrics::written_after(config, options.dry_run, now, |seen| {
        run_steps(config, options, now, seen, change)
    })
}

/// Every template error is reported, whatever else happens; only "another run holds the
/// lock" stands alone (that run reports them).
fn run_steps(
    config: &Config,
    options: RunOptions,
    now: Timestamp,
    seen: &mut metrics::Seen,
    change: Option<&Change>,
) -> Result<()> {
    let mut listing = Some(templates::list(config)?);
    let mut errors = Errors::default();
    let result = run_zones(
        config,
        options,
        now,
        seen,
        &mut listing,
        &mut errors,
        change,
    );
    if let Err(e @ Error::Locked { .. }) = result {
        return Err(e);
    }
    // A run that failed before it read the templates still says which are broken.
    if let Some(listing) = listing {
        errors.extend(templates::load(config, listing, None, |_, _, _| None::<(_, _, ())>).errors);
    }
    errors.add(result);
    errors.into_result()
}

/// A run over the templates of `listing`, which it takes once it knows which zones must be
/// read (their errors go to `template_errors`, before the run's own). `change`: a
/// maintenance command's, recorded before the decision.
fn run_zones(
    config: &Config,
    options: RunOptions,
    now: Timestamp,
    seen: &mut metrics::Seen,
    listing: &mut Option<templates::Listing>,
    template_errors: &mut Errors,
    change: Option<&Change>,
) -> Result<()> {
    let started = std::time::Instant::now();
    let verbosity = options.verbosity;
    let clock = prepare::serial_clock(config, now)?;
    let files = StateFiles::in_dir(&config.state);
    let _lock = prepare::prepare(config, options.dry_run, &files)?;
    // Shared with the metrics written at the end, not copied (ten thousand zones).
    let old = load_state(&files.state)?.map(Rc::new);
    seen.state.clone_from(&old);
    let reserved = load_reserved(&files.serials)?;

    let (old, pools) = decide::decide(config, old, change, now, &files, verbosity, seen)?;
    let addresses = outcome::chosen_addresses(&pools);
    let inputs = crate::plan::Inputs {
        config,
        force: options.force,
        clock,
        addresses: &addresses,
    };
    let keys = sign::key_dir(config)?;
    let signer = sign::Signer {
        dnssec: config.dnssec.as_ref(),
        keys: keys.as_ref(),
        now,
    };
    let listing = listing.take().expect("listed, and loaded only here");
    let (templates, cache) = plan::load_templates(
        listing,
        inputs,
        now,
        old.as_deref(),
        &files.templates,
        keys.as_ref(),
    );
    let Templates {
        zones,
        kept,
        broken,
        errors,
    } = templates;
    template_errors.extend(errors);
    let mut zones = plan::plan_all(
        zones,
        kept,
        inputs,
        old.as_deref(),
        &reserved,
        keys.as_ref(),
    )?;
    let said = plan::ask_server(&mut zones, inputs, &outcome::down_servers(&pools));
    if options.dry_run {
        emit(report::maintenance(&pools, None, verbosity));
        print(report::switches(&pools, None, verbosity));
        let checked = apply::check_only(config, &mut zones, &signer);
        let diffs = report::dry_run(&zones, &config.zones, plan::read_for_diff, verbosity)?;
        print(diffs);
        return checked;
    }

    let mut errors = Errors::default();
    errors.add(apply::apply(
        config, &mut zones, reserved, &files, &signer, &said,
    ));
    verify::verify_reloaded(config, &mut zones, &pools, verify::Clock { now, started });
    errors.extend(verify::primary_failures(config, &zones));
    let run = Outcome {
        pools: &pools,
        zones: &zones,
        broken: &broken,
    };
    let committed = commit::commit_applied(old.as_deref(), &run, &files, now, seen, &mut errors);
    // Say what happened, not what was meant to: a switch is printed as done only once it
    // is committed; before that it is pending, and the next run retries it.
    emit(report::maintenance(&pools, Some(committed), verbosity));
    print(report::switches(&pools, Some(committed), verbosity));
    emit(report::zones(&zones, verbosity));
    if committed {
        commit::save_template_cache(cache.old.as_ref(), &cache.context, &zones, &files);
        commit::run_hooks(config, &pools);
    }
    errors.into_result()
}
