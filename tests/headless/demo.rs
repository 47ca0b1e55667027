//! The committed demo files are exactly what the generator writes.

use crate::common::*;

#[test]
fn demo_generator_is_deterministic_and_matches_the_committed_files() {
    let out = temp_dir("gen-demo");
    let written = citytwin::generate::write_demo(&out).expect("generator runs");
    assert_eq!(written.len(), 8);
    for path in written {
        let rel = path.strip_prefix(&out).unwrap();
        let fresh = std::fs::read(&path).unwrap();
        let committed = std::fs::read(repo_root().join(rel))
            .unwrap_or_else(|e| panic!("{} is not committed: {e}", rel.display()));
        assert!(
            fresh == committed,
            "{} differs from a fresh `citytwin gen-demo`; regenerate and commit",
            rel.display()
        );
    }
    let text = std::fs::read_to_string(out.join(citytwin::generate::BUILDINGS)).unwrap();
    assert!(
        text.contains("\"synthetic\":true"),
        "the file says it is synthetic"
    );
}
