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
        self.webhooks()?;
        if let Some(o) = &self.smtp.oauth {
            self.check_credential("smtp.oauth.credential", &o.credential)?;
        }
        for (i, t) in self.tenants.iter().enumerate() {
            self.check_credential(&format!("tenants[{i}].credential"), &t.config.credential)?;
        }
        Ok(())
    }

    /// Reads the secret files a credential names; `at` is its key path.
    fn check_credential(&self, at: &str, credential: &CredentialConfig) -> Result<(), ConfigError> {
        let key = |k: &str| format!("{at}.{k}");
        match credential {
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
        Ok(())
    }

    /// The `[[webhooks]]` with their URLs and signing keys read from their files. A URL must
    /// be `https://` (`http://` only for loopback hosts); an error never repeats the URL.
    pub fn webhooks(&self) -> Result<Vec<crate::notify::channel::webhook::Webhook>, ConfigError> {
        use secrecy::ExposeSecret;
        let mut out = Vec::new();
        for (i, w) in self.webhooks.iter().enumerate() {
            let key = |k: &str| format!("webhooks[{i}].{k}");
            let url = self.read_secret(&key("url_file"), &w.url_file)?;
            let bad = |message: &str| ConfigError::WebhookUrl {
                key: key("url_file"),
                file: self.secret_path(&w.url_file).display().to_string(),
                message: message.to_owned(),
            };
            let parsed = url::Url::parse(url.expose_secret().trim())
                .map_err(|_| bad("does not hold a URL (https://…)"))?;
            match parsed.scheme() {
                "https" => {}
                "http" if super::is_loopback(&parsed) => {}
                "http" => {
                    return Err(bad(
                        "holds an http:// URL; use https:// (http only for loopback)",
                    ));
                }
                _ => return Err(bad("holds a URL that is not https://")),
            }
            let secret = match &w.secret_file {
                Some(f) => {
                    let s = self.read_secret(&key("secret_file"), f)?;
                    if s.expose_secret().is_empty() {
                        return Err(ConfigError::WebhookUrl {
                            key: key("secret_file"),
                            file: self.secret_path(f).display().to_string(),
                            message: "is empty".into(),
                        });
                    }
                    Some(secrecy::SecretBox::new(Box::new(
                        s.expose_secret().as_bytes().to_vec(),
                    )))
                }
                None => None,
            };
            out.push(crate::notify::channel::webhook::Webhook {
                name: w.name.clone(),
                kind: w.kind,
                url: SecretString::from(parsed.to_string()),
                secret,
                timeout: w.timeout,
                max_attempts: w.max_attempts,
                retry_backoff: w.retry_backoff,
            });
        }
        Ok(out)
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
