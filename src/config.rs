//! The config file: `Spec` is the serde shape of the TOML, `Config` the typed, validated result.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use ureq::http::Uri;

use crate::error::{Error, Result};

/// Default directory of the templates.
pub(crate) const DEFAULT_TEMPLATES: &str = "/etc/zonerw/templates";
/// Default directory the rendered zones are installed into.
pub(crate) const DEFAULT_ZONES: &str = "/var/lib/nsd/zonerw";
/// Default state directory.
pub(crate) const DEFAULT_STATE: &str = "/var/lib/zonerw";
/// Default bound on each call of the primary's control tool and checker.
pub(crate) const DEFAULT_SERVER_TIMEOUT: Duration = Duration::from_secs(30);
/// Default bound on one probe attempt.
pub(crate) const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// Default number of probe attempts per run.
pub(crate) const DEFAULT_ATTEMPTS: u32 = 2;
/// Default bound on each reference fetch, witness and hook.
pub(crate) const DEFAULT_GUARD_TIMEOUT: Duration = Duration::from_secs(20);
/// Default bound on each propagation wait.
pub(crate) const DEFAULT_VERIFY_TIMEOUT: Duration = Duration::from_secs(10);
/// Default marker of a pool.
pub(crate) const DEFAULT_MARKER: &str = "IP";
/// Default directory of the DNSSEC keys.
pub(crate) const DEFAULT_KEYS: &str = "/etc/zonerw/keys";
/// Default signer (the ldns tools of `NLnet` Labs, Debian package `ldnsutils`).
pub(crate) const DEFAULT_SIGNER: &str = "ldns-signzone";
/// Default checker of the signed zone.
pub(crate) const DEFAULT_VERIFIER: &str = "ldns-verify-zone";
/// Default signature lifetime.
pub const DEFAULT_VALIDITY: Duration = Duration::from_hours(14 * 24);
/// Default re-sign margin: a zone is re-signed when its signatures expire within it.
pub const DEFAULT_REFRESH: Duration = Duration::from_hours(5 * 24);
/// The longest `validity` (and `refresh`): a year and a day.
const MAX_VALIDITY: Duration = Duration::from_hours(366 * 24);

// ---------------------------------------------------------------- the file's shape

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Spec {
    templates: Option<PathBuf>,
    zones: Option<PathBuf>,
    state: Option<PathBuf>,
    #[serde(default)]
    serial: SerialSpec,
    nsd: Option<NsdSpec>,
    server: Option<PrimarySpec>,
    #[serde(default, rename = "pool")]
    pools: Vec<PoolSpec>,
    guard: Option<GuardSpec>,
    verify: Option<VerifySpec>,
    #[serde(default)]
    hooks: HooksSpec,
    #[serde(default)]
    metrics: MetricsSpec,
    dnssec: Option<DnssecSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct DnssecSpec {
    keys: Option<PathBuf>,
    signer: Option<String>,
    verifier: Option<String>,
    #[serde(default)]
    denial: Denial,
    validity: Option<toml::Spanned<LongDur>>,
    refresh: Option<toml::Spanned<LongDur>>,
    #[serde(default)]
    unsigned: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct MetricsSpec {
    textfile: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct GuardSpec {
    #[serde(default)]
    reference: Vec<CheckUrl>,
    #[serde(default)]
    witnesses: Vec<Argv>,
    timeout: Option<Dur>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct VerifySpec {
    primary: Option<DnsServer>,
    #[serde(default)]
    secondaries: Vec<DnsServer>,
    timeout: Option<Dur>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct HooksSpec {
    on_change: Option<Argv>,
}

/// A command as an argument vector with at least the program.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "Vec<String>")]
struct Argv(Vec<String>);

impl TryFrom<Vec<String>> for Argv {
    type Error = String;
    fn try_from(argv: Vec<String>) -> Result<Self, String> {
        match argv.first() {
            Some(program) if !program.is_empty() => Ok(Argv(argv)),
            _ => Err("a command needs at least a program, e.g. [\"/usr/local/bin/alert\"]".into()),
        }
    }
}

/// A DNS server address: `192.0.2.1:53`, `[2001:db8::1]:53`, or an address alone (port 53).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "String")]
struct DnsServer(SocketAddr);

impl TryFrom<String> for DnsServer {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        if let Ok(addr) = text.parse::<SocketAddr>() {
            if addr.port() == 0 {
                return Err(format!(
                    "invalid DNS server {text:?}: port 0 is not a port; write e.g. \"192.0.2.1:53\""
                ));
            }
            return Ok(DnsServer(addr));
        }
        text.parse::<IpAddr>()
            .map(|ip| DnsServer(SocketAddr::new(ip, 53)))
            .map_err(|_| format!("invalid DNS server {text:?}: write e.g. \"192.0.2.1:53\" or \"[2001:db8::1]:53\""))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct SerialSpec {
    #[serde(default)]
    scheme: Scheme,
    #[serde(default)]
    clock: Clock,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct NsdSpec {
    control: Option<Vec<String>>,
    add_pattern: Option<String>,
    checkzone: Option<String>,
    timeout: Option<Dur>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct PrimarySpec {
    #[serde(default)]
    kind: Kind,
    control: Option<Vec<String>>,
    check: Option<Vec<String>>,
    timeout: Option<Dur>,
    add_template: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct PoolSpec {
    name: String,
    marker: Option<Marker>,
    fall: Option<Count>,
    rise: Option<Count>,
    #[serde(default, rename = "server")]
    servers: Vec<ServerSpec>,
    #[serde(default)]
    check: CheckSpec,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct ServerSpec {
    name: String,
    ipv4: Option<Ipv4Addr>,
    ipv6: Option<Ipv6Addr>,
    check: Option<CheckUrl>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct CheckSpec {
    timeout: Option<Dur>,
    attempts: Option<Count>,
    expect_status: Option<StatusRange>,
    expect_body: Option<String>,
    tls_verify: Option<bool>,
}

/// A marker name as the config writes it: checked while deserializing, so that an error
/// names the file and line.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
struct Marker(String);

impl TryFrom<String> for Marker {
    type Error = String;
    fn try_from(name: String) -> Result<Self, String> {
        // Spaces inside a name are allowed (templates may write `@my ip@`), but a leading or
        // trailing one is invisible in the config and almost surely a typo.
        if name.starts_with(' ') || name.ends_with(' ') {
            return Err(format!(
                "marker {name:?}: must not start or end with a space"
            ));
        }
        if !crate::template::is_marker_name(&name) || name.starts_with("serial") {
            return Err(format!(
                "marker {name:?} is not a usable marker name (a letter, then letters, digits, _ or spaces; not \"serial\")"
            ));
        }
        Ok(Marker(name))
    }
}

/// A duration written like "500ms", "5s", "2m" or "1h".
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "String")]
struct Dur(Duration);

impl TryFrom<String> for Dur {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        crate::duration::parse(&text).map(Dur)
    }
}

/// A long duration written like "14d", "5d", "36h" or "1d12h".
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "String")]
struct LongDur(Duration);

impl TryFrom<String> for LongDur {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        crate::duration::parse_long(&text, MAX_VALIDITY).map(LongDur)
    }
}

/// A count of at least 1.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "i64")]
struct Count(u32);

impl TryFrom<i64> for Count {
    type Error = String;
    fn try_from(n: i64) -> Result<Self, String> {
        match u32::try_from(n) {
            Ok(n) if n >= 1 => Ok(Count(n)),
            _ => Err(format!("must be a whole number of at least 1, not {n}")),
        }
    }
}

// ---------------------------------------------------------------- typed config

/// How new serials are made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// `YYYYMMDDnn`.
    #[default]
    Date,
    /// Seconds since the epoch.
    Unixtime,
    /// Previous + 1.
    Counter,
}

/// Which calendar day the `date` scheme uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Clock {
    /// UTC.
    #[default]
    Utc,
    /// The system's local time zone.
    Local,
}

/// How a signed zone proves that a name or type does not exist.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Denial {
    /// NSEC3 with the parameters of RFC 9276: SHA-1, no extra iterations, no salt, no
    /// opt-out (`NSEC3PARAM 1 0 0 -`).
    #[default]
    Nsec3,
    /// NSEC (the zone's names can be listed by walking it).
    Nsec,
}

/// An acceptable HTTP status range such as 200-399.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct StatusRange {
    /// Lowest acceptable status.
    pub low: u16,
    /// Highest acceptable status.
    pub high: u16,
}

impl StatusRange {
    /// The default range, 200-399.
    pub(crate) const DEFAULT: StatusRange = StatusRange {
        low: 200,
        high: 399,
    };

    /// Whether `status` is in the range.
    #[must_use]
    pub fn contains(self, status: u16) -> bool {
        (self.low..=self.high).contains(&status)
    }
}

impl TryFrom<String> for StatusRange {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let bad = || format!("invalid status range {text:?}: write e.g. \"200\" or \"200-399\"");
        let (low, high) = text.split_once('-').unwrap_or((&text, &text));
        let low: u16 = low.trim().parse().map_err(|_| bad())?;
        let high: u16 = high.trim().parse().map_err(|_| bad())?;
        if !(100..=999).contains(&low) || !(100..=999).contains(&high) || low > high {
            return Err(bad());
        }
        Ok(StatusRange { low, high })
    }
}

