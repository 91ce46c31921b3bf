//! Every line a run prints, built from the run's records: probe results, switches, the
//! guard's "staying" lines, zone lines, dry-run diffs, propagation and warnings. Pure: the
//! shell prints what these return (`output::emit`).

use std::path::Path;
use std::time::Duration;

use crate::error::Result;
use crate::fsio::NotAFile;
use crate::guard::Verdict;
use crate::outcome::{Fate, PoolRun, ZoneRun};
use crate::output::{Line, Verbosity};
use crate::plan::{Action, Cause};
use crate::probe::Failure;
use crate::state::{rfc3339, show_serial};
use crate::verify::Propagation;

/// One line per server with its probe result (only with `-v`).
#[must_use]
pub fn probes(pools: &[PoolRun<'_>], verbosity: Verbosity) -> Vec<String> {
    let mut lines = Vec::new();
    if verbosity < Verbosity::Verbose {
        return lines;
    }
    for p in pools {
        for (server, outcome) in p.pool.servers.iter().zip(&p.outcomes) {
            lines.push(format!(
                "probe {}/{} {}: {}",
                p.pool.name,
                server.name,
                server.address(),
                outcome.describe()
            ));
        }
    }
    lines
}

/// What `zonerw probe` prints, and its exit status: 0 up, 1 down, 3 when our own side
/// failed (no route, no DNS), which says nothing about the server — a guard counts that as
/// no answer rather than as "cannot reach it".
#[must_use]
pub fn probe_answer(result: &std::result::Result<(u16, Duration), Failure>) -> (String, u8) {
    match result {
        Ok((status, latency)) => (
            format!("up: HTTP {status} in {} ms", latency.as_millis()),
            0,
        ),
        Err(failure) if failure.local => (format!("cannot test: {}", failure.reason), 3),
        Err(failure) => (format!("down: {}", failure.reason), 1),
    }
}

/// The change line of a pool switch; a `pending` one (not committed) says so.
#[must_use]
pub fn switch_line(p: &PoolRun<'_>, pending: bool) -> Option<String> {
    let switch = p.decision.switch.as_ref()?;
    let pool = p.pool;
    let from = match switch.from {
        Some(i) => format!("{} ({})", pool.servers[i].name, pool.servers[i].address()),
        None => switch.from_name.clone(),
    };
    let to = &pool.servers[switch.to];
    let head = format!("{}: {from} -> {} ({})", pool.name, to.name, to.address());
    Some(if pending {
        format!(
            "{head} (not applied yet: the run failed, see the errors; the next run retries): {}",
            switch.reason
        )
    } else {
        format!("{head}: {}", switch.reason)
    })
}

/// The guard's line for a failover it did not confirm: the pool stays where it is.
#[must_use]
pub fn staying_line(p: &PoolRun<'_>) -> Option<String> {
    let g = p.guarded.as_ref()?;
    if matches!(g.verdict, Verdict::Confirmed(_)) {
        return None;
    }
    let stay = p.chosen();
    let uncounted = if matches!(g.verdict, Verdict::OwnLinkDown(_)) {
        "; this run is not counted towards fall"
    } else {
        ""
    };
    Some(format!(
        "{}: staying on {} ({}): {}; {}{uncounted}",
        p.pool.name,
        stay.name,
        stay.address(),
        g.failure,
        g.verdict.detail()
    ))
}

/// A pool's pins and drains this run dropped (`web: pin to backup expired`; a `pending` one
/// says that the run failed), on stdout unless quiet; then, on stderr whatever the
/// verbosity, a warning when the pool is pinned to a server that failed this run's probe,
/// or when it stays on a drained server because no other is healthy. `committed` as for
/// [`switches`].
#[must_use]
pub fn maintenance(
    pools: &[PoolRun<'_>],
    committed: Option<bool>,
    verbosity: Verbosity,
) -> Vec<Line> {
    let mut lines = Vec::new();
    for p in pools {
        let name = &p.pool.name;
        if verbosity >= Verbosity::Normal {
            for e in &p.expired {
                let pending = match committed {
                    Some(false) => {
                        " (not applied yet: the run failed, see the errors; the next run retries)"
                    }
                    None => " (dry run: a run would drop it)",
                    Some(true) => "",
                };
                lines.push(Line::Out(format!("{name}: {}{pending}", e.words())));
            }
        }
        let state = &p.decision.state;
        let chosen = p.chosen();
        let outcome = &p.outcomes[p.decision.chosen];
        if state.pinned.is_some() {
            if !outcome.is_up() {
                lines.push(Line::Err(format!(
                    "zonerw: warning: {name}: pinned to {}, which fails its check ({}); 'zonerw unpin {name}' lets the probes choose again",
                    chosen.name,
                    outcome.describe()
                )));
            }
            // A pin wins over a drain: say so, or a drain of the pinned server does nothing
            // without a word.
            if state.drained.contains_key(&chosen.name) {
                lines.push(Line::Err(format!(
                    "zonerw: warning: {name}: {} is drained, but the pool is pinned to it: the drain takes effect when the pin ends ('zonerw unpin {name}')",
                    chosen.name
                )));
            }
        } else if state.drained.contains_key(&chosen.name) {
            lines.push(Line::Err(format!(
                "zonerw: warning: {name}: {} is drained, but stays chosen: no other server is healthy and not drained",
                chosen.name
            )));
        }
    }
    lines
}

/// The pools' switch lines, then the guard's "staying" lines. `committed`: None in a dry run
/// (the lines say what would happen), else whether the switches were committed; one that
/// was not is printed as pending, since the next run retries it. Nothing when quiet.
#[must_use]
pub fn switches(
    pools: &[PoolRun<'_>],
    committed: Option<bool>,
    verbosity: Verbosity,
) -> Vec<String> {
    if verbosity < Verbosity::Normal {
        return Vec::new();
    }
    let pending = committed == Some(false);
    let switched = pools.iter().filter_map(|p| switch_line(p, pending));
    let staying = pools.iter().filter_map(staying_line);
    switched.chain(staying).collect()
}

/// `example.com: serial 2026112301 -> 2026112302, reloaded`, or for an adopted file
/// `example.com: serial 2026112302 already installed, reloaded`. A signed zone says so
/// (`, signed, reloaded`), and one written only for `[dnssec]` says why: `, re-signed (the
/// old signatures expire at T, within refresh 5d)`, `, signed for the first time`, `, now
/// unsigned ([dnssec] unsigned lists it)`.
#[must_use]
pub fn zone_line(z: &ZoneRun) -> String {
    let (name, plan) = (&z.zone.name, &z.plan);
    match plan.action {
        Action::Adopt => format!(
            "{name}: serial {} already installed, reloaded",
            show_serial(plan.serial)
        ),
        Action::Keep | Action::Write => format!(
            "{name}: serial {} -> {}{}, reloaded",
            show_serial(plan.old_serial),
            show_serial(plan.serial),
            dnssec_words(plan)
        ),
    }
}

/// What a written zone's line says about its signing: `, signed`, `, re-signed (...)`...
fn dnssec_words(plan: &crate::plan::ZonePlan) -> String {
    match plan.cause {
        Cause::Resign {
            expiry,
            expired: true,
            ..
        } => format!(
            ", re-signed (the old signatures expired at {})",
            rfc3339(expiry)
        ),
        Cause::Resign {
            expiry, refresh, ..
        } => format!(
            ", re-signed (the old signatures expire at {}, within refresh {})",
            rfc3339(expiry),
            crate::duration::format_long(refresh)
        ),
        Cause::FirstSigned => ", signed for the first time".into(),
        Cause::KeysChanged => ", re-signed (its keys changed)".into(),
        Cause::TurnedOff => ", now unsigned ([dnssec] unsigned lists it)".into(),
        Cause::Change if plan.signing.is_signed() => ", signed".into(),
        Cause::Change => String::new(),
    }
}

/// `-v`: how a zone was signed: `example.com: signed in 12 ms with KSK 35008, ZSK 37124
/// (algorithm 13), verified in 40 ms; signatures valid until 2026-12-13T17:40:06Z`.
#[must_use]
pub fn signed_line(z: &ZoneRun) -> Option<String> {
    let s = z.signed.as_ref()?;
    let until = z.plan.signatures.map_or_else(String::new, |t| {
        format!("; signatures valid until {}", rfc3339(t))
    });
    Some(format!(
        "{}: signed in {} ms with {}, verified in {} ms{until}",
        z.zone.name,
        s.sign.as_millis(),
        s.keys,
        s.verify.as_millis()
    ))
}

/// What a dry run prints: a unified diff per zone that would change against its installed
/// file (read with `installed`), or its zone line if only a reload would happen, then one
/// summary line: `(dry run: nothing written)`, with how many zones would fail their check
/// (their fate is Failed), or `(dry run: nothing would change)`. Nothing (and nothing
/// read) when quiet.
pub fn dry_run(
    zones: &[ZoneRun],
    zones_dir: &Path,
    installed: impl Fn(&Path) -> Result<Vec<u8>>,
    verbosity: Verbosity,
) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    if verbosity < Verbosity::Normal {
        return Ok(lines);
    }
    let mut any = false;
    for z in zones.iter().filter(|z| z.plan.action != Action::Keep) {
        any = true;
        let path = zones_dir.join(&z.zone.file_name);
        let bytes = installed(&path)?;
        let installed = String::from_utf8_lossy(&bytes);
        let shown = path.display().to_string();
        // Every signature (and NSEC/NSEC3 record) is new on each signing: leave them out.
        let signed = z.signed.is_some() || z.plan.was_signed;
        let (old, new) = if signed {
            (
                crate::dnssec::signed::without_signatures(&installed),
                crate::dnssec::signed::without_signatures(&z.plan.contents),
            )
        } else {
            (installed.into_owned(), z.plan.contents.clone())
        };
        let diff = similar::TextDiff::from_lines(old.as_str(), new.as_str())
            .unified_diff()
            .context_radius(3)
            .header(&shown, &format!("{shown} (would be installed)"))
            .to_string();
        if diff.is_empty() {
            lines.push(format!(
                "{} (unchanged text, would be reloaded)",
                zone_line(z)
            ));
        } else {
            // As one entry: the diff's own line ends (a CR included) are kept byte for byte.
            lines.push(diff.strip_suffix('\n').unwrap_or(&diff).to_owned());
        }
        if signed {
            lines.push(format!(
                "({}: RRSIG, NSEC and NSEC3 records are left out of the diff: every signing makes them anew)",
                z.zone.name
            ));
        }
    }
    let failing = zones.iter().filter(|z| z.fate == Fate::Failed).count();
    lines.push(match (any, failing) {
        (false, _) => "(dry run: nothing would change)".into(),
        (true, 0) => "(dry run: nothing written)".into(),
        (true, 1) => "(dry run: nothing written; 1 zone would fail its check and not be installed, see the errors)".into(),
        (true, n) => format!("(dry run: nothing written; {n} zones would fail their check and not be installed, see the errors)"),
    });
    Ok(lines)
}

/// After the apply: a line per reloaded zone, its propagation (`-v`), the secondaries not
/// waited for (down), and a warning per secondary still lagging (even when quiet).
#[must_use]
pub fn zones(zones: &[ZoneRun], verbosity: Verbosity) -> Vec<Line> {
    let mut lines = Vec::new();
    for z in zones.iter().filter(|z| z.reloaded()) {
        let name = &z.zone.name;
        let serial = z.plan.serial.unwrap_or(0);
        if verbosity >= Verbosity::Normal {
            lines.push(Line::Out(zone_line(z)));
        }
        if verbosity >= Verbosity::Verbose
            && let Some(line) = signed_line(z)
        {
            lines.push(Line::Out(line));
        }
        let Some(p) = z.propagation() else {
            continue;
        };
        if verbosity >= Verbosity::Verbose
            && let Some(line) = propagation_line(name, serial, p)
        {
            lines.push(Line::Out(line));
        }
        if verbosity >= Verbosity::Normal {
            for (addr, server) in &p.skipped {
                lines.push(Line::Out(format!(
                    "{name}: secondary {addr} is {server}, which is down; it will get serial {serial} when it is back"
                )));
            }
        }
        for (addr, what) in &p.lagging {
            lines.push(Line::Err(format!(
                "zonerw: warning: {name}: secondary {addr} still {what}"
            )));
        }
    }
    lines
}

/// `example.com: serial N served by the primary after 3 ms, by 127.0.0.1:5301 after 40 ms;
/// not by …` (`-v`); a signed zone's `served with a valid signature by …`. None when
/// nothing was waited for.
#[must_use]
pub fn propagation_line(zone: &str, serial: u32, p: &Propagation) -> Option<String> {
    let served_how = if p.signed {
        "served with a valid signature"
    } else {
        "served"
    };
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
            "{zone}: serial {serial} {served_how} {}",
            served.join(", ")
        )),
        (true, false) => Some(format!(
            "{zone}: serial {serial} not {served_how} by {}",
            missing.join(", ")
        )),
        (false, false) => Some(format!(
            "{zone}: serial {serial} {served_how} {}; not by {}",
            served.join(", "),
            missing.join(", ")
        )),
    }
}

