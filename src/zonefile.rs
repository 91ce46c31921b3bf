//! Reads the SOA serial back out of a zone file (an RFC 1035 master file), whatever its layout.
//!
//! zonerw's "previous" serial for a zone is the larger of what it last wrote and the serial
//! of the zone file currently installed (README.md, "How it decides and applies": Serials), so that a lost `state.json` or
//! a hand-edited zone with a higher serial never makes the serial go backwards. The installed
//! file may have been written by anyone, so this reads just enough of the master-file syntax
//! to find the first SOA record reliably:
//!
//! - an entry ends at a newline outside parentheses; `(` … `)` join lines;
//! - `;` starts a comment, except inside a quoted string or after a backslash;
//! - a quoted string is one token, even if it holds spaces, `;`, `(` or newlines;
//! - a backslash escapes the next character (`\;`, `\"`, `\(`); `\DDD` needs nothing more,
//!   because its digits are ordinary word characters;
//! - an entry that starts with a space or tab has no owner (RFC 1035 section 5.1), so an
//!   owner named `soa`, `in` or `3600` is never mistaken for a type, class or TTL;
//! - the TTL (`3600`, `1h30m`) and the class (`IN`, `CH`, `HS`, `CS`, `CLASSnnn`) are
//!   optional and may come in either order;
//! - the type is `SOA` in any case or `TYPE6`, with ordinary rdata or the RFC 3597 generic
//!   form `\# <length> <hex>`;
//! - `$ORIGIN`, `$TTL`, `$INCLUDE` and other directives are skipped. This is pure code, so a
//!   SOA that lives in an `$INCLUDE`d file is not seen.
//!
//! Anything malformed gives `None` rather than a guess or a panic: the caller then relies on
//! its own state alone.

/// Returns the serial of the first SOA record in the master-file `text`.
///
/// `None` when the text has no SOA record before its end, or when the first SOA record is
/// malformed: its serial is missing, is not plain decimal, or does not fit in 32 bits.
/// Never panics, whatever the input.
pub(crate) fn soa_serial(text: &str) -> Option<u32> {
    match first_soa_serial(text)? {
        SerialField::Text(raw) => parse_serial(raw),
        SerialField::Wire(serial) => serial,
    }
}

/// The byte range of the serial field of the first SOA record in `text`, as written
/// (without quotes). `None` without a SOA record, or when the SOA is in RFC 3597 generic
/// form (`\# ...`), whose serial is part of a hex string.
#[must_use]
pub fn soa_serial_span(text: &str) -> Option<std::ops::Range<usize>> {
    let SerialField::Text(raw) = first_soa_serial(text)? else {
        return None;
    };
    // `raw` is a subslice of `text`: its offset is the distance between the two pointers.
    let start = raw.as_ptr().addr() - text.as_ptr().addr();
    Some(start..start + raw.len())
}

/// The 1-based line of the type of the first SOA record in `text`, well-formed or not.
#[must_use]
pub fn soa_line(text: &str) -> Option<usize> {
    let mut lexer = Lexer::new(text);
    while let Some((has_owner, first)) = lexer.next_entry() {
        let is_directive = has_owner && matches!(first, Token::Word([b'$', ..]));
        if !is_directive
            && let Some(word) = record_type(&mut lexer, has_owner, first).filter(|w| is_soa_type(w))
        {
            let offset = word.as_ptr().addr() - text.as_ptr().addr();
            return Some(text[..offset].matches('\n').count() + 1);
        }
        lexer.skip_entry();
    }
    None
}

/// The 1-based line of the first `$INCLUDE` directive in `text`, if there is one.
#[must_use]
pub fn include_line(text: &str) -> Option<usize> {
    let mut lexer = Lexer::new(text);
    while let Some((has_owner, first)) = lexer.next_entry() {
        if let (true, Token::Word(word)) = (has_owner, first)
            && word.eq_ignore_ascii_case(b"$INCLUDE")
        {
            let offset = word.as_ptr().addr() - text.as_ptr().addr();
            return Some(text[..offset].matches('\n').count() + 1);
        }
        lexer.skip_entry();
    }
    None
}

/// The serial field of a SOA record: a token as written, or the value decoded from
/// generic rdata (None when that is malformed).
enum SerialField<'a> {
    Text(&'a [u8]),
    Wire(Option<u32>),
}

fn first_soa_serial(text: &str) -> Option<SerialField<'_>> {
    let mut lexer = Lexer::new(text);
    while let Some((has_owner, first)) = lexer.next_entry() {
        let is_directive = has_owner && matches!(first, Token::Word([b'$', ..]));
        if !is_directive && record_type(&mut lexer, has_owner, first).is_some_and(is_soa_type) {
            return soa_rdata_serial(&mut lexer);
        }
        lexer.skip_entry();
    }
    None
}

