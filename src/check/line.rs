//! The lines of `zonerw check`, built from what was found: pure (no I/O), so every wording
//! and every fix is unit-tested.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use crate::command::{FALLBACK_DIRS, Found, NotFound};
use jiff::Timestamp;

use crate::config::{Pool, Server};
use crate::decide::{Maintenance, ProbeOutcome, choose};
use crate::dnssec::keys::{self, Key};
use crate::sigcheck::Validity;
use crate::state::{Drain, Pin, PoolState, held_words, rfc3339};

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Passed.
    Ok,
    /// Failed: the next run (or failover) would fail here.
    Fail,
    /// Could not be checked (says why); not a failure.
    Skip,
}

/// One check: a line `ok    WHAT`, `skip  WHAT` or `FAIL  WHAT`, a failure followed by a
/// line `      fix: FIX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The verdict.
    pub status: Status,
    /// What was checked and what was found.
    pub what: String,
    /// What to do about a failure.
    pub fix: Option<String>,
}

impl Line {
    /// A check that passed.
    pub fn ok(what: impl Into<String>) -> Line {
        Line {
            status: Status::Ok,
            what: what.into(),
            fix: None,
        }
    }

    /// A check that failed, with its fix.
    pub fn fail(what: impl Into<String>, fix: impl Into<String>) -> Line {
        Line {
            status: Status::Fail,
            what: what.into(),
            fix: Some(fix.into()),
        }
    }

    /// A check that could not be made.
    pub fn skip(what: impl Into<String>) -> Line {
        Line {
            status: Status::Skip,
            what: what.into(),
            fix: None,
        }
    }

    /// A failure from an error's text: its lines up to a `fix: ` line are what happened
    /// (joined with "; "), that line the fix (`otherwise` when there is none).
    pub fn from_error(about: &str, error: &str, otherwise: impl Into<String>) -> Line {
        let (what, fix) = split_fix(error);
        Line::fail(
            format!("{about}: {what}"),
            fix.unwrap_or_else(|| otherwise.into()),
        )
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.status {
            Status::Ok => "ok",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        };
        write!(f, "{label:<6}{}", self.what)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n      fix: {fix}")?;
        }
        Ok(())
    }
}

/// An error's text split into what happened (its lines joined with "; ") and the fix its
/// `fix: ` line gives, if any.
#[must_use]
pub fn split_fix(error: &str) -> (String, Option<String>) {
    let mut what = Vec::new();
    let mut fix = None;
    for line in error.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.strip_prefix("fix: ") {
            Some(f) => fix = Some(f.to_owned()),
            None => what.push(line),
        }
    }
    (what.join("; "), fix)
}

/// The last line: how many checks failed (skipped ones are not counted as checks).
#[must_use]
pub fn summary(lines: &[Line]) -> String {
    let count = |s| lines.iter().filter(|l| l.status == s).count();
    let (failed, skipped) = (count(Status::Fail), count(Status::Skip));
    let checked = lines.len() - skipped;
    let mut text = if failed == 0 {
        format!("check: all {checked} passed")
    } else {
        format!("check: {failed} of {checked} failed")
    };
    if skipped > 0 {
        text.push_str(&format!(", {skipped} skipped"));
    }
    text
}

/// The first line: the config loaded, and what it holds. A config without a pool does
/// nothing at all: a failure.
#[must_use]
pub fn config(path: &Path, pools: &[Pool]) -> Line {
    let servers: usize = pools.iter().map(|p| p.servers.len()).sum();
    if pools.is_empty() {
        return Line::fail(
            format!("config {}: no pool configured", path.display()),
            "add a [[pool]] with its [[pool.server]] entries (see zonerw.toml(5)); \
             until then a run has nothing to decide",
        );
    }
    Line::ok(format!(
        "config {}: {}, {}",
        path.display(),
        crate::output::plural(pools.len(), "pool", "pools"),
        crate::output::plural(servers, "server", "servers"),
    ))
}

/// A template that loaded: the pools it follows (`uses`: marker names by pool).
#[must_use]
pub fn template(zone: &str, uses: &[(&str, Vec<String>)]) -> Line {
    if uses.is_empty() {
        return Line::ok(format!("template {zone}: uses no pool"));
    }
    let parts: Vec<String> = uses
        .iter()
        .map(|(pool, markers)| {
            let markers: Vec<String> = markers.iter().map(|m| format!("@{m}@")).collect();
            format!("{} of pool {pool}", markers.join(", "))
        })
        .collect();
    Line::ok(format!("template {zone}: {}", parts.join("; ")))
}

/// A template that did not load: the error names the file and line.
#[must_use]
pub fn broken_template(zone: &str, error: &str) -> Line {
    Line::fail(
        format!("template {zone}: {}", split_fix(error).0),
        format!(
            "correct the template; until then a run skips zone {zone} (exit 2) and NSD keeps \
             serving the installed file"
        ),
    )
}

/// Where a command of config key `key` (`[nsd] control`...) resolved: `name` as checks
/// name it (`nsd-control`, `witness ssh`).
#[must_use]
pub fn command(name: &str, key: &str, found: &Result<Found, NotFound>) -> Line {
    match found {
        Ok(Found::OnPath(p)) => Line::ok(format!("{name}: {}", p.display())),
        // Named by its path: it is there (the path is already in `name`).
        Ok(Found::AsWritten(_)) => Line::ok(format!("{name}: an executable file")),
        Ok(Found::InFallback(p)) => Line::ok(format!(
            "{name}: {} (not on PATH, but zonerw also looks in {FALLBACK_DIRS})",
            p.display()
        )),
        Err(e @ NotFound::Nowhere { .. }) => Line::fail(
            format!("{name}: {e}"),
            format!("install it, or give its absolute path in {key}"),
        ),
        Err(e @ NotFound::NotExecutable(_)) => Line::fail(
            format!("{name}: {e}"),
            format!("correct the path in {key}, or make the file executable"),
        ),
    }
}

