//! The failover decision of one pool: apply fall/rise to the probe outcomes, pick a server,
//! honouring the operator's pin and drains.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::{Config, Pool};
use crate::state::{Ended, Kind, PoolState, ServerState, State, drained_words, pin_words};

/// The result of probing one server in this run. A dead server is data, not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// The check passed.
    Up {
        /// HTTP status.
        status: u16,
        /// Time of the successful attempt.
        latency: Duration,
    },
    /// Every attempt failed; `reason` says how (e.g. "failed 2/2 attempts: connect: refused").
    Down {
        /// Why.
        reason: String,
    },
    /// The server has no check URL: always healthy.
    Unchecked,
}

impl ProbeOutcome {
    /// Whether this run's probe counts as good.
    #[must_use]
    pub fn is_up(&self) -> bool {
        !matches!(self, ProbeOutcome::Down { .. })
    }

    /// The result without its latency, as remembered in state.json (so that a steady
    /// state is not rewritten on every run just because the latency moved).
    #[must_use]
    pub fn summary(&self) -> String {
        match self {
            ProbeOutcome::Up { status, .. } => format!("up, HTTP {status}"),
            _ => self.describe(),
        }
    }

    /// One-line description, e.g. "up, HTTP 200 in 3 ms".
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            ProbeOutcome::Up { status, latency } => {
                format!("up, HTTP {status} in {} ms", latency.as_millis())
            }
            ProbeOutcome::Down { reason } => format!("down, {reason}"),
            ProbeOutcome::Unchecked => "no check, counted healthy".into(),
        }
    }
}

/// A pool leaving one server for another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switch {
    /// Index of the server left (None if the previous choice is no longer configured).
    pub from: Option<usize>,
    /// Name of the server left.
    pub from_name: String,
    /// Index of the server chosen.
    pub to: usize,
    /// Why, in words.
    pub reason: String,
    /// Caused by the operator (a pin, or a drain of the server left), not by a probe.
    pub planned: bool,
}

impl Switch {
    /// True when the pool leaves a server for a lower-priority one because it failed its
    /// check (not a failback, not a reconfiguration, not a pin or a drain). Only these
    /// consult the guard and count as failovers.
    #[must_use]
    pub fn is_failover(&self) -> bool {
        !self.planned && self.from.is_some_and(|from| self.to > from)
    }

    /// The address of the server left, or "" when it is no longer configured.
    #[must_use]
    pub fn from_address(&self, pool: &Pool) -> String {
        self.from
            .map(|f| pool.servers[f].address().to_string())
            .unwrap_or_default()
    }
}

/// What `decide` concluded for one pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Index of the chosen server.
    pub chosen: usize,
    /// Set when the choice changed.
    pub switch: Option<Switch>,
    /// The pool's new state (counters updated, `since` kept; the caller stamps it on a switch).
    pub state: PoolState,
}

/// Apply one run's probe `outcomes` (one per server, in config order) to the pool's state.
///
/// Servers become unhealthy after `fall` consecutive bad runs and healthy again after `rise`
/// consecutive good ones. The first healthy server in priority order is chosen; if none is
/// healthy the current choice is kept. Before the first run the current choice is the first
/// server. For pins and drains (taken from `previous`) see [`decide_with`].
#[must_use]
pub fn decide(pool: &Pool, previous: Option<&PoolState>, outcomes: &[ProbeOutcome]) -> Decision {
    decide_with(pool, previous, outcomes, &[])
}

