//! The test harness: a fresh database per test, seeded with the demo catalog,
//! served over real HTTP on a loopback port, with a statement counter.

use std::sync::{Arc, Mutex};

use emporium::{
    app::{self, AppState},
    config::Config,
    domain::clock::ManualClock,
    infra,
    seed::{self, SeedOptions},
};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};

/// Products in the default test catalog (enough for several pages).
pub const TEST_PRODUCTS: usize = 120;

/// Where a test's database lives; dropping it removes the database.
pub enum DbHandle {
    /// The temporary directory of the SQLite file.
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    /// A database of its own next to `TEST_DATABASE_URL`'s.
    Postgres {
        /// Where to connect to drop it.
        admin_url: String,
        /// Its name.
        name: String,
    },
}

impl DbHandle {
    fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres { .. })
    }
}

/// A running app on a fresh database.
pub struct TestApp {
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub base: String,
    /// The app's database (the same pool the server uses).
    pub db: DatabaseConnection,
    /// SQL statements executed so far on `db`.
    pub statements: Arc<Mutex<Vec<String>>>,
    /// An HTTP client.
    pub client: reqwest::Client,
    /// The server's state (its mailer, limiter and keys).
    pub state: AppState,
    /// The clock the server's rules go by: advance it to make holds,
    /// deadlines and tokens expire instead of waiting for them.
    pub clock: ManualClock,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    handle: Option<DbHandle>,
    /// The server's own runtime ([`Options::own_runtime`]).
    runtime: Option<tokio::runtime::Runtime>,
}

/// A node running as a process of its own ([`TestApp::spawn_process`]);
/// killed by its PID when dropped.
pub struct NodeProcess {
    _child: tokio::process::Child,
}

/// Options for [`TestApp::spawn_with`].
#[derive(Clone, Default)]
pub struct Options {
    /// Products to seed (`None`: [`TEST_PRODUCTS`]; `Some(0)`: no seed at all).
    pub products: Option<usize>,
    /// Adjusts the configuration before the app starts.
    pub configure: Option<fn(&mut Config)>,
    /// A Redis of the test's own instead of `TEST_REDIS_URL`.
    pub redis_url: Option<String>,
    /// Serve on a multi-threaded runtime of the server's own (for races;
    /// see [`TestApp::serve_apart`]).
    pub own_runtime: bool,
    /// Send mail through this SMTP server (`smtp://127.0.0.1:PORT`)
    /// instead of keeping it in the in-memory outbox.
    pub smtp_url: Option<String>,
}

impl TestApp {
    /// An app with the default test catalog.
    pub async fn spawn() -> Self {
        Self::spawn_with(Options::default()).await
    }

    /// An app with the given options.
    pub async fn spawn_with(opts: Options) -> Self {
        let (url, handle) = fresh_database().await;
        let mut config = Config::for_database(url.clone());
        config.redis_url = opts.redis_url.clone().or_else(redis_url).map(Into::into);
        config.db_max_connections = 8;
        if handle.is_postgres() {
            // SQLite tests keep the development key file beside their
            // database; a PostgreSQL one gets a key of its own.
            config.secret_key =
                Some(emporium::domain::sealing::MasterKey::generate_material().into());
        }
        // Tests share one Redis: each app keeps its keys apart.
        config.redis_prefix = format!("emporium-test:{}:", uuid::Uuid::new_v4().simple());
        if let Some(url) = &opts.smtp_url {
            config.auth.smtp_url = Some(url.clone().into());
        }
        if let Some(f) = opts.configure {
            f(&mut config);
        }
        let mut db = infra::db::connect(&url, config.db_max_connections)
            .await
            .unwrap_or_else(|e| panic!("connect {url}: {e}"));
        infra::db::migrate(&db)
            .await
            .unwrap_or_else(|e| panic!("migrate: {e}"));
        let products = opts.products.unwrap_or(TEST_PRODUCTS);
        if products > 0 {
            seed::seed(
                &db,
                &SeedOptions {
                    products,
                    ..Default::default()
                },
            )
            .await
            .unwrap_or_else(|e| panic!("seed: {e:#}"));
        }
        let statements = Arc::new(Mutex::new(Vec::new()));
        let log = statements.clone();
        db.set_metric_callback(move |info| {
            if let Ok(mut log) = log.lock() {
                log.push(info.statement.sql.clone());
            }
        });
        let clock = ManualClock::new();
        if opts.own_runtime {
            return Self::serve_apart(db, config, clock, statements, handle).await;
        }
        let mut state = AppState::with_db(db.clone(), config)
            .await
            .unwrap_or_else(|e| panic!("state: {e}"));
        state.clock = clock.clock();
        Self::serve(state, clock, statements, Some(handle)).await
    }

