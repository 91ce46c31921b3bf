//! The guard's rule: before leaving a server whose check failed, ask whether our own link
//! works (reference URLs) and whether other vantage points can reach the server
//! (witnesses), and conclude. Pure; `run/guard.rs` asks them.

use std::time::Duration;

use crate::duration;

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

/// How a witness answered (its exit status: 0, 1, anything else or no exit in time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Exit 0: the witness reaches the server.
    Reaches,
    /// Exit 1: it cannot reach the server either.
    CannotReach,
    /// Anything else: no answer.
    Silent,
}

/// One witness and its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessAnswer {
    /// The witness command.
    pub argv: Vec<String>,
    /// What it answered.
    pub answer: Answer,
}

/// How many of the configured reference URLs answered (`total` 0: none configured).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct References {
    /// URLs that gave any HTTP response.
    pub answered: usize,
    /// URLs configured.
    pub total: usize,
}

impl References {
    /// Whether the verdict is already known from the references alone, so the witnesses
    /// need not be asked: none answered (our link is down), or they did and there are no
    /// witnesses to ask.
    #[must_use]
    pub fn decide_alone(self, witnesses: usize) -> bool {
        self.total > 0 && (self.answered == 0 || witnesses == 0)
    }
}

/// The guard's verdict on leaving `server` after its check failed, from the references'
/// answers and the witnesses' (empty when they were not asked). `timeout` is the guard's, for
/// the words.
#[must_use]
pub fn verdict(
    references: References,
    witnesses: &[WitnessAnswer],
    server: &str,
    timeout: Duration,
) -> Verdict {
    let References { answered, total } = references;
    if total > 0 {
        if answered == 0 {
            return Verdict::OwnLinkDown(format!(
                "no reference URL answered within {}, so our own link seems down",
                duration::format(timeout)
            ));
        }
        if witnesses.is_empty() {
            return Verdict::Confirmed(format!(
                "our link is up ({answered} of {total} reference URLs answered)"
            ));
        }
    }
    if let Some(w) = witnesses.iter().find(|w| w.answer == Answer::Reaches) {
        return Verdict::Vetoed(format!(
            "failover vetoed: witness '{}' reaches {server}",
            w.argv.join(" ")
        ));
    }
    let asked = witnesses.len();
    match witnesses
        .iter()
        .filter(|w| w.answer == Answer::CannotReach)
        .count()
    {
        0 => Verdict::OwnLinkDown(format!(
            "no witness answered ({asked} of {asked} gave no answer), so our own link seems down"
        )),
        n => Verdict::Confirmed(format!("confirmed by {n} of {asked} witnesses")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(2);

    fn refs(answered: usize, total: usize) -> References {
        References { answered, total }
    }

    fn witnesses(answers: &[Answer]) -> Vec<WitnessAnswer> {
        answers
            .iter()
            .enumerate()
            .map(|(i, &answer)| WitnessAnswer {
                argv: vec!["ssh".into(), format!("w{}", i + 1), "probe".into()],
                answer,
            })
            .collect()
    }

    #[test]
    fn verdicts() {
        use Answer::{CannotReach, Reaches, Silent};
        let cases: [(References, &[Answer], Verdict); 9] = [
            (
                refs(0, 2),
                &[],
                Verdict::OwnLinkDown(
                    "no reference URL answered within 2s, so our own link seems down".into(),
                ),
            ),
            (
                refs(1, 2),
                &[],
                Verdict::Confirmed("our link is up (1 of 2 reference URLs answered)".into()),
            ),
            (
                refs(2, 2),
                &[CannotReach, Reaches],
                Verdict::Vetoed("failover vetoed: witness 'ssh w2 probe' reaches main".into()),
            ),
            (
                refs(0, 0),
                &[CannotReach, Silent, CannotReach],
                Verdict::Confirmed("confirmed by 2 of 3 witnesses".into()),
            ),
            (
                refs(0, 0),
                &[Silent, Reaches, Reaches],
                Verdict::Vetoed("failover vetoed: witness 'ssh w2 probe' reaches main".into()),
            ),
            (
                refs(0, 0),
                &[Silent, Silent],
                Verdict::OwnLinkDown(
                    "no witness answered (2 of 2 gave no answer), so our own link seems down"
                        .into(),
                ),
            ),
            (
                refs(1, 1),
                &[Silent],
                Verdict::OwnLinkDown(
                    "no witness answered (1 of 1 gave no answer), so our own link seems down"
                        .into(),
                ),
            ),
            (
                refs(1, 1),
                &[CannotReach],
                Verdict::Confirmed("confirmed by 1 of 1 witnesses".into()),
            ),
            (
                refs(0, 0),
                &[],
                Verdict::OwnLinkDown(
                    "no witness answered (0 of 0 gave no answer), so our own link seems down"
                        .into(),
                ),
            ),
        ];
        for (references, answers, want) in cases {
            assert_eq!(
                verdict(references, &witnesses(answers), "main", TIMEOUT),
                want,
                "{references:?} {answers:?}"
            );
        }
    }

    #[test]
    fn the_witnesses_are_asked_only_when_their_answer_matters() {
        // (references, witnesses configured) -> ask them?
        let cases = [
            (refs(0, 0), 2, true),
            (refs(0, 0), 0, true),
            (refs(0, 2), 2, false),
            (refs(1, 2), 2, true),
            (refs(1, 2), 0, false),
        ];
        for (references, configured, ask) in cases {
            assert_eq!(
                !references.decide_alone(configured),
                ask,
                "{references:?} {configured}"
            );
        }
    }

    #[test]
    fn verdict_names_and_details() {
        let cases = [
            (Verdict::Confirmed("a".into()), "confirmed"),
            (Verdict::Vetoed("b".into()), "vetoed"),
            (Verdict::OwnLinkDown("c".into()), "own-link-down"),
        ];
        for (verdict, name) in cases {
            assert_eq!(verdict.name(), name);
            assert_eq!(verdict.detail().len(), 1);
        }
    }
}
