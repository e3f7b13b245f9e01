//! Temporal enums, printed by full proto name and accepted by name or number.

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use std::fmt;

macro_rules! proto_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $prefix:literal {
            $($variant:ident = $num:literal => $suffix:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
        #[repr(i32)]
        pub enum $name {
            #[default]
            $($variant = $num,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The wire name, e.g. `"TIMEOUT_TYPE_START_TO_CLOSE"`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => concat!($prefix, $suffix),)+
                }
            }

            pub const fn as_i32(self) -> i32 {
                self as i32
            }

            pub fn from_i32(n: i32) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_i32() == n)
            }

            pub fn from_name(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == name)
            }

            pub fn is_unspecified(self) -> bool {
                self == Self::default()
            }

            /// The name in CamelCase without the prefix (`ScheduleActivityTask`), as messages use it.
            pub fn camel_name(self) -> String {
                $crate::enums::camel(&self.as_str()[$prefix.len()..])
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                Self::from_name(s).ok_or_else(|| $crate::enums::invalid_enum(s))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any($crate::enums::EnumVisitor::<$name>(Self::from_name, Self::from_i32))
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::schema::proto_enum(
                    &[$(concat!($prefix, $suffix),)+],
                    &[$($num,)+],
                    concat!("`", $prefix, "*`: written by name; read by name or by number"),
                )
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
        }
    };
}

/// For the other wire modules' enums.
pub(crate) use proto_enum;

/// `SCHEDULE_ACTIVITY_TASK` → `ScheduleActivityTask`.
pub(crate) fn camel(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_string() + &c.as_str().to_lowercase())
                .unwrap_or_default()
        })
        .collect()
}

pub(crate) fn invalid_enum(value: impl fmt::Display) -> String {
    format!("invalid value for enum type: \"{value}\"")
}

/// Accepts an enum by proto name or by number, as protojson does.
pub(crate) struct EnumVisitor<T>(
    pub(crate) fn(&str) -> Option<T>,
    pub(crate) fn(i32) -> Option<T>,
);

