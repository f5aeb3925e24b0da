//! `--database` for SQL Server: an `mssql://` URL or an ADO.NET connection string, parsed
//! into [`ConnectOptions`] and from there into a `tiberius::Config`.
//!
//! Both forms go through one table of keys (case-insensitive, spaces ignored, the usual
//! ADO.NET synonyms), so every option of one form works in the other:
//!
//! ```text
//! mssql://user:password@host:1433/Database?trustServerCertificate=true&encrypt=false
//! Server=tcp:host,1433;Database=Database;User Id=user;Password=password;TrustServerCertificate=true
//! ```
//!
//! tiberius's own `Config::from_ado_string` is not used: it silently logs in as SQL user ""
//! when `Integrated Security` is asked for on a build without Windows authentication, has
//! no timeouts, and keeps the database name private (start-up needs it to create the
//! database). Unknown keys are refused, so a typo never goes unnoticed. No error names a
//! value, so the password never shows.

use std::fmt;
use std::time::Duration;

use percent_encoding::percent_decode_str;
use tiberius::{AuthMethod, Config, EncryptionLevel};

use crate::store::StoreError;

/// True when `url` is meant for SQL Server: an `mssql://`/`sqlserver://` URL, or no URL at
/// all but `key=value` text (an ADO.NET string; [`ConnectOptions::parse`] says what is
/// wrong with it, if anything).
pub fn is_mssql_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("mssql://")
        || lower.starts_with("sqlserver://")
        || (!lower.contains("://") && lower.contains('='))
}

/// How the login authenticates.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// SQL Server authentication: a login and its password.
    SqlServer { user: String, password: String },
    /// Windows integrated security (SSPI), Windows builds only.
    Integrated,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::SqlServer { user, .. } => f
                .debug_struct("SqlServer")
                .field("user", user)
                .field("password", &"***")
                .finish(),
            Auth::Integrated => f.write_str("Integrated"),
        }
    }
}

/// Everything a connection string can say.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectOptions {
    pub host: String,
    pub port: Option<u16>,
    pub instance: Option<String>,
    /// The database to use (created on start when missing); `None` is the login's default.
    pub database: Option<String>,
    pub auth: Auth,
    pub encrypt: EncryptionLevel,
    pub trust_server_certificate: bool,
    /// A CA certificate file to trust instead of the system's roots.
    pub trust_server_certificate_ca: Option<String>,
    pub connect_timeout: Duration,
    /// The longest one store call (with its retries) may take.
    pub command_timeout: Duration,
    pub application_name: String,
    pub read_only: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            host: "localhost".into(),
            port: None,
            instance: None,
            database: None,
            auth: Auth::SqlServer {
                user: String::new(),
                password: String::new(),
            },
            encrypt: EncryptionLevel::Required,
            trust_server_certificate: false,
            trust_server_certificate_ca: None,
            connect_timeout: Duration::from_secs(15),
            command_timeout: Duration::from_secs(30),
            application_name: "datastore".into(),
            read_only: false,
        }
    }
}

fn invalid(message: impl Into<String>) -> StoreError {
    StoreError::Config(format!("SQL Server connection: {}", message.into()))
}

/// Splits an ADO.NET string into (normalised key, value) pairs. Values may be quoted with
/// `"` or `'` (doubling the quote inside); `;` separates pairs.
fn pairs(text: &str) -> Result<Vec<(String, String)>, StoreError> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else {
            return Err(invalid("every part must be `key=value`"));
        };
        let key = normalize_key(&rest[..eq]);
        if key.is_empty() || key.contains(';') {
            return Err(invalid("every part must be `key=value`"));
        }
        let after = rest[eq + 1..].trim_start();
        let (value, remainder) = match after.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let mut value = String::new();
                let mut chars = after[1..].char_indices().peekable();
                let mut end = None;
                while let Some((i, c)) = chars.next() {
                    if c == q {
                        if chars.peek().is_some_and(|(_, n)| *n == q) {
                            chars.next();
                            value.push(q);
                        } else {
                            end = Some(i + 2);
                            break;
                        }
                    } else {
                        value.push(c);
                    }
                }
                let end = end
                    .ok_or_else(|| invalid(format!("the value of `{key}` has no closing quote")))?;
                let tail = after[end..].trim_start();
                if !(tail.is_empty() || tail.starts_with(';')) {
                    return Err(invalid(format!("text after the quoted value of `{key}`")));
                }
                (value, tail)
            }
            _ => match after.find(';') {
                Some(semi) => (after[..semi].trim_end().to_owned(), &after[semi..]),
                None => (after.trim_end().to_owned(), ""),
            },
        };
        out.push((key, value));
        rest = remainder.trim_start_matches(';').trim_start();
    }
    Ok(out)
}