/// [`decide`], with the operator's maintenance in `previous` (its pin and drains, already
/// rid of what expired) and `ended`, the pins and drains that ended in this run (for the
/// switch's reason). Every server's counters are updated whatever the maintenance.
///
/// - A pinned pool chooses its pinned server, whatever the probes say.
/// - Otherwise a drained server is chosen only when no server that is not drained is
///   healthy: the first healthy server that is not drained wins, else the first healthy
///   drained one (a drain never sends the names to a server known dead).
/// - When no server is healthy the pool keeps its current choice, as without drains, even
///   a drained one: leaving it for a server known dead would help nobody, and would be a
///   failover that no guard was asked about (our own link may be what is down). A choice
///   no longer configured goes to the first server that is not drained.
#[must_use]
pub fn decide_with(
    pool: &Pool,
    previous: Option<&PoolState>,
    outcomes: &[ProbeOutcome],
    ended: &[Ended],
) -> Decision {
    let mut servers = BTreeMap::new();
    let mut healthy = Vec::with_capacity(pool.servers.len());
    for (server, outcome) in pool.servers.iter().zip(outcomes) {
        let old = previous
            .and_then(|p| p.servers.get(&server.name))
            .cloned()
            .unwrap_or_default();
        let new = update_server(&old, outcome, pool.fall, pool.rise);
        healthy.push(new.healthy);
        servers.insert(server.name.clone(), new);
    }
    let maintenance = Maintenance::of(pool, previous);
    let current_name = previous.map(|p| p.chosen.as_str());
    let current = match current_name {
        None => Some(0),
        Some(name) => pool.servers.iter().position(|s| s.name == name),
    };
    let chosen = choose(&healthy, &maintenance, current);
    let switch = (current != Some(chosen)).then(|| {
        let facts = Facts {
            pool,
            previous,
            servers: &servers,
            outcomes,
            maintenance: &maintenance,
            ended,
        };
        let (reason, planned) = facts.switch_reason(current, current_name, chosen);
        Switch {
            from: current,
            from_name: current
                .map_or(current_name.unwrap_or_default(), |i| &pool.servers[i].name)
                .to_owned(),
            to: chosen,
            reason,
            planned,
        }
    });
    Decision {
        chosen,
        switch,
        state: PoolState {
            chosen: pool.servers[chosen].name.clone(),
            since: previous.and_then(|p| p.since.clone()),
            servers,
            guard: previous.and_then(|p| p.guard.clone()),
            failovers: previous.map_or(0, |p| p.failovers),
            pinned: previous.and_then(|p| p.pinned.clone()),
            drained: previous.map(|p| p.drained.clone()).unwrap_or_default(),
        },
    }
}

/// A pool's pin and drains, by server index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maintenance {
    /// The pinned server, if it is configured.
    pub pinned: Option<usize>,
    /// Per server in config order: drained.
    pub drained: Vec<bool>,
}

impl Maintenance {
    /// The pin and drains of `state`, for the servers of `pool`.
    #[must_use]
    pub fn of(pool: &Pool, state: Option<&PoolState>) -> Self {
        let pinned = state
            .and_then(|p| p.pinned.as_ref())
            .and_then(|pin| pool.servers.iter().position(|s| s.name == pin.server));
        let drained = pool
            .servers
            .iter()
            .map(|s| state.is_some_and(|p| p.drained.contains_key(&s.name)))
            .collect();
        Maintenance { pinned, drained }
    }
}

/// The choice, from each server's health after fall/rise, the maintenance and the current
/// choice (None: no longer configured). See [`decide_with`] for the rules.
#[must_use]
pub fn choose(healthy: &[bool], maintenance: &Maintenance, current: Option<usize>) -> usize {
    if let Some(pinned) = maintenance.pinned {
        return pinned;
    }
    let servers = 0..healthy.len();
    let eligible = |i: &usize| !maintenance.drained[*i];
    servers
        .clone()
        .find(|&i| healthy[i] && eligible(&i))
        .or_else(|| servers.clone().find(|&i| healthy[i]))
        .or(current)
        .or_else(|| servers.clone().find(eligible))
        .unwrap_or(0)
}

/// The server of each pool a run would start from: the current choice in `state`, else
/// the first server (also when the state names one no longer configured).
#[must_use]
pub fn current_choices(config: &Config, state: Option<&State>) -> Vec<usize> {
    config
        .pools
        .iter()
        .map(|pool| {
            state
                .and_then(|s| s.pools.get(&pool.name))
                .and_then(|p| pool.servers.iter().position(|s| s.name == p.chosen))
                .unwrap_or(0)
        })
        .collect()
}

/// Keep the pool exactly as it was before this run: the guard found that our own link is
/// down, or a witness vetoed the failover, so this run's probes must not count.
#[must_use]
pub fn hold(pool: &Pool, previous: Option<&PoolState>) -> Decision {
    let state = previous.cloned().unwrap_or_else(|| PoolState {
        chosen: pool.servers[0].name.clone(),
        ..PoolState::default()
    });
    let chosen = pool
        .servers
        .iter()
        .position(|s| s.name == state.chosen)
        .unwrap_or(0);
    Decision {
        chosen,
        switch: None,
        state,
    }
}

/// Count this run's outcome into a server's consecutive good/bad runs. The counts stop at
/// `rise` and `fall`: beyond them they change nothing, and a steady state must not cause a
/// state write on every run.
fn update_server(old: &ServerState, outcome: &ProbeOutcome, fall: u32, rise: u32) -> ServerState {
    let last = Some(outcome.summary());
    match outcome {
        ProbeOutcome::Unchecked => ServerState {
            healthy: true,
            good: 0,
            bad: 0,
            last,
        },
        ProbeOutcome::Up { .. } => {
            let good = old.good.saturating_add(1).min(rise);
            ServerState {
                healthy: old.healthy || good >= rise,
                good,
                bad: 0,
                last,
            }
        }
        ProbeOutcome::Down { .. } => {
            let bad = old.bad.saturating_add(1).min(fall);
            ServerState {
                healthy: old.healthy && bad < fall,
                good: 0,
                bad,
                last,
            }
        }
    }
}