/// One lexical item of a master file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    /// An unquoted word, with its escapes as written.
    Word(&'a [u8]),
    /// A quoted string, without its quotes, with its escapes as written.
    Quoted(&'a [u8]),
    /// A newline outside parentheses: the end of an entry.
    EndOfEntry,
    /// The end of the text, which also ends the current entry.
    EndOfText,
}

/// Splits a master file into entries and tokens.
struct Lexer<'a> {
    text: &'a [u8],
    pos: usize,
    /// How many `(` are open; a newline ends an entry only at zero.
    parens: usize,
    /// Whether the current entry's end has already been read.
    entry_ended: bool,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Self {
        Lexer {
            text: text.as_bytes(),
            pos: 0,
            parens: 0,
            entry_ended: true,
        }
    }

    /// Starts the next entry that is not blank or only a comment; returns whether it has an
    /// owner and its first token (never an end token). Call it only at the start of a line.
    fn next_entry(&mut self) -> Option<(bool, Token<'a>)> {
        loop {
            // RFC 1035 5.1: a line that starts with a blank has no owner (the previous one
            // applies).
            let has_owner = !matches!(self.text.get(self.pos), Some(b' ' | b'\t'));
            match self.next_token() {
                Token::EndOfEntry => {}
                Token::EndOfText => return None,
                token => {
                    self.entry_ended = false;
                    return Some((has_owner, token));
                }
            }
        }
    }

    /// Reads the rest of the current entry, if its end has not been read yet.
    fn skip_entry(&mut self) {
        while !self.entry_ended {
            self.next_token();
        }
    }

    /// Returns the next token, joining lines inside parentheses and dropping comments.
    fn next_token(&mut self) -> Token<'a> {
        while let Some(&byte) = self.text.get(self.pos) {
            match byte {
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b';' => self.pos = self.find(self.pos, |b| b == b'\n'),
                b'\n' => {
                    self.pos += 1;
                    if self.parens == 0 {
                        self.entry_ended = true;
                        return Token::EndOfEntry;
                    }
                }
                b'(' => {
                    self.parens += 1;
                    self.pos += 1;
                }
                b')' => {
                    // An unmatched `)` is an error for NSD; here it is just ignored.
                    self.parens = self.parens.saturating_sub(1);
                    self.pos += 1;
                }
                b'"' => return Token::Quoted(self.take(self.pos + 1, |b| b == b'"', 1)),
                _ => return Token::Word(self.take(self.pos, ends_word, 0)),
            }
        }
        self.entry_ended = true;
        Token::EndOfText
    }

    /// Returns the bytes from `start` up to the first unescaped byte for which `stop` holds
    /// (or the end of the text), and moves past them and `skip` more bytes.
    fn take(&mut self, start: usize, stop: fn(u8) -> bool, skip: usize) -> &'a [u8] {
        let end = self.find(start, stop);
        self.pos = self.text.len().min(end + skip);
        self.text.get(start..end).unwrap_or_default()
    }

    /// Returns the index of the first unescaped byte at or after `start` for which `stop`
    /// holds, or the length of the text. A backslash escapes whatever byte follows it.
    fn find(&self, start: usize, stop: fn(u8) -> bool) -> usize {
        let mut index = start;
        while let Some(&byte) = self.text.get(index) {
            if byte == b'\\' {
                index += 2;
            } else if stop(byte) {
                return index;
            } else {
                index += 1;
            }
        }
        self.text.len()
    }
}

/// Whether `byte` ends an unquoted word.
fn ends_word(byte: u8) -> bool {
    matches!(
        byte,
        b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"'
    )
}

/// Reads past the optional TTL and class of a record entry and returns its type, or `None`
/// if the entry has no type word (for example an owner alone on its line).
fn record_type<'a>(lexer: &mut Lexer<'a>, has_owner: bool, first: Token<'a>) -> Option<&'a [u8]> {
    let mut token = if has_owner { lexer.next_token() } else { first };
    let (mut seen_ttl, mut seen_class) = (false, false);
    loop {
        // NSD also takes a quoted TTL, class or type (`"3600" IN "SOA"`), escapes not decoded.
        let (Token::Word(word) | Token::Quoted(word)) = token else {
            return None;
        };
        if !seen_ttl && is_ttl(word) {
            seen_ttl = true;
        } else if !seen_class && is_class(word) {
            seen_class = true;
        } else {
            return Some(word);
        }
        token = lexer.next_token();
    }
}

/// Whether `word` is a TTL: decimal seconds or BIND-style units such as `1h30m` or `2W`.
/// No type or class starts with a digit, so this cannot swallow one.
fn is_ttl(word: &[u8]) -> bool {
    word.first().is_some_and(u8::is_ascii_digit)
        && word
            .iter()
            .all(|&b| b.is_ascii_digit() || b"smhdwSMHDW".contains(&b))
}