/// `User ID`, `userId` and `user_id` are one key: `userid`.
fn normalize_key(key: &str) -> String {
    key.chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

fn boolean(key: &str, value: &str) -> Result<bool, StoreError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(invalid(format!("`{key}` must be true or false"))),
    }
}

fn seconds(key: &str, value: &str) -> Result<Duration, StoreError> {
    match value.trim().parse::<u64>() {
        Ok(0) => Ok(Duration::from_secs(24 * 3600)),
        Ok(s) => Ok(Duration::from_secs(s)),
        Err(_) => Err(invalid(format!("`{key}` must be a number of seconds"))),
    }
}

impl ConnectOptions {
    /// Parses either form.
    pub fn parse(text: &str) -> Result<ConnectOptions, StoreError> {
        let trimmed = text.trim();
        let lower = trimmed.to_ascii_lowercase();
        if lower.starts_with("mssql://") || lower.starts_with("sqlserver://") {
            Self::from_url(trimmed)
        } else {
            Self::from_ado(trimmed)
        }
    }

    /// `Server=...;Database=...;User Id=...;Password=...;...`
    pub fn from_ado(text: &str) -> Result<ConnectOptions, StoreError> {
        let mut options = ConnectOptions::default();
        let mut user = None;
        let mut password = None;
        for (key, value) in pairs(text)? {
            match key.as_str() {
                "server" | "datasource" | "address" | "addr" | "networkaddress" => {
                    options.set_server(&value)?
                }
                "userid" | "uid" | "user" | "username" => user = Some(value),
                "password" | "pwd" => password = Some(value),
                _ => options.set(&key, &value)?,
            }
        }
        options.finish_auth(user, password)?;
        Ok(options)
    }

    /// `mssql://user:password@host:port/Database?key=value&...`
    pub fn from_url(text: &str) -> Result<ConnectOptions, StoreError> {
        let url = url::Url::parse(text).map_err(|e| invalid(format!("not a valid URL ({e})")))?;
        let mut options = ConnectOptions::default();
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        if let Some(host) = url.host_str().filter(|h| !h.is_empty()) {
            options.host = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
        }
        options.port = url.port();
        let database = decode(url.path().trim_start_matches('/'));
        if !database.is_empty() {
            options.database = Some(database);
        }
        let user = Some(decode(url.username())).filter(|u| !u.is_empty());
        let password = url.password().map(decode);
        for (key, value) in url.query_pairs() {
            let key = normalize_key(&key);
            match key.as_str() {
                "server" | "datasource" | "address" | "addr" | "userid" | "uid" | "user"
                | "username" | "password" | "pwd" => {
                    return Err(invalid(format!(
                    "`{key}` belongs in the URL itself (mssql://user:password@host:port/Database)"
                )))
                }
                _ => options.set(&key, &value)?,
            }
        }
        options.finish_auth(user, password)?;
        Ok(options)
    }

    /// `tcp:host\instance,port`, `host,port`, `(local)`, `.`
    fn set_server(&mut self, value: &str) -> Result<(), StoreError> {
        let mut server = value.trim();
        if let Some((protocol, rest)) = server.split_once(':') {
            if !protocol.eq_ignore_ascii_case("tcp") {
                return Err(invalid("only TCP servers (`tcp:host,port`) are supported"));
            }
            server = rest;
        }
        let (host, port) = match server.rsplit_once(',') {
            Some((host, port)) => {
                let port = port
                    .trim()
                    .parse()
                    .map_err(|_| invalid("the server's port must be a number"))?;
                (host.trim(), Some(port))
            }
            None => (server, None),
        };
        let (host, instance) = match host.split_once('\\') {
            Some((host, instance)) => (host, Some(instance.to_owned())),
            None => (host, None),
        };
        self.host = match host {
            "" | "." | "(local)" | "(localdb)" => "localhost".into(),
            h => h.to_owned(),
        };
        self.port = port;
        self.instance = instance.filter(|i| !i.is_empty());
        Ok(())
    }

