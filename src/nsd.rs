//! Calling NSD's tools: argv only (never a shell), each call bounded by `nsd.timeout`.

use std::path::{Path, PathBuf};

use crate::command::{Output, quote, run_bounded};
use crate::config::Primary;
use crate::error::{Error, Result};
use crate::fsio;
use crate::primary::common::Known;

/// `nsd-control ... reload ZONE` for one zone, or one plain `reload` for several: NSD
/// reloads every zone whose file changed, and back-to-back per-zone reloads can cut off a
/// secondary's transfer (notes/NSD.md, trap 4).
pub fn reload(nsd: &Primary, zones: &[&str]) -> Result<()> {
    let mut argv = nsd.control.clone();
    argv.push("reload".into());
    if let [zone] = zones {
        argv.push((*zone).to_owned());
    }
    control(nsd, argv)
}

/// `nsd-control ... notify ZONE`: send NOTIFY to the zone's secondaries again.
pub fn notify(nsd: &Primary, zone: &str) -> Result<()> {
    let mut argv = nsd.control.clone();
    argv.extend(["notify".to_owned(), zone.to_owned()]);
    control(nsd, argv)
}

/// Ask NSD whether it has `zone` configured, by `nsd-control zonestatus ZONE`.
pub fn zone_known(nsd: &Primary, zone: &str) -> Known {
    match zone_status(nsd, zone) {
        Ok(ZoneStatus::Configured { .. }) => Known::Yes,
        Ok(ZoneStatus::NotConfigured) => Known::No,
        Err(_) => Known::Unclear,
    }
}

/// What `nsd-control zonestatus ZONE` says about a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneStatus {
    /// NSD serves it; `pattern` is set for a zone added with `addzone ZONE PATTERN` (one
    /// from a `zone:` of nsd.conf has none).
    Configured {
        /// The pattern of an added zone.
        pattern: Option<String>,
    },
    /// NSD says `error zone ZONE not configured`.
    NotConfigured,
}

/// Ask NSD about `zone` with `nsd-control zonestatus ZONE`.
///
/// # Errors
/// NSD could not be asked (not running, no access...): the error says so, with a fix.
pub fn zone_status(nsd: &Primary, zone: &str) -> Result<ZoneStatus> {
    let mut argv = nsd.control.clone();
    argv.extend(["zonestatus".to_owned(), zone.to_owned()]);
    let out = run_bounded(&argv, &[], nsd.timeout).map_err(|e| control_spawn_error(nsd, e))?;
    if out.status.success() {
        return Ok(ZoneStatus::Configured {
            pattern: zonestatus_pattern(&out.stdout),
        });
    }
    if out.stdout.contains("not configured") {
        return Ok(ZoneStatus::NotConfigured);
    }
    Err(control_failure(argv, &out))
}

/// The `pattern:` line of a `zonestatus` answer (only zones added by `addzone` have one).
fn zonestatus_pattern(stdout: &str) -> Option<String> {
    stdout.lines().find_map(|l| {
        l.trim()
            .strip_prefix("pattern:")
            .map(|p| p.trim().trim_matches('"').to_owned())
            .filter(|p| !p.is_empty())
    })
}

/// How much of `nsd-control zonestatus` (every zone, about 40 bytes each) is kept: a
/// quarter of a million zones.
const LISTING_CAP: usize = 16 * 1024 * 1024;

/// What one `nsd-control zonestatus` (no zone named) says about NSD's zones.
#[derive(Debug)]
pub enum Listing {
    /// Every zone NSD has, as [`crate::config::zone_key`] writes them; `complete` is false
    /// when the listing was longer than zonerw keeps.
    Zones {
        /// The zones listed.
        listed: std::collections::BTreeSet<String>,
        /// The whole listing was read.
        complete: bool,
    },
    /// The output is not such a listing (a wrapper, a stub, another version of NSD): ask
    /// about each zone alone.
    NotAListing,
}

/// Every zone NSD has, by one `nsd-control zonestatus` (no zone named).
///
/// # Errors
/// NSD could not be asked: the error says why.
pub fn zones(nsd: &Primary) -> Result<Listing> {
    let mut argv = nsd.control.clone();
    argv.push("zonestatus".into());
    let out = crate::command::run_bounded_keeping(&argv, &[], nsd.timeout, LISTING_CAP)
        .map_err(|e| control_spawn_error(nsd, e))?;
    if !out.status.success() || out.stdout.lines().any(|l| l.starts_with("error")) {
        return Err(control_failure(argv, &out));
    }
    Ok(match listed_zones(&out.stdout) {
        Some(listed) => Listing::Zones {
            listed,
            complete: out.stdout_cut == 0,
        },
        None => Listing::NotAListing,
    })
}

