//! `zonerw check`: probe every server now and print a table; change nothing.

use crate::config::Config;
use crate::decide::ProbeOutcome;
use crate::error::Result;
use crate::probe;

/// Probe every server, print the table, and return the exit code: 0 only if the first
/// server of every pool is healthy.
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
    let all_first_up = outcomes
        .iter()
        .all(|pool| pool.first().is_none_or(ProbeOutcome::is_up));
    Ok(u8::from(!all_first_up))
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
#[must_use]
pub fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == N {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
