//! Authentication and authorization rules: the API key format, how a key's secret is stored and
//! checked, the roles a key grants, and the one table of what every operation (HTTP operationId
//! or gRPC method, which share their names) requires. Pure: randomness comes in as an argument.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::LazyLock;

pub mod jwt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Every key value starts with this, so that secret scanners and people recognise one.
pub const KEY_PREFIX: &str = "wmk_";
/// Bytes of a key's id (written as lowercase hex).
pub const ID_BYTES: usize = 8;
/// Bytes of a key's secret: 256 random bits (written as unpadded base64url).
pub const SECRET_BYTES: usize = 32;
/// The role name of the system administrator, which `namespace` does not qualify.
pub const SYSTEM_ADMIN: &str = "system:admin";

/// A key value taken apart. `Debug` never prints the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    secret: [u8; SECRET_BYTES],
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({}, ..)", self.id)
    }
}

/// Why a string is not a key value. The value itself is never part of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    #[error("an API key has the form wmk_<id>_<secret>")]
    Malformed,
}

impl ApiKey {
    /// A new key from random bytes the caller drew.
    pub fn from_random(id: [u8; ID_BYTES], secret: [u8; SECRET_BYTES]) -> Self {
        let id = id.iter().map(|b| format!("{b:02x}")).collect();
        ApiKey { id, secret }
    }

    pub fn parse(value: &str) -> Result<Self, KeyFormatError> {
        let rest = value
            .strip_prefix(KEY_PREFIX)
            .ok_or(KeyFormatError::Malformed)?;
        let (id, secret) = rest.split_once('_').ok_or(KeyFormatError::Malformed)?;
        let hex_id = id.len() == 2 * ID_BYTES
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex_id {
            return Err(KeyFormatError::Malformed);
        }
        let secret = URL_SAFE_NO_PAD
            .decode(secret)
            .ok()
            .and_then(|bytes| <[u8; SECRET_BYTES]>::try_from(bytes).ok())
            .ok_or(KeyFormatError::Malformed)?;
        Ok(ApiKey {
            id: id.to_owned(),
            secret,
        })
    }

    /// The key value, shown to its creator once.
    pub fn value(&self) -> String {
        format!(
            "{KEY_PREFIX}{}_{}",
            self.id,
            URL_SAFE_NO_PAD.encode(self.secret)
        )
    }

    /// What the store keeps: SHA-256 of the secret, in hex. A plain hash is enough: the secret
    /// is 256 random bits, so no dictionary or brute force applies.
    pub fn hash(&self) -> String {
        Sha256::digest(self.secret)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether the secret matches a stored hash, in constant time.
    pub fn matches(&self, stored_hash: &str) -> bool {
        Self::hash_matches(&self.hash(), stored_hash)
    }

    /// Whether two hashes are equal, in constant time.
    pub fn hash_matches(hash: &str, stored_hash: &str) -> bool {
        hash.as_bytes().ct_eq(stored_hash.as_bytes()).into()
    }
}

/// The credentials of an `Authorization` header's value `Bearer <token>` (the scheme's case
/// does not matter, RFC 9110 §11.1).
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// A role within one namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Describe, list, count, history, outcome, task-queue describe.
    Reader,
    /// Poll, heartbeat, complete, fail, resolve as cancelled; nothing else.
    Worker,
    /// Reader and worker, plus start, signal, cancel, terminate and operator commands.
    Writer,
    /// Writer, plus namespace and task-queue configuration and the namespace's keys.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Reader, Role::Worker, Role::Writer, Role::Admin];

    pub fn name(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Worker => "worker",
            Role::Writer => "writer",
            Role::Admin => "admin",
        }
    }

    fn allows(self, action: Action) -> bool {
        match (self, action) {
            (_, Action::Connect) => true,
            (Role::Reader, a) => a == Action::Read,
            (Role::Worker, a) => a == Action::Work,
            (Role::Writer, a) => a != Action::Admin,
            (Role::Admin, _) => true,
        }
    }
}

