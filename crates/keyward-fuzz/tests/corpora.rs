//! Every input saved under `fuzz/corpus/<target>/` goes through its target again: the seeds
//! written by hand and whatever `cargo fuzz` kept. A failure names the file.

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the corpus {} is missing ({e})", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_saved_input_still_passes_its_target() {
    for (target, run) in keyward_fuzz::TARGETS {
        let files = corpus(target);
        assert!(files.len() >= 5, "{target} has a seed corpus of at least five inputs");
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{target} fails on {}", file.display());
        }
    }
}

/// A little fuzzing on every run, on stable Rust: each seed, mutated a few hundred ways
/// (bytes flipped, inserted, deleted, duplicated; fixed random seed, so a failure repeats).
/// A failing input is saved under the test's temporary folder, named in the message.
#[test]
fn mutations_of_every_seed_pass_their_target() {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x6b65_7977_6172_6400);
    for (target, run) in keyward_fuzz::TARGETS {
        for file in corpus(target) {
            let seed = std::fs::read(&file).unwrap();
            for round in 0..300 {
                let mut data = seed.clone();
                for _ in 0..rng.random_range(1..=4) {
                    let at = if data.is_empty() { 0 } else { rng.random_range(0..data.len()) };
                    match rng.random_range(0..4) {
                        0 if !data.is_empty() => data[at] ^= 1 << rng.random_range(0..8),
                        1 => data.insert(at, *b"{}[]\",:=\n\r #\\\x00\xff".get(rng.random_range(0..15)).unwrap()),
                        2 if !data.is_empty() => {
                            data.remove(at);
                        }
                        _ if !data.is_empty() => {
                            let end = rng.random_range(at..data.len()).min(at + 16);
                            let chunk = data[at..=end].to_vec();
                            data.splice(at..at, chunk);
                        }
                        _ => data.push(b'{'),
                    }
                }
                if std::panic::catch_unwind(|| run(&data)).is_err() {
                    let saved = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{target}-{}-{round}", file.file_name().unwrap().to_string_lossy()));
                    std::fs::write(&saved, &data).unwrap();
                    panic!("{target} fails on a mutation of {}, saved as {}", file.display(), saved.display());
                }
            }
        }
    }
}
