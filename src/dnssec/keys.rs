//! The keys directory: which zones have keys (from the file names alone), and the keys of
//! one zone, read and checked before it is signed.
//!
//! A key is the pair `K<zone>.+<alg>+<id>.key` (the DNSKEY record) and `.private` (what
//! `ldns-keygen` and `dnssec-keygen` write; the `.ds` file beside a KSK is for the parent).
//! Both halves are required: `ldns-signzone` makes up a DNSKEY with flags 256, and so
//! another key tag, for a `.private` without its `.key`, and signs silently without a
//! `.private` it cannot read (the notes' traps 8 and 15).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::config::zone_key;
use crate::fsio::{self, Installed};

/// The DNSKEY flags of a zone-signing key (ZSK).
pub const ZSK_FLAGS: u16 = 256;
/// The DNSKEY flags of a key-signing key (KSK: zone key + secure entry point).
pub const KSK_FLAGS: u16 = 257;

/// A key file name taken apart: `Kexample.com.+013+35008.key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyName {
    /// The zone, as [`zone_key`] writes it.
    pub zone: String,
    /// The base name (without `.key`/`.private`), what the signer is given.
    pub stem: String,
    /// The algorithm number of the name.
    pub algorithm: u8,
    /// The key tag of the name.
    pub tag: u16,
}

/// Which half of a key a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Half {
    /// `.key`: the public DNSKEY record.
    Public,
    /// `.private`: the private key.
    Private,
}

/// Take a file name of the keys directory apart: `K<zone>.+<alg>+<id>.key` or
/// `.private` (`<zone>` with or without its final dot; `K.+013+12345.key` is the root
/// zone's). None for every other file (`.ds`, `.state`, editor leftovers).
#[must_use]
pub fn parse_file_name(name: &str) -> Option<(KeyName, Half)> {
    let rest = name.strip_prefix('K')?;
    let (stem_rest, half) = if let Some(s) = rest.strip_suffix(".key") {
        (s, Half::Public)
    } else {
        (rest.strip_suffix(".private")?, Half::Private)
    };
    let mut parts = stem_rest.rsplitn(3, '+');
    let (tag, algorithm, owner) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(tag, 5) || !digits(algorithm, 3) || owner.is_empty() || owner.contains('/') {
        return None;
    }
    Some((
        KeyName {
            zone: zone_key(owner),
            stem: format!("K{stem_rest}"),
            algorithm: algorithm.parse().ok()?,
            tag: tag.parse().ok()?,
        },
        half,
    ))
}

/// The key files of a keys directory, by zone (as [`zone_key`] writes it): from the file
/// names only, nothing is opened.
#[derive(Debug, Clone, Default)]
pub struct KeyDir {
    /// The directory.
    pub dir: PathBuf,
    /// Per zone, per base name: which halves are there.
    zones: BTreeMap<String, BTreeMap<String, (KeyName, Vec<Half>)>>,
}

