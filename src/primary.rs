//! The primary DNS server zonerw installs zones for: NSD (the default), Knot DNS or BIND 9.
//! Each operation a run needs, per kind, as argv calls of the server's own tools, each
//! bounded by `[server] timeout`:
//!
//! | operation | NSD | Knot DNS | BIND 9 |
//! |---|---|---|---|
//! | check a file | `nsd-checkzone Z F` | `kzonecheck -v -o Z F` | `named-checkzone Z F` |
//! | reload | one `reload` (one zone: `reload Z`) | `-b zone-reload Z`, one zone at a time | `reload Z`, one zone at a time |
//! | notify | `notify Z` | `zone-notify Z` | `notify Z` |
//! | known? | `zonestatus Z` | `zone-status Z…`, 200 zones per call | `zonestatus Z` |
//! | add | `addzone Z PATTERN` | `conf-begin`, `conf-set`, `conf-commit` | `addzone Z '{…}'` |
//!
//! Each server's trap is handled here, the way [`crate::fsio::Staged::install`] handles
//! NSD's (a reload ignores a file whose mtime did not change): notes/SERVERS.md lists them,
//! with the test that covers each.

use std::path::{Path, PathBuf};

use crate::command::{quote, run_bounded};
use crate::config::{Kind, Primary};
use crate::error::{Error, Result};
use crate::fsio;
use crate::nsd;

pub mod bind;
pub mod common;
pub mod knot;

use common::spawn_error;
pub use common::{Known, Target, ZoneInfo, control_run};

// ---------------------------------------------------------------- check

/// Check a rendered zone with the server's checker. On failure the message has the
/// checker's error lines with the temporary path replaced by `shown_as` (the template: the
/// rendered text keeps the template's line numbers).
///
/// # Errors
/// The checker rejected the zone ([`Error::Checkzone`]), or could not run or finish
/// ([`Error::NotInstalled`]).
pub fn check(p: &Primary, zone: &str, file: &Path, shown_as: &Path) -> Result<()> {
    let Some(check) = &p.check else {
        return Ok(());
    };
    let mut argv = check.clone();
    if p.kind == Kind::Knot {
        // -v: without it kzonecheck says only "failed to run semantic checks".
        argv.extend(["-v".to_owned(), "-o".to_owned()]);
    }
    argv.extend([zone.to_owned(), file.display().to_string()]);
    let program = &check[0];
    let out = run_bounded(&argv, &[], p.timeout).map_err(|e| match e {
        e @ Error::Spawn { .. } => spawn_error(p, "check", e),
        // The temporary file is gone by the time this is shown: name the template.
        Error::Command { message, .. } => Error::NotInstalled {
            zone: zone.to_owned(),
            server: p.name(),
            message: format!(
                "'{program} {zone}' on the zone rendered from '{}' {message}",
                shown_as.display()
            ),
        },
        other => other,
    })?;
    if out.status.success() {
        return Ok(());
    }
    let temp = file.display().to_string();
    let shown = shown_as.display().to_string();
    let mut lines: Vec<String> = out
        .stderr
        .lines()
        .chain(out.stdout.lines())
        .map(|l| l.find("error: ").map_or(l, |i| &l[i + 7..]))
        .filter(|l| !checker_noise(l))
        .map(|l| l.replace(&temp, &shown))
        .collect();
    lines.dedup();
    // At most a few lines, each bounded: the checker may quote the (foreign) file.
    let lines: Vec<String> = quote(&lines.join("\n"), out.stdout_cut + out.stderr_cut)
        .into_iter()
        .map(|l| format!("  {l}"))
        .collect();
    Err(Error::Checkzone {
        zone: zone.to_owned(),
        // Named as the kind's checker, whatever wrapper or path runs it.
        checker: p.kind.default_check().to_owned(),
        server: p.name(),
        message: lines.join("\n"),
    })
}

/// Lines of a checker's output that say nothing about the zone: kzonecheck's summary
/// lines after its error lines.
fn checker_noise(line: &str) -> bool {
    let line = line.trim();
    line.is_empty() || line == "failed to run semantic checks (failed)"
}

/// One rendered zone to check.
#[derive(Debug, Clone)]
pub struct Rendered<'a> {
    /// The zone name.
    pub zone: &'a str,
    /// Its file name (the copy is named after it).
    pub file_name: &'a str,
    /// The template it was rendered from (named in messages).
    pub template: &'a Path,
    /// The rendered text.
    pub text: String,
}