/// The zones of a `zonestatus` listing (`zone:\texample.com`, then indented lines; nothing
/// for an NSD without zones). None for output that is not such a listing (a wrapper, a
/// stub, another version of NSD): then each zone is asked about alone. Pure.
#[must_use]
pub fn listed_zones(listing: &str) -> Option<std::collections::BTreeSet<String>> {
    let mut zones = std::collections::BTreeSet::new();
    for line in listing.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(name) = line.strip_prefix("zone:") {
            zones.insert(crate::config::zone_key(name.trim()));
        } else if !line.starts_with(['\t', ' ']) {
            return None;
        }
    }
    Some(zones)
}

/// `nsd-control ... status`: NSD answers, with its version (`4.6.1`) if it says it.
///
/// # Errors
/// NSD could not be asked: the error says why, with a fix where one is known.
pub fn status(nsd: &Primary) -> Result<Option<String>> {
    let mut argv = nsd.control.clone();
    argv.push("status".into());
    let out = control_output(nsd, argv)?;
    Ok(out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("version:"))
        .map(|v| v.trim().to_owned()))
}

/// `nsd-control ... addzone ZONE PATTERN`: have NSD serve a zone it does not know yet.
pub fn addzone(nsd: &Primary, zone: &str, pattern: &str) -> Result<()> {
    let mut argv = nsd.control.clone();
    argv.extend(["addzone".to_owned(), zone.to_owned(), pattern.to_owned()]);
    control(nsd, argv)
}

/// `nsd-control addzones`, once for all `zones` (each with `pattern`, one line each on
/// its standard input): NSD answers `added: ZONE` for each, or `error …` and `error for
/// input line 'ZONE'`. The results come in the order of `zones`.
pub fn addzones(nsd: &Primary, zones: &[&str], pattern: &str) -> Vec<Result<()>> {
    let mut argv = nsd.control.clone();
    argv.push("addzones".into());
    let input = zones.iter().fold(String::new(), |mut s, z| {
        s.push_str(z);
        s.push(' ');
        s.push_str(pattern);
        s.push('\n');
        s
    });
    let call = crate::command::run_bounded_input(&argv, nsd.timeout, input.as_bytes())
        .map_err(|e| control_spawn_error(nsd, e))
        .and_then(|out| {
            if out.status.success() {
                Ok(out)
            } else {
                Err(control_failure(argv.clone(), &out))
            }
        });
    let out = match call {
        Ok(out) => out,
        // One error says why; the other zones point at it (a few hundred copies of one
        // message would drown it).
        Err(e) => {
            let first = zones.first().copied().unwrap_or_default();
            return std::iter::once(Err(e))
                .chain(zones.iter().skip(1).map(|z| {
                    Err(Error::Command {
                        argv: argv.clone(),
                        message: format!("did not add {z}: it failed for {first} (see above)"),
                    })
                }))
                .collect();
        }
    };
    let (added, refused) = addzones_answer(&out.stdout);
    zones
        .iter()
        .map(|z| {
            let key = crate::config::zone_key(z);
            if added.contains(&key) && !refused.contains(&key) {
                return Ok(());
            }
            let said: Vec<&str> = out
                .stdout
                .lines()
                .filter(|l| l.starts_with("error") || l.contains(*z))
                .collect();
            Err(Error::Command {
                argv: argv.clone(),
                message: format!(
                    "did not add {z} (pattern {pattern}): {}",
                    quote(&said.join("\n"), 0).join("; ")
                ),
            })
        })
        .collect()
}

/// The zones an `addzones` answer added, and those it refused. Pure.
#[must_use]
pub fn addzones_answer(
    answer: &str,
) -> (
    std::collections::BTreeSet<String>,
    std::collections::BTreeSet<String>,
) {
    let mut added = std::collections::BTreeSet::new();
    let mut refused = std::collections::BTreeSet::new();
    for line in answer.lines() {
        if let Some(zone) = line.strip_prefix("added: ") {
            added.insert(crate::config::zone_key(zone.trim()));
        } else if let Some(rest) = line.strip_prefix("error for input line '") {
            let zone = rest
                .trim_end_matches('\'')
                .split_whitespace()
                .next()
                .unwrap_or("");
            refused.insert(crate::config::zone_key(zone));
        }
    }
    (added, refused)
}

/// Run an nsd-control command and insist on success: exit 0 and no "error" line.
fn control(nsd: &Primary, argv: Vec<String>) -> Result<()> {
    control_output(nsd, argv).map(drop)
}

/// Like `control`, returning what the command printed.
fn control_output(nsd: &Primary, argv: Vec<String>) -> Result<Output> {
    let out = run_bounded(&argv, &[], nsd.timeout).map_err(|e| control_spawn_error(nsd, e))?;
    let said_error = out.stdout.lines().any(|l| l.starts_with("error"));
    if out.status.success() && !said_error {
        return Ok(out);
    }
    Err(control_failure(argv, &out))
}

/// The error of an nsd-control command that ran and failed: what it printed, then, for a
/// setup problem zonerw recognises, a line `fix: ...`.
fn control_failure(argv: Vec<String>, out: &Output) -> Error {
    let text = format!("{}\n{}", out.stdout.trim(), out.stderr.trim());
    let printed = quote(&text, out.stdout_cut + out.stderr_cut);
    let fix = trouble(&text).map_or_else(String::new, |t| format!("\nfix: {}", fix(&t)));
    Error::Command {
        message: format!("failed ({}): {}{fix}", out.status, printed.join("; ")),
        argv,
    }
}

