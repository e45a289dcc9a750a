//! Configuration files: a node's `node.toml` (`utbyte_node::NodeConfig`) and the directory's
//! `directory.toml` (`utbyte_directory::config::DirectoryConfig`), each written to a file and
//! loaded the way `utbyte node serve` and `utbyte directory serve` load them.
//!
//! Selector (first byte), even: `node.toml`; odd: `directory.toml`.
//!
//! Properties: nothing panics; a loaded configuration validates again, and its paths are
//! resolved against the file's directory.

#![no_main]

use libfuzzer_sys::fuzz_target;
use utbyte_directory::config::DirectoryConfig;
use utbyte_fuzz::{scratch, split};
use utbyte_node::NodeConfig;

fuzz_target!(|data: &[u8]| {
    let Some((selector, rest)) = split(data) else {
        return;
    };
    let dir = scratch().join("config");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    if selector % 2 == 0 {
        let path = dir.join("node.toml");
        std::fs::write(&path, rest).unwrap_or_else(|e| panic!("{e}"));
        match NodeConfig::load(&path) {
            Ok(config) => {
                config
                    .validate()
                    .unwrap_or_else(|e| panic!("a loaded node.toml does not validate: {e}"));
                assert!(config.data_dir.is_absolute() && config.credentials_dir.is_absolute());
                let _ = format!("{config:?}");
            }
            Err(err) => {
                let _ = err.to_string();
            }
        }
    } else {
        let path = dir.join("directory.toml");
        std::fs::write(&path, rest).unwrap_or_else(|e| panic!("{e}"));
        match DirectoryConfig::load(&path) {
            Ok(config) => {
                assert!(config.state_dir.is_absolute() && config.signing_key_path().is_absolute());
                let _ = (config.reload_interval(), config.shutdown_deadline());
            }
            Err(err) => {
                let _ = err.to_string();
            }
        }
    }
});