/// Whether `word` is a class: `IN`, `CH`, `HS`, `CS` or RFC 3597's `CLASSnnn`, in any case.
fn is_class(word: &[u8]) -> bool {
    [&b"IN"[..], b"CH", b"HS", b"CS"]
        .iter()
        .any(|class| word.eq_ignore_ascii_case(class))
        || strip_prefix_ignore_case(word, b"CLASS").is_some_and(|n| parse_decimal(n).is_some())
}

/// Whether the type `word` is SOA: the mnemonic in any case, or RFC 3597's `TYPE6`.
fn is_soa_type(word: &[u8]) -> bool {
    word.eq_ignore_ascii_case(b"SOA")
        || strip_prefix_ignore_case(word, b"TYPE").and_then(parse_decimal) == Some(6)
}

/// `word` without `prefix` if it starts with it, ignoring ASCII case.
fn strip_prefix_ignore_case<'a>(word: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let (head, tail) = word.split_at_checked(prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then_some(tail)
}

/// The value of a plain decimal number (digits only, no sign) that fits in a `u32`.
fn parse_decimal(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Reads a SOA record's rdata (MNAME RNAME SERIAL …) up to the serial and returns it.
fn soa_rdata_serial<'a>(lexer: &mut Lexer<'a>) -> Option<SerialField<'a>> {
    let mname = lexer.next_token();
    if mname == Token::Word(b"\\#") {
        return Some(SerialField::Wire(generic_rdata_serial(lexer)));
    }
    let rname = lexer.next_token();
    let is_name = |token| matches!(token, Token::Word(_) | Token::Quoted(_));
    if !is_name(mname) || !is_name(rname) {
        return None;
    }
    match lexer.next_token() {
        Token::Word(serial) | Token::Quoted(serial) => Some(SerialField::Text(serial)),
        _ => None,
    }
}

/// The value of a serial token: decimal digits, which (as NSD does) may be quoted or written
/// as escapes such as `\050`, without a sign, that fit in a `u32`.
fn parse_serial(raw: &[u8]) -> Option<u32> {
    let mut serial: u32 = 0;
    let mut rest = raw;
    while let Some((&byte, tail)) = rest.split_first() {
        let (digit, tail) = if byte == b'\\' {
            unescape(tail)?
        } else {
            (byte, tail)
        };
        if !digit.is_ascii_digit() {
            return None;
        }
        serial = serial
            .checked_mul(10)?
            .checked_add(u32::from(digit - b'0'))?;
        rest = tail;
    }
    (!raw.is_empty()).then_some(serial)
}

/// Decodes the escape after a backslash (`DDD` or one character); returns the byte it
/// stands for and what follows it.
fn unescape(after_backslash: &[u8]) -> Option<(u8, &[u8])> {
    match after_backslash {
        [a, b, c, rest @ ..] if [a, b, c].iter().all(|d| d.is_ascii_digit()) => {
            let value = [a, b, c]
                .iter()
                .fold(0, |n, &&d| n * 10 + u32::from(d - b'0'));
            Some((u8::try_from(value).ok()?, rest))
        }
        [byte, rest @ ..] => Some((*byte, rest)),
        [] => None,
    }
}

/// Reads RFC 3597 generic rdata (`\# <length> <hex>…`, after the `\#`) to the end of the
/// entry, and returns the serial from the SOA wire format it encodes.
fn generic_rdata_serial(lexer: &mut Lexer<'_>) -> Option<u32> {
    let Token::Word(length) = lexer.next_token() else {
        return None;
    };
    // NSD 4.6 does not check the length against the data (it serves a SOA whose `\#` length
    // is wrong), so neither does this; it only bounds the data.
    parse_decimal(length)?;
    let mut rdata = Vec::new();
    let mut high_nibble = None;
    while let Token::Word(hex) | Token::Quoted(hex) = lexer.next_token() {
        for &digit in hex {
            let nibble = char::from(digit).to_digit(16)?;
            match high_nibble.take() {
                None => high_nibble = Some(nibble),
                Some(high) => rdata.push(u8::try_from((high << 4) | nibble).ok()?),
            }
        }
        if rdata.len() > usize::from(u16::MAX) {
            return None;
        }
    }
    if high_nibble.is_some() {
        return None;
    }
    wire_soa_serial(&rdata)
}

/// The serial of SOA rdata in wire format: two uncompressed names, then five 32-bit fields.
fn wire_soa_serial(rdata: &[u8]) -> Option<u32> {
    let fields = skip_wire_name(skip_wire_name(rdata)?)?;
    if fields.len() != 20 {
        return None;
    }
    let serial = fields.first_chunk::<4>()?;
    Some(u32::from_be_bytes(*serial))
}

/// The bytes after the uncompressed wire-format domain name at the start of `data`.
fn skip_wire_name(data: &[u8]) -> Option<&[u8]> {
    let mut rest = data;
    loop {
        let (&label_length, tail) = rest.split_first()?;
        match label_length {
            0 => return Some(tail),
            // Longer is a compression pointer, which RFC 3597 forbids in generic rdata.
            1..=63 => rest = tail.get(usize::from(label_length)..)?,
            _ => return None,
        }
    }
}

