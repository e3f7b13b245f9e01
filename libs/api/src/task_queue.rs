//! Task queues: `DescribeTaskQueue` (pollers, backlog, the rate limit in force) and
//! `UpdateTaskQueueConfig` (the queue's API rate limit), as Temporal prints them (SEMANTICS §11.1).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::duration::Duration;
use crate::enums::{RateLimitSource, TaskQueueType};
use crate::identity;
use crate::protojson::is_default;
use crate::timestamp::Timestamp;

/// `temporal.api.taskqueue.v1.RateLimit`. Zero is a limit too: it pauses dispatch (printed `{}`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimit {
    #[schema(schema_with = crate::schema::float)]
    #[serde(
        alias = "requests_per_second",
        with = "float",
        skip_serializing_if = "is_default"
    )]
    pub requests_per_second: f32,
}

/// Who changed a config, when and why.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigMetadata {
    #[serde(skip_serializing_if = "is_default")]
    pub reason: String,
    #[serde(alias = "update_identity", skip_serializing_if = "is_default")]
    pub update_identity: String,
    #[serde(alias = "update_time", skip_serializing_if = "Option::is_none")]
    pub update_time: Option<Timestamp>,
}

/// A limit set through the API. Removing it keeps the metadata of the removal, without `rateLimit`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimitConfig {
    #[serde(alias = "rate_limit", skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ConfigMetadata>,
}

/// `temporal.api.taskqueue.v1.TaskQueueConfig`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskQueueConfig {
    /// Tasks a second the whole queue dispatches (activity queues).
    #[serde(alias = "queue_rate_limit", skip_serializing_if = "Option::is_none")]
    pub queue_rate_limit: Option<RateLimitConfig>,
    /// Tasks a second each fairness key dispatches (activity queues).
    #[serde(
        alias = "fairness_keys_rate_limit_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub fairness_keys_rate_limit_default: Option<RateLimitConfig>,
    /// Weights that replace the `fairnessWeight` tasks of these fairness keys carry.
    #[serde(
        alias = "fairness_weight_overrides",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub fairness_weight_overrides: BTreeMap<String, f32>,
}

/// One setting's change: with `rateLimit` it sets the limit, without it removes the limit.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimitUpdate {
    #[serde(alias = "rate_limit", skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    #[serde(skip_serializing_if = "is_default")]
    pub reason: String,
}

/// Body of `POST /namespaces/{ns}/task-queues/{taskQueue}/update-config`; the URL names the
/// namespace and queue. Unset settings stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateTaskQueueConfigRequest {
    #[serde(skip_serializing_if = "is_default")]
    pub namespace: String,
    #[serde(skip_serializing_if = "is_default")]
    #[serde(default = "identity::caller", deserialize_with = "identity::or_caller")]
    pub identity: String,
    #[serde(alias = "task_queue", skip_serializing_if = "is_default")]
    pub task_queue: String,
    #[serde(alias = "task_queue_type", skip_serializing_if = "is_default")]
    pub task_queue_type: TaskQueueType,
    #[serde(
        alias = "update_queue_rate_limit",
        skip_serializing_if = "Option::is_none"
    )]
    pub update_queue_rate_limit: Option<RateLimitUpdate>,
    /// Sets (with `rateLimit`) or removes the rate limit of each fairness key.
    #[serde(
        alias = "update_fairness_key_rate_limit_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub update_fairness_key_rate_limit_default: Option<RateLimitUpdate>,
    /// Weights to use for these fairness keys instead of their tasks' (at most 1000 a queue).
    #[serde(
        alias = "set_fairness_weight_overrides",
        skip_serializing_if = "is_default"
    )]
    pub set_fairness_weight_overrides: BTreeMap<String, f32>,
    /// Fairness keys whose override is removed.
    #[serde(
        alias = "unset_fairness_weight_overrides",
        skip_serializing_if = "is_default"
    )]
    pub unset_fairness_weight_overrides: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct UpdateTaskQueueConfigResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<TaskQueueConfig>,
}

/// Query string of `GET /namespaces/{ns}/task-queues/{taskQueue}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, rename_all = "camelCase")]
pub struct DescribeTaskQueueQuery {
    /// Which of the queue's two halves: `TASK_QUEUE_TYPE_WORKFLOW` (the default, as in
    /// Temporal: a queue named without a type is its workflow tasks') or
    /// `TASK_QUEUE_TYPE_ACTIVITY`.
    #[serde(alias = "task_queue_type", skip_serializing_if = "is_default")]
    pub task_queue_type: TaskQueueType,
    /// Adds `stats` (the backlog).
    #[serde(alias = "report_stats", skip_serializing_if = "is_default")]
    pub report_stats: bool,
    /// Adds `config`.
    #[serde(alias = "report_config", skip_serializing_if = "is_default")]
    pub report_config: bool,
}

