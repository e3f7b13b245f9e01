//! Group commit (SQLite): one writer task takes the transitions queued meanwhile and commits
//! them in one transaction, so the single connection is taken once per group instead of once
//! per transition. A transition that loses its race finds out by its first statement (the
//! versioned update, or the claim of the latest-run slot) and writes nothing, so the others
//! commit regardless; one that fails halfway undoes the group, and the others retry as after
//! a lost race.

use std::future::Future;
use std::pin::Pin;

use sea_orm::{ConnAcquireErr, DatabaseConnection, DatabaseTransaction, DbErr};
use tokio::sync::{mpsc, oneshot};

use crate::{OutboxEntry, Store, StoreError};

type Outcome = Result<Vec<OutboxEntry>, StoreError>;

/// A transition's writes inside the group's transaction.
pub(crate) type Job = Box<
    dyn for<'t> FnOnce(
            &'t DatabaseTransaction,
        ) -> Pin<Box<dyn Future<Output = Outcome> + Send + 't>>
        + Send,
>;

/// The most transitions one group commits.
const GROUP: usize = 64;

#[derive(Debug)]
pub(crate) struct Writer {
    jobs: mpsc::UnboundedSender<(Job, oneshot::Sender<Outcome>)>,
}

impl Writer {
    pub(crate) fn start(db: DatabaseConnection) -> Writer {
        let (jobs, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(db, rx));
        Writer { jobs }
    }

    /// Runs `job` in the next group; its outcome once the group committed.
    pub(crate) async fn commit(&self, job: Job) -> Outcome {
        let (reply, outcome) = oneshot::channel();
        self.jobs.send((job, reply)).map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

/// The writer is gone: the runtime that started it is shutting down.
fn stopped() -> StoreError {
    StoreError::Db(DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed))
}

impl Store {
    /// Runs `write`, a transition's writes, in a transaction: the next group's (SQLite), or
    /// one of its own. Its outcome once committed.
    pub(crate) async fn transact<W>(&self, write: W) -> Outcome
    where
        W: for<'t> FnOnce(
                &'t DatabaseTransaction,
            ) -> Pin<Box<dyn Future<Output = Outcome> + Send + 't>>
            + Send
            + 'static,
    {
        if let Some(writer) = &self.writer {
            return writer.commit(Box::new(write)).await;
        }
        let txn = self.begin_write().await?;
        let outbox = write(&txn).await?;
        txn.commit().await?;
        Ok(outbox)
    }
}

async fn run(
    db: DatabaseConnection,
    mut rx: mpsc::UnboundedReceiver<(Job, oneshot::Sender<Outcome>)>,
) {
    let mut group = Vec::with_capacity(GROUP);
    while rx.recv_many(&mut group, GROUP).await > 0 {
        let txn = match crate::store::begin_write(&db).await {
            Ok(txn) => txn,
            Err(e) => {
                for (_, reply) in group.drain(..) {
                    let _ = reply.send(Err(shared(&e)));
                }
                continue;
            }
        };
        let mut outcomes = Vec::with_capacity(group.len());
        let mut jobs = group.drain(..);
        let mut failed = None;
        for (job, reply) in jobs.by_ref() {
            if reply.is_closed() {
                // Its caller gave up (a client went away): like a dropped transaction, it does
                // not commit, so no commit happens that the caller never follows up on.
                continue;
            }
            match job(&txn).await {
                // A conflict is told by a transition's first statement: it wrote nothing.
                outcome @ (Ok(_) | Err(StoreError::Conflict)) => outcomes.push((reply, outcome)),
                Err(e) => {
                    failed = Some((reply, e));
                    break;
                }
            }
        }
        if let Some((reply, e)) = failed {
            // A transition failed halfway: undo the group. The others have written nothing
            // then; as for a lost race, their callers read their runs again and retry.
            let _ = txn.rollback().await;
            let _ = reply.send(Err(e));
            for (reply, _) in outcomes
                .into_iter()
                .chain(jobs.map(|(_, r)| (r, Ok(Vec::new()))))
            {
                let _ = reply.send(Err(StoreError::Conflict));
            }
            continue;
        }
        drop(jobs);
        match txn.commit().await {
            Ok(()) => {
                for (reply, outcome) in outcomes {
                    let _ = reply.send(outcome);
                }
            }
            Err(e) => {
                for (reply, _) in outcomes {
                    let _ = reply.send(Err(shared(&e)));
                }
            }
        }
    }
}

/// The error of a whole group, for each of its transitions: an outage stays one (callers
/// retry those), anything else keeps its message.
fn shared(e: &DbErr) -> StoreError {
    StoreError::Db(if crate::is_transient(e) {
        DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed)
    } else {
        DbErr::Custom(e.to_string())
    })
}
