//! What the per-kind parts of `primary` share: calling the control tool, its errors, and
//! what a server says about a zone.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::command::{Output, quote, run_bounded};
use crate::config::{Kind, Primary};
use crate::error::{Error, Result};

/// How to get a kind's tools, for the fix of a command that could not start.
fn install_hint(kind: Kind) -> &'static str {
    match kind {
        Kind::Nsd => "install NSD's tools",
        Kind::Knot => "install Knot DNS (Debian: knot; kzonecheck is in knot-dnssecutils)",
        Kind::Bind => "install BIND 9 (Debian: bind9 and bind9-utils)",
    }
}

/// Run the control tool with `args` after `[server] control`.
///
/// # Errors
/// It could not be started, or did not finish in time.
pub fn control_run(p: &Primary, args: &[&str]) -> Result<(Vec<String>, Output)> {
    let mut called = p.control.clone();
    called.extend(args.iter().map(|a| (*a).to_owned()));
    let out = run_bounded(&called, &[], p.timeout).map_err(|e| spawn_error(p, "control", e))?;
    Ok((called, out))
}

/// The error of a command that could not start, with a fix naming the setting.
pub fn spawn_error(p: &Primary, key: &str, e: Error) -> Error {
    match e {
        Error::Spawn { program, source } => {
            crate::command::spawn_error(program, source, &p.key(key), install_hint(p.kind))
        }
        other => other,
    }
}

/// The error of a control command that ran and failed: what it printed (a few lines).
pub fn failure(argv: Vec<String>, out: &Output, fix: Option<String>) -> Error {
    let text = format!("{}\n{}", out.stdout.trim(), out.stderr.trim());
    let printed = quote(&text, out.stdout_cut + out.stderr_cut);
    let fix = fix.map_or_else(String::new, |f| format!("\nfix: {f}"));
    Error::Command {
        message: format!("failed ({}): {}{fix}", out.status, printed.join("; ")),
        argv,
    }
}

/// A zone to reload, with the file zonerw installed for it.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// The zone name.
    pub zone: &'a str,
    /// The installed file.
    pub file: PathBuf,
}

/// Whether the server has a zone configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// The server has the zone configured (loaded or not).
    Yes,
    /// The server says it does not know the zone.
    No,
    /// We could not tell (server down, ...): the reload will report it.
    Unclear,
}

/// What the server says about one zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneInfo {
    /// Whether it has the zone.
    pub known: Known,
    /// The serial it serves (Knot and BIND; None when not loaded or not asked).
    pub serial: Option<u32>,
    /// Knot and BIND: whether it has the zone as a primary zone (a secondary zone's file
    /// is replaced by each transfer); None when not asked.
    pub primary: Option<bool>,
}

impl ZoneInfo {
    /// Nothing could be learnt.
    pub const UNCLEAR: ZoneInfo = ZoneInfo {
        known: Known::Unclear,
        serial: None,
        primary: None,
    };
}

/// Zone names compared as DNS compares them (case, one trailing dot).
pub fn by_key(zones: &[&str]) -> BTreeMap<String, usize> {
    zones
        .iter()
        .enumerate()
        .map(|(i, z)| (crate::config::zone_key(z), i))
        .collect()
}
