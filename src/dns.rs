//! A minimal DNS client: ask one server for a zone's SOA serial over UDP, with a deadline.

use std::net::{SocketAddr, UdpSocket};
use std::str::FromStr;
use std::time::{Duration, Instant};

use domain::base::iana::{Rcode, Rtype};
use domain::base::{Message, MessageBuilder, Name};
use domain::rdata::Soa;

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
    let bind = if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = UdpSocket::bind(bind).map_err(|e| e.to_string())?;
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
        if answer.is_answer(&query) {
            return serial_of(&answer);
        }
    }
}

fn build_query(zone: &str) -> Result<Message<Vec<u8>>, String> {
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
    Ok(question.into_message())
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
