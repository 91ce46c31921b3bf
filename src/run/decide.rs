//! Steps 1 and 2 of a run: probe every server, record a maintenance command's change
//! (saved at once), decide every pool (`outcome::decide_pools`), and put each failover to
//! the guard.

use std::rc::Rc;

use jiff::Timestamp;

use super::{guard, metrics};
use crate::config::Config;
use crate::decide::ProbeOutcome;
use crate::error::Result;
use crate::maintenance::{self, Change, Ended, Recorded};
use crate::outcome::{self, PoolRun};
use crate::output::{Verbosity, print};
use crate::state::State;
use crate::store::{self, StateFiles};
use crate::{probe, report};

/// Probe, record `change` (if a maintenance command started the run), decide every pool
/// from `old` and put its failover to the guard. Returns the state the run goes on from
/// (`old`, or the one the change recorded) and the pools as decided.
pub(super) fn decide<'a>(
    config: &'a Config,
    old: Option<Rc<State>>,
    change: Option<&Change>,
    now: Timestamp,
    files: &StateFiles,
    verbosity: Verbosity,
    seen: &mut metrics::Seen,
) -> Result<(Option<Rc<State>>, Vec<PoolRun<'a>>)> {
    let outcomes = probe::probe_all(config);
    seen.outcomes = Some(outcomes.clone());
    let (old, ended) = match change {
        Some(change) => record(config, change, old, &outcomes, now, files, verbosity, seen)?,
        None => (old, None),
    };
    let commanded = change.zip(ended.as_ref()).map(|(c, e)| (c.pool(), e));
    let mut pools = outcome::decide_pools(config, old.as_deref(), outcomes, now, commanded);
    print(report::probes(&pools, verbosity));
    guard::guard_failovers(config, &mut pools);
    Ok((old, pools))
}

/// Record a maintenance command's `change` and save it at once; the state the run goes on
/// from, and what the change ended (an earlier pin it replaced, say).
#[allow(
    clippy::too_many_arguments,
    reason = "the run's own values, passed through"
)]
fn record(
    config: &Config,
    change: &Change,
    old: Option<Rc<State>>,
    outcomes: &[Vec<ProbeOutcome>],
    now: Timestamp,
    files: &StateFiles,
    verbosity: Verbosity,
    seen: &mut metrics::Seen,
) -> Result<(Option<Rc<State>>, Option<Ended>)> {
    let recorded = maintenance::record(config, old.as_deref(), change, outcomes, now)?;
    save_recorded(&recorded, files)?;
    if verbosity >= Verbosity::Normal {
        print([recorded.line]);
    }
    if recorded.entry.is_none() {
        return Ok((old, None));
    }
    let state = Rc::new(recorded.state);
    seen.state = Some(Rc::clone(&state));
    Ok((Some(state), recorded.ended))
}

/// Save what a maintenance command recorded (if it changed anything), before its run goes
/// on: the record stands whatever becomes of the run. The history line first, the state
/// last, as for a run.
fn save_recorded(recorded: &Recorded, files: &StateFiles) -> Result<()> {
    match &recorded.entry {
        Some(entry) => store::write_state(&recorded.state, std::slice::from_ref(entry), files),
        None => Ok(()),
    }
}
