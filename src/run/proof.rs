//! Second opinions and proof: the guard before a failover, verification after a reload.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Instant;

use super::Guarded;
use crate::config::Config;
use crate::decide::{self, Decision, ProbeOutcome};
use crate::duration;
use crate::error::Error;
use crate::guard::{self, Verdict};
use crate::plan::{Action, ZonePlan};
use crate::state::State;
use crate::verify::{self, Propagation, Reloaded};
use crate::zone::Zone;

/// Ask the guard about every failover; a vetoed one, or one while our own link seems
/// down, is replaced by holding the pool exactly as it was (this run does not count).
pub(super) fn guard_failovers(
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
pub(super) fn down_servers(
    config: &Config,
    outcomes: &[Vec<ProbeOutcome>],
) -> Vec<(IpAddr, String)> {
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
pub(super) fn verify_reloaded(
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
pub(super) fn primary_failures(
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
            let hint = if what.starts_with("serves") || what.contains("SERVFAIL") {
                "NSD did not load the new file; see its log"
            } else {
                "is NSD running, and is verify.primary its address?"
            };
            Some(Error::Verify {
                zone: zone.name.clone(),
                message: format!(
                    "the primary {} {what}, not {}, {} after the reload ({hint}); the state was not advanced, so the next run retries",
                    v.primary.map(|p| p.to_string()).unwrap_or_default(),
                    plan.serial.unwrap_or(0),
                    duration::format(v.timeout),
                ),
            })
        })
        .collect()
}
