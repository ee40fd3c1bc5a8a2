//! Fixed-window counters: the per-key rate limit and the throttle on failed authentication
//! from one client address. They live in memory on purpose: they protect this process, and
//! nothing that decides whether a key is valid is kept here.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where a caller stands in the current window, for the `RateLimit-*` headers.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window resets.
    pub reset: u64,
}

pub struct WindowLimiter {
    limit: u32,
    window: Duration,
    counts: Mutex<HashMap<String, (Instant, u32)>>,
}

/// The most callers remembered before stale windows are swept out.
const SWEEP_AT: usize = 50_000;

impl WindowLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        WindowLimiter { limit, window, counts: Mutex::new(HashMap::new()) }
    }

    fn quota(&self, start: Instant, used: u32, now: Instant) -> Quota {
        let elapsed = now.saturating_duration_since(start);
        let reset = self.window.saturating_sub(elapsed).as_secs_f64().ceil() as u64;
        Quota { limit: self.limit, remaining: self.limit.saturating_sub(used), reset: reset.max(1) }
    }

    /// Counts one request for `who`; `Err` with the quota (remaining 0) once over the limit.
    pub fn hit(&self, who: &str) -> Result<Quota, Quota> {
        let now = Instant::now();
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts.len() > SWEEP_AT {
            counts.retain(|_, (start, _)| now.saturating_duration_since(*start) < self.window);
        }
        let entry = counts.entry(who.to_owned()).or_insert((now, 0));
        if now.saturating_duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit {
            return Err(self.quota(entry.0, entry.1, now));
        }
        entry.1 += 1;
        Ok(self.quota(entry.0, entry.1, now))
    }

    /// Takes back one count from `who` in the current window (an attempt that turned out fine).
    pub fn give_back(&self, who: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((start, used)) = counts.get_mut(who)
            && Instant::now().saturating_duration_since(*start) < self.window
        {
            *used = used.saturating_sub(1);
        }
    }

    /// Whether `who` is over the limit, without counting.
    pub fn blocked(&self, who: &str) -> Option<Quota> {
        let now = Instant::now();
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let (start, used) = counts.get(who)?;
        (now.saturating_duration_since(*start) < self.window && *used >= self.limit).then(|| self.quota(*start, *used, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_plus_one_is_refused_and_others_are_unaffected() {
        let limiter = WindowLimiter::new(3, Duration::from_secs(60));
        for remaining in [2, 1, 0] {
            assert_eq!(limiter.hit("a").unwrap().remaining, remaining);
        }
        let refused = limiter.hit("a").unwrap_err();
        assert!(refused.reset >= 1 && refused.reset <= 60);
        assert!(limiter.blocked("a").is_some());
        assert!(limiter.hit("b").is_ok());
        assert!(limiter.blocked("b").is_none());
    }

    #[test]
    fn a_new_window_starts_afresh() {
        let limiter = WindowLimiter::new(1, Duration::from_millis(20));
        assert!(limiter.hit("a").is_ok());
        assert!(limiter.hit("a").is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert!(limiter.hit("a").is_ok());
    }
}
