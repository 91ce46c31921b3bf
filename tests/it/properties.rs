//! Property tests (proptest) of the pure cores: serials, templates, config parsing.
//!
//! Each property states a contract from README.md and zonerw.toml(5) (templates, serials, the config file)
//! and checks it for generated inputs; `PROPTEST_CASES=N` raises the number of cases
//! (fuzz/README.md: `PROPTEST_CASES=100000 cargo test --release --test it properties::`).

#![allow(
    clippy::needless_pass_by_value,
    reason = "proptest! passes generated values by value"
)]

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::{Duration, Instant};

use jiff::civil::Date;
use proptest::prelude::*;
use zonerw::config::{Config, Scheme};
use zonerw::serial::{self, Clock, candidate, is_newer};
use zonerw::template::{Marker, Template, Vars, is_marker_name};

const CONFIG_PATH: &str = "/etc/zonerw/zonerw.toml";

// ---------------------------------------------------------------- strategies

fn scheme() -> impl Strategy<Value = Scheme> {
    prop_oneof![
        Just(Scheme::Date),
        Just(Scheme::Unixtime),
        Just(Scheme::Counter)
    ]
}

/// Any valid calendar day from 1970-01-01 to 9999-12-31.
fn day() -> impl Strategy<Value = Date> {
    (1970i16..=9999, 1i8..=12, 1i8..=31).prop_map(|(y, m, d)| {
        let first = Date::new(y, m, 1).expect("the first of a month is a date");
        Date::new(y, m, d.min(first.days_in_month())).expect("day clamped to the month")
    })
}

/// Seconds since the epoch: plausible times, negatives, the far future, 32-bit edges, any i64.
fn unix() -> impl Strategy<Value = i64> {
    prop_oneof![
        0i64..=4_102_444_800, // 1970 .. 2100
        -(1i64 << 40)..=(1i64 << 40),
        ((1i64 << 32) - 1000)..=((1i64 << 32) + 1000),
        ((1i64 << 31) - 1000)..=((1i64 << 31) + 1000),
        any::<i64>(),
    ]
}

fn clock() -> impl Strategy<Value = Clock> {
    (unix(), day()).prop_map(|(unix, today)| Clock { unix, today })
}

/// Serials: anything, plus the edges of the 32-bit and RFC 1982 half-ranges.
fn serial_value() -> impl Strategy<Value = u32> {
    prop_oneof![
        any::<u32>(),
        (u32::MAX - 300)..=u32::MAX,
        0u32..=300,
        ((1u32 << 31) - 300)..=((1u32 << 31) + 300),
        2_000_010_100u32..=2_100_123_199,
    ]
}

// ---------------------------------------------------------------- serials

/// RFC 1982 §3.2 for `SERIAL_BITS` = 32, written out independently of `domain::base::Serial`.
fn rfc1982_newer(a: u32, b: u32) -> bool {
    let half = 1u32 << 31;
    (b < a && a - b < half) || (b > a && b - a > half)
}

