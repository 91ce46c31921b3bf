//! Which zones need work this run, and what to write: pure, given the installed bytes.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::config::Config;
use crate::serial::{self, Clock};
use crate::state::{FileStamp, ZoneState};
use crate::template::{Marker, Vars, address_value, marker_name};
use crate::zone::{Zone, fingerprint};
use crate::zonefile::soa_serial;

/// Chosen addresses per pool, in config order.
pub type Addresses = [(Option<Ipv4Addr>, Option<Ipv6Addr>)];

/// What to do with one zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing feeds it changed: no write, no reload.
    Keep,
    /// The installed file already is exactly what we would write with its own serial (e.g. a
    /// run died after installing it): reload it and record it, no new serial.
    Adopt,
    /// Render with a new serial, check, install, reload.
    Write,
}

/// The plan for one zone.
#[derive(Debug, Clone)]
pub struct ZonePlan {
    /// What to do.
    pub action: Action,
    /// zonerw has no record of this zone: NSD may not know it yet either.
    pub first_time: bool,
    /// The text to install (empty for Keep).
    pub contents: String,
    /// The serial the zone will have after this run.
    pub serial: Option<u32>,
    /// The serial of the installed file (or what zonerw last wrote), for the change line.
    pub old_serial: Option<u32>,
    /// The marker values used, by marker name.
    pub vars: BTreeMap<String, String>,
}

/// What the plan of one zone is made from.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The run's options and clock.
    pub config: &'a Config,
    /// `--force`.
    pub force: bool,
    /// The clock, read once.
    pub clock: Clock,
    /// Chosen addresses per pool.
    pub addresses: &'a Addresses,
}

/// The marker values a zone's template uses, e.g. {"IP": "192.0.2.1"}.
#[must_use]
pub fn vars_of(zone: &Zone, config: &Config, addresses: &Addresses) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for &(marker, _) in zone.template.uses() {
        if let Marker::Address { pool, v6 } = marker {
            vars.insert(
                marker_name(&config.pools[pool].marker, v6),
                address_value(addresses, pool, v6).unwrap_or_default(),
            );
        }
    }
    vars
}

/// The plan of a zone when the installed file need not be read: its size and mtime still
/// match what zonerw recorded when it wrote it, so its bytes (and serial) are the recorded
/// ones. Then a zone nothing feeds changed is kept, and a forced rewrite takes the
/// recorded serial as the old one (a thousand zones are not read for `--force`). None when
/// this cannot be decided so cheaply: read the file and use `plan_zone`.
#[must_use]
pub fn without_reading(
    zone: &Zone,
    inputs: Inputs<'_>,
    last: Option<&ZoneState>,
    reserved: Option<u32>,
    stamp: Option<FileStamp>,
) -> Option<ZonePlan> {
    let last = last?;
    if stamp.is_none() || last.stamp != stamp {
        return None;
    }
    if inputs.force {
        return Some(plan_zone(zone, inputs, Some(last), reserved, None));
    }
    let vars = vars_of(zone, inputs.config, inputs.addresses);
    let same = last.template == zone.fingerprint && last.vars == vars;
    same.then(|| ZonePlan {
        action: Action::Keep,
        first_time: false,
        serial: Some(last.serial),
        old_serial: Some(last.serial),
        vars,
        contents: String::new(),
    })
}

