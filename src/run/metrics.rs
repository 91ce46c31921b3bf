//! The metrics textfile, written at the end of every run that got the lock, whatever
//! happened (a failed run is exactly what monitoring must see).

use std::path::Path;
use std::rc::Rc;
use std::time::Instant;

use jiff::Timestamp;

use crate::config::Config;
use crate::decide::ProbeOutcome;
use crate::error::{Error, Result};
use crate::fsio;
use crate::metrics;
use crate::state::State;

/// What a run saw, for the metrics written at its end whatever happened.
#[derive(Debug, Default)]
pub(super) struct Seen {
    /// The probe outcomes, `[pool][server]`, once probed.
    pub outcomes: Option<Vec<Vec<ProbeOutcome>>>,
    /// The state: the old one once loaded, the new one once committed.
    pub state: Option<Rc<State>>,
}

/// Run `steps`, then write the metrics textfile (if configured and this is neither a dry run
/// nor a run that found the lock taken). A metrics problem is a warning: the run's own
/// result stands.
pub(super) fn written_after(
    config: &Config,
    dry_run: bool,
    now: Timestamp,
    steps: impl FnOnce(&mut Seen) -> Result<()>,
) -> Result<()> {
    let started = Instant::now();
    let mut seen = Seen::default();
    let result = steps(&mut seen);
    let locked = matches!(result, Err(Error::Locked { .. }));
    if let (Some(path), false, false) = (&config.metrics_textfile, dry_run, locked) {
        let code = result.as_ref().err().map_or(0, Error::exit_code);
        if let Err(e) = write(config, path, &seen, now, started, code) {
            crate::errln!("zonerw: warning: {e}");
        }
    }
    result
}

fn write(
    config: &Config,
    path: &Path,
    seen: &Seen,
    now: Timestamp,
    started: Instant,
    code: u8,
) -> Result<()> {
    let duration = started.elapsed();
    #[allow(
        clippy::cast_precision_loss,
        reason = "seconds since the epoch fit in f64"
    )]
    let ended = now.as_millisecond() as f64 / 1000.0 + duration.as_secs_f64();
    let previous = fsio::read_optional(path)?
        .and_then(|b| metrics::previous_success(&String::from_utf8_lossy(&b)));
    let snapshot = metrics::Snapshot {
        config,
        ended,
        duration,
        last_success: if code == 0 { Some(ended) } else { previous },
        success: code == 0,
        exit_code: code,
        outcomes: seen.outcomes.as_deref(),
        state: seen.state.as_deref(),
    };
    fsio::write_atomically(path, metrics::render(&snapshot).as_bytes())
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::testing::CONFIG;

    fn config(dir: &Path) -> Config {
        let text = format!(
            "{CONFIG}\n[metrics]\ntextfile = '{}'\n",
            dir.join("zonerw.prom").display()
        );
        Config::parse(&text, Path::new("/etc/zonerw/zonerw.toml")).unwrap()
    }

    fn metric<'a>(text: &'a str, name: &str) -> Option<&'a str> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
    }

    #[test]
    fn written_after_success_and_failure_but_not_for_a_dry_run_or_a_taken_lock() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        let path = dir.path().join("zonerw.prom");
        let now: Timestamp = "2026-11-29T10:00:00Z".parse().unwrap();
        let locked = || Error::Locked {
            path: "/var/lib/zonerw/lock".into(),
            holder: "pid 1".into(),
        };

        written_after(&config, true, now, |_| Ok(())).unwrap();
        assert!(!path.exists(), "a dry run writes no metrics");
        assert!(written_after(&config, false, now, |_| Err(locked())).is_err());
        assert!(!path.exists(), "the run holding the lock writes them");

        written_after(&config, false, now, |_| Ok(())).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(metric(&text, "zonerw_last_run_success"), Some("1"));
        assert_eq!(metric(&text, "zonerw_last_run_exit_code"), Some("0"));
        let success = metric(&text, "zonerw_last_success_timestamp_seconds")
            .unwrap()
            .to_owned();

        let failed = written_after(&config, false, now, |_| Err(Error::Usage("x".into())));
        assert_eq!(
            failed.unwrap_err().exit_code(),
            2,
            "the run's own result stands"
        );
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(metric(&text, "zonerw_last_run_success"), Some("0"));
        assert_eq!(metric(&text, "zonerw_last_run_exit_code"), Some("2"));
        assert_eq!(
            metric(&text, "zonerw_last_success_timestamp_seconds"),
            Some(success.as_str()),
            "the last success is carried over from the previous file"
        );
    }
}
