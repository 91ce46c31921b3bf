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
    let groups = duplicates(found);
    // Read and parsed several at once (one per core): ten thousand templates are most of
    // a run with nothing to do.
    let parsed = crate::parallel::map(&groups, crate::parallel::workers(), |group| {
        let [(name, file_name, path)] = group.as_slice() else {
            return None;
        };
        Some(read_template(path).and_then(|bytes| {
            parse_zone(config, name.clone(), file_name.clone(), path.clone(), bytes)
        }))
    });
    let mut templates = Templates::default();
    for (group, parsed) in groups.into_iter().zip(parsed) {
        match group.as_slice() {
            [(name, _, _)] => match parsed.expect("parsed above") {
                Ok(zone) => templates.zones.push(zone),
                Err(e) => {
                    templates.broken.push(name.clone());
                    templates.errors.push(e);
                }
            },
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

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;
    use crate::testing::{self, TEMPLATE};

    /// The fixture config with its templates in a fresh temporary directory.
    fn setup(files: &[(&str, &str)]) -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        let mut config = testing::config();
        config.templates = dir.path().to_owned();
        for (name, text) in files {
            fs::write(dir.path().join(name), text).unwrap();
        }
        (dir, config)
    }

    fn names(templates: &Templates) -> Vec<&str> {
        templates.zones.iter().map(|z| z.name.as_str()).collect()
    }

    fn errors(templates: &Templates) -> Vec<String> {
        templates.errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn zones_are_sorted_and_other_files_ignored() {
        let (dir, config) = setup(&[
            ("b.example.zone", TEMPLATE),
            ("a.example.zone", TEMPLATE),
            ("..zone", TEMPLATE),
            (".a.example.zone.swp", "garbage @NOPE@"),
            ("a.example.zone~", "garbage @NOPE@"),
            (".#a.example.zone", "garbage @NOPE@"),
            (".a.example.zone.Xy12Z.tmp", "garbage @NOPE@"),
            ("README", "garbage @NOPE@"),
        ]);
        let t = load_templates(&config).unwrap();
        assert_eq!(names(&t), [".", "a.example", "b.example"]);
        assert!(
            t.broken.is_empty() && t.errors.is_empty(),
            "{:?}",
            errors(&t)
        );
        let a = &t.zones[1];
        assert_eq!(a.file_name, "a.example.zone");
        assert_eq!(a.template_path, dir.path().join("a.example.zone"));
        assert_eq!(a.template.text(), TEMPLATE);
        assert_eq!(a.fingerprint, crate::zone::fingerprint(TEMPLATE.as_bytes()));
        assert_eq!(t.zones[0].file_name, "..zone");
    }

    #[test]
    fn a_broken_template_fails_only_its_zone() {
        let (dir, config) = setup(&[
            ("good.example.zone", TEMPLATE),
            (
                "bad.example.zone",
                "@ IN SOA ns hm ( @serial@ 1 2 3 4 )\nwww A @NOPE@\n",
            ),
            ("literal.example.zone", "@ IN SOA ns hm ( 7 1 2 3 4 )\n"),
        ]);
        let t = load_templates(&config).unwrap();
        assert_eq!(names(&t), ["good.example"]);
        assert_eq!(t.broken, ["bad.example", "literal.example"]);
        let d = dir.path().display();
        assert_eq!(
            errors(&t),
            [
                format!("{d}/bad.example.zone:2: unknown marker @NOPE@"),
                format!(
                    "{d}/literal.example.zone:1: the SOA serial is the literal 7; write @serial@ in its place (zonerw owns the serial, and a fixed one would hide changes from the secondaries)"
                ),
            ]
        );
        assert!(t.errors.iter().all(|e| e.exit_code() == 2));
    }

    #[test]
    fn duplicate_templates_of_one_zone_break_all_of_them() {
        let (dir, config) = setup(&[
            ("example.com.zone", TEMPLATE),
            ("Example.COM.zone", TEMPLATE),
            (".zone", TEMPLATE),
            ("..zone", TEMPLATE),
            ("other.example.zone", TEMPLATE),
        ]);
        let t = load_templates(&config).unwrap();
        assert_eq!(names(&t), ["other.example"]);
        assert_eq!(t.broken, [".", ".", "Example.COM", "example.com"]);
        let d = dir.path().display();
        let rest = "(DNS names ignore case, and .zone and ..zone are both the root); none of them is used until only one is left";
        assert_eq!(
            errors(&t),
            [
                format!(
                    "{d}/..zone: zone . has more than one template: this file and '{d}/.zone' {rest}"
                ),
                format!(
                    "{d}/Example.COM.zone: zone Example.COM has more than one template: this file and '{d}/example.com.zone' {rest}"
                ),
            ]
        );
    }

    #[test]
    fn three_templates_of_one_zone_are_all_named() {
        let (dir, config) = setup(&[
            ("ab.zone", TEMPLATE),
            ("Ab.zone", TEMPLATE),
            ("AB.zone", TEMPLATE),
            // The suffix is case-sensitive: this is no template at all.
            ("aB.ZONE", TEMPLATE),
        ]);
        let t = load_templates(&config).unwrap();
        assert!(t.zones.is_empty());
        assert_eq!(t.broken, ["AB", "Ab", "ab"]);
        let d = dir.path().display();
        assert_eq!(
            errors(&t),
            [format!(
                "{d}/AB.zone: zone AB has more than one template: this file and '{d}/Ab.zone' and '{d}/ab.zone' (DNS names ignore case, and .zone and ..zone are both the root); none of them is used until only one is left"
            )]
        );
    }

    #[test]
    fn a_template_that_is_not_a_file_is_an_error_of_its_zone() {
        let (dir, config) = setup(&[("real.example.zone", TEMPLATE)]);
        let d = dir.path();
        fs::create_dir(d.join("dir.example.zone")).unwrap();
        symlink(d.join("nothing"), d.join("dangling.example.zone")).unwrap();
        symlink(d.join("real.example.zone"), d.join("linked.example.zone")).unwrap();
        let fifo = std::ffi::CString::new(format!("{}/fifo.example.zone", d.display())).unwrap();
        // SAFETY: a valid NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let t = load_templates(&config).unwrap();
        // A link to a template is a template (often a link into a checkout).
        assert_eq!(names(&t), ["linked.example", "real.example"]);
        assert_eq!(
            t.broken,
            ["dangling.example", "dir.example", "fifo.example"]
        );
        let d = d.display();
        assert_eq!(
            errors(&t),
            [
                format!(
                    "{d}/dangling.example.zone: cannot read template: it is a link to a file that does not exist"
                ),
                format!("{d}/dir.example.zone: it is a directory, not a template file"),
                format!("{d}/fifo.example.zone: it is a FIFO, not a template file"),
            ]
        );
    }

    #[test]
    fn no_template_at_all_fails_the_run() {
        let (dir, config) = setup(&[("notes.txt", ""), (".x.zone.swp", "")]);
        let e = load_templates(&config).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "/etc/zonerw/zonerw.toml: templates: no templates (<zone>.zone files) in '{}'",
                dir.path().display()
            )
        );
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn an_unreadable_templates_directory_fails_the_run() {
        let (dir, mut config) = setup(&[]);
        config.templates = dir.path().join("missing");
        let e = load_templates(&config).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "/etc/zonerw/zonerw.toml: templates: cannot read directory '{}/missing': No such file or directory (os error 2)",
                dir.path().display()
            )
        );
        assert_eq!(e.exit_code(), 2);
        config.templates = dir.path().join("file");
        fs::write(&config.templates, "").unwrap();
        assert!(
            load_templates(&config)
                .unwrap_err()
                .to_string()
                .ends_with("/file': Not a directory (os error 20)")
        );
    }
}
