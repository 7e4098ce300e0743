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
///
/// Each line goes to the file in one write (`O_APPEND`): a kill leaves the file with whole
/// lines, or with one torn last line, which [`WallLog::open`] cuts off before a resumed run
/// appends again (as the journal does).
#[derive(Debug)]
pub struct WallLog {
    path: PathBuf,
}

impl WallLog {
    /// The wall log of the bundle in `dir`, with a torn last line (a kill mid-write) cut off.
    /// Called with the bundle's journal lock held: no other process writes the file.
    pub fn open(dir: &Path) -> WallLog {
        let path = dir.join("wall.jsonl");
        // Wall times are informative only: a log that cannot be repaired is left as it is.
        let _ = cut_torn_line(&path);
        WallLog { path }
    }

    pub fn record(&self, what: &str, experiment: Option<u64>, started: &str) {
        let mut line = serde_json::json!({ "what": what, "experiment": experiment, "started": started, "finished": now_utc() }).to_string();
        line.push('\n');
        // Wall times are informative only; failing to write them must not stop a run.
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
        {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

/// Truncates a file after its last newline (a file without one is emptied).
fn cut_torn_line(path: &Path) -> std::io::Result<()> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |k| k + 1);
    if whole < bytes.len() {
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)?
            .set_len(whole as u64)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_torn_last_line_is_cut_off_before_appending() {
        let dir = tempfile::tempdir().expect("temp");
        let path = dir.path().join("wall.jsonl");
        std::fs::write(&path, "{\"what\":\"experiment\"}\n{\"what\":\"exp").expect("write");
        let log = super::WallLog::open(dir.path());
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "{\"what\":\"experiment\"}\n"
        );
        log.record("experiment", Some(1), "2026-01-01T00:00:00Z");
        let text = std::fs::read_to_string(&path).expect("read");
        for line in text.lines() {
            let _: serde_json::Value = serde_json::from_str(line).expect("a whole line");
        }
        assert_eq!(text.lines().count(), 2);
    }

    #[test]
    fn utc_formatting_matches_known_dates() {
        assert_eq!(super::format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::format_utc(1_795_410_121), "2026-11-23T05:02:01Z");
    }
}
