//! A zone zonerw manages: its name, its parsed template, checked against the config. Pure:
//! the bytes come from `templates`, which reads the directory.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::state::TemplateStamp;
use crate::template::{Marker, Template, Vars, marker_name};
use crate::zonefile::{include_line, soa_line, soa_serial, soa_serial_span};

/// A managed zone and its parsed template.
#[derive(Debug, Clone)]
pub struct Zone {
    /// Zone name (`.` for the root zone).
    pub name: String,
    /// File name, the same in the templates and the zones directory.
    pub file_name: String,
    /// Path of the template.
    pub template_path: PathBuf,
    /// The parsed template; None when the run keeps the zone without reading its template
    /// (its stamp is the recorded one and nothing else that feeds the zone changed: see
    /// `plan::keep_unread`). Only a zone planned `Keep` has none.
    pub template: Option<Template>,
    /// SHA-256 of the template bytes.
    pub fingerprint: String,
    /// The template's stamp, taken before its bytes were read (or the recorded one, matched,
    /// when it was not read); None when it changed too recently to be trusted later.
    pub stamp: Option<TemplateStamp>,
}

/// The source of the template checks (this file, the marker parser, the zone file lexer):
/// a build that checks templates differently checks them all again (the version number
/// alone does not move with every change).
const CHECKS: [&str; 3] = [
    include_str!("zone.rs"),
    include_str!("template.rs"),
    include_str!("zonefile.rs"),
];

/// What checking a template against the config depends on, as a hash: the checks' code
/// (`CHECKS`), this zonerw's version, and each pool's marker and its servers' addresses.
/// Templates checked under another one are read and checked again (a server that lost its
/// IPv6 address breaks a template that uses `@IP6@`, though the template did not change).
#[must_use]
pub fn parse_context(config: &Config) -> String {
    use std::fmt::Write;
    let mut text = format!(
        "zonerw {} checks {}\n",
        env!("CARGO_PKG_VERSION"),
        fingerprint(CHECKS.concat().as_bytes())
    );
    for pool in &config.pools {
        let _ = writeln!(text, "pool {:?} marker {:?}", pool.name, pool.marker);
        for server in &pool.servers {
            let _ = writeln!(
                text,
                "  {:?} {:?} {:?}",
                server.name, server.ipv4, server.ipv6
            );
        }
    }
    fingerprint(text.as_bytes())
}

/// Hex SHA-256 of `bytes`.
#[must_use]
pub fn fingerprint(bytes: &[u8]) -> String {
    use std::fmt::Write;
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The zone a template file name stands for: `example.com.zone` -> `example.com`;
/// `.zone` and `..zone` -> the root zone. Other files (and editor leftovers) -> None.
#[must_use]
pub fn zone_name(file_name: &str) -> Option<String> {
    let stem = file_name.strip_suffix(".zone")?;
    if stem.is_empty() || stem == "." {
        return Some(".".into());
    }
    if stem.starts_with('.') || stem.contains(['/', '~', '#']) || stem.ends_with('.') {
        return None;
    }
    Some(stem.to_owned())
}

/// Parse the template of zone `name` (read from `path`, installed as `file_name`) and
/// check it against the config: its markers, its address families, its SOA serial field.
pub fn parse_zone(
    config: &Config,
    name: String,
    file_name: String,
    path: PathBuf,
    bytes: Vec<u8>,
) -> Result<Zone> {
    let template_error = |line, message| Error::Template {
        path: path.clone(),
        line,
        message,
    };
    let fingerprint = fingerprint(&bytes);
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.split(|&b| b == b'\n').count();
        template_error(Some(line), "not valid UTF-8".into())
    })?;
    if let Some(line) = include_line(&text) {
        return Err(template_error(
            Some(line),
            "$INCLUDE is not supported: NSD would resolve the included file elsewhere than the \
             check before installing did, so the zone it loads could differ from the one checked; \
             put those records into the template itself"
                .into(),
        ));
    }
    let template = Template::parse(text, |marker| lookup(config, marker))
        .map_err(|u| template_error(Some(u.line), format!("unknown marker @{}@", u.name)))?;
    check_addresses(config, &template, &path)?;
    check_serial_field(config, &template, &path)?;
    Ok(Zone {
        name,
        file_name,
        template_path: path,
        template: Some(template),
        fingerprint,
        stamp: None,
    })
}

