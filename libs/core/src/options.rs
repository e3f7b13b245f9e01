//! Activity options: validation of a start request and the server's timeout normalization
//! (SEMANTICS.md §2), shared by standalone activities and update-options.

use serde::{Deserialize, Serialize};
use waymark_api::{
    ActivityOptions, Duration, Payloads, Priority, RetryPolicy, StartActivityExecutionRequest,
    TaskQueue,
};

use crate::retry;

/// Longest accepted id, type, request id or identity, in bytes.
pub const MAX_ID_LENGTH: usize = 1000;
/// Longer timeouts are silently capped to 100 years.
const MAX_TIMEOUT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
const RESERVED_QUEUE_PREFIX: &str = "/_sys/";
const MAX_FAIRNESS_KEY_LENGTH: usize = 64;

/// The effective options of an activity after normalization.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Options {
    pub task_queue: String,
    pub schedule_to_close: Duration,
    pub schedule_to_start: Duration,
    pub start_to_close: Duration,
    pub heartbeat: Duration,
    pub retry_policy: RetryPolicy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
}

impl Options {
    /// As the API shows them, with the queue shown as `task_queue` and the start delay, if any.
    pub fn wire(&self, task_queue: TaskQueue, start_delay: Option<Duration>) -> ActivityOptions {
        ActivityOptions {
            task_queue: Some(task_queue),
            schedule_to_close_timeout: Some(self.schedule_to_close),
            schedule_to_start_timeout: Some(self.schedule_to_start),
            start_to_close_timeout: Some(self.start_to_close),
            heartbeat_timeout: Some(self.heartbeat),
            retry_policy: Some(self.retry_policy.clone()),
            priority: self.priority.clone(),
            start_delay,
        }
    }
}

/// The four timeouts as requested (absent = zero).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Timeouts {
    pub schedule_to_close: Duration,
    pub schedule_to_start: Duration,
    pub start_to_close: Duration,
    pub heartbeat: Duration,
}

/// Normalizes the timeouts as Temporal does (SEMANTICS §2.2). `run_timeout` is the workflow run
/// timeout (zero for standalone activities). `what` names the activity in the error message.
pub fn normalize_timeouts(
    t: Timeouts,
    run_timeout: Duration,
    what: (&str, &str),
) -> Result<Timeouts, String> {
    let checked = |name: &str, d: Duration| {
        if d.is_negative() {
            Err(format!("invalid {name}: negative duration"))
        } else {
            Ok(d.min(MAX_TIMEOUT))
        }
    };
    let mut s2c = checked("ScheduleToCloseTimeout", t.schedule_to_close)?;
    let mut s2s = checked("ScheduleToStartTimeout", t.schedule_to_start)?;
    let mut st2c = checked("StartToCloseTimeout", t.start_to_close)?;
    let mut hb = checked("HeartbeatTimeout", t.heartbeat)?;
    if !s2c.is_zero() {
        s2s = if s2s.is_zero() { s2c } else { s2s.min(s2c) };
        st2c = if st2c.is_zero() { s2c } else { st2c.min(s2c) };
    } else if !st2c.is_zero() {
        s2c = run_timeout;
        if s2s.is_zero() {
            s2s = run_timeout;
        }
    } else {
        return Err(format!(
            "a valid StartToCloseTimeout or ScheduleToCloseTimeout must be set on the activity. ActivityId={} ActivityType={}",
            what.0, what.1
        ));
    }
    if !run_timeout.is_zero() {
        for d in [&mut s2c, &mut s2s, &mut st2c, &mut hb] {
            *d = (*d).min(run_timeout);
        }
    }
    hb = hb.min(st2c);
    Ok(Timeouts {
        schedule_to_close: s2c,
        schedule_to_start: s2s,
        start_to_close: st2c,
        heartbeat: hb,
    })
}

/// Priority levels: 1 is dispatched first, 5 last (Temporal's default of five levels).
pub const PRIORITY_LEVELS: i32 = 5;
/// The level of a task whose priority key is 0 all the way up (Temporal's default).
pub const DEFAULT_PRIORITY: i32 = 3;

/// A task's effective priority (SEMANTICS §11.2): what it inherits (its workflow's), with its
/// own non-zero fields over it.
pub fn merged_priority(own: Option<&Priority>, inherited: Option<&Priority>) -> Option<Priority> {
    let (Some(own), Some(inherited)) = (own, inherited) else {
        return own.or(inherited).cloned();
    };
    Some(Priority {
        priority_key: match own.priority_key {
            0 => inherited.priority_key,
            k => k,
        },
        fairness_key: match own.fairness_key.as_str() {
            "" => inherited.fairness_key.clone(),
            k => k.to_owned(),
        },
        fairness_weight: match own.fairness_weight {
            0.0 => inherited.fairness_weight,
            w => w,
        },
    })
}

