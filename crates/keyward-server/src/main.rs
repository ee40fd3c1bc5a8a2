//! `keyward-server`: run the key service, or administer its stores.

use std::io::BufRead;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use keyward_core::{Brand, hashing};
use keyward_server::auth::client_address::ProxyPolicy;
use keyward_server::auth::tokens;
use keyward_server::db::{Database, Db, NewStore, StoreSummary};
use keyward_server::{AppState, Config, demo};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "keyward-server", version, about = "The Keyward key service: scoped API keys for a merchant's store.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct ServeArgs {
    #[command(flatten)]
    db: DatabaseArg,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8420")]
    listen: SocketAddr,
    /// The brand every key starts with: 2 to 8 lowercase letters.
    #[arg(long, default_value = "kw")]
    brand: String,
    /// Requests one key may make per minute.
    #[arg(long, default_value_t = 600)]
    rate_limit: u32,
    /// Failed authentications one client address may make per minute.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    failed_auth_limit: u32,
    /// Run argon2 on every request (for measuring the verified cache; never in production).
    #[arg(long)]
    no_verified_cache: bool,
    /// A host name the service answers to (DNS-rebinding protection); repeat for several.
    /// Bound to loopback it always answers to localhost and loopback addresses; bound elsewhere
    /// with none given, to any name.
    #[arg(long = "allowed-host", alias = "mcp-allowed-host", value_name = "NAME")]
    allowed_hosts: Vec<String>,
    /// A proxy (or a network of them, as a CIDR) whose client-address header is believed;
    /// repeat for several. Without one, the peer's address is the client's.
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    trusted_proxies: Vec<ipnet::IpNet>,
    /// The header trusted proxies put the client's address in.
    #[arg(long, default_value = "X-Forwarded-For", value_name = "NAME")]
    client_ip_header: String,
    /// The address clients reach the service at, e.g. https://keys.example.com behind a TLS
    /// proxy: OAuth discovery names URLs under it. Default: the address listened on.
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// A dashboard session ends after this many hours without use.
    #[arg(long, default_value_t = 14 * 24, value_name = "HOURS", value_parser = clap::value_parser!(u64).range(1..))]
    session_idle_hours: u64,
    /// A dashboard session ends this many hours after sign-in.
    #[arg(long, default_value_t = 90 * 24, value_name = "HOURS", value_parser = clap::value_parser!(u64).range(1..))]
    session_lifetime_hours: u64,
    /// Where Prometheus scrapes `/metrics`, apart from the API. Default: the --listen address
    /// with the next port (127.0.0.1:8421), or a free port when --listen picks one.
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
}

