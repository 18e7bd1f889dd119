//! Times as people read them: "30 Nov 2026, 06:29 UTC" with a relative hint ("3 days
//! ago", "in 29 days"), and the exact RFC 3339 value for `<time datetime>`. The date is
//! formatted by the `time` crate; the hint is a few lines of our own wording (a crate
//! for it would bring more than these lines).

use time::OffsetDateTime;
use time::macros::format_description;

use crate::clock::rfc3339;

pub struct When {
    /// RFC 3339, for the `datetime` attribute.
    pub iso: String,
    /// "30 Nov 2026, 06:29 UTC".
    pub text: String,
    /// "3 days ago", "in 29 days", "just now".
    pub hint: String,
}

pub fn when(t: i64, now: i64) -> When {
    let text = OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(format_description!(
                "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| rfc3339(t));
    When {
        iso: rfc3339(t),
        text,
        hint: relative(t, now),
    }
}

fn relative(t: i64, now: i64) -> String {
    let d = t.saturating_sub(now);
    let secs = d.unsigned_abs();
    if secs < 60 {
        return "just now".into();
    }
    let (n, unit) = match secs {
        s if s < 3600 => (s / 60, "minute"),
        s if s < 86_400 => (s / 3600, "hour"),
        s if s < 86_400 * 60 => (s / 86_400, "day"),
        s if s < 86_400 * 730 => (s / (86_400 * 30), "month"),
        s => (s / (86_400 * 365), "year"),
    };
    let plural = if n == 1 { "" } else { "s" };
    if d < 0 {
        format!("{n} {unit}{plural} ago")
    } else {
        format!("in {n} {unit}{plural}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_people_read_them() {
        let t = 1_796_020_193; // 2026-11-30T06:29:53Z
        let w = when(t, t + 3 * 86_400 + 5);
        assert_eq!(w.text, "30 Nov 2026, 06:29 UTC");
        assert_eq!(w.iso, "2026-11-30T06:29:53Z");
        assert_eq!(w.hint, "3 days ago");
        assert_eq!(when(t, t - 29 * 86_400).hint, "in 29 days");
        assert_eq!(when(t, t - 3600).hint, "in 1 hour");
        assert_eq!(when(t, t + 10).hint, "just now");
        assert_eq!(when(t, t + 400 * 86_400).hint, "13 months ago");
    }
}
