//! Login limits. Wrong passwords are counted per client address and per account from each
//! address, never per account alone: whoever knows a user's e-mail address must not be able to
//! lock that user out from everywhere. Guessing one account's password from one address locks that
//! pair for a quarter of an hour; many failures from one address, whatever the accounts, lock the
//! address for a minute.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures within `window` that lock a key, and for how long after the last of them.
struct Rule {
    max: u32,
    window: Duration,
    lock: Duration,
}

/// Keys kept before the ones whose window and lock have passed are forgotten.
const PRUNE_ABOVE: usize = 10_000;

/// Failures counted for one key since `since`; the last at `last`.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    since: Instant,
    last: Instant,
}

impl Failures {
    /// How much longer the key is locked, if it is.
    fn locked(&self, rule: &Rule, now: Instant) -> Option<Duration> {
        (self.count >= rule.max)
            .then(|| (self.last + rule.lock).checked_duration_since(now))
            .flatten()
            .filter(|left| !left.is_zero())
    }

    /// Whether the entry still matters: its window is open or its lock holds.
    fn current(&self, rule: &Rule, now: Instant) -> bool {
        now < self.since + rule.window || self.locked(rule, now).is_some()
    }
}

/// Failures per key under one rule.
struct Counter<K> {
    rule: Rule,
    keys: Mutex<HashMap<K, Failures>>,
}

impl<K: Eq + Hash> Counter<K> {
    fn new(rule: Rule) -> Self {
        Self {
            rule,
            keys: Mutex::default(),
        }
    }

    fn locked(&self, key: &K, now: Instant) -> Option<Duration> {
        let keys = self.keys.lock().expect("not poisoned");
        keys.get(key).and_then(|f| f.locked(&self.rule, now))
    }

    fn fail(&self, key: K, now: Instant) {
        let mut keys = self.keys.lock().expect("not poisoned");
        if keys.len() > PRUNE_ABOVE {
            keys.retain(|_, f| f.current(&self.rule, now));
        }
        let fresh = Failures {
            count: 0,
            since: now,
            last: now,
        };
        let failures = keys.entry(key).or_insert(fresh);
        if !failures.current(&self.rule, now) {
            *failures = fresh;
        }
        failures.count += 1;
        failures.last = now;
    }

    fn forgive(&self, key: &K, forget: bool) {
        let mut keys = self.keys.lock().expect("not poisoned");
        if forget {
            keys.remove(key);
        } else if let Some(failures) = keys.get_mut(key) {
            failures.count = failures.count.saturating_sub(1);
        }
    }
}

/// Wrong passwords counted per client address and per (account, address).
pub struct LoginLimits {
    by_address: Counter<IpAddr>,
    by_account: Counter<(String, IpAddr)>,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self::from_settings(&crate::config::ServerSettings::default())
    }
}

impl LoginLimits {
    /// Limits as the server's settings give them. The defaults: 30 failures a minute from one
    /// address is enough for people sharing an office's address and few for a password sprayer;
    /// 5 for one account from one address in a quarter of an hour let a few typos pass, not
    /// guessing.
    pub fn from_settings(settings: &crate::config::ServerSettings) -> Self {
        let address_lock = Duration::from_secs(u64::from(settings.login_address_lock_seconds));
        let account_lock = Duration::from_secs(u64::from(settings.login_account_lock_minutes) * 60);
        Self {
            by_address: Counter::new(Rule {
                max: settings.login_failures_per_address,
                window: address_lock,
                lock: address_lock,
            }),
            by_account: Counter::new(Rule {
                max: settings.login_failures_per_account,
                window: account_lock,
                lock: account_lock,
            }),
        }
    }
}