/// Plan one zone from its last state, the serial reserved for it and the installed bytes.
#[must_use]
pub fn plan_zone(
    zone: &Zone,
    inputs: Inputs<'_>,
    last: Option<&ZoneState>,
    reserved: Option<u32>,
    installed: Option<&[u8]>,
) -> ZonePlan {
    let vars = vars_of(zone, inputs.config, inputs.addresses);
    let installed_text = installed.map(String::from_utf8_lossy);
    let installed_serial = installed_text.as_deref().and_then(soa_serial);
    let old_serial = installed_serial.or(last.map(|l| l.serial));
    let unchanged = last.is_some_and(|l| {
        l.template == zone.fingerprint
            && l.vars == vars
            && installed.is_some_and(|b| fingerprint(b) == l.installed)
    });
    let render = |serial| {
        zone.template.render(&Vars {
            serial,
            addresses: inputs.addresses,
        })
    };
    let plan = |action, contents: String| ZonePlan {
        action,
        first_time: last.is_none(),
        serial: None,
        old_serial,
        vars: vars.clone(),
        contents,
    };
    if !inputs.force && unchanged {
        return ZonePlan {
            serial: last.map(|l| l.serial),
            ..plan(Action::Keep, String::new())
        };
    }
    if let Some(text) = installed_text.as_deref().filter(|_| !inputs.force) {
        let own = render(installed_serial.unwrap_or(0));
        if own == text {
            return ZonePlan {
                serial: installed_serial,
                ..plan(Action::Adopt, own)
            };
        }
    }
    let previous = [last.map(|l| l.serial), reserved, installed_serial]
        .into_iter()
        .flatten()
        .reduce(serial::newest);
    let next = serial::next(inputs.config.scheme, previous, inputs.clock);
    ZonePlan {
        serial: Some(next),
        ..plan(Action::Write, render(next))
    }
}

#[cfg(test)]
#[allow(
    clippy::type_complexity,
    clippy::too_many_lines,
    reason = "test tables"
)]
mod tests {
    use super::*;
    use crate::testing;

    /// The shared fixtures: pool "web" (main 192.0.2.1, backup 198.51.100.7, date serials)
    /// and zone example.com from `testing::TEMPLATE`.
    fn setup() -> (Config, Zone) {
        let config = testing::config();
        let zone = testing::zone(&config);
        (config, zone)
    }

    fn clock() -> Clock {
        Clock {
            unix: 0,
            today: jiff::civil::date(2026, 11, 23),
        }
    }

    const MAIN: [(Option<Ipv4Addr>, Option<Ipv6Addr>); 1] =
        [(Some(Ipv4Addr::new(192, 0, 2, 1)), None)];
    const BACKUP: [(Option<Ipv4Addr>, Option<Ipv6Addr>); 1] =
        [(Some(Ipv4Addr::new(198, 51, 100, 7)), None)];

    fn installed(serial: u32, ip: &str) -> String {
        format!("@ IN SOA ns hm ( {serial} 1 2 3 4 )\nwww IN A {ip}\n")
    }

    fn last(zone: &Zone, serial: u32, ip: &str) -> ZoneState {
        ZoneState {
            serial,
            template: zone.fingerprint.clone(),
            installed: fingerprint(installed(serial, ip).as_bytes()),
            vars: BTreeMap::from([("IP".into(), ip.into())]),
            stamp: None,
            lagging: BTreeMap::new(),
        }
    }

