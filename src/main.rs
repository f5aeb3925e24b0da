//! The `datastore` binary: parse the command line, set up logging, run the command.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use datastore::settings::{Cli, Command, DsconfigAction, KeysAction, LogFormat, Settings};
use datastore::startup::{self, Application};
use datastore::{dsconfig, store};

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.settings.log_format);
    if let Command::Dsconfig {
        action: DsconfigAction::Validate { dir },
    } = &cli.command
    {
        return validate(dir);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve => serve(cli.settings).await,
            Command::Migrate => migrate(&cli.settings).await,
            Command::Dsconfig {
                action: DsconfigAction::Apply { dir },
            } => apply(&cli.settings, &dir).await,
            Command::Dsconfig {
                action: DsconfigAction::Validate { .. },
            } => Ok(()),
            Command::Keys { action } => keys(&cli.settings, action).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn validate(dir: &std::path::Path) -> ExitCode {
    match dsconfig::load_dir(dir) {
        Ok(config) => {
            println!(
                "{}: valid ({} types, {} lists, schemaMode {})",
                dir.display(),
                config.types.len(),
                config.lists.len(),
                config.schema_mode.as_str()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("{} problem(s)", errors.0.len());
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    tracing::info!(settings = ?settings, "starting");
    let app = Application::build(settings).await?;
    app.run_until_stopped().await.context("the server failed")?;
    tracing::info!("stopped");
    Ok(())
}

async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let store = startup::open_store(settings).await?;
    let versions = store.applied_migrations().await?;
    println!(
        "schema is at version {}",
        versions.last().copied().unwrap_or(0)
    );
    Ok(())
}

async fn apply(settings: &Settings, dir: &std::path::Path) -> anyhow::Result<()> {
    let config = dsconfig::load_dir(dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    let store: std::sync::Arc<dyn store::Store> = startup::open_store(settings).await?;
    let installed = startup::apply_config(store.as_ref(), &config).await?;
    let what = if installed.changed {
        "applied as version"
    } else {
        "already stored as version"
    };
    println!(
        "{}: {what} {} ({} types, {} lists)",
        dir.display(),
        installed.version,
        config.types.len(),
        config.lists.len(),
    );
    if let Some(refresh) = installed.refresh {
        let rewritten = datastore::service::displays::refresh(
            store.as_ref(),
            &config,
            refresh.version,
            refresh.previous.as_ref(),
        )
        .await?;
        println!("display texts rewritten: {rewritten}");
    }
    Ok(())
}

/// `datastore keys ...`: the key is printed once, on stdout alone; listings never show it.
async fn keys(settings: &Settings, action: KeysAction) -> anyhow::Result<()> {
    use datastore::auth::{self, KeyRequest};
    let store = startup::open_store(settings).await?;
    match action {
        KeysAction::Create {
            role,
            app,
            name,
            expires,
        } => {
            anyhow::ensure!(
                name.chars().count() <= 200,
                "--name is limited to 200 characters"
            );
            // The name as an app would take it: a key for `my-app` could never be used.
            let app = app
                .map(|a| datastore::tenancy::AppName::parse(&a).map(|a| a.to_string()))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--app: {e}"))?;
            let request = KeyRequest {
                role,
                app,
                name,
                expires_days: expires,
            };
            let (text, record) = auth::create_key(store.as_ref(), &request).await?;
            println!("{text}");
            eprintln!(
                "created key {} (role {}{}); it is shown only now: store it safely",
                record.id,
                record.role,
                record.app.map(|a| format!(", app {a}")).unwrap_or_default()
            );
        }
        KeysAction::List => {
            let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or("-".to_owned(), |t| {
                    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
                })
            };
            println!("ID\tNAME\tROLE\tAPP\tCREATED\tEXPIRES\tREVOKED\tENDS");
            for k in store.api_keys().await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t...{}",
                    k.id,
                    if k.name.is_empty() {
                        "-".to_owned()
                    } else {
                        // One key, one line: a name cannot break the columns.
                        k.name.replace(char::is_control, " ")
                    },
                    k.role,
                    k.app.as_deref().unwrap_or("*"),
                    time(Some(k.created)),
                    time(k.expires),
                    time(k.revoked),
                    k.last4
                );
            }
        }
        KeysAction::Revoke { id } => {
            anyhow::ensure!(
                store.revoke_api_key(&id, chrono::Utc::now()).await?,
                "there is no key {id}"
            );
            println!("revoked key {id}");
        }
    }
    Ok(())
}
