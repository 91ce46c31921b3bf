//! Planned maintenance without editing files: `zonerw pin|unpin|drain|undrain`.
//!
//! A request is checked against the config ([`Change::check`]), then recorded in
//! state.json and history.jsonl under the run lock by the run that follows it
//! ([`record`], between the probes and the decision), so the names move at once. Each run
//! first drops the pins and drains that ran out or whose server left the config
//! ([`expire`]). What a pin or a drain means for the choice is `decide`'s. Everything here
//! but [`command`] is pure.

use std::time::Duration;

use jiff::Timestamp;

use crate::cli::Command;
use crate::config::{Config, Pool};
use crate::decide::{self, ProbeOutcome};
use crate::error::{Error, Result};
use crate::run::{self, RunOptions, Verbosity};
use crate::state::{
    Drain, EndCause, HistoryEntry, Pin, PoolState, STATE_VERSION, State, rfc3339, undrain_words,
    unpin_words,
};

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

/// A pin or a drain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A pin.
    Pin,
    /// A drain.
    Drain,
}

/// A pin or a drain that ended in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// Which.
    pub kind: Kind,
    /// The server pinned or drained.
    pub server: String,
    /// How it ended.
    pub cause: EndCause,
}

impl Ended {
    /// `pin to backup expired`, `main undrained`, ...
    #[must_use]
    pub fn words(&self) -> String {
        match self.kind {
            Kind::Pin => unpin_words(&self.server, self.cause),
            Kind::Drain => undrain_words(&self.server, self.cause),
        }
    }

    /// Its history entry, for pool `pool` at `time`.
    #[must_use]
    pub fn entry(&self, time: &str, pool: &str) -> HistoryEntry {
        let (time, pool, server, cause) =
            (time.into(), pool.into(), self.server.clone(), self.cause);
        match self.kind {
            Kind::Pin => HistoryEntry::Unpin {
                time,
                pool,
                server,
                cause,
            },
            Kind::Drain => HistoryEntry::Undrain {
                time,
                pool,
                server,
                cause,
            },
        }
    }
}

/// The longest `--for`: a pin or drain meant to last longer needs no deadline at all.
const LONGEST: Duration = Duration::from_hours(24 * 366);

/// Parse `--for`: whole numbers with a unit, `s`, `m`, `h` or `d`, one or more of them
/// (`90s`, `2h`, `1h30m`, `7d`).
pub fn parse_for(text: &str) -> std::result::Result<Duration, String> {
    let bad =
        || format!("invalid duration {text:?}: write e.g. \"30m\", \"2h\", \"1h30m\" or \"7d\"");
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit = rest.chars().next().ok_or_else(bad)?;
        let seconds = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            _ => return Err(bad()),
        };
        rest = &rest[1..];
        let part = n
            .checked_mul(seconds)
            .map(Duration::from_secs)
            .ok_or_else(bad)?;
        total = total.checked_add(part).ok_or_else(bad)?;
    }
    if total.is_zero() {
        return Err(format!("invalid duration {text:?}: must be more than zero"));
    }
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

/// A reason as given on the command line: trimmed, "" is none, and one line of printable
/// text (it is printed in run output and in `status`).
fn reason(text: Option<&str>) -> Result<Option<String>> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().any(char::is_control) {
        return Err(Error::Usage(
            "--reason: one line of text, without control characters".into(),
        ));
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
    let time = rfc3339(now);
    let mut state = old.cloned().unwrap_or_else(|| State {
        version: STATE_VERSION,
        ..State::default()
    });
    let before = state.pools.get(&pool.name).cloned();
    // Before a pool's first run its state is that of the first server chosen, as `decide`
    // starts from.
    let mut ps = before
        .clone()
        .unwrap_or_else(|| decide::hold(pool, None).state);
    let name = pool.name.as_str();
    let show = |until: Option<Timestamp>| until.map(rfc3339);
    let (entry, ended) = match change {
        Change::Pin {
            server,
            until,
            reason,
            ..
        } => {
            let since = ps
                .pinned
                .as_ref()
                .filter(|p| p.server == *server)
                .map_or_else(|| time.clone(), |p| p.since.clone());
            let pin = Pin {
                server: server.clone(),
                since,
                until: show(*until),
                reason: reason.clone(),
            };
            let entry = (ps.pinned.as_ref() != Some(&pin)).then(|| HistoryEntry::Pin {
                time: time.clone(),
                pool: name.into(),
                server: server.clone(),
                until: pin.until.clone(),
                reason: pin.reason.clone(),
            });
            ps.pinned = Some(pin);
            (
                entry.ok_or(format!("{name}: already pinned to {server}")),
                None,
            )
        }
        Change::Unpin { .. } => match ps.pinned.take() {
            Some(pin) => {
                let ended = Ended {
                    kind: Kind::Pin,
                    server: pin.server,
                    cause: EndCause::Command,
                };
                (Ok(ended.entry(&time, name)), Some(ended))
            }
            None => (Err(format!("{name}: not pinned")), None),
        },
        Change::Drain {
            server,
            until,
            reason,
            force,
            ..
        } => {
            let forced = last_healthy(pool, before.as_ref(), server, outcomes)
                .map(|why| {
                    if *force {
                        Ok(true)
                    } else {
                        Err(Error::Usage(format!(
                            "pool {name}: refusing to drain {server}: no other server is healthy and not drained ({why}). With --force the drain is recorded anyway, and the pool leaves {server} as soon as another server is healthy"
                        )))
                    }
                })
                .transpose()?
                .unwrap_or(false);
            let since = ps
                .drained
                .get(server)
                .map_or_else(|| time.clone(), |d| d.since.clone());
            let drain = Drain {
                since,
                until: show(*until),
                reason: reason.clone(),
            };
            let entry = (ps.drained.get(server) != Some(&drain)).then(|| HistoryEntry::Drain {
                time: time.clone(),
                pool: name.into(),
                server: server.clone(),
                until: drain.until.clone(),
                reason: drain.reason.clone(),
                forced,
            });
            ps.drained.insert(server.clone(), drain);
            (
                entry.ok_or(format!("{name}: {server} already drained")),
                None,
            )
        }
        Change::Undrain { server, .. } => match ps.drained.remove(server) {
            Some(_) => {
                let ended = Ended {
                    kind: Kind::Drain,
                    server: server.clone(),
                    cause: EndCause::Command,
                };
                (Ok(ended.entry(&time, name)), Some(ended))
            }
            None => (Err(format!("{name}: {server} is not drained")), None),
        },
    };
    Ok(match entry {
        Ok(entry) => {
            state.pools.insert(name.into(), ps);
            state.last_run = Some(time);
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

/// `zonerw pin|unpin|drain|undrain`: check the request, then one run that records it first
/// (under the lock, with this run's probes) and goes on as a normal run. Exit 0 as a run.
pub(crate) fn command(config: &Config, change: &Change, now: Timestamp) -> Result<u8> {
    change.check(config)?;
    // Before any thread starts: SIGTERM/SIGINT/SIGHUP stop the run cleanly.
    crate::signals::install();
    let options = RunOptions {
        force: false,
        dry_run: false,
        verbosity: Verbosity::Normal,
    };
    run::run_recording(config, options, now, Some(change)).map(|()| 0)
}
