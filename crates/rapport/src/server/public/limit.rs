//! A request limit per client address for the public pages: a fixed window per address, so a
//! script trying tokens or flooding answers is slowed to a trickle while a person never notices.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Addresses kept before the ones whose window has passed are forgotten.
const PRUNE_ABOVE: usize = 10_000;

/// At most `max` requests per address in each `window`.
pub struct AddressLimit {
    max: u32,
    window: Duration,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl AddressLimit {
    /// A limit of `max` requests per `window`.
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            max,
            window,
            seen: Mutex::default(),
        }
    }

    /// Counts a request from `address` at `now`; `false` when it is over the limit.
    pub fn allow(&self, address: IpAddr, now: Instant) -> bool {
        let mut seen = self.seen.lock().expect("not poisoned");
        if seen.len() > PRUNE_ABOVE {
            seen.retain(|_, (since, _)| now.duration_since(*since) < self.window);
        }
        let entry = seen.entry(address).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_over_the_limit_waits_for_the_next_window_and_others_go_on() {
        let limit = AddressLimit::new(2, Duration::from_secs(60));
        let (a, b) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let start = Instant::now();
        assert!(limit.allow(a, start) && limit.allow(a, start));
        assert!(!limit.allow(a, start + Duration::from_secs(59)));
        assert!(limit.allow(b, start), "another address is not held back");
        assert!(limit.allow(a, start + Duration::from_secs(61)));
    }
}
