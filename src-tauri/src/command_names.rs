// Every command the webview may call. Included by build.rs (to declare them in the app
// manifest, so capabilities can allow exactly these) and by the app (a test checks that the
// registered commands and `capabilities/default.json` list exactly these).
pub const COMMANDS: &[&str] = &[
    "app_info",
    "sign_in",
    "sign_out",
    "list_keys",
    "create_key",
    "update_key",
    "rotate_key",
    "revoke_key",
    "key_wiring",
    "connect_agent",
    "undo_connect",
    "disconnect_agent",
    "list_connections",
    "revoke_connection",
    "new_connection_code",
    "list_devices",
    "sign_out_device",
    "audit_page",
    "change_password",
    "list_staff",
    "add_staff",
    "remove_staff",
    "settings",
    "sync_mirror",
];
