//! Retry policy: server defaults, validation, the backoff formula and the decision whether a
//! failed attempt is retried (SEMANTICS.md §3).

use waymark_api::{Duration, Failure, RetryPolicy, RetryState, Timestamp};

/// Prefix that names a timeout in `nonRetryableErrorTypes` (`TemporalTimeout:StartToClose`).
const TIMEOUT_TYPE_PREFIX: &str = "TemporalTimeout:";

/// Fills the absent fields of a policy with the server defaults, field by field.
pub fn with_defaults(policy: Option<&RetryPolicy>) -> RetryPolicy {
    let mut p = policy.cloned().unwrap_or_default();
    let initial = match p.initial_interval {
        Some(d) if !d.is_zero() => d,
        _ => Duration::from_secs(1),
    };
    p.initial_interval = Some(initial);
    if p.backoff_coefficient == 0.0 {
        p.backoff_coefficient = 2.0;
    }
    if p.maximum_interval.is_none_or(|d| d.is_zero()) {
        p.maximum_interval = Some(initial.mul_f64(100.0));
    }
    p
}

/// Validates a defaulted policy. `maximumAttempts: 1` skips every other check, as Temporal does.
pub fn validate(p: &RetryPolicy) -> Result<(), String> {
    if p.maximum_attempts == 1 {
        return Ok(());
    }
    let initial = p.initial_interval.unwrap_or_default();
    if initial.is_negative() {
        return Err("invalid InitialInterval set on retry policy: negative duration".into());
    }
    if p.backoff_coefficient < 1.0 || !p.backoff_coefficient.is_finite() {
        return Err("BackoffCoefficient cannot be less than 1 on retry policy.".into());
    }
    let maximum = p.maximum_interval.unwrap_or_default();
    if maximum.is_negative() {
        return Err("invalid MaximumInterval set on retry policy: negative duration".into());
    }
    if !maximum.is_zero() && maximum < initial {
        return Err("MaximumInterval cannot be less than InitialInterval on retry policy.".into());
    }
    if p.maximum_attempts < 0 {
        return Err("MaximumAttempts cannot be negative on retry policy.".into());
    }
    for t in &p.non_retryable_error_types {
        if let Some(name) = t.strip_prefix(TIMEOUT_TYPE_PREFIX) {
            // Like Temporal, the long enum names validate (but never match at run time).
            let known = [
                "StartToClose",
                "ScheduleToStart",
                "ScheduleToClose",
                "Heartbeat",
            ];
            let long = [
                "TIMEOUT_TYPE_START_TO_CLOSE",
                "TIMEOUT_TYPE_SCHEDULE_TO_START",
                "TIMEOUT_TYPE_SCHEDULE_TO_CLOSE",
                "TIMEOUT_TYPE_HEARTBEAT",
            ];
            if !known.contains(&name) && !long.contains(&name) {
                return Err(format!("Invalid timeout type value: {name}."));
            }
        }
    }
    Ok(())
}

/// `initial × coefficient^(n−1)` capped at `maximumInterval`; a worker's `nextRetryDelay`
/// (non-zero) replaces it and is not capped. `failed_attempt` counts from 1.
pub fn backoff(
    p: &RetryPolicy,
    failed_attempt: i32,
    next_retry_delay: Option<Duration>,
) -> Duration {
    if let Some(d) = next_retry_delay.filter(|d| d.as_nanos() > 0) {
        return d;
    }
    let initial = p.initial_interval.unwrap_or_default();
    let exponent = failed_attempt.saturating_sub(1).max(0);
    let interval = initial.mul_f64(p.backoff_coefficient.powi(exponent));
    match p.maximum_interval {
        Some(max) if !max.is_zero() && (interval.as_nanos() <= 0 || interval > max) => max,
        _ => interval,
    }
}

/// What happens after an attempt failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    RetryAfter(Duration),
    Stop(RetryState),
}

