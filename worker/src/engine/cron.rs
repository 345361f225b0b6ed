//! Cron schedules (SPEC.md section 19): the tick times of a schedule, and
//! the scheduler task of an engine that enqueues one job per tick.
//!
//! A schedule is a cron expression in a time zone (5 fields, or 6 with
//! seconds first; `croner` evaluates it, with the daylight saving rules of
//! the Open Cron Pattern Specification, over the IANA database that `jiff`
//! bundles) or a plain interval, whose ticks are the multiples of the
//! interval since the Unix epoch. Every worker computes the same ticks, so
//! they need no coordination beyond `cron.lua`, which claims a tick and
//! enqueues its job in one script: of all the workers that try a tick, one
//! enqueues it. A tick's job id is `cron:<name>:<tick_ms>`.
//!
//! The scheduler of an engine (spawned only when the engine has schedules
//! and is not a burst run, so a worker without schedules sends nothing for
//! cron) registers its schedules when it starts, runs the ticks missed
//! while no worker ran as the schedule's catch-up policy says, then sleeps
//! until the next tick of any schedule. A tick that Redis could not take is
//! tried again every second until it can.

use std::sync::Arc;
use std::time::Duration;

use ardiq_spec::enqueue::{enqueue_call, JobRequest};
use ardiq_spec::limits::{check_job_id, check_schedule, InvalidJob, MAX_DURATION_MS};
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use redis::Value as RedisValue;

use super::{now_ms, Engine};
use crate::conn::Conn;

/// Longest schedule name, bytes: its job ids stay within the 256 bytes of
/// a job id.
pub const MAX_NAME_BYTES: usize = 200;
/// Shortest interval of an `every` schedule, ms.
pub const MIN_INTERVAL_MS: i64 = 1000;
/// Most missed ticks the `all` policy enqueues at once (the latest ones).
pub const MAX_CATCH_UP: usize = 1000;
/// Pause before a tick Redis did not take is tried again.
const RETRY_PAUSE: Duration = Duration::from_secs(1);
/// Longest sleep between two readings of the wall clock: timers follow the
/// monotonic clock, which a suspended host or a clock step leaves behind.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// When a schedule's ticks are.
#[derive(Debug, Clone)]
pub enum Timing {
    /// A cron expression evaluated in a time zone.
    Cron {
        /// The expression as given.
        expression: String,
        /// The parsed expression.
        cron: Box<Cron>,
        /// Where its wall clock times are read.
        zone: TimeZone,
        /// The zone's IANA name, as given.
        zone_name: String,
    },
    /// Every `interval_ms`, at the multiples of the interval since the epoch.
    Every {
        /// The interval, ms.
        interval_ms: i64,
    },
}

impl Timing {
    /// A cron expression of 5 fields (minute resolution) or 6 (seconds
    /// first), or a nickname such as `@hourly`, read in the IANA time zone
    /// `timezone`.
    pub fn cron(expression: &str, timezone: &str) -> Result<Self, String> {
        // jiff finds names whatever their case; a name is taken only as
        // the database spells it, so every worker reads the same name back.
        let zone = TimeZone::get(timezone)
            .ok()
            .filter(|zone| zone.iana_name() == Some(timezone))
            .ok_or_else(|| {
                format!("unknown time zone {timezone:?}: expected an IANA name such as \"Europe/Paris\" or \"UTC\"")
            })?;
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build()
            .parse(expression)
            .map_err(|err| {
                format!(
                    "invalid cron expression {expression:?} (5 fields, or 6 with seconds first): {err}"
                )
            })?;
        let timing = Self::Cron {
            expression: expression.to_owned(),
            cron: Box::new(cron),
            zone,
            zone_name: timezone.to_owned(),
        };
        if timing.next_after(now_ms()).is_none() {
            return Err(format!("cron expression {expression:?} never fires"));
        }
        Ok(timing)
    }