/// A server choice a template was rendered with: for each pool it uses, the server.
pub type Choice<'a> = Vec<(&'a Pool, &'a Server)>;

/// `web=backup (198.51.100.7), mail=mx1 (192.0.2.25)`.
#[must_use]
pub fn describe(choice: &Choice<'_>) -> String {
    let parts: Vec<String> = choice
        .iter()
        .map(|(pool, server)| format!("{}={} ({})", pool.name, server.name, server.address()))
        .collect();
    parts.join(", ")
}

/// The zone's renderings all passed the `checker` (`nsd-checkzone`): `pools` are the
/// pools it follows.
#[must_use]
pub fn rendered_ok(checker: &str, zone: &str, pools: &[&Pool], renderings: usize) -> Line {
    if pools.is_empty() {
        return Line::ok(format!("{checker} {zone}: passes (it uses no pool)"));
    }
    let each: Vec<String> = pools
        .iter()
        .map(|p| {
            let names: Vec<&str> = p.servers.iter().map(|s| s.name.as_str()).collect();
            format!("{} ({})", p.name, names.join(", "))
        })
        .collect();
    Line::ok(format!(
        "{checker} {zone}: passes with each server of {} ({})",
        each.join(" and "),
        crate::output::plural(renderings, "rendering", "renderings")
    ))
}

/// The checker (`checker`, of `server`) rejected the zone rendered with `choice`: `error`
/// is its message, whose first line that is not the heading is quoted.
#[must_use]
pub fn rendered_fail(
    (checker, server): (&str, &str),
    zone: &str,
    choice: &Choice<'_>,
    template: &Path,
    error: &str,
) -> Line {
    let first = error
        .lines()
        .skip_while(|l| l.ends_with(':') && !l.starts_with(' '))
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or(error);
    let with = if choice.is_empty() {
        String::new()
    } else {
        format!(" with {}", describe(choice))
    };
    let when = if choice.is_empty() {
        "a run".to_owned()
    } else {
        format!("a run choosing {}", describe_servers(choice))
    };
    Line::fail(
        format!("{checker} {zone}{with}: {first}"),
        format!(
            "correct the template {}: as it is, {when} would not install {zone} ({server} \
             would keep serving the old zone)",
            template.display()
        ),
    )
}

fn describe_servers(choice: &Choice<'_>) -> String {
    let names: Vec<&str> = choice.iter().map(|(_, s)| s.name.as_str()).collect();
    names.join(" and ")
}

/// Where NSD reads `zone` from, against the file zonerw writes.
#[must_use]
pub fn zone_file(zone: &str, nsd_reads: Option<&Path>, ours: &Path, same: bool) -> Line {
    let set = format!(
        "set zonefile: {} for zone {zone} in nsd.conf and run nsd-control reconfig",
        ours.display()
    );
    match nsd_reads {
        None => Line::fail(
            format!("zone {zone}: NSD has no zonefile: for it"),
            format!("{set}, or zonerw's changes never reach NSD"),
        ),
        Some(file) if same => Line::ok(format!(
            "zone {zone}: NSD serves it from {}, the file zonerw writes",
            file.display()
        )),
        Some(file) => Line::fail(
            format!(
                "zone {zone}: NSD reads {}, but zonerw writes {}",
                file.display(),
                ours.display()
            ),
            format!(
                "{set}, or point zones in zonerw.toml at {}",
                file.parent()
                    .map_or_else(String::new, |p| p.display().to_string())
            ),
        ),
    }
}

/// A zone NSD does not serve yet: with `add-pattern`, zonerw adds it (`pattern_file`: the
/// file the pattern reads, `same` whether it is ours); without, a failure.
#[must_use]
pub fn unknown_zone(
    zone: &str,
    ours: &Path,
    add_pattern: Option<&str>,
    pattern_file: Option<(&Path, bool)>,
) -> Line {
    match (add_pattern, pattern_file) {
        (None, _) => Line::fail(
            format!("zone {zone}: NSD does not serve it"),
            format!(
                "add it to nsd.conf (zone: name: {zone}, zonefile: {}, plus its notify: and \
                 provide-xfr: lines) and run nsd-control reconfig, or set [nsd] add-pattern \
                 so that zonerw adds it",
                ours.display()
            ),
        ),
        (Some(p), None) => Line::ok(format!(
            "zone {zone}: unknown to NSD, will be added with pattern {p}"
        )),
        (Some(p), Some((file, true))) => Line::ok(format!(
            "zone {zone}: unknown to NSD, will be added with pattern {p}, whose zonefile is {}",
            file.display()
        )),
        (Some(p), Some((file, false))) => Line::fail(
            format!(
                "zone {zone}: unknown to NSD; pattern {p} would read it from {}, but zonerw \
                 writes {}",
                file.display(),
                ours.display()
            ),
            format!(
                "set zonefile: \"{}/%s.zone\" in pattern {p} of nsd.conf and run nsd-control \
                 reconfig",
                ours.parent()
                    .map_or_else(String::new, |d| d.display().to_string())
            ),
        ),
    }
}

