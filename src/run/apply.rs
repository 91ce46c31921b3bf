//! Steps 1–3 of a run: render and check, install atomically, reload.

use std::path::Path;

use crate::config::Config;
use crate::error::{Error, Errors, Result};
use crate::fsio::{self, Staged};
use crate::nsd;
use crate::outcome::{Fate, ZoneRun};
use crate::parallel;
use crate::plan::Action;
use crate::serial;
use crate::state::Reserved;
use crate::store::{StateFiles, write_reserved};
use crate::zonefile::soa_serial;

/// Steps 1–3 of a run (README.md, "How it decides and applies"): render + check, install,
/// reload. Zones that pass are installed and reloaded even if another zone fails, so one
/// broken template never holds a failover hostage; a zone that fails becomes
/// `Fate::Failed`, its error is returned (exit 1) and the state is not saved.
pub(super) fn apply(
    config: &Config,
    zones: &mut [ZoneRun],
    mut reserved: Reserved,
    files: &StateFiles,
) -> Result<()> {
    let mut errors = Errors::default();
    let mut staged = stage_all(config, zones, &mut errors);
    let to_add = unknown_zones(config, zones, &mut errors);
    staged.retain(|&(i, _)| zones[i].pending());
    // Record the serials before any file carrying them is installed, so no retry hands one
    // out again with other content. (A temporary file of a killed run carries an unrecorded
    // serial, but it was never installed, and the next run deletes it.)
    let before = reserved.clone();
    for &(i, _) in &staged {
        if let Some(serial) = zones[i].plan.serial {
            let entry = reserved.entry(zones[i].zone.name.clone()).or_insert(serial);
            *entry = serial::newest(*entry, serial);
        }
    }
    let durable = if reserved == before {
        Ok(())
    } else {
        write_reserved(&files.serials, &reserved)
    }
    .and_then(|()| make_durable(&config.zones, &staged));
    if let Err(e) = durable {
        // Nothing installed yet: give up on every zone rather than risk serial reuse.
        errors.push(e);
        for z in zones.iter_mut().filter(|z| z.pending()) {
            z.fate = Fate::Failed;
        }
        return errors.into_result();
    }
    let installed_any = !staged.is_empty();
    for (i, s) in staged {
        if let Err(e) = s.install(&config.zones.join(&zones[i].zone.file_name)) {
            errors.push(e);
            zones[i].fate = Fate::Failed;
        }
    }
    if installed_any && let Err(e) = fsio::sync_dir(&config.zones) {
        errors.push(e);
    }
    let pattern = config.nsd.add_pattern.as_deref().unwrap_or_default();
    for i in to_add {
        if zones[i].pending()
            && let Err(e) = nsd::addzone(&config.nsd, &zones[i].zone.name, pattern)
        {
            errors.push(e);
            zones[i].fate = Fate::Failed;
        }
    }
    reload(config, zones, &mut errors);
    errors.into_result()
}

/// Step 3: one `nsd-control reload` for every zone still pending; each becomes Reloaded
/// (with the stamp of its file) or, if the reload fails, Failed.
fn reload(config: &Config, zones: &mut [ZoneRun], errors: &mut Errors) {
    let names: Vec<&str> = zones
        .iter()
        .filter(|z| z.pending())
        .map(|z| z.zone.name.as_str())
        .collect();
    if names.is_empty() {
        return;
    }
    let result = nsd::reload(&config.nsd, &names);
    let failed = result.is_err();
    errors.add(result);
    for z in zones.iter_mut().filter(|z| z.pending()) {
        z.fate = if failed {
            Fate::Failed
        } else {
            Fate::Reloaded {
                stamp: fsio::stamp(&config.zones.join(&z.zone.file_name)),
                propagation: None,
            }
        };
    }
}

/// Above this many files one `syncfs` is cheaper than an fsync each.
const SYNCFS_FROM: usize = 8;

/// fsync the staged files before they are renamed into place.
fn make_durable(dir: &Path, staged: &[(usize, Staged)]) -> Result<()> {
    if staged.len() >= SYNCFS_FROM {
        return fsio::sync_filesystem(dir);
    }
    staged.iter().try_for_each(|(_, s)| s.sync())
}

/// Step 1 for every zone to write: render into a temporary file beside its target, then run
/// `nsd-checkzone` on them, several at once (one per core). A zone that fails becomes
/// Failed and its error is collected. Returns the staged files by zone index.
fn stage_all(config: &Config, zones: &mut [ZoneRun], errors: &mut Errors) -> Vec<(usize, Staged)> {
    let mut staged = Vec::new();
    for (i, z) in zones.iter_mut().enumerate() {
        if z.plan.action != Action::Write {
            continue;
        }
        // Read the serial back from the very text to be installed: what zonerw reports (and
        // [verify] waits for) must be what NSD will serve.
        let written = soa_serial(&z.plan.contents);
        if written != z.plan.serial {
            let show = |s: Option<u32>| s.map_or_else(|| "missing".into(), |s| s.to_string());
            errors.push(Error::NotInstalled {
                zone: z.zone.name.clone(),
                message: format!(
                    "the rendered zone's SOA serial is {}, not the planned {}",
                    show(written),
                    show(z.plan.serial)
                ),
            });
            z.fate = Fate::Failed;
            continue;
        }
        match Staged::write(&config.zones, &z.zone.file_name, z.plan.contents.as_bytes()) {
            Ok(s) => staged.push((i, s)),
            Err(e) => {
                errors.push(e);
                z.fate = Fate::Failed;
            }
        }
    }
    let Some(program) = &config.nsd.checkzone else {
        return staged;
    };
    let workers = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let checked = parallel::map(&staged, workers, |(i, s)| {
        let zone = &zones[*i].zone;
        nsd::checkzone(
            &config.nsd,
            program,
            &zone.name,
            s.path(),
            &zone.template_path,
        )
    });
    let mut passed = Vec::with_capacity(staged.len());
    for ((i, s), result) in staged.into_iter().zip(checked) {
        match result {
            Ok(()) => passed.push((i, s)),
            Err(e) => {
                errors.push(e);
                zones[i].fate = Fate::Failed;
            }
        }
    }
    passed
}

/// Zones zonerw meets for the first time may be new to NSD too (a template just dropped
/// into the directory). Ask NSD; return those to `addzone` after install (with
/// `add-pattern`), or fail them with the nsd.conf lines to add (without it).
fn unknown_zones(config: &Config, zones: &mut [ZoneRun], errors: &mut Errors) -> Vec<usize> {
    let mut to_add = Vec::new();
    for (i, z) in zones.iter_mut().enumerate() {
        if !z.pending() || !z.plan.first_time {
            continue;
        }
        if nsd::zone_known(&config.nsd, &z.zone.name) != nsd::Known::No {
            continue;
        }
        if config.nsd.add_pattern.is_some() {
            to_add.push(i);
        } else {
            errors.push(Error::UnknownZone {
                zone: z.zone.name.clone(),
                file: config.zones.join(&z.zone.file_name),
            });
            z.fate = Fate::Failed;
        }
    }
    to_add
}
