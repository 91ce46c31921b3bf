//! Verification at work: after the reload, poll the primary and the secondaries over DNS
//! until they serve the new serials (many at once); a secondary that lags half a second
//! gets a NOTIFY from zonerw itself; after the first wait, NOTIFY the laggards once more
//! (with the server's control tool) and wait again.
//! What an answer means is `verify::classify`'s (`classify_signed`'s for a signed zone,
//! asked with the DO bit: its SOA's RRSIG must be valid at the time of the answer).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};

use crate::config::{Config, Primary, Verify};
use crate::dns;
use crate::error::Error;
use crate::outcome::{Fate, PoolRun, ZoneRun, down_servers};
use crate::parallel;
use crate::primary;
use crate::verify::{
    Propagation, Reloaded, Seen, classify, classify_signed, lag_message, primary_failure,
};

/// The time now, from the run's `now` (read once, in main) and the time elapsed since
/// `started` (an `Instant` taken at the start of the run): pure arithmetic on a monotonic
/// clock, so that a signature is judged at the time of the answer.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// The run's time.
    pub now: Timestamp,
    /// When the run started, as an `Instant`.
    pub started: Instant,
}

impl Clock {
    /// The time now.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        let elapsed = SignedDuration::try_from(self.started.elapsed()).unwrap_or_default();
        self.now.checked_add(elapsed).unwrap_or(self.now)
    }
}

/// Query the primary and the secondaries for every zone reloaded in this run; what each
/// served goes into the zone's record.
pub(super) fn verify_reloaded(
    config: &Config,
    zones: &mut [ZoneRun],
    pools: &[PoolRun<'_>],
    clock: Clock,
) {
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
                signed: z.plan.signatures.is_some(),
            })
        })
        .collect();
    if reloaded.is_empty() {
        return;
    }
    let mut seen = verify(
        v,
        &config.primary,
        &reloaded,
        &down_servers(pools),
        reloaded_at,
        clock,
    );
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
            Some(primary_failure(
                v,
                config.primary.name(),
                &z.zone.name,
                z.plan.serial.unwrap_or(0),
                what,
            ))
        })
        .collect()
}

/// How long a wait that has lasted `waited` sleeps before it asks again: every 10 ms at
/// first (a zone is usually served within a few), every 50 ms after 200 ms. A thousand
/// zones on three secondaries are 64 waits at a time: asked every 10 ms each, the
/// secondaries spend on the questions the time they need for the transfers.
fn poll_interval(waited: Duration) -> Duration {
    if waited < Duration::from_millis(200) {
        Duration::from_millis(10)
    } else {
        Duration::from_millis(50)
    }
}

/// Wait until `server` serves `z`'s serial (or newer, for a secondary), with an RRSIG
/// over the SOA valid at the time of the answer when `z` is signed.
fn wait_for(
    server: SocketAddr,
    z: &Reloaded,
    since: Instant,
    deadline: Instant,
    clock: Clock,
) -> Result<u64, String> {
    let started = Instant::now();
    let mut last: Option<String> = None;
    loop {
        let seen = if z.signed {
            let now = clock.now();
            classify_signed(
                dns::soa_rrsigs(server, &z.zone, now, deadline),
                z.serial,
                last.is_some(),
                now,
            )
        } else {
            classify(
                dns::soa_serial(server, &z.zone, deadline),
                z.serial,
                last.is_some(),
            )
        };
        match seen {
            Seen::Served => {
                return Ok(u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX));
            }
            Seen::NotYet(what) => last = Some(what),
            Seen::Nothing => {}
        }
        let poll = poll_interval(started.elapsed());
        if Instant::now() + poll >= deadline {
            return Err(last.unwrap_or_else(|| dns::NO_ANSWER.into()));
        }
        thread::sleep(poll);
    }
}

/// Verify every reloaded zone. `down` lists the addresses of servers found down in this run:
/// a secondary there (usually the failed main server itself) is not waited for.
#[must_use]
pub fn verify(
    verify: &Verify,
    primary: &Primary,
    zones: &[Reloaded],
    down: &[(IpAddr, String)],
    reloaded_at: Instant,
    clock: Clock,
) -> BTreeMap<String, Propagation> {
    let mut results: BTreeMap<String, Propagation> = zones
        .iter()
        .map(|z| {
            let p = Propagation {
                signed: z.signed,
                ..Propagation::default()
            };
            (z.zone.clone(), p)
        })
        .collect();
    if let Some(primary) = verify.primary {
        let deadline = Instant::now() + verify.timeout;
        let waits: Vec<_> = zones.iter().map(|z| (primary, z)).collect();
        for ((_, z), result) in waits
            .iter()
            .zip(wait_all(&waits, reloaded_at, deadline, clock))
        {
            let p = results.get_mut(&z.zone).expect("zone listed");
            match result {
                Ok(ms) => {
                    p.times_ms.insert("primary".into(), Some(ms));
                }
                Err(e) => p.primary_failure = Some(e),
            }
        }
    }
    let mut waits = Vec::new();
    let served: Vec<&Reloaded> = zones
        .iter()
        .filter(|z| results[&z.zone].primary_failure.is_none())
        .collect();
    for z in served {
        for &secondary in &verify.secondaries {
            if let Some((_, name)) = down.iter().find(|(ip, _)| *ip == secondary.ip()) {
                let p = results.get_mut(&z.zone).expect("zone listed");
                p.skipped.insert(secondary.to_string(), name.clone());
                p.times_ms.insert(secondary.to_string(), None);
            } else {
                waits.push((secondary, z));
            }
        }
    }
    let lagging = wait_secondaries(
        &waits,
        (reloaded_at, clock),
        verify.timeout,
        primary,
        &mut results,
    );
    for ((secondary, z), what) in lagging {
        let p = results.get_mut(&z.zone).expect("zone listed");
        p.lagging.insert(secondary.to_string(), what);
    }
    results
}

