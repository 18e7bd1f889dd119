//! The keys directory of earlier versions: one PKCS#8 PEM file per key and `keyset.json`,
//! the manifest that gave each key its state. Keys now live in the database
//! (`ring`); a directory found at the first start of this version is read once and
//! imported. The directory stays where `data.key` is written when no data key is given.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::material::KeyAlg;
use super::record::KeyState;

/// A key as `keyset.json` recorded it.
#[derive(Debug, Clone, Deserialize)]
pub struct KeyRecord {
    pub kid: String,
    pub alg: KeyAlg,
    pub state: KeyState,
    /// File name inside the keys directory.
    pub file: String,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub retired_at: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Manifest {
    pub keys: Vec<KeyRecord>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyDirError {
    #[error("keys directory {dir}: {msg}")]
    Io { dir: String, msg: String },
    #[error("keys directory {dir}: keyset.json is not valid: {msg}")]
    Manifest { dir: String, msg: String },
    #[error("keys directory {dir}: key {kid}: {msg}")]
    Key {
        dir: String,
        kid: String,
        msg: String,
    },
}

pub struct KeyDir {
    dir: PathBuf,
}

impl KeyDir {
    pub fn new(dir: impl Into<PathBuf>) -> KeyDir {
        KeyDir { dir: dir.into() }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn manifest_path(&self) -> PathBuf {
        self.dir.join("keyset.json")
    }

    fn io(&self, e: impl std::fmt::Display) -> KeyDirError {
        KeyDirError::Io {
            dir: self.dir.display().to_string(),
            msg: e.to_string(),
        }
    }

    /// The manifest, or an empty one when the directory has none.
    pub fn read_manifest(&self) -> Result<Manifest, KeyDirError> {
        match std::fs::read(self.manifest_path()) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| KeyDirError::Manifest {
                dir: self.dir.display().to_string(),
                msg: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
            Err(e) => Err(self.io(e)),
        }
    }

    /// The private key of `rec`, as PEM.
    pub fn read_pem(&self, rec: &KeyRecord) -> Result<String, KeyDirError> {
        std::fs::read_to_string(self.dir.join(&rec.file)).map_err(|e| KeyDirError::Key {
            dir: self.dir.display().to_string(),
            kid: rec.kid.clone(),
            msg: format!("cannot read {}: {e}", rec.file),
        })
    }
}
