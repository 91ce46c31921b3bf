//! `zonerw check`: the preflight. One command answering "will the next failover work?",
//! changing nothing: each check prints a line `ok`, `skip` (could not be checked, and why)
//! or `FAIL` (followed by a line `fix: ...`), in this order:
//!
//! 1. the config (a pool at least) and every template (its markers against the pools);
//! 2. every external command resolves (on `PATH`, then in the sbin directories: see
//!    [`crate::command::resolve`], which runs use too);
//! 3. each template rendered for each server of each pool it uses passes `nsd-checkzone`
//!    (on copies in a private temporary directory, removed afterwards);
//! 4. NSD answers `nsd-control status`, knows every zone (or `add-pattern` will add it),
//!    and reads each zone from the file zonerw writes (asked with `nsd-checkconf`);
//! 5. the zones and state directories and the state files are writable by this user;
//! 6. with `[dnssec]`, per signed zone: its keys (found and sound, algorithm, KSK/ZSK) and
//!    its installed signatures (from the state: earliest expiry, the next re-sign; a
//!    failure when they expired or expire within refresh);
//! 7. the `[verify]` servers answer SOA queries for each zone, and for a signed zone serve
//!    its SOA with an RRSIG valid now (asked with the DO bit);
//!
//! then the probe table of every server, one line per pool (its first server healthy?) and
//! a summary. Exit 1 if any check failed. The wording of every line is in [`line`].

mod line;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use self::line::{Choice, Line, Status, ZoneKeys};
use crate::command::{self, Found};
use crate::config::Kind;
use crate::config::{Config, Pool};
use crate::decide::ProbeOutcome;
use crate::dnssec::keys::KeyDir;
use crate::error::{Error, Result};
use crate::nsd::{self, Checkconf, ZoneStatus};
use crate::primary::{self, Rendered};
use crate::sigcheck::{self, Validity};
use crate::state::State;
use crate::store::{StateFiles, load_reserved, load_state};
use crate::table::table;
use crate::template::{Marker, Template, Vars, marker_name};
use crate::zone::Zone;
use crate::{dns, fsio, parallel, probe, templates};

/// How many NSD tools or DNS queries run at once.
const WORKERS: usize = 8;

/// Run every check, print a line for each (as it is known), then the probe table, the
/// pool lines and a summary; return the exit code: 1 if any check failed, else 0.
pub fn check(config: &Config, now: jiff::Timestamp) -> Result<u8> {
    // Before any thread starts: a signal kills the commands running and removes the
    // private directory of the renderings, as in a run.
    crate::signals::install_read_only();
    let mut lines: Vec<Line> = Vec::new();
    let mut show = |new: Vec<Line>| {
        for line in &new {
            crate::outln!("{line}");
        }
        lines.extend(new);
    };
    std::thread::scope(|scope| {
        // The probes take up to timeout x attempts: they run while the rest is checked.
        let probes = scope.spawn(|| probe::probe_all(config));
        show(vec![line::config(&config.path, &config.pools)]);
        let (template_lines, zones, broken) = template_lines(config);
        show(template_lines);
        let (command_lines, control_found, checkzone_found) = command_lines(config);
        show(command_lines);
        let state = load_state(&StateFiles::in_dir(&config.state).state)
            .ok()
            .flatten();
        show(render_lines(
            config,
            &zones,
            state.as_ref(),
            checkzone_found,
        ));
        show(not_checked(&broken, |zone| {
            format!(
                "{} {zone}: not run: its template does not load (see above)",
                config.primary.kind.default_check()
            )
        }));
        let (nsd_lines, unknown) = match config.primary.kind {
            Kind::Nsd => nsd_lines(config, &zones, control_found.as_ref()),
            Kind::Knot | Kind::Bind => server_lines(config, &zones, control_found.as_ref()),
        };
        show(nsd_lines);
        show(not_checked(&broken, |zone| {
            format!(
                "zone {zone}: {} not asked about it: its template does not load (see above)",
                config.primary.name()
            )
        }));
        show(directory_lines(config));
        show(dnssec_lines(config, &zones, state.as_ref(), now));
        let outcomes = probes.join().unwrap_or_else(|_| {
            config
                .pools
                .iter()
                .map(|p| {
                    p.servers
                        .iter()
                        .map(|_| ProbeOutcome::Down {
                            reason: "probe thread panicked".into(),
                        })
                        .collect()
                })
                .collect()
        });
        let verified: Vec<&Zone> = zones
            .iter()
            .filter(|z| !unknown.contains(&z.name))
            .collect();
        let signed: Vec<&str> = verified
            .iter()
            .filter(|z| {
                state
                    .as_ref()
                    .and_then(|s| s.zones.get(&z.name))
                    .is_some_and(|zs| zs.signature_expiry.is_some())
            })
            .map(|z| z.name.as_str())
            .collect();
        show(verify_lines(config, &verified, &signed, &outcomes, now));
        if !config.pools.is_empty() {
            crate::out!("{}", probe_table(config, &outcomes));
        }
        show(
            config
                .pools
                .iter()
                .zip(&outcomes)
                .flat_map(|(pool, outcomes)| {
                    let pool_state = state.as_ref().and_then(|s| s.pools.get(&pool.name));
                    line::pool(pool, outcomes, pool_state, now)
                })
                .collect(),
        );
    });
    crate::outln!("{}", line::summary(&lines));
    Ok(u8::from(lines.iter().any(|l| l.status == Status::Fail)))
}

// ---------------------------------------------------------------- 1. templates