/// What a switch's reason is made of.
struct Facts<'a> {
    pool: &'a Pool,
    previous: Option<&'a PoolState>,
    servers: &'a BTreeMap<String, ServerState>,
    outcomes: &'a [ProbeOutcome],
    maintenance: &'a Maintenance,
    ended: &'a [Ended],
}

impl Facts<'_> {
    /// Why the pool leaves `current` for `chosen`, and whether the operator caused it (a
    /// pin, or a drain of the server left: not a failover).
    fn switch_reason(
        &self,
        current: Option<usize>,
        current_name: Option<&str>,
        chosen: usize,
    ) -> (String, bool) {
        let pool = self.pool;
        let Some(from) = current else {
            return (
                format!(
                    "{} is no longer configured",
                    current_name.unwrap_or_default()
                ),
                false,
            );
        };
        let (from_name, to) = (&pool.servers[from].name, &pool.servers[chosen].name);
        let ended = |kind| self.ended.iter().find(|e| e.kind == kind);
        if self.maintenance.pinned == Some(chosen) {
            return (self.pin_reason(to), true);
        }
        if self.maintenance.drained[from] {
            return (self.drain_reason(from_name), true);
        }
        // A pin or a drain that ended in this run: the probes decide again.
        let ended = ended(Kind::Pin)
            .or_else(|| ended(Kind::Drain).filter(|e| e.server == *to))
            .map(Ended::words);
        if self.maintenance.drained[chosen] {
            let failure = self.failure(from);
            return (
                format!("{failure}; {to} is drained, but no other server is healthy"),
                false,
            );
        }
        match ended {
            Some(ended) if chosen < from => (ended, false),
            Some(ended) => (format!("{ended}; {}", self.failure(from)), false),
            None if chosen < from => {
                let good = self.servers[to].good;
                let runs = if good == 1 { "run" } else { "runs" };
                (
                    format!(
                        "{to} healthy again ({good} good {runs}, rise {})",
                        pool.rise
                    ),
                    false,
                )
            }
            None => (self.failure(from), false),
        }
    }

    /// Why server `from` is left: how its probes failed.
    fn failure(&self, from: usize) -> String {
        let name = &self.pool.servers[from].name;
        let bad = self.servers[name].bad;
        match (&self.outcomes[from], self.pool.fall) {
            (ProbeOutcome::Down { reason }, 1) => format!("{name} {reason}"),
            (ProbeOutcome::Down { reason }, fall) => {
                format!("{name} down for {bad} runs (fall {fall}): {reason}")
            }
            (_, _) => format!("{name} has not recovered yet"),
        }
    }

    /// `pinned to backup until …: why`.
    fn pin_reason(&self, to: &str) -> String {
        let pin = self.previous.and_then(|p| p.pinned.as_ref());
        pin_words(
            to,
            pin.and_then(|p| p.until.as_deref()),
            pin.and_then(|p| p.reason.as_deref()),
        )
    }

    /// `main drained: why`.
    fn drain_reason(&self, from: &str) -> String {
        let drain = self.previous.and_then(|p| p.drained.get(from));
        drained_words(from, drain.and_then(|d| d.reason.as_deref()))
    }
}

#[cfg(test)]
#[allow(
    clippy::type_complexity,
    clippy::too_many_lines,
    clippy::unnecessary_wraps,
    reason = "test tables"
)]
mod tests {
    use super::*;

    #[test]
    fn the_current_choice_comes_from_the_state_else_the_first_server() {
        let config = crate::testing::config();
        assert_eq!(current_choices(&config, None), [0]);
        let mut state = State::default();
        state.pools.insert(
            "web".into(),
            crate::state::PoolState {
                chosen: "backup".into(),
                ..Default::default()
            },
        );
        assert_eq!(current_choices(&config, Some(&state)), [1]);
        state.pools.get_mut("web").unwrap().chosen = "gone".into();
        assert_eq!(current_choices(&config, Some(&state)), [0]);
    }
    use crate::config::{CheckSettings, CheckUrl, Server, StatusRange};

    fn pool(fall: u32, rise: u32) -> Pool {
        let server = |name: &str, ip: &str, checked: bool| Server {
            name: name.into(),
            ipv4: Some(ip.parse().unwrap()),
            ipv6: None,
            check: checked
                .then(|| CheckUrl::try_from("http://www.example.com/".to_owned()).unwrap()),
        };
        Pool {
            name: "web".into(),
            marker: "IP".into(),
            fall,
            rise,
            servers: vec![
                server("main", "192.0.2.1", true),
                server("second", "192.0.2.2", true),
                server("backup", "198.51.100.7", false),
            ],
            check: CheckSettings {
                timeout: Duration::from_secs(5),
                attempts: 2,
                expect_status: StatusRange::DEFAULT,
                expect_body: String::new(),
                tls_verify: true,
            },
        }
    }

