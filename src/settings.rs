//! The command line and the settings: every flag has an environment variable of the same
//! name (API.md §1). Secrets in the database URL are never printed.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// datastore: an EAV object store with an HTTP API, on SQLite (embedded) or SQL Server.
#[derive(Debug, Parser)]
#[command(name = "datastore", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the HTTP service (applies migrations and the DSConfig first).
    Serve,
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Check or install a DSConfig directory.
    Dsconfig {
        #[command(subcommand)]
        action: DsconfigAction,
    },
    /// Create, list or revoke API keys (API.md §3).
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Write every object, property, relationship and the numbering of an app's system as
    /// JSON Lines (docs/EXPORT.md).
    Export {
        /// The file to write; `-` is standard output.
        #[arg(long)]
        output: PathBuf,
        #[command(flatten)]
        target: TransferTarget,
    },
    /// Read an export into an app's system, all or nothing (docs/EXPORT.md).
    Import {
        /// The file to read; `-` is standard input.
        #[arg(long)]
        input: PathBuf,
        #[command(flatten)]
        target: TransferTarget,
        /// Replace what the system holds (otherwise a system holding objects is refused).
        #[arg(long)]
        replace: bool,
    },
    /// Rebuild the query projections of an app's system from its objects (docs/QUERY.md,
    /// "Projections"): all of them, or one type's. Queries use the EAV rows meanwhile.
    Reindex {
        /// Only this object type's projection.
        #[arg(long = "type")]
        object_type: Option<String>,
        #[command(flatten)]
        target: TransferTarget,
    },
    /// Replace the data of one system of an app with another's, all or nothing.
    CopySystem {
        /// LIVE, STAGING or TEST.
        from: crate::tenancy::System,
        /// LIVE, STAGING or TEST.
        to: crate::tenancy::System,
        #[arg(long, default_value = "default")]
        app: crate::tenancy::AppName,
    },
}

/// The app and system an export or import works on.
#[derive(Debug, Clone, Args)]
pub struct TransferTarget {
    #[arg(long, default_value = "default")]
    pub app: crate::tenancy::AppName,
    /// LIVE, STAGING or TEST.
    #[arg(long, default_value = "LIVE")]
    pub system: crate::tenancy::System,
    /// The system's global database (the objects of `global = true` types) instead of an
    /// app's.
    #[arg(long, conflicts_with = "app")]
    pub global: bool,
}

