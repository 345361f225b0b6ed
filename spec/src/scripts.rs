//! The Lua scripts of `spec/scripts/`, embedded byte for byte.

/// `enqueue.lua`: enqueue a batch with id dedup.
pub const ENQUEUE: &str = include_str!("../scripts/enqueue.lua");
/// `status.lua`: read a job's state and result.
pub const STATUS: &str = include_str!("../scripts/status.lua");
/// `abort.lua`: abort a job.
pub const ABORT: &str = include_str!("../scripts/abort.lua");
/// `fetch.lua`: read new entries level by level, highest priority first.
pub const FETCH: &str = include_str!("../scripts/fetch.lua");
/// `promote.lua`: move due delayed jobs into their streams.
pub const PROMOTE: &str = include_str!("../scripts/promote.lua");
/// `finish.lua`: store terminal statuses, ack and delete entries.
pub const FINISH: &str = include_str!("../scripts/finish.lua");
/// `retry.lua`: schedule the next attempt of a failed run.
pub const RETRY: &str = include_str!("../scripts/retry.lua");
/// `dead_letter.lua`: move an entry to the dead-letter stream.
pub const DEAD_LETTER: &str = include_str!("../scripts/dead_letter.lua");
/// `renew.lua`: renew ownership of in-flight entries.
pub const RENEW: &str = include_str!("../scripts/renew.lua");
/// `replay.lua`: queue a dead letter again.
pub const REPLAY: &str = include_str!("../scripts/replay.lua");
/// `release.lua`: hand back unfinished entries at shutdown.
pub const RELEASE: &str = include_str!("../scripts/release.lua");
/// `retire.lua`: delete gone workers' consumers that hold nothing.
pub const RETIRE: &str = include_str!("../scripts/retire.lua");
/// `inspect.lua` (spec 1.1): a queue at a glance, read-only.
pub const INSPECT: &str = include_str!("../scripts/inspect.lua");
/// `held.lua` (spec 1.1): a page of the entries workers hold, read-only.
pub const HELD: &str = include_str!("../scripts/held.lua");
/// `scheduled.lua` (spec 1.1): a page of the scheduled jobs, read-only.
pub const SCHEDULED: &str = include_str!("../scripts/scheduled.lua");
/// `purge.lua` (spec 1.1): remove jobs no worker holds yet.
pub const PURGE: &str = include_str!("../scripts/purge.lua");
/// `cron.lua`: claim one tick of a cron schedule and enqueue its job.
pub const CRON: &str = include_str!("../scripts/cron.lua");
/// `wait.lua` (1.1).
pub const WAIT: &str = include_str!("../scripts/wait.lua");
/// `progress.lua` (1.1).
pub const PROGRESS: &str = include_str!("../scripts/progress.lua");
