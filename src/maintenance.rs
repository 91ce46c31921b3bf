//! Planned maintenance without editing files: `zonerw pin|unpin|drain|undrain`.
//!
//! A request is checked against the config ([`Change::check`]), then recorded in
//! state.json and history.jsonl under the run lock by the run that follows it
//! ([`record`], between the probes and the decision), so the names move at once. Each run
//! first drops the pins and drains that ran out or whose server left the config
//! ([`expire`]). What a pin or a drain means for the choice is `decide`'s. Everything here
//! is pure; the command's shell (record, then a run) is in `lib.rs`.

use std::time::Duration;

use jiff::Timestamp;

use crate::cli::Command;
use crate::config::{Config, Pool};
use crate::decide::{self, ProbeOutcome};
use crate::error::{Error, Result};
use crate::state::{Drain, EndCause, HistoryEntry, Pin, PoolState, STATE_VERSION, State, rfc3339};

/// What the operator asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `zonerw pin POOL SERVER`.
    Pin {
        /// The pool.
        pool: String,
        /// The server.
        server: String,
        /// When it ends by itself.
        until: Option<Timestamp>,
        /// Why.
        reason: Option<String>,
    },
    /// `zonerw unpin POOL`.
    Unpin {
        /// The pool.
        pool: String,
    },
    /// `zonerw drain POOL SERVER`.
    Drain {
        /// The pool.
        pool: String,
        /// The server.
        server: String,
        /// When it ends by itself.
        until: Option<Timestamp>,
        /// Why.
        reason: Option<String>,
        /// Drain it even if no other server is healthy and not drained.
        force: bool,
    },
    /// `zonerw undrain POOL SERVER`.
    Undrain {
        /// The pool.
        pool: String,
        /// The server.
        server: String,
    },
}

pub use crate::state::{Ended, Kind};

/// The longest `--for`: a pin or drain meant to last longer needs no deadline at all.
const LONGEST: Duration = Duration::from_hours(24 * 366);

/// Parse `--for`: whole numbers with a unit, `s`, `m`, `h` or `d`, one or more of them
/// (`90s`, `2h`, `1h30m`, `7d`).
pub fn parse_for(text: &str) -> std::result::Result<Duration, String> {
    let total = crate::duration::parse_long(text, Duration::MAX)?;
    if total > LONGEST {
        return Err(format!(
            "invalid duration {text:?}: at most 366d (without --for it lasts until it is undone)"
        ));
    }
    Ok(total)
}

/// The deadline `duration` after `now`, on a whole second (rounded up, as state.json
/// writes times to the second: it never ends early).
#[must_use]
pub fn deadline(now: Timestamp, duration: Duration) -> Timestamp {
    let seconds = i64::try_from(duration.as_secs()).unwrap_or(i64::MAX);
    let whole = now.as_second() + i64::from(now.subsec_nanosecond() > 0);
    Timestamp::from_second(whole.saturating_add(seconds)).unwrap_or(Timestamp::MAX)
}

/// The longest `--reason`, in characters.
const MAX_REASON: usize = 200;

/// A reason as given on the command line: trimmed, "" is none, and one line of printable
/// text (it is printed in run output and in `status`).
fn reason(text: Option<&str>) -> Result<Option<String>> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    // Bidirectional and zero-width formatting characters would make the printed line
    // read otherwise than it is written (a terminal shows them, a mail too).
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
    };
    if text.chars().any(hidden) {
        return Err(Error::Usage(
            "--reason: one line of text, without control or text-direction characters".into(),
        ));
    }
    if text.chars().count() > MAX_REASON {
        return Err(Error::Usage(format!(
            "--reason: at most {MAX_REASON} characters (a short note; details belong in a ticket)"
        )));
    }
    Ok(Some(text.to_owned()))
}

impl Change {
    /// The change a maintenance subcommand asks for (`now`: when `--for` starts), or None for
    /// another subcommand.
    pub(crate) fn from_command(command: &Command, now: Timestamp) -> Result<Option<Change>> {
        let until = |text: &Option<String>| -> Result<Option<Timestamp>> {
            text.as_deref()
                .map(|t| {
                    parse_for(t)
                        .map(|d| deadline(now, d))
                        .map_err(|m| Error::Usage(format!("--for: {m}")))
                })
                .transpose()
        };
        Ok(Some(match command {
            Command::Pin {
                pool,
                server,
                duration,
                reason: why,
            } => Change::Pin {
                pool: pool.clone(),
                server: server.clone(),
                until: until(duration)?,
                reason: reason(why.as_deref())?,
            },
            Command::Unpin { pool } => Change::Unpin { pool: pool.clone() },
            Command::Drain {
                pool,
                server,
                duration,
                reason: why,
                force,
            } => Change::Drain {
                pool: pool.clone(),
                server: server.clone(),
                until: until(duration)?,
                reason: reason(why.as_deref())?,
                force: *force,
            },
            Command::Undrain { pool, server } => Change::Undrain {
                pool: pool.clone(),
                server: server.clone(),
            },
            _ => return Ok(None),
        }))
    }