impl std::fmt::Display for StatusRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.low == self.high {
            write!(f, "{}", self.low)
        } else {
            write!(f, "{}-{}", self.low, self.high)
        }
    }
}

/// A parsed http(s) check URL.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct CheckUrl {
    /// The URL as written.
    pub text: String,
    /// The host name of the URL (sent as Host and TLS SNI).
    pub host: String,
    /// The TCP port (explicit, or 80/443).
    pub port: u16,
}

impl TryFrom<String> for CheckUrl {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        if !text.contains("://") {
            return Err(format!(
                "invalid URL {text:?}: must start with http:// or https://, e.g. \"http://{text}\""
            ));
        }
        let uri: Uri = text
            .parse()
            .map_err(|e| format!("invalid URL {text:?}: {e}"))?;
        let Some(default_port) = uri.scheme_str().and_then(default_port) else {
            return Err(format!(
                "invalid URL {text:?}: must start with http:// or https://"
            ));
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("invalid URL {text:?}: no host"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = match explicit_port(uri.authority().map_or("", |a| a.as_str())) {
            None => default_port,
            Some(p) => match p.parse::<u16>() {
                Ok(port) if port > 0 => port,
                _ => {
                    return Err(format!(
                        "invalid URL {text:?}: port {p:?} is not a port number from 1 to 65535"
                    ));
                }
            },
        };
        Ok(CheckUrl { text, host, port })
    }
}

/// The port a URL of `scheme` means when it names none: 80 for http, 443 for https. None
/// for any other scheme, which zonerw does not probe. The one place that decides it, for
/// the config check and the probe alike.
#[must_use]
pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// The port written in a URL authority (`user@host:port`, `[v6]:port`), if any; the
/// http crate's `port_u16` silently drops one that is not a u16 (e.g. 99999).
fn explicit_port(authority: &str) -> Option<&str> {
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let after_host = match host_port.rfind(']') {
        Some(end) => &host_port[end + 1..],
        None => host_port,
    };
    after_host.split_once(':').map(|(_, port)| port)
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file it came from.
    pub path: PathBuf,
    /// Directory of the templates.
    pub templates: PathBuf,
    /// Directory the zones are installed into (NSD's zonesdir or below).
    pub zones: PathBuf,
    /// State directory.
    pub state: PathBuf,
    /// Serial scheme.
    pub scheme: Scheme,
    /// Clock of the date scheme.
    pub clock: Clock,
    /// The primary DNS server zonerw installs zones for (`[server]`, or `[nsd]`).
    pub primary: Primary,
    /// Failover pools.
    pub pools: Vec<Pool>,
    /// Guard against false failovers (None = no guard).
    pub guard: Option<Guard>,
    /// Verify propagation after a reload (None = do not verify).
    pub verify: Option<Verify>,
    /// Command run after every committed pool switch.
    pub on_change: Option<Vec<String>>,
    /// Bound on each reference fetch, witness and hook.
    pub guard_timeout: Duration,
    /// Prometheus textfile written at the end of every run.
    pub metrics_textfile: Option<PathBuf>,
    /// `[dnssec]`: sign the zones that have keys (None = no table: nothing is signed and
    /// no keys directory is read).
    pub dnssec: Option<Dnssec>,
}

/// `[dnssec]`: which zones are signed, with what, and for how long.
#[derive(Debug, Clone)]
pub struct Dnssec {
    /// Directory of the keys: a zone with `K<zone>.+<alg>+<id>.key` files here is signed.
    pub keys: PathBuf,
    /// The signer (argv\[0\]); called with ldns-signzone's arguments.
    pub signer: String,
    /// The checker of the signed zone (argv\[0\]); called as ldns-verify-zone.
    pub verifier: String,
    /// NSEC3 or NSEC.
    pub denial: Denial,
    /// Signature lifetime.
    pub validity: Duration,
    /// Re-sign when the earliest signature expires within this.
    pub refresh: Duration,
    /// Zones to serve unsigned although they were signed (the explicit step that turns
    /// DNSSEC off for a zone), as [`zone_key`] writes them.
    pub unsigned: Vec<String>,
}

impl Dnssec {
    /// Whether `[dnssec] unsigned` lists `zone`.
    #[must_use]
    pub fn lists_unsigned(&self, zone: &str) -> bool {
        let key = zone_key(zone);
        self.unsigned.contains(&key)
    }
}

/// A zone name compared as DNS compares names: ASCII case ignored, one trailing dot
/// ignored (`Example.COM.` is `example.com`; `.` stays the root).
#[must_use]
pub fn zone_key(name: &str) -> String {
    let name = if name.len() > 1 {
        name.strip_suffix('.').unwrap_or(name)
    } else {
        name
    };
    name.to_ascii_lowercase()
}

/// `[guard]`: second opinions before leaving a server whose check failed.
#[derive(Debug, Clone)]
pub struct Guard {
    /// URLs that prove our own link works (any HTTP response).
    pub reference: Vec<CheckUrl>,
    /// Commands that probe the server from elsewhere: exit 0 = reachable, 1 = not.
    pub witnesses: Vec<Vec<String>>,
}

/// `[verify]`: where to check that a change was served.
#[derive(Debug, Clone)]
pub struct Verify {
    /// The local NSD.
    pub primary: Option<SocketAddr>,
    /// The secondaries.
    pub secondaries: Vec<SocketAddr>,
    /// Bound on each wait.
    pub timeout: Duration,
}

/// Which DNS server is the primary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `NLnet` Labs' NSD (the default).
    #[default]
    Nsd,
    /// CZ.NIC's Knot DNS.
    Knot,
    /// ISC's BIND 9.
    Bind,
}

