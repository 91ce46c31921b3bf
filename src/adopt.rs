//! `zonerw adopt ZONEFILE...`: turn working zone files into templates.
//!
//! [`adopt_text`] is the pure part: the SOA serial field becomes `@serial@`, and the
//! address of every IN-class A/AAAA record that is the address of a server of a pool in
//! scope becomes that pool's `@IP@`/`@IP6@` marker. Every other byte is kept: the file is
//! read with [`zonefile::entries`] (the lexer that also reads installed serials back),
//! and only the byte ranges of those fields are replaced. [`adopt`] is the shell around it:
//! read each file, decide the zone's name, write `<templates>/<zone>.zone` atomically
//! without ever replacing anything already there, and print what was replaced.
//!
//! A template made here renders back to the original file, apart from the serial, as long
//! as the pool's chosen server is the one whose address the file held (typically the main
//! server); an address of another server of the pool is replaced too, with a warning,
//! because the first run will write the chosen server's address there.

use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use crate::config::{Config, Pool};
use crate::error::{Error, Errors, Result};
use crate::fsio;
use crate::store;
use crate::template::{Template, marker_name};
use crate::zone::{parse_zone, zone_name};
use crate::zonefile::{self, Entry, Field, include_line, is_in_class, is_type};

/// The pools whose servers' addresses become markers, and which server each pool has
/// chosen now (what the next run writes for its markers).
#[derive(Debug, Clone)]
pub struct Scope<'a> {
    /// Every pool of the config (marker indices are indices into this).
    pub pools: &'a [Pool],
    /// Indices of the pools whose addresses are replaced.
    pub considered: Vec<usize>,
    /// Per pool (config order): the index of its chosen server.
    pub chosen: Vec<usize>,
}

/// What one replacement stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    /// The SOA serial field.
    Serial,
    /// An A (`v6` false) or AAAA record's address: server `server` of pool `pool`.
    Address {
        /// Index of the pool in the config.
        pool: usize,
        /// Index of the server in the pool.
        server: usize,
        /// An AAAA record.
        v6: bool,
    },
}

/// One field replaced by a marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    /// 1-based line of the field.
    pub line: usize,
    /// The field as written.
    pub old: String,
    /// The marker that replaced it, `@` included.
    pub marker: String,
    /// What it stands for.
    pub what: What,
}

/// What a zone file says about the name of its zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stated {
    /// Its SOA owner is this absolute name (lower case, no trailing dot; `.` for the root).
    Name(String),
    /// Its SOA owner is the origin the file is loaded with (`@`, or no owner, and no
    /// `$ORIGIN` before it): the name comes from outside the file.
    Origin,
}

/// A zone file made into a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adopted {
    /// The template's text.
    pub text: String,
    /// What the file says about its zone's name.
    pub stated: Stated,
    /// Every replacement, in the order of the file.
    pub replacements: Vec<Replacement>,
    /// Warnings: (line, message).
    pub warnings: Vec<(Option<usize>, String)>,
}

/// Why a zone file cannot be adopted: (line, message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line, where there is one.
    pub line: Option<usize>,
    /// What is wrong, and what to do about it.
    pub message: String,
}

fn problem(line: impl Into<Option<usize>>, message: impl Into<String>) -> Problem {
    Problem {
        line: line.into(),
        message: message.into(),
    }
}

/// 1-based line numbers of byte offsets.
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Lines {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines(starts)
    }

    fn of(&self, offset: usize) -> usize {
        self.0.partition_point(|&start| start <= offset)
    }
}

/// A domain name while the file is read: absolute (with its trailing dot), or relative to
/// the origin the file is loaded with, which only NSD's config knows (`""` is that origin).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Name {
    Absolute(String),
    Relative(String),
}

impl Name {
    /// The name `written` (an owner or a `$ORIGIN` argument) means under `origin`.
    fn resolve(written: &str, origin: &Name) -> Name {
        if written == "@" {
            return origin.clone();
        }
        if written.ends_with('.') && !written.ends_with("\\.") {
            return Name::Absolute(written.to_owned());
        }
        match origin {
            Name::Absolute(o) if o == "." => Name::Absolute(format!("{written}.")),
            Name::Absolute(o) => Name::Absolute(format!("{written}.{o}")),
            Name::Relative(o) if o.is_empty() => Name::Relative(written.to_owned()),
            Name::Relative(o) => Name::Relative(format!("{written}.{o}")),
        }
    }
}

/// Lower case, without the trailing dot; the root stays `.`.
fn normalize(name: &str) -> String {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        ".".into()
    } else {
        name.to_ascii_lowercase()
    }
}

/// Make the zone file `text` a template: see the module docs.
///
/// # Errors
/// A [`Problem`] (with the line where there is one) when the file has no SOA record, its
/// serial field cannot be found or is no serial, it uses `$INCLUDE`, it already holds a
/// marker-shaped word, an address belongs to servers of two pools in scope, or a pool
/// whose marker would be used has a server without that address family.
pub fn adopt_text(text: &str, scope: &Scope<'_>) -> Result<Adopted, Problem> {
    refuse_unusable(text)?;
    let mut adopter = Adopter {
        text,
        lines: Lines::new(text),
        scope,
        edits: Vec::new(),
        warnings: Vec::new(),
    };
    let entries = zonefile::entries(text);
    let mut origin = Name::Relative(String::new());
    let mut last_owner: Option<Name> = None;
    let mut soa: Option<(Name, &Field, &[Field])> = None;
    for entry in &entries {
        let (owner, class, rtype, rdata) = match entry {
            Entry::Directive { name, args } => {
                if adopter.field(name).eq_ignore_ascii_case("$ORIGIN")
                    && let Some(arg) = args.first()
                {
                    origin = Name::resolve(adopter.field(arg), &origin);
                }
                continue;
            }
            Entry::Record {
                owner,
                class,
                rtype,
                rdata,
                ..
            } => (owner, class, rtype, rdata),
        };
        let owner = match owner {
            Some(f) => Name::resolve(adopter.field(f), &origin),
            None => last_owner.clone().unwrap_or_else(|| origin.clone()),
        };
        last_owner = Some(owner.clone());
        let Some(rtype) = rtype else { continue };
        if soa.is_none() && is_type(adopter.field(rtype), "SOA", 6) {
            soa = Some((owner, rtype, rdata.as_slice()));
        } else {
            adopter.address(class.as_ref(), rtype, rdata)?;
        }
    }
    let Some((owner, rtype, rdata)) = soa else {
        return Err(adopter.no_soa(&entries));
    };
    let stated = adopter.serial(owner, rtype, rdata)?;
    Ok(adopter.finish(stated))
}

