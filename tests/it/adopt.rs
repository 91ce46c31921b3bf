//! `zonerw adopt`: working zone files become templates, and the first run installs them
//! back as they were, apart from the serial.
//!
//! The corpus test adopts every file of NSD's test zones (`tests/fixtures/nsd-tpkg`, the
//! 121 zone files of NSD's own `tpkg` test suite) with a pool whose main server has the first
//! IPv4 and IPv6 address found in the file, then runs zonerw (stub `nsd-control`, no
//! `nsd-checkzone`, as `corpus` does) and compares the installed zone with the original.
//! The NSD test adopts a real-looking zone and has the real NSD pair serve the result.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use domain::base::iana::Rtype;
use domain::rdata::Aaaa;

use crate::support::*;

/// The backup server of every test pool.
const BACKUP6: &str = "2001:db8::7";

/// The template file name zonerw uses for `zone`.
fn template_name(zone: &str) -> String {
    if zone == "." {
        "..zone".into()
    } else {
        format!("{zone}.zone")
    }
}

/// A scratch setup: `templates/` (empty), `zones/`, `state/`, a stub `nsd-control` and a
/// config with pool "web" (`main`, then `backup` `198.51.100.7`/`2001:db8::7`; no checks, so
/// main is chosen) plus `extra` TOML at the end.
struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Setup {
    fn new(main4: Ipv4Addr, main6: Ipv6Addr, extra: &str) -> Setup {
        let dir = tempfile::tempdir().expect("create temporary directory");
        let root = dir.path();
        for sub in ["templates", "zones", "state"] {
            fs::create_dir(root.join(sub)).expect("create setup directory");
        }
        let stub = root.join("nsd-control-stub");
        fs::write(&stub, STUB_NSD_CONTROL).expect("write nsd-control stub");
        fs::set_permissions(&stub, fs::Permissions::from_mode(0o755)).expect("chmod stub");
        let config = root.join("zonerw.toml");
        let text = format!(
            "templates = \"{0}/templates\"\nzones = \"{0}/zones\"\nstate = \"{0}/state\"\n\n\
             [serial]\nscheme = \"counter\"\n\n\
             [nsd]\ncontrol = [\"{1}\"]\ncheckzone = \"\"\ntimeout = \"10s\"\n\n\
             [[pool]]\nname = \"web\"\n\
             [[pool.server]]\nname = \"main\"\nipv4 = \"{main4}\"\nipv6 = \"{main6}\"\n\
             [[pool.server]]\nname = \"backup\"\nipv4 = \"{BACKUP_IP}\"\nipv6 = \"{BACKUP6}\"\n\
             {extra}",
            root.display(),
            stub.display(),
        );
        fs::write(&config, text).expect("write config");
        Setup { dir, config }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn templates(&self) -> PathBuf {
        self.path("templates")
    }

    /// `zonerw -c CONFIG args...`.
    fn zonerw(&self, args: &[&str]) -> Run {
        let mut full = vec!["-c", self.config.to_str().expect("UTF-8 path")];
        full.extend(args);
        run_zonerw(&full)
    }

    /// `zonerw -c CONFIG adopt files...`.
    fn adopt(&self, args: &[&Path]) -> Run {
        let args: Vec<&str> = args.iter().map(|p| p.to_str().unwrap()).collect();
        let mut full = vec!["adopt"];
        full.extend(args);
        self.zonerw(&full)
    }

    /// Write `text` as `name` in the setup directory (not in templates/); returns its path.
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        fs::write(&path, text).expect("write zone file");
        path
    }

    /// The names in templates/, sorted.
    fn template_names(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.templates())
            .expect("read templates")
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

/// The whitespace/punctuation-separated words of `text`, and the runs between them.
fn runs(text: &str) -> Vec<&str> {
    let delimiter = |c: char| c.is_whitespace() || "();\"".contains(c);
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_word = None;
    for (i, c) in text.char_indices() {
        let word = !delimiter(c);
        if in_word.is_some_and(|w| w != word) {
            out.push(&text[start..i]);
            start = i;
        }
        in_word = Some(word);
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// `installed` is `expected` byte for byte, except that a word may be another spelling of
/// the same IP address; returns how many words were spelled differently.
fn same_but_address_spelling(installed: &str, expected: &str) -> Result<usize, String> {
    let (got, want) = (runs(installed), runs(expected));
    if got.len() != want.len() {
        return Err(format!(
            "{} words and gaps installed, {} expected",
            got.len(),
            want.len()
        ));
    }
    let mut respelled = 0;
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        if g == w {
            continue;
        }
        match (g.parse::<IpAddr>(), w.parse::<IpAddr>()) {
            (Ok(a), Ok(b)) if a == b => respelled += 1,
            _ => {
                let line = want[..i].concat().matches('\n').count() + 1;
                return Err(format!("line {line}: installed {g:?}, expected {w:?}"));
            }
        }
    }
    Ok(respelled)
}

/// The first word of `text` that is an IPv4 (IPv6) address, for the pool's main server.
fn first_addresses(text: &str) -> (Option<Ipv4Addr>, Option<Ipv6Addr>) {
    let words = runs(text);
    let v4 = words.iter().find_map(|w| w.parse().ok());
    let v6 = words
        .iter()
        .filter(|w| w.contains(':'))
        .find_map(|w| w.parse().ok());
    (v4, v6)
}

/// What one corpus file did: how many addresses it replaced, how many came back respelled.
struct Adopted {
    addresses: usize,
    respelled: usize,
}

/// Adopts one corpus file, runs zonerw once, and compares the installed zone.
fn check(file: &str, zone: &str) -> Result<Adopted, String> {
    let source = corpus_dir().join(file);
    let original = fs::read_to_string(&source).map_err(|e| format!("cannot read: {e}"))?;
    let (v4, v6) = first_addresses(&original);
    let main4 = v4.unwrap_or(Ipv4Addr::new(192, 0, 2, 1));
    let main6 = v6.unwrap_or("2001:db8::1".parse().unwrap());
    let setup = Setup::new(main4, main6, "");
    let r = setup.zonerw(&["adopt", source.to_str().unwrap(), "--zone", zone]);
    let template = setup.templates().join(template_name(zone));
    if r.code != 0 {
        return Err(format!("adopt failed:\n{r}"));
    }
    let shown = source.display().to_string();
    let mut lines = r.stdout.lines();
    if lines.next_back() != Some(&format!("wrote {}", template.display())) {
        return Err(format!(
            "adopt did not end with 'wrote {}':\n{r}",
            template.display()
        ));
    }
    let mut addresses = 0;
    for line in lines {
        let rest = line
            .strip_prefix(&format!("{shown}:"))
            .ok_or_else(|| format!("adopt printed {line:?}"))?;
        if rest.ends_with(" -> @IP@") || rest.ends_with(" -> @IP6@") {
            addresses += 1;
        } else if !rest.contains(": serial ") || !rest.ends_with(" -> @serial@") {
            return Err(format!("adopt printed {line:?}"));
        }
    }
    for line in r.stderr.lines() {
        // Addresses of the main server spelled unlike zonerw writes them, generic rdata
        // holding one, and files without any: nothing else is worth a warning here.
        let expected = line.contains("(the same address, in the form zonerw writes)")
            || line.contains("RFC 3597 generic form")
            || line.contains("no A or AAAA record holds an address");
        if !line.starts_with("zonerw: warning: ") || !expected {
            return Err(format!("adopt printed {line:?} on stderr:\n{r}"));
        }
    }
    let mode = fs::metadata(&template)
        .map_err(|e| e.to_string())?
        .permissions()
        .mode();
    if mode & 0o777 != 0o644 {
        return Err(format!("the template has mode {:o}", mode & 0o777));
    }
    let r = setup.zonerw(&[]);
    if r.code != 0 {
        return Err(format!("the run after adopt failed:\n{r}"));
    }
    let serial = r
        .zone_change(zone)
        .ok_or_else(|| format!("no zone line:\n{r}"))?
        .1;
    let installed = fs::read_to_string(setup.path("zones").join(template_name(zone)))
        .map_err(|e| format!("not installed: {e}"))?;
    let span = zonerw::zonefile::soa_serial_span(&original).ok_or("no serial span")?;
    let expected = format!(
        "{}{serial}{}",
        &original[..span.start],
        &original[span.end..]
    );
    let respelled = same_but_address_spelling(&installed, &expected)?;
    Ok(Adopted {
        addresses,
        respelled,
    })
}

#[test]
fn every_corpus_zone_adopts_and_is_installed_back_apart_from_the_serial() {
    let all = corpus_index();
    assert_eq!(all.len(), 121, "INDEX lists the 121 corpus files");
    // A zone name of 251 characters (ixfr_superlong) makes a template name that no file
    // system takes: adopting it fails (exit 1, nothing written), like installing it would.
    let (unnamable, cases): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|(_, origin)| template_name(origin).len() > NAME_MAX);
    assert_eq!(unnamable.len(), 1);
    let (file, origin) = &unnamable[0];
    let setup = Setup::new(
        Ipv4Addr::new(192, 0, 2, 1),
        "2001:db8::1".parse().unwrap(),
        "",
    );
    let source = corpus_dir().join(file);
    let r = setup.zonerw(&["adopt", source.to_str().unwrap(), "--zone", origin]);
    r.expect_code(1);
    assert!(r.stderr.contains("File name too long"), "{r}");
    assert!(setup.template_names().is_empty(), "{r}");

    let adopted = check_corpus(&cases, check);
    // The main server has the file's first addresses, so most files have some replaced
    // (the corpus is fixed, and so are these counts); some are written in another form,
    // such as ::FFFF:127.0.0.1, and come back as zonerw writes them (::ffff:127.0.0.1).
    let with_addresses = adopted.iter().filter(|a| a.addresses > 0).count();
    let addresses: usize = adopted.iter().map(|a| a.addresses).sum();
    let respelled: usize = adopted.iter().map(|a| a.respelled).sum();
    let counts = (with_addresses, addresses, respelled);
    assert_eq!(
        counts,
        (96, 276, 30),
        "(files with an address replaced, addresses, respelled)"
    );
}

/// The main server of the NSD test (not 127.0.0.1, where the NSD servers are).
const MAIN3: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// The zone as its owner served it before zonerw.
fn original_zone() -> String {
    format!(
        "; {ZONE}, as it was served before zonerw\n\
         $ORIGIN {ZONE}.\n\
         $TTL 60\n\
         @   IN SOA ns1.{ZONE}. hostmaster.{ZONE}. (\n\
         \x20       2024010101 ; serial\n\
         \x20       3600 600 86400 60 )\n\
         \x20   IN NS ns1.{ZONE}.\n\
         \x20   IN A {MAIN3}        ; the web server\n\
         \x20   IN AAAA 2001:db8::3\n\
         ns1 IN A 127.0.0.1\n\
         www IN A {MAIN3}\n\
         www IN AAAA 2001:db8::3\n\
         @   IN MX 10 mail\n\
         mail 300 IN A 192.0.2.25\n\
         @   IN TXT \"v=spf1 ip4:{MAIN3} ip6:2001:db8::3 -all\"\n"
    )
}

/// The AAAA records `port` serves for `name`.
fn aaaa_record(port: u16, name: &str) -> Vec<Ipv6Addr> {
    let Ok(resp) = dns_query(port, name, Rtype::AAAA) else {
        return Vec::new();
    };
    let Ok(answer) = resp.answer() else {
        return Vec::new();
    };
    answer
        .limit_to::<Aaaa>()
        .filter_map(|rr| rr.ok().map(|rr| rr.data().addr()))
        .collect()
}

#[test]
fn an_adopted_zone_is_served_by_nsd_as_it_was_apart_from_the_serial() {
    let main = MainServer::http_on(MAIN3, Mode::Up);
    let nsd = NsdPair::new(&[ZONE]);
    let mut settings = Settings::new(&main.url("/up.txt"));
    settings.main_ip = MAIN3;
    let z = Zonerw::new(&nsd, settings);
    // The harness writes a template of its own: this test makes it with adopt instead.
    fs::remove_file(z.template_path(ZONE)).unwrap();
    let config = z
        .config_text()
        .replace(
            &format!("ipv4 = \"{MAIN3}\"\n"),
            &format!("ipv4 = \"{MAIN3}\"\n  ipv6 = \"2001:db8::3\"\n"),
        )
        .replace(
            &format!("ipv4 = \"{BACKUP_IP}\"\n"),
            &format!("ipv4 = \"{BACKUP_IP}\"\n  ipv6 = \"{BACKUP6}\"\n"),
        );
    fs::write(&z.config, config).unwrap();
    let original = original_zone();
    let source = nsd.dir.join(format!("{ZONE}.zone"));
    fs::write(&source, &original).unwrap();

    let s = source.display();
    let template = z.template_path(ZONE);
    z.run(&["adopt", source.to_str().unwrap()])
        .expect_ok()
        .expect_stdout(&format!(
            "{s}:5: serial 2024010101 -> @serial@\n\
             {s}:8: {MAIN3} -> @IP@\n\
             {s}:9: 2001:db8::3 -> @IP6@\n\
             {s}:11: {MAIN3} -> @IP@\n\
             {s}:12: 2001:db8::3 -> @IP6@\n\
             wrote {}\n",
            template.display()
        ))
        .expect_stderr("");
    let want_template = original
        .replacen("2024010101 ;", "@serial@ ;", 1)
        .replace(&format!("IN A {MAIN3}"), "IN A @IP@")
        .replace("IN AAAA 2001:db8::3", "IN AAAA @IP6@");
    assert_eq!(fs::read_to_string(&template).unwrap(), want_template);
    assert!(want_template.contains("ip4:127.0.0.3 ip6:2001:db8::3"));
    let mode = fs::metadata(&template).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);

    let r = z.run(&[]);
    r.expect_ok();
    let serial = r.new_serial(ZONE);
    assert_eq!(
        fs::read_to_string(z.zone_path(ZONE)).unwrap(),
        original.replacen("2024010101", &serial.to_string(), 1)
    );
    nsd.assert_secondary(ZONE, serial, MAIN3, PROPAGATE);
    let www6 = poll(PROPAGATE, || {
        let got = aaaa_record(nsd.secondary.port, &format!("www.{ZONE}"));
        (!got.is_empty()).then_some(got)
    });
    assert_eq!(
        www6,
        Some(vec!["2001:db8::3".parse::<Ipv6Addr>().unwrap()]),
        "{}",
        nsd.diagnostics()
    );
}

