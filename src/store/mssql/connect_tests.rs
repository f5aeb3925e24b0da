//! The connection string parser: both forms, the synonyms, the refusals, no password shown.

use std::time::Duration;

use tiberius::EncryptionLevel;

use super::*;

fn sql_auth(user: &str, password: &str) -> Auth {
    Auth::SqlServer {
        user: user.into(),
        password: password.into(),
    }
}

#[test]
fn a_url_gives_host_port_database_and_login() {
    let o = ConnectOptions::parse(
        "mssql://sa:s3cret@db.example:1444/App?trustServerCertificate=true&encrypt=false&connectTimeout=5&commandTimeout=60",
    )
    .unwrap();
    assert_eq!(o.host, "db.example");
    assert_eq!(o.port, Some(1444));
    assert_eq!(o.database.as_deref(), Some("App"));
    assert_eq!(o.auth, sql_auth("sa", "s3cret"));
    assert!(o.trust_server_certificate);
    assert_eq!(o.encrypt, EncryptionLevel::Off);
    assert_eq!(o.connect_timeout, Duration::from_secs(5));
    assert_eq!(o.command_timeout, Duration::from_secs(60));
}

#[test]
fn url_credentials_are_percent_decoded() {
    let o = ConnectOptions::parse("mssql://app%40corp:p%3Ba%3Dss@host/My%20Db").unwrap();
    assert_eq!(o.auth, sql_auth("app@corp", "p;a=ss"));
    assert_eq!(o.database.as_deref(), Some("My Db"));
    assert_eq!(o.port, None);
}

#[test]
fn a_url_without_a_database_uses_the_login_default_and_encrypts_by_default() {
    let o = ConnectOptions::parse("sqlserver://sa:pw@host").unwrap();
    assert_eq!(o.database, None);
    assert_eq!(o.encrypt, EncryptionLevel::Required);
    assert!(!o.trust_server_certificate);
    assert_eq!(o.connect_timeout, Duration::from_secs(15));
    assert_eq!(o.command_timeout, Duration::from_secs(30));
}

#[test]
fn an_ado_string_gives_the_same_options() {
    let o = ConnectOptions::parse(
        "Server=tcp:db.example,1444;Database=App;User Id=sa;Password=s3cret;TrustServerCertificate=true;Encrypt=false;Connect Timeout=5;Command Timeout=60",
    )
    .unwrap();
    let u = ConnectOptions::parse(
        "mssql://sa:s3cret@db.example:1444/App?trustServerCertificate=true&encrypt=false&connectTimeout=5&commandTimeout=60",
    )
    .unwrap();
    assert_eq!(o, u);
}

#[test]
fn ado_keys_are_case_insensitive_and_take_the_usual_synonyms() {
    let o = ConnectOptions::parse(
        "data source=db\\SQLEXPRESS;INITIAL CATALOG=App;uid=sa;PWD=x;trustservercertificate=yes;Connection Timeout=7;Application Name=me",
    )
    .unwrap();
    assert_eq!(o.host, "db");
    assert_eq!(o.instance.as_deref(), Some("SQLEXPRESS"));
    assert_eq!(o.database.as_deref(), Some("App"));
    assert_eq!(o.auth, sql_auth("sa", "x"));
    assert!(o.trust_server_certificate);
    assert_eq!(o.connect_timeout, Duration::from_secs(7));
    assert_eq!(o.application_name, "me");
    for server in [
        "Address=h,1",
        "Addr=h,1",
        "Server=h,1",
        "Network Address=h,1",
    ] {
        let o = ConnectOptions::parse(&format!("{server};User ID=u")).unwrap();
        assert_eq!((o.host.as_str(), o.port), ("h", Some(1)), "{server}");
    }
    let local = ConnectOptions::parse("Server=(local);User=u").unwrap();
    assert_eq!(local.host, "localhost");
}