/// A `skip` line (`what` says it) for each zone of `broken`, whose template did not load:
/// the checks of its renderings and of the server are not made, and say so.
fn not_checked(broken: &[String], what: impl Fn(&str) -> String) -> Vec<Line> {
    broken.iter().map(|zone| Line::skip(what(zone))).collect()
}

/// A line per template, the zones whose template loaded, and the names of those whose
/// template did not (a name can be told).
fn template_lines(config: &Config) -> (Vec<Line>, Vec<Zone>, Vec<String>) {
    let loaded = match templates::load_templates(config) {
        Ok(loaded) => loaded,
        Err(e) => {
            return (
                vec![Line::from_error(
                    "templates",
                    &e.to_string(),
                    format!(
                        "put a template <zone>.zone for each zone into {} (see zonerw(8), Templates and serials)",
                        config.templates.display()
                    ),
                )],
                Vec::new(),
                Vec::new(),
            );
        }
    };
    let mut broken = Vec::new();
    let mut lines: Vec<Line> = loaded
        .zones
        .iter()
        .map(|zone| line::template(&zone.name, &markers_by_pool(config, zone)))
        .collect();
    for error in &loaded.errors {
        let zone = match error {
            crate::error::Error::Template { path, .. } => path
                .file_name()
                .and_then(|n| crate::zone::zone_name(&n.to_string_lossy()))
                .unwrap_or_default(),
            _ => String::new(),
        };
        lines.push(line::broken_template(&zone, &error.to_string()));
        if !zone.is_empty() && !broken.contains(&zone) {
            broken.push(zone);
        }
    }
    (lines, loaded.zones, broken)
}

/// The address markers a zone's template uses, by pool (config order).
fn markers_by_pool<'a>(config: &'a Config, zone: &Zone) -> Vec<(&'a str, Vec<String>)> {
    let mut used: Vec<(usize, Vec<String>)> = Vec::new();
    // `load_templates` parses every template: each zone here has one.
    let mut markers: Vec<(usize, bool)> = zone
        .template
        .iter()
        .flat_map(Template::uses)
        .filter_map(|(m, _)| match m {
            Marker::Address { pool, v6 } => Some((*pool, *v6)),
            Marker::Serial => None,
        })
        .collect();
    markers.sort_unstable();
    for (pool, v6) in markers {
        let name = marker_name(&config.pools[pool].marker, v6);
        match used.last_mut() {
            Some((p, names)) if *p == pool => names.push(name),
            _ => used.push((pool, vec![name])),
        }
    }
    used.into_iter()
        .map(|(p, names)| (config.pools[p].name.as_str(), names))
        .collect()
}

// ---------------------------------------------------------------- 2. commands

/// A line per external command of the config; where the primary's control tool and
/// checker resolved (None: not found, or no checker configured).
fn command_lines(config: &Config) -> (Vec<Line>, Option<Found>, Option<Found>) {
    let mut lines = Vec::new();
    let p = &config.primary;
    let control = command::resolve(&p.control[0]);
    lines.push(line::command(&p.control[0], &p.key("control"), &control));
    let checkzone = if let Some(program) = p.checker() {
        let found = command::resolve(program);
        lines.push(line::command(program, &p.key("check"), &found));
        found.ok()
    } else {
        let empty = if p.table == "[nsd]" { "\"\"" } else { "[]" };
        lines.push(Line::skip(format!(
            "{}: {} = {empty}: rendered zones are not checked, in a run either",
            p.kind.default_check(),
            p.key("check")
        )));
        None
    };
    let mut others: Vec<(String, &str, &str)> = Vec::new();
    for witness in config.guard.iter().flat_map(|g| &g.witnesses) {
        others.push((
            format!("witness {}", witness[0]),
            "[guard] witnesses",
            &witness[0],
        ));
    }
    if let Some(dnssec) = &config.dnssec {
        others.push((
            dnssec.signer.clone(),
            "[dnssec] signer",
            dnssec.signer.as_str(),
        ));
        others.push((
            dnssec.verifier.clone(),
            "[dnssec] verifier",
            dnssec.verifier.as_str(),
        ));
    }
    if let Some(hook) = &config.on_change {
        others.push((format!("hook {}", hook[0]), "[hooks] on-change", &hook[0]));
    }
    others.dedup();
    for (name, key, program) in others {
        lines.push(line::command(&name, key, &command::resolve(program)));
    }
    (lines, control.ok(), checkzone)
}

// ---------------------------------------------------------------- 3. renderings

/// The server choices a template is rendered with (a server index per pool): each server
/// of each pool it uses, the other pools at their `current` choice. Not every combination
/// (pools fail over independently, and the product grows fast): each server once, the
/// current choice first. Pure.
fn variants(pools_used: &[usize], current: &[usize], servers: &[usize]) -> Vec<Vec<usize>> {
    let mut out = vec![current.to_vec()];
    for &pool in pools_used {
        for server in 0..servers[pool] {
            let mut choice = current.to_vec();
            choice[pool] = server;
            if !out.contains(&choice) {
                out.push(choice);
            }
        }
    }
    out
}

