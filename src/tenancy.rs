//! Apps and systems (API.md §9): which database an (app, system) pair lives in.
//!
//! Every app has three systems, LIVE, STAGING and TEST, and each pair has a database of its
//! own. The default app's LIVE database is the one `--database` names; it also holds what
//! the whole deployment shares (API keys, the DSConfig, the list of apps). Objects of
//! `global = true` types live in one global database per system.
//!
//! | backend | default app | app `MyApp` | global types |
//! | --- | --- | --- | --- |
//! | SQLite (`sqlite://data/datastore.db`) | `datastore.db`, `datastore-staging.db`, `datastore-test.db` | `datastore.myapp.db`, `datastore.myapp-staging.db`, ... | `datastore.global.db`, `datastore.global-staging.db`, ... |
//! | SQL Server (`.../Datastore`) | `Datastore`, `DatastoreSTAGING`, `DatastoreTEST` | `MyApp`, `MyAppSTAGING`, `MyAppTEST` | `DatastoreGlobal`, `DatastoreGlobalSTAGING`, ... |
//!
//! App names are case-insensitive (SQL Server's database names are, and so are Windows file
//! names): `MyApp` and `myapp` are one app. A name whose databases could be another's is
//! refused: one ending in `STAGING` or `TEST` (app `Con`'s TEST database is `ConTEST`), the
//! names of SQL Server's own databases, `global`, and the default and global databases'
//! own names.

use std::fmt;
use std::str::FromStr;

use crate::store::StoreError;

/// The first object id of a global database (2^50, still exact as a JSON number/f64). App
/// databases hand out ids below it, the global databases from it upward: an id at or above
/// it belongs to the global database of its system (API.md §9).
pub const GLOBAL_ID_BASE: i64 = 1 << 50;

/// True when `id` is an object of a global database.
pub fn is_global_id(id: i64) -> bool {
    id >= GLOBAL_ID_BASE
}

/// The app of `/{endpoint}`.
pub const DEFAULT_APP: &str = "default";

/// Longest app name (SQL Server allows 128 per database name; the suffixes need room).
pub const MAX_APP_NAME: usize = 64;

/// Names no app may take: SQL Server's own databases and the global databases' word.
const RESERVED: [&str; 6] = ["master", "model", "msdb", "tempdb", "global", "resource"];

/// A validated app name: `^[A-Za-z][A-Za-z0-9]{0,63}$`, not reserved. Equality ignores case.
#[derive(Debug, Clone)]
pub struct AppName(String);

impl AppName {
    /// The default app.
    pub fn default_app() -> AppName {
        AppName(DEFAULT_APP.to_owned())
    }

    /// Checks a name from a route or a flag; the error is a sentence for the client.
    pub fn parse(name: &str) -> Result<AppName, String> {
        let mut chars = name.chars();
        let well_formed = name.len() <= MAX_APP_NAME
            && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric());
        if !well_formed {
            return Err(format!(
                "`{name}` is not an app name: a letter, then letters and digits, at most \
                 {MAX_APP_NAME} in all"
            ));
        }
        let lower = name.to_ascii_lowercase();
        if lower == DEFAULT_APP {
            return Ok(AppName::default_app());
        }
        if RESERVED.contains(&lower.as_str()) {
            return Err(format!("`{name}` is a reserved name and cannot be an app"));
        }
        if lower.ends_with("staging") || lower.ends_with("test") {
            return Err(format!(
                "an app name may not end in STAGING or TEST (`{name}`): its databases would \
                 be another app's STAGING or TEST database"
            ));
        }
        Ok(AppName(name.to_owned()))
    }

    /// The name as first given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name in lower case: the key of registries and of SQLite file names.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    pub fn is_default(&self) -> bool {
        self.0.eq_ignore_ascii_case(DEFAULT_APP)
    }
}

impl PartialEq for AppName {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl Eq for AppName {}

impl std::hash::Hash for AppName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state)
    }
}

impl fmt::Display for AppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for AppName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AppName::parse(s)
    }
}

/// One of an app's three systems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum System {
    #[default]
    Live,
    Staging,
    Test,
}

/// The header that picks the system of a request.
pub const SYSTEM_HEADER: &str = "X-Datastore-System";

impl System {
    pub const ALL: [System; 3] = [System::Live, System::Staging, System::Test];

    /// `LIVE`, `STAGING` or `TEST`, as the header and the CLI spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            System::Live => "LIVE",
            System::Staging => "STAGING",
            System::Test => "TEST",
        }
    }

    /// The database name suffix on SQL Server (`MyAppSTAGING`): empty for LIVE.
    fn suffix(self) -> &'static str {
        match self {
            System::Live => "",
            System::Staging => "STAGING",
            System::Test => "TEST",
        }
    }

    /// Parses `LIVE`, `STAGING` or `TEST`, in any case; the error is a sentence.
    pub fn parse(text: &str) -> Result<System, String> {
        match text.trim().to_ascii_uppercase().as_str() {
            "LIVE" => Ok(System::Live),
            "STAGING" => Ok(System::Staging),
            "TEST" => Ok(System::Test),
            _ => Err(format!("`{text}` is not a system: LIVE, STAGING or TEST")),
        }
    }
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for System {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        System::parse(s)
    }
}

/// Whose data a database holds: an app's, or the global types'.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Owner {
    App(AppName),
    Global,
}