/// What a caller is allowed: roles in some namespaces, or everything. An API key holds one
/// role in one namespace; a JWT may carry several.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Grant {
    /// Each `(namespace, role)` held. Two roles in one namespace allow what either allows
    /// (like Temporal's role bits): reader and worker together read and work.
    Namespaces(BTreeSet<(String, Role)>),
    SystemAdmin,
}

/// Why a grant's stored or requested form is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("unknown role {0:?}: expected reader, worker, writer, admin or system:admin")]
    UnknownRole(String),
    #[error("role {0} needs a namespace")]
    NamespaceRequired(&'static str),
    #[error("role system:admin takes no namespace, got {0:?}")]
    NamespaceNotAllowed(String),
}

impl Grant {
    /// From the stored or requested `(namespace, role)`; system:admin has an empty namespace.
    pub fn new(namespace: &str, role: &str) -> Result<Self, GrantError> {
        if role == SYSTEM_ADMIN {
            return match namespace {
                "" => Ok(Grant::SystemAdmin),
                ns => Err(GrantError::NamespaceNotAllowed(ns.to_owned())),
            };
        }
        let role = Role::ALL
            .into_iter()
            .find(|r| r.name() == role)
            .ok_or_else(|| GrantError::UnknownRole(role.to_owned()))?;
        if namespace.is_empty() {
            return Err(GrantError::NamespaceRequired(role.name()));
        }
        Ok(Grant::Namespaces(BTreeSet::from([(
            namespace.to_owned(),
            role,
        )])))
    }

    /// The one namespace this grant holds roles in (an API key's), if there is exactly one.
    pub fn sole_namespace(&self) -> Option<&str> {
        let Grant::Namespaces(roles) = self else {
            return None;
        };
        let mut names = roles.iter().map(|(ns, _)| ns.as_str());
        let first = names.next()?;
        names.all(|ns| ns == first).then_some(first)
    }

    /// Whether this grant holds any role in `ns` (a namespace it may learn exists).
    pub fn sees(&self, ns: &str) -> bool {
        self.allows(ns, Action::Connect)
    }

    /// Whether this grant administers some namespace, or everything.
    pub fn administers_any(&self) -> bool {
        match self {
            Grant::SystemAdmin => true,
            Grant::Namespaces(roles) => roles.iter().any(|(_, role)| *role == Role::Admin),
        }
    }

    /// Whether this grant may do `action` in namespace `ns`.
    pub fn allows(&self, ns: &str, action: Action) -> bool {
        match self {
            Grant::SystemAdmin => true,
            Grant::Namespaces(roles) => roles
                .iter()
                .any(|(namespace, role)| namespace == ns && role.allows(action)),
        }
    }

    /// Whether an operation needing `need` in namespace `ns` (empty when the operation names
    /// none) is allowed. `Authenticated` operations check their target themselves.
    pub fn permits(&self, need: Need, ns: &str) -> bool {
        match need {
            Need::Open | Need::Authenticated => true,
            Need::System => *self == Grant::SystemAdmin,
            Need::Namespace(action) => self.allows(ns, action),
        }
    }

    /// Whether this grant may manage (create, list, disable, enable, delete) keys of `target`:
    /// it administers every namespace of the target, so that a key never creates a key with
    /// more power than its own.
    pub fn may_manage(&self, target: &Grant) -> bool {
        match (self, target) {
            (Grant::SystemAdmin, _) => true,
            (Grant::Namespaces(_), Grant::SystemAdmin) => false,
            (Grant::Namespaces(_), Grant::Namespaces(roles)) => roles
                .iter()
                .all(|(namespace, _)| self.allows(namespace, Action::Admin)),
        }
    }
}

/// What an operation does within its namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Learn that the namespace is there (describe it): every role of the namespace.
    Connect,
    Read,
    Work,
    Write,
    Admin,
}