fn render_lines(
    config: &Config,
    zones: &[Zone],
    state: Option<&State>,
    checkzone: Option<Found>,
) -> Vec<Line> {
    let p = &config.primary;
    let (Some(_), Some(_)) = (p.checker(), checkzone) else {
        if p.checker().is_some() && !zones.is_empty() {
            return vec![Line::skip(format!(
                "{} of the rendered zones: the program was not found (see above)",
                p.kind.default_check()
            ))];
        }
        return Vec::new();
    };
    let checker = p.kind.default_check();
    let current = crate::decide::current_choices(config, state);
    let servers: Vec<usize> = config.pools.iter().map(|p| p.servers.len()).collect();
    let mut items: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut rendered: Vec<Rendered<'_>> = Vec::new();
    for (i, zone) in zones.iter().enumerate() {
        let Some(template) = &zone.template else {
            continue;
        };
        for choice in variants(&pools_used(zone), &current, &servers) {
            let addresses: Vec<_> = config
                .pools
                .iter()
                .zip(&choice)
                .map(|(p, &s)| (p.servers[s].ipv4, p.servers[s].ipv6))
                .collect();
            rendered.push(Rendered {
                zone: &zone.name,
                file_name: &zone.file_name,
                template: &zone.template_path,
                // Any serial does for the check; this one is valid in every scheme.
                text: template.render(&Vars {
                    serial: 1,
                    addresses: &addresses,
                }),
            });
            items.push((i, choice));
        }
    }
    let results = match primary::check_copies(p, &rendered) {
        Ok(results) => results,
        Err(e) => {
            return vec![Line::from_error(
                &format!("{checker} of the rendered zones"),
                &e.to_string(),
                "make the temporary directory (TMPDIR, else /tmp) writable",
            )];
        }
    };
    // Only nsd-checkzone's verdict is the template's fault: a copy that could not be
    // written (a full TMPDIR), a checker that could not start or timed out is one line.
    if let Some(e) = results.iter().find_map(|r| {
        r.as_ref()
            .err()
            .filter(|e| !matches!(e, Error::Checkzone { .. }))
    }) {
        return vec![Line::from_error(
            &format!("{checker} of the rendered zones"),
            &e.to_string(),
            format!(
                "the renderings could not be checked: make room in the temporary directory \
                 (TMPDIR, else /tmp), or raise {} if {checker} timed out",
                p.key("timeout")
            ),
        )];
    }
    let mut lines = Vec::new();
    for (i, zone) in zones.iter().enumerate() {
        let used = pools_used(zone);
        let mine: Vec<(&Vec<usize>, &Result<()>)> = items
            .iter()
            .zip(&results)
            .filter(|((z, _), _)| *z == i)
            .map(|((_, c), r)| (c, r))
            .collect();
        let failures: Vec<Line> = mine
            .iter()
            .filter_map(|(choice, result)| {
                let error = result.as_ref().err()?;
                let choice: Choice<'_> = used
                    .iter()
                    .map(|&p| (&config.pools[p], &config.pools[p].servers[choice[p]]))
                    .collect();
                Some(line::rendered_fail(
                    (checker, p.name()),
                    &zone.name,
                    &choice,
                    &zone.template_path,
                    &error.to_string(),
                ))
            })
            .collect();
        if failures.is_empty() {
            let pools: Vec<&Pool> = used.iter().map(|&p| &config.pools[p]).collect();
            lines.push(line::rendered_ok(checker, &zone.name, &pools, mine.len()));
        } else {
            lines.extend(failures);
        }
    }
    lines
}

/// A program's file name, as messages name it (`nsd-checkzone`).
fn program_name(program: &str) -> String {
    Path::new(program)
        .file_name()
        .map_or_else(|| program.to_owned(), |n| n.to_string_lossy().into_owned())
}

/// The pools whose markers a zone's template uses, in config order.
fn pools_used(zone: &Zone) -> Vec<usize> {
    let mut pools: Vec<usize> = zone
        .template
        .iter()
        .flat_map(Template::uses)
        .filter_map(|(m, _)| match m {
            Marker::Address { pool, .. } => Some(*pool),
            Marker::Serial => None,
        })
        .collect();
    pools.sort_unstable();
    pools.dedup();
    pools
}

// ---------------------------------------------------------------- 4. NSD

/// `nsd-control status`, then for every zone whether NSD serves it and from which file.
/// Also returns the zones NSD does not serve (not asked over DNS later).
fn nsd_lines(config: &Config, zones: &[Zone], control: Option<&Found>) -> (Vec<Line>, Vec<String>) {
    let Some(control) = control else {
        return (
            vec![Line::skip("NSD: nsd-control was not found (see above)")],
            Vec::new(),
        );
    };
    let user = fsio::user_name(fsio::effective_uid());
    let mut lines = Vec::new();
    match nsd::status(&config.primary) {
        Ok(version) => lines.push(Line::ok(match version {
            Some(v) => format!("nsd-control status: NSD {v} answers"),
            None => "nsd-control status: NSD answers".to_owned(),
        })),
        Err(e) => {
            lines.push(Line::from_error(
                "nsd-control status",
                &e.to_string(),
                format!("is NSD running, and may {user} use nsd-control? (see the error)"),
            ));
            if !zones.is_empty() {
                lines.push(Line::skip("zones NSD serves: nsd-control status failed"));
            }
            return (lines, Vec::new());
        }
    }
    let checkconf = checkconf(config, control);
    if let Err(why) = &checkconf {
        lines.push(Line::skip(format!("zone files NSD reads: {why}")));
    }
    let statuses = parallel::map(zones, WORKERS, |z| {
        let status = nsd::zone_status(&config.primary, &z.name);
        let file = match (&status, &checkconf) {
            (Ok(ZoneStatus::Configured { pattern }), Ok(cc)) => {
                Some(cc.zonefile(&z.name, pattern.as_deref()))
            }
            (Ok(ZoneStatus::NotConfigured), Ok(cc)) => config
                .primary
                .add_template
                .as_deref()
                .map(|p| cc.zonefile(&z.name, Some(p))),
            _ => None,
        };
        (status, file)
    });
    let mut unknown = Vec::new();
    for (zone, (status, file)) in zones.iter().zip(statuses) {
        let ours = config.zones.join(&zone.file_name);
        let line = match status {
            Err(e) => Line::from_error(
                &format!("zone {}", zone.name),
                &e.to_string(),
                "see the error",
            ),
            Ok(ZoneStatus::Configured { .. }) => match file {
                None => Line::ok(format!("zone {}: NSD serves it", zone.name)),
                Some(Ok(file)) => {
                    let same = file.as_deref().is_some_and(|f| same_file(f, &ours));
                    line::zone_file(&zone.name, file.as_deref(), &ours, same)
                }
                Some(Err(e)) => Line::skip(format!(
                    "zone {}: NSD serves it; from which file, nsd-checkconf cannot tell: {}",
                    zone.name,
                    line::split_fix(&e.to_string()).0
                )),
            },
            Ok(ZoneStatus::NotConfigured) => {
                unknown.push(zone.name.clone());
                let pattern = config.primary.add_template.as_deref();
                match file {
                    Some(Err(e)) if e.to_string().contains("Pattern does not exist") => {
                        let p = pattern.unwrap_or_default();
                        Line::fail(
                            format!(
                                "zone {}: unknown to NSD, and {} {p} is no pattern of nsd.conf",
                                zone.name,
                                config.primary.key("add-template")
                            ),
                            nsd::fix(&nsd::Trouble::UnknownPattern(p.to_owned())),
                        )
                    }
                    Some(Ok(Some(f))) => {
                        let same = same_file(&f, &ours);
                        line::unknown_zone(&zone.name, &ours, pattern, Some((&f, same)))
                    }
                    _ => line::unknown_zone(&zone.name, &ours, pattern, None),
                }
            }
        };
        lines.push(line);
    }
    (lines, unknown)
}