impl Kind {
    /// The server's name in messages: `NSD`, `Knot DNS`, `BIND`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Kind::Nsd => "NSD",
            Kind::Knot => "Knot DNS",
            Kind::Bind => "BIND",
        }
    }

    /// The control tool a kind uses when `control` is not set.
    #[must_use]
    pub fn default_control(self) -> &'static str {
        match self {
            Kind::Nsd => "nsd-control",
            Kind::Knot => "knotc",
            Kind::Bind => "rndc",
        }
    }

    /// The zone checker a kind uses when `check` is not set.
    #[must_use]
    pub fn default_check(self) -> &'static str {
        match self {
            Kind::Nsd => "nsd-checkzone",
            Kind::Knot => "kzonecheck",
            Kind::Bind => "named-checkzone",
        }
    }
}

/// How to call the primary DNS server's tools: `[server]` (or the older `[nsd]`).
#[derive(Debug, Clone)]
pub struct Primary {
    /// NSD, Knot DNS or BIND.
    pub kind: Kind,
    /// The table it was configured in, for messages: `[server]` or `[nsd]`.
    pub table: &'static str,
    /// argv prefix of the control tool (nsd-control, knotc, rndc).
    pub control: Vec<String>,
    /// argv prefix of the zone checker, or None to skip the check.
    pub check: Option<Vec<String>>,
    /// Bound on each call.
    pub timeout: Duration,
    /// For zones the server does not know yet: NSD's pattern, Knot's template, BIND's
    /// `rndc addzone` options. None: such zones are refused.
    pub add_template: Option<String>,
}

impl Primary {
    /// The server's name in messages: `NSD`, `Knot DNS`, `BIND`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The key of a setting in messages: `[server] check`, `[nsd] checkzone`.
    #[must_use]
    pub fn key(&self, key: &str) -> String {
        let key = match (self.table, key) {
            ("[nsd]", "check") => "checkzone",
            ("[nsd]", "add-template") => "add-pattern",
            _ => key,
        };
        format!("{} {key}", self.table)
    }

    /// The checker's program (argv\[0\]), if zones are checked.
    #[must_use]
    pub fn checker(&self) -> Option<&str> {
        self.check.as_ref().map(|c| c[0].as_str())
    }
}

/// One failover decision.
#[derive(Debug, Clone)]
pub struct Pool {
    /// Name of the pool.
    pub name: String,
    /// Marker name: fills `@<marker>@` (IPv4) and `@<marker>6@` (IPv6).
    pub marker: String,
    /// Consecutive failed runs before leaving a server.
    pub fall: u32,
    /// Consecutive good runs before returning to a better server.
    pub rise: u32,
    /// Servers in priority order.
    pub servers: Vec<Server>,
    /// Probe tuning.
    pub check: CheckSettings,
}

/// A server of a pool.
#[derive(Debug, Clone)]
pub struct Server {
    /// Name of the server.
    pub name: String,
    /// IPv4 address.
    pub ipv4: Option<Ipv4Addr>,
    /// IPv6 address.
    pub ipv6: Option<Ipv6Addr>,
    /// Check URL; None = always healthy.
    pub check: Option<CheckUrl>,
}

impl Server {
    /// The address probes connect to and messages show: IPv4 first, else IPv6.
    #[must_use]
    pub fn address(&self) -> IpAddr {
        match (self.ipv4, self.ipv6) {
            (Some(v4), _) => IpAddr::V4(v4),
            (None, Some(v6)) => IpAddr::V6(v6),
            (None, None) => unreachable!("config validation requires an address"),
        }
    }
}

/// Probe tuning of a pool.
#[derive(Debug, Clone)]
pub struct CheckSettings {
    /// Bound on one attempt.
    pub timeout: Duration,
    /// Attempts per run.
    pub attempts: u32,
    /// Acceptable status range.
    pub expect_status: StatusRange,
    /// Substring required in the first 64 KiB of the body.
    pub expect_body: String,
    /// Verify TLS certificates.
    pub tls_verify: bool,
}