/// `GET /namespaces/{ns}/task-queues`: the namespace's queues used within the last five
/// minutes (a task added or a poll), most recently used first, one entry per queue and type. A
/// Waymark addition: Temporal has no such call.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ListTaskQueuesResponse {
    #[serde(skip_serializing_if = "is_default")]
    pub task_queues: Vec<TaskQueueSummary>,
}

/// One queue of one type: its backlog and how many workers polled it lately.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct TaskQueueSummary {
    pub name: String,
    pub task_queue_type: TaskQueueType,
    /// When a task was last added or a worker last polled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_access_time: Option<Timestamp>,
    pub stats: TaskQueueStats,
    /// Workers that polled within the last five minutes.
    pub poller_count: i32,
}

/// A worker that polled the queue lately (`temporal.api.taskqueue.v1.PollerInfo`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct PollerInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_access_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "is_default")]
    pub identity: String,
    /// The poller's own `maxTasksPerSecond`.
    #[serde(with = "crate::protojson::double", skip_serializing_if = "is_default")]
    pub rate_per_second: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct TaskQueueStats {
    #[schema(schema_with = crate::schema::int64)]
    #[serde(
        with = "crate::protojson::int64_as_string",
        skip_serializing_if = "is_default"
    )]
    pub approximate_backlog_count: i64,
    /// How long the oldest waiting task has waited; `"0s"` without a backlog.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approximate_backlog_age: Option<Duration>,
    /// How many fairness keys have tasks waiting (Waymark's; Temporal does not report it).
    #[serde(skip_serializing_if = "is_default")]
    pub fairness_keys_with_backlog: i32,
}

/// The limit dispatch follows, and where it comes from. An unlimited rate prints `"Infinity"`,
/// as protojson prints an infinite float.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct EffectiveRateLimit {
    #[schema(schema_with = crate::schema::float)]
    #[serde(with = "float", skip_serializing_if = "is_default")]
    pub requests_per_second: f32,
    #[serde(skip_serializing_if = "is_default")]
    pub rate_limit_source: RateLimitSource,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct DescribeTaskQueueResponse {
    #[serde(skip_serializing_if = "is_default")]
    pub pollers: Vec<PollerInfo>,
    /// With `reportStats` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<TaskQueueStats>,
    /// With `reportStats` only: the stats of each priority level that has a backlog.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub stats_by_priority_key: BTreeMap<i32, TaskQueueStats>,
    /// With `reportConfig`, when a config was ever set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<TaskQueueConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_rate_limit: Option<EffectiveRateLimit>,
}

/// protojson `float`: integral values without a fraction, infinities and NaN as the strings
/// protojson uses (`"Infinity"`, `"-Infinity"`, `"NaN"`); accepted as a number or those strings.
pub mod float {
    use serde::de::{self, Deserializer, Visitor};
    use serde::ser::Serializer;
    use std::fmt;

    /// Largest integer an f32 holds exactly.
    const EXACT: f32 = 16_777_216.0;

    pub fn serialize<S: Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
        match *v {
            v if v.is_nan() => s.serialize_str("NaN"),
            f32::INFINITY => s.serialize_str("Infinity"),
            f32::NEG_INFINITY => s.serialize_str("-Infinity"),
            v if v.fract() == 0.0 && v.abs() < EXACT => s.serialize_i64(v as i64),
            v => s.serialize_f32(v),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
        d.deserialize_any(FloatVisitor)
    }

    struct FloatVisitor;