fn control_spawn_error(nsd: &Primary, e: Error) -> Error {
    match e {
        Error::Spawn { program, source } => {
            crate::command::spawn_error(program, source, &nsd.key("control"), "install NSD's tools")
        }
        other => other,
    }
}

// ---------------------------------------------------------------- setup problems

/// A setup problem recognised in what `nsd-control` printed (messages of NSD 4.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trouble {
    /// `Error setting up SSL_CTX client cert` / `key`, then `PATH: (null)`: the control key
    /// or certificate cannot be read (Debian's are root's only) or does not exist.
    ControlKey(PathBuf),
    /// `connect (ADDR): Permission denied`: the unix control socket is not ours to use.
    SocketDenied(String),
    /// `connect (ADDR): Connection refused` or `No such file or directory`: NSD is not
    /// running, or not with remote control there.
    NotRunning(String),
    /// `error zone ZONE not configured`.
    UnknownZone(String),
    /// `error pattern PATTERN does not exist` (from `addzone`).
    UnknownPattern(String),
    /// `Could not open CONF: ...`: nsd-control cannot read its config file.
    Config(String),
}

/// Recognise a setup problem in `text` (what nsd-control printed, both streams). Pure.
#[must_use]
pub fn trouble(text: &str) -> Option<Trouble> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    for (i, line) in lines.iter().enumerate() {
        if line.contains("Error setting up SSL_CTX client") {
            let path = lines
                .get(i + 1)
                .and_then(|l| l.strip_suffix(": (null)"))
                .unwrap_or("");
            return Some(Trouble::ControlKey(path.into()));
        }
        if let Some(rest) = line
            .strip_prefix("error: connect (")
            .or_else(|| line.strip_prefix("[1] error: connect ("))
            && let Some((addr, why)) = rest.split_once("): ")
        {
            return match why {
                "Permission denied" => Some(Trouble::SocketDenied(addr.to_owned())),
                "Connection refused" | "No such file or directory" => {
                    Some(Trouble::NotRunning(addr.to_owned()))
                }
                _ => None,
            };
        }
        if let Some(zone) = line
            .strip_prefix("error zone ")
            .and_then(|r| r.strip_suffix(" not configured"))
        {
            return Some(Trouble::UnknownZone(zone.to_owned()));
        }
        if let Some(pattern) = line
            .strip_prefix("error pattern ")
            .and_then(|r| r.strip_suffix(" does not exist"))
        {
            return Some(Trouble::UnknownPattern(pattern.to_owned()));
        }
        if let Some(rest) = line.strip_prefix("Could not open ")
            && let Some((conf, _)) = rest.rsplit_once(": ")
        {
            return Some(Trouble::Config(conf.to_owned()));
        }
    }
    None
}

/// What the file system says about a path a fix names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFacts {
    /// Name of the file's group.
    pub group: String,
    /// Its group id.
    pub gid: u32,
    /// Its permission bits.
    pub mode: u32,
    /// Whether this process is in that group already (then adding the user to it is no
    /// fix).
    pub member: bool,
}

