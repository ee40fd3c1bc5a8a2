//! The audit trail's events: what can happen to a store's keys, connections, devices, staff
//! and the store itself, and the sentence a person reads about each.
//!
//! Storage records an [`AuditEvent`] as it is given (its [`action`](AuditEvent::action),
//! [`target`](AuditEvent::target) and [`summary`](AuditEvent::summary)) and writes no sentence
//! of its own, so every backend (SQLite today, PostgreSQL next) tells the same story in the same
//! words. The action strings are part of the API (`GET /api/audit`, the CLI's `--json`): they
//! never change once shipped.

use keyward_core::Scopes;
use keyward_core::wire::ConnectionKind;

/// A key as the audit trail names it: by its name and its public prefix, never its secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRef<'a> {
    pub id: &'a str,
    pub name: &'a str,
    /// The key's public prefix, e.g. `asmk_3fK9…`.
    pub prefix: &'a str,
}

/// Why a key was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRevokeReason {
    /// A person revoked this key.
    ByPerson,
    /// A person signed out the device the key was created from, revoking what it made.
    WithDevice,
    /// The key was rotated and the overlap in which it kept working has ended.
    OverlapEnded,
}

/// A credential that works once; its second use revokes the connection it made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OneTimeCredential {
    ConnectionCode,
    AuthorizationCode,
    RefreshToken,
}

/// Why a connection was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionRevokeReason {
    /// A person revoked this connection.
    ByPerson,
    /// A person signed out the device the connection was granted from.
    WithDevice,
    /// One of its one-time credentials came back, so someone else may hold it.
    Replayed(OneTimeCredential),
    /// The operator removed the partner app it was made with.
    PartnerRemoved,
    /// The app gave its refresh token back (RFC 7009), ending the connection itself.
    AppDisconnected,
}

/// What signing out another device took with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevokedWithDevice {
    pub keys: usize,
    pub connections: usize,
}

