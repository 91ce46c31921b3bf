//! What one run did: one record per pool and one per zone, carried through the run, and the
//! state and history they lead to. Pure: the shell (`run`) fills the records in, `next_state`
//! turns them into what is saved.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use jiff::Timestamp;

use crate::config::{Config, Pool, Server};
use crate::decide::{self, Decision, ProbeOutcome};
use crate::guard::Verdict;
use crate::maintenance::{self, Ended};
use crate::plan::{Action, ZonePlan};
use crate::state::{
    CachedTemplate, FileStamp, GuardRecord, HistoryEntry, PoolState, STATE_VERSION, State,
    TemplateCache, ZoneState, rfc3339,
};
use crate::verify::Propagation;
use crate::zone::{Zone, fingerprint};

/// One pool through the run: what its servers answered, what was decided, what the guard said.
#[derive(Debug, Clone)]
pub struct PoolRun<'a> {
    /// The pool, as configured.
    pub pool: &'a Pool,
    /// This run's probe outcomes, one per server in config order.
    pub outcomes: Vec<ProbeOutcome>,
    /// The decision (after the guard: a vetoed failover is a hold).
    pub decision: Decision,
    /// The guard's verdict on this run's failover, if it was asked.
    pub guarded: Option<Guarded>,
    /// The pins and drains this run dropped: run out, or their server left the config.
    pub expired: Vec<Ended>,
    /// The pool's state before this run, without what expired: what a hold keeps.
    previous: Option<PoolState>,
}

/// A failover the guard was asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guarded {
    /// The server the pool was about to leave.
    pub server: String,
    /// The failure that started it (the switch reason).
    pub failure: String,
    /// What the guard concluded.
    pub verdict: Verdict,
}

impl<'a> PoolRun<'a> {
    /// Decide `pool` from its last state and this run's probe outcomes, at `now` (the pins
    /// and drains that ran out by then are dropped first). `commanded`: what the command
    /// that started this run ended, for the reason of the switch it causes.
    #[must_use]
    pub fn decide(
        pool: &'a Pool,
        old: Option<&State>,
        outcomes: Vec<ProbeOutcome>,
        now: Timestamp,
        commanded: Option<&Ended>,
    ) -> Self {
        let (previous, expired) = match old.and_then(|s| s.pools.get(&pool.name)) {
            Some(p) => {
                let (kept, expired) = maintenance::expire(pool, p, now);
                (Some(kept), expired)
            }
            None => (None, Vec::new()),
        };
        let ended: Vec<Ended> = expired.iter().chain(commanded).cloned().collect();
        let decision = decide::decide_with(pool, previous.as_ref(), &outcomes, &ended);
        PoolRun {
            pool,
            outcomes,
            decision,
            guarded: None,
            expired,
            previous,
        }
    }

    /// The server chosen for this run.
    #[must_use]
    pub fn chosen(&self) -> &'a Server {
        &self.pool.servers[self.decision.chosen]
    }

    /// The server this run's failover leaves, if the decision is a failover (only those are
    /// put to the guard).
    #[must_use]
    pub fn failover_from(&self) -> Option<&'a Server> {
        let switch = self.decision.switch.as_ref().filter(|s| s.is_failover())?;
        Some(&self.pool.servers[switch.from?])
    }

    /// Take the guard's `verdict` on this run's failover: a confirmed one goes ahead (its
    /// reason says who confirmed); any other holds the pool exactly as it was before this
    /// run (but for what expired), so this run's probes do not count.
    pub fn take_verdict(&mut self, verdict: Verdict) {
        let Some(server) = self.failover_from() else {
            return;
        };
        let Some(switch) = self.decision.switch.as_mut() else {
            return;
        };
        let failure = switch.reason.clone();
        if let Verdict::Confirmed(detail) = &verdict {
            switch.reason = format!("{failure}; {detail}");
        } else {
            self.decision = decide::hold(self.pool, self.previous.as_ref());
        }
        self.guarded = Some(Guarded {
            server: server.name.clone(),
            failure,
            verdict,
        });
    }
}

