//! A moment as Keyward's API, CLI and app exchange it: an RFC 3339 string in UTC on the wire,
//! a `string` in the app's TypeScript bindings and the OpenAPI document, a
//! [`time::OffsetDateTime`] in Rust. Storage keeps Unix seconds; [`Timestamp::from_unix`] and
//! [`Timestamp::unix`] convert, and [`unix_now`] is the one clock storage reads.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = DateTime))]
#[cfg_attr(feature = "specta", derive(specta::Type), specta(type = String))]
pub struct Timestamp(#[serde(with = "time::serde::rfc3339")] OffsetDateTime);

impl Timestamp {
    /// Now, to the second, as storage keeps times (so a time read back compares equal): the
    /// same clock as [`unix_now`].
    pub fn now() -> Timestamp {
        Timestamp::from_unix(unix_now())
    }

    /// From Unix seconds, as the key service and the mirror store times. A time out of range
    /// reads as the epoch, the safe side for every rule that reads one: revoked or expired
    /// long ago.
    pub fn from_unix(secs: i64) -> Timestamp {
        Timestamp(OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH))
    }

    pub fn unix(self) -> i64 {
        self.0.unix_timestamp()
    }

    pub fn get(self) -> OffsetDateTime {
        self.0
    }
}

/// Reads an optional time that must be in the message, `null` when there is none: a record
/// whose revocation or expiry was left out is refused instead of read as "never", so it cannot
/// pass for a working key. For `#[serde(deserialize_with = "…::present")]` on the facts the
/// verifier mirror decides a key's status from offline (`wire::MirrorRecord`); records that are
/// only shown carry the status the service decided, and read a missing time as none.
pub fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Timestamp>, D::Error> {
    Option::<Timestamp>::deserialize(deserializer)
}

/// Now, in the Unix seconds storage keeps.
pub fn unix_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

impl Deref for Timestamp {
    type Target = OffsetDateTime;

    fn deref(&self) -> &OffsetDateTime {
        &self.0
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(at: OffsetDateTime) -> Timestamp {
        Timestamp(at)
    }
}

impl From<Timestamp> for OffsetDateTime {
    fn from(at: Timestamp) -> OffsetDateTime {
        at.0
    }
}

/// RFC 3339, as on the wire.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(&Rfc3339) {
            Ok(text) => f.write_str(&text),
            Err(_) => write!(f, "{}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timestamp_is_an_rfc_3339_string_on_the_wire_and_reads_back_the_same() {
        let at = Timestamp::from_unix(1_780_000_000);
        let json = serde_json::to_string(&at).unwrap();
        assert_eq!(json, "\"2026-05-28T20:26:40Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), at);
        assert_eq!(at.to_string(), "2026-05-28T20:26:40Z");
        assert_eq!(serde_json::to_string(&Some(at)).unwrap(), json);
        assert_eq!(serde_json::from_str::<Option<Timestamp>>("null").unwrap(), None);
    }

    #[test]
    fn a_time_that_is_not_rfc_3339_is_refused() {
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
        assert!(serde_json::from_str::<Timestamp>("1780000000").is_err());
    }

    #[test]
    fn a_record_that_leaves_out_its_revocation_is_refused_not_read_as_never_revoked() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Record {
            #[serde(deserialize_with = "present")]
            revoked_at: Option<Timestamp>,
        }
        assert!(serde_json::from_str::<Record>("{}").is_err());
        assert_eq!(serde_json::from_str::<Record>(r#"{"revoked_at":null}"#).unwrap().revoked_at, None);
        let at = serde_json::from_str::<Record>(r#"{"revoked_at":"2026-05-28T20:26:40Z"}"#).unwrap().revoked_at;
        assert_eq!(at, Some(Timestamp::from_unix(1_780_000_000)));
    }

    #[test]
    fn unix_seconds_out_of_range_read_as_the_epoch() {
        assert_eq!(Timestamp::from_unix(i64::MAX).get(), OffsetDateTime::UNIX_EPOCH);
        assert_eq!(Timestamp::from_unix(1_780_000_000).unix(), 1_780_000_000);
    }
}