/// The warning for an installed zone file that is not a regular file.
#[must_use]
pub fn not_a_file(zone: &str, path: &Path, kind: NotAFile) -> String {
    // rename(2) replaces anything but a directory.
    let then = if kind == NotAFile::Directory {
        "zonerw cannot replace a directory: remove it"
    } else {
        "it is not read, and is replaced"
    };
    format!(
        "zonerw: warning: {zone}: '{}' is {kind}, not a zone file; {then}",
        path.display()
    )
}

/// The warning for a state directory others than its owner may write (`mode`: its
/// permission bits), or None.
#[must_use]
pub fn open_state_dir(dir: &Path, mode: u32) -> Option<String> {
    let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
        (false, false) => return None,
        (true, true) => "its group and others",
        (true, false) => "its group",
        (false, true) => "others",
    };
    Some(format!(
        "zonerw: warning: the state directory {} is writable by {who} (mode {mode:04o}); \
         make it writable by its owner only: chmod go-w {}",
        dir.display(),
        dir.display()
    ))
}

/// The refusal of a run by `me` where `owner` owns the state directory; `args` is the
/// command line, to repeat as the owner.
#[must_use]
pub fn wrong_user(dir: &Path, owner: &str, me: &str, args: &[String]) -> String {
    let args: Vec<String> = args.iter().map(|a| shell_word(a)).collect();
    format!(
        "the state directory {} belongs to user {owner}, not to {me}, who runs this; \
         run it as that user: sudo -u {} {}",
        dir.display(),
        shell_word(owner),
        args.join(" ")
    )
}