/// Where a task waits in its queue: its level, and its fairness key with the key's weight.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskPriority {
    /// 1 (dispatched first) to 5.
    pub level: i32,
    pub fairness_key: String,
    /// 0 is the default, 1.
    pub fairness_weight: f32,
}

/// How an (effective) priority is dispatched: at its key's level, the default for 0, and keys
/// past the last level at the last level (as Temporal's matching clips them).
pub fn task_priority(p: Option<&Priority>) -> TaskPriority {
    let Some(p) = p else {
        return TaskPriority {
            level: DEFAULT_PRIORITY,
            ..TaskPriority::default()
        };
    };
    TaskPriority {
        level: match p.priority_key {
            0 => DEFAULT_PRIORITY,
            k => k.min(PRIORITY_LEVELS),
        },
        fairness_key: p.fairness_key.clone(),
        fairness_weight: p.fairness_weight,
    }
}

/// A fairness key is at most 64 bytes (Temporal's limit and message).
pub fn validate_fairness_key(key: &str) -> Result<(), String> {
    if key.len() > MAX_FAIRNESS_KEY_LENGTH {
        return Err(format!(
            "fairness key length exceeds limit: {} bytes, at most {MAX_FAIRNESS_KEY_LENGTH}",
            key.len()
        ));
    }
    Ok(())
}

/// Validates a priority (SEMANTICS §2.3).
pub fn validate_priority(p: &Priority) -> Result<(), String> {
    if p.priority_key < 0 {
        return Err("invalid priorities: priority key can't be negative".into());
    }
    validate_fairness_key(&p.fairness_key).map_err(|e| format!("invalid priorities: {e}"))?;
    if p.fairness_weight < 0.0 {
        return Err("invalid priorities: must be greater than zero".into());
    }
    Ok(())
}

/// Validates a task queue name.
pub fn validate_task_queue(name: Option<&str>) -> Result<String, String> {
    let Some(name) = name else {
        return Err("taskQueue is not set".into());
    };
    if name.is_empty() {
        return Err("missing task queue name".into());
    }
    if name.starts_with(RESERVED_QUEUE_PREFIX) {
        return Err(format!(
            "task queue name cannot start with reserved prefix {RESERVED_QUEUE_PREFIX}"
        ));
    }
    check_length("taskQueue", name)?;
    Ok(name.to_owned())
}

fn check_length(what: &str, value: &str) -> Result<(), String> {
    if value.len() > MAX_ID_LENGTH {
        return Err(format!(
            "{what} exceeds length limit. Length={} Limit={MAX_ID_LENGTH}",
            value.len()
        ));
    }
    Ok(())
}

/// Checks a payload against the blob size limit `max` (bytes); `what` names it in the message.
pub fn check_blob(what: &str, p: Option<&Payloads>, max: usize) -> Result<(), String> {
    match p.map(Payloads::encoded_size) {
        Some(size) if size > max => Err(format!(
            "{what} exceeds length limit. Length={size} Limit={max}"
        )),
        _ => Ok(()),
    }
}

/// Validates a start request for `activity_id` and returns its normalized options.
pub fn validate_start(
    activity_id: &str,
    req: &StartActivityExecutionRequest,
    max_payload: usize,
) -> Result<Options, String> {
    if activity_id.is_empty() {
        return Err("activityId is not set".into());
    }
    check_length("activityId", activity_id)?;
    let activity_type = req
        .activity_type
        .as_ref()
        .map(|t| t.name.as_str())
        .unwrap_or_default();
    if activity_type.is_empty() {
        return Err("activityType is not set".into());
    }
    check_length("activityType", activity_type)?;
    let task_queue = validate_task_queue(req.task_queue.as_ref().map(|q| q.name.as_str()))?;
    check_length("request ID", &req.request_id)?;
    check_length("identity", &req.identity)?;
    let requested = Timeouts {
        schedule_to_close: req.schedule_to_close_timeout.unwrap_or_default(),
        schedule_to_start: req.schedule_to_start_timeout.unwrap_or_default(),
        start_to_close: req.start_to_close_timeout.unwrap_or_default(),
        heartbeat: req.heartbeat_timeout.unwrap_or_default(),
    };
    let t = normalize_timeouts(requested, Duration::ZERO, (activity_id, activity_type))?;
    let retry_policy = retry::with_defaults(req.retry_policy.as_ref());
    retry::validate(&retry_policy)?;
    if let Some(p) = &req.priority {
        validate_priority(p)?;
    }
    if req.start_delay.is_some_and(|d| d.is_negative()) {
        return Err("invalid StartDelay: negative duration".into());
    }
    check_blob("input", req.input.as_ref(), max_payload)?;
    Ok(Options {
        task_queue,
        schedule_to_close: t.schedule_to_close,
        schedule_to_start: t.schedule_to_start,
        start_to_close: t.start_to_close,
        heartbeat: t.heartbeat,
        retry_policy,
        priority: req.priority.clone(),
    })
}

