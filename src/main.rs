//! The `datastore` binary: parse the command line, set up logging, run the command.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use datastore::ops::request_scope::LazyRequestSpans;
use datastore::settings::{
    Cli, Command, DsconfigAction, KeysAction, LogFormat, Settings, TransferTarget,
};
use datastore::startup::{self, Application};
use datastore::tenancy::{AppName, System};
use datastore::{dsconfig, store, transfer};
use tracing_subscriber::util::SubscriberInitExt as _;

/// The process's allocator: mimalloc (per-thread free lists, no global consolidation
/// pass). glibc's malloc was a fifth of `serve`'s CPU on a table view (`malloc`,
/// `_int_free`, `malloc_consolidate`; docs/BENCHMARKS.md, "The allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Transparent huge pages off for this process (Linux). Where the kernel backs every
/// aligned 2 MiB of anonymous memory with a huge page (`enabled = always`, as on this VM),
/// the allocator's partly used regions count whole in RSS: a 10-minute soak peaked at
/// 158 MB with them and 80 MB without (docs/BENCHMARKS.md, "The allocator"). mimalloc
/// does the same when `MIMALLOC_ALLOW_THP=0` is set; this makes it the default. Pages
/// the kernel already gave stay; the rest of the process's memory is in 4 KiB pages.
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes one integer argument and changes only this
    // process's memory flags; the call touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Bytes of log lines written to stderr at once, at most.
const LOG_BUFFER: usize = 64 * 1024;

/// The log writer thread's pause after each write (see [`init_logging`]).
const LOG_PACE: std::time::Duration = std::time::Duration::from_millis(1);

/// The log thread's writer: its `flush` (called when the queue is empty) writes, then
/// pauses for [`LOG_PACE`].
struct PacedWriter<W>(W);

impl<W: std::io::Write> std::io::Write for PacedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let flushed = self.0.flush();
        std::thread::sleep(LOG_PACE);
        flushed
    }
}

/// Logs go to stderr through a writer thread: a request hands its lines to a queue and
/// never waits on the terminal or the pipe behind stderr. The queue is not lossy: when it is
/// full (the reader of stderr cannot keep up), callers wait as they would without it.
/// The writer thread takes every line waiting and writes them with one `write` (a buffer
/// flushed whenever the queue is empty, so no line waits for later ones), not one `write`
/// a line.
/// After writing, the thread pauses for [`LOG_PACE`] before it takes the next lines: lines
/// logged meanwhile queue without waking it, so under load one wake-up (a system call on the
/// request's thread, a context switch) serves many lines instead of one each. A line waits
/// at most that long.
/// The returned guard flushes what is queued when dropped, at the end of `main`.
fn init_logging(format: LogFormat) -> tracing_appender::non_blocking::WorkerGuard {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("datastore-log")
        .finish(PacedWriter(std::io::BufWriter::with_capacity(
            LOG_BUFFER,
            std::io::stderr(),
        )));
    // Colours only for a terminal: a file or a service's log gets plain lines (and the
    // escape codes cost each line its share of formatting).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // Each request's own line is written by hand into the same queue (`ops::access_log`).
    let request_lines = writer.clone();
    datastore::ops::access_log::install(
        format,
        ansi,
        Box::new(move |line| {
            let _ = std::io::Write::write_all(&mut request_lines.clone(), line);
        }),
    );
    let builder = tracing_subscriber::fmt()
        .with_ansi(ansi)
        .with_env_filter(filter)
        .with_writer(writer);
    // Request spans are made when first used (`ops::request_scope`).
    let directives = std::env::var("RUST_LOG").unwrap_or_default();
    match format {
        LogFormat::Text => LazyRequestSpans::new(builder.finish(), &directives).init(),
        LogFormat::Json => LazyRequestSpans::new(builder.json().finish(), &directives).init(),
    }
    guard
}

