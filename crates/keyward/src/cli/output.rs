//! What the CLI prints: tables and sentences for people, JSON for scripts (`--json`).
//! Secrets appear only where a person asked for them (`--show-secret`).

use keyward::agents::Wiring;
use keyward::manager::{AssistantView, Find, KeyUsage, KeyView, Revoked, Rotated};
use keyward::mirror::{StoreMirror, Verification};
use keyward::profile::Profile;
use keyward::scan::Place;
use keyward_core::Timestamp;
use keyward_core::wire::{AuditPage, Connection, ConnectionCode, Device, KeyRecord, StaffMember};
use serde::Serialize;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

pub struct Out {
    pub json: bool,
}

/// "1 key", "2 keys": a count and its noun, as a sentence says it.
pub fn count<N: std::fmt::Display + PartialEq + From<u8>>(n: N, noun: &str) -> String {
    if n == N::from(1) { format!("{n} {noun}") } else { format!("{n} {noun}s") }
}

fn when(t: Option<Timestamp>) -> String {
    match t {
        Some(t) => format!("{:04}-{:02}-{:02} {:02}:{:02}", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute()),
        None => "—".into(),
    }
}

fn age(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

/// Prints rows under headers, each column as wide as its widest cell.
fn table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count()))).collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row);
    }
}

impl Out {
    fn print_json(&self, value: &impl Serialize) {
        println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
    }

    pub fn error(&self, message: &str) {
        if self.json {
            self.print_json(&json!({"error": message}));
        }
        eprintln!("keyward: {message}");
    }

    pub fn message(&self, text: &str, value: &Value) {
        if self.json { self.print_json(value) } else { println!("{text}") }
    }

    pub fn login(&self, profile: &Profile) {
        if self.json {
            return self.print_json(profile);
        }
        println!(
            "Signed in to \"{}\" at {} as {} <{}>, on device \"{}\". The session is in the keychain.",
            profile.store_name, profile.server, profile.user_name, profile.user_email, profile.device_name
        );
    }

    pub fn keys(&self, keys: &[KeyView]) {
        if self.json {
            return self.print_json(&keys);
        }
        if keys.is_empty() {
            return println!("No keys yet. Create one with `keyward keys create --name \"…\"`.");
        }
        let rows = keys
            .iter()
            .map(|k| {
                let r = &k.record;
                vec![
                    r.id.clone(),
                    r.name.clone(),
                    r.key_prefix.clone(),
                    r.scopes.label().to_owned(),
                    format!("{} <{}>", r.created_by.name, r.created_by.email),
                    when(Some(r.created_at)),
                    when(r.last_used_at),
                    when(r.expires_at),
                    r.status.label().to_owned(),
                    if k.on_this_device { "yes".into() } else { "".into() },
                ]
            })
            .collect();
        table(&["ID", "LABEL", "PREFIX", "SCOPE", "CREATED BY", "CREATED", "LAST USED", "EXPIRES", "STATUS", "ON THIS DEVICE"], rows);
    }

    pub fn created(&self, record: &KeyRecord, secret: Option<&str>) {
        if self.json {
            let mut value = serde_json::to_value(record).unwrap_or_default();
            if let Some(secret) = secret {
                value["key"] = json!(secret);
            }
            value["stored_in_keychain"] = json!(true);
            return self.print_json(&value);
        }
        println!("Created key \"{}\" ({}), {}. Its secret is in this machine's keychain.", record.name, record.key_prefix, record.scopes.label().to_lowercase());
        match secret {
            Some(secret) => println!("{secret}\nThis is the only time the key is shown. Keep it somewhere safe."),
            None => println!("Connect it with `keyward connect claude-desktop --key {}` (or claude-code, codex).", record.id),
        }
    }

    pub fn key_changed(&self, verb: &str, record: &KeyRecord) {
        if self.json {
            return self.print_json(record);
        }
        println!("{verb} key \"{}\" ({}): {}, {}.", record.name, record.key_prefix, record.scopes.label().to_lowercase(), record.status.label());
    }

