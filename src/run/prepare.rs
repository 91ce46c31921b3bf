//! Before a run touches anything: the serial clock, the zones and state directories, the
//! owner check, and the lock.

use std::path::Path;

use jiff::Timestamp;

use crate::config::{Clock, Config};
use crate::error::{Error, Result};
use crate::lock::{self, Lock};
use crate::store::StateFiles;
use crate::{fsio, report, serial};

/// The clock a run computes serials from.
pub(super) fn serial_clock(config: &Config, now: Timestamp) -> Result<serial::Clock> {
    let tz = match config.clock {
        Clock::Utc => jiff::tz::TimeZone::UTC,
        Clock::Local => jiff::tz::TimeZone::try_system().map_err(|e| {
            Error::config(
                &config.path,
                format!("serial.clock = \"local\": cannot determine the system time zone: {e}"),
            )
        })?,
    };
    Ok(serial::Clock {
        unix: now.as_second(),
        today: now.to_zoned(tz).date(),
    })
}

/// Check the zones directory and take the lock (a dry run needs neither).
pub(super) fn prepare(config: &Config, dry_run: bool, files: &StateFiles) -> Result<Option<Lock>> {
    if dry_run {
        return Ok(None);
    }
    if !config.zones.is_dir() {
        return Err(Error::config(
            &config.path,
            format!("zones: '{}' is not a directory", config.zones.display()),
        ));
    }
    check_state_owner(&config.state)?;
    if !fsio::create_state_dir(&config.state)?
        && let Some((_, mode)) = fsio::owner_and_mode(&config.state)
        && let Some(warning) = report::open_state_dir(&config.state, mode)
    {
        // Others could replace state.json or plant links; the run goes on.
        crate::errln!("{warning}");
    }
    let lock = lock::lock_exclusive(&files.lock)?;
    fsio::remove_stale_temporaries(&config.zones);
    fsio::remove_stale_temporaries(&config.state);
    Ok(Some(lock))
}

/// A run by another user than the owner of the state directory (typically root running
/// `zonerw --force` by hand where the timer runs as `zonerw`) would leave state files the
/// service user cannot write, and every later run of the timer would fail: refuse it
/// before touching anything.
fn check_state_owner(dir: &Path) -> Result<()> {
    let Some((owner, _)) = fsio::owner_and_mode(dir) else {
        return Ok(());
    };
    let me = fsio::effective_uid();
    if owner == me {
        return Ok(());
    }
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    Err(Error::Usage(report::wrong_user(
        dir,
        &fsio::user_name(owner),
        &fsio::user_name(me),
        &args,
    )))
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::testing::CONFIG;

    fn config(root: &Path) -> Config {
        let text = format!(
            "zones = '{root}/zones'\nstate = '{root}/state'\ntemplates = '{root}/templates'\n{CONFIG}",
            root = root.display()
        );
        Config::parse(&text, &root.join("zonerw.toml")).unwrap()
    }

    #[test]
    fn the_serial_clock_is_utc_unless_asked() {
        let config = config(Path::new("/srv"));
        let now: Timestamp = "2026-11-29T23:30:00Z".parse().unwrap();
        let clock = serial_clock(&config, now).unwrap();
        assert_eq!(clock.today, jiff::civil::date(2026, 11, 29));
        assert_eq!(clock.unix, now.as_second());
    }

    #[test]
    fn a_run_needs_the_zones_directory_and_takes_the_lock_once() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        let files = StateFiles::in_dir(&config.state);
        assert!(
            prepare(&config, true, &files).unwrap().is_none(),
            "a dry run takes no lock"
        );
        let error = prepare(&config, false, &files).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "{}: zones: '{}' is not a directory",
                dir.path().join("zonerw.toml").display(),
                config.zones.display()
            )
        );
        assert!(!config.state.exists(), "nothing created before the check");
        fs::create_dir(&config.zones).unwrap();
        fs::write(config.zones.join(".example.com.zone.abc123.tmp"), "stale").unwrap();
        let lock = prepare(&config, false, &files).unwrap();
        assert!(lock.is_some() && config.state.is_dir());
        assert_eq!(
            fs::read_dir(&config.zones).unwrap().count(),
            0,
            "stale temporaries removed"
        );
        let again = prepare(&config, false, &files).unwrap_err();
        assert_eq!(again.exit_code(), 75);
        drop(lock);
        assert!(prepare(&config, false, &files).unwrap().is_some());
    }
}
