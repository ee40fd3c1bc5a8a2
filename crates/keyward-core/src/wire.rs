//! The JSON both sides of the key service's HTTP API speak.
//!
//! Requests deny unknown fields, so a misspelt field is an error rather than silently ignored.
//! Times are RFC 3339 strings in UTC.

use serde::{Deserialize, Serialize};

use crate::scope::Scopes;
use crate::status::{KeyFacts, KeyStatus};
pub use crate::timestamp::Timestamp;

/// The longest label a key or device may have, in characters.
pub const MAX_NAME_CHARS: usize = 255;

macro_rules! schema {
    ($($item:item)*) => {
        $(
            #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
            #[cfg_attr(feature = "specta", derive(specta::Type))]
            $item
        )*
    };
}

schema! {
/// Every error: `{"error": {"code": "snake_case_code", "message": "A sentence a person can act on."}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

/// A person, as recorded on keys and audit events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub name: String,
    pub email: String,
}

/// `POST /api/session`
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    pub device_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    /// `owner` or `staff`.
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreInfo {
    pub id: String,
    pub name: String,
    /// The brand every key of this store starts with.
    pub brand: String,
    pub subscription_active: bool,
}

/// A signed-in device: one dashboard session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub id: String,
    pub name: String,
    pub user: Person,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub signed_out_at: Option<Timestamp>,
    /// Whether this is the device making the request.
    pub current: bool,
}

/// `201` from `POST /api/session`. The token is shown this once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionCreated {
    pub token: String,
    pub user: User,
    pub store: StoreInfo,
    pub device: Device,
}

/// A key as listed: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub id: String,
    pub name: String,
    pub key_prefix: String,
    pub scopes: Scopes,
    pub created_by: Person,
    /// The id of the device (dashboard session) the key was created from.
    pub created_device: Option<String>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub is_active: bool,
    pub revoked_at: Option<Timestamp>,
    pub revoked_by: Option<Person>,
    /// Set while a rotated key's overlap window runs: when it stops working.
    pub revokes_at: Option<Timestamp>,
    /// The key's status when the service built this record, decided by [`KeyStatus::of`] from
    /// the fields above. Show this; do not decide again. Required: a client reads records from
    /// a service of its own release.
    pub status: KeyStatus,
}

/// `GET /api/keys`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyList {
    pub keys: Vec<KeyRecord>,
}

/// `POST /api/keys`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    pub name: String,
    #[serde(default)]
    pub scopes: Option<Scopes>,
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
}

/// `201` from `POST /api/keys` and `POST /api/keys/{id}/rotate`: the record and, this once,
/// the whole key. The one shape of a key with its one-time secret: the CLI and the app hand on
/// this same value (its `Debug` hides the key).
#[derive(Clone, Serialize, Deserialize)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub record: KeyRecord,
    /// The full key. The service keeps only its hash and never shows it again.
    pub key: String,
}

/// `PATCH /api/keys/{id}`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateKeyRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub scopes: Option<Scopes>,
    #[serde(default)]
    pub is_active: Option<bool>,
}

/// `POST /api/keys/{id}/rotate`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateKeyRequest {
    /// How long the old key keeps working, so agents can switch over. 0 or absent: revoke now.
    #[serde(default)]
    pub overlap_seconds: Option<u32>,
}

/// `201` from rotate: the replacement (secret once) and the old key's record after the change.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RotatedKey {
    pub replacement: CreatedKey,
    pub previous: KeyRecord,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: i64,
    pub at: Timestamp,
    /// Who did it; absent for what the service did on its own (an overlap ending).
    pub actor: Option<Person>,
    pub actor_device: Option<String>,
    /// What happened, e.g. `key.created`, `key.revoked`, `connection.revoked`.
    pub action: String,
    /// `key`, `connection`, `device` or `store`.
    pub target_type: String,
    pub target_id: String,
    /// A sentence for people, e.g. `Created key "CI bot" (asmk_Ab12Cd34), read only`.
    pub summary: String,
}

