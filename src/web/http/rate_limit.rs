//! [`RateLimiter`]: a fixed-window request counter per client address, used by the public
//! subscription API (subscriptions per hour) and the admin sign-in form (attempts per
//! quarter hour).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A fixed-window counter per client address. Bounded: windows of idle clients are dropped
/// when the map grows, so a flood of addresses cannot grow memory without limit.
pub struct RateLimiter {
    per_window: u32,
    window: Duration,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(per_window: u32, window: Duration) -> Self {
        RateLimiter {
            per_window,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request; `Err(seconds until allowed)` past the limit.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        let Ok(mut seen) = self.seen.lock() else {
            return Ok(());
        };
        let now = Instant::now();
        if seen.len() > 10_000 {
            seen.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = seen.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.per_window {
            return Err((self.window - now.duration_since(entry.0)).as_secs().max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_counts_per_address_and_window() {
        let l = RateLimiter::new(2, Duration::from_secs(3600));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(l.check(a).is_ok() && l.check(a).is_ok());
        assert!(l.check(a).is_err());
        assert!(l.check(b).is_ok());
    }
}
