//! The `iodide-server` command: serve, run the worker, migrate, print the
//! schema, and administer users and API tokens.

/// mimalloc rather than the system allocator: a request makes many short-lived
/// allocations, and glibc's malloc (with its fastbin consolidation) was the
/// largest single cost in the bench's profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use clap::{Parser, Subcommand};
use iodide_server::{
    AppState,
    auth::api_token,
    build_app,
    cache::{Cache, CacheHealth, RedisConnection},
    config::{Config, ConfigError, ENVIRONMENT_HELP},
    db,
    events::Events,
    users,
    worker::Worker,
};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    version,
    about = "A GraphQL server for Iodide-style notebooks",
    after_help = ENVIRONMENT_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (the default).
    Serve {
        /// Development mode: no SECRET_KEY needed, listens on 127.0.0.1, and
        /// runs the worker in this process (the one-command embedded setup).
        #[arg(long)]
        dev: bool,
        /// Run the background worker inside this process.
        #[arg(long)]
        with_worker: bool,
        /// Port to listen on (instead of PORT).
        #[arg(long)]
        port: Option<u16>,
        /// Address to listen on (instead of BIND_ADDRESS).
        #[arg(long, value_name = "ADDRESS")]
        bind: Option<IpAddr>,
    },
    /// Run the background worker: file source fetches and schedules, revision
    /// pruning.
    Worker {
        /// Development mode: no SECRET_KEY needed.
        #[arg(long)]
        dev: bool,
    },
    /// Apply pending database migrations (Heroku's release phase).
    Migrate,
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens for third-party services.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user.
    Create {
        username: String,
        #[arg(long)]
        email: Option<String>,
        /// Staff read everything in internal mode and see private fields.
        #[arg(long)]
        staff: bool,
        /// Allow creating notebooks owned by other usernames.
        #[arg(long)]
        can_create_on_behalf_of_others: bool,
    },
    /// Change an existing user's grants.
    Grant {
        username: String,
        #[arg(long)]
        staff: Option<bool>,
        #[arg(long)]
        can_create_on_behalf_of_others: Option<bool>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token for USERNAME and print its key (shown only once).
    Create { username: String },
    /// Revoke a token, given its key or the prefix that `token list` shows.
    Revoke { key: String },
    /// List tokens: prefix, user and creation time.
    List,
}

fn main() {
    iodide_server::memory::configure_mimalloc();
    iodide_server::memory::tune_allocator();
    let runtime = tokio::runtime::Runtime::new().expect("the async runtime starts");
    runtime.block_on(async {
        if let Err(err) = run(Cli::parse()).await {
            eprintln!("error: {err:#}");
            std::process::exit(1);
        }
    });
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::Serve {
        dev: false,
        with_worker: false,
        port: None,
        bind: None,
    });
    match command {
        Command::Serve {
            dev,
            with_worker,
            port,
            bind,
        } => {
            let config = serve_config(dev, port, bind)?;
            init_tracing(config.dev_mode);
            serve(config, with_worker || dev).await
        }
        Command::Worker { dev } => {
            let config = Config::from_env(dev)?;
            init_tracing(config.dev_mode);
            work(config).await
        }
        Command::Migrate => migrate().await,
        Command::Schema => {
            print!("{}", iodide_server::graphql::sdl());
            Ok(())
        }
        Command::User(command) => user_command(command).await,
        Command::Token(command) => token_command(command).await,
    }
}

/// The environment, with `--port` and `--bind` in place of PORT and
/// BIND_ADDRESS when given (so that the default SERVER_URI follows the port).
fn serve_config(dev: bool, port: Option<u16>, bind: Option<IpAddr>) -> Result<Config, ConfigError> {
    Config::from_lookup(dev, |name| {
        let flag = match name {
            "PORT" => port.map(|port| port.to_string()),
            "BIND_ADDRESS" => bind.map(|address| address.to_string()),
            _ => None,
        };
        flag.or_else(|| std::env::var(name).ok())
    })
}

/// The release phase: says what it applied, since that is what an operator
/// reads in the release log.
async fn migrate() -> anyhow::Result<()> {
    let db = connect_for_admin().await?;
    let applied = db::migrate(&db).await?;
    if applied.is_empty() {
        println!("no pending migrations");
    }
    for name in applied {
        println!("applied {name}");
    }
    Ok(())
}

async fn serve(config: Config, with_worker: bool) -> anyhow::Result<()> {
    let address = SocketAddr::new(config.bind_address, config.port);
    let dev_mode = config.dev_mode;
    let server_uri = config.server_uri.clone();
    if config.secret_key_is_ephemeral {
        tracing::warn!(
            "SECRET_KEY is not set: using a random one, so tokens and sessions will not \
             survive a restart"
        );
    }
    warn_about_sign_in(&config);
    let state = AppState::init(config).await?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("could not listen on {address}"))?;
    let shutdown = CancellationToken::new();
    let worker = if with_worker {
        let worker = Worker::new(state.db.clone(), state.cache.clone(), &state.config)?
            .with_events(state.events.clone());
        let token = shutdown.clone();
        Some(tokio::spawn(async move { worker.run(token).await }))
    } else {
        None
    };
    tracing::info!(%address, with_worker, "listening");
    if dev_mode {
        tracing::info!("development mode: open {server_uri} (GraphiQL: {server_uri}graphiql)");
    }
    let db = state.db.clone();
    let (token_limit, request_limit) = (
        state.token_rate_limit.clone(),
        state.request_rate_limit.clone(),
    );
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(300));
        loop {
            every.tick().await;
            token_limit.forget_idle();
            request_limit.forget_idle();
        }
    });
    let stop = shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        stop.cancel();
    });
    let stop = shutdown.clone();
    let live = state.live.clone();
    let limits = state.config.connections;
    let server = iodide_server::serve(listener, build_app(state), limits, async move {
        stop.cancelled().await;
    });
    let deadline = async {
        shutdown.cancelled().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        served = server => served?,
        () = deadline => tracing::warn!("requests still running {SHUTDOWN_GRACE:?} after SIGTERM; stopping anyway"),
    }
    shutdown.cancel();
    // After the HTTP requests: subscriptions get the protocol's going-away close.
    live.close_all(SHUTDOWN_GRACE).await;
    if let Some(worker) = worker {
        // The worker finishes its job or hands it back to the queue.
        worker.await?;
    }
    db.close().await?;
    tracing::info!("stopped");
    Ok(())
}

