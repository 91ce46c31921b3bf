//! Knot DNS 3 as the primary, through `knotc` (messages of Knot 3.2).

use std::path::Path;

use super::common::{Known, ZoneInfo, by_key, control_run, failure};
use crate::command::Output;
use crate::config::Primary;
use crate::error::{Error, Result};

/// Run `knotc ... ARGS` and insist on success: exit 0 and no `error:` line.
pub(crate) fn control(p: &Primary, args: &[&str]) -> Result<Output> {
    let (called, out) = control_run(p, args)?;
    if out.status.success() && !said_error(&out) {
        return Ok(out);
    }
    let fix = trouble_fix(&format!("{}\n{}", out.stdout, out.stderr));
    Err(failure(called, &out, fix))
}

fn said_error(out: &Output) -> bool {
    out.stdout.lines().any(|l| l.starts_with("error:"))
}

/// A fix for what knotc printed, where one is known. Pure.
#[must_use]
pub fn trouble_fix(text: &str) -> Option<String> {
    let line = text
        .lines()
        .find(|l| l.contains("failed to connect to socket"))?;
    let why = line
        .rsplit_once('(')
        .map_or("", |(_, w)| w.trim_end_matches(')'));
    Some(match why {
        "operation not permitted" | "permission denied" => {
            "this user may not use knotd's control socket: run zonerw as the user knotd \
             runs as (or root), or let this user's group write the socket (knot.conf \
             control: listen: and the socket's directory)"
                .to_owned()
        }
        _ => "nothing answers on knotd's control socket: start Knot DNS (systemctl start \
              knot), and check that [server] control names the socket of knot.conf's \
              control: listen:"
            .to_owned(),
    })
}

/// `knotc -b zone-reload ZONE`: blocks until the zone is loaded; rc 1 means it was not
/// (Knot keeps the old zone). Not gated by the mtime (unlike `knotc reload`), so no touch
/// is needed; one zone per call, since one call naming many loses NOTIFYs.
pub(crate) fn reload(p: &Primary, zone: &str) -> Result<()> {
    control(p, &["-b", "zone-reload", zone]).map(drop)
}

/// How many zones one `knotc zone-status` names: its answer stays well inside the output
/// zonerw keeps of a command (64 KiB).
const STATUS_CHUNK: usize = 200;

/// `knotc zone-status Z1 Z2 …` (a few hundred zones per call): which of `zones` Knot
/// knows, and the serial it serves (`-` when not loaded). A zone the answer does not
/// mention is Unclear.
pub(crate) fn zone_infos(p: &Primary, zones: &[&str]) -> Vec<ZoneInfo> {
    let mut infos = Vec::with_capacity(zones.len());
    for chunk in zones.chunks(STATUS_CHUNK) {
        let mut args = vec!["zone-status"];
        args.extend_from_slice(chunk);
        infos.extend(match control_run(p, &args) {
            // rc 1 when one of them is unknown: the others are still listed.
            Ok((_, out)) if out.stdout_cut == 0 => infos_from(&out.stdout, chunk),
            _ => vec![ZoneInfo::UNCLEAR; chunk.len()],
        });
    }
    infos
}

/// What a `knotc zone-status` answer (`[example.test.] role: master | serial: 7 | …`, and
/// `error: [new.test] (no such zone found)` for a zone it does not have) says about
/// `zones`. A zone it does not mention is Unclear. Pure.
#[must_use]
pub fn infos_from(listing: &str, zones: &[&str]) -> Vec<ZoneInfo> {
    let index = by_key(zones);
    let mut infos = vec![ZoneInfo::UNCLEAR; zones.len()];
    for line in listing.lines() {
        let (line, unknown) = match line.strip_prefix("error: ") {
            Some(rest) => (rest, true),
            None => (line, false),
        };
        let Some((name, rest)) = line.strip_prefix('[').and_then(|l| l.split_once(']')) else {
            continue;
        };
        let Some(&i) = index.get(&crate::config::zone_key(name)) else {
            continue;
        };
        if unknown {
            if rest.contains("no such zone found") {
                infos[i] = ZoneInfo {
                    known: Known::No,
                    serial: None,
                    primary: None,
                };
            }
            continue;
        }
        let serial = rest
            .split('|')
            .find_map(|f| f.trim().strip_prefix("serial:"))
            .and_then(|s| s.trim().parse().ok());
        let primary = rest
            .split('|')
            .find_map(|f| f.trim().strip_prefix("role:"))
            .map(|r| matches!(r.trim(), "master" | "primary"));
        infos[i] = ZoneInfo {
            known: Known::Yes,
            serial,
            primary,
        };
    }
    infos
}