    fn up() -> ProbeOutcome {
        ProbeOutcome::Up {
            status: 200,
            latency: Duration::from_millis(3),
        }
    }
    fn down() -> ProbeOutcome {
        ProbeOutcome::Down {
            reason: "failed 2/2 attempts: connect: refused".into(),
        }
    }

    /// Run `decide` over a sequence of runs (main, second; backup is unchecked) and return
    /// the chosen server's name after each run.
    fn chosen_after(fall: u32, rise: u32, runs: &[(bool, bool)]) -> Vec<String> {
        let pool = pool(fall, rise);
        let mut state: Option<PoolState> = None;
        let mut chosen = Vec::new();
        for &(main, second) in runs {
            let o = |b: bool| if b { up() } else { down() };
            let d = decide(
                &pool,
                state.as_ref(),
                &[o(main), o(second), ProbeOutcome::Unchecked],
            );
            chosen.push(d.state.chosen.clone());
            state = Some(d.state);
        }
        chosen
    }

    #[test]
    fn transitions_table() {
        let (t, f) = (true, false);
        let cases: &[(u32, u32, &[(bool, bool)], &[&str])] = &[
            // first run, everything up: the first server
            (1, 1, &[(t, t)], &["main"]),
            // first run, main down: leave at once with fall 1
            (1, 1, &[(f, t)], &["second"]),
            (1, 1, &[(f, f)], &["backup"]),
            // fall 2: one bad run is not enough, two are
            (2, 1, &[(f, t), (f, t)], &["main", "second"]),
            // a good run in between resets the bad count
            (2, 1, &[(f, t), (t, t), (f, t)], &["main", "main", "main"]),
            // rise 1: back at the first good run
            (1, 1, &[(f, t), (t, t)], &["second", "main"]),
            // rise 3: back after three consecutive good runs only
            (
                1,
                3,
                &[(f, f), (t, t), (t, t), (f, t), (t, t), (t, t), (t, t)],
                &[
                    "backup", "backup", "backup", "second", "second", "second", "main",
                ],
            ),
            // flapping with fall 2 never leaves
            (2, 1, &[(f, t), (t, t), (f, t), (t, t)], &["main"; 4]),
            // second recovers before main: it is better than backup
            (
                1,
                1,
                &[(f, f), (f, t), (t, t)],
                &["backup", "second", "main"],
            ),
        ];
        for (fall, rise, runs, want) in cases {
            let got = chosen_after(*fall, *rise, runs);
            assert_eq!(got, *want, "fall {fall} rise {rise} runs {runs:?}");
        }
    }

    #[test]
    fn nothing_healthy_keeps_the_current_choice() {
        let mut p = pool(1, 1);
        p.servers[2].check = p.servers[0].check.clone();
        let d1 = decide(&p, None, &[up(), down(), down()]);
        assert_eq!(d1.state.chosen, "main");
        let d2 = decide(&p, Some(&d1.state), &[down(), down(), down()]);
        assert_eq!(d2.state.chosen, "main");
        assert!(d2.switch.is_none());
        assert!(!d2.state.servers["main"].healthy);
        // the first server to come back wins, even if it is not the current one
        let d3 = decide(&p, Some(&d2.state), &[down(), up(), down()]);
        assert_eq!(d3.state.chosen, "second");
        assert_eq!(
            d3.switch.unwrap().reason,
            "main failed 2/2 attempts: connect: refused"
        );
    }

    #[test]
    fn reasons() {
        let p = pool(1, 1);
        let d = decide(&p, None, &[down(), up(), ProbeOutcome::Unchecked]);
        let s = d.switch.unwrap();
        assert_eq!((s.from, s.to), (Some(0), 1));
        assert_eq!(s.reason, "main failed 2/2 attempts: connect: refused");
        let back = decide(&p, Some(&d.state), &[up(), up(), ProbeOutcome::Unchecked]);
        assert_eq!(
            back.switch.unwrap().reason,
            "main healthy again (1 good run, rise 1)"
        );

        let p2 = pool(2, 1);
        let d1 = decide(&p2, None, &[down(), up(), ProbeOutcome::Unchecked]);
        assert!(d1.switch.is_none());
        let d2 = decide(
            &p2,
            Some(&d1.state),
            &[down(), up(), ProbeOutcome::Unchecked],
        );
        assert_eq!(
            d2.switch.unwrap().reason,
            "main down for 2 runs (fall 2): failed 2/2 attempts: connect: refused"
        );
    }