/// `GET /api/audit`: newest first; pass `before=next_before` for the next page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    pub next_before: Option<i64>,
}

/// `DELETE /api/devices/{id}`: the device after sign-out and how many of its keys were revoked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedOutDevice {
    pub device: Device,
    pub revoked_keys: usize,
    /// Web-chat connections granted from that device and revoked with it.
    #[serde(default)]
    pub revoked_connections: usize,
}

/// `PATCH /api/me/password`: the current password proves it is the person, not just their
/// unlocked laptop.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// The password was changed; every other device of the person was signed out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasswordChanged {
    pub signed_out_devices: usize,
}

/// A person who can sign in to the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMember {
    pub id: String,
    pub name: String,
    pub email: String,
    /// `owner` or `staff`.
    pub role: String,
    pub created_at: Timestamp,
}

/// `GET /api/staff`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StaffList {
    pub staff: Vec<StaffMember>,
}

/// `POST /api/staff` (owner only): the new member signs in with this password.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStaffMember {
    pub name: String,
    pub email: String,
    pub password: String,
}

/// `DELETE /api/staff/{id}` (owner only): the member can no longer sign in, and every device
/// they were signed in on was signed out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemovedStaffMember {
    pub member: StaffMember,
    pub signed_out_devices: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceList {
    pub devices: Vec<Device>,
}

/// What kind of app a connection is: a web-chat app the merchant added as a custom connector
/// (claude.ai, ChatGPT), or a partner integration the operator registered. A service older
/// than this field sends none, which reads as a web-chat app.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionKind {
    #[default]
    WebChat,
    Partner,
}

/// An app the store is connected to through OAuth: a web-chat app or a partner integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub id: String,
    pub app_name: String,
    #[serde(default)]
    pub kind: ConnectionKind,
    /// The host the app's redirect URI points at (`claude.ai`), so the merchant can tell a
    /// real app from one that borrowed its name. `None` for connections made before it was kept.
    #[serde(default)]
    pub redirect_host: Option<String>,
    pub granted_by: Person,
    /// The signed-in device whose connection code approved it; `None` when the merchant signed
    /// in on the consent page instead.
    #[serde(default)]
    pub granted_device: Option<String>,
    pub created_at: Timestamp,
    pub scopes: Scopes,
    /// The last request the app made with one of its tokens.
    #[serde(default)]
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectionList {
    pub connections: Vec<Connection>,
}

/// `POST /api/connections/codes`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionCodeRequest {
    #[serde(default)]
    pub scopes: Option<Scopes>,
    /// The app the code is for, as the merchant will see it in the connections list.
    #[serde(default)]
    pub app_name: Option<String>,
}

/// A one-time code a web-chat app exchanges at `POST /oauth/token`; valid ten minutes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectionCode {
    pub code: String,
    pub scopes: Scopes,
    pub app_name: String,
    pub expires_at: Timestamp,
}

/// `POST /oauth/token` (form-encoded, as OAuth clients send it). Fields OAuth defines that
/// this service does not use are ignored, not refused, as RFC 6749 §3.2 asks.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct TokenRequest {
    /// `authorization_code` or `refresh_token`.
    pub grant_type: String,
    /// The authorization code from the redirect (`authorization_code`).
    #[serde(default)]
    pub code: Option<String>,
    /// The PKCE verifier whose S256 challenge the authorization request carried.
    #[serde(default)]
    pub code_verifier: Option<String>,
    #[serde(default)]
    pub redirect_uri: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// A public client names itself here; a confidential one may send its secret too
    /// (`client_secret_post`) or use HTTP Basic.
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<String>,
    /// RFC 8707: the resource the token is for, this service's `/mcp` URL.
    #[serde(default)]
    pub resource: Option<String>,
    /// Ignored: a connection's scopes are what the merchant approved.
    #[serde(default)]
    pub scope: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    pub expires_in: u64,
    pub refresh_token: String,
    /// Space-separated, as OAuth writes scopes.
    pub scope: String,
}