/// Add `zone` with template `template` and zonerw's `file`, in one configuration
/// transaction (`conf-begin`, `conf-set`, `conf-commit`). A failed step aborts the
/// transaction: a commit after a failed `conf-set` would add the zone with the earlier
/// sets only (the default template).
pub(crate) fn add_zone(p: &Primary, zone: &str, file: &Path, template: &str) -> Result<()> {
    control(p, &["conf-begin"])?;
    let item = |key: &str| format!("zone[{zone}].{key}");
    let file = file.display().to_string();
    let steps: [&[&str]; 4] = [
        &["conf-set", &format!("zone[{zone}]")],
        &["conf-set", &item("template"), template],
        &["conf-set", &item("file"), &file],
        &["conf-commit"],
    ];
    for args in steps {
        if let Err(e) = control(p, args) {
            // Left open, the transaction would refuse every later conf-begin.
            return Err(match control(p, &["conf-abort"]) {
                Ok(_) => e,
                Err(abort) => Error::Many(vec![e, abort]),
            });
        }
    }
    Ok(())
}

/// `knotc status version`: `Version: 3.2.6`.
pub(crate) fn status(p: &Primary) -> Result<Option<String>> {
    let out = control(p, &["status", "version"])?;
    Ok(out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Version:"))
        .map(|v| format!("Knot DNS {}", v.trim())))
}

// ---------------------------------------------------------------- settings (check)

/// A Knot setting that breaks "the file zonerw writes is the truth", found for a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Danger {
    /// The item, e.g. `zonefile-sync`.
    pub item: &'static str,
    /// Its effective value, e.g. `0 (the default)`.
    pub value: String,
    /// What it does to zonerw's files, and the value to set.
    pub why: &'static str,
}

/// The items zonerw needs set, with the value it needs, the default and why.
const NEEDED: [(&str, &str, &str, &str); 3] = [
    (
        "zonefile-sync",
        "-1",
        "0",
        "Knot writes its own version of the zone into zonerw's file whenever it changes \
         the zone itself (signing, DDNS): set zonefile-sync: -1",
    ),
    (
        "journal-content",
        "none",
        "changes",
        "Knot replays its journal onto zonerw's file when the file's serial is not above \
         the one it served, serving records zonerw removed: set journal-content: none",
    ),
    (
        "zonefile-load",
        "whole",
        "whole",
        "Knot does not load zonerw's file as it is (difference-no-serial even replaces \
         its serial): set zonefile-load: whole",
    ),
];

/// The dangerous settings of each of `zones`, from `knotc conf-read 'zone'`-style lines of
/// the zones and of the templates (explicit items only: Knot prints neither inherited nor
/// default values, so the effective value is the zone's, else its template's (`default`
/// when it names none), else Knot's default). Pure.
#[must_use]
pub fn dangers(zone_items: &str, template_items: &str, zone: &str) -> Vec<Danger> {
    let explicit = Explicit::of(zone_items, template_items, zone);
    NEEDED
        .iter()
        .filter_map(|&(item, needed, default, why)| {
            let value = explicit
                .zone(item)
                .map(|v| format!("{v} (zone)"))
                .or_else(|| {
                    explicit
                        .template(item)
                        .map(|v| format!("{v} (template {})", explicit.template))
                })
                .unwrap_or_else(|| format!("{default} (the default)"));
            let bare = value.split(' ').next().unwrap_or_default();
            (bare != needed).then_some(Danger { item, value, why })
        })
        .collect()
}

/// The items set explicitly for one zone and for its template (`default` when the zone
/// names none), from `knotc conf-read` lines (`zone[NAME.].ITEM = VALUE`,
/// `template[ID].ITEM = VALUE`): Knot prints neither inherited nor default values.
struct Explicit<'a> {
    zone_items: &'a str,
    template_items: &'a str,
    key: String,
    template: String,
}

