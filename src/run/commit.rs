//! Step 4, the commit point: save the state, append the history, then run the hook.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::Outcome;
use crate::command::run_bounded;
use crate::config::{Config, Pool};
use crate::decide::{Decision, Switch};
use crate::error::Result;
use crate::fsio;
use crate::plan::Action;
use crate::state::{GuardRecord, HistoryEntry, STATE_VERSION, State, ZoneState, rfc3339};
use crate::store::StateFiles;
use crate::zone::fingerprint;

/// Step 4: save the new state (only if it differs) and append the history.
pub(super) fn commit(
    config: &Config,
    run: &Outcome<'_>,
    old: Option<State>,
    files: &StateFiles,
    now: Timestamp,
) -> Result<State> {
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
            if switch.is_failover() {
                pool_state.failovers += 1;
            }
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
                    propagation_ms: p.map(|p| p.times_ms.clone()).filter(|t| !t.is_empty()),
                });
                Some(ZoneState {
                    serial: plan.serial.unwrap_or(0),
                    template: zone.fingerprint.clone(),
                    installed: fingerprint(plan.contents.as_bytes()),
                    vars: plan.vars.clone(),
                    stamp: fsio::stamp(&config.zones.join(&zone.file_name)),
                    lagging: p.map(|p| p.lagging.clone()).unwrap_or_default(),
                })
            }
        };
        if let Some(entry) = entry {
            new.zones.insert(zone.name.clone(), entry);
        }
    }
    for name in run.broken {
        if let Some(entry) = old.zones.get(name) {
            new.zones.insert(name.clone(), entry.clone());
        }
    }
    if new == old {
        return Ok(new);
    }
    new.last_run = Some(time);
    // The history first, the state last: saving the state is the commit point, and a
    // failure before it (exit 1) must leave the state as it was, so the next run redoes
    // the change and records it again. (A failure between the two can thus repeat a
    // history line; it can never lose one or advance the state silently.)
    let lines: Vec<String> = history
        .iter()
        .map(|entry| serde_json::to_string(entry).expect("history serialises"))
        .collect();
    if !lines.is_empty() {
        fsio::append_lines(&files.history, &lines)?;
    }
    fsio::write_atomically(&files.state, new.to_text().as_bytes())?;
    // From here a signal loses nothing: say so if one comes (during the hook, say).
    crate::signals::note_saved();
    Ok(new)
}

pub(super) fn switch_entry(pool: &Pool, switch: &Switch, time: &str) -> HistoryEntry {
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

/// Run the on-change hook once per committed pool switch. A failing hook is reported but
/// never undoes the switch.
pub(super) fn run_hooks(config: &Config, decisions: &[Decision]) {
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
            Ok(out) => {
                let printed = out.quote().join("; ");
                if printed.is_empty() {
                    out.status.to_string()
                } else {
                    format!("{}: {printed}", out.status)
                }
            }
            Err(e) => e.to_string(),
        };
        crate::errln!(
            "zonerw: warning: on-change hook '{}' failed: {failure}",
            argv.join(" ")
        );
    }
}
