//! The ten-key limit holds whatever a merchant does: over random sequences of create, rotate
//! (with and without an overlap), deactivate, reactivate and revoke, the keys that work are at
//! most ten plus, during an overlap, the one key each of them replaces.

use keyward_core::hashing;
use keyward_server::db::{Actor, Db, KeyChange, NewKey, NewStore, SqliteStore};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Create,
    Rotate { key: usize, overlap: bool },
    Deactivate { key: usize },
    Reactivate { key: usize },
    Revoke { key: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Create),
        4 => (any::<usize>(), any::<bool>()).prop_map(|(key, overlap)| Op::Rotate { key, overlap }),
        1 => any::<usize>().prop_map(|key| Op::Deactivate { key }),
        1 => any::<usize>().prop_map(|key| Op::Reactivate { key }),
        1 => any::<usize>().prop_map(|key| Op::Revoke { key }),
    ]
}

struct Store {
    db: Db,
    actor: Actor,
    path: std::path::PathBuf,
    next_id: usize,
    _dir: tempfile::TempDir,
}

impl Store {
    async fn new() -> Store {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyward.db");
        let db: Db = std::sync::Arc::new(SqliteStore::open(&path).unwrap());
        db.ensure_brand("asmk").await.unwrap();
        let store_id = db
            .create_store(NewStore {
                name: "Acme".into(),
                owner_name: "Ada".into(),
                owner_email: "ada@acme.test".into(),
                owner_password_hash: hashing::decoy_hash().to_owned(),
            })
            .await
            .unwrap();
        let user = db.login_candidate("ada@acme.test".into()).await.unwrap().unwrap().user;
        let (device, _) = db.create_device(store_id.clone(), user.id.clone(), "laptop".into(), vec![1, 2, 3], None).await.unwrap();
        let actor = Actor { store_id, user_id: user.id, device_id: device.id };
        Store { db, actor, path, next_id: 0, _dir: dir }
    }

    fn new_key(&mut self) -> NewKey {
        self.next_id += 1;
        NewKey { id: format!("k{:07}", self.next_id), name: "bot".into(), scopes: keyward_core::Scopes::read_only(), expires_at: None, secret_hash: "$unused".into() }
    }

    /// Every key ever made, oldest first.
    fn ids(&self) -> Vec<String> {
        let conn = rusqlite::Connection::open(&self.path).unwrap();
        let mut stmt = conn.prepare("SELECT id FROM api_keys ORDER BY rowid").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    }

    /// (keys that work, how many of them are a predecessor in its overlap whose replacement
    /// works and is not itself on its way out, and how many working keys in their overlap are
    /// replaced by another working key in its overlap: a chain, which must never happen)
    fn working(&self) -> (usize, usize) {
        let (working, replaced, chained) = self.census();
        assert_eq!(chained, 0, "a chain of overlapping rotations");
        (working, replaced)
    }

    fn census(&self) -> (usize, usize, usize) {
        let conn = rusqlite::Connection::open(&self.path).unwrap();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let rows: Vec<(String, Option<String>, bool)> = conn
            .prepare(
                "SELECT id, replaces, revokes_at IS NOT NULL FROM api_keys
                 WHERE is_active = 1 AND revoked_at IS NULL AND (revokes_at IS NULL OR revokes_at > ?1)",
            )
            .unwrap()
            .query_map([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let replacement_of = |id: &str| rows.iter().find(|(_, replaces, _)| replaces.as_deref() == Some(id));
        let in_overlap = rows.iter().filter(|(_, _, overlap)| *overlap);
        let replaced = in_overlap.clone().filter(|(id, _, _)| replacement_of(id).is_some_and(|(_, _, overlap)| !overlap)).count();
        let chained = in_overlap.filter(|(id, _, _)| replacement_of(id).is_some_and(|(_, _, overlap)| *overlap)).count();
        (rows.len(), replaced, chained)
    }

    async fn apply(&mut self, op: &Op) {
        let ids = self.ids();
        let pick = |i: usize| ids.get(i % ids.len().max(1)).cloned();
        // Refusals (the limit, a conflict) are expected; the bound is what is checked.
        let _ = match *op {
            Op::Create => {
                let new = self.new_key();
                self.db.create_key(self.actor.clone(), new).await.map(drop)
            }
            Op::Rotate { key, overlap } => {
                let Some(id) = pick(key) else { return };
                let new = self.new_key();
                self.db.rotate_key(self.actor.clone(), id, new, if overlap { 3600 } else { 0 }).await.map(drop)
            }
            Op::Deactivate { key } | Op::Reactivate { key } => {
                let Some(id) = pick(key) else { return };
                let change = KeyChange { is_active: Some(matches!(op, Op::Reactivate { .. })), ..KeyChange::default() };
                self.db.update_key(self.actor.clone(), id, change).await.map(drop)
            }
            Op::Revoke { key } => {
                let Some(id) = pick(key) else { return };
                self.db.revoke_key(self.actor.clone(), id).await.map(drop)
            }
        };
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn working_keys_never_exceed_ten_plus_the_ones_being_replaced(ops in proptest::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let mut store = Store::new().await;
            for (step, op) in ops.iter().enumerate() {
                store.apply(op).await;
                let (working, replaced) = store.working();
                prop_assert!(
                    working - replaced <= 10 && working <= 20,
                    "after step {step} ({op:?}): {working} keys work, {replaced} of them on their way out"
                );
            }
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn rotating_again_during_an_overlap_cannot_grow_the_working_keys() {
    let mut store = Store::new().await;
    let first = store.new_key();
    let mut current = store.db.create_key(store.actor.clone(), first).await.unwrap().id;
    for _ in 0..15 {
        let new = store.new_key();
        match store.db.rotate_key(store.actor.clone(), current.clone(), new, 3600).await {
            Ok((replacement, _)) => current = replacement.id,
            Err(_) => break,
        }
    }
    assert_eq!(store.working().0, 2, "one key and the one it replaces, however often rotate is asked");
}
