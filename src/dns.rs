//! A minimal DNS client: ask one server for a zone's SOA serial over UDP, with a deadline;
//! or, with the DO bit, for the serial and the RRSIGs covering the SOA (UDP, then TCP when
//! the UDP answer is truncated).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::str::FromStr;
use std::time::{Duration, Instant};

use domain::base::iana::{Opcode, Rcode, Rtype};
use domain::base::name::ParsedName;
use domain::base::{Message, MessageBuilder, Name};
use domain::rdata::{Rrsig, Soa};
use jiff::Timestamp;

/// What `soa_serial` says when nothing answered before the deadline.
pub const NO_ANSWER: &str = "gives no answer";

/// How long one UDP try waits before the query is sent again.
const RETRY: Duration = Duration::from_millis(200);

/// The SOA serial `server` serves for `zone`, asked over UDP until `deadline`.
///
/// # Errors
/// What went wrong, in words: no answer, an error rcode (e.g. SERVFAIL when NSD could not
/// load the zone, REFUSED when it does not serve it), or no SOA in the answer.
pub fn soa_serial(server: SocketAddr, zone: &str, deadline: Instant) -> Result<u32, String> {
    let query = build_query(zone)?;
    serial_of(&udp_exchange(server, &query, deadline)?)
}

/// The EDNS0 UDP payload size the DO query offers (the DNS flag day 2020 value).
pub const UDP_PAYLOAD: u16 = 1232;

/// One RRSIG covering a zone's SOA, as a server serves it (RFC 4034 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoaRrsig {
    /// The key tag of the DNSKEY that made the signature.
    pub key_tag: u16,
    /// The DNSSEC algorithm number (13 = ECDSAP256SHA256, 15 = ED25519...).
    pub algorithm: u8,
    /// Signature inception, as an absolute time (see [`rrsig_time`]).
    pub inception: Timestamp,
    /// Signature expiration, as an absolute time (see [`rrsig_time`]).
    pub expiration: Timestamp,
}

/// What a server answers to a SOA query with the DO bit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedSoa {
    /// The SOA serial served.
    pub serial: u32,
    /// The answer carries an OPT record with the DO bit set. A server that knows DNSSEC
    /// copies the bit (RFC 3225 §3); one that does not leaves it clear or sends no OPT.
    pub dnssec_ok: bool,
    /// The RRSIGs in the answer section that cover the zone's SOA, in the order served;
    /// empty for an unsigned zone (or a server that ignored the DO bit).
    pub rrsigs: Vec<SoaRrsig>,
}

/// The SOA serial and the RRSIGs covering the SOA that `server` serves for `zone`, asked
/// with EDNS0 and the DO bit over UDP until `deadline`; a truncated UDP answer is asked
/// again over TCP (same deadline). `now` places the RRSIGs' 32-bit times (see
/// [`rrsig_time`]).
///
/// # Errors
/// As [`soa_serial`]: no answer ([`NO_ANSWER`]), an error rcode, no SOA in the answer; and,
/// after a truncated UDP answer, what went wrong over TCP.
pub fn soa_rrsigs(
    server: SocketAddr,
    zone: &str,
    now: Timestamp,
    deadline: Instant,
) -> Result<SignedSoa, String> {
    let query = build_dnssec_query(zone)?;
    let mut answer = udp_exchange(server, &query, deadline)?;
    if answer.header().tc() {
        answer = tcp_exchange(server, &query, deadline)
            .map_err(|e| format!("answers truncated over UDP, and over TCP {e}"))?;
    }
    signed_soa_of(&answer, now)
}

/// Send `query` over UDP until an answer to it comes back or `deadline` passes.
fn udp_exchange(
    server: SocketAddr,
    query: &Message<Vec<u8>>,
    deadline: Instant,
) -> Result<Message<Vec<u8>>, String> {
    let socket = udp_socket_for(server)?;
    socket
        .connect(server)
        .map_err(|e| format!("connect: {e}"))?;
    let mut buf = vec![0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(NO_ANSWER.into());
        }
        // A refused port reports on the next send or recv; keep trying until the deadline.
        let _ = socket.send(query.as_slice());
        socket
            .set_read_timeout(Some(left.min(RETRY)))
            .map_err(|e| e.to_string())?;
        let n = match socket.recv(&mut buf) {
            Ok(n) => n,
            // ICMP port unreachable comes back at once: wait before asking again.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                std::thread::sleep(left.min(RETRY));
                continue;
            }
            Err(_) => continue,
        };
        let Ok(answer) = Message::from_octets(buf[..n].to_vec()) else {
            continue;
        };
        if answer.is_answer(query) {
            return Ok(answer);
        }
    }
}