    /// Serves on a multi-threaded runtime of the app's own, with a pool of
    /// its own, so that a test's clients and the server never take turns on
    /// one thread: races between requests are real races. `db` (the test's
    /// pool, which counts statements) stays for the test's assertions.
    async fn serve_apart(
        db: DatabaseConnection,
        config: Config,
        clock: ManualClock,
        statements: Arc<Mutex<Vec<String>>>,
        handle: DbHandle,
    ) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("server")
            .build()
            .unwrap_or_else(|e| panic!("a runtime for the server: {e}"));
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("addr: {e}"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<AppState>();
        let server_clock = clock.clock();
        let server = runtime.spawn(async move {
            let pool =
                infra::db::connect(config.database_url.expose(), config.db_max_connections).await?;
            let mut state = AppState::with_db(pool, config).await?;
            state.clock = server_clock;
            let listener = tokio::net::TcpListener::from_std(listener)?;
            let _ = ready_tx.send(state.clone());
            app::serve(state, listener, async move {
                let _ = rx.await;
            })
            .await
        });
        let Ok(state) = ready_rx.await else {
            match server.await {
                Ok(Err(e)) => panic!("the server did not start: {e:#}"),
                other => panic!("the server did not start: {other:?}"),
            }
        };
        Self {
            base: format!("http://{addr}"),
            db,
            statements,
            client: reqwest::Client::new(),
            state,
            clock,
            shutdown: Some(tx),
            server: Some(server),
            handle: Some(handle),
            runtime: Some(runtime),
        }
    }

    async fn serve(
        state: AppState,
        clock: ManualClock,
        statements: Arc<Mutex<Vec<String>>>,
        handle: Option<DbHandle>,
    ) -> Self {
        let (listener, addr) = loopback().await;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app::serve(state.clone(), listener, async move {
            let _ = rx.await;
        }));
        Self {
            base: format!("http://{addr}"),
            db: state.db.clone(),
            statements,
            client: reqwest::Client::new(),
            state,
            clock,
            shutdown: Some(tx),
            server: Some(server),
            handle,
            runtime: None,
        }
    }

    /// A second node: its own server and in-process state (caches, limiter)
    /// on the same database, configuration, Redis and clock as this one.
    pub async fn spawn_sibling(&self) -> Self {
        let config = (*self.state.config).clone();
        let mut state = AppState::with_db(self.db.clone(), config)
            .await
            .unwrap_or_else(|e| panic!("state: {e}"));
        state.clock = self.clock.clock();
        Self::serve(state, self.clock.clone(), self.statements.clone(), None).await
    }

    /// A second node in a process of its own: the built `emporium` binary
    /// serving on a free loopback port, on this app's database and Redis
    /// (with its key prefix), configured from the environment as an
    /// operator would. Returns a client-side view of it (its `base` is the
    /// process; `db`, `state` and `clock` are this app's, for assertions;
    /// the process runs on the system clock) and the process, which is
    /// killed when dropped.
    pub async fn spawn_process(&self) -> (Self, NodeProcess) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("a free port: {e}"));
        let config = &self.state.config;
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_emporium"));
        cmd.arg("serve")
            .env("EMPORIUM_DATABASE_URL", config.database_url.expose())
            .env("EMPORIUM_REDIS_PREFIX", &config.redis_prefix)
            .env("EMPORIUM_LISTEN", format!("127.0.0.1:{port}"))
            .env("EMPORIUM_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true);
        // The same master key, so it reads the secrets this app sealed.
        if let Some(key) = &config.secret_key {
            cmd.env("EMPORIUM_SECRET_KEY", key.expose());
        }
        match &config.redis_url {
            Some(url) => cmd.env("EMPORIUM_REDIS_URL", url.expose()),
            None => cmd.env_remove("EMPORIUM_REDIS_URL"),
        };
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start the emporium binary: {e}"));
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the node process exited at start: {status}");
            }
            if client
                .get(format!("{base}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the node process did not get ready"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let view = Self {
            base,
            db: self.db.clone(),
            statements: self.statements.clone(),
            client,
            state: self.state.clone(),
            clock: self.clock.clone(),
            shutdown: None,
            server: None,
            handle: None,
            runtime: None,
        };
        (view, NodeProcess { _child: child })
    }

    /// Moves the app's clock a second past `at` (leaves it if it is past
    /// already).
    pub fn advance_past(&self, at: chrono::DateTime<chrono::Utc>) {
        if let Ok(gap) = (at - self.clock.now()).to_std() {
            self.clock.advance(gap + std::time::Duration::from_secs(1));
        }
    }

    /// Mails the app has queued so far.
    pub fn mails(&self) -> Vec<emporium::infra::mail::Mail> {
        self.state
            .mailer
            .outbox()
            .map(|o| o.sent())
            .unwrap_or_default()
    }

    /// Sends the shutdown signal and waits until the server has stopped.
    pub async fn stop_server(&mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.server.take() {
            Some(server) => server.await?,
            None => Ok(()),
        }
    }

    /// The GraphQL endpoint.
    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.base)
    }

    /// POSTs a GraphQL operation and returns (status, JSON body).
    pub async fn post(&self, query: &str, variables: Value) -> (u16, Value) {
        self.post_with(query, variables, &[]).await
    }

    /// POSTs a GraphQL operation with a bearer token.
    pub async fn post_as(&self, token: &str, query: &str, variables: Value) -> (u16, Value) {
        let auth = format!("Bearer {token}");
        self.post_with(query, variables, &[("authorization", auth.as_str())])
            .await
    }

    /// Runs the `emporium` binary against this app's database with `env`
    /// added. It is awaited, not waited for: the app's server and background
    /// tasks share this test's runtime, and blocking it while one of them
    /// holds SQLite's write lock would leave the command waiting on a lock
    /// nothing can release.
    pub async fn cli(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_emporium"));
        cmd.args(args)
            .env(
                "EMPORIUM_DATABASE_URL",
                self.state.config.database_url.expose(),
            )
            .env("EMPORIUM_LOG", "warn")
            .stdin(std::process::Stdio::null())
            // A command that should have exited but did not is stopped
            // when the test gives up on it.
            .kill_on_drop(true);
        if let Some(key) = &self.state.config.secret_key {
            cmd.env("EMPORIUM_SECRET_KEY", key.expose());
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output()
            .await
            .unwrap_or_else(|e| panic!("run the CLI: {e}"))
    }

    /// POSTs an operation as `token` that must succeed and returns its `data`.
    pub async fn query_as(&self, token: &str, query: &str, variables: Value) -> Value {
        let (status, body) = self.post_as(token, query, variables).await;
        assert_eq!(status, 200, "unexpected status; body: {body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// POSTs a GraphQL operation with extra headers.
    pub async fn post_with(
        &self,
        query: &str,
        variables: Value,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = self
            .client
            .post(self.graphql_url())
            .header("content-type", "application/json")
            .header("accept", "application/graphql-response+json");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req
            .body(json!({ "query": query, "variables": variables }).to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("request failed: {e}"));
        let status = res.status().as_u16();
        let body = res
            .json::<Value>()
            .await
            .unwrap_or_else(|e| panic!("not JSON: {e}"));
        (status, body)
    }

    /// POSTs a JSON body to the GraphQL endpoint and returns the raw response.
    pub async fn post_json(&self, body: &Value, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.graphql_url())
            .header("content-type", "application/json")
            .json(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send()
            .await
            .unwrap_or_else(|e| panic!("request failed: {e}"))
    }

    /// POSTs an operation that must succeed and returns its `data`.
    pub async fn query(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self.post(query, variables).await;
        assert_eq!(status, 200, "unexpected status; body: {body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// The first error's `extensions.code` of an operation that must fail.
    pub async fn error_code(&self, query: &str, variables: Value) -> String {
        let (_, body) = self.post(query, variables).await;
        first_code(&body)
    }

    /// Statements executed so far.
    pub fn statement_count(&self) -> usize {
        self.statements.lock().map(|l| l.len()).unwrap_or(0)
    }

    /// The SQL of the statements executed since the `from`-th.
    pub fn statements_since(&self, from: usize) -> Vec<String> {
        self.statements
            .lock()
            .map(|l| l[from..].to_vec())
            .unwrap_or_default()
    }
}

/// A response header as text.
pub fn header(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The first error's `extensions.code` in a response body.
pub fn first_code(body: &Value) -> String {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
        .to_owned()
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(runtime) = self.runtime.take() {
            // Dropping a runtime may not block inside the test's runtime.
            runtime.shutdown_background();
        }
        drop(self.handle.take());
    }
}

impl Drop for DbHandle {
    fn drop(&mut self) {
        let Self::Postgres { admin_url, name } = self else {
            return;
        };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        // Dropping runs outside the test's runtime, which may be shutting down.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(admin) = Database::connect(&admin_url).await {
                    let _ = admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                }
            });
        })
        .join();
    }
}