/// One key as the verifier mirror holds it: hashes and status, never secrets. It carries the
/// facts, not a decided [`KeyStatus`]: the mirror verifies offline, later, so it decides with
/// [`KeyStatus::of`] at that moment (an overlap or an expiry may have ended since the sync).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorRecord {
    pub id: String,
    pub key_prefix: String,
    /// The argon2id PHC string of the secret.
    pub secret_hash: String,
    pub scopes: Scopes,
    #[serde(deserialize_with = "crate::timestamp::present")]
    pub expires_at: Option<Timestamp>,
    pub is_active: bool,
    #[serde(deserialize_with = "crate::timestamp::present")]
    pub revoked_at: Option<Timestamp>,
    #[serde(deserialize_with = "crate::timestamp::present")]
    pub revokes_at: Option<Timestamp>,
    pub updated_at: Timestamp,
}

/// `GET /api/mirror?since=CURSOR`: the records changed after the cursor, oldest change first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MirrorPage {
    pub store: StoreInfo,
    pub records: Vec<MirrorRecord>,
    /// Pass this as `since` next time.
    pub cursor: String,
    /// Whether more changes are waiting past this page.
    pub has_more: bool,
}

/// `GET /v1/whoami`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Whoami {
    pub store: StoreInfo,
    /// The key's prefix, or for a web-chat token, `connection:{id}`.
    pub key_prefix: String,
    pub scopes: Scopes,
}

/// A raw material the store keeps in stock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawMaterial {
    pub id: i64,
    pub name: String,
    /// The unit stock is counted in, e.g. `kg` or `pcs`.
    pub unit: String,
    pub stock: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRawMaterial {
    pub name: String,
    pub unit: String,
    #[serde(default)]
    pub stock: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMaterialChange {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub stock: Option<f64>,
}

/// One line of a bill of materials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BomLine {
    pub raw_material_id: i64,
    pub quantity: f64,
}

/// A bill of materials: what one unit of a product is made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bom {
    pub id: i64,
    pub product: String,
    pub lines: Vec<BomLine>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewBom {
    pub product: String,
    pub lines: Vec<BomLine>,
}
}

impl KeyRecord {
    /// What [`Self::status`] is decided from.
    pub fn facts(&self) -> KeyFacts {
        KeyFacts { revoked_at: self.revoked_at.map(Timestamp::get), revokes_at: self.revokes_at.map(Timestamp::get), expires_at: self.expires_at.map(Timestamp::get), is_active: self.is_active }
    }
}

/// Bodies that carry a password, a key or another secret show it as `[hidden]` when
/// debug-printed, so a log line that prints one can never leak it.
macro_rules! debug_without_secrets {
    ($($ty:ident { $($field:ident),* } hiding { $($secret:ident),* }),* $(,)?) => {
        $(impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), &self.$field))*
                    $(.field(stringify!($secret), &"[hidden]"))*
                    .finish()
            }
        })*
    };
}

debug_without_secrets! {
    CreatedKey { record } hiding { key },
    LoginRequest { email, device_name } hiding { password },
    PasswordChange {} hiding { current_password, new_password },
    NewStaffMember { name, email } hiding { password },
    TokenRequest { grant_type, client_id, redirect_uri, resource, scope } hiding { code, code_verifier, refresh_token, client_secret },
}

/// Checks a label for a key, device or app: not blank, at most [`MAX_NAME_CHARS`] characters,
/// no control characters. Returns it trimmed.
pub fn validate_name(what: &str, name: &str) -> Result<String, String> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(format!("The {what} is empty. Give it a name people will recognise."));
    }
    if trimmed.chars().count() > MAX_NAME_CHARS {
        return Err(format!("The {what} is longer than {MAX_NAME_CHARS} characters. Shorten it."));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(format!("The {what} contains control characters. Use plain text."));
    }
    Ok(trimmed.to_owned())
}