/// Send `query` over TCP (RFC 7766: a two-octet length before each message) and read
/// the answer, trying again until `deadline` when the connection fails.
fn tcp_exchange(
    server: SocketAddr,
    query: &Message<Vec<u8>>,
    deadline: Instant,
) -> Result<Message<Vec<u8>>, String> {
    let mut last = NO_ANSWER.to_owned();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(last);
        }
        match tcp_once(server, query, left) {
            Ok(answer) => return Ok(answer),
            Err(e) => last = e,
        }
        std::thread::sleep(
            deadline
                .saturating_duration_since(Instant::now())
                .min(RETRY),
        );
    }
}

/// One TCP exchange within `left`: connect, send, read messages until the answer.
fn tcp_once(
    server: SocketAddr,
    query: &Message<Vec<u8>>,
    left: Duration,
) -> Result<Message<Vec<u8>>, String> {
    let until = Instant::now() + left;
    let mut stream =
        TcpStream::connect_timeout(&server, left).map_err(|e| format!("connect: {e}"))?;
    // A read or write timeout is the deadline passing.
    let io = |what: &str, e: std::io::Error| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => NO_ANSWER.to_owned(),
        _ => format!("{what}: {e}"),
    };
    let timeout = |stream: &TcpStream| {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(NO_ANSWER.to_owned());
        }
        stream
            .set_read_timeout(Some(left))
            .and_then(|()| stream.set_write_timeout(Some(left)))
            .map_err(|e| e.to_string())
    };
    let len = u16::try_from(query.as_slice().len()).map_err(|_| "query too long".to_owned())?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(query.as_slice());
    timeout(&stream)?;
    stream.write_all(&framed).map_err(|e| io("send", e))?;
    loop {
        let mut len = [0u8; 2];
        timeout(&stream)?;
        stream.read_exact(&mut len).map_err(|e| io("receive", e))?;
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        timeout(&stream)?;
        stream.read_exact(&mut buf).map_err(|e| io("receive", e))?;
        if let Ok(answer) = Message::from_octets(buf)
            && answer.is_answer(query)
        {
            return Ok(answer);
        }
    }
}

/// Send `server` one NOTIFY (RFC 1996) for `zone` from `socket` (see [`udp_socket_for`]),
/// without waiting for its answer:
/// a nudge to a secondary that has not asked for the new serial yet. The secondary acts on
/// it only if its ACL allows NOTIFY from this host's address (as it does for the primary
/// zonerw runs beside); otherwise it refuses it, and nothing changes.
///
/// # Errors
/// A zone name that is not one, or a socket error, in words.
pub fn notify(socket: &UdpSocket, server: SocketAddr, zone: &str) -> Result<(), String> {
    let mut question = query_builder(zone)?;
    question.header_mut().set_opcode(Opcode::NOTIFY);
    question.header_mut().set_aa(true);
    socket
        .send_to(question.into_message().as_slice(), server)
        .map(drop)
        .map_err(|e| format!("cannot send NOTIFY: {e}"))
}

/// An unconnected UDP socket of `server`'s address family, on any local address and port.
///
/// # Errors
/// The socket error, in words.
pub fn udp_socket_for(server: SocketAddr) -> Result<UdpSocket, String> {
    let any = if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    UdpSocket::bind(any).map_err(|e| e.to_string())
}

fn build_query(zone: &str) -> Result<Message<Vec<u8>>, String> {
    Ok(query_builder(zone)?.into_message())
}

/// A SOA query for `zone` with an OPT record: EDNS0, [`UDP_PAYLOAD`], the DO bit.
fn build_dnssec_query(zone: &str) -> Result<Message<Vec<u8>>, String> {
    let mut additional = query_builder(zone)?.additional();
    additional
        .opt(|opt| {
            opt.set_udp_payload_size(UDP_PAYLOAD);
            opt.set_dnssec_ok(true);
            Ok(())
        })
        .map_err(|e| format!("cannot build query: {e}"))?;
    Ok(additional.into_message())
}

