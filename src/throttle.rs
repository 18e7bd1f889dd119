//! Attempt counting per key in a fixed window, in this instance's memory (the per-address
//! sign-in limit; the limits that must hold across instances live in
//! `store::throttle`). The same discipline as there: `reserve` counts an attempt before
//! it is checked, under one lock, and `release` gives it back on success.

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

    /// Count an attempt for `key`. `Err(seconds)` to wait when the window's attempts
    /// are used up (the refused attempt is not counted).
    pub fn reserve(&self, key: &str, now: i64) -> Result<(), i64> {
        self.reserve_n(key, 1, now)
    }

    /// Count `n` units for `key` at once (a budget of bytes, say): refused, counting
    /// nothing, when they do not all fit in what is left of the window.
    pub fn reserve_n(&self, key: &str, n: u32, now: i64) -> Result<(), i64> {
        let mut entries = self.entries.lock();
        if entries.len() >= MAX_KEYS && !entries.contains_key(key) {
            let window = self.window;
            entries.retain(|_, (start, _)| now < *start + window);
        }
        let e = entries.entry(key.to_string()).or_insert((now, 0));
        if now >= e.0 + self.window {
            *e = (now, 0);
        }
        if e.1.saturating_add(n) > self.limit {
            return Err((e.0 + self.window - now).max(1));
        }
        e.1 += n;
        Ok(())
    }

    /// Give back an attempt that succeeded.
    pub fn release(&self, key: &str) {
        if let Some(e) = self.entries.lock().get_mut(key) {
            e.1 = e.1.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Throttle;

    #[test]
    fn reserves_up_to_the_limit_until_the_window_ends() {
        let t = Throttle::new(2, 60);
        assert!(t.reserve("u", 0).is_ok());
        assert!(t.reserve("u", 1).is_ok());
        assert_eq!(t.reserve("u", 10), Err(50));
        assert!(t.reserve("other", 10).is_ok());
        t.release("u");
        assert!(t.reserve("u", 10).is_ok());
        assert_eq!(t.reserve("u", 11), Err(49));
        assert!(t.reserve("u", 60).is_ok(), "a new window");
    }

    #[test]
    fn concurrent_reservations_never_exceed_the_limit() {
        let t = std::sync::Arc::new(Throttle::new(5, 900));
        let granted: usize = (0..50)
            .map(|_| {
                let t = t.clone();
                std::thread::spawn(move || t.reserve("k", 0).is_ok())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| usize::from(h.join().unwrap()))
            .sum();
        assert_eq!(granted, 5);
    }
}
