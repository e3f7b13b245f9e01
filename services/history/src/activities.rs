//! Standalone activities and the activity side of worker calls, each a thin load → apply →
//! commit; `api.rs` answers the trait with them.

use std::sync::PoisonError;
use std::time::Duration as StdDuration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use waymark_api::*;
use waymark_clients::{ActivityRef, ApiResult, DueTimer, PollerInfo};
use waymark_core::activity::{
    Activity, Caller, Command, Includes, NewRun, OptionsUpdate, Request, ResetOptions,
    StartDecision, State, TimerKind, decide_start,
};
use waymark_core::options;
use waymark_core::task_token::TaskToken;
use waymark_core::visibility::{self, Attr};
use waymark_core::workflow::{ActivityOperation, ActivityTarget, WorkflowCommand};
use waymark_queue::ActivityTask;
use waymark_store::{PageCursor, StoreError};

use crate::{History, HistoryError, Replaces, RunRef, check_run_id, run_ref};

/// Default and largest page of a list.
const MAX_PAGE_SIZE: i32 = 1000;

fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn link(ns: &str, activity_id: &str, run_id: &str) -> Option<Link> {
    Some(json!({"activity": {"namespace": ns, "activityId": activity_id, "runId": run_id}}))
}

fn request(request_id: String, reason: String, identity: String) -> Request {
    // Like Temporal, a missing request id is a fresh one: a blind retry is not a repeat.
    let request_id = if request_id.is_empty() {
        new_uuid()
    } else {
        request_id
    };
    Request {
        request_id,
        reason,
        identity,
    }
}

/// The long-poll token of describe: which run, at which version.
fn long_poll_token(run_id: &str, version: i64) -> String {
    STANDARD.encode(format!("{run_id}:{version}"))
}

fn parse_long_poll_token(token: &str, run_id: &str) -> Result<i64, HistoryError> {
    let invalid = || HistoryError::InvalidArgument("invalid long poll token".into());
    let raw = STANDARD.decode(token).map_err(|_| invalid())?;
    let raw = String::from_utf8(raw).map_err(|_| invalid())?;
    let (run, version) = raw.rsplit_once(':').ok_or_else(invalid)?;
    let version = version.parse().map_err(|_| invalid())?;
    if run != run_id {
        return Err(HistoryError::InvalidArgument(
            "long poll token does not match execution".into(),
        ));
    }
    Ok(version)
}

fn query(q: &str) -> Result<visibility::Query, HistoryError> {
    visibility::parse(q).map_err(|e| HistoryError::InvalidArgument(e.to_string()))
}

impl History {
    pub(crate) async fn ensure_namespace(&self, ns: &str) -> Result<(), HistoryError> {
        if self
            .namespaces
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(ns)
        {
            return Ok(());
        }
        match self.store.get_namespace(ns).await? {
            Some(_) => {
                self.namespaces
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(ns.to_owned());
                Ok(())
            }
            None => Err(HistoryError::NamespaceNotFound(ns.to_owned())),
        }
    }

    /// Verifies a task token of namespace `ns` naming an activity attempt.
    fn activity_token(&self, ns: &str, encoded: &str) -> Result<TaskToken, HistoryError> {
        if encoded.is_empty() {
            return Err(HistoryError::InvalidArgument(
                "Task token not set on request.".into(),
            ));
        }
        let t = self
            .signer
            .verify(encoded)
            .map_err(|_| HistoryError::BadTaskToken)?;
        if t.is_workflow_task() {
            return Err(HistoryError::BadTaskToken);
        }
        if t.namespace != ns {
            return Err(HistoryError::ActivityNotFound(t.activity_id));
        }
        Ok(t)
    }