fn query_builder(
    zone: &str,
) -> Result<domain::base::message_builder::QuestionBuilder<Vec<u8>>, String> {
    let name =
        Name::<Vec<u8>>::from_str(zone).map_err(|e| format!("bad zone name {zone:?}: {e}"))?;
    let mut builder = MessageBuilder::new_vec();
    let mut id = [0u8; 2];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut id)
        .map_err(|_| "no randomness for the query id".to_owned())?;
    builder.header_mut().set_id(u16::from_be_bytes(id));
    builder.header_mut().set_rd(false);
    let mut question = builder.question();
    question
        .push((&name, Rtype::SOA))
        .map_err(|e| format!("cannot build query: {e}"))?;
    Ok(question)
}

/// The absolute time of an RRSIG inception or expiration field `field`, read relative to
/// `now`: the field holds the time in seconds since 1970 modulo 2^32, and RFC 4034 §3.1.5
/// says to compare it with serial number arithmetic (RFC 1982). So the result is the time
/// within 2^31 seconds (68 years) of `now` that matches the field modulo 2^32: a field
/// less than 2^31 ahead of now (mod 2^32) is in the future, any other in the past (a
/// distance of exactly 2^31, undefined in RFC 1982, counts as the past).
#[must_use]
pub fn rrsig_time(field: u32, now: Timestamp) -> Timestamp {
    let now_secs = now.as_second();
    let now_mod = u32::try_from(now_secs.rem_euclid(1 << 32)).expect("below 2^32");
    let delta = i64::from(field.wrapping_sub(now_mod).cast_signed());
    Timestamp::from_second(now_secs + delta).unwrap_or(if delta > 0 {
        Timestamp::MAX
    } else {
        Timestamp::MIN
    })
}

/// What an answer to the DO query says: the serial (as [`serial_of`], errors included),
/// whether the server copied the DO bit, and the RRSIGs of the answer section that cover
/// the SOA at the question's name (class IN), times placed relative to `now`.
fn signed_soa_of(answer: &Message<Vec<u8>>, now: Timestamp) -> Result<SignedSoa, String> {
    let serial = serial_of(answer)?;
    let question = answer
        .sole_question()
        .map_err(|e| format!("bad answer: {e}"))?;
    let records = answer.answer().map_err(|e| format!("bad answer: {e}"))?;
    let rrsigs = records
        .limit_to_in::<Rrsig<&[u8], ParsedName<&[u8]>>>()
        .filter_map(Result::ok)
        .filter(|rr| *rr.owner() == *question.qname() && rr.data().type_covered() == Rtype::SOA)
        .map(|rr| {
            let data = rr.data();
            SoaRrsig {
                key_tag: data.key_tag(),
                algorithm: data.algorithm().to_int(),
                inception: rrsig_time(data.inception().into_int(), now),
                expiration: rrsig_time(data.expiration().into_int(), now),
            }
        })
        .collect();
    Ok(SignedSoa {
        serial,
        dnssec_ok: answer.opt().is_some_and(|opt| opt.dnssec_ok()),
        rrsigs,
    })
}

fn serial_of(answer: &Message<Vec<u8>>) -> Result<u32, String> {
    let rcode = answer.header().rcode();
    if rcode != Rcode::NOERROR {
        return Err(format!("answers {rcode}"));
    }
    let records = answer.answer().map_err(|e| format!("bad answer: {e}"))?;
    records
        .limit_to::<Soa<_>>()
        .find_map(Result::ok)
        .map(|rr| rr.data().serial().into_int())
        .ok_or_else(|| "answers without a SOA record".to_owned())
}

#[cfg(test)]
mod tests {
    use std::thread;

    use domain::base::iana::{Class, Opcode};
    use domain::base::message_builder::AnswerBuilder;
    use domain::base::{Serial, Ttl};
    use domain::rdata::A;

    use super::*;

    fn name(text: &str) -> Name<Vec<u8>> {
        Name::from_str(text).unwrap()
    }

    /// An answer to `query` with `rcode` and the records `fill` pushes.
    fn answer(
        query: &Message<Vec<u8>>,
        rcode: Rcode,
        fill: impl FnOnce(&mut AnswerBuilder<Vec<u8>>),
    ) -> Message<Vec<u8>> {
        let mut builder = MessageBuilder::new_vec()
            .start_answer(query, rcode)
            .unwrap();
        fill(&mut builder);
        builder.into_message()
    }

