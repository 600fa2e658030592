//! Events through PostgreSQL LISTEN/NOTIFY, for instances that share a
//! database and no Redis. NOTIFY is sent outside the change's transaction,
//! after it commits, like every other backend's publish.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement, sqlx::postgres::PgListener};

use super::{Backoff, Event, Topics, deliver, encode};

#[derive(Clone)]
pub struct PostgresEvents {
    db: DatabaseConnection,
    channel: String,
}

impl PostgresEvents {
    pub fn new(db: DatabaseConnection, channel: String) -> Self {
        PostgresEvents { db, channel }
    }

    /// Hands every instance's events to `local`, from a task of its own.
    pub fn listen(&self, local: Topics) {
        tokio::spawn(listen(self.db.clone(), self.channel.clone(), local));
    }

    pub async fn publish(&self, event: &Event) -> Result<(), DbErr> {
        let statement = Statement::from_sql_and_values(
            self.db.get_database_backend(),
            "SELECT pg_notify($1, $2)",
            [self.channel.clone().into(), encode(event).into()],
        );
        self.db.execute_raw(statement).await.map(|_| ())
    }
}

/// Listens on a connection of its own, and again whenever it drops.
async fn listen(db: DatabaseConnection, channel: String, local: Topics) {
    let pool = db.get_postgres_connection_pool().clone();
    let mut backoff = Backoff::new();
    loop {
        let listening = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(&channel).await?;
            Ok::<_, sea_orm::sqlx::Error>(listener)
        };
        match listening.await {
            Ok(mut listener) => {
                backoff = Backoff::new();
                loop {
                    match listener.recv().await {
                        Ok(notification) => deliver(&local, notification.payload()),
                        Err(err) => {
                            tracing::warn!(%err, "the PostgreSQL event listener failed");
                            break;
                        }
                    }
                }
            }
            Err(err) => tracing::warn!(%err, "could not listen for PostgreSQL events"),
        }
        backoff.wait().await;
    }
}
