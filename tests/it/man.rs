//! The man pages and the example config document the whole surface: every long flag of
//! every subcommand, and every config key.

use std::process::Command;

fn read(path: &str) -> String {
    let text = std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    // roff writes a hyphen as \- ; compare plain text.
    text.replace("\\-", "-")
}

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_zonerw"))
        .args(args)
        .arg("--help")
        .output()
        .expect("run zonerw --help");
    assert!(out.status.success(), "zonerw {args:?} --help failed");
    String::from_utf8(out.stdout).expect("utf-8 help")
}

fn long_flags(help: &str) -> Vec<String> {
    help.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_long_flag_is_in_the_man_page() {
    let man = read("man/zonerw.8");
    let mut flags = Vec::new();
    for sub in [
        &[][..],
        &["check"],
        &["status"],
        &["probe"],
        &["drain"],
        &["undrain"],
        &["pin"],
        &["unpin"],
        &["adopt"],
    ] {
        flags.extend(long_flags(&help(sub)));
    }
    flags.sort();
    flags.dedup();
    assert!(flags.len() >= 12, "too few flags found: {flags:?}");
    let missing: Vec<_> = flags.iter().filter(|f| !man.contains(f.as_str())).collect();
    assert!(missing.is_empty(), "man/zonerw.8 lacks {missing:?}");
}

/// Every key the config file accepts (zonerw.toml.example), as dotted paths.
const KEYS: &[&str] = &[
    "templates",
    "zones",
    "state",
    "serial.scheme",
    "serial.clock",
    "nsd.control",
    "nsd.checkzone",
    "nsd.timeout",
    "nsd.add-pattern",
    "server.kind",
    "server.control",
    "server.check",
    "server.timeout",
    "server.add-template",
    "metrics.textfile",
    "pool.name",
    "pool.marker",
    "pool.fall",
    "pool.rise",
    "pool.server.name",
    "pool.server.ipv4",
    "pool.server.ipv6",
    "pool.server.check",
    "pool.check.timeout",
    "pool.check.attempts",
    "pool.check.expect-status",
    "pool.check.expect-body",
    "pool.check.tls-verify",
    "guard.reference",
    "guard.witnesses",
    "guard.timeout",
    "verify.primary",
    "verify.secondaries",
    "verify.timeout",
    "hooks.on-change",
    "dnssec.keys",
    "dnssec.signer",
    "dnssec.verifier",
    "dnssec.denial",
    "dnssec.validity",
    "dnssec.refresh",
    "dnssec.unsigned",
];

#[test]
fn every_config_key_is_in_the_config_man_page_and_the_example() {
    let man = read("man/zonerw.toml.5");
    let example = read("zonerw.toml.example");
    for key in KEYS {
        let leaf = key.rsplit('.').next().unwrap();
        assert!(man.contains(key), "man/zonerw.toml.5 lacks {key}");
        assert!(
            example.contains(&format!("{leaf} ")) || example.contains(&format!("{leaf}=")),
            "zonerw.toml.example lacks {key}"
        );
    }
}

#[test]
fn help_ends_with_examples() {
    let text = help(&[]);
    let tail = text.trim_end().rsplit_once("Examples:").map(|(_, t)| t);
    assert!(tail.is_some_and(|t| t.contains("zonerw probe")), "{text}");
}