    pub fn revoked(&self, revoked: &Revoked) {
        if self.json {
            return self.print_json(revoked);
        }
        println!("Revoked key \"{}\" ({}). It stops working on its next request.", revoked.record.name, revoked.record.key_prefix);
        for (agent, path) in &revoked.unwired {
            println!("Removed its entry from {agent}'s config ({}).", path.display());
        }
        for left in &revoked.left_in_place {
            eprintln!("keyward: {left} The key no longer works there; remove the entry by hand when you can.");
        }
        if revoked.keychain_item_removed {
            println!("Removed its secret from this machine's keychain.");
        }
    }

    /// A rotation. When the keychain did not keep the new secret, the secret is printed
    /// whatever `show_secret` says (nothing else holds it) and the sentence why goes with it.
    pub fn rotated(&self, rotated: &Rotated, show_secret: bool) {
        let new = &rotated.replacement.record;
        let show_secret = show_secret || rotated.not_kept.is_some();
        if let Some(why) = &rotated.not_kept {
            eprintln!("keyward: {why}");
        }
        if self.json {
            let mut value = json!({"replacement": new, "previous": rotated.previous, "rewired": rotated.rewired});
            if show_secret {
                value["replacement"]["key"] = json!(rotated.replacement.key);
            }
            value["replacement"]["stored_in_keychain"] = json!(rotated.not_kept.is_none());
            if let Some(why) = &rotated.not_kept {
                value["error"] = json!(why);
            }
            return self.print_json(&value);
        }
        if rotated.not_kept.is_some() {
            return println!("{}\nThis is the only time the key is shown.", rotated.replacement.key);
        }
        let old = &rotated.previous;
        let ends = if old.revoked_at.is_some() { "now".to_owned() } else { format!("at {}", when(old.revokes_at)) };
        println!("Rotated {} to {} (secret in the keychain). The old key stops working {ends}.", old.key_prefix, new.key_prefix);
        for wiring in &rotated.rewired {
            println!("Moved {}'s entry to the new key ({}).", wiring.agent, wiring.path.display());
        }
        if show_secret {
            println!("{}\nThis is the only time the key is shown.", rotated.replacement.key);
        }
    }

    pub fn connected(&self, wiring: &Wiring, inline: bool) {
        if self.json {
            return self.print_json(wiring);
        }
        let verb = if wiring.changed { "Wired" } else { "Already wired:" };
        println!("{verb} {} into {} as \"{}\".", if inline { "the key (inline, file is owner-only)" } else { "the key (bridge mode, no secret in the file)" }, wiring.path.display(), wiring.entry_name);
        if let Some(backup) = &wiring.backup {
            println!("The previous version is at {}.", backup.display());
        }
        println!("Restart {} to pick it up.", wiring.agent);
    }

    pub fn assistants(&self, assistants: &[AssistantView]) {
        if self.json {
            return self.print_json(&assistants);
        }
        let rows = assistants
            .iter()
            .map(|a| {
                let keys = a.wired.iter().map(|w| w.key_id.as_str()).collect::<Vec<_>>().join(", ");
                vec![
                    a.agent.slug().to_owned(),
                    a.name.clone(),
                    if a.installed { "yes".into() } else { "no".into() },
                    a.path.as_ref().map_or_else(|| "—".into(), |p| p.display().to_string()),
                    if keys.is_empty() { "—".into() } else { keys },
                ]
            })
            .collect();
        table(&["ASSISTANT", "NAME", "INSTALLED", "CONFIG FILE", "KEYS WIRED"], rows);
        println!("\nWire a key with `keyward connect ASSISTANT --key ID`; for a project's own file add `--project DIR`.");
    }

    pub fn finds(&self, finds: &[Find]) {
        if self.json {
            return self.print_json(&finds);
        }
        if finds.is_empty() {
            return println!("No key of this deployment was found.");
        }
        let rows = finds
            .iter()
            .map(|f| {
                let status = serde_json::to_value(f.status).ok().and_then(|v| v.as_str().map(|s| s.replace('_', " "))).unwrap_or_default();
                vec![format!("{}:{}:{}", f.place.file, f.place.line, f.place.column), f.key_prefix.clone(), status, f.key_name.clone().unwrap_or_else(|| "—".into())]
            })
            .collect();
        table(&["WHERE", "KEY", "STATUS", "NAME"], rows);
        let working = finds.iter().filter(|f| f.status.works()).count();
        if working > 0 {
            println!("\n{} of a key that still works: rotate it now (`keyward keys rotate ID`), then remove it from these files.", count(working, "find"));
        }
    }

