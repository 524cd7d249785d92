//! `kluis systems`: the authority's other databases, described by dataset maps.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use kluis_connectors::{System, check};
use kluis_domain::dataset_map;
use kluis_store::Store;

use crate::config::{Config, system_env_var};
use crate::{actor, now};

#[derive(Subcommand)]
pub enum SystemsCommand {
    /// Describe a system to kluis by its dataset map (docs/dataset-map.md). The map is
    /// checked against the live schema first and refused on any mismatch. The system's
    /// URL comes from the configuration: [systems.NAME] url, or KLUIS_SYSTEM_NAME_URL.
    Add { file: PathBuf },
    /// Compare the dataset maps with the live schemas (all systems, or one); exits non-zero
    /// on a mismatch or an unreachable system, after checking every other one.
    Check { name: Option<String> },
    /// The systems kluis knows, with the activities they serve.
    List,
    /// Forget a system (its own database is not touched).
    Remove { name: String },
}

/// A system ready to connect to: its map with the URL from configuration.
fn connect_to(config: &Config, map: dataset_map::DatasetMap) -> Result<System> {
    let name = map.name.clone();
    let url = config.systems.get(&name).with_context(|| {
        format!(
            "no connection is configured for system '{name}': set [systems.{name}] url (or \
             url_file) in the configuration, or {}",
            system_env_var(&name)
        )
    })?;
    Ok(System::new(map, &url.url)?)
}

pub async fn systems(config: &Config, store: &Store, command: SystemsCommand) -> Result<()> {
    match command {
        SystemsCommand::Add { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let map = dataset_map::parse(&file.display().to_string(), &text)?;
            let system = connect_to(config, map.clone())?;
            let report = check(&system).await?;
            if !report.is_ok() {
                bail!("{report}the map does not match the database: correct it and add it again");
            }
            print!("{report}");
            let stored = store.put_system(&map, &actor(), now()).await?;
            println!(
                "system '{}' is known to kluis (version {}), serving {}",
                map.name,
                stored.version,
                map.activities.join(", ")
            );
            Ok(())
        }
        SystemsCommand::Check { name } => {
            let mut stored = store.systems().await?;
            if let Some(name) = &name {
                stored.retain(|s| &s.map.name == name);
                if stored.is_empty() {
                    bail!("there is no system '{name}': add it with `kluis systems add FILE`");
                }
            }
            let mut tasks = tokio::task::JoinSet::new();
            for (i, s) in stored.into_iter().enumerate() {
                let name = s.map.name.clone();
                let system = connect_to(config, s.map);
                tasks.spawn(async move {
                    let outcome = match system {
                        Ok(system) => check(&system).await.map_err(anyhow::Error::from),
                        Err(e) => Err(e),
                    };
                    (i, name, outcome)
                });
            }
            let mut outcomes = tasks.join_all().await;
            outcomes.sort_by_key(|(i, _, _)| *i);
            let mut failed = 0;
            for (_, name, outcome) in outcomes {
                match outcome {
                    Ok(report) => {
                        print!("{report}");
                        if !report.is_ok() {
                            failed += 1;
                        }
                    }
                    Err(e) => {
                        println!("{name}: cannot be checked: {e:#}");
                        failed += 1;
                    }
                }
            }
            if failed > 0 {
                bail!("{failed} system(s) do not match their map or cannot be reached");
            }
            Ok(())
        }
        SystemsCommand::List => {
            for s in store.systems().await? {
                println!(
                    "{}\t{}\tserves {}\t(version {}, by {})",
                    s.map.name,
                    s.map.kind,
                    s.map.activities.join(", "),
                    s.version,
                    s.updated_by
                );
            }
            Ok(())
        }
        SystemsCommand::Remove { name } => {
            store.delete_system(&name).await?;
            println!("kluis no longer knows system '{name}'");
            Ok(())
        }
    }
}