/// Knot DNS or BIND: the control channel answers (with the version), then for every zone
/// whether the server has it and serves it, and the settings zonerw can see that break "the
/// file zonerw writes is the truth" (Knot: `zonefile-sync`, `journal-content`,
/// `zonefile-load`; BIND: a dynamic zone). Also returns the zones the server does not know.
fn server_lines(
    config: &Config,
    zones: &[Zone],
    control: Option<&Found>,
) -> (Vec<Line>, Vec<String>) {
    let p = &config.primary;
    let tool = program_name(&p.control[0]);
    let Some(_) = control else {
        return (
            vec![Line::skip(format!(
                "{}: {tool} was not found (see above)",
                p.name()
            ))],
            Vec::new(),
        );
    };
    let mut lines = Vec::new();
    match primary::status(p) {
        Ok(version) => lines.push(Line::ok(format!(
            "server: {} answers on its control channel ({tool} status)",
            version.unwrap_or_else(|| p.name().to_owned())
        ))),
        Err(e) => {
            lines.push(Line::from_error(
                &format!("server: {} ({tool} status)", p.name()),
                &e.to_string(),
                format!("is {} running, and may this user use {tool}?", p.name()),
            ));
            if !zones.is_empty() {
                lines.push(Line::skip(format!(
                    "zones {} serves: {tool} status failed",
                    p.name()
                )));
            }
            return (lines, Vec::new());
        }
    }
    let names: Vec<&str> = zones.iter().map(|z| z.name.as_str()).collect();
    let infos = primary::zone_infos(p, &names);
    let knot_settings = (p.kind == Kind::Knot).then(|| primary::knot::settings(p, &names));
    if let Some(Err(e)) = &knot_settings {
        lines.push(Line::skip(format!(
            "Knot DNS settings: {tool} conf-read failed: {}",
            line::split_fix(&e.to_string()).0
        )));
    }
    let mut unknown = Vec::new();
    for (zone, info) in zones.iter().zip(infos) {
        let ours = config.zones.join(&zone.file_name);
        match info.known {
            primary::Known::Yes => {
                lines.extend(known_zone_lines(
                    p,
                    knot_settings.as_ref(),
                    &zone.name,
                    info,
                    &ours,
                ));
            }
            primary::Known::No => {
                unknown.push(zone.name.clone());
                lines.push(match &p.add_template {
                    Some(t) => Line::ok(format!(
                        "zone {}: unknown to {}, will be added ({} {t})",
                        zone.name,
                        p.name(),
                        p.key("add-template")
                    )),
                    None => Line::fail(
                        format!("zone {}: {} does not serve it", zone.name, p.name()),
                        primary::how_to_add(p, &zone.name, &ours).replace('\n', " "),
                    ),
                });
            }
            primary::Known::Unclear => lines.push(Line::fail(
                format!(
                    "zone {}: {tool} could not say whether {} has it",
                    zone.name,
                    p.name()
                ),
                format!("see what {tool} says: {}", p.control.join(" ")),
            )),
        }
    }
    lines.extend(template_dangers(p, knot_settings.as_ref()));
    (lines, unknown)
}

