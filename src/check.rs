//! `zonerw check`: probe every server now and print a table, then any state file a run
//! could not write; change nothing.

use crate::config::Config;
use crate::decide::ProbeOutcome;
use crate::error::Result;
use crate::fsio;
use crate::probe;
use crate::store::StateFiles;
use crate::table::table;

/// Probe every server, print the table and the state files a run could not write, and
/// return the exit code: 0 only if the first server of every pool is healthy and every
/// state file is writable.
pub fn check(config: &Config) -> Result<u8> {
    let outcomes = probe::probe_all(config);
    crate::out!("{}", probe_table(config, &outcomes));
    let problems = state_problems(config);
    for problem in &problems {
        crate::outln!("{problem}");
    }
    let all_first_up = outcomes
        .iter()
        .all(|pool| pool.first().is_none_or(ProbeOutcome::is_up));
    Ok(u8::from(!all_first_up || !problems.is_empty()))
}

/// The table of probe results, one row per server (`outcomes`: `[pool][server]`).
fn probe_table(config: &Config, outcomes: &[Vec<ProbeOutcome>]) -> String {
    let mut rows =
        vec![["POOL", "SERVER", "ADDRESS", "RESULT", "LATENCY", "REASON"].map(String::from)];
    for (pool, outcomes) in config.pools.iter().zip(outcomes) {
        for (server, outcome) in pool.servers.iter().zip(outcomes) {
            let (result, latency, reason) = match outcome {
                ProbeOutcome::Up { status, latency } => (
                    "up",
                    format!("{} ms", latency.as_millis()),
                    format!("HTTP {status}"),
                ),
                ProbeOutcome::Down { reason } => ("down", "-".into(), reason.clone()),
                ProbeOutcome::Unchecked => ("healthy", "-".into(), "no check configured".into()),
            };
            rows.push([
                pool.name.clone(),
                server.name.clone(),
                server.address().to_string(),
                result.into(),
                latency,
                reason,
            ]);
        }
    }
    table(&rows)
}

/// One line per file of the state directory that a run would fail to write: one this user
/// cannot write, or one owned by another user than the directory's owner (who runs the
/// timer), e.g. left by a manual run as root. (The lock is left out: a run only reads it.)
fn state_problems(config: &Config) -> Vec<String> {
    let dir = &config.state;
    let Some((dir_owner, _)) = fsio::owner_and_mode(dir) else {
        return Vec::new();
    };
    let me = fsio::effective_uid();
    let files = StateFiles::in_dir(dir);
    let mut problems = Vec::new();
    let paths = [dir.as_path(), &files.state, &files.serials, &files.history];
    for path in paths {
        let Some((owner, mode)) = fsio::owner_and_mode(path) else {
            continue;
        };
        let what = if path == dir.as_path() {
            "state directory"
        } else {
            "state file"
        };
        let about = format!(
            "{what} {}: owner {}, mode {mode:04o}",
            path.display(),
            fsio::user_name(owner)
        );
        if !fsio::writable(path) {
            problems.push(format!(
                "{about}: {} cannot write it, so a run would fail",
                fsio::user_name(me)
            ));
        } else if owner != dir_owner {
            problems.push(format!(
                "{about}: not owned by {}, who owns the state directory, so a run as {0} \
                 would fail; chown {0} {}",
                fsio::user_name(dir_owner),
                path.display()
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::{PermissionsExt, chown};
    use std::path::Path;

    use super::*;

    /// Another user: `nobody` on Debian.
    const OTHER: u32 = 65_534;

    fn problems(state: &Path) -> Vec<String> {
        let mut config = crate::testing::config();
        config.state = state.to_owned();
        state_problems(&config)
    }

    /// A state directory with every state file in it, all this user's.
    fn state_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for name in ["state.json", "serials.json", "history.jsonl", "lock"] {
            fs::write(dir.path().join(name), "").unwrap();
            fs::set_permissions(dir.path().join(name), fs::Permissions::from_mode(0o644)).unwrap();
        }
        dir
    }

    #[test]
    fn a_missing_or_sound_state_directory_has_no_problem() {
        let dir = state_dir();
        assert_eq!(problems(&dir.path().join("missing")), Vec::<String>::new());
        assert_eq!(problems(dir.path()), Vec::<String>::new());
        // Files not there yet are created by the run: no problem either.
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(problems(empty.path()), Vec::<String>::new());
    }

    #[test]
    fn files_of_another_owner_than_the_directorys_are_named_with_the_fix() {
        if fsio::effective_uid() != 0 {
            // chown needs root; the unwritable case below covers other users.
            return;
        }
        let other = fsio::user_name(OTHER);
        // A file some other user left in root's state directory; the lock does not count.
        let dir = state_dir();
        let d = dir.path();
        chown(d.join("serials.json"), Some(OTHER), None).unwrap();
        chown(d.join("lock"), Some(OTHER), None).unwrap();
        let serials = d.join("serials.json");
        assert_eq!(
            problems(d),
            [format!(
                "state file {}: owner {other}, mode 0644: not owned by root, who owns the state directory, so a run as root would fail; chown root {}",
                serials.display(),
                serials.display()
            )]
        );
        // A manual run as root in the timer user's directory: every root file is named.
        chown(d, Some(OTHER), None).unwrap();
        chown(&serials, Some(0), None).unwrap();
        fs::set_permissions(&serials, fs::Permissions::from_mode(0o600)).unwrap();
        let lines: Vec<String> = ["state.json", "serials.json", "history.jsonl"]
            .iter()
            .map(|name| {
                let path = d.join(name);
                let mode = if *name == "serials.json" { "0600" } else { "0644" };
                format!(
                    "state file {}: owner root, mode {mode}: not owned by {other}, who owns the state directory, so a run as {other} would fail; chown {other} {}",
                    path.display(),
                    path.display()
                )
            })
            .collect();
        assert_eq!(problems(d), lines);
    }

    #[test]
    fn what_this_user_cannot_write_is_named() {
        let me = fsio::effective_uid();
        if me == 0 {
            // Root may write whatever the mode says; the owner case above covers root.
            return;
        }
        let me = fsio::user_name(me);
        let dir = state_dir();
        let d = dir.path();
        fs::set_permissions(d.join("history.jsonl"), fs::Permissions::from_mode(0o444)).unwrap();
        fs::set_permissions(d, fs::Permissions::from_mode(0o555)).unwrap();
        let got = problems(d);
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            got,
            [
                format!(
                    "state directory {}: owner {me}, mode 0555: {me} cannot write it, so a run would fail",
                    d.display()
                ),
                format!(
                    "state file {}: owner {me}, mode 0444: {me} cannot write it, so a run would fail",
                    d.join("history.jsonl").display()
                ),
            ]
        );
    }

    #[test]
    fn the_probe_table() {
        let config = crate::testing::config();
        let outcomes = [vec![crate::testing::up(), ProbeOutcome::Unchecked]];
        assert_eq!(
            probe_table(&config, &outcomes),
            "POOL  SERVER  ADDRESS       RESULT   LATENCY  REASON\n\
             web   main    192.0.2.1     up       3 ms     HTTP 200\n\
             web   backup  198.51.100.7  healthy  -        no check configured\n"
        );
        let outcomes = [vec![crate::testing::down(), ProbeOutcome::Unchecked]];
        assert_eq!(
            probe_table(&config, &outcomes).lines().nth(1),
            Some(
                "web   main    192.0.2.1     down     -        failed 2/2 attempts: connect: refused"
            )
        );
    }
}
