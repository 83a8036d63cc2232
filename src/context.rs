//! The application context: the infrastructure every service needs, built once at start-up
//! from the config (the store, the mailer, the reader links and their signing key, the
//! topic catalogue). It holds no service's state: services keep their own
//! (`services.rs`).

use std::sync::Arc;

use crate::config::Config;
use crate::domain::{ErasureKey, TopicCatalogue};
use crate::links::Links;
use crate::mail::{Mailer, SetupError};
use crate::store::{Store, StoreError};
use crate::tokens::Signer;

/// Cheap to clone: every part is shared.
#[derive(Clone)]
pub struct Context {
    pub store: Store,
    pub mailer: Arc<Mailer>,
    pub links: Links,
    pub config: Arc<Config>,
    pub catalogue: Arc<TopicCatalogue>,
    /// Keys the hashes of erased addresses (derived from the signing key).
    pub erasure: ErasureKey,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Mail(#[from] SetupError),
    #[error("topic catalogue {path}: {source}")]
    Topics {
        path: String,
        source: crate::domain::TopicError,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

impl Context {
    /// Load the catalogue, the signing key and the mailer, then open the database
    /// (applying migrations). A catalogue or mail setting that is wrong stops the start
    /// before the database is touched.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        let catalogue = catalogue(&config)?;
        let key = config.signing_key().map_err(|source| StartError::Io {
            what: "the signing key".into(),
            source,
        })?;
        let mailer = Mailer::from_config(&config)?;
        let store = Store::connect(&config.database_url).await?;
        Ok(Self {
            store,
            mailer: Arc::new(mailer),
            links: Links::new(&config, Signer::new(&key)),
            erasure: ErasureKey::from_secret(&key),
            config: Arc::new(config),
            catalogue: Arc::new(catalogue),
        })
    }

    /// Values every mail and page footer shows.
    pub(crate) fn common_context(&self) -> tera::Context {
        let mut ctx = tera::Context::new();
        ctx.insert("operator_name", &self.config.operator.name);
        ctx.insert("operator_address", &self.config.operator.postal_address);
        ctx.insert("base_url", &self.config.base_url);
        ctx
    }
}

/// The configured catalogue, or the built-in one when `topics_file` is empty. A file
/// that was named but cannot be read is an error: falling back silently would offer
/// readers a different list of topics than the operator wrote.
pub fn catalogue(config: &Config) -> Result<TopicCatalogue, StartError> {
    let path = config.topics_file.display().to_string();
    let text = config.topics_toml().map_err(|source| StartError::Io {
        what: format!(
            "cannot read topics_file {path} (set topics_file to \"\" for the built-in catalogue)"
        ),
        source,
    })?;
    TopicCatalogue::from_toml(&text).map_err(|source| StartError::Topics { path, source })
}