/// The fix for `trouble`, for user `user`; `facts` of the file the trouble names (the key,
/// the socket), None if it does not exist or is not a path. Pure.
#[must_use]
pub fn fix_text(trouble: &Trouble, user: &str, facts: Option<&FileFacts>) -> String {
    const SOCKET: &str = "use NSD's unix-socket control instead (in nsd.conf, remote-control: \
        control-interface: /run/nsd/nsd.ctl, then restart NSD; see README \"Set up NSD\")";
    match trouble {
        Trouble::ControlKey(path) => match facts {
            None => format!(
                "NSD's control key {} does not exist: create the keys with nsd-control-setup, \
                 or {SOCKET}",
                path.display()
            ),
            Some(f) if f.gid != 0 && f.mode & 0o040 != 0 && f.member => format!(
                "{user} is in group {} but cannot read NSD's control key {}: let the group \
                 into the directories above it, or {SOCKET}",
                f.group,
                path.display()
            ),
            Some(f) if f.gid != 0 && f.mode & 0o040 != 0 => format!(
                "{user} cannot read NSD's control key {}: add {user} to group {} (adduser \
                 {user} {}), or {SOCKET}",
                path.display(),
                f.group,
                f.group
            ),
            Some(f) => format!(
                "{user} cannot read NSD's control key {} (group {}, mode {:04o}): {SOCKET}, \
                 or run zonerw as root",
                path.display(),
                f.group,
                f.mode
            ),
        },
        Trouble::SocketDenied(addr) => match facts {
            Some(f) if f.gid == 0 => format!(
                "NSD's control socket {addr} belongs to group root (NSD runs without a \
                 username:): run zonerw as root, or set username: nsd in nsd.conf (NSD then \
                 creates the socket for group nsd) and add {user} to group nsd (adduser {user} \
                 nsd)"
            ),
            Some(f) if f.mode & 0o060 != 0o060 && f.member => format!(
                "NSD's control socket {addr} has mode {:04o}, so group {} (which {user} is in) \
                 cannot use it: restart NSD (it creates the socket group-writable)",
                f.mode, f.group
            ),
            Some(f) if f.mode & 0o060 != 0o060 => format!(
                "NSD's control socket {addr} has mode {:04o}, so group {} cannot use it: \
                 restart NSD (it creates the socket group-writable) and add {user} to group {} \
                 (adduser {user} {})",
                f.mode, f.group, f.group, f.group
            ),
            Some(f) if f.member => format!(
                "{user} is in group {}, which may use NSD's control socket {addr}: let that \
                 group into the directory holding the socket",
                f.group
            ),
            Some(f) => format!(
                "add {user} to group {}, which may use NSD's control socket {addr} (adduser \
                 {user} {}; it counts from the next login or service start), and let that \
                 group into the directory holding the socket",
                f.group, f.group
            ),
            None => format!(
                "{user} may not use NSD's control socket {addr}: add {user} to the socket's \
                 group (NSD creates it for the group of its username:), and let that group \
                 into the directory holding it"
            ),
        },
        Trouble::NotRunning(addr) => format!(
            "nothing answers on NSD's control interface {addr}: start NSD (systemctl start \
             nsd), and check that nsd.conf has remote-control: with control-enable: yes and \
             this control-interface"
        ),
        Trouble::UnknownZone(zone) => format!(
            "add zone {zone} to nsd.conf (zone: name: {zone}, zonefile: the file zonerw \
             writes) and run nsd-control reconfig, or set [nsd] add-pattern so that zonerw \
             adds it"
        ),
        Trouble::UnknownPattern(pattern) => format!(
            "nsd.conf has no pattern {pattern}: add one (pattern: name: {pattern}, zonefile: \
             ..., notify: and provide-xfr: lines) and run nsd-control reconfig, or correct \
             [nsd] add-pattern"
        ),
        Trouble::Config(conf) => format!(
            "nsd-control cannot read its config file {conf}: correct the -c argument in [nsd] \
             control, and make the file readable by {user}"
        ),
    }
}

/// The fix for `trouble`, for the user running zonerw, from what the file system says.
#[must_use]
pub fn fix(trouble: &Trouble) -> String {
    let path = match trouble {
        Trouble::ControlKey(path) => Some(path.clone()),
        Trouble::SocketDenied(addr) if addr.starts_with('/') => Some(PathBuf::from(addr)),
        _ => None,
    };
    let facts = path.as_deref().and_then(file_facts);
    let user = fsio::user_name(fsio::effective_uid());
    fix_text(trouble, &user, facts.as_ref())
}

fn file_facts(path: &Path) -> Option<FileFacts> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some(FileFacts {
        group: group_name(meta.gid()),
        gid: meta.gid(),
        mode: meta.mode() & 0o7777,
        member: in_group(meta.gid()),
    })
}

/// Whether this process is in group `gid` (its effective group or a supplementary one).
fn in_group(gid: u32) -> bool {
    // SAFETY: getegid has no preconditions.
    if unsafe { libc::getegid() } == gid {
        return true;
    }
    let mut groups = vec![0 as libc::gid_t; 1024];
    let len = libc::c_int::try_from(groups.len()).unwrap_or(0);
    // SAFETY: getgroups writes at most `len` gids into `groups`, which holds that many.
    let n = unsafe { libc::getgroups(len, groups.as_mut_ptr()) };
    usize::try_from(n).is_ok_and(|n| groups[..n].contains(&gid))
}

/// The name of group `gid`, or the number if it has none.
fn group_name(gid: u32) -> String {
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: group is plain data; getgrgid_r writes only into `grp` and `buffer` (whose
    // length it is told) and sets `found` to null or to `grp`.
    unsafe {
        let mut grp: libc::group = std::mem::zeroed();
        let mut found: *mut libc::group = std::ptr::null_mut();
        let rc = libc::getgrgid_r(
            gid,
            &raw mut grp,
            buffer.as_mut_ptr(),
            buffer.len(),
            &raw mut found,
        );
        if rc == 0
            && !found.is_null()
            && !grp.gr_name.is_null()
            && let Ok(name) = std::ffi::CStr::from_ptr(grp.gr_name).to_str()
        {
            return name.to_owned();
        }
    }
    gid.to_string()
}

// ---------------------------------------------------------------- where NSD reads a zone

/// The nsd.conf that `control` (an nsd-control argv) uses: its `-c FILE`, else NSD's
/// default. None when the program is not nsd-control itself (a wrapper: ssh, sudo...),
/// whose config zonerw cannot know. Pure.
#[must_use]
pub fn nsd_conf(control: &[String]) -> Option<PathBuf> {
    let (program, args) = control.split_first()?;
    if Path::new(program).file_name()? != "nsd-control" {
        return None;
    }
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "-c" {
            return args.next().map(PathBuf::from);
        }
        if let Some(conf) = arg.strip_prefix("-c") {
            return Some(conf.into());
        }
    }
    Some(PathBuf::from("/etc/nsd/nsd.conf"))
}

