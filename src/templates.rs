//! The templates directory: one `<zone>.zone` template per zone, read safely and parsed.

use std::fs;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::fsio;
use crate::zone::{Zone, parse_zone, zone_name};

/// The templates of a run: the sound ones, and an error for each broken one.
#[derive(Debug, Default)]
pub struct Templates {
    /// Zones whose template loaded, sorted by name.
    pub zones: Vec<Zone>,
    /// Names of the zones whose template is broken (or duplicated).
    pub broken: Vec<String>,
    /// One template error per broken template (exit 2). Its zone is skipped: the installed
    /// file stays as it is, and every other zone is still applied.
    pub errors: Vec<Error>,
}

/// Load and parse every template in the config's templates directory, sorted by zone name.
/// A broken template holds only itself: it becomes an entry of `errors`. Only a templates
/// directory that cannot be read, or holds no template at all, fails the whole run (exit 2
/// too, like a broken template).
pub fn load_templates(config: &Config) -> Result<Templates> {
    let dir = &config.templates;
    let unreadable = |e: std::io::Error| Error::Config {
        path: config.path.clone(),
        message: format!("templates: cannot read directory '{}': {e}", dir.display()),
    };
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(name) = zone_name(&file_name) else {
            continue;
        };
        found.push((name, file_name, entry.path()));
    }
    if found.is_empty() {
        return Err(Error::Config {
            path: config.path.clone(),
            message: format!(
                "templates: no templates (<zone>.zone files) in '{}'",
                dir.display()
            ),
        });
    }
    found.sort();
    let mut templates = Templates::default();
    for group in duplicates(found) {
        match group.as_slice() {
            [(name, file_name, path)] => {
                match read_template(path).and_then(|bytes| {
                    parse_zone(config, name.clone(), file_name.clone(), path.clone(), bytes)
                }) {
                    Ok(zone) => templates.zones.push(zone),
                    Err(e) => {
                        templates.broken.push(name.clone());
                        templates.errors.push(e);
                    }
                }
            }
            [(name, _, first), rest @ ..] => {
                templates
                    .broken
                    .extend(group.iter().map(|(name, _, _)| name.clone()));
                let others: Vec<String> = rest
                    .iter()
                    .map(|(_, _, p)| format!("'{}'", p.display()))
                    .collect();
                templates.errors.push(Error::Template {
                    path: first.clone(),
                    line: None,
                    message: format!(
                        "zone {name} has more than one template: this file and {} (DNS names ignore case, and .zone and ..zone are both the root); none of them is used until only one is left",
                        others.join(" and ")
                    ),
                });
            }
            [] => {}
        }
    }
    templates.zones.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(templates)
}

/// The bytes of a template: never blocks on a FIFO, never reads a device, bounded. Anything
/// but a (link to a) regular file is a template error of that zone, not a silent skip (which
/// would drop the zone's state and leave its installed file behind through a failover).
fn read_template(path: &Path) -> Result<Vec<u8>> {
    let error = |message: String| Error::Template {
        path: path.to_owned(),
        line: None,
        message,
    };
    match fsio::read_template(path) {
        Ok(fsio::Installed::File(bytes)) => Ok(bytes),
        Ok(fsio::Installed::Absent) => Err(error(
            "cannot read template: it is a link to a file that does not exist".into(),
        )),
        Ok(fsio::Installed::NotAFile(kind)) => {
            Err(error(format!("it is {kind}, not a template file")))
        }
        Err(Error::Io { source, .. }) => Err(error(format!("cannot read template: {source}"))),
        Err(e) => Err(e),
    }
}

/// Group templates that stand for the same zone (names equal ignoring ASCII case).
fn duplicates(found: Vec<(String, String, PathBuf)>) -> Vec<Vec<(String, String, PathBuf)>> {
    let mut groups: std::collections::BTreeMap<String, Vec<_>> = std::collections::BTreeMap::new();
    for item in found {
        groups
            .entry(item.0.to_ascii_lowercase())
            .or_default()
            .push(item);
    }
    groups.into_values().collect()
}
