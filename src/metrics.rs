//! Prometheus textfile metrics (for the textfile collector of `node_exporter`): pure rendering.

use std::fmt::Write;
use std::time::Duration;

use crate::config::Config;
use crate::decide::ProbeOutcome;
use crate::state::State;

/// Everything one run reports.
#[derive(Debug, Clone)]
pub struct Snapshot<'a> {
    /// The run's config.
    pub config: &'a Config,
    /// When the run ended (Unix seconds, with fractions).
    pub ended: f64,
    /// How long it took.
    pub duration: Duration,
    /// When the last successful run ended: this one if it succeeded, else the previous value.
    pub last_success: Option<f64>,
    /// Whether this run succeeded.
    pub success: bool,
    /// The exit code of this run.
    pub exit_code: u8,
    /// This run's probe outcomes, `[pool][server]`, if it got that far.
    pub outcomes: Option<&'a [Vec<ProbeOutcome>]>,
    /// The state after the run (committed, or the old one after a failure).
    pub state: Option<&'a State>,
}

/// The metric name of the last success, read back from the previous file.
const LAST_SUCCESS: &str = "zonerw_last_success_timestamp_seconds";

/// The last-success time in a previous textfile, if any.
#[must_use]
pub fn previous_success(text: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(LAST_SUCCESS)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// Escape a label value: backslash, double quote and newline (exposition format 0.0.4).
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// One metric family: HELP, TYPE and its samples.
struct Family {
    out: String,
}

impl Family {
    fn new(name: &str, kind: &str, help: &str) -> Self {
        Family {
            out: format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"),
        }
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            let inner: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", label(v)))
                .collect();
            let _ = write!(self.out, "{{{}}}", inner.join(","));
        }
        let _ = writeln!(self.out, " {value}");
    }
}

/// Render the textfile.
#[must_use]
pub fn render(s: &Snapshot<'_>) -> String {
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, value: f64| {
        let mut f = Family::new(name, "gauge", help);
        f.sample(name, &[], value);
        out.push_str(&f.out);
    };
    gauge(
        "zonerw_last_run_timestamp_seconds",
        "When the last zonerw run ended, in seconds since the epoch.",
        s.ended,
    );
    if let Some(t) = s.last_success {
        gauge(
            LAST_SUCCESS,
            "When the last zonerw run that completed without error ended, in seconds since the epoch.",
            t,
        );
    }
    gauge(
        "zonerw_last_run_success",
        "Whether the last zonerw run completed without error (1) or not (0).",
        f64::from(u8::from(s.success)),
    );
    gauge(
        "zonerw_last_run_exit_code",
        "The exit code of the last zonerw run.",
        f64::from(s.exit_code),
    );
    gauge(
        "zonerw_run_duration_seconds",
        "How long the last zonerw run took.",
        s.duration.as_secs_f64(),
    );
    out.push_str(&servers(s));
    out.push_str(&pools_and_zones(s));
    let mut f = Family::new(
        "zonerw_build_info",
        "gauge",
        "The version of zonerw that wrote this file; always 1.",
    );
    f.sample(
        "zonerw_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1,
    );
    out.push_str(&f.out);
    out
}

fn servers(s: &Snapshot<'_>) -> String {
    let mut up = Family::new(
        "zonerw_server_up",
        "gauge",
        "Whether the server passed its check in the last run (1) or not (0); a server without a check counts as up.",
    );
    let mut chosen = Family::new(
        "zonerw_server_chosen",
        "gauge",
        "Whether the server is the one its pool points the zones at (1) or not (0).",
    );
    let mut drained = Family::new(
        "zonerw_server_drained",
        "gauge",
        "Whether the server is drained (zonerw drain): out of its pool's choice while another server is healthy (1) or not (0).",
    );
    let mut pinned = Family::new(
        "zonerw_pool_pinned",
        "gauge",
        "Whether the pool is pinned to the server (zonerw pin), whatever the probes say (1) or not (0).",
    );
    let mut latency = Family::new(
        "zonerw_probe_latency_seconds",
        "gauge",
        "Time of the successful probe attempt in the last run (absent when down or unchecked).",
    );
    for (p, pool) in s.config.pools.iter().enumerate() {
        let ps = s.state.and_then(|st| st.pools.get(&pool.name));
        let current = ps.map(|ps| ps.chosen.as_str());
        let pin = ps
            .and_then(|ps| ps.pinned.as_ref())
            .map(|p| p.server.as_str());
        for (i, server) in pool.servers.iter().enumerate() {
            let labels = [
                ("pool", pool.name.as_str()),
                ("server", server.name.as_str()),
            ];
            let outcome = s.outcomes.and_then(|o| o.get(p)?.get(i));
            if let Some(outcome) = outcome {
                up.sample("zonerw_server_up", &labels, u8::from(outcome.is_up()));
            }
            if let Some(ProbeOutcome::Up { latency: l, .. }) = outcome {
                latency.sample("zonerw_probe_latency_seconds", &labels, l.as_secs_f64());
            }
            let is_chosen = current.map_or(i == 0, |c| c == server.name);
            chosen.sample("zonerw_server_chosen", &labels, u8::from(is_chosen));
            let is_drained = ps.is_some_and(|ps| ps.drained.contains_key(&server.name));
            drained.sample("zonerw_server_drained", &labels, u8::from(is_drained));
            let is_pinned = pin == Some(server.name.as_str());
            pinned.sample("zonerw_pool_pinned", &labels, u8::from(is_pinned));
        }
    }
    [up.out, chosen.out, drained.out, pinned.out, latency.out].concat()
}