    #[test]
    fn a_removed_server_is_replaced() {
        let p = pool(1, 1);
        let old = PoolState {
            chosen: "gone".into(),
            ..PoolState::default()
        };
        let d = decide(&p, Some(&old), &[up(), up(), ProbeOutcome::Unchecked]);
        let s = d.switch.unwrap();
        assert_eq!(
            (s.from, s.to, s.reason.as_str()),
            (None, 0, "gone is no longer configured")
        );
    }

    #[test]
    fn every_server_state_times_every_probe_outcome() {
        type Row = ((bool, u32, u32), [(bool, u32, u32); 3]);
        // fall 2, rise 2. (healthy, good, bad) before -> after, for up / down / unchecked.
        let st = |healthy, good, bad| ServerState {
            healthy,
            good,
            bad,
            last: None,
        };
        let table: &[Row] = &[
            // fresh or steadily up
            ((true, 0, 0), [(true, 1, 0), (true, 0, 1), (true, 0, 0)]),
            ((true, 2, 0), [(true, 2, 0), (true, 0, 1), (true, 0, 0)]),
            // one bad run short of falling
            ((true, 0, 1), [(true, 1, 0), (false, 0, 2), (true, 0, 0)]),
            // fallen
            ((false, 0, 2), [(false, 1, 0), (false, 0, 2), (true, 0, 0)]),
            // one good run short of rising
            ((false, 1, 0), [(true, 2, 0), (false, 0, 1), (true, 0, 0)]),
        ];
        for &((h, g, b), want) in table {
            let outcomes = [up(), down(), ProbeOutcome::Unchecked];
            for (outcome, (wh, wg, wb)) in outcomes.iter().zip(want) {
                let got = update_server(&st(h, g, b), outcome, 2, 2);
                assert_eq!(
                    (got.healthy, got.good, got.bad),
                    (wh, wg, wb),
                    "from {:?} on {outcome:?}",
                    (h, g, b)
                );
            }
        }
    }

    #[test]
    fn counters() {
        let s = update_server(&ServerState::default(), &down(), 3, 1);
        assert_eq!((s.healthy, s.good, s.bad), (true, 0, 1));
        let s = update_server(&s, &down(), 3, 1);
        let s = update_server(&s, &down(), 3, 1);
        assert_eq!((s.healthy, s.bad), (false, 3));
        let s = update_server(&s, &up(), 3, 2);
        assert_eq!((s.healthy, s.good, s.bad), (false, 1, 0));
        let s = update_server(&s, &up(), 3, 2);
        assert!(s.healthy);
        let s = update_server(&s, &ProbeOutcome::Unchecked, 3, 2);
        assert_eq!((s.healthy, s.good, s.bad), (true, 0, 0));
    }

    #[test]
    fn outcomes_in_words() {
        let cases = [
            (up(), "up, HTTP 200 in 3 ms", "up, HTTP 200"),
            (
                down(),
                "down, failed 2/2 attempts: connect: refused",
                "down, failed 2/2 attempts: connect: refused",
            ),
            (
                ProbeOutcome::Unchecked,
                "no check, counted healthy",
                "no check, counted healthy",
            ),
        ];
        for (outcome, describe, summary) in cases {
            assert_eq!(outcome.describe(), describe);
            assert_eq!(outcome.summary(), summary);
        }
        assert!(up().is_up() && ProbeOutcome::Unchecked.is_up() && !down().is_up());
    }

    #[test]
    fn only_leaving_for_a_lower_priority_server_is_a_failover() {
        let p = pool(1, 1);
        let switch = |from, to| Switch {
            from,
            from_name: String::new(),
            to,
            reason: String::new(),
            planned: false,
        };
        let cases = [
            (Some(0), 1, true, "192.0.2.1"),
            (Some(1), 2, true, "192.0.2.2"),
            (Some(0), 2, true, "192.0.2.1"),
            (Some(2), 0, false, "198.51.100.7"),
            (Some(1), 0, false, "192.0.2.2"),
            (None, 1, false, ""),
        ];
        for (from, to, failover, address) in cases {
            let s = switch(from, to);
            assert_eq!(s.is_failover(), failover, "{from:?} -> {to}");
            assert_eq!(s.from_address(&p), address, "{from:?} -> {to}");
        }
    }

    #[test]
    fn fall_3_rise_2_leave_and_return_with_their_reasons() {
        let p = pool(3, 2);
        let runs = [
            (down(), None),
            (down(), None),
            (
                down(),
                Some("main down for 3 runs (fall 3): failed 2/2 attempts: connect: refused"),
            ),
            (down(), None),
            (up(), None),
            (down(), None),
            (up(), None),
            (up(), Some("main healthy again (2 good runs, rise 2)")),
        ];
        let mut state: Option<PoolState> = None;
        let mut chosen = Vec::new();
        for (i, (main, reason)) in runs.into_iter().enumerate() {
            let d = decide(&p, state.as_ref(), &[main, up(), ProbeOutcome::Unchecked]);
            assert_eq!(
                d.switch.as_ref().map(|s| s.reason.as_str()),
                reason,
                "run {}",
                i + 1
            );
            chosen.push(d.state.chosen.clone());
            state = Some(d.state);
        }
        assert_eq!(
            chosen,
            [
                "main", "main", "second", "second", "second", "second", "second", "main"
            ]
        );
    }

