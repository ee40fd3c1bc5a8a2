//! The storage interface: what the service asks of a database, by concept, with one
//! implementation per backend ([`SqliteStore`](super::sqlite::SqliteStore),
//! [`PgStore`](super::postgres::PgStore)).
//!
//! Every method is one transaction. The rules (a key's status, the ten-key limit, what a change
//! may do, when a grant is refused, the audit events and their sentences) are decided above
//! this interface, in `key_rules`, `oauth::grant_rules` and `audit`, and each backend calls them
//! with the facts it read inside its transaction; none of them is written twice.
//!
//! `async fn` in a trait is not object-safe, and handlers hold the store as `Arc<dyn Store>`
//! (generic handlers would fight utoipa's `routes!`), hence `async_trait`.

use async_trait::async_trait;
use keyward_core::Scopes;
use keyward_core::wire::{
    AuditPage, Bom, Connection as ConnectionRecord, Device, KeyRecord, MirrorRecord, NewBom, NewRawMaterial, RawMaterial,
    RawMaterialChange, StaffMember, StoreInfo,
};

use super::records::*;
use super::DbResult;
use crate::oauth::refusals::{ConnectionCodeProblem, GrantProblem};

/// API key records: create, list, change, revoke, rotate, and the lookups that authenticate a
/// request and feed the verifier mirror.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Inserts a key, unless that would leave the store over the ten-key limit.
    async fn create_key(&self, actor: Actor, new: NewKey) -> DbResult<KeyRecord>;
    async fn get_key(&self, store_id: String, id: String) -> DbResult<Option<KeyRecord>>;
    /// Up to 100 keys, newest first; revoked ones only when asked.
    async fn list_keys(&self, store_id: String, include_revoked: bool) -> DbResult<Vec<KeyRecord>>;
    /// Renames, rescopes, deactivates or reactivates a key. A revoked key cannot change.
    async fn update_key(&self, actor: Actor, id: String, change: KeyChange) -> DbResult<KeyRecord>;
    /// Revokes a key for good. Revoking a revoked key changes nothing and returns its record.
    async fn revoke_key(&self, actor: Actor, id: String) -> DbResult<KeyRecord>;
    /// Safe rotation: inserts the replacement, with the old key's name, scopes and expiry, then
    /// revokes the old key now, or schedules its end after `overlap_seconds`. Only `id` and
    /// `secret_hash` of `replacement` are used. Returns (replacement, old).
    async fn rotate_key(&self, actor: Actor, old_id: String, replacement: NewKey, overlap_seconds: u32) -> DbResult<(KeyRecord, KeyRecord)>;
    /// Who created a key of the store (a user id), for deciding who may change it.
    async fn key_creator(&self, store_id: String, id: String) -> DbResult<Option<String>>;
    /// The key's hash and status, with its store's, for authenticating one request.
    async fn key_for_auth(&self, id: String) -> DbResult<Option<KeyAuthRow>>;
    /// Key records of the store changed after `since`, oldest change first, at most `limit`.
    /// Returns the records, the new cursor and whether more are waiting.
    async fn mirror_changes(&self, store_id: String, since: i64, limit: u32) -> DbResult<(Vec<MirrorRecord>, i64, bool)>;
    /// Writes down when keys and connections (told apart by their id's `con_` prefix) were
    /// last used; never moves a time backwards.
    async fn record_usage(&self, uses: Vec<(String, i64)>) -> DbResult<()>;
    /// Writes down the revocation of rotated keys whose overlap has ended, so the mirror feed
    /// and the audit trail show it (authentication already treats them as revoked). Safe to run
    /// on every instance at once: each ending is written and audited once. Returns how many.
    async fn finish_overlaps(&self) -> DbResult<usize>;
    /// For benchmarks: gives a store a long history of `count` revoked keys (all with the same
    /// `secret_hash`, ids `h0000000` onwards from number `first`), in one transaction, without
    /// audit events. Never called by the service.
    #[doc(hidden)]
    async fn seed_revoked_keys(&self, store_id: String, first: usize, count: usize, secret_hash: String) -> DbResult<()>;
}

