//! The metrics textfile, written at the end of every run that got the lock, whatever
//! happened (a failed run is exactly what monitoring must see).

use std::path::Path;
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
    pub state: Option<State>,
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
        state: seen.state.as_ref(),
    };
    fsio::write_atomically(path, metrics::render(&snapshot).as_bytes())
}
