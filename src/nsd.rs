//! Calling NSD's tools: argv only (never a shell), each call bounded by `nsd.timeout`.

use std::path::Path;

use crate::command::{quote, run_bounded};
use crate::config::Nsd;
use crate::error::{Error, Result};

/// Check a rendered zone with `nsd-checkzone ZONE FILE`. On failure the message has the
/// checker's error lines with the temporary path replaced by `shown_as` (the template: the
/// rendered text keeps the template's line numbers).
pub fn checkzone(nsd: &Nsd, program: &str, zone: &str, file: &Path, shown_as: &Path) -> Result<()> {
    let argv = vec![
        program.to_owned(),
        zone.to_owned(),
        file.display().to_string(),
    ];
    let out = run_bounded(&argv, &[], nsd.timeout).map_err(|e| match e {
        // The temporary file is gone by the time this is shown: name the template.
        Error::Command { message, .. } => Error::NotInstalled {
            zone: zone.to_owned(),
            message: format!(
                "'{program} {zone}' on the zone rendered from '{}' {message}",
                shown_as.display()
            ),
        },
        other => other,
    })?;
    if out.status.success() {
        return Ok(());
    }
    let temp = file.display().to_string();
    let shown = shown_as.display().to_string();
    let mut lines: Vec<String> = out
        .stderr
        .lines()
        .chain(out.stdout.lines())
        .map(|l| l.find("error: ").map_or(l, |i| &l[i + 7..]))
        .map(|l| l.replace(&temp, &shown))
        .collect();
    lines.dedup();
    // At most a few lines, each bounded: the checker may quote the (foreign) file.
    let lines: Vec<String> = quote(&lines.join("\n"), out.stdout_cut + out.stderr_cut)
        .into_iter()
        .map(|l| format!("  {l}"))
        .collect();
    Err(Error::Checkzone {
        zone: zone.to_owned(),
        message: lines.join("\n"),
    })
}

/// `nsd-control ... reload ZONE` for one zone, or one plain `reload` for several: NSD
/// reloads every zone whose file changed, and back-to-back per-zone reloads can cut off a
/// secondary's transfer (notes/NSD.md, trap 4).
pub fn reload(nsd: &Nsd, zones: &[&str]) -> Result<()> {
    let mut argv = nsd.control.clone();
    argv.push("reload".into());
    if let [zone] = zones {
        argv.push((*zone).to_owned());
    }
    control(nsd, argv)
}

/// `nsd-control ... notify ZONE`: send NOTIFY to the zone's secondaries again.
pub fn notify(nsd: &Nsd, zone: &str) -> Result<()> {
    let mut argv = nsd.control.clone();
    argv.extend(["notify".to_owned(), zone.to_owned()]);
    control(nsd, argv)
}

/// Whether NSD serves a zone, by `nsd-control zonestatus ZONE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    /// NSD has the zone configured.
    Yes,
    /// NSD says the zone is not configured.
    No,
    /// We could not tell (NSD down, ...): the reload will report it.
    Unclear,
}

/// Ask NSD whether it has `zone` configured.
pub fn zone_known(nsd: &Nsd, zone: &str) -> Known {
    let mut argv = nsd.control.clone();
    argv.extend(["zonestatus".to_owned(), zone.to_owned()]);
    match run_bounded(&argv, &[], nsd.timeout) {
        Ok(out) if out.status.success() => Known::Yes,
        Ok(out) if out.stdout.contains("not configured") => Known::No,
        _ => Known::Unclear,
    }
}

/// `nsd-control ... addzone ZONE PATTERN`: have NSD serve a zone it does not know yet.
pub fn addzone(nsd: &Nsd, zone: &str, pattern: &str) -> Result<()> {
    let mut argv = nsd.control.clone();
    argv.extend(["addzone".to_owned(), zone.to_owned(), pattern.to_owned()]);
    control(nsd, argv)
}

/// Run an nsd-control command and insist on success: exit 0 and no "error" line.
fn control(nsd: &Nsd, argv: Vec<String>) -> Result<()> {
    let out = run_bounded(&argv, &[], nsd.timeout)?;
    let said_error = out.stdout.lines().any(|l| l.starts_with("error"));
    if out.status.success() && !said_error {
        return Ok(());
    }
    let printed = quote(
        &format!("{}\n{}", out.stdout.trim(), out.stderr.trim()),
        out.stdout_cut + out.stderr_cut,
    );
    Err(Error::Command {
        message: format!("failed ({}): {}", out.status, printed.join("; ")),
        argv,
    })
}
