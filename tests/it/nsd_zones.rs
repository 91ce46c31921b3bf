//! Zones NSD does not know yet: `[nsd] add-pattern` adds them with `nsd-control addzone`,
//! and without it the error says exactly what to add to nsd.conf. Against a real NSD.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::support::*;

const NEW: &str = "new.test";
const BACKUP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);

fn setup(add_pattern: bool) -> (NsdPair, MainServer, Zonerw) {
    let nsd = NsdPair::new(&[ZONE]);
    let main = MainServer::http(Mode::Refusing);
    let z = Zonerw::new(&nsd, Settings::new(&main.url("/up.txt")));
    if add_pattern {
        let config = z
            .config_text()
            .replace("[nsd]\n", "[nsd]\nadd-pattern = \"zonerw\"\n");
        assert!(config.contains("add-pattern"), "{config}");
        std::fs::write(z.dir.join("zonerw.toml"), config).unwrap();
    }
    (nsd, main, z)
}

#[test]
fn a_new_template_is_added_to_nsd_with_the_pattern() {
    let (nsd, _main, z) = setup(true);
    z.run(&[]).expect_ok();
    z.write_template(NEW, &default_template(NEW));
    let r = z.run(&[]);
    r.expect_ok();
    let serial = r.new_serial(NEW);
    r.expect_stdout(&lines!(format!("{NEW}: serial none -> {serial}, reloaded")));
    r.expect_stderr("");
    // The primary now serves the zone zonerw added...
    nsd.wait_primary_serial(NEW, serial, Duration::from_secs(5));
    assert_eq!(nsd.primary_www(NEW), vec![BACKUP]);
    // ...and a secondary given the same zone (the operator's part) transfers it.
    let out = nsd.secondary_control(&["addzone", NEW, "zonerw"]);
    assert!(out.status.success(), "{out:?}");
    nsd.assert_secondary(NEW, serial, BACKUP, Duration::from_secs(5));
    // Known now: the next run is silent.
    let quiet = z.run(&[]);
    quiet.expect_ok();
    assert_eq!(quiet.stdout, "", "{quiet:?}");
}

#[test]
fn without_a_pattern_the_error_names_the_nsd_conf_lines() {
    let (nsd, _main, z) = setup(false);
    z.run(&[]).expect_ok();
    z.write_template(NEW, &default_template(NEW));
    let r = z.run(&[]);
    r.expect_code(1);
    let zone_file = z.zone_path(NEW);
    r.expect_stderr(&lines!(
        format!(
            "zonerw: error: {NEW}: NSD does not serve this zone, so it was not installed. Add it to nsd.conf and run 'nsd-control reconfig':"
        ),
        "zonerw:     zone:",
        format!("zonerw:         name: {NEW}"),
        format!("zonerw:         zonefile: {}", zone_file.display()),
        "zonerw:         (plus your notify: and provide-xfr: lines)",
        "zonerw: or let zonerw add new zones itself: set [nsd] add-pattern to an NSD pattern: with those lines",
    ));
    r.expect_stdout("");
    assert!(!zone_file.exists(), "an unknown zone is not installed");
    assert_eq!(
        soa_rcode(nsd.primary.port, NEW),
        Some(domain::base::iana::Rcode::REFUSED)
    );
    // The known zone still works, and the failure did not advance the state.
    assert_eq!(nsd.primary_www(ZONE), vec![BACKUP]);
}

/// Many templates at once (a first run over a directory copied in): NSD is asked once for
/// the zones it has, and 450 new zones are added with `nsd-control addzones`, 200 a call
/// (one call with 1,000 lines stalls nsd-control 4.6); the primary then serves them all.
#[test]
fn many_new_templates_are_added_in_batches_and_served() {
    let (nsd, _main, z) = setup(true);
    z.run(&[]).expect_ok();
    let names: Vec<String> = (0..450).map(|i| format!("n{i:03}.test")).collect();
    for name in &names {
        z.write_template(name, &default_template(name));
    }
    let log_from = nsd.primary_log_lines();
    let r = z.run(&[]);
    r.expect_ok();
    r.expect_stderr("");
    let serial = r.new_serial(&names[0]);
    let want: String = names.iter().fold(String::new(), |mut s, n| {
        s.push_str(&format!("{n}: serial none -> {serial}, reloaded\n"));
        s
    });
    r.expect_stdout(&want);
    for name in [&names[0], &names[199], &names[200], &names[449]] {
        nsd.wait_primary_serial(name, serial, Duration::from_secs(10));
        assert_eq!(nsd.primary_www(name), vec![BACKUP], "{name}");
    }
    // One listing of NSD's zones (and one zone asked alone, which confirms that a zone
    // missing from it is unknown), three addzones calls (200, 200, 50), one reload.
    let cmds: Vec<String> = nsd
        .primary_control_cmds(log_from)
        .iter()
        .filter_map(|l| {
            l.split_once("control cmd:")
                .map(|(_, c)| c.trim().to_owned())
        })
        .collect();
    assert_eq!(
        cmds,
        [
            "zonestatus",
            &format!("zonestatus {}", names[0]),
            "addzones",
            "addzones",
            "addzones",
            "reload"
        ]
    );
}
