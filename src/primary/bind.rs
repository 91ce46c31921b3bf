//! BIND 9 as the primary, through `rndc` (messages of BIND 9.18).

use std::fs::{self, File, FileTimes};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::common::{Known, Target, ZoneInfo, control_run, failure};
use crate::command::Output;
use crate::config::Primary;
use crate::error::{Error, Result};

/// Run `rndc ... ARGS` and insist on exit 0.
pub(crate) fn control(p: &Primary, args: &[&str]) -> Result<Output> {
    let (called, out) = control_run(p, args)?;
    if out.status.success() {
        return Ok(out);
    }
    let fix = trouble_fix(&format!("{}\n{}", out.stdout, out.stderr));
    Err(failure(called, &out, fix))
}

/// A fix for what rndc printed, where one is known. Pure.
#[must_use]
pub fn trouble_fix(text: &str) -> Option<String> {
    if text.contains("connect failed") {
        return Some(
            "nothing answers on named's control channel: start BIND (systemctl start named), \
             and check that [server] control reaches the controls { } of named.conf"
                .to_owned(),
        );
    }
    if text.contains("this host is not authorized to connect")
        || text.contains("the key is invalid")
    {
        return Some(
            "named refused rndc's key: [server] control must use the key of named.conf's \
             controls { } (rndc -k KEYFILE, or rndc -c RNDC.CONF)"
                .to_owned(),
        );
    }
    if text.contains("'reload' failed: dynamic zone") {
        return Some(
            "the zone is dynamic (allow-update or update-policy): named owns its file and \
             journal; remove allow-update/update-policy from the zone for zonerw to install \
             its file"
                .to_owned(),
        );
    }
    if text.contains("'addzone' failed: permission denied") {
        return Some(
            "named does not allow new zones: set allow-new-zones yes; in named.conf's \
             options, or add the zone to named.conf"
                .to_owned(),
        );
    }
    if text.contains(".conf does not exist") || text.contains(".key does not exist") {
        return Some(
            "rndc cannot read its config or key: correct [server] control, and make the \
             file readable by this user"
                .to_owned(),
        );
    }
    None
}

/// What `rndc reload ZONE` answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reloaded {
    /// `zone reload queued` / `zone reload successful`.
    Loading,
    /// `zone reload up-to-date`: named did not load the file (its mtime is not newer than
    /// the last load).
    UpToDate,
    /// `'reload' failed: out of range` or a journal that no longer fits the file.
    StaleJournal,
    /// Any other failure.
    Failed,
}

/// Classify an answer to `rndc reload ZONE`. Pure.
#[must_use]
pub fn classify_reload(success: bool, text: &str) -> Reloaded {
    if success {
        return if text.contains("up-to-date") {
            Reloaded::UpToDate
        } else {
            Reloaded::Loading
        };
    }
    if text.contains("out of range") || text.contains("journal out of sync") {
        Reloaded::StaleJournal
    } else {
        Reloaded::Failed
    }
}

/// `rndc reload ZONE`, with BIND's traps handled (notes/SERVERS.md, BIND 2 and 5):
/// - `up-to-date` means named did not load the file, as its mtime is not newer than its
///   last load (zonerw adopting a file it installed earlier): make the mtime newer, and
///   reload again;
/// - `out of range` means a journal (`FILE.jnl`: inline signing, ixfr-from-differences)
///   no longer fits the file zonerw replaced while named was down, and the zone is dead:
///   remove that journal (zonerw's file is the truth) and reload again.
pub(crate) fn reload(p: &Primary, t: &Target<'_>, notes: &mut Vec<String>) -> Result<()> {
    let mut retried = false;
    loop {
        let (argv, out) = control_run(p, &["reload", t.zone])?;
        let text = format!("{}\n{}", out.stdout, out.stderr);
        let what = classify_reload(out.status.success(), &text);
        match (what, retried) {
            (Reloaded::Loading, _) => return Ok(()),
            (Reloaded::UpToDate, false) => {
                make_newer(&t.file).map_err(|e| Error::io(&t.file, "set the mtime of", e))?;
            }
            (Reloaded::StaleJournal, false) => {
                let journal = journal_of(&t.file);
                match fs::symlink_metadata(&journal) {
                    Ok(m) if m.is_file() => {
                        fs::remove_file(&journal).map_err(|e| Error::io(&journal, "remove", e))?;
                        notes.push(format!(
                            "{}: removed BIND's journal {}, which no longer matched the zone \
                             file (named refused to load the zone: {})",
                            t.zone,
                            journal.display(),
                            text.trim().lines().last().unwrap_or_default()
                        ));
                    }
                    _ => return Err(failure(argv, &out, None)),
                }
            }
            (Reloaded::UpToDate, true) => {
                return Err(Error::Command {
                    argv,
                    message: format!(
                        "answered 'zone reload up-to-date' although the mtime of '{}' was made \
                         newer: named did not load it",
                        t.file.display()
                    ),
                });
            }
            _ => {
                let fix = trouble_fix(&text);
                return Err(failure(argv, &out, fix));
            }
        }
        retried = true;
    }
}

