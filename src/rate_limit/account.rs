//! One request's account with the request rate limit. The middleware charges
//! most requests their one request before the handler runs. The GraphQL
//! handler's JSON POSTs and GETs it leaves to the handler, which charges the
//! whole cost once it knows it (the request and its mutation fields) in one
//! charge, and on a response-cache hit in the same Redis round trip as the
//! cache's check. Whatever a handler did not charge (it refused the request
//! before), the middleware charges after it: every request is counted once.

use std::sync::{Arc, Mutex};

use super::{Allowance, ClientKey, RequestRateLimit};
use crate::{cache::CacheError, error::Error};

#[derive(Clone)]
pub struct RequestCharge {
    client: ClientKey,
    limit: Arc<RequestRateLimit>,
    account: Arc<Mutex<Account>>,
}

#[derive(Default)]
struct Account {
    /// The cost charged so far, or refused: a refused request owes nothing
    /// more.
    settled: u32,
    /// After the last charge: what the response's headers show.
    allowance: Option<Allowance>,
}

impl RequestCharge {
    pub fn new(client: ClientKey, limit: Arc<RequestRateLimit>) -> Self {
        RequestCharge {
            client,
            limit,
            account: Arc::default(),
        }
    }

    pub fn client(&self) -> &ClientKey {
        &self.client
    }

    /// Charges what the request still owes of `cost` in all, if anything;
    /// RATE_LIMITED when the allowance is spent.
    pub async fn pay(&self, cost: u32) -> Result<(), Error> {
        let Some(owed) = self.owed(cost) else {
            return Ok(());
        };
        let charged = self.limit.charge(&self.client, owed).await;
        let charged = self.split_if_refused(owed, charged).await;
        self.settle(owed, charged)
    }

    /// As [`RequestCharge::pay`], sending `along` in the same Redis round
    /// trip; its reply is None when it was not sent (nothing owed, no Redis,
    /// or Redis resting): the caller then sends it on its own.
    pub async fn pay_along(
        &self,
        cost: u32,
        along: redis::Cmd,
    ) -> (Result<(), Error>, Option<Result<redis::Value, CacheError>>) {
        let Some(owed) = self.owed(cost) else {
            return (Ok(()), None);
        };
        let (charged, reply) = self.limit.charge_along(&self.client, owed, along).await;
        let charged = self.split_if_refused(owed, charged).await;
        (self.settle(owed, charged), reply)
    }

    /// A request whose whole cost is refused still counts as one request when
    /// one fits, as when its mutations' extra cost was a charge of its own:
    /// then the rest is asked for again (and refused, unless the allowance
    /// grew meanwhile). Only refusals pay for these round trips.
    async fn split_if_refused(
        &self,
        owed: u32,
        charged: Result<Allowance, (Error, Allowance)>,
    ) -> Result<Allowance, (Error, Allowance)> {
        let first_charge = self.account.lock().unwrap().settled == 0;
        if charged.is_ok() || owed == 1 || !first_charge {
            return charged;
        }
        if self.limit.charge(&self.client, 1).await.is_err() {
            return charged;
        }
        self.limit.charge(&self.client, owed - 1).await
    }

    /// Whether nothing was charged, or refused, yet.
    pub fn unsettled(&self) -> bool {
        self.account.lock().unwrap().settled == 0
    }

    /// The allowance after the last charge, for the response's headers.
    pub fn allowance(&self) -> Option<Allowance> {
        self.account.lock().unwrap().allowance.clone()
    }

    fn owed(&self, cost: u32) -> Option<u32> {
        let settled = self.account.lock().unwrap().settled;
        cost.checked_sub(settled).filter(|owed| *owed > 0)
    }

    fn settle(
        &self,
        owed: u32,
        charged: Result<Allowance, (Error, Allowance)>,
    ) -> Result<(), Error> {
        let mut account = self.account.lock().unwrap();
        account.settled += owed;
        match charged {
            Ok(allowance) => {
                account.allowance = Some(allowance);
                Ok(())
            }
            Err((error, allowance)) => {
                account.allowance = Some(allowance);
                Err(error)
            }
        }
    }
}
