//! The templates directory: one `<zone>.zone` template per zone, read safely and parsed.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::fsio;
use crate::state::TemplateStamp;
use crate::zone::{Zone, parse_zone, zone_name};

/// The templates of a run: the sound ones, and an error for each broken one.
#[derive(Debug)]
pub struct Templates<K = ()> {
    /// Zones whose template loaded, sorted by name.
    pub zones: Vec<Zone>,
    /// Zones kept without reading their template, with what `keep` said of each, sorted by
    /// name (none for [`load_templates`]).
    pub kept: Vec<(Zone, K)>,
    /// Names of the zones whose template is broken (or duplicated).
    pub broken: Vec<String>,
    /// One template error per broken template (exit 2). Its zone is skipped: the installed
    /// file stays as it is, and every other zone is still applied.
    pub errors: Vec<Error>,
}

/// The template files found in the templates directory, grouped by zone (a group of more
/// than one is a zone with several templates), sorted.
#[derive(Debug)]
pub struct Listing(Vec<Vec<(String, String, PathBuf)>>);

/// A template's stamp is recorded only once its last change is this old: a change within
/// the same clock tick as the read (file times move in ticks of up to 4 ms) could leave
/// size and times as they were, and such a template must be read again. (git's index calls
/// it "racily clean".)
pub const SETTLED: std::time::Duration = std::time::Duration::from_secs(2);

/// Load and parse every template in the config's templates directory, sorted by zone name.
/// A broken template holds only itself: it becomes an entry of `errors`. Only a templates
/// directory that cannot be read, or holds no template at all, fails the whole run (exit 2
/// too, like a broken template).
pub fn load_templates(config: &Config) -> Result<Templates> {
    Ok(load(config, list(config)?, None, |_, _, _| {
        None::<(_, _, ())>
    }))
}

/// The templates in the config's templates directory; an error (exit 2) when it cannot be
/// read or holds no template at all.
pub fn list(config: &Config) -> Result<Listing> {
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
    Ok(Listing(duplicates(found)))
}

