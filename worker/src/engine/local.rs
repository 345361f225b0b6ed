//! The worker's local queue: every entry it holds, the jobs waiting for a
//! slot (by priority, oldest first, with the starvation rule of SPEC.md
//! section 7), and the run counters.

use std::collections::HashMap;
use std::collections::HashSet;
use std::collections::VecDeque;
use std::time::Duration;
use std::time::Instant;

use ardiq_spec::limits::MAX_BATCH;
use ardiq_spec::Job;
use ardiq_spec::Progress;
use ardiq_spec::Value;
use ardiq_spec::PRIORITY_LEVELS;

/// A job waiting this long in the local queue starts before fresher ones.
pub(super) const STARVATION_MS: u128 = 10_000;

/// The most an automatic prefetch grows to.
pub const AUTO_PREFETCH_MAX: usize = 200;

/// An automatic prefetch holds about as many jobs as the slots start in this
/// long, at the recent mean run time, µs.
const AUTO_PREFETCH_HORIZON_US: f64 = 10_000.0;

/// A fetched entry this worker owns.
#[derive(Debug)]
pub(super) struct Held {
    pub(super) job: Job,
    pub(super) entry_id: String,
    pub(super) priority: u32,
    pub(super) fetched: Instant,
    /// When this worker last knew the entry to be its own: the reply of the
    /// read or claim that gave it the entry (Redis delivered it just
    /// before), then the start of every renewal that returned it.
    pub(super) confirmed: Instant,
    pub(super) started_ms: i64,
    /// When the run started, for its duration.
    pub(super) started_at: Option<Instant>,
    pub(super) running: bool,
    pub(super) cancel_sent: bool,
    pub(super) values: Option<Arguments>,
    /// The run's last progress report (SPEC.md section 16).
    pub(super) progress: Option<Progress>,
}

/// Positional and keyword arguments of a job.
pub(super) type Arguments = (Vec<Value>, Vec<(String, Value)>);

#[derive(Debug, Default)]
pub(super) struct Local {
    pub(super) held: HashMap<u64, Held>,
    /// `(priority, entry id)` of every entry this worker holds or is still
    /// writing the outcome of (entry ids are unique per stream only): an
    /// entry leaves when its write is done, so no read or claim takes up
    /// again an entry whose write is under way.
    pub(super) by_entry: HashSet<(u32, String)>,
    pub(super) waiting: [VecDeque<u64>; PRIORITY_LEVELS as usize],
    pub(super) running: usize,
    pub(super) next_handle: u64,
    pub(super) stopping: bool,
    pub(super) completed: u64,
    pub(super) failed: u64,
    pub(super) started: u64,
    pub(super) retried: u64,
    /// Handles whose progress changed since it was last stored.
    pub(super) progress_dirty: HashSet<u64>,
    /// Moving mean of recent runs' durations (start handed to Python to
    /// outcome reported), µs; 0 before the first.
    pub(super) mean_run_us: f64,
}

impl Local {
    /// Takes a held job out, its entry still known (`by_entry`) until
    /// [`Local::forget`]: its write comes next, or it was lost.
    pub(super) fn remove(&mut self, handle: u64) -> Option<Held> {
        let held = self.held.remove(&handle)?;
        if held.running {
            self.running -= 1;
        } else {
            self.waiting[held.priority as usize].retain(|&h| h != handle);
        }
        Some(held)
    }

    /// What takes room out of a capacity `cap` for more entries: the held
    /// entries, and those whose outcomes are still being written beyond the
    /// larger of `cap` and a full write batch ([`MAX_BATCH`]). So while
    /// Redis makes the writes wait (it is full, or away), the worker takes
    /// up no more jobs whose outcomes it could not record either, instead of
    /// running the queue with every result kept in its memory; the writes
    /// a healthy worker has in flight (short jobs end faster than one write
    /// batch is stored) cost no room.
    pub(super) fn occupying(&self, cap: usize) -> usize {
        let writing = self.by_entry.len().saturating_sub(self.held.len());
        self.held.len() + writing.saturating_sub(cap.max(MAX_BATCH))
    }

    /// The entry is no longer this worker's to write: its write is done, or
    /// another worker owns it.
    pub(super) fn forget(&mut self, priority: u32, entry_id: String) {
        self.by_entry.remove(&(priority, entry_id));
    }

    /// Takes a finished run's duration into the mean run time.
    pub(super) fn note_run(&mut self, ran: Duration) {
        let us = ran.as_secs_f64() * 1e6;
        self.mean_run_us = if self.mean_run_us == 0.0 {
            us
        } else {
            self.mean_run_us * 0.9 + us * 0.1
        };
    }

    /// The prefetch now: as many jobs as the slots start within about
    /// 10 ms at the mean run time, from `prefetch` up to `max` (equal for a
    /// prefetch the caller chose). Short jobs then come in big batches, so
    /// each fetch and finish call's fixed cost is shared by many jobs, while
    /// a worker of long jobs holds no more than before (which would keep
    /// them from other workers).
    pub(super) fn prefetch(&self, concurrency: usize, prefetch: usize, max: usize) -> usize {
        if self.mean_run_us <= 0.0 || prefetch >= max {
            return prefetch;
        }
        let fits = concurrency as f64 * AUTO_PREFETCH_HORIZON_US / self.mean_run_us;
        // Saturating float-to-int conversion; the clamp bounds it anyway.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let fits = fits as usize;
        fits.clamp(prefetch, max)
    }

    /// The next waiting job: the longest-waiting one if it has starved,
    /// else the highest priority, first fetched first.
    pub(super) fn next_waiting(&mut self) -> Option<u64> {
        let mut starved: Option<(usize, Instant)> = None;
        for (level, queue) in self.waiting.iter().enumerate() {
            if let Some(held) = queue.front().and_then(|h| self.held.get(h)) {
                if held.fetched.elapsed().as_millis() > STARVATION_MS
                    && starved.is_none_or(|(_, at)| held.fetched < at)
                {
                    starved = Some((level, held.fetched));
                }
            }
        }
        if let Some((level, _)) = starved {
            return self.waiting[level].pop_front();
        }
        self.waiting.iter_mut().rev().find_map(VecDeque::pop_front)
    }
}