/// Decide every pool of `config` at `now`; `outcomes` are `[pool][server]` in config order.
/// `commanded`: the pool and the pin or drain that the command starting this run ended.
#[must_use]
pub fn decide_pools<'a>(
    config: &'a Config,
    old: Option<&State>,
    outcomes: Vec<Vec<ProbeOutcome>>,
    now: Timestamp,
    commanded: Option<(&str, &Ended)>,
) -> Vec<PoolRun<'a>> {
    config
        .pools
        .iter()
        .zip(outcomes)
        .map(|(pool, outcomes)| {
            let ended = commanded.filter(|(p, _)| *p == pool.name).map(|(_, e)| e);
            PoolRun::decide(pool, old, outcomes, now, ended)
        })
        .collect()
}

/// The addresses the templates are rendered with: per pool (config order), the chosen
/// server's.
#[must_use]
pub fn chosen_addresses(pools: &[PoolRun<'_>]) -> Vec<(Option<Ipv4Addr>, Option<Ipv6Addr>)> {
    pools
        .iter()
        .map(|p| (p.chosen().ipv4, p.chosen().ipv6))
        .collect()
}

/// The servers found down in this run, by address (a secondary there is not waited for).
#[must_use]
pub fn down_servers(pools: &[PoolRun<'_>]) -> Vec<(IpAddr, String)> {
    pools
        .iter()
        .flat_map(|p| down_in(p.pool, &p.outcomes))
        .collect()
}

/// The addresses of the servers of `pool` whose probe failed (`outcomes` in server order),
/// each with the server's name.
pub fn down_in<'a>(
    pool: &'a Pool,
    outcomes: &'a [ProbeOutcome],
) -> impl Iterator<Item = (IpAddr, String)> + 'a {
    pool.servers
        .iter()
        .zip(outcomes)
        .filter(|(_, outcome)| !outcome.is_up())
        .flat_map(|(server, _)| {
            [server.ipv4.map(IpAddr::V4), server.ipv6.map(IpAddr::V6)]
                .into_iter()
                .flatten()
                .map(|ip| (ip, server.name.clone()))
        })
}

/// One zone through the run: its template, its plan, and what became of the plan.
#[derive(Debug, Clone)]
pub struct ZoneRun {
    /// The zone and its template.
    pub zone: Zone,
    /// What the run meant to do.
    pub plan: ZonePlan,
    /// What became of it.
    pub fate: Fate,
    /// How it was signed, if it was (this run).
    pub signed: Option<Signed>,
}

/// How a zone was signed in this run (`-v` says it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// Its keys in words: `KSK 35008, ZSK 37124 (algorithm 13)`.
    pub keys: String,
    /// How long the signer took.
    pub sign: std::time::Duration,
    /// How long the verifier took.
    pub verify: std::time::Duration,
}

/// What became of a zone's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Not applied (yet): its plan keeps it, or this is a dry run.
    Untouched,
    /// Its plan failed (the error is reported): the state keeps what it had for the zone.
    Failed,
    /// Installed (when written) and reloaded.
    Reloaded {
        /// Size and mtime of the installed file, to skip reading it next run.
        stamp: Option<FileStamp>,
        /// What `[verify]` saw, if it is configured.
        propagation: Option<Propagation>,
    },
}

impl ZoneRun {
    /// A zone with its plan, not applied yet.
    #[must_use]
    pub fn new(zone: Zone, plan: ZonePlan) -> Self {
        ZoneRun {
            zone,
            plan,
            fate: Fate::Untouched,
            signed: None,
        }
    }

    /// Still to be applied: the plan changes something and nothing has failed it.
    #[must_use]
    pub fn pending(&self) -> bool {
        self.plan.action != Action::Keep && self.fate == Fate::Untouched
    }

    /// Reloaded this run.
    #[must_use]
    pub fn reloaded(&self) -> bool {
        matches!(self.fate, Fate::Reloaded { .. })
    }

    /// What `[verify]` saw for this zone, if it was reloaded and verified.
    #[must_use]
    pub fn propagation(&self) -> Option<&Propagation> {
        match &self.fate {
            Fate::Reloaded { propagation, .. } => propagation.as_ref(),
            Fate::Untouched | Fate::Failed => None,
        }
    }
}

