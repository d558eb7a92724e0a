//! Wall-clock text for the access log (`$time_local`, `$time_iso8601`, `$msec`), in UTC as in
//! ingress-nginx's image. The text of the current second is formatted once and shared, so a log
//! line costs no date math and no allocation for it.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;

/// One second's text forms.
#[derive(Debug, PartialEq, Eq)]
pub struct Second {
    /// Seconds since the Unix epoch.
    pub unix_seconds: u64,
    /// `10/Oct/2025:13:55:36 +0000`.
    pub local: String,
    /// `2025-10-10T13:55:36+00:00`.
    pub iso8601: String,
}

/// A moment: its second's text and the milliseconds within it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// The second.
    pub second: Arc<Second>,
    /// Milliseconds within the second.
    pub millis: u32,
}

/// Caches the text of the last second asked for.
#[derive(Debug, Default)]
pub struct Clock {
    current: ArcSwapOption<Second>,
}

impl Clock {
    /// The text forms of `at`.
    pub fn stamp(&self, at: SystemTime) -> Stamp {
        let since = at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let unix_seconds = since.as_secs();
        let millis = since.subsec_millis();
        let second = match self.current.load_full() {
            Some(second) if second.unix_seconds == unix_seconds => second,
            _ => {
                let second = Arc::new(format(unix_seconds));
                self.current.store(Some(second.clone()));
                second
            }
        };
        Stamp { second, millis }
    }
}

fn format(unix_seconds: u64) -> Second {
    let ts = i64::try_from(unix_seconds)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let utc = ts.to_zoned(jiff::tz::TimeZone::UTC);
    Second {
        unix_seconds,
        local: utc.strftime("%d/%b/%Y:%H:%M:%S +0000").to_string(),
        iso8601: utc.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_nginx() {
        let clock = Clock::default();
        let at = UNIX_EPOCH + Duration::from_millis(1_760_104_536_250);
        let stamp = clock.stamp(at);
        assert_eq!(stamp.second.local, "10/Oct/2025:13:55:36 +0000");
        assert_eq!(stamp.second.iso8601, "2025-10-10T13:55:36+00:00");
        assert_eq!(
            (stamp.second.unix_seconds, stamp.millis),
            (1_760_104_536, 250)
        );
        assert!(
            Arc::ptr_eq(&clock.stamp(at).second, &stamp.second),
            "cached"
        );
    }
}
