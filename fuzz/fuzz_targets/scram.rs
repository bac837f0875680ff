#![no_main]

#[global_allocator]
static ALLOC: pgline_fuzz::CappedAlloc = pgline_fuzz::CappedAlloc;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // server-first and server-final, separated by the first 0xff byte.
    let (first, last) = match data.iter().position(|&b| b == 0xff) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    pgline::__fuzz::scram(first, last);
});