fn main() -> ExitCode {
    no_transparent_huge_pages();
    let cli = Cli::parse();
    let _logs = init_logging(cli.settings.log_format);
    store::set_synchronous(cli.settings.synchronous);
    if let Command::Dsconfig {
        action: DsconfigAction::Validate { dir },
    } = &cli.command
    {
        if !validate(dir) {
            return ExitCode::FAILURE;
        }
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
                action: DsconfigAction::Validate { dir },
            } => validate_against_database(&cli.settings, &dir).await,
            Command::Keys { action } => keys(&cli.settings, action).await,
            Command::Export { output, target } => export(&cli.settings, &output, target).await,
            Command::Import {
                input,
                target,
                replace,
            } => import(&cli.settings, &input, target, replace).await,
            Command::Reindex {
                object_type,
                target,
            } => reindex(&cli.settings, object_type.as_deref(), target).await,
            Command::CopySystem { from, to, app } => {
                copy_system(&cli.settings, from, to, &app).await
            }
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

fn validate(dir: &std::path::Path) -> bool {
    match dsconfig::load_dir(dir) {
        Ok(config) => {
            println!(
                "{}: valid ({} types, {} lists, schemaMode {})",
                dir.display(),
                config.types.len(),
                config.lists.len(),
                config.schema_mode.as_str()
            );
            true
        }
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("{} problem(s)", errors.0.len());
            false
        }
    }
}