    /// Applies a worker's call to the activity its reference names: a standalone activity gets
    /// the command `standalone` builds, a workflow's activity the one `workflow` builds.
    async fn worker_call(
        &self,
        ns: &str,
        target: &ActivityRef,
        standalone: impl Fn(Caller) -> Command,
        workflow: impl Fn(ActivityTarget) -> WorkflowCommand,
    ) -> Result<RecordActivityTaskHeartbeatResponse, HistoryError> {
        self.ensure_namespace(ns).await?;
        let token = match target {
            ActivityRef::Token(encoded) => Some(self.activity_token(ns, encoded)?),
            _ => None,
        };
        let (run, caller) = match (&token, target) {
            (Some(t), _) if !t.workflow_id.is_empty() => {
                let applied = self
                    .workflow_activity_call(ns, target, Some(t), workflow)
                    .await?;
                return Ok(applied.heartbeat);
            }
            (None, ActivityRef::WorkflowActivity { .. }) => {
                let applied = self
                    .workflow_activity_call(ns, target, None, workflow)
                    .await?;
                return Ok(applied.heartbeat);
            }
            (Some(t), _) => (
                RunRef::Run {
                    id: &t.activity_id,
                    run_id: &t.run_id,
                },
                Caller::Token {
                    attempt: t.attempt,
                    stamp: t.stamp,
                },
            ),
            (
                None,
                ActivityRef::Id {
                    activity_id,
                    run_id,
                },
            ) => {
                check_run_id(run_id, "RunId is not valid UUID.")?;
                (run_ref(activity_id, run_id), Caller::ById)
            }
            (None, _) => return Err(HistoryError::BadTaskToken),
        };
        let a = self
            .transition(ns, run, None, |_| Ok(standalone(caller)))
            .await?;
        Ok(RecordActivityTaskHeartbeatResponse {
            cancel_requested: a.state == State::CancelRequested,
            activity_paused: a.state == State::PauseRequested,
            activity_reset: a.state == State::ResetRequested,
        })
    }

    /// Waits until `done` holds for the run or `wait` passes. Returns the last state seen.
    async fn wait_for(
        &self,
        ns: &str,
        run: RunRef<'_>,
        wait: StdDuration,
        done: impl Fn(&waymark_store::ActivityRecord) -> bool,
    ) -> Result<(waymark_store::ActivityRecord, Activity, bool), HistoryError> {
        let deadline = tokio::time::Instant::now() + wait;
        let (activity_id, mut pinned) = match run {
            RunRef::Latest { id: activity_id } => (activity_id, None),
            RunRef::Run {
                id: activity_id,
                run_id,
            } => (activity_id, Some(run_id.to_owned())),
            RunRef::ByRun { .. } => unreachable!("long polls name their activity"),
        };
        loop {
            // Subscribe before reading, so a commit in between is not missed.
            let notify = self.watchers.subscribe(ns, activity_id);
            let step = async {
                let notified = notify.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let run = match &pinned {
                    Some(run_id) => RunRef::Run {
                        id: activity_id,
                        run_id,
                    },
                    None => RunRef::Latest { id: activity_id },
                };
                let (record, activity) = self.load(ns, &run).await?;
                let finished = done(&record);
                let again = !finished && self.read_again(deadline, notified).await;
                Ok::<_, HistoryError>((record, activity, finished, again))
            };
            let result = step.await;
            self.watchers.unsubscribe(ns, activity_id, notify);
            let (record, activity, finished, again) = result?;
            if !again {
                return Ok((record, activity, finished));
            }
            // Later reads stay on the run first read, even if a newer run starts meanwhile.
            pinned.get_or_insert(record.run_id);
        }
    }

    fn oversized(&self, p: Option<&Payloads>) -> bool {
        p.is_some_and(|p| p.encoded_size() > self.limits.max_payload_bytes)
    }

    /// A worker reported a payload over the limit: as Temporal, the activity fails for good.
    async fn fail_oversized(
        &self,
        ns: &str,
        target: &ActivityRef,
        message: &str,
        identity: String,
    ) -> ApiResult<()> {
        let failure = server_failure(message);
        self.worker_call(
            ns,
            target,
            |caller| Command::Fail {
                caller,
                failure: Some(failure.clone()),
                last_heartbeat_details: None,
                identity: identity.clone(),
            },
            |target| WorkflowCommand::FailActivity {
                target,
                failure: Some(failure.clone()),
                last_heartbeat_details: None,
                identity: identity.clone(),
            },
        )
        .await?;
        Ok(())
    }

    fn outcome(activity: &Activity) -> Option<ActivityExecutionOutcome> {
        activity.outcome.clone()
    }
}

