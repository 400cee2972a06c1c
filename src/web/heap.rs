//! Giving freed heap memory back to the operating system after a site rebuild.
//!
//! A rebuild allocates tens of megabytes for a moment with a thousand models (the snapshot
//! being built, every shared body rendered, rows in flight) and frees them once the new site
//! is swapped in. glibc's allocator keeps freed pages in its arenas for reuse, so the
//! process's resident memory settles near the peak of the largest rebuild, not at what it
//! holds: measured with 1,000 models, 159 MiB resident, 108 MiB after one `malloc_trim`
//! (BENCHMARKS h). Trimming after each rebuild costs a walk of the arenas, a few
//! milliseconds, at most once a second.

/// Buffers at least this large are mapped on their own and returned when freed.
const MMAP_THRESHOLD: i32 = 128 * 1024;

/// Sets the allocator up for a long-running server, once at start: a fixed threshold above
/// which allocations are mapped on their own (a rebuild's rendered bodies and row vectors),
/// so freeing one returns it at once. glibc otherwise raises the threshold to the size of
/// each large block freed, after which such blocks stay in the heap and fragment it
/// (measured with 1,000 models: 3 MiB less resident; BENCHMARKS h).
pub fn configure_for_serving() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes a tunable of glibc's allocator, under the allocator's
    // own lock, so it is sound at any time; blocks already allocated are unaffected.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

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
