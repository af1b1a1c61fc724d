//! `bulwark tenant credential ...`: a tenant's backend credentials, kept
//! encrypted in the data directory's store. A running server sees changes
//! on its next request (within 100 ms), without a restart.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;

use crate::auth::{open_store, secrets_key_path};
use crate::config::{self, Config};

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Backend credentials stored for a tenant (encrypted with the data
    /// directory's secrets.key), handed to the tools of each call acting for it.
    #[command(subcommand)]
    Credential(CredentialCommand),
}

#[derive(Debug, Subcommand)]
pub enum CredentialCommand {
    /// Store (or replace) a credential. The value is read from stdin, never
    /// from the command line (where shell history and `ps` would show it);
    /// one trailing newline is dropped.
    Set {
        /// Tenant id: 1-64 ASCII letters, digits, `_`, `-` or `.`.
        tenant: String,
        /// Credential name, as in the header `X-Tenant-Credential-NAME`
        /// (stored lowercased).
        name: String,
    },
    /// List a tenant's credentials: names and when they were set, never values.
    List {
        tenant: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a stored credential.
    Remove { tenant: String, name: String },
}

pub fn run(config: &Config, command: TenantCommand) -> Result<ExitCode> {
    let data_dir = config::data_dir(config);
    let store = open_store(&data_dir)?;
    let TenantCommand::Credential(command) = command;
    match command {
        CredentialCommand::Set { tenant, name } => {
            // Checked before reading stdin, so a typo does not wait for input.
            bulwark_store::validate_credential_tenant(&tenant)?;
            let stored_name = bulwark_store::normalize_credential_name(&name)?;
            let value = read_value(&tenant, &stored_name)?;
            let vault = store.credential_vault(&secrets_key_path(&data_dir))?;
            let outcome = vault.set(&tenant, &stored_name, &value)?;
            let verb = match outcome {
                bulwark_store::SetOutcome::Added => "stored",
                bulwark_store::SetOutcome::Replaced => "replaced",
            };
            println!(
                "{verb} credential `{stored_name}` of tenant `{tenant}` (encrypted with {})",
                vault.key_file().display()
            );
        }
        CredentialCommand::List { tenant, json } => {
            let list = store.list_tenant_credentials(&tenant)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                eprintln!("tenant `{tenant}` has no stored credentials");
            } else {
                for item in list {
                    println!("{:32}  updated {}", item.name, item.updated_at);
                }
            }
        }
        CredentialCommand::Remove { tenant, name } => {
            store.remove_tenant_credential(&tenant, &name)?;
            println!(
                "removed credential `{}` of tenant `{tenant}`",
                name.to_ascii_lowercase()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The value from stdin, minus one trailing newline. Multi-line values
/// (a PEM key) are kept whole.
fn read_value(tenant: &str, name: &str) -> Result<String> {
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("enter the value of `{name}` for tenant `{tenant}`, then Ctrl-D:");
    }
    let mut bytes = Vec::new();
    // One byte past the limit is enough to know it is too long.
    stdin
        .by_ref()
        .take(bulwark_store::VALUE_MAX as u64 + 3)
        .read_to_end(&mut bytes)
        .context("cannot read the credential value from stdin")?;
    let mut value = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("the value on stdin is not UTF-8 text"))?;
    if value.ends_with('\n') {
        value.pop();
        if value.ends_with('\r') {
            value.pop();
        }
    }
    if value.is_empty() {
        bail!(
            "no value on stdin; pipe one in, e.g. `printf '%s' \"$TOKEN\" | bulwark tenant credential set {tenant} {name}`"
        );
    }
    Ok(value)
}