fn lookup(config: &Config, name: &str) -> Option<Marker> {
    if name == "serial" || name == "serial number" {
        return Some(Marker::Serial);
    }
    config
        .pool_for_marker(name)
        .map(|(pool, v6)| Marker::Address { pool, v6 })
}

/// The SOA serial field of the template must be the serial marker: zonerw owns the serial.
/// A literal serial (or `@serial@` only in a comment) would send changed content out with
/// the same or a lower serial, which the secondaries never transfer. Rendered with two
/// different serials, the SOA must carry each of them.
fn check_serial_field(config: &Config, template: &Template, path: &Path) -> Result<()> {
    let addresses: Vec<_> = config
        .pools
        .iter()
        .map(|p| (p.servers[0].ipv4, p.servers[0].ipv6))
        .collect();
    let render = |serial| {
        template.render(&Vars {
            serial,
            addresses: &addresses,
        })
    };
    let (one, two) = (render(1_000_000_001), render(1_000_000_002));
    let line_of =
        |text: &str| soa_serial_span(text).map(|span| text[..span.start].matches('\n').count() + 1);
    let error = |line, message: String| Error::Template {
        path: path.to_owned(),
        line,
        message,
    };
    match (soa_serial(&one), soa_serial(&two)) {
        (Some(1_000_000_001), Some(1_000_000_002)) => Ok(()),
        (None, _) if soa_line(&one).is_none() => Err(error(
            None,
            "no SOA record: a template must hold the zone's SOA record, with @serial@ as its serial".into(),
        )),
        (Some(literal), _) => Err(error(
            line_of(&one),
            format!(
                "the SOA serial is the literal {literal}; write @serial@ in its place (zonerw owns the serial, and a fixed one would hide changes from the secondaries)"
            ),
        )),
        _ => Err(error(
            line_of(&one).or_else(|| soa_line(&one)),
            "the SOA record is malformed or its serial field is not exactly @serial@ (zonerw owns the serial)".into(),
        )),
    }
}

