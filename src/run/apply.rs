//! Steps 1–3 of a run: render and check, install atomically, reload.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::sign::{self, Signer};
use crate::config::Config;
use crate::error::{Error, Errors, Result};
use crate::fsio::{self, Staged};
use crate::outcome::{Fate, ZoneRun};
use crate::parallel;
use crate::plan::Action;
use crate::primary::{self, Known, Target, ZoneInfo};
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
    signer: &Signer<'_>,
    infos: &BTreeMap<String, ZoneInfo>,
) -> Result<()> {
    let mut errors = Errors::default();
    let mut staged = stage_all(config, zones, &config.zones, signer, &mut errors);
    let to_add = unknown_zones(config, zones, infos, &mut errors);
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
    let to_add: Vec<usize> = to_add.into_iter().filter(|&i| zones[i].pending()).collect();
    let wanted: Vec<(&str, PathBuf)> = to_add
        .iter()
        .map(|&i| {
            let z = &zones[i].zone;
            (z.name.as_str(), config.zones.join(&z.file_name))
        })
        .collect();
    let results = primary::add_zones(&config.primary, &wanted);
    drop(wanted);
    let mut added = Vec::new();
    for (i, result) in to_add.into_iter().zip(results) {
        match result {
            Ok(()) => added.push(i),
            Err(e) => {
                errors.push(e);
                zones[i].fate = Fate::Failed;
            }
        }
    }
    // BIND's addzone loads the file itself (a reload would find it up to date).
    if config.primary.kind == crate::config::Kind::Bind {
        for i in added {
            zones[i].fate = Fate::Reloaded {
                stamp: fsio::stamp(&config.zones.join(&zones[i].zone.file_name)),
                propagation: None,
            };
        }
    }
    reload(config, zones, &mut errors);
    errors.into_result()
}

