//! What the PostgreSQL tests share: a fresh database of their own on the throwaway cluster
//! `./dev test` starts (its address in KEYWARD_TEST_POSTGRES_URL).

/// A fresh, empty database on the test cluster; returns its URL.
pub async fn fresh_database() -> String {
    let admin = std::env::var("KEYWARD_TEST_POSTGRES_URL")
        .expect("KEYWARD_TEST_POSTGRES_URL names the test PostgreSQL; run the tests with ./dev test, which starts one");
    let name = format!("kw_{}", unique_suffix());
    let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// A name part no other test, in this process or another, has used.
pub fn unique_suffix() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{nanos:x}_{:x}_{n}", std::process::id())
}
