//! `utbyte node serve`: one authority's node from a configuration file (see
//! `utbyte_node::config` for every option).

use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;
use utbyte_node::{Listeners, NodeConfig, NodeSetup};

#[derive(Debug, clap::Subcommand)]
pub enum NodeCommand {
    /// Run a node until interrupted.
    Serve {
        /// The node's configuration (TOML).
        #[arg(long)]
        config: PathBuf,
    },
}

pub fn run(cmd: NodeCommand) -> anyhow::Result<ExitCode> {
    let NodeCommand::Serve { config } = cmd;
    let config = NodeConfig::load(&config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let setup = NodeSetup::from_config(&config).await?;
        let listeners = Listeners::bind(config.federation_listen, config.local_listen).await?;
        let node = utbyte_node::start(setup, listeners)
            .await
            .context("starting the node")?;
        println!(
            "{}: federation https://{} (mutual TLS), local API http://{}",
            node.authority, node.federation_addr, node.local_addr
        );
        tokio::signal::ctrl_c().await?;
        node.stop().await;
        Ok(ExitCode::SUCCESS)
    })
}
