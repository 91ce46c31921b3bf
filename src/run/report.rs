//! What a run prints: probe results, switches, zone lines, diffs, propagation.

use std::collections::BTreeMap;

use super::{Guarded, Verbosity};
use crate::config::Config;
use crate::decide::{Decision, ProbeOutcome};
use crate::error::Result;
use crate::fsio;
use crate::guard::Verdict;
use crate::plan::{Action, ZonePlan};
use crate::verify::Propagation;
use crate::zone::Zone;

pub(super) fn print_probes(config: &Config, outcomes: &[Vec<ProbeOutcome>]) {
    for (pool, outcomes) in config.pools.iter().zip(outcomes) {
        for (server, outcome) in pool.servers.iter().zip(outcomes) {
            crate::outln!(
                "probe {}/{} {}: {}",
                pool.name,
                server.name,
                server.address(),
                outcome.describe()
            );
        }
    }
}

/// The change line of a pool switch; a `pending` one (not committed) says so.
pub(super) fn switch_line(
    config: &Config,
    pool: usize,
    d: &Decision,
    pending: bool,
) -> Option<String> {
    let switch = d.switch.as_ref()?;
    let pool = &config.pools[pool];
    let from = match switch.from {
        Some(i) => format!("{} ({})", pool.servers[i].name, pool.servers[i].address()),
        None => switch.from_name.clone(),
    };
    let to = &pool.servers[switch.to];
    let head = format!("{}: {from} -> {} ({})", pool.name, to.name, to.address());
    Some(if pending {
        pending_line(&head, &switch.reason)
    } else {
        format!("{head}: {}", switch.reason)
    })
}

/// The pools' switch lines and the guard's "staying" lines. `committed`: None in a dry run
/// (the lines say what would happen), else whether the switches were committed; one that
/// was not is printed as pending, since the next run retries it.
pub(super) fn print_switches(
    config: &Config,
    decisions: &[Decision],
    guarded: &[Guarded],
    committed: Option<bool>,
) {
    for (i, d) in decisions.iter().enumerate() {
        if let Some(line) = switch_line(config, i, d, committed == Some(false)) {
            crate::outln!("{line}");
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
        crate::outln!(
            "{}: staying on {} ({}): {}; {}{uncounted}",
            pool.name,
            stay.name,
            stay.address(),
            g.failure,
            g.verdict.detail()
        );
    }
}

/// A switch line (`head`: `web: main (…) -> backup (…)`) that is not applied yet:
/// `head (not applied yet: …): reason`.
fn pending_line(head: &str, reason: &str) -> String {
    format!(
        "{head} (not applied yet: the run failed, see the errors; the next run retries): {reason}"
    )
}

pub(super) fn zone_line(zone: &Zone, plan: &ZonePlan) -> String {
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

pub(super) fn print_dry_run(
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
        let installed = match fsio::read_installed(&path)? {
            fsio::Installed::File(bytes) => bytes,
            fsio::Installed::Absent | fsio::Installed::NotAFile(_) => Vec::new(),
        };
        let installed = String::from_utf8_lossy(&installed);
        let shown = path.display().to_string();
        let diff = similar::TextDiff::from_lines(installed.as_ref(), plan.contents.as_str())
            .unified_diff()
            .context_radius(3)
            .header(&shown, &format!("{shown} (would be installed)"))
            .to_string();
        if diff.is_empty() {
            crate::outln!(
                "{} (unchanged text, would be reloaded)",
                zone_line(zone, plan)
            );
        } else {
            crate::out!("{diff}");
            if !diff.ends_with('\n') {
                crate::outln!();
            }
        }
    }
    if any && verbosity >= Verbosity::Normal {
        crate::outln!("(dry run: nothing written)");
    }
    Ok(())
}

/// Print a line per reloaded zone, the propagation (-v), skipped secondaries and laggards.
pub(super) fn report_zones(
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
            crate::outln!("{}", zone_line(zone, plan));
        }
        let Some(p) = propagation.get(&zone.name) else {
            continue;
        };
        if verbosity >= Verbosity::Verbose
            && let Some(line) = propagation_line(&zone.name, serial, p)
        {
            crate::outln!("{line}");
        }
        if verbosity >= Verbosity::Normal {
            for (addr, name) in &p.skipped {
                crate::outln!(
                    "{}: secondary {addr} is {name}, which is down; it will get serial {serial} when it is back",
                    zone.name
                );
            }
        }
        for (addr, what) in &p.lagging {
            crate::errln!(
                "zonerw: warning: {}: secondary {addr} still {what}",
                zone.name
            );
        }
    }
}

pub(super) fn propagation_line(zone: &str, serial: u32, p: &Propagation) -> Option<String> {
    // The primary first, then the secondaries in address order.
    let mut times: Vec<_> = p.times_ms.iter().collect();
    times.sort_by_key(|(server, _)| *server != "primary");
    let who = |server: &str| {
        if server == "primary" {
            "the primary".to_owned()
        } else {
            server.to_owned()
        }
    };
    let served: Vec<String> = times
        .iter()
        .filter_map(|(server, ms)| ms.map(|ms| format!("by {} after {ms} ms", who(server))))
        .collect();
    let missing: Vec<String> = times
        .iter()
        .filter(|(_, ms)| ms.is_none())
        .map(|(server, _)| who(server))
        .collect();
    match (served.is_empty(), missing.is_empty()) {
        (true, true) => None,
        (false, true) => Some(format!(
            "{zone}: serial {serial} served {}",
            served.join(", ")
        )),
        (true, false) => Some(format!(
            "{zone}: serial {serial} not served by {}",
            missing.join(", ")
        )),
        (false, false) => Some(format!(
            "{zone}: serial {serial} served {}; not by {}",
            served.join(", "),
            missing.join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::pending_line;

    #[test]
    fn a_pending_switch_says_so_before_its_reason() {
        assert_eq!(
            pending_line(
                "web: main (192.0.2.1) -> backup (198.51.100.7)",
                "main failed: refused"
            ),
            "web: main (192.0.2.1) -> backup (198.51.100.7) (not applied yet: the run failed, see the errors; the next run retries): main failed: refused"
        );
        assert_eq!(
            pending_line("web: gone -> backup (198.51.100.7)", "main failed (x): y"),
            "web: gone -> backup (198.51.100.7) (not applied yet: the run failed, see the errors; the next run retries): main failed (x): y"
        );
    }
}