fn pools_and_zones(s: &Snapshot<'_>) -> String {
    let mut failovers = Family::new(
        "zonerw_failovers_total",
        "counter",
        "How many times the pool left a server whose check failed.",
    );
    for pool in &s.config.pools {
        let n = s
            .state
            .and_then(|st| st.pools.get(&pool.name))
            .map_or(0, |ps| ps.failovers);
        failovers.sample("zonerw_failovers_total", &[("pool", pool.name.as_str())], n);
    }
    let mut serial = Family::new(
        "zonerw_zone_serial",
        "gauge",
        "The SOA serial of the zone file zonerw last installed.",
    );
    let mut expiry = Family::new(
        "zonerw_zone_signature_expiry_seconds",
        "gauge",
        "When the earliest signature of the signed zone file zonerw last installed expires, in seconds since the epoch; zonerw re-signs it [dnssec] refresh before.",
    );
    let mut signed = false;
    for (zone, z) in s.state.map(|st| &st.zones).into_iter().flatten() {
        serial.sample("zonerw_zone_serial", &[("zone", zone.as_str())], z.serial);
        let at = z.signature_expiry.as_deref();
        if let Some(t) = at.and_then(|t| t.parse::<jiff::Timestamp>().ok()) {
            expiry.sample(
                "zonerw_zone_signature_expiry_seconds",
                &[("zone", zone.as_str())],
                t.as_second(),
            );
            signed = true;
        }
    }
    // Only with signed zones: a setup without [dnssec] gets the file it always got.
    if !signed {
        expiry.out.clear();
    }
    [failovers.out, serial.out, expiry.out].concat()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn renders_every_family_with_help_and_type() {
        let config = Config::parse(
            "[[pool]]\nname = \"web\"\n[[pool.server]]\nname = \"main\"\nipv4 = \"192.0.2.1\"\ncheck = \"http://x/\"\n[[pool.server]]\nname = \"ba\\\"ck\"\nipv4 = \"192.0.2.2\"\n",
            Path::new("/etc/zonerw/zonerw.toml"),
        )
        .unwrap();
        let outcomes = vec![vec![
            ProbeOutcome::Up {
                status: 200,
                latency: Duration::from_millis(12),
            },
            ProbeOutcome::Unchecked,
        ]];
        let text = render(&Snapshot {
            config: &config,
            ended: 1_795_000_000.5,
            duration: Duration::from_millis(250),
            last_success: Some(1_795_000_000.5),
            success: true,
            exit_code: 0,
            outcomes: Some(&outcomes),
            state: None,
        });
        for line in [
            "# TYPE zonerw_failovers_total counter",
            "zonerw_last_run_timestamp_seconds 1795000000.5",
            "zonerw_last_success_timestamp_seconds 1795000000.5",
            "zonerw_run_duration_seconds 0.25",
            "zonerw_server_up{pool=\"web\",server=\"main\"} 1",
            "zonerw_server_up{pool=\"web\",server=\"ba\\\"ck\"} 1",
            "zonerw_server_chosen{pool=\"web\",server=\"main\"} 1",
            "zonerw_probe_latency_seconds{pool=\"web\",server=\"main\"} 0.012",
            "zonerw_failovers_total{pool=\"web\"} 0",
            "zonerw_build_info{version=\"",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        // every sample belongs to a family announced just before it
        let mut family = "";
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                family = rest.split(' ').next().unwrap();
            } else if !line.starts_with('#') {
                assert!(line.starts_with(family), "{line} outside {family}");
            }
        }
        assert_eq!(previous_success(&text), Some(1_795_000_000.5));
        assert_eq!(
            previous_success("zonerw_last_success_timestamp_seconds_x 5\n"),
            None
        );
    }

    fn state() -> State {
        let mut state = State {
            version: crate::state::STATE_VERSION,
            ..State::default()
        };
        state.pools.insert(
            "web".into(),
            crate::state::PoolState {
                chosen: "backup".into(),
                failovers: 2,
                pinned: Some(crate::state::Pin {
                    server: "backup".into(),
                    since: "2026-11-29T10:00:00Z".into(),
                    until: None,
                    reason: None,
                }),
                drained: [(
                    "main".to_owned(),
                    crate::state::Drain {
                        since: "2026-11-29T10:00:00Z".into(),
                        until: None,
                        reason: None,
                    },
                )]
                .into(),
                ..Default::default()
            },
        );
        for (zone, serial) in [("example.com", 2_026_112_301), ("a.example", 7)] {
            state.zones.insert(
                zone.into(),
                crate::state::ZoneState {
                    serial,
                    ..Default::default()
                },
            );
        }
        state
    }

    #[test]
    fn signed_zones_report_their_signature_expiry() {
        let config = crate::testing::config();
        let mut state = state();
        state.zones.get_mut("example.com").unwrap().signature_expiry =
            Some("2026-12-13T17:40:06Z".into());
        let text = render(&Snapshot {
            config: &config,
            ended: 5.0,
            duration: Duration::ZERO,
            last_success: None,
            success: true,
            exit_code: 0,
            outcomes: None,
            state: Some(&state),
        });
        let family: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.contains("zonerw_zone_signature_expiry_seconds"))
            .take(3)
            .collect();
        assert_eq!(
            family,
            [
                "# HELP zonerw_zone_signature_expiry_seconds When the earliest signature of the signed zone file zonerw last installed expires, in seconds since the epoch; zonerw re-signs it [dnssec] refresh before.",
                "# TYPE zonerw_zone_signature_expiry_seconds gauge",
                "zonerw_zone_signature_expiry_seconds{zone=\"example.com\"} 1797183606",
            ]
        );
        assert_eq!(
            text.matches("zonerw_zone_signature_expiry_seconds{")
                .count(),
            1,
            "unsigned zones have none"
        );
    }

    #[test]
    fn renders_a_failed_run_after_a_failover_exactly() {
        let config = crate::testing::config();
        let outcomes = vec![vec![crate::testing::down(), ProbeOutcome::Unchecked]];
        let state = state();
        let text = render(&Snapshot {
            config: &config,
            ended: 1_795_000_060.25,
            duration: Duration::from_millis(1500),
            last_success: Some(1_795_000_000.0),
            success: false,
            exit_code: 1,
            outcomes: Some(&outcomes),
            state: Some(&state),
        });
        let version = env!("CARGO_PKG_VERSION");
        let want = format!(
            "\
# HELP zonerw_last_run_timestamp_seconds When the last zonerw run ended, in seconds since the epoch.
# TYPE zonerw_last_run_timestamp_seconds gauge
zonerw_last_run_timestamp_seconds 1795000060.25
# HELP zonerw_last_success_timestamp_seconds When the last zonerw run that completed without error ended, in seconds since the epoch.
# TYPE zonerw_last_success_timestamp_seconds gauge
zonerw_last_success_timestamp_seconds 1795000000
# HELP zonerw_last_run_success Whether the last zonerw run completed without error (1) or not (0).
# TYPE zonerw_last_run_success gauge
zonerw_last_run_success 0
# HELP zonerw_last_run_exit_code The exit code of the last zonerw run.
# TYPE zonerw_last_run_exit_code gauge
zonerw_last_run_exit_code 1
# HELP zonerw_run_duration_seconds How long the last zonerw run took.
# TYPE zonerw_run_duration_seconds gauge
zonerw_run_duration_seconds 1.5
# HELP zonerw_server_up Whether the server passed its check in the last run (1) or not (0); a server without a check counts as up.
# TYPE zonerw_server_up gauge
zonerw_server_up{{pool=\"web\",server=\"main\"}} 0
zonerw_server_up{{pool=\"web\",server=\"backup\"}} 1
# HELP zonerw_server_chosen Whether the server is the one its pool points the zones at (1) or not (0).
# TYPE zonerw_server_chosen gauge
zonerw_server_chosen{{pool=\"web\",server=\"main\"}} 0
zonerw_server_chosen{{pool=\"web\",server=\"backup\"}} 1
# HELP zonerw_server_drained Whether the server is drained (zonerw drain): out of its pool's choice while another server is healthy (1) or not (0).
# TYPE zonerw_server_drained gauge
zonerw_server_drained{{pool=\"web\",server=\"main\"}} 1
zonerw_server_drained{{pool=\"web\",server=\"backup\"}} 0
# HELP zonerw_pool_pinned Whether the pool is pinned to the server (zonerw pin), whatever the probes say (1) or not (0).
# TYPE zonerw_pool_pinned gauge
zonerw_pool_pinned{{pool=\"web\",server=\"main\"}} 0
zonerw_pool_pinned{{pool=\"web\",server=\"backup\"}} 1
# HELP zonerw_probe_latency_seconds Time of the successful probe attempt in the last run (absent when down or unchecked).
# TYPE zonerw_probe_latency_seconds gauge
# HELP zonerw_failovers_total How many times the pool left a server whose check failed.
# TYPE zonerw_failovers_total counter
zonerw_failovers_total{{pool=\"web\"}} 2
# HELP zonerw_zone_serial The SOA serial of the zone file zonerw last installed.
# TYPE zonerw_zone_serial gauge
zonerw_zone_serial{{zone=\"a.example\"}} 7
zonerw_zone_serial{{zone=\"example.com\"}} 2026112301
# HELP zonerw_build_info The version of zonerw that wrote this file; always 1.
# TYPE zonerw_build_info gauge
zonerw_build_info{{version=\"{version}\"}} 1
"
        );
        assert_eq!(text, want);
    }

    #[test]
    fn a_run_that_stopped_early_reports_what_it_knows() {
        // No probes, no state, never a success: the first server counts as chosen.
        let config = crate::testing::config();
        let text = render(&Snapshot {
            config: &config,
            ended: 5.0,
            duration: Duration::ZERO,
            last_success: None,
            success: false,
            exit_code: 2,
            outcomes: None,
            state: None,
        });
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            [
                "zonerw_last_run_timestamp_seconds 5",
                "zonerw_last_run_success 0",
                "zonerw_last_run_exit_code 2",
                "zonerw_run_duration_seconds 0",
                "zonerw_server_chosen{pool=\"web\",server=\"main\"} 1",
                "zonerw_server_chosen{pool=\"web\",server=\"backup\"} 0",
                "zonerw_server_drained{pool=\"web\",server=\"main\"} 0",
                "zonerw_server_drained{pool=\"web\",server=\"backup\"} 0",
                "zonerw_pool_pinned{pool=\"web\",server=\"main\"} 0",
                "zonerw_pool_pinned{pool=\"web\",server=\"backup\"} 0",
                "zonerw_failovers_total{pool=\"web\"} 0",
                &format!(
                    "zonerw_build_info{{version=\"{}\"}} 1",
                    env!("CARGO_PKG_VERSION")
                ),
            ]
        );
        assert!(!text.contains(LAST_SUCCESS));
        assert_eq!(previous_success(&text), None);
    }

    #[test]
    fn previous_success_reads_only_its_own_sample() {
        let cases = [
            (
                "zonerw_last_success_timestamp_seconds 1795000000.5\n",
                Some(1_795_000_000.5),
            ),
            ("zonerw_last_success_timestamp_seconds 12 \n", Some(12.0)),
            (
                "# HELP zonerw_last_success_timestamp_seconds When.\nzonerw_last_run_success 1\nzonerw_last_success_timestamp_seconds 7\n",
                Some(7.0),
            ),
            ("zonerw_last_success_timestamp_seconds{x=\"y\"} 7\n", None),
            ("zonerw_last_success_timestamp_seconds\n", None),
            ("zonerw_last_success_timestamp_seconds soon\n", None),
            (" zonerw_last_success_timestamp_seconds 7\n", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(previous_success(text), want, "{text:?}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        let cases = [
            ("web", "web"),
            ("a\"b", "a\\\"b"),
            ("a\\b", "a\\\\b"),
            ("a\nb", "a\\nb"),
            ("\\\"\n", "\\\\\\\"\\n"),
            ("é ü", "é ü"),
        ];
        for (value, want) in cases {
            assert_eq!(label(value), want, "{value:?}");
        }
    }
}