/// A `zonefile:` value of nsd.conf for `zone`, its `%` codes replaced as NSD does
/// (nsd.conf(5)): `%s` the zone name, `%1` `%2` `%3` its first three characters, `%z` `%y`
/// `%x` its last three labels; a character or label that does not exist is a `.`. Pure.
#[must_use]
pub fn expand_zonefile(zonefile: &str, zone: &str) -> String {
    let name = zone.trim_end_matches('.');
    let labels: Vec<&str> = name.rsplit('.').collect();
    let char_at = |i: usize| {
        name.chars()
            .nth(i)
            .map_or_else(|| ".".to_owned(), String::from)
    };
    let label = |i: usize| {
        labels
            .get(i)
            .filter(|l| !l.is_empty())
            .map_or_else(|| ".".to_owned(), |l| (*l).to_owned())
    };
    let mut out = String::with_capacity(zonefile.len() + name.len());
    let mut chars = zonefile.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('s') => out.push_str(name),
            Some('1') => out.push_str(&char_at(0)),
            Some('2') => out.push_str(&char_at(1)),
            Some('3') => out.push_str(&char_at(2)),
            Some('z') => out.push_str(&label(0)),
            Some('y') => out.push_str(&label(1)),
            Some('x') => out.push_str(&label(2)),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// `nsd-checkconf` asked about the nsd.conf `conf`.
#[derive(Debug)]
pub struct Checkconf {
    /// The nsd-checkconf program.
    pub program: PathBuf,
    /// The nsd.conf.
    pub conf: PathBuf,
    /// Bound on each call.
    pub timeout: std::time::Duration,
    /// NSD's `zonesdir:`, once known.
    zonesdir: std::sync::OnceLock<String>,
}

impl Checkconf {
    /// Ask `program` about the nsd.conf `conf`.
    #[must_use]
    pub fn new(program: PathBuf, conf: PathBuf, timeout: std::time::Duration) -> Checkconf {
        Checkconf {
            program,
            conf,
            timeout,
            zonesdir: std::sync::OnceLock::new(),
        }
    }

    /// `nsd-checkconf [-z ZONE | -p PATTERN] -o OPTION CONF`: the option's value.
    ///
    /// # Errors
    /// What nsd-checkconf said (e.g. `Zone does not exist: ZONE`).
    pub fn option(&self, of: Option<(&str, &str)>, option: &str) -> Result<String> {
        let mut argv = vec![self.program.display().to_string()];
        if let Some((flag, name)) = of {
            argv.extend([flag.to_owned(), name.to_owned()]);
        }
        argv.extend([
            "-o".to_owned(),
            option.to_owned(),
            self.conf.display().to_string(),
        ]);
        let out = run_bounded(&argv, &[], self.timeout)?;
        if out.status.success() {
            return Ok(out.stdout.trim().to_owned());
        }
        Err(Error::Command {
            message: format!("failed ({}): {}", out.status, out.quote().join("; ")),
            argv,
        })
    }

    /// The file NSD reads `zone` from: the `zonefile:` of its `zone:` in nsd.conf, or of
    /// `pattern` for a zone added with one; `%` codes expanded, a relative path joined to
    /// the `zonesdir:`. None if the zone has no `zonefile:`.
    ///
    /// # Errors
    /// nsd-checkconf failed (unknown zone or pattern, unreadable nsd.conf...).
    pub fn zonefile(&self, zone: &str, pattern: Option<&str>) -> Result<Option<PathBuf>> {
        let of = match pattern {
            Some(p) => ("-p", p),
            None => ("-z", zone),
        };
        let file = self.option(Some(of), "zonefile")?;
        if file.is_empty() {
            return Ok(None);
        }
        let file = PathBuf::from(expand_zonefile(&file, zone));
        if file.is_absolute() {
            return Ok(Some(file));
        }
        // Asked once it answered (an error is not kept: asked again, it says the same).
        let dir = if let Some(dir) = self.zonesdir.get() {
            dir.clone()
        } else {
            let dir = self.option(None, "zonesdir")?;
            let _ = self.zonesdir.set(dir.clone());
            dir
        };
        Ok(Some(Path::new(&dir).join(file)))
    }
}

#[cfg(test)]
mod tests {
    //! NSD's tools stubbed: `nsd-control` as a `sh -c` one-liner that logs its arguments,
    //! `nsd-checkzone` as a script in a temporary directory.

    use std::fs;
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;

    fn nsd(control: &str) -> Primary {
        Primary {
            kind: crate::config::Kind::Nsd,
            table: "[nsd]",
            control: vec!["sh".into(), "-c".into(), control.into(), "stub".into()],
            check: None,
            timeout: Duration::from_secs(5),
            add_template: None,
        }
    }

    /// What NSD 4.6.1's nsd-control printed in each setup problem (both streams).
    #[test]
    fn setup_problems_are_recognised_in_nsd_controls_words() {
        let cases = [
            (
                "error: Error setting up SSL_CTX client cert\n/etc/nsd/nsd_control.pem: (null)",
                Some(Trouble::ControlKey("/etc/nsd/nsd_control.pem".into())),
            ),
            (
                "error: Error setting up SSL_CTX client key\n/etc/nsd/nsd_control.key: (null)",
                Some(Trouble::ControlKey("/etc/nsd/nsd_control.key".into())),
            ),
            (
                "error: connect (/run/nsd/nsd.ctl): Permission denied",
                Some(Trouble::SocketDenied("/run/nsd/nsd.ctl".into())),
            ),
            (
                "nsd is stopped\nerror: connect (127.0.0.1@8952): Connection refused",
                Some(Trouble::NotRunning("127.0.0.1@8952".into())),
            ),
            (
                "error: connect (/run/nsd/nsd.ctl): No such file or directory",
                Some(Trouble::NotRunning("/run/nsd/nsd.ctl".into())),
            ),
            (
                "error zone example.com not configured",
                Some(Trouble::UnknownZone("example.com".into())),
            ),
            (
                "error pattern zonerw does not exist",
                Some(Trouble::UnknownPattern("zonerw".into())),
            ),
            (
                "Could not open /etc/nsd/nsd.conf: Permission denied\ncould not read config file",
                Some(Trouble::Config("/etc/nsd/nsd.conf".into())),
            ),
            ("error: connect (127.0.0.1@8952): Network unreachable", None),
            ("ok", None),
        ];
        for (text, want) in cases {
            assert_eq!(trouble(text), want, "{text}");
        }
    }

    #[test]
    fn each_setup_problem_has_a_fix_for_this_user() {
        let facts = |group: &str, gid, mode| FileFacts {
            group: group.into(),
            gid,
            mode,
            member: false,
        };
        let member = |group: &str, gid, mode| FileFacts {
            member: true,
            ..facts(group, gid, mode)
        };
        let key = Trouble::ControlKey("/etc/nsd/nsd_control.pem".into());
        let socket = Trouble::SocketDenied("/run/nsd/nsd.ctl".into());
        let cases = [
            (
                &key,
                Some(facts("root", 0, 0o640)),
                "zonerw cannot read NSD's control key /etc/nsd/nsd_control.pem (group root, mode 0640): use NSD's unix-socket control instead (in nsd.conf, remote-control: control-interface: /run/nsd/nsd.ctl, then restart NSD; see README \"Set up NSD\"), or run zonerw as root",
            ),
            (
                &key,
                Some(facts("nsd", 105, 0o640)),
                "zonerw cannot read NSD's control key /etc/nsd/nsd_control.pem: add zonerw to group nsd (adduser zonerw nsd), or use NSD's unix-socket control instead",
            ),
            (
                &key,
                None,
                "NSD's control key /etc/nsd/nsd_control.pem does not exist: create the keys with nsd-control-setup, or use NSD's unix-socket control",
            ),
            (
                &socket,
                Some(facts("nsd", 105, 0o660)),
                "add zonerw to group nsd, which may use NSD's control socket /run/nsd/nsd.ctl (adduser zonerw nsd; it counts from the next login or service start), and let that group into the directory holding the socket",
            ),
            (
                &socket,
                Some(facts("root", 0, 0o660)),
                "NSD's control socket /run/nsd/nsd.ctl belongs to group root (NSD runs without a username:): run zonerw as root, or set username: nsd in nsd.conf",
            ),
            (
                &socket,
                Some(facts("nsd", 105, 0o600)),
                "NSD's control socket /run/nsd/nsd.ctl has mode 0600, so group nsd cannot use it: restart NSD",
            ),
            (
                &socket,
                None,
                "zonerw may not use NSD's control socket /run/nsd/nsd.ctl: add zonerw to the socket's group",
            ),
            // Already in the group: adding the user to it is no fix.
            (
                &socket,
                Some(member("nsd", 105, 0o600)),
                "NSD's control socket /run/nsd/nsd.ctl has mode 0600, so group nsd (which zonerw is in) cannot use it: restart NSD (it creates the socket group-writable)",
            ),
            (
                &socket,
                Some(member("nsd", 105, 0o660)),
                "zonerw is in group nsd, which may use NSD's control socket /run/nsd/nsd.ctl: let that group into the directory holding the socket",
            ),
            (
                &key,
                Some(member("nsd", 105, 0o640)),
                "zonerw is in group nsd but cannot read NSD's control key /etc/nsd/nsd_control.pem: let the group into the directories above it",
            ),
            (
                &Trouble::NotRunning("/run/nsd/nsd.ctl".into()),
                None,
                "nothing answers on NSD's control interface /run/nsd/nsd.ctl: start NSD (systemctl start nsd)",
            ),
            (
                &Trouble::UnknownZone("example.com".into()),
                None,
                "add zone example.com to nsd.conf (zone: name: example.com, zonefile: the file zonerw writes) and run nsd-control reconfig, or set [nsd] add-pattern",
            ),
            (
                &Trouble::UnknownPattern("zonerw".into()),
                None,
                "nsd.conf has no pattern zonerw: add one",
            ),
            (
                &Trouble::Config("/etc/nsd/nsd.conf".into()),
                None,
                "nsd-control cannot read its config file /etc/nsd/nsd.conf: correct the -c argument in [nsd] control, and make the file readable by zonerw",
            ),
        ];
        for (trouble, facts, want) in cases {
            let got = fix_text(trouble, "zonerw", facts.as_ref());
            assert!(
                got.starts_with(want),
                "{trouble:?} {facts:?}:\n got {got}\nwant {want}"
            );
            assert!(!got.contains('\n'), "one line: {got}");
        }
    }

    #[test]
    fn a_failed_control_command_ends_with_the_fix() {
        let nsd = nsd("echo 'error: connect (127.0.0.1@8952): Connection refused' >&2; exit 1");
        let e = reload(&nsd, &["example.com"]).unwrap_err().to_string();
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(lines.len(), 2, "{e}");
        assert!(
            lines[0].ends_with(
                "failed (exit status: 1): error: connect (127.0.0.1@8952): Connection refused"
            ),
            "{e}"
        );
        assert!(
            lines[1].starts_with("fix: nothing answers on NSD's control interface 127.0.0.1@8952"),
            "{e}"
        );
        let mut missing = nsd.clone();
        missing.control = vec!["zonerw-no-nsd-control".into(), "-c".into(), "x".into()];
        let e = status(&missing).unwrap_err().to_string();
        assert!(
            e.starts_with("cannot run 'zonerw-no-nsd-control': not found on PATH (")
                && e.ends_with(
                    "\nfix: install NSD's tools, or give the absolute path in [nsd] control"
                ),
            "{e}"
        );
    }

    #[test]
    fn status_reads_the_version() {
        let nsd = nsd("printf 'version: 4.6.1\\nverbosity: 2\\n'");
        assert_eq!(status(&nsd).unwrap().as_deref(), Some("4.6.1"));
        assert_eq!(status(&super::tests::nsd("echo ok")).unwrap(), None);
    }

    #[test]
    fn zone_status_tells_added_zones_by_their_pattern() {
        let nsd = nsd(r#"case "$2" in
  conf.*) printf 'zone:\t%s\n\tstate: master\n' "$2";;
  added.*) printf 'zone:\t%s\n\tpattern: zonerw\n\tstate: master\n' "$2";;
  no.*) echo "error zone $2 not configured"; exit 1;;
  *) echo "error: connect (/run/nsd/nsd.ctl): Permission denied" >&2; exit 1;;