const ZONE_TEXT: &str =
    "$ORIGIN example.com.\n@ IN SOA ns hm ( 2024010101 1 2 3 4 )\n  IN NS ns\nwww IN A 192.0.2.1\n";

fn scratch() -> Setup {
    Setup::new(
        Ipv4Addr::new(192, 0, 2, 1),
        "2001:db8::1".parse().unwrap(),
        "",
    )
}

#[test]
fn an_existing_template_is_never_replaced() {
    let setup = scratch();
    let source = setup.write("example.com.zone", ZONE_TEXT);
    let other = setup.write(
        "other.zone",
        &ZONE_TEXT.replace("example.com", "example.org"),
    );
    let templates = setup.templates();
    let existing = templates.join("example.com.zone");
    fs::write(&existing, "hand-made\n").unwrap();
    // The other zone is still adopted; exit 2 names the template and what was not written.
    let r = setup.adopt(&[&source, &other]);
    r.expect_code(2)
        .expect_stdout(&format!(
            "{o}:2: serial 2024010101 -> @serial@\n{o}:4: 192.0.2.1 -> @IP@\nwrote {t}\n",
            o = other.display(),
            t = templates.join("example.org.zone").display()
        ))
        .expect_stderr(&format!(
            "zonerw: error: {}: a template of zone example.com already exists; adopt never replaces a template, so nothing was written for {} (remove the template first to adopt it again)\n",
            existing.display(),
            source.display()
        ));
    assert_eq!(fs::read_to_string(&existing).unwrap(), "hand-made\n");
    // Adopting the same file twice: the second time is refused.
    let r = setup.adopt(&[&other]);
    r.expect_code(2).expect_stdout("");
    assert!(
        r.stderr
            .contains("a template of zone example.org already exists"),
        "{r}"
    );
    // Another spelling of the zone, or a link (even a dangling one), is a template too.
    fs::remove_file(&existing).unwrap();
    fs::write(templates.join("Example.COM.zone"), "hand-made\n").unwrap();
    let r = setup.adopt(&[&source]);
    r.expect_code(2);
    assert!(
        r.stderr
            .contains("Example.COM.zone: a template of zone example.com already exists"),
        "{r}"
    );
    fs::remove_file(templates.join("Example.COM.zone")).unwrap();
    let nowhere = setup.path("nowhere");
    std::os::unix::fs::symlink(&nowhere, &existing).unwrap();
    setup.adopt(&[&source]).expect_code(2);
    assert!(!nowhere.exists());
    assert!(
        fs::symlink_metadata(&existing)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        setup.template_names(),
        ["example.com.zone", "example.org.zone"]
    );
}

