//! The wall clock, kept apart. Runs are timed by their `Clock` (virtual for the simulated lab);
//! the real date and time of a run are recorded here only, in `wall.jsonl` and in the
//! manifest's `wall_clock` section, which is what two runs of the same campaign and seed may
//! differ in.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The current UTC time as `2026-11-24T05:22:01Z`.
#[allow(clippy::disallowed_methods)] // the one place that reads the system time, on purpose
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_utc(secs)
}

/// Formats seconds since the UNIX epoch as an RFC 3339 UTC timestamp.
pub fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Appends `{experiment, started, finished}` wall times, one line per experiment.
#[derive(Debug)]
pub struct WallLog {
    path: PathBuf,
}

impl WallLog {
    pub fn new(dir: &Path) -> WallLog {
        WallLog {
            path: dir.join("wall.jsonl"),
        }
    }

    pub fn record(&self, what: &str, experiment: Option<u64>, started: &str) {
        let line = serde_json::json!({ "what": what, "experiment": experiment, "started": started, "finished": now_utc() });
        // Wall times are informative only; failing to write them must not stop a run.
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_formatting_matches_known_dates() {
        assert_eq!(super::format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::format_utc(1_795_410_121), "2026-11-23T05:02:01Z");
    }
}