proptest! {
    /// `is_newer` is exactly RFC 1982's "greater than" (incomparable pairs are not newer),
    /// and no two serials are each newer than the other.
    #[test]
    fn is_newer_is_rfc1982(a in serial_value(), b in serial_value()) {
        prop_assert_eq!(is_newer(a, b), rfc1982_newer(a, b));
        prop_assert!(!(is_newer(a, b) && is_newer(b, a)));
        prop_assert!(!is_newer(a, a));
    }

    /// The contract: every serial written is newer (RFC 1982) than the previous one, for any
    /// previous value, scheme and clock (including clocks far behind or ahead of it).
    #[test]
    fn next_is_newer_than_any_previous(prev in serial_value(), scheme in scheme(), clock in clock()) {
        let next = serial::next(scheme, Some(prev), clock);
        prop_assert!(is_newer(next, prev), "{scheme:?} {clock:?}: {next} after {prev}");
        // It is the scheme's candidate when that is newer, else previous + 1.
        let cand = candidate(scheme, clock);
        if scheme == Scheme::Counter {
            prop_assert_eq!(next, prev.wrapping_add(1));
        } else if is_newer(cand, prev) {
            prop_assert_eq!(next, cand);
        } else {
            prop_assert_eq!(next, prev.wrapping_add(1));
        }
    }

    /// Without a previous serial the scheme's candidate is used: YYYYMMDD00, the unix time
    /// modulo 2^32, or 1.
    #[test]
    fn first_serial_is_the_candidate(scheme in scheme(), clock in clock()) {
        let first = serial::next(scheme, None, clock);
        let d = clock.today;
        let want = match scheme {
            Scheme::Date => {
                let ymd = i64::from(d.year()) * 1_000_000
                    + i64::from(d.month()) * 10_000
                    + i64::from(d.day()) * 100;
                u32::try_from(ymd).unwrap_or(u32::MAX)
            }
            Scheme::Unixtime => u32::try_from(clock.unix.rem_euclid(1 << 32)).unwrap(),
            Scheme::Counter => 1,
        };
        prop_assert_eq!(first, want);
    }

    /// With the date scheme, a serial from earlier today (YYYYMMDDnn, nn < 99) steps by one,
    /// and the 100th change of the day moves into the next day's range.
    #[test]
    fn date_scheme_steps_within_the_day(d in day(), nn in 0u32..=99, unix in unix()) {
        prop_assume!(d.year() <= 4294); // YYYYMMDD00 fits in 32 bits up to 4294-12-31
        let base = candidate(Scheme::Date, Clock { unix, today: d });
        let prev = base + nn;
        let next = serial::next(Scheme::Date, Some(prev), Clock { unix, today: d });
        prop_assert_eq!(next, prev + 1);
    }

    /// 300 runs in a row with a fixed clock give 300 distinct serials, each newer than the one
    /// before; after at most two jumps to the candidate every step is exactly + 1.
    #[test]
    fn chain_of_300_is_strictly_increasing(
        start in proptest::option::of(serial_value()),
        scheme in scheme(),
        clock in clock(),
    ) {
        let mut prev = start;
        let mut seen = std::collections::HashSet::new();
        let mut jumps = 0;
        for step in 0..300 {
            let next = serial::next(scheme, prev, clock);
            if let Some(p) = prev {
                prop_assert!(is_newer(next, p), "step {step}: {next} after {p}");
                if next != p.wrapping_add(1) {
                    jumps += 1;
                }
            }
            prop_assert!(seen.insert(next), "step {step}: serial {next} reused");
            prev = Some(next);
        }
        prop_assert!(jumps <= 2, "{jumps} jumps");
    }
}

// ---------------------------------------------------------------- templates

fn lookup(name: &str) -> Option<Marker> {
    match name {
        "serial" | "serial number" => Some(Marker::Serial),
        "IP" => Some(Marker::Address { pool: 0, v6: false }),
        "IP6" => Some(Marker::Address { pool: 0, v6: true }),
        _ => None,
    }
}

const MARKERS: [&str; 4] = ["serial", "serial number", "IP", "IP6"];

/// Zone-file text that contains no marker-shaped `@name@`, whatever follows it: characters
/// other than `@`; `@` followed by a non-letter (the origin, `@@`); `user@example.com`-style
/// words ended by a character that cannot be in a marker name; a final lone `@`.
fn literal() -> impl Strategy<Value = String> {
    let plain = any::<char>()
        .prop_filter("no @", |&c| c != '@')
        .prop_map(String::from);
    let common = prop_oneof![
        Just(" ".to_owned()),
        Just("\n".to_owned()),
        Just("\t".to_owned()),
        Just("IN SOA ns1 hostmaster ( ".to_owned()),
        Just("; comment\n".to_owned()),
        Just("IP6".to_owned()),
        Just("serial".to_owned()),
        "[a-zA-Z0-9_ .]{1,8}",
    ];
    let origin = "[^@a-zA-Z]".prop_map(|c| format!("@{c}"));
    let email = ("[a-zA-Z][a-zA-Z0-9_ ]{0,10}", "[.\\-\n\t\"();,:é]")
        .prop_map(|(name, end)| format!("@{name}{end}"));
    (
        proptest::collection::vec(
            prop_oneof![4 => plain, 4 => common, 2 => origin, 2 => email],
            0..12,
        ),
        any::<bool>(),
    )
        .prop_map(|(pieces, trailing_at)| {
            let mut s = pieces.concat();
            if trailing_at {
                s.push('@');
            }
            s
        })
}

/// A template as literal chunks with a known marker (an index into MARKERS) between them.
fn template_parts() -> impl Strategy<Value = (Vec<String>, Vec<usize>)> {
    proptest::collection::vec((literal(), 0..MARKERS.len()), 0..8).prop_flat_map(|pairs| {
        literal().prop_map(move |last| {
            let mut chunks: Vec<String> = pairs.iter().map(|(l, _)| l.clone()).collect();
            chunks.push(last);
            (chunks, pairs.iter().map(|&(_, m)| m).collect())
        })
    })
}

