//! Planning every zone: the pure rules are in `crate::plan`; this reads what they need
//! (the installed file's stamp, and its bytes when the stamp does not settle it).

use crate::error::Result;
use crate::fsio::{self, Installed};
use crate::outcome::ZoneRun;
use crate::plan::{Inputs, plan_zone, without_reading};
use crate::state::{Reserved, State};
use crate::zone::Zone;

/// Plan every zone: one record per zone, in order.
pub(super) fn plan_all(
    zones: Vec<Zone>,
    inputs: Inputs<'_>,
    old: Option<&State>,
    reserved: &Reserved,
) -> Result<Vec<ZoneRun>> {
    zones
        .into_iter()
        .map(|zone| {
            let path = inputs.config.zones.join(&zone.file_name);
            let last = old.and_then(|s| s.zones.get(&zone.name));
            let reserved = reserved.get(&zone.name).copied();
            let stamp = fsio::stamp(&path);
            if let Some(plan) = without_reading(&zone, inputs, last, reserved, stamp) {
                return Ok(ZoneRun::new(zone, plan));
            }
            let installed = match fsio::read_installed(&path)? {
                Installed::File(bytes) => Some(bytes),
                Installed::Absent => None,
                Installed::NotAFile(kind) => {
                    crate::errln!("{}", crate::report::not_a_file(&zone.name, &path, kind));
                    None
                }
            };
            let plan = plan_zone(&zone, inputs, last, reserved, installed.as_deref());
            Ok(ZoneRun::new(zone, plan))
        })
        .collect()
}

/// The installed file a dry run diffs against: empty when absent or not a file.
pub(super) fn read_for_diff(path: &std::path::Path) -> Result<Vec<u8>> {
    Ok(match fsio::read_installed(path)? {
        Installed::File(bytes) => bytes,
        Installed::Absent | Installed::NotAFile(_) => Vec::new(),
    })
}