/// Where the data lives, the same for every subcommand.
#[derive(clap::Args, Clone)]
struct DatabaseArg {
    /// A SQLite file (created if missing), or a PostgreSQL URL (postgres://user:password@host/db)
    /// for several instances on one database.
    #[arg(long = "database", visible_alias = "db", env = "KEYWARD_DATABASE_URL", default_value = "keyward.db", value_name = "PATH_OR_URL", hide_env_values = true)]
    database: Database,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the key service.
    Serve(ServeArgs),
    /// Create a demo store (if missing) and serve it; prints where to sign in.
    Demo(ServeArgs),
    /// Manage stores.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Add a staff member to a store. The password is read from KEYWARD_PASSWORD or standard input.
    AddStaff {
        #[command(flatten)]
        db: DatabaseArg,
        #[arg(long)]
        store: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
    },
    /// Manage partner apps: confidential OAuth clients that serve many stores, each store
    /// approving them on the consent page.
    #[command(subcommand)]
    Partner(PartnerCommand),
    /// Bring a database's schema up to date: a SQLite file, or PostgreSQL (postgres://…).
    /// Instances started together on one PostgreSQL take turns; a schema newer than this
    /// build knows is refused and left alone.
    ///
    /// With --from sqlite:PATH, moves a SQLite deployment into an empty PostgreSQL database:
    /// every store, person, key hash, device, connection and audit entry, counted on both sides
    /// before it is kept. Stop the service on the SQLite file first.
    Migrate {
        #[command(flatten)]
        db: DatabaseArg,
        /// The SQLite deployment to move into the --database PostgreSQL.
        #[arg(long, value_name = "sqlite:PATH")]
        from: Option<String>,
    },
    /// Turn a store's subscription on or off (off: the data plane answers 403).
    Subscription {
        #[command(flatten)]
        db: DatabaseArg,
        #[arg(long)]
        store: String,
        #[arg(long, action = clap::ArgAction::Set)]
        active: bool,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Create a store and its owner. The password is read from KEYWARD_PASSWORD or standard input.
    Create {
        #[command(flatten)]
        db: DatabaseArg,
        #[arg(long)]
        name: String,
        #[arg(long)]
        owner_name: String,
        #[arg(long)]
        owner_email: String,
    },
    /// List stores.
    List {
        #[command(flatten)]
        db: DatabaseArg,
    },
}

#[derive(Subcommand)]
enum PartnerCommand {
    /// Register a partner app; prints its client id and secret, this once.
    Add {
        #[command(flatten)]
        db: DatabaseArg,
        /// The app's name, shown to merchants on the consent page and in their connected apps.
        #[arg(long)]
        name: String,
        /// An exact address that receives authorization codes (https://, or http:// on
        /// loopback); repeat for several.
        #[arg(long = "redirect-uri", value_name = "URI", required = true)]
        redirect_uris: Vec<String>,
    },
    /// List partner apps (never their secrets).
    List {
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Remove a partner app and revoke every store's connection to it.
    Remove {
        #[command(flatten)]
        db: DatabaseArg,
        /// The client id `partner list` shows.
        id: String,
    },
}

fn read_password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("KEYWARD_PASSWORD") {
        return check_password(password);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("could not read the password from standard input")?;
    check_password(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn check_password(password: String) -> anyhow::Result<String> {
    if password.chars().count() < keyward_server::routes::MIN_PASSWORD_CHARS {
        bail!(
            "The password must be at least {} characters. Set KEYWARD_PASSWORD or pipe it on standard input.",
            keyward_server::routes::MIN_PASSWORD_CHARS
        );
    }
    Ok(password)
}

/// A Unix time as `partner list` shows it.
fn shown_time(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| secs.to_string())
}

async fn partner_command(command: PartnerCommand) -> anyhow::Result<()> {
    match command {
        PartnerCommand::Add { db, name, redirect_uris } => {
            let name = keyward_core::wire::validate_name("partner app name", &name).map_err(anyhow::Error::msg)?;
            let mut uris: Vec<String> = Vec::with_capacity(redirect_uris.len());
            for uri in redirect_uris {
                keyward_server::oauth::redirect_uri::check_redirect_uri(&uri).map_err(|e| anyhow::anyhow!("{}", e.description))?;
                if !uris.contains(&uri) {
                    uris.push(uri);
                }
            }
            let secret = tokens::random_token(tokens::CLIENT_SECRET_PREFIX);
            let client = open_db(&db).await?.register_partner(name, uris, tokens::digest(&secret)).await?;
            println!("client_id: {}", client.id);
            println!("client_secret: {secret}");
            eprintln!(
                "Partner app \"{}\" registered. Give the partner both values now: the secret is shown this once and only its digest is kept. If it is lost, remove the app and add it again.",
                client.name
            );
            Ok(())
        }
        PartnerCommand::List { db } => {
            for partner in open_db(&db).await?.list_partners().await? {
                let last_used = partner.last_used_at.map_or_else(|| "never used".to_owned(), |t| format!("last used {}", shown_time(t)));
                let client = partner.client;
                println!("{}\t{}\t{}\tcreated {}\t{last_used}", client.id, client.name, client.redirect_uris.join(" "), shown_time(client.created_at));
            }
            Ok(())
        }
        PartnerCommand::Remove { db, id } => match open_db(&db).await?.remove_partner(id.clone()).await {
            Ok(removed) => {
                let n = removed.revoked_connections;
                println!("Removed partner app \"{}\" and revoked {n} connection{}.", removed.name, if n == 1 { "" } else { "s" });
                Ok(())
            }
            Err(keyward_server::db::DbError::NotFound) => {
                bail!("There is no partner app {}. `keyward-server partner list` shows their client ids.", id.chars().filter(|c| !c.is_control()).take(100).collect::<String>())
            }
            Err(e) => Err(e.into()),
        },
    }
}

/// `keyward-server migrate`.
async fn migrate(db: &DatabaseArg, from: Option<&str>) -> anyhow::Result<()> {
    if let Some(from) = from {
        let (Database::Sqlite(source), Database::Postgres(target)) = (Database::parse(from), &db.database) else {
            bail!("--from names a SQLite file (sqlite:PATH) and --database a PostgreSQL URL (postgres://…). Give both that way.");
        };
        let done = keyward_server::db::transfer::sqlite_to_postgres(&source, target)
            .await
            .with_context(|| format!("could not move {} into {}", source.display(), db.database.describe()))?;
        for (table, rows) in &done.tables {
            println!("{table}\t{rows}");
        }
        println!("Moved {} into {}: every row above is in both, counted. Serve with --database pointing there.", source.display(), db.database.describe());
        return Ok(());
    }
    match &db.database {
        Database::Postgres(url) => {
            use keyward_server::db::postgres;
            let pool = postgres::connect(url).await?;
            let done = postgres::migrate(&pool).await?;
            if done.from == done.to {
                println!("The PostgreSQL schema is up to date (version {}).", done.to);
            } else {
                println!("Brought the PostgreSQL schema from version {} to {}.", done.from, done.to);
            }
        }
        Database::Sqlite(path) => {
            open_db(db).await?;
            println!("The SQLite database {} is up to date.", path.display());
        }
    }
    Ok(())
}

/// Opens the database the subcommand was given, bringing its schema up to date.
async fn open_db(db: &DatabaseArg) -> anyhow::Result<Db> {
    db.database.open().await.with_context(|| format!("could not open the database {}", db.database.describe()))
}

async fn run_server(args: ServeArgs, demo_mode: bool) -> anyhow::Result<()> {
    let brand = Brand::new(&args.brand).map_err(|_| anyhow::anyhow!("The brand must be 2 to 8 lowercase letters, e.g. --brand asmk."))?;
    if args.session_lifetime_hours < args.session_idle_hours {
        bail!("--session-lifetime-hours ({}) is shorter than --session-idle-hours ({}). Make the lifetime at least as long as the idle time.", args.session_lifetime_hours, args.session_idle_hours);
    }
    // One exact string names this service everywhere (the OAuth issuer, `iss`, the resource),
    // so the public URL is kept as its origin: lowercase, no default port, no trailing slash.
    // A path is refused: the endpoints live at the root of the origin.
    let public_url = match &args.public_url {
        None => None,
        Some(given) => {
            let parsed = url::Url::parse(given).ok().filter(|u| {
                matches!(u.scheme(), "http" | "https") && u.host().is_some() && u.username().is_empty() && u.password().is_none()
                    && u.path() == "/" && u.query().is_none() && u.fragment().is_none()
            });
            let Some(parsed) = parsed else {
                bail!("--public-url must be an http:// or https:// origin such as https://keys.example.com, with no path, query or credentials. Give the address clients use; the service answers at its root.");
            };
            Some(parsed.origin().ascii_serialization())
        }
    };
    let db = open_db(&args.db).await?;
    db.ensure_brand(brand.as_str()).await?;
    let demo_store = if demo_mode { Some(demo::ensure_demo_store(&db).await?) } else { None };
    let mut config = Config::new(brand);
    config.key_requests_per_minute = args.rate_limit;
    config.failed_auth_per_minute = args.failed_auth_limit;
    config.verified_cache = !args.no_verified_cache;
    config.allowed_hosts = args.allowed_hosts;
    config.public_url = public_url;
    config.proxies = ProxyPolicy { trusted: args.trusted_proxies, header: args.client_ip_header.to_ascii_lowercase() };
    config.session_idle = Duration::from_secs(args.session_idle_hours.saturating_mul(3600));
    config.session_lifetime = Duration::from_secs(args.session_lifetime_hours.saturating_mul(3600));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("could not listen on {}; is another service using that port? Pick another with --listen", args.listen))?;
    let addr = listener.local_addr()?;
    println!("Keyward key service listening on http://{addr}");
    if demo_store.is_some() {
        // The service has no sign-in page of its own: people sign in from the app or the CLI.
        println!("Demo store \"Demo Workshop\" is ready. Sign in from the Keyward app (key service http://{addr}) or with `keyward login --server http://{addr}`, as:");
        println!("  owner: {} / {}", demo::OWNER_EMAIL, demo::PASSWORD);
        println!("  staff: {} / {}", demo::STAFF_EMAIL, demo::PASSWORD);
        println!("API document: http://{addr}/openapi.json   Stop with Ctrl-C.");
    }
    let state = AppState::new(db, config);
    let metrics_at = args.metrics_listen.unwrap_or_else(|| {
        let port = if args.listen.port() == 0 { 0 } else { args.listen.port().saturating_add(1) };
        SocketAddr::new(args.listen.ip(), port)
    });
    let metrics_listener = tokio::net::TcpListener::bind(metrics_at)
        .await
        .with_context(|| format!("could not listen on {metrics_at} for /metrics; is another service using that port? Pick another with --metrics-listen"))?;
    println!("Metrics for Prometheus at http://{}/metrics", metrics_listener.local_addr()?);
    let metrics = keyward_server::metrics::router(state.metrics.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(metrics_listener, metrics).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    use std::io::Write;
    std::io::stdout().flush()?;
    keyward_server::serve(listener, state, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("KEYWARD_LOG").unwrap_or_else(|_| EnvFilter::new("info,rmcp=warn")))
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve(args) => run_server(args, false).await,
        Command::Migrate { db, from } => migrate(&db, from.as_deref()).await,
        Command::Demo(args) => run_server(args, true).await,
        Command::Store(StoreCommand::Create { db, name, owner_name, owner_email }) => {
            let password = read_password()?;
            let db = open_db(&db).await?;
            let id = db
                .create_store(NewStore { name, owner_name, owner_email, owner_password_hash: hashing::hash_secret(&password)? })
                .await?;
            println!("{id}");
            Ok(())
        }
        Command::Store(StoreCommand::List { db }) => {
            for StoreSummary { id, name, subscription_active: subscription, uninstalled } in open_db(&db).await?.list_stores().await? {
                let state = if uninstalled { "uninstalled" } else if subscription { "active" } else { "subscription inactive" };
                println!("{id}\t{name}\t{state}");
            }
            Ok(())
        }
        Command::AddStaff { db, store, name, email } => {
            let password = read_password()?;
            let id = open_db(&db).await?.add_staff(store, name, email, hashing::hash_secret(&password)?).await?;
            println!("{id}");
            Ok(())
        }
        Command::Partner(command) => partner_command(command).await,
        Command::Subscription { db, store, active } => {
            open_db(&db).await?.set_subscription(store, active).await?;
            Ok(())
        }
    }
}
