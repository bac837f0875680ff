#![no_main]

use arbitrary::Arbitrary;
use pgline::__fuzz::Op;

#[global_allocator]
static ALLOC: pgline_fuzz::CappedAlloc = pgline_fuzz::CappedAlloc;

#[derive(Arbitrary, Debug)]
enum FOp {
    Simple,
    Rows(u8, u8),
    Prepare,
    Feed(u8),
    Raw(Vec<u8>),
    Drain,
}

#[derive(Arbitrary, Debug)]
struct Input {
    iris: bool,
    ops: Vec<FOp>,
}

libfuzzer_sys::fuzz_target!(|input: Input| {
    let ops: Vec<Op> = input
        .ops
        .into_iter()
        .take(256)
        .map(|o| match o {
            FOp::Simple => Op::Simple,
            FOp::Rows(rows, every) => Op::Rows { rows, every },
            FOp::Prepare => Op::Prepare,
            FOp::Feed(k) => Op::Feed(k),
            FOp::Raw(b) => Op::Raw(b),
            FOp::Drain => Op::Drain,
        })
        .collect();
    pgline::__fuzz::session_script(input.iris, &ops);
});
