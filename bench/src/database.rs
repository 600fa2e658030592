//! The database that a run seeds and serves: always a fresh one, so that runs
//! are comparable and nothing of the operator's data is touched.

use anyhow::Context;
use rand::distr::{Alphanumeric, SampleString};
use sea_orm::{ConnectionTrait, Database};

pub struct BenchDatabase {
    pub url: String,
    /// A PostgreSQL database that this run created: (server URL, name).
    created_on_server: Option<(String, String)>,
    /// The temporary folder of the default SQLite file, removed on drop.
    _folder: Option<tempfile::TempDir>,
}

impl BenchDatabase {
    pub async fn create(url: Option<&str>) -> anyhow::Result<Self> {
        match url {
            None => {
                let folder = tempfile::tempdir()?;
                let url = format!("sqlite://{}/bench.db?mode=rwc", folder.path().display());
                Ok(BenchDatabase {
                    url,
                    created_on_server: None,
                    _folder: Some(folder),
                })
            }
            Some(url) if url.starts_with("postgres") => Self::fresh_postgres(url).await,
            Some(url) => Ok(BenchDatabase {
                url: url.to_string(),
                created_on_server: None,
                _folder: None,
            }),
        }
    }

    async fn fresh_postgres(server_url: &str) -> anyhow::Result<Self> {
        let suffix = Alphanumeric
            .sample_string(&mut rand::rng(), 10)
            .to_lowercase();
        let name = format!("iodide_bench_{suffix}");
        let admin = Database::connect(server_url)
            .await
            .with_context(|| format!("connecting to {server_url}"))?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await?;
        admin.close().await?;
        let mut url = url::Url::parse(server_url)?;
        url.set_path(&name);
        eprintln!("bench: created database {name}");
        Ok(BenchDatabase {
            url: url.to_string(),
            created_on_server: Some((server_url.to_string(), name)),
            _folder: None,
        })
    }

    /// Drops the PostgreSQL database this run created; a failure is reported,
    /// not fatal, since the results are already in.
    pub async fn drop_if_created(&self) {
        let Some((server_url, name)) = &self.created_on_server else {
            return;
        };
        let dropped = async {
            let admin = Database::connect(server_url.as_str()).await?;
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await?;
            admin.close().await
        }
        .await;
        match dropped {
            Ok(()) => eprintln!("bench: dropped database {name}"),
            Err(err) => eprintln!("bench: could not drop database {name}: {err}"),
        }
    }
}
