//! A Rust port of the core of `examples/engine` (std only): events delivered at least once,
//! each with an idempotency key. The invariants it keeps are declared in
//! `examples/polyglot/parity.toml`; `tests/parity.rs` proves them, with test names in the
//! style of a seed project's gate suites (`parity_m1_*`, `parity_m2_*`).

use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    RunRequested { key: String, run_key: String, fingerprint: String },
    TaskFinished { key: String, run_id: String, task: String, attempt: u32, ok: bool },
    TaskDispatched { key: String, run_id: String, task: String, attempt: u32 },
    TimerFired { key: String, timer_id: String },
}

/// What delivering one event did: the state changed, nothing changed (a duplicate, with
/// the run it names), or an older attempt's event was recorded without effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    Applied(Option<String>),
    Duplicate(Option<String>),
    Stale,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskStatus {
    Running,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunKeyConflict {
    pub run_key: String,
    pub existing: String,
    pub requested: String,
}

#[derive(Debug, Default)]
pub struct Engine {
    seen: HashSet<String>,
    runs: HashMap<String, (String, String)>,
    tasks: HashMap<(String, String), (u32, TaskStatus)>,
    timers_fired: HashSet<String>,
    /// Every event that changed the state, in order.
    pub log: Vec<Event>,
    /// How many times each timer's action ran.
    pub fired: HashMap<String, u32>,
}

impl Engine {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn deliver(&mut self, event: Event) -> Result<Receipt, RunKeyConflict> {
        let key = match &event {
            Event::RunRequested { key, .. }
            | Event::TaskFinished { key, .. }
            | Event::TaskDispatched { key, .. }
            | Event::TimerFired { key, .. } => key.clone(),
        };
        if self.seen.contains(&key) {
            return Ok(Receipt::Duplicate(None));
        }
        let receipt = match &event {
            Event::RunRequested { run_key, fingerprint, .. } => {
                if let Some((run_id, existing)) = self.runs.get(run_key) {
                    if existing != fingerprint {
                        return Err(RunKeyConflict {
                            run_key: run_key.clone(),
                            existing: existing.clone(),
                            requested: fingerprint.clone(),
                        });
                    }
                    return Ok(Receipt::Duplicate(Some(run_id.clone())));
                }
                let run_id = format!("run-{}", self.runs.len() + 1);
                self.runs.insert(run_key.clone(), (run_id.clone(), fingerprint.clone()));
                Receipt::Applied(Some(run_id))
            }
            Event::TaskDispatched { run_id, task, attempt, .. } => {
                let slot = (run_id.clone(), task.clone());
                match self.tasks.get(&slot) {
                    Some((newest, _)) if newest >= attempt => Receipt::Stale,
                    _ => {
                        self.tasks.insert(slot, (*attempt, TaskStatus::Running));
                        Receipt::Applied(None)
                    }
                }
            }
            Event::TaskFinished { run_id, task, attempt, ok, .. } => {
                let slot = (run_id.clone(), task.clone());
                match self.tasks.get(&slot) {
                    Some((newest, TaskStatus::Running)) if newest == attempt => {
                        let status = if *ok { TaskStatus::Succeeded } else { TaskStatus::Failed };
                        self.tasks.insert(slot, (*attempt, status));
                        Receipt::Applied(None)
                    }
                    _ => Receipt::Stale,
                }
            }
            Event::TimerFired { timer_id, .. } => {
                if !self.timers_fired.insert(timer_id.clone()) {
                    return Ok(Receipt::Duplicate(None));
                }
                *self.fired.entry(timer_id.clone()).or_insert(0) += 1;
                Receipt::Applied(None)
            }
        };
        self.seen.insert(key);
        if receipt != Receipt::Stale {
            self.log.push(event);
        }
        Ok(receipt)
    }

    pub fn task(&self, run_id: &str, task: &str) -> Option<&(u32, TaskStatus)> {
        self.tasks.get(&(run_id.to_string(), task.to_string()))
    }

    pub fn run_count(&self) -> usize {
        self.runs.len()
    }
}
