//! The files in the state directory: paths, loading (with the path in every error), saving.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fsio;
use crate::state::{self, Reserved, State, TemplateCache};

/// Paths of the files in the state directory.
#[derive(Debug, Clone)]
pub struct StateFiles {
    /// state.json.
    pub state: PathBuf,
    /// serials.json.
    pub serials: PathBuf,
    /// history.jsonl.
    pub history: PathBuf,
    /// templates.json.
    pub templates: PathBuf,
    /// lock.
    pub lock: PathBuf,
}

impl StateFiles {
    /// The files in `dir`.
    #[must_use]
    pub fn in_dir(dir: &Path) -> Self {
        StateFiles {
            state: dir.join("state.json"),
            serials: dir.join("serials.json"),
            history: dir.join("history.jsonl"),
            templates: dir.join("templates.json"),
            lock: dir.join("lock"),
        }
    }
}

/// Load state.json; a missing file is the empty state, a corrupt one an error.
pub fn load_state(path: &Path) -> Result<Option<State>> {
    let Some(bytes) = fsio::read_state_file(path)? else {
        return Ok(None);
    };
    let corrupt = |message| Error::StateCorrupt {
        path: path.to_owned(),
        message,
    };
    let text = String::from_utf8(bytes).map_err(|e| corrupt(e.to_string()))?;
    State::parse(&text).map(Some).map_err(corrupt)
}

/// Load templates.json, the template cache: None when it is missing, unreadable or not a
/// cache this zonerw wrote (every template is then read, and the run writes a new one).
#[must_use]
pub fn load_template_cache(path: &Path) -> Option<TemplateCache> {
    let bytes = fsio::read_state_file(path).ok()??;
    TemplateCache::parse(std::str::from_utf8(&bytes).ok()?).ok()
}

/// Save templates.json atomically.
pub fn write_template_cache(path: &Path, cache: &TemplateCache) -> Result<()> {
    fsio::write_atomically(path, cache.to_text().as_bytes())
}

/// Load serials.json: the newest serial handed out per zone; missing is empty.
pub fn load_reserved(path: &Path) -> Result<Reserved> {
    let Some(bytes) = fsio::read_state_file(path)? else {
        return Ok(Reserved::new());
    };
    let text = String::from_utf8_lossy(&bytes);
    state::parse_reserved(&text).map_err(|message| Error::StateCorrupt {
        path: path.to_owned(),
        message,
    })
}

/// Save serials.json atomically.
pub fn write_reserved(path: &Path, reserved: &Reserved) -> Result<()> {
    let mut text = serde_json::to_string_pretty(reserved).expect("serials serialise");
    text.push('\n');
    fsio::write_atomically(path, text.as_bytes())
}

/// Append `history` to the history file, then write `state` (the commit point of a run,
/// or of a maintenance command's record): a failure before the state is written leaves it
/// as it was.
///
/// # Errors
/// A history or state file that cannot be written.
pub fn write_state(
    state: &State,
    history: &[state::HistoryEntry],
    files: &StateFiles,
) -> Result<()> {
    let lines: Vec<String> = history
        .iter()
        .map(|entry| serde_json::to_string(entry).expect("history serialises"))
        .collect();
    if !lines.is_empty() {
        fsio::append_lines(&files.history, &lines)?;
    }
    fsio::write_atomically(&files.state, state.to_text().as_bytes())
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::{MetadataExt, symlink};

    use super::*;

    #[test]
    fn the_files_of_a_state_directory() {
        let files = StateFiles::in_dir(Path::new("/var/lib/zonerw"));
        assert_eq!(
            [files.state, files.serials, files.history, files.lock],
            [
                "/var/lib/zonerw/state.json",
                "/var/lib/zonerw/serials.json",
                "/var/lib/zonerw/history.jsonl",
                "/var/lib/zonerw/lock",
            ]
            .map(PathBuf::from)
        );
    }

    #[test]
    fn load_state_missing_is_none_and_a_saved_state_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(load_state(&path).unwrap(), None);
        let mut state = State {
            version: state::STATE_VERSION,
            last_run: Some("2026-11-23T18:00:00Z".into()),
            ..State::default()
        };
        state.pools.insert(
            "web".into(),
            state::PoolState {
                chosen: "backup".into(),
                failovers: 1,
                ..Default::default()
            },
        );
        fs::write(&path, state.to_text()).unwrap();
        assert_eq!(load_state(&path).unwrap(), Some(state));
    }

    #[test]
    fn a_corrupt_state_names_its_path_and_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let cases: [(&[u8], &str); 5] = [
            (b"not json", "expected ident at line 1 column 2"),
            (b"", "EOF while parsing a value at line 1 column 0"),
            (
                b"{\"version\": 1",
                "EOF while parsing an object at line 1 column 13",
            ),
            (
                b"{\"version\": 2}",
                "version 2 is not supported (this zonerw writes version 1)",
            ),
            (b"\xff{}", "invalid utf-8 sequence of 1 bytes from index 0"),
        ];
        for (bytes, why) in cases {
            fs::write(&path, bytes).unwrap();
            let e = load_state(&path).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "state file '{}' is corrupt: {why} (nothing was changed; fix or remove it)",
                    path.display()
                ),
                "{bytes:?}"
            );
            assert_eq!(e.exit_code(), 1);
        }
        // An unknown field is refused too: it may be a newer zonerw's state.
        fs::write(&path, "{\"version\": 1, \"extra\": true}").unwrap();
        assert!(
            load_state(&path)
                .unwrap_err()
                .to_string()
                .contains("unknown field `extra`")
        );
    }

    #[test]
    fn load_state_refuses_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere.json");
        fs::write(&elsewhere, "{\"version\": 1}").unwrap();
        let path = dir.path().join("state.json");
        symlink(&elsewhere, &path).unwrap();
        assert_eq!(
            load_state(&path).unwrap_err().to_string(),
            format!(
                "cannot read '{}': it is a symbolic link; zonerw does not follow links in its state directory",
                path.display()
            )
        );
    }

    #[test]
    fn reserved_serials_round_trip_as_pretty_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serials.json");
        assert_eq!(load_reserved(&path).unwrap(), Reserved::new());
        let reserved: Reserved = [
            ("example.com".to_owned(), 2_026_112_301),
            ("a.example".to_owned(), 7),
        ]
        .into_iter()
        .collect();
        write_reserved(&path, &reserved).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "{\n  \"a.example\": 7,\n  \"example.com\": 2026112301\n}\n"
        );
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o644);
        assert_eq!(load_reserved(&path).unwrap(), reserved);
        // Rewritten whole, not merged.
        write_reserved(&path, &Reserved::new()).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "{}\n");
    }

    #[test]
    fn corrupt_reserved_serials_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serials.json");
        let cases = [
            (
                "{\"a.example\": -1}",
                "invalid value: integer `-1`, expected u32 at line 1 column 16",
            ),
            (
                "{\"a.example\": 4294967296}",
                "invalid value: integer `4294967296`, expected u32 at line 1 column 24",
            ),
            (
                "[1]",
                "invalid type: sequence, expected a map at line 1 column 0",
            ),
        ];
        for (text, why) in cases {
            fs::write(&path, text).unwrap();
            assert_eq!(
                load_reserved(&path).unwrap_err().to_string(),
                format!(
                    "state file '{}' is corrupt: {why} (nothing was changed; fix or remove it)",
                    path.display()
                ),
                "{text}"
            );
        }
    }
}
