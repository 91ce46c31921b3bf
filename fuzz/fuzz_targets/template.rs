//! Fuzz `Template::parse` + `render` with the markers a one-pool config knows.
//!
//! Beyond "never panics", checks the contract of DESIGN.md "Templates" against an
//! independent, char-based reading of the marker rule: rendering changes nothing but the
//! markers, and an unknown marker is reported with its name and line.

#![no_main]

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use zonerw::template::{Marker, Template, Vars, is_marker_name};

const SERIAL: u32 = 2_026_112_301;
const V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);

fn lookup(name: &str) -> Option<Marker> {
    match name {
        "serial" | "serial number" => Some(Marker::Serial),
        "IP" => Some(Marker::Address { pool: 0, v6: false }),
        "IP6" => Some(Marker::Address { pool: 0, v6: true }),
        _ => None,
    }
}

/// The marker rule read char by char: `@`, a letter, letters / digits / `_` / spaces, `@`.
fn reference(text: &str) -> Result<String, (usize, String)> {
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
                    "serial" | "serial number" => write!(out, "{SERIAL}").unwrap(),
                    "IP" => write!(out, "{V4}").unwrap(),
                    "IP6" => write!(out, "{V6}").unwrap(),
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

fuzz_target!(|text: &str| {
    let addresses = [(Some(V4), Some(V6))];
    let vars = Vars {
        serial: SERIAL,
        addresses: &addresses,
    };
    match (Template::parse(text.to_owned(), lookup), reference(text)) {
        (Ok(t), Ok(want)) => {
            assert_eq!(t.text(), text);
            let got = t.render(&vars);
            if t.uses().is_empty() {
                assert_eq!(
                    got, text,
                    "a template without markers must render unchanged"
                );
            }
            assert_eq!(got, want, "rendering changed bytes outside the markers");
        }
        (Err(e), Err((line, name))) => {
            assert_eq!((e.line, e.name.as_str()), (line, name.as_str()));
            assert!(is_marker_name(&e.name));
            assert!((1..=text.matches('\n').count() + 1).contains(&e.line));
        }
        (got, want) => panic!("parse gave {got:?}, the marker rule {want:?}"),
    }
    // A lookup that knows nothing accepts exactly the marker-free texts, unchanged.
    if let Ok(t) = Template::parse(text.to_owned(), |_| None) {
        assert!(t.uses().is_empty());
        assert_eq!(t.render(&vars), text);
    }
});