impl LoginLimits {
    /// Starts an attempt to log in to `email` from `address`: `Err(seconds to wait)` when the
    /// address, or this account from this address, is locked. An attempt counts as a failure
    /// until `forgive` says otherwise, so attempts sent at once cannot all slip in before the
    /// first wrong password is counted.
    pub fn begin(&self, address: IpAddr, email: &str, now: Instant) -> Result<(), u64> {
        let account = (account(email), address);
        let locked = [
            self.by_address.locked(&address, now),
            self.by_account.locked(&account, now),
        ];
        if let Some(wait) = locked.into_iter().flatten().max() {
            return Err(wait.as_secs() + 1);
        }
        self.by_address.fail(address, now);
        self.by_account.fail(account, now);
        Ok(())
    }

    /// The attempt begun was no wrong password (it logged in, or the server failed): it does not
    /// count, and the account's earlier failures from this address are forgotten.
    pub fn forgive(&self, address: IpAddr, email: &str) {
        self.by_address.forgive(&address, false);
        self.by_account.forgive(&(account(email), address), true);
    }
}

/// Accounts are named by e-mail address, compared as the store compares them.
fn account(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));
    /// The default failures allowed for one account from one address, and from one address.
    const PER_ACCOUNT: u32 = 5;
    const PER_ADDRESS: u32 = 30;
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2));

    #[test]
    fn five_wrong_passwords_lock_the_account_from_that_address_only() {
        let (limits, now) = (LoginLimits::default(), Instant::now());
        for _ in 0..PER_ACCOUNT {
            assert!(limits.begin(A, "x@example.com", now).is_ok());
        }
        assert!(limits.begin(A, " X@example.com", now).is_err());
        assert!(limits.begin(B, "x@example.com", now).is_ok(), "another address");
        assert!(limits.begin(A, "y@example.com", now).is_ok(), "another account");
    }

    #[test]
    fn an_account_locked_from_an_address_stays_locked_for_a_quarter_of_an_hour() {
        let (limits, now) = (LoginLimits::default(), Instant::now());
        for _ in 0..PER_ACCOUNT {
            limits.begin(A, "x@example.com", now).unwrap();
        }
        let later = now + Duration::from_secs(14 * 60);
        assert_eq!(limits.begin(A, "x@example.com", later), Err(61));
        let after = now + Duration::from_secs(15 * 60 + 1);
        assert!(limits.begin(A, "x@example.com", after).is_ok());
    }

    #[test]
    fn thirty_failures_from_one_address_lock_the_address_for_a_minute() {
        let (limits, now) = (LoginLimits::default(), Instant::now());
        for n in 0..PER_ADDRESS {
            limits.begin(A, &format!("user{n}@example.com"), now).unwrap();
        }
        assert!(limits.begin(A, "anyone@example.com", now).is_err());
        assert!(limits.begin(B, "anyone@example.com", now).is_ok());
        let later = now + Duration::from_secs(61);
        assert!(limits.begin(A, "anyone@example.com", later).is_ok());
    }

    #[test]
    fn successful_logins_are_not_counted() {
        let (limits, now) = (LoginLimits::default(), Instant::now());
        for _ in 0..100 {
            limits.begin(A, "x@example.com", now).unwrap();
            limits.forgive(A, "x@example.com");
        }
        for _ in 0..PER_ACCOUNT - 1 {
            limits.begin(A, "x@example.com", now).unwrap();
        }
        limits.begin(A, "x@example.com", now).unwrap();
        limits.forgive(A, "x@example.com");
        assert!(
            limits.begin(A, "x@example.com", now).is_ok(),
            "a login forgives the typos before it"
        );
    }

    #[test]
    fn failures_older_than_the_window_are_forgotten() {
        let (limits, now) = (LoginLimits::default(), Instant::now());
        for _ in 0..PER_ACCOUNT - 1 {
            limits.begin(A, "x@example.com", now).unwrap();
        }
        let later = now + Duration::from_secs(15 * 60);
        for _ in 0..PER_ACCOUNT - 1 {
            limits.begin(A, "x@example.com", later).unwrap();
        }
        assert!(limits.begin(A, "x@example.com", later).is_ok());
    }
}
