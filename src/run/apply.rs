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
    for (i, (zone, plan)) in zones.iter().zip(plans.iter()).enumerate() {
        if plan.action != Action::Write {
            continue;
        }
        match stage(config, zone, plan) {
            Ok(s) => staged.push((i, s)),
            Err(e) => errors.push(e),
        }
    }
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
        mark_failed(plans, staged.iter().map(|(i, _)| *i));
        return Err(Error::Many(errors));
    }
    let mut to_reload = Vec::new();
    for (i, s) in staged {
        match s.install(&config.zones.join(&zones[i].file_name)) {
            Ok(()) => to_reload.push(i),
            Err(e) => {
                errors.push(e);
                mark_failed(plans, [i]);
            }
        }
    }
    for (i, plan) in plans.iter().enumerate() {
        if plan.action == Action::Adopt {
            to_reload.push(i);
        }
    }
    // Failed Write plans are not reloaded; mark them Keep so no change line is printed.
    for (i, plan) in plans.iter_mut().enumerate() {
        if plan.action == Action::Write && !to_reload.contains(&i) {
            plan.action = Action::Keep;
        }
    }
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
