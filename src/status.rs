//! `zonerw status`: what zonerw believes now, and the recent changes.

use serde_json::{Value, json};

use crate::config::Config;
use crate::error::Result;
use crate::fsio;
use crate::state::{PoolState, State};
use crate::store::{StateFiles, load_state};
use crate::table::table;

/// How many history entries are shown.
const RECENT: usize = 10;

/// Print the status (text or JSON); exit code 0.
pub fn status(config: &Config, json: bool) -> Result<u8> {
    let files = StateFiles::in_dir(&config.state);
    let state = load_state(&files.state)?;
    let history = recent_history(&files)?;
    let report = report(config, state.as_ref(), &history, &files);
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(&report).expect("json"));
    } else {
        crate::out!("{}", text(&report));
    }
    Ok(0)
}

fn recent_history(files: &StateFiles) -> Result<Vec<Value>> {
    let Some(bytes) = fsio::read_state_file(&files.history)? else {
        return Ok(Vec::new());
    };
    let text = String::from_utf8_lossy(&bytes);
    let (recent, skipped) = last_entries(&text, RECENT);
    for line in skipped {
        crate::errln!(
            "zonerw: warning: {}:{line}: skipped an unreadable history line",
            files.history.display()
        );
    }
    Ok(recent)
}

/// The last `count` readable entries of history.jsonl text, oldest first, and the numbers
/// of the unreadable lines met among them (a line cut short by a full disk, say), which
/// are skipped: one bad line must not hide the rest of the history.
fn last_entries(text: &str, count: usize) -> (Vec<Value>, Vec<usize>) {
    let mut recent = Vec::new();
    let mut skipped = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate().rev() {
        if recent.len() == count {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(entry) if entry.is_object() => recent.push(entry),
            _ => skipped.push(i + 1),
        }
    }
    recent.reverse();
    skipped.reverse();
    (recent, skipped)
}

fn report(config: &Config, state: Option<&State>, history: &[Value], files: &StateFiles) -> Value {
    let pools: Vec<Value> = config
        .pools
        .iter()
        .map(|pool| {
            let ps: Option<&PoolState> = state.and_then(|s| s.pools.get(&pool.name));
            let chosen = ps.map_or(pool.servers[0].name.as_str(), |p| p.chosen.as_str());
            let address = pool
                .servers
                .iter()
                .find(|s| s.name == chosen)
                .map(|s| s.address().to_string());
            let servers: Vec<Value> = pool
                .servers
                .iter()
                .map(|s| {
                    let st = ps
                        .and_then(|p| p.servers.get(&s.name))
                        .cloned()
                        .unwrap_or_default();
                    json!({
                        "name": s.name, "address": s.address().to_string(),
                        "checked": s.check.is_some(), "healthy": st.healthy,
                        "good": st.good, "rise": pool.rise, "bad": st.bad, "fall": pool.fall,
                        "last": st.last,
                    })
                })
                .collect();
            json!({
                "name": pool.name, "chosen": chosen, "chosen_address": address,
                "since": ps.and_then(|p| p.since.clone()), "servers": servers,
                "guard": ps.and_then(|p| p.guard.clone()),
            })
        })
        .collect();
    let zones: Vec<Value> = state
        .map(|s| {
            s.zones
                .iter()
                .map(|(name, z)| {
                    json!({"zone": name, "serial": z.serial, "vars": z.vars, "lagging": z.lagging})
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "state_file": files.state.display().to_string(),
        "has_state": state.is_some(),
        "last_change": state.and_then(|s| s.last_run.clone()),
        "pools": pools, "zones": zones, "history": history,
    })
}

fn text(report: &Value) -> String {
    let mut out = String::new();
    if report["has_state"] == json!(false) {
        out.push_str(&format!(
            "no run has completed yet ({} does not exist)\n",
            str_of(&report["state_file"])
        ));
    } else {
        out.push_str(&format!(
            "last change: {}\n",
            str_of(&report["last_change"])
        ));
    }
    out.push_str(&pools_text(report));
    out.push_str(&zones_text(report));
    out.push_str(&history_text(report));
    out
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or("-").to_owned()
}

fn pools_text(report: &Value) -> String {
    let mut out = String::new();
    for pool in report["pools"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "\npool {}: {} ({}) since {}\n",
            str_of(&pool["name"]),
            str_of(&pool["chosen"]),
            str_of(&pool["chosen_address"]),
            str_of(&pool["since"]),
        ));
        let mut rows = vec![
            [
                "",
                "SERVER",
                "ADDRESS",
                "HEALTH",
                "GOOD",
                "BAD",
                "LAST PROBE",
            ]
            .map(String::from),
        ];
        for s in pool["servers"].as_array().into_iter().flatten() {
            let chosen = if s["name"] == pool["chosen"] { "*" } else { "" };
            rows.push([
                chosen.into(),
                str_of(&s["name"]),
                str_of(&s["address"]),
                if s["healthy"] == json!(true) {
                    "healthy"
                } else {
                    "unhealthy"
                }
                .into(),
                format!("{}/{}", s["good"], s["rise"]),
                format!("{}/{}", s["bad"], s["fall"]),
                str_of(&s["last"]),
            ]);
        }
        out.push_str(&table(&rows));
        if let Some(g) = pool["guard"].as_object() {
            out.push_str(&format!(
                "guard, {}: {} about leaving {}: {}\n",
                g["time"].as_str().unwrap_or("-"),
                g["verdict"].as_str().unwrap_or("-"),
                g["server"].as_str().unwrap_or("-"),
                g["detail"].as_str().unwrap_or("-"),
            ));
        }
    }
    out
}