#[cfg(test)]
mod priority_tests {
    use super::*;

    #[test]
    fn a_task_has_its_own_priority_else_its_workflows_else_the_default() {
        let p = |k: i32| Priority {
            priority_key: k,
            ..Default::default()
        };
        fn level(own: Option<&Priority>, inherited: Option<&Priority>) -> i32 {
            task_priority(merged_priority(own, inherited).as_ref()).level
        }
        assert_eq!(level(None, None), 3);
        assert_eq!(level(Some(&p(0)), Some(&p(0))), 3);
        assert_eq!(level(Some(&p(1)), Some(&p(5))), 1);
        assert_eq!(level(Some(&p(0)), Some(&p(5))), 5);
        assert_eq!(level(None, Some(&p(2))), 2);
        assert_eq!(level(Some(&p(9)), None), 5);
    }

    #[test]
    fn an_activitys_non_zero_fields_override_its_workflows() {
        let workflow = Priority {
            priority_key: 2,
            fairness_key: "tenant-a".into(),
            fairness_weight: 3.0,
        };
        let own = Priority {
            fairness_key: "tenant-b".into(),
            ..Default::default()
        };
        assert_eq!(
            merged_priority(Some(&own), Some(&workflow)),
            Some(Priority {
                fairness_key: "tenant-b".into(),
                ..workflow.clone()
            })
        );
        assert_eq!(merged_priority(None, Some(&workflow)), Some(workflow));
    }

