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
    /// Every cron schedule of the queue, by next tick. A field that is not
    /// what SPEC.md says (a number that is none, text that is not UTF-8)
    /// is unknown (`None`) or shown lossily: one broken schedule leaves the
    /// others, and the pages that list them, readable.
    ///
    /// # Errors
    /// Connection and Redis errors.
    pub async fn schedules(&self) -> Result<Vec<ScheduleState>> {
        let keys = &self.inner.keys;
        let names: Vec<Vec<u8>> = redis::cmd("ZRANGE")
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
            pipe.cmd("HGETALL")
                .arg([keys.cron_schedule("").as_bytes(), name].concat());
        }
        let states: Vec<HashMap<Vec<u8>, Vec<u8>>> = pipe
            .query_async(&mut self.connection())
            .await
            .map_err(Error::from_redis)?;
        Ok(names
            .into_iter()
            .zip(states)
            .map(|(name, fields)| {
                let text = |field: &str| {
                    fields
                        .get(field.as_bytes())
                        .map(|raw| String::from_utf8_lossy(raw).into_owned())
                };
                let number = |field: &str| text(field).and_then(|t| t.parse().ok());
                ScheduleState {
                    every_ms: number("every_ms"),
                    last_ms: number("last_ms"),
                    next_ms: number("next_ms"),
                    since_ms: number("since_ms"),
                    registered_ms: number("registered_ms"),
                    task: text("task").unwrap_or_default(),
                    cron: text("cron"),
                    timezone: text("timezone"),
                    catch_up: text("catch_up").unwrap_or_default(),
                    name: String::from_utf8_lossy(&name).into_owned(),
                }
            })
            .collect())
    }
}