impl KeyDir {
    /// List the key files of `dir`.
    ///
    /// # Errors
    /// The directory cannot be read (the caller names the config key).
    pub fn read(dir: &Path) -> std::io::Result<KeyDir> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        Ok(KeyDir::from_names(dir, &names))
    }

    /// The key files among `names` (the entries of `dir`).
    #[must_use]
    pub fn from_names(dir: &Path, names: &[String]) -> KeyDir {
        let mut zones: BTreeMap<String, BTreeMap<String, (KeyName, Vec<Half>)>> = BTreeMap::new();
        for name in names {
            if let Some((key, half)) = parse_file_name(name) {
                let halves = &mut zones
                    .entry(key.zone.clone())
                    .or_default()
                    .entry(key.stem.clone())
                    .or_insert_with(|| (key, Vec::new()))
                    .1;
                halves.push(half);
                halves.sort();
            }
        }
        KeyDir {
            dir: dir.to_owned(),
            zones,
        }
    }

    /// Whether any key file of `zone` is there (so the zone is to be signed).
    #[must_use]
    pub fn has(&self, zone: &str) -> bool {
        self.zones.contains_key(&zone_key(zone))
    }

    /// The key tags of the key files of `zone` (by their names), sorted.
    #[must_use]
    pub fn tags(&self, zone: &str) -> Vec<u16> {
        let mut tags: Vec<u16> = self
            .zones
            .get(&zone_key(zone))
            .into_iter()
            .flat_map(|stems| stems.values().map(|(name, _)| name.tag))
            .collect();
        tags.sort_unstable();
        tags.dedup();
        tags
    }

    /// Read and check the keys of `zone`: every key with both halves, readable and
    /// matching its name, and at least one KSK. The error names the file and what is wrong
    /// with it (it becomes `<zone>: DNSSEC keys in <dir>: <error>`).
    pub fn load(&self, zone: &str) -> Result<Vec<Key>, String> {
        let Some(stems) = self.zones.get(&zone_key(zone)) else {
            return Err(format!("no K{zone}.+<alg>+<id>.key files"));
        };
        let mut keys = Vec::with_capacity(stems.len());
        for (stem, (name, halves)) in stems {
            match halves.as_slice() {
                [Half::Public, Half::Private] => {}
                [Half::Private] => {
                    return Err(format!(
                        "{stem}.private has no {stem}.key beside it: ldns-signzone would make up \
                         a DNSKEY with another key tag from the private key alone; restore the \
                         .key file, or remove the .private one too"
                    ));
                }
                [Half::Public] => {
                    return Err(format!(
                        "{stem}.key has no {stem}.private beside it: a key cannot sign without \
                         its private half"
                    ));
                }
                _ => unreachable!("one entry per file name"),
            }
            let base = self.dir.join(stem);
            let public = read_small(&self.dir.join(format!("{stem}.key")))?;
            let key = parse_key(&public, zone).map_err(|e| format!("{stem}.key: {e}"))?;
            if key.algorithm != name.algorithm || key.tag != name.tag {
                return Err(format!(
                    "{stem}.key: its DNSKEY has algorithm {} and key tag {}, not the {} and {} \
                     of its name",
                    key.algorithm, key.tag, name.algorithm, name.tag
                ));
            }
            let private = read_small(&self.dir.join(format!("{stem}.private")))?;
            check_private(&private, key.algorithm).map_err(|e| format!("{stem}.private: {e}"))?;
            keys.push(Key { base, ..key });
        }
        if !keys.iter().any(Key::is_ksk) {
            let tags: Vec<String> = keys.iter().map(|k| k.tag.to_string()).collect();
            return Err(format!(
                "no KSK among the keys ({}): the DNSKEY set must be signed by a key-signing key \
                 (flags 257, made with 'ldns-keygen -k'), whose DS the parent zone publishes",
                tags.join(", ")
            ));
        }
        keys.sort_by_key(|k| (!k.is_ksk(), k.tag));
        Ok(keys)
    }
}

/// The text of a key file, bounded (a key file is a few hundred bytes) and never blocking
/// on a FIFO; the error says what is wrong in words.
fn read_small(path: &Path) -> Result<String, String> {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    match fsio::read_key_file(path) {
        Ok(Installed::File(bytes)) => {
            String::from_utf8(bytes).map_err(|_| format!("{name}: not a text file (not UTF-8)"))
        }
        Ok(Installed::Absent) => Err(format!("{name}: cannot read it: it is gone")),
        Ok(Installed::NotAFile(kind)) => Err(format!("{name}: it is {kind}, not a key file")),
        Err(crate::error::Error::Io { source, .. }) => {
            Err(format!("{name}: cannot read it: {source}"))
        }
        Err(e) => Err(format!("{name}: {e}")),
    }
}

/// One key of a zone, read from its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The base name with its directory (`<dir>/K<zone>.+<alg>+<id>`), what the signer gets.
    pub base: PathBuf,
    /// DNSKEY flags: 257 (KSK) or 256 (ZSK).
    pub flags: u16,
    /// DNSSEC algorithm number (13 = ECDSAP256SHA256, 15 = ED25519, ...).
    pub algorithm: u8,
    /// The key tag (RFC 4034, appendix B), computed from the DNSKEY.
    pub tag: u16,
}