    /// What `keyward scan --fix` did, key by key.
    pub fn rolled(&self, report: &[Value]) {
        if self.json {
            return self.print_json(&json!({ "rolled": report }));
        }
        for r in report {
            println!("Rotated {} to {}; the leaked key no longer works.", r["key_prefix"].as_str().unwrap_or_default(), r["replacement"].as_str().unwrap_or_default());
            for file in r["rewired"].as_array().into_iter().flatten() {
                println!("  moved to the new key (bridge, no secret in the file): {}", file.as_str().unwrap_or_default());
            }
            for file in r["still_holding_dead_secret"].as_array().into_iter().flatten() {
                println!("  still holds the dead secret (remove it by hand): {}", file.as_str().unwrap_or_default());
            }
            if let Some(key) = r["key"].as_str() {
                println!("{key}\nThis is the only time the new key is shown.");
            }
        }
    }

    pub fn usage(&self, usage: &KeyUsage) {
        if self.json {
            return self.print_json(usage);
        }
        if usage.rows.is_empty() {
            println!("No assistant has used a key through Keyward on this computer yet.");
        } else {
            let rows = usage
                .rows
                .iter()
                .map(|r| vec![r.key_id.clone(), r.client.clone(), r.day.clone(), r.calls.to_string(), r.errors.to_string(), when(Some(r.last_call))])
                .collect();
            table(&["KEY", "USED BY", "DAY", "CALLS", "ERRORS", "LAST CALL"], rows);
        }
        match &usage.service_last_used {
            Some(keys) if !keys.is_empty() => {
                println!("\nThe key service last saw (from any computer):");
                table(&["KEY", "LAST USED"], keys.iter().map(|k| vec![k.key_prefix.clone(), when(k.last_used_at)]).collect());
            }
            Some(_) => {}
            None => println!("\nThe key service could not be asked when it last saw these keys used."),
        }
    }

    pub fn verification(&self, v: &Verification) {
        if self.json {
            return self.print_json(v);
        }
        println!("{}", v.verdict.sentence());
        if let Some(seconds) = v.age_seconds {
            println!("The mirror was synced {} ago.", age(seconds));
        }
    }

    pub fn mirror_status(&self, stores: &[StoreMirror]) {
        if self.json {
            return self.print_json(&stores);
        }
        if stores.is_empty() {
            return println!("The mirror is empty. Run `keyward mirror sync` while signed in.");
        }
        let rows = stores.iter().map(|s| vec![s.store_name.clone(), s.server.clone(), s.keys.to_string(), when(Some(s.synced_at)), age(s.age_seconds)]).collect();
        table(&["STORE", "SERVICE", "KEYS", "SYNCED", "AGE"], rows);
    }

    pub fn devices(&self, devices: &[Device]) {
        if self.json {
            return self.print_json(&devices);
        }
        let rows = devices
            .iter()
            .map(|d| {
                vec![
                    d.id.clone(),
                    format!("{}{}", d.name, if d.current { " (this device)" } else { "" }),
                    format!("{} <{}>", d.user.name, d.user.email),
                    when(Some(d.created_at)),
                    when(Some(d.last_seen_at)),
                    if d.signed_out_at.is_some() { "signed out".into() } else { "signed in".into() },
                ]
            })
            .collect();
        table(&["ID", "DEVICE", "USER", "SIGNED IN", "LAST SEEN", "STATUS"], rows);
    }

    pub fn staff(&self, staff: &[StaffMember]) {
        if self.json {
            return self.print_json(&staff);
        }
        let rows = staff.iter().map(|m| vec![m.id.clone(), m.name.clone(), m.email.clone(), m.role.clone(), when(Some(m.created_at))]).collect();
        table(&["ID", "NAME", "EMAIL", "ROLE", "ADDED"], rows);
    }

    pub fn audit(&self, page: &AuditPage) {
        if self.json {
            return self.print_json(page);
        }
        let rows = page
            .events
            .iter()
            .map(|e| {
                vec![
                    when(Some(e.at)),
                    e.actor.as_ref().map_or_else(|| "Keyward".into(), |a| format!("{} <{}>", a.name, a.email)),
                    e.action.clone(),
                    e.summary.clone(),
                ]
            })
            .collect();
        table(&["WHEN", "WHO", "ACTION", "WHAT"], rows);
        if let Some(before) = page.next_before {
            println!("More: keyward audit --before {before}");
        }
    }

