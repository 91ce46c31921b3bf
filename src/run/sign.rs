//! Signing the rendered zones that have keys (`[dnssec]`), before the checks of step 1:
//! render → sign → read back → `ldns-verify-zone` → (the SOA serial read back and
//! `nsd-checkzone`, as for every zone) → install.
//!
//! A zone whose keys are missing or broken, whose signer or verifier fails, or whose
//! signed text is not what was planned becomes `Fate::Failed` with an error naming it
//! (exit 1): its installed zone is left as it is, the other zones go on. A zone whose
//! installed file is signed is never written unsigned unless `[dnssec] unsigned` lists it.

use std::path::Path;
use std::time::{Duration, Instant};

use jiff::Timestamp;

use crate::command::{Output, quote, run_bounded};
use crate::config::{Config, Denial, Dnssec};
use crate::dnssec::keys::{self, Key, KeyDir};
use crate::dnssec::signed;
use crate::error::{Error, Errors, Result};
use crate::fsio::{self, Installed, Staged};
use crate::outcome::{Fate, Signed, ZoneRun};
use crate::parallel;
use crate::plan::{Action, Signing};

/// How far back signatures are made valid from (clock skew between us and validators).
pub(super) const BACKDATE: i64 = 3600;

/// What signing needs in a run: the `[dnssec]` table, the key files found, and the time.
#[derive(Debug, Clone, Copy)]
pub(super) struct Signer<'a> {
    /// `[dnssec]`, if configured.
    pub dnssec: Option<&'a Dnssec>,
    /// The key files of `[dnssec] keys` (read when the table is there).
    pub keys: Option<&'a KeyDir>,
    /// The run's time: signatures are valid from an hour before it to `validity` after.
    pub now: Timestamp,
}

/// The key files of `[dnssec] keys`, by name (None without a `[dnssec]` table: nothing is
/// read). A directory that cannot be read is a config error: which zones are signed cannot
/// be told, so nothing is touched (exit 2).
pub(super) fn key_dir(config: &Config) -> Result<Option<KeyDir>> {
    let Some(dnssec) = &config.dnssec else {
        return Ok(None);
    };
    KeyDir::read(&dnssec.keys).map(Some).map_err(|e| {
        Error::config(
            &config.path,
            format!(
                "dnssec.keys: cannot read directory '{}': {e}",
                dnssec.keys.display()
            ),
        )
    })
}

/// Sign every zone to write that has keys, in a temporary file in `dir` (beside its
/// target in a run, the private directory of a dry run), several at once (one per core).
/// A signed zone's `contents` become the signed text (with zonerw's header line) and its
/// `signatures` the earliest expiration. A zone that cannot be signed, or that would
/// replace a signed zone with an unsigned one, becomes Failed with its error collected.
pub(super) fn sign_all(
    config: &Config,
    signer: &Signer<'_>,
    zones: &mut [ZoneRun],
    dir: &Path,
    errors: &mut Errors,
) {
    let mut jobs = Vec::new();
    for (i, z) in zones.iter_mut().enumerate() {
        if z.plan.action != Action::Write || z.fate != Fate::Untouched {
            continue;
        }
        match (&z.plan.signing, signer.dnssec, signer.keys) {
            (Signing::Signed { .. }, Some(dnssec), Some(dir)) => match dir.load(&z.zone.name) {
                Ok(keys) => jobs.push((i, dnssec, keys)),
                Err(e) => {
                    errors.push(not_installed(
                        config.primary.name(),
                        &z.zone.name,
                        format!("DNSSEC keys in {}: {e}", dir.dir.display()),
                    ));
                    z.fate = Fate::Failed;
                }
            },
            (Signing::Unsigned, _, _) if z.plan.was_signed => {
                errors.push(refusal(config.primary.name(), &z.zone.name, signer.dnssec));
                z.fate = Fate::Failed;
            }
            _ => {}
        }
    }
    if jobs.is_empty() {
        return;
    }
    let workers = crate::parallel::workers();
    let results = parallel::map(&jobs, workers, |(i, dnssec, keys)| {
        sign_one(config, dnssec, &zones[*i], keys, dir, signer.now)
    });
    for ((i, _, keys), result) in jobs.into_iter().zip(results) {
        let z = &mut zones[i];
        match result {
            Ok((text, expiry, sign, verify)) => {
                let header = signed::header_line(&z.plan.contents, &text);
                z.plan.contents = header + &text;
                z.plan.signatures = Some(expiry);
                let mut tags: Vec<u16> = keys.iter().map(|k| k.tag).collect();
                tags.sort_unstable();
                tags.dedup();
                z.plan.signed_with = tags;
                z.signed = Some(Signed {
                    keys: keys::describe(&keys),
                    sign,
                    verify,
                });
            }
            Err(e) => {
                errors.push(e);
                z.fate = Fate::Failed;
            }
        }
    }
}

