//! Which zones need work this run, and what to write: pure, given the installed bytes.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::config::Config;
use crate::serial::{self, Clock};
use crate::state::ZoneState;
use crate::template::{Marker, Vars};
use crate::zonefile::soa_serial;
use crate::zones::{Zone, fingerprint};

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
            let (v4addr, v6addr) = addresses[pool];
            let name = &config.pools[pool].marker;
            if v6 {
                vars.insert(
                    format!("{name}6"),
                    v6addr.map(|a| a.to_string()).unwrap_or_default(),
                );
            } else {
                vars.insert(
                    name.clone(),
                    v4addr.map(|a| a.to_string()).unwrap_or_default(),
                );
            }
        }
    }
    vars
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
    let plan = |action, contents: String| {
        let serial = if zone.template.uses_serial() {
            None
        } else {
            soa_serial(&contents)
        };
        ZonePlan {
            action,
            serial,
            old_serial,
            vars: vars.clone(),
            contents,
        }
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
    let contents = render(next);
    let mut p = plan(Action::Write, contents);
    if zone.template.uses_serial() {
        p.serial = Some(next);
    }
    p
}