/// What an operation requires of its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Need {
    /// No key at all (health checks).
    Open,
    /// Any valid key; the operation filters or checks its targets itself (key management,
    /// namespace list, server info).
    Authenticated,
    /// An action in the namespace the request names.
    Namespace(Action),
    /// The system administrator.
    System,
}

/// Every operation of the API, by HTTP operationId and gRPC `WorkflowService` method name (the
/// two share their names), with what it requires. A test walks the OpenAPI document and the
/// gRPC service and fails on any operation missing here.
const OPERATIONS: &[(Need, &[&str])] = &[
    (Need::Open, &["Health", "Ready"]),
    // Metrics label namespaces and task queues: all of them, so only a system admin reads them
    // (unless `--open-metrics`).
    (Need::System, &["Metrics"]),
    (
        Need::Authenticated,
        &[
            // The Swagger page and the OpenAPI document (open unless `--open-docs=false`).
            "Docs",
            "GetSystemInfo",
            "GetClusterInfo",
            "ListNamespaces",
            "CreateApiKey",
            "ListApiKeys",
            "DescribeApiKey",
            "DisableApiKey",
            "EnableApiKey",
            "DeleteApiKey",
        ],
    ),
    (Need::System, &["RegisterNamespace", "DeprecateNamespace"]),
    (Need::Namespace(Action::Connect), &["DescribeNamespace"]),
    (
        Need::Namespace(Action::Read),
        &[
            "GetWorkflowExecutionHistory",
            "GetWorkflowExecutionHistoryReverse",
            "ListOpenWorkflowExecutions",
            "ListClosedWorkflowExecutions",
            "ListWorkflowExecutions",
            "ListArchivedWorkflowExecutions",
            "ScanWorkflowExecutions",
            "CountWorkflowExecutions",
            "GetSearchAttributes",
            "QueryWorkflow",
            "DescribeWorkflowExecution",
            "PollWorkflowExecutionUpdate",
            "DescribeTaskQueue",
            "ListTaskQueues",
            "ListTaskQueuePartitions",
            "DescribeSchedule",
            "ListScheduleMatchingTimes",
            "ListSchedules",
            "CountSchedules",
            "GetWorkerBuildIdCompatibility",
            "GetWorkerVersioningRules",
            "GetWorkerTaskReachability",
            "DescribeDeployment",
            "DescribeWorkerDeploymentVersion",
            "ListDeployments",
            "GetDeploymentReachability",
            "GetCurrentDeployment",
            "DescribeWorkerDeployment",
            "ListWorkerDeployments",
            "DescribeBatchOperation",
            "ListBatchOperations",
            "DescribeWorkflowRule",
            "ListWorkflowRules",
            "ListWorkers",
            "CountWorkers",
            "DescribeWorker",
            "DescribeActivityExecution",
            "PollActivityExecution",
            "ListActivityExecutions",
            "CountActivityExecutions",
            "GetActivityThroughput",
            "PollNamespaceChanges",
            "DescribeNexusOperationExecution",
            "PollNexusOperationExecution",
            "ListNexusOperationExecutions",
            "CountNexusOperationExecutions",
        ],
    ),
    (
        Need::Namespace(Action::Work),
        &[
            "PollWorkflowTaskQueue",
            "RespondWorkflowTaskCompleted",
            "RespondWorkflowTaskFailed",
            "RespondQueryTaskCompleted",
            "PollActivityTaskQueue",
            "RecordActivityTaskHeartbeat",
            "RecordActivityTaskHeartbeatById",
            "RecordActivityTaskHeartbeatByIdInWorkflow",
            "RespondActivityTaskCompleted",
            "RespondActivityTaskCompletedById",
            "RespondActivityTaskCompletedByIdInWorkflow",
            "RespondActivityTaskFailed",
            "RespondActivityTaskFailedById",
            "RespondActivityTaskFailedByIdInWorkflow",
            "RespondActivityTaskCanceled",
            "RespondActivityTaskCanceledById",
            "RespondActivityTaskCanceledByIdInWorkflow",
            "ResetStickyTaskQueue",
            "ShutdownWorker",
            "PollNexusTaskQueue",
            "RespondNexusTaskCompleted",
            "RespondNexusTaskFailed",
            "RecordWorkerHeartbeat",
            "FetchWorkerConfig",
        ],
    ),
    (
        Need::Namespace(Action::Write),
        &[
            "StartWorkflowExecution",
            "ExecuteMultiOperation",
            "RequestCancelWorkflowExecution",
            "SignalWorkflowExecution",
            "SignalWithStartWorkflowExecution",
            "ResetWorkflowExecution",
            "TerminateWorkflowExecution",
            "DeleteWorkflowExecution",
            "UpdateWorkflowExecution",
            "UpdateWorkflowExecutionOptions",
            "PauseWorkflowExecution",
            "UnpauseWorkflowExecution",
            "PollWorkflowExecutionTimeSkipping",
            "CreateSchedule",
            "UpdateSchedule",
            "PatchSchedule",
            "DeleteSchedule",
            "StartBatchOperation",
            "StopBatchOperation",
            "TriggerWorkflowRule",
            "UpdateActivityOptions",
            "PauseActivity",
            "UnpauseActivity",
            "ResetActivity",
            "StartActivityExecution",
            "RequestCancelActivityExecution",
            "TerminateActivityExecution",
            "DeleteActivityExecution",
            "PauseActivityExecution",
            "PauseActivityExecutionInWorkflow",
            "UnpauseActivityExecution",
            "UnpauseActivityExecutionInWorkflow",
            "ResetActivityExecution",
            "ResetActivityExecutionInWorkflow",
            "UpdateActivityExecutionOptions",
            "UpdateActivityExecutionOptionsInWorkflow",
            "StartNexusOperationExecution",
            "RequestCancelNexusOperationExecution",
            "TerminateNexusOperationExecution",
            "DeleteNexusOperationExecution",
        ],
    ),
    (
        Need::Namespace(Action::Admin),
        &[
            "UpdateNamespace",
            "UpdateTaskQueueConfig",
            "UpdateWorkerConfig",
            "UpdateWorkerBuildIdCompatibility",
            "UpdateWorkerVersioningRules",
            "SetCurrentDeployment",
            "SetWorkerDeploymentCurrentVersion",
            "SetWorkerDeploymentRampingVersion",
            "SetWorkerDeploymentManager",
            "CreateWorkerDeployment",
            "DeleteWorkerDeployment",
            "CreateWorkerDeploymentVersion",
            "DeleteWorkerDeploymentVersion",
            "UpdateWorkerDeploymentVersionComputeConfig",
            "ValidateWorkerDeploymentVersionComputeConfig",
            "UpdateWorkerDeploymentVersionMetadata",
            "CreateWorkflowRule",
            "DeleteWorkflowRule",
        ],
    ),
];

