//! Planning every zone: the pure rules are in `crate::plan`; this reads what they need
//! (the installed file's stamp, and its bytes when the stamp does not settle it).

use crate::dnssec::keys::KeyDir;
use crate::error::Result;
use crate::fsio::{self, Installed};
use crate::outcome::ZoneRun;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::plan::{
    Action, Inputs, Signing, ZonePlan, above_served, keep_unread, plan_zone, without_reading,
};
use crate::primary::{self, ZoneInfo};
use crate::state::{Reserved, State, TemplateCache};
use crate::store;
use crate::templates::{self, Listing, Templates};
use crate::zone::{self, Zone};
use crate::{dns, parallel, serial};

/// Load the templates of `listing`, but for the zones `keep_unread` keeps: those come
/// planned, their template neither read nor parsed. That takes a template whose stamp is
/// the one the cache in `cache_file` holds, with the fingerprint `old` records for the
/// zone, under this config's `zone::parse_context` (returned with the cache, for the next
/// one); then an installed file whose stamp is the recorded one, and no other change that
/// feeds the zone.
pub(super) fn load_templates(
    listing: Listing,
    inputs: Inputs<'_>,
    now: jiff::Timestamp,
    old: Option<&State>,
    cache_file: &Path,
    keys: Option<&KeyDir>,
) -> (Templates<ZonePlan>, CacheSeen) {
    let config = inputs.config;
    let seen = CacheSeen {
        old: store::load_template_cache(cache_file),
        context: zone::parse_context(config),
    };
    let cache = seen.old.as_ref().filter(|c| c.context == seen.context);
    // Only a zone the cache holds has its template stat-ed here (a first run, or one
    // after a config change, reads every template without it).
    let templates = templates::load(config, listing, Some(now), |name, file_name, path| {
        let cached = cache?.zones.get(name)?;
        let last = old?.zones.get(name)?;
        if cached.template != last.template {
            return None;
        }
        let stamp = fsio::template_stamp(path).filter(|s| *s == cached.stamp)?;
        let installed = fsio::stamp(&config.zones.join(file_name));
        let signing = Signing::of(config, keys, name);
        let plan = keep_unread(inputs, last, installed, &signing)?;
        Some((stamp, last.template.clone(), plan))
    });
    (templates, seen)
}

/// The template cache a run found (None: none, or not one this zonerw can read), and the
/// context it checks templates under: what the run's own cache is built from.
#[derive(Debug)]
pub(super) struct CacheSeen {
    pub old: Option<TemplateCache>,
    pub context: String,
}