    #[test]
    fn a_task_is_queued_under_its_fairness_key_and_weight() {
        let p = Priority {
            priority_key: 0,
            fairness_key: "tenant-a".into(),
            fairness_weight: 2.5,
        };
        assert_eq!(
            task_priority(Some(&p)),
            TaskPriority {
                level: 3,
                fairness_key: "tenant-a".into(),
                fairness_weight: 2.5,
            }
        );
        assert_eq!(task_priority(None).fairness_key, "");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::DEFAULT_MAX_PAYLOAD_BYTES;

    fn s(n: i64) -> Duration {
        Duration::from_secs(n)
    }
    fn norm(s2c: i64, s2s: i64, st2c: i64, hb: i64, run: i64) -> Result<[i64; 4], String> {
        let t = Timeouts {
            schedule_to_close: s(s2c),
            schedule_to_start: s(s2s),
            start_to_close: s(st2c),
            heartbeat: s(hb),
        };
        normalize_timeouts(t, s(run), ("a", "T")).map(|t| {
            [
                t.schedule_to_close,
                t.schedule_to_start,
                t.start_to_close,
                t.heartbeat,
            ]
            .map(|d| d.as_nanos() / 1_000_000_000)
        })
    }

    #[test]
    fn only_start_to_close_leaves_the_schedule_timeouts_unlimited() {
        assert_eq!(norm(0, 0, 60, 0, 0), Ok([0, 0, 60, 0]));
    }

    #[test]
    fn schedule_to_close_caps_every_other_timeout() {
        assert_eq!(norm(10, 20, 30, 40, 0), Ok([10, 10, 10, 10]));
    }

    #[test]
    fn only_schedule_to_close_defaults_the_other_two() {
        assert_eq!(norm(2, 0, 0, 0, 0), Ok([2, 2, 2, 0]));
    }

    #[test]
    fn heartbeat_is_capped_at_start_to_close() {
        assert_eq!(norm(0, 0, 5, 50, 0), Ok([0, 0, 5, 5]));
    }

    #[test]
    fn workflow_run_timeout_fills_and_caps_the_timeouts() {
        assert_eq!(norm(0, 0, 30, 0, 3600), Ok([3600, 3600, 30, 0]));
        assert_eq!(norm(0, 0, 7200, 0, 3600), Ok([3600, 3600, 3600, 0]));
    }

    #[test]
    fn a_start_or_schedule_to_close_timeout_is_required() {
        assert_eq!(
            norm(0, 5, 0, 5, 0),
            Err("a valid StartToCloseTimeout or ScheduleToCloseTimeout must be set on the activity. ActivityId=a ActivityType=T".into())
        );
    }

    #[test]
    fn negative_timeouts_are_rejected_by_name() {
        assert_eq!(
            norm(0, 0, -1, 0, 0),
            Err("invalid StartToCloseTimeout: negative duration".into())
        );
        assert_eq!(
            norm(-1, 0, 1, 0, 0),
            Err("invalid ScheduleToCloseTimeout: negative duration".into())
        );
        assert_eq!(
            norm(0, -1, 1, 0, 0),
            Err("invalid ScheduleToStartTimeout: negative duration".into())
        );
        assert_eq!(
            norm(0, 0, 1, -1, 0),
            Err("invalid HeartbeatTimeout: negative duration".into())
        );
    }

    #[test]
    fn huge_timeouts_are_capped_to_a_hundred_years() {
        let [_, _, st2c, _] = norm(0, 0, i64::MAX / 2_000_000_000, 0, 0).unwrap();
        assert_eq!(st2c, 100 * 365 * 24 * 3600);
    }

    fn start(json: &str) -> Result<Options, String> {
        let req: StartActivityExecutionRequest = serde_json::from_str(json).unwrap();
        validate_start("a1", &req, DEFAULT_MAX_PAYLOAD_BYTES)
    }

    #[test]
    fn start_validation_messages() {
        assert_eq!(
            start(r#"{"taskQueue":{"name":"q"},"startToCloseTimeout":"1s"}"#),
            Err("activityType is not set".into())
        );
        assert_eq!(
            start(r#"{"activityType":{"name":"T"},"startToCloseTimeout":"1s"}"#),
            Err("taskQueue is not set".into())
        );
        assert_eq!(
            start(
                r#"{"activityType":{"name":"T"},"taskQueue":{"name":""},"startToCloseTimeout":"1s"}"#
            ),
            Err("missing task queue name".into())
        );
        assert_eq!(
            start(
                r#"{"activityType":{"name":"T"},"taskQueue":{"name":"/_sys/x"},"startToCloseTimeout":"1s"}"#
            ),
            Err("task queue name cannot start with reserved prefix /_sys/".into())
        );
        assert_eq!(
            start(
                r#"{"activityType":{"name":"T"},"taskQueue":{"name":"q"},"startToCloseTimeout":"1s","priority":{"priorityKey":-1}}"#
            ),
            Err("invalid priorities: priority key can't be negative".into())
        );
        assert_eq!(
            start(
                r#"{"activityType":{"name":"T"},"taskQueue":{"name":"q"},"startToCloseTimeout":"1s","startDelay":"-1s"}"#
            ),
            Err("invalid StartDelay: negative duration".into())
        );
        assert_eq!(
            start(
                r#"{"activityType":{"name":"T"},"taskQueue":{"name":"q"},"startToCloseTimeout":"1s","retryPolicy":{"backoffCoefficient":0.5}}"#
            ),
            Err("BackoffCoefficient cannot be less than 1 on retry policy.".into())
        );
    }

    #[test]
    fn an_overlong_activity_type_is_rejected_with_its_length() {
        let long = "x".repeat(1001);
        let json = format!(
            r#"{{"activityType":{{"name":"{long}"}},"taskQueue":{{"name":"q"}},"startToCloseTimeout":"1s"}}"#
        );
        assert_eq!(
            start(&json),
            Err("activityType exceeds length limit. Length=1001 Limit=1000".into())
        );
    }

    #[test]
    fn input_over_two_mebibytes_is_rejected() {
        let big = "x".repeat(DEFAULT_MAX_PAYLOAD_BYTES + 1);
        let json = format!(
            r#"{{"activityType":{{"name":"T"}},"taskQueue":{{"name":"q"}},"startToCloseTimeout":"1s","input":["{big}"]}}"#
        );
        assert_eq!(
            start(&json),
            Err("input exceeds length limit. Length=2097155 Limit=2097152".into())
        );
    }

    #[test]
    fn a_valid_start_gets_a_defaulted_retry_policy() {
        let o = start(
            r#"{"activityType":{"name":"T"},"taskQueue":{"name":"q"},"startToCloseTimeout":"60s"}"#,
        )
        .unwrap();
        assert_eq!(o.task_queue, "q");
        assert_eq!(o.retry_policy.maximum_interval, Some(s(100)));
        assert_eq!(
            (o.schedule_to_close, o.start_to_close),
            (Duration::ZERO, s(60))
        );
    }
}