fn zones_text(report: &Value) -> String {
    let mut out = String::new();
    let zones = report["zones"].as_array().cloned().unwrap_or_default();
    if !zones.is_empty() {
        out.push_str("\nzones:\n");
        for z in &zones {
            let vars: Vec<String> = z["vars"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("@{k}@={}", v.as_str().unwrap_or("")))
                .collect();
            out.push_str(&format!(
                "  {}  serial {}  {}\n",
                str_of(&z["zone"]),
                z["serial"],
                vars.join(" ")
            ));
            for (addr, what) in z["lagging"].as_object().into_iter().flatten() {
                let what = what.as_str().unwrap_or("");
                out.push_str(&format!("    lagging: secondary {addr} {what}\n"));
            }
        }
    }
    out
}

fn history_text(report: &Value) -> String {
    let mut out = String::new();
    let history = report["history"].as_array().cloned().unwrap_or_default();
    if !history.is_empty() {
        out.push_str("\nrecent changes:\n");
        for h in &history {
            let what = if h["event"] == json!("guard") {
                format!(
                    "{}: guard {} about leaving {}: {}",
                    str_of(&h["pool"]),
                    str_of(&h["verdict"]),
                    str_of(&h["server"]),
                    str_of(&h["detail"])
                )
            } else if h["event"] == json!("switch") {
                format!(
                    "{}: {} -> {}: {}",
                    str_of(&h["pool"]),
                    str_of(&h["from"]),
                    str_of(&h["to"]),
                    str_of(&h["reason"])
                )
            } else {
                let serial =
                    |v: &Value| v.as_u64().map_or_else(|| "none".into(), |s| s.to_string());
                format!(
                    "{}: serial {} -> {}",
                    str_of(&h["zone"]),
                    serial(&h["from_serial"]),
                    serial(&h["to_serial"])
                )
            };
            out.push_str(&format!("  {}  {what}\n", str_of(&h["time"])));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_history_line_is_skipped_and_named() {
        let good = |n: u32| {
            format!(
                "{{\"time\":\"t{n}\",\"event\":\"zone\",\"zone\":\"z\",\"from_serial\":{n},\"to_serial\":{}}}",
                n + 1
            )
        };
        // A fragment glued to nothing (the disk filled mid-append), then a newline-led batch.
        let text = format!(
            "{}\n{}\n{{\"time\":\"t3\",\"ev\n{}\n",
            good(1),
            good(2),
            good(4)
        );
        let (recent, skipped) = last_entries(&text, 10);
        assert_eq!(skipped, [3]);
        let serials: Vec<u64> = recent
            .iter()
            .map(|e| e["from_serial"].as_u64().unwrap())
            .collect();
        assert_eq!(serials, [1, 2, 4]);
        // Only the last `count` readable ones.
        let (recent, _) = last_entries(&text, 2);
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[0]["from_serial"], 2);
        // A fragment at the very end (no newline after it) too.
        let (recent, skipped) = last_entries(&format!("{}\n{{\"ti", good(1)), 10);
        assert_eq!((recent.len(), skipped), (1, vec![2]));
    }

    #[test]
    fn status_works_with_a_torn_history() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();
        std::fs::write(
            state.join("history.jsonl"),
            "{\"time\":\"t\",\"event\":\"sw",
        )
        .unwrap();
        let config = Config::parse(
            &format!(
                "templates = \"t\"\nzones = \"z\"\nstate = \"{}\"\n",
                state.display()
            ),
            &dir.path().join("zonerw.toml"),
        )
        .unwrap();
        assert_eq!(status(&config, true).unwrap(), 0);
    }
}
