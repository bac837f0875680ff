//! Replays every committed fuzz corpus file and every crash regression through the same
//! oracles the fuzz targets run, so stable CI keeps protecting what fuzzing found.

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

fn replay(target: &str, oracle: impl Fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut n = 0;
    for dir in [
        root.join("corpus").join(target),
        root.join("regressions").join(target),
    ] {
        for f in files(&dir) {
            let data = std::fs::read(&f).expect("read corpus file");
            oracle(&data);
            n += 1;
        }
    }
    n
}

#[test]
fn backend_stream_corpus_replays_cleanly() {
    assert!(replay("backend_stream", pgline::__fuzz::backend_stream) >= 20);
}

#[test]
fn backend_body_corpus_replays_cleanly() {
    assert!(replay("backend_body", pgline::__fuzz::backend_body) >= 20);
}

#[test]
fn frontend_corpus_replays_cleanly() {
    assert!(replay("frontend_roundtrip", pgline::__fuzz::frontend_bytes) >= 5);
}

#[test]
fn scram_corpus_replays_cleanly() {
    let n = replay("scram", |data| {
        let (first, last) = match data.iter().position(|&b| b == 0xff) {
            Some(i) => (&data[..i], &data[i + 1..]),
            None => (data, &b""[..]),
        };
        pgline::__fuzz::scram(first, last);
    });
    assert!(n >= 5);
}

#[test]
fn session_script_corpus_replays_cleanly() {
    assert!(replay("session_script", pgline::__fuzz::session_script_bytes) >= 5);
}

#[test]
fn backend_stream_oracle_rejects_nothing_valid_from_a_real_session() {
    // A recorded startup + query exchange decodes and re-encodes byte for byte.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/backend_stream");
    let data = std::fs::read(root.join("seed-query_result")).expect("seed present");
    pgline::__fuzz::backend_stream(&data);
}

#[test]
fn values_corpus_replays_cleanly() {
    assert!(replay("values", pgline::__fuzz::values) >= 14);
}

#[test]
fn copy_binary_corpus_replays_cleanly() {
    assert!(replay("copy_binary", pgline::__fuzz::copy_binary) >= 14);
}
