//! Where log lines go: standard error, as text or as one JSON object per line.
//!
//! `UTBYTE_LOG` chooses what is logged (the `tracing` filter syntax, e.g. `info` or
//! `utbyte_node=debug,warn`); `UTBYTE_LOG_FORMAT` is `text` (the default) or `json`. The libraries
//! never log a personal identifier, a disclosed value or a secret, so neither does any level.

use tracing_subscriber::EnvFilter;

/// Installs the subscriber; `default` is the filter when `UTBYTE_LOG` is unset (a node logs
/// every exchange at `info`, the directory every version it serves; the demo only what goes wrong, so its own output stays readable).
pub fn init(default: &str) -> anyhow::Result<()> {
    let filter = match std::env::var("UTBYTE_LOG") {
        Ok(text) => EnvFilter::try_new(&text)
            .map_err(|err| anyhow::anyhow!("UTBYTE_LOG=`{text}` is not a log filter: {err}"))?,
        Err(_) => EnvFilter::new(default),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match std::env::var("UTBYTE_LOG_FORMAT").as_deref() {
        Ok("json") => builder.json().with_current_span(true).try_init(),
        Ok("text") | Err(_) => builder.try_init(),
        Ok(other) => anyhow::bail!("UTBYTE_LOG_FORMAT=`{other}`: use `text` or `json`"),
    };
    installed.map_err(|err| anyhow::anyhow!("installing the log subscriber: {err}"))
}