    #[test]
    fn leaving_a_server_that_is_up_but_not_recovered_says_so() {
        // main is kept although unhealthy (nothing is healthy); then second has risen
        // (rise 2) while main answered only once: second is chosen.
        let mut p = pool(1, 2);
        p.servers[2].check = p.servers[0].check.clone();
        let d1 = decide(&p, None, &[down(), down(), down()]);
        assert_eq!(d1.state.chosen, "main");
        assert!(!d1.state.servers["main"].healthy);
        let d2 = decide(&p, Some(&d1.state), &[down(), up(), down()]);
        assert!(d2.switch.is_none());
        let d3 = decide(&p, Some(&d2.state), &[up(), up(), down()]);
        assert!(!d3.state.servers["main"].healthy);
        let s = d3.switch.unwrap();
        assert_eq!((s.from, s.to), (Some(0), 1));
        assert_eq!(s.reason, "main has not recovered yet");
        assert!(s.is_failover());
    }

    #[test]
    fn a_removed_server_with_nothing_healthy_falls_back_to_the_first() {
        let mut p = pool(1, 1);
        p.servers[2].check = p.servers[0].check.clone();
        let old = PoolState {
            chosen: "gone".into(),
            since: Some("2026-11-23T18:00:00Z".into()),
            servers: [
                ("gone".to_owned(), ServerState::default()),
                (
                    "main".to_owned(),
                    ServerState {
                        healthy: false,
                        good: 0,
                        bad: 1,
                        last: None,
                    },
                ),
            ]
            .into(),
            failovers: 3,
            ..PoolState::default()
        };
        let d = decide(&p, Some(&old), &[down(), down(), down()]);
        assert_eq!(d.chosen, 0);
        let s = d.switch.unwrap();
        assert_eq!(
            (s.from, s.from_name.as_str(), s.to, s.reason.as_str()),
            (None, "gone", 0, "gone is no longer configured")
        );
        assert!(!s.is_failover(), "no guard for a reconfiguration");
        // The removed server's counters are dropped; the others go on.
        let names: Vec<&str> = d.state.servers.keys().map(String::as_str).collect();
        assert_eq!(names, ["backup", "main", "second"]);
        assert_eq!(d.state.servers["main"].bad, 1);
        assert_eq!(d.state.failovers, 3);
        assert_eq!(d.state.since.as_deref(), Some("2026-11-23T18:00:00Z"));
    }

    #[test]
    fn since_guard_and_failovers_are_carried_over() {
        let p = pool(1, 1);
        let first = decide(&p, None, &[up(), up(), ProbeOutcome::Unchecked]);
        assert_eq!(
            (first.state.since.as_deref(), first.state.failovers),
            (None, 0)
        );
        assert!(first.state.guard.is_none() && first.switch.is_none());
        let guard = crate::state::GuardRecord {
            time: "2026-11-23T18:00:00Z".into(),
            server: "main".into(),
            verdict: "vetoed".into(),
            detail: "a witness reached it".into(),
        };
        let previous = PoolState {
            since: Some("2026-11-22T00:00:00Z".into()),
            guard: Some(guard.clone()),
            failovers: 4,
            ..first.state
        };
        let d = decide(
            &p,
            Some(&previous),
            &[down(), up(), ProbeOutcome::Unchecked],
        );
        assert_eq!(d.state.chosen, "second");
        // The caller stamps a switch and counts the failover.
        assert_eq!(d.state.since.as_deref(), Some("2026-11-22T00:00:00Z"));
        assert_eq!(d.state.guard, Some(guard));
        assert_eq!(d.state.failovers, 4);
        assert_eq!(
            d.state.servers["main"].last.as_deref(),
            Some("down, failed 2/2 attempts: connect: refused")
        );
        assert_eq!(
            d.state.servers["second"].last.as_deref(),
            Some("up, HTTP 200")
        );
    }

    #[test]
    fn hold_keeps_the_previous_state_exactly() {
        let p = pool(1, 1);
        let first = hold(&p, None);
        assert_eq!(first.chosen, 0);
        assert!(first.switch.is_none());
        assert_eq!(
            first.state,
            PoolState {
                chosen: "main".into(),
                ..PoolState::default()
            }
        );
        let d = decide(&p, None, &[down(), up(), ProbeOutcome::Unchecked]);
        let mut previous = d.state;
        previous.failovers = 2;
        let held = hold(&p, Some(&previous));
        assert_eq!(held.chosen, 1);
        assert!(held.switch.is_none());
        assert_eq!(held.state, previous);
    }