/// The checker on each of `zones`, several at once, on copies in a private temporary
/// directory that is registered with [`crate::signals`] (a signal removes it too) and
/// removed afterwards. The results come in the order of `zones`.
///
/// # Errors
/// The temporary directory could not be made.
pub fn check_copies(p: &Primary, zones: &[Rendered<'_>]) -> Result<Vec<Result<()>>> {
    fsio::with_private_dir("zonerw-check.", |dir| {
        crate::parallel::map(zones, crate::parallel::workers(), |z| {
            let staged = fsio::Staged::write(dir, z.file_name, z.text.as_bytes())?;
            check(p, z.zone, staged.path(), z.template)
        })
    })
}

// ---------------------------------------------------------------- reload and notify

/// What a reload did.
#[derive(Debug, Default)]
pub struct Reloads {
    /// Per target (in order): the reload failed.
    pub failed: Vec<bool>,
    /// The errors (fewer than the failures when one command failed for several zones).
    pub errors: Vec<Error>,
    /// Things done on the way that an operator should know (a stale journal removed).
    pub notes: Vec<String>,
}

/// Have the server load the installed files of `targets`, at the granularity that keeps
/// every NOTIFY (notes/SERVERS.md): NSD one `reload` for several zones (back-to-back
/// per-zone reloads cut off transfers); Knot and BIND one zone at a time (one Knot
/// reload naming many zones loses NOTIFYs; BIND tells per zone whether it loaded).
pub fn reload(p: &Primary, targets: &[Target<'_>]) -> Reloads {
    let mut r = Reloads {
        failed: vec![false; targets.len()],
        ..Reloads::default()
    };
    if targets.is_empty() {
        return r;
    }
    let one_at_a_time = match p.kind {
        Kind::Nsd => {
            let names: Vec<&str> = targets.iter().map(|t| t.zone).collect();
            if let Err(e) = nsd::reload(p, &names) {
                r.errors.push(e);
                r.failed.fill(true);
            }
            return r;
        }
        Kind::Knot | Kind::Bind => targets,
    };
    for (i, t) in one_at_a_time.iter().enumerate() {
        let result = safe_name(p, t.zone).and_then(|()| match p.kind {
            Kind::Knot => knot::reload(p, t.zone),
            _ => bind::reload(p, t, &mut r.notes),
        });
        let Err(e) = result else {
            continue;
        };
        r.failed[i] = true;
        // The server does not answer (or its tool does not run): the other zones would
        // only wait out the same timeout each, with the run lock held.
        let unreachable = server_unreachable(&e);
        r.errors.push(e);
        if unreachable {
            let rest = &targets[i + 1..];
            if !rest.is_empty() {
                r.failed[i + 1..].fill(true);
                let names: Vec<&str> = rest.iter().map(|t| t.zone).collect();
                r.errors.push(Error::Command {
                    argv: p.control.clone(),
                    message: format!(
                        "was not run for {} more zone(s) ({}): {} did not answer the one before",
                        rest.len(),
                        crate::command::quote(&names.join(" "), 0).join(" "),
                        p.name()
                    ),
                });
            }
            break;
        }
    }
    r
}

/// Whether an error of a control call means the server cannot be reached at all (its tool
/// did not start or finish, or could not connect), as opposed to a refused zone.
fn server_unreachable(e: &Error) -> bool {
    let text = e.to_string();
    matches!(e, Error::Spawn { .. })
        || [
            "did not finish within",
            "failed to connect to socket",
            "connect failed",
            "cannot run '",
        ]
        .iter()
        .any(|w| text.contains(w))
}

/// Zone names with characters that Knot's item syntax (`zone[NAME].file`), rndc's command
/// line (named re-reads it, split at blanks) or named.conf give a meaning to are not passed
/// to Knot or BIND.
fn safe_name(p: &Primary, zone: &str) -> Result<()> {
    if p.kind == Kind::Nsd
        || !zone
            .contains(|c: char| "[]{}\";\\'%".contains(c) || c.is_whitespace() || c.is_control())
    {
        return Ok(());
    }
    Err(Error::Command {
        argv: p.control.clone(),
        message: format!(
            "was not run for zone {zone:?}: its name has a character that {}'s control \
             commands or configuration give a meaning to; rename the template",
            p.name()
        ),
    })
}

/// Send NOTIFY for `zone` to its secondaries again.
///
/// # Errors
/// The control tool failed.
pub fn notify(p: &Primary, zone: &str) -> Result<()> {
    match p.kind {
        Kind::Nsd => nsd::notify(p, zone),
        Kind::Knot => knot::control(p, &["zone-notify", zone]).map(drop),
        Kind::Bind => bind::control(p, &["notify", zone]).map(drop),
    }
}

/// How long the first wait for a lagging secondary lasts before zonerw sends NOTIFY again.
/// Knot sends NOTIFY over TCP and does not retry one that NSD reset until the SOA retry
/// (600 s): re-notify after 2 s (notes/SERVERS.md, Knot). NSD and BIND: the whole timeout.
#[must_use]
pub fn first_wait(kind: Kind, timeout: std::time::Duration) -> std::time::Duration {
    match kind {
        Kind::Knot => timeout.min(std::time::Duration::from_secs(2)),
        Kind::Nsd | Kind::Bind => timeout,
    }
}

// ---------------------------------------------------------------- what the server knows

/// Ask the server about `zones` (names as in the templates): whether it has each, and
/// (Knot, BIND) the serial it serves. Knot: `zone-status` naming 200 zones a call; BIND: one call
/// per zone, several at once; NSD: one call per zone. The answers come in the order of `zones`.
#[must_use]
pub fn zone_infos(p: &Primary, zones: &[&str]) -> Vec<ZoneInfo> {
    if zones.is_empty() {
        return Vec::new();
    }
    // A name the server's commands would misread is not asked about.
    let asked: Vec<usize> = (0..zones.len())
        .filter(|&i| safe_name(p, zones[i]).is_ok())
        .collect();
    let names: Vec<&str> = asked.iter().map(|&i| zones[i]).collect();
    let answers = match p.kind {
        Kind::Knot => knot::zone_infos(p, &names),
        Kind::Bind => crate::parallel::map(&names, crate::parallel::workers(), |z| {
            bind::zone_info(p, z).unwrap_or(ZoneInfo::UNCLEAR)
        }),
        Kind::Nsd => nsd_zone_infos(p, &names),
    };
    let mut infos = vec![ZoneInfo::UNCLEAR; zones.len()];
    for (i, info) in asked.into_iter().zip(answers) {
        infos[i] = info;
    }
    infos
}

/// From this many zones on, NSD is asked once for every zone it has (`nsd-control
/// zonestatus`), not once per zone: a first run over a thousand new zones would otherwise
/// take a thousand calls.
const NSD_LIST_FROM: usize = 5;

/// NSD: whether it has each of `zones`: one call per zone for a few (in order), one
/// listing of all its zones for more. A zone the listing does not reach (longer than zonerw
/// keeps) is asked about alone; a listing that fails leaves every zone unclear (the
/// reload reports why).
fn nsd_zone_infos(p: &Primary, zones: &[&str]) -> Vec<ZoneInfo> {
    let one = |z: &str| ZoneInfo {
        known: nsd::zone_known(p, z),
        serial: None,
        primary: None,
    };
    if zones.len() < NSD_LIST_FROM {
        return zones.iter().map(|z| one(z)).collect();
    }
    let (listed, complete) = match nsd::zones(p) {
        Ok(nsd::Listing::Zones { listed, complete }) => (listed, complete),
        Ok(nsd::Listing::NotAListing) => return zones.iter().map(|z| one(z)).collect(),
        Err(_) => return vec![ZoneInfo::UNCLEAR; zones.len()],
    };
    // The listing is trusted to say that NSD lacks a zone once one such zone, asked about
    // alone, says so too: an empty listing is also what a wrapper or stub that prints
    // nothing gives (whose per-zone answers are then used).
    let missing = |z: &str| complete && !listed.contains(&crate::config::zone_key(z));
    if let Some(first) = zones.iter().find(|z| missing(z)) {
        let alone = one(first);
        if alone.known != Known::No {
            return zones.iter().map(|z| one(z)).collect();
        }
    }
    zones
        .iter()
        .map(|z| {
            let known = if listed.contains(&crate::config::zone_key(z)) {
                Known::Yes
            } else if complete {
                Known::No
            } else {
                return one(z);
            };
            ZoneInfo {
                known,
                serial: None,
                primary: None,
            }
        })
        .collect()
}

/// Whether the server must be asked for the serial it serves before zonerw picks the next
/// one: Knot and BIND may serve a higher serial than the file's (signing, journal), and
/// ignore or refuse a file whose serial is not higher. NSD serves the file's.
#[must_use]
pub fn serves_own_serials(kind: Kind) -> bool {
    kind != Kind::Nsd
}

/// Have the server serve a zone it does not know yet, from `file`, with
/// `[server] add-template` (NSD: `[nsd] add-pattern`).
///
/// # Errors
/// The control tool failed.
pub fn add_zone(p: &Primary, zone: &str, file: &Path) -> Result<()> {
    let template = p.add_template.as_deref().unwrap_or_default();
    safe_name(p, zone)?;
    match p.kind {
        Kind::Nsd => nsd::addzone(p, zone, template),
        Kind::Knot => knot::add_zone(p, zone, file, template),
        Kind::Bind => bind::add_zone(p, zone, file, template),
    }
}

/// Zones per `nsd-control addzones`: NSD 4.6's nsd-control stalls on a thousand lines at
/// once (measured: 500 lines took 0.4 s, 1,000 never finished), so a few hundred a call.
const ADDZONES_CHUNK: usize = 200;

/// [`add_zone`] for each of `zones` (name, file), in order. NSD: from five zones on, one
/// `nsd-control addzones` (names one per line on its input) instead of one `addzone`
/// each, unless a name has a blank or a control character in it.
pub fn add_zones(p: &Primary, zones: &[(&str, PathBuf)]) -> Vec<Result<()>> {
    let plain = |z: &str| !z.contains(|c: char| c.is_whitespace() || c.is_control());
    if p.kind == Kind::Nsd && zones.len() >= NSD_LIST_FROM && zones.iter().all(|(z, _)| plain(z)) {
        let names: Vec<&str> = zones.iter().map(|(z, _)| *z).collect();
        let pattern = p.add_template.as_deref().unwrap_or_default();
        return names
            .chunks(ADDZONES_CHUNK)
            .flat_map(|chunk| nsd::addzones(p, chunk, pattern))
            .collect();
    }
    zones.iter().map(|(z, file)| add_zone(p, z, file)).collect()
}

/// How to make the server serve a zone it does not know, for [`Error::UnknownZone`].
#[must_use]
pub fn how_to_add(p: &Primary, zone: &str, file: &Path) -> String {
    let file = file.display();
    match p.kind {
        Kind::Nsd => format!(
            "Add it to nsd.conf and run 'nsd-control reconfig':\n    zone:\n        name: \
             {zone}\n        zonefile: {file}\n        (plus your notify: and provide-xfr: \
             lines)\nor let zonerw add new zones itself: set {} to an NSD pattern: with \
             those lines",
            p.key("add-template")
        ),
        Kind::Knot => format!(
            "Add it to knot.conf and run 'knotc reload':\n    zone:\n      - domain: {zone}\n        \
             file: \"{file}\"\n        (plus your template:, notify: and acl: lines)\nor let \
             zonerw add new zones itself: set [server] add-template to a Knot template: \
             with those lines (knotd must run with a configuration database, knotd -C, for \
             added zones to survive a restart)"
        ),
        Kind::Bind => format!(
            "Add it to named.conf and run 'rndc reconfig':\n    zone \"{zone}\" {{ type \
             primary; file \"{file}\"; }};\nor let zonerw add new zones itself (rndc \
             addzone, with allow-new-zones yes;): set [server] add-template to the zone's \
             other options, e.g. \"notify explicit; also-notify {{ 192.0.2.53; }};\""
        ),
    }
}

/// The server's version, if its control tool says it: proof that it answers.
///
/// # Errors
/// The control tool failed: the error says why.
pub fn status(p: &Primary) -> Result<Option<String>> {
    match p.kind {
        Kind::Nsd => nsd::status(p),
        Kind::Knot => knot::status(p),
        Kind::Bind => bind::status(p),
    }
}

#[cfg(test)]
mod tests {
    //! The checker as a script in a temporary directory; the real servers are in the
    //! integration tests.

    use std::fs;
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::testing::script;

    /// NSD with the checker `program` (as `[nsd] checkzone` gives it).
    fn nsd(program: &str) -> Primary {
        Primary {
            kind: Kind::Nsd,
            table: "[nsd]",
            control: vec!["true".into()],
            check: Some(vec![program.into()]),
            timeout: Duration::from_secs(5),
            add_template: None,
        }
    }

    const SHOWN: &str = "/etc/zonerw/templates/example.com.zone";

    /// Run `check` with the checker `body` on a rendered file in a temporary directory.
    fn run_check(body: &str, timeout: Duration) -> (Result<()>, String, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let program = script(dir.path(), "checkzone", body);
        let rendered = dir.path().join(".example.com.zone.Ab12.tmp");
        fs::write(&rendered, "zone").unwrap();
        let mut nsd = nsd(&program);
        nsd.timeout = timeout;
        let result = check(&nsd, "example.com", &rendered, Path::new(SHOWN));
        (result, program, rendered)
    }

    #[test]
    fn a_zone_the_checker_accepts_passes() {
        let (result, _, _) = run_check(
            "test \"$1\" = example.com && test -s \"$2\"",
            Duration::from_secs(5),
        );
        result.unwrap();
    }

    #[test]
    fn checker_messages_name_the_template_without_repeats() {
        let (result, _, rendered) = run_check(
            r#"p="[2026-11-23 18:00:00.000] nsd-checkzone[42]: error:"
echo "$p $2:3: syntax error" >&2
echo "$p $2:3: syntax error" >&2
echo "$p $2:4: unrecognized RR type 'AX'" >&2
echo "zone $1 file $2 has 2 errors"
exit 1"#,
            Duration::from_secs(5),
        );
        let e = result.unwrap_err();
        let Error::Checkzone { zone, message, .. } = &e else {
            panic!("{e:?}");
        };
        assert_eq!(zone, "example.com");
        assert_eq!(
            message,
            &format!(
                "  {SHOWN}:3: syntax error\n  {SHOWN}:4: unrecognized RR type 'AX'\n  zone example.com file {SHOWN} has 2 errors"
            )
        );
        assert!(!message.contains(&rendered.display().to_string()));
        assert_eq!(
            e.to_string().lines().next().unwrap(),
            "example.com: nsd-checkzone rejected the rendered zone; it was not installed and NSD keeps serving the old one:"
        );
        assert_eq!(e.exit_code(), 1);
    }

    #[test]
    fn checker_messages_are_bounded() {
        let (result, _, _) = run_check(
            r#"for i in 1 2 3 4 5 6 7 8; do echo "error: line $i"; done
printf 'error: %0300d\n' 0 >&2
exit 2"#,
            Duration::from_secs(5),
        );
        let Err(Error::Checkzone { message, .. }) = result else {
            panic!("{result:?}");
        };
        let lines: Vec<&str> = message.lines().collect();
        assert_eq!(lines.len(), 6, "{message}");
        assert_eq!(lines[0], format!("  {}…", "0".repeat(200)));
        assert_eq!(
            lines[1..5],
            ["  line 1", "  line 2", "  line 3", "  line 4"]
        );
        assert_eq!(lines[5], "  (… 4 more lines)");
    }

    #[test]
    fn a_checker_that_hangs_means_the_zone_is_not_installed() {
        let (result, program, _) = run_check("exec sleep 5", Duration::from_millis(100));
        let e = result.unwrap_err();
        assert!(matches!(e, Error::NotInstalled { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!(
                "example.com: '{program} example.com' on the zone rendered from '{SHOWN}' did not finish within 100ms and was killed; it was not installed and NSD keeps serving the old zone"
            )
        );
        assert_eq!(e.exit_code(), 1);
    }

    #[test]
    fn a_missing_checker_cannot_run() {
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("nsd-checkzone").display().to_string();
        let e = check(
            &nsd(&program),
            "example.com",
            &dir.path().join("x"),
            Path::new(SHOWN),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "cannot run '{program}': No such file or directory (os error 2)\n\
                 fix: correct the path in [nsd] checkzone, or install NSD's tools"
            )
        );
        let e = check(
            &nsd("zonerw-no-nsd-checkzone"),
            "example.com",
            &dir.path().join("x"),
            Path::new(SHOWN),
        )
        .unwrap_err();
        assert!(
            e.to_string().ends_with(
                "nor in /usr/local/sbin:/usr/sbin:/sbin\n\
                 fix: install NSD's tools, or give the absolute path in [nsd] checkzone"
            ),
            "{e}"
        );
    }

    #[test]
    fn copies_are_checked_in_a_private_directory_that_goes_away() {
        let dir = tempfile::tempdir().unwrap();
        let program = script(
            dir.path(),
            "checkzone",
            "echo \"$2\" >> \"$(dirname \"$0\")/seen\"; if grep -q BAD \"$2\"; then echo \"error: $2:1: bad\" >&2; exit 1; fi",
        );
        let template = Path::new(SHOWN);
        let rendered = |text: &str| Rendered {
            zone: "example.com",
            file_name: "example.com.zone",
            template,
            text: text.into(),
        };
        let results = check_copies(&nsd(&program), &[rendered("good"), rendered("BAD")]).unwrap();
        assert!(results[0].is_ok());
        let e = results[1].as_ref().unwrap_err().to_string();
        assert!(e.ends_with(&format!("\n  {SHOWN}:1: bad")), "{e}");
        let seen = fs::read_to_string(dir.path().join("seen")).unwrap();
        let copies: Vec<&Path> = seen.lines().map(Path::new).collect();
        assert_eq!(copies.len(), 2);
        let private = copies[0].parent().unwrap();
        assert!(
            private
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("zonerw-check."),
            "{seen}"
        );
        assert!(!private.exists(), "the private directory is removed");
    }

    #[test]
    fn knot_gets_a_second_notify_after_two_seconds_the_others_after_the_whole_wait() {
        let ten = Duration::from_secs(10);
        assert_eq!(first_wait(Kind::Knot, ten), Duration::from_secs(2));
        assert_eq!(
            first_wait(Kind::Knot, Duration::from_secs(1)),
            Duration::from_secs(1)
        );
        assert_eq!(first_wait(Kind::Nsd, ten), ten);
        assert_eq!(first_wait(Kind::Bind, ten), ten);
    }

    #[test]
    fn a_zone_name_with_config_syntax_in_it_is_not_added_to_knot_or_bind() {
        for kind in [Kind::Knot, Kind::Bind] {
            let mut p = nsd("true");
            p.kind = kind;
            p.control = vec!["zonerw-no-such-control-tool".into()];
            for zone in ["a]b.test", "a\"b.test", "a;b.test", "a b.test", "a{b.test"] {
                let e = add_zone(&p, zone, Path::new("/z/x.zone")).unwrap_err();
                assert!(e.to_string().contains("was not run for zone"), "{e}");
            }
            // A plain name gets as far as running the (missing) control tool.
            let e = add_zone(&p, "a-b_c.test", Path::new("/z/x.zone")).unwrap_err();
            assert!(e.to_string().starts_with("cannot run"), "{e}");
        }
    }

    #[test]
    fn per_zone_reloads_stop_at_a_server_that_does_not_answer_and_a_refused_zone_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("calls");
        let stub = |name: &str, body: &str| {
            let log = format!("echo \"$*\" >> '{}'\n", log.display());
            crate::testing::script(dir.path(), name, &format!("{log}{body}"))
        };
        let down = stub(
            "knotc-down",
            "echo \"error: failed to connect to socket '/run/knot/knot.sock' (connection refused)\"\nexit 1\n",
        );
        let refuses = stub(
            "knotc-refuses",
            "echo 'error: [a.test.] (semantic check)'\nexit 1\n",
        );
        let files: Vec<PathBuf> = ["a.test", "b.test", "c.test"]
            .iter()
            .map(|z| dir.path().join(format!("{z}.zone")))
            .collect();
        let targets: Vec<Target<'_>> = ["a.test", "b.test", "c.test"]
            .iter()
            .zip(&files)
            .map(|(zone, file)| Target {
                zone,
                file: file.clone(),
            })
            .collect();
        let mut p = nsd("true");
        p.kind = Kind::Knot;

        // Unreachable: one call, the other two zones are not tried and say why.
        p.control = vec![down];
        let r = reload(&p, &targets);
        assert_eq!(r.failed, [true, true, true]);
        assert_eq!(r.errors.len(), 2, "{:?}", r.errors);
        assert!(
            r.errors[1]
                .to_string()
                .contains("was not run for 2 more zone(s) (b.test c.test): Knot DNS did not answer the one before"),
            "{}",
            r.errors[1]
        );
        let calls = std::fs::read_to_string(&log).unwrap();
        assert_eq!(calls.lines().count(), 1, "{calls}");

        // A zone the server refuses fails alone: every zone is tried.
        std::fs::remove_file(&log).unwrap();
        p.control = vec![refuses];
        let r = reload(&p, &targets);
        assert_eq!(r.failed, [true, true, true]);
        assert_eq!(r.errors.len(), 3, "{:?}", r.errors);
        let calls = std::fs::read_to_string(&log).unwrap();
        assert_eq!(calls.lines().count(), 3, "{calls}");
    }

    #[test]
    fn only_knot_and_bind_are_asked_for_their_serials() {
        assert!(!serves_own_serials(Kind::Nsd));
        assert!(serves_own_serials(Kind::Knot));
        assert!(serves_own_serials(Kind::Bind));
    }
}