    /// Every `interval_ms` (1 s to 100 years).
    pub fn every(interval_ms: i64) -> Result<Self, String> {
        if !(MIN_INTERVAL_MS..=MAX_DURATION_MS).contains(&interval_ms) {
            return Err(format!(
                "an interval must be {MIN_INTERVAL_MS} ms to {MAX_DURATION_MS} ms, not {interval_ms} ms"
            ));
        }
        Ok(Self::Every { interval_ms })
    }

    /// The first tick strictly after `after_ms`, if the schedule has one
    /// before the year 9999.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        let tick = match self {
            Self::Every { interval_ms } => (after_ms.div_euclid(*interval_ms) + 1) * interval_ms,
            Self::Cron { cron, zone, .. } => {
                // Ticks are whole seconds: the first after the second that
                // holds `after_ms` is the first after `after_ms`.
                let start = at(zone, after_ms.div_euclid(1000) * 1000)?;
                cron.find_next_occurrence(&start, false)
                    .ok()?
                    .timestamp()
                    .as_millisecond()
            }
        };
        check_schedule(tick).is_ok().then_some(tick)
    }

    /// The latest tick at or before `at_ms`.
    pub fn latest_at_or_before(&self, at_ms: i64) -> Option<i64> {
        match self {
            Self::Every { interval_ms } => Some(at_ms.div_euclid(*interval_ms) * interval_ms),
            Self::Cron { cron, zone, .. } => {
                let start = at(zone, at_ms.div_euclid(1000) * 1000)?;
                Some(
                    cron.find_previous_occurrence(&start, true)
                        .ok()?
                        .timestamp()
                        .as_millisecond(),
                )
            }
        }
    }

    /// The ticks in (`after_ms`, `until_ms`], oldest first; the latest
    /// `limit` of them when there are more.
    pub fn ticks_between(&self, after_ms: i64, until_ms: i64, limit: usize) -> Vec<i64> {
        let mut ticks = Vec::new();
        let mut cursor = until_ms;
        while ticks.len() < limit {
            match self.latest_at_or_before(cursor) {
                Some(tick) if tick > after_ms => {
                    ticks.push(tick);
                    cursor = tick - 1;
                }
                _ => break,
            }
        }
        ticks.reverse();
        ticks
    }
}

fn at(zone: &TimeZone, ms: i64) -> Option<Zoned> {
    Timestamp::from_millisecond(ms)
        .ok()
        .map(|t| t.to_zoned(zone.clone()))
}

/// What a schedule does with the ticks that passed while no worker ran it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUp {
    /// The latest missed tick runs, once.
    Latest,
    /// Missed ticks do not run; the schedule goes on with its next tick.
    Skip,
    /// Every missed tick runs, oldest first (at most [`MAX_CATCH_UP`]).
    All,
}

impl CatchUp {
    /// `latest`, `skip` or `all`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "latest" => Ok(Self::Latest),
            "skip" => Ok(Self::Skip),
            "all" => Ok(Self::All),
            other => Err(format!(
                "catch_up must be \"latest\", \"skip\" or \"all\", not {other:?}"
            )),
        }
    }

    /// The name SPEC.md gives the policy.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Latest => "latest",
            Self::Skip => "skip",
            Self::All => "all",
        }
    }
}

/// One registered schedule: its ticks and the job each tick enqueues.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Unique per queue; part of every job id.
    pub name: String,
    /// The queue its jobs go to (and whose workers run the schedule).
    pub queue: String,
    /// When its ticks are.
    pub timing: Timing,
    /// What happens to missed ticks.
    pub catch_up: CatchUp,
    /// The job of every tick, without its id.
    pub job: JobRequest,
}

