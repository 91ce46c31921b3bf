//! Calling NSD's tools: argv only (never a shell), each call bounded by `nsd.timeout`.

use std::path::Path;

use crate::command::{quote, run_bounded};
use crate::config::Nsd;
use crate::error::{Error, Result};

/// Check a rendered zone with `nsd-checkzone ZONE FILE`. On failure the message has the
/// checker's error lines with the temporary path replaced by `shown_as` (the template: the
/// rendered text keeps the template's line numbers).
pub fn checkzone(nsd: &Nsd, program: &str, zone: &str, file: &Path, shown_as: &Path) -> Result<()> {
    let argv = vec![
        program.to_owned(),
        zone.to_owned(),
        file.display().to_string(),
    ];
    let out = run_bounded(&argv, &[], nsd.timeout).map_err(|e| match e {
        // The temporary file is gone by the time this is shown: name the template.
        Error::Command { message, .. } => Error::NotInstalled {
            zone: zone.to_owned(),
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
        message: lines.join("\n"),
    })
}

/// `nsd-control ... reload ZONE` for one zone, or one plain `reload` for several: NSD
/// reloads every zone whose file changed, and back-to-back per-zone reloads can cut off a
/// secondary's transfer (notes/NSD.md, trap 4).
pub fn reload(nsd: &Nsd, zones: &[&str]) -> Result<()> {
    let mut argv = nsd.control.clone();
    argv.push("reload".into());
    if let [zone] = zones {
        argv.push((*zone).to_owned());
    }
    control(nsd, argv)
}

/// `nsd-control ... notify ZONE`: send NOTIFY to the zone's secondaries again.
pub fn notify(nsd: &Nsd, zone: &str) -> Result<()> {
    let mut argv = nsd.control.clone();
    argv.extend(["notify".to_owned(), zone.to_owned()]);
    control(nsd, argv)
}

/// Whether NSD serves a zone, by `nsd-control zonestatus ZONE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    /// NSD has the zone configured.
    Yes,
    /// NSD says the zone is not configured.
    No,
    /// We could not tell (NSD down, ...): the reload will report it.
    Unclear,
}

/// Ask NSD whether it has `zone` configured.
pub fn zone_known(nsd: &Nsd, zone: &str) -> Known {
    let mut argv = nsd.control.clone();
    argv.extend(["zonestatus".to_owned(), zone.to_owned()]);
    match run_bounded(&argv, &[], nsd.timeout) {
        Ok(out) if out.status.success() => Known::Yes,
        Ok(out) if out.stdout.contains("not configured") => Known::No,
        _ => Known::Unclear,
    }
}

/// `nsd-control ... addzone ZONE PATTERN`: have NSD serve a zone it does not know yet.
pub fn addzone(nsd: &Nsd, zone: &str, pattern: &str) -> Result<()> {
    let mut argv = nsd.control.clone();
    argv.extend(["addzone".to_owned(), zone.to_owned(), pattern.to_owned()]);
    control(nsd, argv)
}

/// Run an nsd-control command and insist on success: exit 0 and no "error" line.
fn control(nsd: &Nsd, argv: Vec<String>) -> Result<()> {
    let out = run_bounded(&argv, &[], nsd.timeout)?;
    let said_error = out.stdout.lines().any(|l| l.starts_with("error"));
    if out.status.success() && !said_error {
        return Ok(());
    }
    let printed = quote(
        &format!("{}\n{}", out.stdout.trim(), out.stderr.trim()),
        out.stdout_cut + out.stderr_cut,
    );
    Err(Error::Command {
        message: format!("failed ({}): {}", out.status, printed.join("; ")),
        argv,
    })
}

#[cfg(test)]
mod tests {
    //! NSD's tools stubbed: `nsd-control` as a `sh -c` one-liner that logs its arguments,
    //! `nsd-checkzone` as a script in a temporary directory.

    use std::fs;
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::testing::script;

    const SHOWN: &str = "/etc/zonerw/templates/example.com.zone";

    fn nsd(control: &str) -> Nsd {
        Nsd {
            control: vec!["sh".into(), "-c".into(), control.into(), "stub".into()],
            checkzone: None,
            timeout: Duration::from_secs(5),
            add_pattern: None,
        }
    }

    /// Run `checkzone` with the checker `body` on a rendered file in a temporary directory.
    fn check(body: &str, timeout: Duration) -> (Result<()>, String, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let program = script(dir.path(), "checkzone", body);
        let rendered = dir.path().join(".example.com.zone.Ab12.tmp");
        fs::write(&rendered, "zone").unwrap();
        let mut nsd = nsd("true");
        nsd.timeout = timeout;
        let result = checkzone(&nsd, &program, "example.com", &rendered, Path::new(SHOWN));
        (result, program, rendered)
    }

    #[test]
    fn a_zone_the_checker_accepts_passes() {
        let (result, _, _) = check(
            "test \"$1\" = example.com && test -s \"$2\"",
            Duration::from_secs(5),
        );
        result.unwrap();
    }

    #[test]
    fn checker_messages_name_the_template_without_repeats() {
        let (result, _, rendered) = check(
            r#"p="[2026-11-23 18:00:00.000] nsd-checkzone[42]: error:"
echo "$p $2:3: syntax error" >&2
echo "$p $2:3: syntax error" >&2
echo "$p $2:4: unrecognized RR type 'AX'" >&2
echo "zone $1 file $2 has 2 errors"
exit 1"#,
            Duration::from_secs(5),
        );
        let e = result.unwrap_err();
        let Error::Checkzone { zone, message } = &e else {
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
        let (result, _, _) = check(
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
        let (result, program, _) = check("exec sleep 5", Duration::from_millis(100));
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
        let e = checkzone(
            &nsd("true"),
            &program,
            "example.com",
            &dir.path().join("x"),
            Path::new(SHOWN),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("cannot run '{program}': No such file or directory (os error 2)")
        );
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
