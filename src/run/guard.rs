//! The guard at work: before a failover, fetch the reference URLs and run the witnesses
//! (at once, each bounded by the guard's timeout); the verdict is `guard::verdict`'s.

use std::thread;
use std::time::Duration;

use crate::command::run_bounded;
use crate::config::{Config, Guard, Pool, Server, StatusRange};
use crate::guard::{Answer, References, Verdict, WitnessAnswer, verdict};
use crate::outcome::PoolRun;
use crate::probe::{self, Check};

/// Ask the guard about every failover; a vetoed one, or one while our own link seems
/// down, holds the pool exactly as it was (this run does not count). The reference URLs are
/// fetched once for all pools, and the witnesses of every failing pool run at the same
/// time, so ten pools failing together take one guard timeout, not ten (each pool's
/// verdict is its own, as `guard::verdict` decides it).
pub(super) fn guard_failovers(config: &Config, pools: &mut [PoolRun<'_>]) {
    let Some(guard) = &config.guard else {
        return;
    };
    let failing: Vec<(usize, &Pool, &Server)> = pools
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.failover_from().map(|server| (i, p.pool, server)))
        .collect();
    if failing.is_empty() {
        return;
    }
    let timeout = config.guard_timeout;
    let references = references(guard, timeout);
    let verdicts: Vec<Verdict> = thread::scope(|scope| {
        let handles: Vec<_> = failing
            .iter()
            .map(|&(_, pool, server)| {
                scope.spawn(move || consult_with(guard, timeout, references, pool, server))
            })
            .collect();
        handles
            .into_iter()
            .zip(&failing)
            .map(|(h, &(_, _, server))| {
                h.join().unwrap_or_else(|_| {
                    // A panicking witness thread: as if no witness answered.
                    verdict(references, &[], &server.name, timeout)
                })
            })
            .collect()
    });
    for ((i, _, _), verdict) in failing.into_iter().zip(verdicts) {
        pools[i].take_verdict(verdict);
    }
}

/// The references' answers (none fetched when there are none).
fn references(guard: &Guard, timeout: Duration) -> References {
    References {
        answered: if guard.reference.is_empty() {
            0
        } else {
            references_answering(guard, timeout)
        },
        total: guard.reference.len(),
    }
}

/// The verdict about leaving `server` of `pool`, given what the references said: the
/// witnesses are asked unless that settles it.
fn consult_with(
    guard: &Guard,
    timeout: Duration,
    references: References,
    pool: &Pool,
    server: &Server,
) -> Verdict {
    let answers = if references.decide_alone(guard.witnesses.len()) {
        Vec::new()
    } else {
        ask_witnesses(guard, timeout, pool, server)
    };
    verdict(references, &answers, &server.name, timeout)
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
) -> Vec<WitnessAnswer> {
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
                    WitnessAnswer {
                        argv: argv.clone(),
                        answer,
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| WitnessAnswer {
                    argv: Vec::new(),
                    answer: Answer::Silent,
                })
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    //! The guard at work with witnesses that are shell one-liners (no network: no reference
    //! URLs here; those are fetched in the integration tests).

    use std::path::Path;

    use super::*;
    use crate::outcome::decide_pools;
    use crate::testing::{CONFIG, down, up};

    fn config(witnesses: &[&str]) -> Config {
        let argv: Vec<String> = witnesses
            .iter()
            .map(|w| format!("['sh', '-c', '{w}']"))
            .collect();
        let text = format!(
            "{CONFIG}\n[guard]\nwitnesses = [{}]\ntimeout = \"1s\"\n",
            argv.join(", ")
        );
        Config::parse(&text, Path::new("/etc/zonerw/zonerw.toml")).unwrap()
    }

    #[test]
    fn witnesses_decide_a_failover() {
        let cases = [
            (&["exit 1", "exit 1"][..], "backup", Some("confirmed")),
            (&["exit 1", "exit 0"][..], "main", Some("vetoed")),
            (&["exit 7", "sleep 5"][..], "main", Some("own-link-down")),
            (
                &[
                    r#"test "$ZONERW_POOL $ZONERW_SERVER $ZONERW_ADDRESS $ZONERW_URL" = "web main 192.0.2.1 http://www.example.com/up" && exit 1"#,
                ][..],
                "backup",
                Some("confirmed"),
            ),
        ];
        for (witnesses, chosen, verdict) in cases {
            let config = config(witnesses);
            let mut pools = decide_pools(
                &config,
                None,
                vec![vec![down(), crate::decide::ProbeOutcome::Unchecked]],
                crate::testing::now(),
                None,
            );
            let started = std::time::Instant::now();
            guard_failovers(&config, &mut pools);
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "bounded by the timeout"
            );
            assert_eq!(pools[0].chosen().name, chosen, "{witnesses:?}");
            assert_eq!(
                pools[0].guarded.as_ref().map(|g| g.verdict.name()),
                verdict,
                "{witnesses:?}"
            );
        }
    }

    #[test]
    fn the_witnesses_of_all_failing_pools_run_at_the_same_time() {
        let mut text = String::new();
        for i in 0..4 {
            text.push_str(&format!(
                "[[pool]]\nname = \"p{i}\"\nmarker = \"IP{i}\"\n\
                 [[pool.server]]\nname = \"main\"\nipv4 = \"192.0.2.{i}\"\n\
                 check = \"http://192.0.2.{i}/\"\n\
                 [[pool.server]]\nname = \"backup\"\nipv4 = \"198.51.100.{i}\"\n"
            ));
        }
        // Each witness takes 0.6 s and says pool p2's main server is reachable.
        text.push_str(
            "[guard]\nwitnesses = [['sh', '-c', 'sleep 0.6; test \"$ZONERW_POOL\" = p2 && exit 0; exit 1']]\ntimeout = \"5s\"\n",
        );
        let config = Config::parse(&text, Path::new("/etc/zonerw/zonerw.toml")).unwrap();
        let outcomes = (0..4)
            .map(|_| vec![down(), crate::decide::ProbeOutcome::Unchecked])
            .collect();
        let mut pools = decide_pools(&config, None, outcomes, crate::testing::now(), None);
        let started = std::time::Instant::now();
        guard_failovers(&config, &mut pools);
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(1800),
            "four pools' witnesses at once, not one after the other: {took:?}"
        );
        let chosen: Vec<&str> = pools.iter().map(|p| p.chosen().name.as_str()).collect();
        assert_eq!(
            chosen,
            ["backup", "backup", "main", "backup"],
            "each pool its own verdict"
        );
    }

    #[test]
    fn no_failover_asks_no_one() {
        let config = config(&["exit 0"]);
        let mut pools = decide_pools(
            &config,
            None,
            vec![vec![up(), crate::decide::ProbeOutcome::Unchecked]],
            crate::testing::now(),
            None,
        );
        guard_failovers(&config, &mut pools);
        assert_eq!(pools[0].guarded, None);
        assert_eq!(pools[0].chosen().name, "main");
    }
}
