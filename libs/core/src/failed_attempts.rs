//! Failed authentication attempts, per client address. Each failure adds one to the address's
//! count, which drains by one every `drain_every`; while the count is at `burst`, the address is
//! refused before its key is even looked up. A client that guesses keys, or a worker left with a
//! revoked key, then costs one lookup per `drain_every` instead of one per request.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Addresses remembered at most; past it, those whose count has drained are forgotten first.
const MAX_CLIENTS: usize = 100_000;

#[derive(Debug)]
pub struct FailedAttempts {
    burst: f64,
    drain_every: Duration,
    /// Address → (count after its last failure, time of that failure).
    clients: HashMap<IpAddr, (f64, Instant)>,
}

impl FailedAttempts {
    pub fn new(burst: u32, drain_every: Duration) -> Self {
        FailedAttempts {
            burst: f64::from(burst.max(1)),
            drain_every: drain_every.max(Duration::from_millis(1)),
            clients: HashMap::new(),
        }
    }

    /// How long `client` must wait before it may try again; `None`: it may try now.
    pub fn wait(&self, client: IpAddr, now: Instant) -> Option<Duration> {
        let over = self.count(client, now) - (self.burst - 1.0);
        (over > 0.0).then(|| self.drain_every.mul_f64(over))
    }

    /// Notes a failed attempt of `client`.
    pub fn failed(&mut self, client: IpAddr, now: Instant) {
        let count = (self.count(client, now) + 1.0).min(self.burst);
        if self.clients.len() >= MAX_CLIENTS && !self.clients.contains_key(&client) {
            let drain_every = self.drain_every;
            self.clients
                .retain(|_, (count, at)| drained(*count, *at, now, drain_every) > 0.0);
            if self.clients.len() >= MAX_CLIENTS {
                // Every address is failing: remembering new ones matters more than old ones.
                self.clients.clear();
            }
        }
        self.clients.insert(client, (count, now));
    }

    fn count(&self, client: IpAddr, now: Instant) -> f64 {
        self.clients.get(&client).map_or(0.0, |&(count, at)| {
            drained(count, at, now, self.drain_every)
        })
    }
}

fn drained(count: f64, at: Instant, now: Instant, drain_every: Duration) -> f64 {
    let drained = now.saturating_duration_since(at).as_secs_f64() / drain_every.as_secs_f64();
    (count - drained).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn an_address_is_refused_after_its_burst_of_failures_and_only_it() {
        let t0 = Instant::now();
        let mut attempts = FailedAttempts::new(3, Duration::from_secs(1));
        for _ in 0..2 {
            assert_eq!(attempts.wait(A, t0), None);
            attempts.failed(A, t0);
        }
        assert_eq!(attempts.wait(A, t0), None, "the third try is allowed");
        attempts.failed(A, t0);
        assert_eq!(attempts.wait(A, t0), Some(Duration::from_secs(1)));
        assert_eq!(attempts.wait(B, t0), None, "another address is not held");
    }

    #[test]
    fn failures_drain_so_that_a_held_address_may_try_again_once_per_drain() {
        let t0 = Instant::now();
        let mut attempts = FailedAttempts::new(2, Duration::from_secs(1));
        attempts.failed(A, t0);
        attempts.failed(A, t0);
        let later = t0 + Duration::from_millis(400);
        assert_eq!(attempts.wait(A, later), Some(Duration::from_millis(600)));
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(attempts.wait(A, t1), None);
        attempts.failed(A, t1);
        assert!(attempts.wait(A, t1).is_some(), "one try, then held again");
        let much_later = t1 + Duration::from_secs(60);
        assert_eq!(attempts.wait(A, much_later), None);
        attempts.failed(A, much_later);
        assert_eq!(
            attempts.wait(A, much_later),
            None,
            "the count drained to nothing, not below"
        );
    }

    #[test]
    fn the_memory_of_addresses_is_bounded() {
        let t0 = Instant::now();
        let mut attempts = FailedAttempts::new(1, Duration::from_secs(1));
        for i in 0..(MAX_CLIENTS as u32 + 10) {
            attempts.failed(IpAddr::V4(i.into()), t0);
        }
        assert!(attempts.clients.len() <= MAX_CLIENTS);
    }
}
