//! The guard: before leaving a server whose check failed, ask whether our own link works
//! (reference URLs) and whether other vantage points can reach the server (witnesses).

use std::thread;
use std::time::Duration;

use crate::command::run_bounded;
use crate::config::{Guard, Pool, Server, StatusRange};
use crate::duration;
use crate::probe::{self, Check};

/// What the guard concluded about one failover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead; the detail says who confirmed.
    Confirmed(String),
    /// A witness reaches the server: stay.
    Vetoed(String),
    /// Nothing answered: our own link is the likely culprit, stay and do not count this run.
    OwnLinkDown(String),
}

impl Verdict {
    /// The verdict's name in history.jsonl and status: confirmed, vetoed, own-link-down.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Confirmed(_) => "confirmed",
            Verdict::Vetoed(_) => "vetoed",
            Verdict::OwnLinkDown(_) => "own-link-down",
        }
    }

    /// Why, in words.
    #[must_use]
    pub fn detail(&self) -> &str {
        match self {
            Verdict::Confirmed(d) | Verdict::Vetoed(d) | Verdict::OwnLinkDown(d) => d,
        }
    }
}

/// How a witness answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Reaches,
    CannotReach,
    Silent,
}

/// Consult the references, then the witnesses, about leaving `server` of `pool`.
#[must_use]
pub fn consult(guard: &Guard, timeout: Duration, pool: &Pool, server: &Server) -> Verdict {
    if !guard.reference.is_empty() {
        let answered = references_answering(guard, timeout);
        if answered == 0 {
            return Verdict::OwnLinkDown(format!(
                "no reference URL answered within {}, so our own link seems down",
                duration::format(timeout)
            ));
        }
        if guard.witnesses.is_empty() {
            return Verdict::Confirmed(format!(
                "our link is up ({answered} of {} reference URLs answered)",
                guard.reference.len()
            ));
        }
    }
    let answers = ask_witnesses(guard, timeout, pool, server);
    let count = |a| answers.iter().filter(|(_, x)| *x == a).count();
    let total = answers.len();
    if let Some((argv, _)) = answers.iter().find(|(_, a)| *a == Answer::Reaches) {
        return Verdict::Vetoed(format!(
            "failover vetoed: witness '{}' reaches {}",
            argv.join(" "),
            server.name
        ));
    }
    match count(Answer::CannotReach) {
        0 => Verdict::OwnLinkDown(format!(
            "no witness answered ({total} of {total} gave no answer), so our own link seems down"
        )),
        n => Verdict::Confirmed(format!("confirmed by {n} of {total} witnesses")),
    }
}

/// How many reference URLs give any HTTP response (fetched normally, concurrently).
fn references_answering(guard: &Guard, timeout: Duration) -> usize {
    thread::scope(|scope| {
        let handles: Vec<_> = guard
            .reference
            .iter()
            .map(|url| {
                let check = Check {
                    url: url.text.clone(),
                    connect: None,
                    timeout,
                    attempts: 1,
                    // Any status proves the link works, and so does a TLS peer we do not trust.
                    expect_status: StatusRange {
                        low: 100,
                        high: 999,
                    },
                    expect_body: String::new(),
                    tls_verify: false,
                };
                scope.spawn(move || probe::probe(&check))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().is_ok_and(|outcome| outcome.is_up()))
            .filter(|&up| up)
            .count()
    })
}

/// Run every witness at once; each gets the pool, server, address and URL in its environment.
fn ask_witnesses(
    guard: &Guard,
    timeout: Duration,
    pool: &Pool,
    server: &Server,
) -> Vec<(Vec<String>, Answer)> {
    let env = [
        ("ZONERW_POOL", pool.name.clone()),
        ("ZONERW_SERVER", server.name.clone()),
        ("ZONERW_ADDRESS", server.address().to_string()),
        (
            "ZONERW_URL",
            server
                .check
                .as_ref()
                .map(|c| c.text.clone())
                .unwrap_or_default(),
        ),
    ];
    thread::scope(|scope| {
        let handles: Vec<_> = guard
            .witnesses
            .iter()
            .map(|argv| {
                let env = &env;
                scope.spawn(move || {
                    let answer = match run_bounded(argv, env, timeout) {
                        Ok(out) if out.status.code() == Some(0) => Answer::Reaches,
                        Ok(out) if out.status.code() == Some(1) => Answer::CannotReach,
                        _ => Answer::Silent,
                    };
                    (argv.clone(), answer)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| (Vec::new(), Answer::Silent)))
            .collect()
    })
}
