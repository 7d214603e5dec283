//! The gate suites of the Rust port: `parity_m1_*` and `parity_m2_*` prove the invariants
//! of milestones M1 and M2 of `examples/polyglot/parity.toml` (mapped there by `tests`
//! globs over the IDs `pytest-parity ingest` gives them).

use engine::{Engine, Event, Receipt, TaskStatus};

fn run_requested(key: &str, run_key: &str, fingerprint: &str) -> Event {
    Event::RunRequested { key: key.into(), run_key: run_key.into(), fingerprint: fingerprint.into() }
}

fn dispatched(key: &str, attempt: u32) -> Event {
    Event::TaskDispatched { key: key.into(), run_id: "run-1".into(), task: "build".into(), attempt }
}

fn finished(key: &str, attempt: u32, ok: bool) -> Event {
    Event::TaskFinished { key: key.into(), run_id: "run-1".into(), task: "build".into(), attempt, ok }
}

#[test]
fn parity_m1_duplicate_delivery_is_a_noop() {
    let mut engine = Engine::new();
    let first = engine.deliver(run_requested("req-1", "nightly", "sha-a")).unwrap();
    let again = engine.deliver(run_requested("req-1", "nightly", "sha-a")).unwrap();
    assert_eq!(first, Receipt::Applied(Some("run-1".into())));
    assert_eq!(again, Receipt::Duplicate(None));
    assert_eq!(engine.log.len(), 1);
}

#[test]
fn parity_m1_stale_finish_never_regresses_a_newer_attempt() {
    let mut engine = Engine::new();
    engine.deliver(run_requested("req-1", "nightly", "sha-a")).unwrap();
    engine.deliver(dispatched("d-1", 1)).unwrap();
    engine.deliver(dispatched("d-2", 2)).unwrap();
    assert_eq!(engine.deliver(finished("f-1", 1, false)).unwrap(), Receipt::Stale);
    assert_eq!(engine.task("run-1", "build"), Some(&(2, TaskStatus::Running)));
    engine.deliver(finished("f-2", 2, true)).unwrap();
    assert_eq!(engine.task("run-1", "build"), Some(&(2, TaskStatus::Succeeded)));
}

#[test]
fn parity_m2_duplicate_run_key_returns_the_existing_run() {
    let mut engine = Engine::new();
    engine.deliver(run_requested("req-1", "nightly", "sha-a")).unwrap();
    let second = engine.deliver(run_requested("req-2", "nightly", "sha-a")).unwrap();
    assert_eq!(second, Receipt::Duplicate(Some("run-1".into())));
    assert_eq!(engine.run_count(), 1);
}

#[test]
fn parity_m2_run_key_with_another_fingerprint_is_a_conflict() {
    let mut engine = Engine::new();
    engine.deliver(run_requested("req-1", "nightly", "sha-a")).unwrap();
    let conflict = engine.deliver(run_requested("req-2", "nightly", "sha-b")).unwrap_err();
    assert_eq!((conflict.existing.as_str(), conflict.requested.as_str()), ("sha-a", "sha-b"));
    assert_eq!(engine.run_count(), 1);
}

#[test]
fn parity_m2_a_timer_fires_once() {
    let mut engine = Engine::new();
    for key in ["t-1", "t-2", "t-3"] {
        engine.deliver(Event::TimerFired { key: key.into(), timer_id: "nightly".into() }).unwrap();
    }
    assert_eq!(engine.fired.get("nightly"), Some(&1));
}

#[test]
fn an_engine_starts_empty() {
    // not a parity test: no glob maps it, so the evidence does not record it
    assert_eq!(Engine::new().run_count(), 0);
}
