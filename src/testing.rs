//! Fixtures shared by the unit tests: a config with one pool, a zone, run records.

use std::path::Path;
use std::time::Duration;

use crate::config::Config;
use crate::decide::ProbeOutcome;
use crate::outcome::{PoolRun, ZoneRun, decide_pools};
use crate::plan::{Action, ZonePlan};
use crate::state::State;
use crate::zone::{Zone, parse_zone};

/// One pool "web": main 192.0.2.1 (checked), backup 198.51.100.7 (no check); fall 1.
pub const CONFIG: &str = r#"
[serial]
scheme = "date"
[[pool]]
name = "web"
  [[pool.server]]
  name = "main"
  ipv4 = "192.0.2.1"
  check = "http://www.example.com/up"
  [[pool.server]]
  name = "backup"
  ipv4 = "198.51.100.7"
"#;

/// The template of zone example.com.
pub const TEMPLATE: &str = "@ IN SOA ns hm ( @serial@ 1 2 3 4 )\nwww IN A @IP@\n";

/// [`CONFIG`], parsed.
pub fn config() -> Config {
    Config::parse(CONFIG, Path::new("/etc/zonerw/zonerw.toml")).unwrap()
}

/// Zone example.com from [`TEMPLATE`].
pub fn zone(config: &Config) -> Zone {
    parse_zone(
        config,
        "example.com".into(),
        "example.com.zone".into(),
        "/etc/zonerw/templates/example.com.zone".into(),
        TEMPLATE.into(),
    )
    .unwrap()
}

/// A healthy probe.
pub fn up() -> ProbeOutcome {
    ProbeOutcome::Up {
        status: 200,
        latency: Duration::from_millis(3),
    }
}

/// A failed probe.
pub fn down() -> ProbeOutcome {
    ProbeOutcome::Down {
        reason: "failed 2/2 attempts: connect: refused".into(),
    }
}

/// The time the unit tests' runs happen at: 2026-11-29T10:00:00Z.
pub fn now() -> jiff::Timestamp {
    "2026-11-29T10:00:00Z".parse().unwrap()
}

/// The pools of [`CONFIG`] decided from `old` with main's probe `main`, at [`now`].
pub fn pools<'a>(config: &'a Config, old: Option<&State>, main: ProbeOutcome) -> Vec<PoolRun<'a>> {
    decide_pools(
        config,
        old,
        vec![vec![main, ProbeOutcome::Unchecked]],
        now(),
        None,
    )
}

/// A zone record with plan `action` from serial `old` to `new`, pointing at `ip`.
pub fn zone_run(config: &Config, action: Action, old: Option<u32>, new: u32, ip: &str) -> ZoneRun {
    let contents = format!("@ IN SOA ns hm ( {new} 1 2 3 4 )\nwww IN A {ip}\n");
    ZoneRun::new(
        zone(config),
        ZonePlan {
            action,
            first_time: old.is_none(),
            contents,
            serial: Some(new),
            old_serial: old,
            vars: [("IP".to_owned(), ip.to_owned())].into(),
            signing: crate::plan::Signing::Unsigned,
            was_signed: false,
            cause: crate::plan::Cause::Change,
            signatures: None,
            signed_with: Vec::new(),
        },
    )
}

/// An executable script `name` in `dir` with `body` after the shebang. A child writes
/// it: a file this process had open for writing could still be open in a child some
/// other test is forking at that moment, and exec would fail with "Text file busy".
pub fn script(dir: &Path, name: &str, body: &str) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let path = dir.join(name);
    let mut writer = Command::new("sh")
        .args(["-c", "cat > \"$1\" && chmod 755 \"$1\"", "sh"])
        .arg(&path)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = writer.stdin.take().unwrap();
    write!(stdin, "#!/bin/sh\n{body}\n").unwrap();
    drop(stdin);
    assert!(writer.wait().unwrap().success());
    path.display().to_string()
}
