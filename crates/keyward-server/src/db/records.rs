//! What crosses the [`Store`](super::Store) interface besides the wire types: rows to insert,
//! changes to make, and what authentication reads back. Both backends take and return exactly
//! these, so callers never learn which one they talk to.

use keyward_core::wire::{Device, User};
use keyward_core::{KeyFacts, Scopes};
use keyward_core::Timestamp;

/// Who makes a change through the management API: a person, on a device, in one store.
/// Every change they make is pinned to that store and recorded with both in the audit trail.
#[derive(Debug, Clone)]
pub struct Actor {
    pub store_id: String,
    pub user_id: String,
    pub device_id: String,
}

// ---- keys ----

/// A key to insert. The secret was hashed by the caller, outside any transaction.
pub struct NewKey {
    pub id: String,
    pub name: String,
    pub scopes: Scopes,
    pub expires_at: Option<i64>,
    pub secret_hash: String,
}

/// A change to a key: each part that is `Some` is applied.
#[derive(Debug, Clone, Default)]
pub struct KeyChange {
    pub name: Option<String>,
    pub scopes: Option<Scopes>,
    pub is_active: Option<bool>,
}

/// What the data plane needs to decide whether a key works, read fresh on every request.
#[derive(Debug, Clone)]
pub struct KeyAuthRow {
    pub id: String,
    pub store_id: String,
    pub secret_hash: String,
    pub scopes: Scopes,
    /// What the key's [`KeyStatus`](keyward_core::KeyStatus) is decided from, at the moment of the request.
    pub facts: KeyFacts,
    pub store_name: String,
    pub subscription_active: bool,
    pub store_uninstalled: bool,
}

// ---- stores and people ----

/// A store to create, with its owner.
pub struct NewStore {
    pub name: String,
    pub owner_name: String,
    pub owner_email: String,
    pub owner_password_hash: String,
}

/// A store as the operator lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSummary {
    pub id: String,
    pub name: String,
    pub subscription_active: bool,
    pub uninstalled: bool,
}

/// A signed-in session, as the management API's extractor sees it.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub device_id: String,
    pub store_id: String,
    pub user_id: String,
    pub user_name: String,
    pub user_email: String,
    pub role: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// Signed out, or the person was removed from the store.
    pub signed_out: bool,
    pub store_uninstalled: bool,
}

/// A device after sign-out, and what was revoked with it.
pub struct SignedOut {
    pub device: Device,
    pub revoked_keys: usize,
    pub revoked_connections: usize,
}

/// A user found by email, for sign-in.
pub struct LoginCandidate {
    pub user: User,
    pub store_id: String,
    pub password_hash: String,
    pub store_uninstalled: bool,
}

// ---- connections and their tokens ----

/// Digests of a freshly minted token pair, made by the caller who holds the tokens.
pub struct IssuedTokens {
    pub access_hash: Vec<u8>,
    pub refresh_hash: Vec<u8>,
}

/// A one-time connection code to store; the caller holds the code, this only its digest.
pub struct NewConnectionCode {
    pub app_name: String,
    pub scopes: Scopes,
    pub code_hash: Vec<u8>,
    pub expires_at: i64,
}

/// What `revoke_token` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRevocation {
    Revoked,
    /// Unknown, or its connection already ended.
    NothingToRevoke,
    /// The token belongs to another client.
    AnotherClients,
}

/// Who is asking at the token endpoint, as far as a grant must match it.
#[derive(Debug, Clone)]
pub struct TokenClient {
    pub client_id: String,
    /// The `resource` the request names (RFC 8707), if any.
    pub resource: Option<String>,
}

/// What the data plane needs to decide whether a connection token works.
#[derive(Debug, Clone)]
pub struct ConnectionTokenStatus {
    pub connection_id: String,
    pub store_id: String,
    pub scopes: Scopes,
    pub expired: bool,
    pub revoked: bool,
    pub store_name: String,
    pub subscription_active: bool,
    pub store_uninstalled: bool,
    /// The resource the token works at; `None`: any (connections made before resources).
    pub resource: Option<String>,
}

