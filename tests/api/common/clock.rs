//! A clock that tests set and move, for saves at chosen times and for the
//! worker's pruning and scheduling.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use iodide_server::clock::Clock;

#[derive(Clone)]
pub struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    pub fn at(now: DateTime<Utc>) -> Self {
        TestClock(Arc::new(Mutex::new(now)))
    }

    pub fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *self.0.lock().unwrap() = now;
    }

    pub fn advance(&self, by: TimeDelta) {
        *self.0.lock().unwrap() += by;
    }

    pub fn as_clock(&self) -> Clock {
        let clock = self.clone();
        Clock::from_fn(move || clock.now())
    }
}