    /// The connected apps, and above them (for people) the store's MCP URL, when the service gave it.
    pub fn connections(&self, connections: &[Connection], mcp_url: Option<&str>) {
        if self.json {
            return self.print_json(&connections);
        }
        if let Some(url) = mcp_url {
            println!("MCP URL: {url} (add it as a custom connector in claude.ai or ChatGPT)\n");
        }
        if connections.is_empty() {
            return println!("No apps are connected. Add the MCP URL as a custom connector in claude.ai or ChatGPT, then approve it on the consent page that opens.");
        }
        let rows = connections
            .iter()
            .map(|c| {
                vec![
                    c.id.clone(),
                    c.app_name.clone(),
                    c.kind.label().to_owned(),
                    c.redirect_host.clone().unwrap_or_else(|| "—".into()),
                    format!("{} <{}>", c.granted_by.name, c.granted_by.email),
                    c.granted_device.clone().unwrap_or_else(|| "consent page sign-in".into()),
                    when(Some(c.created_at)),
                    c.scopes.label().to_owned(),
                    when(c.last_used_at),
                    if c.revoked_at.is_some() { "revoked".into() } else { "connected".into() },
                ]
            })
            .collect();
        table(&["ID", "APP", "KIND", "REDIRECT HOST", "GRANTED BY", "FROM", "WHEN", "SCOPE", "LAST USED", "STATUS"], rows);
    }

    /// The store's MCP URL: alone on its line, so `$(keyward connections url)` is the URL.
    pub fn mcp_url(&self, url: &str) {
        if self.json {
            return self.print_json(&json!({"mcp_url": url}));
        }
        println!("{url}");
    }

    /// A connection code, and where it goes: the consent page the web-chat app opens.
    pub fn connection_code(&self, code: &ConnectionCode, mcp_url: Option<&str>) {
        if self.json {
            return self.print_json(code);
        }
        println!("{}", code.code);
        let url = mcp_url.map_or_else(|| "the store's MCP URL (`keyward connections url`)".to_owned(), |url| format!("the store's MCP URL {url}"));
        println!(
            "Paste this code on Keyward's consent page: in claude.ai or ChatGPT, add {url} as a custom connector and click Connect; the page opens in your browser. The code works once, until {} ({}).",
            when(Some(code.expires_at)),
            code.scopes.label().to_lowercase()
        );
    }
}

/// The finds as SARIF 2.1.0, for code-scanning tools: one rule, an error per working key, a
/// note per dead one. Locations only; never the secret.
pub fn sarif(finds: &[Find]) -> Value {
    // The folder it runs in: what `%SRCROOT%` stands for (in CI, the checkout).
    let here = std::env::current_dir().ok().and_then(|here| std::fs::canonicalize(here).ok());
    let source_root = here.as_deref().and_then(|here| Some((here, reqwest::Url::from_directory_path(here).ok()?)));
    let results: Vec<Value> = finds
        .iter()
        .map(|f| {
            let status = serde_json::to_value(f.status).unwrap_or_default();
            json!({
                "ruleId": "keyward/leaked-key",
                "level": if f.status.works() { "error" } else { "note" },
                "message": {"text": format!("Keyward key {} ({}) is in this file.", f.key_prefix, status.as_str().unwrap_or("unknown").replace('_', " "))},
                "locations": [{"physicalLocation": {"artifactLocation": artifact_location(&f.place, source_root.as_ref()), "region": {"startLine": f.place.line, "startColumn": f.place.column}}}],
                "partialFingerprints": {"keywardKey/v1": f.key_id},
                "properties": match &f.place.commit {
                    Some(commit) => json!({"status": status, "commit": commit}),
                    None => json!({"status": status}),
                },
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            // Said, so the log is whole without the folder it was made in.
            "originalUriBaseIds": source_root.as_ref().map_or_else(|| json!({}), |(_, root)| json!({"%SRCROOT%": {"uri": root.as_str()}})),
            "tool": {"driver": {
                "name": "keyward",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": [{
                    "id": "keyward/leaked-key",
                    "name": "LeakedKeywardKey",
                    "shortDescription": {"text": "A Keyward API key is in a file."},
                    "help": {"text": "Rotate the key (keyward keys rotate ID) and remove it from the file."},
                }],
            }},
            "results": results,
        }],
    })
}