/// What a connection code that was just used vouches for: who approved, for which store, with
/// which scopes, from which device.
pub(crate) struct RedeemedCode {
    pub store_id: String,
    pub scopes: String,
    pub granted_by: String,
    pub granted_device: Option<String>,
}

/// A connection to make from an approved authorization code.
pub(crate) struct NewConnection<'a> {
    pub store_id: &'a str,
    pub client_id: &'a str,
    pub app_name: &'a str,
    pub kind: &'a str,
    pub redirect_host: Option<&'a str>,
    pub resource: &'a str,
    pub scopes: &'a str,
    pub granted_by: &'a str,
    pub granted_device: Option<&'a str>,
}

// ---- authorization codes ----

/// What the merchant approved, for which client and request; the caller holds the code.
#[derive(Debug, Clone)]
pub struct NewAuthorizationCode {
    pub code_hash: Vec<u8>,
    pub client_id: String,
    pub app_name: String,
    /// `web_chat` or `partner`.
    pub kind: &'static str,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub resource: String,
}

/// The store an approval was for, to name on the way out.
#[derive(Debug, Clone)]
pub struct Approved {
    pub store_id: String,
    pub scopes: Scopes,
}

/// What the token endpoint presents with a code.
#[derive(Debug, Clone)]
pub struct PresentedCode {
    pub client: TokenClient,
    pub redirect_uri: Option<String>,
    pub code_verifier: String,
}

// ---- OAuth clients ----

/// A client to register. The caller validated everything and holds the secret, if any.
pub struct NewClient {
    pub name: String,
    /// `registered` (RFC 7591) or `partner` (the operator).
    pub kind: &'static str,
    pub redirect_uris: Vec<String>,
    pub auth_method: String,
    pub secret_hash: Option<Vec<u8>>,
}

/// A client as registered.
#[derive(Debug, Clone)]
pub struct ClientRecord {
    pub id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub auth_method: String,
    pub created_at: i64,
}

/// A client found by id: the record, whether the operator registered it as a partner, and
/// the digest of its secret if it is confidential.
#[derive(Debug, Clone)]
pub struct FoundClient {
    pub record: ClientRecord,
    pub partner: bool,
    pub secret_hash: Option<Vec<u8>>,
}

/// A partner app as the operator lists it.
#[derive(Debug, Clone)]
pub struct PartnerRecord {
    pub client: ClientRecord,
    pub last_used_at: Option<i64>,
}

/// What removing a partner app did.
#[derive(Debug, Clone)]
pub struct RemovedPartner {
    pub name: String,
    /// How many live connections it had, now revoked.
    pub revoked_connections: usize,
}

// ---- rows as both backends read them, turned into wire records in one place ----

/// A key's columns as `SELECT`ed for a [`KeyRecord`](keyward_core::wire::KeyRecord).
pub(crate) struct KeyColumns {
    pub id: String,
    pub name: String,
    pub scopes: String,
    pub created_by: keyward_core::wire::Person,
    pub created_device: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub is_active: bool,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<keyward_core::wire::Person>,
    pub revokes_at: Option<i64>,
    pub brand: String,
}

impl KeyColumns {
    /// The record with its status as of now. A rotated key whose overlap has ended counts as
    /// revoked at that moment, even before the sweeper has written it down.
    pub fn into_record(self) -> keyward_core::wire::KeyRecord {
        let t = Timestamp::now().get();
        let facts = KeyFacts::from_unix(self.revoked_at, self.revokes_at, self.expires_at, self.is_active);
        keyward_core::wire::KeyRecord {
            key_prefix: keyward_core::key::key_prefix(&self.brand, &self.id),
            id: self.id,
            name: self.name,
            scopes: Scopes::from_db(&self.scopes).unwrap_or_else(Scopes::read_only),
            created_by: self.created_by,
            created_device: self.created_device,
            created_at: Timestamp::from_unix(self.created_at),
            last_used_at: self.last_used_at.map(Timestamp::from_unix),
            expires_at: facts.expires_at.map(Timestamp::from),
            is_active: self.is_active,
            revoked_at: facts.revoked_since(t).map(Timestamp::from),
            revoked_by: self.revoked_by,
            revokes_at: facts.revokes_at.filter(|_| self.revoked_at.is_none()).map(Timestamp::from),
            status: keyward_core::KeyStatus::of(&facts, t),
        }
    }
}