#[test]
fn a_zone_without_soa_is_refused_with_its_file_and_line() {
    let setup = scratch();
    let source = setup.write(
        "example.com.zone",
        "$TTL 60\n; no SOA here\nwww IN A 192.0.2.1\n@ IN NS ns\n",
    );
    setup
        .adopt(&[&source])
        .expect_code(2)
        .expect_stdout("")
        .expect_stderr(&format!(
            "zonerw: error: {}:3: no SOA record: this is the file's first record (A), and none of its records is the zone's SOA record, which a zone file must hold\n",
            source.display()
        ));
    assert!(setup.template_names().is_empty());
    // A broken serial names its line as well.
    let broken = setup.write("broken.zone", "@ SOA ns hm (\n 2024x 1 2 3 4 )\n");
    setup.adopt(&[&broken]).expect_code(2).expect_stderr(&format!(
        "zonerw: error: {}:2: the SOA serial field '2024x' is not a serial number (decimal, at most 4294967295)\n",
        broken.display()
    ));
    assert!(setup.template_names().is_empty());
}

#[test]
fn usage_errors_and_the_zone_name() {
    let setup = scratch();
    let at = "@ IN SOA ns hm ( 1 1 2 3 4 )\nwww A 192.0.2.1\n";
    let db = setup.write("db.example", at);
    // The file says nothing about its zone and is not named <zone>.zone.
    let r = setup.adopt(&[&db]);
    r.expect_code(2);
    assert!(
        r.stderr.contains("cannot tell which zone this file is for"),
        "{r}"
    );
    setup
        .zonerw(&["adopt", db.to_str().unwrap(), "--zone", "example.net."])
        .expect_ok();
    assert_eq!(setup.template_names(), ["example.net.zone"]);
    // --zone is for one file; --pool must name a pool.
    let two = setup.zonerw(&["adopt", "a.zone", "b.zone", "--zone", "x"]);
    two.expect_code(2).expect_stderr(
        "zonerw: error: --zone names the zone of one file: give exactly one ZONEFILE with it\n",
    );
    let pool = setup.zonerw(&["adopt", db.to_str().unwrap(), "--pool", "mail"]);
    pool.expect_code(2).expect_stderr(&format!(
        "zonerw: error: --pool mail: {} has no such pool (its pools: \"web\")\n",
        setup.config.display()
    ));
    setup.zonerw(&["adopt"]).expect_code(2);
    // A missing file is an I/O error (exit 1).
    let missing = setup.path("missing.zone");
    let r = setup.adopt(&[&missing]);
    r.expect_code(1);
    assert!(r.stderr.contains("missing.zone"), "{r}");
    // The templates directory must exist, as for a run: a typo grows no directories.
    fs::remove_dir_all(setup.templates()).unwrap();
    let r = setup.zonerw(&["adopt", db.to_str().unwrap(), "--zone", "example.net."]);
    r.expect_code(2).expect_stderr(&format!(
        "zonerw: error: {}: templates: {} is not a directory; create it (install -d {1}) or correct the key\n",
        setup.config.display(),
        setup.templates().display()
    ));
    assert!(!setup.templates().exists());
}