/// The Redis the tests share: `TEST_REDIS_URL`, where an empty value counts
/// as unset.
pub fn redis_url() -> Option<String> {
    std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
}

/// The shared Redis, for a test that means nothing without one. Such tests
/// are `#[ignore]`d with the reason, so a run without Redis reports them as
/// ignored rather than passed; `.ci/run` runs them in its PostgreSQL + Redis
/// leg with `--include-ignored`, where a missing Redis fails them here.
pub fn require_redis() -> String {
    redis_url().unwrap_or_else(|| {
        panic!("this test needs TEST_REDIS_URL (see .ci/run for the settings CI uses)")
    })
}

/// A listener on a free loopback port, and its address.
pub async fn loopback() -> (tokio::net::TcpListener, std::net::SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"));
    (listener, addr)
}

/// Creates an empty database: a temporary SQLite file, or a new PostgreSQL
/// database next to `TEST_DATABASE_URL`. It lives as long as the handle.
pub async fn fresh_database() -> (String, DbHandle) {
    match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.is_empty())
    {
        Some(admin_url) => {
            let name = format!("emporium_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&admin_url)
                .await
                .unwrap_or_else(|e| panic!("TEST_DATABASE_URL: {e}"));
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .unwrap_or_else(|e| panic!("create database: {e}"));
            let _ = admin.close().await;
            let url = match admin_url.rsplit_once('/') {
                Some((server, _)) => format!("{server}/{name}"),
                None => panic!("TEST_DATABASE_URL has no database name: {admin_url}"),
            };
            (url, DbHandle::Postgres { admin_url, name })
        }
        None => {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("emporium.db").display()
            );
            (url, DbHandle::Sqlite(dir))
        }
    }
}