    /// The pool it is about.
    #[must_use]
    pub fn pool(&self) -> &str {
        match self {
            Change::Pin { pool, .. }
            | Change::Unpin { pool }
            | Change::Drain { pool, .. }
            | Change::Undrain { pool, .. } => pool,
        }
    }

    /// The server it is about (None for `unpin`).
    #[must_use]
    pub fn server(&self) -> Option<&str> {
        match self {
            Change::Pin { server, .. }
            | Change::Drain { server, .. }
            | Change::Undrain { server, .. } => Some(server),
            Change::Unpin { .. } => None,
        }
    }

    /// The configured pool it names, or a usage error naming the pools (and its server, or
    /// one naming the pool's servers).
    pub fn check<'a>(&self, config: &'a Config) -> Result<&'a Pool> {
        let names = |names: Vec<&str>| names.join(", ");
        let pool = config
            .pools
            .iter()
            .find(|p| p.name == self.pool())
            .ok_or_else(|| {
                let known = names(config.pools.iter().map(|p| p.name.as_str()).collect());
                Error::Usage(if known.is_empty() {
                    format!("unknown pool '{}': the config has no pools", self.pool())
                } else {
                    format!("unknown pool '{}'; the pools are: {known}", self.pool())
                })
            })?;
        if let Some(server) = self.server()
            && !pool.servers.iter().any(|s| s.name == server)
        {
            let known = names(pool.servers.iter().map(|s| s.name.as_str()).collect());
            return Err(Error::Usage(format!(
                "pool {} has no server '{server}'; its servers are: {known}",
                pool.name
            )));
        }
        Ok(pool)
    }
}

/// What recording a change led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The state with the change (the old one when it changes nothing).
    pub state: State,
    /// Its history entry; None when it changes nothing (the state is then not written).
    pub entry: Option<HistoryEntry>,
    /// What to print.
    pub line: String,
    /// The pin or drain it ended, for the reason of the switch that follows.
    pub ended: Option<Ended>,
}

/// Record `change` into `old` at `now`. `outcomes` are this run's probe outcomes,
/// `[pool][server]`: a drain is refused (a usage error, nothing recorded) unless another
/// server of the pool is healthy, after this run's probe is counted, and not drained, or
/// `--force`.
pub fn record(
    config: &Config,
    old: Option<&State>,
    change: &Change,
    outcomes: &[Vec<ProbeOutcome>],
    now: Timestamp,
) -> Result<Recorded> {
    let pool = change.check(config)?;
    let outcomes = config
        .pools
        .iter()
        .position(|p| p.name == pool.name)
        .and_then(|i| outcomes.get(i))
        .map_or(&[][..], Vec::as_slice);
    let mut state = old.cloned().unwrap_or_else(|| State {
        version: STATE_VERSION,
        ..State::default()
    });
    let before = state.pools.get(&pool.name);
    let edit = Edit {
        pool: &pool.name,
        time: rfc3339(now),
        // Before a pool's first run its state is that of the first server chosen, as
        // `decide` starts from.
        state: before
            .cloned()
            .unwrap_or_else(|| decide::hold(pool, None).state),
        ran_out: before.map(|b| expire(pool, b, now).1).unwrap_or_default(),
    };
    let (ps, done) = match change {
        Change::Pin {
            server,
            until,
            reason,
            ..
        } => edit.pin(server, *until, reason.as_deref()),
        Change::Unpin { .. } => edit.unpin(),
        Change::Drain {
            server,
            until,
            reason,
            force,
            ..
        } => {
            // The drains in force: those that ran out are not (the run drops them).
            let in_force = before.map(|b| expire(pool, b, now).0);
            let forced = match last_healthy(pool, in_force.as_ref(), server, outcomes) {
                None => false,
                Some(_) if *force => true,
                Some(why) => {
                    return Err(Error::Usage(format!(
                        "pool {}: refusing to drain {server}: no other server is healthy and not drained ({why}). With --force the drain is recorded anyway, and the pool leaves {server} as soon as another server is healthy",
                        pool.name
                    )));
                }
            };
            edit.drain(server, *until, reason.as_deref(), forced)
        }
        Change::Undrain { server, .. } => edit.undrain(server),
    };
    Ok(match done {
        Ok((entry, ended)) => {
            state.pools.insert(pool.name.clone(), ps);
            state.last_run = Some(entry.time().to_owned());
            Recorded {
                state,
                line: entry.describe(),
                entry: Some(entry),
                ended,
            }
        }
        Err(line) => Recorded {
            state,
            entry: None,
            line,
            ended: None,
        },
    })
}