/// What a `[verify]` server answered for each zone (`Ok(serial)` or what went wrong),
/// against the primary's serial (for a secondary). One line for a server that serves every
/// zone, else one failure per zone.
#[must_use]
pub fn verify(
    (role, name): (&str, &str),
    server: &str,
    answers: &[(&str, Result<u32, String>, Option<u32>)],
) -> Vec<Line> {
    let fix = match (role, name) {
        ("primary", "NSD") => "[verify] primary must be an address NSD listens on \
                               (ip-address: and port: in nsd.conf), and NSD must load the \
                               zone (see its log)"
            .to_owned(),
        ("primary", _) => format!(
            "[verify] primary must be an address {name} listens on, and {name} must load the \
             zone (see its log)"
        ),
        (_, "NSD") => format!(
            "make {server} a secondary of the zone (request-xfr: from this NSD, allow-notify:) \
             and this NSD notify it (notify:, provide-xfr:), or remove it from [verify] \
             secondaries"
        ),
        _ => format!(
            "make {server} a secondary of the zone that transfers it from this {name}, and \
             this {name} notify it, or remove it from [verify] secondaries"
        ),
    };
    let mut lines = Vec::new();
    for (zone, answer, primary) in answers {
        match (answer, primary) {
            (Err(what), _) => lines.push(Line::fail(
                format!("verify {role} {server}: {zone} {what}"),
                fix.clone(),
            )),
            (Ok(serial), Some(p)) if crate::serial::is_newer(*p, *serial) => {
                lines.push(Line::fail(
                    format!(
                        "verify {role} {server}: {zone} serial {serial}, older than the \
                         primary's {p}: it does not follow this {name}"
                    ),
                    fix.clone(),
                ));
            }
            _ => {}
        }
    }
    if lines.is_empty() {
        let what = match answers {
            [(zone, Ok(serial), _)] => format!("serves {zone} (serial {serial})"),
            _ => format!("serves all {} zones", answers.len()),
        };
        lines.push(Line::ok(format!("verify {role} {server}: {what}")));
    }
    lines
}

/// A pool's pin and drains, and its first server's probe: will the next failover happen?
/// A pin or a drain without an end is a failure (a forgotten one turns failover or
/// failback off); one with an end, or already expired, is fine. `now` tells expired ones.
#[must_use]
pub fn pool(
    pool: &Pool,
    outcomes: &[ProbeOutcome],
    state: Option<&PoolState>,
    now: Timestamp,
) -> Vec<Line> {
    if let Some(pin) = state.and_then(|s| s.pinned.as_ref()) {
        return vec![pinned(pool, pin, outcomes, now)];
    }
    let mut lines: Vec<Line> = pool
        .servers
        .iter()
        .filter_map(|server| {
            let drain = state.and_then(|s| s.drained.get(&server.name))?;
            Some(drained(&pool.name, &server.name, drain, now))
        })
        .collect();
    lines.push(first_server(pool, outcomes, state));
    lines
}

/// Whether a pin or drain ending at `until` has run out by `now`.
fn expired(until: Option<&str>, now: Timestamp) -> bool {
    until
        .and_then(|u| u.parse::<Timestamp>().ok())
        .is_some_and(|u| u <= now)
}

fn pinned(pool: &Pool, pin: &Pin, outcomes: &[ProbeOutcome], now: Timestamp) -> Line {
    let name = &pool.name;
    let what = format!(
        "pool {name}: pinned to {}{}",
        pin.server,
        held_words(&pin.since, pin.until.as_deref(), pin.reason.as_deref())
    );
    let down = pool
        .servers
        .iter()
        .zip(outcomes)
        .find(|(s, _)| s.name == pin.server)
        .map(|(_, o)| o)
        .filter(|o| !o.is_up());
    let unpin = format!("'zonerw unpin {name}' lets the probes choose again");
    if expired(pin.until.as_deref(), now) {
        Line::ok(format!("{what} (expired: the next run drops it)"))
    } else if let Some(down) = down {
        Line::fail(
            format!(
                "{what}: {} fails its check: {}",
                pin.server,
                down.describe()
            ),
            unpin,
        )
    } else if pin.until.is_some() {
        Line::ok(format!("{what}: the probes do not choose until then"))
    } else {
        Line::fail(
            format!("{what}, with no end: the probes do not choose, so there is no failover"),
            format!("{unpin} when the maintenance is over (a pin --for DURATION ends by itself)"),
        )
    }
}

fn drained(pool: &str, server: &str, drain: &Drain, now: Timestamp) -> Line {
    let what = format!(
        "pool {pool}: {server} drained{}",
        held_words(
            &drain.since,
            drain.until.as_deref(),
            drain.reason.as_deref()
        )
    );
    if expired(drain.until.as_deref(), now) {
        Line::ok(format!("{what} (expired: the next run drops it)"))
    } else if drain.until.is_some() {
        Line::ok(what)
    } else {
        Line::fail(
            format!("{what}, with no end: the pool does not return to it"),
            format!(
                "'zonerw undrain {pool} {server}' when the maintenance is over (a drain --for DURATION ends by itself)"
            ),
        )
    }
}

