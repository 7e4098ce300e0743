//! The journal: every event of a run, appended to `journal.jsonl` before the lab is told to
//! act, so that a crash loses nothing already done. On hardware every record is synced to disk
//! as it is written; on the simulated lab records are handed to the OS before each actuation
//! (they survive a killed process) and synced to disk with each finished experiment.
//!
//! Invariants: records are numbered from 0 without gaps; `t` is the run clock (virtual for the
//! simulated lab) in seconds, never the wall clock, so the same campaign and seed journal the same
//! bytes; a record is complete on its line or absent (a torn last line, from a kill mid-write,
//! is ignored when reading and cut off before appending again).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A command sent to a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    SetRate {
        rate: f64,
    },
    Stop,
    Refill {
        volume: f64,
        rate: f64,
    },
    SetSetpoint {
        kelvin: f64,
    },
    SetPosition {
        position: u16,
    },
    Acquire {
        illumination: String,
        integration: f64,
        averages: u32,
    },
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
    },
    /// Dark and reference spectra taken with solvent in the cell, before any experiment.
    Calibrated { files: Vec<String> },
    /// The optimizer (or the design) proposed an experiment.
    Suggested {
        experiment: u64,
        batch: u64,
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
    /// A wait, and why.
    Waited {
        experiment: u64,
        why: String,
        seconds: f64,
    },
    /// A spectrum saved to the bundle.
    Acquired {
        experiment: u64,
        channel: String,
        replicate: u32,
        file: String,
    },
    /// The experiment's results.
    Measured {
        experiment: u64,
        status: String,
        reason: Option<String>,
        proxies: BTreeMap<String, Option<f64>>,
        readings: BTreeMap<String, f64>,
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

impl Journal {
    /// Creates a new, empty journal (fails if one exists: runs never overwrite).
    pub fn create(path: &Path, sync_each: bool) -> Result<Journal, JournalError> {
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(path)
            .map_err(io(path))?;
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

    /// Opens an existing journal to append to it, cutting off a torn last line.
    pub fn reopen(path: &Path, sync_each: bool) -> Result<(Journal, Vec<Record>), JournalError> {
        let (records, good_len) = read_with_length(path)?;
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io(path))?;
        file.set_len(good_len).map_err(io(path))?;
        drop(file);
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io(path))?;
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

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn next_seq(&self) -> u64 {
        self.next
    }
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