/// The journal named keeps beside a zone file.
#[must_use]
pub fn journal_of(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".jnl");
    PathBuf::from(name)
}

/// Set a file's mtime to now (as the kernel's clock says, like `touch`), or 1 ms past its
/// own if that is not later (a clock set back).
pub(crate) fn make_newer(file: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    // Only zonerw's own regular file: not through a link, and never blocking on a FIFO put
    // in its place.
    let f = File::options()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(file)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let old = meta.modified()?;
    let times = [
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_NOW,
        },
    ];
    // SAFETY: the descriptor is open for the call; `times` is two valid timespecs.
    if unsafe { libc::futimens(f.as_raw_fd(), times.as_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if f.metadata()?.modified()? > old {
        return Ok(());
    }
    f.set_times(FileTimes::new().set_modified(old + Duration::from_millis(1)))
}

/// `rndc zonestatus ZONE`: whether named has the zone, and the serial it serves (the
/// signed serial of an inline-signed zone).
pub(crate) fn zone_info(p: &Primary, zone: &str) -> Result<ZoneInfo> {
    let (argv, out) = control_run(p, &["zonestatus", zone])?;
    let text = format!("{}\n{}", out.stdout, out.stderr);
    match zone_info_from(out.status.success(), &text) {
        Some(info) => Ok(info),
        None => Err(failure(argv, &out, trouble_fix(&text))),
    }
}

/// What an answer to `rndc zonestatus ZONE` says; None when it says nothing about the
/// zone (named down, a key refused). Pure.
#[must_use]
pub fn zone_info_from(success: bool, text: &str) -> Option<ZoneInfo> {
    if success {
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.trim().strip_prefix(name))
                .and_then(|v| v.trim().parse::<u32>().ok())
        };
        let serial = match (field("serial:"), field("signed serial:")) {
            (Some(raw), Some(signed)) => Some(crate::serial::newest(raw, signed)),
            (raw, signed) => raw.or(signed),
        };
        let primary = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("type:"))
            .map(|t| matches!(t.trim(), "primary" | "master"));
        return Some(ZoneInfo {
            known: Known::Yes,
            serial,
            primary,
        });
    }
    if text.contains("zone not loaded") {
        return Some(ZoneInfo {
            known: Known::Yes,
            serial: None,
            primary: None,
        });
    }
    (text.contains("failed: not found") || text.contains("no matching zone")).then_some(ZoneInfo {
        known: Known::No,
        serial: None,
        primary: None,
    })
}

/// The settings of a zone's `rndc zonestatus` that break "the file zonerw writes is the
/// truth": `dynamic: yes` (named owns the file and refuses `reload`). Pure. (A journal of
/// inline signing or `ixfr-from-differences` is handled by [`reload`], and the serial
/// such a zone serves by asking for it before picking the next.)
#[must_use]
pub fn dangers(zonestatus: &str) -> Vec<String> {
    let mut found = Vec::new();
    if zonestatus.lines().any(|l| l.trim() == "dynamic: yes") {
        found.push(
            "the zone is dynamic (allow-update or update-policy): named writes its own \
             changes into zonerw's file and refuses 'rndc reload'; remove them from the zone"
                .to_owned(),
        );
    }
    found
}

/// The file of a zone's `rndc zonestatus` (`files: /var/lib/zonerw/a.test.zone`), when
/// absolute (a relative one is under named's `directory`, which rndc does not tell). Pure.
#[must_use]
pub fn zone_file(zonestatus: &str) -> Option<PathBuf> {
    let files = zonestatus
        .lines()
        .find_map(|l| l.trim().strip_prefix("files:"))?;
    let first = files.split_whitespace().next()?;
    let path = PathBuf::from(first);
    path.is_absolute().then_some(path)
}

/// `rndc zonestatus ZONE`, as printed.
pub(crate) fn settings(p: &Primary, zone: &str) -> Result<String> {
    Ok(control(p, &["zonestatus", zone])?.stdout)
}

/// `rndc addzone ZONE '{ type primary; file "FILE"; OPTIONS }'`: synchronous; named
/// loads the file at once (allow-new-zones yes; is needed).
pub(crate) fn add_zone(p: &Primary, zone: &str, file: &Path, options: &str) -> Result<()> {
    let spec = addzone_spec(file, options);
    control(p, &["addzone", zone, &spec]).map(drop)
}

/// The zone statement body zonerw gives `rndc addzone`. Pure.
#[must_use]
pub fn addzone_spec(file: &Path, options: &str) -> String {
    let file = file
        .display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    let options = options.trim();
    if options.is_empty() {
        format!("{{ type primary; file \"{file}\"; }};")
    } else {
        format!("{{ type primary; file \"{file}\"; {options} }};")
    }
}

