//! Command-line parsing and the subcommands.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use dramatis_server::config::Config;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

/// dramatis turns books into characters people can talk to.
///
/// Configuration comes from DRAMATIS_* environment variables, a .env file
/// and an optional dramatis.toml (see .env.example for every setting).
#[derive(Parser)]
#[command(name = "dramatis", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves the REST API (default 127.0.0.1:8000, data under ./data).
    ///
    /// Applies pending migrations first. In development the user
    /// testuser / testpass123 exists; in production a strong
    /// DRAMATIS_SECRET_KEY is required.
    Serve {
        /// Address to listen on (overrides DRAMATIS_BIND).
        #[arg(long, value_name = "ADDR")]
        bind: Option<String>,
    },
    /// Runs background job workers only (no HTTP), for scaling out beside
    /// `serve` instances on the same database. Stops on SIGTERM/SIGINT after
    /// finishing the job in hand.
    Worker {
        /// Concurrent jobs in this process.
        #[arg(long, default_value_t = 2)]
        concurrency: usize,
    },
    /// Applies pending database migrations and exits.
    Migrate,
    /// Manages users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Prints the text extracted from a document (PDF, DOCX, EPUB, Markdown, text).
    Extract {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = OutFormat::Text)]
        format: OutFormat,
    },
    /// Analyses a document (any format `extract` reads) and prints the
    /// analysis JSON, or with `--format text` the cast as a table.
    Analyze {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = OutFormat::Json)]
        format: OutFormat,
    },
    /// Prints the OpenAPI 3.1 document of the API.
    Openapi,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Creates a user; the password is read from the first line of stdin.
    Create {
        username: String,
        /// Give the user the admin role (sees every user's resources).
        #[arg(long)]
        admin: bool,
        #[arg(long)]
        email: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum OutFormat {
    Text,
    Json,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn load_config() -> Result<Config> {
    let config = Config::load()?;
    dramatis_server::telemetry::init(&config.log_filter, config.is_production());
    Ok(config)
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve { bind } => {
            if let Some(b) = bind {
                // SAFETY: single-threaded here, before the runtime starts.
                unsafe { std::env::set_var("DRAMATIS_BIND", b) };
            }
            let config = load_config()?;
            runtime()?.block_on(async move {
                let bind = config.bind;
                let state = dramatis_server::start(config).await?;
                let listener = tokio::net::TcpListener::bind(bind)
                    .await
                    .with_context(|| format!("cannot listen on {bind}"))?;
                tracing::info!(
                    addr = %listener.local_addr()?,
                    database = state.db.backend().name(),
                    "dramatis serving; docs at /api/v1/docs"
                );
                dramatis_server::serve(state, listener, dramatis_server::shutdown_signal()).await?;
                Ok(())
            })
        }
        Command::Worker { concurrency } => {
            let config = load_config()?;
            runtime()?.block_on(async move {
                let state = dramatis_server::start(config).await?;
                let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
                let handles = dramatis_server::worker::spawn(&state, concurrency.max(1), stop_rx);
                tracing::info!(
                    concurrency,
                    database = state.db.backend().name(),
                    "dramatis worker running"
                );
                dramatis_server::shutdown_signal().await;
                let _ = stop_tx.send(true);
                for h in handles {
                    let _ = h.await;
                }
                state.db.close().await;
                Ok(())
            })
        }
        Command::Migrate => {
            let config = load_config()?;
            runtime()?.block_on(async move {
                let db = dramatis_server::connect_and_migrate(&config).await?;
                println!("migrations applied ({})", db.backend().name());
                db.close().await;
                Ok(())
            })
        }
        Command::User {
            command: UserCommand::Create { username, admin, email },
        } => {
            let config = load_config()?;
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .context("cannot read the password from stdin")?;
            let password = password.trim_end_matches(['\r', '\n']).to_string();
            if password.is_empty() {
                bail!("no password on stdin (pipe it in: echo 'secret…' | dramatis user create NAME)");
            }
            runtime()?.block_on(async move {
                let db = dramatis_server::connect_and_migrate(&config).await?;
                let hasher = dramatis_server::auth::password::PasswordHasher::new(1)?;
                let user = dramatis_server::users::create_with(
                    &db,
                    &hasher,
                    dramatis_server::users::NewUser {
                        username,
                        password,
                        email,
                        admin,
                    },
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
                println!("created {} ({}, role {})", user.username, user.id, user.role);
                db.close().await;
                Ok(())
            })
        }
        Command::Extract { file, format } => {
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let name = file.file_name().and_then(|n| n.to_str());
            let doc = reader::read(&bytes, name, &reader::Limits::default())
                .with_context(|| format!("cannot extract {}", file.display()))?;
            match format {
                OutFormat::Text => println!("{}", doc.text),
                OutFormat::Json => println!("{}", serde_json::to_string_pretty(&doc)?),
            }
            Ok(())
        }
        Command::Analyze { file, format } => {
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let name = file.file_name().and_then(|n| n.to_str());
            let doc = reader::read(&bytes, name, &reader::Limits::default())
                .with_context(|| format!("cannot extract {}", file.display()))?;
            let sections: Vec<nlp::Section> = doc
                .sections
                .iter()
                .map(|s| nlp::Section {
                    title: s.title.clone(),
                    start: s.start,
                    end: s.end,
                })
                .collect();
            let analysis = nlp::analyze(&doc.text, &sections);
            match format {
                OutFormat::Json => println!("{}", serde_json::to_string(&analysis)?),
                OutFormat::Text => print_cast(&doc, &analysis),
            }
            Ok(())
        }
        Command::Openapi => {
            println!("{}", dramatis_server::openapi_json());
            Ok(())
        }
    }
}

/// The cast as a table: name, aliases, gender, mentions, quotes, top relations.
fn print_cast(doc: &reader::Document, a: &nlp::Analysis) {
    println!(
        "{} — {} words, {} sentences, {} characters, {} quotes",
        doc.title.as_deref().unwrap_or("(untitled)"),
        a.stats.words,
        a.stats.sentences,
        a.characters.len(),
        a.quotes.len()
    );
    println!();
    println!(
        "{:<28} {:<8} {:>8} {:>7}  {:<40} top relations",
        "name", "gender", "mentions", "quotes", "aliases"
    );
    for c in &a.characters {
        let aliases: Vec<&str> = c
            .aliases
            .iter()
            .map(String::as_str)
            .filter(|x| *x != c.name)
            .take(4)
            .collect();
        let top = a.strongest_ties(&c.id, 3);
        println!(
            "{:<28} {:<8} {:>8} {:>7}  {:<40} {}",
            truncate(&c.name, 28),
            c.gender.as_deref().unwrap_or("-"),
            c.mention_count,
            c.quote_count,
            truncate(&aliases.join(", "), 40),
            top.join(", ")
        );
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}
