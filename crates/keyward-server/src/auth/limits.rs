//! Fixed-window counters: the per-key rate limit and the counts of failed authentication (per
//! client address, per account, per account and address). They are counted in memory, so the
//! hot path never waits for a database; nothing that decides whether a key is valid is kept here.
//!
//! Several instances behind a load balancer share their counts ([`shared`]): each instance
//! counts locally and, every second, adds what it counted to a table in the shared database
//! and reads back the totals of the names it saw; a decision weighs the local count plus the
//! other instances' last known total. The total accepted across instances therefore stays
//! within the limit plus what the other instances accept in one exchange interval. Shared
//! limiters name callers by a keyed hash every instance agrees on (the key is a service secret
//! in the database), never by the name itself.
//!
//! Windows follow one another from the limiter's start (shared ones from the Unix epoch, so
//! instances agree on them), and ending a window is dropping a whole map, never a scan: each shard notices on its next use that its
//! window is over and swaps in an empty map. The counts are split over shards so that one busy
//! caller does not serialise everyone behind one lock, and each shard holds at most a fixed
//! number of callers: past that, new callers share one overflow count, so a flood of distinct
//! names cannot grow memory without bound. The overflow count never refuses anyone (a flood
//! must not lock out whoever arrives after it); it only reports them as busy (see [`used`]).
//! Callers are remembered by a keyed 128-bit hash of their name, so a long name costs no more
//! memory than a short one.
//!
//! [`used`]: WindowLimiter::used
//! [`shared`]: crate::auth::shared_counts

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

/// Where a caller stands in the current window, for the `RateLimit-*` headers.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window resets.
    pub reset: u64,
}

const SHARDS: usize = 32;
/// Callers one shard remembers in a window; 32 × 4096 in all.
const SHARD_CAPACITY: usize = 4096;
/// The count that callers share once their shard is full (no name hashes to it in practice).
const OVERFLOW: u128 = 0;

struct Shard {
    /// Which window these counts belong to (windows since the Unix epoch).
    window: u64,
    counts: HashMap<u128, Count>,
}

/// One caller's count in the current window.
#[derive(Debug, Default, Clone, Copy)]
struct Count {
    /// Counted here.
    local: u32,
    /// How much of `local` the other instances have been told.
    sent: u32,
    /// What the other instances counted, as of the last exchange.
    remote: u32,
    /// Counted or asked about since the last exchange: its total is worth fetching.
    asked: bool,
}

impl Count {
    fn total(&self) -> u32 {
        self.local.saturating_add(self.remote)
    }
}

/// How callers' names become the keys counts are kept under.
enum Namer {
    /// This process alone: a hash keyed at random when the process started.
    Local(RandomState, RandomState),
    /// Shared with other instances: a hash keyed by a secret they all hold.
    Shared([u8; 32]),
}

pub struct WindowLimiter {
    /// What the shared counts are filed under.
    label: &'static str,
    limit: u32,
    window: Duration,
    /// Where windows are counted from: this limiter's start when it counts alone, the Unix
    /// epoch (`None`) when instances share it and must agree on the windows.
    origin: Option<Instant>,
    names: Namer,
    shards: Vec<Mutex<Shard>>,
}

/// A count to tell the other instances: how much `name` changed here since they were last
/// told, in `window`, and how much they will then have been told in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unshared {
    pub window: u64,
    pub name: u128,
    pub change: i64,
    pub sent: u32,
}