/// Where a find is, as SARIF names an artifact: a URI reference, percent-encoded. A file under
/// `source_root` (the folder the scan ran in, with its URL) is named relative to it, against
/// `%SRCROOT%`, which is how code scanning maps a result onto the repository's files; any
/// other file by the `file://` URI of its absolute path. A find in history is a path in the
/// repository's top folder, which need not be where the scan ran.
fn artifact_location(place: &Place, source_root: Option<&(&Path, reqwest::Url)>) -> Value {
    let path = match (&place.repository, place.path_in_repository()) {
        (Some(repository), Some(in_repository)) => Path::new(repository).join(in_repository),
        // A find is a file that was just read, so its real path is there to ask for.
        _ => std::fs::canonicalize(&place.file).or_else(|_| std::path::absolute(&place.file)).unwrap_or_else(|_| PathBuf::from(&place.file)),
    };
    let Ok(url) = reqwest::Url::from_file_path(&path) else {
        return json!({"description": {"text": place.file}});
    };
    if let Some((root, root_url)) = source_root
        && path.starts_with(root)
        && let Some(relative) = root_url.make_relative(&url)
    {
        // A relative reference's first segment must not hold a colon, or it reads as a scheme.
        return json!({"uri": relative.replace(':', "%3A"), "uriBaseId": "%SRCROOT%"});
    }
    json!({"uri": url.as_str()})
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_read_as_a_sentence_says_them() {
        assert_eq!([count(0usize, "key"), count(1usize, "key"), count(2i64, "device")], ["0 keys", "1 key", "2 devices"]);
    }

    #[test]
    fn sarif_names_files_under_the_scan_s_folder_relative_to_it_and_others_by_file_uri() {
        let folder = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(folder.path()).unwrap();
        let root_url = reqwest::Url::from_directory_path(&root).unwrap();
        let source_root = (root.as_path(), root_url);
        std::fs::create_dir_all(root.join("config")).unwrap();
        for name in ["config/prod settings.env", "a#b c?.env", "x:y.env"] {
            std::fs::write(root.join(name), "").unwrap();
        }
        let on_disk = |file: PathBuf| Place { file: file.display().to_string(), line: 1, column: 1, commit: None, repository: None };
        let at = |place: &Place| artifact_location(place, Some(&source_root));

        let relative = json!({"uri": "config/prod%20settings.env", "uriBaseId": "%SRCROOT%"});
        assert_eq!(at(&on_disk(root.join("config/prod settings.env"))), relative, "an absolute path under the folder");
        assert_eq!(at(&on_disk(root.join("config/../config/prod settings.env"))), relative);
        assert_eq!(at(&on_disk(root.join("a#b c?.env"))), json!({"uri": "a%23b%20c%3F.env", "uriBaseId": "%SRCROOT%"}));
        assert_eq!(at(&on_disk(root.join("x:y.env"))), json!({"uri": "x%3Ay.env", "uriBaseId": "%SRCROOT%"}));

        let elsewhere = tempfile::tempdir().unwrap();
        let other = std::fs::canonicalize(elsewhere.path()).unwrap().join("my .env");
        std::fs::write(&other, "").unwrap();
        assert_eq!(at(&on_disk(other.clone())), json!({"uri": format!("file://{}/my%20.env", other.parent().unwrap().display())}));

        // History: the path is in the repository's top folder, wherever the scan ran.
        let commit = "0123456789abcdef0123456789abcdef01234567".to_owned();
        let in_history = |repository: &Path| Place {
            file: format!("{}:deploy/run me.sh", &commit[..12]),
            line: 2,
            column: 5,
            commit: Some(commit.clone()),
            repository: Some(repository.display().to_string()),
        };
        assert_eq!(at(&in_history(&root)), json!({"uri": "deploy/run%20me.sh", "uriBaseId": "%SRCROOT%"}));
        assert_eq!(at(&in_history(&root.join("vendor/shop"))), json!({"uri": "vendor/shop/deploy/run%20me.sh", "uriBaseId": "%SRCROOT%"}));
        let outside = in_history(elsewhere.path());
        assert_eq!(artifact_location(&outside, Some(&source_root))["uri"], format!("file://{}/deploy/run%20me.sh", elsewhere.path().display()));
    }
}
