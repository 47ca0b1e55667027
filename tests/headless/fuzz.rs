//! The fuzzing harness (`citytwin fuzz`): every target runs clean on its seeds and on
//! the crashes fuzzing found (kept in `tests/fixtures/fuzz/TARGET/`), and a short
//! fuzzing run of each finds nothing.

use crate::common::*;
use citytwin::fuzz::{Harness, Target, corpus, fuzz, run_caught};
use std::time::Duration;

#[test]
fn every_target_runs_clean_on_its_seeds_and_on_the_crashes_found_so_far() {
    let scratch = temp_dir("fuzz-regressions");
    for target in Target::ALL {
        let harness = Harness::new(target, &scratch).expect("scratch folder");
        let seeds = corpus(target, &repo_root());
        assert!(!seeds.is_empty(), "{}: no seeds", target.name());
        for (n, seed) in seeds.iter().enumerate() {
            run_caught(&harness, seed)
                .unwrap_or_else(|why| panic!("{} seed {n}: {why}", target.name()));
        }
        let found = repo_root().join("tests/fixtures/fuzz").join(target.name());
        for entry in std::fs::read_dir(&found).into_iter().flatten().flatten() {
            let input = std::fs::read(entry.path()).expect("fixture");
            run_caught(&harness, &input)
                .unwrap_or_else(|why| panic!("{}: {why}", entry.path().display()));
        }
    }
}

#[test]
fn a_second_of_fuzzing_each_target_finds_nothing() {
    let scratch = temp_dir("fuzz-short");
    let crashes = scratch.join("crashes");
    for target in Target::ALL {
        let report = fuzz(
            target,
            &repo_root(),
            Duration::from_secs(1),
            7,
            &crashes,
            &scratch,
            false,
        )
        .expect("fuzz runs");
        assert!(
            report.executions > report.seeds as u64,
            "{target:?}: {report:?}"
        );
        assert!(
            report.crashes.is_empty(),
            "{target:?}: {:?}",
            report.crashes
        );
    }
}
