//! The `pgline` command-line tool.
fn main() {}
