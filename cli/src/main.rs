//! `crm`: run the whole API on one machine (`crm serve`), create an ADMIN from the backend
//! (`crm admin create`), print the table definition (`crm schema`).

mod admin;
mod files;
mod hooks;
mod intake;
mod local;
mod notify;
mod parse_errors;
mod serve;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "crm",
    version,
    about = "CRM Service API: local server and operator tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// SQLite in the data dir.
    Embedded,
    /// The DynamoDB table CRM_TABLE_NAME (AWS_ENDPOINT_URL for an emulator).
    Dynamodb,
}

#[derive(clap::Args, Clone, Debug)]
pub struct StoreArgs {
    /// Where the embedded store, the generated JWT secret and the mail log live.
    #[arg(long, default_value = ".crm")]
    data_dir: PathBuf,
    /// Which backend holds the data.
    #[arg(long, value_enum, default_value_t = StoreKind::Embedded)]
    store: StoreKind,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the whole API on 127.0.0.1 (all functions in one process).
    Serve {
        /// Port to listen on; 0 picks a free one.
        #[arg(long, default_value_t = 3000)]
        port: u16,
        /// Also accept mail over SMTP on 127.0.0.1 at this port (SPEC §9; needs
        /// CRM_INBOUND_ADDRESS); 0 picks a free one.
        #[arg(long, env = "CRM_SMTP_PORT")]
        smtp_port: Option<u16>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Run intake commands (SPEC §9), one JSON object a line on standard input: prints one
    /// JSON result a line, and exits non-zero if any command was refused.
    Intake {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Operator commands.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Print the table's key and index definition as JSON.
    Schema,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an approved ADMIN directly in the store. The password is read from standard
    /// input (or a hidden prompt on a terminal), never from the command line.
    Create {
        #[arg(long)]
        user_id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Set a user's password directly in the store, revoking every token they hold. The
    /// password is read from standard input (or a hidden prompt on a terminal), never from
    /// the command line.
    SetPassword {
        #[arg(long)]
        user_id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn main() -> std::process::ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            Command::Serve {
                port,
                smtp_port,
                store,
            } => serve::run(port, smtp_port, store).await,
            Command::Intake { store } => intake::run(store).await,
            Command::Admin {
                command:
                    AdminCommand::Create {
                        user_id,
                        name,
                        email,
                        store,
                    },
            } => admin::create(user_id, name, email, store).await,
            Command::Admin {
                command: AdminCommand::SetPassword { user_id, store },
            } => admin::set_password(user_id, store).await,
            Command::Schema => {
                println!("{:#}", crm_shared::store::schema::table_json());
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