impl ConnectionKind {
    /// As the database keeps it (the same as on the wire).
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionKind::WebChat => "web_chat",
            ConnectionKind::Partner => "partner",
        }
    }

    pub fn from_db(value: &str) -> Self {
        if value == "partner" { ConnectionKind::Partner } else { ConnectionKind::WebChat }
    }

    /// For people: "web chat" or "partner".
    pub fn label(self) -> &'static str {
        match self {
            ConnectionKind::WebChat => "web chat",
            ConnectionKind::Partner => "partner",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show_in_debug_output() {
        let printed = [
            format!("{:?}", LoginRequest { email: "a@b.test".into(), password: "hunter2-secret".into(), device_name: "laptop".into() }),
            format!("{:?}", PasswordChange { current_password: "hunter2-secret".into(), new_password: "hunter3-secret".into() }),
            format!("{:?}", NewStaffMember { name: "Sam".into(), email: "sam@b.test".into(), password: "hunter2-secret".into() }),
        ];
        for text in printed {
            assert!(!text.contains("hunter"), "{text}");
            assert!(text.contains("[hidden]"), "{text}");
        }
    }

    #[test]
    fn a_created_key_reads_as_the_service_sends_it_and_never_shows_its_key_in_debug_output() {
        let json = r#"{"id":"Ab12Cd34","name":"bot","key_prefix":"kw_Ab12Cd34","scopes":["read"],
            "created_by":{"name":"Ann","email":"ann@b.test"},"created_device":null,"created_at":"2026-05-28T20:26:40Z",
            "last_used_at":null,"expires_at":null,"is_active":true,"revoked_at":null,"revoked_by":null,"revokes_at":null,
            "status":"active","key":"kw_Ab12Cd34SECRETSECRET"}"#;
        let created: CreatedKey = serde_json::from_str(json).unwrap();
        assert_eq!((created.record.key_prefix.as_str(), created.key.as_str()), ("kw_Ab12Cd34", "kw_Ab12Cd34SECRETSECRET"));
        assert_eq!(created.record.created_at, Timestamp::from_unix(1_780_000_000));
        let printed = format!("{created:?}");
        assert!(!printed.contains("SECRET") && printed.contains("[hidden]") && printed.contains("kw_Ab12Cd34"), "{printed}");
    }

    #[test]
    fn a_mirror_record_without_its_revocation_or_expiry_is_refused_not_taken_for_a_working_key() {
        let record = serde_json::json!({"id": "Ab12Cd34", "key_prefix": "kw_Ab12Cd34", "secret_hash": "$argon2id$x", "scopes": ["read"],
            "expires_at": null, "is_active": true, "revoked_at": "2026-05-28T20:26:40Z", "revokes_at": null, "updated_at": "2026-05-28T20:26:40Z"});
        assert!(serde_json::from_value::<MirrorRecord>(record.clone()).unwrap().revoked_at.is_some());
        for fact in ["revoked_at", "revokes_at", "expires_at"] {
            let mut cut = record.clone();
            cut.as_object_mut().unwrap().remove(fact);
            assert!(serde_json::from_value::<MirrorRecord>(cut).is_err(), "a record without {fact} was read");
        }
    }

    #[test]
    fn requests_refuse_unknown_fields() {
        let err = serde_json::from_str::<CreateKeyRequest>(r#"{"name":"x","scope":["read"]}"#);
        assert!(err.is_err());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(validate_name("key label", "  CI bot ").unwrap(), "CI bot");
        assert!(validate_name("key label", "   ").is_err());
        assert!(validate_name("key label", &"é".repeat(255)).is_ok());
        assert!(validate_name("key label", &"é".repeat(256)).is_err());
        assert!(validate_name("key label", "a\u{0}b").is_err());
    }
}

