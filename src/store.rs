//! The files in the state directory: paths, loading (with the path in every error), saving.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fsio;
use crate::state::{self, Reserved, State};

/// Paths of the files in the state directory.
#[derive(Debug, Clone)]
pub struct StateFiles {
    /// state.json.
    pub state: PathBuf,
    /// serials.json.
    pub serials: PathBuf,
    /// history.jsonl.
    pub history: PathBuf,
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
