//! What the local commands share: settings, logging, the JWT secret kept in the data dir,
//! and opening the chosen store.

use crate::{StoreArgs, StoreKind};
use anyhow::{Context, bail};
use crm_embedded::SqliteBackend;
use crm_shared::config::{Config, Profile, Secret};
use crm_shared::store::{DynamoBackend, Store};
use std::io::Write;
use std::path::Path;

pub fn config() -> anyhow::Result<Config> {
    Config::from_env(Profile::Local).map_err(|e| anyhow::anyhow!("{e}"))
}

pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("CRM_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("CRM_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// CRM_JWT_SECRET, or the secret kept in `<data-dir>/jwt-secret` (made on first start,
/// readable by the owner only).
pub fn jwt_secret(config: &Config, data_dir: &Path) -> anyhow::Result<Secret> {
    if let Some(s) = &config.jwt_secret {
        return Ok(s.clone());
    }
    let path = data_dir.join("jwt-secret");
    match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= crm_shared::config::MIN_SECRET_BYTES => {
            return Ok(Secret::new(s.trim()));
        }
        Ok(_) => bail!(
            "{} is too short; delete it to make a new one",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let bytes: [u8; 32] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut f = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?
    };
    f.write_all(hex.as_bytes())?;
    f.sync_all()?;
    Ok(Secret::new(hex))
}

/// Makes `path` a file only its owner may read or write: created empty with mode 0600 when
/// it is missing, narrowed to 0600 when it exists with more (`narrow_to_owner`).
pub fn create_owner_only(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => narrow_to_owner(path),
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

/// Narrows an existing file that others may read (made before its mode was set, or by hand)
/// to its owner (0600); a missing file is fine.
pub fn narrow_to_owner(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = match std::fs::metadata(path) {
        Ok(m) => m.permissions().mode() & 0o777,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("narrowing {} to its owner", path.display()))?;
        tracing::info!(file = %path.display(), was = format!("{mode:o}"), "now readable by its owner only (0600)");
    }
    Ok(())
}

/// Opens the store. `create` makes a missing DynamoDB table (the local server does, per
/// SPEC §5); operator commands refuse a missing one instead of creating a stray table.
/// Opens the store; with `create`, a missing DynamoDB table is created. Also says whether
/// the store is new enough to be given the default admin (SPEC §5): the embedded store
/// always (its data dir is the local server's own), a DynamoDB table only when this call
/// has just created it, so an existing table never gets a known password.
pub async fn open_store(
    args: &StoreArgs,
    config: &Config,
    create: bool,
) -> anyhow::Result<(Store, bool)> {
    match args.store {
        StoreKind::Embedded => {
            std::fs::create_dir_all(&args.data_dir)
                .with_context(|| format!("creating {}", args.data_dir.display()))?;
            let path = args.data_dir.join("crm.sqlite3");
            // The store holds the bcrypt hashes: the owner's alone, like the JWT secret.
            // SQLite gives its -wal and -shm files the mode of the database file.
            create_owner_only(&path)?;
            for side in ["crm.sqlite3-wal", "crm.sqlite3-shm"] {
                narrow_to_owner(&args.data_dir.join(side))?;
            }
            let b = SqliteBackend::open(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            Ok((
                Store::plugged(b).with_feed_horizon(config.feed_horizon()),
                true,
            ))
        }
        StoreKind::Dynamodb => {
            let sdk = crm_shared::cloud::sdk_config().await;
            let b = DynamoBackend::new(
                aws_sdk_dynamodb::Client::new(&sdk),
                config.table_name.clone(),
            );
            let created = if create {
                b.ensure_table()
                    .await
                    .with_context(|| format!("preparing DynamoDB table {}", config.table_name))?
            } else if !b
                .table_exists()
                .await
                .with_context(|| format!("looking up DynamoDB table {}", config.table_name))?
            {
                bail!(
                    "DynamoDB table {} does not exist (check CRM_TABLE_NAME and the AWS region)",
                    config.table_name
                );
            } else {
                false
            };
            Ok((
                Store::dynamo(b).with_feed_horizon(config.feed_horizon()),
                created,
            ))
        }
    }
}