impl Key {
    /// A key-signing key (flags 257): it signs the DNSKEY set, the parent's DS points at it.
    #[must_use]
    pub fn is_ksk(&self) -> bool {
        self.flags == KSK_FLAGS
    }

    /// `KSK 35008` or `ZSK 37124`.
    #[must_use]
    pub fn describe(&self) -> String {
        format!("{} {}", if self.is_ksk() { "KSK" } else { "ZSK" }, self.tag)
    }
}

/// The keys of a zone in words: `KSK 35008, ZSK 37124 (algorithm 13)`.
#[must_use]
pub fn describe(keys: &[Key]) -> String {
    let mut text = keys
        .iter()
        .map(Key::describe)
        .collect::<Vec<_>>()
        .join(", ");
    let mut algorithms: Vec<u8> = keys.iter().map(|k| k.algorithm).collect();
    algorithms.sort_unstable();
    algorithms.dedup();
    let list: Vec<String> = algorithms.iter().map(u8::to_string).collect();
    let _ = write!(
        text,
        " (algorithm{} {})",
        if list.len() > 1 { "s" } else { "" },
        list.join(", ")
    );
    text
}

/// Parse the `.key` file of a key of `zone`: one DNSKEY record (comment lines and a TTL
/// or class allowed, as ldns-keygen and dnssec-keygen write them), owned by `zone`, a
/// zone key (flags 256 or 257), protocol 3, an algorithm number and a base64 key. The
/// returned key's `base` is empty (the caller knows it).
pub fn parse_key(text: &str, zone: &str) -> Result<Key, String> {
    let mut records = Vec::new();
    for line in text.lines() {
        let data = line.split(';').next().unwrap_or("");
        if data.trim().is_empty() {
            continue;
        }
        records.push(data);
    }
    // A record may be spread over lines in parentheses (BIND's multi-line form).
    let joined = records.join(" ").replace(['(', ')'], " ");
    let tokens: Vec<&str> = joined.split_whitespace().collect();
    let types: Vec<usize> = (0..tokens.len())
        .filter(|&i| tokens[i].eq_ignore_ascii_case("DNSKEY"))
        .collect();
    let &[at] = types.as_slice() else {
        return Err(if types.is_empty() {
            "no DNSKEY record in it".into()
        } else {
            "more than one DNSKEY record in it".into()
        });
    };
    let (owner, between) = (tokens[0], &tokens[1..at]);
    if at == 0
        || between.len() > 2
        || !between
            .iter()
            .all(|t| t.bytes().all(|b| b.is_ascii_digit()) || t.eq_ignore_ascii_case("IN"))
    {
        return Err("not a DNSKEY record: `<zone>. [TTL] IN DNSKEY <flags> 3 <alg> <key>`".into());
    }
    if zone_key(owner) != zone_key(zone) {
        return Err(format!("its DNSKEY is for {owner}, not for {zone}"));
    }
    let field = |i: usize, what: &str| {
        tokens
            .get(at + i)
            .ok_or_else(|| format!("the DNSKEY record has no {what}"))
    };
    let flags: u16 = field(1, "flags")?
        .parse()
        .map_err(|_| "the DNSKEY flags are not a number")?;
    let protocol = field(2, "protocol")?;
    let algorithm: u8 = field(3, "algorithm")?
        .parse()
        .map_err(|_| "the DNSKEY algorithm is not a number")?;
    let encoded: String = tokens[(at + 4).min(tokens.len())..].concat();
    if *protocol != "3" {
        return Err(format!("the DNSKEY protocol is {protocol}, not 3"));
    }
    if flags != KSK_FLAGS && flags != ZSK_FLAGS {
        return Err(format!(
            "the DNSKEY flags are {flags}: zonerw signs with zone keys only, 257 (KSK) or 256 \
             (ZSK){}",
            if flags & 0x80 != 0 {
                " (this key is revoked)"
            } else {
                ""
            }
        ));
    }
    let public: Vec<u8> = domain::utils::base64::decode(&encoded)
        .map_err(|e| format!("the DNSKEY's public key is not base64: {e}"))?;
    if public.is_empty() {
        return Err("the DNSKEY has no public key".into());
    }
    Ok(Key {
        base: PathBuf::new(),
        flags,
        algorithm,
        tag: key_tag(flags, 3, algorithm, &public),
    })
}