/// After a DSConfig directory is valid on its own: when the `--database` exists, whether
/// it may replace the DSConfig stored there (a type with objects cannot change `global`).
/// A database that cannot be reached is only noted: validation works offline.
async fn validate_against_database(
    settings: &Settings,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    let config = dsconfig::load_dir(dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    let checked = async {
        if !store::database_exists(&settings.database).await? {
            return Ok(None);
        }
        let options = store::StoreOptions {
            pool_size: 1,
            migrate: false,
        };
        let central = store::open(&settings.database, &options).await?;
        startup::global_change_refused(&settings.database, central.as_ref(), &config).await
    }
    .await;
    match checked {
        Ok(Some(refused)) => anyhow::bail!("{}: {refused}", dir.display()),
        Ok(None) => Ok(()),
        Err(e) => {
            eprintln!("note: the database was not checked ({e})");
            Ok(())
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
    if let Some(refused) =
        startup::global_change_refused(&settings.database, store.as_ref(), &config).await?
    {
        anyhow::bail!("{}: {refused}", dir.display());
    }
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
        // Lookups to global types show texts of the LIVE global database, if there is one.
        let global_url = datastore::tenancy::database_url(
            &settings.database,
            &datastore::tenancy::Owner::Global,
            System::Live,
        )?;
        let global = if store::database_exists(&global_url).await? {
            let options = store::StoreOptions {
                pool_size: 2,
                migrate: true,
            };
            Some(
                datastore::service::open_tenant_store(
                    &settings.database,
                    &options,
                    &datastore::tenancy::Owner::Global,
                    System::Live,
                    store.as_ref(),
                )
                .await?,
            )
        } else {
            None
        };
        let rewritten = datastore::service::displays::refresh(
            store.as_ref(),
            &config,
            refresh.version,
            refresh.previous.as_ref(),
            &datastore::service::displays::GlobalTargets::Elsewhere(global),
        )
        .await?;
        println!("display texts rewritten: {rewritten}");
    }
    let objects = datastore::service::projections::build_all(store.as_ref()).await?;
    if objects > 0 {
        println!("projections rebuilt: {objects} objects");
    }
    Ok(())
}

/// `datastore reindex [--type T]`: marks the projections to be rebuilt, then rebuilds them
/// here, batch by batch (a `serve` sharing the database answers from the EAV rows meanwhile).
async fn reindex(
    settings: &Settings,
    object_type: Option<&str>,
    target: TransferTarget,
) -> anyhow::Result<()> {
    let store = system_store(settings, &target).await?;
    let marked = store.reset_projections(object_type).await?;
    if marked.is_empty() {
        println!(
            "no projections to rebuild (none on this backend, or no declared type has properties)"
        );
        return Ok(());
    }
    let started = std::time::Instant::now();
    let objects = datastore::service::projections::build_all(store.as_ref()).await?;
    println!(
        "rebuilt the projections of {} ({objects} objects) in {:.1?}",
        marked.join(", "),
        started.elapsed()
    );
    Ok(())
}

/// The store of an app's system, for the transfer commands.
async fn system_store(
    settings: &Settings,
    target: &TransferTarget,
) -> anyhow::Result<std::sync::Arc<dyn store::Store>> {
    if target.global {
        return Ok(transfer::open_global_store(
            &settings.database,
            target.system,
            settings.pool_size().min(4),
        )
        .await?);
    }
    Ok(transfer::open_system_store(
        &settings.database,
        &target.app,
        target.system,
        settings.pool_size().min(4),
    )
    .await?)
}

/// The global database of `system` if it exists (nothing is created): where an app's
/// imported Lookups to global objects must find their targets.
async fn existing_global_store(
    settings: &Settings,
    system: System,
) -> anyhow::Result<Option<std::sync::Arc<dyn store::Store>>> {
    let url = datastore::tenancy::database_url(
        &settings.database,
        &datastore::tenancy::Owner::Global,
        system,
    )?;
    if !store::database_exists(&url).await? {
        return Ok(None);
    }
    Ok(Some(
        transfer::open_global_store(&settings.database, system, 2).await?,
    ))
}

fn summary(counts: &store::TransferCounts) -> String {
    format!(
        "{} objects, {} properties, {} relationships, {} numbering rows, {} files",
        counts.objects, counts.properties, counts.relationships, counts.numbering, counts.files
    )
}

/// `datastore export`: to a file (removed again if the export fails) or to stdout.
async fn export(
    settings: &Settings,
    output: &std::path::Path,
    target: TransferTarget,
) -> anyhow::Result<()> {
    let store = system_store(settings, &target).await?;
    let progress = transfer::Progress::objects();
    let to_stdout = output.as_os_str() == "-";
    let result = if to_stdout {
        transfer::export_to(
            store.as_ref(),
            (!target.global).then_some(&target.app),
            target.system,
            tokio::io::stdout(),
            &progress,
        )
        .await
    } else {
        let file = tokio::fs::File::create(output)
            .await
            .with_context(|| format!("cannot create {}", output.display()))?;
        let result = transfer::export_to(
            store.as_ref(),
            (!target.global).then_some(&target.app),
            target.system,
            file,
            &progress,
        )
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(output).await;
        }
        result
    };
    progress.finish();
    let counts = result?;
    eprintln!(
        "exported {} of app {}, system {} to {}",
        summary(&counts),
        target.app,
        target.system,
        if to_stdout {
            "standard output".into()
        } else {
            output.display().to_string()
        }
    );
    Ok(())
}

/// `datastore import`: one transaction; a bad line changes nothing.
async fn import(
    settings: &Settings,
    input: &std::path::Path,
    target: TransferTarget,
    replace: bool,
) -> anyhow::Result<()> {
    let store = system_store(settings, &target).await?;
    let global = match target.global {
        true => None,
        false => existing_global_store(settings, target.system).await?,
    };
    let refs = match target.global {
        true => transfer::GlobalRefs::TargetIsGlobal,
        false => transfer::GlobalRefs::In(global.as_deref()),
    };
    let result = if input.as_os_str() == "-" {
        let progress = transfer::Progress::bytes(None);
        let result = transfer::import_from(
            store.as_ref(),
            tokio::io::BufReader::new(tokio::io::stdin()),
            replace,
            &progress,
            refs,
        )
        .await;
        progress.finish();
        result
    } else {
        let file = tokio::fs::File::open(input)
            .await
            .with_context(|| format!("cannot open {}", input.display()))?;
        let size = file.metadata().await.ok().map(|m| m.len());
        let progress = transfer::Progress::bytes(size);
        let result = transfer::import_from(
            store.as_ref(),
            tokio::io::BufReader::with_capacity(256 * 1024, file),
            replace,
            &progress,
            refs,
        )
        .await;
        progress.finish();
        result
    };
    let counts = result.with_context(|| format!("{} was not imported", input.display()))?;
    eprintln!(
        "imported {} into app {}, system {}",
        summary(&counts),
        target.app,
        target.system
    );
    Ok(())
}

/// `datastore copy-system FROM TO`: the target's data replaced by the source's.
async fn copy_system(
    settings: &Settings,
    from: System,
    to: System,
    app: &AppName,
) -> anyhow::Result<()> {
    anyhow::ensure!(from != to, "FROM and TO are the same system ({from})");
    let target = |system| TransferTarget {
        app: app.clone(),
        system,
        global: false,
    };
    let source = system_store(settings, &target(from)).await?;
    let destination = system_store(settings, &target(to)).await?;
    let global = existing_global_store(settings, to).await?;
    let refs = transfer::GlobalRefs::In(global.as_deref());
    let counts = transfer::copy(source.as_ref(), destination.as_ref(), refs)
        .await
        .context("nothing was copied")?;
    eprintln!(
        "copied {} of app {app} from {from} to {to}",
        summary(&counts)
    );
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