/// Text rich in `@`, marker names and newlines, so that markers (known, unknown, half-made)
/// turn up often, plus arbitrary (non-ASCII) characters.
fn markerish_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            3 => Just("@".to_owned()),
            2 => prop_oneof![
                Just("IP".to_owned()),
                Just("IP6".to_owned()),
                Just("serial".to_owned()),
                Just("serial number".to_owned()),
                Just("ip".to_owned()),
                Just("web_2".to_owned()),
            ],
            2 => "[ a-zA-Z0-9_\n]{1,4}",
            1 => any::<char>().prop_map(String::from),
        ],
        0..40,
    )
    .prop_map(|pieces| pieces.concat())
}

fn render_values() -> impl Strategy<Value = (u32, Ipv4Addr, Ipv6Addr)> {
    (any::<u32>(), any::<Ipv4Addr>(), any::<Ipv6Addr>())
}

/// An independent, char-based reading of the marker rule: `@`, a letter, letters / digits /
/// `_` / spaces, `@`. Returns the rendering, or the line and name of the first unknown marker.
fn reference_render(
    text: &str,
    serial: u32,
    v4: Ipv4Addr,
    v6: Ipv6Addr,
) -> Result<String, (usize, String)> {
    let chars: Vec<char> = text.chars().collect();
    let (mut out, mut line, mut i) = (String::new(), 1, 0);
    while i < chars.len() {
        let c = chars[i];
        if c == '@' && chars.get(i + 1).is_some_and(char::is_ascii_alphabetic) {
            let mut j = i + 1;
            while chars
                .get(j)
                .is_some_and(|&c| c.is_ascii_alphanumeric() || c == '_' || c == ' ')
            {
                j += 1;
            }
            if chars.get(j) == Some(&'@') {
                let name: String = chars[i + 1..j].iter().collect();
                match name.as_str() {
                    "serial" | "serial number" => write!(out, "{serial}").unwrap(),
                    "IP" => write!(out, "{v4}").unwrap(),
                    "IP6" => write!(out, "{v6}").unwrap(),
                    _ => return Err((line, name)),
                }
                i = j + 1;
                continue;
            }
        }
        if c == '\n' {
            line += 1;
        }
        out.push(c);
        i += 1;
    }
    Ok(out)
}

