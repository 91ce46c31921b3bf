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