/// Read and parse the listed templates, but first ask `keep` of each (by zone name, file
/// name and path): a zone it answers for (with the template's stamp, the recorded
/// fingerprint and what it says of the zone) is not read: its template is the one recorded,
/// and nothing else that feeds it changed. Its `Zone` has no template. `now`: the run's
/// start, to tell a settled stamp (worth recording) from one too recent ([`SETTLED`]);
/// None records none.
pub fn load<K: Send>(
    config: &Config,
    listing: Listing,
    now: Option<jiff::Timestamp>,
    keep: impl Fn(&str, &str, &Path) -> Option<(TemplateStamp, String, K)> + Sync,
) -> Templates<K> {
    let settled = |stamp: TemplateStamp| {
        let now_ns = now.map_or(0, jiff::Timestamp::as_nanosecond);
        let settled_ns = i128::try_from(SETTLED.as_nanos()).unwrap_or(i128::MAX);
        (i128::from(stamp.ctime_ns).saturating_add(settled_ns) <= now_ns).then_some(stamp)
    };
    let groups = listing.0;
    // Read and parsed several at once (one per core): ten thousand templates are most of
    // a run with nothing to do when they must be read.
    let loaded = crate::parallel::map(&groups, crate::parallel::workers(), |group| {
        let [(name, file_name, path)] = group.as_slice() else {
            return None;
        };
        let zone = |template, fingerprint, stamp| Zone {
            name: name.clone(),
            file_name: file_name.clone(),
            template_path: path.clone(),
            template,
            fingerprint,
            stamp,
        };
        if let Some((stamp, fingerprint, said)) = keep(name, file_name, path) {
            return Some(Ok(Some((zone(None, fingerprint, Some(stamp)), Some(said)))));
        }
        let (bytes, stamp) = match read_template(path) {
            Ok(Some(read)) => read,
            Ok(None) => return Some(Ok(None)),
            Err(e) => return Some(Err(e)),
        };
        Some(
            parse_zone(config, name.clone(), file_name.clone(), path.clone(), bytes).map(
                |parsed| {
                    let stamp = stamp.and_then(settled);
                    Some((Zone { stamp, ..parsed }, None))
                },
            ),
        )
    });
    let mut templates = Templates {
        zones: Vec::new(),
        kept: Vec::new(),
        broken: Vec::new(),
        errors: Vec::new(),
    };
    for (group, loaded) in groups.into_iter().zip(loaded) {
        match group.as_slice() {
            [(name, _, _)] => match loaded.expect("loaded above") {
                Ok(Some((zone, None))) => templates.zones.push(zone),
                Ok(Some((zone, Some(said)))) => templates.kept.push((zone, said)),
                Ok(None) => {}
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
    templates.kept.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    templates
}

/// The bytes of a template: never blocks on a FIFO, never reads a device, bounded. Anything
/// but a (link to a) regular file is a template error of that zone, not a silent skip (which
/// would drop the zone's state and leave its installed file behind through a failover).
/// Ok(None): the file is gone since the directory was listed (removed or renamed while the
/// run probed the servers): the zone has no template, as if it had gone before the run.
fn read_template(path: &Path) -> Result<Option<(Vec<u8>, Option<TemplateStamp>)>> {
    let error = |message: String| Error::Template {
        path: path.to_owned(),
        line: None,
        message,
    };
    match fsio::read_template_stamped(path) {
        Ok((fsio::Installed::File(bytes), stamp)) => Ok(Some((bytes, stamp))),
        Ok((fsio::Installed::Absent, _))
            if fs::symlink_metadata(path).is_err_and(|e| e.kind() == ErrorKind::NotFound) =>
        {
            Ok(None)
        }
        Ok((fsio::Installed::Absent, _)) => Err(error(
            "cannot read template: it is a link to a file that does not exist".into(),
        )),
        Ok((fsio::Installed::NotAFile(kind), _)) => {
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

    fn names<K>(templates: &Templates<K>) -> Vec<&str> {
        templates.zones.iter().map(|z| z.name.as_str()).collect()
    }

    fn errors<K>(templates: &Templates<K>) -> Vec<String> {
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
        assert_eq!(a.template.as_ref().unwrap().text(), TEMPLATE);
        assert_eq!(a.fingerprint, crate::zone::fingerprint(TEMPLATE.as_bytes()));
        assert_eq!(t.zones[0].file_name, "..zone");
    }

    /// A zone `keep` answers for is not read (its garbage would be an error); the others are
    /// parsed, and their stamp is kept only once their last change is `SETTLED` old.
    #[test]
    fn a_zone_keep_answers_for_is_not_read_and_a_recent_stamp_is_not_kept() {
        let (dir, config) = setup(&[
            ("kept.example.zone", "not a template @NOPE@"),
            ("read.example.zone", TEMPLATE),
        ]);
        let stamp = fsio::template_stamp(&dir.path().join("read.example.zone")).unwrap();
        let ctime = i128::from(stamp.ctime_ns);
        let at = |ns: i128| jiff::Timestamp::from_nanosecond(ctime + ns).unwrap();
        let keep = |name: &str, file: &str, path: &Path| {
            let stamp = fsio::template_stamp(path)?;
            (name == "kept.example")
                .then(|| (stamp, "recorded".to_owned(), (file.to_owned(), stamp)))
        };
        let settled = i128::try_from(SETTLED.as_nanos()).unwrap();
        let t = load(&config, list(&config).unwrap(), Some(at(settled - 1)), keep);
        assert!(t.errors.is_empty(), "{:?}", errors(&t));
        assert_eq!(names(&t), ["read.example"]);
        let [(kept, (file, said))] = t.kept.as_slice() else {
            panic!("{:?}", t.kept);
        };
        let kept_stamp = fsio::template_stamp(&dir.path().join("kept.example.zone"));
        assert_eq!(
            (kept.name.as_str(), file.as_str(), Some(*said)),
            ("kept.example", "kept.example.zone", kept_stamp)
        );
        assert!(kept.template.is_none());
        assert_eq!(
            (kept.fingerprint.as_str(), kept.stamp),
            ("recorded", kept_stamp)
        );
        assert_eq!(t.zones[0].stamp, None, "changed too recently to record");
        let t = load(&config, list(&config).unwrap(), Some(at(settled)), keep);
        assert_eq!(t.zones[0].stamp, Some(stamp));
        let t = load(&config, list(&config).unwrap(), None, keep);
        assert_eq!(t.zones[0].stamp, None, "no clock, no stamp");
    }

    /// A template removed or renamed after the listing (while the run probed the
    /// servers) is no zone, as if it had gone before the run; it is no broken template.
    #[test]
    fn a_template_gone_since_the_listing_is_no_zone_and_no_error() {
        let (dir, config) = setup(&[
            ("gone.example.zone", TEMPLATE),
            ("kept.example.zone", TEMPLATE),
        ]);
        let listing = list(&config).unwrap();
        fs::rename(
            dir.path().join("gone.example.zone"),
            dir.path().join("gone.example.zone~"),
        )
        .unwrap();
        let t = load(&config, listing, None, |_, _, _| None::<(_, _, ())>);
        assert_eq!(names(&t), ["kept.example"]);
        assert!(
            t.broken.is_empty() && t.errors.is_empty(),
            "{:?}",
            errors(&t)
        );
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