/// What a run did, for the commit.
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'a> {
    /// Every pool.
    pub pools: &'a [PoolRun<'a>],
    /// Every zone whose template loaded.
    pub zones: &'a [ZoneRun],
    /// Zones whose template is broken this run: their state stays as it was.
    pub broken: &'a [String],
}

/// The state a run leads to, and the history lines that say how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Next {
    /// The new state.
    pub state: State,
    /// One line per switch, guard verdict and reloaded zone, in that order per pool / zone.
    pub history: Vec<HistoryEntry>,
    /// Whether the state differs from the old one (only then is anything written).
    pub changed: bool,
}

/// A pool's state after its run `p` at `time`, with its history lines. `first`: the pool
/// had not been decided before (a pool recorded by a pin or a drain before its first run
/// has no counters yet): it is chosen since now.
fn pool_next(
    p: &PoolRun<'_>,
    first: bool,
    time: &str,
    history: &mut Vec<HistoryEntry>,
) -> PoolState {
    let mut pool_state = p.decision.state.clone();
    history.extend(p.expired.iter().map(|e| e.entry(time, &p.pool.name)));
    if first && pool_state.since.is_none() {
        pool_state.since = Some(time.to_owned());
    }
    if let Some(g) = &p.guarded {
        let record = GuardRecord {
            time: time.to_owned(),
            server: g.server.clone(),
            verdict: g.verdict.name().into(),
            detail: g.verdict.detail().into(),
        };
        history.push(HistoryEntry::Guard {
            time: record.time.clone(),
            pool: p.pool.name.clone(),
            server: record.server.clone(),
            verdict: record.verdict.clone(),
            detail: record.detail.clone(),
        });
        pool_state.guard = Some(record);
    }
    if let Some(switch) = &p.decision.switch {
        pool_state.since = Some(time.to_owned());
        if switch.is_failover() {
            pool_state.failovers += 1;
        }
        history.push(HistoryEntry::Switch {
            time: time.to_owned(),
            pool: p.pool.name.clone(),
            from: switch.from_name.clone(),
            to: p.pool.servers[switch.to].name.clone(),
            from_address: switch.from_address(p.pool),
            to_address: p.pool.servers[switch.to].address().to_string(),
            reason: switch.reason.clone(),
        });
    }
    pool_state
}

/// The state after `run`, starting from `old`, at `now`. `last_run` moves only when something
/// changed, so a run that changes nothing writes nothing.
#[must_use]
pub fn next_state(old: Option<&State>, run: &Outcome<'_>, now: Timestamp) -> Next {
    let time = rfc3339(now);
    let empty = State {
        version: STATE_VERSION,
        ..State::default()
    };
    let old = old.unwrap_or(&empty);
    let mut new = State {
        version: STATE_VERSION,
        last_run: old.last_run.clone(),
        pools: BTreeMap::new(),
        zones: BTreeMap::new(),
    };
    let mut history = Vec::new();
    for p in run.pools {
        let first = old
            .pools
            .get(&p.pool.name)
            .is_none_or(|o| o.servers.is_empty());
        let pool_state = pool_next(p, first, &time, &mut history);
        new.pools.insert(p.pool.name.clone(), pool_state);
    }
    for z in run.zones {
        let name = &z.zone.name;
        let entry = match &z.fate {
            Fate::Untouched | Fate::Failed => old.zones.get(name).cloned(),
            Fate::Reloaded { stamp, propagation } => {
                let serial = z.plan.serial.unwrap_or(0);
                history.push(HistoryEntry::Zone {
                    time: time.clone(),
                    zone: name.clone(),
                    from_serial: z.plan.old_serial,
                    to_serial: serial,
                    propagation_ms: propagation
                        .as_ref()
                        .map(|p| p.times_ms.clone())
                        .filter(|t| !t.is_empty()),
                });
                Some(ZoneState {
                    serial,
                    template: z.zone.fingerprint.clone(),
                    installed: fingerprint(z.plan.contents.as_bytes()),
                    vars: z.plan.vars.clone(),
                    stamp: *stamp,
                    lagging: propagation
                        .as_ref()
                        .map(|p| p.lagging.clone())
                        .unwrap_or_default(),
                    signature_expiry: z.plan.signatures.map(rfc3339),
                    key_tags: z.plan.signed_with.clone(),
                })
            }
        };
        if let Some(entry) = entry {
            new.zones.insert(name.clone(), entry);
        }
    }
    for name in run.broken {
        if let Some(entry) = old.zones.get(name) {
            new.zones.insert(name.clone(), entry.clone());
        }
    }
    let changed = new != *old;
    if changed {
        new.last_run = Some(time);
    }
    Next {
        state: new,
        history,
        changed,
    }
}