/// The error of a zone that is not installed, naming it.
fn not_installed(server: &'static str, zone: &str, message: String) -> Error {
    Error::NotInstalled {
        zone: zone.to_owned(),
        server,
        message,
    }
}

/// The refusal to install a zone unsigned over its signed installed file.
fn refusal(server: &'static str, zone: &str, dnssec: Option<&Dnssec>) -> Error {
    let missing = match dnssec {
        Some(d) => format!(
            "there are no DNSSEC keys for it in {} (K{zone}.+<alg>+<id>.key and .private)",
            d.keys.display()
        ),
        None => "the config has no [dnssec] table".to_owned(),
    };
    not_installed(
        server,
        zone,
        format!(
            "the installed zone is signed, but {missing}: zonerw does not replace a signed \
             zone with an unsigned one, which validating resolvers would reject as long as \
             the parent publishes its DS; restore the keys, or, to turn DNSSEC off for the \
             zone, remove its DS at the parent, wait for the DS TTL and list the zone in \
             [dnssec] unsigned"
        ),
    )
}

/// The signer's argument vector: `ldns-signzone -o ZONE. [-n -t 0] -i INCEPTION -e
/// EXPIRATION -f OUT IN KEYBASE...`, with the times in seconds since the epoch (ldns
/// accepts some other forms silently wrong). Never `-u` (it would replace the serial), `-p`
/// (opt-out) or `-s` (a salt): RFC 9276's NSEC3 parameters are no salt, no iterations.
fn signer_argv(
    dnssec: &Dnssec,
    zone: &str,
    (inception, expiration): (i64, i64),
    output: &Path,
    input: &Path,
    keys: &[Key],
) -> Vec<String> {
    let origin = if zone.ends_with('.') {
        zone.to_owned()
    } else {
        format!("{zone}.")
    };
    let mut argv = vec![dnssec.signer.clone(), "-o".into(), origin];
    if dnssec.denial == Denial::Nsec3 {
        argv.extend(["-n".into(), "-t".into(), "0".into()]);
    }
    argv.extend([
        "-i".into(),
        inception.to_string(),
        "-e".into(),
        expiration.to_string(),
        "-f".into(),
        output.display().to_string(),
        input.display().to_string(),
    ]);
    argv.extend(keys.iter().map(|k| k.base.display().to_string()));
    argv
}

/// The planned signature times at `now`: valid from [`BACKDATE`] before it to `validity`
/// after it, in seconds since the epoch.
pub(super) fn planned_times(now: Timestamp, validity: Duration) -> (i64, i64) {
    let now = now.as_second();
    let validity = i64::try_from(validity.as_secs()).unwrap_or(i64::MAX);
    (now - BACKDATE, now.saturating_add(validity))
}

/// Sign zone `z` with `keys`: the signed text, its earliest signature expiration, and how
/// long signing and verifying took.
fn sign_one(
    config: &Config,
    dnssec: &Dnssec,
    z: &ZoneRun,
    keys: &[Key],
    dir: &Path,
    now: Timestamp,
) -> Result<(String, Timestamp, Duration, Duration)> {
    let zone = &z.zone.name;
    let failed = |what: String| {
        not_installed(
            config.primary.name(),
            zone,
            format!("signing failed: {what}"),
        )
    };
    let input = Staged::write(dir, &z.zone.file_name, z.plan.contents.as_bytes())?;
    let output = Staged::write(dir, &z.zone.file_name, b"")?;
    let times = planned_times(now, dnssec.validity);
    let argv = signer_argv(dnssec, zone, times, output.path(), input.path(), keys);
    // The temporary files are gone by the time a message is read: name the template.
    let shown = |text: &str| {
        text.replace(
            &input.path().display().to_string(),
            &z.zone.template_path.display().to_string(),
        )
    };
    let started = Instant::now();
    let out = run_tool(&argv, config, "signer", zone)?;
    let sign = started.elapsed();
    let said = quoted(&out, &shown);
    if !out.status.success() {
        return Err(failed(format!(
            "{} failed ({}){said}",
            dnssec.signer, out.status
        )));
    }
    // Bounded like everything a child writes, and read like an installed zone file: a
    // signer that writes without end, or puts a link or a FIFO there, gets an error.
    let text = match fsio::read_output(output.path())? {
        Some(Installed::File(bytes)) => String::from_utf8(bytes)
            .map_err(|_| failed(format!("{} wrote text that is not UTF-8", dnssec.signer)))?,
        Some(Installed::Absent) => {
            return Err(failed(format!("{} wrote no signed zone", dnssec.signer)));
        }
        Some(Installed::NotAFile(what)) => {
            return Err(failed(format!(
                "{} left {what} where the signed zone should be",
                dnssec.signer
            )));
        }
        None => {
            return Err(failed(format!(
                "{} wrote a signed zone larger than an installed zone file may be",
                dnssec.signer
            )));
        }
    };
    let tags: Vec<(u16, bool)> = keys.iter().map(|k| (k.tag, k.is_ksk())).collect();
    let expected = signed::Expected {
        zone,
        keys: &tags,
        inception: times.0,
        expiration: times.1,
        denial: dnssec.denial,
    };
    let expiry = signed::check(&text, &expected).map_err(|e| failed(format!("{e}{said}")))?;
    let started = Instant::now();
    let verifier = vec![dnssec.verifier.clone(), output.path().display().to_string()];
    let out = run_tool(&verifier, config, "verifier", zone)?;
    let verify = started.elapsed();
    if !out.status.success() {
        return Err(failed(format!(
            "{} rejected the signed zone ({}){}",
            dnssec.verifier,
            out.status,
            quoted(&out, &|t: &str| t.replace(
                &output.path().display().to_string(),
                &format!("{} (as signed)", z.zone.template_path.display())
            ))
        )));
    }
    Ok((text, expiry, sign, verify))
}

