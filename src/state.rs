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
            | HistoryEntry::Guard { time, .. } => time,
        }
    }

    /// What happened, in words, without the time: `web: main -> backup: why`,
    /// `example.com: serial 1 -> 2` or `web: guard vetoed about leaving main: why`.
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
        }
    }
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
            },
        );
        assert_eq!(State::parse(&state.to_text()), Ok(state));
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
    #[allow(clippy::type_complexity, reason = "a test table")]
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
        ]
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
        ] {
            assert!(HistoryEntry::parse(line).is_err(), "{line}");
        }
    }
}