impl<'a> Explicit<'a> {
    fn of(zone_items: &'a str, template_items: &'a str, zone: &str) -> Explicit<'a> {
        let mut explicit = Explicit {
            zone_items,
            template_items,
            key: crate::config::zone_key(zone),
            template: String::new(),
        };
        explicit.template = explicit
            .zone("template")
            .unwrap_or_else(|| "default".to_owned());
        explicit
    }

    /// The zone's own value of `item`.
    fn zone(&self, item: &str) -> Option<String> {
        self.zone_items.lines().find_map(|l| {
            let (lhs, value) = l.split_once(" = ")?;
            let (name, it) = lhs.strip_prefix("zone[")?.split_once("].")?;
            (crate::config::zone_key(name) == self.key && it == item)
                .then(|| value.trim().to_owned())
        })
    }

    /// Its template's value of `item`.
    fn template(&self, item: &str) -> Option<String> {
        let want = format!("template[{}].{item}", self.template);
        self.template_items.lines().find_map(|l| {
            let (lhs, value) = l.split_once(" = ")?;
            (lhs == want).then(|| value.trim().to_owned())
        })
    }

    /// The zone's value, else its template's.
    fn effective(&self, item: &str) -> Option<String> {
        self.zone(item).or_else(|| self.template(item))
    }
}

/// Knot's storage directory when neither the zone nor its template sets one (Debian's
/// build; `knotd -V` does not print it).
const DEFAULT_STORAGE: &str = "/var/lib/knot";

/// The file Knot loads `zone` from, from the explicit items of the zones and templates (as
/// [`dangers`] reads them): `file` (default `%s.zone`) under `storage` when relative, `%s`
/// the zone's name without the final dot. None when the file name uses another of Knot's
/// substitutions (`%c[…]`, `%l[…]`, …), which zonerw does not evaluate. Pure.
#[must_use]
pub fn zone_file(zone_items: &str, template_items: &str, zone: &str) -> Option<std::path::PathBuf> {
    let explicit = Explicit::of(zone_items, template_items, zone);
    let item = |name: &str| explicit.effective(name);
    let key = &explicit.key;
    let file = item("file").unwrap_or_else(|| "%s.zone".to_owned());
    let name = key.trim_end_matches('.');
    let file = file.replace("%s", name);
    if file.contains('%') {
        return None;
    }
    let file = std::path::PathBuf::from(file);
    if file.is_absolute() {
        return Some(file);
    }
    let storage = item("storage").unwrap_or_else(|| DEFAULT_STORAGE.to_owned());
    Some(std::path::Path::new(&storage).join(file))
}

