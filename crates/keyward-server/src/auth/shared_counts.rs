//! Sharing the limiters' counts between instances on one database (see [`super::limits`]):
//! every interval, each shared limiter adds what it counted since the last exchange to the
//! database's `rate_counts` table and takes back the totals of the callers it counted or was
//! asked about. Between two exchanges an instance decides on what it knows, so the total
//! accepted across instances stays within the limit plus what the others accepted in one
//! interval (one second by default). On SQLite, one instance serves and nothing is shared.

use std::collections::BTreeMap;

use super::limits::{Unshared, WindowLimiter};
use crate::db::{Db, DbResult};

/// Exchanges one limiter's counts with the other instances.
pub async fn exchange(db: &Db, limiter: &WindowLimiter) -> DbResult<()> {
    let mut by_window: BTreeMap<u64, Vec<Unshared>> = BTreeMap::new();
    for unshared in limiter.take_unshared() {
        by_window.entry(unshared.window).or_default().push(unshared);
    }
    let mut failed = None;
    for (window, batch) in by_window {
        let changes = batch.iter().map(|u| (u.name.to_be_bytes().to_vec(), u.change)).collect();
        let window_index = i64::try_from(window).unwrap_or(i64::MAX);
        match db.share_counts(limiter.label().to_owned(), window_index, limiter.window_end(window), changes).await {
            Ok(totals) => {
                let totals: std::collections::HashMap<Vec<u8>, i64> = totals.into_iter().collect();
                limiter.take_totals(
                    window,
                    batch.iter().filter_map(|u| totals.get(&u.name.to_be_bytes()[..]).map(|total| (u.name, *total, u.sent))),
                );
            }
            Err(e) => {
                // Not delivered: kept for the next exchange, not lost.
                limiter.untake(&batch);
                failed.get_or_insert(e);
            }
        }
    }
    failed.map_or(Ok(()), Err)
}

/// Runs the exchanges every [`Config::count_sharing_interval`](crate::state::Config) for as long
/// as the service runs, and forgets the counts of windows long over. Started only where the
/// database is shared.
pub fn spawn(state: crate::state::AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(state.config.count_sharing_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ticks: u64 = 0;
        loop {
            tick.tick().await;
            ticks += 1;
            let throttle = state.throttle.limiters();
            let limiters = [&*state.key_limiter, &*state.registration_limiter].into_iter().chain(throttle);
            for limiter in limiters {
                if let Err(e) = exchange(&state.db, limiter).await {
                    tracing::warn!(error = %e, limiter = limiter.label(), "could not share rate counts with the other instances; counting locally until the database answers");
                }
            }
            if ticks % 600 == 0
                && let Err(e) = state.db.forget_counts(crate::db::now() - 60).await
            {
                tracing::warn!(error = %e, "could not forget old rate counts; will retry");
            }
        }
    })
}