/// A pool's state being edited by a command at `time`.
struct Edit<'a> {
    pool: &'a str,
    time: String,
    state: PoolState,
    /// The pins and drains of `state` that ran out (the run after the edit drops them,
    /// with their history entries): as good as gone for the edit.
    ran_out: Vec<Ended>,
}

/// The pool's state after an edit, and its history entry (with what it ended), or, when
/// it changes nothing, the line that says so.
type Edited = (
    PoolState,
    std::result::Result<(HistoryEntry, Option<Ended>), String>,
);

impl Edit<'_> {
    fn pin(mut self, server: &str, until: Option<Timestamp>, reason: Option<&str>) -> Edited {
        let stale = self.ran_out(Kind::Pin, server);
        let since = self
            .state
            .pinned
            .as_ref()
            .filter(|p| p.server == server && !stale)
            .map_or_else(|| self.time.clone(), |p| p.since.clone());
        let pin = Pin {
            server: server.into(),
            since,
            until: until.map(rfc3339),
            reason: reason.map(Into::into),
        };
        let entry =
            (stale || self.state.pinned.as_ref() != Some(&pin)).then(|| HistoryEntry::Pin {
                time: self.time.clone(),
                pool: self.pool.into(),
                server: server.into(),
                until: pin.until.clone(),
                reason: pin.reason.clone(),
            });
        self.state.pinned = Some(pin);
        let line = || format!("{}: already pinned to {server}", self.pool);
        (self.state, entry.map(|e| (e, None)).ok_or_else(line))
    }

    fn unpin(mut self) -> Edited {
        if let Some(pin) = &self.state.pinned
            && self.ran_out(Kind::Pin, &pin.server)
        {
            let line = format!(
                "{}: not pinned (the pin to {} ran out; this run drops it)",
                self.pool, pin.server
            );
            return (self.state, Err(line));
        }
        let done = match self.state.pinned.take() {
            Some(pin) => Ok(self.ended(Kind::Pin, pin.server)),
            None => Err(format!("{}: not pinned", self.pool)),
        };
        (self.state, done)
    }

    fn drain(
        mut self,
        server: &str,
        until: Option<Timestamp>,
        reason: Option<&str>,
        forced: bool,
    ) -> Edited {
        let stale = self.ran_out(Kind::Drain, server);
        let since = self
            .state
            .drained
            .get(server)
            .filter(|_| !stale)
            .map_or_else(|| self.time.clone(), |d| d.since.clone());
        let drain = Drain {
            since,
            until: until.map(rfc3339),
            reason: reason.map(Into::into),
        };
        let entry = (stale || self.state.drained.get(server) != Some(&drain)).then(|| {
            HistoryEntry::Drain {
                time: self.time.clone(),
                pool: self.pool.into(),
                server: server.into(),
                until: drain.until.clone(),
                reason: drain.reason.clone(),
                forced,
            }
        });
        self.state.drained.insert(server.into(), drain);
        let line = || format!("{}: {server} already drained", self.pool);
        (self.state, entry.map(|e| (e, None)).ok_or_else(line))
    }

    fn undrain(mut self, server: &str) -> Edited {
        if self.state.drained.contains_key(server) && self.ran_out(Kind::Drain, server) {
            let line = format!(
                "{}: {server} is not drained (its drain ran out; this run drops it)",
                self.pool
            );
            return (self.state, Err(line));
        }
        let done = match self.state.drained.remove(server) {
            Some(_) => Ok(self.ended(Kind::Drain, server.into())),
            None => Err(format!("{}: {server} is not drained", self.pool)),
        };
        (self.state, done)
    }

    /// Whether the pin or drain of `server` ran out (or its server left the config).
    fn ran_out(&self, kind: Kind, server: &str) -> bool {
        self.ran_out
            .iter()
            .any(|e| e.kind == kind && e.server == server)
    }

    /// The entry of a pin or drain of `server` ended by the command.
    fn ended(&self, kind: Kind, server: String) -> (HistoryEntry, Option<Ended>) {
        let ended = Ended {
            kind,
            server,
            cause: EndCause::Command,
        };
        (ended.entry(&self.time, self.pool), Some(ended))
    }
}

