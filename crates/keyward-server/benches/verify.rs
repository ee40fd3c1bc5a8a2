//! The verified cache against argon2: what a repeat request with the same key costs, and what
//! it would cost without the cache. Run with `cargo bench -p keyward-server`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use keyward_core::{ApiKey, Brand, hashing};
use keyward_server::auth::verified::VerifiedCache;

fn verify(c: &mut Criterion) {
    let key = ApiKey::generate(&Brand::new("kw").unwrap());
    let phc = hashing::hash_secret(key.secret()).unwrap();
    let id = key.id();
    let cache = VerifiedCache::new(true);
    cache.insert(id.as_str(), key.secret(), &phc);

    c.bench_function("verify cache hit (SHA-256 and constant-time compare)", |b| {
        b.iter(|| assert!(cache.contains(black_box(id.as_str()), black_box(key.secret()), black_box(&phc))))
    });
    c.bench_function("verify cache miss (another secret for the same id)", |b| {
        b.iter(|| assert!(!cache.contains(black_box(id.as_str()), black_box("not-the-secret-not-the-secret-xx"), black_box(&phc))))
    });
    let mut slow = c.benchmark_group("argon2id");
    slow.sample_size(10).measurement_time(Duration::from_secs(5));
    slow.bench_function("verify without the cache (argon2id, 19 MiB, t=2)", |b| b.iter(|| assert!(hashing::verify_secret(black_box(key.secret()), black_box(&phc)))));
    slow.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
