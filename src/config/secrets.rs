//! Secret files: keys ending in `_file` name files (never the secret itself), looked up in
//! `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=`) first, else beside the config file.

use std::path::{Path, PathBuf};

use secrecy::SecretString;

use super::schema::CredentialConfig;
use super::{Config, ConfigError};

impl Config {
    /// The path of a secret file, checked to exist and not be readable by everyone.
    fn check_secret_file(&self, key: &str, file: &Path) -> Result<PathBuf, ConfigError> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.secret_path(file);
        let meta =
            std::fs::metadata(&path).map_err(|source| self.unreadable(key, file, &path, source))?;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o004 != 0 {
            return Err(ConfigError::SecretExposed {
                key: key.to_owned(),
                file: path.display().to_string(),
                mode,
            });
        }
        Ok(path)
    }

    /// A secret file could not be read; a relative one missing says where it was looked for.
    fn unreadable(
        &self,
        key: &str,
        file: &Path,
        path: &Path,
        source: std::io::Error,
    ) -> ConfigError {
        let looked = if file.is_relative() && source.kind() == std::io::ErrorKind::NotFound {
            let creds = std::env::var_os("CREDENTIALS_DIRECTORY").map_or_else(
                || "$CREDENTIALS_DIRECTORY (not set)".to_owned(),
                |d| format!("$CREDENTIALS_DIRECTORY ({})", Path::new(&d).display()),
            );
            format!(
                " (looked in {creds}, then beside the config in {})",
                self.dir.display()
            )
        } else {
            String::new()
        };
        ConfigError::Secret {
            key: key.to_owned(),
            file: path.display().to_string(),
            source,
            looked,
        }
    }

    /// Reads every secret file the config names, so a missing one is a config error at start.
    pub fn check_secrets(&self) -> Result<(), ConfigError> {
        if let Some(f) = &self.smtp.password_file {
            self.read_secret("smtp.password_file", f)?;
        }
        if self.web.is_some() {
            self.web_keys()?;
        }
        for (i, t) in self.tenants.iter().enumerate() {
            let key = |k: &str| format!("tenants[{i}].credential.{k}");
            match &t.config.credential {
                CredentialConfig::ClientSecret {
                    client_secret_file, ..
                } => {
                    self.read_secret(&key("client_secret_file"), client_secret_file)?;
                }
                CredentialConfig::ClientCertificate {
                    certificate_file,
                    certificate_password_file,
                    ..
                } => {
                    self.check_secret_file(&key("certificate_file"), certificate_file)?;
                    if let Some(f) = certificate_password_file {
                        self.read_secret(&key("certificate_password_file"), f)?;
                    }
                }
                CredentialConfig::WorkloadIdentity {
                    token_file: Some(f),
                    ..
                } => {
                    self.read_secret(&key("token_file"), f)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The `[web]` HMAC keys, from `web.key_file`. `None` when `[web]` is absent.
    pub fn web_keys(&self) -> Result<Option<crate::web::link::Keys>, ConfigError> {
        use secrecy::ExposeSecret;
        let Some(web) = &self.web else {
            return Ok(None);
        };
        let text = self.read_secret("web.key_file", &web.key_file)?;
        crate::web::link::Keys::parse(text.expose_secret())
            .map(Some)
            .map_err(|source| ConfigError::WebKey {
                file: self.secret_path(&web.key_file).display().to_string(),
                source,
            })
    }

    /// Resolves a secret file name: absolute as is; relative in `$CREDENTIALS_DIRECTORY`
    /// (systemd `LoadCredential=`) when it is there, else beside the config file.
    pub fn secret_path(&self, file: &Path) -> PathBuf {
        if file.is_absolute() {
            return file.to_path_buf();
        }
        if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
            let candidate = Path::new(&dir).join(file);
            if candidate.exists() {
                return candidate;
            }
        }
        self.dir.join(file)
    }

    /// Reads a secret file (trailing newline removed); `key` names it in errors.
    pub fn read_secret(&self, key: &str, file: &Path) -> Result<SecretString, ConfigError> {
        let path = self.check_secret_file(key, file)?;
        let text = std::fs::read_to_string(&path)
            .map_err(|source| self.unreadable(key, file, &path, source))?;
        Ok(SecretString::from(
            text.trim_end_matches(['\r', '\n']).to_owned(),
        ))
    }
}