proptest! {
    /// Rendering never changes a byte outside the markers: a template built from literal
    /// chunks and known markers renders to exactly the chunks with the values in between,
    /// and `uses` lists each marker once with the line of its first use.
    #[test]
    fn render_keeps_every_literal_byte(
        (chunks, markers) in template_parts(),
        (serial, v4, v6) in render_values(),
    ) {
        let mut text = String::new();
        let mut want = String::new();
        let mut uses: Vec<(Marker, usize)> = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            text.push_str(chunk);
            want.push_str(chunk);
            if let Some(&m) = markers.get(i) {
                let marker = lookup(MARKERS[m]).unwrap();
                if !uses.iter().any(|(u, _)| *u == marker) {
                    uses.push((marker, text.matches('\n').count() + 1));
                }
                write!(text, "@{}@", MARKERS[m]).unwrap();
                match marker {
                    Marker::Serial => write!(want, "{serial}").unwrap(),
                    Marker::Address { v6: false, .. } => write!(want, "{v4}").unwrap(),
                    Marker::Address { v6: true, .. } => write!(want, "{v6}").unwrap(),
                }
            }
        }
        let template = Template::parse(text.clone(), lookup)
            .map_err(|e| TestCaseError::fail(format!("{text:?}: {e:?}")))?;
        prop_assert_eq!(template.text(), text.as_str());
        prop_assert_eq!(template.uses(), uses.as_slice());
        prop_assert_eq!(template.uses_serial(), uses.iter().any(|(m, _)| *m == Marker::Serial));
        let addresses = [(Some(v4), Some(v6))];
        let got = template.render(&Vars { serial, addresses: &addresses });
        prop_assert_eq!(got, want);
    }

    /// Literal text alone (no markers) renders byte-identical to its input.
    #[test]
    fn literal_text_renders_unchanged(text in literal(), serial in any::<u32>()) {
        let template = Template::parse(text.clone(), lookup)
            .map_err(|e| TestCaseError::fail(format!("{text:?}: {e:?}")))?;
        prop_assert!(template.uses().is_empty());
        prop_assert_eq!(template.render(&Vars { serial, addresses: &[] }), text);
    }

    /// For ANY input: if it parses and uses no marker, it renders byte-identical to the input
    /// (with a lookup that knows no marker, parsing succeeds exactly when the text has no
    /// marker-shaped word).
    #[test]
    fn markerless_input_renders_unchanged(text in prop_oneof![any::<String>(), markerish_text()]) {
        let addresses = [(Some(Ipv4Addr::LOCALHOST), Some(Ipv6Addr::LOCALHOST))];
        let vars = Vars { serial: 7, addresses: &addresses };
        if let Ok(t) = Template::parse(text.clone(), |_| None) {
            prop_assert!(t.uses().is_empty());
            prop_assert_eq!(t.render(&vars), text.clone());
        }
        if let Ok(t) = Template::parse(text.clone(), lookup)
            && t.uses().is_empty()
        {
            prop_assert_eq!(t.render(&vars), text);
        }
    }

    /// Marker parsing never panics, on any string (non-ASCII included) and on text dense in
    /// `@` and marker names; it agrees with an independent reading of the marker rule, and an
    /// error names a marker-shaped word that is on the reported line (1 ..= lines + 1).
    #[test]
    fn parse_never_panics_and_matches_the_rule(
        text in prop_oneof![any::<String>(), markerish_text()],
        (serial, v4, v6) in render_values(),
    ) {
        let parsed = Template::parse(text.clone(), lookup);
        match (parsed, reference_render(&text, serial, v4, v6)) {
            (Ok(t), Ok(want)) => {
                let addresses = [(Some(v4), Some(v6))];
                prop_assert_eq!(t.render(&Vars { serial, addresses: &addresses }), want);
            }
            (Err(e), Err((line, name))) => {
                prop_assert_eq!(e.line, line);
                prop_assert_eq!(&e.name, &name);
                prop_assert!(is_marker_name(&e.name));
                prop_assert!((1..=text.matches('\n').count() + 1).contains(&e.line));
                let on_line = text.split('\n').nth(e.line - 1).unwrap_or("");
                let marker = format!("@{}@", e.name);
                prop_assert!(on_line.contains(&marker), "{:?} not on line {}", marker, e.line);
            }
            (got, want) => prop_assert!(false, "{text:?}: parse gave {got:?}, the rule {want:?}"),
        }
    }

    /// `is_marker_name` accepts exactly: an ASCII letter, then ASCII letters, digits, `_`, ` `.
    #[test]
    fn marker_names_follow_the_rule(name in prop_oneof![any::<String>(), "[a-zA-Z0-9_ @é-]{0,6}"]) {
        let mut chars = name.chars();
        let want = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ' ');
        prop_assert_eq!(is_marker_name(&name), want);
    }
}

// ---------------------------------------------------------------- config

/// A config using every section, so that mutations reach every part of the parser.
const FULL_CONFIG: &str = r#"templates = "templates"
zones = "/var/lib/nsd/zonerw"
state = "/var/lib/zonerw"

[serial]
scheme = "date"
clock = "utc"

[nsd]
control = ["nsd-control", "-c", "/etc/nsd/nsd.conf"]
checkzone = "nsd-checkzone"
add-pattern = "secondaries"
timeout = "10s"

[[pool]]
name = "web"
marker = "IP"
fall = 2
rise = 3

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
  attempts = 2
  expect-status = "200-399"
  expect-body = "ok"
  tls-verify = true

[guard]
reference = ["http://www.debian.org/", "https://[2001:db8::2]:8443/x"]
witnesses = [["ssh", "spare1", "zonerw", "probe"]]
timeout = "20s"

[verify]
primary = "127.0.0.1:5353"
secondaries = ["192.0.2.1", "[2001:db8::1]:53"]
timeout = "10s"

[hooks]
on-change = ["/usr/local/bin/failover-alert"]

[metrics]
textfile = "/var/lib/prometheus/node-exporter/zonerw.prom"
"#;

fn parse_config(text: &str) -> Result<Config, zonerw::error::Error> {
    Config::parse(text, Path::new(CONFIG_PATH))
}