impl<T> de::Visitor<'_> for EnumVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an enum name or number")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        // Query strings carry numbers as text too.
        (self.0)(v)
            .or_else(|| v.parse().ok().and_then(self.1))
            .ok_or_else(|| E::custom(invalid_enum(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        i32::try_from(v)
            .ok()
            .and_then(self.1)
            .ok_or_else(|| E::custom(invalid_enum(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        i32::try_from(v)
            .ok()
            .and_then(self.1)
            .ok_or_else(|| E::custom(invalid_enum(v)))
    }
}

proto_enum! {
    TimeoutType, "TIMEOUT_TYPE_" {
        Unspecified = 0 => "UNSPECIFIED",
        StartToClose = 1 => "START_TO_CLOSE",
        ScheduleToStart = 2 => "SCHEDULE_TO_START",
        ScheduleToClose = 3 => "SCHEDULE_TO_CLOSE",
        Heartbeat = 4 => "HEARTBEAT",
    }
}

proto_enum! {
    RetryState, "RETRY_STATE_" {
        Unspecified = 0 => "UNSPECIFIED",
        InProgress = 1 => "IN_PROGRESS",
        NonRetryableFailure = 2 => "NON_RETRYABLE_FAILURE",
        Timeout = 3 => "TIMEOUT",
        MaximumAttemptsReached = 4 => "MAXIMUM_ATTEMPTS_REACHED",
        RetryPolicyNotSet = 5 => "RETRY_POLICY_NOT_SET",
        InternalServerError = 6 => "INTERNAL_SERVER_ERROR",
        CancelRequested = 7 => "CANCEL_REQUESTED",
    }
}

proto_enum! {
    /// The public status of a standalone activity.
    ActivityExecutionStatus, "ACTIVITY_EXECUTION_STATUS_" {
        Unspecified = 0 => "UNSPECIFIED",
        Running = 1 => "RUNNING",
        Completed = 2 => "COMPLETED",
        Failed = 3 => "FAILED",
        Canceled = 4 => "CANCELED",
        Terminated = 5 => "TERMINATED",
        TimedOut = 6 => "TIMED_OUT",
        Paused = 7 => "PAUSED",
    }
}

proto_enum! {
    /// The `runState` of an activity that has not closed.
    PendingActivityState, "PENDING_ACTIVITY_STATE_" {
        Unspecified = 0 => "UNSPECIFIED",
        Scheduled = 1 => "SCHEDULED",
        Started = 2 => "STARTED",
        CancelRequested = 3 => "CANCEL_REQUESTED",
        Paused = 4 => "PAUSED",
        PauseRequested = 5 => "PAUSE_REQUESTED",
    }
}

proto_enum! {
    ActivityIdReusePolicy, "ACTIVITY_ID_REUSE_POLICY_" {
        Unspecified = 0 => "UNSPECIFIED",
        AllowDuplicate = 1 => "ALLOW_DUPLICATE",
        AllowDuplicateFailedOnly = 2 => "ALLOW_DUPLICATE_FAILED_ONLY",
        RejectDuplicate = 3 => "REJECT_DUPLICATE",
    }
}

proto_enum! {
    ActivityIdConflictPolicy, "ACTIVITY_ID_CONFLICT_POLICY_" {
        Unspecified = 0 => "UNSPECIFIED",
        Fail = 1 => "FAIL",
        UseExisting = 2 => "USE_EXISTING",
    }
}

proto_enum! {
    TaskQueueKind, "TASK_QUEUE_KIND_" {
        Unspecified = 0 => "UNSPECIFIED",
        Normal = 1 => "NORMAL",
        Sticky = 2 => "STICKY",
    }
}

proto_enum! {
    NamespaceState, "NAMESPACE_STATE_" {
        Unspecified = 0 => "UNSPECIFIED",
        Registered = 1 => "REGISTERED",
        Deprecated = 2 => "DEPRECATED",
        Deleted = 3 => "DELETED",
    }
}

proto_enum! {
    TaskQueueType, "TASK_QUEUE_TYPE_" {
        Unspecified = 0 => "UNSPECIFIED",
        Workflow = 1 => "WORKFLOW",
        Activity = 2 => "ACTIVITY",
        Nexus = 3 => "NEXUS",
    }
}

proto_enum! {
    /// Where a task queue's effective rate limit comes from.
    RateLimitSource, "RATE_LIMIT_SOURCE_" {
        Unspecified = 0 => "UNSPECIFIED",
        Api = 1 => "API",
        Worker = 2 => "WORKER",
        System = 3 => "SYSTEM",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_print_full_proto_names() {
        assert_eq!(
            serde_json::to_string(&ActivityExecutionStatus::Running).unwrap(),
            "\"ACTIVITY_EXECUTION_STATUS_RUNNING\""
        );
        assert_eq!(
            TimeoutType::ScheduleToClose.as_str(),
            "TIMEOUT_TYPE_SCHEDULE_TO_CLOSE"
        );
        assert_eq!(RetryState::CancelRequested.as_i32(), 7);
        assert_eq!(
            PendingActivityState::PauseRequested.to_string(),
            "PENDING_ACTIVITY_STATE_PAUSE_REQUESTED"
        );
        assert!(TaskQueueKind::default().is_unspecified());
        assert!(!ActivityIdConflictPolicy::UseExisting.is_unspecified());
    }

    #[test]
    fn enums_accept_names_and_numbers() {
        let parse = |s: &str| serde_json::from_str::<ActivityIdReusePolicy>(s);
        assert_eq!(
            parse("\"ACTIVITY_ID_REUSE_POLICY_REJECT_DUPLICATE\"").unwrap(),
            ActivityIdReusePolicy::RejectDuplicate
        );
        assert_eq!(
            parse("2").unwrap(),
            ActivityIdReusePolicy::AllowDuplicateFailedOnly
        );
        assert!(parse("9").is_err());
    }

    #[test]
    fn invalid_enum_name_is_reported_like_protojson() {
        let err = serde_json::from_str::<TimeoutType>("\"X\"").unwrap_err();
        assert!(
            err.to_string()
                .contains("invalid value for enum type: \"X\""),
            "{err}"
        );
        assert_eq!(
            "X".parse::<RetryState>(),
            Err("invalid value for enum type: \"X\"".to_string())
        );
    }
}