    // -----------------------------------------------------------------------------------
    // pins and drains

    use crate::state::{Drain, EndCause, Pin};

    /// Every rule of `choose`, for three servers in priority order.
    #[test]
    fn choose_table() {
        let (t, f) = (true, false);
        // (healthy, drained, pinned, current, chosen, why)
        let cases: &[(
            [bool; 3],
            [bool; 3],
            Option<usize>,
            Option<usize>,
            usize,
            &str,
        )] = &[
            (
                [t, t, t],
                [f, f, f],
                None,
                Some(2),
                0,
                "the first healthy server",
            ),
            (
                [t, t, t],
                [t, f, f],
                None,
                Some(0),
                1,
                "the first healthy one not drained",
            ),
            (
                [t, f, t],
                [t, f, f],
                None,
                Some(0),
                2,
                "skipping the unhealthy and the drained",
            ),
            (
                [t, f, f],
                [t, f, f],
                None,
                Some(0),
                0,
                "a drained server as the only healthy one",
            ),
            (
                [t, f, f],
                [t, f, f],
                None,
                Some(2),
                0,
                "... even to leave a dead one",
            ),
            (
                [t, t, f],
                [t, t, f],
                None,
                Some(2),
                0,
                "the first healthy drained one",
            ),
            (
                [f, f, f],
                [f, f, f],
                None,
                Some(1),
                1,
                "nothing healthy: the current choice",
            ),
            (
                [f, f, f],
                [f, t, f],
                None,
                Some(1),
                1,
                "... drained or not: nothing healthy to move to",
            ),
            (
                [f, f, f],
                [t, t, f],
                None,
                Some(1),
                1,
                "... whatever else is drained",
            ),
            (
                [f, f, f],
                [t, t, t],
                None,
                Some(1),
                1,
                "all drained and dead: stay",
            ),
            (
                [f, f, f],
                [t, f, f],
                None,
                None,
                1,
                "a removed choice, nothing healthy",
            ),
            (
                [f, f, f],
                [t, t, t],
                None,
                None,
                0,
                "a removed choice, all drained",
            ),
            (
                [t, t, t],
                [f, f, f],
                Some(2),
                Some(0),
                2,
                "a pin wins over health",
            ),
            (
                [f, f, f],
                [f, f, t],
                Some(2),
                Some(0),
                2,
                "... and over a drain",
            ),
        ];
        for &(healthy, drained, pinned, current, chosen, why) in cases {
            let maintenance = Maintenance {
                pinned,
                drained: drained.to_vec(),
            };
            assert_eq!(choose(&healthy, &maintenance, current), chosen, "{why}");
        }
    }

    fn pinned(server: &str, reason: Option<&str>) -> Option<Pin> {
        Some(Pin {
            server: server.into(),
            since: "2026-11-29T10:00:00Z".into(),
            until: None,
            reason: reason.map(Into::into),
        })
    }

    fn drained(servers: &[&str]) -> BTreeMap<String, Drain> {
        servers
            .iter()
            .map(|s| {
                let drain = Drain {
                    since: "2026-11-29T10:00:00Z".into(),
                    until: None,
                    reason: Some("patching".into()),
                };
                ((*s).to_owned(), drain)
            })
            .collect()
    }

    /// A pool on `chosen` after a run with everything up.
    fn settled_on(p: &Pool, chosen: &str) -> PoolState {
        PoolState {
            chosen: chosen.into(),
            ..decide(p, None, &[up(), up(), ProbeOutcome::Unchecked]).state
        }
    }

    fn switch_of(d: &Decision) -> (Option<usize>, usize, &str, bool, bool) {
        let s = d.switch.as_ref().expect("a switch");
        (s.from, s.to, s.reason.as_str(), s.planned, s.is_failover())
    }

    #[test]
    fn a_pin_chooses_its_server_whatever_the_probes_and_counts_them() {
        let p = pool(1, 1);
        let mut previous = settled_on(&p, "main");
        previous.pinned = pinned("second", Some("main is patched"));
        let d = decide(
            &p,
            Some(&previous),
            &[up(), down(), ProbeOutcome::Unchecked],
        );
        assert_eq!(d.chosen, 1);
        assert_eq!(
            switch_of(&d),
            (Some(0), 1, "pinned to second: main is patched", true, false),
            "a planned switch: no guard, no failover counted"
        );
        assert!(!d.state.servers["second"].healthy, "counters go on");
        assert_eq!(d.state.pinned, previous.pinned, "the pin is kept");
        // Pinned and chosen: nothing moves, whatever the probes.
        let again = decide(&p, Some(&d.state), &[up(), down(), down()]);
        assert_eq!((again.chosen, again.switch), (1, None));
        // A pin to the server chosen anyway changes nothing.
        let mut on_main = settled_on(&p, "main");
        on_main.pinned = pinned("main", None);
        let d = decide(&p, Some(&on_main), &[down(), up(), ProbeOutcome::Unchecked]);
        assert_eq!((d.chosen, d.switch), (0, None), "the pin holds a dead main");
    }

