//! The open subscription connections of this process: how many each client
//! holds, and the signal that closes them all at shutdown.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio_util::sync::CancellationToken;

#[derive(Clone, Default)]
pub struct Connections {
    open: Arc<Mutex<HashMap<String, usize>>>,
    shutdown: CancellationToken,
}

/// One client's place among the open connections, given back when dropped.
pub struct Admission {
    open: Arc<Mutex<HashMap<String, usize>>>,
    client: String,
}

impl Connections {
    /// A place for one more connection of `client`, unless it holds `limit`.
    pub fn admit(&self, client: &str, limit: usize) -> Option<Admission> {
        let mut open = self.open.lock().unwrap();
        let held = open.entry(client.to_string()).or_default();
        if *held >= limit {
            return None;
        }
        *held += 1;
        Some(Admission {
            open: self.open.clone(),
            client: client.to_string(),
        })
    }

    /// Cancelled when the process shuts down: each connection then closes.
    pub fn shutdown(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Tells every connection to close and waits, up to `grace`, until they have.
    pub async fn close_all(&self, grace: Duration) {
        self.shutdown.cancel();
        let closed = async {
            while !self.open.lock().unwrap().is_empty() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        let _ = tokio::time::timeout(grace, closed).await;
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap();
        if let Some(held) = open.get_mut(&self.client) {
            *held -= 1;
            if *held == 0 {
                open.remove(&self.client);
            }
        }
    }
}
