//! The allocator's settings, for a server that holds 10 MiB files in memory on
//! their way into the database.
//!
//! Rust's allocations go to mimalloc (the binaries' global allocator); C
//! libraries (SQLite) still use glibc's malloc, tuned below.

/// mimalloc's defaults keep freed memory for a while (purge delay 10 ms) and
/// commit arenas eagerly, which for ten concurrent 10 MiB uploads held about
/// 90 MB more at peak; returning memory at once cost no measurable throughput.
/// The options are read when used, so setting them at start-up takes effect.
pub fn configure_mimalloc() {
    // Their positions in mimalloc.h's mi_option_t (the same in v2 and v3); the
    // crate does not export these two as constants.
    const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: mi_option_set only stores a number that mimalloc reads later.
    unsafe {
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
    }
}

/// glibc raises its mmap threshold to the size of the largest block freed (up to
/// 32 MiB), so after the first upload every 10 MiB buffer came from the heap
/// arenas, which keep memory once it is freed, in one arena per thread that
/// touched one: ten concurrent uploads would keep hundreds of MB. A fixed
/// threshold gives large buffers mappings of their own, returned when
/// freed, and one arena per core bounds what the small allocations keep.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn tune_allocator() {
    const LARGE_BLOCK: libc::c_int = 1 << 20;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let arenas = libc::c_int::try_from(cores).unwrap_or(libc::c_int::MAX);
    // SAFETY: mallopt only changes glibc's tuning parameters; any value is
    // accepted or refused with a return code, which can be ignored since the
    // defaults work, only with more memory.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, LARGE_BLOCK);
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

/// Other allocators need no tuning here.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune_allocator() {}
