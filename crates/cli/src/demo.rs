//! The demo deployment: the registers reconstructed from the five seed privacy statements,
//! built into the binary so `kluis demo` works from any directory.

use anyhow::{Context, Result};
use kluis_domain::access::Role;
use kluis_domain::register_file;
use kluis_store::Store;
use time::OffsetDateTime;

/// The example registers (file name, text), embedded by build.rs.
pub const REGISTERS: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/examples.rs"));

/// Demo account for the back-office; printed at start so a visitor can sign in.
pub const DEMO_USER: &str = "dpo";
pub const DEMO_PASSWORD: &str = "demo-dpo-password";

/// Loads every example register, publishes a first statement for each controller that has
/// none, and adds the demo DPO account if there are no accounts yet.
pub async fn load(store: &Store, now: OffsetDateTime) -> Result<()> {
    for (name, text) in REGISTERS {
        let register = register_file::parse(name, text)?;
        store
            .import_register(&register, false, "demo", now)
            .await
            .with_context(|| format!("loading {name}"))?;
        for c in &register.controllers {
            if store.statement_versions(&c.id).await?.is_empty() {
                let snapshot = store
                    .register()
                    .await?
                    .for_controller(&c.id)
                    .context("controller vanished")?;
                store
                    .publish_statement(&c.id, now.date(), &snapshot, "demo", now)
                    .await?;
            }
        }
    }
    if store.users().await?.is_empty() {
        store
            .create_user(DEMO_USER, "Demo DPO", DEMO_PASSWORD, &[Role::Dpo], now)
            .await?;
        eprintln!("demo: sign in at /admin/login as '{DEMO_USER}' with password '{DEMO_PASSWORD}'");
    }
    Ok(())
}