/// Step 3: reload every zone still pending (`primary::reload`: NSD one `reload` for
/// several, Knot and BIND one zone at a time); each becomes Reloaded (with the stamp of its
/// file, read after the reload: BIND's may have been made newer) or, if its reload failed,
/// Failed.
fn reload(config: &Config, zones: &mut [ZoneRun], errors: &mut Errors) {
    let pending: Vec<usize> = (0..zones.len()).filter(|&i| zones[i].pending()).collect();
    let targets: Vec<Target<'_>> = pending
        .iter()
        .map(|&i| Target {
            zone: &zones[i].zone.name,
            file: config.zones.join(&zones[i].zone.file_name),
        })
        .collect();
    let done = primary::reload(&config.primary, &targets);
    drop(targets);
    for note in &done.notes {
        crate::errln!("zonerw: warning: {note}");
    }
    errors.extend(done.errors);
    for (i, failed) in pending.into_iter().zip(done.failed) {
        let z = &mut zones[i];
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

/// What a dry run checks, without installing anything: each zone it would write is rendered
/// into a private temporary directory and put through the same checks as in a run (the
/// SOA serial read back, `nsd-checkzone`). A zone that would fail becomes Failed; the
/// errors are returned (exit 1, as the real run would).
pub(super) fn check_only(
    config: &Config,
    zones: &mut [ZoneRun],
    signer: &Signer<'_>,
) -> Result<()> {
    let mut errors = Errors::default();
    if zones.iter().any(|z| z.plan.action == Action::Write) {
        // Registered, so that a signal removes it too (after the files in it).
        let checked = fsio::with_private_dir("zonerw-dry-run.", |dir| {
            drop(stage_all(config, zones, dir, signer, &mut errors));
        });
        if let Err(e) = checked {
            errors.push(e);
        }
    }
    errors.into_result()
}

/// Step 1 for every zone to write: sign it if it has keys (`sign::sign_all`), write it
/// into a temporary file in `dir` (beside its target, in a run), then run `nsd-checkzone`
/// on them, several at once (one per core). A zone that fails becomes Failed and its error
/// is collected. Returns the staged files by zone index.
fn stage_all(
    config: &Config,
    zones: &mut [ZoneRun],
    dir: &Path,
    signer: &Signer<'_>,
    errors: &mut Errors,
) -> Vec<(usize, Staged)> {
    sign::sign_all(config, signer, zones, dir, errors);
    let mut staged = Vec::new();
    for (i, z) in zones.iter_mut().enumerate() {
        if z.plan.action != Action::Write || z.fate != Fate::Untouched {
            continue;
        }
        // Read the serial back from the very text to be installed: what zonerw reports (and
        // [verify] waits for) must be what NSD will serve.
        let written = soa_serial(&z.plan.contents);
        if written != z.plan.serial {
            let show = |s: Option<u32>| s.map_or_else(|| "missing".into(), |s| s.to_string());
            errors.push(Error::NotInstalled {
                zone: z.zone.name.clone(),
                server: config.primary.name(),
                message: format!(
                    "the rendered zone's SOA serial is {}, not the planned {}",
                    show(written),
                    show(z.plan.serial)
                ),
            });
            z.fate = Fate::Failed;
            continue;
        }
        match Staged::write(dir, &z.zone.file_name, z.plan.contents.as_bytes()) {
            Ok(s) => staged.push((i, s)),
            Err(e) => {
                errors.push(e);
                z.fate = Fate::Failed;
            }
        }
    }
    if config.primary.check.is_none() {
        return staged;
    }
    let workers = crate::parallel::workers();
    let checked = parallel::map(&staged, workers, |(i, s)| {
        let zone = &zones[*i].zone;
        // A signed zone's lines are the signer's, not the template's.
        let shown = if zones[*i].signed.is_some() {
            PathBuf::from(format!("{} (as signed)", zone.template_path.display()))
        } else {
            zone.template_path.clone()
        };
        primary::check(&config.primary, &zone.name, s.path(), &shown)
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

/// Zones zonerw meets for the first time may be new to the server too (a template just
/// dropped into the directory). Ask it (what it said while planning, in `infos`, or now,
/// for all of them in one go); return those to add after install (with `add-pattern` /
/// `add-template`), or fail them with the lines to add to the server's config (without).
fn unknown_zones(
    config: &Config,
    zones: &mut [ZoneRun],
    infos: &BTreeMap<String, ZoneInfo>,
    errors: &mut Errors,
) -> Vec<usize> {
    let p = &config.primary;
    // Knot and BIND were asked about every zone to write while planning: one they lost
    // (a Knot without a configuration database forgets added zones) is added again.
    let new: Vec<usize> = (0..zones.len())
        .filter(|&i| {
            let z = &zones[i];
            z.pending()
                && (z.plan.first_time
                    || infos
                        .get(&z.zone.name)
                        .is_some_and(|i| i.known == Known::No))
        })
        .collect();
    let unasked: Vec<&str> = new
        .iter()
        .map(|&i| zones[i].zone.name.as_str())
        .filter(|z| !infos.contains_key(*z))
        .collect();
    let asked: BTreeMap<String, ZoneInfo> = unasked
        .iter()
        .map(|z| (*z).to_owned())
        .zip(primary::zone_infos(p, &unasked))
        .collect();
    let mut to_add = Vec::new();
    for i in new {
        let z = &mut zones[i];
        let info = infos.get(&z.zone.name).or_else(|| asked.get(&z.zone.name));
        if info.is_none_or(|info| info.known != Known::No) {
            continue;
        }
        if p.add_template.is_some() {
            to_add.push(i);
        } else {
            let file = config.zones.join(&z.zone.file_name);
            errors.push(Error::UnknownZone {
                zone: z.zone.name.clone(),
                server: p.name(),
                how: primary::how_to_add(p, &z.zone.name, &file),
            });
            z.fate = Fate::Failed;
        }
    }
    to_add
}

#[cfg(test)]
mod tests {
    //! The apply steps against a stub `nsd-control` (a shell one-liner that logs its
    //! arguments) and a stub `nsd-checkzone`; the real NSD is in the integration tests.

    use std::fs;
    use std::path::PathBuf;

    use super::*;
    use crate::outcome::ZoneRun;
    use crate::testing::{script, zone_run};

    /// No `[dnssec]`: nothing is signed.
    fn unsigned() -> Signer<'static> {
        Signer {
            dnssec: None,
            keys: None,
            now: crate::testing::now(),
        }
    }

    struct Setup {
        _dir: tempfile::TempDir,
        config: Config,
        files: StateFiles,
        log: PathBuf,
    }

    /// Zones whose name starts with `new.` are unknown to the stub NSD; `reload` exits
    /// `reload_rc`; the checker rejects a file containing `BAD`.
    fn setup(reload_rc: u8, add_pattern: bool) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for sub in ["templates", "zones", "state"] {
            fs::create_dir(root.join(sub)).unwrap();
        }
        let log = root.join("log");
        let checkzone = script(
            root,
            "checkzone",
            "if grep -q BAD \"$2\"; then echo \"error: $2:2: bad record\" >&2; exit 1; fi",
        );
        let control = format!(
            r#"echo "$*" >> {}; case "$1" in zonestatus) case "$2" in new.*) echo "error zone $2 not configured"; exit 1;; esac;; reload) exit {reload_rc};; esac"#,
            log.display()
        );
        let pattern = if add_pattern {
            "add-pattern = \"zonerw\"\n"
        } else {
            ""
        };
        let text = format!(
            "templates = '{root}/templates'\nzones = '{root}/zones'\nstate = '{root}/state'\n\
             [nsd]\ncontrol = ['sh', '-c', '{control}', 'stub']\ncheckzone = '{check}'\n{pattern}\
             [[pool]]\nname = \"web\"\n[[pool.server]]\nname = \"main\"\nipv4 = \"192.0.2.1\"\n",
            root = root.display(),
            check = checkzone,
        );
        let config = Config::parse(&text, &root.join("zonerw.toml")).unwrap();
        let files = StateFiles::in_dir(&config.state);
        Setup {
            _dir: dir,
            config,
            files,
            log,
        }
    }

    /// Like `setup`, with `[server] kind = KIND`, add-template "zonerw" and a control stub
    /// that logs its arguments and says OK.
    fn setup_server(kind: &str) -> Setup {
        let s = setup(0, false);
        let root = s.config.path.parent().unwrap();
        let control = format!(r#"echo "$*" >> {}; echo OK"#, s.log.display());
        let text = format!(
            "templates = '{root}/templates'\nzones = '{root}/zones'\nstate = '{root}/state'\n\
             [server]\nkind = '{kind}'\ncontrol = ['sh', '-c', '{control}', 'stub']\ncheck = []\n\
             add-template = 'zonerw'\n\
             [[pool]]\nname = \"web\"\n[[pool.server]]\nname = \"main\"\nipv4 = \"192.0.2.1\"\n",
            root = root.display(),
        );
        let config = Config::parse(&text, &root.join("zonerw.toml")).unwrap();
        Setup { config, ..s }
    }

    impl Setup {
        /// The same, with the control tool the shell one-liner `script`.
        /// `apply` on `zones` with this setup's config and files, unsigned, no serials
        /// reserved before.
        fn apply(&self, zones: &mut [ZoneRun], infos: &BTreeMap<String, ZoneInfo>) -> Result<()> {
            apply(
                &self.config,
                zones,
                Reserved::new(),
                &self.files,
                &unsigned(),
                infos,
            )
        }

        fn with_control(mut self, script: String) -> Setup {
            self.config.primary.control = vec!["sh".into(), "-c".into(), script, "stub".into()];
            self
        }

        fn calls(&self) -> Vec<String> {
            fs::read_to_string(&self.log)
                .unwrap_or_default()
                .lines()
                .map(str::to_owned)
                .collect()
        }

        fn installed(&self, name: &str) -> Option<String> {
            fs::read_to_string(self.config.zones.join(format!("{name}.zone"))).ok()
        }

        fn zone(&self, name: &str, action: Action, old: Option<u32>, new: u32) -> ZoneRun {
            let mut z = zone_run(&self.config, action, old, new, "198.51.100.7");
            z.zone.name = name.into();
            z.zone.file_name = format!("{name}.zone");
            z
        }

        fn leftovers(&self) -> Vec<String> {
            fs::read_dir(&self.config.zones)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| {
                    std::path::Path::new(n)
                        .extension()
                        .is_none_or(|e| e != "zone")
                })
                .collect()
        }
    }

    fn fates(zones: &[ZoneRun]) -> Vec<(&str, &str)> {
        zones
            .iter()
            .map(|z| {
                let fate = match z.fate {
                    Fate::Untouched => "untouched",
                    Fate::Failed => "failed",
                    Fate::Reloaded { .. } => "reloaded",
                };
                (z.zone.name.as_str(), fate)
            })
            .collect()
    }

    #[test]
    fn written_zones_are_checked_installed_recorded_and_reloaded_at_once() {
        let s = setup(0, false);
        let mut zones = [
            s.zone("a.example", Action::Write, Some(1), 2),
            s.zone("b.example", Action::Keep, Some(5), 5),
            s.zone("c.example", Action::Write, Some(3), 4),
        ];
        s.apply(&mut zones, &BTreeMap::new()).unwrap();
        assert_eq!(
            fates(&zones),
            [
                ("a.example", "reloaded"),
                ("b.example", "untouched"),
                ("c.example", "reloaded")
            ]
        );
        assert_eq!(
            s.installed("a.example").as_deref(),
            Some(zones[0].plan.contents.as_str())
        );
        assert_eq!(s.installed("b.example"), None, "a kept zone is not written");
        assert_eq!(s.calls(), ["reload"], "several zones: one plain reload");
        let Fate::Reloaded { stamp, .. } = &zones[0].fate else {
            unreachable!()
        };
        assert_eq!(*stamp, fsio::stamp(&s.config.zones.join("a.example.zone")));
        assert!(stamp.is_some());
        assert_eq!(
            fs::read_to_string(&s.files.serials).unwrap(),
            "{\n  \"a.example\": 2,\n  \"c.example\": 4\n}\n",
            "serials recorded before install"
        );
        assert!(s.leftovers().is_empty(), "{:?}", s.leftovers());
    }

    #[test]
    fn a_zone_the_checker_rejects_fails_alone() {
        let s = setup(0, false);
        let mut bad = s.zone("bad.example", Action::Write, Some(1), 2);
        bad.plan.contents.push_str("BAD\n");
        let mut zones = [bad, s.zone("good.example", Action::Write, Some(1), 2)];
        let error = s.apply(&mut zones, &BTreeMap::new()).unwrap_err();
        assert_eq!(
            fates(&zones),
            [("bad.example", "failed"), ("good.example", "reloaded")]
        );
        assert_eq!(
            error.to_string(),
            "bad.example: nsd-checkzone rejected the rendered zone; it was not installed and NSD keeps serving the old one:\n  \
             /etc/zonerw/templates/example.com.zone:2: bad record"
        );
        assert_eq!(s.installed("bad.example"), None);
        assert_eq!(s.calls(), ["reload good.example"]);
        assert!(s.leftovers().is_empty(), "{:?}", s.leftovers());
    }

    #[test]
    fn a_rendered_serial_that_is_not_the_planned_one_is_never_installed() {
        let s = setup(0, false);
        let mut z = s.zone("a.example", Action::Write, Some(1), 2);
        z.plan.serial = Some(3);
        let mut zones = [z];
        let error = s.apply(&mut zones, &BTreeMap::new()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "a.example: the rendered zone's SOA serial is 2, not the planned 3; it was not installed and NSD keeps serving the old zone"
        );
        assert_eq!(fates(&zones), [("a.example", "failed")]);
        assert!(s.calls().is_empty());
        assert_eq!(s.installed("a.example"), None);
    }

    #[test]
    fn a_failed_reload_fails_every_zone_it_named() {
        let s = setup(1, false);
        let mut zones = [
            s.zone("a.example", Action::Write, Some(1), 2),
            s.zone("b.example", Action::Adopt, Some(7), 7),
        ];
        let error = s.apply(&mut zones, &BTreeMap::new()).unwrap_err();
        assert_eq!(
            fates(&zones),
            [("a.example", "failed"), ("b.example", "failed")]
        );
        assert!(error.to_string().starts_with("'sh -c "), "{error}");
        assert!(
            error
                .to_string()
                .ends_with("stub reload' failed (exit status: 1): "),
            "{error}"
        );
        assert_eq!(error.exit_code(), 1);
        assert!(
            s.installed("a.example").is_some(),
            "installed, the reload is retried next run"
        );
    }

    #[test]
    fn a_zone_new_to_nsd_is_added_with_a_pattern_or_refused_without() {
        for with_pattern in [false, true] {
            let s = setup(0, with_pattern);
            let mut zones = [
                s.zone("new.example", Action::Write, None, 1),
                s.zone("known.example", Action::Write, None, 1),
            ];
            let result = s.apply(&mut zones, &BTreeMap::new());
            if with_pattern {
                result.unwrap();
                assert_eq!(
                    fates(&zones),
                    [("new.example", "reloaded"), ("known.example", "reloaded")]
                );
                assert_eq!(
                    s.calls(),
                    [
                        "zonestatus new.example",
                        "zonestatus known.example",
                        "addzone new.example zonerw",
                        "reload"
                    ]
                );
            } else {
                let error = result.unwrap_err();
                assert!(
                    error.to_string().starts_with(
                        "new.example: NSD does not serve this zone, so it was not installed."
                    ),
                    "{error}"
                );
                assert_eq!(
                    fates(&zones),
                    [("new.example", "failed"), ("known.example", "reloaded")]
                );
                assert_eq!(
                    s.installed("new.example"),
                    None,
                    "not installed for an unknown zone"
                );
                assert!(s.leftovers().is_empty(), "{:?}", s.leftovers());
                assert_eq!(
                    s.calls(),
                    [
                        "zonestatus new.example",
                        "zonestatus known.example",
                        "reload known.example"
                    ]
                );
            }
        }
    }

    #[test]
    fn knot_lost_zones_are_added_again_and_unclear_ones_installed_as_with_nsd() {
        let s = setup_server("knot");
        let mut zones = [
            s.zone("unclear.example", Action::Write, Some(1), 2),
            s.zone("lost.example", Action::Write, Some(1), 2),
            s.zone("fine.example", Action::Write, Some(1), 2),
        ];
        let info = |known, serial| ZoneInfo {
            known,
            serial,
            primary: None,
        };
        let infos = BTreeMap::from([
            ("unclear.example".to_owned(), ZoneInfo::UNCLEAR),
            ("lost.example".to_owned(), info(Known::No, None)),
            ("fine.example".to_owned(), info(Known::Yes, Some(1))),
        ]);
        // A server that could not say (down, most likely) does not stop the install: as
        // with NSD, the file is in place when it comes back, and the next run, which asks
        // again, writes it anew if the server serves a serial at or above it.
        s.apply(&mut zones, &infos).unwrap();
        assert_eq!(
            fates(&zones),
            [
                ("unclear.example", "reloaded"),
                ("lost.example", "reloaded"),
                ("fine.example", "reloaded")
            ]
        );
        assert!(s.installed("unclear.example").is_some());
        let file = s.config.zones.join("lost.example.zone");
        assert_eq!(
            s.calls(),
            [
                "conf-begin".to_owned(),
                "conf-set zone[lost.example]".to_owned(),
                "conf-set zone[lost.example].template zonerw".to_owned(),
                format!("conf-set zone[lost.example].file {}", file.display()),
                "conf-commit".to_owned(),
                "-b zone-reload unclear.example".to_owned(),
                "-b zone-reload lost.example".to_owned(),
                "-b zone-reload fine.example".to_owned(),
            ]
        );
    }

    #[test]
    fn bind_does_not_reload_a_zone_addzone_just_loaded() {
        let s = setup_server("bind");
        let mut zones = [s.zone("new.example", Action::Write, None, 1)];
        let infos = BTreeMap::from([(
            "new.example".to_owned(),
            ZoneInfo {
                known: Known::No,
                serial: None,
                primary: None,
            },
        )]);
        s.apply(&mut zones, &infos).unwrap();
        assert_eq!(fates(&zones), [("new.example", "reloaded")]);
        let file = s.config.zones.join("new.example.zone");
        assert_eq!(
            s.calls(),
            [format!(
                "addzone new.example {{ type primary; file \"{}\"; zonerw }};",
                file.display()
            )]
        );
    }

    #[test]
    fn many_zones_new_to_zonerw_are_looked_up_in_one_listing_of_nsds_zones() {
        let s = setup(0, true);
        let control = format!(
            r#"echo "$*" >> {}; case "$1 $2" in "zonestatus ") printf 'zone:\tk1.example\n\tstate: master\nzone:\tk2.example\n\tstate: master\n';; "zonestatus n"*) echo "error zone $2 not configured"; exit 1;; esac"#,
            s.log.display()
        );
        let s = s.with_control(control);
        let names = [
            "k1.example",
            "n1.example",
            "k2.example",
            "n2.example",
            "n3.example",
        ];
        let mut zones: Vec<ZoneRun> = names
            .iter()
            .map(|n| s.zone(n, Action::Write, None, 1))
            .collect();
        s.apply(&mut zones, &BTreeMap::new()).unwrap();
        assert_eq!(
            s.calls(),
            [
                "zonestatus",
                "zonestatus n1.example",
                "addzone n1.example zonerw",
                "addzone n2.example zonerw",
                "addzone n3.example zonerw",
                "reload"
            ],
            "one listing (and one zone it lacks, asked alone to confirm), not one \
             zonestatus per zone"
        );
        // A control tool that prints no listing but says it has each zone (a wrapper, a
        // stub): its per-zone answers count.
        let s = setup(0, true);
        let mut zones: Vec<ZoneRun> = names
            .iter()
            .map(|n| s.zone(n, Action::Write, None, 1))
            .collect();
        let log = format!(r#"echo "$*" >> {}"#, s.log.display());
        let s = s.with_control(log);
        s.apply(&mut zones, &BTreeMap::new()).unwrap();
        assert_eq!(
            s.calls()
                .iter()
                .filter(|c| c.starts_with("addzone"))
                .count(),
            0
        );
        assert_eq!(s.calls().len(), 1 + 1 + names.len() + 1, "{:?}", s.calls());
    }

    #[test]
    fn five_zones_new_to_nsd_are_added_with_one_addzones() {
        let s = setup(0, true);
        // NSD has none of them; addzones adds all but bad.example.
        let control = format!(
            r#"echo "$*" >> {log}; case "$1 $2" in "zonestatus ") ;; "zonestatus "*) echo "error zone $2 not configured"; exit 1;; "addzones ") while read z p; do echo "$z $p" >> {log}; if [ "$z" = bad.example ]; then echo "error pattern $p does not exist"; echo "error for input line '$z'"; else echo "added: $z"; fi; done;; esac"#,
            log = s.log.display()
        );
        let s = s.with_control(control);
        let names = [
            "a.example",
            "bad.example",
            "c.example",
            "d.example",
            "e.example",
        ];
        let mut zones: Vec<ZoneRun> = names
            .iter()
            .map(|n| s.zone(n, Action::Write, None, 1))
            .collect();
        let error = s.apply(&mut zones, &BTreeMap::new()).unwrap_err();
        assert!(
            error.to_string().contains("did not add bad.example"),
            "{error}"
        );
        assert_eq!(
            fates(&zones),
            [
                ("a.example", "reloaded"),
                ("bad.example", "failed"),
                ("c.example", "reloaded"),
                ("d.example", "reloaded"),
                ("e.example", "reloaded")
            ]
        );
        assert_eq!(
            s.calls(),
            [
                "zonestatus",
                "zonestatus a.example",
                "addzones",
                "a.example zonerw",
                "bad.example zonerw",
                "c.example zonerw",
                "d.example zonerw",
                "e.example zonerw",
                "reload"
            ]
        );
    }

    #[test]
    fn nothing_to_do_calls_nothing_and_writes_nothing() {
        let s = setup(0, false);
        let mut zones = [s.zone("a.example", Action::Keep, Some(1), 1)];
        s.apply(&mut zones, &BTreeMap::new()).unwrap();
        assert_eq!(fates(&zones), [("a.example", "untouched")]);
        assert!(s.calls().is_empty());
        assert!(
            !s.files.serials.exists(),
            "no serial handed out, nothing recorded"
        );
    }

    #[test]
    fn an_adopted_zone_is_reloaded_without_writing() {
        let s = setup(0, false);
        let mut zones = [s.zone("a.example", Action::Adopt, Some(7), 7)];
        s.apply(&mut zones, &BTreeMap::new()).unwrap();
        assert_eq!(fates(&zones), [("a.example", "reloaded")]);
        assert_eq!(s.installed("a.example"), None);
        assert_eq!(s.calls(), ["reload a.example"]);
    }

    #[test]
    fn a_dry_run_checks_in_a_private_directory_and_installs_nothing() {
        let s = setup(0, false);
        let mut bad = s.zone("bad.example", Action::Write, Some(1), 2);
        bad.plan.contents.push_str("BAD\n");
        let mut zones = [
            bad,
            s.zone("good.example", Action::Write, Some(1), 2),
            s.zone("kept.example", Action::Keep, Some(1), 1),
        ];
        let error = check_only(&s.config, &mut zones, &unsigned()).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("bad.example: nsd-checkzone rejected the rendered zone"),
            "{error}"
        );
        assert_eq!(error.exit_code(), 1);
        assert_eq!(
            fates(&zones),
            [
                ("bad.example", "failed"),
                ("good.example", "untouched"),
                ("kept.example", "untouched")
            ]
        );
        assert_eq!(
            fs::read_dir(&s.config.zones).unwrap().count(),
            0,
            "nothing in the zones directory"
        );
        assert!(s.calls().is_empty(), "no nsd-control");
        assert!(!s.files.serials.exists(), "no serial recorded");
        let mut fine = [s.zone("good.example", Action::Write, Some(1), 2)];
        check_only(&s.config, &mut fine, &unsigned()).unwrap();
    }
}
