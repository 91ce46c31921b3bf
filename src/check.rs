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
    let mut rows =
        vec![["POOL", "SERVER", "ADDRESS", "RESULT", "LATENCY", "REASON"].map(String::from)];
    for (pool, outcomes) in config.pools.iter().zip(&outcomes) {
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
    crate::out!("{}", table(&rows));
    let problems = state_problems(config);
    for problem in &problems {
        crate::outln!("{problem}");
    }
    let all_first_up = outcomes
        .iter()
        .all(|pool| pool.first().is_none_or(ProbeOutcome::is_up));
    Ok(u8::from(!all_first_up || !problems.is_empty()))
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