/// The template cache after a run: each zone's template stamp with the fingerprint of the
/// bytes it stamps, for the zones read this run once their stamp was settled and the zones
/// kept unread under a cached stamp. Broken templates and too recent stamps are left out:
/// those templates are read again next run.
#[must_use]
pub fn next_template_cache(zones: &[ZoneRun], context: &str) -> TemplateCache {
    let zones = zones
        .iter()
        .filter_map(|z| {
            let stamp = z.zone.stamp?;
            let template = z.zone.fingerprint.clone();
            Some((z.zone.name.clone(), CachedTemplate { stamp, template }))
        })
        .collect();
    TemplateCache {
        context: context.to_owned(),
        zones,
    }
}

#[cfg(test)]
#[allow(clippy::too_many_lines, reason = "whole states, spelled out")]
mod tests {
    use super::*;
    use crate::state::TemplateStamp;
    use crate::testing::{config, down, pools, up, zone_run};

    fn at(time: &str) -> Timestamp {
        time.parse().unwrap()
    }

    /// The state after a first run that found main up.
    fn settled(config: &Config) -> State {
        let pools = pools(config, None, up());
        let run = Outcome {
            pools: &pools,
            zones: &[],
            broken: &[],
        };
        next_state(None, &run, at("2026-11-29T10:00:00Z")).state
    }

    #[test]
    fn a_steady_run_changes_nothing_and_writes_nothing() {
        let config = config();
        let old = settled(&config);
        assert_eq!(old.last_run.as_deref(), Some("2026-11-29T10:00:00Z"));
        assert_eq!(old.pools["web"].chosen, "main");
        let pools = pools(&config, Some(&old), up());
        let run = Outcome {
            pools: &pools,
            zones: &[],
            broken: &[],
        };
        let next = next_state(Some(&old), &run, at("2026-11-29T10:01:00Z"));
        assert_eq!(
            next,
            Next {
                state: old.clone(),
                history: Vec::new(),
                changed: false
            }
        );
    }

    #[test]
    fn a_failover_moves_since_counts_and_is_one_history_line() {
        let config = config();
        let old = settled(&config);
        let pools = pools(&config, Some(&old), down());
        let run = Outcome {
            pools: &pools,
            zones: &[],
            broken: &[],
        };
        let next = next_state(Some(&old), &run, at("2026-11-29T10:01:00Z"));
        let web = &next.state.pools["web"];
        assert_eq!(
            (web.chosen.as_str(), web.since.as_deref(), web.failovers),
            ("backup", Some("2026-11-29T10:01:00Z"), 1)
        );
        assert_eq!(
            next.history,
            [HistoryEntry::Switch {
                time: "2026-11-29T10:01:00Z".into(),
                pool: "web".into(),
                from: "main".into(),
                to: "backup".into(),
                from_address: "192.0.2.1".into(),
                to_address: "198.51.100.7".into(),
                reason: "main failed 2/2 attempts: connect: refused".into(),
            }]
        );
        assert!(next.changed);
        assert_eq!(next.state.last_run.as_deref(), Some("2026-11-29T10:01:00Z"));
    }