    type Record = (Name<Vec<u8>>, Class, u32, Soa<Name<Vec<u8>>>);

    fn soa(serial: u32) -> Record {
        let data = Soa::new(
            name("ns.example.com."),
            name("hostmaster.example.com."),
            Serial(serial),
            Ttl::from_secs(3600),
            Ttl::from_secs(900),
            Ttl::from_secs(604_800),
            Ttl::from_secs(300),
        );
        (name("example.com."), Class::IN, 3600, data)
    }

    #[test]
    fn a_notify_is_one_authoritative_notify_for_the_zones_soa() {
        let secondary = UdpSocket::bind("127.0.0.1:0").unwrap();
        secondary
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let to = secondary.local_addr().unwrap();
        let socket = udp_socket_for(to).unwrap();
        notify(&socket, to, "example.com").unwrap();
        let mut buf = [0u8; 512];
        let n = secondary.recv(&mut buf).unwrap();
        let message = Message::from_octets(buf[..n].to_vec()).unwrap();
        let header = message.header();
        assert_eq!(header.opcode(), Opcode::NOTIFY);
        assert!(header.aa() && !header.qr() && !header.rd());
        let question = message.sole_question().unwrap();
        assert_eq!(question.qname().to_string(), "example.com");
        assert_eq!(question.qtype(), Rtype::SOA);
        assert!(notify(&socket, to, "a..b").is_err());
    }

    #[test]
    fn the_query_asks_for_the_soa_without_recursion() {
        for (zone, want) in [
            ("example.com", "example.com"),
            ("example.com.", "example.com"),
            ("Example.COM", "Example.COM"),
            // The root, which domain shows as "".
            (".", ""),
        ] {
            let query = build_query(zone).unwrap();
            let header = query.header();
            assert!(!header.qr() && !header.rd(), "{zone}");
            assert_eq!(header.opcode(), Opcode::QUERY);
            assert_eq!(header.rcode(), Rcode::NOERROR);
            let counts = query.header_counts();
            assert_eq!(
                (counts.qdcount(), counts.ancount(), counts.arcount()),
                (1, 0, 0)
            );
            let question = query.sole_question().unwrap();
            assert_eq!(question.qname().to_string(), want, "{zone}");
            assert_eq!(question.qname().is_root(), zone == ".", "{zone}");
            assert_eq!(
                (question.qtype(), question.qclass()),
                (Rtype::SOA, Class::IN)
            );
        }
    }

    #[test]
    fn query_ids_are_random() {
        let ids: std::collections::BTreeSet<u16> = (0..16)
            .map(|_| build_query("example.com").unwrap().header().id())
            .collect();
        assert!(ids.len() > 1, "{ids:?}");
    }

    #[test]
    fn a_bad_zone_name_is_said_in_words() {
        for zone in ["a..b", ""] {
            let e = build_query(zone).unwrap_err();
            assert!(e.starts_with(&format!("bad zone name {zone:?}: ")), "{e}");
        }
        let long = "a".repeat(64);
        assert!(build_query(&long).unwrap_err().starts_with("bad zone name"));
    }

    #[test]
    fn the_serial_is_read_from_the_answer() {
        let query = build_query("example.com").unwrap();
        let cases: [(_, Result<u32, String>); 7] = [
            (
                answer(&query, Rcode::NOERROR, |a| {
                    a.push(soa(2_026_112_301)).unwrap();
                }),
                Ok(2_026_112_301),
            ),
            (
                // The first SOA among other records.
                answer(&query, Rcode::NOERROR, |a| {
                    a.push((name("example.com."), 60, A::from_octets(192, 0, 2, 1)))
                        .unwrap();
                    a.push(soa(u32::MAX)).unwrap();
                    a.push(soa(1)).unwrap();
                }),
                Ok(u32::MAX),
            ),
            (
                answer(&query, Rcode::SERVFAIL, |_| {}),
                Err("answers SERVFAIL".into()),
            ),
            (
                answer(&query, Rcode::NXDOMAIN, |_| {}),
                Err("answers NXDOMAIN".into()),
            ),
            (
                // An error rcode wins even over a SOA.
                answer(&query, Rcode::REFUSED, |a| {
                    a.push(soa(5)).unwrap();
                }),
                Err("answers REFUSED".into()),
            ),
            (
                answer(&query, Rcode::NOERROR, |_| {}),
                Err("answers without a SOA record".into()),
            ),
            (
                answer(&query, Rcode::NOERROR, |a| {
                    a.push((name("example.com."), 60, A::from_octets(192, 0, 2, 1)))
                        .unwrap();
                }),
                Err("answers without a SOA record".into()),
            ),
        ];
        for (message, want) in cases {
            assert!(message.is_answer(&query));
            assert_eq!(serial_of(&message), want);
        }
    }

