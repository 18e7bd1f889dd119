//! Counting failures per key (a username, a client address) in a fixed window, to slow
//! down password guessing. Per instance: with N instances an attacker gets N times the
//! budget, which is why the per-username limit is small.

use std::collections::HashMap;

use parking_lot::Mutex;

const MAX_KEYS: usize = 100_000;

pub struct Throttle {
    window: i64,
    limit: u32,
    entries: Mutex<HashMap<String, (i64, u32)>>,
}

impl Throttle {
    pub fn new(limit: u32, window: i64) -> Throttle {
        Throttle {
            window,
            limit,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds)` to wait when `key` has used up its failures.
    pub fn check(&self, key: &str, now: i64) -> Result<(), i64> {
        let entries = self.entries.lock();
        match entries.get(key) {
            Some((start, n)) if now < start + self.window && *n >= self.limit => {
                Err((start + self.window - now).max(1))
            }
            _ => Ok(()),
        }
    }

    pub fn fail(&self, key: &str, now: i64) {
        let mut entries = self.entries.lock();
        if entries.len() >= MAX_KEYS {
            let window = self.window;
            entries.retain(|_, (start, _)| now < *start + window);
        }
        let e = entries.entry(key.to_string()).or_insert((now, 0));
        if now >= e.0 + self.window {
            *e = (now, 0);
        }
        e.1 += 1;
    }

    pub fn reset(&self, key: &str) {
        self.entries.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::Throttle;

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let t = Throttle::new(2, 60);
        t.fail("u", 0);
        assert!(t.check("u", 1).is_ok());
        t.fail("u", 1);
        assert_eq!(t.check("u", 10), Err(50));
        assert!(t.check("u", 60).is_ok());
        assert!(t.check("other", 10).is_ok());
        t.reset("u");
        assert!(t.check("u", 10).is_ok());
    }
}