/// Plan every zone: one record per zone, in order. `kept`: the zones `load_templates` kept
/// unread, already planned. `keys`: the key files of `[dnssec]` (None without the table).
pub(super) fn plan_all(
    zones: Vec<Zone>,
    kept: Vec<(Zone, ZonePlan)>,
    inputs: Inputs<'_>,
    old: Option<&State>,
    reserved: &Reserved,
    keys: Option<&KeyDir>,
) -> Result<Vec<ZoneRun>> {
    let mut runs = zones
        .into_iter()
        .map(|zone| {
            let Some(template) = &zone.template else {
                unreachable!("templates::load parses every zone it does not keep");
            };
            let path = inputs.config.zones.join(&zone.file_name);
            let last = old.and_then(|s| s.zones.get(&zone.name));
            let reserved = reserved.get(&zone.name).copied();
            let stamp = fsio::stamp(&path);
            let signing = Signing::of(inputs.config, keys, &zone.name);
            let quick = without_reading(&zone, template, inputs, last, reserved, stamp, &signing);
            if let Some(plan) = quick {
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
            let plan = plan_zone(
                &zone,
                template,
                inputs,
                last,
                reserved,
                installed.as_deref(),
                &signing,
            );
            Ok(ZoneRun::new(zone, plan))
        })
        .collect::<Result<Vec<_>>>()?;
    if !kept.is_empty() {
        runs.extend(
            kept.into_iter()
                .map(|(zone, plan)| ZoneRun::new(zone, plan)),
        );
        runs.sort_by(|a, b| a.zone.name.cmp(&b.zone.name));
    }
    Ok(runs)
}

/// Knot and BIND: ask the primary about every zone to write or adopt (one `knotc
/// zone-status`; an `rndc zonestatus` each), and give a zone to write whose planned serial
/// it already serves (or a newer one) the next serial after the served one
/// (`crate::plan::above_served`). Returns what the server said, by zone, for the check of
/// zones it does not know; NSD serves the serial of zonerw's file and is not asked here.
pub(super) fn ask_server(
    zones: &mut [ZoneRun],
    inputs: Inputs<'_>,
    down: &[(IpAddr, String)],
) -> BTreeMap<String, ZoneInfo> {
    let primary = &inputs.config.primary;
    if !primary::serves_own_serials(primary.kind) {
        return BTreeMap::new();
    }
    let asked: Vec<usize> = (0..zones.len())
        .filter(|&i| matches!(zones[i].plan.action, Action::Write | Action::Adopt))
        .collect();
    let names: Vec<&str> = asked.iter().map(|&i| zones[i].zone.name.as_str()).collect();
    let infos = primary::zone_infos(primary, &names);
    let secondaries = served_by_secondaries(inputs, &names, down);
    let mut said = BTreeMap::new();
    for ((i, info), on_secondaries) in asked.into_iter().zip(infos).zip(secondaries) {
        let z = &mut zones[i];
        if let Some(template) = &z.zone.template {
            for served in [info.serial, on_secondaries].into_iter().flatten() {
                above_served(&mut z.plan, template, served, inputs);
            }
        }
        said.insert(z.zone.name.clone(), info);
    }
    said
}

/// How long the secondaries are asked for the serials they serve before zones are written.
const SECONDARY_ASK: Duration = Duration::from_secs(1);

/// Per zone of `names`, the newest serial any `[verify]` secondary serves (None: none
/// answered, or none is configured). A secondary at the address of a server found down in
/// this run (`down`) is not asked. Knot and BIND, signing, serve serials above the file's,
/// and a restart goes back to the file's: a secondary may then hold a serial the primary no
/// longer serves, and would ignore a new file that has it (notes/SERVERS.md).
fn served_by_secondaries(
    inputs: Inputs<'_>,
    names: &[&str],
    down: &[(IpAddr, String)],
) -> Vec<Option<u32>> {
    let secondaries: Vec<SocketAddr> = inputs
        .config
        .verify
        .iter()
        .flat_map(|v| v.secondaries.iter().copied())
        .filter(|s| !down.iter().any(|(ip, _)| *ip == s.ip()))
        .collect();
    if secondaries.is_empty() || names.is_empty() {
        return vec![None; names.len()];
    }
    let pairs: Vec<(usize, SocketAddr)> = (0..names.len())
        .flat_map(|i| secondaries.iter().map(move |&s| (i, s)))
        .collect();
    let deadline = Instant::now() + SECONDARY_ASK;
    let answers = parallel::map(&pairs, ASK_AT_ONCE, |&(i, secondary)| {
        dns::soa_serial(secondary, names[i], deadline).ok()
    });
    let mut newest = vec![None; names.len()];
    for (&(i, _), answer) in pairs.iter().zip(answers) {
        if let Some(serial) = answer {
            newest[i] = Some(newest[i].map_or(serial, |n| serial::newest(n, serial)));
        }
    }
    newest
}

/// How many secondaries' answers are waited for at once.
const ASK_AT_ONCE: usize = 64;

/// The installed file a dry run diffs against: empty when absent or not a file.
pub(super) fn read_for_diff(path: &std::path::Path) -> Result<Vec<u8>> {
    Ok(match fsio::read_installed(path)? {
        Installed::File(bytes) => bytes,
        Installed::Absent | Installed::NotAFile(_) => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use std::fs::{self, File, FileTimes};
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::config::Config;
    use crate::plan::Action;
    use crate::state::ZoneState;
    use crate::testing::{CONFIG, zone};
    use crate::zone::fingerprint;

    const MAIN: [(Option<std::net::Ipv4Addr>, Option<std::net::Ipv6Addr>); 1] =
        [(Some(std::net::Ipv4Addr::new(192, 0, 2, 1)), None)];

    fn setup() -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("zones = '{}'\n{CONFIG}", dir.path().display());
        let config = Config::parse(&text, std::path::Path::new("/etc/zonerw/zonerw.toml")).unwrap();
        (dir, config)
    }

    fn inputs(config: &Config, force: bool) -> Inputs<'_> {
        Inputs {
            config,
            force,
            clock: crate::serial::Clock {
                unix: 0,
                today: jiff::civil::date(2026, 11, 29),
            },
            addresses: &MAIN,
        }
    }

    const FILE: &str = "@ IN SOA ns hm ( 2026112905 1 2 3 4 )\nwww IN A 192.0.2.1\n";

    fn recorded(config: &Config, stamp: Option<crate::state::FileStamp>) -> State {
        let mut state = State::default();
        state.zones.insert(
            "example.com".into(),
            ZoneState {
                serial: 2_026_112_905,
                template: zone(config).fingerprint,
                installed: fingerprint(FILE.as_bytes()),
                vars: [("IP".to_owned(), "192.0.2.1".to_owned())].into(),
                stamp,
                lagging: std::collections::BTreeMap::new(),
                signature_expiry: None,
                key_tags: Vec::new(),
            },
        );
        state
    }

    fn plan_one(config: &Config, force: bool, old: Option<&State>) -> crate::plan::ZonePlan {
        let zones = plan_all(
            vec![zone(config)],
            Vec::new(),
            inputs(config, force),
            old,
            &Reserved::new(),
            None,
        );
        zones.unwrap().remove(0).plan
    }

    #[test]
    fn a_matching_stamp_is_trusted_and_anything_else_is_read() {
        let (dir, config) = setup();
        let path = dir.path().join("example.com.zone");
        fs::write(&path, FILE).unwrap();
        let stamp = fsio::stamp(&path);
        // Same size and mtime, other bytes: only a run that reads the file can tell.
        let other = FILE.replace("www", "web");
        fs::write(&path, &other).unwrap();
        let mtime = UNIX_EPOCH + Duration::from_nanos(stamp.unwrap().mtime_ns);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_times(FileTimes::new().set_modified(mtime))
            .unwrap();
        assert_eq!(fsio::stamp(&path), stamp);
        let old = recorded(&config, stamp);
        let trusted = plan_one(&config, false, Some(&old));
        assert_eq!(
            (trusted.action, trusted.serial),
            (Action::Keep, Some(2_026_112_905))
        );

        let no_stamp = recorded(&config, None);
        let read = plan_one(&config, false, Some(&no_stamp));
        assert_eq!(read.action, Action::Write, "read, found edited, rewritten");
        assert_eq!(read.old_serial, Some(2_026_112_905));

        let forced = plan_one(&config, true, Some(&old));
        assert_eq!(
            (forced.action, forced.old_serial, forced.serial),
            (Action::Write, Some(2_026_112_905), Some(2_026_112_906))
        );
    }

    #[test]
    fn without_state_an_identical_file_is_adopted_and_a_fifo_is_not_read() {
        let (dir, config) = setup();
        let path = dir.path().join("example.com.zone");
        fs::write(&path, FILE).unwrap();
        let adopted = plan_one(&config, false, None);
        assert_eq!(
            (adopted.action, adopted.serial),
            (Action::Adopt, Some(2_026_112_905))
        );

        fs::remove_file(&path).unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success());
        let replaced = plan_one(&config, false, None);
        assert_eq!(
            (replaced.action, replaced.old_serial),
            (Action::Write, None)
        );
        assert_eq!(read_for_diff(&path).unwrap(), b"");
        assert_eq!(read_for_diff(&dir.path().join("absent.zone")).unwrap(), b"");
    }
}
