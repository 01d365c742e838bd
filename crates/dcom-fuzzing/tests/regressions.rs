//! Replays every input committed under `fuzz/regressions/<target>/` and every seed under `fuzz/seeds/<target>/`
//! through the target's oracle: a crash the fuzzer once found must stay fixed.

use std::path::PathBuf;

#[test]
fn replay_fuzz_regressions_and_seeds() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut replayed = 0usize;
    for (name, oracle) in dcom_fuzzing::TARGETS {
        for kind in ["regressions", "seeds"] {
            let dir = root.join(kind).join(name);
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for e in entries {
                let path = e.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                oracle(&data);
                replayed += 1;
            }
        }
    }
    eprintln!("replayed {replayed} fuzz regression and seed inputs");
    assert!(replayed > 0, "no fuzz seeds or regressions found under {}", root.display());
}
