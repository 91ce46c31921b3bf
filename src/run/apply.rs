//! Steps 1–3 of a run: render and check, install atomically, reload.

use super::{
    Action, Config, Error, Reserved, Result, Staged, StateFiles, Zone, ZonePlan, nsd, serial,
    write_reserved,
};

/// Steps 1–3 of DESIGN.md: render + check, install, reload. Zones that pass are installed
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
    let mut staged = Vec::new();
    for (i, zone) in zones.iter().enumerate() {
        if plans[i].action != Action::Write {
            continue;
        }
        match stage(config, zone, &plans[i]) {
            Ok(s) => staged.push((i, s)),
            Err(e) => {
                errors.push(e);
                plans[i].action = Action::Keep;
            }
        }
    }
    let to_add = unknown_zones(config, zones, plans, &mut errors);
    staged.retain(|(i, _)| plans[*i].action == Action::Write);
    let before = reserved.clone();
    for (i, _) in &staged {
        if let Some(serial) = plans[*i].serial {
            let entry = reserved.entry(zones[*i].name.clone()).or_insert(serial);
            *entry = serial::newest(*entry, serial);
        }
    }
    if reserved != before
        && let Err(e) = write_reserved(&files.serials, &reserved)
    {
        // Nothing installed yet: give up on every zone rather than risk serial reuse.
        errors.push(e);
        mark_failed(plans, 0..zones.len());
        return Err(Error::Many(errors));
    }
    for (i, s) in staged {
        if let Err(e) = s.install(&config.zones.join(&zones[i].file_name)) {
            errors.push(e);
            plans[i].action = Action::Keep;
        }
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

/// Write the rendered zone to a temporary file beside its target and run nsd-checkzone on it.
pub(super) fn stage(config: &Config, zone: &Zone, plan: &ZonePlan) -> Result<Staged> {
    let staged = Staged::new(&config.zones, &zone.file_name, plan.contents.as_bytes())?;
    if let Some(program) = &config.nsd.checkzone {
        nsd::checkzone(
            &config.nsd,
            program,
            &zone.name,
            staged.path(),
            &zone.template_path,
        )?;
    }
    Ok(staged)
}
