//! The cron schedules of a queue as workers registered them in Redis
//! (SPEC.md section 19): for operators, read-only.

use std::collections::HashMap;

use crate::client::Client;
use crate::{Error, Result};

/// One schedule's state: its description, its last tick enqueued and the
/// next, as the workers that run it wrote them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduleState {
    /// The schedule's name, unique in its queue.
    pub name: String,
    /// The task each tick runs.
    pub task: String,
    /// The cron expression; `None` for an interval.
    pub cron: Option<String>,
    /// The IANA time zone of the expression.
    pub timezone: Option<String>,
    /// The interval, ms; `None` for a cron expression.
    pub every_ms: Option<i64>,
    /// `latest`, `skip` or `all`.
    pub catch_up: String,
    /// The last tick enqueued, ms since the epoch; `None` before the first.
    pub last_ms: Option<i64>,
    /// The next tick, ms since the epoch.
    pub next_ms: Option<i64>,
    /// When a worker first registered the schedule.
    pub since_ms: Option<i64>,
    /// When a worker last registered it (at its start).
    pub registered_ms: Option<i64>,
}

impl Client {
    /// Every cron schedule of the queue, by next tick.
    ///
    /// # Errors
    /// Connection and Redis errors; [`Error::MalformedRecord`] for a
    /// schedule field that is not what SPEC.md says.
    pub async fn schedules(&self) -> Result<Vec<ScheduleState>> {
        let keys = &self.inner.keys;
        let names: Vec<String> = redis::cmd("ZRANGE")
            .arg(keys.cron())
            .arg(0)
            .arg(-1)
            .query_async(&mut self.connection())
            .await
            .map_err(Error::from_redis)?;
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for name in &names {
            pipe.cmd("HGETALL").arg(keys.cron_schedule(name));
        }
        let states: Vec<HashMap<String, String>> = pipe
            .query_async(&mut self.connection())
            .await
            .map_err(Error::from_redis)?;
        names
            .into_iter()
            .zip(states)
            .map(|(name, mut fields)| {
                let number = |field: &str| -> Result<Option<i64>> {
                    fields
                        .get(field)
                        .map(|text| {
                            text.parse().map_err(|_| {
                                Error::MalformedRecord(format!(
                                    "schedule {name}: {field} is {text:?}, not an integer"
                                ))
                            })
                        })
                        .transpose()
                };
                Ok(ScheduleState {
                    every_ms: number("every_ms")?,
                    last_ms: number("last_ms")?,
                    next_ms: number("next_ms")?,
                    since_ms: number("since_ms")?,
                    registered_ms: number("registered_ms")?,
                    task: fields.remove("task").unwrap_or_default(),
                    cron: fields.remove("cron"),
                    timezone: fields.remove("timezone"),
                    catch_up: fields.remove("catch_up").unwrap_or_default(),
                    name,
                })
            })
            .collect()
    }
}
