//! Step 4, the commit point: save the state the run leads to (built by the pure
//! `outcome::next_state`) and append its history; then, once committed, run the hook.

use jiff::Timestamp;

use crate::command::run_bounded;
use crate::config::Config;
use crate::error::{Errors, Result};
use crate::outcome::{Next, Outcome, PoolRun, ZoneRun, next_state, next_template_cache};
use crate::state::{State, TemplateCache};
use crate::store::{self, StateFiles, write_template_cache};

/// The commit point: only a run whose every change was applied (no `errors` so far) saves
/// the state it leads to ([`commit`]); a failure to save joins `errors`. Returns whether
/// the state was committed, and gives `seen` (the metrics) the committed state.
pub(super) fn commit_applied(
    old: Option<&State>,
    run: &Outcome<'_>,
    files: &StateFiles,
    now: Timestamp,
    seen: &mut super::metrics::Seen,
    errors: &mut Errors,
) -> bool {
    if !errors.is_empty() {
        return false;
    }
    match commit(old, run, files, now) {
        Ok(state) => {
            seen.state = Some(std::rc::Rc::new(state));
            true
        }
        Err(e) => {
            errors.push(e);
            false
        }
    }
}

/// Step 4: save the new state (only if it differs) and append the history. Returns the
/// state now committed.
pub(super) fn commit(
    old: Option<&State>,
    run: &Outcome<'_>,
    files: &StateFiles,
    now: Timestamp,
) -> Result<State> {
    let next = next_state(old, run, now);
    save(&next, files)?;
    Ok(next.state)
}

/// Write `next` if it changed: the history first, the state last. Saving the state is the
/// commit point, and a failure before it (exit 1) must leave the state as it was, so the
/// next run redoes the change and records it again. (A failure between the two can thus
/// repeat a history line; it can never lose one or advance the state silently.)
fn save(next: &Next, files: &StateFiles) -> Result<()> {
    if !next.changed {
        return Ok(());
    }
    store::write_state(&next.state, &next.history, files)?;
    // From here a signal loses nothing: say so if one comes (during the hook, say).
    crate::signals::note_saved();
    Ok(())
}

/// Save the template cache the run leads to (`outcome::next_template_cache`, under
/// `context`) if it is not the one `found`. A failure is a warning: it is only a cache,
/// and the next run reads every template it cannot vouch for.
pub(super) fn save_template_cache(
    found: Option<&TemplateCache>,
    context: &str,
    zones: &[ZoneRun],
    files: &StateFiles,
) {
    let next = next_template_cache(zones, context);
    let unchanged = match found {
        Some(old) => *old == next,
        None => next.zones.is_empty(),
    };
    if unchanged {
        return;
    }
    if let Err(e) = write_template_cache(&files.templates, &next) {
        crate::errln!(
            "zonerw: warning: {e} (the template cache: the next run reads every template)"
        );
    }
}

/// Run the on-change hook once per committed pool switch. A failing hook is reported but
/// never undoes the switch.
pub(super) fn run_hooks(config: &Config, pools: &[PoolRun<'_>]) {
    let Some(argv) = &config.on_change else {
        return;
    };
    for p in pools {
        let Some(switch) = &p.decision.switch else {
            continue;
        };
        let to = &p.pool.servers[switch.to];
        let env = [
            ("ZONERW_POOL", p.pool.name.clone()),
            ("ZONERW_FROM", switch.from_name.clone()),
            ("ZONERW_TO", to.name.clone()),
            ("ZONERW_FROM_ADDRESS", switch.from_address(p.pool)),
            ("ZONERW_TO_ADDRESS", to.address().to_string()),
            ("ZONERW_REASON", switch.reason.clone()),
        ];
        let warning = match run_bounded(argv, &env, config.guard_timeout) {
            Ok(out) if out.status.success() => continue,
            Ok(out) => crate::report::hook_failed(argv, &out.status.to_string(), &out.quote()),
            Err(e) => crate::report::hook_failed(argv, &e.to_string(), &[]),
        };
        crate::errln!("{warning}");
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::state::HistoryEntry;

    fn next(changed: bool, history: Vec<HistoryEntry>) -> Next {
        Next {
            state: State {
                version: 1,
                last_run: Some("2026-11-29T10:01:00Z".into()),
                ..State::default()
            },
            history,
            changed,
        }
    }

    fn guard_line() -> HistoryEntry {
        HistoryEntry::Guard {
            time: "2026-11-29T10:01:00Z".into(),
            pool: "web".into(),
            server: "main".into(),
            verdict: "vetoed".into(),
            detail: "failover vetoed: witness 'w' reaches main".into(),
        }
    }

    #[test]
    fn an_unchanged_state_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let files = StateFiles::in_dir(dir.path());
        save(&next(false, vec![guard_line()]), &files).unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn the_history_is_appended_and_the_state_written_last() {
        let dir = tempfile::tempdir().unwrap();
        let files = StateFiles::in_dir(dir.path());
        fs::write(&files.history, "{\"earlier\":1}\n").unwrap();
        let next = next(true, vec![guard_line()]);
        save(&next, &files).unwrap();
        assert_eq!(
            fs::read_to_string(&files.history).unwrap(),
            "{\"earlier\":1}\n{\"event\":\"guard\",\"time\":\"2026-11-29T10:01:00Z\",\"pool\":\"web\",\"server\":\"main\",\"verdict\":\"vetoed\",\"detail\":\"failover vetoed: witness 'w' reaches main\"}\n"
        );
        assert_eq!(
            fs::read_to_string(&files.state).unwrap(),
            next.state.to_text()
        );
    }

    #[test]
    fn a_history_that_cannot_be_written_leaves_the_state_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let files = StateFiles::in_dir(dir.path());
        fs::write(&files.state, "old\n").unwrap();
        // A directory where history.jsonl should be: the append fails.
        fs::create_dir(&files.history).unwrap();
        let error = save(&next(true, vec![guard_line()]), &files).unwrap_err();
        assert_eq!(error.exit_code(), 1);
        assert_eq!(
            fs::read_to_string(&files.state).unwrap(),
            "old\n",
            "not committed"
        );
    }
}