impl History {
    pub(crate) async fn start_activity_run(
        &self,
        ns: &str,
        activity_id: &str,
        req: StartActivityExecutionRequest,
    ) -> ApiResult<StartActivityExecutionResponse> {
        self.ensure_namespace(ns).await?;
        let options = options::validate_start(activity_id, &req, self.limits.max_payload_bytes)
            .map_err(HistoryError::InvalidArgument)?;
        let request_id = if req.request_id.is_empty() {
            new_uuid()
        } else {
            req.request_id.clone()
        };
        // Most ids are new: try to create first, and read the latest run only when one exists.
        let mut latest_run: Option<String> = None;
        let mut first_try = true;
        loop {
            if !first_try {
                let latest = self
                    .store
                    .latest_activity(ns, activity_id)
                    .await
                    .map_err(HistoryError::from)?;
                latest_run = latest.as_ref().map(|r| r.run_id.clone());
                let latest: Option<Activity> = latest
                    .map(|r| serde_json::from_str(&r.state))
                    .transpose()
                    .map_err(HistoryError::from)?;
                match decide_start(
                    latest.as_ref(),
                    &request_id,
                    req.id_reuse_policy,
                    req.id_conflict_policy,
                ) {
                    StartDecision::Existing { run_id } => {
                        return Ok(StartActivityExecutionResponse {
                            link: link(ns, activity_id, &run_id),
                            run_id,
                            started: false,
                        });
                    }
                    StartDecision::AlreadyStarted {
                        start_request_id,
                        run_id,
                    } => {
                        return Err(HistoryError::AlreadyStarted {
                            start_request_id,
                            run_id,
                        }
                        .into());
                    }
                    StartDecision::Create => {}
                }
            }
            first_try = false;
            let run = NewRun {
                namespace: ns,
                activity_id,
                run_id: uuid::Uuid::now_v7().to_string(),
                request_id: request_id.clone(),
            };
            let t = Activity::start(run, req.clone(), options.clone(), self.now());
            match self
                .commit(Replaces::Latest(latest_run.as_deref()), t, None)
                .await
            {
                Ok(a) => {
                    return Ok(StartActivityExecutionResponse {
                        link: link(ns, activity_id, &a.run_id),
                        run_id: a.run_id,
                        started: true,
                    });
                }
                // A run exists (or another start won the race): decide against the latest run.
                Err(HistoryError::Store(StoreError::Conflict | StoreError::AlreadyExists)) => {
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    pub(crate) async fn describe_activity_run(
        &self,
        ns: &str,
        activity_id: &str,
        q: DescribeActivityExecutionQuery,
        wait: StdDuration,
    ) -> ApiResult<Option<DescribeActivityExecutionResponse>> {
        self.ensure_namespace(ns).await?;
        check_run_id(&q.run_id, "invalid run id: must be a valid UUID")?;
        let (record, activity) = if q.long_poll_token.is_empty() {
            self.load(ns, &run_ref(activity_id, &q.run_id)).await?
        } else {
            if q.run_id.is_empty() {
                return Err(HistoryError::InvalidArgument(
                    "run id is required when long poll token is provided".into(),
                )
                .into());
            }
            let seen = parse_long_poll_token(&q.long_poll_token, &q.run_id)?;
            let (record, activity, changed) = self
                .wait_for(ns, run_ref(activity_id, &q.run_id), wait, |r| {
                    r.version != seen
                })
                .await?;
            if !changed {
                return Ok(None);
            }
            (record, activity)
        };
        let includes = Includes {
            heartbeat_details: q.include_heartbeat_details,
            last_failure: q.include_last_failure,
        };
        Ok(Some(DescribeActivityExecutionResponse {
            run_id: activity.run_id.clone(),
            info: Some(activity.info(includes, record.state.len() as i64, self.now())),
            input: activity.input.clone().filter(|_| q.include_input),
            outcome: Self::outcome(&activity).filter(|_| q.include_outcome),
            long_poll_token: Some(long_poll_token(&record.run_id, record.version)),
            callbacks: vec![],
        }))
    }

    pub(crate) async fn activity_outcome(
        &self,
        ns: &str,
        activity_id: &str,
        run_id: &str,
        wait: StdDuration,
    ) -> ApiResult<Option<PollActivityExecutionResponse>> {
        self.ensure_namespace(ns).await?;
        check_run_id(run_id, "invalid run id: must be a valid UUID")?;
        let (_, activity, closed) = self
            .wait_for(ns, run_ref(activity_id, run_id), wait, |r| {
                r.close_time_ns.is_some()
            })
            .await?;
        Ok(closed.then(|| PollActivityExecutionResponse {
            run_id: activity.run_id.clone(),
            outcome: Self::outcome(&activity),
        }))
    }

    pub(crate) async fn list_activity_runs(
        &self,
        ns: &str,
        q: ListActivityExecutionsQuery,
    ) -> ApiResult<ListActivityExecutionsResponse> {
        self.ensure_namespace(ns).await?;
        let parsed = query(&q.query)?;
        if parsed.group_by.is_some() {
            return Err(HistoryError::InvalidArgument(
                "invalid query: operation is not supported: 'group by' clause".into(),
            )
            .into());
        }
        if q.page_size < 0 {
            return Err(HistoryError::InvalidArgument(format!(
                "invalid page size: {}",
                q.page_size
            ))
            .into());
        }
        let page_size = if q.page_size == 0 {
            MAX_PAGE_SIZE
        } else {
            q.page_size.min(MAX_PAGE_SIZE)
        };
        let cursor = decode_cursor(&q.next_page_token)?;
        let (records, next) = self
            .store
            .list_activities(
                ns,
                parsed.filter.as_ref(),
                page_size as u64,
                cursor.as_ref(),
            )
            .await
            .map_err(HistoryError::from)?;
        let executions = records
            .iter()
            .map(
                |r| Ok(serde_json::from_str::<Activity>(&r.state)?.list_info(r.state.len() as i64)),
            )
            .collect::<Result<Vec<_>, HistoryError>>()?;
        Ok(ListActivityExecutionsResponse {
            executions,
            next_page_token: next.map(|c| encode_cursor(&c)).unwrap_or_default(),
        })
    }

    pub(crate) async fn count_activity_runs(
        &self,
        ns: &str,
        q: &str,
    ) -> ApiResult<CountActivityExecutionsResponse> {
        self.ensure_namespace(ns).await?;
        let parsed = query(q)?;
        let filter = parsed.filter.as_ref();
        if parsed.group_by == Some(Attr::ExecutionStatus) {
            let groups = self
                .store
                .count_activities_by_status(ns, filter)
                .await
                .map_err(HistoryError::from)?;
            return Ok(CountActivityExecutionsResponse {
                count: groups.iter().map(|(_, n)| n).sum(),
                groups: groups
                    .into_iter()
                    .map(|(status, count)| CountGroup {
                        group_values: vec![Payload::Json(status.into())],
                        count,
                    })
                    .collect(),
            });
        }
        let count = self
            .store
            .count_activities(ns, filter)
            .await
            .map_err(HistoryError::from)?;
        Ok(CountActivityExecutionsResponse {
            count,
            groups: vec![],
        })
    }

    pub(crate) async fn cancel_activity_run(
        &self,
        ns: &str,
        activity_id: &str,
        req: RequestCancelActivityExecutionRequest,
    ) -> ApiResult<()> {
        self.ensure_namespace(ns).await?;
        check_run_id(&req.run_id, "invalid run id: must be a valid UUID")?;
        let r = request(req.request_id, req.reason, req.identity);
        self.transition(ns, run_ref(activity_id, &req.run_id), None, |_| {
            Ok(Command::RequestCancel(r.clone()))
        })
        .await?;
        Ok(())
    }

    pub(crate) async fn terminate_activity_run(
        &self,
        ns: &str,
        activity_id: &str,
        req: TerminateActivityExecutionRequest,
    ) -> ApiResult<()> {
        self.ensure_namespace(ns).await?;
        check_run_id(&req.run_id, "invalid run id: must be a valid UUID")?;
        let r = request(req.request_id, req.reason, req.identity);
        self.transition(ns, run_ref(activity_id, &req.run_id), None, |_| {
            Ok(Command::Terminate(r.clone()))
        })
        .await?;
        Ok(())
    }

    pub(crate) async fn pause_activity_run(
        &self,
        ns: &str,
        activity_id: &str,
        req: PauseActivityExecutionRequest,
    ) -> ApiResult<()> {
        if !req.workflow_id.is_empty() {
            let pause = ActivityOperation::Pause {
                identity: req.identity,
                reason: req.reason,
            };
            self.operate_workflow_activity(ns, &req.workflow_id, &req.run_id, activity_id, pause)
                .await?;
            return Ok(());
        }
        self.ensure_namespace(ns).await?;
        check_run_id(&req.run_id, "invalid run id: must be a valid UUID")?;
        let r = Request {
            request_id: req.request_id,
            reason: req.reason,
            identity: req.identity,
        };
        self.transition(ns, run_ref(activity_id, &req.run_id), None, |_| {
            Ok(Command::Pause(r.clone()))
        })
        .await?;
        Ok(())
    }

    pub(crate) async fn unpause_activity_run(
        &self,
        ns: &str,
        activity_id: &str,
        req: UnpauseActivityExecutionRequest,
    ) -> ApiResult<()> {
        let jitter = random_jitter(req.jitter)?;
        if !req.workflow_id.is_empty() {
            let unpause = ActivityOperation::Unpause { jitter };
            self.operate_workflow_activity(ns, &req.workflow_id, &req.run_id, activity_id, unpause)
                .await?;
            return Ok(());
        }
        self.ensure_namespace(ns).await?;
        check_run_id(&req.run_id, "invalid run id: must be a valid UUID")?;
        let r = Request {
            request_id: req.request_id,
            reason: req.reason,
            identity: req.identity,
        };
        self.transition(ns, run_ref(activity_id, &req.run_id), None, |_| {
            Ok(Command::Unpause {
                request: r.clone(),
                jitter,
            })
        })
        .await?;
        Ok(())
    }

    pub(crate) async fn reset_activity_run(
        &self,
        ns: &str,
        activity_id: &str,
        req: ResetActivityExecutionRequest,
    ) -> ApiResult<()> {
        let reset = ResetOptions {
            keep_paused: req.keep_paused,
            reset_heartbeat: req.reset_heartbeat,
            restore_original_options: req.restore_original_options,
            jitter: random_jitter(req.jitter)?,
        };
        if !req.workflow_id.is_empty() {
            let reset = ActivityOperation::Reset(reset);
            self.operate_workflow_activity(ns, &req.workflow_id, &req.run_id, activity_id, reset)
                .await?;
            return Ok(());
        }
        self.ensure_namespace(ns).await?;
        check_run_id(&req.run_id, "invalid run id: must be a valid UUID")?;
        let r = Request {
            request_id: req.request_id,
            reason: String::new(),
            identity: req.identity,
        };
        self.transition(ns, run_ref(activity_id, &req.run_id), None, |_| {
            Ok(Command::Reset {
                request: r.clone(),
                reset,
            })
        })
        .await?;
        Ok(())
    }

    pub(crate) async fn update_activity_run_options(
        &self,
        ns: &str,
        activity_id: &str,
        req: UpdateActivityExecutionOptionsRequest,
    ) -> ApiResult<UpdateActivityExecutionOptionsResponse> {
        let invalid = |m: &str| HistoryError::InvalidArgument(m.into());
        let update = match (
            req.restore_original,
            req.update_mask.as_deref(),
            req.activity_options,
        ) {
            (true, Some(_), _) => {
                return Err(invalid("Both UpdateMask and RestoreOriginal are provided").into());
            }
            (true, None, _) => OptionsUpdate::RestoreOriginal,
            (false, _, None) => return Err(invalid("ActivityOptions are not provided").into()),
            (false, None, Some(_)) => return Err(invalid("UpdateMask is not provided").into()),
            (false, Some(mask), Some(options)) => {
                let paths: Vec<String> = mask
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(String::from)
                    .collect();
                if paths.is_empty() {
                    return Err(invalid("UpdateMask must specify at least one path").into());
                }
                OptionsUpdate::Mask { options, paths }
            }
        };
        if !req.workflow_id.is_empty() {
            let update = ActivityOperation::UpdateOptions(update);
            let applied = self
                .operate_workflow_activity(ns, &req.workflow_id, &req.run_id, activity_id, update)
                .await?;
            let activity = applied.workflow.activity_by_id(activity_id);
            return Ok(UpdateActivityExecutionOptionsResponse {
                // As Temporal's answer: the queue with its kind.
                activity_options: activity.map(|a| {
                    a.options.wire(
                        waymark_api::workflow::normal_queue(&a.options.task_queue),
                        None,
                    )
                }),
            });
        }
        self.ensure_namespace(ns).await?;
        check_run_id(&req.run_id, "invalid run id: must be a valid UUID")?;
        let a = self
            .transition(ns, run_ref(activity_id, &req.run_id), None, |_| {
                Ok(Command::UpdateOptions {
                    request_id: req.request_id.clone(),
                    update: update.clone(),
                })
            })
            .await?;
        Ok(UpdateActivityExecutionOptionsResponse {
            activity_options: Some(a.wire_options()),
        })
    }

    pub(crate) async fn heartbeat(
        &self,
        ns: &str,
        target: ActivityRef,
        details: Option<Payloads>,
        identity: String,
    ) -> ApiResult<RecordActivityTaskHeartbeatResponse> {
        if self.oversized(details.as_ref()) {
            // As Temporal: the activity fails, and the worker is told to stop.
            self.fail_oversized(
                ns,
                &target,
                "Heartbeat details exceed size limit.",
                identity,
            )
            .await?;
            return Ok(RecordActivityTaskHeartbeatResponse {
                cancel_requested: true,
                ..Default::default()
            });
        }
        Ok(self
            .worker_call(
                ns,
                &target,
                |caller| Command::Heartbeat {
                    caller,
                    details: details.clone(),
                },
                |target| WorkflowCommand::ActivityHeartbeat {
                    target,
                    details: details.clone(),
                },
            )
            .await?)
    }

    pub(crate) async fn activity_completed(
        &self,
        ns: &str,
        target: ActivityRef,
        result: Option<Payloads>,
        identity: String,
    ) -> ApiResult<()> {
        if self.oversized(result.as_ref()) {
            return self
                .fail_oversized(ns, &target, "Complete result exceeds size limit.", identity)
                .await;
        }
        self.worker_call(
            ns,
            &target,
            |caller| Command::Complete {
                caller,
                result: result.clone(),
                identity: identity.clone(),
            },
            |target| WorkflowCommand::CompleteActivity {
                target,
                result: result.clone(),
                identity: identity.clone(),
            },
        )
        .await?;
        Ok(())
    }

    pub(crate) async fn activity_failed(
        &self,
        ns: &str,
        target: ActivityRef,
        failure: Option<Failure>,
        last_heartbeat_details: Option<Payloads>,
        identity: String,
    ) -> ApiResult<RespondActivityTaskFailedResponse> {
        let by_token = matches!(target, ActivityRef::Token(_));
        if by_token
            && failure
                .as_ref()
                .is_some_and(|f| f.application_failure_info.is_none())
        {
            return Err(HistoryError::InvalidArgument(
                "Failure must have ApplicationFailureInfo.".into(),
            )
            .into());
        }
        let mut failures = vec![];
        let failure = match failure {
            Some(f)
                if serde_json::to_vec(&f).map_or(0, |v| v.len())
                    > self.limits.max_payload_bytes =>
            {
                let replaced = server_failure("Failure exceeds size limit.");
                failures.push(replaced.clone());
                Some(replaced)
            }
            other => other,
        };
        let details = match last_heartbeat_details {
            Some(d) if self.oversized(Some(&d)) => {
                failures.push(server_failure("Heartbeat details exceed size limit."));
                None
            }
            other => other,
        };
        self.worker_call(
            ns,
            &target,
            |caller| Command::Fail {
                caller,
                failure: failure.clone(),
                last_heartbeat_details: details.clone(),
                identity: identity.clone(),
            },
            |target| WorkflowCommand::FailActivity {
                target,
                failure: failure.clone(),
                last_heartbeat_details: details.clone(),
                identity: identity.clone(),
            },
        )
        .await?;
        Ok(RespondActivityTaskFailedResponse { failures })
    }

    pub(crate) async fn activity_canceled(
        &self,
        ns: &str,
        target: ActivityRef,
        details: Option<Payloads>,
        identity: String,
    ) -> ApiResult<()> {
        if self.oversized(details.as_ref()) {
            return self
                .fail_oversized(ns, &target, "Cancel details exceed size limit.", identity)
                .await;
        }
        self.worker_call(
            ns,
            &target,
            |caller| Command::ResolveCanceled {
                caller,
                details: details.clone(),
                identity: identity.clone(),
            },
            |target| WorkflowCommand::ResolveActivityCanceled {
                target,
                details: details.clone(),
                identity: identity.clone(),
            },
        )
        .await?;
        Ok(())
    }

    pub(crate) async fn activity_task_started(
        &self,
        task: &ActivityTask,
        poller: &PollerInfo,
    ) -> ApiResult<Option<PollActivityTaskQueueResponse>> {
        if task.scheduled_event_id != 0 {
            return Ok(self.workflow_activity_started(task, poller).await?);
        }
        let command = Command::RecordStarted {
            attempt: task.attempt,
            identity: poller.identity.clone(),
            request_id: poller.request_id.clone(),
        };
        let run = RunRef::ByRun {
            run_id: &task.run_id,
        };
        match self
            .transition(&task.namespace, run, None, |_| Ok(command.clone()))
            .await
        {
            Ok(a) => {
                let token = TaskToken {
                    namespace: a.namespace.clone(),
                    activity_id: a.activity_id.clone(),
                    run_id: a.run_id.clone(),
                    attempt: a.attempt,
                    stamp: a.stamp,
                    ..Default::default()
                };
                Ok(Some(a.task(self.signer.sign(&token))))
            }
            Err(HistoryError::Activity(_) | HistoryError::ActivityNotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) async fn timer_fired(&self, timer: DueTimer) -> ApiResult<()> {
        let Some(kind) = TimerKind::parse(&timer.kind) else {
            // Not a standalone activity's timer kind: a workflow's.
            return Ok(self.fire_workflow_timer(&timer).await?);
        };
        let run = RunRef::ByRun {
            run_id: &timer.run_id,
        };
        let command = Command::TimerFired {
            kind,
            attempt: timer.attempt,
        };
        match self
            .transition(&timer.namespace, run, Some(timer.id), |_| {
                Ok(command.clone())
            })
            .await
        {
            // The run is gone: nothing to fire.
            Err(HistoryError::ActivityNotFound(_)) => Ok(self
                .store
                .delete_timer(timer.id)
                .await
                .map_err(HistoryError::from)?),
            other => other.map(drop).map_err(Into::into),
        }
    }
}

fn server_failure(message: &str) -> Failure {
    Failure {
        message: message.into(),
        server_failure_info: Some(ServerFailureInfo {
            non_retryable: true,
        }),
        ..Default::default()
    }
}

/// A uniformly drawn delay in [0, jitter), from the OS's randomness via a fresh UUID.
fn random_jitter(
    jitter: Option<waymark_api::Duration>,
) -> Result<waymark_api::Duration, HistoryError> {
    let Some(jitter) = jitter.filter(|j| !j.is_zero()) else {
        return Ok(waymark_api::Duration::ZERO);
    };
    if jitter.is_negative() {
        return Err(HistoryError::InvalidArgument(
            "invalid Jitter: negative duration".into(),
        ));
    }
    let fraction = (uuid::Uuid::new_v4().as_u128() as u64 as f64) / (u64::MAX as f64);
    Ok(jitter.mul_f64(fraction))
}

pub(crate) fn encode_cursor(c: &PageCursor) -> String {
    STANDARD.encode(format!("{}:{}", c.schedule_time_ns, c.run_id))
}

pub(crate) fn decode_cursor(token: &str) -> Result<Option<PageCursor>, HistoryError> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || HistoryError::InvalidArgument("invalid page token".into());
    let raw =
        String::from_utf8(STANDARD.decode(token).map_err(|_| invalid())?).map_err(|_| invalid())?;
    let (time, run_id) = raw.split_once(':').ok_or_else(invalid)?;
    Ok(Some(PageCursor {
        schedule_time_ns: time.parse().map_err(|_| invalid())?,
        run_id: run_id.to_owned(),
    }))
}