/// Knot or BIND: the lines of a zone the server has: that it serves it (and which serial),
/// then what is wrong: a secondary zone, another file than zonerw's, dangerous settings.
fn known_zone_lines(
    p: &crate::config::Primary,
    knot: Option<&Result<(String, String)>>,
    zone: &str,
    info: primary::ZoneInfo,
    ours: &Path,
) -> Vec<Line> {
    let server = p.name();
    let mut lines = vec![Line::ok(match info.serial {
        Some(serial) => format!("zone {zone}: {server} serves it (serial {serial})"),
        None => format!(
            "zone {zone}: {server} has it, not loaded yet (a run installs {} and reloads it)",
            ours.display()
        ),
    })];
    if info.primary == Some(false) {
        lines.push(Line::fail(
            format!("zone {zone}: {server} has it as a secondary zone"),
            "make it a primary zone (no master:/primaries): each transfer from elsewhere \
             would replace the file zonerw installs",
        ));
    }
    // What the server says about the zone's settings, asked once for both uses below.
    let settings = match (knot, p.kind) {
        (Some(Ok((items, templates))), _) => Settings::Knot(items, templates),
        (_, Kind::Bind) => match primary::bind::settings(p, zone) {
            Ok(status) => Settings::Bind(status),
            Err(e) => {
                lines.push(Line::skip(format!(
                    "zone {zone}: its settings (rndc zonestatus): {}",
                    line::split_fix(&e.to_string()).0
                )));
                Settings::Unknown
            }
        },
        _ => Settings::Unknown,
    };
    lines.extend(server_file_line(p, &settings, zone, ours));
    for (what, why) in dangers_of(&settings, zone) {
        lines.push(Line::fail(format!("zone {zone}: {server} {what}"), why));
    }
    lines
}

/// What Knot or BIND says about a zone's settings: Knot's explicit items of the zones and
/// the templates (`knotc conf-read`), BIND's `rndc zonestatus`.
enum Settings<'a> {
    Knot(&'a str, &'a str),
    Bind(String),
    Unknown,
}

/// Knot or BIND: whether the server loads the zone from the file zonerw writes (Knot:
/// `file`/`storage` from `knotc conf-read`; BIND: an absolute `files:` of `rndc
/// zonestatus`). None when it cannot be told.
fn server_file_line(
    p: &crate::config::Primary,
    settings: &Settings<'_>,
    zone: &str,
    ours: &Path,
) -> Option<Line> {
    let (reads, fix) = match settings {
        Settings::Knot(zone_items, templates) => (
            primary::knot::zone_file(zone_items, templates, zone)?,
            format!(
                "set file: \"{}\" for zone {zone} (or storage: and file: of its template) in \
                 knot.conf and run knotc reload",
                ours.display()
            ),
        ),
        Settings::Bind(status) => (
            primary::bind::zone_file(status)?,
            format!(
                "set file \"{}\"; in the zone statement of {zone} in named.conf and run rndc \
                 reconfig",
                ours.display()
            ),
        ),
        Settings::Unknown => return None,
    };
    Some(if same_file(&reads, ours) {
        Line::ok(format!(
            "zone {zone}: {} reads {}, the file zonerw writes",
            p.name(),
            reads.display()
        ))
    } else {
        Line::fail(
            format!(
                "zone {zone}: {} reads {}, but zonerw writes {}",
                p.name(),
                reads.display(),
                ours.display()
            ),
            format!("{fix}, or zonerw's changes never reach {}", p.name()),
        )
    })
}

/// What a zone's settings break, as (what, why): Knot's effective `zonefile-sync`,
/// `journal-content`, `zonefile-load`, BIND's `dynamic: yes`.
fn dangers_of(settings: &Settings<'_>, zone: &str) -> Vec<(String, String)> {
    match settings {
        Settings::Knot(zone_items, templates) => {
            primary::knot::dangers(zone_items, templates, zone)
                .into_iter()
                .map(|d| (format!("{} is {}", d.item, d.value), d.why.to_owned()))
                .collect()
        }
        Settings::Bind(status) => primary::bind::dangers(status)
            .into_iter()
            .map(|why| ("zone is dynamic".to_owned(), why))
            .collect(),
        Settings::Unknown => Vec::new(),
    }
}

/// Knot: the settings of the template `add-template` names, which zones zonerw adds get.
fn template_dangers(
    p: &crate::config::Primary,
    knot: Option<&Result<(String, String)>>,
) -> Vec<Line> {
    let (Some(Ok((_, templates))), Some(template)) = (knot, &p.add_template) else {
        return Vec::new();
    };
    let as_added = format!("zone[new.].template = {template}\n");
    primary::knot::dangers(&as_added, templates, "new.")
        .into_iter()
        .map(|d| {
            Line::fail(
                format!(
                    "Knot DNS template {template} ({}): {} is {}",
                    p.key("add-template"),
                    d.item,
                    d.value
                ),
                d.why,
            )
        })
        .collect()
}

/// nsd-checkconf for the nsd.conf that `[nsd] control` uses, or why there is none.
fn checkconf(config: &Config, control: &Found) -> std::result::Result<Checkconf, String> {
    let conf = nsd::nsd_conf(&config.primary.control).ok_or_else(|| {
        format!(
            "{} runs {}, not nsd-control itself, so its nsd.conf is unknown",
            config.primary.key("control"),
            config.primary.control[0]
        )
    })?;
    // Beside nsd-control first: the same installation of NSD.
    let beside = control.path().with_file_name("nsd-checkconf");
    let program = if command::is_executable(&beside) {
        beside
    } else {
        command::resolve("nsd-checkconf")
            .map_err(|e| format!("nsd-checkconf {e}"))?
            .path()
            .to_owned()
    };
    Ok(Checkconf::new(program, conf, config.primary.timeout))
}

/// Whether two paths name the same file (whose directory exists): compared with links
/// resolved, the file itself need not exist.
fn same_file(a: &Path, b: &Path) -> bool {
    let real = |p: &Path| -> Option<PathBuf> {
        Some(p.parent()?.canonicalize().ok()?.join(p.file_name()?))
    };
    // NSD's path (`a`) may be a link to zonerw's file: NSD opens it through the link and
    // finds each new file. zonerw's own (`b`) is not followed: its install replaces a link.
    let nsd_reads = a.canonicalize().ok().or_else(|| real(a));
    a == b || matches!((nsd_reads, real(b)), (Some(x), Some(y)) if x == y)
}