/// The `--database` URL of the database holding `owner`'s data in `system`, derived from
/// the default app's LIVE URL (`base`).
pub fn database_url(base: &str, owner: &Owner, system: System) -> Result<String, StoreError> {
    if let Some(path) = base.strip_prefix("sqlite://") {
        return Ok(format!("sqlite://{}", sqlite_path(path, owner, system)));
    }
    if crate::store::mssql::is_mssql_url(base) {
        let options = crate::store::mssql::ConnectOptions::parse(base)?;
        let default = options.database.clone().ok_or_else(|| {
            StoreError::Config(
                "apps, systems and global types need the database named in --database \
                 (mssql://.../Database or Database=...)"
                    .into(),
            )
        })?;
        let name = mssql_database(&default, owner, system)?;
        if name == default {
            return Ok(base.to_owned());
        }
        return crate::store::mssql::database_url_with(base, &name);
    }
    Err(StoreError::Config(
        "the database must be sqlite://PATH or an SQL Server connection".into(),
    ))
}

/// The SQLite file of `owner` in `system`, beside the default one: the default file's stem,
/// `.app` unless the default app, `-staging`/`-test` unless LIVE, the default file's
/// extension.
fn sqlite_path(default: &str, owner: &Owner, system: System) -> String {
    if matches!(owner, Owner::App(app) if app.is_default()) && system == System::Live {
        return default.to_owned();
    }
    let path = std::path::Path::new(default);
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let extension = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let mut name = stem;
    match owner {
        Owner::App(app) if app.is_default() => {}
        Owner::App(app) => {
            name.push('.');
            name.push_str(&app.key());
        }
        Owner::Global => name.push_str(".global"),
    }
    if system != System::Live {
        name.push('-');
        name.push_str(&system.as_str().to_ascii_lowercase());
    }
    name.push_str(&extension);
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => dir.join(name).to_string_lossy().into_owned(),
        None => name,
    }
}

/// The SQL Server database of `owner` in `system`, given the default app's database name.
pub fn mssql_database(default: &str, owner: &Owner, system: System) -> Result<String, StoreError> {
    let base = match owner {
        Owner::App(app) if app.is_default() => default.to_owned(),
        Owner::App(app) => {
            if app.as_str().eq_ignore_ascii_case(default)
                || app
                    .as_str()
                    .eq_ignore_ascii_case(&format!("{default}Global"))
            {
                return Err(StoreError::Config(format!(
                    "`{app}` cannot be an app here: it is the name of the default or the global \
                     database"
                )));
            }
            app.as_str().to_owned()
        }
        Owner::Global => format!("{default}Global"),
    };
    Ok(format!("{base}{}", system.suffix()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str) -> Owner {
        Owner::App(AppName::parse(name).unwrap())
    }

    #[test]
    fn app_names() {
        assert!(AppName::parse("MyApp").is_ok());
        assert!(AppName::parse("a1").is_ok());
        assert!(AppName::parse("DEFAULT").unwrap().is_default());
        for bad in [
            "",
            "1a",
            "my-app",
            "my_app",
            "my app",
            "Contest",
            "appSTAGING",
            "Master",
            "global",
            "é",
        ] {
            assert!(AppName::parse(bad).is_err(), "{bad}");
        }
        assert!(AppName::parse(&"a".repeat(65)).is_err());
        assert_eq!(
            AppName::parse("MyApp").unwrap(),
            AppName::parse("myapp").unwrap()
        );
    }

    #[test]
    fn systems() {
        assert_eq!(System::parse("staging").unwrap(), System::Staging);
        assert_eq!(System::parse("LIVE").unwrap(), System::Live);
        assert!(System::parse("PROD").is_err());
        assert!(System::parse("").is_err());
    }

    #[test]
    fn sqlite_files_sit_beside_the_default() {
        let base = "sqlite://./data/datastore.db";
        let url = |o: &Owner, s| database_url(base, o, s).unwrap();
        assert_eq!(url(&app("default"), System::Live), base);
        assert_eq!(
            url(&app("default"), System::Staging),
            "sqlite://./data/datastore-staging.db"
        );
        assert_eq!(
            url(&app("MyApp"), System::Live),
            "sqlite://./data/datastore.myapp.db"
        );
        assert_eq!(
            url(&app("MyApp"), System::Test),
            "sqlite://./data/datastore.myapp-test.db"
        );
        assert_eq!(
            url(&Owner::Global, System::Live),
            "sqlite://./data/datastore.global.db"
        );
        assert_eq!(
            database_url("sqlite://store", &app("x"), System::Live).unwrap(),
            "sqlite://store.x"
        );
    }

    #[test]
    fn sql_server_databases_follow_apiomat() {
        let base = "mssql://sa:pw@h:1433/Datastore?trustServerCertificate=true";
        assert_eq!(
            database_url(base, &app("default"), System::Live).unwrap(),
            base
        );
        assert_eq!(
            database_url(base, &app("MyApp"), System::Staging).unwrap(),
            "mssql://sa:pw@h:1433/MyAppSTAGING?trustServerCertificate=true"
        );
        assert_eq!(
            mssql_database("Datastore", &app("default"), System::Test).unwrap(),
            "DatastoreTEST"
        );
        assert_eq!(
            mssql_database("Datastore", &Owner::Global, System::Live).unwrap(),
            "DatastoreGlobal"
        );
        assert!(mssql_database("Datastore", &app("datastore"), System::Live).is_err());
        assert!(mssql_database("Datastore", &app("DatastoreGlobal"), System::Live).is_err());
    }
}