/// `knotc conf-read 'zone[Z]'` for each of `zones` (several at once; a zone Knot does not
/// have adds nothing) and `knotc conf-read 'template'`: their explicit items.
pub(crate) fn settings(p: &Primary, zones: &[&str]) -> Result<(String, String)> {
    let read = |item: &str| -> Result<String> {
        let out = control(p, &["conf-read", item])?;
        if out.stdout_cut > 0 {
            return Err(Error::Command {
                argv: p.control.clone(),
                message: format!("conf-read {item}: the answer is too long to read whole"),
            });
        }
        Ok(out.stdout)
    };
    let per_zone = crate::parallel::map(zones, crate::parallel::workers(), |z| {
        read(&format!("zone[{z}]")).unwrap_or_default()
    });
    Ok((per_zone.concat(), read("template")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zone_status_listing_says_which_zones_knot_has_and_their_serials() {
        let listing = "[a.test.] role: master | serial: 2026112201\n\
                       [B.test.] role: slave | serial: 7 | flush: +8s\n\
                       [missing.test.] role: master | serial: -\n\
                       error: [new.test] (no such zone found)\n\
                       [other.test.] role: master | serial: 9\n";
        assert_eq!(
            infos_from(
                listing,
                &[
                    "a.test",
                    "b.test",
                    "missing.test.",
                    "new.test",
                    "unsaid.test"
                ]
            ),
            [
                ZoneInfo {
                    known: Known::Yes,
                    serial: Some(2_026_112_201),
                    primary: Some(true)
                },
                ZoneInfo {
                    known: Known::Yes,
                    serial: Some(7),
                    primary: Some(false)
                },
                ZoneInfo {
                    known: Known::Yes,
                    serial: None,
                    primary: Some(true)
                },
                ZoneInfo {
                    known: Known::No,
                    serial: None,
                    primary: None
                },
                ZoneInfo::UNCLEAR,
            ]
        );
    }

    #[test]
    fn the_effective_setting_is_the_zones_else_its_templates_else_knots_default() {
        let templates = "template.id = default\n\
                         template[default].storage = /var/lib/knot\n\
                         template[default].zonefile-sync = -1\n\
                         template[default].journal-content = none\n\
                         template.id = loose\n\
                         template[loose].journal-content = changes\n";
        let zones = "zone.domain = safe.test.\n\
                     zone.domain = own.test.\n\
                     zone[own.test.].zonefile-sync = 10\n\
                     zone.domain = loose.test.\n\
                     zone[loose.test.].template = loose\n";
        assert_eq!(dangers(zones, templates, "safe.test"), []);
        assert_eq!(
            dangers(zones, templates, "own.test"),
            [Danger {
                item: "zonefile-sync",
                value: "10 (zone)".into(),
                why: NEEDED[0].3,
            }]
        );
        let loose: Vec<(&str, String)> = dangers(zones, templates, "loose.test")
            .into_iter()
            .map(|d| (d.item, d.value))
            .collect();
        assert_eq!(
            loose,
            [
                ("zonefile-sync", "0 (the default)".to_owned()),
                ("journal-content", "changes (template loose)".to_owned()),
            ]
        );
        let bare: Vec<&str> = dangers("", "", "x.test").iter().map(|d| d.item).collect();
        assert_eq!(bare, ["zonefile-sync", "journal-content"]);
        // zonefile-load: whole is Knot's default; any other value, zone's or template's,
        // is a danger.
        for (zone_line, template_line, want) in [
            (
                "zone[x.test.].zonefile-load = difference-no-serial\n",
                "",
                Some("difference-no-serial (zone)"),
            ),
            (
                "",
                "template[default].zonefile-load = difference\n",
                Some("difference (template default)"),
            ),
            (
                "zone[x.test.].zonefile-load = whole\n",
                "template[default].zonefile-load = difference\n",
                None,
            ),
        ] {
            let safe =
                "template[default].zonefile-sync = -1\ntemplate[default].journal-content = none\n";
            let load: Vec<String> = dangers(
                &format!("zone.domain = x.test.\n{zone_line}"),
                &format!("template.id = default\n{safe}{template_line}"),
                "x.test",
            )
            .into_iter()
            .map(|d| {
                assert_eq!(d.item, "zonefile-load");
                assert_eq!(d.why, NEEDED[2].3);
                d.value
            })
            .collect();
            assert_eq!(
                load,
                want.into_iter().map(str::to_owned).collect::<Vec<_>>(),
                "{zone_line}{template_line}"
            );
        }
    }

    #[test]
    fn the_file_knot_loads_is_the_zones_else_the_templates_under_storage() {
        let templates = "template.id = default\n\
                         template[default].storage = /var/lib/zonerw/zones\n\
                         template[default].file = %s.zone\n\
                         template.id = other\n\
                         template[other].file = /srv/%s.db\n";
        let zones = "zone.domain = a.test.\n\
                     zone[b.test.].template = other\n\
                     zone[c.test.].file = c.zone\n\
                     zone[c.test.].storage = /srv/knot\n\
                     zone[d.test.].file = %c[1].zone\n";
        let file = |z| zone_file(zones, templates, z);
        assert_eq!(
            file("a.test"),
            Some("/var/lib/zonerw/zones/a.test.zone".into())
        );
        assert_eq!(file("B.test."), Some("/srv/b.test.db".into()));
        assert_eq!(file("c.test"), Some("/srv/knot/c.zone".into()));
        assert_eq!(
            file("d.test"),
            None,
            "a substitution zonerw does not evaluate"
        );
        assert_eq!(
            zone_file("", "", "e.test"),
            Some("/var/lib/knot/e.test.zone".into())
        );
    }

    #[test]
    fn connection_troubles_get_a_fix() {
        let refused = "error: failed to connect to socket '/run/knot/knot.sock' (not exists)";
        assert!(trouble_fix(refused).unwrap().starts_with("nothing answers"));
        let denied =
            "error: failed to connect to socket '/run/knot/knot.sock' (operation not permitted)";
        assert!(trouble_fix(denied).unwrap().contains("may not use"));
        assert_eq!(trouble_fix("error: [x.test] (failed)"), None);
    }
}
