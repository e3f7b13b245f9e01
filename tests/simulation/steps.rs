//! The steps of a simulated run, drawn from the seed before the run starts. A step names its
//! target by a number that the run resolves against what exists then ("the third task a worker
//! holds"), so any sub-list of a plan is itself a valid run: that is what lets a failing plan
//! shrink.

use crate::rng::Rng;

/// Activity and workflow ids come from small pools, so that ids are reused, runs conflict, and
/// commands meet every state.
pub const ACTIVITY_IDS: u64 = 6;
pub const WORKFLOW_IDS: u64 = 4;
/// Activity task queues (standalone activities and workflow activities share them).
pub const QUEUES: u64 = 2;

#[derive(Clone, Copy, Debug)]
pub enum Step {
    /// A client starts activity `id` on `queue`; `shape` draws its options.
    StartActivity { id: u64, queue: u64, shape: u64 },
    /// A worker polls `queue` (without waiting) and keeps the task it gets.
    PollActivity { queue: u64 },
    /// A worker heartbeats the task it holds at `pick`.
    Heartbeat { pick: u64 },
    /// A worker completes (`Complete`), fails, or reports canceled the task it holds at `pick`;
    /// it keeps the token, so a later step may use it again.
    Respond { pick: u64, how: Response },
    /// An operator (or client) command on activity `id`'s latest run.
    Operate { id: u64, op: Operator },
    /// A client starts workflow `id`; `shape` draws its options.
    StartWorkflow { id: u64, shape: u64 },
    /// A workflow worker polls (without waiting) and keeps the task it gets.
    PollWorkflow,
    /// A workflow worker answers the task it holds at `pick` with commands drawn from `commands`
    /// (valid ones mostly, invalid ones sometimes).
    CompleteWorkflowTask { pick: u64, commands: u64 },
    /// A workflow worker fails the task it holds at `pick`.
    FailWorkflowTask { pick: u64 },
    /// A client command on workflow `id`.
    OnWorkflow { id: u64, op: WorkflowOp },
    /// The clock moves by `millis`, then the timer service fires what came due.
    Advance { millis: u64 },
    /// The process dies: every cache and queue is lost, the engine is rebuilt from SQL.
    Crash,
}

#[derive(Clone, Copy, Debug)]
pub enum Response {
    Complete,
    Fail { non_retryable: bool },
    Canceled,
}

#[derive(Clone, Copy, Debug)]
pub enum Operator {
    RequestCancel,
    Terminate,
    Pause,
    Unpause,
    Reset,
    UpdateOptions,
}

#[derive(Clone, Copy, Debug)]
pub enum WorkflowOp {
    Signal,
    RequestCancel,
    Terminate,
}

/// `n` steps drawn from `seed`.
pub fn plan(seed: u64, n: usize) -> Vec<Step> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| draw(&mut rng)).collect()
}

#[derive(Clone, Copy)]
enum Kind {
    StartActivity,
    PollActivity,
    Heartbeat,
    Respond,
    Operate,
    StartWorkflow,
    PollWorkflow,
    CompleteWorkflowTask,
    FailWorkflowTask,
    OnWorkflow,
    Advance,
    Crash,
}

fn draw(rng: &mut Rng) -> Step {
    let kind = rng.weighted(&[
        (8, Kind::StartActivity),
        (14, Kind::PollActivity),
        (6, Kind::Heartbeat),
        (18, Kind::Respond),
        (8, Kind::Operate),
        (5, Kind::StartWorkflow),
        (10, Kind::PollWorkflow),
        (10, Kind::CompleteWorkflowTask),
        (2, Kind::FailWorkflowTask),
        (5, Kind::OnWorkflow),
        (12, Kind::Advance),
        (1, Kind::Crash),
    ]);
    match kind {
        Kind::StartActivity => Step::StartActivity {
            id: rng.below(ACTIVITY_IDS),
            queue: rng.below(QUEUES),
            shape: rng.next_u64(),
        },
        Kind::PollActivity => Step::PollActivity {
            queue: rng.below(QUEUES),
        },
        Kind::Heartbeat => Step::Heartbeat {
            pick: rng.next_u64(),
        },
        Kind::Respond => Step::Respond {
            pick: rng.next_u64(),
            how: rng.weighted(&[
                (5, Response::Complete),
                (
                    3,
                    Response::Fail {
                        non_retryable: false,
                    },
                ),
                (
                    1,
                    Response::Fail {
                        non_retryable: true,
                    },
                ),
                (1, Response::Canceled),
            ]),
        },
        Kind::Operate => Step::Operate {
            id: rng.below(ACTIVITY_IDS),
            op: rng.weighted(&[
                (2, Operator::RequestCancel),
                (1, Operator::Terminate),
                (2, Operator::Pause),
                (2, Operator::Unpause),
                (2, Operator::Reset),
                (1, Operator::UpdateOptions),
            ]),
        },
        Kind::StartWorkflow => Step::StartWorkflow {
            id: rng.below(WORKFLOW_IDS),
            shape: rng.next_u64(),
        },
        Kind::PollWorkflow => Step::PollWorkflow,
        Kind::CompleteWorkflowTask => Step::CompleteWorkflowTask {
            pick: rng.next_u64(),
            commands: rng.next_u64(),
        },
        Kind::FailWorkflowTask => Step::FailWorkflowTask {
            pick: rng.next_u64(),
        },
        Kind::OnWorkflow => Step::OnWorkflow {
            id: rng.below(WORKFLOW_IDS),
            op: rng.weighted(&[
                (3, WorkflowOp::Signal),
                (2, WorkflowOp::RequestCancel),
                (1, WorkflowOp::Terminate),
            ]),
        },
        // Mostly less than the shortest timeout, sometimes past every one of them.
        Kind::Advance => Step::Advance {
            millis: if rng.chance(85) {
                rng.below(3_000)
            } else {
                rng.below(120_000)
            },
        },
        Kind::Crash => Step::Crash,
    }
}