impl Schedule {
    /// A schedule, checked: the name (1 to 200 bytes, no white space), and
    /// the job with the longest id a tick can give it, so that any error
    /// the job could meet at a tick is an error now.
    pub fn new(
        name: String,
        queue: String,
        timing: Timing,
        catch_up: CatchUp,
        job: JobRequest,
    ) -> Result<Self, InvalidJob> {
        ardiq_spec::limits::check_queue_name(&queue)?;
        let schedule = Self {
            name,
            queue,
            timing,
            catch_up,
            job,
        };
        let longest = schedule.job_id(ardiq_spec::limits::MAX_SCHEDULE_MS);
        if schedule.name.is_empty() || schedule.name.len() > MAX_NAME_BYTES {
            return Err(InvalidJob::JobId(longest));
        }
        check_job_id(&longest)?;
        schedule.job_at(ardiq_spec::limits::MAX_SCHEDULE_MS, now_ms())?;
        Ok(schedule)
    }

    /// The job id of the tick at `tick_ms`.
    pub fn job_id(&self, tick_ms: i64) -> String {
        format!("cron:{}:{tick_ms}", self.name)
    }

    /// The job of the tick at `tick_ms`, built by the producer core at clock
    /// `now`.
    fn job_at(&self, tick_ms: i64, now: i64) -> Result<ardiq_spec::Job, InvalidJob> {
        let mut request = self.job.clone();
        request.job_id = Some(self.job_id(tick_ms));
        request.check(now)
    }
}

/// What `cron.lua` did with one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickOutcome {
    /// This worker enqueued the tick's job.
    Enqueued,
    /// This tick, or a later one, was enqueued before.
    Claimed,
    /// Claimed now, but a job of that id existed.
    Duplicate,
}

/// What a schedule had in Redis when this worker registered it.
#[derive(Debug, Clone, Copy)]
struct Registered {
    last_ms: Option<i64>,
    since_ms: Option<i64>,
}

impl Engine {
    /// Registers `schedules` in Redis, runs their missed ticks, then
    /// enqueues each tick as it comes, until the engine stops.
    pub(super) async fn scheduler(self: Arc<Self>, mut conn: Conn, schedules: Vec<Arc<Schedule>>) {
        let registered = loop {
            match self.register_schedules(&mut conn, &schedules).await {
                Ok(registered) => break registered,
                Err(err) => {
                    self.log(30, format!("registering cron schedules failed: {err}"));
                    if self.sleep_or_stop(RETRY_PAUSE).await {
                        return;
                    }
                }
            }
        };
        let now = now_ms();
        // Ticks to enqueue, per schedule, oldest first.
        let mut due: Vec<Vec<i64>> = schedules
            .iter()
            .zip(registered)
            .map(|(schedule, state)| self.missed_ticks(schedule, state, now))
            .collect();
        let mut next: Vec<Option<i64>> =
            schedules.iter().map(|s| s.timing.next_after(now)).collect();
        loop {
            let now = now_ms();
            for (index, schedule) in schedules.iter().enumerate() {
                let Some(tick) = next[index].filter(|t| *t <= now) else {
                    continue;
                };
                let pending = &mut due[index];
                match schedule.catch_up {
                    CatchUp::All => {
                        pending.extend(schedule.timing.ticks_between(tick - 1, now, MAX_CATCH_UP));
                        let excess = pending.len().saturating_sub(MAX_CATCH_UP);
                        pending.drain(..excess);
                    }
                    // A worker that slept past several ticks (or could not
                    // reach Redis) runs the latest once.
                    CatchUp::Latest | CatchUp::Skip => {
                        *pending = schedule
                            .timing
                            .latest_at_or_before(now)
                            .into_iter()
                            .collect();
                    }
                }
                next[index] = schedule.timing.next_after(now);
            }
            let mut failed = false;
            for (index, schedule) in schedules.iter().enumerate() {
                while let Some(&tick) = due[index].first() {
                    let after = schedule.timing.next_after(tick).unwrap_or(-1);
                    match self.enqueue_tick(&mut conn, schedule, tick, after).await {
                        Ok(outcome) => {
                            due[index].remove(0);
                            if outcome != TickOutcome::Claimed {
                                self.log(
                                    10,
                                    format!(
                                        "cron {}: tick {tick} enqueued as job {} ({outcome:?})",
                                        schedule.name,
                                        schedule.job_id(tick)
                                    ),
                                );
                            }
                        }
                        Err(err) => {
                            self.log(
                                30,
                                format!(
                                    "cron {}: enqueueing tick {tick} failed, trying again: {err}",
                                    schedule.name
                                ),
                            );
                            failed = true;
                            break;
                        }
                    }
                }
            }
            let now = now_ms();
            let mut pause = next
                .iter()
                .flatten()
                .map(|t| Duration::from_millis((t - now).max(0) as u64))
                .min();
            if failed {
                pause = Some(pause.map_or(RETRY_PAUSE, |p| p.min(RETRY_PAUSE)));
            }
            let pause = pause.map_or(MAX_SLEEP, |p| p.min(MAX_SLEEP));
            let stopped = !pause.is_zero() && self.sleep_or_stop(pause).await;
            if stopped {
                return;
            }
        }
    }