/// Why draining `server` would leave the pool without a healthy server that is not drained
/// (each other server's state, in words), or None if it would not. Health is that after
/// this run's probe, as the decision sees it.
fn last_healthy(
    pool: &Pool,
    before: Option<&PoolState>,
    server: &str,
    outcomes: &[ProbeOutcome],
) -> Option<String> {
    let decided = decide::decide(pool, before, outcomes).state;
    let drained = |name: &str| before.is_some_and(|p| p.drained.contains_key(name));
    let mut why = Vec::new();
    for (s, outcome) in pool.servers.iter().zip(outcomes) {
        if s.name == server {
            continue;
        }
        if drained(&s.name) {
            why.push(format!("{} is drained", s.name));
        } else if decided.servers.get(&s.name).is_some_and(|st| st.healthy) {
            return None;
        } else {
            why.push(format!("{} is unhealthy: {}", s.name, outcome.describe()));
        }
    }
    Some(if why.is_empty() {
        "it is the pool's only server".into()
    } else {
        why.join("; ")
    })
}

/// Drop from a pool's state the pin and the drains that ran out by `now` (an unreadable
/// deadline counts as run out) or whose server is no longer in the pool; returns the state
/// without them, and what ended.
#[must_use]
pub fn expire(pool: &Pool, state: &PoolState, now: Timestamp) -> (PoolState, Vec<Ended>) {
    let end = |server: &str, until: Option<&str>| {
        if !pool.servers.iter().any(|s| s.name == server) {
            Some(EndCause::Unconfigured)
        } else if until.is_some_and(|u| u.parse::<Timestamp>().is_ok_and(|u| u > now)) {
            None
        } else {
            until.map(|_| EndCause::Expired)
        }
    };
    let mut kept = state.clone();
    let mut ended = Vec::new();
    if let Some(pin) = &state.pinned
        && let Some(cause) = end(&pin.server, pin.until.as_deref())
    {
        kept.pinned = None;
        ended.push(Ended {
            kind: Kind::Pin,
            server: pin.server.clone(),
            cause,
        });
    }
    for (server, drain) in &state.drained {
        if let Some(cause) = end(server, drain.until.as_deref()) {
            kept.drained.remove(server);
            ended.push(Ended {
                kind: Kind::Drain,
                server: server.clone(),
                cause,
            });
        }
    }
    (kept, ended)
}