impl WindowLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        WindowLimiter::with_names("local", limit, window, Namer::Local(RandomState::new(), RandomState::new()))
    }

    /// A limiter whose counts are shared with other instances under `label`; `key` is a
    /// secret every instance holds, so they all name a caller alike and nobody else can.
    pub fn shared(label: &'static str, limit: u32, window: Duration, key: [u8; 32]) -> Self {
        WindowLimiter::with_names(label, limit, window, Namer::Shared(key))
    }

    /// Shared under `label` when `shared` holds the instances' common naming key, otherwise
    /// counting in this process alone.
    pub fn counted(label: &'static str, limit: u32, window: Duration, shared: Option<[u8; 32]>) -> Self {
        match shared {
            Some(key) => WindowLimiter::shared(label, limit, window, key),
            None => WindowLimiter::new(limit, window),
        }
    }

    fn with_names(label: &'static str, limit: u32, window: Duration, names: Namer) -> Self {
        let window = window.max(Duration::from_millis(1));
        let origin = matches!(names, Namer::Local(..)).then(Instant::now);
        WindowLimiter {
            label,
            limit,
            window,
            origin,
            names,
            shards: (0..SHARDS).map(|_| Mutex::new(Shard { window: 0, counts: HashMap::new() })).collect(),
        }
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    pub fn label(&self) -> &'static str {
        self.label
    }

    pub fn is_shared(&self) -> bool {
        matches!(self.names, Namer::Shared(_))
    }

    /// The window's length.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The current window's number and the seconds left in it.
    fn now(&self) -> (u64, u64) {
        let elapsed = match self.origin {
            Some(start) => start.elapsed().as_nanos(),
            None => SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos(),
        };
        let window = self.window.as_nanos();
        let index = (elapsed / window) as u64;
        let left = Duration::from_nanos((window - elapsed % window) as u64);
        (index, left.as_secs_f64().ceil().max(1.0) as u64)
    }

    fn quota(&self, used: u32, reset: u64) -> Quota {
        Quota { limit: self.limit, remaining: self.limit.saturating_sub(used), reset }
    }

    /// Runs `f` on `who`'s shard with the counts of the current window and the name `who` is
    /// counted under, then drops the map of an ended window outside the lock.
    fn with_slot<T>(&self, who: &str, f: impl FnOnce(&mut HashMap<u128, Count>, Slot, u64) -> T) -> T {
        let name = self.name_of(who);
        let high = (name >> 64) as u64;
        let shard = &self.shards[high as usize % SHARDS];
        let (window, reset) = self.now();
        let mut guard = shard.lock().unwrap_or_else(|e| e.into_inner());
        let ended = if guard.window != window {
            guard.window = window;
            Some(std::mem::take(&mut guard.counts))
        } else {
            None
        };
        let slot = if guard.counts.contains_key(&name) || guard.counts.len() < SHARD_CAPACITY { Slot::Own(name) } else { Slot::Overflow };
        let value = f(&mut guard.counts, slot, reset);
        drop(guard);
        drop(ended);
        value
    }

    /// The key `who` is counted under: never 0, which is the overflow's.
    fn name_of(&self, who: &str) -> u128 {
        let name = match &self.names {
            Namer::Local(high, low) => u128::from(high.hash_one(who)) << 64 | u128::from(low.hash_one(who)),
            Namer::Shared(key) => {
                let digest = Sha256::new().chain_update(key).chain_update(self.label.as_bytes()).chain_update([0]).chain_update(who.as_bytes()).finalize();
                u128::from_be_bytes(digest[..16].try_into().unwrap_or_default())
            }
        };
        name.max(1)
    }

    /// Counts one request for `who`; `Err` with the quota (remaining 0) once over the limit,
    /// counting what other instances counted too. A caller in the overflow is never refused.
    pub fn hit(&self, who: &str) -> Result<Quota, Quota> {
        self.with_slot(who, |counts, slot, reset| {
            let count = counts.entry(slot.key()).or_default();
            match slot {
                Slot::Own(_) if count.total() >= self.limit => {
                    count.asked = true;
                    Err(self.quota(count.total(), reset))
                }
                Slot::Own(_) => {
                    count.local += 1;
                    count.asked = true;
                    Ok(self.quota(count.total(), reset))
                }
                Slot::Overflow => {
                    count.local = count.local.saturating_add(1);
                    Ok(self.quota(0, reset))
                }
            }
        })
    }

    /// Counts one for `who` even past the limit (a failure that happened, not a request to
    /// allow).
    pub fn count(&self, who: &str) {
        self.with_slot(who, |counts, slot, _| {
            let count = counts.entry(slot.key()).or_default();
            count.local = count.local.saturating_add(1);
            count.asked = true;
        });
    }

    /// Takes back one count from `who` in the current window (an attempt that turned out fine).
    pub fn give_back(&self, who: &str) {
        self.with_slot(who, |counts, slot, _| {
            if let Some(count) = counts.get_mut(&slot.key()) {
                count.local = count.local.saturating_sub(1);
                count.asked = true;
            }
        });
    }

    /// How many `who` has used in the current window, here and elsewhere; for a caller in the
    /// overflow, how many the overflow has (so a flood of new names reads as busy, never idle).
    pub fn used(&self, who: &str) -> u32 {
        self.with_slot(who, |counts, slot, _| self.read(counts, slot).map_or(0, |c| c.total()))
    }

    /// Whether `who` is at or over the limit, without counting; the quota if so. A caller in
    /// the overflow is never blocked.
    pub fn blocked(&self, who: &str) -> Option<Quota> {
        self.with_slot(who, |counts, slot, reset| {
            let Slot::Own(_) = slot else { return None };
            let used = self.read(counts, slot).map_or(0, |c| c.total());
            (used >= self.limit).then(|| self.quota(used, reset))
        })
    }

    /// The count under `slot`. A shared limiter remembers that it was asked, so the next
    /// exchange fetches what other instances counted for a caller this one has not seen yet.
    fn read(&self, counts: &mut HashMap<u128, Count>, slot: Slot) -> Option<Count> {
        if self.is_shared() && matches!(slot, Slot::Own(_)) {
            let count = counts.entry(slot.key()).or_default();
            count.asked = true;
            return Some(*count);
        }
        counts.get(&slot.key()).copied()
    }

    /// What changed here since the other instances were last told, for every caller counted or
    /// asked about since, or at half its limit or more; marks it told. Empty for a limiter that
    /// is not shared.
    pub fn take_unshared(&self) -> Vec<Unshared> {
        if !self.is_shared() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for shard in &self.shards {
            let mut guard = shard.lock().unwrap_or_else(|e| e.into_inner());
            let window = guard.window;
            // Callers near their limit are refreshed every time even when idle here: their
            // next request must weigh what the others counted meanwhile.
            let near_limit = |count: &Count| u64::from(count.total()) * 2 >= u64::from(self.limit);
            for (name, count) in guard.counts.iter_mut().filter(|(name, count)| **name != OVERFLOW && (count.asked || near_limit(count))) {
                out.push(Unshared { window, name: *name, change: i64::from(count.local) - i64::from(count.sent), sent: count.local });
                count.sent = count.local;
                count.asked = false;
            }
        }
        out
    }

    /// Puts back changes an exchange could not deliver (the database did not answer), so the
    /// next exchange sends them again instead of losing them.
    pub fn untake(&self, undelivered: &[Unshared]) {
        for unshared in undelivered {
            let shard = &self.shards[(unshared.name >> 64) as u64 as usize % SHARDS];
            let mut guard = shard.lock().unwrap_or_else(|e| e.into_inner());
            if guard.window != unshared.window {
                continue;
            }
            if let Some(count) = guard.counts.get_mut(&unshared.name) {
                let before = (i64::from(unshared.sent) - unshared.change).clamp(0, i64::from(u32::MAX));
                count.sent = u32::try_from(before).unwrap_or(0);
                count.asked = true;
            }
        }
    }

    /// Takes in the totals across instances for callers of `window` (as the shared table had
    /// them right after `sent` of this instance's counts were added): what the others counted
    /// is the total less what this instance sent.
    pub fn take_totals(&self, window: u64, totals: impl IntoIterator<Item = (u128, i64, u32)>) {
        for (name, total, sent) in totals {
            let shard = &self.shards[(name >> 64) as u64 as usize % SHARDS];
            let mut guard = shard.lock().unwrap_or_else(|e| e.into_inner());
            if guard.window != window {
                continue;
            }
            if let Some(count) = guard.counts.get_mut(&name) {
                count.remote = u32::try_from(total.saturating_sub(i64::from(sent)).max(0)).unwrap_or(u32::MAX);
            }
        }
    }

    /// When (Unix seconds) window number `index` of a shared limiter ends.
    pub fn window_end(&self, index: u64) -> i64 {
        let end = u128::from(index + 1) * self.window.as_nanos();
        i64::try_from(end.div_ceil(1_000_000_000)).unwrap_or(i64::MAX)
    }
}