/// Run the signer or the verifier (`key`: its `[dnssec]` key), bounded by `[server] timeout`.
fn run_tool(argv: &[String], config: &Config, key: &str, zone: &str) -> Result<Output> {
    run_bounded(argv, &[], config.primary.timeout).map_err(|e| match e {
        Error::Spawn { program, source } => crate::command::spawn_error(
            program,
            source,
            &format!("[dnssec] {key}"),
            "install ldnsutils (apt-get install ldnsutils)",
        ),
        Error::Command { argv, message } => not_installed(
            config.primary.name(),
            zone,
            format!("signing failed: '{}' {message}", argv[0]),
        ),
        other => other,
    })
}

/// What a tool printed, quoted after a colon (`: first line; second line`), or nothing.
fn quoted(out: &Output, shown: &dyn Fn(&str) -> String) -> String {
    let text = format!("{}\n{}", out.stderr.trim(), out.stdout.trim());
    let lines = quote(&shown(&text), out.stdout_cut + out.stderr_cut);
    if lines.is_empty() {
        String::new()
    } else {
        format!(": {}", lines.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn dnssec(denial: Denial) -> Dnssec {
        Dnssec {
            keys: "/etc/zonerw/keys".into(),
            signer: "ldns-signzone".into(),
            verifier: "ldns-verify-zone".into(),
            denial,
            validity: Duration::from_hours(14 * 24),
            refresh: Duration::from_hours(5 * 24),
            unsigned: Vec::new(),
        }
    }

    fn key(base: &str, flags: u16, tag: u16) -> Key {
        Key {
            base: PathBuf::from(base),
            flags,
            algorithm: 13,
            tag,
        }
    }

    #[test]
    fn the_signer_gets_absolute_times_the_origin_and_every_key() {
        let now: Timestamp = "2026-11-29T16:40:06Z".parse().unwrap();
        let times = planned_times(now, Duration::from_hours(14 * 24));
        assert_eq!(times, (now.as_second() - 3600, now.as_second() + 1_209_600));
        let keys = [
            key("/k/Kexample.com.+013+35008", 257, 35008),
            key("/k/Kexample.com.+013+37124", 256, 37124),
        ];
        let argv = signer_argv(
            &dnssec(Denial::Nsec3),
            "example.com",
            times,
            Path::new("/z/out"),
            Path::new("/z/in"),
            &keys,
        );
        assert_eq!(
            argv.join(" "),
            format!(
                "ldns-signzone -o example.com. -n -t 0 -i {} -e {} -f /z/out /z/in \
                 /k/Kexample.com.+013+35008 /k/Kexample.com.+013+37124",
                times.0, times.1
            )
        );
        let argv = signer_argv(
            &dnssec(Denial::Nsec),
            ".",
            (1, 2),
            Path::new("o"),
            Path::new("i"),
            &keys[..1],
        );
        assert_eq!(
            argv.join(" "),
            "ldns-signzone -o . -i 1 -e 2 -f o i /k/Kexample.com.+013+35008"
        );
    }

    #[test]
    fn an_unsigned_zone_never_replaces_a_signed_one_without_the_explicit_step() {
        let e = refusal("NSD", "example.com", Some(&dnssec(Denial::Nsec3))).to_string();
        assert!(
            e.starts_with(
                "example.com: the installed zone is signed, but there are no DNSSEC keys for it in \
                 /etc/zonerw/keys (Kexample.com.+<alg>+<id>.key and .private): "
            ),
            "{e}"
        );
        assert!(e.contains("list the zone in [dnssec] unsigned"), "{e}");
        assert!(e.ends_with("it was not installed and NSD keeps serving the old zone"));
        let e = refusal("NSD", "example.com", None).to_string();
        assert!(e.contains("but the config has no [dnssec] table: "), "{e}");
    }
}
