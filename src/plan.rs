//! Which zones need work this run, and what to write: pure, given the installed bytes.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use jiff::Timestamp;

use crate::config::{Config, DEFAULT_REFRESH};
use crate::dnssec::keys::KeyDir;
use crate::dnssec::signed;
use crate::serial::{self, Clock};
use crate::state::{FileStamp, ZoneState};
use crate::template::{Marker, Template, Vars, address_value, marker_name};
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

/// Whether a zone is signed in this run (`[dnssec]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Signing {
    /// No keys for it, or no `[dnssec]` table: rendered and installed as it is. A zone
    /// whose installed file is signed is then never written (its run fails instead).
    #[default]
    Unsigned,
    /// It has keys in `[dnssec] keys`: signed after rendering, before the checks.
    Signed {
        /// The key tags of its key files, sorted: a zone signed with other keys is signed
        /// again (a key added or removed by the operator, e.g. in a rollover).
        tags: Vec<u16>,
    },
    /// `[dnssec] unsigned` lists it: installed unsigned, also over a signed zone (the
    /// explicit step that turns DNSSEC off for a zone).
    TurnedOff,
}

impl Signing {
    /// How `zone` is signed under `config`, with the key files found in `keys` (None:
    /// no `[dnssec]` table, no keys directory read).
    #[must_use]
    pub fn of(config: &Config, keys: Option<&KeyDir>, zone: &str) -> Signing {
        match (&config.dnssec, keys) {
            (Some(d), _) if d.lists_unsigned(zone) => Signing::TurnedOff,
            (Some(_), Some(keys)) if keys.has(zone) => Signing::Signed {
                tags: keys.tags(zone),
            },
            _ => Signing::Unsigned,
        }
    }

    /// Signed in this run.
    #[must_use]
    pub fn is_signed(&self) -> bool {
        matches!(self, Signing::Signed { .. })
    }
}

/// Why a zone is written although nothing that feeds it changed; what its line says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Cause {
    /// A marker value, the template or the installed file changed, `--force`, or the
    /// zone is new to zonerw.
    #[default]
    Change,
    /// Its signatures expire within `[dnssec] refresh` (or already have): it is signed
    /// again, with a new serial so that the secondaries transfer it.
    Resign {
        /// The earliest signature expiration recorded for the installed file.
        expiry: Timestamp,
        /// Whether that is already past.
        expired: bool,
        /// `[dnssec] refresh`.
        refresh: Duration,
    },
    /// Its keys were added: signed for the first time.
    FirstSigned,
    /// Keys were added or removed: signed again with the keys there now.
    KeysChanged,
    /// `[dnssec] unsigned` lists it and it was signed: installed unsigned.
    TurnedOff,
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
    /// Whether the zone is signed in this run. For a signed zone `contents` is the rendered
    /// text until it is signed, then the signed text (with zonerw's header line).
    pub signing: Signing,
    /// Whether the installed file is signed, as far as known: the state records a
    /// signature expiration for it, or its text (when read) holds signatures.
    pub was_signed: bool,
    /// Why it is written.
    pub cause: Cause,
    /// The earliest signature expiration of `contents`, once signed (or of the adopted
    /// signed file): what the state records.
    pub signatures: Option<Timestamp>,
    /// The key tags that signed `contents`, sorted (empty unless signed).
    pub signed_with: Vec<u16>,
}

/// The recorded earliest signature expiration of a zone (an unreadable one counts as long
/// past: the zone is signed again).
fn recorded_expiry(last: &ZoneState) -> Option<Timestamp> {
    let text = last.signature_expiry.as_deref()?;
    Some(text.parse().unwrap_or(Timestamp::MIN))
}

/// `[dnssec] refresh` (or its default, for a zone signed before the table was removed).
fn refresh(config: &Config) -> Duration {
    config
        .dnssec
        .as_ref()
        .map_or(DEFAULT_REFRESH, |d| d.refresh)
}

/// Whether signatures expiring at `expiry` are due to be renewed at `now` (seconds since
/// the epoch): they expire within `refresh`.
#[must_use]
pub fn resign_due(expiry: Timestamp, now: i64, refresh: Duration) -> bool {
    let refresh = i64::try_from(refresh.as_secs()).unwrap_or(i64::MAX);
    expiry.as_second() <= now.saturating_add(refresh)
}

