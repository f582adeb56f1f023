//! Where the master key comes from: `EMPORIUM_SECRET_KEY`, else the file
//! `EMPORIUM_SECRET_KEY_FILE` names. Production needs one of the two. In
//! development a missing key file is generated, beside the SQLite database
//! (`<file>.key`) or as `emporium.key` in the working directory, so a
//! zero-setup shop still starts; an in-memory database gets a key that
//! lives as long as the process.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::Context;

use crate::{
    config::{Config, Mode},
    domain::sealing::MasterKey,
};

/// The master key `config` asks for.
pub fn master_key(config: &Config) -> anyhow::Result<MasterKey> {
    if let Some(key) = &config.secret_key {
        return MasterKey::from_material(key.expose().as_bytes())
            .map_err(|e| anyhow::anyhow!("EMPORIUM_SECRET_KEY: {e}"));
    }
    let path = match (&config.secret_key_file, config.mode) {
        (Some(path), _) => path.clone(),
        (None, Mode::Production) => anyhow::bail!(
            "production mode needs the master key that seals stored secrets: set \
             EMPORIUM_SECRET_KEY (at least 32 bytes, e.g. `openssl rand -base64 32`) or \
             EMPORIUM_SECRET_KEY_FILE, the same on every node"
        ),
        (None, Mode::Development) => match default_key_file(config.database_url.expose()) {
            Some(path) => path,
            None => {
                return MasterKey::from_material(MasterKey::generate_material().as_bytes())
                    .map_err(|e| anyhow::anyhow!("master key: {e}"));
            }
        },
    };
    let generate = config.secret_key_file.is_none() && config.mode == Mode::Development;
    let material = read_or_create(&path, generate)?;
    MasterKey::from_material(material.trim().as_bytes())
        .map_err(|e| anyhow::anyhow!("master key file {}: {e}", path.display()))
}

/// Where development keeps its generated key: beside a SQLite file, in the
/// working directory for PostgreSQL, nowhere for an in-memory database.
fn default_key_file(database_url: &str) -> Option<PathBuf> {
    let Some(rest) = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
    else {
        return Some(PathBuf::from("emporium.key"));
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || query.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(format!("{path}.key")))
}

/// The key file's content; with `generate`, a missing file is created with
/// fresh key material, readable by its owner only.
fn read_or_create(path: &Path, generate: bool) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(material) => return Ok(material),
        Err(e) if !(generate && e.kind() == std::io::ErrorKind::NotFound) => {
            return Err(e).with_context(|| format!("master key file {}", path.display()));
        }
        Err(_) => {}
    }
    let material = MasterKey::generate_material();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(format!("{material}\n").as_bytes())
                .with_context(|| format!("writing the master key file {}", path.display()))?;
            tracing::warn!(
                path = %path.display(),
                "generated the master key that seals stored secrets; keep it with the database \
                 (without it, webhook signing secrets and the token signing key cannot be read), \
                 and set EMPORIUM_SECRET_KEY in production"
            );
            Ok(material)
        }
        // Another process created it meanwhile: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read_to_string(path)
            .with_context(|| format!("master key file {}", path.display())),
        Err(e) => {
            Err(e).with_context(|| format!("creating the master key file {}", path.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn development_keys_live_beside_the_database() {
        let p = |u: &str| default_key_file(u).map(|p| p.display().to_string());
        assert_eq!(
            p("sqlite://emporium.db?mode=rwc").as_deref(),
            Some("emporium.db.key")
        );
        assert_eq!(
            p("sqlite:/var/shop/s.db").as_deref(),
            Some("/var/shop/s.db.key")
        );
        assert_eq!(p("sqlite::memory:"), None);
        assert_eq!(p("sqlite://x?mode=memory&cache=shared"), None);
        assert_eq!(p("postgres://u@h/db").as_deref(), Some("emporium.key"));
    }

    #[test]
    fn a_generated_key_file_is_reused_and_production_needs_a_key() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("shop.db");
        let config = Config::for_database(format!("sqlite://{}?mode=rwc", db.display()));
        let first = master_key(&config)?;
        let file = dir.path().join("shop.db.key");
        assert!(file.exists());
        let sealed = first.seal("t", b"x");
        assert_eq!(
            master_key(&config)?.open("t", &sealed).ok(),
            Some(b"x".to_vec())
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&file)?.permissions().mode() & 0o777,
                0o600
            );
        }
        let mut production = config.clone();
        production.mode = Mode::Production;
        let err = master_key(&production).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("EMPORIUM_SECRET_KEY")));
        production.secret_key_file = Some(file);
        assert!(master_key(&production)?.open("t", &sealed).is_ok());
        Ok(())
    }
}