    /// A UDP server on loopback: for each query it receives, it sends the datagrams
    /// `reply` makes of it, until `stop`.
    struct Server {
        addr: SocketAddr,
        handle: thread::JoinHandle<Vec<(SocketAddr, String)>>,
    }

    impl Server {
        fn start(reply: impl Fn(&Message<Vec<u8>>) -> Vec<Vec<u8>> + Send + 'static) -> Server {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            // Only a safety net should `stop` never come.
            socket
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let addr = socket.local_addr().unwrap();
            let handle = thread::spawn(move || {
                let mut buf = vec![0u8; 512];
                let mut received = Vec::new();
                while let Ok((n, from)) = socket.recv_from(&mut buf) {
                    if &buf[..n] == b"stop" {
                        break;
                    }
                    let query = Message::from_octets(buf[..n].to_vec()).unwrap();
                    let name = query.sole_question().unwrap().qname().to_string();
                    received.push((from, name));
                    for bytes in reply(&query) {
                        socket.send_to(&bytes, from).unwrap();
                    }
                }
                received
            });
            Server { addr, handle }
        }

        /// Stop the server; the source and name of each query it received.
        fn stop(self) -> Vec<(SocketAddr, String)> {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            socket.send_to(b"stop", self.addr).unwrap();
            self.handle.join().unwrap()
        }
    }