impl Config {
    /// Read and parse the config file at `path`.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::config(path, format!("cannot read config file: {e}")))?;
        let config = Config::parse(&text, path)?;
        // Parsing compared the paths as written; now compare them as the file system
        // resolves them (a link can put one directory inside another).
        check_directories_apart(
            &[
                ("templates", &config.templates),
                ("zones", &config.zones),
                ("state", &config.state),
            ],
            path,
            real_path,
        )?;
        Ok(config)
    }

    /// Parse config text; relative paths resolve against the directory of `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let spec: Spec = toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let resolve = |p: Option<PathBuf>, default: &str| {
            let p = p.unwrap_or_else(|| PathBuf::from(default));
            if p.is_absolute() { p } else { base.join(p) }
        };
        let primary = primary_from_spec(spec.nsd, spec.server, path)?;
        let pools = spec
            .pools
            .into_iter()
            .enumerate()
            .map(|(i, p)| pool_from_spec(p, i, path))
            .collect::<Result<Vec<_>>>()?;
        check_pools_unique(&pools, path)?;
        let dnssec = spec
            .dnssec
            .map(|d| dnssec_from_spec(d, path, text, &resolve))
            .transpose()?;
        let templates = resolve(spec.templates, DEFAULT_TEMPLATES);
        let zones = resolve(spec.zones, DEFAULT_ZONES);
        let state = resolve(spec.state, DEFAULT_STATE);
        check_directories_apart(
            &[
                ("templates", &templates),
                ("zones", &zones),
                ("state", &state),
            ],
            path,
            lexical_path,
        )?;
        Ok(Config {
            path: path.to_owned(),
            templates,
            zones,
            state,
            scheme: spec.serial.scheme,
            clock: spec.serial.clock,
            primary,
            pools,
            guard_timeout: spec
                .guard
                .as_ref()
                .and_then(|g| g.timeout)
                .map_or(DEFAULT_GUARD_TIMEOUT, |d| d.0),
            guard: spec
                .guard
                .map(|g| Guard {
                    reference: g.reference,
                    witnesses: g.witnesses.into_iter().map(|a| a.0).collect(),
                })
                .filter(|g| !g.reference.is_empty() || !g.witnesses.is_empty()),
            verify: spec.verify.map(|v| Verify {
                primary: v.primary.map(|d| d.0),
                secondaries: v.secondaries.into_iter().map(|d| d.0).collect(),
                timeout: v.timeout.map_or(DEFAULT_VERIFY_TIMEOUT, |d| d.0),
            }),
            on_change: spec.hooks.on_change.map(|a| a.0),
            metrics_textfile: spec.metrics.textfile.map(|p| resolve(Some(p), "")),
            dnssec,
        })
    }

    /// The pool whose IPv4 or IPv6 marker is `name`, with whether it is the IPv6 one.
    #[must_use]
    pub fn pool_for_marker(&self, name: &str) -> Option<(usize, bool)> {
        self.pools.iter().enumerate().find_map(|(i, p)| {
            if p.marker == name {
                Some((i, false))
            } else if name.strip_suffix('6') == Some(p.marker.as_str()) {
                Some((i, true))
            } else {
                None
            }
        })
    }
}

/// `[dnssec]` checked: programs named, `refresh` shorter than `validity` (the error names
/// the line of the key that makes it so).
fn dnssec_from_spec(
    spec: DnssecSpec,
    path: &Path,
    text: &str,
    resolve: &dyn Fn(Option<PathBuf>, &str) -> PathBuf,
) -> Result<Dnssec> {
    let program = |value: Option<String>, key: &str, default: &str| match value {
        Some(p) if p.is_empty() => Err(Error::config(
            path,
            format!("dnssec.{key}: must name a program, e.g. \"{default}\""),
        )),
        Some(p) => Ok(p),
        None => Ok(default.to_owned()),
    };
    let signer = program(spec.signer, "signer", DEFAULT_SIGNER)?;
    let verifier = program(spec.verifier, "verifier", DEFAULT_VERIFIER)?;
    let validity = spec.validity.as_ref().map(|v| v.get_ref().0);
    let refresh = spec.refresh.as_ref().map(|r| r.get_ref().0);
    let (v, r) = (
        validity.unwrap_or(DEFAULT_VALIDITY),
        refresh.unwrap_or(DEFAULT_REFRESH),
    );
    if r >= v {
        let show = |d: Duration, given: bool| {
            let d = crate::duration::format_long(d);
            if given {
                d
            } else {
                format!("{d}, the default")
            }
        };
        let why = "a zone is re-signed when its signatures expire within refresh, so refresh must \
                   leave part of the validity unused (e.g. validity = \"14d\", refresh = \"5d\")";
        let (span, message) = match (&spec.refresh, &spec.validity) {
            (Some(given), _) => (
                given.span(),
                format!(
                    "dnssec.refresh ({}) must be shorter than dnssec.validity ({}): {why}",
                    show(r, true),
                    show(v, validity.is_some())
                ),
            ),
            (None, Some(given)) => (
                given.span(),
                format!(
                    "dnssec.validity ({}) must be longer than dnssec.refresh ({}): {why}",
                    show(v, true),
                    show(r, false)
                ),
            ),
            (None, None) => unreachable!("the defaults are apart"),
        };
        return Err(located(path, text, span, &message));
    }
    let mut unsigned = Vec::with_capacity(spec.unsigned.len());
    for zone in spec.unsigned {
        if zone.is_empty() {
            return Err(Error::config(
                path,
                "dnssec.unsigned: a zone name must not be empty",
            ));
        }
        unsigned.push(zone_key(&zone));
    }
    Ok(Dnssec {
        keys: resolve(spec.keys, DEFAULT_KEYS),
        signer,
        verifier,
        denial: spec.denial,
        validity: v,
        refresh: r,
        unsigned,
    })
}

/// `[server]`, or the older `[nsd]` (which means `kind = "nsd"`); not both.
fn primary_from_spec(
    nsd: Option<NsdSpec>,
    server: Option<PrimarySpec>,
    path: &Path,
) -> Result<Primary> {
    let primary = match (nsd, server) {
        (Some(_), Some(_)) => {
            return Err(Error::config(
                path,
                "[nsd] and [server] both configure the primary: keep one ([nsd] is the \
                 older spelling of [server] with kind = \"nsd\")",
            ));
        }
        (Some(n), None) => Primary {
            kind: Kind::Nsd,
            table: "[nsd]",
            control: n.control.unwrap_or_else(|| vec!["nsd-control".into()]),
            check: match n.checkzone {
                Some(s) if s.is_empty() => None,
                Some(s) => Some(vec![s]),
                None => Some(vec!["nsd-checkzone".into()]),
            },
            timeout: n.timeout.map_or(DEFAULT_SERVER_TIMEOUT, |d| d.0),
            add_template: n.add_pattern.filter(|p| !p.is_empty()),
        },
        (None, server) => {
            let s = server.unwrap_or_default();
            let check = match s.check {
                Some(argv) if argv.is_empty() => None,
                Some(argv) => Some(argv),
                None => Some(vec![s.kind.default_check().into()]),
            };
            Primary {
                kind: s.kind,
                table: "[server]",
                control: s
                    .control
                    .unwrap_or_else(|| vec![s.kind.default_control().into()]),
                check,
                timeout: s.timeout.map_or(DEFAULT_SERVER_TIMEOUT, |d| d.0),
                add_template: s.add_template.filter(|p| !p.trim().is_empty()),
            }
        }
    };
    if primary.control.first().is_none_or(String::is_empty) {
        let key = if primary.table == "[nsd]" {
            "nsd"
        } else {
            "server"
        };
        return Err(Error::config(
            path,
            format!(
                "{key}.control: must name a program, e.g. [\"{}\"]",
                primary.kind.default_control()
            ),
        ));
    }
    if primary.check.as_ref().is_some_and(|c| c[0].is_empty()) {
        return Err(Error::config(
            path,
            format!(
                "server.check: must name a program, e.g. [\"{}\"] (or [] for no check)",
                primary.kind.default_check()
            ),
        ));
    }
    Ok(primary)
}

