//! The administration commands, run as an operator would: the real binary, on a
//! database that the server then uses.

use std::process::{Command, Output};

use serde_json::json;

use crate::common::{Gql, TestApp};

/// The command as an operator runs it: with the app's database and cache (on
/// Heroku, `heroku run` has the app's config vars), so that a revocation
/// reaches the app's cached tokens.
fn iodide_server(app: &TestApp, args: &[&str]) -> Output {
    let cache = &app.state.config.cache;
    let mut command = Command::new(env!("CARGO_BIN_EXE_iodide-server"));
    command
        .args(args)
        .env("DATABASE_URL", app.state.config.database.url.as_str())
        .env("CACHE_KEY_PREFIX", &cache.key_prefix)
        .env("RUST_LOG", "warn");
    if let Some(redis) = &cache.redis_url {
        command.env("REDIS_URL", redis.as_str());
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[tokio::test]
async fn an_operator_creates_a_user_and_a_token_that_works() {
    let app = TestApp::spawn().await;
    iodide_server(
        &app,
        &[
            "user",
            "create",
            "service",
            "--email",
            "svc@example.org",
            "--can-create-on-behalf-of-others",
        ],
    );
    let key = stdout(&iodide_server(&app, &["token", "create", "service"]));
    let key = key.strip_suffix('\n').expect("the key alone on a line");
    assert!(
        key.starts_with("iod_") && !key.contains(char::is_whitespace),
        "{key:?}"
    );

    let response = app
        .client
        .post(app.url("/api/graphql"))
        .header("Authorization", format!("Token {key}"))
        .json(&json!({ "query": "mutation { createNotebook(input: { title: \"Report\", content: \"\", owner: \"someone\" }) { owner { username } } }" }))
        .send()
        .await
        .unwrap();
    let response = Gql::read(response).await;
    assert_eq!(
        response.data()["createNotebook"]["owner"]["username"],
        "someone"
    );

    let listed = stdout(&iodide_server(&app, &["token", "list"]));
    assert!(
        listed.contains(&key[..12]) && listed.contains("service"),
        "{listed}"
    );
    assert!(!listed.contains(key), "the list must not show whole keys");

    iodide_server(&app, &["token", "revoke", key]);
    let query = json!({ "query": "{ viewer { id } }" });
    let refused = app
        .query_as(
            &app.client,
            |request| request.header("Authorization", format!("Token {key}")),
            query,
        )
        .await;
    assert_eq!(refused.status, 401);
}

/// A token's user is kept by the server (on SQLite until anything is committed
/// to the file, with Redis in Redis): asking again costs no SQL, and what the
/// command line changes, in a process of its own, is seen by the next request.
#[tokio::test]
async fn a_token_kept_by_the_server_follows_the_command_line() {
    let app = TestApp::spawn().await;
    iodide_server(&app, &["user", "create", "service"]);
    let key = stdout(&iodide_server(&app, &["token", "create", "service"]));
    let key = key.trim();
    let ask = || {
        app.query_as(
            &app.client,
            |request| request.header("Authorization", format!("Token {key}")),
            json!({ "query": "{ viewer { isStaff } }" }),
        )
    };
    assert_eq!(ask().await.data()["viewer"]["isStaff"], false);
    let statements = app.statements();
    assert_eq!(ask().await.data()["viewer"]["isStaff"], false);
    let kept = app.state.config.database.url.starts_with("sqlite")
        || app.state.config.cache.redis_url.is_some();
    if kept {
        assert_eq!(app.statements(), statements, "a kept token costs no SQL");
    }

    iodide_server(&app, &["user", "grant", "service", "--staff", "true"]);
    assert_eq!(ask().await.data()["viewer"]["isStaff"], true);
    iodide_server(&app, &["token", "revoke", key]);
    assert_eq!(ask().await.status, 401);
}

#[tokio::test]
async fn grants_change_and_mistakes_are_reported() {
    let app = TestApp::spawn().await;
    iodide_server(&app, &["user", "create", "carol"]);
    let granted = stdout(&iodide_server(
        &app,
        &["user", "grant", "carol", "--staff", "true"],
    ));
    assert!(granted.contains("staff=true"), "{granted}");

    let duplicate = Command::new(env!("CARGO_BIN_EXE_iodide-server"))
        .args(["user", "create", "carol"])
        .env("DATABASE_URL", app.state.config.database.url.as_str())
        .output()
        .unwrap();
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));
}