async fn work(config: Config) -> anyhow::Result<()> {
    let db = db::connect(&config.database, Default::default()).await?;
    db::migrate(&db).await?;
    let redis = RedisConnection::from_config(&config.cache)?;
    let cache = Cache::new(&config.cache, redis.clone());
    // The worker only tells: it has no subscribers to listen for.
    let events = Events::publishing_only(&config, &db, redis)?;
    let worker = Worker::new(db, cache, &config)?.with_events(events);
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        token.cancel();
    });
    worker.run(shutdown).await;
    Ok(())
}

fn warn_about_sign_in(config: &Config) {
    if config.openidc.is_some() {
        if !config.bind_address.is_loopback() {
            tracing::warn!(
                address = %config.bind_address,
                "OpenIDC mode trusts the proxy's user header: make sure this address is \
                 reachable only through the proxy"
            );
        }
    } else if config.github.is_none() {
        if config.dev_mode {
            tracing::info!("sign-in: development form at /login/ (GitHub is not configured)");
        } else {
            tracing::warn!(
                "sign-in is off: set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET (the development \
                 sign-in form exists only in development mode)"
            );
        }
    }
}

/// How long in-flight requests may finish after SIGTERM: Heroku sends SIGKILL
/// 30 s after it.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(20);

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// Administration commands read the environment as the server does, but need
/// no SECRET_KEY or SERVER_URI. A person reads what they log.
fn admin_config() -> anyhow::Result<Config> {
    let config = Config::for_administration(|name| std::env::var(name).ok())?;
    init_tracing(true);
    Ok(config)
}

async fn connect_for_admin() -> anyhow::Result<sea_orm::DatabaseConnection> {
    Ok(db::connect(&admin_config()?.database, Default::default()).await?)
}

/// Administration commands work on an up-to-date schema.
async fn migrated_db() -> anyhow::Result<sea_orm::DatabaseConnection> {
    let db = connect_for_admin().await?;
    db::migrate(&db).await?;
    Ok(db)
}

/// The servers' cache, so that a change made here is not hidden by it (with an
/// in-process cache, entries expire on their own).
fn admin_cache() -> anyhow::Result<Cache> {
    let config = admin_config()?;
    Ok(Cache::from_config(&config.cache)?)
}

async fn user_command(command: UserCommand) -> anyhow::Result<()> {
    let db = migrated_db().await?;
    match command {
        UserCommand::Create {
            username,
            email,
            staff,
            can_create_on_behalf_of_others,
        } => {
            let user = users::create(
                &db,
                users::NewUser {
                    username,
                    email,
                    is_staff: staff,
                    can_create_on_behalf_of_others,
                },
            )
            .await?;
            println!("created user {} (id {})", user.username, user.id);
        }
        UserCommand::Grant {
            username,
            staff,
            can_create_on_behalf_of_others,
        } => {
            let cache = admin_cache()?;
            let user = users::grant(
                &db,
                &cache,
                &username,
                staff,
                can_create_on_behalf_of_others,
            )
            .await?;
            println!(
                "{}: staff={}, can_create_on_behalf_of_others={}",
                user.username, user.is_staff, user.can_create_on_behalf_of_others
            );
        }
    }
    Ok(())
}

async fn token_command(command: TokenCommand) -> anyhow::Result<()> {
    let db = migrated_db().await?;
    match command {
        TokenCommand::Create { username } => {
            println!("{}", api_token::create(&db, &username).await?)
        }
        TokenCommand::Revoke { key } => {
            let cache = admin_cache()?;
            api_token::revoke(&db, &cache, &key).await?;
            println!("revoked");
            if cache.health().await != CacheHealth::Ok {
                eprintln!(
                    "warning: the cache could not be told; servers may accept the token \
                     until its cache entry expires (60 s)"
                );
            }
        }
        TokenCommand::List => {
            for token in api_token::list(&db).await? {
                println!(
                    "{}\t{}\t{}",
                    token.prefix,
                    token.username,
                    token.created_at.to_rfc3339()
                );
            }
        }
    }
    Ok(())
}

/// One line per event for a person (development mode, administration
/// commands); JSON lines for a log collector otherwise (Heroku, systemd). A
/// second call (admin_config runs twice in `user grant`) keeps the first.
fn init_tracing(for_a_person: bool) {
    // sea_orm_migration's lines say which migration runs: kept.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if for_a_person {
        builder.try_init()
    } else {
        builder.json().try_init()
    };
}