/// Every server of a pool whose address marker a template uses must have that address
/// family, or a failover would one day have nothing to write there.
fn check_addresses(config: &Config, template: &Template, path: &Path) -> Result<()> {
    for &(marker, line) in template.uses() {
        let Marker::Address { pool, v6 } = marker else {
            continue;
        };
        let pool = &config.pools[pool];
        let lacking = pool.servers.iter().find(|s| {
            if v6 {
                s.ipv6.is_none()
            } else {
                s.ipv4.is_none()
            }
        });
        if let Some(server) = lacking {
            let name = marker_name(&pool.marker, v6);
            let key = if v6 { "ipv6" } else { "ipv4" };
            return Err(Error::Template {
                path: path.to_owned(),
                line: Some(line),
                message: format!(
                    "@{name}@ is used, but server {:?} of pool {:?} has no {key} address",
                    server.name, pool.name
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The context moves with what the checks depend on, and only with that.
    #[test]
    fn the_parse_context_follows_markers_and_addresses() {
        let config = crate::testing::config();
        let same = crate::testing::config();
        assert_eq!(parse_context(&config), parse_context(&same));
        let mut marker = crate::testing::config();
        marker.pools[0].marker = "WEB".into();
        let mut six = crate::testing::config();
        six.pools[0].servers[1].ipv6 = Some("2001:db8::7".parse().unwrap());
        for other in [marker, six] {
            assert_ne!(parse_context(&config), parse_context(&other));
        }
    }

    #[test]
    fn zone_names_from_file_names() {
        let cases = [
            ("example.com.zone", Some("example.com")),
            ("example.NET.zone", Some("example.NET")),
            (".zone", Some(".")),
            ("..zone", Some(".")),
            ("example.com", None),
            (".example.com.zone.swp", None),
            (".#example.com.zone", None),
            (".example.com.zone.abc.tmp", None),
            ("example.com.zone~", None),
        ];
        for (file, want) in cases {
            assert_eq!(zone_name(file).as_deref(), want, "{file}");
        }
    }

    fn template_error(text: &str) -> Option<String> {
        let config = Config::parse(
            "[[pool]]\nname = \"web\"\n[[pool.server]]\nname = \"a\"\nipv4 = \"192.0.2.1\"\n",
            Path::new("/etc/zonerw/zonerw.toml"),
        )
        .unwrap();
        let path = PathBuf::from("t/x.zone");
        parse_zone(&config, "x".into(), "x.zone".into(), path, text.into())
            .err()
            .map(|e| e.to_string())
    }

    #[test]
    fn the_soa_serial_field_must_be_the_serial_marker() {
        let soa = |serial: &str| {
            format!("$TTL 60\n@ IN SOA ns hm (\n {serial}\n 1 2 3 4 )\nwww A @IP@\n")
        };
        assert_eq!(template_error(&soa("@serial@")), None);
        assert_eq!(template_error(&soa("@serial number@ ; serial")), None);
        assert_eq!(
            template_error(&soa("2025010101")).unwrap(),
            "t/x.zone:3: the SOA serial is the literal 2025010101; write @serial@ in its place (zonerw owns the serial, and a fixed one would hide changes from the secondaries)"
        );
        assert!(
            template_error(&soa("7 ; @serial@"))
                .unwrap()
                .starts_with("t/x.zone:3: the SOA serial is the literal 7;")
        );
        assert!(
            template_error(&soa("@serial@0"))
                .unwrap()
                .starts_with("t/x.zone:3: the SOA record is malformed")
        );
        assert!(
            template_error("@ IN SOA ns hm\n")
                .unwrap()
                .starts_with("t/x.zone:1: the SOA record is malformed")
        );
        assert!(
            template_error("www A @IP@\n")
                .unwrap()
                .starts_with("t/x.zone: no SOA record")
        );
        assert!(
            template_error(&format!("{}$INCLUDE other\n", soa("@serial@")))
                .unwrap()
                .starts_with("t/x.zone:6: $INCLUDE is not supported")
        );
    }

    #[test]
    fn fingerprints_are_sha256() {
        assert_eq!(
            fingerprint(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn more_file_names() {
        let cases = [
            ("example.com.zone.zone", Some("example.com.zone")),
            ("xn--bcher-kva.example.zone", Some("xn--bcher-kva.example")),
            ("_dmarc.example.zone", Some("_dmarc.example")),
            ("example.com..zone", None),
            ("...zone", None),
            (".zone.zone", None),
            ("a/b.zone", None),
            ("a~b.zone", None),
            ("a#b.zone", None),
            ("example.com.ZONE", None),
            ("zone", None),
            ("", None),
        ];
        for (file, want) in cases {
            assert_eq!(zone_name(file).as_deref(), want, "{file:?}");
        }
    }

    #[test]
    fn a_parsed_zone_keeps_its_names_text_and_fingerprint() {
        let config = crate::testing::config();
        let zone = crate::testing::zone(&config);
        assert_eq!(zone.name, "example.com");
        assert_eq!(zone.file_name, "example.com.zone");
        assert_eq!(
            zone.template_path,
            Path::new("/etc/zonerw/templates/example.com.zone")
        );
        assert_eq!(
            zone.template.as_ref().unwrap().text(),
            crate::testing::TEMPLATE
        );
        assert_eq!(
            zone.fingerprint,
            fingerprint(crate::testing::TEMPLATE.as_bytes())
        );
        assert_eq!(
            zone.template.as_ref().unwrap().uses(),
            &[
                (Marker::Serial, 1),
                (Marker::Address { pool: 0, v6: false }, 2)
            ]
        );
    }

    #[test]
    fn template_errors_name_their_line() {
        let soa = "@ IN SOA ns hm ( @serial@ 1 2 3 4 )\n";
        let cases: [(Vec<u8>, &str); 6] = [
            (
                format!("{soa}www A @NOPE@\n").into_bytes(),
                "t/x.zone:2: unknown marker @NOPE@",
            ),
            (
                [soa.as_bytes(), b"www TXT \"caf\xe9\"\n"].concat(),
                "t/x.zone:2: not valid UTF-8",
            ),
            (b"\xff".to_vec(), "t/x.zone:1: not valid UTF-8"),
            (
                format!("{soa}\n\n$include /etc/passwd\n").into_bytes(),
                "t/x.zone:4: $INCLUDE is not supported: NSD would resolve the included file elsewhere than the check before installing did, so the zone it loads could differ from the one checked; put those records into the template itself",
            ),
            (
                // @serial@ outside the SOA does not make the SOA's literal serial right
                b"x TXT \"@serial@\"\n@ IN SOA ns hm ( 5 1 2 3 4 )\n".to_vec(),
                "t/x.zone:2: the SOA serial is the literal 5; write @serial@ in its place (zonerw owns the serial, and a fixed one would hide changes from the secondaries)",
            ),
            (
                b"".to_vec(),
                "t/x.zone: no SOA record: a template must hold the zone's SOA record, with @serial@ as its serial",
            ),
        ];
        let config = crate::testing::config();
        for (bytes, want) in cases {
            let got = parse_zone(
                &config,
                "x".into(),
                "x.zone".into(),
                "t/x.zone".into(),
                bytes.clone(),
            )
            .unwrap_err();
            assert_eq!(
                got.to_string(),
                want,
                "{:?}",
                String::from_utf8_lossy(&bytes)
            );
            assert_eq!(got.exit_code(), 2);
        }
    }

    #[test]
    fn serial_fields_that_are_accepted() {
        let cases = [
            "@ IN SOA ns hm ( \"@serial@\" 1 2 3 4 )\n",
            "@ 3600 IN SOA ns hm @serial@ 1 2 3 4\n",
            "$ORIGIN example.com.\n@ SOA ns hm (\n\t@serial number@ ; serial\n\t1 2 3 4 )\n",
            // only the first SOA is the zone's
            "@ SOA ns hm @serial@ 1 2 3 4\nsub SOA ns hm 7 1 2 3 4\n",
        ];
        for text in cases {
            assert_eq!(template_error(text), None, "{text:?}");
        }
    }

    #[test]
    fn an_address_marker_needs_that_family_on_every_server_of_its_pool() {
        let config = Config::parse(
            "[[pool]]\nname = \"web\"\n[[pool.server]]\nname = \"dual\"\nipv4 = \"192.0.2.1\"\nipv6 = \"2001:db8::1\"\n\
             [[pool.server]]\nname = \"v6only\"\nipv6 = \"2001:db8::2\"\n\
             [[pool]]\nname = \"mail\"\nmarker = \"MX\"\n[[pool.server]]\nname = \"m\"\nipv4 = \"192.0.2.9\"\n",
            Path::new("/etc/zonerw/zonerw.toml"),
        )
        .unwrap();
        let soa = "@ IN SOA ns hm ( @serial@ 1 2 3 4 )\n";
        let cases = [
            ("www AAAA @IP6@\n", None),
            ("mx A @MX@\n", None),
            (
                "www AAAA @IP6@\n\nwww A @IP@\n",
                Some(
                    "t/x.zone:4: @IP@ is used, but server \"v6only\" of pool \"web\" has no ipv4 address",
                ),
            ),
            (
                "mx AAAA @MX6@\n",
                Some(
                    "t/x.zone:2: @MX6@ is used, but server \"m\" of pool \"mail\" has no ipv6 address",
                ),
            ),
            ("x A @WEB@\n", Some("t/x.zone:2: unknown marker @WEB@")),
        ];
        for (records, want) in cases {
            let got = parse_zone(
                &config,
                "x".into(),
                "x.zone".into(),
                "t/x.zone".into(),
                format!("{soa}{records}").into_bytes(),
            )
            .err()
            .map(|e| e.to_string());
            assert_eq!(got.as_deref(), want, "{records:?}");
        }
    }
}