/// A file that no template can be made from: it uses `$INCLUDE` (which a template may not),
/// or holds a marker-shaped word (which a template would read as a marker).
fn refuse_unusable(text: &str) -> Result<(), Problem> {
    if let Some(line) = include_line(text) {
        return Err(problem(
            line,
            "$INCLUDE is not supported in templates (NSD would resolve the included file \
             elsewhere than the check before installing does); put the included records into \
             this file first",
        ));
    }
    if let Err(marker) = Template::parse(text.to_owned(), |_| None) {
        return Err(problem(
            marker.line,
            format!(
                "@{}@ would be read as a zonerw marker in a template, and a template cannot \
                 hold it as text (is this file a template already?)",
                marker.name
            ),
        ));
    }
    Ok(())
}

/// The edits and warnings of one file, collected while its entries are read.
struct Adopter<'t, 's> {
    text: &'t str,
    lines: Lines,
    scope: &'s Scope<'s>,
    edits: Vec<(std::ops::Range<usize>, Replacement)>,
    warnings: Vec<(Option<usize>, String)>,
}

impl<'t> Adopter<'t, '_> {
    fn field(&self, field: &Field) -> &'t str {
        &self.text[field.span.clone()]
    }

    /// An A or AAAA record (of class IN) whose rdata is one address of a server in scope
    /// becomes an edit; one in generic form that holds such an address, a warning.
    fn address(
        &mut self,
        class: Option<&Field>,
        rtype: &Field,
        rdata: &[Field],
    ) -> Result<(), Problem> {
        let type_word = self.field(rtype);
        let v6 = if is_type(type_word, "A", 1) {
            false
        } else if is_type(type_word, "AAAA", 28) {
            true
        } else {
            return Ok(());
        };
        if class.is_some_and(|c| !is_in_class(self.field(c))) {
            return Ok(());
        }
        let scope = self.scope;
        let address = match rdata {
            [first, hex @ ..] if !first.quoted && self.field(first) == "\\#" => {
                let digits: String = hex.iter().skip(1).map(|f| self.field(f)).collect();
                if let Some(warning) = generic_warning(&digits, v6, scope) {
                    let line = self.lines.of(rtype.span.start);
                    self.warnings.push((Some(line), warning));
                }
                return Ok(());
            }
            [address] => address,
            _ => return Ok(()),
        };
        let written = self.field(address);
        let addr = if v6 {
            written.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
        } else {
            written.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
        };
        let Some(addr) = addr else { return Ok(()) };
        let line = self.lines.of(address.span.start);
        let Some(what) = owner_of(addr, scope).map_err(|m| problem(line, m))? else {
            return Ok(());
        };
        check_family(what, scope).map_err(|m| problem(line, m))?;
        if let Some(warning) = chosen_warning(what, addr, written, scope) {
            // Another spelling is said once, at its first record; another server, at each.
            let once = warning.contains(SPELLING);
            if !(once && self.warnings.iter().any(|(_, w)| *w == warning)) {
                self.warnings.push((Some(line), warning));
            }
        }
        self.edits.push((
            address.span.clone(),
            Replacement {
                line,
                old: written.to_owned(),
                marker: marker_of(what, scope),
                what,
            },
        ));
        Ok(())
    }

    /// The error for a file without a SOA record, at its first record (or its end).
    fn no_soa(&self, entries: &[Entry]) -> Problem {
        let first_record = entries.iter().find_map(|e| match e {
            Entry::Record {
                rtype: Some(rtype), ..
            } => Some(rtype),
            _ => None,
        });
        match first_record {
            Some(rtype) => problem(
                self.lines.of(rtype.span.start),
                format!(
                    "no SOA record: this is the file's first record ({}), and none of its \
                     records is the zone's SOA record, which a zone file must hold",
                    self.field(rtype)
                ),
            ),
            None => problem(
                self.lines.of(self.text.len().saturating_sub(1)),
                "no SOA record: the file holds no records at all",
            ),
        }
    }

    /// The SOA record (owned by `owner`): its serial field becomes an edit; returns what
    /// the owner says about the zone's name.
    fn serial(&mut self, owner: Name, rtype: &Field, rdata: &[Field]) -> Result<Stated, Problem> {
        let soa_line = self.lines.of(rtype.span.start);
        let serial = match rdata {
            [mname, ..] if !mname.quoted && self.field(mname) == "\\#" => {
                return Err(problem(
                    soa_line,
                    "the SOA record is in RFC 3597 generic form (\\# ...), where the serial is \
                     part of a hex string; write it in the ordinary form (SOA mname rname serial \
                     refresh retry expire minimum) first",
                ));
            }
            [_, _, serial, ..] => serial,
            _ => {
                return Err(problem(
                    soa_line,
                    "the SOA record has no serial field (it needs mname rname serial refresh \
                     retry expire minimum)",
                ));
            }
        };
        let line = self.lines.of(serial.span.start);
        let old = self.field(serial);
        if zonefile::soa_serial(self.text).is_none() {
            return Err(problem(
                line,
                format!(
                    "the SOA serial field '{old}' is not a serial number (decimal, at most \
                     4294967295)"
                ),
            ));
        }
        let stated = match owner {
            Name::Absolute(name) => Stated::Name(normalize(&name)),
            Name::Relative(name) if name.is_empty() => Stated::Origin,
            Name::Relative(name) => {
                return Err(problem(
                    soa_line,
                    format!(
                        "the SOA owner '{name}' is relative and no $ORIGIN comes before it: \
                         the SOA record must be at the zone's apex (write @, or the zone's \
                         name with a trailing dot)"
                    ),
                ));
            }
        };
        self.edits.push((
            serial.span.clone(),
            Replacement {
                line,
                old: old.to_owned(),
                marker: "@serial@".into(),
                what: What::Serial,
            },
        ));
        Ok(stated)
    }

    /// The template: the text with every edit applied.
    fn finish(mut self, stated: Stated) -> Adopted {
        self.edits.sort_by_key(|(span, _)| span.start);
        let scope = self.scope;
        if !scope.considered.is_empty() && self.edits.len() == 1 {
            let names: Vec<&str> = scope
                .considered
                .iter()
                .map(|&p| scope.pools[p].name.as_str())
                .collect();
            self.warnings.push((
                None,
                format!(
                    "no A or AAAA record holds an address of a server of pool {}: the template \
                     follows no failover (only its serial changes)",
                    names.join(" or ")
                ),
            ));
        }
        let mut text = String::with_capacity(self.text.len());
        let mut copied = 0;
        for (span, replacement) in &self.edits {
            text.push_str(&self.text[copied..span.start]);
            text.push_str(&replacement.marker);
            copied = span.end;
        }
        text.push_str(&self.text[copied..]);
        Adopted {
            text,
            stated,
            replacements: self.edits.into_iter().map(|(_, r)| r).collect(),
            warnings: self.warnings,
        }
    }
}

