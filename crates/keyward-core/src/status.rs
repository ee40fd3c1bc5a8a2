//! A key's status, decided in one place.
//!
//! The key service (authentication, the rules for changing a key, the ten-key limit, the records
//! it lists), the local verifier mirror (offline verification), the CLI and the desktop app all
//! ask [`KeyStatus::of`]. Nobody else decides whether a key is revoked, expired, deactivated,
//! rotating out or active.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Where a key stands at one moment. Exactly one applies; the first that holds wins:
///
/// 1. [`Revoked`](KeyStatus::Revoked): revoked, or rotated and its overlap window has ended
///    (even before the service's sweeper has written the revocation down);
/// 2. [`Expired`](KeyStatus::Expired): its expiry has passed;
/// 3. [`Deactivated`](KeyStatus::Deactivated): switched off, and may be switched back on;
/// 4. [`RotatingOut`](KeyStatus::RotatingOut): rotated, still working until its overlap ends;
/// 5. [`Active`](KeyStatus::Active).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Works.
    Active,
    /// Rotated: works until its overlap window ends, then counts as revoked.
    RotatingOut,
    /// Switched off: refused until reactivated.
    Deactivated,
    /// Past its expiry: refused for good.
    Expired,
    /// Revoked: refused for good.
    Revoked,
}

/// What a key's status is decided from, as the service stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyFacts {
    /// When the key was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
    /// When a rotated key's overlap window ends (it stops working then).
    pub revokes_at: Option<OffsetDateTime>,
    pub expires_at: Option<OffsetDateTime>,
    pub is_active: bool,
}

impl KeyFacts {
    /// From times in unix seconds, as the key service and the mirror store them (see
    /// [`Timestamp::from_unix`](crate::Timestamp::from_unix) for a time out of range).
    pub fn from_unix(revoked_at: Option<i64>, revokes_at: Option<i64>, expires_at: Option<i64>, is_active: bool) -> KeyFacts {
        let time = |secs: Option<i64>| secs.map(|s| crate::Timestamp::from_unix(s).get());
        KeyFacts { revoked_at: time(revoked_at), revokes_at: time(revokes_at), expires_at: time(expires_at), is_active }
    }

    /// When the key stopped working for good by revocation, as of `now`: its revocation, or
    /// the end of a rotation overlap that has passed.
    pub fn revoked_since(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        self.revoked_at.or(self.revokes_at.filter(|&at| at <= now))
    }

    /// When the key expired, if that has happened by `now`.
    pub fn expired_since(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        self.expires_at.filter(|&at| at <= now)
    }

    /// The key's status at `now`; the same as [`KeyStatus::of`].
    pub fn status(&self, now: OffsetDateTime) -> KeyStatus {
        KeyStatus::of(self, now)
    }
}

impl KeyStatus {
    /// The one decision: the status of a key with these facts at `now`.
    pub fn of(facts: &KeyFacts, now: OffsetDateTime) -> KeyStatus {
        if facts.revoked_since(now).is_some() {
            KeyStatus::Revoked
        } else if facts.expired_since(now).is_some() {
            KeyStatus::Expired
        } else if !facts.is_active {
            KeyStatus::Deactivated
        } else if facts.revokes_at.is_some() {
            KeyStatus::RotatingOut
        } else {
            KeyStatus::Active
        }
    }

    /// Whether a request with the key is accepted (as far as the key goes: its store may
    /// still refuse it).
    pub fn works(self) -> bool {
        matches!(self, KeyStatus::Active | KeyStatus::RotatingOut)
    }

    /// Whether the key is gone for good (revoked or expired): it can never work again.
    pub fn is_final(self) -> bool {
        matches!(self, KeyStatus::Revoked | KeyStatus::Expired)
    }

    /// The status as people read it: `active`, `rotating out`, `deactivated`, `expired`,
    /// `revoked`.
    pub fn label(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::RotatingOut => "rotating out",
            KeyStatus::Deactivated => "deactivated",
            KeyStatus::Expired => "expired",
            KeyStatus::Revoked => "revoked",
        }
    }

    /// Every status, in the order of precedence of [`KeyStatus::of`] (first wins).
    pub const ALL: [KeyStatus; 5] =
        [KeyStatus::Revoked, KeyStatus::Expired, KeyStatus::Deactivated, KeyStatus::RotatingOut, KeyStatus::Active];
}

