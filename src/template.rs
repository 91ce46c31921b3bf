//! Zone templates: find the `@serial@` / `@IP@` markers once, then render many times.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;

/// What a marker stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Marker {
    /// `@serial@` or `@serial number@`.
    Serial,
    /// The chosen server's address of pool number `pool`; `v6` selects `@<marker>6@`.
    Address {
        /// Index of the pool in the config.
        pool: usize,
        /// The IPv6 marker.
        v6: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(Range<usize>),
    Marker(Marker),
}

/// A parsed template: literal text between markers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
    parts: Vec<Part>,
    /// Each distinct address marker used, with the 1-based line of its first use.
    uses: Vec<(Marker, usize)>,
}

/// A marker-shaped word that is not a known marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMarker {
    /// 1-based line number.
    pub line: usize,
    /// The name between the `@`s.
    pub name: String,
}

/// The values a template is rendered with.
#[derive(Debug, Clone)]
pub struct Vars<'a> {
    /// The zone's new serial.
    pub serial: u32,
    /// Per pool (config order): the chosen server's addresses.
    pub addresses: &'a [(Option<Ipv4Addr>, Option<Ipv6Addr>)],
}

/// The value of address marker (`pool`, `v6`): the chosen server's IPv4 or IPv6 address.
#[must_use]
pub fn address_value(
    addresses: &[(Option<Ipv4Addr>, Option<Ipv6Addr>)],
    pool: usize,
    v6: bool,
) -> Option<String> {
    let (v4addr, v6addr) = addresses.get(pool).copied().unwrap_or_default();
    if v6 {
        v6addr.map(|a| a.to_string())
    } else {
        v4addr.map(|a| a.to_string())
    }
}

/// The name of a pool's address marker: `IP` for IPv4, `IP6` for IPv6 (pool marker `IP`).
#[must_use]
pub fn marker_name(pool_marker: &str, v6: bool) -> String {
    if v6 {
        format!("{pool_marker}6")
    } else {
        pool_marker.to_owned()
    }
}

/// True if `name` may appear between `@`s: a letter, then letters, digits, `_` or spaces.
#[must_use]
pub fn is_marker_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ' ')
}

/// Find the marker starting at byte `at` (which holds `@`): returns the name's range.
fn marker_at(bytes: &[u8], at: usize) -> Option<Range<usize>> {
    let start = at + 1;
    if !bytes.get(start)?.is_ascii_alphabetic() {
        return None;
    }
    let len = bytes[start..]
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_' || b == b' ')
        .count();
    (bytes.get(start + len) == Some(&b'@')).then_some(start..start + len)
}

