//! The keys directory: one PKCS#8 PEM file per key (mode 0600) and `keyset.json`, the
//! manifest that gives each key its state. Every instance that shares the directory
//! shares the key set; writers hold an exclusive lock on `.lock` while they change it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::material::{self, KeyAlg, KeyError, Material};

/// The life of a key: published before use (`Next`), signing (`Active`), then only
/// published until every token it signed has expired (`Retired`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    Next,
    Active,
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Active => "active",
            KeyState::Retired => "retired",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
    #[error(transparent)]
    Material(#[from] KeyError),
}

pub struct KeyDir {
    dir: PathBuf,
}

/// An exclusive lock on the keys directory, released on drop.
struct DirLock(#[allow(dead_code)] File);

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

    fn ensure_dir(&self) -> Result<(), KeyDirError> {
        if !self.dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir)
                .map_err(|e| self.io(e))?;
        }
        Ok(())
    }

    fn lock(&self) -> Result<DirLock, KeyDirError> {
        self.ensure_dir()?;
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(self.dir.join(".lock"))
            .map_err(|e| self.io(e))?;
        f.lock().map_err(|e| self.io(e))?;
        Ok(DirLock(f))
    }

    /// The manifest, or an empty one when the directory has none yet.
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

    fn write_manifest(&self, m: &Manifest) -> Result<(), KeyDirError> {
        let tmp = self.dir.join("keyset.json.tmp");
        let bytes = serde_json::to_vec_pretty(m).map_err(|e| self.io(e))?;
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| self.io(e))?;
        f.write_all(&bytes).map_err(|e| self.io(e))?;
        f.sync_all().map_err(|e| self.io(e))?;
        std::fs::rename(&tmp, self.manifest_path()).map_err(|e| self.io(e))
    }

    pub fn load_material(&self, rec: &KeyRecord) -> Result<Material, KeyDirError> {
        let key_err = |msg: String| KeyDirError::Key {
            dir: self.dir.display().to_string(),
            kid: rec.kid.clone(),
            msg,
        };
        let pem = std::fs::read_to_string(self.dir.join(&rec.file))
            .map_err(|e| key_err(format!("cannot read {}: {e}", rec.file)))?;
        let m = material::from_pem(rec.alg, &pem).map_err(key_err)?;
        if m.kid != rec.kid {
            return Err(key_err(format!(
                "{} holds key {}, not the one keyset.json names",
                rec.file, m.kid
            )));
        }
        Ok(m)
    }

    fn create_key(&self, alg: KeyAlg, state: KeyState, now: i64) -> Result<KeyRecord, KeyDirError> {
        let pem = material::generate(alg)?;
        let m = material::from_pem(alg, &pem).map_err(|msg| KeyDirError::Key {
            dir: self.dir.display().to_string(),
            kid: "(new)".into(),
            msg,
        })?;
        let file = format!("{}.pem", m.kid);
        material::write_private(&self.dir.join(&file), &pem)?;
        Ok(KeyRecord {
            kid: m.kid,
            alg,
            state,
            file,
            created_at: now,
            activated_at: (state == KeyState::Active).then_some(now),
            retired_at: None,
        })
    }

    /// On first start, create an RS256 signing key. Returns whether one was created.
    pub fn ensure_initialized(&self, now: i64) -> Result<bool, KeyDirError> {
        let _lock = self.lock()?;
        let mut m = self.read_manifest()?;
        if m.keys.iter().any(|k| k.state == KeyState::Active) {
            return Ok(false);
        }
        let rec = self.create_key(KeyAlg::RS256, KeyState::Active, now)?;
        m.keys.push(rec);
        self.write_manifest(&m)?;
        Ok(true)
    }

    /// Rotate the signing key of `alg` (default: the algorithm of the newest active
    /// key). A staged `next` key of that algorithm is promoted; otherwise a new key is
    /// made. The previous active key of that algorithm is retired: it no longer signs,
    /// and stays published until the tokens it signed have expired.
    /// With `stage`, only a `next` key is made: published now, used from the next rotation.
    pub fn rotate(
        &self,
        alg: Option<KeyAlg>,
        stage: bool,
        now: i64,
    ) -> Result<KeyRecord, KeyDirError> {
        let _lock = self.lock()?;
        let mut m = self.read_manifest()?;
        let alg = alg
            .or_else(|| {
                m.keys
                    .iter()
                    .filter(|k| k.state == KeyState::Active)
                    .max_by_key(|k| k.activated_at)
                    .map(|k| k.alg)
            })
            .unwrap_or(KeyAlg::RS256);
        if stage {
            if let Some(k) = m
                .keys
                .iter()
                .find(|k| k.state == KeyState::Next && k.alg == alg)
            {
                return Ok(k.clone());
            }
            let rec = self.create_key(alg, KeyState::Next, now)?;
            m.keys.push(rec.clone());
            self.write_manifest(&m)?;
            return Ok(rec);
        }
        for k in m.keys.iter_mut() {
            if k.alg == alg && k.state == KeyState::Active {
                k.state = KeyState::Retired;
                k.retired_at = Some(now);
            }
        }
        let promoted = m
            .keys
            .iter_mut()
            .find(|k| k.state == KeyState::Next && k.alg == alg)
            .map(|k| {
                k.state = KeyState::Active;
                k.activated_at = Some(now);
                k.clone()
            });
        let rec = match promoted {
            Some(rec) => rec,
            None => {
                let rec = self.create_key(alg, KeyState::Active, now)?;
                m.keys.push(rec.clone());
                rec
            }
        };
        self.write_manifest(&m)?;
        Ok(rec)
    }

    /// Delete the files of retired keys whose publication window (`retain` seconds
    /// after retirement) has passed. Returns the kids removed.
    pub fn prune(&self, retain: i64, now: i64) -> Result<Vec<String>, KeyDirError> {
        let _lock = self.lock()?;
        let mut m = self.read_manifest()?;
        let (gone, kept): (Vec<_>, Vec<_>) = m.keys.into_iter().partition(|k| {
            k.state == KeyState::Retired && k.retired_at.is_some_and(|t| t + retain < now)
        });
        m.keys = kept;
        self.write_manifest(&m)?;
        for k in &gone {
            let _ = std::fs::remove_file(self.dir.join(&k.file));
        }
        Ok(gone.into_iter().map(|k| k.kid).collect())
    }
}