    /// Every key but the server and the credentials (normalised: lowercase, no spaces).
    fn set(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        match key {
            "database" | "initialcatalog" | "databasename" => {
                self.database = Some(value.trim().to_owned()).filter(|d| !d.is_empty());
            }
            "port" => {
                self.port = Some(
                    value
                        .trim()
                        .parse()
                        .map_err(|_| invalid("`port` must be a number"))?,
                )
            }
            "instancename" | "instance" => self.instance = Some(value.trim().to_owned()),
            "encrypt" => {
                self.encrypt = match value.trim().to_ascii_lowercase().as_str() {
                    "true" | "yes" | "mandatory" | "required" => EncryptionLevel::Required,
                    "false" | "no" | "optional" => EncryptionLevel::Off,
                    "danger_plaintext" => EncryptionLevel::NotSupported,
                    "strict" => {
                        return Err(invalid(
                            "`Encrypt=Strict` (TDS 8) is not supported; use Encrypt=true",
                        ))
                    }
                    _ => return Err(invalid("`encrypt` must be true or false")),
                }
            }
            "trustservercertificate" => self.trust_server_certificate = boolean(key, value)?,
            "trustservercertificateca" => {
                self.trust_server_certificate_ca = Some(value.trim().to_owned())
            }
            "connecttimeout" | "connectiontimeout" | "timeout" => {
                self.connect_timeout = seconds(key, value)?
            }
            "commandtimeout" => self.command_timeout = seconds(key, value)?,
            "applicationname" | "app" => self.application_name = value.trim().to_owned(),
            "applicationintent" => {
                self.read_only = match value.trim().to_ascii_lowercase().as_str() {
                    "readonly" => true,
                    "readwrite" => false,
                    _ => return Err(invalid("`ApplicationIntent` must be ReadOnly or ReadWrite")),
                }
            }
            "integratedsecurity" | "trustedconnection" => {
                let on = value.trim().eq_ignore_ascii_case("sspi") || boolean(key, value)?;
                if on {
                    self.auth = Auth::Integrated;
                }
            }
            // Settings of other drivers that do not change what this one does.
            "persistsecurityinfo"
            | "pooling"
            | "multipleactiveresultsets"
            | "workstationid"
            | "wsid"
            | "multisubnetfailover"
            | "packetsize"
            | "minpoolsize"
            | "maxpoolsize" => {}
            _ => return Err(invalid(format!("unknown key `{key}`"))),
        }
        Ok(())
    }

    fn finish_auth(
        &mut self,
        user: Option<String>,
        password: Option<String>,
    ) -> Result<(), StoreError> {
        match (&self.auth, user) {
            (Auth::Integrated, Some(_)) => Err(invalid(
                "give either Integrated Security or a User Id and Password, not both",
            )),
            (Auth::Integrated, None) => Ok(()),
            (Auth::SqlServer { .. }, None) => Err(invalid(
                "a User Id (mssql://user:password@host/...) or Integrated Security=true is needed",
            )),
            (Auth::SqlServer { .. }, Some(user)) => {
                self.auth = Auth::SqlServer {
                    user,
                    password: password.unwrap_or_default(),
                };
                Ok(())
            }
        }
    }

    /// The same server and login, another database.
    pub fn with_database(&self, database: Option<&str>) -> ConnectOptions {
        ConnectOptions {
            database: database.map(str::to_owned),
            ..self.clone()
        }
    }

    /// The tiberius configuration. Integrated security is refused on builds without it.
    pub fn to_config(&self) -> Result<Config, StoreError> {
        let mut config = Config::new();
        config.host(&self.host);
        if let Some(port) = self.port {
            config.port(port);
        }
        if let Some(instance) = &self.instance {
            config.instance_name(instance);
        }
        if let Some(database) = &self.database {
            config.database(database);
        }
        config.application_name(&self.application_name);
        config.encryption(self.encrypt);
        if self.trust_server_certificate {
            config.trust_cert();
        } else if let Some(ca) = &self.trust_server_certificate_ca {
            config.trust_cert_ca(ca);
        }
        config.readonly(self.read_only);
        config.authentication(match &self.auth {
            Auth::SqlServer { user, password } => AuthMethod::sql_server(user, password),
            Auth::Integrated => integrated()?,
        });
        Ok(config)
    }
}

#[cfg(windows)]
fn integrated() -> Result<AuthMethod, StoreError> {
    Ok(AuthMethod::Integrated)
}

#[cfg(not(windows))]
fn integrated() -> Result<AuthMethod, StoreError> {
    Err(invalid(
        "Integrated Security (Windows authentication) works only in the Windows build; \
         give a User Id and Password (SQL Server authentication) instead",
    ))
}

#[cfg(test)]
#[path = "connect_tests.rs"]
mod tests;
