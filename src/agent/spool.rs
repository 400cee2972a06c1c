//! The agent's disk buffer: every batch is written here before it is sent, and removed only
//! once the upstream acknowledged it, so a network cut or a restart loses nothing.
//!
//! One file per batch, named so that name order is send order (`<ms>-<seq>.json`), written
//! to a temporary name and renamed (a crash never leaves half a batch under a real name).
//! Bounded: past [`MAX_SPOOL_BYTES`] the oldest batches are dropped, loudly: an agent cut
//! off for days must not fill its disk.

use std::path::{Path, PathBuf};

use tracing::{error, warn};

/// Bytes of batches kept while the upstream is away (at 1,000 models every 30 s, about a
/// day of results).
pub const MAX_SPOOL_BYTES: u64 = 256 << 20;

/// The spool directory.
pub struct Spool {
    dir: PathBuf,
    seq: u64,
    max_bytes: u64,
    /// Bytes of the batches waiting, kept as they come and go (the directory is listed only
    /// when it is over the bound, not on every batch: a long cut leaves many thousands).
    bytes: u64,
}

impl Spool {
    /// Opens (creating) `dir`.
    pub fn open(dir: &Path) -> std::io::Result<Spool> {
        Spool::with_limit(dir, MAX_SPOOL_BYTES)
    }

    /// [`Spool::open`] with another bound (tests).
    pub fn with_limit(dir: &Path, max_bytes: u64) -> std::io::Result<Spool> {
        std::fs::create_dir_all(dir)?;
        let mut spool = Spool {
            dir: dir.to_path_buf(),
            seq: 0,
            max_bytes,
            bytes: 0,
        };
        spool.bytes = spool.pending().iter().map(|f| size_of(f)).sum();
        Ok(spool)
    }

    /// A name for the next batch: unique and in order within this agent.
    pub fn next_name(&mut self, now_ms: i64) -> String {
        self.seq += 1;
        format!("{now_ms:013}-{:06}", self.seq % 1_000_000)
    }

    /// Writes a batch under `name`, then keeps the spool within its bound.
    pub fn put(&mut self, name: &str, body: &[u8]) -> std::io::Result<()> {
        let tmp = self.dir.join(format!("{name}.tmp"));
        std::fs::write(&tmp, body)?;
        std::fs::rename(&tmp, self.dir.join(format!("{name}.json")))?;
        self.bytes += body.len() as u64;
        if self.bytes > self.max_bytes {
            self.enforce_bound();
        }
        Ok(())
    }

    /// Batches waiting, oldest first.
    pub fn pending(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "json"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }

    /// The upstream acknowledged it.
    pub fn done(&mut self, file: &Path) {
        let size = size_of(file);
        match std::fs::remove_file(file) {
            Ok(()) => self.bytes = self.bytes.saturating_sub(size),
            Err(e) => {
                warn!(file = %file.display(), error = %e, "removing a sent batch failed; it will be sent again (the upstream keeps it once)");
            }
        }
    }

    /// The upstream refused it for good: kept aside (`.rejected`) for a person to read.
    pub fn reject(&mut self, file: &Path) {
        let size = size_of(file);
        let aside = file.with_extension("rejected");
        match std::fs::rename(file, &aside) {
            Ok(()) => self.bytes = self.bytes.saturating_sub(size),
            Err(e) => {
                error!(file = %file.display(), error = %e, "setting a refused batch aside failed")
            }
        }
    }

    /// Drops the oldest batches until the spool is within its bound.
    fn enforce_bound(&mut self) {
        let files = self.pending();
        let sizes: Vec<u64> = files.iter().map(|f| size_of(f)).collect();
        self.bytes = sizes.iter().sum();
        for (f, size) in files.iter().zip(sizes) {
            if self.bytes <= self.max_bytes {
                break;
            }
            error!(file = %f.display(), bound = self.max_bytes, "the spool is full (the upstream has been away long): dropping its oldest batch");
            if std::fs::remove_file(f).is_ok() {
                self.bytes -= size;
            }
        }
    }
}

fn size_of(file: &Path) -> u64 {
    std::fs::metadata(file).map(|m| m.len()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_come_back_in_order_and_the_oldest_go_past_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::with_limit(dir.path(), 25).unwrap();
        let a = spool.next_name(1_000);
        let b = spool.next_name(1_000);
        let c = spool.next_name(2_000);
        spool.put(&b, b"0123456789").unwrap();
        spool.put(&a, b"0123456789").unwrap();
        assert_eq!(spool.pending().len(), 2);
        assert!(spool.pending()[0].ends_with(format!("{a}.json")));
        // A third batch makes 30 bytes, over the bound of 25: the oldest (a) goes.
        spool.put(&c, b"0123456789").unwrap();
        let left: Vec<_> = spool.pending();
        assert_eq!(left.len(), 2);
        assert!(left[0].ends_with(format!("{b}.json")), "{left:?}");
        assert_eq!(spool.bytes, 20);
        spool.reject(&left[0]);
        spool.done(&left[1]);
        assert!(spool.pending().is_empty());
        assert_eq!(spool.bytes, 0);
        // Reopened, it counts what is waiting.
        let d = spool.next_name(3_000);
        spool.put(&d, b"0123").unwrap();
        assert_eq!(Spool::with_limit(dir.path(), 25).unwrap().bytes, 4);
        assert!(dir.path().join(format!("{b}.rejected")).exists());
    }
}