/// Something that happened in a store, as the audit trail records it. Each variant carries the
/// facts its sentence needs and the id of what it happened to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditEvent<'a> {
    KeyCreated { key: KeyRef<'a>, scopes: &'a Scopes },
    KeyRenamed { key: KeyRef<'a>, to: &'a str },
    KeyRescoped { key: KeyRef<'a>, from: &'a Scopes, to: &'a Scopes },
    KeyDeactivated { key: KeyRef<'a> },
    KeyReactivated { key: KeyRef<'a> },
    /// `key` is the old key; `overlap_seconds` is how long it keeps working (0: not at all).
    KeyRotated { key: KeyRef<'a>, replacement_prefix: &'a str, overlap_seconds: u32 },
    KeyRevoked { key: KeyRef<'a>, why: KeyRevokeReason },
    ConnectionCodeCreated { app: &'a str, scopes: &'a Scopes },
    ConnectionCreated { connection_id: &'a str, app: &'a str, kind: ConnectionKind, redirect_host: Option<&'a str> },
    ConnectionRevoked { connection_id: &'a str, app: &'a str, why: ConnectionRevokeReason },
    DeviceSignedIn { device_id: &'a str, device: &'a str },
    /// `own`: the person signed out the device they used; `revoked`: what went with it, if
    /// they asked for its keys and connections to be revoked too.
    DeviceSignedOut { device_id: &'a str, device: &'a str, own: bool, revoked: Option<RevokedWithDevice> },
    DeviceSessionExpired { device_id: &'a str, device: &'a str },
    PasswordChanged { user_id: &'a str, other_devices_signed_out: usize },
    StaffAdded { user_id: &'a str, name: &'a str, email: &'a str },
    StaffRemoved { user_id: &'a str, name: &'a str, email: &'a str, devices_signed_out: usize },
    StoreCreated { store_id: &'a str, name: &'a str },
    StoreUninstalled { store_id: &'a str },
    SubscriptionActivated { store_id: &'a str },
    SubscriptionDeactivated { store_id: &'a str },
}

impl<'a> AuditEvent<'a> {
    /// The store's subscription turned on (`active`) or off.
    pub fn subscription(active: bool, store_id: &'a str) -> AuditEvent<'a> {
        if active { AuditEvent::SubscriptionActivated { store_id } } else { AuditEvent::SubscriptionDeactivated { store_id } }
    }

    /// The action as the API and the CLI show it, e.g. `key.created`.
    pub fn action(&self) -> &'static str {
        match self {
            AuditEvent::KeyCreated { .. } => "key.created",
            AuditEvent::KeyRenamed { .. } => "key.renamed",
            AuditEvent::KeyRescoped { .. } => "key.rescoped",
            AuditEvent::KeyDeactivated { .. } => "key.deactivated",
            AuditEvent::KeyReactivated { .. } => "key.reactivated",
            AuditEvent::KeyRotated { .. } => "key.rotated",
            AuditEvent::KeyRevoked { .. } => "key.revoked",
            AuditEvent::ConnectionCodeCreated { .. } => "connection.code_created",
            AuditEvent::ConnectionCreated { .. } => "connection.created",
            AuditEvent::ConnectionRevoked { .. } => "connection.revoked",
            AuditEvent::DeviceSignedIn { .. } => "device.signed_in",
            AuditEvent::DeviceSignedOut { .. } => "device.signed_out",
            AuditEvent::DeviceSessionExpired { .. } => "device.session_expired",
            AuditEvent::PasswordChanged { .. } => "user.password_changed",
            AuditEvent::StaffAdded { .. } => "staff.added",
            AuditEvent::StaffRemoved { .. } => "staff.removed",
            AuditEvent::StoreCreated { .. } => "store.created",
            AuditEvent::StoreUninstalled { .. } => "store.uninstalled",
            AuditEvent::SubscriptionActivated { .. } => "subscription.activated",
            AuditEvent::SubscriptionDeactivated { .. } => "subscription.deactivated",
        }
    }

    /// What it happened to: the kind of thing and its id. A connection code has no id of its
    /// own until it is used, so it is recorded against the connection `-`.
    pub fn target(&self) -> (&'static str, &str) {
        match self {
            AuditEvent::KeyCreated { key, .. }
            | AuditEvent::KeyRenamed { key, .. }
            | AuditEvent::KeyRescoped { key, .. }
            | AuditEvent::KeyDeactivated { key }
            | AuditEvent::KeyReactivated { key }
            | AuditEvent::KeyRotated { key, .. }
            | AuditEvent::KeyRevoked { key, .. } => ("key", key.id),
            AuditEvent::ConnectionCodeCreated { .. } => ("connection", "-"),
            AuditEvent::ConnectionCreated { connection_id, .. } | AuditEvent::ConnectionRevoked { connection_id, .. } => {
                ("connection", connection_id)
            }
            AuditEvent::DeviceSignedIn { device_id, .. }
            | AuditEvent::DeviceSignedOut { device_id, .. }
            | AuditEvent::DeviceSessionExpired { device_id, .. } => ("device", device_id),
            AuditEvent::PasswordChanged { user_id, .. }
            | AuditEvent::StaffAdded { user_id, .. }
            | AuditEvent::StaffRemoved { user_id, .. } => ("user", user_id),
            AuditEvent::StoreCreated { store_id, .. }
            | AuditEvent::StoreUninstalled { store_id }
            | AuditEvent::SubscriptionActivated { store_id }
            | AuditEvent::SubscriptionDeactivated { store_id } => ("store", store_id),
        }
    }

    /// The sentence a person reads in the audit trail.
    pub fn summary(&self) -> String {
        match self {
            AuditEvent::KeyCreated { key, scopes } => format!("Created key {}, {}", named(key), lower(scopes)),
            AuditEvent::KeyRenamed { key, to } => format!("Renamed key {} to \"{to}\"", named(key)),
            AuditEvent::KeyRescoped { key, from, to } => format!("Changed key {} from {} to {}", named(key), lower(from), lower(to)),
            AuditEvent::KeyDeactivated { key } => format!("Deactivated key {}", named(key)),
            AuditEvent::KeyReactivated { key } => format!("Reactivated key {}", named(key)),
            AuditEvent::KeyRotated { key, replacement_prefix, overlap_seconds } => {
                let when = if *overlap_seconds == 0 { "now".to_owned() } else { format!("in {overlap_seconds} s") };
                format!("Rotated key {} to {replacement_prefix}; the old key stops working {when}", named(key))
            }
            AuditEvent::KeyRevoked { key, why } => match why {
                KeyRevokeReason::ByPerson => format!("Revoked key {}", named(key)),
                KeyRevokeReason::WithDevice => format!("Revoked key {} with its device", named(key)),
                KeyRevokeReason::OverlapEnded => format!("Key {} stopped working: its rotation overlap ended", named(key)),
            },
            AuditEvent::ConnectionCodeCreated { app, scopes } => format!("Made a connection code for \"{app}\", {}", lower(scopes)),
            AuditEvent::ConnectionCreated { app, kind, redirect_host, .. } => {
                format!("Connected \"{app}\" ({}, {})", kind.label(), redirect_host.unwrap_or("no redirect host"))
            }
            AuditEvent::ConnectionRevoked { app, why, .. } => match why {
                ConnectionRevokeReason::ByPerson => format!("Revoked the connection of \"{app}\""),
                ConnectionRevokeReason::WithDevice => format!("Revoked the connection of \"{app}\" with its device"),
                ConnectionRevokeReason::Replayed(credential) => {
                    let used_again = match credential {
                        OneTimeCredential::ConnectionCode => "its connection code was used a second time",
                        OneTimeCredential::AuthorizationCode => "its authorization code was used a second time",
                        OneTimeCredential::RefreshToken => "one of its refresh tokens was used a second time",
                    };
                    format!("Revoked the connection of \"{app}\": {used_again}, so it may have been stolen")
                }
                ConnectionRevokeReason::PartnerRemoved => {
                    format!("Revoked the connection of \"{app}\": the operator removed the partner app")
                }
                ConnectionRevokeReason::AppDisconnected => format!("\"{app}\" disconnected itself (it gave its refresh token back)"),
            },
            AuditEvent::DeviceSignedIn { device, .. } => format!("Signed in on \"{device}\""),
            AuditEvent::DeviceSignedOut { device, own, revoked, .. } => match (own, revoked) {
                (true, _) => format!("Signed out of \"{device}\""),
                (false, None) => format!("Signed out device \"{device}\""),
                (false, Some(RevokedWithDevice { keys, connections })) => {
                    format!("Signed out device \"{device}\" and revoked its {keys} key(s) and {connections} connection(s)")
                }
            },
            AuditEvent::DeviceSessionExpired { device, .. } => format!("The session on \"{device}\" expired"),
            AuditEvent::PasswordChanged { other_devices_signed_out, .. } => {
                format!("Changed their password and signed out {other_devices_signed_out} other device(s)")
            }
            AuditEvent::StaffAdded { name, email, .. } => format!("Added {name} ({email}) as staff"),
            AuditEvent::StaffRemoved { name, email, devices_signed_out, .. } => {
                format!("Removed {name} ({email}) from the staff and signed out {devices_signed_out} device(s)")
            }
            AuditEvent::StoreCreated { name, .. } => format!("Created store \"{name}\""),
            AuditEvent::StoreUninstalled { .. } => "Uninstalled Keyward: every key, connection and session was revoked".to_owned(),
            AuditEvent::SubscriptionActivated { .. } => "Subscription activated".to_owned(),
            AuditEvent::SubscriptionDeactivated { .. } => "Subscription deactivated".to_owned(),
        }
    }
}

/// `"Codex" (asmk_3fK9…)`: how every sentence names a key.
fn named(key: &KeyRef<'_>) -> String {
    format!("\"{}\" ({})", key.name, key.prefix)
}

/// Scopes as a sentence says them: "read only", "read & write".
fn lower(scopes: &Scopes) -> String {
    scopes.label().to_lowercase()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    const KEY: KeyRef<'static> = KeyRef { id: "3fK9x", name: "Codex", prefix: "asmk_3fK9x" };

    /// One event of every variant (and every reason), with made-up facts.
    fn every_event<'a>(read: &'a Scopes, write: &'a Scopes) -> Vec<AuditEvent<'a>> {
        let connection = |why| AuditEvent::ConnectionRevoked { connection_id: "con_1", app: "Claude", why };
        let signed_out = |own, revoked| AuditEvent::DeviceSignedOut { device_id: "dev_1", device: "Shop PC", own, revoked };
        vec![
            AuditEvent::KeyCreated { key: KEY, scopes: read },
            AuditEvent::KeyRenamed { key: KEY, to: "Codex CI" },
            AuditEvent::KeyRescoped { key: KEY, from: read, to: write },
            AuditEvent::KeyDeactivated { key: KEY },
            AuditEvent::KeyReactivated { key: KEY },
            AuditEvent::KeyRotated { key: KEY, replacement_prefix: "asmk_7Hq2y", overlap_seconds: 0 },
            AuditEvent::KeyRotated { key: KEY, replacement_prefix: "asmk_7Hq2y", overlap_seconds: 3600 },
            AuditEvent::KeyRevoked { key: KEY, why: KeyRevokeReason::ByPerson },
            AuditEvent::KeyRevoked { key: KEY, why: KeyRevokeReason::WithDevice },
            AuditEvent::KeyRevoked { key: KEY, why: KeyRevokeReason::OverlapEnded },
            AuditEvent::ConnectionCodeCreated { app: "Claude", scopes: write },
            AuditEvent::ConnectionCreated { connection_id: "con_1", app: "Claude", kind: ConnectionKind::WebChat, redirect_host: Some("claude.ai") },
            AuditEvent::ConnectionCreated { connection_id: "con_1", app: "Sync", kind: ConnectionKind::Partner, redirect_host: None },
            connection(ConnectionRevokeReason::ByPerson),
            connection(ConnectionRevokeReason::WithDevice),
            connection(ConnectionRevokeReason::Replayed(OneTimeCredential::ConnectionCode)),
            connection(ConnectionRevokeReason::Replayed(OneTimeCredential::AuthorizationCode)),
            connection(ConnectionRevokeReason::Replayed(OneTimeCredential::RefreshToken)),
            connection(ConnectionRevokeReason::PartnerRemoved),
            connection(ConnectionRevokeReason::AppDisconnected),
            AuditEvent::DeviceSignedIn { device_id: "dev_1", device: "Shop PC" },
            signed_out(true, None),
            signed_out(false, None),
            signed_out(false, Some(RevokedWithDevice { keys: 2, connections: 1 })),
            AuditEvent::DeviceSessionExpired { device_id: "dev_1", device: "Shop PC" },
            AuditEvent::PasswordChanged { user_id: "usr_1", other_devices_signed_out: 3 },
            AuditEvent::StaffAdded { user_id: "usr_2", name: "Sam Staff", email: "sam@acme.test" },
            AuditEvent::StaffRemoved { user_id: "usr_2", name: "Sam Staff", email: "sam@acme.test", devices_signed_out: 1 },
            AuditEvent::StoreCreated { store_id: "sto_1", name: "Acme" },
            AuditEvent::StoreUninstalled { store_id: "sto_1" },
            AuditEvent::SubscriptionActivated { store_id: "sto_1" },
            AuditEvent::SubscriptionDeactivated { store_id: "sto_1" },
        ]
    }

    /// The variant's name; the match has no wildcard, so a new variant does not compile until
    /// it is named here, and [`VARIANTS`] then says one more must be in [`every_event`].
    fn variant(event: &AuditEvent<'_>) -> &'static str {
        match event {
            AuditEvent::KeyCreated { .. } => "KeyCreated",
            AuditEvent::KeyRenamed { .. } => "KeyRenamed",
            AuditEvent::KeyRescoped { .. } => "KeyRescoped",
            AuditEvent::KeyDeactivated { .. } => "KeyDeactivated",
            AuditEvent::KeyReactivated { .. } => "KeyReactivated",
            AuditEvent::KeyRotated { .. } => "KeyRotated",
            AuditEvent::KeyRevoked { .. } => "KeyRevoked",
            AuditEvent::ConnectionCodeCreated { .. } => "ConnectionCodeCreated",
            AuditEvent::ConnectionCreated { .. } => "ConnectionCreated",
            AuditEvent::ConnectionRevoked { .. } => "ConnectionRevoked",
            AuditEvent::DeviceSignedIn { .. } => "DeviceSignedIn",
            AuditEvent::DeviceSignedOut { .. } => "DeviceSignedOut",
            AuditEvent::DeviceSessionExpired { .. } => "DeviceSessionExpired",
            AuditEvent::PasswordChanged { .. } => "PasswordChanged",
            AuditEvent::StaffAdded { .. } => "StaffAdded",
            AuditEvent::StaffRemoved { .. } => "StaffRemoved",
            AuditEvent::StoreCreated { .. } => "StoreCreated",
            AuditEvent::StoreUninstalled { .. } => "StoreUninstalled",
            AuditEvent::SubscriptionActivated { .. } => "SubscriptionActivated",
            AuditEvent::SubscriptionDeactivated { .. } => "SubscriptionDeactivated",
        }
    }
    const VARIANTS: usize = 20;

    fn scopes() -> (Scopes, Scopes) {
        (Scopes::read_only(), Scopes::read_write())
    }

    #[test]
    fn every_variant_is_covered_and_has_its_own_action() {
        let (read, write) = scopes();
        let events = every_event(&read, &write);
        let mut action_of = std::collections::HashMap::new();
        for event in &events {
            let previous = action_of.insert(variant(event), event.action());
            assert!(previous.is_none_or(|a| a == event.action()), "{} has two actions", variant(event));
        }
        assert_eq!(action_of.len(), VARIANTS, "every_event must hold every variant");
        let actions: HashSet<&str> = action_of.values().copied().collect();
        assert_eq!(actions.len(), VARIANTS, "two variants share an action: {action_of:?}");
        for action in actions {
            let (family, verb) = action.split_once('.').expect(action);
            assert!(!family.is_empty() && !verb.is_empty() && action.chars().all(|c| c.is_ascii_lowercase() || c == '.' || c == '_'), "{action}");
        }
    }

    #[test]
    fn every_event_has_a_sentence_in_the_house_style() {
        let (read, write) = scopes();
        for event in every_event(&read, &write) {
            let summary = event.summary();
            let first = summary.chars().next().expect("an empty summary");
            assert!(first.is_uppercase() || first == '"', "{summary:?} should start with a capital or a quoted name");
            assert!(!summary.ends_with('.') && summary.trim() == summary, "{summary:?}: no final period, no edge spaces");
            assert!(!summary.contains('{') && !summary.contains("  "), "{summary:?}");
            let (kind, id) = event.target();
            assert!(!kind.is_empty() && !id.is_empty(), "{summary:?} has no target");
        }
    }

    #[test]
    fn sentences_read_as_they_always_have() {
        let (read, write) = &scopes();
        let cases: &[(AuditEvent<'_>, &str, (&str, &str), &str)] = &[
            (AuditEvent::KeyCreated { key: KEY, scopes: write }, "key.created", ("key", "3fK9x"), "Created key \"Codex\" (asmk_3fK9x), read & write"),
            (AuditEvent::KeyRescoped { key: KEY, from: read, to: write }, "key.rescoped", ("key", "3fK9x"), "Changed key \"Codex\" (asmk_3fK9x) from read only to read & write"),
            (
                AuditEvent::KeyRotated { key: KEY, replacement_prefix: "asmk_7Hq2y", overlap_seconds: 90 },
                "key.rotated",
                ("key", "3fK9x"),
                "Rotated key \"Codex\" (asmk_3fK9x) to asmk_7Hq2y; the old key stops working in 90 s",
            ),
            (
                AuditEvent::KeyRevoked { key: KEY, why: KeyRevokeReason::OverlapEnded },
                "key.revoked",
                ("key", "3fK9x"),
                "Key \"Codex\" (asmk_3fK9x) stopped working: its rotation overlap ended",
            ),
            (
                AuditEvent::ConnectionRevoked { connection_id: "con_1", app: "Acme Sync", why: ConnectionRevokeReason::PartnerRemoved },
                "connection.revoked",
                ("connection", "con_1"),
                "Revoked the connection of \"Acme Sync\": the operator removed the partner app",
            ),
            (
                AuditEvent::ConnectionRevoked {
                    connection_id: "con_1",
                    app: "Claude",
                    why: ConnectionRevokeReason::Replayed(OneTimeCredential::RefreshToken),
                },
                "connection.revoked",
                ("connection", "con_1"),
                "Revoked the connection of \"Claude\": one of its refresh tokens was used a second time, so it may have been stolen",
            ),
            (
                AuditEvent::ConnectionCreated { connection_id: "con_1", app: "Sync", kind: ConnectionKind::Partner, redirect_host: None },
                "connection.created",
                ("connection", "con_1"),
                "Connected \"Sync\" (partner, no redirect host)",
            ),
            (AuditEvent::ConnectionCodeCreated { app: "Claude", scopes: read }, "connection.code_created", ("connection", "-"), "Made a connection code for \"Claude\", read only"),
            (
                AuditEvent::DeviceSignedOut {
                    device_id: "dev_1",
                    device: "Shop PC",
                    own: false,
                    revoked: Some(RevokedWithDevice { keys: 2, connections: 0 }),
                },
                "device.signed_out",
                ("device", "dev_1"),
                "Signed out device \"Shop PC\" and revoked its 2 key(s) and 0 connection(s)",
            ),
            (
                AuditEvent::StaffRemoved { user_id: "usr_2", name: "Sam", email: "sam@acme.test", devices_signed_out: 1 },
                "staff.removed",
                ("user", "usr_2"),
                "Removed Sam (sam@acme.test) from the staff and signed out 1 device(s)",
            ),
            (AuditEvent::SubscriptionDeactivated { store_id: "sto_1" }, "subscription.deactivated", ("store", "sto_1"), "Subscription deactivated"),
        ];
        for (event, action, target, summary) in cases {
            assert_eq!(event.action(), *action);
            assert_eq!(event.target(), *target);
            assert_eq!(event.summary(), *summary);
        }
    }
}