#[test]
fn quoted_ado_values_keep_semicolons_and_doubled_quotes() {
    let o =
        ConnectOptions::parse(r#"Server=h;User Id=u;Password="a;b""c";Database='x y'"#).unwrap();
    assert_eq!(o.auth, sql_auth("u", r#"a;b"c"#));
    assert_eq!(o.database.as_deref(), Some("x y"));
    assert!(ConnectOptions::parse(r#"Server=h;User Id=u;Password="open"#).is_err());
}

#[test]
fn integrated_security_is_parsed_and_refused_off_windows() {
    let o = ConnectOptions::parse("Server=h;Integrated Security=SSPI;Database=App").unwrap();
    assert_eq!(o.auth, Auth::Integrated);
    let o = ConnectOptions::parse("mssql://h/App?integratedSecurity=true").unwrap();
    assert_eq!(o.auth, Auth::Integrated);
    let result = o.to_config();
    if cfg!(windows) {
        assert!(result.is_ok());
    } else {
        let message = result.unwrap_err().to_string();
        assert!(message.contains("Windows"), "{message}");
    }
    assert!(ConnectOptions::parse("Server=h;Integrated Security=true;User Id=u").is_err());
}

#[test]
fn bad_strings_are_refused_with_the_key_but_never_the_password() {
    for (text, says) in [
        ("Server=h;User Id=u;Password=hunter2;Colour=blue", "colour"),
        (
            "Server=h;User Id=u;Password=hunter2;Encrypt=maybe",
            "encrypt",
        ),
        ("Server=h,abc;User Id=u;Password=hunter2", "port"),
        ("Server=np:h;User Id=u;Password=hunter2", "TCP"),
        ("Server=h;Password=hunter2", "User Id"),
        (
            "Server=h;User Id=u;Password=hunter2;Connect Timeout=soon",
            "seconds",
        ),
        (
            "Server=h;User Id=u;Password=hunter2;Encrypt=strict",
            "Strict",
        ),
        ("mssql://u:hunter2@h/App?password=other", "password"),
        ("mssql://u:hunter2@h/App?colour=blue", "colour"),
        ("mssql://h/App", "User Id"),
    ] {
        let message = ConnectOptions::parse(text).unwrap_err().to_string();
        assert!(message.contains(says), "{text}: {message}");
        assert!(!message.contains("hunter2"), "{text}: {message}");
    }
}

#[test]
fn debug_output_hides_the_password() {
    let o = ConnectOptions::parse("mssql://sa:hunter2@h/App").unwrap();
    assert!(!format!("{o:?}").contains("hunter2"));
}

#[test]
fn harmless_keys_of_other_drivers_are_accepted() {
    let o = ConnectOptions::parse(
        "Server=h;User Id=u;Password=p;MultipleActiveResultSets=False;Persist Security Info=False;Pooling=true;Max Pool Size=50;ApplicationIntent=ReadOnly",
    )
    .unwrap();
    assert!(o.read_only);
}

#[test]
fn sql_server_urls_are_recognised() {
    for yes in [
        "mssql://sa:pw@h/App",
        "MSSQL://sa:pw@h/App",
        "sqlserver://sa:pw@h",
        "Server=tcp:h,1433;Database=App;User Id=sa;Password=pw",
        "Data Source=h;Initial Catalog=App;Integrated Security=SSPI",
        "Database=App;User Id=sa",
    ] {
        assert!(is_mssql_url(yes), "{yes}");
    }
    for no in [
        "sqlite://./data/x.db",
        "postgres://u@h/db",
        "./data/datastore.db",
        "",
    ] {
        assert!(!is_mssql_url(no), "{no}");
    }
}

#[test]
fn with_database_keeps_the_login() {
    let o = ConnectOptions::parse("mssql://sa:pw@h:1433/App").unwrap();
    let master = o.with_database(Some("master"));
    assert_eq!(master.database.as_deref(), Some("master"));
    assert_eq!(master.auth, o.auth);
    assert!(master.to_config().is_ok());
}
