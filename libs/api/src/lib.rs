//! Waymark's wire types: serde JSON exactly as Temporal's HTTP API (grpc-gateway protojson)
//! prints and accepts it, plus the API error body and its HTTP status table. Every type also
//! describes itself as an OpenAPI schema (`utoipa::ToSchema`, `schema` for the hand-written ones).

pub mod activity;
pub mod api_key;
pub mod common;
pub mod decode;
pub mod duration;
pub mod enums;
pub mod error;
pub mod failure;
pub mod identity;
pub mod namespace;
pub mod payload;
pub mod protojson;
pub mod schema;
pub mod task_queue;
pub mod timestamp;
pub mod workflow;

pub use activity::*;
pub use api_key::{
    ApiKeyInfo, CreateApiKeyRequest, CreateApiKeyResponse, ListApiKeysQuery, ListApiKeysResponse,
};
pub use common::{
    ActivityType, Header, Link, Memo, Priority, RetryPolicy, SearchAttributes, TaskQueue,
    UserMetadata, WorkflowExecution, WorkflowType,
};
pub use duration::Duration;
pub use enums::{
    ActivityExecutionStatus, ActivityIdConflictPolicy, ActivityIdReusePolicy, NamespaceState,
    PendingActivityState, RateLimitSource, RetryState, TaskQueueKind, TaskQueueType, TimeoutType,
};
pub use error::{ApiError, Code};
pub use failure::{
    ApplicationFailureInfo, CanceledFailureInfo, Failure, ServerFailureInfo, TerminatedFailureInfo,
    TimeoutFailureInfo,
};
pub use namespace::{
    ActivityMinuteStats, ActivityThroughputResponse, DescribeNamespaceResponse,
    ListNamespacesQuery, ListNamespacesResponse, NamespaceChangesQuery, NamespaceChangesResponse,
    NamespaceConfig, NamespaceInfo, RegisterNamespaceRequest, UpdateNamespaceInfo,
    UpdateNamespaceRequest,
};
pub use payload::{Payload, Payloads};
pub use protojson::int64_as_string;
// `task_queue::PollerInfo` stays in its module: `waymark_clients::PollerInfo` is another thing.
pub use task_queue::{
    ConfigMetadata, DescribeTaskQueueQuery, DescribeTaskQueueResponse, EffectiveRateLimit,
    ListTaskQueuesResponse, RateLimit, RateLimitConfig, RateLimitUpdate, TaskQueueConfig,
    TaskQueueStats, TaskQueueSummary, UpdateTaskQueueConfigRequest, UpdateTaskQueueConfigResponse,
};
pub use timestamp::Timestamp;