impl std::fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::Duration;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_780_000_000 + seconds).unwrap()
    }

    const NOW: i64 = 0;

    fn facts(revoked_at: Option<i64>, revokes_at: Option<i64>, expires_at: Option<i64>, is_active: bool) -> KeyFacts {
        KeyFacts { revoked_at: revoked_at.map(at), revokes_at: revokes_at.map(at), expires_at: expires_at.map(at), is_active }
    }

    #[test]
    fn each_status_from_its_facts() {
        let now = at(NOW);
        assert_eq!(KeyStatus::of(&facts(None, None, None, true), now), KeyStatus::Active);
        assert_eq!(KeyStatus::of(&facts(None, Some(60), None, true), now), KeyStatus::RotatingOut);
        assert_eq!(KeyStatus::of(&facts(None, None, None, false), now), KeyStatus::Deactivated);
        assert_eq!(KeyStatus::of(&facts(None, None, Some(-1), true), now), KeyStatus::Expired);
        assert_eq!(KeyStatus::of(&facts(Some(-60), None, None, true), now), KeyStatus::Revoked);
    }

    #[test]
    fn an_ended_overlap_is_a_revocation_at_its_end() {
        let now = at(NOW);
        let ended = facts(None, Some(NOW), None, true);
        assert_eq!(KeyStatus::of(&ended, now), KeyStatus::Revoked);
        assert_eq!(ended.revoked_since(now), Some(now));
        // One second earlier it was still rotating out.
        assert_eq!(KeyStatus::of(&ended, now - Duration::seconds(1)), KeyStatus::RotatingOut);
    }

    #[test]
    fn unix_seconds_read_as_times_and_out_of_range_as_the_epoch() {
        let key = KeyFacts::from_unix(None, Some(1_780_000_060), Some(i64::MAX), true);
        assert_eq!(key.revokes_at, Some(at(60)));
        assert_eq!(key.expires_at, Some(OffsetDateTime::UNIX_EPOCH));
        assert_eq!(key.revoked_at, None);
        assert_eq!(KeyStatus::of(&key, at(NOW)), KeyStatus::Expired);
    }

    #[test]
    fn expiry_counts_from_its_own_second() {
        let key = facts(None, None, Some(NOW), true);
        assert_eq!(KeyStatus::of(&key, at(NOW)), KeyStatus::Expired);
        assert_eq!(KeyStatus::of(&key, at(NOW - 1)), KeyStatus::Active);
    }

    #[test]
    fn precedence_revoked_expired_deactivated_rotating_out() {
        let now = at(NOW);
        // Everything at once: revoked wins.
        assert_eq!(KeyStatus::of(&facts(Some(-5), Some(60), Some(-5), false), now), KeyStatus::Revoked);
        // Not revoked: expiry wins over deactivation and rotation.
        assert_eq!(KeyStatus::of(&facts(None, Some(60), Some(-5), false), now), KeyStatus::Expired);
        // Not expired: deactivation wins over rotation.
        assert_eq!(KeyStatus::of(&facts(None, Some(60), None, false), now), KeyStatus::Deactivated);
        // A revocation still in the future is still a revocation: `revoked_at` is only ever
        // written when it happens.
        assert_eq!(KeyStatus::of(&facts(Some(60), None, None, true), now), KeyStatus::Revoked);
    }

    #[test]
    fn labels_and_wire_names() {
        let labels: Vec<_> = KeyStatus::ALL.iter().map(|s| s.label()).collect();
        assert_eq!(labels, ["revoked", "expired", "deactivated", "rotating out", "active"]);
        let wire: Vec<_> = KeyStatus::ALL.iter().map(|s| serde_json::to_string(s).unwrap()).collect();
        assert_eq!(wire, ["\"revoked\"", "\"expired\"", "\"deactivated\"", "\"rotating_out\"", "\"active\""]);
        for status in KeyStatus::ALL {
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(serde_json::from_str::<KeyStatus>(&json).unwrap(), status);
            assert_eq!(status.to_string(), status.label());
        }
        assert!(serde_json::from_str::<KeyStatus>("\"rotating out\"").is_err());
    }

    #[test]
    fn only_active_and_rotating_out_work() {
        let working: Vec<_> = KeyStatus::ALL.into_iter().filter(|s| s.works()).collect();
        assert_eq!(working, [KeyStatus::RotatingOut, KeyStatus::Active]);
        let gone: Vec<_> = KeyStatus::ALL.into_iter().filter(|s| s.is_final()).collect();
        assert_eq!(gone, [KeyStatus::Revoked, KeyStatus::Expired]);
    }

    fn any_time() -> impl Strategy<Value = Option<i64>> {
        prop::option::of(-100i64..100)
    }

    fn any_facts() -> impl Strategy<Value = KeyFacts> {
        (any_time(), any_time(), any_time(), any::<bool>()).prop_map(|(r, o, e, a)| facts(r, o, e, a))
    }

    proptest! {
        /// The decision, written out as the key service's authentication made it before there
        /// was a `KeyStatus`: revoked (overlap ended included), then expired, then inactive;
        /// and as the CLI and the app labelled a working key: rotating out while `revokes_at`
        /// is set.
        #[test]
        fn agrees_with_the_rules_it_replaced(key in any_facts(), now in -100i64..100) {
            let t = at(now);
            let revoked = key.revoked_at.or(key.revokes_at.filter(|&x| x <= t)).is_some();
            let expired = key.expires_at.is_some_and(|x| x <= t);
            let expected = if revoked {
                KeyStatus::Revoked
            } else if expired {
                KeyStatus::Expired
            } else if !key.is_active {
                KeyStatus::Deactivated
            } else if key.revokes_at.is_some() {
                KeyStatus::RotatingOut
            } else {
                KeyStatus::Active
            };
            prop_assert_eq!(KeyStatus::of(&key, t), expected);
            prop_assert_eq!(key.status(t), expected);
        }

        #[test]
        fn a_revoked_or_expired_key_never_works(key in any_facts(), now in -100i64..100) {
            let status = KeyStatus::of(&key, at(now));
            if key.revoked_at.is_some() {
                prop_assert_eq!(status, KeyStatus::Revoked);
            }
            if key.revoked_since(at(now)).is_some() || key.expired_since(at(now)).is_some() || !key.is_active {
                prop_assert!(!status.works());
            }
            prop_assert_eq!(status.works(), matches!(status, KeyStatus::Active | KeyStatus::RotatingOut));
        }

        /// Time only takes a key's use away: what works later worked earlier, and what is gone
        /// for good stays gone.
        #[test]
        fn time_never_brings_a_key_back(key in any_facts(), earlier in -100i64..100, later_by in 0i64..100) {
            let before = KeyStatus::of(&key, at(earlier));
            let after = KeyStatus::of(&key, at(earlier + later_by));
            if after.works() {
                prop_assert!(before.works());
            }
            if before.is_final() {
                prop_assert!(after.is_final());
            }
            if before == KeyStatus::Revoked {
                prop_assert_eq!(after, KeyStatus::Revoked);
            }
        }
    }
}