impl Template {
    /// Parse `text`, resolving marker names with `lookup`.
    ///
    /// # Errors
    /// The first marker-shaped word that `lookup` does not know.
    pub fn parse(
        text: String,
        lookup: impl Fn(&str) -> Option<Marker>,
    ) -> Result<Template, UnknownMarker> {
        let bytes = text.as_bytes();
        let (mut parts, mut uses) = (Vec::new(), Vec::<(Marker, usize)>::new());
        let (mut literal_start, mut i, mut line) = (0, 0, 1);
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => line += 1,
                b'@' => {
                    if let Some(name) = marker_at(bytes, i) {
                        let marker = lookup(&text[name.clone()]).ok_or_else(|| UnknownMarker {
                            line,
                            name: text[name.clone()].to_owned(),
                        })?;
                        if literal_start < i {
                            parts.push(Part::Text(literal_start..i));
                        }
                        parts.push(Part::Marker(marker));
                        if !uses.iter().any(|(m, _)| *m == marker) {
                            uses.push((marker, line));
                        }
                        i = name.end + 1;
                        literal_start = i;
                        continue;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        if literal_start < bytes.len() {
            parts.push(Part::Text(literal_start..bytes.len()));
        }
        Ok(Template { text, parts, uses })
    }

    /// The template's text as read.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Each distinct marker used, with the line of its first use.
    #[must_use]
    pub fn uses(&self) -> &[(Marker, usize)] {
        &self.uses
    }

    /// True if the template contains `@serial@`.
    #[must_use]
    pub fn uses_serial(&self) -> bool {
        self.uses.iter().any(|(m, _)| *m == Marker::Serial)
    }

    /// Render with `vars`. Every byte outside markers is copied unchanged.
    ///
    /// Address markers whose pool has no address of that family render as nothing; config
    /// loading rejects such templates, so this never happens in a run.
    #[must_use]
    pub fn render(&self, vars: &Vars<'_>) -> String {
        let mut out = String::with_capacity(self.text.len() + 64);
        for part in &self.parts {
            match part {
                Part::Text(range) => out.push_str(&self.text[range.clone()]),
                Part::Marker(Marker::Serial) => out.push_str(&vars.serial.to_string()),
                Part::Marker(Marker::Address { pool, v6 }) => {
                    if let Some(value) = address_value(vars.addresses, *pool, *v6) {
                        out.push_str(&value);
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<Marker> {
        match name {
            "serial" | "serial number" => Some(Marker::Serial),
            "IP" => Some(Marker::Address { pool: 0, v6: false }),
            "IP6" => Some(Marker::Address { pool: 0, v6: true }),
            _ => None,
        }
    }

    fn render(text: &str) -> String {
        let t = Template::parse(text.to_owned(), lookup).unwrap();
        let addrs = [(
            Some("192.0.2.1".parse().unwrap()),
            Some("2001:db8::1".parse().unwrap()),
        )];
        t.render(&Vars {
            serial: 2_026_112_301,
            addresses: &addrs,
        })
    }

    #[test]
    fn markers_are_replaced() {
        let cases = [
            ("@serial@", "2026112301"),
            ("( @serial number@ ; serial", "( 2026112301 ; serial"),
            (
                "www A @IP@\nwww AAAA @IP6@\n",
                "www A 192.0.2.1\nwww AAAA 2001:db8::1\n",
            ),
            ("@@IP@@", "@192.0.2.1@"),
            ("a@IP@IP@", "a192.0.2.1IP@"),
        ];
        for (text, want) in cases {
            assert_eq!(render(text), want, "{text:?}");
        }
    }

    #[test]
    fn zone_file_at_signs_are_not_markers() {
        let cases = [
            "@ IN SOA ns1 hostmaster ( 1 2 3 4 5 )\n",
            "@\tIN A 192.0.2.1\n",
            "x TXT \"mail user@example.com\"\n",
            "x TXT \"user@example.com, admin@example.net\"\n",
            "$ORIGIN example.com.\n@ 300 IN MX 10 mail\n",
            "trailing @",
            "@",
            "@@",
            "x TXT \"@1abc@\"",
            "x TXT \"@ spaced@\"",
        ];
        for text in cases {
            assert_eq!(render(text), text, "{text:?}");
        }
    }

    #[test]
    fn unknown_marker_reports_its_line() {
        let err = Template::parse("a\nb\nwww A @IPV4@\n".into(), lookup).unwrap_err();
        assert_eq!(
            err,
            UnknownMarker {
                line: 3,
                name: "IPV4".into()
            }
        );
        let err = Template::parse("x TXT \"a@b c@d\"".into(), lookup).unwrap_err();
        assert_eq!(err.name, "b c");
    }

    #[test]
    fn uses_lists_each_marker_once_with_its_first_line() {
        let t = Template::parse("@serial@\n@IP@\n@IP@ @IP6@\n".into(), lookup).unwrap();
        assert_eq!(
            t.uses(),
            &[
                (Marker::Serial, 1),
                (Marker::Address { pool: 0, v6: false }, 2),
                (Marker::Address { pool: 0, v6: true }, 3),
            ]
        );
        assert!(t.uses_serial());
    }

    #[test]
    fn marker_names() {
        assert!(is_marker_name("IP"));
        assert!(is_marker_name("serial number"));
        assert!(is_marker_name("web_2"));
        assert!(!is_marker_name("2web"));
        assert!(!is_marker_name(""));
        assert!(!is_marker_name("a-b"));
    }

    #[test]
    fn markers_at_the_edges_of_the_file_and_next_to_each_other() {
        let cases = [
            ("", ""),
            ("@IP@", "192.0.2.1"),
            ("@IP@\nwww A @IP@", "192.0.2.1\nwww A 192.0.2.1"),
            ("x\n@serial@", "x\n2026112301"),
            ("@IP@@IP6@", "192.0.2.12001:db8::1"),
            ("@serial@@serial number@", "20261123012026112301"),
            ("@IP@@", "192.0.2.1@"),
            ("@@IP@", "@192.0.2.1"),
            ("IP@IP@", "IP192.0.2.1"),
            ("é@IP@ü", "é192.0.2.1ü"),
            ("a\r\n@IP@\r\n", "a\r\n192.0.2.1\r\n"),
            // unterminated: text
            ("www A @IP", "www A @IP"),
            ("@serial", "@serial"),
            ("@IP\n@", "@IP\n@"),
        ];
        for (text, want) in cases {
            assert_eq!(render(text), want, "{text:?}");
        }
    }

    #[test]
    fn uses_of_adjacent_markers_keep_their_order_and_lines() {
        let t = Template::parse("@IP6@@IP@\r\n@serial@ @IP6@".into(), lookup).unwrap();
        assert_eq!(
            t.uses(),
            &[
                (Marker::Address { pool: 0, v6: true }, 1),
                (Marker::Address { pool: 0, v6: false }, 1),
                (Marker::Serial, 2),
            ]
        );
        assert_eq!(t.text(), "@IP6@@IP@\r\n@serial@ @IP6@");
        let plain = Template::parse("www A @IP@\n".into(), lookup).unwrap();
        assert!(!plain.uses_serial());
        let empty = Template::parse(String::new(), lookup).unwrap();
        assert!(empty.uses().is_empty());
    }

    #[test]
    fn unknown_markers_at_the_start_and_after_other_markers() {
        let cases = [
            ("@NOPE@ rest", 1, "NOPE"),
            ("@IP@@NOPE@", 1, "NOPE"),
            ("a\r\nb\r\n@serial@ @Serial@", 3, "Serial"),
            ("@IP@\n\n\n@ip@", 4, "ip"),
        ];
        for (text, line, name) in cases {
            let e = Template::parse(text.into(), lookup).unwrap_err();
            assert_eq!(
                e,
                UnknownMarker {
                    line,
                    name: name.into()
                },
                "{text:?}"
            );
        }
    }

    #[test]
    fn address_values_by_pool_and_family() {
        let addrs = [
            (Some("192.0.2.1".parse().unwrap()), None),
            (None, Some("2001:db8::7".parse().unwrap())),
        ];
        let cases = [
            (0, false, Some("192.0.2.1")),
            (0, true, None),
            (1, false, None),
            (1, true, Some("2001:db8::7")),
            (2, false, None),
        ];
        for (pool, v6, want) in cases {
            assert_eq!(
                address_value(&addrs, pool, v6).as_deref(),
                want,
                "pool {pool} v6 {v6}"
            );
        }
        // A marker without a value renders as nothing (config loading prevents it).
        let lookup = |name: &str| match name {
            "A" => Some(Marker::Address { pool: 0, v6: true }),
            "B" => Some(Marker::Address { pool: 1, v6: true }),
            _ => None,
        };
        let t = Template::parse("[@A@] [@B@]".into(), lookup).unwrap();
        let rendered = t.render(&Vars {
            serial: 1,
            addresses: &addrs,
        });
        assert_eq!(rendered, "[] [2001:db8::7]");
        assert_eq!(marker_name("IP", false), "IP");
        assert_eq!(marker_name("IP", true), "IP6");
        assert_eq!(marker_name("web addr", true), "web addr6");
    }
}