/// What makes a zone whose inputs and installed file are unchanged be written all the
/// same: signatures due to be renewed, keys that were added, signing turned off. None:
/// it is kept.
fn dnssec_cause(last: &ZoneState, signing: &Signing, inputs: Inputs<'_>) -> Option<Cause> {
    let expiry = recorded_expiry(last);
    match (signing, expiry) {
        (Signing::Signed { .. }, None) => Some(Cause::FirstSigned),
        (Signing::TurnedOff, Some(_)) => Some(Cause::TurnedOff),
        // A zone signed before is renewed on time even without its keys or the table: it
        // then fails loudly (it is never installed unsigned) instead of going dark.
        (Signing::Signed { .. } | Signing::Unsigned, Some(expiry))
            if resign_due(expiry, inputs.clock.unix, refresh(inputs.config)) =>
        {
            Some(Cause::Resign {
                expiry,
                expired: expiry.as_second() <= inputs.clock.unix,
                refresh: refresh(inputs.config),
            })
        }
        (Signing::Signed { tags }, Some(_)) if *tags != last.key_tags => Some(Cause::KeysChanged),
        _ => None,
    }
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

/// The marker values a template uses, e.g. {"IP": "192.0.2.1"}.
#[must_use]
pub fn vars_of(
    template: &Template,
    config: &Config,
    addresses: &Addresses,
) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for &(marker, _) in template.uses() {
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
    template: &Template,
    inputs: Inputs<'_>,
    last: Option<&ZoneState>,
    reserved: Option<u32>,
    stamp: Option<FileStamp>,
    signing: &Signing,
) -> Option<ZonePlan> {
    let last = last?;
    if stamp.is_none() || last.stamp != stamp {
        return None;
    }
    let vars = vars_of(template, inputs.config, inputs.addresses);
    let same = last.template == zone.fingerprint && last.vars == vars;
    (inputs.force || same).then(|| {
        let zone = Parsed { zone, template };
        plan(zone, inputs, Some(last), reserved, None, true, signing)
    })
}

/// The plan of a zone kept without reading its template (nor the installed file): the
/// template's stamp is the one recorded, so its bytes and the markers they use are the
/// recorded ones, and this is `without_reading`'s `Keep` without the template. None when
/// the zone may need more than that (`--force`, a marker value or the installed file
/// changed, signatures due): read and parse the template, then plan it as usual.
#[must_use]
pub fn keep_unread(
    inputs: Inputs<'_>,
    last: &ZoneState,
    stamp: Option<FileStamp>,
    signing: &Signing,
) -> Option<ZonePlan> {
    if inputs.force || stamp.is_none() || last.stamp != stamp {
        return None;
    }
    // The recorded values name every address marker the template uses.
    for (name, value) in &last.vars {
        let (pool, v6) = inputs.config.pool_for_marker(name)?;
        if address_value(inputs.addresses, pool, v6).unwrap_or_default() != *value {
            return None;
        }
    }
    if dnssec_cause(last, signing, inputs).is_some() {
        return None;
    }
    Some(ZonePlan {
        action: Action::Keep,
        first_time: false,
        contents: String::new(),
        serial: Some(last.serial),
        old_serial: Some(last.serial),
        vars: last.vars.clone(),
        signing: signing.clone(),
        was_signed: last.signature_expiry.is_some(),
        cause: Cause::Change,
        signatures: None,
        signed_with: Vec::new(),
    })
}

/// A zone and its parsed template, as planning a zone that may be written needs them.
#[derive(Clone, Copy)]
struct Parsed<'a> {
    zone: &'a Zone,
    template: &'a Template,
}

/// Plan one zone from its last state, the serial reserved for it and the installed bytes.
#[must_use]
pub fn plan_zone(
    zone: &Zone,
    template: &Template,
    inputs: Inputs<'_>,
    last: Option<&ZoneState>,
    reserved: Option<u32>,
    installed: Option<&[u8]>,
    signing: &Signing,
) -> ZonePlan {
    let ours = last.is_some_and(|l| installed.is_some_and(|b| fingerprint(b) == l.installed));
    let zone = Parsed { zone, template };
    plan(zone, inputs, last, reserved, installed, ours, signing)
}

