#![no_main]

#[global_allocator]
static ALLOC: pgline_fuzz::CappedAlloc = pgline_fuzz::CappedAlloc;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    pgline::__fuzz::copy_binary(data);
});