// ---------------------------------------------------------------- 5. directories

/// The zones directory, the state directory and its files.
fn directory_lines(config: &Config) -> Vec<Line> {
    let me = fsio::user_name(fsio::effective_uid());
    let mut lines = Vec::new();
    let zones = &config.zones;
    lines.push(if !zones.is_dir() {
        Line::fail(
            format!("zones directory {}: not a directory", zones.display()),
            format!(
                "create it (install -d -o {me} {}), in a place {} reads zone files from",
                zones.display(),
                config.primary.name()
            ),
        )
    } else if fsio::writable(zones) {
        Line::ok(format!(
            "zones directory {}: {me} can write it",
            zones.display()
        ))
    } else {
        Line::fail(
            format!("zones directory {}: {me} cannot write it", zones.display()),
            format!(
                "chown {me} {} (or run zonerw as its owner)",
                zones.display()
            ),
        )
    });
    let state = &config.state;
    let files = StateFiles::in_dir(state);
    if fsio::owner_and_mode(state).is_none() {
        let parent = state.parent().unwrap_or(Path::new("/"));
        lines.push(if fsio::writable(parent) {
            Line::ok(format!(
                "state directory {}: not there yet; the first run creates it",
                state.display()
            ))
        } else {
            Line::fail(
                format!(
                    "state directory {}: not there, and {me} cannot create it",
                    state.display()
                ),
                format!("create it: install -d -o {me} {}", state.display()),
            )
        });
        return lines;
    }
    let problems = state_problems(config);
    if problems.is_empty() {
        let owner = fsio::owner_and_mode(state).map(|(o, _)| fsio::user_name(o));
        let who = match owner {
            Some(owner) if owner != me => {
                format!("owned by {owner}: runs must run as {owner} (a run as {me} is refused)")
            }
            _ => format!("{me} can write it and its files"),
        };
        lines.push(Line::ok(format!(
            "state directory {}: {who}",
            state.display()
        )));
    }
    lines.extend(problems);
    if let Err(e) = load_state(&files.state) {
        lines.push(Line::fail(e.to_string(), "fix or remove the file"));
    }
    if let Err(e) = load_reserved(&files.serials) {
        lines.push(Line::fail(e.to_string(), "fix or remove the file"));
    }
    lines
}

/// The table of probe results, one row per server (`outcomes`: `[pool][server]`).
fn probe_table(config: &Config, outcomes: &[Vec<ProbeOutcome>]) -> String {
    let mut rows =
        vec![["POOL", "SERVER", "ADDRESS", "RESULT", "LATENCY", "REASON"].map(String::from)];
    for (pool, outcomes) in config.pools.iter().zip(outcomes) {
        for (server, outcome) in pool.servers.iter().zip(outcomes) {
            let (result, latency, reason) = match outcome {
                ProbeOutcome::Up { status, latency } => (
                    "up",
                    format!("{} ms", latency.as_millis()),
                    format!("HTTP {status}"),
                ),
                ProbeOutcome::Down { reason } => ("down", "-".into(), reason.clone()),
                ProbeOutcome::Unchecked => (
                    "unchecked",
                    "-".into(),
                    "no check configured, counted healthy".into(),
                ),
            };
            rows.push([
                pool.name.clone(),
                server.name.clone(),
                server.address().to_string(),
                result.into(),
                latency,
                reason,
            ]);
        }
    }
    table(&rows)
}

/// A failure per file of the state directory that a run would fail to write: one this user
/// cannot write, or one owned by another user than the directory's owner (who runs the
/// timer), e.g. left by a manual run as root. (The lock is left out: a run only reads it.)
fn state_problems(config: &Config) -> Vec<Line> {
    let dir = &config.state;
    let Some((dir_owner, _)) = fsio::owner_and_mode(dir) else {
        return Vec::new();
    };
    let me = fsio::effective_uid();
    let files = StateFiles::in_dir(dir);
    let mut problems = Vec::new();
    let paths = [dir.as_path(), &files.state, &files.serials, &files.history];
    for path in paths {
        let Some((owner, mode)) = fsio::owner_and_mode(path) else {
            continue;
        };
        let what = if path == dir.as_path() {
            "state directory"
        } else {
            "state file"
        };
        let about = format!(
            "{what} {}: owner {}, mode {mode:04o}",
            path.display(),
            fsio::user_name(owner)
        );
        if !fsio::writable(path) {
            problems.push(Line::fail(
                format!(
                    "{about}: {} cannot write it, so a run would fail",
                    fsio::user_name(me)
                ),
                format!(
                    "chown {} {} (or run zonerw as {})",
                    fsio::user_name(me),
                    path.display(),
                    fsio::user_name(owner)
                ),
            ));
        } else if owner != dir_owner {
            problems.push(Line::fail(
                format!(
                    "{about}: not owned by {}, who owns the state directory, so a run as {0} \
                     would fail",
                    fsio::user_name(dir_owner),
                ),
                format!("chown {} {}", fsio::user_name(dir_owner), path.display()),
            ));
        }
    }
    problems
}

// ---------------------------------------------------------------- 6. signed zones

