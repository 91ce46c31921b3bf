//! What zonerw remembers between runs, and its (de)serialisation from/to strings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of the state.json layout.
pub const STATE_VERSION: u32 = 1;

/// The committed state: written only after every change of a run was applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Layout version.
    pub version: u32,
    /// Time of the last completed run (RFC 3339).
    #[serde(default)]
    pub last_run: Option<String>,
    /// Per pool.
    #[serde(default)]
    pub pools: BTreeMap<String, PoolState>,
    /// Per zone.
    #[serde(default)]
    pub zones: BTreeMap<String, ZoneState>,
}

/// A pool's current choice and its servers' counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolState {
    /// Name of the chosen server.
    pub chosen: String,
    /// Since when (RFC 3339).
    #[serde(default)]
    pub since: Option<String>,
    /// Per server.
    #[serde(default)]
    pub servers: BTreeMap<String, ServerState>,
    /// How many times the pool left a failed server (for the metrics counter).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failovers: u64,
    /// The last decision of the guard, if it was ever consulted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<GuardRecord>,
    /// The server the pool is pinned to (`zonerw pin`), whatever the probes say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<Pin>,
    /// The servers taken out of the pool's choice (`zonerw drain`), by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub drained: BTreeMap<String, Drain>,
}

/// A pool pinned to one server by `zonerw pin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    /// The server.
    pub server: String,
    /// Since when (RFC 3339).
    pub since: String,
    /// When it ends by itself (RFC 3339); None: at `zonerw unpin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Why, in the operator's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A server drained by `zonerw drain`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drain {
    /// Since when (RFC 3339).
    pub since: String,
    /// When it ends by itself (RFC 3339); None: at `zonerw undrain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Why, in the operator's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if signature"
)]
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A decision of the guard, as remembered for `zonerw status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardRecord {
    /// RFC 3339.
    pub time: String,
    /// The server the pool was about to leave.
    pub server: String,
    /// "confirmed", "vetoed" or "own-link-down".
    pub verdict: String,
    /// Why, in words.
    pub detail: String,
}

/// A server's health as seen over the last runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerState {
    /// Healthy after fall/rise.
    pub healthy: bool,
    /// Consecutive good runs.
    pub good: u32,
    /// Consecutive bad runs.
    pub bad: u32,
    /// Last probe result, in words.
    #[serde(default)]
    pub last: Option<String>,
}

impl Default for ServerState {
    fn default() -> Self {
        ServerState {
            healthy: true,
            good: 0,
            bad: 0,
            last: None,
        }
    }
}

/// What zonerw last wrote for a zone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneState {
    /// The serial of the installed file.
    pub serial: u32,
    /// SHA-256 of the template bytes it was rendered from.
    pub template: String,
    /// SHA-256 of the installed file.
    pub installed: String,
    /// The marker values it was rendered with, by marker name.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// Size and mtime of the installed file when zonerw wrote it: while they match, a run
    /// need not read the file to know it is still what zonerw wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<FileStamp>,
    /// Secondaries that did not serve `serial` after the reload, a NOTIFY and a second wait.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lagging: BTreeMap<String, String>,
    /// A signed zone: when the earliest signature of the installed file expires (RFC
    /// 3339). Absent for an unsigned zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_expiry: Option<String>,
    /// A signed zone: the key tags that signed the installed file, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_tags: Vec<u16>,
}

/// `templates.json`: what zonerw knows of each template without reading it. Only a cache:
/// missing, unreadable or written under another config or version, it counts as empty
/// (every template is read), and removing it loses nothing. Kept out of `state.json` so
/// that an older zonerw still reads the state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateCache {
    /// What the templates were checked against: zonerw's version and the pools' markers and
    /// addresses (`zone::parse_context`). Entries under another context do not count.
    pub context: String,
    /// Per zone: a stamp of its template and the SHA-256 of the bytes it stamps, which
    /// parsed and passed the checks under `context`.
    pub zones: BTreeMap<String, CachedTemplate>,
}

/// A template's stamp and the fingerprint of the bytes it stamps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CachedTemplate {
    /// The stamp, taken before the bytes were read, and only once the template's last
    /// change was `templates::SETTLED` old.
    pub stamp: TemplateStamp,
    /// SHA-256 of the bytes (hex), as `ZoneState::template`.
    pub template: String,
}

impl TemplateCache {
    /// Parse templates.json text.
    ///
    /// # Errors
    /// The parse error.
    pub fn parse(text: &str) -> Result<TemplateCache, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    /// Serialise to compact JSON (it is read on every run, and by no one else).
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string(self).expect("the cache serialises");
        text.push('\n');
        text
    }
}

/// What identifies a template's bytes without reading them, as git's index does: size,
/// modification and change times, inode. Any write changes the change time, which no
/// program can set back, and a file replaced by rename has another inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateStamp {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: u64,
    /// Status change time, nanoseconds since the epoch.
    pub ctime_ns: u64,
    /// Inode number.
    pub ino: u64,
}

/// A file's size and modification time (nanoseconds since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileStamp {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: u64,
}

impl State {
    /// Parse state.json text.
    ///
    /// # Errors
    /// The parse error, or an unsupported version.
    pub fn parse(text: &str) -> Result<State, String> {
        let state: State = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if state.version != STATE_VERSION {
            return Err(format!(
                "version {} is not supported (this zonerw writes version {STATE_VERSION})",
                state.version
            ));
        }
        Ok(state)
    }

    /// Serialise to pretty JSON with a trailing newline.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("state serialises");
        text.push('\n');
        text
    }
}

/// The highest serial ever handed to a file, per zone, recorded *before* writing
/// (`serials.json`), so a retry after a failure never reuses a serial for other content.
pub type Reserved = BTreeMap<String, u32>;

/// Parse serials.json text.
///
/// # Errors
/// The parse error.
pub fn parse_reserved(text: &str) -> Result<Reserved, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// One line of history.jsonl.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum HistoryEntry {
    /// A pool switched servers.
    Switch {
        /// RFC 3339.
        time: String,
        /// Pool name.
        pool: String,
        /// Server left.
        from: String,
        /// Server chosen.
        to: String,
        /// Address of `from`.
        from_address: String,
        /// Address of `to`.
        to_address: String,
        /// Why.
        reason: String,
    },
    /// A zone was rewritten and reloaded.
    Zone {
        /// RFC 3339.
        time: String,
        /// Zone name.
        zone: String,
        /// Serial before, if any.
        from_serial: Option<u32>,
        /// Serial now served.
        to_serial: u32,
        /// Milliseconds from the reload until each server served it (None: it did not).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        propagation_ms: Option<BTreeMap<String, Option<u64>>>,
    },
    /// The guard was consulted before a failover.
    Guard {
        /// RFC 3339.
        time: String,
        /// Pool name.
        pool: String,
        /// The server the pool was about to leave.
        server: String,
        /// "confirmed", "vetoed" or "own-link-down".
        verdict: String,
        /// Why.
        detail: String,
    },
    /// A pool was pinned to a server (`zonerw pin`).
    Pin {
        /// RFC 3339.
        time: String,
        /// Pool name.
        pool: String,
        /// The server.
        server: String,
        /// When the pin ends by itself, if ever.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<String>,
        /// The operator's reason.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A pin ended.
    Unpin {
        /// RFC 3339.
        time: String,
        /// Pool name.
        pool: String,
        /// The server the pool was pinned to.
        server: String,
        /// How it ended.
        cause: EndCause,
    },
    /// A server was drained (`zonerw drain`).
    Drain {
        /// RFC 3339.
        time: String,
        /// Pool name.
        pool: String,
        /// The server.
        server: String,
        /// When the drain ends by itself, if ever.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<String>,
        /// The operator's reason.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// Drained with `--force` although no other server was healthy and not drained.
        #[serde(default, skip_serializing_if = "is_false")]
        forced: bool,
    },
    /// A drain ended.
    Undrain {
        /// RFC 3339.
        time: String,
        /// Pool name.
        pool: String,
        /// The server.
        server: String,
        /// How it ended.
        cause: EndCause,
    },
}

/// How a pin or a drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndCause {
    /// `zonerw unpin` / `zonerw undrain`.
    Command,
    /// Its `--for` ran out.
    Expired,
    /// Its server (or pool) is no longer in the config.
    Unconfigured,
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if signature"
)]
fn is_false(b: &bool) -> bool {
    !*b
}

impl HistoryEntry {
    /// Parse one line of history.jsonl.
    ///
    /// # Errors
    /// The parse error: not JSON, not an object, an unknown event or a missing field.
    pub fn parse(line: &str) -> Result<HistoryEntry, String> {
        serde_json::from_str(line).map_err(|e| e.to_string())
    }

    /// When it happened (RFC 3339).
    #[must_use]
    pub fn time(&self) -> &str {
        match self {
            HistoryEntry::Switch { time, .. }
            | HistoryEntry::Zone { time, .. }
            | HistoryEntry::Guard { time, .. }
            | HistoryEntry::Pin { time, .. }
            | HistoryEntry::Unpin { time, .. }
            | HistoryEntry::Drain { time, .. }
            | HistoryEntry::Undrain { time, .. } => time,
        }
    }

    /// What happened, in words, without the time: `web: main -> backup: why`,
    /// `example.com: serial 1 -> 2` (`example.com: serial 2 adopted (already installed)`
    /// for a file found already installed), `web: guard vetoed about leaving main: why`,
    /// `web: main drained until 2026-11-29T12:00:00Z: patching` or `web: pin to backup expired`.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            HistoryEntry::Switch {
                pool,
                from,
                to,
                reason,
                ..
            } => format!("{pool}: {from} -> {to}: {reason}"),
            // An adopted file keeps its serial (a written one always gets a newer serial).
            HistoryEntry::Zone {
                zone,
                from_serial,
                to_serial,
                ..
            } if *from_serial == Some(*to_serial) => {
                format!("{zone}: serial {to_serial} adopted (already installed)")
            }
            HistoryEntry::Zone {
                zone,
                from_serial,
                to_serial,
                ..
            } => format!(
                "{zone}: serial {} -> {to_serial}",
                show_serial(*from_serial)
            ),
            HistoryEntry::Guard {
                pool,
                server,
                verdict,
                detail,
                ..
            } => format!("{pool}: guard {}", guard_words(verdict, server, detail)),
            HistoryEntry::Pin {
                pool,
                server,
                until,
                reason,
                ..
            } => format!(
                "{pool}: {}",
                pin_words(server, until.as_deref(), reason.as_deref())
            ),
            HistoryEntry::Drain {
                pool,
                server,
                until,
                reason,
                forced,
                ..
            } => {
                let forced = if *forced { " (forced)" } else { "" };
                let until = until.as_deref().map(|u| format!(" until {u}"));
                format!(
                    "{pool}: {server} drained{}{forced}{}",
                    until.unwrap_or_default(),
                    because(reason.as_deref())
                )
            }
            HistoryEntry::Unpin {
                pool,
                server,
                cause,
                ..
            } => format!("{pool}: {}", unpin_words(server, *cause)),
            HistoryEntry::Undrain {
                pool,
                server,
                cause,
                ..
            } => format!("{pool}: {}", undrain_words(server, *cause)),
        }
    }
}

/// `pinned to backup until 2026-11-29T12:00:00Z: patching`, for the history and the switch
/// a pin causes alike.
#[must_use]
pub fn pin_words(server: &str, until: Option<&str>, reason: Option<&str>) -> String {
    let until = until.map(|u| format!(" until {u}")).unwrap_or_default();
    format!("pinned to {server}{until}{}", because(reason))
}

/// ` since S until U: reason`: how long a pin or drain holds, and why.
#[must_use]
pub fn held_words(since: &str, until: Option<&str>, reason: Option<&str>) -> String {
    let until = until.map(|u| format!(" until {u}")).unwrap_or_default();
    format!(" since {since}{until}{}", because(reason))
}

/// `main drained: patching`: why a pool leaves a drained server.
#[must_use]
pub fn drained_words(server: &str, reason: Option<&str>) -> String {
    format!("{server} drained{}", because(reason))
}

/// How a pin ended, in words: `unpinned from backup`, `pin to backup expired`.
#[must_use]
pub fn unpin_words(server: &str, cause: EndCause) -> String {
    match cause {
        EndCause::Command => format!("unpinned from {server}"),
        EndCause::Expired => format!("pin to {server} expired"),
        EndCause::Unconfigured => {
            format!("pin to {server} dropped: {server} is no longer configured")
        }
    }
}

/// How a drain ended, in words: `main undrained`, `drain of main expired`.
#[must_use]
pub fn undrain_words(server: &str, cause: EndCause) -> String {
    match cause {
        EndCause::Command => format!("{server} undrained"),
        EndCause::Expired => format!("drain of {server} expired"),
        EndCause::Unconfigured => {
            format!("drain of {server} dropped: {server} is no longer configured")
        }
    }
}

/// `: reason`, or nothing without a reason.
fn because(reason: Option<&str>) -> String {
    reason.map(|r| format!(": {r}")).unwrap_or_default()
}

impl GuardRecord {
    /// The decision in words, without the time: `vetoed about leaving main: why`.
    #[must_use]
    pub fn describe(&self) -> String {
        guard_words(&self.verdict, &self.server, &self.detail)
    }
}

/// A guard's decision in words, for the state's record and the history's entry alike.
fn guard_words(verdict: &str, server: &str, detail: &str) -> String {
    format!("{verdict} about leaving {server}: {detail}")
}

/// A serial in words: the number, or "none" (a zone zonerw had not written before).
#[must_use]
pub fn show_serial(serial: Option<u32>) -> String {
    serial.map_or_else(|| "none".to_owned(), |s| s.to_string())
}

/// RFC 3339 UTC to the second.
#[must_use]
pub fn rfc3339(now: jiff::Timestamp) -> String {
    now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A pin or a drain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A pin.
    Pin,
    /// A drain.
    Drain,
}

/// A pin or a drain that ended in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// Which.
    pub kind: Kind,
    /// The server pinned or drained.
    pub server: String,
    /// How it ended.
    pub cause: EndCause,
}

impl Ended {
    /// `pin to backup expired`, `main undrained`, ...
    #[must_use]
    pub fn words(&self) -> String {
        match self.kind {
            Kind::Pin => unpin_words(&self.server, self.cause),
            Kind::Drain => undrain_words(&self.server, self.cause),
        }
    }

    /// Its history entry, for pool `pool` at `time`.
    #[must_use]
    pub fn entry(&self, time: &str, pool: &str) -> HistoryEntry {
        let (time, pool, server, cause) =
            (time.into(), pool.into(), self.server.clone(), self.cause);
        match self.kind {
            Kind::Pin => HistoryEntry::Unpin {
                time,
                pool,
                server,
                cause,
            },
            Kind::Drain => HistoryEntry::Undrain {
                time,
                pool,
                server,
                cause,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut state = State {
            version: STATE_VERSION,
            last_run: Some("2026-11-23T18:00:00Z".into()),
            ..State::default()
        };
        state.pools.insert(
            "web".into(),
            PoolState {
                chosen: "main".into(),
                since: None,
                servers: BTreeMap::from([("main".into(), ServerState::default())]),
                guard: None,
                failovers: 2,
                pinned: Some(Pin {
                    server: "main".into(),
                    since: "2026-11-23T17:00:00Z".into(),
                    until: Some("2026-11-23T19:00:00Z".into()),
                    reason: Some("backup is patched".into()),
                }),
                drained: BTreeMap::from([(
                    "backup".into(),
                    Drain {
                        since: "2026-11-23T17:00:00Z".into(),
                        until: None,
                        reason: None,
                    },
                )]),
            },
        );
        state.zones.insert(
            "example.com".into(),
            ZoneState {
                serial: 2_026_112_301,
                template: "ab".into(),
                installed: "cd".into(),
                vars: BTreeMap::from([("IP".into(), "192.0.2.1".into())]),
                stamp: Some(FileStamp {
                    size: 320,
                    mtime_ns: 1_795_000_000_123_456_789,
                }),
                lagging: BTreeMap::new(),
                signature_expiry: None,
                key_tags: Vec::new(),
            },
        );
        assert_eq!(State::parse(&state.to_text()), Ok(state));
    }

    /// A state without pins or drains is written as before they existed (and so is read
    /// back the same by an older zonerw); with them, only the keys that have a value.
    #[test]
    fn pins_and_drains_are_written_only_when_there_are_some() {
        let mut state = State {
            version: STATE_VERSION,
            ..State::default()
        };
        state.pools.insert(
            "web".into(),
            PoolState {
                chosen: "main".into(),
                ..PoolState::default()
            },
        );
        let plain = "{\n  \"version\": 1,\n  \"last_run\": null,\n  \"pools\": {\n    \"web\": {\n      \"chosen\": \"main\",\n      \"since\": null,\n      \"servers\": {}\n    }\n  },\n  \"zones\": {}\n}\n";
        assert_eq!(state.to_text(), plain);
        assert_eq!(State::parse(plain), Ok(state.clone()));
        let web = state.pools.get_mut("web").unwrap();
        web.pinned = Some(Pin {
            server: "backup".into(),
            since: "t".into(),
            until: None,
            reason: None,
        });
        web.drained.insert(
            "main".into(),
            Drain {
                since: "t".into(),
                until: Some("u".into()),
                reason: Some("patching".into()),
            },
        );
        let text = state.to_text();
        assert!(
            text.contains(
                "\"pinned\": {\n        \"server\": \"backup\",\n        \"since\": \"t\"\n      },"
            ),
            "{text}"
        );
        assert!(
            text.contains("\"main\": {\n          \"since\": \"t\",\n          \"until\": \"u\",\n          \"reason\": \"patching\"\n        }"),
            "{text}"
        );
        assert_eq!(State::parse(&text), Ok(state));
    }

    #[test]
    fn corrupt_or_foreign_state_is_an_error() {
        assert!(State::parse("{").unwrap_err().contains("EOF"));
        assert!(
            State::parse("{\"version\": 9}")
                .unwrap_err()
                .contains("version 9")
        );
        assert!(State::parse("{\"version\": 1, \"bogus\": 1}").is_err());
    }

    fn switch() -> HistoryEntry {
        HistoryEntry::Switch {
            time: "2026-11-23T18:00:00Z".into(),
            pool: "web".into(),
            from: "main".into(),
            to: "backup".into(),
            from_address: "192.0.2.1".into(),
            to_address: "198.51.100.7".into(),
            reason: "main failed: connection refused".into(),
        }
    }

    fn zone(
        from_serial: Option<u32>,
        propagation_ms: Option<&[(&str, Option<u64>)]>,
    ) -> HistoryEntry {
        HistoryEntry::Zone {
            time: "t".into(),
            zone: "example.com".into(),
            from_serial,
            to_serial: 5,
            propagation_ms: propagation_ms
                .map(|p| p.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()),
        }
    }

    fn guard() -> HistoryEntry {
        HistoryEntry::Guard {
            time: "2026-11-23T17:59:00Z".into(),
            pool: "web".into(),
            server: "main".into(),
            verdict: "vetoed".into(),
            detail: "witness w1 reaches it".into(),
        }
    }

    /// Every kind of entry: its history.jsonl line (the on-disk format, pinned) and its words.
    #[allow(
        clippy::type_complexity,
        clippy::too_many_lines,
        reason = "a test table"
    )]
    fn history_table() -> Vec<(HistoryEntry, &'static str, &'static str)> {
        vec![
            (
                switch(),
                r#"{"event":"switch","time":"2026-11-23T18:00:00Z","pool":"web","from":"main","to":"backup","from_address":"192.0.2.1","to_address":"198.51.100.7","reason":"main failed: connection refused"}"#,
                "web: main -> backup: main failed: connection refused",
            ),
            (
                zone(None, None),
                r#"{"event":"zone","time":"t","zone":"example.com","from_serial":null,"to_serial":5}"#,
                "example.com: serial none -> 5",
            ),
            (
                zone(Some(4), Some(&[("primary", Some(3)), ("192.0.2.53", None)])),
                r#"{"event":"zone","time":"t","zone":"example.com","from_serial":4,"to_serial":5,"propagation_ms":{"192.0.2.53":null,"primary":3}}"#,
                "example.com: serial 4 -> 5",
            ),
            (
                guard(),
                r#"{"event":"guard","time":"2026-11-23T17:59:00Z","pool":"web","server":"main","verdict":"vetoed","detail":"witness w1 reaches it"}"#,
                "web: guard vetoed about leaving main: witness w1 reaches it",
            ),
            (
                zone(Some(5), None),
                r#"{"event":"zone","time":"t","zone":"example.com","from_serial":5,"to_serial":5}"#,
                "example.com: serial 5 adopted (already installed)",
            ),
            (
                HistoryEntry::Pin {
                    time: "t".into(),
                    pool: "web".into(),
                    server: "backup".into(),
                    until: Some("2026-11-23T20:00:00Z".into()),
                    reason: Some("main is patched".into()),
                },
                r#"{"event":"pin","time":"t","pool":"web","server":"backup","until":"2026-11-23T20:00:00Z","reason":"main is patched"}"#,
                "web: pinned to backup until 2026-11-23T20:00:00Z: main is patched",
            ),
            (
                HistoryEntry::Pin {
                    time: "t".into(),
                    pool: "web".into(),
                    server: "backup".into(),
                    until: None,
                    reason: None,
                },
                r#"{"event":"pin","time":"t","pool":"web","server":"backup"}"#,
                "web: pinned to backup",
            ),
            (
                HistoryEntry::Drain {
                    time: "t".into(),
                    pool: "web".into(),
                    server: "main".into(),
                    until: None,
                    reason: Some("patching".into()),
                    forced: false,
                },
                r#"{"event":"drain","time":"t","pool":"web","server":"main","reason":"patching"}"#,
                "web: main drained: patching",
            ),
            (
                HistoryEntry::Drain {
                    time: "t".into(),
                    pool: "web".into(),
                    server: "main".into(),
                    until: Some("u".into()),
                    reason: None,
                    forced: true,
                },
                r#"{"event":"drain","time":"t","pool":"web","server":"main","until":"u","forced":true}"#,
                "web: main drained until u (forced)",
            ),
            (
                end(false, EndCause::Command),
                r#"{"event":"unpin","time":"t","pool":"web","server":"backup","cause":"command"}"#,
                "web: unpinned from backup",
            ),
            (
                end(false, EndCause::Expired),
                r#"{"event":"unpin","time":"t","pool":"web","server":"backup","cause":"expired"}"#,
                "web: pin to backup expired",
            ),
            (
                end(false, EndCause::Unconfigured),
                r#"{"event":"unpin","time":"t","pool":"web","server":"backup","cause":"unconfigured"}"#,
                "web: pin to backup dropped: backup is no longer configured",
            ),
            (
                end(true, EndCause::Command),
                r#"{"event":"undrain","time":"t","pool":"web","server":"backup","cause":"command"}"#,
                "web: backup undrained",
            ),
            (
                end(true, EndCause::Expired),
                r#"{"event":"undrain","time":"t","pool":"web","server":"backup","cause":"expired"}"#,
                "web: drain of backup expired",
            ),
            (
                end(true, EndCause::Unconfigured),
                r#"{"event":"undrain","time":"t","pool":"web","server":"backup","cause":"unconfigured"}"#,
                "web: drain of backup dropped: backup is no longer configured",
            ),
        ]
    }

    fn end(drain: bool, cause: EndCause) -> HistoryEntry {
        let (time, pool, server) = ("t".into(), "web".into(), "backup".into());
        if drain {
            HistoryEntry::Undrain {
                time,
                pool,
                server,
                cause,
            }
        } else {
            HistoryEntry::Unpin {
                time,
                pool,
                server,
                cause,
            }
        }
    }

    #[test]
    fn history_lines_round_trip() {
        for (entry, line, _) in history_table() {
            assert_eq!(serde_json::to_string(&entry).unwrap(), line);
            assert_eq!(HistoryEntry::parse(line), Ok(entry));
        }
    }

    #[test]
    fn history_entries_in_words() {
        for (entry, _, words) in history_table() {
            assert_eq!(entry.describe(), words);
        }
        assert_eq!(switch().time(), "2026-11-23T18:00:00Z");
        assert_eq!(zone(None, None).time(), "t");
        assert_eq!(guard().time(), "2026-11-23T17:59:00Z");
        let record = GuardRecord {
            time: "2026-11-23T17:59:00Z".into(),
            server: "main".into(),
            verdict: "confirmed".into(),
            detail: "2 of 2 witnesses cannot reach it".into(),
        };
        assert_eq!(
            record.describe(),
            "confirmed about leaving main: 2 of 2 witnesses cannot reach it"
        );
    }

    #[test]
    fn history_lines_in_another_order_or_with_more_fields_parse() {
        // Key order does not matter; a field zonerw does not know is ignored, and a zone
        // line without from_serial is a zone zonerw had not written before.
        assert_eq!(
            HistoryEntry::parse(
                r#"{"to_serial":5,"zone":"example.com","time":"t","event":"zone","pad":"xx"}"#
            ),
            Ok(zone(None, None))
        );
    }

    #[test]
    fn unreadable_history_lines_are_errors() {
        for line in [
            "",
            "garbage",
            "[1,2]",
            r#"{"time":"2026-01-01T00:"#,
            r#"{"time":"t","event":"reboot"}"#,
            r#"{"time":"t","event":"switch","pool":"web"}"#,
            r#"{"time":"t","zone":"z","to_serial":5}"#,
            r#"{"time":"t","event":"zone","zone":"z","to_serial":-1}"#,
            r#"{"time":"t","event":"unpin","pool":"web","server":"s","cause":"boredom"}"#,
            r#"{"time":"t","event":"drain","pool":"web"}"#,
        ] {
            assert!(HistoryEntry::parse(line).is_err(), "{line}");
        }
    }
}