    /// The ticks of `schedule` that passed before `now` while no worker
    /// enqueued them, as its catch-up policy keeps them.
    fn missed_ticks(&self, schedule: &Schedule, state: Registered, now: i64) -> Vec<i64> {
        let Some(since) = state.last_ms.or(state.since_ms) else {
            return Vec::new();
        };
        let ticks = match schedule.catch_up {
            CatchUp::Skip => Vec::new(),
            CatchUp::Latest => schedule
                .timing
                .latest_at_or_before(now)
                .filter(|t| *t > since)
                .into_iter()
                .collect(),
            CatchUp::All => schedule.timing.ticks_between(since, now, MAX_CATCH_UP),
        };
        if let Some(first) = ticks.first() {
            self.log(
                20,
                format!(
                    "cron {}: {} missed tick(s) from {first} run now (catch_up {})",
                    schedule.name,
                    ticks.len(),
                    schedule.catch_up.as_str()
                ),
            );
        }
        ticks
    }

    /// Writes each schedule's description (SPEC.md section 19) and reads
    /// its last tick: one pipeline.
    async fn register_schedules(
        &self,
        conn: &mut Conn,
        schedules: &[Arc<Schedule>],
    ) -> Result<Vec<Registered>, redis::RedisError> {
        let now = now_ms();
        let index = self.keys.cron();
        let mut pipe = redis::pipe();
        for schedule in schedules {
            let key = self.keys.cron_schedule(&schedule.name);
            let next = schedule.timing.next_after(now).unwrap_or(-1);
            pipe.cmd("HDEL")
                .arg(&key)
                .arg("cron")
                .arg("timezone")
                .arg("every_ms")
                .ignore();
            let describe = pipe
                .cmd("HSET")
                .arg(&key)
                .arg("task")
                .arg(&schedule.job.task)
                .arg("catch_up")
                .arg(schedule.catch_up.as_str())
                .arg("registered_ms")
                .arg(now)
                .arg("next_ms")
                .arg(next);
            match &schedule.timing {
                Timing::Cron {
                    expression,
                    zone_name,
                    ..
                } => describe
                    .arg("cron")
                    .arg(expression)
                    .arg("timezone")
                    .arg(zone_name),
                Timing::Every { interval_ms } => describe.arg("every_ms").arg(*interval_ms),
            }
            .ignore();
            pipe.cmd("HSETNX")
                .arg(&key)
                .arg("since_ms")
                .arg(now)
                .ignore()
                .cmd("ZADD")
                .arg(&index)
                .arg(next)
                .arg(&schedule.name)
                .ignore()
                .cmd("HMGET")
                .arg(&key)
                .arg("last_ms")
                .arg("since_ms");
        }
        let replies: Vec<(Option<i64>, Option<i64>)> = pipe.query_async(conn).await?;
        Ok(replies
            .into_iter()
            .map(|(last_ms, since_ms)| Registered { last_ms, since_ms })
            .collect())
    }