/// Decides whether the attempt that just failed with `failure` is retried, and when.
/// `deadline` is the schedule-to-close deadline, if any.
pub fn decide(
    p: &RetryPolicy,
    failed_attempt: i32,
    failure: &Failure,
    now: Timestamp,
    deadline: Option<Timestamp>,
) -> Decision {
    if !is_retryable(p, failure) {
        return Decision::Stop(RetryState::NonRetryableFailure);
    }
    if p.maximum_attempts > 0 && failed_attempt >= p.maximum_attempts {
        return Decision::Stop(RetryState::MaximumAttemptsReached);
    }
    let next_retry_delay = failure
        .application_failure_info
        .as_ref()
        .and_then(|i| i.next_retry_delay);
    let interval = backoff(p, failed_attempt, next_retry_delay);
    // Standalone activities give up when the retry would start at or after the deadline.
    if deadline.is_some_and(|d| now.add(interval) >= d) {
        return Decision::Stop(RetryState::Timeout);
    }
    Decision::RetryAfter(interval)
}

/// Only the top-level failure is inspected, as Temporal does.
fn is_retryable(p: &RetryPolicy, f: &Failure) -> bool {
    if f.canceled_failure_info.is_some() || f.terminated_failure_info.is_some() {
        return false;
    }
    if f.server_failure_info
        .as_ref()
        .is_some_and(|s| s.non_retryable)
    {
        return false;
    }
    if let Some(app) = &f.application_failure_info {
        return !app.non_retryable && !p.non_retryable_error_types.contains(&app.r#type);
    }
    if let Some(t) = &f.timeout_failure_info {
        use waymark_api::TimeoutType::*;
        let name = match t.timeout_type {
            StartToClose => "StartToClose",
            Heartbeat => "Heartbeat",
            // Schedule-to-start and schedule-to-close are never retried.
            _ => return false,
        };
        let listed = format!("{TIMEOUT_TYPE_PREFIX}{name}");
        return !p.non_retryable_error_types.contains(&listed);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use waymark_api::{
        ApplicationFailureInfo, CanceledFailureInfo, TimeoutFailureInfo, TimeoutType,
    };

    fn secs(s: i64) -> Duration {
        Duration::from_secs(s)
    }
    fn ms(m: i64) -> Duration {
        Duration::from_millis(m)
    }
    fn app(kind: &str) -> Failure {
        Failure {
            message: "boom".into(),
            application_failure_info: Some(ApplicationFailureInfo {
                r#type: kind.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
    fn timeout(t: TimeoutType) -> Failure {
        Failure {
            message: "t".into(),
            timeout_failure_info: Some(TimeoutFailureInfo {
                timeout_type: t,
                last_heartbeat_details: None,
            }),
            ..Default::default()
        }
    }
    fn policy(initial: Duration, coefficient: f64, attempts: i32) -> RetryPolicy {
        with_defaults(Some(&RetryPolicy {
            initial_interval: Some(initial),
            backoff_coefficient: coefficient,
            maximum_attempts: attempts,
            ..Default::default()
        }))
    }
    const NOW: Timestamp = Timestamp::from_nanos(1_000_000_000_000);

    #[test]
    fn defaults_fill_every_absent_field() {
        let p = with_defaults(None);
        assert_eq!(p.initial_interval, Some(secs(1)));
        assert_eq!(p.backoff_coefficient, 2.0);
        assert_eq!(p.maximum_interval, Some(secs(100)));
        assert_eq!(p.maximum_attempts, 0);
    }

    #[test]
    fn maximum_interval_defaults_to_a_hundred_initial_intervals() {
        assert_eq!(policy(secs(3), 0.0, 0).maximum_interval, Some(secs(300)));
        assert_eq!(policy(ms(2), 0.0, 0).maximum_interval, Some(ms(200)));
    }

    #[test]
    fn explicit_fields_are_kept() {
        let p = with_defaults(Some(&RetryPolicy {
            backoff_coefficient: 3.0,
            maximum_interval: Some(secs(7)),
            ..Default::default()
        }));
        assert_eq!(
            (p.backoff_coefficient, p.maximum_interval),
            (3.0, Some(secs(7)))
        );
    }

    #[test]
    fn validation_messages_match_temporal() {
        let bad = |f: &dyn Fn(&mut RetryPolicy)| {
            let mut p = with_defaults(None);
            f(&mut p);
            validate(&p).unwrap_err()
        };
        assert_eq!(
            bad(&|p| p.backoff_coefficient = 0.5),
            "BackoffCoefficient cannot be less than 1 on retry policy."
        );
        assert_eq!(
            bad(&|p| p.initial_interval = Some(secs(-1))),
            "invalid InitialInterval set on retry policy: negative duration"
        );
        assert_eq!(
            bad(&|p| p.maximum_interval = Some(ms(10))),
            "MaximumInterval cannot be less than InitialInterval on retry policy."
        );
        assert_eq!(
            bad(&|p| p.maximum_attempts = -1),
            "MaximumAttempts cannot be negative on retry policy."
        );
        assert_eq!(
            bad(&|p| p.non_retryable_error_types = vec!["TemporalTimeout:Bogus".into()]),
            "Invalid timeout type value: Bogus."
        );
    }

    #[test]
    fn maximum_attempts_one_skips_all_other_checks() {
        let p = RetryPolicy {
            initial_interval: Some(secs(-1)),
            backoff_coefficient: 0.5,
            maximum_attempts: 1,
            ..Default::default()
        };
        assert!(validate(&p).is_ok());
    }

    #[test]
    fn long_timeout_names_validate() {
        let mut p = with_defaults(None);
        p.non_retryable_error_types = vec!["TemporalTimeout:TIMEOUT_TYPE_START_TO_CLOSE".into()];
        assert!(validate(&p).is_ok());
    }

    #[test]
    fn backoff_grows_exponentially_from_the_initial_interval() {
        let p = policy(secs(1), 2.0, 0);
        let got: Vec<_> = (1..=5).map(|n| backoff(&p, n, None)).collect();
        assert_eq!(got, vec![secs(1), secs(2), secs(4), secs(8), secs(16)]);
    }

    #[test]
    fn backoff_is_capped_at_the_maximum_interval() {
        let mut p = policy(secs(1), 2.0, 0);
        p.maximum_interval = Some(secs(5));
        assert_eq!(backoff(&p, 4, None), secs(5));
        assert_eq!(
            backoff(&p, 400, None),
            secs(5),
            "overflow clamps to the maximum"
        );
    }

    #[test]
    fn next_retry_delay_replaces_the_policy_and_ignores_the_cap() {
        let mut p = policy(secs(1), 2.0, 0);
        p.maximum_interval = Some(secs(2));
        assert_eq!(backoff(&p, 1, Some(ms(2500))), ms(2500));
        assert_eq!(backoff(&p, 1, Some(secs(60))), secs(60));
    }

    #[test]
    fn zero_next_retry_delay_is_treated_as_unset() {
        let p = policy(secs(1), 2.0, 0);
        assert_eq!(backoff(&p, 1, Some(Duration::ZERO)), secs(1));
    }

    #[test]
    fn a_retryable_failure_is_retried_after_the_backoff() {
        let p = policy(secs(1), 3.0, 0);
        assert_eq!(
            decide(&p, 2, &app("X"), NOW, None),
            Decision::RetryAfter(secs(3))
        );
    }

    #[test]
    fn maximum_attempts_counts_the_first_attempt() {
        let p = policy(secs(1), 2.0, 3);
        assert_eq!(
            decide(&p, 2, &app("X"), NOW, None),
            Decision::RetryAfter(secs(2))
        );
        assert_eq!(
            decide(&p, 3, &app("X"), NOW, None),
            Decision::Stop(RetryState::MaximumAttemptsReached)
        );
    }

    #[test]
    fn non_retryable_flag_and_listed_types_stop_retries() {
        let p = RetryPolicy {
            non_retryable_error_types: vec!["Fatal".into()],
            ..with_defaults(None)
        };
        let mut f = app("X");
        f.application_failure_info.as_mut().unwrap().non_retryable = true;
        assert_eq!(
            decide(&p, 1, &f, NOW, None),
            Decision::Stop(RetryState::NonRetryableFailure)
        );
        assert_eq!(
            decide(&p, 1, &app("Fatal"), NOW, None),
            Decision::Stop(RetryState::NonRetryableFailure)
        );
        assert_eq!(
            decide(&p, 1, &app("fatal"), NOW, None),
            Decision::RetryAfter(secs(1)),
            "case-sensitive"
        );
    }

    #[test]
    fn canceled_and_terminated_failures_are_not_retried() {
        let p = with_defaults(None);
        let f = Failure {
            canceled_failure_info: Some(CanceledFailureInfo::default()),
            ..Default::default()
        };
        assert_eq!(
            decide(&p, 1, &f, NOW, None),
            Decision::Stop(RetryState::NonRetryableFailure)
        );
    }

    #[test]
    fn only_the_top_level_failure_is_inspected() {
        let p = with_defaults(None);
        let mut inner = app("X");
        inner
            .application_failure_info
            .as_mut()
            .unwrap()
            .non_retryable = true;
        let outer = Failure {
            message: "wrap".into(),
            cause: Some(Box::new(inner)),
            ..Default::default()
        };
        assert_eq!(
            decide(&p, 1, &outer, NOW, None),
            Decision::RetryAfter(secs(1))
        );
    }

    #[test]
    fn start_to_close_and_heartbeat_timeouts_are_retried_unless_listed_by_short_name() {
        let mut p = with_defaults(None);
        let st2c = timeout(TimeoutType::StartToClose);
        assert_eq!(
            decide(&p, 1, &st2c, NOW, None),
            Decision::RetryAfter(secs(1))
        );
        p.non_retryable_error_types = vec!["TemporalTimeout:TIMEOUT_TYPE_START_TO_CLOSE".into()];
        assert_eq!(
            decide(&p, 1, &st2c, NOW, None),
            Decision::RetryAfter(secs(1)),
            "long names never match"
        );
        p.non_retryable_error_types = vec!["TemporalTimeout:StartToClose".into()];
        assert_eq!(
            decide(&p, 1, &st2c, NOW, None),
            Decision::Stop(RetryState::NonRetryableFailure)
        );
        p.non_retryable_error_types = vec!["TemporalTimeout:Heartbeat".into()];
        let hb = timeout(TimeoutType::Heartbeat);
        assert_eq!(
            decide(&p, 1, &hb, NOW, None),
            Decision::Stop(RetryState::NonRetryableFailure)
        );
    }

    #[test]
    fn schedule_timeouts_are_never_retried() {
        let p = with_defaults(None);
        for t in [TimeoutType::ScheduleToStart, TimeoutType::ScheduleToClose] {
            assert_eq!(
                decide(&p, 1, &timeout(t), NOW, None),
                Decision::Stop(RetryState::NonRetryableFailure)
            );
        }
    }

    #[test]
    fn a_retry_that_would_reach_the_schedule_to_close_deadline_is_refused() {
        let p = policy(secs(10), 2.0, 0);
        assert_eq!(
            decide(&p, 1, &app("X"), NOW, Some(NOW.add(secs(5)))),
            Decision::Stop(RetryState::Timeout)
        );
        assert_eq!(
            decide(&p, 1, &app("X"), NOW, Some(NOW.add(secs(10)))),
            Decision::Stop(RetryState::Timeout)
        );
        assert_eq!(
            decide(&p, 1, &app("X"), NOW, Some(NOW.add(secs(11)))),
            Decision::RetryAfter(secs(10))
        );
    }

    #[test]
    fn maximum_attempts_is_checked_before_the_deadline() {
        let p = policy(secs(10), 2.0, 1);
        assert_eq!(
            decide(&p, 1, &app("X"), NOW, Some(NOW.add(secs(5)))),
            Decision::Stop(RetryState::MaximumAttemptsReached)
        );
    }
}