#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Create a key and print it, once; only its hash is stored.
    Create {
        #[arg(long, value_enum)]
        role: crate::auth::Role,
        /// The one app the key may use (default: every app).
        #[arg(long)]
        app: Option<String>,
        /// A name to recognise the key by in `keys list`.
        #[arg(long, default_value = "")]
        name: String,
        /// Days until the key expires (default: never).
        #[arg(long)]
        expires: Option<u32>,
    },
    /// List the keys (never the keys themselves).
    List,
    /// Revoke a key by its id (as `keys list` shows it).
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub enum DsconfigAction {
    /// Report every problem of a DSConfig directory, with file and line.
    Validate { dir: PathBuf },
    /// Validate a DSConfig directory and store it in the database.
    Apply { dir: PathBuf },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Settings shared by every command.
#[derive(Clone, Args)]
pub struct Settings {
    /// Address to listen on.
    #[arg(
        long,
        env = "DATASTORE_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: String,
    /// `sqlite://PATH`, `mssql://user:password@host:1433/Database?...` or an ADO.NET string.
    #[arg(
        long,
        env = "DATASTORE_DATABASE_URL",
        default_value = "sqlite://./data/datastore.db",
        hide_env_values = true,
        hide_default_value = false,
        global = true
    )]
    pub database: String,
    /// DSConfig directory applied on start. When it does not exist, the DSConfig stored in
    /// the database is used.
    #[arg(
        long,
        env = "DATASTORE_DSCONFIG",
        default_value = "./dsconfig",
        global = true
    )]
    pub dsconfig: PathBuf,
    /// Path prefix of every endpoint, e.g. `/datastore` behind an IIS application.
    #[arg(long, env = "DATASTORE_BASE_PATH", default_value = "", global = true)]
    pub base_path: String,
    /// `text` for people, `json` for machines.
    #[arg(
        long,
        env = "DATASTORE_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
    /// Time zone of date-times given without an offset (IANA name).
    #[arg(
        long,
        env = "DATASTORE_TIME_ZONE",
        default_value = "UTC",
        global = true
    )]
    pub time_zone: chrono_tz::Tz,
    /// Default and maximum number of rows a list endpoint returns.
    #[arg(
        long,
        env = "DATASTORE_MAX_RESULTS",
        default_value_t = 1000,
        global = true
    )]
    pub max_results: u64,
    /// Largest request body, in bytes.
    #[arg(long, env = "DATASTORE_BODY_LIMIT", default_value_t = 16 * 1024 * 1024, global = true)]
    pub body_limit: usize,
    /// Largest file `uploadFile` takes, in bytes (beyond: 413 TOO_LARGE). Apart from
    /// `--body-limit`, which uploads are not held to.
    #[arg(long, env = "DATASTORE_MAX_UPLOAD", default_value_t = 100 * 1024 * 1024, global = true)]
    pub max_upload: u64,
    /// Durability of the embedded store's commits: `normal` (a process crash loses no
    /// answered write; a power loss may lose the last ones) or `full` (every answered write
    /// is on disk). SQL Server ignores it.
    #[arg(
        long,
        env = "DATASTORE_SYNCHRONOUS",
        default_value = "normal",
        global = true
    )]
    pub synchronous: crate::store::Synchronous,
    /// Database connections: readers (SQLite; default twice the cores, at least 4) or the
    /// pool size (SQL Server; default 16). More SQLite readers than cores only add memory.
    #[arg(long, env = "DATASTORE_POOL_SIZE", global = true)]
    pub pool_size: Option<u32>,
    /// Apps' databases kept open at most (each (app, system) pair counts once; the default
    /// app's LIVE database is always open and not counted). Beyond, the least recently used
    /// idle ones are closed.
    #[arg(
        long,
        env = "DATASTORE_MAX_OPEN_APPS",
        default_value_t = 64,
        global = true
    )]
    pub max_open_apps: usize,
    /// Seconds without a request after which an app's database is closed.
    #[arg(
        long,
        env = "DATASTORE_APP_IDLE_SECONDS",
        default_value_t = 300,
        global = true
    )]
    pub app_idle_seconds: u64,
    /// Connections of each app's database: readers (SQLite) or the pool size (SQL Server).
    /// The default app's LIVE database has `--pool-size`.
    #[arg(
        long,
        env = "DATASTORE_APP_POOL_SIZE",
        default_value_t = 4,
        global = true
    )]
    pub app_pool_size: u32,
    /// Days the change log keeps a change (getHistory, events); 0 keeps them forever.
    /// Older changes are pruned in small batches in the background.
    #[arg(
        long,
        env = "DATASTORE_HISTORY_DAYS",
        default_value_t = 90,
        global = true
    )]
    pub history_days: u32,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "DATASTORE_WORKERS", global = true)]
    pub workers: Option<usize>,
    #[command(flatten)]
    pub ops: crate::ops::OpsSettings,
    /// `DATASTORE_ADMIN_KEY`: an admin key installed on start. Environment only, never a
    /// flag (a flag shows in the process list); never printed.
    #[arg(skip = std::env::var("DATASTORE_ADMIN_KEY").ok().filter(|k| !k.is_empty()))]
    pub admin_key: Option<String>,
}

impl Settings {
    /// Settings for a test or an embedding program: every default, this database.
    pub fn with_database(database: impl Into<String>) -> Settings {
        Cli::parse_from(["datastore", "serve"])
            .settings
            .database_url(database)
    }