/// Where a caller is counted: under its own name, or in the shared overflow.
#[derive(Clone, Copy)]
enum Slot {
    Own(u128),
    Overflow,
}

impl Slot {
    fn key(self) -> u128 {
        match self {
            Slot::Own(name) => name,
            Slot::Overflow => OVERFLOW,
        }
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
        std::thread::sleep(Duration::from_millis(45));
        assert!(limiter.hit("a").is_ok());
    }

    #[test]
    fn a_flood_of_distinct_callers_is_bounded_and_locks_nobody_out() {
        let limiter = WindowLimiter::new(5, Duration::from_secs(60));
        for i in 0..(SHARDS * SHARD_CAPACITY + 10_000) {
            let _ = limiter.hit(&format!("caller {i} {}", "x".repeat(i % 100)));
        }
        let remembered: usize = limiter.shards.iter().map(|s| s.lock().unwrap().counts.len()).sum();
        assert!(remembered <= SHARDS * (SHARD_CAPACITY + 1), "{remembered} callers remembered");
        // Those who arrive after the flood are not refused for it…
        for _ in 0..10 {
            assert!(limiter.hit("yet another caller").is_ok());
        }
        assert!(limiter.blocked("yet another caller").is_none());
        // …but read as busy, so their costly checks take the narrow lane.
        assert!(limiter.used("yet another caller") >= 5);
        // Callers remembered before the flood keep their own counts.
        assert_eq!(limiter.used("caller 0 "), 1);
    }