/// The server whose address `addr` is, among the pools in scope: the chosen server of its
/// pool if that has it, else the first that has it. An address of servers of two pools is
/// an error: which marker it becomes is the user's choice (`--pool`).
fn owner_of(addr: IpAddr, scope: &Scope<'_>) -> Result<Option<What>, String> {
    let has = |server: &crate::config::Server| match addr {
        IpAddr::V4(a) => server.ipv4 == Some(a),
        IpAddr::V6(a) => server.ipv6 == Some(a),
    };
    let mut found: Vec<What> = Vec::new();
    for &pool in &scope.considered {
        let servers = &scope.pools[pool].servers;
        let chosen = scope.chosen.get(pool).copied().unwrap_or(0);
        let server = if servers.get(chosen).is_some_and(has) {
            Some(chosen)
        } else {
            servers.iter().position(has)
        };
        if let Some(server) = server {
            found.push(What::Address {
                pool,
                server,
                v6: addr.is_ipv6(),
            });
        }
    }
    match found.as_slice() {
        [] => Ok(None),
        [what] => Ok(Some(*what)),
        [one, two, ..] => Err(format!(
            "{addr} is the address of {} and of {}; say which pool's marker it becomes with \
             --pool",
            describe(*one, scope),
            describe(*two, scope)
        )),
    }
}

/// `server "main" of pool "web"`.
fn describe(what: What, scope: &Scope<'_>) -> String {
    match what {
        What::Serial => "the serial".into(),
        What::Address { pool, server, .. } => {
            let pool = &scope.pools[pool];
            format!(
                "server {:?} of pool {:?}",
                pool.servers[server].name, pool.name
            )
        }
    }
}

/// `@IP@` / `@IP6@` of the pool.
fn marker_of(what: What, scope: &Scope<'_>) -> String {
    match what {
        What::Serial => "@serial@".into(),
        What::Address { pool, v6, .. } => {
            format!("@{}@", marker_name(&scope.pools[pool].marker, v6))
        }
    }
}

/// Every server of the pool must have the marker's address family (zonerw refuses a
/// template that uses `@IP6@` when a server of its pool has no IPv6 address).
fn check_family(what: What, scope: &Scope<'_>) -> Result<(), String> {
    let What::Address { pool, server, v6 } = what else {
        return Ok(());
    };
    let p = &scope.pools[pool];
    let lacking = p.servers.iter().find(|s| {
        if v6 {
            s.ipv6.is_none()
        } else {
            s.ipv4.is_none()
        }
    });
    match lacking {
        None => Ok(()),
        Some(s) => Err(format!(
            "this is the {} address of server {:?} of pool {:?}, but server {:?} has no {} \
             address, so {} cannot stand here (a failover would have nothing to write); give \
             that server an {} address in the config, or remove this record",
            if v6 { "IPv6" } else { "IPv4" },
            p.servers[server].name,
            p.name,
            s.name,
            if v6 { "ipv6" } else { "ipv4" },
            marker_of(what, scope),
            if v6 { "ipv6" } else { "ipv4" },
        )),
    }
}

/// The chosen server's name and its address for `what`'s marker.
fn chosen_address(what: What, scope: &Scope<'_>) -> Option<(String, IpAddr)> {
    let What::Address { pool, v6, .. } = what else {
        return None;
    };
    let chosen = scope.chosen.get(pool).copied().unwrap_or(0);
    let server = scope.pools[pool].servers.get(chosen)?;
    let addr = if v6 {
        server.ipv6.map(IpAddr::V6)
    } else {
        server.ipv4.map(IpAddr::V4)
    }?;
    Some((server.name.clone(), addr))
}

/// A warning when the next run will not write back exactly what the file holds: the
/// address is another server's than the chosen one, or written in another form.
fn chosen_warning(what: What, addr: IpAddr, written: &str, scope: &Scope<'_>) -> Option<String> {
    let (chosen_name, chosen_addr) = chosen_address(what, scope)?;
    if chosen_addr != addr {
        return Some(format!(
            "{written} is the address of {}, but server {chosen_name:?} is chosen now: the next \
             run writes {chosen_addr} here (and from then on whatever server the pool \
             chooses); if this record must keep {written}, put it back into the template",
            describe(what, scope)
        ));
    }
    let canonical = addr.to_string();
    (canonical != written).then(|| format!("{written} {SPELLING} {canonical} from now on, here and in every other record that writes it so (the same address, in the form zonerw writes)"))
}

/// The words that tell a warning about another spelling of the chosen address.
const SPELLING: &str = "is written as";

/// A warning for an A/AAAA record in RFC 3597 generic form (`\\# 4 c0000201`, `digits` the
/// hex after the length) that holds the address of a server in scope: it is left as
/// written, so it follows no failover.
fn generic_warning(digits: &str, v6: bool, scope: &Scope<'_>) -> Option<String> {
    let bytes: Vec<u8> = (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(digits.get(i..i + 2)?, 16).ok())
        .collect::<Option<_>>()?;
    let addr = match (v6, bytes.as_slice()) {
        (false, &[a, b, c, d]) => IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        (true, bytes) => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => return None,
    };
    let what = owner_of(addr, scope).ok().flatten()?;
    Some(format!(
        "this record holds {addr}, the address of {}, in RFC 3597 generic form (\\# ...), which \
         adopt leaves as written, so it follows no failover; write it as '{} {addr}' to have it \
         follow",
        describe(what, scope),
        if v6 { "AAAA" } else { "A" }
    ))
}

// ---------------------------------------------------------------- the shell