    #[test]
    fn soa_serial_skips_what_is_not_the_answer_to_its_query() {
        // The server answers the first query only, and stays up (a datagram to a closed
        // port would come back as an ICMP error, reported before any queued answer).
        let first = std::sync::atomic::AtomicBool::new(true);
        let server = Server::start(move |query| {
            if !first.swap(false, std::sync::atomic::Ordering::Relaxed) {
                return Vec::new();
            }
            let good = answer(query, Rcode::NOERROR, |a| {
                a.push(soa(42)).unwrap();
            });
            let mut wrong_id = good.as_slice().to_vec();
            wrong_id[1] ^= 1;
            // Same id, another question.
            let mut other_zone =
                answer(&build_query("example.net").unwrap(), Rcode::NOERROR, |a| {
                    a.push(soa(7)).unwrap();
                })
                .into_octets();
            other_zone[..2].copy_from_slice(&query.header().id().to_be_bytes());
            // The query itself echoed back (not an answer: QR is not set).
            let echo = query.as_slice().to_vec();
            vec![
                wrong_id,
                b"garbage".to_vec(),
                other_zone,
                echo,
                good.into_octets(),
            ]
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        assert_eq!(soa_serial(server.addr, "example.com", deadline), Ok(42));
        assert!(!server.stop().is_empty());
    }

    #[test]
    fn soa_serial_reports_an_error_rcode() {
        let server =
            Server::start(|query| vec![answer(query, Rcode::SERVFAIL, |_| {}).into_octets()]);
        let deadline = Instant::now() + Duration::from_secs(5);
        assert_eq!(
            soa_serial(server.addr, "example.com", deadline),
            Err("answers SERVFAIL".to_owned())
        );
        assert!(!server.stop().is_empty());
    }

    #[test]
    fn a_silent_server_is_asked_again_until_the_deadline() {
        // Timing bounds are one-sided: a loaded (or frozen) machine only makes it later.
        let server = Server::start(|_| Vec::new());
        let start = Instant::now();
        let deadline = start + Duration::from_millis(450);
        assert_eq!(
            soa_serial(server.addr, "silent.example", deadline),
            Err(NO_ANSWER.to_owned())
        );
        assert!(Instant::now() >= deadline);
        // Sent at 0, 200 and 400 ms (lost datagrams are retried), all from one socket.
        let received = server.stop();
        assert!(received.len() >= 2, "{received:?}");
        assert!(
            received
                .iter()
                .all(|(from, name)| *from == received[0].0 && name == "silent.example"),
            "{received:?}"
        );
    }

    // --- The DO query: EDNS0, RRSIGs, times, TCP after truncation ---

    use domain::base::iana::SecurityAlgorithm;
    use domain::rdata::dnssec::Timestamp as SigTime;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn epoch(t: Timestamp) -> u32 {
        u32::try_from(t.as_second()).unwrap()
    }

    type SigRecord = (Name<Vec<u8>>, Class, u32, Rrsig<Vec<u8>, Name<Vec<u8>>>);

    /// An RRSIG at `owner` over `covered`, by key `tag`, valid from `inception` to
    /// `expiration` (raw 32-bit fields).
    fn rrsig(owner: &str, covered: Rtype, tag: u16, inception: u32, expiration: u32) -> SigRecord {
        let data = Rrsig::new(
            covered,
            SecurityAlgorithm::ECDSAP256SHA256,
            2,
            Ttl::from_secs(60),
            SigTime::from(expiration),
            SigTime::from(inception),
            tag,
            name("example.com."),
            vec![7u8; 64],
        )
        .unwrap();
        (name(owner), Class::IN, 60, data)
    }

    /// An answer to `query` with an OPT record (DO as given) after the records `fill` pushes.
    fn edns_answer(
        query: &Message<Vec<u8>>,
        dnssec_ok: bool,
        fill: impl FnOnce(&mut AnswerBuilder<Vec<u8>>),
    ) -> Message<Vec<u8>> {
        let mut builder = MessageBuilder::new_vec()
            .start_answer(query, Rcode::NOERROR)
            .unwrap();
        fill(&mut builder);
        let mut additional = builder.additional();
        additional
            .opt(|opt| {
                opt.set_udp_payload_size(1232);
                opt.set_dnssec_ok(dnssec_ok);
                Ok(())
            })
            .unwrap();
        additional.into_message()
    }

    #[test]
    fn the_dnssec_query_sets_edns0_and_the_do_bit() {
        let query = build_dnssec_query("example.com").unwrap();
        let header = query.header();
        assert!(!header.qr() && !header.rd());
        let counts = query.header_counts();
        assert_eq!(
            (counts.qdcount(), counts.ancount(), counts.arcount()),
            (1, 0, 1)
        );
        let question = query.sole_question().unwrap();
        assert_eq!(question.qname().to_string(), "example.com");
        assert_eq!(question.qtype(), Rtype::SOA);
        let opt = query.opt().unwrap();
        assert!(opt.dnssec_ok());
        assert_eq!(opt.udp_payload_size(), UDP_PAYLOAD);
        assert_eq!(opt.version(), 0);
        // The plain query stays without OPT.
        assert!(build_query("example.com").unwrap().opt().is_none());
        assert!(
            build_dnssec_query("a..b")
                .unwrap_err()
                .starts_with("bad zone name")
        );
    }

    #[test]
    fn rrsig_times_are_placed_within_68_years_of_now() {
        let now = at("2026-11-29T16:40:06Z");
        let n = epoch(now);
        let cases = [
            (n, now),
            (n - 3600, at("2026-11-29T15:40:06Z")),
            (n + 14 * 86_400, at("2026-12-13T16:40:06Z")),
            // The edges of serial arithmetic: 2^31 - 1 ahead is the future, 2^31 the past.
            (
                n.wrapping_add(0x7fff_ffff),
                Timestamp::from_second(now.as_second() + 0x7fff_ffff).unwrap(),
            ),
            (
                n.wrapping_add(0x8000_0000),
                Timestamp::from_second(now.as_second() - 0x8000_0000).unwrap(),
            ),
            // In 2026 a small field is 1970 (less than 2^31 s ago)...
            (0, Timestamp::UNIX_EPOCH),
        ];
        for (field, want) in cases {
            assert_eq!(rrsig_time(field, now), want, "{field}");
        }
        // ... but from 2038 on, it is 2106 or later.
        let y2040 = at("2040-01-01T00:00:00Z");
        assert_eq!(rrsig_time(0, y2040), at("2106-02-07T06:28:16Z"));
        assert_eq!(rrsig_time(100, y2040), at("2106-02-07T06:29:56Z"));
        // After the 2106 wrap: a field just below 2^32 is a few seconds ago.
        let later = at("2106-02-07T06:29:56Z");
        assert_eq!(rrsig_time(u32::MAX - 9, later), at("2106-02-07T06:28:06Z"));
        assert_eq!(rrsig_time(200, later), at("2106-02-07T06:31:36Z"));
        // Near 1970, a field 1 s below 2^32 is 1 s before the epoch.
        let epoch0 = Timestamp::UNIX_EPOCH;
        assert_eq!(rrsig_time(u32::MAX, epoch0).as_second(), -1);
        // Sub-second parts of now do not shift the result.
        let frac = Timestamp::new(now.as_second(), 999_999_999).unwrap();
        assert_eq!(rrsig_time(n + 60, frac), at("2026-11-29T16:41:06Z"));
    }

    #[test]
    fn the_rrsigs_over_the_soa_are_read_from_the_answer() {
        let now = at("2026-11-29T16:40:06Z");
        let inc = epoch(at("2026-11-29T15:40:06Z"));
        let exp = epoch(at("2026-12-13T16:40:06Z"));
        let query = build_dnssec_query("example.com").unwrap();
        let message = edns_answer(&query, true, |a| {
            a.push(soa(2_026_112_901)).unwrap();
            a.push(rrsig("example.com.", Rtype::SOA, 36_291, inc, exp))
                .unwrap();
            // Not over the SOA, or not at the zone's name: left out.
            a.push(rrsig("example.com.", Rtype::NS, 1, inc, exp))
                .unwrap();
            a.push(rrsig("www.example.com.", Rtype::SOA, 2, inc, exp))
                .unwrap();
            // A second key (say, during a rollover), expired; names compare case-blind.
            a.push(rrsig("EXAMPLE.com.", Rtype::SOA, 33_293, inc - 100, inc))
                .unwrap();
        });
        assert!(message.is_answer(&query));
        assert_eq!(
            signed_soa_of(&message, now),
            Ok(SignedSoa {
                serial: 2_026_112_901,
                dnssec_ok: true,
                rrsigs: vec![
                    SoaRrsig {
                        key_tag: 36_291,
                        algorithm: 13,
                        inception: at("2026-11-29T15:40:06Z"),
                        expiration: at("2026-12-13T16:40:06Z"),
                    },
                    SoaRrsig {
                        key_tag: 33_293,
                        algorithm: 13,
                        inception: at("2026-11-29T15:38:26Z"),
                        expiration: at("2026-11-29T15:40:06Z"),
                    },
                ],
            })
        );
    }

    #[test]
    fn an_unsigned_or_edns_blind_answer_has_no_rrsigs() {
        let now = at("2026-11-29T16:40:06Z");
        let query = build_dnssec_query("example.com").unwrap();
        // Unsigned zone on a DNSSEC-aware server: DO copied, no RRSIG.
        let unsigned = edns_answer(&query, true, |a| {
            a.push(soa(3)).unwrap();
        });
        // A server that ignores EDNS: no OPT at all.
        let blind = answer(&query, Rcode::NOERROR, |a| {
            a.push(soa(3)).unwrap();
        });
        // One that answers EDNS but clears DO.
        let cleared = edns_answer(&query, false, |a| {
            a.push(soa(3)).unwrap();
        });
        for (message, dnssec_ok) in [(unsigned, true), (blind, false), (cleared, false)] {
            assert_eq!(
                signed_soa_of(&message, now),
                Ok(SignedSoa {
                    serial: 3,
                    dnssec_ok,
                    rrsigs: Vec::new(),
                })
            );
        }
    }

    #[test]
    fn a_dnssec_answer_without_a_serial_is_an_error() {
        let now = at("2026-11-29T16:40:06Z");
        let query = build_dnssec_query("example.com").unwrap();
        let refused = answer(&query, Rcode::REFUSED, |_| {});
        assert_eq!(
            signed_soa_of(&refused, now),
            Err("answers REFUSED".to_owned())
        );
        // An RRSIG alone does not make up for the missing SOA.
        let no_soa = edns_answer(&query, true, |a| {
            a.push(rrsig("example.com.", Rtype::SOA, 1, 1, 2)).unwrap();
        });
        assert_eq!(
            signed_soa_of(&no_soa, now),
            Err("answers without a SOA record".to_owned())
        );
    }

    /// A TCP DNS server on `listener`: answers one framed query with the messages `reply`
    /// makes of it, then closes; the number of messages sent.
    fn tcp_server(
        listener: std::net::TcpListener,
        reply: impl Fn(&Message<Vec<u8>>) -> Vec<Vec<u8>> + Send + 'static,
    ) -> thread::JoinHandle<usize> {
        thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut len = [0u8; 2];
            stream.read_exact(&mut len).unwrap();
            let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
            stream.read_exact(&mut buf).unwrap();
            let query = Message::from_octets(buf).unwrap();
            let messages = reply(&query);
            for bytes in &messages {
                let n = u16::try_from(bytes.len()).unwrap();
                stream.write_all(&n.to_be_bytes()).unwrap();
                stream.write_all(bytes).unwrap();
            }
            messages.len()
        })
    }