/// Dashboard sessions. Each sign-in is a device, listed and revocable.
#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn login_candidate(&self, email: String) -> DbResult<Option<LoginCandidate>>;
    /// Records a new signed-in device holding the session token whose digest is given.
    /// `checked_password` is the hash the password was checked against: if the password
    /// changed (or the person was removed) while it was being checked, nobody is signed in
    /// ([`DbError::CredentialsChanged`](super::DbError::CredentialsChanged)).
    async fn create_device(
        &self,
        store_id: String,
        user_id: String,
        name: String,
        token_hash: Vec<u8>,
        checked_password: Option<String>,
    ) -> DbResult<(Device, StoreInfo)>;
    async fn session_for_token(&self, token_hash: Vec<u8>) -> DbResult<Option<SessionRow>>;
    /// Marks a device as seen now. Called at most once a minute per device.
    async fn touch_device(&self, device_id: String) -> DbResult<()>;
    async fn list_devices(&self, store_id: String, current: String) -> DbResult<Vec<Device>>;
    /// Signs a device out; with `revoke_keys`, also revokes every key created and every
    /// connection granted from it. `None` if the store has no such device.
    async fn sign_out_device(&self, actor: Actor, device_id: String, revoke_keys: bool) -> DbResult<Option<SignedOut>>;
    /// The user a device belongs to, if the device is the store's.
    async fn device_user(&self, store_id: String, device_id: String) -> DbResult<Option<String>>;
    /// Ends a session that outlived its idle or absolute lifetime, as if signed out.
    async fn end_expired_session(&self, device_id: String) -> DbResult<()>;
    /// The argon2id hash of a person's password, to check it before a change.
    async fn password_hash(&self, user_id: String) -> DbResult<Option<String>>;
    /// Sets a new password and signs out every other device of the person. Returns how many.
    async fn change_password(&self, actor: Actor, password_hash: String) -> DbResult<usize>;
}

/// Stores and their people: created by the operator's admin commands, and uninstalled by the
/// merchant, which stops every key, connection and session of the store at once.
#[async_trait]
pub trait MerchantStore: Send + Sync {
    /// Creates a store and its owner; returns the store's id.
    async fn create_store(&self, new: NewStore) -> DbResult<String>;
    /// The operator adds a staff member to a store; returns the user's id.
    async fn add_staff(&self, store_id: String, name: String, email: String, password_hash: String) -> DbResult<String>;
    /// Turns the store's subscription on or off; off makes the data plane answer 403.
    async fn set_subscription(&self, store_id: String, active: bool) -> DbResult<()>;
    async fn store_info(&self, store_id: String) -> DbResult<Option<StoreInfo>>;
    /// The name of the store, when this service hosts exactly one that has Keyward installed:
    /// a page shown before anyone signs in may then name it.
    async fn only_store_name(&self) -> DbResult<Option<String>>;
    /// Every store, for the operator, oldest first.
    async fn list_stores(&self) -> DbResult<Vec<StoreSummary>>;
    /// Uninstall: every key revoked, every connection revoked, every session signed out.
    async fn uninstall_store(&self, actor: Actor) -> DbResult<()>;
    /// The people who can sign in to the store: the owner first, then staff by name.
    async fn list_staff(&self, store_id: String) -> DbResult<Vec<StaffMember>>;
    /// The owner adds a staff member, recorded in the audit trail.
    async fn add_staff_member(&self, actor: Actor, name: String, email: String, password_hash: String) -> DbResult<StaffMember>;
    /// The owner removes a staff member: they can no longer sign in, and every device they are
    /// signed in on is signed out. Returns the member and how many devices.
    async fn remove_staff_member(&self, actor: Actor, user_id: String) -> DbResult<(StaffMember, usize)>;
}

/// Web-chat and partner connections, their tokens, and the one-time connection codes a
/// merchant pastes on the consent page.
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    async fn create_connection_code(&self, actor: Actor, code: NewConnectionCode) -> DbResult<()>;
    /// Uses a refresh token once, replacing it with a new pair; refused once the connection is
    /// revoked, for another client, or for another resource (see `oauth::grant_rules`).
    async fn refresh_connection(&self, refresh_hash: Vec<u8>, client: TokenClient, tokens: IssuedTokens)
    -> DbResult<Result<ConnectionRecord, GrantProblem>>;
    async fn connection_token(&self, token_hash: Vec<u8>) -> DbResult<Option<ConnectionTokenStatus>>;
    async fn list_connections(&self, store_id: String) -> DbResult<Vec<ConnectionRecord>>;
    /// Who granted a connection of the store (a user id), for deciding who may revoke it.
    async fn connection_grantor(&self, store_id: String, id: String) -> DbResult<Option<String>>;
    /// Revokes a connection; its tokens stop working on their next use.
    async fn revoke_connection(&self, actor: Actor, id: String) -> DbResult<ConnectionRecord>;
    /// RFC 7009: a client gives back one of its tokens. A refresh token ends the whole
    /// connection; an access token stops alone. Another client's token is left alone.
    async fn revoke_token(&self, client_id: String, token_hash: Vec<u8>) -> DbResult<TokenRevocation>;
}

/// Authorization codes: made when the merchant approves on the consent page, traded once.
#[async_trait]
pub trait AuthorizationStore: Send + Sync {
    /// Approval with a one-time connection code the merchant pasted: the store, the scopes and
    /// who approved come from the code. The inner `Err` is why the code was refused.
    async fn approve_with_connection_code(
        &self,
        connection_code_hash: Vec<u8>,
        code: NewAuthorizationCode,
    ) -> DbResult<Result<Approved, ConnectionCodeProblem>>;
    /// Approval by a member who signed in on the consent page, with the scopes they picked.
    /// If the password changed, or the member was removed, while it was being checked, nothing
    /// is approved ([`DbError::CredentialsChanged`](super::DbError::CredentialsChanged)).
    async fn approve_as_member(
        &self,
        user_id: String,
        checked_password: String,
        store_id: String,
        scopes: Scopes,
        code: NewAuthorizationCode,
    ) -> DbResult<Approved>;
    /// Trades an authorization code for a new connection and its first tokens.
    async fn exchange_authorization_code(
        &self,
        code_hash: Vec<u8>,
        presented: PresentedCode,
        tokens: IssuedTokens,
    ) -> DbResult<Result<ConnectionRecord, GrantProblem>>;
    /// Forgets authorization codes that expired more than a day ago. Returns how many.
    async fn forget_expired_authorization_codes(&self) -> DbResult<usize>;
}