/// What operation `name` requires; `None` for a name the table does not know, which callers
/// refuse (a new route without an entry is closed, not open).
pub fn need_of(operation: &str) -> Option<Need> {
    // Asked on every request: one hash lookup rather than a scan of the table.
    static BY_NAME: LazyLock<HashMap<&str, Need>> = LazyLock::new(|| {
        OPERATIONS
            .iter()
            .flat_map(|(need, names)| names.iter().map(move |name| (*name, *need)))
            .collect()
    });
    BY_NAME.get(operation).copied()
}

/// Whether `operation` changes what clients own (starts, signals, cancels, terminates,
/// configures, manages keys or namespaces), and so goes to the audit log. Worker traffic
/// (polls, heartbeats, completions) is the bulk of all requests and is left out: histories
/// record its identity.
pub fn is_audited(operation: &str) -> bool {
    match need_of(operation) {
        Some(Need::System | Need::Namespace(Action::Write | Action::Admin)) => true,
        Some(Need::Authenticated) => {
            operation.ends_with("ApiKey") && !matches!(operation, "ListApiKeys" | "DescribeApiKey")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ApiKey {
        ApiKey::from_random([0xab; ID_BYTES], [7; SECRET_BYTES])
    }

    fn ns(namespace: &str, role: Role) -> Grant {
        Grant::new(namespace, role.name()).unwrap()
    }

    #[test]
    fn a_key_value_parses_back_to_the_same_key() {
        let value = key().value();
        assert!(value.starts_with("wmk_abababababababab_"));
        assert_eq!(ApiKey::parse(&value), Ok(key()));
    }

    #[test]
    fn a_secret_with_underscores_still_parses() {
        // base64url writes 0xff bytes with '_'.
        let k = ApiKey::from_random([1; ID_BYTES], [0xff; SECRET_BYTES]);
        assert!(k.value().matches('_').count() > 2);
        assert_eq!(ApiKey::parse(&k.value()), Ok(k));
    }

    #[test]
    fn malformed_values_are_refused() {
        let good = key().value();
        for bad in [
            "",
            "Bearer x",
            "wmk_",
            "wmk_abababababababab",
            &good[..good.len() - 1],
            &good.replace("wmk_", "wmx_"),
            &good.replace("abababababababab", "ABABABABABABABAB"),
            &good.replace("abababababababab", "abab"),
            &format!("{good}AA"),
        ] {
            assert_eq!(ApiKey::parse(bad), Err(KeyFormatError::Malformed), "{bad}");
        }
    }

    #[test]
    fn the_stored_hash_matches_only_its_own_secret() {
        let other = ApiKey::from_random([0xab; ID_BYTES], [8; SECRET_BYTES]);
        assert!(key().matches(&key().hash()));
        assert!(!other.matches(&key().hash()));
        assert!(!key().matches(""));
        assert_eq!(key().hash().len(), 64);
        assert!(!key().hash().contains(&key().value()[21..]));
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let printed = format!("{:?}", key());
        assert_eq!(printed, "ApiKey(abababababababab, ..)");
    }

    #[test]
    fn the_bearer_scheme_is_read_in_any_case() {
        assert_eq!(bearer_token("Bearer wmk_a_b"), Some("wmk_a_b"));
        assert_eq!(bearer_token("bearer  wmk_a_b "), Some("wmk_a_b"));
        assert_eq!(bearer_token("BEARER wmk_a_b"), Some("wmk_a_b"));
        assert_eq!(bearer_token("Basic dXNlcg=="), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("wmk_a_b"), None);
    }

    #[test]
    fn grants_read_from_namespace_and_role() {
        assert_eq!(Grant::new("", "system:admin"), Ok(Grant::SystemAdmin));
        assert_eq!(Grant::new("a", "worker"), Ok(ns("a", Role::Worker)));
        assert_eq!(
            Grant::new("", "reader"),
            Err(GrantError::NamespaceRequired("reader"))
        );
        assert!(matches!(
            Grant::new("a", "system:admin"),
            Err(GrantError::NamespaceNotAllowed(_))
        ));
        assert!(matches!(
            Grant::new("a", "owner"),
            Err(GrantError::UnknownRole(_))
        ));
        assert_eq!(ns("a", Role::Admin).sole_namespace(), Some("a"));
        assert_eq!(Grant::SystemAdmin.sole_namespace(), None);
    }

    #[test]
    fn a_worker_polls_and_completes_but_cannot_start_list_or_terminate() {
        let w = ns("a", Role::Worker);
        let can = |op: &str, n: &str| w.permits(need_of(op).unwrap(), n);
        assert!(can("PollActivityTaskQueue", "a"));
        assert!(can("RespondActivityTaskCompleted", "a"));
        assert!(can("DescribeNamespace", "a"));
        assert!(!can("StartWorkflowExecution", "a"));
        assert!(!can("TerminateActivityExecution", "a"));
        assert!(!can("ListWorkflowExecutions", "a"));
        assert!(!can("PollActivityTaskQueue", "b"));
        assert!(!can("DescribeNamespace", "b"));
    }

    #[test]
    fn each_role_holds_the_actions_the_issue_gives_it() {
        use Action::*;
        let table = [
            (Role::Reader, [true, true, false, false, false]),
            (Role::Worker, [true, false, true, false, false]),
            (Role::Writer, [true, true, true, true, false]),
            (Role::Admin, [true, true, true, true, true]),
        ];
        for (role, allowed) in table {
            for (action, want) in [Connect, Read, Work, Write, Admin].into_iter().zip(allowed) {
                assert_eq!(
                    ns("a", role).allows("a", action),
                    want,
                    "{role:?} {action:?}"
                );
                assert!(!ns("a", role).allows("b", action));
            }
        }
        assert!(Grant::SystemAdmin.allows("any", Action::Admin));
    }

    #[test]
    fn only_the_system_admin_registers_namespaces() {
        let need = need_of("RegisterNamespace").unwrap();
        assert!(Grant::SystemAdmin.permits(need, ""));
        assert!(!ns("a", Role::Admin).permits(need, "a"));
    }

    #[test]
    fn a_key_never_manages_a_key_with_more_power_than_its_own() {
        let admin = ns("a", Role::Admin);
        assert!(admin.may_manage(&ns("a", Role::Admin)));
        assert!(admin.may_manage(&ns("a", Role::Worker)));
        assert!(!admin.may_manage(&ns("b", Role::Reader)));
        assert!(!admin.may_manage(&Grant::SystemAdmin));
        for role in [Role::Reader, Role::Worker, Role::Writer] {
            for target in Role::ALL {
                assert!(!ns("a", role).may_manage(&ns("a", target)), "{role:?}");
            }
        }
        assert!(Grant::SystemAdmin.may_manage(&Grant::SystemAdmin));
        assert!(Grant::SystemAdmin.may_manage(&ns("b", Role::Admin)));
    }

    #[test]
    fn a_caller_with_several_roles_may_do_what_any_of_them_allows() {
        let grant = Grant::Namespaces(BTreeSet::from([
            ("a".to_owned(), Role::Reader),
            ("a".to_owned(), Role::Worker),
            ("b".to_owned(), Role::Admin),
        ]));
        assert!(grant.allows("a", Action::Read) && grant.allows("a", Action::Work));
        assert!(!grant.allows("a", Action::Write));
        assert!(grant.allows("b", Action::Admin));
        assert!(grant.sees("b") && !grant.sees("c"));
        assert_eq!(grant.sole_namespace(), None);
        assert!(grant.administers_any());
        assert!(grant.may_manage(&ns("b", Role::Admin)));
        assert!(!grant.may_manage(&ns("a", Role::Reader)));
        assert!(!ns("b", Role::Admin).may_manage(&grant));
    }

    #[test]
    fn an_operation_the_table_does_not_know_has_no_need() {
        assert_eq!(need_of("MakeCoffee"), None);
        assert_eq!(need_of("Health"), Some(Need::Open));
    }

    #[test]
    fn no_operation_is_listed_twice() {
        let mut all: Vec<&str> = OPERATIONS
            .iter()
            .flat_map(|(_, n)| n.iter().copied())
            .collect();
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count);
    }

    #[test]
    fn client_changes_are_audited_and_worker_traffic_and_reads_are_not() {
        for op in [
            "StartWorkflowExecution",
            "TerminateActivityExecution",
            "UpdateTaskQueueConfig",
            "RegisterNamespace",
            "CreateApiKey",
            "DeleteApiKey",
            "DisableApiKey",
        ] {
            assert!(is_audited(op), "{op}");
        }
        for op in [
            "PollActivityTaskQueue",
            "RespondActivityTaskCompleted",
            "ListApiKeys",
            "DescribeApiKey",
            "DescribeWorkflowExecution",
            "GetSystemInfo",
            "Health",
            "Nope",
        ] {
            assert!(!is_audited(op), "{op}");
        }
    }
}