// ---------------------------------------------------------------- entries as written

/// One field of an entry, as written: its byte range in the text (without the quotes of a
/// quoted string, with its escapes as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Where the field is in the text.
    pub span: std::ops::Range<usize>,
    /// Whether it was a quoted string.
    pub quoted: bool,
}

/// One entry of a master file, split into its fields by the same rules as the SOA reader
/// above (parentheses, comments, quotes, escapes, owner inheritance, optional TTL and class).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// `$ORIGIN`, `$TTL`, `$INCLUDE` or another directive: its name and arguments.
    Directive {
        /// The directive's name, `$` included.
        name: Field,
        /// Its arguments.
        args: Vec<Field>,
    },
    /// A resource record.
    Record {
        /// The owner; None when the entry starts with a blank (the previous owner applies).
        owner: Option<Field>,
        /// The TTL, if written.
        ttl: Option<Field>,
        /// The class, if written.
        class: Option<Field>,
        /// The type; None for an entry without one (an owner alone on its line).
        rtype: Option<Field>,
        /// Every field after the type, to the end of the entry.
        rdata: Vec<Field>,
    },
}

/// Every entry of the master-file `text` (blank and comment-only lines are none), in order.
/// Pure and total: malformed text gives odd entries, never a panic.
#[must_use]
pub fn entries(text: &str) -> Vec<Entry> {
    fn field<'a>(text: &str, token: Token<'a>) -> Option<(Field, &'a [u8])> {
        let (Token::Word(bytes) | Token::Quoted(bytes)) = token else {
            return None;
        };
        let start = bytes.as_ptr().addr() - text.as_ptr().addr();
        let span = start..start + bytes.len();
        let quoted = matches!(token, Token::Quoted(_));
        Some((Field { span, quoted }, bytes))
    }
    let mut lexer = Lexer::new(text);
    let mut entries = Vec::new();
    while let Some((has_owner, first)) = lexer.next_entry() {
        let mut fields = Vec::new();
        let mut token = first;
        while let Some(f) = field(text, token) {
            fields.push(f);
            token = lexer.next_token();
        }
        let mut fields = fields.into_iter().peekable();
        if has_owner && matches!(first, Token::Word([b'$', ..])) {
            let (name, _) = fields.next().expect("the first token is a word");
            entries.push(Entry::Directive {
                name,
                args: fields.map(|(f, _)| f).collect(),
            });
            continue;
        }
        let owner = if has_owner {
            fields.next().map(|(f, _)| f)
        } else {
            None
        };
        let (mut ttl, mut class) = (None, None);
        loop {
            match fields.peek() {
                Some((_, word)) if ttl.is_none() && is_ttl(word) => {
                    ttl = fields.next().map(|(f, _)| f);
                }
                Some((_, word)) if class.is_none() && is_class(word) => {
                    class = fields.next().map(|(f, _)| f);
                }
                _ => break,
            }
        }
        entries.push(Entry::Record {
            owner,
            ttl,
            class,
            rtype: fields.next().map(|(f, _)| f),
            rdata: fields.map(|(f, _)| f).collect(),
        });
    }
    entries
}

/// Whether the type `word` is `mnemonic` (in any case) or RFC 3597's `TYPE<code>`.
#[must_use]
pub fn is_type(word: &str, mnemonic: &str, code: u32) -> bool {
    word.eq_ignore_ascii_case(mnemonic)
        || strip_prefix_ignore_case(word.as_bytes(), b"TYPE").and_then(parse_decimal) == Some(code)
}

/// Whether the class `word` is IN (`IN` in any case, or RFC 3597's `CLASS1`).
#[must_use]
pub fn is_in_class(word: &str) -> bool {
    word.eq_ignore_ascii_case("IN")
        || strip_prefix_ignore_case(word.as_bytes(), b"CLASS").and_then(parse_decimal) == Some(1)
}

#[cfg(test)]
mod tests {

    /// Each entry as (kind, owner, ttl, class, type, rdata), fields as written.
    fn described(text: &str) -> Vec<String> {
        let show = |f: &super::Field| {
            let t = &text[f.span.clone()];
            if f.quoted {
                format!("\"{t}\"")
            } else {
                t.to_owned()
            }
        };
        let opt = |f: &Option<super::Field>| f.as_ref().map_or("-".to_owned(), show);
        super::entries(text)
            .iter()
            .map(|e| match e {
                super::Entry::Directive { name, args } => {
                    let args: Vec<_> = args.iter().map(show).collect();
                    format!("{} [{}]", show(name), args.join(" "))
                }
                super::Entry::Record {
                    owner,
                    ttl,
                    class,
                    rtype,
                    rdata,
                } => {
                    let rdata: Vec<_> = rdata.iter().map(show).collect();
                    format!(
                        "{} {} {} {} [{}]",
                        opt(owner),
                        opt(ttl),
                        opt(class),
                        opt(rtype),
                        rdata.join(" ")
                    )
                }
            })
            .collect()
    }