/// The plan of a zone: `installed` are the bytes of the installed file if they were read;
/// `ours` says that the installed file is the one zonerw last recorded.
fn plan(
    Parsed { zone, template }: Parsed<'_>,
    inputs: Inputs<'_>,
    last: Option<&ZoneState>,
    reserved: Option<u32>,
    installed: Option<&[u8]>,
    ours: bool,
    signing: &Signing,
) -> ZonePlan {
    let vars = vars_of(template, inputs.config, inputs.addresses);
    let installed_text = installed.map(String::from_utf8_lossy);
    let installed_serial = installed_text.as_deref().and_then(soa_serial);
    let old_serial = installed_serial.or(last.map(|l| l.serial));
    let was_signed = last.is_some_and(|l| l.signature_expiry.is_some())
        || installed_text.as_deref().is_some_and(signed::is_signed);
    let unchanged = ours && last.is_some_and(|l| l.template == zone.fingerprint && l.vars == vars);
    let render = |serial| {
        template.render(&Vars {
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
        signing: signing.clone(),
        was_signed,
        cause: Cause::Change,
        signatures: None,
        signed_with: Vec::new(),
    };
    let mut cause = Cause::Change;
    if !inputs.force && unchanged {
        match last.and_then(|l| dnssec_cause(l, signing, inputs)) {
            Some(why) => cause = why,
            None => {
                return ZonePlan {
                    serial: last.map(|l| l.serial),
                    ..plan(Action::Keep, String::new())
                };
            }
        }
    } else if signing.is_signed() && last.is_some() && !was_signed {
        cause = Cause::FirstSigned;
    } else if *signing == Signing::TurnedOff && was_signed {
        cause = Cause::TurnedOff;
    }
    if let Some(text) = installed_text.as_deref().filter(|_| !inputs.force) {
        let own = render(installed_serial.unwrap_or(0));
        if let Signing::Signed { tags } = signing {
            // A signed file zonerw made from this very rendering with these keys, not due
            // for renewal.
            let expiry = signed::made_from(text, &own)
                .then(|| signed::earliest_expiration(text))
                .flatten()
                .filter(|e| !resign_due(*e, inputs.clock.unix, refresh(inputs.config)))
                .filter(|_| signed::key_tags(text) == *tags);
            if let Some(expiry) = expiry {
                return ZonePlan {
                    serial: installed_serial,
                    signatures: Some(expiry),
                    signed_with: tags.clone(),
                    ..plan(Action::Adopt, text.to_owned())
                };
            }
        } else if own == text && !(was_signed && *signing != Signing::TurnedOff) {
            // An unsigned file is adopted only for a zone that is not, and was not, signed:
            // the write it falls through to is refused while the zone was signed.
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
        cause,
        ..plan(Action::Write, render(next))
    }
}

/// A zone to write whose planned serial the primary already serves, or a newer one (Knot
/// and BIND signing bump the serial; Knot's journal replays onto a file that is not
/// higher), gets the next serial after the served one: a server ignores or refuses a file
/// whose serial is not above what it serves. A zone to adopt (its installed file, with its
/// own serial) whose serial the server has gone beyond is written anew the same way.
/// Returns whether the plan changed.
pub fn above_served(
    plan: &mut ZonePlan,
    template: &Template,
    served: u32,
    inputs: Inputs<'_>,
) -> bool {
    let Some(planned) = plan.serial else {
        return false;
    };
    let behind = match plan.action {
        Action::Write => !serial::is_newer(planned, served),
        Action::Adopt => serial::is_newer(served, planned),
        Action::Keep => false,
    };
    if !behind {
        return false;
    }
    let next = serial::next(inputs.config.scheme, Some(served), inputs.clock);
    plan.action = Action::Write;
    // An adopted signed file's signatures are not the new file's: signing sets them.
    plan.signatures = None;
    plan.signed_with = Vec::new();
    plan.serial = Some(next);
    plan.contents = template.render(&Vars {
        serial: next,
        addresses: inputs.addresses,
    });
    true
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

    fn inputs_of<'a>(
        config: &'a Config,
        force: bool,
        clock: Clock,
        addresses: &'a Addresses,
    ) -> Inputs<'a> {
        Inputs {
            config,
            force,
            clock,
            addresses,
        }
    }

    fn tpl(zone: &Zone) -> &Template {
        zone.template.as_ref().expect("a parsed zone")
    }

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
            signature_expiry: None,
            key_tags: Vec::new(),
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
        let inputs =
            |force, addresses: &'static Addresses| inputs_of(&config, force, clock(), addresses);
        let kept = without_reading(
            &zone,
            tpl(&zone),
            inputs(false, &MAIN),
            Some(&last),
            None,
            Some(stamp),
            &Signing::Unsigned,
        )
        .unwrap();
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
                without_reading(
                    &zone,
                    tpl(&zone),
                    inputs(force, addrs),
                    Some(&last),
                    None,
                    now,
                    &Signing::Unsigned
                )
                .is_none(),
                "{why}"
            );
        }
        assert!(
            without_reading(
                &zone,
                tpl(&zone),
                inputs(false, &MAIN),
                None,
                None,
                Some(stamp),
                &Signing::Unsigned
            )
            .is_none()
        );
        // --force with the file as zonerw wrote it: rewritten without reading it, after the
        // recorded serial (or a newer reserved one).
        let forced = without_reading(
            &zone,
            tpl(&zone),
            inputs(true, &MAIN),
            Some(&last),
            None,
            Some(stamp),
            &Signing::Unsigned,
        )
        .unwrap();
        assert_eq!(
            (forced.action, forced.old_serial, forced.serial),
            (Action::Write, Some(2_026_112_305), Some(2_026_112_306))
        );
        let forced = without_reading(
            &zone,
            tpl(&zone),
            inputs(true, &MAIN),
            Some(&last),
            Some(2_026_112_340),
            Some(stamp),
            &Signing::Unsigned,
        )
        .unwrap();
        assert_eq!(forced.serial, Some(2_026_112_341));
    }

    /// `keep_unread` (no template) keeps exactly the zones `without_reading` (with the
    /// template) plans `Keep`, with the same plan.
    #[test]
    fn keeping_a_zone_unread_is_keeping_it_with_its_template_read() {
        let (config, zone) = setup();
        let stamp = FileStamp {
            size: 60,
            mtime_ns: 1_795_000_000_000_000_001,
        };
        let touched = FileStamp {
            mtime_ns: stamp.mtime_ns + 1,
            ..stamp
        };
        let mut plain = last(&zone, 2_026_112_305, "192.0.2.1");
        plain.stamp = Some(stamp);
        let signed = |expiry: &str, tags: Vec<u16>| ZoneState {
            signature_expiry: Some(expiry.into()),
            key_tags: tags,
            ..plain.clone()
        };
        let other_marker = ZoneState {
            vars: BTreeMap::from([("NOPE".into(), "192.0.2.1".into())]),
            ..plain.clone()
        };
        let tags = Signing::Signed { tags: vec![7] };
        let cases: [(
            &str,
            bool,
            &'static Addresses,
            Option<FileStamp>,
            &ZoneState,
            Signing,
        ); 11] = [
            (
                "nothing changed",
                false,
                &MAIN,
                Some(stamp),
                &plain,
                Signing::Unsigned,
            ),
            (
                "--force",
                true,
                &MAIN,
                Some(stamp),
                &plain,
                Signing::Unsigned,
            ),
            (
                "marker value",
                false,
                &BACKUP,
                Some(stamp),
                &plain,
                Signing::Unsigned,
            ),
            (
                "file touched",
                false,
                &MAIN,
                Some(touched),
                &plain,
                Signing::Unsigned,
            ),
            ("file gone", false, &MAIN, None, &plain, Signing::Unsigned),
            (
                "recorded marker unknown",
                false,
                &MAIN,
                Some(stamp),
                &other_marker,
                Signing::Unsigned,
            ),
            (
                "keys added",
                false,
                &MAIN,
                Some(stamp),
                &plain,
                tags.clone(),
            ),
            (
                "signed, not due",
                false,
                &MAIN,
                Some(stamp),
                &signed("2030-01-01T00:00:00Z", vec![7]),
                tags.clone(),
            ),
            (
                "signed, other keys",
                false,
                &MAIN,
                Some(stamp),
                &signed("2030-01-01T00:00:00Z", vec![8]),
                tags.clone(),
            ),
            (
                "signatures due",
                false,
                &MAIN,
                Some(stamp),
                &signed("1970-01-01T01:00:00Z", vec![7]),
                tags,
            ),
            (
                "signing turned off",
                false,
                &MAIN,
                Some(stamp),
                &signed("2030-01-01T00:00:00Z", vec![7]),
                Signing::TurnedOff,
            ),
        ];
        let mut kept = Vec::new();
        for (why, force, addresses, now, last, signing) in cases {
            let inputs = inputs_of(&config, force, clock(), addresses);
            let unread = keep_unread(inputs, last, now, &signing);
            let read = without_reading(&zone, tpl(&zone), inputs, Some(last), None, now, &signing)
                .filter(|p| p.action == Action::Keep);
            assert_eq!(format!("{unread:?}"), format!("{read:?}"), "{why}");
            if unread.is_some() {
                kept.push(why);
            }
        }
        assert_eq!(kept, ["nothing changed", "signed, not due"]);
    }

    #[test]
    fn a_serial_the_server_already_serves_is_overtaken() {
        let (config, zone) = setup();
        let inputs = inputs_of(&config, true, clock(), &BACKUP);
        let last = last(&zone, 2_026_112_305, "192.0.2.1");
        let planned = || {
            let p = plan_zone(
                &zone,
                tpl(&zone),
                inputs,
                Some(&last),
                None,
                None,
                &Signing::Unsigned,
            );
            assert_eq!((&p.action, p.serial), (&Action::Write, Some(2_026_112_306)));
            p
        };
        // (served, action before) -> (changed, action, serial)
        let cases = [
            (
                2_026_112_305,
                Action::Write,
                false,
                Action::Write,
                2_026_112_306,
            ),
            (
                2_026_112_306,
                Action::Write,
                true,
                Action::Write,
                2_026_112_307,
            ),
            (
                2_026_112_308,
                Action::Write,
                true,
                Action::Write,
                2_026_112_309,
            ),
            (
                2_026_112_306,
                Action::Adopt,
                false,
                Action::Adopt,
                2_026_112_306,
            ),
            (
                2_026_112_307,
                Action::Adopt,
                true,
                Action::Write,
                2_026_112_308,
            ),
            (
                2_026_112_399,
                Action::Keep,
                false,
                Action::Keep,
                2_026_112_306,
            ),
        ];
        for (served, before, changed, action, serial) in cases {
            let mut p = planned();
            p.action = before;
            assert_eq!(
                above_served(&mut p, tpl(&zone), served, inputs),
                changed,
                "{served}"
            );
            assert_eq!((&p.action, p.serial), (&action, Some(serial)), "{served}");
            assert_eq!(
                soa_serial(&p.contents),
                Some(if changed { serial } else { 2_026_112_306 }),
                "the contents carry the serial"
            );
        }
    }

    #[test]
    fn minimal_mode_table() {
        let (config, zone) = setup();
        let inputs =
            |force, addresses: &'static Addresses| inputs_of(&config, force, clock(), addresses);
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
                tpl(&zone),
                inputs(force, addrs),
                state,
                reserved,
                file.map(str::as_bytes),
                &Signing::Unsigned,
            );
            assert_eq!((p.action.clone(), p.serial), (action, serial), "{why}");
            if p.action == Action::Write {
                let ip = addrs[0].0.unwrap().to_string();
                assert_eq!(p.contents, installed(serial.unwrap(), &ip), "{why}");
                assert_eq!(p.vars, BTreeMap::from([("IP".into(), ip)]), "{why}");
            }
        }
    }

    /// Signed with the key whose tag is 1.
    fn signed() -> Signing {
        Signing::Signed { tags: vec![1] }
    }

    /// The fixtures with `[dnssec] validity = "20s"`, `refresh = "10s"`.
    fn signed_setup() -> (Config, Zone) {
        let text = format!(
            "{}\n[dnssec]\nvalidity = \"20s\"\nrefresh = \"10s\"\n",
            testing::CONFIG
        );
        let config = Config::parse(&text, std::path::Path::new("/etc/zonerw/zonerw.toml")).unwrap();
        let zone = testing::zone(&config);
        (config, zone)
    }

    /// The clock at 2026-11-23T10:00:00Z.
    fn at_ten() -> Clock {
        let t: Timestamp = "2026-11-23T10:00:00Z".parse().unwrap();
        Clock {
            unix: t.as_second(),
            today: jiff::civil::date(2026, 11, 23),
        }
    }

    fn expiry_in(secs: i64) -> String {
        crate::state::rfc3339(Timestamp::from_second(at_ten().unix + secs).unwrap())
    }

    #[test]
    fn resigning_is_due_within_refresh() {
        let now = at_ten().unix;
        let refresh = Duration::from_secs(10);
        let at = |s: i64| Timestamp::from_second(now + s).unwrap();
        assert!(!resign_due(at(11), now, refresh));
        assert!(resign_due(at(10), now, refresh));
        assert!(resign_due(at(-5), now, refresh));
        assert!(resign_due(at(1_000_000), now, Duration::MAX), "no overflow");
    }

    #[test]
    #[allow(clippy::too_many_lines, reason = "a table")]
    fn the_signing_cadence_table() {
        let (config, zone) = signed_setup();
        let inputs = inputs_of(&config, false, at_ten(), &MAIN);
        let file = installed(2_026_112_305, "192.0.2.1");
        // What is installed: signed while the state records signatures.
        let signed_file = format!(
            "{file}www IN RRSIG A 13 3 60 20261123100000 20261123090000 1 example.com. x\n"
        );
        let file_of = |secs: Option<i64>| {
            if secs.is_some() {
                signed_file.clone()
            } else {
                file.clone()
            }
        };
        let with_expiry = |secs: Option<i64>| ZoneState {
            signature_expiry: secs.map(expiry_in),
            key_tags: if secs.is_some() { vec![1] } else { Vec::new() },
            installed: fingerprint(file_of(secs).as_bytes()),
            ..last(&zone, 2_026_112_305, "192.0.2.1")
        };
        let expiry = |secs: i64| Timestamp::from_second(at_ten().unix + secs).unwrap();
        let resign = |secs: i64| Cause::Resign {
            expiry: expiry(secs),
            expired: secs <= 0,
            refresh: Duration::from_secs(10),
        };
        // (why, signing, recorded expiry in seconds from now) -> (action, cause)
        let cases = [
            (
                "signed, fresh",
                signed(),
                Some(11),
                Action::Keep,
                Cause::Change,
            ),
            ("signed, due", signed(), Some(10), Action::Write, resign(10)),
            (
                "signed, expired",
                signed(),
                Some(-60),
                Action::Write,
                resign(-60),
            ),
            (
                "keys added",
                signed(),
                None,
                Action::Write,
                Cause::FirstSigned,
            ),
            (
                "turned off",
                Signing::TurnedOff,
                Some(1000),
                Action::Write,
                Cause::TurnedOff,
            ),
            (
                "turned off, done",
                Signing::TurnedOff,
                None,
                Action::Keep,
                Cause::Change,
            ),
            (
                "unsigned",
                Signing::Unsigned,
                None,
                Action::Keep,
                Cause::Change,
            ),
            (
                "keys gone, not due yet",
                Signing::Unsigned,
                Some(11),
                Action::Keep,
                Cause::Change,
            ),
            (
                "keys gone, due",
                Signing::Unsigned,
                Some(5),
                Action::Write,
                resign(5),
            ),
        ];
        // The state says signed, the keys are gone, and the installed file is the unsigned
        // rendering (put there by hand): never adopted, so the write is refused.
        let p = plan_zone(
            &zone,
            tpl(&zone),
            inputs,
            Some(&with_expiry(Some(1000))),
            None,
            Some(file.as_bytes()),
            &Signing::Unsigned,
        );
        assert_eq!((p.action, p.was_signed), (Action::Write, true));
        for (why, signing, secs, action, cause) in cases {
            let state = with_expiry(secs);
            let p = plan_zone(
                &zone,
                tpl(&zone),
                inputs,
                Some(&state),
                None,
                Some(file_of(secs).as_bytes()),
                &signing,
            );
            assert_eq!(
                (p.action.clone(), p.cause),
                (action.clone(), cause),
                "{why}"
            );
            assert_eq!(p.was_signed, secs.is_some(), "{why}");
            if action == Action::Write {
                assert_eq!(p.serial, Some(2_026_112_306), "{why}: a new serial");
            }
            // The same without reading the file (its size and mtime as recorded).
            let stamp = FileStamp {
                size: 1,
                mtime_ns: 2,
            };
            let state = ZoneState {
                stamp: Some(stamp),
                ..state
            };
            let q = without_reading(
                &zone,
                tpl(&zone),
                inputs,
                Some(&state),
                None,
                Some(stamp),
                &signing,
            )
            .expect("decided without reading");
            assert_eq!(
                (q.action, q.cause, q.serial),
                (action, cause, p.serial),
                "{why}"
            );
        }
        // Keys added or removed (a rollover): signed again, with a new serial.
        let two = Signing::Signed { tags: vec![1, 2] };
        let state = with_expiry(Some(1000));
        let p = plan_zone(
            &zone,
            tpl(&zone),
            inputs,
            Some(&state),
            None,
            Some(signed_file.as_bytes()),
            &two,
        );
        assert_eq!(
            (p.action, p.cause, p.serial),
            (Action::Write, Cause::KeysChanged, Some(2_026_112_306))
        );
        // A change of inputs is a change, whatever the signatures; a signed zone's line says
        // "signed" then, and one whose keys were just added "signed for the first time".
        let mut other = with_expiry(Some(10));
        other.vars.insert("IP".into(), "198.51.100.7".into());
        let p = plan_zone(
            &zone,
            tpl(&zone),
            inputs,
            Some(&other),
            None,
            Some(signed_file.as_bytes()),
            &signed(),
        );
        assert_eq!((p.action, p.cause), (Action::Write, Cause::Change));
        other.signature_expiry = None;
        other.installed = fingerprint(file.as_bytes());
        let p = plan_zone(
            &zone,
            tpl(&zone),
            inputs,
            Some(&other),
            None,
            Some(file.as_bytes()),
            &signed(),
        );
        assert_eq!((p.action, p.cause), (Action::Write, Cause::FirstSigned));
        // Turned off, and the unsigned file already installed (a run died before saving
        // its state): adopted.
        let state = with_expiry(Some(1000));
        let p = plan_zone(
            &zone,
            tpl(&zone),
            inputs,
            Some(&state),
            None,
            Some(file.as_bytes()),
            &Signing::TurnedOff,
        );
        assert_eq!((p.action, p.serial), (Action::Adopt, Some(2_026_112_305)));
        // --force signs anew whatever the signatures.
        let forced = Inputs {
            force: true,
            ..inputs
        };
        let p = plan_zone(
            &zone,
            tpl(&zone),
            forced,
            Some(&with_expiry(Some(1000))),
            None,
            Some(signed_file.as_bytes()),
            &signed(),
        );
        assert_eq!((p.action, p.cause), (Action::Write, Cause::Change));
    }

    #[test]
    fn a_signed_file_zonerw_made_from_this_rendering_is_adopted_until_it_is_due() {
        let (config, zone) = signed_setup();
        let inputs = inputs_of(&config, false, at_ten(), &MAIN);
        // Planned with no state (lost, or never saved) from the installed file `text`.
        let from_file = |text: &str, signing: &Signing| {
            plan_zone(
                &zone,
                tpl(&zone),
                inputs,
                None,
                None,
                Some(text.as_bytes()),
                signing,
            )
        };
        let rendered = installed(2_026_112_305, "192.0.2.1");
        let body = |secs: i64| {
            let exp = Timestamp::from_second(at_ten().unix + secs)
                .unwrap()
                .strftime("%Y%m%d%H%M%S")
                .to_string();
            format!(
                "example.com.\t60\tIN\tSOA\tns.example.com. hm.example.com. 2026112305 1 2 3 4\n\
                 example.com.\t60\tIN\tRRSIG\tSOA 13 2 60 {exp} 20261123090000 1 example.com. x\n"
            )
        };
        let file = |secs| {
            let body = body(secs);
            format!("{}{body}", signed::header_line(&rendered, &body))
        };
        // The state is lost (or not saved): the file is read.
        let fresh = file(15);
        let p = from_file(&fresh, &signed());
        assert_eq!((p.action, p.serial), (Action::Adopt, Some(2_026_112_305)));
        assert_eq!(p.contents, fresh, "recorded as installed");
        assert_eq!(
            p.signatures.map(Timestamp::as_second),
            Some(at_ten().unix + 15)
        );
        assert!(p.was_signed);
        for (why, text) in [
            ("due", file(5)),
            ("edited", fresh.replace("hm.example", "ho.example")),
            ("no header", body(15)),
        ] {
            let p = from_file(&text, &signed());
            assert_eq!(
                (p.action, p.serial),
                (Action::Write, Some(2_026_112_306)),
                "{why}"
            );
            assert!(p.was_signed, "{why}");
        }
        // Unsigned now (keys gone): never adopted, written (and refused when applied).
        let p = from_file(&fresh, &Signing::Unsigned);
        assert_eq!(p.action, Action::Write);
        assert!(p.was_signed);
        // An unsigned file identical to the rendering is adopted only while unsigned.
        let p = from_file(&rendered, &Signing::Unsigned);
        assert_eq!((p.action, p.was_signed), (Action::Adopt, false));
        let p = from_file(&rendered, &signed());
        assert_eq!((p.action, p.cause), (Action::Write, Cause::Change));
    }
}