/// The zone a file is for: `--zone` (which must agree with what the file says), else what
/// the file says, else its file name if that is `<zone>.zone`.
fn zone_for(stated: &Stated, file: &Path, zone_arg: Option<&str>) -> Result<String, String> {
    let name = match (zone_arg, stated) {
        (Some(arg), Stated::Name(name)) if !normalize(arg).eq_ignore_ascii_case(name) => {
            return Err(format!(
                "--zone {arg}, but the file's SOA record is for zone {name}"
            ));
        }
        (Some(arg), _) => {
            let arg = arg.strip_suffix('.').unwrap_or(arg);
            if arg.is_empty() {
                ".".into()
            } else {
                arg.to_owned()
            }
        }
        (None, Stated::Name(name)) => name.clone(),
        (None, Stated::Origin) => file
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(zone_name)
            .map(|n| normalize(&n))
            .ok_or_else(|| {
                "cannot tell which zone this file is for: its SOA owner is the origin (@) and no \
                 $ORIGIN comes before it, and its name is not <zone>.zone; give --zone ZONE, or \
                 add '$ORIGIN ZONE.' as its first line"
                    .to_owned()
            })?,
    };
    let plain = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if name != "." && (name.len() > 253 || !name.split('.').all(plain)) {
        return Err(format!(
            "zone name {name:?} is not one zonerw names a template after (letters, digits, - \
             and _ in dot-separated labels)"
        ));
    }
    Ok(name)
}

/// The template file name of `zone`: `<zone>.zone`, `..zone` for the root.
fn template_file_name(zone: &str) -> String {
    if zone == "." {
        "..zone".into()
    } else {
        format!("{zone}.zone")
    }
}

/// `zonerw adopt`: adopt every file; exit 0 if all were adopted. A file that cannot be
/// adopted is reported (exit 2 for bad input, 1 for a failed read or write) and the others
/// are still adopted.
pub fn adopt(
    config: &Config,
    files: &[PathBuf],
    pool: Option<&str>,
    zone: Option<&str>,
) -> Result<u8> {
    if zone.is_some() && files.len() != 1 {
        return Err(Error::Usage(
            "--zone names the zone of one file: give exactly one ZONEFILE with it".into(),
        ));
    }
    // As for a run, the templates directory must exist: a typo in `templates` must not
    // grow a directory tree that no run reads.
    if !config.templates.is_dir() {
        return Err(Error::Usage(format!(
            "{}: templates: {} is not a directory; create it (install -d {1}) or correct the key",
            config.path.display(),
            config.templates.display()
        )));
    }
    let considered = match pool {
        None => (0..config.pools.len()).collect(),
        Some(name) => {
            if let Some(index) = config.pools.iter().position(|p| p.name == name) {
                vec![index]
            } else {
                let names: Vec<String> = config
                    .pools
                    .iter()
                    .map(|p| format!("{:?}", p.name))
                    .collect();
                return Err(Error::Usage(format!(
                    "--pool {name}: {} has no such pool ({})",
                    config.path.display(),
                    if names.is_empty() {
                        "it has none".into()
                    } else {
                        format!("its pools: {}", names.join(", "))
                    }
                )));
            }
        }
    };
    let scope = Scope {
        pools: &config.pools,
        considered,
        chosen: chosen_servers(config),
    };
    let mut errors = Errors::default();
    for file in files {
        errors.add(adopt_file(config, &scope, file, zone));
    }
    errors.into_result().map(|()| 0)
}

/// Per pool, the server chosen now (what the next run writes, if nothing changes): from
/// the state, else the first server.
fn chosen_servers(config: &Config) -> Vec<usize> {
    let state = match store::load_state(&store::StateFiles::in_dir(&config.state).state) {
        Ok(state) => state,
        Err(e) => {
            crate::errln!("zonerw: warning: {e}; assuming every pool has its first server chosen");
            None
        }
    };
    crate::decide::current_choices(config, state.as_ref())
}

fn adopt_file(config: &Config, scope: &Scope<'_>, file: &Path, zone: Option<&str>) -> Result<()> {
    let bad = |line, message: String| Error::Template {
        path: file.to_owned(),
        line,
        message,
    };
    let bytes = match fsio::read_template(file)? {
        fsio::Installed::File(bytes) => bytes,
        fsio::Installed::Absent => {
            return Err(Error::io(file, "read", io::ErrorKind::NotFound.into()));
        }
        fsio::Installed::NotAFile(kind) => {
            return Err(bad(None, format!("it is {kind}, not a zone file")));
        }
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        bad(
            Some(valid.split(|&b| b == b'\n').count()),
            "not valid UTF-8".into(),
        )
    })?;
    let adopted = adopt_text(&text, scope).map_err(|p| bad(p.line, p.message))?;
    let zone = zone_for(&adopted.stated, file, zone).map_err(|m| bad(None, m))?;
    let file_name = template_file_name(&zone);
    if zone_name(&file_name).as_deref() != Some(zone.as_str()) {
        return Err(bad(
            None,
            format!("zone {zone} cannot be named by a template file"),
        ));
    }
    let dir = &config.templates;
    let target = dir.join(&file_name);
    if let Some(existing) = existing_template(dir, &zone) {
        return Err(exists(&existing, &zone, file));
    }
    // zonerw's own loading must take the template as it is written.
    parse_zone(
        config,
        zone.clone(),
        file_name.clone(),
        target.clone(),
        adopted.text.clone().into_bytes(),
    )
    .map_err(|e| {
        bad(
            None,
            format!("the template made from it would not load, so it was not written: {e}"),
        )
    })?;
    write_new(dir, &file_name, &target, adopted.text.as_bytes()).map_err(|e| match e {
        WriteError::Exists => exists(&target, &zone, file),
        WriteError::Other(e) => e,
    })?;
    let shown = file.display();
    for r in &adopted.replacements {
        let old = match r.what {
            What::Serial => format!("serial {}", r.old),
            What::Address { .. } => r.old.clone(),
        };
        crate::outln!("{shown}:{}: {old} -> {}", r.line, r.marker);
    }
    for (line, warning) in &adopted.warnings {
        match line {
            Some(line) => crate::errln!("zonerw: warning: {shown}:{line}: {warning}"),
            None => crate::errln!("zonerw: warning: {shown}: {warning}"),
        }
    }
    crate::outln!("wrote {}", target.display());
    Ok(())
}

/// The error for a template that is already there.
fn exists(existing: &Path, zone: &str, file: &Path) -> Error {
    Error::Template {
        path: existing.to_owned(),
        line: None,
        message: format!(
            "a template of zone {zone} already exists; adopt never replaces a template, so \
             nothing was written for {} (remove the template first to adopt it again)",
            file.display()
        ),
    }
}