    #[test]
    fn entries_split_fields_as_written() {
        let text = "$ORIGIN ex. ; c\n\n; only a comment\n@ IN 60 SOA a. b. (\n 1 ; s\n 2 3 4 5 )\n\tA 192.0.2.1\nin in a \"192.0.2.2\"\n3600 AAAA 2001:db8::1\nowner\nt TXT \"a ; (\" b\\;c\nw type1 \\# 4 c0000201";
        assert_eq!(
            described(text),
            [
                "$ORIGIN [ex.]",
                "@ 60 IN SOA [a. b. 1 2 3 4 5]",
                "- - - A [192.0.2.1]",
                "in - in a [\"192.0.2.2\"]",
                "3600 - - AAAA [2001:db8::1]",
                "owner - - - []",
                "t - - TXT [\"a ; (\" b\\;c]",
                "w - - type1 [\\# 4 c0000201]",
            ]
        );
        assert!(super::entries("").is_empty());
        assert!(super::is_type("a", "A", 1) && super::is_type("TYPE001", "A", 1));
        assert!(!super::is_type("AA", "A", 1) && !super::is_type("TYPE28", "A", 1));
        assert!(super::is_in_class("in") && super::is_in_class("CLASS1"));
        assert!(!super::is_in_class("CH") && !super::is_in_class("CLASS3"));
    }

    #[test]
    fn serial_span_and_include_line() {
        let text =
            "$ORIGIN x.\n@ IN SOA ns hm (\n  \"2024\" ; serial\n 1 2 3 4 )\n$include a.inc\n";
        let span = super::soa_serial_span(text).unwrap();
        assert_eq!(&text[span], "2024");
        assert_eq!(super::include_line(text), Some(5));
        assert_eq!(
            super::include_line("; $INCLUDE x\nx TXT \"$INCLUDE\"\n"),
            None
        );
        let generic = "x. 60 IN TYPE6 \\# 22 000000000007e80000000100000002000000030000000400\n";
        assert_eq!(super::soa_serial_span(generic), None);
        assert_eq!(super::soa_serial_span("x. IN A 192.0.2.1\n"), None);
    }
    use super::soa_serial;
    use std::{fs, path::Path};

    /// SOA of the tricky-layout table below, after the records that precede it.
    const SOA: &str = "@ IN SOA ns.example. host.example. 2024010203 3600 900 604800 300\n";