fn pool_from_spec(spec: PoolSpec, index: usize, path: &Path) -> Result<Pool> {
    let key = format!("pool[{}] ({:?})", index + 1, spec.name);
    let err = |message: String| Error::config(path, format!("{key}: {message}"));
    if spec.name.is_empty() {
        return Err(err("name: must not be empty".into()));
    }
    let marker = spec.marker.map_or_else(|| DEFAULT_MARKER.into(), |m| m.0);
    if spec.servers.is_empty() {
        return Err(err(
            "no [[pool.server]]: a pool needs at least one server".into()
        ));
    }
    let mut servers = Vec::with_capacity(spec.servers.len());
    for (j, s) in spec.servers.into_iter().enumerate() {
        let skey = format!("server[{}] ({:?})", j + 1, s.name);
        if s.name.is_empty() {
            return Err(err(format!("{skey}: name: must not be empty")));
        }
        if s.ipv4.is_none() && s.ipv6.is_none() {
            return Err(err(format!("{skey}: needs ipv4 or ipv6")));
        }
        if servers.iter().any(|o: &Server| o.name == s.name) {
            return Err(err(format!("{skey}: name: duplicate server name")));
        }
        servers.push(Server {
            name: s.name,
            ipv4: s.ipv4,
            ipv6: s.ipv6,
            check: s.check,
        });
    }
    let c = spec.check;
    Ok(Pool {
        name: spec.name,
        marker,
        fall: spec.fall.map_or(1, |c| c.0),
        rise: spec.rise.map_or(1, |c| c.0),
        servers,
        check: CheckSettings {
            timeout: c.timeout.map_or(DEFAULT_CHECK_TIMEOUT, |d| d.0),
            attempts: c.attempts.map_or(DEFAULT_ATTEMPTS, |c| c.0),
            expect_status: c.expect_status.unwrap_or(StatusRange::DEFAULT),
            expect_body: c.expect_body.unwrap_or_default(),
            tls_verify: c.tls_verify.unwrap_or(true),
        },
    })
}