/// With `[dnssec]`: per zone with keys (or signed, says the state), its keys, and its
/// installed signatures' earliest expiry against `now` and `[dnssec] refresh`. A zone that
/// `[dnssec] unsigned` lists is left out (the next run installs it unsigned).
fn dnssec_lines(
    config: &Config,
    zones: &[Zone],
    state: Option<&State>,
    now: jiff::Timestamp,
) -> Vec<Line> {
    let Some(dnssec) = &config.dnssec else {
        return Vec::new();
    };
    let dir = match KeyDir::read(&dnssec.keys) {
        Ok(dir) => dir,
        Err(e) => return vec![line::dnssec_dir(&dnssec.keys, &e.to_string())],
    };
    let mut lines = Vec::new();
    for zone in zones {
        if dnssec.lists_unsigned(&zone.name) {
            continue;
        }
        let expiry = state
            .and_then(|s| s.zones.get(&zone.name))
            .and_then(|zs| zs.signature_expiry.as_deref())
            .map(|t| t.parse().unwrap_or(jiff::Timestamp::MIN));
        let loaded;
        let found = if dir.has(&zone.name) {
            loaded = dir.load(&zone.name);
            match &loaded {
                Ok(keys) => ZoneKeys::Found(keys),
                Err(e) => ZoneKeys::Broken(e),
            }
        } else {
            ZoneKeys::Missing
        };
        let Some(keys_line) = line::dnssec_keys(&zone.name, &dnssec.keys, found, expiry.is_some())
        else {
            continue;
        };
        lines.push(keys_line);
        lines.push(line::signatures(&zone.name, expiry, now, dnssec.refresh));
    }
    lines
}

// ---------------------------------------------------------------- 7. verify