/// A failed parse is a config error: exit code 2, message starting with the file, and a
/// `FILE:LINE:COL` position (when given) that lies within the text.
fn check_config_error(text: &str, error: &zonerw::error::Error) -> Result<(), TestCaseError> {
    prop_assert_eq!(error.exit_code(), 2, "{}", error);
    prop_assert!(
        matches!(error, zonerw::error::Error::Config { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    let rest = message
        .strip_prefix(CONFIG_PATH)
        .ok_or_else(|| TestCaseError::fail(format!("does not name the file: {message}")))?;
    if let Some(position) = rest.strip_prefix(':') {
        let mut numbers = position.split(':').take(2).map(str::parse::<usize>);
        if let (Some(Ok(line)), Some(Ok(column))) = (numbers.next(), numbers.next()) {
            let lines = text.split('\n').count();
            prop_assert!(
                (1..=lines).contains(&line),
                "line {line} of {lines}: {message}"
            );
            prop_assert!(column >= 1, "{message}");
        }
    }
    Ok(())
}

/// TOML-ish text: keys, tables, quotes, brackets, numbers, newlines and arbitrary characters.
fn tomlish_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            3 => prop_oneof![
                Just("[".to_owned()), Just("]".to_owned()), Just("[[".to_owned()),
                Just("]]".to_owned()), Just("\"".to_owned()), Just("'".to_owned()),
                Just("\"\"\"".to_owned()), Just(" = ".to_owned()), Just("\n".to_owned()),
                Just(",".to_owned()), Just("{".to_owned()), Just("}".to_owned()),
                Just(".".to_owned()), Just("\\".to_owned()), Just("\\u".to_owned()),
                Just("#".to_owned()),
            ],
            2 => prop_oneof![
                Just("pool".to_owned()), Just("pool.server".to_owned()),
                Just("pool.check".to_owned()), Just("name".to_owned()),
                Just("ipv4".to_owned()), Just("ipv6".to_owned()), Just("timeout".to_owned()),
                Just("marker".to_owned()), Just("serial".to_owned()), Just("scheme".to_owned()),
                Just("nsd".to_owned()), Just("control".to_owned()), Just("guard".to_owned()),
                Just("verify".to_owned()), Just("expect-status".to_owned()),
                Just("check".to_owned()), Just("fall".to_owned()),
            ],
            2 => "[0-9a-z:./ -]{1,6}",
            1 => any::<char>().prop_map(String::from),
        ],
        0..60,
    )
    .prop_map(|pieces| pieces.concat())
}

/// Arbitrary replacement text for mutations.
fn replacement() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        tomlish_text(),
        "[0-9]{0,25}(ms|s|m|h)?",
        "-?[0-9]{1,20}",
        "[0-9.:a-f\\[\\]]{0,20}",
    ]
}

proptest! {
    /// Config parsing never panics on arbitrary text; every error is a config error (exit 2)
    /// naming the file and a position inside the text.
    #[test]
    fn config_parse_never_panics(text in prop_oneof![any::<String>(), tomlish_text()]) {
        if let Err(e) = parse_config(&text) {
            check_config_error(&text, &e)?;
        }
    }

    /// Config parsing never panics on a valid config with any byte range replaced by
    /// arbitrary text; errors are config errors (exit 2).
    #[test]
    fn mutated_config_never_panics(
        start in 0..FULL_CONFIG.len(),
        len in 0usize..40,
        insert in replacement(),
    ) {
        let end = (start + len).min(FULL_CONFIG.len());
        let text = format!("{}{}{}", &FULL_CONFIG[..start], insert, &FULL_CONFIG[end..]);
        if let Err(e) = parse_config(&text) {
            check_config_error(&text, &e)?;
        }
    }

    /// The same with the contents of one quoted value (or one bare value) replaced.
    #[test]
    fn config_with_any_value_never_panics(which in any::<prop::sample::Index>(), insert in replacement()) {
        // (start, end) of every value: between quotes, or after "= " to the end of the line.
        let mut values = Vec::new();
        let mut offset = 0;
        for line in FULL_CONFIG.split_inclusive('\n') {
            let mut quote = None;
            for (i, c) in line.char_indices() {
                if c == '"' {
                    match quote.take() {
                        None => quote = Some(i + 1),
                        Some(open) => values.push((offset + open, offset + i)),
                    }
                }
            }
            if let Some(eq) = line.find("= ") {
                values.push((offset + eq + 2, offset + line.trim_end().len()));
            }
            offset += line.len();
        }
        let (start, end) = values[which.index(values.len())];
        let text = format!("{}{}{}", &FULL_CONFIG[..start], insert, &FULL_CONFIG[end..]);
        if let Err(e) = parse_config(&text) {
            check_config_error(&text, &e)?;
        }
    }
}