/// Pool names must be unique, and no marker name may be claimed by two pools.
fn check_pools_unique(pools: &[Pool], path: &Path) -> Result<()> {
    for (i, a) in pools.iter().enumerate() {
        for b in &pools[..i] {
            if a.name == b.name {
                return Err(Error::config(
                    path,
                    format!("pool[{}]: name: duplicate pool name {:?}", i + 1, a.name),
                ));
            }
            let names = |p: &Pool| [p.marker.clone(), format!("{}6", p.marker)];
            if names(a).iter().any(|n| names(b).contains(n)) {
                return Err(Error::config(
                    path,
                    format!(
                        "pool[{}] ({:?}): marker: {:?} clashes with the marker {:?} of pool {:?}",
                        i + 1,
                        a.name,
                        a.marker,
                        b.marker,
                        b.name
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// `templates`, `zones` and `state` must be three separate directories, none inside
/// another: a run writes into `zones` and `state`, and would overwrite the templates (or
/// delete its own temporary-looking files) where they meet.
fn check_directories_apart(
    dirs: &[(&str, &Path)],
    path: &Path,
    resolve: fn(&Path) -> PathBuf,
) -> Result<()> {
    let real: Vec<PathBuf> = dirs.iter().map(|(_, d)| resolve(d)).collect();
    for (i, (key_a, dir_a)) in dirs.iter().enumerate() {
        for (j, (key_b, dir_b)) in dirs.iter().enumerate() {
            if i == j {
                continue;
            }
            let relation = if real[i] == real[j] {
                if j < i {
                    continue;
                }
                "is the same directory as"
            } else if real[i].starts_with(&real[j]) {
                "is inside"
            } else {
                continue;
            };
            return Err(Error::config(
                path,
                format!(
                    "{key_a} ({}) {relation} {key_b} ({}): templates, zones and state must be \
                     three separate directories, none inside another",
                    dir_a.display(),
                    dir_b.display()
                ),
            ));
        }
    }
    Ok(())
}

/// `dir` with symbolic links resolved as far as it exists, and `.`/`..` resolved lexically
/// in the part that does not exist yet.
/// `dir` with `.` and `..` resolved by name (pure: no file system access).
fn lexical_path(dir: &Path) -> PathBuf {
    let mut lexical = PathBuf::new();
    for part in dir.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                lexical.pop();
            }
            other => lexical.push(other),
        }
    }
    lexical
}

/// `dir` with symbolic links resolved as far as it exists, the rest resolved by name.
fn real_path(dir: &Path) -> PathBuf {
    let lexical = lexical_path(dir);
    let mut existing = lexical.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return rest.iter().rev().fold(real, |p, c| p.join(c));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return lexical,
        }
    }
}

/// Turn a toml error into `FILE:LINE:COL: message` plus the offending line.
fn toml_error(path: &Path, text: &str, error: &toml::de::Error) -> Error {
    let message = error.message().trim_end().to_owned();
    match error.span() {
        Some(span) => located(path, text, span, &message),
        None => Error::config(path, message),
    }
}

/// A config error at `span` of `text`: `FILE:LINE:COL: message` plus the line.
fn located(path: &Path, text: &str, span: std::ops::Range<usize>, message: &str) -> Error {
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    let source_line = text.lines().nth(line - 1).unwrap_or("");
    Error::Config {
        path: PathBuf::from(format!("{}:{line}:{column}", path.display())),
        message: format!("{message}\n    {source_line}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("/etc/zonerw/zonerw.toml"))
    }

    const GOOD: &str = r#"
templates = "templates"
zones = "/var/lib/nsd/zonerw"

[serial]
scheme = "counter"

[nsd]
control = ["nsd-control", "-c", "/etc/nsd/nsd.conf"]
timeout = "10s"

[[pool]]
name = "web"
marker = "IP"
fall = 2

  [[pool.server]]
  name = "main"
  ipv4 = "192.0.2.1"
  ipv6 = "2001:db8::1"
  check = "https://www.example.com/up.txt"

  [[pool.server]]
  name = "backup"
  ipv4 = "198.51.100.7"

[pool.check]
timeout = "500ms"
expect-status = "200"
"#;

    #[test]
    fn good_config_file() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.templates, Path::new("/etc/zonerw/templates"));
        assert_eq!(c.state, Path::new(DEFAULT_STATE));
        assert_eq!(c.scheme, Scheme::Counter);
        assert_eq!(c.primary.timeout, Duration::from_secs(10));
        assert_eq!(
            c.primary.check.as_deref(),
            Some(&["nsd-checkzone".to_owned()][..])
        );
        assert_eq!(c.primary.kind, Kind::Nsd);
        let p = &c.pools[0];
        assert_eq!((p.fall, p.rise, p.check.attempts), (2, 1, 2));
        assert_eq!(p.check.timeout, Duration::from_millis(500));
        assert_eq!(
            p.check.expect_status,
            StatusRange {
                low: 200,
                high: 200
            }
        );
        let url = p.servers[0].check.as_ref().unwrap();
        assert_eq!((url.host.as_str(), url.port), ("www.example.com", 443));
        assert!(p.servers[1].check.is_none());
        assert_eq!(c.pool_for_marker("IP6"), Some((0, true)));
        assert_eq!(c.pool_for_marker("IP"), Some((0, false)));
        assert_eq!(c.pool_for_marker("IPX"), None);
    }

    #[test]
    fn the_primary_is_server_or_nsd_with_defaults_per_kind() {
        let of = |text: &str| parse(text).unwrap().primary;
        let nsd = of("");
        assert_eq!(
            (nsd.kind, nsd.table, nsd.control.as_slice()),
            (Kind::Nsd, "[server]", &["nsd-control".to_owned()][..])
        );
        assert_eq!(nsd.check, Some(vec!["nsd-checkzone".to_owned()]));
        let knot = of("[server]\nkind = \"knot\"\nadd-template = \"zonerw\"\n");
        assert_eq!(knot.control, ["knotc"]);
        assert_eq!(knot.check, Some(vec!["kzonecheck".to_owned()]));
        assert_eq!(knot.add_template.as_deref(), Some("zonerw"));
        assert_eq!(knot.key("add-template"), "[server] add-template");
        let bind =
            of("[server]\nkind = \"bind\"\ncontrol = [\"rndc\", \"-s\", \"ns1\"]\ncheck = []\n");
        assert_eq!(bind.control, ["rndc", "-s", "ns1"]);
        assert_eq!(bind.check, None, "[] skips the check");
        assert_eq!(bind.name(), "BIND");
        let old = of("[nsd]\ncheckzone = \"/usr/sbin/nsd-checkzone\"\nadd-pattern = \"p\"\n");
        assert_eq!((old.kind, old.table), (Kind::Nsd, "[nsd]"));
        assert_eq!(old.check, Some(vec!["/usr/sbin/nsd-checkzone".to_owned()]));
        assert_eq!(old.key("add-template"), "[nsd] add-pattern");
        assert_eq!(old.key("check"), "[nsd] checkzone");
        assert!(
            error_of("[nsd]\ntimeout = \"5s\"\n[server]\nkind = \"knot\"\n")
                .contains("[nsd] and [server] both configure the primary")
        );
        assert!(error_of("[server]\nkind = \"pdns\"\n").contains("unknown variant `pdns`"));
        assert!(
            error_of("[server]\ncontrol = []\n").contains("server.control: must name a program")
        );
        assert!(
            error_of("[server]\ncheck = [\"\"]\n").contains("server.check: must name a program")
        );
    }

    fn error_of(text: &str) -> String {
        let e = parse(text).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{e}");
        e.to_string()
    }

    #[test]
    fn errors_name_the_line_or_key() {
        let cases: &[(&str, &str)] = &[
            (
                "templates = \"t\"\nbogus = 1\n",
                "zonerw.toml:2:1: unknown field `bogus`",
            ),
            (
                "[nsd]\ntimeout = \"5 s\"\n",
                "zonerw.toml:2:11: invalid duration \"5 s\"",
            ),
            ("[nsd]\ntimeout = \"5\"\n", "invalid duration"),
            (
                "[[pool]]\nname = \"w\"\n[[pool.server]]\nname = \"m\"\nipv4 = \"192.0.2.300\"\n",
                "zonerw.toml:5:8: invalid IPv4 address syntax",
            ),
            (
                "[[pool]]\nname = \"w\"\n[[pool.server]]\nname = \"m\"\nipv4 = \"192.0.2.1\"\ncheck = \"ftp://x/\"\n",
                "must start with http",
            ),
            (
                "[[pool]]\nname = \"w\"\nfall = 0\n[[pool.server]]\nname = \"m\"\nipv4 = \"192.0.2.1\"\n",
                "zonerw.toml:3:8: must be a whole number of at least 1",
            ),
            (
                "[[pool]]\nname = \"w\"\n",
                "pool[1] (\"w\"): no [[pool.server]]",
            ),
            (
                "[[pool]]\nname = \"w\"\n[[pool.server]]\nname = \"m\"\n",
                "server[1] (\"m\"): needs ipv4 or ipv6",
            ),
            (
                "[[pool]]\nname = \"a\"\n[[pool.server]]\nname = \"m\"\nipv4 = \"192.0.2.1\"\n[[pool]]\nname = \"b\"\n[[pool.server]]\nname = \"m\"\nipv4 = \"192.0.2.1\"\n",
                "marker: \"IP\" clashes",
            ),
            (
                "[serial]\nscheme = \"weekly\"\n",
                "zonerw.toml:2:10: unknown variant `weekly`",
            ),
            ("[pool.check]\ntimeout = \"1s\"\n", "zonerw.toml"),
        ];
        for (text, want) in cases {
            let got = error_of(text);
            assert!(got.contains(want), "for {text:?}:\n got {got}\nwant {want}");
        }
    }

    #[test]
    fn guard_verify_and_hooks() {
        let c = parse(&format!(
            "{GOOD}\n[guard]\nreference = [\"http://www.debian.org/\"]\nwitnesses = [[\"ssh\", \"spare1\", \"zonerw\", \"probe\"]]\n\
             [verify]\nprimary = \"127.0.0.1:5353\"\nsecondaries = [\"192.0.2.1\", \"[2001:db8::1]:53\"]\n\
             [hooks]\non-change = [\"/usr/local/bin/failover-alert\"]\n"
        ))
        .unwrap();
        let guard = c.guard.unwrap();
        assert_eq!(guard.reference[0].host, "www.debian.org");
        assert_eq!(guard.witnesses[0][1], "spare1");
        assert_eq!(c.guard_timeout, DEFAULT_GUARD_TIMEOUT);
        let verify = c.verify.unwrap();
        assert_eq!(verify.primary, Some("127.0.0.1:5353".parse().unwrap()));
        assert_eq!(
            verify.secondaries,
            [
                "192.0.2.1:53".parse().unwrap(),
                "[2001:db8::1]:53".parse().unwrap()
            ]
        );
        assert_eq!(verify.timeout, DEFAULT_VERIFY_TIMEOUT);
        assert_eq!(c.on_change.unwrap(), ["/usr/local/bin/failover-alert"]);
        // an empty [guard] guards nothing
        let c = parse(&format!("{GOOD}\n[guard]\ntimeout = \"5s\"\n")).unwrap();
        assert!(c.guard.is_none());
        assert_eq!(c.guard_timeout, Duration::from_secs(5));
        for (extra, want) in [
            (
                "[verify]\nsecondaries = [\"192.0.2.300\"]\n",
                "invalid DNS server",
            ),
            (
                "[guard]\nwitnesses = [[]]\n",
                "a command needs at least a program",
            ),
            (
                "[hooks]\non-change = []\n",
                "a command needs at least a program",
            ),
            ("[guard]\nreference = [\"www.debian.org\"]\n", "invalid URL"),
            (
                "[verify]\nprimry = \"127.0.0.1\"\n",
                "unknown field `primry`",
            ),
        ] {
            let got = error_of(&format!("{GOOD}\n{extra}"));
            assert!(got.contains(want), "{extra}: {got}");
        }
    }

    #[test]
    fn no_dnssec_table_signs_nothing() {
        assert!(parse(GOOD).unwrap().dnssec.is_none());
    }

    #[test]
    fn dnssec_defaults_and_values() {
        let c = parse(&format!("{GOOD}\n[dnssec]\n")).unwrap();
        let d = c.dnssec.unwrap();
        assert_eq!(d.keys, Path::new(DEFAULT_KEYS));
        assert_eq!(
            (d.signer.as_str(), d.verifier.as_str()),
            (DEFAULT_SIGNER, DEFAULT_VERIFIER)
        );
        assert_eq!(d.denial, Denial::Nsec3);
        assert_eq!(d.validity, Duration::from_hours(14 * 24));
        assert_eq!(d.refresh, Duration::from_hours(5 * 24));
        assert!(d.unsigned.is_empty());

        let c = parse(&format!(
            "{GOOD}\n[dnssec]\nkeys = \"keys\"\nsigner = \"/opt/ldns/bin/ldns-signzone\"\n\
             verifier = \"/opt/ldns/bin/ldns-verify-zone\"\ndenial = \"nsec\"\n\
             validity = \"20s\"\nrefresh = \"10s\"\nunsigned = [\"Old.Example.\", \".\"]\n"
        ))
        .unwrap();
        let d = c.dnssec.unwrap();
        assert_eq!(
            d.keys,
            Path::new("/etc/zonerw/keys"),
            "relative to the config file"
        );
        assert_eq!(d.signer, "/opt/ldns/bin/ldns-signzone");
        assert_eq!(d.verifier, "/opt/ldns/bin/ldns-verify-zone");
        assert_eq!(d.denial, Denial::Nsec);
        assert_eq!(
            (d.validity, d.refresh),
            (Duration::from_secs(20), Duration::from_secs(10))
        );
        assert_eq!(d.unsigned, ["old.example", "."]);
        assert!(d.lists_unsigned("old.EXAMPLE") && d.lists_unsigned("old.example."));
        assert!(d.lists_unsigned(".") && !d.lists_unsigned("example"));
        let d = parse(&format!("{GOOD}\n[dnssec]\nvalidity = \"7d12h\"\n"))
            .unwrap()
            .dnssec
            .unwrap();
        assert_eq!(d.validity, Duration::from_hours(7 * 24 + 12));
    }

    #[test]
    fn dnssec_errors_name_the_key_and_line() {
        let line = GOOD.lines().count() + 2;
        for (table, want) in [
            (
                "refresh = \"14d\"\n",
                format!(
                    "zonerw.toml:{}:11: dnssec.refresh (14d) must be shorter than dnssec.validity (14d, the default): ",
                    line + 1
                ),
            ),
            (
                "validity = \"10s\"\nrefresh = \"10s\"\n",
                format!(
                    "zonerw.toml:{}:11: dnssec.refresh (10s) must be shorter than dnssec.validity (10s): ",
                    line + 2
                ),
            ),
            (
                "validity = \"3d\"\n",
                format!(
                    "zonerw.toml:{}:12: dnssec.validity (3d) must be longer than dnssec.refresh (5d, the default): ",
                    line + 1
                ),
            ),
            (
                "validity = \"14\"\n",
                format!(
                    "zonerw.toml:{}:12: invalid duration \"14\": write e.g.",
                    line + 1
                ),
            ),
            (
                "validity = \"400d\"\n",
                format!(
                    "zonerw.toml:{}:12: invalid duration \"400d\": at most 366d",
                    line + 1
                ),
            ),
            (
                "refresh = \"500ms\"\n",
                format!("zonerw.toml:{}:11: invalid duration \"500ms\"", line + 1),
            ),
            (
                "denial = \"nsec5\"\n",
                format!("zonerw.toml:{}:10: unknown variant `nsec5`", line + 1),
            ),
            (
                "key = \"/etc/zonerw/keys\"\n",
                format!("zonerw.toml:{}:1: unknown field `key`", line + 1),
            ),
            (
                "signer = \"\"\n",
                "zonerw.toml: dnssec.signer: must name a program, e.g. \"ldns-signzone\""
                    .to_owned(),
            ),
            (
                "verifier = \"\"\n",
                "zonerw.toml: dnssec.verifier: must name a program".to_owned(),
            ),
            (
                "unsigned = [\"\"]\n",
                "zonerw.toml: dnssec.unsigned: a zone name must not be empty".to_owned(),
            ),
        ] {
            let got = error_of(&format!("{GOOD}\n[dnssec]\n{table}"));
            assert!(got.contains(&want), "{table}\n got {got}\nwant {want}");
        }
        let got = error_of(&format!("{GOOD}\n[dnssec]\nrefresh = \"14d\"\n"));
        assert!(
            got.ends_with("\n    refresh = \"14d\""),
            "the line is quoted: {got}"
        );
    }

    fn server_with_check(url: &str) -> String {
        format!(
            "[[pool]]\nname = \"w\"\n[[pool.server]]\nname = \"m\"\nipv4 = \"192.0.2.1\"\ncheck = \"{url}\"\n"
        )
    }

    #[test]
    fn check_url_ports_out_of_range_are_rejected_with_the_line() {
        for url in [
            "http://www.example.com:0/up",
            "https://www.example.com:65536/up",
            "http://www.example.com:99999/up",
            "http://[2001:db8::1]:0/up",
            "http://user@www.example.com:70000/",
            "http://www.example.com:/up",
        ] {
            let got = error_of(&server_with_check(url));
            assert!(
                got.contains("zonerw.toml:6:9: invalid URL") && got.contains("not a port number"),
                "{url}: {got}"
            );
        }
        for (url, port) in [
            ("http://www.example.com:65535/up", 65535),
            ("http://[2001:db8::1]:8080/up", 8080),
            ("https://user:pw@www.example.com/", 443),
            ("http://www.example.com/a:b", 80),
        ] {
            let c = parse(&server_with_check(url)).unwrap();
            let check = c.pools[0].servers[0].check.clone().unwrap();
            assert_eq!(check.port, port, "{url}");
        }
        let got = error_of(&format!(
            "{GOOD}\n[guard]\nreference = [\"http://www.debian.org:0/\"]\n"
        ));
        assert!(got.contains("not a port number"), "{got}");
    }

    #[test]
    fn url_without_scheme_says_which_scheme() {
        let got = error_of(&server_with_check("www.example.com/up"));
        assert!(
            got.contains("zonerw.toml:6:9: invalid URL \"www.example.com/up\": must start with http:// or https://"),
            "{got}"
        );
    }

    #[test]
    fn dns_server_port_zero_is_rejected_with_the_line() {
        for extra in [
            "[verify]\nprimary = \"127.0.0.1:0\"\n",
            "[verify]\nsecondaries = [\"192.0.2.1:53\", \"[2001:db8::1]:0\"]\n",
        ] {
            let got = error_of(&format!("{GOOD}\n{extra}"));
            assert!(
                got.contains("invalid DNS server") && got.contains("port 0"),
                "{got}"
            );
            let line = GOOD.lines().count() + 3;
            assert!(got.contains(&format!("zonerw.toml:{line}:")), "{got}");
        }
    }

    #[test]
    fn marker_with_outer_spaces_is_rejected_with_the_line() {
        let pool = |marker: &str| {
            format!(
                "[[pool]]\nname = \"w\"\nmarker = \"{marker}\"\n[[pool.server]]\nname = \"m\"\nipv4 = \"192.0.2.1\"\n"
            )
        };
        for marker in ["my ip ", " my ip", "IP "] {
            let got = error_of(&pool(marker));
            assert!(
                got.contains("zonerw.toml:3:10: marker") && got.contains("space"),
                "{marker:?}: {got}"
            );
        }
        for marker in ["serial", "1ip", "ip-v4"] {
            let got = error_of(&pool(marker));
            assert!(
                got.contains("zonerw.toml:3:10: marker"),
                "{marker:?}: {got}"
            );
        }
        assert_eq!(parse(&pool("my ip")).unwrap().pools[0].marker, "my ip");
    }

    fn dirs_config(templates: &str, zones: &str, state: &str) -> String {
        format!("templates = \"{templates}\"\nzones = \"{zones}\"\nstate = \"{state}\"\n")
    }

    #[test]
    fn templates_zones_and_state_must_be_apart() {
        for (t, z, s, want) in [
            (
                "/srv/a",
                "/srv/a",
                "/srv/s",
                "templates (/srv/a) is the same directory as zones (/srv/a)",
            ),
            (
                "/srv/t",
                "/srv/z",
                "/srv/t/",
                "templates (/srv/t) is the same directory as state (/srv/t/)",
            ),
            (
                "/srv/t",
                "/srv/t/zones",
                "/srv/s",
                "zones (/srv/t/zones) is inside templates (/srv/t)",
            ),
            (
                "/srv/t",
                "/srv/z",
                "/srv/z/../t/s",
                "state (/srv/z/../t/s) is inside templates (/srv/t)",
            ),
            (
                "templates",
                "zones",
                "./templates",
                "is the same directory as state",
            ),
            (
                "/srv/t/x",
                "/srv/z",
                "/srv/t",
                "templates (/srv/t/x) is inside state (/srv/t)",
            ),
        ] {
            let got = error_of(&dirs_config(t, z, s));
            assert!(got.contains(want), "{t} {z} {s}: {got}");
            assert!(got.contains("three separate directories"), "{got}");
        }
        parse(&dirs_config("/srv/t", "/srv/tz", "/srv/t2")).unwrap();
    }

    #[test]
    fn directories_are_compared_through_symbolic_links() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("link")).unwrap();
        let config = dir.path().join("zonerw.toml");
        std::fs::write(&config, dirs_config("real", "link/zones", "state")).unwrap();
        let e = Config::load(&config).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string().contains("zones") && e.to_string().contains("is inside templates"),
            "{e}"
        );
        std::fs::write(&config, dirs_config("real", "zones", "state")).unwrap();
        Config::load(&config).unwrap();
    }

    #[test]
    fn default_ports_by_scheme() {
        for (scheme, port) in [
            ("http", Some(80)),
            ("https", Some(443)),
            ("ftp", None),
            ("socks5", None),
            ("", None),
        ] {
            assert_eq!(default_port(scheme), port, "{scheme:?}");
        }
    }

    #[test]
    fn a_check_url_without_a_port_gets_its_schemes_default() {
        for (url, port) in [
            ("http://www.example.com/up", Ok(80)),
            ("https://www.example.com/up", Ok(443)),
            ("HTTPS://www.example.com/up", Ok(443)),
            ("https://www.example.com:8443/up", Ok(8443)),
            (
                "ftp://www.example.com/up",
                Err("must start with http:// or https://"),
            ),
        ] {
            let got = CheckUrl::try_from(url.to_owned()).map(|u| u.port);
            match (got, port) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{url}"),
                (Err(got), Err(want)) => assert!(got.ends_with(want), "{url}: {got}"),
                (got, want) => panic!("{url}: {got:?}, want {want:?}"),
            }
        }
    }
}