    #[test]
    fn a_matching_stamp_plans_the_zone_without_reading_it() {
        let (config, zone) = setup();
        let stamp = FileStamp {
            size: 60,
            mtime_ns: 1_795_000_000_000_000_001,
        };
        let mut last = last(&zone, 2_026_112_305, "192.0.2.1");
        last.stamp = Some(stamp);
        let inputs = |force, addresses: &'static Addresses| Inputs {
            config: &config,
            force,
            clock: clock(),
            addresses,
        };
        let kept =
            without_reading(&zone, inputs(false, &MAIN), Some(&last), None, Some(stamp)).unwrap();
        assert_eq!(
            (kept.action, kept.serial),
            (Action::Keep, Some(2_026_112_305))
        );
        let touched = FileStamp {
            mtime_ns: stamp.mtime_ns + 1,
            ..stamp
        };
        for (why, force, addrs, now) in [
            ("file touched", false, &MAIN, Some(touched)),
            ("file gone", false, &MAIN, None),
            ("marker value changed", false, &BACKUP, Some(stamp)),
            ("--force, file touched", true, &MAIN, Some(touched)),
        ] {
            assert!(
                without_reading(&zone, inputs(force, addrs), Some(&last), None, now).is_none(),
                "{why}"
            );
        }
        assert!(without_reading(&zone, inputs(false, &MAIN), None, None, Some(stamp)).is_none());
        // --force with the file as zonerw wrote it: rewritten without reading it, after the
        // recorded serial (or a newer reserved one).
        let forced =
            without_reading(&zone, inputs(true, &MAIN), Some(&last), None, Some(stamp)).unwrap();
        assert_eq!(
            (forced.action, forced.old_serial, forced.serial),
            (Action::Write, Some(2_026_112_305), Some(2_026_112_306))
        );
        let forced = without_reading(
            &zone,
            inputs(true, &MAIN),
            Some(&last),
            Some(2_026_112_340),
            Some(stamp),
        )
        .unwrap();
        assert_eq!(forced.serial, Some(2_026_112_341));
    }

    #[test]
    fn minimal_mode_table() {
        let (config, zone) = setup();
        let inputs = |force, addresses: &'static Addresses| Inputs {
            config: &config,
            force,
            clock: clock(),
            addresses,
        };
        let main_file = installed(2_026_112_305, "192.0.2.1");
        let main_state = last(&zone, 2_026_112_305, "192.0.2.1");
        let edited = main_file.replace("www", "web");
        let higher = installed(2_030_010_100, "192.0.2.1");
        let mut other_template = main_state.clone();
        other_template.template = "0".into();
        // (why, force, addresses, state, reserved, installed) -> (action, serial)
        let cases: Vec<(
            &str,
            bool,
            &'static Addresses,
            Option<&ZoneState>,
            Option<u32>,
            Option<&str>,
            Action,
            Option<u32>,
        )> = vec![
            (
                "nothing changed",
                false,
                &MAIN,
                Some(&main_state),
                None,
                Some(&main_file),
                Action::Keep,
                Some(2_026_112_305),
            ),
            (
                "--force",
                true,
                &MAIN,
                Some(&main_state),
                None,
                Some(&main_file),
                Action::Write,
                Some(2_026_112_306),
            ),
            (
                "marker value changed",
                false,
                &BACKUP,
                Some(&main_state),
                None,
                Some(&main_file),
                Action::Write,
                Some(2_026_112_306),
            ),
            (
                "template changed",
                false,
                &MAIN,
                Some(&other_template),
                None,
                Some(&main_file),
                Action::Adopt,
                Some(2_026_112_305),
            ),
            (
                "installed file edited",
                false,
                &MAIN,
                Some(&main_state),
                None,
                Some(&edited),
                Action::Write,
                Some(2_026_112_306),
            ),
            (
                "installed file deleted",
                false,
                &MAIN,
                Some(&main_state),
                None,
                None,
                Action::Write,
                Some(2_026_112_306),
            ),
            (
                "state lost, file is ours",
                false,
                &MAIN,
                None,
                None,
                Some(&main_file),
                Action::Adopt,
                Some(2_026_112_305),
            ),
            (
                "state lost, failing over",
                false,
                &BACKUP,
                None,
                None,
                Some(&main_file),
                Action::Write,
                Some(2_026_112_306),
            ),
            (
                "hand-edited higher serial",
                false,
                &BACKUP,
                Some(&main_state),
                None,
                Some(&higher),
                Action::Write,
                Some(2_030_010_101),
            ),
            (
                "reserved serial beats the rest",
                false,
                &BACKUP,
                Some(&main_state),
                Some(2_026_112_340),
                None,
                Action::Write,
                Some(2_026_112_341),
            ),
            (
                "first run ever",
                false,
                &MAIN,
                None,
                None,
                None,
                Action::Write,
                Some(2_026_112_300),
            ),
        ];
        for (why, force, addrs, state, reserved, file, action, serial) in cases {
            let p = plan_zone(
                &zone,
                inputs(force, addrs),
                state,
                reserved,
                file.map(str::as_bytes),
            );
            assert_eq!((p.action.clone(), p.serial), (action, serial), "{why}");
            if p.action == Action::Write {
                let ip = addrs[0].0.unwrap().to_string();
                assert_eq!(p.contents, installed(serial.unwrap(), &ip), "{why}");
                assert_eq!(p.vars, BTreeMap::from([("IP".into(), ip)]), "{why}");
            }
        }
    }
}
