//! What every request pays before touching a database: parsing a key and checking its
//! checksum. Run with `cargo bench -p keyward-core`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use keyward_core::{ApiKey, Brand};

fn key(c: &mut Criterion) {
    let brand = Brand::new("kw").unwrap();
    let valid = ApiKey::generate(&brand).expose().to_owned();
    // The same key with its last checksum character changed: parsed up to the checksum.
    let mut bad = valid.clone().into_bytes();
    let last = bad.len() - 1;
    bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();

    c.bench_function("parse a valid key (format and CRC32 checksum)", |b| b.iter(|| ApiKey::parse(black_box(&valid)).unwrap()));
    c.bench_function("reject a key with a wrong checksum", |b| b.iter(|| ApiKey::parse(black_box(&bad)).unwrap_err()));
    c.bench_function("reject garbage", |b| b.iter(|| ApiKey::parse(black_box("Bearer hello")).unwrap_err()));
    c.bench_function("generate a key (OS random source)", |b| b.iter(|| ApiKey::generate(black_box(&brand))));
}

criterion_group!(benches, key);
criterion_main!(benches);
