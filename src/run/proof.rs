//! Second opinions and proof: the guard before a failover, verification after a reload.

use std::time::Instant;

use crate::config::Config;
use crate::error::Error;
use crate::guard;
use crate::outcome::{Fate, PoolRun, ZoneRun, down_servers};
use crate::state::State;
use crate::verify::{self, Reloaded};

/// Ask the guard about every failover; a vetoed one, or one while our own link seems
/// down, holds the pool exactly as it was (this run does not count).
pub(super) fn guard_failovers(config: &Config, pools: &mut [PoolRun<'_>], old: Option<&State>) {
    let Some(guard) = &config.guard else {
        return;
    };
    for p in pools {
        let Some(server) = p.failover_from() else {
            continue;
        };
        let verdict = guard::consult(guard, config.guard_timeout, p.pool, server);
        p.take_verdict(verdict, old);
    }
}

/// Query the primary and the secondaries for every zone reloaded in this run; what each
/// served goes into the zone's record.
pub(super) fn verify_reloaded(config: &Config, zones: &mut [ZoneRun], pools: &[PoolRun<'_>]) {
    let reloaded_at = Instant::now();
    let Some(v) = &config.verify else {
        return;
    };
    let reloaded: Vec<Reloaded> = zones
        .iter()
        .filter(|z| z.reloaded())
        .filter_map(|z| {
            z.plan.serial.map(|serial| Reloaded {
                zone: z.zone.name.clone(),
                serial,
            })
        })
        .collect();
    if reloaded.is_empty() {
        return;
    }
    let mut seen = verify::verify(v, &config.nsd, &reloaded, &down_servers(pools), reloaded_at);
    for z in zones.iter_mut() {
        if let Fate::Reloaded { propagation, .. } = &mut z.fate {
            *propagation = seen.remove(&z.zone.name);
        }
    }
}

/// An error for every zone the primary did not serve in time.
pub(super) fn primary_failures(config: &Config, zones: &[ZoneRun]) -> Vec<Error> {
    let Some(v) = &config.verify else {
        return Vec::new();
    };
    zones
        .iter()
        .filter_map(|z| {
            let what = z.propagation()?.primary_failure.as_ref()?;
            Some(verify::primary_failure(
                v,
                &z.zone.name,
                z.plan.serial.unwrap_or(0),
                what,
            ))
        })
        .collect()
}