    impl Visitor<'_> for FloatVisitor {
        type Value = f32;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a float as a number, \"Infinity\", \"-Infinity\" or \"NaN\"")
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f32, E> {
            Ok(v as f32)
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f32, E> {
            Ok(v as f32)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f32, E> {
            Ok(v as f32)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<f32, E> {
            match v {
                "Infinity" => Ok(f32::INFINITY),
                "-Infinity" => Ok(f32::NEG_INFINITY),
                "NaN" => Ok(f32::NAN),
                _ => v
                    .parse()
                    .map_err(|_| E::custom(format!("invalid value for float type: \"{v}\""))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_update_parses_and_a_removal_has_no_rate_limit() {
        let r: UpdateTaskQueueConfigRequest = serde_json::from_value(json!({
            "taskQueueType": "TASK_QUEUE_TYPE_ACTIVITY", "identity": "me",
            "updateQueueRateLimit": {"rateLimit": {"requestsPerSecond": 2.5}, "reason": "slow down"}
        }))
        .unwrap();
        assert_eq!(r.task_queue_type, TaskQueueType::Activity);
        let update = r.update_queue_rate_limit.unwrap();
        assert_eq!(
            (
                update.rate_limit.unwrap().requests_per_second,
                update.reason.as_str()
            ),
            (2.5, "slow down")
        );
        let r: UpdateTaskQueueConfigRequest =
            serde_json::from_value(json!({"updateQueueRateLimit": {}})).unwrap();
        assert_eq!(r.update_queue_rate_limit, Some(RateLimitUpdate::default()));
        let err = serde_json::from_value::<UpdateTaskQueueConfigRequest>(json!({"bogusField": 1}))
            .unwrap_err();
        assert!(
            err.to_string().contains("unknown field `bogusField`"),
            "{err}"
        );
    }

    #[test]
    fn a_config_prints_like_temporal() {
        let config = TaskQueueConfig {
            queue_rate_limit: Some(RateLimitConfig {
                rate_limit: Some(RateLimit {
                    requests_per_second: 5.0,
                }),
                metadata: Some(ConfigMetadata {
                    reason: "r".into(),
                    update_identity: "me".into(),
                    update_time: Some(Timestamp::from_unix_millis(1_000)),
                }),
            }),
            fairness_keys_rate_limit_default: Some(RateLimitConfig::default()),
            fairness_weight_overrides: BTreeMap::from([("vip".into(), 2.5)]),
        };
        assert_eq!(
            serde_json::to_value(&config).unwrap(),
            json!({"queueRateLimit": {"rateLimit": {"requestsPerSecond": 5},
                "metadata": {"reason": "r", "updateIdentity": "me", "updateTime": "1970-01-01T00:00:01Z"}},
                "fairnessKeysRateLimitDefault": {}, "fairnessWeightOverrides": {"vip": 2.5}})
        );
        let paused = RateLimitConfig {
            rate_limit: Some(RateLimit::default()),
            metadata: None,
        };
        assert_eq!(
            serde_json::to_string(&paused).unwrap(),
            r#"{"rateLimit":{}}"#
        );
        let back: TaskQueueConfig =
            serde_json::from_value(serde_json::to_value(&config).unwrap()).unwrap();
        assert_eq!(back, config);
    }

    #[test]
    fn a_description_prints_int64_strings_durations_and_infinity() {
        let d = DescribeTaskQueueResponse {
            pollers: vec![PollerInfo {
                identity: "w".into(),
                rate_per_second: 2.5,
                ..Default::default()
            }],
            stats: Some(TaskQueueStats {
                approximate_backlog_count: 3,
                approximate_backlog_age: Some(Duration::from_millis(1_500)),
                fairness_keys_with_backlog: 2,
            }),
            stats_by_priority_key: BTreeMap::from([(
                1,
                TaskQueueStats {
                    approximate_backlog_count: 3,
                    approximate_backlog_age: Some(Duration::from_millis(1_500)),
                    ..TaskQueueStats::default()
                },
            )]),
            config: None,
            effective_rate_limit: Some(EffectiveRateLimit {
                requests_per_second: f32::INFINITY,
                rate_limit_source: RateLimitSource::System,
            }),
        };
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(
            json,
            json!({
                "pollers": [{"identity": "w", "ratePerSecond": 2.5}],
                "stats": {"approximateBacklogCount": "3", "approximateBacklogAge": "1.500s", "fairnessKeysWithBacklog": 2},
                "statsByPriorityKey": {"1": {"approximateBacklogCount": "3", "approximateBacklogAge": "1.500s"}},
                "effectiveRateLimit": {"requestsPerSecond": "Infinity", "rateLimitSource": "RATE_LIMIT_SOURCE_SYSTEM"}
            })
        );
        assert_eq!(
            serde_json::from_value::<DescribeTaskQueueResponse>(json).unwrap(),
            d
        );
    }

    #[test]
    fn floats_print_shortest_and_integral_without_a_fraction() {
        let print = |v: f32| {
            serde_json::to_string(&RateLimit {
                requests_per_second: v,
            })
            .unwrap()
        };
        assert_eq!(print(0.1), r#"{"requestsPerSecond":0.1}"#);
        assert_eq!(print(2.0), r#"{"requestsPerSecond":2}"#);
        assert_eq!(print(0.0), "{}");
        let parse = |s: &str| serde_json::from_str::<RateLimit>(s).map(|r| r.requests_per_second);
        assert_eq!(
            parse(r#"{"requestsPerSecond":"Infinity"}"#).unwrap(),
            f32::INFINITY
        );
        assert_eq!(parse(r#"{"requests_per_second":-1}"#).unwrap(), -1.0);
        assert!(parse(r#"{"requestsPerSecond":"fast"}"#).is_err());
    }
}