    #[test]
    fn a_drained_server_is_left_for_the_next_healthy_one() {
        let p = pool(1, 1);
        let mut previous = settled_on(&p, "main");
        previous.drained = drained(&["main"]);
        let d = decide(&p, Some(&previous), &[up(), up(), ProbeOutcome::Unchecked]);
        assert_eq!(
            switch_of(&d),
            (Some(0), 1, "main drained: patching", true, false)
        );
        assert_eq!(d.state.drained, previous.drained, "the drain is kept");
        // second fails too: backup, the probes' choice among those not drained.
        let d = decide(&p, Some(&d.state), &[up(), down(), ProbeOutcome::Unchecked]);
        assert_eq!(
            switch_of(&d),
            (
                Some(1),
                2,
                "second failed 2/2 attempts: connect: refused",
                false,
                true
            ),
        );
    }

    #[test]
    fn a_drained_server_stays_chosen_while_it_is_the_only_healthy_one() {
        let mut p = pool(1, 1);
        p.servers[2].check = p.servers[0].check.clone();
        let mut previous = settled_on(&p, "main");
        previous.drained = drained(&["main"]);
        let d = decide(&p, Some(&previous), &[up(), down(), down()]);
        assert_eq!((d.chosen, d.switch), (0, None));
        // Another server is healthy again: the drain takes effect.
        let d = decide(&p, Some(&d.state), &[up(), down(), up()]);
        assert_eq!(
            switch_of(&d),
            (Some(0), 2, "main drained: patching", true, false)
        );
        // backup fails: back to the drained main, as the last resort.
        let d = decide(&p, Some(&d.state), &[up(), down(), down()]);
        assert_eq!(
            switch_of(&d),
            (
                Some(2),
                0,
                "backup failed 2/2 attempts: connect: refused; main is drained, but no other server is healthy",
                false,
                false
            ),
        );
        // Everything dead (our own link, perhaps): the pool stays on main, drained or not;
        // leaving it for a dead server would be a failover no guard was asked about.
        let d = decide(&p, Some(&d.state), &[down(), down(), down()]);
        assert_eq!((d.chosen, d.switch), (0, None));
    }

    #[test]
    fn the_end_of_a_pin_or_a_drain_is_the_reason_of_the_switch_it_causes() {
        let p = pool(1, 1);
        let ended = |kind, server: &str, cause| Ended {
            kind,
            server: server.into(),
            cause,
        };
        let on = |chosen| settled_on(&p, chosen);
        let all_up = [up(), up(), ProbeOutcome::Unchecked];
        let main_down = [down(), up(), ProbeOutcome::Unchecked];
        let cases = [
            (
                on("backup"),
                &all_up,
                ended(Kind::Pin, "backup", EndCause::Expired),
                (Some(2), 0, "pin to backup expired", false, false),
            ),
            (
                on("backup"),
                &all_up,
                ended(Kind::Pin, "backup", EndCause::Command),
                (Some(2), 0, "unpinned from backup", false, false),
            ),
            (
                on("main"),
                &main_down,
                ended(Kind::Pin, "main", EndCause::Expired),
                (
                    Some(0),
                    1,
                    "pin to main expired; main failed 2/2 attempts: connect: refused",
                    false,
                    true,
                ),
            ),
            (
                on("second"),
                &all_up,
                ended(Kind::Drain, "main", EndCause::Command),
                (Some(1), 0, "main undrained", false, false),
            ),
            (
                on("second"),
                &all_up,
                ended(Kind::Drain, "main", EndCause::Expired),
                (Some(1), 0, "drain of main expired", false, false),
            ),
            (
                // The drain of another server than the one chosen is not why.
                on("second"),
                &all_up,
                ended(Kind::Drain, "backup", EndCause::Expired),
                (
                    Some(1),
                    0,
                    "main healthy again (1 good run, rise 1)",
                    false,
                    false,
                ),
            ),
        ];
        for (previous, outcomes, ended, want) in cases {
            let d = decide_with(&p, Some(&previous), outcomes, std::slice::from_ref(&ended));
            assert_eq!(switch_of(&d), want, "{ended:?}");
        }
    }
}
