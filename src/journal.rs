//! The journal: every event of a run, appended to `journal.jsonl` before the lab is told to
//! act, so that a crash loses nothing already done. On hardware every record is synced to disk
//! as it is written; on the simulated lab records are handed to the OS before each actuation
//! (they survive a killed process) and synced to disk with each finished experiment.
//!
//! Invariants: records are numbered from 0 without gaps; `t` is the run clock (virtual for the
//! simulated lab) in seconds, never the wall clock, so the same campaign and seed journal the same
//! bytes; a record is complete on its line or absent (a torn last line, from a kill mid-write,
//! is ignored when reading and cut off before appending again); the first record of every
//! journal is `started` (it is written before anything else of the bundle, which appears at its
//! path only once its `started` record and inputs are stored, so a bundle without it was written
//! by an earlier qdx and never ran); one process at a time writes a journal (an exclusive lock on the file, held
//! while the [`Journal`] lives).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::validate::campaign::ChannelKind;

/// A command sent to a device: the plan's own type, recorded as it was sent.
pub use crate::plan::Command;

/// How an experiment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Measured, and every proxy an objective needs was computed.
    Ok,
    /// Nothing usable was measured (a proxy an objective needs could not be computed).
    Failed,
    /// Measured, but a `require` condition is not met: data, and a failure to the optimizer.
    Infeasible,
    /// A fault policy skipped it.
    Skipped,
    /// It could not be planned (a setting outside its limits at this point).
    Refused,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Infeasible => "infeasible",
            Status::Skipped => "skipped",
            Status::Refused => "refused",
        }
    }

    /// Everything but `ok` is a failure to the optimizer and cannot meet a stop condition.
    pub fn is_ok(self) -> bool {
        self == Status::Ok
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a probe point read in one experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointMeasured {
    /// The residence time at the point, s: the point's coil volume over the flow through the
    /// coil, at the pump rates in effect when it was read.
    pub residence: f64,
    pub proxies: BTreeMap<String, Option<f64>>,
}

/// What one reading of a transient ramp read, and the conditions it maps to (computed from
/// the journaled rate commands and acquisition times, `crate::transient`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TickMeasured {
    /// Which reading of the ramp, from 0.
    pub tick: u32,
    /// The middle of its acquisitions, s on the journal's time line.
    pub acquired: f64,
    /// When the fluid element it read entered the mixer, s.
    pub entry: f64,
    /// Its residence time from the mixer to the cell, s (under axial dispersion, the mean
    /// over the fluid in the cell).
    pub residence: f64,
    /// Under axial dispersion, the standard deviation of the residence times of the fluid in
    /// the cell, s; absent (0) under plug flow.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub spread: f64,
    /// The ramped variable's equivalent steady-state value, SI: the value at which a steady
    /// flow gives this residence time.
    pub value: f64,
    pub proxies: BTreeMap<String, Option<f64>>,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// One droplet of a droplets experiment as the journal tells it (`crate::droplet`), and what
/// its spectrum gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DropletMeasured {
    /// Its place in the train, from 0.
    pub droplet: u32,
    /// Its volume as pumped, m³.
    pub volume: f64,
    /// When its middle left the mixer and reached the cell, s on the journal's time line.
    pub entry: f64,
    pub arrival: f64,
    /// From the mixer to the cell, s (a stop included).
    pub residence: f64,
    /// The reading taken as its spectrum; absent when no reading detected it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tick: Option<u32>,
    /// Readings above the threshold in its run.
    pub readings: u32,
    pub proxies: BTreeMap<String, Option<f64>>,
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Started {
        qdx_version: String,
        language_version: u32,
        campaign: String,
        seed: u64,
        lab: String,
        strategy: String,
        /// SHA-256 of every input file the bundle stores (`campaign/…`, `lab/…`), taken before
        /// they are written: `resume` refuses a bundle whose stored campaign is not the one
        /// that started. Empty in journals written before it was recorded.
        #[serde(default)]
        inputs: BTreeMap<String, String>,
        /// The lab's instruments were emulators (`qdx run --emulate`): a dry run of the real
        /// drivers, not a synthesis. Absent (false) in every other journal.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        emulated: bool,
    },
    /// Dark and reference spectra taken with solvent in the cell, before any experiment (and
    /// again every `blank { every … }`), and the reference dyes as measured in the cell (or, on
    /// the simulated lab without a `reference_dye` line, as the simulator computes them).
    Calibrated {
        /// The parallel line whose cell was calibrated (`lines a, b`); absent without lines.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        line: Option<String>,
        files: Vec<String>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        dyes: BTreeMap<String, qdx_spectra::DyeCalibration>,
    },
    /// The optimizer (or the design) proposed an experiment.
    Suggested {
        experiment: u64,
        batch: u64,
        /// The parallel line (`lines a, b`) it runs on; every device command until the next
        /// suggestion is that line's. Absent without lines.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        line: Option<String>,
        values: Vec<f64>,
        explain: serde_json::Value,
    },
    /// The planner's operations for the experiment.
    Planned {
        experiment: u64,
        estimated_duration: f64,
        notes: Vec<String>,
    },
    /// A command about to be sent.
    Command {
        experiment: Option<u64>,
        device: String,
        #[serde(flatten)]
        command: Command,
    },
    /// A wait, and why (`experiment` absent for the calibration's).
    Waited {
        experiment: Option<u64>,
        why: String,
        seconds: f64,
    },
    /// A spectrum saved to the bundle.
    Acquired {
        experiment: u64,
        channel: ChannelKind,
        replicate: u32,
        file: String,
        /// The probe point it was taken at, from 0 (absent without a `probe`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        point: Option<u32>,
        /// The reading of a transient ramp it belongs to, from 0 (absent without a
        /// `transient`). The record's time is when the acquisition ended.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tick: Option<u32>,
    },
    /// The experiment's results.
    Measured {
        experiment: u64,
        status: Status,
        reason: Option<String>,
        proxies: BTreeMap<String, Option<f64>>,
        readings: BTreeMap<String, f64>,
        /// Each device setting the campaign derives (`p_cd.rate`), SI, as sent to the lab and
        /// in effect when the experiment was measured (after rounding to what the device can
        /// run); a setting nothing was sent for is absent. Absent in journals written before
        /// it was recorded, and for virtual labs, which have no devices.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        settings: BTreeMap<String, f64>,
        /// The lab recorded this experiment as failed (a table's failed synthesis): a result,
        /// not a fault; it never counts toward the repeated-failure stop. Absent when false.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        recorded: bool,
        /// With a `probe`: what each point read, in the probe's order (the last point's
        /// proxies are also `proxies`, which the objectives read). Absent without one.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        points: Vec<PointMeasured>,
        /// With a `transient` measurement: each reading of the ramp and the conditions it maps
        /// to, in order (the last reading's proxies are also `proxies`). Absent without one.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ticks: Vec<TickMeasured>,
        /// With a `droplets` measurement: each droplet the journal says was made, in train
        /// order, with its reading and proxies (`proxies` are their mean over the detected
        /// droplets). Absent without one.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        droplets: Vec<DropletMeasured>,
    },
    /// A device fault and what the policy did.
    Fault {
        experiment: Option<u64>,
        device: String,
        fault: String,
        message: String,
        action: String,
    },
    /// The lab was put in its safe state.
    SafeState {
        reason: String,
        failures: Vec<String>,
    },
    /// The run stopped: a stop condition, a budget, an abort, an interruption.
    Stopped { reason: String },
    /// A resumed run continues from here; records `from..to` of an unfinished experiment are
    /// void (its commands were sent but it never completed; it runs again).
    Resumed { void_from: u64, void_to: u64 },
    /// The run is over and the bundle written.
    Finished { experiments: u64 },
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    /// Run clock, s.
    pub t: f64,
    #[serde(flatten)]
    pub event: Event,
}

