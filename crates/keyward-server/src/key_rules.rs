//! What a change may do to a key in which state: the rules every storage backend checks inside
//! the transaction that makes the change, written once here. The state comes from the record's
//! [`KeyStatus`](keyward_core::KeyStatus) and, where the rule needs it, the facts under it.

use keyward_core::wire::KeyRecord;
use keyward_core::{KeyFacts, KeyStatus};
use time::OffsetDateTime;

use crate::problems::Problem;

/// A rename, rescope, deactivation or reactivation: refused once the key is revoked.
pub fn may_change(key: &KeyRecord) -> Result<(), Problem> {
    if key.status == KeyStatus::Revoked {
        return Err(Problem::KeyRevoked { prefix: key.key_prefix.clone() });
    }
    Ok(())
}

/// A key this one replaced, still working in its overlap: its prefix and when it stops.
pub struct WorkingPredecessor {
    pub prefix: String,
    pub until: OffsetDateTime,
}

/// A rotation. A key whose rotation is under way is refused as such even when it is also
/// deactivated or expired; a switched-off key as deactivated even when it has also expired;
/// and a key whose own predecessor still works may not be rotated until that one stops, so at
/// most two keys of a chain work at once.
pub fn may_rotate(key: &KeyRecord, predecessor: Option<WorkingPredecessor>) -> Result<(), Problem> {
    if key.status == KeyStatus::Revoked || key.revokes_at.is_some() {
        return Err(Problem::KeyAlreadyRotated { prefix: key.key_prefix.clone() });
    }
    if !key.is_active {
        return Err(Problem::KeyDeactivated { prefix: key.key_prefix.clone() });
    }
    if let Some(WorkingPredecessor { prefix, until }) = predecessor {
        return Err(Problem::PredecessorStillWorks {
            prefix: key.key_prefix.clone(),
            predecessor: prefix,
            until: until.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        });
    }
    Ok(())
}

/// The most working keys one store may hold.
pub const ACTIVE_KEY_LIMIT: i64 = 10;

/// One of a store's keys, as the limit sees it.
pub struct LimitedKey {
    pub id: String,
    /// The key this one replaced by rotation.
    pub replaces: Option<String>,
    pub facts: KeyFacts,
}

/// How many of a store's keys count against [`ACTIVE_KEY_LIMIT`] at `at`: every key that works
/// (not revoked, switched on, not expired), except a rotated key in its overlap whose
/// replacement works, because that pair is one key changing hands. So the keys that work are at
/// most the limit plus, during an overlap, the one key each of them replaces; a replacement
/// whose predecessor still works cannot be rotated again (see [`may_rotate`]), so overlaps
/// never chain. Backends count after the change, inside its transaction, so one rule holds for
/// create, reactivate and rotate alike.
pub fn counted_toward_limit(keys: &[LimitedKey], at: OffsetDateTime) -> i64 {
    let status = |k: &LimitedKey| KeyStatus::of(&k.facts, at);
    let handed_over: std::collections::HashSet<&str> =
        keys.iter().filter(|k| status(k) == KeyStatus::Active).filter_map(|k| k.replaces.as_deref()).collect();
    let counted = keys
        .iter()
        .filter(|k| match status(k) {
            KeyStatus::Active => true,
            KeyStatus::RotatingOut => !handed_over.contains(k.id.as_str()),
            KeyStatus::Deactivated | KeyStatus::Expired | KeyStatus::Revoked => false,
        })
        .count();
    i64::try_from(counted).unwrap_or(i64::MAX)
}

/// Whether a store with these keys is within the limit.
pub fn within_limit(keys: &[LimitedKey], at: OffsetDateTime) -> bool {
    counted_toward_limit(keys, at) <= ACTIVE_KEY_LIMIT
}

#[cfg(test)]
mod tests {
    use keyward_core::Scopes;
    use keyward_core::wire::Person;

    use super::*;

    fn limited(id: &str, replaces: Option<&str>, revokes_at: Option<i64>, expires_at: Option<i64>, is_active: bool) -> LimitedKey {
        LimitedKey { id: id.into(), replaces: replaces.map(Into::into), facts: KeyFacts::from_unix(None, revokes_at, expires_at, is_active) }
    }

    #[test]
    fn the_limit_counts_working_keys_and_a_pair_changing_hands_once() {
        let t = 1_000;
        let at = OffsetDateTime::from_unix_timestamp(t).unwrap();
        let keys = [
            limited("active", None, None, None, true),
            limited("off", None, None, None, false),
            limited("expired", None, None, Some(t), true),
            limited("ended", None, Some(t), None, true),
            // Rotating out, its replacement active: one key changing hands.
            limited("old", None, Some(t + 60), None, true),
            limited("new", Some("old"), None, None, true),
            // Rotating out, its replacement switched off: both count as far as they work.
            limited("old2", None, Some(t + 60), None, true),
            limited("new2", Some("old2"), None, None, false),
        ];
        assert_eq!(counted_toward_limit(&keys, at), 3, "`active`, `new` and `old2`");
        assert_eq!(counted_toward_limit(&keys[..1], at), 1);
        assert_eq!(counted_toward_limit(&[], at), 0);
        assert!(within_limit(&keys, at));
    }

    fn key(status: KeyStatus, is_active: bool, rotating: bool) -> KeyRecord {
        let now = OffsetDateTime::UNIX_EPOCH;
        KeyRecord {
            id: "Ab12Cd34".into(),
            name: "bot".into(),
            key_prefix: "kw_Ab12Cd34".into(),
            scopes: Scopes::read_only(),
            created_by: Person { name: "Ada".into(), email: "ada@acme.test".into() },
            created_device: None,
            created_at: now.into(),
            last_used_at: None,
            expires_at: None,
            is_active,
            revoked_at: None,
            revoked_by: None,
            revokes_at: rotating.then_some(now.into()),
            status,
        }
    }

    #[test]
    fn a_revoked_key_cannot_change_and_any_other_can() {
        assert!(matches!(may_change(&key(KeyStatus::Revoked, true, false)), Err(Problem::KeyRevoked { .. })));
        for status in [KeyStatus::Active, KeyStatus::RotatingOut, KeyStatus::Deactivated, KeyStatus::Expired] {
            assert!(may_change(&key(status, true, false)).is_ok(), "{status:?}");
        }
    }

    #[test]
    fn rotation_is_refused_for_the_first_reason_that_holds() {
        // Rotating out and also deactivated: refused as already rotated.
        let rotating_and_off = key(KeyStatus::Deactivated, false, true);
        assert!(matches!(may_rotate(&rotating_and_off, None), Err(Problem::KeyAlreadyRotated { .. })));
        // Switched off and also expired: refused as deactivated.
        let off_and_expired = key(KeyStatus::Expired, false, false);
        assert!(matches!(may_rotate(&off_and_expired, None), Err(Problem::KeyDeactivated { .. })));
        let busy = WorkingPredecessor { prefix: "kw_Zz99Yy88".into(), until: OffsetDateTime::UNIX_EPOCH };
        let refused = may_rotate(&key(KeyStatus::Active, true, false), Some(busy)).unwrap_err();
        assert!(refused.to_string().contains("kw_Zz99Yy88, which keeps working until 1970-01-01T00:00:00Z"), "{refused}");
        assert!(may_rotate(&key(KeyStatus::Active, true, false), None).is_ok());
    }
}