    #[test]
    fn the_guard_verdict_holds_or_confirms_the_failover() {
        let config = config();
        let old = settled(&config);
        let cases = [
            (
                Verdict::Confirmed("confirmed by 1 of 1 witnesses".into()),
                "backup",
                Some("main failed 2/2 attempts: connect: refused; confirmed by 1 of 1 witnesses"),
            ),
            (
                Verdict::Vetoed("failover vetoed: witness 'w' reaches main".into()),
                "main",
                None,
            ),
            (
                Verdict::OwnLinkDown(
                    "no witness answered (1 of 1 gave no answer), so our own link seems down"
                        .into(),
                ),
                "main",
                None,
            ),
        ];
        for (verdict, chosen, reason) in cases {
            let mut pools = pools(&config, Some(&old), down());
            pools[0].take_verdict(verdict.clone());
            let p = &pools[0];
            assert_eq!(p.chosen().name, chosen, "{verdict:?}");
            assert_eq!(
                p.decision.switch.as_ref().map(|s| s.reason.as_str()),
                reason,
                "{verdict:?}"
            );
            assert_eq!(
                p.guarded,
                Some(Guarded {
                    server: "main".into(),
                    failure: "main failed 2/2 attempts: connect: refused".into(),
                    verdict: verdict.clone(),
                })
            );
            let run = Outcome {
                pools: &pools,
                zones: &[],
                broken: &[],
            };
            let next = next_state(Some(&old), &run, at("2026-11-29T10:01:00Z"));
            let guard = GuardRecord {
                time: "2026-11-29T10:01:00Z".into(),
                server: "main".into(),
                verdict: verdict.name().into(),
                detail: verdict.detail().into(),
            };
            assert_eq!(next.state.pools["web"].guard.as_ref(), Some(&guard));
            assert_eq!(
                next.history[0],
                HistoryEntry::Guard {
                    time: guard.time.clone(),
                    pool: "web".into(),
                    server: "main".into(),
                    verdict: guard.verdict.clone(),
                    detail: guard.detail.clone(),
                }
            );
            if reason.is_none() {
                // Held: the pool is exactly as it was (this run's probes do not count),
                // apart from the guard's record.
                let held = PoolState {
                    guard: None,
                    ..next.state.pools["web"].clone()
                };
                assert_eq!(held, old.pools["web"], "{verdict:?}");
                assert_eq!(next.history.len(), 1, "{verdict:?}");
            } else {
                assert!(matches!(next.history[1], HistoryEntry::Switch { .. }));
            }
        }
    }

    #[test]
    fn only_a_failover_goes_to_the_guard() {
        let config = config();
        let old = settled(&config);
        let mut steady = pools(&config, Some(&old), up());
        assert!(steady[0].failover_from().is_none());
        steady[0].take_verdict(Verdict::Vetoed("x".into()));
        assert_eq!(steady[0].guarded, None, "no failover, nothing to veto");
        let failing = pools(&config, Some(&old), down());
        assert_eq!(
            failing[0].failover_from().map(|s| s.name.as_str()),
            Some("main")
        );
    }

