//! Codec benchmark (filled in by the codec work).
fn main() {}