    /// A truncated answer: no records, TC set.
    fn truncated(query: &Message<Vec<u8>>) -> Vec<u8> {
        let mut builder = MessageBuilder::new_vec()
            .start_answer(query, Rcode::NOERROR)
            .unwrap();
        builder.header_mut().set_tc(true);
        builder.into_message().into_octets()
    }

    /// A TCP listener on the port of a UDP server that `start` makes (both on loopback).
    fn udp_and_tcp(start: impl Fn() -> Server) -> (Server, std::net::TcpListener) {
        for _ in 0..20 {
            let server = start();
            if let Ok(listener) = std::net::TcpListener::bind(server.addr) {
                return (server, listener);
            }
            server.stop();
        }
        panic!("no port free for both UDP and TCP");
    }

    #[test]
    fn a_truncated_answer_is_asked_again_over_tcp() {
        let now = at("2026-11-29T16:40:06Z");
        let exp = epoch(at("2026-12-13T16:40:06Z"));
        let (server, listener) = udp_and_tcp(|| Server::start(|query| vec![truncated(query)]));
        // Over TCP: a stale answer (another id) first, then the real one.
        let tcp = tcp_server(listener, move |query| {
            let good = edns_answer(query, true, |a| {
                a.push(soa(9)).unwrap();
                a.push(rrsig("example.com.", Rtype::SOA, 4242, exp - 86_400, exp))
                    .unwrap();
            })
            .into_octets();
            let mut stale = good.clone();
            stale[1] ^= 1;
            vec![stale, good]
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        let got = soa_rrsigs(server.addr, "example.com", now, deadline).unwrap();
        assert_eq!(got.serial, 9);
        assert!(got.dnssec_ok);
        assert_eq!(got.rrsigs.len(), 1);
        assert_eq!(got.rrsigs[0].key_tag, 4242);
        assert_eq!(got.rrsigs[0].expiration, at("2026-12-13T16:40:06Z"));
        assert_eq!(tcp.join().unwrap(), 2);
        assert_eq!(server.stop().len(), 1);
    }

    #[test]
    fn no_tcp_after_truncation_is_reported_at_the_deadline() {
        let now = at("2026-11-29T16:40:06Z");
        // The TCP port takes connections (the kernel's backlog) but nobody reads them.
        let (server, listener) = udp_and_tcp(|| Server::start(|query| vec![truncated(query)]));
        let start = Instant::now();
        let deadline = start + Duration::from_millis(450);
        assert_eq!(
            soa_rrsigs(server.addr, "example.com", now, deadline),
            Err(format!(
                "answers truncated over UDP, and over TCP {NO_ANSWER}"
            ))
        );
        assert!(Instant::now() >= deadline);
        drop(listener);
        assert!(!server.stop().is_empty());
    }

    #[test]
    fn a_plain_answer_to_the_dnssec_query_is_taken_over_udp() {
        let now = at("2026-11-29T16:40:06Z");
        let server = Server::start(|query| {
            // The DO query arrives with its OPT record.
            assert!(query.opt().is_some_and(|o| o.dnssec_ok()));
            vec![
                edns_answer(query, true, |a| {
                    a.push(soa(5)).unwrap();
                })
                .into_octets(),
            ]
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        assert_eq!(
            soa_rrsigs(server.addr, "example.com", now, deadline),
            Ok(SignedSoa {
                serial: 5,
                dnssec_ok: true,
                rrsigs: Vec::new(),
            })
        );
        assert_eq!(server.stop().len(), 1);
    }

    #[test]
    fn a_closed_port_gives_no_answer_at_the_deadline() {
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let deadline = Instant::now() + Duration::from_millis(150);
        assert_eq!(
            soa_serial(port, "example.com", deadline),
            Err(NO_ANSWER.to_owned())
        );
        assert!(Instant::now() >= deadline);
    }
}