/// OAuth clients: self-registered web-chat apps and the operator's partner apps.
#[async_trait]
pub trait ClientStore: Send + Sync {
    async fn register_client(&self, new: NewClient) -> DbResult<ClientRecord>;
    /// A registered or partner client by id, with what authenticating it needs.
    async fn find_client(&self, id: String) -> DbResult<Option<FoundClient>>;
    /// Forgets self-registered clients never used since before `cutoff`. Returns how many.
    async fn forget_unused_clients(&self, cutoff: i64) -> DbResult<usize>;
    /// Every partner app, oldest first, with when it was last used (never its secret).
    async fn list_partners(&self) -> DbResult<Vec<PartnerRecord>>;
    /// Removes a partner app and, in the same transaction, revokes every live connection any
    /// store made with it and forgets its unused authorization codes.
    /// [`DbError::NotFound`](super::DbError::NotFound) if there is no such partner.
    async fn remove_partner(&self, id: String) -> DbResult<RemovedPartner>;

    /// Registers a partner app: a confidential client (`client_secret_basic`) the operator
    /// added. Only the secret's digest is stored.
    async fn register_partner(&self, name: String, redirect_uris: Vec<String>, secret_hash: Vec<u8>) -> DbResult<ClientRecord> {
        self.register_client(NewClient {
            name,
            kind: "partner",
            redirect_uris,
            auth_method: "client_secret_basic".into(),
            secret_hash: Some(secret_hash),
        })
        .await
    }
}

/// The store's own data, served to keys. Every query is pinned to one store id.
#[async_trait]
pub trait CatalogStore: Send + Sync {
    async fn list_raw_materials(&self, store_id: String) -> DbResult<Vec<RawMaterial>>;
    async fn get_raw_material(&self, store_id: String, id: i64) -> DbResult<Option<RawMaterial>>;
    async fn create_raw_material(&self, store_id: String, new: NewRawMaterial) -> DbResult<RawMaterial>;
    async fn update_raw_material(&self, store_id: String, id: i64, change: RawMaterialChange) -> DbResult<RawMaterial>;
    async fn list_boms(&self, store_id: String) -> DbResult<Vec<Bom>>;
    async fn get_bom(&self, store_id: String, id: i64) -> DbResult<Option<Bom>>;
    /// Creates a BOM; every line must name a raw material of the same store.
    async fn create_bom(&self, store_id: String, new: NewBom) -> DbResult<Bom>;
}

/// The audit trail, written by the other methods in the transaction of the change it records.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// A page of the store's audit trail, newest first, starting below `before` if given.
    async fn audit_page(&self, store_id: String, before: Option<i64>, limit: u32) -> DbResult<AuditPage>;
}

/// The whole interface, and what concerns the database itself.
#[async_trait]
pub trait Store:
    KeyStore + SessionStore + MerchantStore + ConnectionStore + AuthorizationStore + ClientStore + CatalogStore + AuditStore + Send + Sync
{
    /// `sqlite` or `postgres`, for logs and metrics.
    fn backend(&self) -> &'static str;
    /// The key the consent form's CSRF token is signed with, shared by every instance.
    fn consent_key(&self) -> &[u8];
    /// Latency and connections in use, for `/metrics`.
    fn metrics(&self) -> &crate::metrics::DbMetrics;
    /// How many key rows have been read to authenticate requests since start: lets tests and
    /// operators see that malformed keys never reach the database.
    fn key_lookups(&self) -> u64;
    /// Whether several instances may serve this database at once; their rate and failure
    /// counts are then shared through it (see `auth::shared_counts`).
    fn is_shared(&self) -> bool;
    /// Adds this instance's count changes to `limiter`'s shared counts for one window (which
    /// ends at `ends_at`, Unix seconds), and answers the totals of those names across instances.
    async fn share_counts(&self, limiter: String, window: i64, ends_at: i64, changes: Vec<(Vec<u8>, i64)>) -> DbResult<Vec<(Vec<u8>, i64)>>;
    /// Forgets shared counts of windows that ended before `before`. Returns how many.
    async fn forget_counts(&self, before: i64) -> DbResult<u64>;
    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> DbResult<()>;
    /// The brand this database's keys carry, fixed the first time it is served.
    /// An error if it was created for another brand.
    async fn ensure_brand(&self, brand: &str) -> DbResult<()>;
}