/// The probe of a pool's first server: a run fails over unless it is healthy (or drained).
fn first_server(pool: &Pool, outcomes: &[ProbeOutcome], state: Option<&PoolState>) -> Line {
    let name = &pool.name;
    let first = &pool.servers[0];
    if state.is_some_and(|s| s.drained.contains_key(&first.name)) {
        let probe = outcomes
            .first()
            .map_or_else(|| "not probed".to_owned(), ProbeOutcome::describe);
        return Line::ok(format!(
            "pool {name}: first server {} is drained ({probe})",
            first.name
        ));
    }
    match outcomes.first() {
        Some(ProbeOutcome::Up { status, latency }) => Line::ok(format!(
            "pool {name}: first server {} is up (HTTP {status} in {} ms)",
            first.name,
            latency.as_millis()
        )),
        Some(ProbeOutcome::Down { reason }) => {
            // Where a run would send the names: the same rule as a run's.
            let healthy: Vec<bool> = outcomes.iter().map(ProbeOutcome::is_up).collect();
            let current = state
                .and_then(|s| pool.servers.iter().position(|x| x.name == s.chosen))
                .or(Some(0));
            let next = choose(&healthy, &Maintenance::of(pool, state), current);
            let meanwhile = if healthy[next] {
                format!("meanwhile runs fail over to {}", pool.servers[next].name)
            } else {
                "no server is healthy, so runs keep the pool's current choice".to_owned()
            };
            Line::fail(
                format!("pool {name}: first server {} is down: {reason}", first.name),
                format!(
                    "bring {} back, or correct its check in zonerw.toml; {meanwhile}",
                    first.name
                ),
            )
        }
        Some(ProbeOutcome::Unchecked) | None => Line::ok(format!(
            "pool {name}: first server {} counts as healthy (no check configured)",
            first.name
        )),
    }
}