    /// The connections of the default app's LIVE database: `--pool-size`, else what suits
    /// the backend (see the flag).
    pub fn pool_size(&self) -> u32 {
        match self.pool_size {
            Some(size) => size.max(1),
            None if self.database.starts_with("sqlite://") => {
                let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
                (cores * 2).clamp(4, 16) as u32
            }
            None => 16,
        }
    }

    fn database_url(mut self, database: impl Into<String>) -> Settings {
        self.database = database.into();
        self
    }

    /// The base path normalised: empty, or `/segment[/segment]` without a trailing slash.
    pub fn normalized_base_path(&self) -> String {
        let trimmed = self.base_path.trim().trim_matches('/');
        if trimmed.is_empty() {
            String::new()
        } else {
            format!("/{trimmed}")
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("database", &redact(&self.database))
            .field("dsconfig", &self.dsconfig)
            .field("base_path", &self.base_path)
            .field("log_format", &self.log_format)
            .field("time_zone", &self.time_zone)
            .field("max_results", &self.max_results)
            .field("body_limit", &self.body_limit)
            .field("max_upload", &self.max_upload)
            .field("synchronous", &self.synchronous)
            .field("pool_size", &self.pool_size)
            .field("max_open_apps", &self.max_open_apps)
            .field("app_idle_seconds", &self.app_idle_seconds)
            .field("app_pool_size", &self.app_pool_size)
            .field("history_days", &self.history_days)
            .field("ops", &self.ops)
            .field("admin_key", &self.admin_key.as_ref().map(|_| "***"))
            .finish()
    }
}

/// The database URL with any password replaced by `***` (URL or ADO.NET form).
pub fn redact(url: &str) -> String {
    if let Ok(mut parsed) = url::Url::parse(url) {
        if parsed.password().is_some() {
            let _ = parsed.set_password(Some("***"));
            return parsed.to_string();
        }
        if !url.contains(';') {
            return url.to_owned();
        }
    }
    split_ado(url)
        .into_iter()
        .map(|part| match part.split_once('=') {
            Some((k, _))
                if matches!(k.trim().to_ascii_lowercase().as_str(), "password" | "pwd") =>
            {
                format!("{k}=***")
            }
            _ => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// The `key=value` parts of an ADO.NET string: `;` inside a quoted value does not split.
fn split_ado(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quote, mut at_value) = (0, None, false);
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            // A doubled quote inside a quoted value is one quote character.
            (Some(q), c) if c == q && chars.peek().is_some_and(|&(_, n)| n == q) => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '=') => at_value = true,
            (None, '"' | '\'') if at_value && text[start..i].trim_end().ends_with('=') => {
                quote = Some(c)
            }
            (None, ';') => {
                parts.push(&text[start..i]);
                start = i + 1;
                at_value = false;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact("mssql://sa:s3cret@db:1433/App?trustServerCertificate=true"),
            "mssql://sa:***@db:1433/App?trustServerCertificate=true"
        );
        assert_eq!(
            redact("Server=tcp:db,1433;Database=App;User Id=sa;Password=s3cret;Encrypt=true"),
            "Server=tcp:db,1433;Database=App;User Id=sa;Password=***;Encrypt=true"
        );
        assert_eq!(
            redact(r#"Server=db;User Id=sa;Password="s3;cret";Encrypt=true"#),
            "Server=db;User Id=sa;Password=***;Encrypt=true"
        );
        assert_eq!(
            redact(r#"Server=db;PWD='it''s;secret';Encrypt=true"#),
            "Server=db;PWD=***;Encrypt=true"
        );
        assert_eq!(
            redact("sqlite://./data/datastore.db"),
            "sqlite://./data/datastore.db"
        );
        let settings = Settings::with_database("mssql://sa:hunter2@db/App");
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[test]
    fn base_paths_are_normalised() {
        let mut s = Settings::with_database("sqlite://x.db");
        for (given, expected) in [
            ("", ""),
            ("/", ""),
            ("datastore", "/datastore"),
            ("/datastore/", "/datastore"),
        ] {
            s.base_path = given.into();
            assert_eq!(s.normalized_base_path(), expected);
        }
    }
}