/// A template already in `dir` for `zone` (zone names ignore case; `.zone` and `..zone`
/// are both the root), so that adopt never makes a second template of one zone.
fn existing_template(dir: &Path, zone: &str) -> Option<PathBuf> {
    let entries = fs::read_dir(dir).ok()?;
    entries.flatten().find_map(|entry| {
        let name = entry.file_name();
        let same = zone_name(&name.to_string_lossy()).is_some_and(|z| z.eq_ignore_ascii_case(zone));
        same.then(|| entry.path())
    })
}

enum WriteError {
    Exists,
    Other(Error),
}

/// Write `target` (`dir`/`file_name`) with `contents`, mode 0644, atomically and never over
/// anything already there (a link included, which is never followed): a complete temporary
/// file is hard-linked to the new name (link(2) fails if the name exists), then removed.
fn write_new(
    dir: &Path,
    file_name: &str,
    target: &Path,
    contents: &[u8],
) -> Result<(), WriteError> {
    let staged = fsio::Staged::new(dir, file_name, contents).map_err(WriteError::Other)?;
    match fs::hard_link(staged.path(), target) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(WriteError::Exists),
        Err(e) => return Err(WriteError::Other(Error::io(target, "write", e))),
    }
    drop(staged);
    fsio::sync_dir(dir).map_err(WriteError::Other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{Marker, Vars};

    /// Pool "web" (marker IP): main `192.0.2.1`/`2001:db8::1`, backup
    /// `198.51.100.7`/`2001:db8::7`. Pool "mail" (marker MX): mx1 `192.0.2.25`/`2001:db8::25`,
    /// mx2 `198.51.100.25` (no IPv6).
    const CONFIG: &str = r#"
[[pool]]
name = "web"
  [[pool.server]]
  name = "main"
  ipv4 = "192.0.2.1"
  ipv6 = "2001:db8::1"
  [[pool.server]]
  name = "backup"
  ipv4 = "198.51.100.7"
  ipv6 = "2001:db8::7"
[[pool]]
name = "mail"
marker = "MX"
  [[pool.server]]
  name = "mx1"
  ipv4 = "192.0.2.25"
  ipv6 = "2001:db8::25"
  [[pool.server]]
  name = "mx2"
  ipv4 = "198.51.100.25"
"#;

    fn config(text: &str) -> Config {
        Config::parse(text, Path::new("/etc/zonerw/zonerw.toml")).unwrap()
    }

    fn scope(config: &Config) -> Scope<'_> {
        Scope {
            pools: &config.pools,
            considered: (0..config.pools.len()).collect(),
            chosen: vec![0; config.pools.len()],
        }
    }

    fn adopt(text: &str) -> Result<Adopted, Problem> {
        let config = config(CONFIG);
        adopt_text(text, &scope(&config))
    }

    const SOA: &str = "$ORIGIN example.com.\n@ IN SOA ns hm ( 2024010101 1 2 3 4 )\n";

    /// `SOA` + `records`, adopted: the records part of the template.
    fn records(records: &str) -> String {
        let adopted = adopt(&format!("{SOA}{records}")).unwrap();
        let soa = SOA.replace("2024010101", "@serial@");
        adopted.text.strip_prefix(&soa).unwrap().to_owned()
    }

    /// Render `template` as a run would with every pool's first server chosen.
    fn render(template: &str, serial: u32) -> String {
        let config = config(CONFIG);
        let lookup = |name: &str| match name {
            "serial" | "serial number" => Some(Marker::Serial),
            _ => config
                .pool_for_marker(name)
                .map(|(pool, v6)| Marker::Address { pool, v6 }),
        };
        let addresses: Vec<_> = config
            .pools
            .iter()
            .map(|p| (p.servers[0].ipv4, p.servers[0].ipv6))
            .collect();
        Template::parse(template.to_owned(), lookup)
            .unwrap()
            .render(&Vars {
                serial,
                addresses: &addresses,
            })
    }

    #[test]
    fn serial_and_addresses_become_markers_and_nothing_else_changes() {
        let text = "$TTL 3600\r\n$ORIGIN example.com.\r\n@ IN SOA ns1 hostmaster (\r\n    2024010101 ; serial 2024010101\r\n    3600 900 604800 300 )\r\n    IN NS ns1\r\n    IN A 192.0.2.1 ; 192.0.2.1 main\r\n    IN AAAA 2001:db8::1\r\nwww 300 IN A 192.0.2.1\r\nmx IN A 192.0.2.25\r\ntxt TXT \"v=spf1 ip4:192.0.2.1 -all\"\r\nother A 192.0.2.2\r\n";
        let adopted = adopt(text).unwrap();
        assert_eq!(
            adopted.text,
            "$TTL 3600\r\n$ORIGIN example.com.\r\n@ IN SOA ns1 hostmaster (\r\n    @serial@ ; serial 2024010101\r\n    3600 900 604800 300 )\r\n    IN NS ns1\r\n    IN A @IP@ ; 192.0.2.1 main\r\n    IN AAAA @IP6@\r\nwww 300 IN A @IP@\r\nmx IN A @MX@\r\ntxt TXT \"v=spf1 ip4:192.0.2.1 -all\"\r\nother A 192.0.2.2\r\n"
        );
        let web = |v6| What::Address {
            pool: 0,
            server: 0,
            v6,
        };
        let got: Vec<_> = adopted
            .replacements
            .iter()
            .map(|r| (r.line, r.old.as_str(), r.marker.as_str(), r.what))
            .collect();
        assert_eq!(
            got,
            [
                (4, "2024010101", "@serial@", What::Serial),
                (7, "192.0.2.1", "@IP@", web(false)),
                (8, "2001:db8::1", "@IP6@", web(true)),
                (9, "192.0.2.1", "@IP@", web(false)),
                (
                    10,
                    "192.0.2.25",
                    "@MX@",
                    What::Address {
                        pool: 1,
                        server: 0,
                        v6: false
                    }
                ),
            ]
        );
        assert_eq!(adopted.stated, Stated::Name("example.com".into()));
        assert!(adopted.warnings.is_empty(), "{:?}", adopted.warnings);
        assert_eq!(render(&adopted.text, 2_024_010_101), text);
    }

    #[test]
    fn a_and_aaaa_records_in_every_layout() {
        let cases = [
            // optional TTL and class, in either order, any case
            ("www A 192.0.2.1\n", "www A @IP@\n"),
            ("www 60 A 192.0.2.1\n", "www 60 A @IP@\n"),
            ("www IN 1h A 192.0.2.1\n", "www IN 1h A @IP@\n"),
            ("www 1h in a 192.0.2.1\n", "www 1h in a @IP@\n"),
            ("www aaaa 2001:db8::1\n", "www aaaa @IP6@\n"),
            ("www CLASS1 A 192.0.2.1\n", "www CLASS1 A @IP@\n"),
            // RFC 3597 type names with ordinary rdata
            ("www TYPE1 192.0.2.1\n", "www TYPE1 @IP@\n"),
            ("www type028 2001:db8::1\n", "www type028 @IP6@\n"),
            // owner inherited from the line before
            ("www NS ns\n\tA 192.0.2.1\n", "www NS ns\n\tA @IP@\n"),
            (
                "www NS ns\n  60 IN A 192.0.2.1\n",
                "www NS ns\n  60 IN A @IP@\n",
            ),
            // owners that look like a type, a class or a TTL
            ("a A 192.0.2.1\n", "a A @IP@\n"),
            ("aaaa AAAA 2001:db8::1\n", "aaaa AAAA @IP6@\n"),
            ("in IN A 192.0.2.1\n", "in IN A @IP@\n"),
            ("3600 A 192.0.2.1\n", "3600 A @IP@\n"),
            // parentheses over lines, comments anywhere
            (
                "www A (\n  192.0.2.1 ; main\n)\n",
                "www A (\n  @IP@ ; main\n)\n",
            ),
            ("www A (192.0.2.1)\n", "www A (@IP@)\n"),
            ("www A 192.0.2.1;x\n", "www A @IP@;x\n"),
            ("www A \"192.0.2.1\"\n", "www A \"@IP@\"\n"),
            // no trailing newline
            ("www A 192.0.2.1", "www A @IP@"),
        ];
        for (input, want) in cases {
            assert_eq!(records(input), want, "{input:?}");
        }
    }

    #[test]
    fn what_is_left_as_written() {
        let cases = [
            // not A/AAAA, or not class IN
            "www TXT 192.0.2.1\n",
            "www TXT \"192.0.2.1\"\n",
            "x PTR 192.0.2.1.\n",
            "www CH A 192.0.2.1\n",
            "www HS AAAA 2001:db8::1\n",
            "www TYPE2 192.0.2.1\n",
            // comments and escapes
            "; www A 192.0.2.1\n",
            "www A 192\\.0.2.1\n",
            // an address of the other family, another address, malformed rdata
            "www A 2001:db8::1\n",
            "www AAAA 192.0.2.1\n",
            "www AAAA ::ffff:192.0.2.1\n",
            "www A 192.0.2.10\n",
            "www A 192.0.2.1 192.0.2.1\n",
            "www A\n",
            // RFC 3597 generic rdata
            "www A \\# 4 c0000202\n",
            // a TXT over lines that looks like records
            "t TXT ( \"x\"\n www A 192.0.2.1 )\n",
            "t TXT \"a\nwww A 192.0.2.1\"\n",
            // directives
            "$GENERATE 1-2 h$ A 192.0.2.1\n",
        ];
        for input in cases {
            assert_eq!(records(input), input, "{input:?}");
        }
    }

    #[test]
    fn generic_rdata_holding_a_server_address_is_kept_with_a_warning() {
        let adopted = adopt(&format!(
            "{SOA}www A \\# 4 C0000201\nv6 AAAA \\# 16 20010db8 00000000 ( 00000000\n 00000001 )\n"
        ))
        .unwrap();
        assert_eq!(adopted.replacements.len(), 1, "only the serial");
        let warnings: Vec<_> = adopted
            .warnings
            .iter()
            .map(|(line, w)| (*line, w.split(", in RFC 3597").next().unwrap()))
            .collect();
        assert_eq!(
            warnings[..2],
            [
                (
                    Some(3),
                    "this record holds 192.0.2.1, the address of server \"main\" of pool \"web\""
                ),
                (
                    Some(4),
                    "this record holds 2001:db8::1, the address of server \"main\" of pool \"web\""
                ),
            ]
        );
        assert!(
            warnings[2]
                .1
                .starts_with("no A or AAAA record holds an address")
        );
    }

    #[test]
    fn an_address_of_another_server_than_the_chosen_one_is_replaced_with_a_warning() {
        let config = config(CONFIG);
        let mut scope = scope(&config);
        let text = format!("{SOA}www A 192.0.2.1\nold A 198.51.100.7\n");
        let adopted = adopt_text(&text, &scope).unwrap();
        assert_eq!(
            adopted.text,
            format!(
                "{}www A @IP@\nold A @IP@\n",
                SOA.replace("2024010101", "@serial@")
            )
        );
        assert_eq!(adopted.warnings.len(), 1);
        assert_eq!(
            adopted.warnings[0],
            (
                Some(4),
                "198.51.100.7 is the address of server \"backup\" of pool \"web\", but server \"main\" is chosen now: the next run writes 192.0.2.1 here (and from then on whatever server the pool chooses); if this record must keep 198.51.100.7, put it back into the template".into()
            )
        );
        // With backup chosen (the state says so), main's address is the one that changes.
        scope.chosen = vec![1, 0];
        let adopted = adopt_text(&text, &scope).unwrap();
        assert_eq!(adopted.warnings.len(), 1);
        assert_eq!(adopted.warnings[0].0, Some(3));
        assert!(
            adopted.warnings[0]
                .1
                .starts_with("192.0.2.1 is the address of server \"main\"")
        );
        assert!(
            adopted.warnings[0]
                .1
                .contains("server \"backup\" is chosen now: the next run writes 198.51.100.7 here")
        );
    }

    #[test]
    fn an_address_in_another_form_is_replaced_with_a_warning() {
        let adopted = adopt(&format!(
            "{SOA}www AAAA 2001:DB8:0::1\nwww AAAA 2001:db8::1\nx AAAA 2001:DB8:0::1\n"
        ))
        .unwrap();
        assert_eq!(adopted.replacements.len(), 4);
        assert_eq!(adopted.replacements[1].old, "2001:DB8:0::1");
        assert_eq!(adopted.replacements[1].marker, "@IP6@");
        assert_eq!(
            adopted.warnings,
            [(
                Some(3),
                "2001:DB8:0::1 is written as 2001:db8::1 from now on, here and in every other record that writes it so (the same address, in the form zonerw writes)".into()
            )]
        );
    }

    #[test]
    fn only_the_pools_in_scope_are_replaced() {
        let config = config(CONFIG);
        let mut scope = scope(&config);
        scope.considered = vec![1];
        let text = format!("{SOA}www A 192.0.2.1\nmx A 192.0.2.25\n");
        let adopted = adopt_text(&text, &scope).unwrap();
        assert_eq!(
            adopted.text,
            format!(
                "{}www A 192.0.2.1\nmx A @MX@\n",
                SOA.replace("2024010101", "@serial@")
            )
        );
        // No pool at all: only the serial, and no warning about pools.
        scope.considered = vec![];
        let adopted = adopt_text(&text, &scope).unwrap();
        assert_eq!(adopted.replacements.len(), 1);
        assert!(adopted.warnings.is_empty());
        // Pools in scope, none of their addresses in the file: a warning.
        let adopted = adopt(&format!("{SOA}www A 192.0.2.99\n")).unwrap();
        assert_eq!(
            adopted.warnings,
            [(
                None,
                "no A or AAAA record holds an address of a server of pool web or mail: the template follows no failover (only its serial changes)".into()
            )]
        );
    }

    #[test]
    fn an_address_of_two_pools_needs_a_choice() {
        let text = format!(
            "{CONFIG}[[pool]]\nname = \"other\"\nmarker = \"OTHER\"\n  [[pool.server]]\n  name = \"o\"\n  ipv4 = \"192.0.2.1\"\n"
        );
        let config = config(&text);
        let mut scope = scope(&config);
        let zone = format!("{SOA}mx A 192.0.2.25\nwww A 192.0.2.1\n");
        assert_eq!(
            adopt_text(&zone, &scope).unwrap_err(),
            problem(
                4,
                "192.0.2.1 is the address of server \"main\" of pool \"web\" and of server \"o\" of pool \"other\"; say which pool's marker it becomes with --pool"
            )
        );
        scope.considered = vec![2];
        let adopted = adopt_text(&zone, &scope).unwrap();
        assert!(adopted.text.ends_with("mx A 192.0.2.25\nwww A @OTHER@\n"));
    }

    #[test]
    fn a_marker_needs_its_family_on_every_server_of_the_pool() {
        assert_eq!(
            adopt(&format!("{SOA}mx AAAA 2001:db8::25\n")).unwrap_err(),
            problem(
                3,
                "this is the IPv6 address of server \"mx1\" of pool \"mail\", but server \"mx2\" has no ipv6 address, so @MX6@ cannot stand here (a failover would have nothing to write); give that server an ipv6 address in the config, or remove this record"
            )
        );
    }

    #[test]
    fn the_serial_field_in_every_soa_layout() {
        let cases = [
            ("@ SOA a. b. 7 1 2 3 4\n", "@ SOA a. b. @serial@ 1 2 3 4\n"),
            (
                "@ 3600 in soa a. b. (\n\n ; c\n 0000000008\n 1 2 3 4 )\n",
                "@ 3600 in soa a. b. (\n\n ; c\n @serial@\n 1 2 3 4 )\n",
            ),
            (
                "@ SOA a. b. (9)1 2 3 4\n",
                "@ SOA a. b. (@serial@)1 2 3 4\n",
            ),
            (
                "@ SOA a. b. \"10\" 1 2 3 4\n",
                "@ SOA a. b. \"@serial@\" 1 2 3 4\n",
            ),
            (
                "@ TYPE6 a. b. 11;x\n 1 2 3 4\n",
                "@ TYPE6 a. b. @serial@;x\n 1 2 3 4\n",
            ),
            (
                "@ RRSIG SOA 8 1 3600 1 2 3 ex. AA==\n@ SOA a. b. 12 1 2 3 4\n",
                "@ RRSIG SOA 8 1 3600 1 2 3 ex. AA==\n@ SOA a. b. @serial@ 1 2 3 4\n",
            ),
            (
                "@ SOA a. b. 13 1 2 3 4\nsub SOA a. b. 14 1 2 3 4\n",
                "@ SOA a. b. @serial@ 1 2 3 4\nsub SOA a. b. 14 1 2 3 4\n",
            ),
        ];
        for (input, want) in cases {
            let adopted = adopt(input).unwrap();
            assert_eq!(adopted.text, want, "{input:?}");
            assert_eq!(adopted.stated, Stated::Origin, "{input:?}");
        }
    }

    #[test]
    fn files_that_cannot_be_adopted_name_the_line() {
        let cases: &[(&str, Option<usize>, &str)] = &[
            (
                "$TTL 60\n\nwww A 192.0.2.1\n@ NS ns\n",
                Some(3),
                "no SOA record: this is the file's first record (A)",
            ),
            (
                "; nothing\n\n",
                Some(2),
                "no SOA record: the file holds no records at all",
            ),
            (
                "",
                Some(1),
                "no SOA record: the file holds no records at all",
            ),
            ("; @ SOA a. b. 1 1 2 3 4\n", Some(1), "no SOA record"),
            (
                "$TTL 60\n@ SOA \\# 22 00 00 00000001 00000000000000000000000000000000\n",
                Some(2),
                "the SOA record is in RFC 3597 generic form",
            ),
            (
                "@ SOA a. b.\n",
                Some(1),
                "the SOA record has no serial field",
            ),
            (
                "@ SOA a. b. (\n 2024x 1 2 3 4 )\n",
                Some(2),
                "the SOA serial field '2024x' is not a serial number",
            ),
            (
                "@ SOA a. b. 4294967296 1 2 3 4\n",
                Some(1),
                "the SOA serial field '4294967296' is not a serial number",
            ),
            (
                "@ SOA a. b. @serial@ 1 2 3 4\nwww A @IP@\n",
                Some(1),
                "@serial@ would be read as a zonerw marker in a template",
            ),
            (
                "@ SOA a. b. 1 1 2 3 4\nt TXT \"@hello@\"\n",
                Some(2),
                "@hello@ would be read as a zonerw marker",
            ),
            (
                "@ SOA a. b. 1 1 2 3 4\n$INCLUDE other.zone\n",
                Some(2),
                "$INCLUDE is not supported in templates",
            ),
            (
                "www SOA a. b. 1 1 2 3 4\n",
                Some(1),
                "the SOA owner 'www' is relative and no $ORIGIN comes before it",
            ),
        ];
        for (input, line, start) in cases {
            let e = adopt(input).unwrap_err();
            assert_eq!(e.line, *line, "{input:?}: {e:?}");
            assert!(e.message.starts_with(start), "{input:?}: {e:?}");
        }
    }

    #[test]
    fn what_the_file_says_about_its_zone() {
        let name = |n: &str| Stated::Name(n.into());
        let cases = [
            ("@ SOA a. b. 1 1 2 3 4\n", Stated::Origin),
            ("\tSOA a. b. 1 1 2 3 4\n", Stated::Origin),
            ("Example.COM. SOA a. b. 1 1 2 3 4\n", name("example.com")),
            (
                "$ORIGIN example.com.\n@ SOA a. b. 1 1 2 3 4\n",
                name("example.com"),
            ),
            (
                "$ORIGIN com.\nexample SOA a. b. 1 1 2 3 4\n",
                name("example.com"),
            ),
            (
                "$origin com.\n$ORIGIN example\n@ SOA a. b. 1 1 2 3 4\n",
                name("example.com"),
            ),
            ("$ORIGIN .\nexample SOA a. b. 1 1 2 3 4\n", name("example")),
            ("$ORIGIN .\n@ SOA a. b. 1 1 2 3 4\n", name(".")),
            (". SOA a. b. 1 1 2 3 4\n", name(".")),
            // the owner of the line before
            (
                "$ORIGIN example.net.\nexample.org. TXT x\n IN SOA a. b. 1 1 2 3 4\n",
                name("example.org"),
            ),
            // a $ORIGIN after the SOA does not count
            (
                "@ SOA a. b. 1 1 2 3 4\n$ORIGIN example.com.\n",
                Stated::Origin,
            ),
        ];
        for (input, want) in cases {
            assert_eq!(adopt(input).unwrap().stated, want, "{input:?}");
        }
    }

    #[test]
    fn the_zone_is_the_option_else_the_file_else_the_file_name() {
        type Case<'a> = (
            &'a Stated,
            &'a str,
            Option<&'a str>,
            Result<&'a str, &'a str>,
        );
        let named = Stated::Name("example.com".into());
        let origin = Stated::Origin;
        let cases: &[Case<'_>] = &[
            (&named, "/x/db.anything", None, Ok("example.com")),
            (
                &named,
                "/x/db.anything",
                Some("example.com."),
                Ok("example.com"),
            ),
            (
                &named,
                "/x/db.anything",
                Some("EXAMPLE.com"),
                Ok("EXAMPLE.com"),
            ),
            (
                &named,
                "/x/db.anything",
                Some("example.net"),
                Err("--zone example.net, but the file's SOA record is for zone example.com"),
            ),
            (
                &origin,
                "/srv/zones/example.org.zone",
                None,
                Ok("example.org"),
            ),
            (
                &origin,
                "/srv/zones/Example.ORG.zone",
                None,
                Ok("example.org"),
            ),
            (
                &origin,
                "/srv/zones/example.org.zone",
                Some("example.net"),
                Ok("example.net"),
            ),
            (&origin, "/srv/zones/..zone", None, Ok(".")),
            (&origin, "/srv/zones/x.zone", Some("."), Ok(".")),
            (
                &origin,
                "/srv/zones/db.example.org",
                None,
                Err("cannot tell which zone this file is for"),
            ),
            (
                &origin,
                "/srv/zones/.example.org.zone",
                None,
                Err("cannot tell"),
            ),
            (
                &origin,
                "/srv/zones/x",
                Some("a b"),
                Err("zone name \"a b\" is not one zonerw names a template after"),
            ),
            (
                &origin,
                "/srv/zones/x",
                Some("a..b"),
                Err("zone name \"a..b\" is not one zonerw names"),
            ),
        ];
        for (stated, path, arg, want) in cases {
            let got = zone_for(stated, Path::new(path), *arg);
            match (got, want) {
                (Ok(got), Ok(want)) => assert_eq!(got, *want, "{path} {arg:?}"),
                (Err(got), Err(want)) => assert!(got.starts_with(want), "{path} {arg:?}: {got}"),
                (got, want) => panic!("{path} {arg:?}: {got:?}, want {want:?}"),
            }
        }
        assert_eq!(template_file_name("."), "..zone");
        assert_eq!(template_file_name("example.com"), "example.com.zone");
    }

    #[test]
    fn every_byte_outside_the_replaced_fields_is_kept() {
        // Rendered with the serial it had and the first servers chosen, every adopted file
        // is itself again.
        let texts = [
            "$TTL 1h\n$ORIGIN example.com.\n@ IN SOA ns hm (\n\t2024010101\t; serial\n\t1 2 3 4 )\n\tIN NS ns\n\tIN A 192.0.2.1\nns A 192.0.2.53\nwww CNAME @\n@ MX 10 mx\nmx 60 IN A 192.0.2.25 ; mx1\n   AAAA 2001:db8::1\nt TXT \"user@example.com\" \"(\" ; \")\"\n",
            "example.com. 300 IN SOA ns.example.com. hm.example.com. 1 2 3 4 5\nexample.com. 300 IN A 192.0.2.1\nexample.com. 300 IN AAAA 2001:db8::1",
            "@ SOA a. b. \"1\" 1 2 3 4\r\nwww a \"192.0.2.1\"\r\n",
        ];
        for text in texts {
            let adopted = adopt(text).unwrap();
            let serial = zonefile::soa_serial(text).unwrap();
            assert_eq!(render(&adopted.text, serial), text);
            assert!(adopted.warnings.is_empty(), "{:?}", adopted.warnings);
            // zonerw's own loading takes the template: markers known, serial field.
            parse_zone(
                &config(CONFIG),
                "example.com".into(),
                "example.com.zone".into(),
                "t/example.com.zone".into(),
                adopted.text.into_bytes(),
            )
            .unwrap();
        }
    }

    #[test]
    fn never_panics_on_mangled_input() {
        let text = "$ORIGIN ex.\n@ IN SOA ( a\\. \"b;\" ; c\n 53 1 2 3 4 )\nwww A ( 192.0.2.1 )\nx AAAA \\# 16 20010db8000000000000000000000001\n";
        let config = config(CONFIG);
        let scope = scope(&config);
        for end in 0..=text.len() {
            for start in 0..=end {
                if let Some(slice) = text.get(start..end) {
                    let _ = adopt_text(slice, &scope);
                }
            }
        }
    }
}