#[cfg(test)]
#[allow(clippy::too_many_lines, reason = "tables of whole records")]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;
    use crate::testing::{down, up};

    /// Pool web (main checked, backup checked too) and pool mail (m1, m2 unchecked).
    fn config() -> Config {
        let text = r#"
[[pool]]
name = "web"
  [[pool.server]]
  name = "main"
  ipv4 = "192.0.2.1"
  check = "http://www.example.com/up"
  [[pool.server]]
  name = "backup"
  ipv4 = "198.51.100.7"
  check = "http://www.example.com/up"
[[pool]]
name = "mail"
marker = "MX"
  [[pool.server]]
  name = "m1"
  ipv4 = "192.0.2.25"
  [[pool.server]]
  name = "m2"
  ipv4 = "198.51.100.25"
"#;
        Config::parse(text, Path::new("/etc/zonerw/zonerw.toml")).unwrap()
    }

    fn at(time: &str) -> Timestamp {
        time.parse().unwrap()
    }

    const NOW: &str = "2026-11-29T10:00:00Z";

    #[test]
    fn durations_for_how_long() {
        let cases = [
            ("90s", Ok(90)),
            ("30m", Ok(1800)),
            ("2h", Ok(7200)),
            ("1h30m", Ok(5400)),
            ("7d", Ok(604_800)),
            ("366d", Ok(31_622_400)),
            ("1d1s", Ok(86401)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_for(text), want.map(Duration::from_secs), "{text}");
        }
        for bad in [
            "", "5", "h", "2x", "1.5h", "-1h", "2h 30m", "0s", "0h0m", "367d",
        ] {
            assert!(parse_for(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_for("2x").unwrap_err(),
            "invalid duration \"2x\": write e.g. \"30m\", \"2h\", \"1h30m\" or \"7d\""
        );
        assert_eq!(
            parse_for("400d").unwrap_err(),
            "invalid duration \"400d\": at most 366d (without --for it lasts until it is undone)"
        );
        assert!(parse_for("99999999999999999999d").is_err(), "no overflow");
    }

    #[test]
    fn a_deadline_is_on_a_whole_second_and_never_early() {
        let d = |now: &str, secs| rfc3339(deadline(at(now), Duration::from_secs(secs)));
        assert_eq!(d("2026-11-29T10:00:00Z", 2), "2026-11-29T10:00:02Z");
        assert_eq!(d("2026-11-29T10:00:00.001Z", 2), "2026-11-29T10:00:03Z");
        assert_eq!(d("2026-11-29T23:30:00Z", 3600), "2026-11-30T00:30:00Z");
    }

    #[test]
    fn unknown_pools_and_servers_are_named_with_the_known_ones() {
        let config = config();
        let undrain = |pool: &str, server: &str| Change::Undrain {
            pool: pool.into(),
            server: server.into(),
        };
        let e = undrain("www", "main").check(&config).unwrap_err();
        assert_eq!(
            (e.exit_code(), e.to_string().as_str()),
            (2, "unknown pool 'www'; the pools are: web, mail")
        );
        let e = undrain("web", "m1").check(&config).unwrap_err();
        assert_eq!(
            (e.exit_code(), e.to_string().as_str()),
            (
                2,
                "pool web has no server 'm1'; its servers are: main, backup"
            )
        );
        assert_eq!(undrain("mail", "m1").check(&config).unwrap().name, "mail");
        let unpin = Change::Unpin {
            pool: "mail".into(),
        };
        assert_eq!(unpin.check(&config).unwrap().name, "mail");
        let empty = Config::parse("", Path::new("/etc/zonerw/zonerw.toml")).unwrap();
        assert_eq!(
            unpin.check(&empty).unwrap_err().to_string(),
            "unknown pool 'mail': the config has no pools"
        );
    }

    #[test]
    fn the_command_line_becomes_a_change() {
        use clap::Parser;
        let change = |args: &[&str]| {
            let cli = crate::cli::Cli::try_parse_from(
                std::iter::once("zonerw").chain(args.iter().copied()),
            )
            .unwrap();
            Change::from_command(&cli.command.unwrap(), at("2026-11-29T10:00:00.5Z"))
        };
        assert_eq!(
            change(&[
                "drain",
                "web",
                "main",
                "--for",
                "2h",
                "--reason",
                " patching ",
                "--force"
            ])
            .unwrap(),
            Some(Change::Drain {
                pool: "web".into(),
                server: "main".into(),
                until: Some(at("2026-11-29T12:00:01Z")),
                reason: Some("patching".into()),
                force: true,
            })
        );
        assert_eq!(
            change(&["pin", "web", "backup", "--reason", ""]).unwrap(),
            Some(Change::Pin {
                pool: "web".into(),
                server: "backup".into(),
                until: None,
                reason: None,
            })
        );
        assert_eq!(
            change(&["unpin", "web"]).unwrap(),
            Some(Change::Unpin { pool: "web".into() })
        );
        assert_eq!(
            change(&["undrain", "web", "main"]).unwrap(),
            Some(Change::Undrain {
                pool: "web".into(),
                server: "main".into()
            })
        );
        assert_eq!(change(&["check"]).unwrap(), None);
        for (args, message) in [
            (
                &["pin", "web", "main", "--for", "soon"][..],
                "--for: invalid duration \"soon\": write e.g. \"30m\", \"2h\", \"1h30m\" or \"7d\"",
            ),
            (
                &["drain", "web", "main", "--reason", "a\nb"],
                "--reason: one line of text, without control or text-direction characters",
            ),
            (
                &["drain", "web", "main", "--reason", "patch \u{202e}gnih"],
                "--reason: one line of text, without control or text-direction characters",
            ),
            (
                &["pin", "web", "main", "--reason", &"x".repeat(201)],
                "--reason: at most 200 characters (a short note; details belong in a ticket)",
            ),
        ] {
            let e = change(args).unwrap_err();
            assert_eq!((e.exit_code(), e.to_string().as_str()), (2, message));
        }
    }

    /// The state of a pool web on `chosen` after a run that found both servers up, and of
    /// pool mail on m1.
    fn settled(config: &Config, chosen: &str) -> State {
        let mut state = State {
            version: STATE_VERSION,
            last_run: Some("2026-11-29T09:00:00Z".into()),
            ..State::default()
        };
        for pool in &config.pools {
            let mut ps = decide::decide(pool, None, &[up(), up()]).state;
            if pool.name == "web" {
                ps.chosen = chosen.into();
            }
            state.pools.insert(pool.name.clone(), ps);
        }
        state
    }

    fn outcomes(main: ProbeOutcome, backup: ProbeOutcome) -> Vec<Vec<ProbeOutcome>> {
        vec![
            vec![main, backup],
            vec![ProbeOutcome::Unchecked, ProbeOutcome::Unchecked],
        ]
    }

    fn drain(server: &str, force: bool) -> Change {
        Change::Drain {
            pool: "web".into(),
            server: server.into(),
            until: Some(at("2026-11-29T12:00:00Z")),
            reason: Some("patching".into()),
            force,
        }
    }

    #[test]
    fn a_drain_is_recorded_with_its_history_entry() {
        let config = config();
        let old = settled(&config, "main");
        let r = record(
            &config,
            Some(&old),
            &drain("main", false),
            &outcomes(up(), up()),
            at(NOW),
        )
        .unwrap();
        let entry = HistoryEntry::Drain {
            time: NOW.into(),
            pool: "web".into(),
            server: "main".into(),
            until: Some("2026-11-29T12:00:00Z".into()),
            reason: Some("patching".into()),
            forced: false,
        };
        assert_eq!(r.entry.as_ref(), Some(&entry));
        assert_eq!(
            r.line,
            "web: main drained until 2026-11-29T12:00:00Z: patching"
        );
        assert_eq!(r.ended, None);
        let mut want = old.clone();
        want.last_run = Some(NOW.into());
        want.pools.get_mut("web").unwrap().drained.insert(
            "main".into(),
            Drain {
                since: NOW.into(),
                until: Some("2026-11-29T12:00:00Z".into()),
                reason: Some("patching".into()),
            },
        );
        assert_eq!(r.state, want, "only the drain and the time change");

        // Again, with another reason: updated, since kept.
        let later = Change::Drain {
            pool: "web".into(),
            server: "main".into(),
            until: None,
            reason: Some("longer".into()),
            force: false,
        };
        let again = record(
            &config,
            Some(&r.state),
            &later,
            &outcomes(up(), up()),
            at("2026-11-29T11:00:00Z"),
        )
        .unwrap();
        assert_eq!(again.line, "web: main drained: longer");
        let d = &again.state.pools["web"].drained["main"];
        assert_eq!((d.since.as_str(), d.until.as_deref()), (NOW, None));
        // The same once more: nothing to record.
        let same = record(
            &config,
            Some(&again.state),
            &later,
            &outcomes(up(), up()),
            at("2026-11-29T11:30:00Z"),
        )
        .unwrap();
        assert_eq!(
            (same.entry, same.line.as_str()),
            (None, "web: main already drained")
        );
        assert_eq!(same.state, again.state);

        // Undrain: recorded, and ended for the switch's reason.
        let undrain = Change::Undrain {
            pool: "web".into(),
            server: "main".into(),
        };
        let u = record(
            &config,
            Some(&again.state),
            &undrain,
            &outcomes(up(), up()),
            at("2026-11-29T12:00:00Z"),
        )
        .unwrap();
        assert_eq!(u.line, "web: main undrained");
        assert!(u.state.pools["web"].drained.is_empty());
        assert_eq!(
            u.ended,
            Some(Ended {
                kind: Kind::Drain,
                server: "main".into(),
                cause: EndCause::Command
            })
        );
        let not = record(
            &config,
            Some(&u.state),
            &undrain,
            &outcomes(up(), up()),
            at("2026-11-29T12:00:00Z"),
        )
        .unwrap();
        assert_eq!(
            (not.entry, not.line.as_str()),
            (None, "web: main is not drained")
        );
    }

    #[test]
    fn draining_the_last_healthy_server_is_refused_unless_forced() {
        let config = config();
        let old = settled(&config, "main");
        let e = record(
            &config,
            Some(&old),
            &drain("main", false),
            &outcomes(up(), down()),
            at(NOW),
        )
        .unwrap_err();
        assert_eq!(
            (e.exit_code(), e.to_string().as_str()),
            (
                2,
                "pool web: refusing to drain main: no other server is healthy and not drained (backup is unhealthy: down, failed 2/2 attempts: connect: refused). With --force the drain is recorded anyway, and the pool leaves main as soon as another server is healthy"
            )
        );
        let forced = record(
            &config,
            Some(&old),
            &drain("main", true),
            &outcomes(up(), down()),
            at(NOW),
        )
        .unwrap();
        assert!(matches!(
            forced.entry,
            Some(HistoryEntry::Drain { forced: true, .. })
        ));
        assert_eq!(
            forced.line,
            "web: main drained until 2026-11-29T12:00:00Z (forced): patching"
        );
        // The other server drained: the same.
        let e = record(
            &config,
            Some(&forced.state),
            &drain("backup", false),
            &outcomes(up(), up()),
            at(NOW),
        )
        .unwrap_err();
        assert!(e.to_string().contains("(main is drained)"), "{e}");
        // A drain that ran out does not count.
        let mut ran_out = forced.state.clone();
        ran_out
            .pools
            .get_mut("web")
            .unwrap()
            .drained
            .get_mut("main")
            .unwrap()
            .until = Some("2026-11-29T09:59:59Z".into());
        assert!(
            record(
                &config,
                Some(&ran_out),
                &drain("backup", false),
                &outcomes(up(), up()),
                at(NOW)
            )
            .is_ok()
        );
        // Health is that after fall/rise: one bad run with fall 2 is not unhealthy.
        let mut fall2 = config.clone();
        fall2.pools[0].fall = 2;
        let old = settled(&fall2, "main");
        assert!(
            record(
                &fall2,
                Some(&old),
                &drain("main", false),
                &outcomes(up(), down()),
                at(NOW)
            )
            .is_ok()
        );
        // A pool of one server.
        let mut single = config.clone();
        single.pools[0].servers.truncate(1);
        let e = record(
            &single,
            None,
            &drain("main", false),
            &[vec![up()], vec![]],
            at(NOW),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("(it is the pool's only server)"),
            "{e}"
        );
        // An unchecked server is always healthy.
        let mail = Change::Drain {
            pool: "mail".into(),
            server: "m1".into(),
            until: None,
            reason: None,
            force: false,
        };
        let r = record(&config, None, &mail, &outcomes(down(), down()), at(NOW)).unwrap();
        assert_eq!(r.line, "mail: m1 drained");
    }

    #[test]
    fn a_pin_is_recorded_and_unpinned() {
        let config = config();
        let old = settled(&config, "main");
        let pin = |server: &str, reason: Option<&str>| Change::Pin {
            pool: "web".into(),
            server: server.into(),
            until: None,
            reason: reason.map(Into::into),
        };
        let r = record(
            &config,
            Some(&old),
            &pin("backup", Some("main is patched")),
            &outcomes(up(), down()),
            at(NOW),
        )
        .unwrap();
        assert_eq!(r.line, "web: pinned to backup: main is patched");
        assert_eq!(
            r.state.pools["web"].pinned,
            Some(Pin {
                server: "backup".into(),
                since: NOW.into(),
                until: None,
                reason: Some("main is patched".into()),
            }),
            "a pin to a failing server is the operator's call"
        );
        let same = record(
            &config,
            Some(&r.state),
            &pin("backup", Some("main is patched")),
            &outcomes(up(), up()),
            at("2026-11-29T10:05:00Z"),
        )
        .unwrap();
        assert_eq!(
            (same.entry, same.line.as_str()),
            (None, "web: already pinned to backup")
        );
        // Another server: a new pin, since now.
        let other = record(
            &config,
            Some(&r.state),
            &pin("main", None),
            &outcomes(up(), up()),
            at("2026-11-29T10:05:00Z"),
        )
        .unwrap();
        assert_eq!(other.line, "web: pinned to main");
        assert_eq!(
            other.state.pools["web"].pinned.as_ref().unwrap().since,
            "2026-11-29T10:05:00Z"
        );
        let unpin = Change::Unpin { pool: "web".into() };
        let u = record(
            &config,
            Some(&other.state),
            &unpin,
            &outcomes(up(), up()),
            at(NOW),
        )
        .unwrap();
        assert_eq!(u.line, "web: unpinned from main");
        assert_eq!(u.state.pools["web"].pinned, None);
        assert_eq!(
            u.ended.map(|e| (e.kind, e.cause)),
            Some((Kind::Pin, EndCause::Command))
        );
        let not = record(
            &config,
            Some(&u.state),
            &unpin,
            &outcomes(up(), up()),
            at(NOW),
        )
        .unwrap();
        assert_eq!((not.entry, not.line.as_str()), (None, "web: not pinned"));

        // A pin that ran out is as good as gone: unpinning it records nothing (the run
        // drops it, with its "expired" entry), and pinning again is a new pin, since now.
        let mut stale = r.state.clone();
        stale
            .pools
            .get_mut("web")
            .unwrap()
            .pinned
            .as_mut()
            .unwrap()
            .until = Some("2026-11-29T10:01:00Z".into());
        let later = "2026-11-29T10:05:00Z";
        let u = record(
            &config,
            Some(&stale),
            &unpin,
            &outcomes(up(), up()),
            at(later),
        )
        .unwrap();
        assert_eq!(
            (u.entry, u.line.as_str(), u.state),
            (
                None,
                "web: not pinned (the pin to backup ran out; this run drops it)",
                stale.clone()
            )
        );
        let again = record(
            &config,
            Some(&stale),
            &pin("backup", Some("main is patched")),
            &outcomes(up(), up()),
            at(later),
        )
        .unwrap();
        assert!(again.entry.is_some(), "{}", again.line);
        assert_eq!(
            again.state.pools["web"].pinned.as_ref().unwrap().since,
            later
        );
    }

    #[test]
    fn before_the_first_run_a_record_starts_from_the_first_server() {
        let config = config();
        let pin = Change::Pin {
            pool: "web".into(),
            server: "backup".into(),
            until: None,
            reason: None,
        };
        let r = record(&config, None, &pin, &outcomes(up(), up()), at(NOW)).unwrap();
        assert_eq!(r.state.version, STATE_VERSION);
        assert_eq!(r.state.last_run.as_deref(), Some(NOW));
        let web = &r.state.pools["web"];
        assert_eq!((web.chosen.as_str(), web.since.as_deref()), ("main", None));
        assert!(web.servers.is_empty(), "no counters before a run");
        assert_eq!(
            r.state.pools.len(),
            1,
            "the other pool is the run's business"
        );
        // Nothing to record: nothing changes, not even the time.
        let unpin = Change::Unpin { pool: "web".into() };
        let r = record(&config, None, &unpin, &outcomes(up(), up()), at(NOW)).unwrap();
        assert_eq!(r.entry, None);
        assert!(r.state.pools.is_empty() && r.state.last_run.is_none());
    }

    #[test]
    fn expiry_drops_what_ran_out_or_left_the_config() {
        let config = config();
        let web = &config.pools[0];
        let mut state = settled(&config, "main").pools["web"].clone();
        let held = |until: Option<&str>| Drain {
            since: "2026-11-29T09:00:00Z".into(),
            until: until.map(Into::into),
            reason: None,
        };
        state.pinned = Some(Pin {
            server: "backup".into(),
            since: "2026-11-29T09:00:00Z".into(),
            until: Some("2026-11-29T10:00:00Z".into()),
            reason: None,
        });
        state.drained = BTreeMap::from([
            ("main".to_owned(), held(Some("2026-11-29T10:00:01Z"))),
            ("backup".to_owned(), held(None)),
            ("gone".to_owned(), held(None)),
        ]);
        let (kept, ended) = expire(web, &state, at(NOW));
        let end = |kind, server: &str, cause| Ended {
            kind,
            server: server.into(),
            cause,
        };
        assert_eq!(
            ended,
            [
                end(Kind::Pin, "backup", EndCause::Expired),
                end(Kind::Drain, "gone", EndCause::Unconfigured),
            ],
            "at its deadline a pin is over; one second before it a drain is not"
        );
        assert_eq!(kept.pinned, None);
        let names: Vec<&str> = kept.drained.keys().map(String::as_str).collect();
        assert_eq!(names, ["backup", "main"]);
        let (_, ended) = expire(web, &kept, at("2026-11-29T10:00:01Z"));
        assert_eq!(ended, [end(Kind::Drain, "main", EndCause::Expired)]);
        // A deadline that cannot be read has run out; a pin to a removed server is dropped.
        state.drained = BTreeMap::from([("main".to_owned(), held(Some("soon")))]);
        state.pinned.as_mut().unwrap().server = "gone".into();
        state.pinned.as_mut().unwrap().until = None;
        let (kept, ended) = expire(web, &state, at(NOW));
        assert_eq!(
            ended,
            [
                end(Kind::Pin, "gone", EndCause::Unconfigured),
                end(Kind::Drain, "main", EndCause::Expired),
            ]
        );
        assert!(kept.pinned.is_none() && kept.drained.is_empty());
        // Nothing to drop: the state as it was.
        let plain = settled(&config, "main").pools["web"].clone();
        assert_eq!(expire(web, &plain, at(NOW)), (plain, Vec::new()));
    }

    #[test]
    fn an_ended_pin_or_drain_in_words_and_in_the_history() {
        let e = Ended {
            kind: Kind::Drain,
            server: "main".into(),
            cause: EndCause::Expired,
        };
        assert_eq!(e.words(), "drain of main expired");
        assert_eq!(
            e.entry("t", "web"),
            HistoryEntry::Undrain {
                time: "t".into(),
                pool: "web".into(),
                server: "main".into(),
                cause: EndCause::Expired
            }
        );
        assert_eq!(e.entry("t", "web").describe(), "web: drain of main expired");
    }
}