/// `word` quoted for a POSIX shell if it needs quoting.
#[must_use]
pub fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// The warning for an on-change hook that failed: `status` is how it ended, `printed` the
/// quoted lines of its output.
#[must_use]
pub fn hook_failed(argv: &[String], status: &str, printed: &[String]) -> String {
    let failure = if printed.is_empty() {
        status.to_owned()
    } else {
        format!("{status}: {}", printed.join("; "))
    };
    format!(
        "zonerw: warning: on-change hook '{}' failed: {failure}",
        argv.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::error::Error;
    use crate::outcome::{Fate, ZoneRun};
    use crate::testing::{config, down, pools, up, zone_run};

    const FAILURE: &str = "main failed 2/2 attempts: connect: refused";

    #[test]
    fn probe_lines() {
        let config = config();
        assert_eq!(
            probes(&pools(&config, None, down()), Verbosity::Verbose),
            [
                "probe web/main 192.0.2.1: down, failed 2/2 attempts: connect: refused",
                "probe web/backup 198.51.100.7: no check, counted healthy",
            ]
        );
        assert_eq!(
            probes(&pools(&config, None, up()), Verbosity::Verbose)[0],
            "probe web/main 192.0.2.1: up, HTTP 200 in 3 ms"
        );
    }

    #[test]
    fn maintenance_lines_and_warnings() {
        let config = config();
        let pin = |server: &str, until: Option<&str>| crate::state::Pin {
            server: server.into(),
            since: "2026-11-29T09:00:00Z".into(),
            until: until.map(Into::into),
            reason: None,
        };
        let mut old = crate::state::State::default();
        old.pools.insert(
            "web".into(),
            crate::state::PoolState {
                chosen: "main".into(),
                pinned: Some(pin("main", None)),
                ..Default::default()
            },
        );
        let warning = "zonerw: warning: web: pinned to main, which fails its check (down, failed 2/2 attempts: connect: refused); 'zonerw unpin web' lets the probes choose again";
        let pinned_down = pools(&config, Some(&old), down());
        for verbosity in [Verbosity::Quiet, Verbosity::Normal] {
            assert_eq!(
                maintenance(&pinned_down, Some(true), verbosity),
                [Line::Err(warning.into())],
                "warned on every run, even quiet ones"
            );
        }
        assert!(
            maintenance(
                &pools(&config, Some(&old), up()),
                Some(true),
                Verbosity::Normal
            )
            .is_empty()
        );

        // A drain of the pinned server: warned on every run (the pin wins).
        old.pools.get_mut("web").unwrap().drained.insert(
            "main".into(),
            crate::state::Drain {
                since: "2026-11-29T09:00:00Z".into(),
                until: None,
                reason: None,
            },
        );
        assert_eq!(
            maintenance(
                &pools(&config, Some(&old), up()),
                Some(true),
                Verbosity::Quiet
            ),
            [Line::Err("zonerw: warning: web: main is drained, but the pool is pinned to it: the drain takes effect when the pin ends ('zonerw unpin web')".into())]
        );
        old.pools.get_mut("web").unwrap().drained.clear();

        // An expired pin: a line, pending while not committed; none when quiet.
        old.pools.get_mut("web").unwrap().pinned =
            Some(pin("backup", Some("2026-11-29T09:30:00Z")));
        let expired = pools(&config, Some(&old), up());
        assert_eq!(
            maintenance(&expired, Some(true), Verbosity::Normal),
            [Line::Out("web: pin to backup expired".into())]
        );
        assert_eq!(
            maintenance(&expired, Some(false), Verbosity::Normal),
            [Line::Out("web: pin to backup expired (not applied yet: the run failed, see the errors; the next run retries)".into())]
        );
        assert!(maintenance(&expired, None, Verbosity::Quiet).is_empty());
        assert_eq!(
            maintenance(&expired, None, Verbosity::Normal),
            [Line::Out(
                "web: pin to backup expired (dry run: a run would drop it)".into()
            )]
        );

        // A drained server kept as the only healthy one.
        let web = old.pools.get_mut("web").unwrap();
        web.pinned = None;
        web.drained.insert(
            "backup".into(),
            crate::state::Drain {
                since: "2026-11-29T09:00:00Z".into(),
                until: None,
                reason: None,
            },
        );
        web.chosen = "backup".into();
        assert_eq!(
            maintenance(&pools(&config, Some(&old), down()), Some(true), Verbosity::Quiet),
            [Line::Err("zonerw: warning: web: backup is drained, but stays chosen: no other server is healthy and not drained".into())]
        );
        assert!(
            maintenance(
                &pools(&config, Some(&old), up()),
                Some(true),
                Verbosity::Normal
            )
            .is_empty()
        );
    }

    #[test]
    fn switch_lines_done_pending_and_dry() {
        let config = config();
        let failover = pools(&config, None, down());
        let done = format!("web: main (192.0.2.1) -> backup (198.51.100.7): {FAILURE}");
        let pending = format!(
            "web: main (192.0.2.1) -> backup (198.51.100.7) (not applied yet: the run failed, see the errors; the next run retries): {FAILURE}"
        );
        assert_eq!(
            switches(&failover, Some(true), Verbosity::Normal),
            std::slice::from_ref(&done)
        );
        assert_eq!(
            switches(&failover, None, Verbosity::Normal),
            [done],
            "a dry run says what would happen"
        );
        assert_eq!(
            switches(&failover, Some(false), Verbosity::Normal),
            [pending]
        );
        assert!(switches(&pools(&config, None, up()), Some(true), Verbosity::Normal).is_empty());
        assert!(switches(&failover, Some(true), Verbosity::Quiet).is_empty());
        assert!(
            probes(&failover, Verbosity::Normal).is_empty(),
            "probes only with -v"
        );
    }

    #[test]
    fn a_server_no_longer_configured_is_named_without_address() {
        let config = config();
        let mut old = crate::state::State::default();
        old.pools.insert(
            "web".into(),
            crate::state::PoolState {
                chosen: "gone".into(),
                ..Default::default()
            },
        );
        let p = pools(&config, Some(&old), up());
        assert_eq!(
            switch_line(&p[0], false).unwrap(),
            "web: gone -> main (192.0.2.1): gone is no longer configured"
        );
    }

    #[test]
    fn the_guard_says_why_the_pool_stays() {
        let config = config();
        let cases = [
            (
                Verdict::Vetoed("failover vetoed: witness 'ssh w1 probe' reaches main".into()),
                Some(format!(
                    "web: staying on main (192.0.2.1): {FAILURE}; failover vetoed: witness 'ssh w1 probe' reaches main"
                )),
            ),
            (
                Verdict::OwnLinkDown(
                    "no reference URL answered within 2s, so our own link seems down".into(),
                ),
                Some(format!(
                    "web: staying on main (192.0.2.1): {FAILURE}; no reference URL answered within 2s, so our own link seems down; this run is not counted towards fall"
                )),
            ),
            (
                Verdict::Confirmed("confirmed by 2 of 3 witnesses".into()),
                None,
            ),
        ];
        for (verdict, want) in cases {
            let mut p = pools(&config, None, down());
            p[0].take_verdict(verdict.clone());
            assert_eq!(staying_line(&p[0]), want, "{verdict:?}");
        }
        let mut p = pools(&config, None, down());
        p[0].take_verdict(Verdict::Confirmed("confirmed by 2 of 3 witnesses".into()));
        assert_eq!(
            switches(&p, Some(true), Verbosity::Normal),
            [format!(
                "web: main (192.0.2.1) -> backup (198.51.100.7): {FAILURE}; confirmed by 2 of 3 witnesses"
            )]
        );
    }

    #[test]
    fn signed_lines() {
        let config = config();
        let mut z = zone_run(&config, Action::Write, Some(1), 2, "192.0.2.1");
        assert_eq!(signed_line(&z), None, "not signed this run");
        z.signed = Some(crate::outcome::Signed {
            keys: "KSK 35008, ZSK 37124 (algorithm 13)".into(),
            sign: std::time::Duration::from_micros(12_700),
            verify: std::time::Duration::from_millis(40),
        });
        assert_eq!(
            signed_line(&z).unwrap(),
            "example.com: signed in 12 ms with KSK 35008, ZSK 37124 (algorithm 13), verified in 40 ms"
        );
        z.plan.signatures = Some("2026-12-13T17:40:06Z".parse().unwrap());
        assert_eq!(
            signed_line(&z).unwrap(),
            "example.com: signed in 12 ms with KSK 35008, ZSK 37124 (algorithm 13), verified in 40 ms; signatures valid until 2026-12-13T17:40:06Z"
        );
    }

    #[test]
    fn zone_lines() {
        let config = config();
        let cases = [
            (
                Action::Write,
                Some(2_026_112_901),
                2_026_112_902,
                "example.com: serial 2026112901 -> 2026112902, reloaded",
            ),
            (
                Action::Write,
                None,
                2_026_112_900,
                "example.com: serial none -> 2026112900, reloaded",
            ),
            (
                Action::Adopt,
                Some(2_026_112_905),
                2_026_112_905,
                "example.com: serial 2026112905 already installed, reloaded",
            ),
        ];
        for (action, old, new, want) in cases {
            assert_eq!(
                zone_line(&zone_run(&config, action, old, new, "192.0.2.1")),
                want
            );
        }
    }

    fn reloaded(z: &mut ZoneRun, propagation: Option<Propagation>) {
        z.fate = Fate::Reloaded {
            stamp: None,
            propagation,
        };
    }

    #[test]
    fn after_the_apply_only_reloaded_zones_are_reported() {
        let config = config();
        let mut done = zone_run(&config, Action::Write, Some(1), 2, "198.51.100.7");
        reloaded(
            &mut done,
            Some(Propagation {
                primary_failure: None,
                times_ms: BTreeMap::from([
                    ("127.0.0.1:5301".to_owned(), Some(40)),
                    ("127.0.0.1:5302".to_owned(), None),
                    ("primary".to_owned(), Some(3)),
                ]),
                lagging: BTreeMap::from([(
                    "127.0.0.1:5302".to_owned(),
                    "serves serial 1, not 2, after a NOTIFY and two waits of 2s".to_owned(),
                )]),
                skipped: BTreeMap::from([("192.0.2.1:53".to_owned(), "main".to_owned())]),
                signed: false,
            }),
        );
        let mut failed = zone_run(&config, Action::Write, Some(1), 2, "198.51.100.7");
        failed.fate = Fate::Failed;
        let kept = zone_run(&config, Action::Keep, Some(1), 1, "192.0.2.1");
        let zones = [done, failed, kept];
        let line = |s: &str| Line::Out(s.to_owned());
        let lag = Line::Err(
            "zonerw: warning: example.com: secondary 127.0.0.1:5302 still serves serial 1, not 2, after a NOTIFY and two waits of 2s".into(),
        );
        let changed = line("example.com: serial 1 -> 2, reloaded");
        let served = line(
            "example.com: serial 2 served by the primary after 3 ms, by 127.0.0.1:5301 after 40 ms; not by 127.0.0.1:5302",
        );
        let skipped = line(
            "example.com: secondary 192.0.2.1:53 is main, which is down; it will get serial 2 when it is back",
        );
        assert_eq!(
            super::zones(&zones, Verbosity::Quiet),
            std::slice::from_ref(&lag)
        );
        assert_eq!(
            super::zones(&zones, Verbosity::Normal),
            [changed.clone(), skipped.clone(), lag.clone()]
        );
        assert_eq!(
            super::zones(&zones, Verbosity::Verbose),
            [changed, served, skipped, lag]
        );
    }

    #[test]
    fn propagation_lines() {
        let p = |times: &[(&str, Option<u64>)]| Propagation {
            times_ms: times.iter().map(|(s, t)| ((*s).to_owned(), *t)).collect(),
            ..Propagation::default()
        };
        let cases = [
            (p(&[]), None),
            (
                p(&[("primary", Some(3)), ("[::1]:5301", Some(9))]),
                Some("a.: serial 7 served by the primary after 3 ms, by [::1]:5301 after 9 ms"),
            ),
            (
                p(&[("127.0.0.1:5301", None)]),
                Some("a.: serial 7 not served by 127.0.0.1:5301"),
            ),
            (
                p(&[("primary", None)]),
                Some("a.: serial 7 not served by the primary"),
            ),
        ];
        for (propagation, want) in cases {
            assert_eq!(propagation_line("a.", 7, &propagation).as_deref(), want);
        }
        let signed = Propagation {
            signed: true,
            ..p(&[("primary", Some(3)), ("127.0.0.1:5301", None)])
        };
        assert_eq!(
            propagation_line("a.", 7, &signed).as_deref(),
            Some(
                "a.: serial 7 served with a valid signature by the primary after 3 ms; not by 127.0.0.1:5301"
            )
        );
    }

    #[test]
    fn a_dry_run_diffs_against_the_installed_file() {
        let config = config();
        let zones_dir = Path::new("/var/lib/nsd/zonerw");
        let write = zone_run(&config, Action::Write, Some(1), 2, "198.51.100.7");
        let adopt = zone_run(&config, Action::Adopt, Some(2), 2, "198.51.100.7");
        let keep = zone_run(&config, Action::Keep, Some(1), 1, "192.0.2.1");
        let installed =
            |_: &Path| Ok(b"@ IN SOA ns hm ( 1 1 2 3 4 )\nwww IN A 192.0.2.1\n".to_vec());
        let lines = dry_run(
            &[write.clone(), keep.clone()],
            zones_dir,
            installed,
            Verbosity::Normal,
        )
        .unwrap();
        assert_eq!(
            lines,
            [
                "--- /var/lib/nsd/zonerw/example.com.zone\n\
                 +++ /var/lib/nsd/zonerw/example.com.zone (would be installed)\n\
                 @@ -1,2 +1,2 @@\n\
                 -@ IN SOA ns hm ( 1 1 2 3 4 )\n\
                 -www IN A 192.0.2.1\n\
                 +@ IN SOA ns hm ( 2 1 2 3 4 )\n\
                 +www IN A 198.51.100.7",
                "(dry run: nothing written)",
            ]
        );
        let same = |_: &Path| Ok(adopt.plan.contents.clone().into_bytes());
        assert_eq!(
            dry_run(
                std::slice::from_ref(&adopt),
                zones_dir,
                same,
                Verbosity::Normal
            )
            .unwrap(),
            [
                "example.com: serial 2 already installed, reloaded (unchanged text, would be reloaded)",
                "(dry run: nothing written)",
            ]
        );
        let unread = |_: &Path| -> Result<Vec<u8>> { panic!("quiet reads nothing") };
        assert!(
            dry_run(
                std::slice::from_ref(&write),
                zones_dir,
                unread,
                Verbosity::Quiet
            )
            .unwrap()
            .is_empty()
        );
        assert_eq!(
            dry_run(
                std::slice::from_ref(&keep),
                zones_dir,
                installed,
                Verbosity::Normal
            )
            .unwrap(),
            ["(dry run: nothing would change)"],
            "nothing to change: one summary line"
        );
        // Zones whose check would fail are counted in the summary (their errors are the
        // run's, printed after it).
        let mut failed = write.clone();
        failed.fate = Fate::Failed;
        let summary = |zones: &[ZoneRun]| {
            dry_run(zones, zones_dir, installed, Verbosity::Normal)
                .unwrap()
                .pop()
                .unwrap()
        };
        assert_eq!(
            summary(&[failed.clone(), keep.clone()]),
            "(dry run: nothing written; 1 zone would fail its check and not be installed, see the errors)"
        );
        assert_eq!(
            summary(&[failed.clone(), write, failed]),
            "(dry run: nothing written; 2 zones would fail their check and not be installed, see the errors)"
        );
        let failing = |p: &Path| -> Result<Vec<u8>> {
            Err(Error::io(
                p,
                "read",
                std::io::Error::from(std::io::ErrorKind::PermissionDenied),
            ))
        };
        assert!(dry_run(&[adopt], zones_dir, failing, Verbosity::Normal).is_err());
    }

    #[test]
    fn warnings() {
        let path = Path::new("/var/lib/nsd/zonerw/example.com.zone");
        assert_eq!(
            not_a_file("example.com", path, NotAFile::Fifo),
            "zonerw: warning: example.com: '/var/lib/nsd/zonerw/example.com.zone' is a FIFO, not a zone file; it is not read, and is replaced"
        );
        assert_eq!(
            not_a_file("example.com", path, NotAFile::Directory),
            "zonerw: warning: example.com: '/var/lib/nsd/zonerw/example.com.zone' is a directory, not a zone file; zonerw cannot replace a directory: remove it"
        );
        let dir = Path::new("/var/lib/zonerw");
        let open = |mode| open_state_dir(dir, mode);
        assert_eq!(open(0o755), None);
        assert_eq!(open(0o700), None);
        assert_eq!(
            open(0o775).unwrap(),
            "zonerw: warning: the state directory /var/lib/zonerw is writable by its group (mode 0775); make it writable by its owner only: chmod go-w /var/lib/zonerw"
        );
        assert!(
            open(0o757)
                .unwrap()
                .contains("writable by others (mode 0757)")
        );
        assert!(
            open(0o1777)
                .unwrap()
                .contains("writable by its group and others (mode 1777)")
        );
        let argv = ["/etc/zonerw/on change".to_owned(), "x".to_owned()];
        assert_eq!(
            hook_failed(
                &argv,
                "exit status: 3",
                &["no route".into(), "giving up".into()]
            ),
            "zonerw: warning: on-change hook '/etc/zonerw/on change x' failed: exit status: 3: no route; giving up"
        );
        assert_eq!(
            hook_failed(&argv, "exit status: 3", &[]),
            "zonerw: warning: on-change hook '/etc/zonerw/on change x' failed: exit status: 3"
        );
    }

    #[test]
    fn the_wrong_user_is_told_the_command_to_run() {
        let args = [
            "zonerw".to_owned(),
            "--config".into(),
            "/etc/my zonerw.toml".into(),
            "--force".into(),
        ];
        assert_eq!(
            wrong_user(Path::new("/var/lib/zonerw"), "zonerw", "root", &args),
            "the state directory /var/lib/zonerw belongs to user zonerw, not to root, who runs this; run it as that user: sudo -u zonerw zonerw --config '/etc/my zonerw.toml' --force"
        );
        for (word, quoted) in [
            ("a-b_c./=:@%+,", "a-b_c./=:@%+,"),
            ("", "''"),
            ("it's", "'it'\\''s'"),
            ("$HOME", "'$HOME'"),
        ] {
            assert_eq!(shell_word(word), quoted);
        }
    }

    #[test]
    fn probe_answers_and_their_exit_status() {
        let failure = |reason: &str, local| Failure {
            reason: reason.into(),
            local,
        };
        let cases = [
            (
                Ok((204, Duration::from_millis(12))),
                "up: HTTP 204 in 12 ms",
                0,
            ),
            (
                Err(failure("connect: connection refused", false)),
                "down: connect: connection refused",
                1,
            ),
            (
                Err(failure("connect: network is unreachable", true)),
                "cannot test: connect: network is unreachable",
                3,
            ),
        ];
        for (result, line, code) in cases {
            assert_eq!(probe_answer(&result), (line.to_owned(), code));
        }
    }
}