/// `rndc status`: `version: BIND 9.18.47-1~deb12u1-Debian (…) <id:>`.
pub(crate) fn status(p: &Primary) -> Result<Option<String>> {
    let out = control(p, &["status"])?;
    Ok(out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("version:"))
        .map(|v| v.split_whitespace().take(2).collect::<Vec<_>>().join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reload_answers() {
        let cases = [
            (true, "zone reload queued", Reloaded::Loading),
            (true, "zone reload successful", Reloaded::Loading),
            (true, "zone reload up-to-date", Reloaded::UpToDate),
            (
                false,
                "rndc: 'reload' failed: out of range",
                Reloaded::StaleJournal,
            ),
            (
                false,
                "rndc: 'reload' failed: not found\nno matching zone 'x.test' in any view",
                Reloaded::Failed,
            ),
            (
                false,
                "rndc: 'reload' failed: dynamic zone",
                Reloaded::Failed,
            ),
        ];
        for (ok, text, want) in cases {
            assert_eq!(classify_reload(ok, text), want, "{text}");
        }
    }

    #[test]
    fn zonestatus_answers() {
        let plain = "name: p.test\ntype: primary\nfiles: p.test.zone\nserial: 2026112201\n\
                     nodes: 3\nsecure: no\ndynamic: no\n";
        assert_eq!(
            zone_info_from(true, plain),
            Some(ZoneInfo {
                known: Known::Yes,
                serial: Some(2_026_112_201),
                primary: Some(true)
            })
        );
        let secondary = "name: s.test\ntype: secondary\nserial: 1\n";
        assert_eq!(
            zone_info_from(true, secondary).unwrap().primary,
            Some(false)
        );
        let signed = "name: s.test\nserial: 2026112201\nsigned serial: 2026112203\n";
        assert_eq!(
            zone_info_from(true, signed).unwrap().serial,
            Some(2_026_112_203)
        );
        assert_eq!(
            zone_info_from(false, "rndc: 'zonestatus' failed: zone not loaded"),
            Some(ZoneInfo {
                known: Known::Yes,
                serial: None,
                primary: None
            })
        );
        assert_eq!(
            zone_info_from(
                false,
                "rndc: 'zonestatus' failed: not found\nno matching zone 'n.test' in any view"
            )
            .unwrap()
            .known,
            Known::No
        );
        assert_eq!(
            zone_info_from(
                false,
                "rndc: connect failed: 127.0.0.1#953: connection refused"
            ),
            None
        );
    }

    #[test]
    fn dynamic_zones_are_dangerous() {
        assert!(dangers("secure: yes\ninline signing: yes\ndynamic: no\n").is_empty());
        let d = dangers("secure: no\ndynamic: yes\nfrozen: no\n");
        assert_eq!(d.len(), 1);
        assert!(d[0].contains("allow-update"), "{d:?}");
    }

    #[test]
    fn addzone_names_zonerws_file_and_the_operators_options() {
        assert_eq!(
            addzone_spec(Path::new("/var/lib/zonerw/zones/a.test.zone"), ""),
            "{ type primary; file \"/var/lib/zonerw/zones/a.test.zone\"; };"
        );
        assert_eq!(
            addzone_spec(Path::new("/z/a.zone"), " notify explicit; "),
            "{ type primary; file \"/z/a.zone\"; notify explicit; };"
        );
    }

    #[test]
    fn only_a_regular_file_is_made_newer_never_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.zone");
        fs::write(&file, "zone").unwrap();
        let old = std::time::UNIX_EPOCH + Duration::from_secs(1_000_000);
        File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_times(FileTimes::new().set_modified(old))
            .unwrap();
        make_newer(&file).unwrap();
        assert!(fs::metadata(&file).unwrap().modified().unwrap() > old);
        let link = dir.path().join("link.zone");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(make_newer(&link).is_err(), "a link is not followed");
        let fifo = dir.path().join("fifo.zone");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid C string; mkfifo only creates the node.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(
            make_newer(&fifo).is_err(),
            "a FIFO is refused, without blocking"
        );
    }

    #[test]
    fn the_file_named_loads_when_zonestatus_says_it_whole() {
        assert_eq!(
            zone_file("name: a.test\nfiles: /var/lib/zonerw/a.test.zone\nserial: 1\n"),
            Some(PathBuf::from("/var/lib/zonerw/a.test.zone"))
        );
        assert_eq!(zone_file("files: a.test.zone\n"), None);
        assert_eq!(zone_file("name: a.test\n"), None);
    }

    #[test]
    fn the_journal_sits_beside_the_file() {
        assert_eq!(
            journal_of(Path::new("/z/a.test.zone")),
            PathBuf::from("/z/a.test.zone.jnl")
        );
    }

    #[test]
    fn troubles_get_a_fix() {
        assert!(
            trouble_fix("rndc: connect failed: 127.0.0.1#953: connection refused")
                .unwrap()
                .starts_with("nothing answers")
        );
        assert!(
            trouble_fix("rndc: 'reload' failed: dynamic zone")
                .unwrap()
                .contains("allow-update")
        );
        assert_eq!(trouble_fix("rndc: 'reload' failed: not found"), None);
    }
}