/// First wait (for Knot at most 2 s: `primary::first_wait`); then one NOTIFY per zone
/// with a laggard (`nsd-control notify`, `knotc zone-notify`, `rndc notify`) and a second
/// wait. A secondary that lags half a second after the reload gets a NOTIFY of zonerw's own
/// (`nudge`). Returns what still lags.
fn wait_secondaries<'a>(
    waits: &[(SocketAddr, &'a Reloaded)],
    (reloaded_at, clock): (Instant, Clock),
    timeout: Duration,
    primary: &Primary,
    results: &mut BTreeMap<String, Propagation>,
) -> Vec<((SocketAddr, &'a Reloaded), String)> {
    let served: Vec<AtomicBool> = waits.iter().map(|_| AtomicBool::new(false)).collect();
    let done = AtomicBool::new(false);
    thread::scope(|scope| {
        scope.spawn(|| nudge(waits, &served, reloaded_at + NUDGE_AFTER, &done));
        let lagging = wait_twice(
            waits,
            &served,
            (reloaded_at, clock),
            timeout,
            primary,
            results,
        );
        done.store(true, Ordering::Relaxed);
        lagging
    })
}

/// [`wait_secondaries`] but for the nudges: each (secondary, zone) of `waits` seen served
/// is marked in `served`.
fn wait_twice<'a>(
    waits: &[(SocketAddr, &'a Reloaded)],
    served: &[AtomicBool],
    (reloaded_at, clock): (Instant, Clock),
    timeout: Duration,
    primary: &Primary,
    results: &mut BTreeMap<String, Propagation>,
) -> Vec<((SocketAddr, &'a Reloaded), String)> {
    let mut lagging = Vec::new();
    let first_wait = primary::first_wait(primary.kind, timeout);
    let all: Vec<usize> = (0..waits.len()).collect();
    let first = wait_marking(waits, &all, served, reloaded_at, first_wait, clock);
    for (&i, result) in all.iter().zip(first) {
        let (secondary, z) = waits[i];
        match result {
            Ok(ms) => {
                let p = results.get_mut(&z.zone).expect("zone listed");
                p.times_ms.insert(secondary.to_string(), Some(ms));
            }
            Err(_) => lagging.push(i),
        }
    }
    if lagging.is_empty() {
        return Vec::new();
    }
    let mut notified: Vec<&str> = lagging.iter().map(|&i| waits[i].1.zone.as_str()).collect();
    notified.dedup();
    let notify_errors: BTreeMap<&str, String> = notified
        .iter()
        .filter_map(|zone| {
            primary::notify(primary, zone)
                .err()
                .map(|e| (*zone, e.to_string()))
        })
        .collect();
    let second = wait_marking(waits, &lagging, served, reloaded_at, timeout, clock);
    let mut still = Vec::new();
    for (&i, result) in lagging.iter().zip(second) {
        let (secondary, z): (SocketAddr, &'a Reloaded) = waits[i];
        let p = results.get_mut(&z.zone).expect("zone listed");
        match result {
            Ok(ms) => {
                p.times_ms.insert(secondary.to_string(), Some(ms));
            }
            Err(what) => {
                p.times_ms.insert(secondary.to_string(), None);
                let notify_error = notify_errors.get(z.zone.as_str()).map(String::as_str);
                still.push((
                    (secondary, z),
                    lag_message(&what, z.serial, (first_wait, timeout), notify_error),
                ));
            }
        }
    }
    still
}

/// Wait (for at most `wait` from now) for the (server, zone) pairs of `waits` at `which`,
/// many at once, marking each one served in `served`.
fn wait_marking(
    waits: &[(SocketAddr, &Reloaded)],
    which: &[usize],
    served: &[AtomicBool],
    since: Instant,
    wait: Duration,
    clock: Clock,
) -> Vec<Result<u64, String>> {
    let deadline = Instant::now() + wait;
    parallel::map(which, CONCURRENT_WAITS, |&i| {
        let (secondary, z) = waits[i];
        let result = wait_for(secondary, z, since, deadline, clock);
        if result.is_ok() {
            served[i].store(true, Ordering::Relaxed);
        }
        result
    })
}

/// A secondary that does not serve the new serial this long after the reload gets one
/// NOTIFY from zonerw itself. NSD's xfrd sends NOTIFYs for a few zones at a time and waits
/// a fixed 3 s before it retries one whose answer it missed (BENCHMARKS.md, the `[verify]`
/// row), and `nsd-control notify` for a zone already in that queue is ignored: a NOTIFY
/// straight from zonerw does not wait in it. (Sent again every second, the NOTIFYs for a
/// thousand zones slowed the secondaries down: one is enough.) A secondary that does not
/// allow NOTIFY from this host refuses it, and nothing changes.
const NUDGE_AFTER: Duration = Duration::from_millis(500);

/// NOTIFYs sent back to back before a short pause, so a burst for a thousand zones does not
/// overflow the secondary's receive buffer.
const NUDGE_BURST: usize = 64;

/// At `at` (unless `done` by then), send one NOTIFY for each (secondary, zone) of `waits`
/// not yet marked `served`.
fn nudge(waits: &[(SocketAddr, &Reloaded)], served: &[AtomicBool], at: Instant, done: &AtomicBool) {
    while Instant::now() < at {
        if done.load(Ordering::Relaxed) {
            return;
        }
        thread::sleep(Duration::from_millis(20).min(at.saturating_duration_since(Instant::now())));
    }
    let lagging = waits
        .iter()
        .zip(served)
        .filter(|(_, s)| !s.load(Ordering::Relaxed))
        .map(|(w, _)| w);
    // One socket per address family for the whole burst, made when first needed.
    let mut sockets: [Option<std::net::UdpSocket>; 2] = [None, None];
    for (k, (server, z)) in lagging.enumerate() {
        if done.load(Ordering::Relaxed) {
            return;
        }
        if k > 0 && k % NUDGE_BURST == 0 {
            thread::sleep(Duration::from_millis(2));
        }
        let socket = &mut sockets[usize::from(server.is_ipv6())];
        if socket.is_none() {
            *socket = dns::udp_socket_for(*server).ok();
        }
        // Best effort: a refused or lost NOTIFY changes nothing; the waits go on.
        if let Some(socket) = socket {
            let _ = dns::notify(socket, *server, &z.zone);
        }
    }
}

/// How many (server, zone) waits run at once: they mostly sleep on the network, but each
/// holds a socket, and a thousand zones must not exhaust file descriptors.
const CONCURRENT_WAITS: usize = 64;

/// Wait for every (server, zone), many at once.
fn wait_all(
    waits: &[(SocketAddr, &Reloaded)],
    since: Instant,
    deadline: Instant,
    clock: Clock,
) -> Vec<Result<u64, String>> {
    parallel::map(waits, CONCURRENT_WAITS, |&(server, z)| {
        wait_for(server, z, since, deadline, clock)
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::plan::Action;
    use crate::testing::{CONFIG, zone_run};

    fn reloaded(z: &mut ZoneRun, propagation: Option<Propagation>) {
        z.fate = Fate::Reloaded {
            stamp: None,
            propagation,
        };
    }

    #[test]
    fn without_verify_nothing_is_asked_and_nothing_fails() {
        let config = Config::parse(CONFIG, Path::new("/etc/zonerw/zonerw.toml")).unwrap();
        let mut zones = [zone_run(&config, Action::Write, Some(1), 2, "192.0.2.1")];
        reloaded(&mut zones[0], None);
        let clock = Clock {
            now: Timestamp::UNIX_EPOCH,
            started: Instant::now(),
        };
        verify_reloaded(&config, &mut zones, &[], clock);
        assert_eq!(zones[0].propagation(), None);
        assert!(primary_failures(&config, &zones).is_empty());
    }

    #[test]
    fn a_zone_the_primary_did_not_serve_is_an_error_and_only_that_one() {
        let text = format!("{CONFIG}\n[verify]\nprimary = \"127.0.0.1:5300\"\ntimeout = \"2s\"\n");
        let config = Config::parse(&text, Path::new("/etc/zonerw/zonerw.toml")).unwrap();
        let mut missed = zone_run(&config, Action::Write, Some(1), 2, "192.0.2.1");
        reloaded(
            &mut missed,
            Some(Propagation {
                primary_failure: Some("serves serial 1".into()),
                ..Propagation::default()
            }),
        );
        let mut served = zone_run(&config, Action::Write, Some(1), 2, "192.0.2.1");
        served.zone.name = "served.example".into();
        reloaded(&mut served, Some(Propagation::default()));
        let failed = zone_run(&config, Action::Write, Some(1), 2, "192.0.2.1");
        let errors = primary_failures(&config, &[missed, served, failed]);
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "example.com: the primary 127.0.0.1:5300 serves serial 1, not 2, 2s after the reload (NSD did not load the new file; see its log); the state was not advanced, so the next run retries"
            ]
        );
    }
}