esac"#);
        assert_eq!(
            zone_status(&nsd, "conf.example").unwrap(),
            ZoneStatus::Configured { pattern: None }
        );
        assert_eq!(
            zone_status(&nsd, "added.example").unwrap(),
            ZoneStatus::Configured {
                pattern: Some("zonerw".into())
            }
        );
        assert_eq!(
            zone_status(&nsd, "no.example").unwrap(),
            ZoneStatus::NotConfigured
        );
        let e = zone_status(&nsd, "x.example").unwrap_err().to_string();
        assert!(e.contains("\nfix: "), "{e}");
    }

    #[test]
    fn the_nsd_conf_of_nsd_control() {
        let argv = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let cases: [(&[&str], Option<&str>); 6] = [
            (&["nsd-control"], Some("/etc/nsd/nsd.conf")),
            (
                &["/usr/sbin/nsd-control", "-c", "/srv/nsd.conf"],
                Some("/srv/nsd.conf"),
            ),
            (
                &["nsd-control", "-s", "127.0.0.1", "-c/srv/n.conf"],
                Some("/srv/n.conf"),
            ),
            (&["sudo", "nsd-control"], None),
            (&["ssh", "backup", "nsd-control"], None),
            (&["nsd-control", "-c"], None),
        ];
        for (control, want) in cases {
            assert_eq!(
                nsd_conf(&argv(control)),
                want.map(PathBuf::from),
                "{control:?}"
            );
        }
    }

    #[test]
    fn zonefile_codes_are_expanded_as_nsd_does() {
        let cases = [
            ("%s.zone", "example.com", "example.com.zone"),
            ("%s.zone", "example.com.", "example.com.zone"),
            (
                "/var/lib/nsd/%1/%2/%s",
                "example.com",
                "/var/lib/nsd/e/x/example.com",
            ),
            (
                "%z/%y/%x/%s",
                "www.example.com",
                "com/example/www/www.example.com",
            ),
            ("%z/%y/%x", "example.com", "com/example/."),
            ("%3-%s", "ab", ".-ab"),
            ("100%%", "a", "100%%"),
            ("plain.zone", "a", "plain.zone"),
        ];
        for (zonefile, zone, want) in cases {
            assert_eq!(expand_zonefile(zonefile, zone), want, "{zonefile} {zone}");
        }
    }

    #[test]
    fn reload_names_the_zone_only_when_there_is_one() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let nsd = nsd(&format!("echo \"$*\" >> {}", log.display()));
        reload(&nsd, &["example.com"]).unwrap();
        reload(&nsd, &["a.example", "b.example"]).unwrap();
        reload(&nsd, &[]).unwrap();
        notify(&nsd, "example.com").unwrap();
        addzone(&nsd, "new.example", "zonerw").unwrap();
        assert_eq!(
            fs::read_to_string(&log).unwrap(),
            "reload example.com\nreload\nreload\nnotify example.com\naddzone new.example zonerw\n"
        );
    }

    #[test]
    fn control_needs_exit_0_and_no_error_line() {
        let cases = [
            ("echo ok", None),
            ("echo 'ok, no error'", None),
            ("echo 'error'", Some("failed (exit status: 0): error")),
            (
                "echo 'error: zone example.com not found'",
                Some("failed (exit status: 0): error: zone example.com not found"),
            ),
            (
                "echo '[1] error: connect: Connection refused' >&2; exit 1",
                Some("failed (exit status: 1): [1] error: connect: Connection refused"),
            ),
            (
                "echo partial; echo 'why' >&2; exit 3",
                Some("failed (exit status: 3): partial; why"),
            ),
        ];
        for (stub, want) in cases {
            let nsd = nsd(stub);
            let got = reload(&nsd, &["example.com"]).err();
            let want = want.map(|w| format!("'sh -c {stub} stub reload example.com' {w}"));
            assert_eq!(got.map(|e| e.to_string()), want, "{stub}");
        }
    }

    #[test]
    fn control_is_bounded_in_time() {
        let mut nsd = nsd("exec sleep 5");
        nsd.timeout = Duration::from_millis(100);
        let e = reload(&nsd, &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "'sh -c exec sleep 5 stub reload' did not finish within 100ms and was killed"
        );
    }

    #[test]
    fn a_failed_addzones_call_says_why_once_and_points_there_for_the_rest() {
        let results = addzones(
            &nsd(
                "cat > /dev/null; echo 'error: connect (/run/nsd.ctl): Connection refused'; exit 1",
            ),
            &["a.test", "b.test", "c.test"],
            "zonerw",
        );
        let shown: Vec<String> = results
            .iter()
            .map(|r| r.as_ref().unwrap_err().to_string())
            .collect();
        assert!(shown[0].contains("Connection refused"), "{shown:?}");
        assert!(shown[0].contains("fix: nothing answers"), "{shown:?}");
        assert!(
            shown[1].ends_with("addzones' did not add b.test: it failed for a.test (see above)"),
            "{shown:?}"
        );
        assert!(shown[2].contains("did not add c.test"), "{shown:?}");
    }

    #[test]
    fn an_addzones_answer_says_which_zones_were_added() {
        let answer = "added: b.test\nadded: c.test\nzone a.test already exists\nadded: a.test\n\
                      error pattern nopattern does not exist\nerror for input line 'd.test'\n\
                      added 3 zones\n";
        let (added, refused) = addzones_answer(answer);
        let added: Vec<&str> = added.iter().map(String::as_str).collect();
        let refused: Vec<&str> = refused.iter().map(String::as_str).collect();
        assert_eq!(added, ["a.test", "b.test", "c.test"]);
        assert_eq!(refused, ["d.test"]);
    }

    #[test]
    fn a_zonestatus_listing_names_every_zone() {
        let listing = "zone:\ta.test\n\tstate: master\nzone:\tB.test\n\tpattern: zonerw\n\
                       \tstate: master\nzone:\t.\n\tstate: master\n";
        let zones: Vec<String> = listed_zones(listing).unwrap().into_iter().collect();
        assert_eq!(zones, [".", "a.test", "b.test"]);
        assert_eq!(listed_zones("").unwrap().len(), 0, "an NSD without zones");
        assert_eq!(listed_zones("ok\n"), None, "not a listing");
    }

    #[test]
    fn zone_known_reads_zonestatus() {
        let nsd = nsd(r#"test "$1" = zonestatus || exit 9
case "$2" in
  yes.*) echo "zone: $2"; echo "	state: ok";;
  no.*) echo "error zone $2 not configured"; exit 1;;
  odd.*) echo "not configured"; exit 0;;
  *) echo "error: could not SSL_read" >&2; exit 1;;
esac"#);
        let cases = [
            ("yes.example", Known::Yes),
            ("no.example", Known::No),
            // Exit 0 wins over the words.
            ("odd.example", Known::Yes),
            ("down.example", Known::Unclear),
        ];
        for (zone, want) in cases {
            assert_eq!(zone_known(&nsd, zone), want, "{zone}");
        }
        let mut missing = nsd.clone();
        missing.control = vec!["/nonexistent/nsd-control".into()];
        assert_eq!(zone_known(&missing, "yes.example"), Known::Unclear);
    }
}