/// A key's columns as the mirror feed carries them.
pub(crate) struct MirrorColumns {
    pub id: String,
    pub brand: String,
    pub secret_hash: String,
    pub scopes: String,
    pub expires_at: Option<i64>,
    pub is_active: bool,
    pub revoked_at: Option<i64>,
    pub revokes_at: Option<i64>,
    pub updated_at: i64,
}

impl MirrorColumns {
    pub fn into_record(self) -> keyward_core::wire::MirrorRecord {
        keyward_core::wire::MirrorRecord {
            key_prefix: keyward_core::key::key_prefix(&self.brand, &self.id),
            id: self.id,
            secret_hash: self.secret_hash,
            scopes: Scopes::from_db(&self.scopes).unwrap_or_else(Scopes::read_only),
            expires_at: self.expires_at.map(Timestamp::from_unix),
            is_active: self.is_active,
            revoked_at: self.revoked_at.map(Timestamp::from_unix),
            revokes_at: self.revokes_at.map(Timestamp::from_unix),
            updated_at: Timestamp::from_unix(self.updated_at),
        }
    }
}

/// A connection's columns as `SELECT`ed for a listing.
pub(crate) struct ConnectionColumns {
    pub id: String,
    pub app_name: String,
    pub granted_by: keyward_core::wire::Person,
    pub created_at: i64,
    pub scopes: String,
    pub revoked_at: Option<i64>,
    pub kind: String,
    pub redirect_host: Option<String>,
    pub last_used_at: Option<i64>,
    pub granted_device: Option<String>,
}

impl ConnectionColumns {
    pub fn into_record(self) -> keyward_core::wire::Connection {
        keyward_core::wire::Connection {
            id: self.id,
            app_name: self.app_name,
            kind: keyward_core::wire::ConnectionKind::from_db(&self.kind),
            redirect_host: self.redirect_host,
            granted_by: self.granted_by,
            granted_device: self.granted_device,
            created_at: Timestamp::from_unix(self.created_at),
            scopes: Scopes::from_db(&self.scopes).unwrap_or_else(Scopes::read_only),
            last_used_at: self.last_used_at.map(Timestamp::from_unix),
            revoked_at: self.revoked_at.map(Timestamp::from_unix),
        }
    }
}

/// A page of the audit trail from up to `limit + 1` events, newest first: the extra one, when
/// there, only says that an older page exists (it starts before the page's last event).
pub(crate) fn audit_page(mut events: Vec<keyward_core::wire::AuditEvent>, limit: u32) -> keyward_core::wire::AuditPage {
    let next_before = if events.len() > limit as usize {
        events.truncate(limit as usize);
        events.last().map(|e| e.id)
    } else {
        None
    };
    keyward_core::wire::AuditPage { events, next_before }
}

impl RedeemedCode {
    /// What the code granted, as an authorization code records it: store, scopes, by whom and
    /// from which device.
    pub fn grant(&self) -> (&str, &str, &str, Option<&str>) {
        (self.store_id.as_str(), self.scopes.as_str(), self.granted_by.as_str(), self.granted_device.as_deref())
    }

    /// The approval the consent page answers with.
    pub fn approved(self) -> crate::db::Approved {
        crate::db::Approved { store_id: self.store_id, scopes: Scopes::from_db(&self.scopes).unwrap_or_else(Scopes::read_only) }
    }
}
