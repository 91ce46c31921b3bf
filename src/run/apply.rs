//! Steps 1–3 of a run: render and check, install atomically, reload.

use std::path::Path;

use crate::parallel;
use crate::zonefile::soa_serial;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::fsio::{self, Staged};
use crate::nsd;
use crate::plan::{Action, ZonePlan};
use crate::serial;
use crate::state::Reserved;
use crate::store::{StateFiles, write_reserved};
use crate::zone::Zone;

/// Steps 1–3 of a run (README.md, "How it decides and applies"): render + check, install, reload. Zones that pass are installed
/// and reloaded even if another zone fails, so one broken template never holds a failover
/// hostage; any failure is still returned (exit 1) and the state is not saved.
pub(super) fn apply(
    config: &Config,
    zones: &[Zone],
    plans: &mut [ZonePlan],
    mut reserved: Reserved,
    files: &StateFiles,
) -> Result<()> {
    let mut errors = Vec::new();
    let mut staged = stage_all(config, zones, plans, &mut errors);
    let to_add = unknown_zones(config, zones, plans, &mut errors);
    staged.retain(|(i, _)| plans[*i].action == Action::Write);
    // Record the serials before any file carrying them is installed, so no retry hands one
    // out again with other content. (A temporary file of a killed run carries an unrecorded
    // serial, but it was never installed, and the next run deletes it.)
    let before = reserved.clone();
    for (i, _) in &staged {
        if let Some(serial) = plans[*i].serial {
            let entry = reserved.entry(zones[*i].name.clone()).or_insert(serial);
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
        mark_failed(plans, 0..zones.len());
        return Err(Error::Many(errors));
    }
    let installed_any = !staged.is_empty();
    for (i, s) in staged {
        if let Err(e) = s.install(&config.zones.join(&zones[i].file_name)) {
            errors.push(e);
            plans[i].action = Action::Keep;
        }
    }
    if installed_any && let Err(e) = fsio::sync_dir(&config.zones) {
        errors.push(e);
    }
    for i in to_add {
        let pattern = config.nsd.add_pattern.as_deref().unwrap_or_default();
        if plans[i].action != Action::Keep
            && let Err(e) = nsd::addzone(&config.nsd, &zones[i].name, pattern)
        {
            errors.push(e);
            plans[i].action = Action::Keep;
        }
    }
    let to_reload: Vec<usize> = (0..zones.len())
        .filter(|&i| plans[i].action != Action::Keep)
        .collect();
    if !to_reload.is_empty() {
        let names: Vec<&str> = to_reload.iter().map(|&i| zones[i].name.as_str()).collect();
        if let Err(e) = nsd::reload(&config.nsd, &names) {
            errors.push(e);
            mark_failed(plans, to_reload);
        }
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(Error::Many(errors)),
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
/// `nsd-checkzone` on them, several at once (one per core). A zone that fails is marked Keep
/// and its error collected.
fn stage_all(
    config: &Config,
    zones: &[Zone],
    plans: &mut [ZonePlan],
    errors: &mut Vec<Error>,
) -> Vec<(usize, Staged)> {
    let mut staged = Vec::new();
    for (i, zone) in zones.iter().enumerate() {
        if plans[i].action != Action::Write {
            continue;
        }
        // Read the serial back from the very text to be installed: what zonerw reports (and
        // [verify] waits for) must be what NSD will serve.
        let written = soa_serial(&plans[i].contents);
        if written != plans[i].serial {
            let show = |s: Option<u32>| s.map_or_else(|| "missing".into(), |s| s.to_string());
            errors.push(Error::NotInstalled {
                zone: zone.name.clone(),
                message: format!(
                    "the rendered zone's SOA serial is {}, not the planned {}",
                    show(written),
                    show(plans[i].serial)
                ),
            });
            plans[i].action = Action::Keep;
            continue;
        }
        match Staged::write(&config.zones, &zone.file_name, plans[i].contents.as_bytes()) {
            Ok(s) => staged.push((i, s)),
            Err(e) => {
                errors.push(e);
                plans[i].action = Action::Keep;
            }
        }
    }
    let Some(program) = &config.nsd.checkzone else {
        return staged;
    };
    let workers = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let checked = parallel::map(&staged, workers, |(i, s)| {
        let zone = &zones[*i];
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
                plans[i].action = Action::Keep;
            }
        }
    }
    passed
}

/// Zones zonerw meets for the first time may be new to NSD too (a template just dropped
/// into the directory). Ask NSD; return those to `addzone` after install (with
/// `add-pattern`), or fail them with the nsd.conf lines to add (without it).
fn unknown_zones(
    config: &Config,
    zones: &[Zone],
    plans: &mut [ZonePlan],
    errors: &mut Vec<Error>,
) -> Vec<usize> {
    let mut to_add = Vec::new();
    for (i, zone) in zones.iter().enumerate() {
        let plan = &mut plans[i];
        if plan.action == Action::Keep || !plan.first_time {
            continue;
        }
        if nsd::zone_known(&config.nsd, &zone.name) != nsd::Known::No {
            continue;
        }
        if config.nsd.add_pattern.is_some() {
            to_add.push(i);
        } else {
            errors.push(Error::UnknownZone {
                zone: zone.name.clone(),
                file: config.zones.join(&zone.file_name),
            });
            plan.action = Action::Keep;
        }
    }
    to_add
}

pub(super) fn mark_failed(plans: &mut [ZonePlan], which: impl IntoIterator<Item = usize>) {
    for i in which {
        plans[i].action = Action::Keep;
    }
}