#[test]
fn serve_without_a_secret_key_stops_naming_the_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_iodide-server"))
        .arg("serve")
        .env_remove("SECRET_KEY")
        .env_remove("IODIDE_SERVER_DEBUG")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("SECRET_KEY must be set"));

    let bad_port = Command::new(env!("CARGO_BIN_EXE_iodide-server"))
        .args(["serve", "--dev"])
        .env("PORT", "eighty")
        .output()
        .unwrap();
    assert!(!bad_port.status.success());
    assert!(String::from_utf8_lossy(&bad_port.stderr).contains("PORT is not valid"));
}

#[test]
fn schema_prints_the_sdl() {
    let output = Command::new(env!("CARGO_BIN_EXE_iodide-server"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        iodide_server::graphql::sdl()
    );
}

/// `serve` outside development mode, with only these variables.
fn serve_with(vars: &[(&str, &str)]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_iodide-server"))
        .arg("serve")
        .env_clear()
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    assert!(!output.status.success(), "{vars:?} started");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn production_refuses_what_only_development_may_assume() {
    let key = ("SECRET_KEY", "an operator's key of at least 32 characters");
    let postgres = ("DATABASE_URL", "postgres://iodide@127.0.0.1:1/iodide");
    let uri = ("SERVER_URI", "https://notebooks.example/");
    for (vars, message) in [
        (vec![key, uri], "DATABASE_URL must be set"),
        (vec![key, postgres], "SERVER_URI must be set"),
        (
            vec![key, uri, ("DATABASE_URL", "mysql://root:pw@db/iodide")],
            "DATABASE_URL is not valid",
        ),
        (
            vec![("SECRET_KEY", "sixteen chars ok"), postgres, uri],
            "SECRET_KEY is not valid",
        ),
    ] {
        let stderr = serve_with(&vars);
        assert!(stderr.contains(message), "{vars:?}: {stderr}");
    }
}

#[test]
fn help_lists_the_environment() {
    let output = Command::new(env!("CARGO_BIN_EXE_iodide-server"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for variable in [
        "DATABASE_URL",
        "REDIS_TLS_VERIFY",
        "PGSSLMODE",
        "SERVER_URI",
    ] {
        assert!(help.contains(variable), "{variable} missing from:\n{help}");
    }
}

#[test]
fn migrate_reports_each_migration_it_applies() {
    let folder = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/db.sqlite?mode=rwc", folder.path().display());
    let migrate = || {
        let output = Command::new(env!("CARGO_BIN_EXE_iodide-server"))
            .arg("migrate")
            .env("DATABASE_URL", &url)
            .output()
            .unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap()
    };
    let first = migrate();
    assert!(
        first.starts_with("applied m20261128_000001_initial_schema\n"),
        "{first}"
    );
    assert_eq!(migrate(), "no pending migrations\n");
}

#[test]
fn serve_listens_where_port_and_bind_say() {
    let folder = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_iodide-server"))
        .args(["serve", "--dev", "--bind", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/db.sqlite?mode=rwc", folder.path().display()),
        )
        .env("PORT", "1")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let listening = loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break true;
        }
        if std::time::Instant::now() > deadline || server.try_wait().unwrap().is_some() {
            break false;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let _ = server.kill();
    let _ = server.wait();
    assert!(listening, "nothing listens on --port {port}");
}