    #[test]
    fn each_zone_fate_decides_its_state() {
        let config = config();
        let mut old = settled(&config);
        let before = |serial| ZoneState {
            serial,
            template: "old template".into(),
            installed: "old file".into(),
            vars: [("IP".to_owned(), "192.0.2.1".to_owned())].into(),
            stamp: None,
            lagging: BTreeMap::new(),
            signature_expiry: None,
            key_tags: Vec::new(),
        };
        for (name, serial) in [
            ("example.com", 2_026_112_901),
            ("failed.example", 2_026_112_902),
            ("untouched.example", 2_026_112_903),
            ("broken.example", 2_026_112_904),
            ("removed.example", 2_026_112_905),
        ] {
            old.zones.insert(name.into(), before(serial));
        }
        let stamp = FileStamp {
            size: 61,
            mtime_ns: 1_795_000_000_000_000_001,
        };
        let propagation = Propagation {
            primary_failure: None,
            times_ms: [
                ("primary".to_owned(), Some(3)),
                ("127.0.0.1:5301".to_owned(), None),
            ]
            .into(),
            lagging: [(
                "127.0.0.1:5301".to_owned(),
                "serves serial 2026112901, not 2026112910".to_owned(),
            )]
            .into(),
            skipped: BTreeMap::new(),
            signed: false,
        };
        let mut reloaded = zone_run(
            &config,
            Action::Write,
            Some(2_026_112_901),
            2_026_112_910,
            "198.51.100.7",
        );
        reloaded.fate = Fate::Reloaded {
            stamp: Some(stamp),
            propagation: Some(propagation.clone()),
        };
        let mut failed = zone_run(
            &config,
            Action::Write,
            Some(2_026_112_902),
            2_026_112_911,
            "198.51.100.7",
        );
        failed.zone.name = "failed.example".into();
        failed.fate = Fate::Failed;
        let mut untouched = zone_run(
            &config,
            Action::Keep,
            Some(2_026_112_903),
            2_026_112_903,
            "192.0.2.1",
        );
        untouched.zone.name = "untouched.example".into();
        let mut fresh = zone_run(&config, Action::Write, None, 2_026_112_900, "198.51.100.7");
        fresh.zone.name = "new.example".into();
        fresh.fate = Fate::Reloaded {
            stamp: None,
            propagation: None,
        };
        let zones = [reloaded.clone(), failed, untouched, fresh.clone()];
        let pools = pools(&config, Some(&old), up());
        let run = Outcome {
            pools: &pools,
            zones: &zones,
            broken: &["broken.example".to_owned()],
        };
        let next = next_state(Some(&old), &run, at("2026-11-29T10:01:00Z"));
        let names: Vec<&str> = next.state.zones.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "broken.example",
                "example.com",
                "failed.example",
                "new.example",
                "untouched.example"
            ],
            "a zone without a template is dropped"
        );
        for kept in ["broken.example", "failed.example", "untouched.example"] {
            assert_eq!(next.state.zones[kept], old.zones[kept], "{kept}");
        }
        assert_eq!(
            next.state.zones["example.com"],
            ZoneState {
                serial: 2_026_112_910,
                template: reloaded.zone.fingerprint.clone(),
                installed: fingerprint(reloaded.plan.contents.as_bytes()),
                vars: [("IP".to_owned(), "198.51.100.7".to_owned())].into(),
                stamp: Some(stamp),
                lagging: propagation.lagging.clone(),
                signature_expiry: None,
                key_tags: Vec::new(),
            }
        );
        assert_eq!(next.state.zones["new.example"].stamp, None);
        assert_eq!(
            next.history,
            [
                HistoryEntry::Zone {
                    time: "2026-11-29T10:01:00Z".into(),
                    zone: "example.com".into(),
                    from_serial: Some(2_026_112_901),
                    to_serial: 2_026_112_910,
                    propagation_ms: Some(propagation.times_ms.clone()),
                },
                HistoryEntry::Zone {
                    time: "2026-11-29T10:01:00Z".into(),
                    zone: "new.example".into(),
                    from_serial: None,
                    to_serial: 2_026_112_900,
                    propagation_ms: None,
                },
            ]
        );
    }

    /// The next template cache holds each zone's stamp with its template's fingerprint: a
    /// zone read this run (written, kept or failed alike) and one kept unread. A stamp too
    /// recent (none) leaves the zone out, as a broken template (not among the zones) is.
    #[test]
    fn the_template_cache_holds_every_stamp_with_the_bytes_it_stamps() {
        let config = config();
        let fresh = zone_run(&config, Action::Keep, Some(1), 1, "192.0.2.1");
        let stamp = |ino| TemplateStamp {
            size: 100,
            mtime_ns: 1_795_000_000_000_000_000,
            ctime_ns: 1_795_000_000_000_000_001,
            ino,
        };
        let run = |name: &str, ino: Option<u64>, fate| {
            let mut z = fresh.clone();
            z.zone.name = name.into();
            z.zone.stamp = ino.map(stamp);
            z.fate = fate;
            z
        };
        let reloaded = Fate::Reloaded {
            stamp: None,
            propagation: None,
        };
        let zones = [
            run("failed.example", Some(1), Fate::Failed),
            run("kept.example", Some(2), Fate::Untouched),
            run("recent.example", None, Fate::Untouched),
            run("written.example", Some(3), reloaded),
        ];
        let cache = next_template_cache(&zones, "checked against this config");
        assert_eq!(cache.context, "checked against this config");
        let entries: Vec<(&str, u64, &str)> = cache
            .zones
            .iter()
            .map(|(name, c)| (name.as_str(), c.stamp.ino, c.template.as_str()))
            .collect();
        let f = fresh.zone.fingerprint.as_str();
        assert_eq!(
            entries,
            [
                ("failed.example", 1, f),
                ("kept.example", 2, f),
                ("written.example", 3, f)
            ]
        );
    }

    #[test]
    fn pending_until_applied_or_failed() {
        let config = config();
        let mut z = zone_run(&config, Action::Write, Some(1), 2, "192.0.2.1");
        assert!(z.pending() && !z.reloaded() && z.propagation().is_none());
        z.fate = Fate::Failed;
        assert!(!z.pending() && !z.reloaded());
        let keep = zone_run(&config, Action::Keep, Some(1), 1, "192.0.2.1");
        assert!(!keep.pending());
    }

    #[test]
    fn addresses_and_down_servers_come_from_the_pool_records() {
        let config = config();
        let pools = pools(&config, None, down());
        assert_eq!(
            chosen_addresses(&pools),
            [(Some(Ipv4Addr::new(198, 51, 100, 7)), None)]
        );
        assert_eq!(
            down_servers(&pools),
            [(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), "main".to_owned())]
        );
    }

    #[test]
    fn a_failback_is_a_switch_but_not_a_failover() {
        let config = config();
        let old = settled(&config);
        let failed = pools(&config, Some(&old), down());
        let run = Outcome {
            pools: &failed,
            zones: &[],
            broken: &[],
        };
        let on_backup = next_state(Some(&old), &run, at("2026-11-29T10:01:00Z")).state;
        let back = pools(&config, Some(&on_backup), up());
        assert!(back[0].failover_from().is_none(), "the guard is not asked");
        let run = Outcome {
            pools: &back,
            zones: &[],
            broken: &[],
        };
        let next = next_state(Some(&on_backup), &run, at("2026-11-29T10:02:00Z"));
        let web = &next.state.pools["web"];
        assert_eq!(
            (web.chosen.as_str(), web.since.as_deref(), web.failovers),
            ("main", Some("2026-11-29T10:02:00Z"), 1),
            "a failback is not counted as a failover"
        );
        assert_eq!(
            next.history,
            [HistoryEntry::Switch {
                time: "2026-11-29T10:02:00Z".into(),
                pool: "web".into(),
                from: "backup".into(),
                to: "main".into(),
                from_address: "198.51.100.7".into(),
                to_address: "192.0.2.1".into(),
                reason: "main healthy again (1 good run, rise 1)".into(),
            }]
        );
    }

    #[test]
    fn a_first_decision_is_stamped_since_now() {
        let config = config();
        let old = settled(&config);
        assert_eq!(
            old.pools["web"].since.as_deref(),
            Some("2026-11-29T10:00:00Z"),
            "chosen since the first run"
        );
        // A state from before the first decision was stamped keeps its since unknown
        // until a switch: nothing is written for it.
        let mut unstamped = old.clone();
        unstamped.pools.get_mut("web").unwrap().since = None;
        let pools = pools(&config, Some(&unstamped), up());
        let run = Outcome {
            pools: &pools,
            zones: &[],
            broken: &[],
        };
        let next = next_state(Some(&unstamped), &run, at("2026-11-29T10:01:00Z"));
        assert!(!next.changed);
        assert_eq!(next.state.pools["web"].since, None);
    }

    /// A pool recorded by `zonerw pin` before its first run (no counters yet): the run is
    /// its first decision.
    #[test]
    fn a_pool_pinned_before_its_first_run() {
        let config = config();
        let mut old = State {
            version: STATE_VERSION,
            ..State::default()
        };
        old.pools.insert(
            "web".into(),
            PoolState {
                chosen: "main".into(),
                pinned: Some(crate::state::Pin {
                    server: "backup".into(),
                    since: "2026-11-29T09:59:00Z".into(),
                    until: None,
                    reason: None,
                }),
                ..PoolState::default()
            },
        );
        let pools = pools(&config, Some(&old), up());
        let run = Outcome {
            pools: &pools,
            zones: &[],
            broken: &[],
        };
        let next = next_state(Some(&old), &run, at("2026-11-29T10:00:00Z"));
        let web = &next.state.pools["web"];
        assert_eq!(
            (web.chosen.as_str(), web.since.as_deref(), web.failovers),
            ("backup", Some("2026-11-29T10:00:00Z"), 0),
            "a planned switch is not a failover"
        );
        assert!(web.pinned.is_some());
        assert!(matches!(
            &next.history[..],
            [HistoryEntry::Switch { reason, .. }] if reason == "pinned to backup"
        ));
    }

    #[test]
    fn an_expired_pin_is_dropped_with_its_history_line_and_the_probes_decide_again() {
        let config = config();
        let mut old = settled(&config);
        let web = old.pools.get_mut("web").unwrap();
        web.chosen = "backup".into();
        web.pinned = Some(crate::state::Pin {
            server: "backup".into(),
            since: "2026-11-29T09:00:00Z".into(),
            until: Some("2026-11-29T10:00:00Z".into()),
            reason: Some("main is patched".into()),
        });
        let pools = pools(&config, Some(&old), up());
        assert_eq!(pools[0].expired.len(), 1);
        assert!(pools[0].failover_from().is_none());
        let run = Outcome {
            pools: &pools,
            zones: &[],
            broken: &[],
        };
        let next = next_state(Some(&old), &run, at("2026-11-29T10:00:00Z"));
        let web = &next.state.pools["web"];
        assert_eq!((web.chosen.as_str(), &web.pinned), ("main", &None));
        assert_eq!(
            next.history,
            [
                HistoryEntry::Unpin {
                    time: "2026-11-29T10:00:00Z".into(),
                    pool: "web".into(),
                    server: "backup".into(),
                    cause: crate::state::EndCause::Expired,
                },
                HistoryEntry::Switch {
                    time: "2026-11-29T10:00:00Z".into(),
                    pool: "web".into(),
                    from: "backup".into(),
                    to: "main".into(),
                    from_address: "198.51.100.7".into(),
                    to_address: "192.0.2.1".into(),
                    reason: "pin to backup expired".into(),
                },
            ]
        );
        // Before its deadline nothing moves and nothing is written.
        let early: Timestamp = "2026-11-29T09:59:59Z".parse().unwrap();
        let pools = decide_pools(
            &config,
            Some(&old),
            vec![vec![up(), ProbeOutcome::Unchecked]],
            early,
            None,
        );
        let run = Outcome {
            pools: &pools,
            zones: &[],
            broken: &[],
        };
        let next = next_state(Some(&old), &run, early);
        assert!(!next.changed && next.history.is_empty());
    }

    #[test]
    fn a_vetoed_failover_holds_the_pool_without_what_expired() {
        let config = config();
        let mut old = settled(&config);
        old.pools.get_mut("web").unwrap().drained.insert(
            "backup".into(),
            crate::state::Drain {
                since: "2026-11-29T09:00:00Z".into(),
                until: Some("2026-11-29T09:30:00Z".into()),
                reason: None,
            },
        );
        let mut pools = pools(&config, Some(&old), down());
        assert!(pools[0].failover_from().is_some());
        pools[0].take_verdict(Verdict::Vetoed("a witness reaches main".into()));
        let run = Outcome {
            pools: &pools,
            zones: &[],
            broken: &[],
        };
        let next = next_state(Some(&old), &run, at("2026-11-29T10:01:00Z"));
        let web = &next.state.pools["web"];
        assert_eq!(web.chosen, "main");
        assert!(web.drained.is_empty(), "the expired drain stays dropped");
        assert!(matches!(
            &next.history[..],
            [HistoryEntry::Undrain { .. }, HistoryEntry::Guard { .. }]
        ));
    }

    #[test]
    fn what_a_command_ended_is_the_reason_of_its_switch() {
        let config = config();
        let mut old = settled(&config);
        old.pools.get_mut("web").unwrap().chosen = "backup".into();
        let ended = Ended {
            kind: maintenance::Kind::Pin,
            server: "backup".into(),
            cause: crate::state::EndCause::Command,
        };
        let outcomes = || vec![vec![up(), ProbeOutcome::Unchecked]];
        let now = crate::testing::now();
        let other = decide_pools(&config, Some(&old), outcomes(), now, Some(("mail", &ended)));
        let ours = decide_pools(&config, Some(&old), outcomes(), now, Some(("web", &ended)));
        let reason = |p: &[PoolRun<'_>]| p[0].decision.switch.as_ref().unwrap().reason.clone();
        assert_eq!(reason(&other), "main healthy again (1 good run, rise 1)");
        assert_eq!(reason(&ours), "unpinned from backup");
        assert!(
            ours[0].expired.is_empty(),
            "the command wrote its own entry"
        );
    }
}