    /// Runs `cron.lua` for the tick at `tick_ms` of `schedule`.
    async fn enqueue_tick(
        &self,
        conn: &mut Conn,
        schedule: &Schedule,
        tick_ms: i64,
        next_ms: i64,
    ) -> Result<TickOutcome, redis::RedisError> {
        let job = schedule.job_at(tick_ms, now_ms()).map_err(|err| {
            redis::RedisError::from((
                redis::ErrorKind::ClientError,
                "the tick's job is invalid",
                err.to_string(),
            ))
        })?;
        let (keys, argv) = enqueue_call(&self.keys, &[job.into()]);
        let mut invocation = self.scripts.cron.key(self.keys.cron());
        invocation.key(self.keys.cron_schedule(&schedule.name));
        for key in keys {
            invocation.key(key);
        }
        invocation.arg(&schedule.name).arg(tick_ms).arg(next_ms);
        for arg in argv {
            invocation.arg(arg);
        }
        let reply: RedisValue = invocation.invoke_async(conn).await?;
        match reply {
            RedisValue::Int(0) => Ok(TickOutcome::Claimed),
            RedisValue::BulkString(text) if text == b"duplicate" => Ok(TickOutcome::Duplicate),
            RedisValue::SimpleString(text) if text == "duplicate" => Ok(TickOutcome::Duplicate),
            RedisValue::BulkString(_) | RedisValue::SimpleString(_) => Ok(TickOutcome::Enqueued),
            other => Err(redis::RedisError::from((
                redis::ErrorKind::TypeError,
                "cron.lua replied",
                format!("{other:?}"),
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-03-31 00:00:00 UTC: the night Paris moves from 02:00 CET to
    /// 03:00 CEST (01:00 UTC).
    const SPRING_FORWARD_DAY_UTC: i64 = 1_711_843_200_000;
    const HOUR: i64 = 3_600_000;

    fn cron(expression: &str, zone: &str) -> Timing {
        Timing::cron(expression, zone).unwrap()
    }

    #[test]
    fn an_interval_ticks_at_its_multiples_since_the_epoch() {
        let every = Timing::every(1000).unwrap();
        assert_eq!(every.next_after(1_999), Some(2_000));
        assert_eq!(every.next_after(2_000), Some(3_000));
        assert_eq!(every.latest_at_or_before(2_999), Some(2_000));
        assert_eq!(every.ticks_between(1_000, 4_500, 10), [2_000, 3_000, 4_000]);
        assert_eq!(every.ticks_between(1_000, 4_500, 2), [3_000, 4_000]);
        assert!(Timing::every(999).is_err());
    }

    #[test]
    fn six_fields_tick_every_second_and_five_every_minute() {
        let seconds = cron("* * * * * *", "UTC");
        assert_eq!(seconds.next_after(10_500), Some(11_000));
        assert_eq!(seconds.next_after(11_000), Some(12_000));
        let minutes = cron("*/5 * * * *", "UTC");
        assert_eq!(minutes.next_after(1), Some(300_000));
        assert_eq!(minutes.latest_at_or_before(899_999), Some(600_000));
    }

    #[test]
    fn a_daily_tick_follows_the_zone_across_daylight_saving() {
        // 09:00 in Paris is 08:00 UTC in winter and 07:00 UTC in summer.
        let daily = cron("0 9 * * *", "Europe/Paris");
        let day_before = SPRING_FORWARD_DAY_UTC - 24 * HOUR;
        assert_eq!(daily.next_after(day_before), Some(day_before + 8 * HOUR));
        assert_eq!(
            daily.next_after(SPRING_FORWARD_DAY_UTC),
            Some(SPRING_FORWARD_DAY_UTC + 7 * HOUR)
        );
    }

    #[test]
    fn a_tick_inside_the_skipped_hour_runs_once_just_after_it() {
        // 02:30 does not exist in Paris on 2024-03-31: it runs at 03:00 CEST
        // (01:00 UTC), once, and the next day at 02:30 CEST (00:30 UTC).
        let nightly = cron("30 2 * * *", "Europe/Paris");
        let first = nightly.next_after(SPRING_FORWARD_DAY_UTC).unwrap();
        assert_eq!(first, SPRING_FORWARD_DAY_UTC + HOUR);
        assert_eq!(
            nightly.next_after(first),
            Some(SPRING_FORWARD_DAY_UTC + 24 * HOUR + HOUR / 2)
        );
    }

    #[test]
    fn a_tick_inside_the_repeated_hour_runs_once() {
        // 2024-10-27: Paris goes back from 03:00 CEST to 02:00 CET at 01:00
        // UTC, so 02:30 happens twice; a fixed time runs at the first.
        let fall_back_day_utc = 1_729_987_200_000;
        let nightly = cron("30 2 * * *", "Europe/Paris");
        let first = nightly.next_after(fall_back_day_utc).unwrap();
        assert_eq!(first, fall_back_day_utc + HOUR / 2);
        assert_eq!(
            nightly.next_after(first),
            Some(fall_back_day_utc + 24 * HOUR + HOUR + HOUR / 2)
        );
    }

    #[test]
    fn the_bundled_zones_know_the_rules_of_2026() {
        // British Columbia stays on UTC-7 since 2026-03-08: it no longer
        // falls back in November (IANA 2026 releases). So 09:00 in Vancouver
        // on 2026-12-03 is 16:00 UTC; the 2025b database of earlier builds
        // read UTC-8 and ran the tick an hour late.
        let december_3_2026_utc = 1_796_256_000_000;
        let daily = cron("0 9 * * *", "America/Vancouver");
        assert_eq!(
            daily.next_after(december_3_2026_utc),
            Some(december_3_2026_utc + 16 * HOUR)
        );
        // A link name is taken as given and reads its target's rules.
        let linked = cron("0 9 * * *", "Canada/Pacific");
        assert_eq!(
            linked.next_after(december_3_2026_utc),
            Some(december_3_2026_utc + 16 * HOUR)
        );
        assert!(Timing::cron("0 9 * * *", "Etc/UTC").is_ok());
    }

    #[test]
    fn bad_expressions_and_zones_say_what_is_wrong() {
        let err = Timing::cron("*/5 * *", "UTC").unwrap_err();
        assert!(err.contains("invalid cron expression \"*/5 * *\""), "{err}");
        let err = Timing::cron("61 * * * *", "UTC").unwrap_err();
        assert!(err.contains("invalid cron expression"), "{err}");
        let err = Timing::cron("* * * * *", "Europe/Pariss").unwrap_err();
        assert!(err.contains("unknown time zone \"Europe/Pariss\""), "{err}");
        let err = Timing::cron("* * * * *", "europe/paris").unwrap_err();
        assert!(err.contains("unknown time zone \"europe/paris\""), "{err}");
        let err = Timing::cron("0 0 30 2 *", "UTC").unwrap_err();
        assert!(err.contains("never fires"), "{err}");
        assert!(
            Timing::cron("0 0 0 1 1 * 2030", "UTC").is_err(),
            "no year field"
        );
        assert!(CatchUp::parse("sometimes").is_err());
    }

    #[test]
    fn a_schedule_name_must_fit_a_job_id() {
        let make = |name: &str| {
            Schedule::new(
                name.into(),
                "q".into(),
                Timing::every(1000).unwrap(),
                CatchUp::Latest,
                JobRequest::new("t"),
            )
        };
        let schedule = make("digest").unwrap();
        assert_eq!(schedule.job_id(1_000), "cron:digest:1000");
        assert!(make("").is_err());
        assert!(make("two words").is_err());
        assert!(make(&"n".repeat(MAX_NAME_BYTES)).is_ok());
        assert!(make(&"n".repeat(MAX_NAME_BYTES + 1)).is_err());
    }
}
