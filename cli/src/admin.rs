//! `crm admin create`: an approved ADMIN written straight into the store, the only way
//! admins come to exist; `crm admin set-password`: an operator's reset of any user's
//! password, revoking their tokens. Passwords come from standard input, never from argv.

use crate::StoreArgs;
use crate::local;
use anyhow::{Context, bail};
use crm_shared::auth::PasswordHasher;
use crm_shared::model::{Email, Name, Password, UserId};
use crm_shared::service::{create_admin, set_password_by_id};
use std::io::{BufRead, IsTerminal};

fn read_password(prompt: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return rpassword::prompt_password(prompt).context("reading the password");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

pub async fn create(
    user_id: String,
    name: String,
    email: String,
    store: StoreArgs,
) -> anyhow::Result<()> {
    let config = local::config()?;
    let id = UserId::parse(&user_id).map_err(|e| anyhow::anyhow!("{e}"))?;
    let name = Name::parse(&name).map_err(|e| anyhow::anyhow!("{e}"))?;
    let email = Email::parse(&email).map_err(|e| anyhow::anyhow!("{e}"))?;
    let password = Password::parse(&read_password("Password for the new admin: ")?)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (s, _) = local::open_store(&store, &config, false).await?;
    let passwords = PasswordHasher::new(config.bcrypt_cost);
    match create_admin(&s, &passwords, id, name, email, &password).await {
        Ok(u) => {
            println!("created approved ADMIN {}", u.user_id);
            Ok(())
        }
        Err(e) => bail!("{}", e.message),
    }
}

pub async fn set_password(user_id: String, store: StoreArgs) -> anyhow::Result<()> {
    let config = local::config()?;
    let id = UserId::parse(&user_id).map_err(|e| anyhow::anyhow!("{e}"))?;
    let password = Password::parse(&read_password(&format!("New password for {id}: "))?)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (s, _) = local::open_store(&store, &config, false).await?;
    let passwords = PasswordHasher::new(config.bcrypt_cost);
    match set_password_by_id(&s, &passwords, &id, &password).await {
        Ok(()) => {
            println!("password of {id} set; every token it held is revoked");
            Ok(())
        }
        Err(e) => bail!("{}", e.message),
    }
}