    #[test]
    fn give_back_undoes_one_count() {
        let limiter = WindowLimiter::new(1, Duration::from_secs(60));
        assert!(limiter.hit("a").is_ok());
        limiter.give_back("a");
        assert!(limiter.hit("a").is_ok());
        limiter.count("a");
        assert_eq!(limiter.used("a"), 2);
    }

    /// The shared table, as a test sees it: adds each change, answers the total.
    fn exchange(table: &mut HashMap<(u64, u128), i64>, limiter: &WindowLimiter) {
        for unshared in limiter.take_unshared() {
            let total = table.entry((unshared.window, unshared.name)).or_default();
            *total += unshared.change;
            limiter.take_totals(unshared.window, [(unshared.name, *total, unshared.sent)]);
        }
    }

    #[test]
    fn instances_sharing_counts_refuse_once_their_total_reaches_the_limit() {
        let key = [7u8; 32];
        let (a, b) = (WindowLimiter::shared("key", 10, Duration::from_secs(60), key), WindowLimiter::shared("key", 10, Duration::from_secs(60), key));
        let mut table = HashMap::new();
        for _ in 0..6 {
            assert!(a.hit("k").is_ok() && b.hit("k").is_ok(), "before an exchange each counts alone");
        }
        exchange(&mut table, &a);
        exchange(&mut table, &b);
        exchange(&mut table, &a);
        assert_eq!((a.used("k"), b.used("k")), (12, 12), "each sees the other's six");
        assert!(a.hit("k").is_err() && b.hit("k").is_err());
        assert!(a.hit("other").is_ok(), "other callers are unaffected");
        // A failure given back here is given back everywhere at the next exchange.
        a.give_back("k");
        exchange(&mut table, &a);
        exchange(&mut table, &b);
        assert_eq!(b.used("k"), 11);
    }

    #[test]
    fn an_instance_learns_of_a_caller_it_only_asked_about() {
        let key = [9u8; 32];
        let (a, b) = (WindowLimiter::shared("failures", 3, Duration::from_secs(60), key), WindowLimiter::shared("failures", 3, Duration::from_secs(60), key));
        let mut table = HashMap::new();
        for _ in 0..3 {
            a.count("203.0.113.9");
        }
        exchange(&mut table, &a);
        assert!(b.blocked("203.0.113.9").is_none(), "B has not heard yet");
        exchange(&mut table, &b);
        assert!(b.blocked("203.0.113.9").is_some(), "B asked, and the exchange answered");
        assert!(WindowLimiter::new(3, Duration::from_secs(60)).take_unshared().is_empty(), "a local limiter shares nothing");
    }

    #[test]
    fn shared_names_are_the_same_on_every_instance_and_keyed() {
        let a = WindowLimiter::shared("key", 1, Duration::from_secs(60), [1; 32]);
        let b = WindowLimiter::shared("key", 1, Duration::from_secs(60), [1; 32]);
        let other_key = WindowLimiter::shared("key", 1, Duration::from_secs(60), [2; 32]);
        let other_label = WindowLimiter::shared("registration", 1, Duration::from_secs(60), [1; 32]);
        assert_eq!(a.name_of("k"), b.name_of("k"));
        assert_ne!(a.name_of("k"), other_key.name_of("k"));
        assert_ne!(a.name_of("k"), other_label.name_of("k"));
    }

    #[test]
    fn changes_an_exchange_could_not_deliver_are_sent_with_the_next() {
        let key = [3u8; 32];
        let (a, b) = (WindowLimiter::shared("key", 10, Duration::from_secs(60), key), WindowLimiter::shared("key", 10, Duration::from_secs(60), key));
        let mut table = HashMap::new();
        for _ in 0..4 {
            a.hit("k").unwrap();
        }
        let lost = a.take_unshared();
        a.untake(&lost);
        exchange(&mut table, &a);
        assert_eq!(b.used("k"), 0, "B has not heard yet");
        exchange(&mut table, &b);
        assert_eq!(b.used("k"), 4, "the four counted before the failed exchange reached B");
    }
}