#[test]
fn full_config_parses() {
    let config = parse_config(FULL_CONFIG).unwrap();
    assert_eq!(config.pools[0].servers.len(), 2);
    assert!(config.guard.is_some() && config.verify.is_some() && config.on_change.is_some());
}

// ---------------------------------------------------------------- durations
//
// `config::parse_duration` is crate-private, so durations are tested through the config
// file: `[nsd] timeout = "<text>"`.

/// Parse `[nsd] timeout = <text as a TOML string>` and return the timeout.
fn nsd_timeout(text: &str) -> Result<Duration, zonerw::error::Error> {
    let config = format!(
        "[nsd]\ntimeout = {}\n",
        toml::Value::String(text.to_owned())
    );
    parse_config(&config).map(|c| c.primary.timeout)
}

/// What "digits + unit" means, or None if `text` is not of that form or is zero.
fn duration_model(text: &str) -> Option<Duration> {
    let unit_at = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(unit_at);
    let n: u64 = digits.parse().ok()?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => return None,
    };
    (!d.is_zero() && d <= Duration::from_hours(24)).then_some(d)
}

/// Writes `d` back as a duration string the parser accepts.
fn format_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

proptest! {
    /// Durations never panic; accepted text is exactly "digits + ms|s|m|h", non-zero, with
    /// that meaning; an accepted duration written back as seconds or milliseconds parses to
    /// the same duration; rejected text is a config error (exit 2).
    #[test]
    fn durations_parse_by_the_rule_and_round_trip(
        text in prop_oneof![
            any::<String>(),
            "[0-9]{0,22}(ms|s|m|h|sec|min|us|S|M|H| s|s |)",
            "[+-]?[0-9]{1,4}(\\.[0-9])?(ms|s|m|h)",
            "[0-9٠-٩ ]{1,4}(ms|s)",
        ],
    ) {
        match nsd_timeout(&text) {
            Ok(d) => {
                prop_assert_eq!(Some(d), duration_model(&text), "{:?}", text);
                prop_assert!(!d.is_zero());
                let again = format_duration(d);
                prop_assert_eq!(nsd_timeout(&again).ok(), Some(d), "{:?} -> {:?}", text, again);
            }
            Err(e) => {
                prop_assert_eq!(duration_model(&text), None, "{:?} rejected: {}", text, e);
                prop_assert_eq!(e.exit_code(), 2);
                prop_assert!(e.to_string().contains("duration"), "{}", e);
            }
        }
    }

    /// Every "n + unit" with n ≥ 1 is accepted with its meaning, up to a day; longer ones
    /// are rejected.
    #[test]
    fn every_positive_duration_is_accepted(n in prop_oneof![1u64..=100_000, any::<u64>().prop_filter("> 0", |&n| n > 0)], unit in prop::sample::select(&["ms", "s", "m", "h"][..])) {
        let text = format!("{n}{unit}");
        prop_assert_eq!(nsd_timeout(&text).ok(), duration_model(&text));
        let within_a_day = match unit {
            "ms" => n <= 86_400_000,
            "s" => n <= 86_400,
            "m" => n <= 1_440,
            _ => n <= 24,
        };
        prop_assert_eq!(duration_model(&text).is_some(), within_a_day);
    }
}

/// Once a bug: `parse_duration` accepted durations so long that `Instant::now() + d`
/// panicked where they are used (command.rs for `[nsd] timeout`, verify.rs, and inside ureq
/// for `[pool.check] timeout`, where the panic turned into "timed out": the server counted
/// as down). Durations are now capped at a day: these are rejected, and the longest
/// accepted one fits an Instant.
#[test]
fn accepted_durations_fit_an_instant() {
    for text in [
        "18446744073709551615s",
        "5124095576030432h",
        "9223372036854775807s",
        "86401s",
        "25h",
    ] {
        let e = nsd_timeout(text).expect_err(text);
        assert!(e.to_string().contains("at most 24h"), "{text}: {e}");
    }
    let longest = nsd_timeout("24h").unwrap();
    assert!(Instant::now().checked_add(longest).is_some());
}
