//! HTTP(S) health checks with hard time bounds, pinned to the server's own address.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use ureq::Agent;
use ureq::config::Config as AgentConfig;
use ureq::http::Uri;
use ureq::tls::TlsConfig;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use crate::config::{CheckSettings, Config, StatusRange, default_port};
use crate::decide::ProbeOutcome;
use crate::duration;

/// How much of the body a check reads at most.
pub const BODY_LIMIT: u64 = 64 * 1024;

/// What one probe needs to know.
#[derive(Debug, Clone)]
pub struct Check {
    /// The URL to fetch.
    pub url: String,
    /// Connect here instead of resolving the URL's host (port from the URL).
    pub connect: Option<IpAddr>,
    /// Bound on each attempt: connect + TLS + headers + body.
    pub timeout: Duration,
    /// Attempts before giving up.
    pub attempts: u32,
    /// Acceptable statuses.
    pub expect_status: StatusRange,
    /// Required substring of the first 64 KiB of the body ("" = none).
    pub expect_body: String,
    /// Verify TLS certificates.
    pub tls_verify: bool,
}

impl Check {
    /// The check of a configured server, pinned to `address`.
    #[must_use]
    pub fn configured(url: &str, address: IpAddr, settings: &CheckSettings) -> Self {
        Check {
            url: url.to_owned(),
            connect: Some(address),
            timeout: settings.timeout,
            attempts: settings.attempts,
            expect_status: settings.expect_status,
            expect_body: settings.expect_body.clone(),
            tls_verify: settings.tls_verify,
        }
    }
}

/// A resolver that always answers with one fixed address (like `curl --resolve`), so the
/// Host header and TLS name still come from the URL while DNS is never consulted.
#[derive(Debug)]
struct Pinned(IpAddr);

impl Resolver for Pinned {
    fn resolve(
        &self,
        uri: &Uri,
        _config: &AgentConfig,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        // Every URL probed passed `CheckUrl` (http or https), and ureq refuses other schemes
        // before it resolves, so the error is for completeness only.
        let port = uri
            .port_u16()
            .or_else(|| uri.scheme_str().and_then(default_port))
            .ok_or_else(|| ureq::Error::BadUri(format!("{uri}: not an http or https URL")))?;
        let mut addrs = self.empty();
        addrs.push(SocketAddr::new(self.0, port));
        Ok(addrs)
    }
}

fn agent(check: &Check) -> Agent {
    let config = Agent::config_builder()
        // cron may run with *_proxy set; a health check must go straight to the server.
        .proxy(None)
        .timeout_global(Some(check.timeout))
        .http_status_as_error(false)
        // With a pinned address a redirect would still go to the pinned IP: judge the 3xx.
        .max_redirects(0)
        .max_redirects_will_error(false)
        .user_agent(concat!("zonerw/", env!("CARGO_PKG_VERSION")))
        .tls_config(
            TlsConfig::builder()
                .disable_verification(!check.tls_verify)
                .build(),
        )
        .build();
    match check.connect {
        Some(ip) => Agent::with_parts(config, DefaultConnector::new(), Pinned(ip)),
        None => Agent::with_parts(config, DefaultConnector::new(), DefaultResolver::default()),
    }
}

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// In words.
    pub reason: String,
    /// The failure is on our side (no route, no DNS), so it says nothing about the server.
    pub local: bool,
}

impl Failure {
    fn remote(reason: String) -> Self {
        Failure {
            reason,
            local: false,
        }
    }
}

/// One attempt, ignoring `attempts`: the HTTP status and latency, or why it failed.
pub fn probe_once(check: &Check) -> Result<(u16, Duration), Failure> {
    let start = Instant::now();
    bounded_attempt(&agent(check), &Arc::new(check.clone())).map(|s| (s, start.elapsed()))
}

/// Run the check up to `attempts` times; the first success wins.
#[must_use]
pub fn probe(check: &Check) -> ProbeOutcome {
    let agent = agent(check);
    let check = Arc::new(check.clone());
    let mut last = String::new();
    for _ in 0..check.attempts {
        let start = Instant::now();
        match bounded_attempt(&agent, &check) {
            Ok(status) => {
                return ProbeOutcome::Up {
                    status,
                    latency: start.elapsed(),
                };
            }
            Err(failure) => last = failure.reason,
        }
    }
    ProbeOutcome::Down {
        reason: format!("failed {0}/{0} attempts: {last}", check.attempts),
    }
}

