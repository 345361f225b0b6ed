//! Renewal: every third of the visibility timeout, `renew.lua` renews every
//! held entry of a level in one call; entries it does not return were lost
//! to another worker and their runs are stopped.

use std::collections::HashMap;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ardiq_spec::GROUP;

use super::Engine;
use crate::bridge::CancelReason;
use crate::conn::Conn;

impl Engine {
    pub(super) async fn renewer(self: Arc<Self>, mut conn: Conn) {
        let period = Duration::from_millis((self.config.visibility_ms / 3).max(1));
        loop {
            if self.sleep_or_stop(period).await {
                return;
            }
            let mut by_stream: HashMap<u32, Vec<(u64, String)>> = HashMap::new();
            {
                let local = self.local.lock().expect("local");
                for (&handle, held) in &local.held {
                    by_stream
                        .entry(held.priority)
                        .or_default()
                        .push((handle, held.entry_id.clone()));
                }
            }
            for (priority, held) in by_stream {
                let mut invocation = self.scripts.renew.key(self.keys.stream(priority));
                invocation.arg(GROUP).arg(&self.config.worker_id);
                for (_, entry_id) in &held {
                    invocation.arg(entry_id);
                }
                let owned: Vec<String> = match invocation.invoke_async(&mut conn).await {
                    Ok(owned) => owned,
                    Err(err) => {
                        self.log(40, format!("renewing ownership failed: {err}"));
                        continue;
                    }
                };
                let owned: HashSet<String> = owned.into_iter().collect();
                let mut cancels = Vec::new();
                {
                    let mut local = self.local.lock().expect("local");
                    for (handle, entry_id) in held {
                        if owned.contains(&entry_id) {
                            continue;
                        }
                        if let Some(lost) = local.remove(handle) {
                            if lost.running {
                                cancels.push((handle, CancelReason::Lost));
                            }
                            self.log(
                                30,
                                format!(
                                    "lost entry {entry_id} (job {}) to another worker",
                                    lost.job.id
                                ),
                            );
                        }
                    }
                }
                self.bridge.cancel(cancels);
            }
            self.dispatch();
            self.check_exit();
        }
    }
}