    /// (what the case is about, master-file text, expected serial)
    const CASES: &[(&str, &str, Option<u32>)] = &[
        ("one line", SOA, Some(2_024_010_203)),
        ("empty text", "", None),
        ("no soa", "@ IN NS ns.example.\nns IN A 192.0.2.1\n", None),
        ("no trailing newline", "@ IN SOA a. b. 7 1 2 3 4", Some(7)),
        (
            "crlf",
            "$TTL 1h\r\n@\tIN\tSOA\ta. b. (\r\n 8 ; serial\r\n 1 2 3 4 )\r\n",
            Some(8),
        ),
        (
            "classic multi-line",
            "$TTL    4D\n$ORIGIN ex.\n@       IN      SOA     open.nlnetlabs.nl. miekg.atoom.net. (\n                         2005061300         ; Serial\n                             4H         ; Refresh\n                             1H         ; Retry\n                             7D         ; Expire\n                             1D )       ; Negative Cache TTL\n",
            Some(2_005_061_300),
        ),
        (
            "paren before mname",
            "@ IN SOA ( a. b. 9 1 2 3 4 )\n",
            Some(9),
        ),
        (
            "paren glued to serial",
            "@ IN SOA a. b. (10)1 2 3 4\n",
            Some(10),
        ),
        (
            "serial on its own line",
            "@ IN SOA a. b. (\n\n ; c\n\n 11\n 1 2 3 4 )\n",
            Some(11),
        ),
        (
            "ttl then class",
            "ex. 3600 IN SOA a. b. 12 1 2 3 4\n",
            Some(12),
        ),
        (
            "class then ttl",
            "ex. IN 3600 SOA a. b. 13 1 2 3 4\n",
            Some(13),
        ),
        ("unit ttl", "ex. 1h30m IN SOA a. b. 14 1 2 3 4\n", Some(14)),
        ("no ttl no class", "ex. SOA a. b. 15 1 2 3 4\n", Some(15)),
        ("class CH", "ex. CH 1W SOA a. b. 16 1 2 3 4\n", Some(16)),
        ("class HS", "ex. hs SOA a. b. 17 1 2 3 4\n", Some(17)),
        ("class CS", "ex. 0 CS SOA a. b. 18 1 2 3 4\n", Some(18)),
        (
            "CLASSnnn",
            "ex. CLASS1 3600 SOA a. b. 19 1 2 3 4\n",
            Some(19),
        ),
        ("lower-case type", "ex. in soa a. b. 20 1 2 3 4\n", Some(20)),
        ("mixed-case type", "ex. In sOa a. b. 21 1 2 3 4\n", Some(21)),
        (
            "quoted ttl and type",
            "@ \"3600\" IN \"SOA\" a. b. 22 1 2 3 4\n",
            Some(22),
        ),
        (
            "escaped type is not SOA",
            "@ IN S\\OA a. b. 1 1 2 3 4\n@ SOA a. b. 23 1 2 3 4\n",
            Some(23),
        ),
        ("TYPE6", "ex. IN TYPE6 a. b. 24 1 2 3 4\n", Some(24)),
        (
            "type6 leading zeros",
            "ex. IN type006 a. b. 25 1 2 3 4\n",
            Some(25),
        ),
        (
            "TYPE65534 is not SOA",
            "@ TYPE65534 \\# 0\n@ IN SOA a. b. 26 1 2 3 4\n",
            Some(26),
        ),
        (
            "TYPE6 generic rdata",
            // a. b. serial 0x01020304, then refresh, retry, expire, minimum.
            "ex. IN TYPE6 \\# 26 0161 00 0162 00 01020304 ( 00000001 00000002\n 00000003 00000004 )\n",
            Some(16_909_060),
        ),
        (
            "SOA generic rdata",
            "ex. SOA \\# 22 00 00 FFFFFFFF 00000000000000000000000000000000",
            Some(u32::MAX),
        ),
        (
            "generic rdata, quoted hex",
            "ex. SOA \\# 22 00 00 \"0000000F\" 00000000000000000000000000000000",
            Some(15),
        ),
        // NSD 4.6 serves this SOA although the length is wrong.
        (
            "generic rdata, wrong length",
            "ex. SOA \\# 30 00 00 0000000F 00000000000000000000000000000000",
            Some(15),
        ),
        (
            "generic rdata, odd hex",
            "ex. SOA \\# 22 00 00 FFFFFFFF 0000000000000000000000000000000",
            None,
        ),
        ("generic rdata, short", "ex. SOA \\# 6 00 00 FFFFFFFF", None),
        (
            "generic rdata, not hex",
            "ex. SOA \\# 22 00 00 FFFFFFFG 00000000000000000000000000000000",
            None,
        ),
        (
            "generic rdata, pointer",
            "ex. SOA \\# 22 C000 FFFFFFFF 00000000000000000000000000000000",
            None,
        ),
        (
            "owner omitted",
            "ex. IN NS ns.ex.\n\tIN SOA a. b. 27 1 2 3 4\n",
            Some(27),
        ),
        (
            "owner omitted, spaces",
            "ex. IN NS ns.ex.\n   3600 SOA a. b. 28 1 2 3 4\n",
            Some(28),
        ),
        (
            "owner named soa",
            "soa IN A 192.0.2.1\n@ SOA a. b. 29 1 2 3 4\n",
            Some(29),
        ),
        (
            "owner named like a class",
            "in A 192.0.2.1\n@ IN SOA a. b. 30 1 2 3 4\n",
            Some(30),
        ),
        (
            "owner named like a ttl",
            "3600 IN TXT soa\n@ 3600 IN SOA a. b. 31 1 2 3 4\n",
            Some(31),
        ),
        (
            "owner alone on its line",
            "ex.\n@ IN SOA a. b. 32 1 2 3 4\n",
            Some(32),
        ),
        (
            "rrsig covering soa first",
            "@ IN RRSIG SOA 8 1 3600 20300101000000 20200101000000 1 ex. AAAA\n@ IN SOA a. b. 33 1 2 3 4\n",
            Some(33),
        ),
        (
            "commented-out soa",
            "; @ IN SOA a. b. 1 1 2 3 4\n@ IN SOA a. b. 34 1 2 3 4 ; was 1\n",
            Some(34),
        ),
        (
            "comment glued to serial",
            "@ IN SOA a. b. ( 35;x\n 1 2 3 4 )\n",
            Some(35),
        ),
        (
            "directives",
            "$ORIGIN ex.\n$INCLUDE /dev/null ex.\n$TTL 300\n@ SOA a. b. 36 1 2 3 4\n",
            Some(36),
        ),
        (
            "unknown directive",
            "$GENERATE 1-2 h$ A 1.2.3.$\n@ SOA a. b. 37 1 2 3 4\n",
            Some(37),
        ),
        (
            "multi-line record before",
            "@ IN TXT ( \"first\"\n  x IN SOA a. b. 1 1 2 3 4\n  \"last\" )\n@ IN SOA a. b. 38 1 2 3 4\n",
            Some(38),
        ),
        (
            "quoted semicolon",
            "@ TXT \"a ; (\" (\n IN SOA a. b. 1 1 2 3 4 )\n@ SOA a. b. 39 1 2 3 4\n",
            Some(39),
        ),
        (
            "quoted paren",
            "@ TXT \"(\"\n@ SOA a. b. 40 1 2 3 4\n",
            Some(40),
        ),
        (
            "quoted escaped quote",
            "@ TXT \"a\\\" (\" \"b\"\n@ SOA a. b. 41 1 2 3 4\n",
            Some(41),
        ),
        (
            "quoted escaped backslash",
            "@ HINFO \"one\\\\\" \"(two\"\n@ SOA a. b. 42 1 2 3 4\n",
            Some(42),
        ),
        (
            "quoted newline",
            "@ TXT \"a\nx SOA a. b. 1 1 2 3 4\"\n@ SOA a. b. 43 1 2 3 4\n",
            Some(43),
        ),
        (
            "quote inside a word",
            "x TXT a\"b c\"\n@ SOA a. b. 44 1 2 3 4\n",
            Some(44),
        ),
        (
            "escaped semicolon",
            "@ TXT a\\; (\n x SOA a. b. 1 1 2 3 4 )\n@ SOA a. b. 45 1 2 3 4\n",
            Some(45),
        ),
        (
            "escaped paren",
            "@ TXT a\\(\n@ SOA a. b. 46 1 2 3 4\n",
            Some(46),
        ),
        (
            "DDD escapes",
            "a\\059b\\040 TXT x\\034\n@ SOA a\\.b. c\\@d. 47 1 2 3 4\n",
            Some(47),
        ),
        ("quoted names", "@ SOA \"a.\" \"b.\" 48 1 2 3 4\n", Some(48)),
        (
            "first soa wins",
            "@ SOA a. b. 49 1 2 3 4\nsub SOA a. b. 50 1 2 3 4\n",
            Some(49),
        ),
        (
            "non-ascii",
            "é TXT \"ü;\"\n@ SOA a. b. 51 1 2 3 4\n",
            Some(51),
        ),
        (
            "max serial",
            "@ SOA a. b. 4294967295 1 2 3 4\n",
            Some(u32::MAX),
        ),
        (
            "leading zeros",
            "@ SOA a. b. 0000000052 1 2 3 4\n",
            Some(52),
        ),
        (
            "serial escaped",
            "@ SOA a. b. \\0535\\3 1 2 3 4\n",
            Some(553),
        ),
        ("serial quoted", "@ SOA a. b. \"54\" 1 2 3 4\n", Some(54)),
        // NSD 4.6 wraps this to 0; it is no serial we could ever have written.
        ("serial too big", "@ SOA a. b. 4294967296 1 2 3 4\n", None),
        ("serial with sign", "@ SOA a. b. +55 1 2 3 4\n", None),
        ("serial with unit", "@ SOA a. b. 56h 1 2 3 4\n", None),
        ("serial in hex", "@ SOA a. b. 0x39 1 2 3 4\n", None),
        (
            "serial escaped letter",
            "@ SOA a. b. 5\\065 1 2 3 4\n",
            None,
        ),
        // NSD 4.6 reads this one and the next as 5256 and 0.
        (
            "serial escape too big",
            "@ SOA a. b. 5\\256 1 2 3 4\n",
            None,
        ),
        ("serial empty quotes", "@ SOA a. b. \"\" 1 2 3 4\n", None),
        (
            "serial missing",
            "@ SOA a. b.\n@ SOA a. b. 57 1 2 3 4\n",
            None,
        ),
        ("names missing", "@ SOA\n", None),
        ("truncated soa", "@ SOA a. b. (\n", None),
        (
            "unterminated quote",
            "@ TXT \"abc\n@ SOA a. b. 58 1 2 3 4\n",
            None,
        ),
        (
            "unmatched close paren",
            "@ A 1.2.3.4 )\n@ SOA a. b. 59 1 2 3 4\n",
            Some(59),
        ),
        ("trailing backslash", "@ TXT a\\", None),
    ];

