//! Every line a run prints, built from the run's records: probe results, switches, the
//! guard's "staying" lines, zone lines, dry-run diffs, propagation and warnings. Pure: the
//! shell prints what these return (`output::emit`).

use std::path::Path;

use crate::error::Result;
use crate::fsio::NotAFile;
use crate::guard::Verdict;
use crate::outcome::{PoolRun, ZoneRun};
use crate::output::{Line, Verbosity};
use crate::plan::Action;
use crate::verify::Propagation;

/// One line per server with its probe result (`-v`).
#[must_use]
pub fn probes(pools: &[PoolRun<'_>]) -> Vec<String> {
    let mut lines = Vec::new();
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

/// The pools' switch lines, then the guard's "staying" lines. `committed`: None in a dry run
/// (the lines say what would happen), else whether the switches were committed; one that
/// was not is printed as pending, since the next run retries it.
#[must_use]
pub fn switches(pools: &[PoolRun<'_>], committed: Option<bool>) -> Vec<String> {
    let pending = committed == Some(false);
    let switched = pools.iter().filter_map(|p| switch_line(p, pending));
    let staying = pools.iter().filter_map(staying_line);
    switched.chain(staying).collect()
}

/// `example.com: serial 2026112301 -> 2026112302, reloaded`, or for an adopted file
/// `example.com: serial 2026112302 already installed, reloaded`.
#[must_use]
pub fn zone_line(z: &ZoneRun) -> String {
    let show = |s: Option<u32>| s.map_or_else(|| "none".to_owned(), |s| s.to_string());
    let (name, plan) = (&z.zone.name, &z.plan);
    match plan.action {
        Action::Adopt => format!(
            "{name}: serial {} already installed, reloaded",
            show(plan.serial)
        ),
        Action::Keep | Action::Write => format!(
            "{name}: serial {} -> {}, reloaded",
            show(plan.old_serial),
            show(plan.serial)
        ),
    }
}

/// What a dry run prints: a unified diff per zone that would change against its installed
/// file (read with `installed`), or its zone line if only a reload would happen, then
/// `(dry run: nothing written)`. Nothing (and nothing read) when quiet.
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
        let diff = similar::TextDiff::from_lines(installed.as_ref(), z.plan.contents.as_str())
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
    }
    if any {
        lines.push("(dry run: nothing written)".into());
    }
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
/// not by …` (`-v`). None when nothing was waited for.
#[must_use]
pub fn propagation_line(zone: &str, serial: u32, p: &Propagation) -> Option<String> {
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
