//! Shared pieces of the fuzz targets: an allocator that aborts on any single allocation
//! above 64 MiB, so "memory is bounded by caps, not by declared lengths" is enforced even
//! without a sanitizer (libFuzzer's malloc hooks need ASan).

use std::alloc::{GlobalAlloc, Layout, System};

/// The largest single allocation a fuzz input may cause.
pub const MAX_ALLOC: usize = 64 << 20;

/// Wraps the system allocator; aborts the process on an oversized request.
pub struct CappedAlloc;

fn check(size: usize) {
    if size > MAX_ALLOC {
        eprintln!("allocation of {size} bytes exceeds the {MAX_ALLOC}-byte cap");
        std::process::abort();
    }
}

// SAFETY: every method forwards to `System` unchanged after a size check.
unsafe impl GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        check(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