/// The key tag of a DNSKEY (RFC 4034, appendix B): the ones'-complement-like sum of its
/// RDATA as 16-bit words; for algorithm 1 (RSA/MD5), bits of the key itself.
#[must_use]
pub fn key_tag(flags: u16, protocol: u8, algorithm: u8, public: &[u8]) -> u16 {
    if algorithm == 1 {
        let n = public.len();
        return if n > 2 {
            u16::from_be_bytes([public[n - 3], public[n - 2]])
        } else {
            0
        };
    }
    let mut rdata = Vec::with_capacity(4 + public.len());
    rdata.extend_from_slice(&flags.to_be_bytes());
    rdata.push(protocol);
    rdata.push(algorithm);
    rdata.extend_from_slice(public);
    let mut sum: u32 = 0;
    for (i, byte) in rdata.iter().enumerate() {
        sum += if i % 2 == 0 {
            u32::from(*byte) << 8
        } else {
            u32::from(*byte)
        };
    }
    sum += (sum >> 16) & 0xffff;
    u16::try_from(sum & 0xffff).expect("masked to 16 bits")
}

/// Check a `.private` file: the private-key format of ldns and BIND, for `algorithm`.
/// (ldns-signzone reports an unreadable one on stderr, exits 0 and signs without it.)
pub fn check_private(text: &str, algorithm: u8) -> Result<(), String> {
    let value = |key: &str| {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == key).then(|| v.trim())
        })
    };
    if value("Private-key-format").is_none() {
        return Err("not a private key file (no 'Private-key-format:' line)".into());
    }
    let Some(written) = value("Algorithm") else {
        return Err("no 'Algorithm:' line".into());
    };
    let number = written.split_whitespace().next().unwrap_or("");
    if number.parse::<u8>().ok() != Some(algorithm) {
        return Err(format!(
            "it is for algorithm {written:?}, but its .key is for algorithm {algorithm}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KSK: &str = "example.test.\tIN\tDNSKEY\t257 3 13 r72PESwAT6CR+2IW059CiQmRw2ggZ6hvb5vNdy8D5IBUMBGCdD1HlQ+oZ8VytvA9krdrFFf5LVRsPJhqpZWwYg== ;{id = 35008 (ksk), size = 256b}\n";
    const ZSK: &str = "example.test.\tIN\tDNSKEY\t256 3 13 gVygZ2sbjcXfKpyBJdH1IuCWbbyw393lrzLJIa3u/xFWhNsfYtgKQXjv7ulfyx3K29V1fKWzmBs/9j1zgY3G/g== ;{id = 37124 (zsk), size = 256b}\n";
    const PRIVATE: &str =
        "Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: AAAA\n";

    #[test]
    fn key_file_names() {
        let name = |zone: &str, stem: &str, alg, tag| KeyName {
            zone: zone.into(),
            stem: stem.into(),
            algorithm: alg,
            tag,
        };
        assert_eq!(
            parse_file_name("Kexample.test.+013+35008.key"),
            Some((
                name("example.test", "Kexample.test.+013+35008", 13, 35008),
                Half::Public
            ))
        );
        assert_eq!(
            parse_file_name("KExample.Test+015+00042.private"),
            Some((
                name("example.test", "KExample.Test+015+00042", 15, 42),
                Half::Private
            ))
        );
        assert_eq!(
            parse_file_name("K.+008+12345.key"),
            Some((name(".", "K.+008+12345", 8, 12345), Half::Public))
        );
        for other in [
            "Kexample.test.+013+35008.ds",
            "Kexample.test.+013+35008.key~",
            "kexample.test.+013+35008.key",
            "Kexample.test.+13+35008.key",
            "Kexample.test.+013+3500.key",
            "K+013+35008.key",
            "Kexample.test.013+35008.key",
            "dsset-example.test.",
            "Kexample.test.+013+35008.state",
        ] {
            assert_eq!(parse_file_name(other), None, "{other}");
        }
    }

    #[test]
    fn a_key_directory_by_zone() {
        let names: Vec<String> = [
            "Kexample.test.+013+35008.key",
            "Kexample.test.+013+35008.private",
            "Kexample.test.+013+35008.ds",
            "KEXAMPLE.test.+013+37124.key",
            "Kexample.test.+013+37124.private",
            "Kother.test.+013+00001.private",
            "README",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let dir = KeyDir::from_names(Path::new("/k"), &names);
        assert!(dir.has("example.test") && dir.has("Example.Test."));
        assert!(dir.has("other.test") && !dir.has("test") && !dir.has("."));
        assert_eq!(dir.tags("EXAMPLE.TEST."), [35008, 37124]);
        assert_eq!(dir.tags("nothing.test"), [0_u16; 0]);
        assert_eq!(
            dir.load("unknown.test").unwrap_err(),
            "no Kunknown.test.+<alg>+<id>.key files"
        );
        // other.test has only a .private: refused before anything is read.
        assert!(dir.load("other.test").unwrap_err().starts_with(
            "Kother.test.+013+00001.private has no Kother.test.+013+00001.key beside it"
        ));
    }

    #[test]
    fn key_files_are_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("Kexample.test.+013+35008.key", KSK);
        write("Kexample.test.+013+35008.private", PRIVATE);
        write("Kexample.test.+013+37124.key", ZSK);
        write("Kexample.test.+013+37124.private", PRIVATE);
        let keys = KeyDir::read(dir.path())
            .unwrap()
            .load("example.test")
            .unwrap();
        assert_eq!(
            keys.iter().map(Key::describe).collect::<Vec<_>>(),
            ["KSK 35008", "ZSK 37124"]
        );
        assert_eq!(keys[0].base, dir.path().join("Kexample.test.+013+35008"));
        assert_eq!(describe(&keys), "KSK 35008, ZSK 37124 (algorithm 13)");

        let load = || KeyDir::read(dir.path()).unwrap().load("example.test");
        write("Kexample.test.+013+37124.private", "garbage\n");
        assert_eq!(
            load().unwrap_err(),
            "Kexample.test.+013+37124.private: not a private key file (no 'Private-key-format:' line)"
        );
        write(
            "Kexample.test.+013+37124.private",
            &PRIVATE.replace("13 (", "15 ("),
        );
        assert!(
            load()
                .unwrap_err()
                .contains("for algorithm \"15 (ECDSAP256SHA256)\"")
        );
        write("Kexample.test.+013+37124.private", PRIVATE);
        // A .key file whose name says another tag (renamed, or another key copied over it).
        write("Kexample.test.+013+37124.key", KSK);
        assert_eq!(
            load().unwrap_err(),
            "Kexample.test.+013+37124.key: its DNSKEY has algorithm 13 and key tag 35008, not \
             the 13 and 37124 of its name"
        );
        // Only a ZSK left: no KSK.
        std::fs::remove_file(dir.path().join("Kexample.test.+013+37124.key")).unwrap();
        std::fs::remove_file(dir.path().join("Kexample.test.+013+37124.private")).unwrap();
        write(
            "Kexample.test.+013+35008.key",
            &KSK.replace("257 3", "256 3"),
        );
        let e = load().unwrap_err();
        assert!(e.contains("35008"), "the tag changes with the flags: {e}");
        std::fs::remove_file(dir.path().join("Kexample.test.+013+35008.key")).unwrap();
        std::fs::remove_file(dir.path().join("Kexample.test.+013+35008.private")).unwrap();
        write("Kexample.test.+013+37124.key", ZSK);
        write("Kexample.test.+013+37124.private", PRIVATE);
        assert!(
            load()
                .unwrap_err()
                .starts_with("no KSK among the keys (37124)")
        );
    }

    #[test]
    fn an_unreadable_private_half_is_named() {
        // Root reads anything: a directory where the file should be cannot be read by anyone.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Kexample.test.+013+35008.key"), KSK).unwrap();
        std::fs::create_dir(dir.path().join("Kexample.test.+013+35008.private")).unwrap();
        let e = KeyDir::read(dir.path())
            .unwrap()
            .load("example.test")
            .unwrap_err();
        assert_eq!(
            e,
            "Kexample.test.+013+35008.private: it is a directory, not a key file"
        );
    }

    #[test]
    fn dnskey_records() {
        let ksk = parse_key(KSK, "example.test").unwrap();
        assert_eq!((ksk.flags, ksk.algorithm, ksk.tag), (257, 13, 35008));
        assert!(ksk.is_ksk());
        let zsk = parse_key(ZSK, "EXAMPLE.TEST.").unwrap();
        assert_eq!((zsk.flags, zsk.tag), (256, 37124));
        assert!(!zsk.is_ksk());
        // BIND's layout: comments first, a TTL, a split key.
        let bind = "; This is a key-signing key, keyid 35008, for example.test.\n; Created: 20261129000000\n\
             example.test. 3600 IN DNSKEY 257 3 13 r72PESwAT6CR+2IW059CiQmRw2ggZ6hvb5vNdy8D5IBU \
             MBGCdD1HlQ+oZ8VytvA9krdrFFf5LVRsPJhqpZWwYg==\n";
        assert_eq!(parse_key(bind, "example.test").unwrap().tag, 35008);
        let multi = "example.test. IN DNSKEY ( 257 3 13\n r72PESwAT6CR+2IW059CiQmRw2ggZ6hvb5vNdy8D5IBUMBGCdD1HlQ+oZ8VytvA9krdrFFf5LVRsPJhqpZWwYg== )\n";
        assert_eq!(parse_key(multi, "example.test").unwrap().tag, 35008);
        for (text, want) in [
            ("", "no DNSKEY record in it"),
            (&format!("{KSK}{ZSK}"), "more than one DNSKEY record in it"),
            (
                &KSK.replace("example.test.", "other.test."),
                "its DNSKEY is for other.test., not for example.test",
            ),
            (&KSK.replace("257 3", "385 3"), "(this key is revoked)"),
            (&KSK.replace("257 3", "1 3"), "the DNSKEY flags are 1"),
            (
                &KSK.replace("257 3", "257 2"),
                "the DNSKEY protocol is 2, not 3",
            ),
            (
                &KSK.replace(" 13 r7", " ECDSAP256SHA256 r7"),
                "the DNSKEY algorithm is not a number",
            ),
            (&KSK.replace("r72P", "r7!P"), "not base64"),
            (
                "example.test. IN DNSKEY 257 3 13\n",
                "the DNSKEY has no public key",
            ),
            (
                "example.test. IN A DNSKEY 257 3 13 AAAA\n",
                "not a DNSKEY record",
            ),
        ] {
            let got = parse_key(text, "example.test").unwrap_err();
            assert!(got.contains(want), "{text:?}: {got}");
        }
    }

    #[test]
    fn key_tags_as_rfc_4034_and_the_domain_crate_compute_them() {
        use domain::base::iana::SecurityAlgorithm;
        use domain::rdata::Dnskey;
        for (flags, alg, key) in [
            (257_u16, 13_u8, vec![1_u8, 2, 3, 4, 5]),
            (256, 8, (0..=255).collect::<Vec<u8>>()),
            (257, 15, vec![0xff; 32]),
            (256, 13, vec![0xff; 64]),
            (256, 13, vec![0; 63]),
        ] {
            let theirs = Dnskey::new(flags, 3, SecurityAlgorithm::from_int(alg), key.clone())
                .unwrap()
                .key_tag();
            assert_eq!(key_tag(flags, 3, alg, &key), theirs, "{flags} {alg}");
        }
        assert_eq!(key_tag(257, 3, 1, &[1, 2, 3, 4]), 0x0203, "RSA/MD5");
    }

    #[test]
    fn private_key_files() {
        check_private(PRIVATE, 13).unwrap();
        check_private(
            "Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: x\nCreated: 1\n",
            13,
        )
        .unwrap();
        assert!(check_private("", 13).is_err());
        assert_eq!(
            check_private("Private-key-format: v1.2\n", 13).unwrap_err(),
            "no 'Algorithm:' line"
        );
        assert!(
            check_private(PRIVATE, 15)
                .unwrap_err()
                .contains("for algorithm 15")
        );
    }
}
