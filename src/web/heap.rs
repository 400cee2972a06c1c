//! Giving freed heap memory back to the operating system after a site rebuild.
//!
//! A rebuild allocates tens of megabytes for a moment with a thousand models (the snapshot
//! being built, every shared body rendered, rows in flight) and frees them once the new site
//! is swapped in. glibc's allocator keeps freed pages in its arenas for reuse, so the
//! process's resident memory settles near the peak of the largest rebuild, not at what it
//! holds: measured with 1,000 models, 159 MiB resident, 108 MiB after one `malloc_trim`
//! (BENCHMARKS h). Trimming after each rebuild costs a walk of the arenas, a few
//! milliseconds, at most once a second.

/// Returns the heap's free pages to the operating system (glibc on Linux; elsewhere the
/// allocator's own policy stands and this does nothing).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` has no preconditions; it only takes glibc's allocator locks and
    // releases pages no allocation uses. The argument 0 keeps no padding at the heap's top.
    unsafe {
        libc::malloc_trim(0);
    }
}
