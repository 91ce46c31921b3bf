//! The zones zonerw manages: one per `<zone>.zone` template, parsed and checked at load.

use std::fs;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::template::{Marker, Template};

/// A managed zone and its parsed template.
#[derive(Debug, Clone)]
pub struct Zone {
    /// Zone name (`.` for the root zone).
    pub name: String,
    /// File name, the same in the templates and the zones directory.
    pub file_name: String,
    /// Path of the template.
    pub template_path: PathBuf,
    /// The parsed template.
    pub template: Template,
    /// SHA-256 of the template bytes.
    pub fingerprint: String,
}

/// Hex SHA-256 of `bytes`.
#[must_use]
pub fn fingerprint(bytes: &[u8]) -> String {
    use std::fmt::Write;
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The zone a template file name stands for: `example.com.zone` -> `example.com`;
/// `.zone` and `..zone` -> the root zone. Other files (and editor leftovers) -> None.
#[must_use]
pub fn zone_name(file_name: &str) -> Option<String> {
    let stem = file_name.strip_suffix(".zone")?;
    if stem.is_empty() || stem == "." {
        return Some(".".into());
    }
    if stem.starts_with('.') || stem.contains(['/', '~', '#']) || stem.ends_with('.') {
        return None;
    }
    Some(stem.to_owned())
}

/// Load and parse every template in the config's templates directory, sorted by zone name.
pub fn load_templates(config: &Config) -> Result<Vec<Zone>> {
    let dir = &config.templates;
    let entries = fs::read_dir(dir).map_err(|e| Error::Config {
        path: config.path.clone(),
        message: format!("templates: cannot read directory '{}': {e}", dir.display()),
    })?;
    let mut zones = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, "read directory", e))?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(name) = zone_name(&file_name) else {
            continue;
        };
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        let bytes = fs::read(&path).map_err(|e| Error::io(&path, "read template", e))?;
        zones.push(parse_zone(config, name, file_name, path, bytes)?);
    }
    if zones.is_empty() {
        return Err(Error::Config {
            path: config.path.clone(),
            message: format!(
                "templates: no templates (<zone>.zone files) in '{}'",
                dir.display()
            ),
        });
    }
    zones.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(zones)
}

fn parse_zone(
    config: &Config,
    name: String,
    file_name: String,
    path: PathBuf,
    bytes: Vec<u8>,
) -> Result<Zone> {
    let template_error = |line, message| Error::Template {
        path: path.clone(),
        line,
        message,
    };
    let fingerprint = fingerprint(&bytes);
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.split(|&b| b == b'\n').count();
        template_error(Some(line), "not valid UTF-8".into())
    })?;
    let template = Template::parse(text, |marker| lookup(config, marker))
        .map_err(|u| template_error(Some(u.line), format!("unknown marker @{}@", u.name)))?;
    check_addresses(config, &template, &path)?;
    Ok(Zone {
        name,
        file_name,
        template_path: path,
        template,
        fingerprint,
    })
}

fn lookup(config: &Config, name: &str) -> Option<Marker> {
    if name == "serial" || name == "serial number" {
        return Some(Marker::Serial);
    }
    config
        .pool_for_marker(name)
        .map(|(pool, v6)| Marker::Address { pool, v6 })
}

/// Every server of a pool whose address marker a template uses must have that address
/// family, or a failover would one day have nothing to write there.
fn check_addresses(config: &Config, template: &Template, path: &Path) -> Result<()> {
    for &(marker, line) in template.uses() {
        let Marker::Address { pool, v6 } = marker else {
            continue;
        };
        let pool = &config.pools[pool];
        let lacking = pool.servers.iter().find(|s| {
            if v6 {
                s.ipv6.is_none()
            } else {
                s.ipv4.is_none()
            }
        });
        if let Some(server) = lacking {
            let (name, key) = if v6 {
                (format!("{}6", pool.marker), "ipv6")
            } else {
                (pool.marker.clone(), "ipv4")
            };
            return Err(Error::Template {
                path: path.to_owned(),
                line: Some(line),
                message: format!(
                    "@{name}@ is used, but server {:?} of pool {:?} has no {key} address",
                    server.name, pool.name
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_names_from_file_names() {
        let cases = [
            ("example.com.zone", Some("example.com")),
            ("example.NET.zone", Some("example.NET")),
            (".zone", Some(".")),
            ("..zone", Some(".")),
            ("example.com", None),
            (".example.com.zone.swp", None),
            (".#example.com.zone", None),
            (".example.com.zone.abc.tmp", None),
            ("example.com.zone~", None),
        ];
        for (file, want) in cases {
            assert_eq!(zone_name(file).as_deref(), want, "{file}");
        }
    }

    #[test]
    fn fingerprints_are_sha256() {
        assert_eq!(
            fingerprint(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