/// Appends records to a journal file.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
    next: u64,
    /// Sync to disk on every append (hardware) or only on [`Journal::sync`] calls.
    sync_each: bool,
    dirty: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "journal {path} is in use by another qdx process (a run or a resume of this bundle); \
         wait for it to end"
    )]
    Locked { path: String },
    #[error("journal {path}, line {line}: {message}")]
    Corrupt {
        path: String,
        line: usize,
        message: String,
    },
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Takes the journal's exclusive lock, or says who holds it.
///
/// An advisory lock on the journal itself (`flock` on Unix, `LockFileEx` on Windows, through
/// `std::fs::File::try_lock`) rather than a lock file beside it: the kernel drops it when the
/// process ends, however it ends (a kill, a crash), so there is no stale lock to detect or
/// clean up and no extra file in the bundle; and the journal is what a second writer would
/// corrupt.
fn lock(file: &File, path: &Path) -> Result<(), JournalError> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(JournalError::Locked {
            path: path.display().to_string(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(io(path)(e)),
    }
}

impl Journal {
    /// Creates a new, empty journal (fails if one exists: runs never overwrite) and holds its
    /// lock.
    pub fn create(path: &Path, sync_each: bool) -> Result<Journal, JournalError> {
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(path)
            .map_err(io(path))?;
        lock(&file, path)?;
        Ok(Journal {
            file,
            path: path.to_path_buf(),
            next: 0,
            sync_each,
            dirty: false,
        })
    }

    /// A journal over an already open file, for tests that make writes fail (`/dev/full`).
    #[cfg(test)]
    pub(crate) fn on_file(file: File, path: &Path) -> Journal {
        Journal {
            file,
            path: path.to_path_buf(),
            next: 0,
            sync_each: false,
            dirty: false,
        }
    }

    /// Opens an existing journal to append to it, holding its lock, and cuts off a torn last
    /// line (only once the lock is held: the line may be another process's write in flight).
    pub fn reopen(path: &Path, sync_each: bool) -> Result<(Journal, Vec<Record>), JournalError> {
        let mut file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io(path))?;
        lock(&file, path)?;
        let (records, good_len) = read_with_length(path)?;
        file.set_len(good_len).map_err(io(path))?;
        file.seek(SeekFrom::Start(good_len)).map_err(io(path))?;
        let next = records.last().map_or(0, |r| r.seq + 1);
        Ok((
            Journal {
                file,
                path: path.to_path_buf(),
                next,
                sync_each,
                dirty: false,
            },
            records,
        ))
    }

    /// Appends one event at run time `t`.
    pub fn append(&mut self, t: f64, event: Event) -> Result<Record, JournalError> {
        let record = Record {
            seq: self.next,
            t,
            event,
        };
        let mut line = serde_json::to_string(&record).map_err(|e| JournalError::Io {
            path: self.path.display().to_string(),
            source: std::io::Error::other(e),
        })?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .map_err(io(&self.path))?;
        self.next += 1;
        self.dirty = true;
        if self.sync_each {
            self.sync()?;
        }
        Ok(record)
    }

    /// Makes everything appended so far durable.
    pub fn sync(&mut self) -> Result<(), JournalError> {
        if self.dirty {
            self.file.sync_data().map_err(io(&self.path))?;
            self.dirty = false;
        }
        Ok(())
    }

    /// The journal's folder was renamed (a new bundle moved into place): its file is now at
    /// `path` (the open file and its lock are unchanged).
    pub fn moved_to(&mut self, path: &Path) {
        self.path = path.to_path_buf();
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn next_seq(&self) -> u64 {
        self.next
    }
}

/// The records that stand: without the records a resume declared void (an experiment cut
/// short, the interrupted run's safe state and stop) and without the `resumed` markers. A
/// resumed run's live records are those of the same run never interrupted; the bundle's
/// derived files and `qdx replay` work from them.
pub fn live(records: &[Record]) -> Vec<Record> {
    let void: Vec<(u64, u64)> = records
        .iter()
        .filter_map(|r| match r.event {
            Event::Resumed { void_from, void_to } => Some((void_from, void_to)),
            _ => None,
        })
        .collect();
    records
        .iter()
        .filter(|r| {
            !matches!(r.event, Event::Resumed { .. })
                && !void.iter().any(|(from, to)| (*from..*to).contains(&r.seq))
        })
        .cloned()
        .collect()
}

/// Reads every complete record of a journal.
pub fn read(path: &Path) -> Result<Vec<Record>, JournalError> {
    read_with_length(path).map(|(r, _)| r)
}

fn read_with_length(path: &Path) -> Result<(Vec<Record>, u64), JournalError> {
    let file = File::open(path).map_err(io(path))?;
    let mut reader = BufReader::new(file);
    let mut records = Vec::new();
    let mut good: u64 = 0;
    let mut line = String::new();
    let mut number = 0;
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(io(path))?;
        if n == 0 {
            break;
        }
        number += 1;
        if !line.ends_with('\n') {
            // A torn last line: the process died while writing it.
            break;
        }
        let record: Record =
            serde_json::from_str(line.trim_end()).map_err(|e| JournalError::Corrupt {
                path: path.display().to_string(),
                line: number,
                message: e.to_string(),
            })?;
        if record.seq != records.len() as u64 {
            return Err(JournalError::Corrupt {
                path: path.display().to_string(),
                line: number,
                message: format!("record {} where {} was expected", record.seq, records.len()),
            });
        }
        records.push(record);
        good += n as u64;
    }
    Ok((records, good))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64, event: Event) -> Record {
        Record { seq, t: 0.0, event }
    }

    #[test]
    fn live_records_leave_out_what_a_resume_voided() {
        let stopped = |reason: &str| Event::Stopped {
            reason: reason.into(),
        };
        let records = vec![
            record(0, stopped("a")),
            record(1, stopped("void")),
            record(2, stopped("void")),
            record(
                3,
                Event::Resumed {
                    void_from: 1,
                    void_to: 3,
                },
            ),
            record(4, stopped("b")),
        ];
        let live: Vec<u64> = live(&records).iter().map(|r| r.seq).collect();
        assert_eq!(live, vec![0, 4]);
    }

    #[test]
    fn a_journal_has_one_writer_at_a_time() {
        let dir = tempfile::tempdir().expect("temp");
        let path = dir.path().join("journal.jsonl");
        let mut first = Journal::create(&path, false).expect("create");
        first
            .append(0.0, Event::Stopped { reason: "x".into() })
            .expect("append");
        assert!(matches!(
            Journal::reopen(&path, false),
            Err(JournalError::Locked { .. })
        ));
        drop(first);
        let (_, records) = Journal::reopen(&path, false).expect("free again");
        assert_eq!(records.len(), 1);
    }
}