    #[test]
    fn tricky_layouts() {
        for (name, text, expected) in CASES {
            assert_eq!(soa_serial(text), *expected, "case {name:?}: {text:?}");
        }
    }

    #[test]
    fn never_panics_on_truncated_or_mangled_input() {
        let text = "$TTL 1h\n@ IN SOA ( a\\. \"b;\" ; c\n 53 1 2 3 4 )\nex. SOA \\# 22 00 00 FFFFFFFF 00000000000000000000000000000000\n";
        for end in 0..=text.len() {
            for start in 0..=end {
                if let Some(slice) = text.get(start..end) {
                    let _ = soa_serial(slice);
                }
            }
        }
    }

    #[test]
    fn never_panics_on_random_input() {
        const ALPHABET: &[u8] = b" \t\r\n;()\"\\$@.0123456789#aAsSoOiInN\xc3\xa9";
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut bytes = Vec::new();
            for _ in 0..(seed % 80) {
                // xorshift64: deterministic, good enough to shuffle an alphabet.
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                bytes.push(ALPHABET[usize::try_from(seed).unwrap_or(0) % ALPHABET.len()]);
            }
            let _ = soa_serial(&String::from_utf8_lossy(&bytes));
        }
    }

    /// Every file of NSD's test corpus, against the serial `nsd-checkzone -p` printed for it.
    #[test]
    fn nsd_corpus_matches_nsd_checkzone() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let expected = fs::read_to_string(fixtures.join("corpus-serials.txt")).expect("serials");
        let index = fs::read_to_string(fixtures.join("nsd-tpkg/INDEX")).expect("INDEX");
        let mut failures = Vec::new();
        let mut checked = 0;
        for line in expected.lines() {
            let (file, serial) = line.split_once(' ').expect("FILE SERIAL");
            let want = (serial != "-").then(|| serial.parse::<u32>().expect("serial"));
            let text = fs::read_to_string(fixtures.join("nsd-tpkg").join(file)).expect(file);
            let got = soa_serial(&text);
            if got != want {
                failures.push(format!("{file}: got {got:?}, nsd-checkzone says {want:?}"));
            }
            checked += 1;
        }
        assert_eq!(
            checked,
            index.lines().count(),
            "corpus-serials.txt must cover INDEX"
        );
        assert!(
            failures.is_empty(),
            "{} of {checked} wrong:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn soa_line_is_the_line_of_the_first_soa_type_well_formed_or_not() {
        let cases: &[(&str, Option<usize>)] = &[
            ("", None),
            ("@ IN NS ns.\n", None),
            ("$ORIGIN soa.\n$TTL 3600\n", None),
            ("@ IN SOA a. b. 1 1 2 3 4\n", Some(1)),
            ("$TTL 1h\n\n@ IN SOA a. b. 1 1 2 3 4\n", Some(3)),
            (
                "; @ IN SOA a. b. 1 1 2 3 4\n@ SOA a. b. 2 1 2 3 4\n",
                Some(2),
            ),
            // malformed: still its line
            ("x A 192.0.2.1\n@ SOA\n", Some(2)),
            ("x A 192.0.2.1\n@ SOA a. b. @serial@0 1 2 3 4\n", Some(2)),
            ("@ TXT ( \"a\"\n \"b\" )\n@ SOA a. b. 1 1 2 3 4\n", Some(3)),
            ("@ TXT \"a\nb\"\r\n@ SOA a. b. 1 1 2 3 4\r\n", Some(3)),
            ("ex. NS ns.\n\tIN SOA a. b. 1 1 2 3 4\n", Some(2)),
            (
                "@ RRSIG SOA 8 1 3600 1 2 3 ex. AA==\n@ SOA a. b. 1 1 2 3 4\n",
                Some(2),
            ),
            ("soa A 192.0.2.1\n@ type6 a. b. 1 1 2 3 4\n", Some(2)),
            ("@ IN \"SOA\" a. b. 1 1 2 3 4\n", Some(1)),
        ];
        for (text, want) in cases {
            assert_eq!(super::soa_line(text), *want, "{text:?}");
        }
    }

    #[test]
    fn include_line_is_the_first_include_directive() {
        let cases: &[(&str, Option<usize>)] = &[
            ("", None),
            ("$INCLUDE a.inc\n", Some(1)),
            ("$include a.inc", Some(1)),
            ("$Include a.inc example.com.\n", Some(1)),
            ("$INCLUDE", Some(1)),
            ("x A 192.0.2.1\n\n$INCLUDE b\n$INCLUDE c\n", Some(3)),
            ("$ORIGIN x.\n$TTL 60\n$INCLUDE b\n", Some(3)),
            ("; $INCLUDE a\n", None),
            ("x TXT \"$INCLUDE a\"\n", None),
            ("x TXT $INCLUDE\n", None),
            // inside a record's parentheses it is rdata, not a directive
            ("x TXT ( \"a\"\n$INCLUDE b )\n", None),
            ("$INCLUDEX a\n", None),
            ("$GENERATE 1-2 $INCLUDE A 192.0.2.$\n", None),
        ];
        for (text, want) in cases {
            assert_eq!(super::include_line(text), *want, "{text:?}");
        }
    }

    #[test]
    fn serial_span_is_the_field_as_written() {
        let cases: &[(&str, Option<&str>)] = &[
            ("@ SOA a. b. 0007 1 2 3 4\n", Some("0007")),
            ("@ SOA a. b. \\0535\\3 1 2 3 4\n", Some("\\0535\\3")),
            ("@ SOA a. b. \"12\" 1 2 3 4\n", Some("12")),
            // not a serial, but where one should be
            ("@ SOA a. b. xyz 1 2 3 4\n", Some("xyz")),
            ("@ SOA a. b. ( 9;c\n 1 2 3 4 )\n", Some("9")),
            ("@ SOA a. b.\n", None),
            ("", None),
        ];
        for (text, want) in cases {
            let got = super::soa_serial_span(text).map(|span| &text[span]);
            assert_eq!(got, *want, "{text:?}");
        }
    }
}