/// One attempt with a hard deadline. ureq's global timeout is checked between reads, so a
/// server trickling a byte now and then can stretch it; here the attempt runs on its own
/// thread and is abandoned at the deadline (the thread dies with the process at the latest).
fn bounded_attempt(agent: &Agent, check: &Arc<Check>) -> Result<u16, Failure> {
    let (tx, rx) = mpsc::channel();
    let (agent, thread_check) = (agent.clone(), Arc::clone(check));
    thread::spawn(move || {
        let _ = tx.send(attempt(&agent, &thread_check));
    });
    rx.recv_timeout(check.timeout).unwrap_or_else(|_| {
        let reason = format!("timed out after {}", duration::format(check.timeout));
        Err(Failure::remote(reason))
    })
}

fn attempt(agent: &Agent, check: &Check) -> Result<u16, Failure> {
    let mut response = agent
        .get(&check.url)
        .call()
        .map_err(|e| describe_error(&e, check.timeout))?;
    let status = response.status().as_u16();
    if !check.expect_status.contains(status) {
        let reason = format!("HTTP {status} (expected {})", check.expect_status);
        return Err(Failure::remote(reason));
    }
    if !check.expect_body.is_empty() {
        let mut body = Vec::new();
        response
            .body_mut()
            .as_reader()
            .take(BODY_LIMIT)
            .read_to_end(&mut body)
            .map_err(|e| {
                Failure::remote(match ureq::Error::from(e) {
                    ureq::Error::Timeout(_) => {
                        format!("timed out after {}", duration::format(check.timeout))
                    }
                    e => format!("reading body: {e}"),
                })
            })?;
        let needle = check.expect_body.as_bytes();
        if !body.windows(needle.len()).any(|w| w == needle) {
            return Err(Failure::remote(format!(
                "HTTP {status} but the body does not contain {:?}",
                check.expect_body
            )));
        }
    }
    Ok(status)
}

fn describe_error(error: &ureq::Error, timeout: Duration) -> Failure {
    let local = match error {
        ureq::Error::HostNotFound => true,
        // std reports a failed name lookup as an uncategorised io::Error.
        ureq::Error::Io(e) => {
            e.kind() == std::io::ErrorKind::NetworkUnreachable
                || e.to_string().contains("failed to lookup address")
        }
        _ => false,
    };
    let reason = match error {
        ureq::Error::Timeout(_) => format!("timed out after {}", duration::format(timeout)),
        ureq::Error::Io(e) => format!("connect: {e}"),
        ureq::Error::ConnectionFailed => "connect: connection failed".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        e => e.to_string(),
    };
    Failure { reason, local }
}

/// Probe every server of every pool at once; results are indexed `[pool][server]`.
///
/// All probes run concurrently, so a run takes as long as its slowest server, not the sum.
#[must_use]
pub fn probe_all(config: &Config) -> Vec<Vec<ProbeOutcome>> {
    std::thread::scope(|scope| {
        let handles: Vec<Vec<_>> = config
            .pools
            .iter()
            .map(|pool| {
                pool.servers
                    .iter()
                    .map(|server| {
                        server.check.as_ref().map(|url| {
                            let check = Check::configured(&url.text, server.address(), &pool.check);
                            scope.spawn(move || probe(&check))
                        })
                    })
                    .collect()
            })
            .collect();
        handles
            .into_iter()
            .map(|pool| {
                pool.into_iter()
                    .map(|h| match h {
                        None => ProbeOutcome::Unchecked,
                        Some(h) => h.join().unwrap_or_else(|_| ProbeOutcome::Down {
                            reason: "probe thread panicked".into(),
                        }),
                    })
                    .collect()
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_address_gets_the_urls_port_or_its_schemes_default() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let config = Agent::config_builder().build();
        for (url, port) in [
            ("http://www.example.com/up", 80),
            ("https://www.example.com/up", 443),
            ("https://www.example.com:8443/up", 8443),
            ("http://[2001:db8::1]:8080/up", 8080),
        ] {
            let uri: Uri = url.parse().unwrap();
            let addrs = Pinned(ip)
                .resolve(&uri, &config, NextTimeout::default())
                .unwrap();
            assert_eq!(addrs.as_ref(), [SocketAddr::new(ip, port)], "{url}");
        }
    }
}
