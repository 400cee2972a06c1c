//! The `modelwatch` command line: parses flags and starts the requested command.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use modelwatch::cli::config_or_demo;
use modelwatch::clock::Clock;
use modelwatch::config::{demo, Config, ConfigError};
use modelwatch::startup::{shutdown_signal, Application};
use modelwatch::{admin, cli, telemetry};

#[derive(Parser)]
#[command(
    name = "modelwatch",
    version,
    about = "Per-model health probing and status for AI providers"
)]
struct Cli {
    /// Log format on standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service: probing, evaluation and the HTTP surface.
    Serve {
        /// Configuration file; without it, the built-in offline demo runs.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to listen on, overriding `[server] listen`.
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Probe from another place and push the results to a central `serve` (token with the
    /// `agent` scope, named as this agent, in MODELWATCH_AGENT_TOKEN).
    Agent {
        /// Configuration file (the same models as the central service); without it, the
        /// built-in demo's simulated models.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The central service's base URL, e.g. https://status.example.com.
        #[arg(long)]
        upstream: String,
        /// This agent's name (its token's name).
        #[arg(long)]
        name: String,
        /// The region it probes from, e.g. eu-west.
        #[arg(long)]
        region: String,
        /// Where batches wait until the upstream has them (default ./modelwatch-agent-<name>).
        #[arg(long)]
        spool: Option<PathBuf>,
    },
    /// Probe every model once, print a table, exit 1 if any probe failed.
    Probe {
        /// Configuration file; without it, the built-in demo's simulated models.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Print a JSON array (one object per probe) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print each model's state, routing decision, fallback and reason from the database.
    Status {
        /// Configuration file; without it, the built-in demo's database is read.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Validate a configuration file and say exactly what is wrong and where.
    CheckConfig {
        /// Configuration file; without it, the built-in demo is checked.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Do not require the environment variables the file names (API keys and the like)
        /// to be set: validate the file on a machine without the secrets.
        #[arg(long)]
        no_env: bool,
    },
    /// Print the built-in demo configuration, to start your own file from it.
    DemoConfig,
    /// Manage admin users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add an admin user; the password is read from standard input (one line, not echoed).
    Add {
        /// Configuration file; without it, the built-in demo's database.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token and print it, alone, on standard output (it is shown only once).
    Create {
        /// Configuration file; without it, the built-in demo's database.
        #[arg(long)]
        config: Option<PathBuf>,
        /// read, operate, admin, ingest (writes observations of your traffic, nothing else) or
        /// agent (pushes probe results from `modelwatch agent`, nothing else).
        #[arg(long)]
        scope: String,
        /// A label saying what the token is for.
        #[arg(long)]
        name: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(matches!(cli.log_format, LogFormat::Json));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli.command))
}

async fn run(command: Command) -> ExitCode {
    match command {
        Command::User(UserCommand::Add { config, email }) => {
            let config = match config_or_demo(config.as_deref()) {
                Ok(c) => c,
                Err(e) => return config_failure(&e),
            };
            let password = match admin::cli::read_password("Password (at least 12 characters): ") {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("error: cannot read the password from standard input: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match admin::cli::user_add(&config, &email, &password, Clock::system().now()).await {
                Ok(email) => {
                    eprintln!("user {email} added to {}", config.server.database);
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Token(TokenCommand::Create {
            config,
            scope,
            name,
        }) => {
            let config = match config_or_demo(config.as_deref()) {
                Ok(c) => c,
                Err(e) => return config_failure(&e),
            };
            match admin::cli::token_create(&config, &scope, name.as_deref(), Clock::system().now())
                .await
            {
                // The token alone on standard output, so scripts can capture it.
                Ok(token) => {
                    println!("{}", token.expose());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::CheckConfig { config, no_env } => check_config(config.as_deref(), no_env),
        Command::DemoConfig => {
            print!("{}", demo::DEMO_TOML);
            ExitCode::SUCCESS
        }
        Command::Status { config } => {
            let config = match config_or_demo(config.as_deref()) {
                Ok(c) => c,
                Err(e) => return config_failure(&e),
            };
            match cli::status_table(&config, Clock::system().now()).await {
                Ok(table) => {
                    print!("{table}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Probe { config, json } => {
            let config = match config_or_demo(config.as_deref()) {
                Ok(c) => c,
                Err(e) => return config_failure(&e),
            };
            let results = cli::probe_once(&config).await;
            if json {
                match serde_json::to_string_pretty(&results) {
                    Ok(text) => println!("{text}"),
                    Err(e) => {
                        eprintln!("error: cannot encode results: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                print!("{}", cli::format_table(&results));
            }
            if results.iter().any(|r| r.report.outcome.is_failure()) {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Command::Agent {
            config,
            upstream,
            name,
            region,
            spool,
        } => {
            let config = match config_or_demo(config.as_deref()) {
                Ok(c) => c,
                Err(e) => return config_failure(&e),
            };
            let settings = modelwatch::agent::AgentSettings {
                upstream,
                spool: spool.unwrap_or_else(|| PathBuf::from(format!("modelwatch-agent-{name}"))),
                name,
                region,
                token: std::env::var(modelwatch::agent::TOKEN_ENV).unwrap_or_default(),
            };
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                shutdown_signal().await;
                let _ = stop_tx.send(true);
            });
            match modelwatch::agent::run(config, settings, Clock::system(), stop_rx).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Serve { config, listen } => {
            modelwatch::web::heap::configure_for_serving();
            let mut config = match config_or_demo(config.as_deref()) {
                Ok(c) => c,
                Err(e) => return config_failure(&e),
            };
            if let Some(listen) = listen {
                config.server.listen = listen;
            }
            let app = match Application::build(config, Clock::system()).await {
                Ok(app) => app,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    return ExitCode::FAILURE;
                }
            };
            match app.run_until_stopped(shutdown_signal()).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// `check-config`: a summary on standard output, or every problem on standard error (2).
fn check_config(path: Option<&std::path::Path>, no_env: bool) -> ExitCode {
    let checked = match (path, no_env) {
        (path, false) => config_or_demo(path).map(|c| (c, None)),
        (Some(path), true) => Config::load_without_env(path).map(|(c, vars)| (c, Some(vars))),
        (None, true) => {
            Config::parse_without_env(demo::DEMO_TOML, std::path::Path::new(demo::DEMO_PATH))
                .map(|(c, vars)| (c, Some(vars)))
        }
    };
    match checked {
        Ok((config, unchecked)) => {
            print!("{}", cli::describe(&config));
            if let Some(vars) = unchecked {
                print!("{}", cli::describe_unchecked(&vars));
            }
            ExitCode::SUCCESS
        }
        Err(e) => config_failure(&e),
    }
}

fn config_failure(e: &ConfigError) -> ExitCode {
    let problems = cli::count(e.problems.len(), "problem", "problems");
    eprintln!("invalid configuration ({problems}):\n{e}");
    ExitCode::from(2)
}