/// The `[verify]` primary and secondaries asked for the SOA of every zone (all at once).
/// A secondary at the address of a server found down is skipped, as a run skips it.
/// `signed`: the zones whose installed file is signed (the state says so): asked with the
/// DO bit, their SOA's RRSIGs judged at `now`.
fn verify_lines(
    config: &Config,
    zones: &[&Zone],
    signed: &[&str],
    outcomes: &[Vec<ProbeOutcome>],
    now: jiff::Timestamp,
) -> Vec<Line> {
    let Some(v) = &config.verify else {
        return Vec::new();
    };
    if zones.is_empty() {
        return Vec::new();
    }
    // As a run tells them (`outcome::down_servers`).
    let down: Vec<(IpAddr, String)> = config
        .pools
        .iter()
        .zip(outcomes)
        .flat_map(|(pool, outcomes)| crate::outcome::down_in(pool, outcomes))
        .collect();
    let mut servers: Vec<(&str, std::net::SocketAddr)> = Vec::new();
    let mut lines = Vec::new();
    if let Some(p) = v.primary {
        servers.push(("primary", p));
    }
    for &s in &v.secondaries {
        match down.iter().find(|(ip, _)| *ip == s.ip()) {
            Some((_, name)) => lines.push(Line::skip(format!(
                "verify secondary {s}: server {name} there is down (a run does not wait for it)"
            ))),
            None => servers.push(("secondary", s)),
        }
    }
    let deadline = Instant::now() + v.timeout;
    let asks: Vec<(usize, &str)> = (0..servers.len())
        .flat_map(|i| zones.iter().map(move |z| (i, z.name.as_str())))
        .collect();
    let signed_answers = parallel::map(&asks, 64, |&(i, zone)| {
        if signed.contains(&zone) {
            dns::soa_rrsigs(servers[i].1, zone, now, deadline)
                .map(|soa| (soa.serial, Some(sigcheck::classify(now, &soa.rrsigs))))
        } else {
            dns::soa_serial(servers[i].1, zone, deadline).map(|serial| (serial, None))
        }
    });
    let answers: Vec<std::result::Result<u32, String>> = signed_answers
        .iter()
        .map(|a| a.as_ref().map(|(serial, _)| *serial).map_err(Clone::clone))
        .collect();
    let primary_serials: Vec<Option<u32>> = zones
        .iter()
        .map(|z| {
            asks.iter()
                .zip(&answers)
                .find(|((i, zone), _)| servers[*i].0 == "primary" && *zone == z.name)
                .and_then(|(_, a)| a.as_ref().ok().copied())
        })
        .collect();
    let mut server_lines = Vec::new();
    for (i, (role, addr)) in servers.iter().enumerate() {
        let mine: Vec<(&str, std::result::Result<u32, String>, Option<u32>)> = asks
            .iter()
            .zip(&answers)
            .filter(|((j, _), _)| *j == i)
            .map(|((_, zone), answer)| {
                let zi = zones.iter().position(|z| z.name == *zone).unwrap_or(0);
                let primary = if *role == "primary" {
                    None
                } else {
                    primary_serials[zi]
                };
                (*zone, answer.clone(), primary)
            })
            .collect();
        server_lines.extend(line::verify(
            (role, config.primary.name()),
            &addr.to_string(),
            &mine,
        ));
        let validities: Vec<(&str, u32, Validity)> = asks
            .iter()
            .zip(&signed_answers)
            .filter(|((j, _), _)| *j == i)
            .filter_map(|((_, zone), answer)| match answer {
                Ok((serial, Some(validity))) => Some((*zone, *serial, *validity)),
                _ => None,
            })
            .collect();
        server_lines.extend(line::verify_signatures(
            role,
            &addr.to_string(),
            &validities,
        ));
    }
    server_lines.extend(lines);
    server_lines
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::{PermissionsExt, chown};
    use std::path::Path;

    use super::*;

    /// Another user: `nobody` on Debian.
    const OTHER: u32 = 65_534;

    fn problems(state: &Path) -> Vec<String> {
        let mut config = crate::testing::config();
        config.state = state.to_owned();
        state_problems(&config)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// A state directory with every state file in it, all this user's.
    fn state_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for name in ["state.json", "serials.json", "history.jsonl", "lock"] {
            fs::write(dir.path().join(name), "").unwrap();
            fs::set_permissions(dir.path().join(name), fs::Permissions::from_mode(0o644)).unwrap();
        }
        dir
    }

    #[test]
    fn a_missing_or_sound_state_directory_has_no_problem() {
        let dir = state_dir();
        assert_eq!(problems(&dir.path().join("missing")), Vec::<String>::new());
        assert_eq!(problems(dir.path()), Vec::<String>::new());
        // Files not there yet are created by the run: no problem either.
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(problems(empty.path()), Vec::<String>::new());
    }

    #[test]
    fn files_of_another_owner_than_the_directorys_are_named_with_the_fix() {
        if fsio::effective_uid() != 0 {
            // chown needs root; the unwritable case below covers other users.
            return;
        }
        let other = fsio::user_name(OTHER);
        // A file some other user left in root's state directory; the lock does not count.
        let dir = state_dir();
        let d = dir.path();
        chown(d.join("serials.json"), Some(OTHER), None).unwrap();
        chown(d.join("lock"), Some(OTHER), None).unwrap();
        let serials = d.join("serials.json");
        assert_eq!(
            problems(d),
            [format!(
                "FAIL  state file {}: owner {other}, mode 0644: not owned by root, who owns the state directory, so a run as root would fail\n      fix: chown root {}",
                serials.display(),
                serials.display()
            )]
        );
        // A manual run as root in the timer user's directory: every root file is named.
        chown(d, Some(OTHER), None).unwrap();
        chown(&serials, Some(0), None).unwrap();
        fs::set_permissions(&serials, fs::Permissions::from_mode(0o600)).unwrap();
        let lines: Vec<String> = ["state.json", "serials.json", "history.jsonl"]
            .iter()
            .map(|name| {
                let path = d.join(name);
                let mode = if *name == "serials.json" { "0600" } else { "0644" };
                format!(
                    "FAIL  state file {}: owner root, mode {mode}: not owned by {other}, who owns the state directory, so a run as {other} would fail\n      fix: chown {other} {}",
                    path.display(),
                    path.display()
                )
            })
            .collect();
        assert_eq!(problems(d), lines);
    }

    #[test]
    fn what_this_user_cannot_write_is_named() {
        let me = fsio::effective_uid();
        if me == 0 {
            // Root may write whatever the mode says; the owner case above covers root.
            return;
        }
        let me = fsio::user_name(me);
        let dir = state_dir();
        let d = dir.path();
        fs::set_permissions(d.join("history.jsonl"), fs::Permissions::from_mode(0o444)).unwrap();
        fs::set_permissions(d, fs::Permissions::from_mode(0o555)).unwrap();
        let got = problems(d);
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            got,
            [
                format!(
                    "FAIL  state directory {}: owner {me}, mode 0555: {me} cannot write it, so a run would fail\n      fix: chown {me} {} (or run zonerw as {me})",
                    d.display(),
                    d.display()
                ),
                format!(
                    "FAIL  state file {}: owner {me}, mode 0444: {me} cannot write it, so a run would fail\n      fix: chown {me} {} (or run zonerw as {me})",
                    d.join("history.jsonl").display(),
                    d.join("history.jsonl").display()
                ),
            ]
        );
    }

    #[test]
    fn each_server_of_each_pool_used_is_rendered_once_the_others_at_their_current_choice() {
        // Pools 0 (2 servers), 1 (3 servers), 2 (2 servers); current: 1, 0, 0.
        let servers = [2, 3, 2];
        let current = [1, 0, 0];
        assert_eq!(variants(&[], &current, &servers), [vec![1, 0, 0]]);
        assert_eq!(
            variants(&[0], &current, &servers),
            [vec![1, 0, 0], vec![0, 0, 0]]
        );
        assert_eq!(
            variants(&[0, 1], &current, &servers),
            [vec![1, 0, 0], vec![0, 0, 0], vec![1, 1, 0], vec![1, 2, 0]]
        );
    }

    #[test]
    fn same_file_sees_through_links_to_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("link")).unwrap();
        let a = real.join("example.com.zone");
        assert!(same_file(&a, &dir.path().join("link/example.com.zone")));
        assert!(same_file(&a, &real.join("../real/example.com.zone")));
        assert!(!same_file(&a, &real.join("other.zone")));
        // NSD's zonefile: a link to zonerw's file is the same file; not the other way round
        // (zonerw replaces a link where its file should be).
        fs::write(&a, "").unwrap();
        let nsd_link = dir.path().join("nsd.zone");
        std::os::unix::fs::symlink(&a, &nsd_link).unwrap();
        assert!(same_file(&nsd_link, &a));
        assert!(!same_file(&a, &nsd_link));
        assert!(same_file(
            Path::new("/nonexistent/x"),
            Path::new("/nonexistent/x")
        ));
        assert!(!same_file(
            Path::new("/nonexistent/x"),
            Path::new("/nonexistent/y")
        ));
    }

    #[test]
    fn the_probe_table() {
        let config = crate::testing::config();
        let outcomes = [vec![crate::testing::up(), ProbeOutcome::Unchecked]];
        assert_eq!(
            probe_table(&config, &outcomes),
            "POOL  SERVER  ADDRESS       RESULT     LATENCY  REASON\n\
             web   main    192.0.2.1     up         3 ms     HTTP 200\n\
             web   backup  198.51.100.7  unchecked  -        no check configured, counted healthy\n"
        );
        let outcomes = [vec![crate::testing::down(), ProbeOutcome::Unchecked]];
        assert_eq!(
            probe_table(&config, &outcomes).lines().nth(1),
            Some(
                "web   main    192.0.2.1     down       -        failed 2/2 attempts: connect: refused"
            )
        );
    }
}