/// What was found in `[dnssec] keys` for a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneKeys<'a> {
    /// Its keys, read and sound (at least one KSK).
    Found(&'a [Key]),
    /// Key files are there, but one is broken, or no KSK: what is wrong.
    Broken(&'a str),
    /// No key file of the zone.
    Missing,
}

/// The `[dnssec] keys` directory could not be read: runs stop with a config error.
#[must_use]
pub fn dnssec_dir(dir: &Path, error: &str) -> Line {
    Line::fail(
        format!("dnssec keys {}: cannot read it: {error}", dir.display()),
        "make [dnssec] keys a directory this user can read (until then every run fails \
         with exit 2, touching nothing)",
    )
}

/// A zone's keys: `ok    dnssec example.com: KSK 35008, ZSK 37124 (algorithm 13)`, or what
/// is wrong with them. `signed`: the state says the installed zone is signed. None for a
/// zone without keys that is not signed (an unsigned zone, as without `[dnssec]`).
#[must_use]
pub fn dnssec_keys(zone: &str, dir: &Path, found: ZoneKeys<'_>, signed: bool) -> Option<Line> {
    let until = if signed {
        "until then each run fails for this zone (exit 1) and NSD keeps serving the signed \
         zone installed, whose signatures expire"
    } else {
        "until then each run fails for this zone (exit 1) and it is not installed"
    };
    match found {
        ZoneKeys::Found(keys) => Some(Line::ok(format!("dnssec {zone}: {}", keys::describe(keys)))),
        ZoneKeys::Broken(error) => Some(Line::fail(
            format!("dnssec {zone}: keys in {}: {error}", dir.display()),
            format!("repair or restore the key files (see the error); {until}"),
        )),
        ZoneKeys::Missing if signed => Some(Line::fail(
            format!(
                "dnssec {zone}: no K{zone}.+<alg>+<id>.key files in {}, but the installed zone \
                 is signed (a run never installs it unsigned)",
                dir.display()
            ),
            format!(
                "restore its keys into {}; or, to turn DNSSEC off for it, remove its DS at the \
                 parent, wait for the DS TTL to pass, and list it in [dnssec] unsigned; {until}",
                dir.display()
            ),
        )),
        ZoneKeys::Missing => None,
    }
}

/// The installed signatures of a signed zone, from the state's earliest expiration
/// `expiry` (None: none recorded yet), at `now`, with `[dnssec] refresh`: valid and when
/// the next re-sign is due, or expired / expiring within refresh although runs should
/// have re-signed them.
#[must_use]
pub fn signatures(
    zone: &str,
    expiry: Option<Timestamp>,
    now: Timestamp,
    refresh: Duration,
) -> Line {
    let Some(expiry) = expiry else {
        return Line::skip(format!(
            "signatures {zone}: none installed yet (the next run signs it)"
        ));
    };
    let fix = "a run should have re-signed it: look at the last runs' errors (the system log \
               of the zonerw timer, zonerw status), fix them, and run zonerw";
    let refresh_words = crate::duration::format_long(refresh);
    if expiry < now {
        return Line::fail(
            format!(
                "signatures {zone}: expired at {}: validating resolvers answer SERVFAIL for \
                 the zone",
                rfc3339(expiry)
            ),
            fix,
        );
    }
    if crate::plan::resign_due(expiry, now.as_second(), refresh) {
        return Line::fail(
            format!(
                "signatures {zone}: expire at {}, within refresh {refresh_words}, and no run \
                 re-signed them",
                rfc3339(expiry)
            ),
            fix,
        );
    }
    let refresh_secs = i64::try_from(refresh.as_secs()).unwrap_or(i64::MAX);
    let due = Timestamp::from_second(expiry.as_second().saturating_sub(refresh_secs))
        .unwrap_or(Timestamp::MIN);
    Line::ok(format!(
        "signatures {zone}: valid until {}; re-signed by the first run after {}",
        rfc3339(expiry),
        rfc3339(due)
    ))
}

/// The SOA signatures a `[verify]` server serves for the signed zones, `answers`: (zone,
/// serial served, what its RRSIGs say now). One line when all are valid, else one failure per
/// zone whose signature is not. Nothing when no signed zone was answered.
#[must_use]
pub fn verify_signatures(role: &str, server: &str, answers: &[(&str, u32, Validity)]) -> Vec<Line> {
    let fix = if role == "primary" {
        "run zonerw: a run re-signs a zone whose signatures expire within [dnssec] refresh \
         (see the signatures lines); is this host's clock right, and does anything else write \
         the zone file?"
            .to_owned()
    } else {
        format!(
            "{server} must transfer the zone's new versions from this NSD (see the serial \
             lines), and its clock must be right"
        )
    };
    let failures: Vec<Line> = answers
        .iter()
        .filter(|(_, _, validity)| !validity.is_valid())
        .map(|(zone, serial, validity)| {
            Line::fail(
                format!(
                    "verify {role} {server}: {zone} {}",
                    crate::verify::signature_problem(*serial, *validity)
                ),
                fix.clone(),
            )
        })
        .collect();
    if !failures.is_empty() {
        return failures;
    }
    let earliest = answers
        .iter()
        .filter_map(|(zone, _, validity)| match validity {
            Validity::Valid { until } => Some((*until, *zone)),
            _ => None,
        })
        .min();
    match (answers, earliest) {
        ([(zone, _, _)], Some((until, _))) => vec![Line::ok(format!(
            "verify {role} {server}: {zone}'s SOA signature valid until {}",
            rfc3339(until)
        ))],
        (_, Some((until, zone))) => vec![Line::ok(format!(
            "verify {role} {server}: the SOA signatures of all {} signed zones are valid \
             (the first to expire: {zone}'s, at {})",
            answers.len(),
            rfc3339(until)
        ))],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::testing;

    fn key(tag: u16, flags: u16) -> Key {
        Key {
            base: PathBuf::from(format!("/etc/zonerw/keys/Kexample.com.+013+{tag}")),
            flags,
            algorithm: 13,
            tag,
        }
    }

    #[test]
    fn dnssec_keys_lines() {
        let dir = Path::new("/etc/zonerw/keys");
        let keys = [key(35_008, 257), key(37_124, 256)];
        let shown =
            |found, signed| dnssec_keys("example.com", dir, found, signed).map(|l| l.to_string());
        assert_eq!(
            shown(ZoneKeys::Found(&keys), true).as_deref(),
            Some("ok    dnssec example.com: KSK 35008, ZSK 37124 (algorithm 13)")
        );
        assert_eq!(shown(ZoneKeys::Missing, false), None, "an unsigned zone");
        assert_eq!(
            shown(ZoneKeys::Missing, true).as_deref(),
            Some(
                "FAIL  dnssec example.com: no Kexample.com.+<alg>+<id>.key files in /etc/zonerw/keys, but the installed zone is signed (a run never installs it unsigned)\n      fix: restore its keys into /etc/zonerw/keys; or, to turn DNSSEC off for it, remove its DS at the parent, wait for the DS TTL to pass, and list it in [dnssec] unsigned; until then each run fails for this zone (exit 1) and NSD keeps serving the signed zone installed, whose signatures expire"
            )
        );
        assert_eq!(
            shown(
                ZoneKeys::Broken("no KSK among the keys (37124): ..."),
                false
            )
            .as_deref(),
            Some(
                "FAIL  dnssec example.com: keys in /etc/zonerw/keys: no KSK among the keys (37124): ...\n      fix: repair or restore the key files (see the error); until then each run fails for this zone (exit 1) and it is not installed"
            )
        );
        assert_eq!(
            dnssec_dir(dir, "Permission denied (os error 13)").to_string(),
            "FAIL  dnssec keys /etc/zonerw/keys: cannot read it: Permission denied (os error 13)\n      fix: make [dnssec] keys a directory this user can read (until then every run fails with exit 2, touching nothing)"
        );
    }

    #[test]
    fn signatures_lines() {
        let at = |t: &str| t.parse::<Timestamp>().unwrap();
        let now = at("2026-12-01T00:00:00Z");
        let refresh = Duration::from_hours(120);
        let shown = |expiry: Option<&str>| {
            signatures("example.com", expiry.map(at), now, refresh).to_string()
        };
        assert_eq!(
            shown(Some("2026-12-13T16:40:06Z")),
            "ok    signatures example.com: valid until 2026-12-13T16:40:06Z; re-signed by the first run after 2026-12-08T16:40:06Z"
        );
        let fix = "\n      fix: a run should have re-signed it: look at the last runs' errors (the system log of the zonerw timer, zonerw status), fix them, and run zonerw";
        assert_eq!(
            shown(Some("2026-12-05T00:00:00Z")),
            format!(
                "FAIL  signatures example.com: expire at 2026-12-05T00:00:00Z, within refresh 5d, and no run re-signed them{fix}"
            )
        );
        // Now itself is within refresh, not expired yet.
        assert!(
            shown(Some("2026-12-01T00:00:00Z"))
                .starts_with("FAIL  signatures example.com: expire at ")
        );
        assert_eq!(
            shown(Some("2026-11-30T23:59:59Z")),
            format!(
                "FAIL  signatures example.com: expired at 2026-11-30T23:59:59Z: validating resolvers answer SERVFAIL for the zone{fix}"
            )
        );
        assert_eq!(
            shown(None),
            "skip  signatures example.com: none installed yet (the next run signs it)"
        );
    }

    #[test]
    fn verify_signature_lines() {
        let at = |t: &str| t.parse::<Timestamp>().unwrap();
        let shown = |lines: Vec<Line>| lines.iter().map(ToString::to_string).collect::<Vec<_>>();
        let valid = |t| Validity::Valid { until: at(t) };
        assert_eq!(
            shown(verify_signatures(
                "primary",
                "127.0.0.1:53",
                &[("a.example", 7, valid("2026-12-13T16:40:06Z"))]
            )),
            [
                "ok    verify primary 127.0.0.1:53: a.example's SOA signature valid until 2026-12-13T16:40:06Z"
            ]
        );
        assert_eq!(
            shown(verify_signatures(
                "secondary",
                "192.0.2.1:53",
                &[
                    ("a.example", 7, valid("2026-12-13T16:40:06Z")),
                    ("b.example", 9, valid("2026-12-10T00:00:00Z")),
                ]
            )),
            [
                "ok    verify secondary 192.0.2.1:53: the SOA signatures of all 2 signed zones are valid (the first to expire: b.example's, at 2026-12-10T00:00:00Z)"
            ]
        );
        assert_eq!(
            shown(verify_signatures(
                "primary",
                "127.0.0.1:53",
                &[
                    ("a.example", 7, valid("2026-12-13T16:40:06Z")),
                    (
                        "b.example",
                        9,
                        Validity::Expired {
                            at: at("2026-11-10T00:00:00Z")
                        }
                    ),
                ]
            )),
            [
                "FAIL  verify primary 127.0.0.1:53: b.example serves serial 9 but its SOA signature expired at 2026-11-10T00:00:00Z\n      fix: run zonerw: a run re-signs a zone whose signatures expire within [dnssec] refresh (see the signatures lines); is this host's clock right, and does anything else write the zone file?"
            ]
        );
        let got = shown(verify_signatures(
            "secondary",
            "192.0.2.1:53",
            &[("a.example", 7, Validity::NoRrsig)],
        ));
        assert_eq!(
            got,
            [
                "FAIL  verify secondary 192.0.2.1:53: a.example serves serial 7 but its SOA has no RRSIG (unsigned, or the DO bit ignored)\n      fix: 192.0.2.1:53 must transfer the zone's new versions from this NSD (see the serial lines), and its clock must be right"
            ]
        );
        assert!(verify_signatures("primary", "127.0.0.1:53", &[]).is_empty());
    }

    #[test]
    fn lines_and_the_summary() {
        let lines = [
            Line::ok("nsd-control: /usr/sbin/nsd-control"),
            Line::fail("zone a.example: NSD does not serve it", "add it"),
            Line::skip("zone files NSD reads: unknown"),
        ];
        let shown: Vec<String> = lines.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "ok    nsd-control: /usr/sbin/nsd-control",
                "FAIL  zone a.example: NSD does not serve it\n      fix: add it",
                "skip  zone files NSD reads: unknown",
            ]
        );
        assert_eq!(summary(&lines), "check: 1 of 2 failed, 1 skipped");
        assert_eq!(summary(&lines[..1]), "check: all 1 passed");
        assert_eq!(
            summary(&[lines[0].clone(), lines[2].clone()]),
            "check: all 1 passed, 1 skipped"
        );
    }

    #[test]
    fn an_errors_fix_line_becomes_the_fix() {
        let line = Line::from_error(
            "nsd-control status",
            "'nsd-control status' failed (exit status: 1): error: connect (/run/nsd/nsd.ctl): Permission denied\nfix: add zonerw to group nsd",
            "see the error",
        );
        assert_eq!(
            line.to_string(),
            "FAIL  nsd-control status: 'nsd-control status' failed (exit status: 1): error: connect (/run/nsd/nsd.ctl): Permission denied\n      fix: add zonerw to group nsd"
        );
        let line = Line::from_error("x", "one\ntwo\n", "see the error");
        assert_eq!(
            line.to_string(),
            "FAIL  x: one; two\n      fix: see the error"
        );
    }

    #[test]
    fn a_config_without_a_pool_fails() {
        let path = Path::new("/etc/zonerw/zonerw.toml");
        let fixture = testing::config();
        assert_eq!(
            config(path, &fixture.pools).to_string(),
            "ok    config /etc/zonerw/zonerw.toml: 1 pool, 2 servers"
        );
        assert_eq!(
            config(path, &[]).to_string(),
            "FAIL  config /etc/zonerw/zonerw.toml: no pool configured\n      fix: add a [[pool]] with its [[pool.server]] entries (see zonerw.toml(5)); until then a run has nothing to decide"
        );
    }

    #[test]
    fn templates() {
        assert_eq!(
            template("example.com", &[("web", vec!["IP".into(), "IP6".into()])]).to_string(),
            "ok    template example.com: @IP@, @IP6@ of pool web"
        );
        assert_eq!(
            template("example.com", &[]).to_string(),
            "ok    template example.com: uses no pool"
        );
        assert_eq!(
            broken_template("example.com", "/t/example.com.zone:3: @IP6@ is used, but server \"main\" of pool \"web\" has no ipv6 address").to_string(),
            "FAIL  template example.com: /t/example.com.zone:3: @IP6@ is used, but server \"main\" of pool \"web\" has no ipv6 address\n      fix: correct the template; until then a run skips zone example.com (exit 2) and NSD keeps serving the installed file"
        );
    }

    #[test]
    fn commands_say_where_they_resolved() {
        let cases = [
            (
                Ok(Found::OnPath("/usr/sbin/nsd-control".into())),
                "ok    nsd-control: /usr/sbin/nsd-control",
            ),
            (
                Ok(Found::AsWritten("/usr/sbin/nsd-control".into())),
                "ok    nsd-control: an executable file",
            ),
            (
                Ok(Found::InFallback("/usr/sbin/nsd-control".into())),
                "ok    nsd-control: /usr/sbin/nsd-control (not on PATH, but zonerw also looks in /usr/local/sbin:/usr/sbin:/sbin)",
            ),
            (
                Err(NotFound::Nowhere {
                    path: "/usr/bin:/bin".into(),
                }),
                "FAIL  nsd-control: not found on PATH (/usr/bin:/bin) nor in /usr/local/sbin:/usr/sbin:/sbin\n      fix: install it, or give its absolute path in [nsd] control",
            ),
            (
                Err(NotFound::NotExecutable("/opt/nsd-control".into())),
                "FAIL  nsd-control: /opt/nsd-control is not an executable file\n      fix: correct the path in [nsd] control, or make the file executable",
            ),
        ];
        for (found, want) in cases {
            assert_eq!(
                command("nsd-control", "[nsd] control", &found).to_string(),
                want
            );
        }
    }

    #[test]
    fn renderings() {
        let config = testing::config();
        let web = &config.pools[0];
        assert_eq!(
            rendered_ok("nsd-checkzone", "example.com", &[web], 2).to_string(),
            "ok    nsd-checkzone example.com: passes with each server of web (main, backup) (2 renderings)"
        );
        assert_eq!(
            rendered_ok("nsd-checkzone", "example.com", &[], 1).to_string(),
            "ok    nsd-checkzone example.com: passes (it uses no pool)"
        );
        let choice = vec![(web, &web.servers[1])];
        let error = "example.com: nsd-checkzone rejected the rendered zone; it was not installed and NSD keeps serving the old one:\n  /t/example.com.zone:2: invalid IPv4 address '198.51.100.700'\n  zone example.com file /t/example.com.zone has 1 errors";
        assert_eq!(
            rendered_fail(
                ("nsd-checkzone", "NSD"),
                "example.com",
                &choice,
                Path::new("/t/example.com.zone"),
                error
            )
            .to_string(),
            "FAIL  nsd-checkzone example.com with web=backup (198.51.100.7): /t/example.com.zone:2: invalid IPv4 address '198.51.100.700'\n      fix: correct the template /t/example.com.zone: as it is, a run choosing backup would not install example.com (NSD would keep serving the old zone)"
        );
    }

    #[test]
    fn zone_files() {
        let ours = PathBuf::from("/var/lib/nsd/zonerw/example.com.zone");
        assert_eq!(
            zone_file("example.com", Some(&ours), &ours, true).to_string(),
            "ok    zone example.com: NSD serves it from /var/lib/nsd/zonerw/example.com.zone, the file zonerw writes"
        );
        assert_eq!(
            zone_file(
                "example.com",
                Some(Path::new("/etc/nsd/example.com.zone")),
                &ours,
                false
            )
            .to_string(),
            "FAIL  zone example.com: NSD reads /etc/nsd/example.com.zone, but zonerw writes /var/lib/nsd/zonerw/example.com.zone\n      fix: set zonefile: /var/lib/nsd/zonerw/example.com.zone for zone example.com in nsd.conf and run nsd-control reconfig, or point zones in zonerw.toml at /etc/nsd"
        );
        assert!(
            zone_file("example.com", None, &ours, false)
                .to_string()
                .starts_with("FAIL  zone example.com: NSD has no zonefile: for it\n")
        );
        assert_eq!(
            unknown_zone("example.com", &ours, None, None).to_string(),
            "FAIL  zone example.com: NSD does not serve it\n      fix: add it to nsd.conf (zone: name: example.com, zonefile: /var/lib/nsd/zonerw/example.com.zone, plus its notify: and provide-xfr: lines) and run nsd-control reconfig, or set [nsd] add-pattern so that zonerw adds it"
        );
        assert_eq!(
            unknown_zone("example.com", &ours, Some("zonerw"), Some((&ours, true))).to_string(),
            "ok    zone example.com: unknown to NSD, will be added with pattern zonerw, whose zonefile is /var/lib/nsd/zonerw/example.com.zone"
        );
        assert_eq!(
            unknown_zone("example.com", &ours, Some("zonerw"), None).to_string(),
            "ok    zone example.com: unknown to NSD, will be added with pattern zonerw"
        );
        assert_eq!(
            unknown_zone(
                "example.com",
                &ours,
                Some("zonerw"),
                Some((Path::new("/etc/nsd/example.com.zone"), false))
            )
            .to_string(),
            "FAIL  zone example.com: unknown to NSD; pattern zonerw would read it from /etc/nsd/example.com.zone, but zonerw writes /var/lib/nsd/zonerw/example.com.zone\n      fix: set zonefile: \"/var/lib/nsd/zonerw/%s.zone\" in pattern zonerw of nsd.conf and run nsd-control reconfig"
        );
    }

    #[test]
    fn verify_servers() {
        let shown = |lines: Vec<Line>| lines.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(
            shown(verify(
                ("primary", "NSD"),
                "127.0.0.1:53",
                &[("a.example", Ok(7), None)]
            )),
            ["ok    verify primary 127.0.0.1:53: serves a.example (serial 7)"]
        );
        assert_eq!(
            shown(verify(
                ("secondary", "NSD"),
                "192.0.2.1:53",
                &[("a.example", Ok(7), Some(7)), ("b.example", Ok(8), Some(7))]
            )),
            ["ok    verify secondary 192.0.2.1:53: serves all 2 zones"]
        );
        let got = shown(verify(
            ("secondary", "NSD"),
            "192.0.2.1:53",
            &[
                ("a.example", Err("answers REFUSED".into()), Some(7)),
                ("b.example", Ok(6), Some(7)),
                ("c.example", Ok(9), None),
            ],
        ));
        assert_eq!(got.len(), 2);
        assert!(got[0].starts_with("FAIL  verify secondary 192.0.2.1:53: a.example answers REFUSED\n      fix: make 192.0.2.1:53 a secondary of the zone"), "{got:?}");
        assert!(got[1].starts_with("FAIL  verify secondary 192.0.2.1:53: b.example serial 6, older than the primary's 7: it does not follow this NSD\n"), "{got:?}");
        let got = shown(verify(
            ("primary", "NSD"),
            "127.0.0.1:53",
            &[("a.example", Err("gives no answer".into()), None)],
        ));
        assert_eq!(
            got,
            [
                "FAIL  verify primary 127.0.0.1:53: a.example gives no answer\n      fix: [verify] primary must be an address NSD listens on (ip-address: and port: in nsd.conf), and NSD must load the zone (see its log)"
            ]
        );
    }

    #[test]
    fn pools_by_their_first_server() {
        let config = testing::config();
        let web = &config.pools[0];
        let now = Timestamp::UNIX_EPOCH;
        let text = |lines: Vec<Line>| {
            lines
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(
            text(pool(
                web,
                &[testing::up(), ProbeOutcome::Unchecked],
                None,
                now
            )),
            "ok    pool web: first server main is up (HTTP 200 in 3 ms)"
        );
        assert_eq!(
            text(pool(
                web,
                &[testing::down(), ProbeOutcome::Unchecked],
                None,
                now
            )),
            "FAIL  pool web: first server main is down: failed 2/2 attempts: connect: refused\n      fix: bring main back, or correct its check in zonerw.toml; meanwhile runs fail over to backup"
        );
        let both_down = [testing::down(), ProbeOutcome::Down { reason: "x".into() }];
        assert!(
            text(pool(web, &both_down, None, now))
                .ends_with("no server is healthy, so runs keep the pool's current choice")
        );
    }

    #[test]
    fn pins_and_drains_without_an_end_fail_and_a_drained_first_server_may_be_down() {
        use crate::state::{Drain, Pin};
        let config = testing::config();
        let web = &config.pools[0];
        let now: Timestamp = "2026-11-29T12:00:00Z".parse().unwrap();
        let text = |lines: Vec<Line>| {
            lines
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        };
        let pinned = |until: Option<&str>| PoolState {
            chosen: "backup".into(),
            pinned: Some(Pin {
                server: "backup".into(),
                since: "2026-11-29T09:00:00Z".into(),
                until: until.map(Into::into),
                reason: Some("patching".into()),
            }),
            ..PoolState::default()
        };
        let up = [testing::up(), ProbeOutcome::Unchecked];
        let cases = [
            (
                pinned(None),
                "FAIL  pool web: pinned to backup since 2026-11-29T09:00:00Z: patching, with no end: the probes do not choose, so there is no failover\n      fix: 'zonerw unpin web' lets the probes choose again when the maintenance is over (a pin --for DURATION ends by itself)",
            ),
            (
                pinned(Some("2026-11-29T13:00:00Z")),
                "ok    pool web: pinned to backup since 2026-11-29T09:00:00Z until 2026-11-29T13:00:00Z: patching: the probes do not choose until then",
            ),
            (
                pinned(Some("2026-11-29T12:00:00Z")),
                "ok    pool web: pinned to backup since 2026-11-29T09:00:00Z until 2026-11-29T12:00:00Z: patching (expired: the next run drops it)",
            ),
        ];
        for (state, want) in cases {
            assert_eq!(text(pool(web, &up, Some(&state), now)), want);
        }
        // A pin to a server that fails its check.
        let mut state = pinned(Some("2026-11-29T13:00:00Z"));
        state.pinned.as_mut().unwrap().server = "main".into();
        assert_eq!(
            text(pool(
                web,
                &[testing::down(), ProbeOutcome::Unchecked],
                Some(&state),
                now
            )),
            "FAIL  pool web: pinned to main since 2026-11-29T09:00:00Z until 2026-11-29T13:00:00Z: patching: main fails its check: down, failed 2/2 attempts: connect: refused\n      fix: 'zonerw unpin web' lets the probes choose again"
        );

        // main drained and down for patching: no failure, unless the drain has no end.
        let drained = |until: Option<&str>| {
            let mut state = PoolState {
                chosen: "backup".into(),
                ..PoolState::default()
            };
            state.drained.insert(
                "main".into(),
                Drain {
                    since: "2026-11-29T09:00:00Z".into(),
                    until: until.map(Into::into),
                    reason: None,
                },
            );
            state
        };
        let down = [testing::down(), ProbeOutcome::Unchecked];
        assert_eq!(
            text(pool(
                web,
                &down,
                Some(&drained(Some("2026-11-30T00:00:00Z"))),
                now
            )),
            "ok    pool web: main drained since 2026-11-29T09:00:00Z until 2026-11-30T00:00:00Z\n\
             ok    pool web: first server main is drained (down, failed 2/2 attempts: connect: refused)"
        );
        assert_eq!(
            text(pool(web, &down, Some(&drained(None)), now)),
            "FAIL  pool web: main drained since 2026-11-29T09:00:00Z, with no end: the pool does not return to it\n      \
             fix: 'zonerw undrain web main' when the maintenance is over (a drain --for DURATION ends by itself)\n\
             ok    pool web: first server main is drained (down, failed 2/2 attempts: connect: refused)"
        );
    }
}
