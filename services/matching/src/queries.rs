//! Queries waiting for their answer. A query travels to a worker as a task of the run's workflow
//! task queue; the worker's answer comes back through any process, so each process keeps its
//! own waiters and takes the answers the others publish (Redis pub/sub in the distributed
//! deployment; one process in start-dev).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OnceCell, oneshot};
use waymark_api::workflow::RespondQueryTaskCompletedRequest as Answer;
use waymark_queue::{QueueError, TaskQueueBackend};

type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<Answer>>>>;

#[derive(Default)]
pub(crate) struct Queries {
    waiters: Waiters,
    /// Set once this process takes the answers published by the others.
    subscribed: OnceCell<()>,
}

/// A registered waiter; dropping it (answered, timed out or abandoned) forgets the query.
pub(crate) struct Waiting {
    id: String,
    waiters: Waiters,
    pub(crate) answer: oneshot::Receiver<Answer>,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        lock(&self.waiters).remove(&self.id);
    }
}

/// The waiters stay usable even if a thread panicked while holding them: every operation on
/// them leaves the map consistent.
fn lock(waiters: &Waiters) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<Answer>>> {
    waiters.lock().unwrap_or_else(PoisonError::into_inner)
}

fn deliver(waiters: &Waiters, id: &str, answer: Answer) {
    if let Some(waiter) = lock(waiters).remove(id) {
        let _ = waiter.send(answer);
    }
}

impl Queries {
    /// Registers a waiter for query `id`, first making sure that answers published by other
    /// processes reach this one.
    pub(crate) async fn wait_for(
        &self,
        id: &str,
        backend: &dyn TaskQueueBackend,
    ) -> Result<Waiting, QueueError> {
        self.subscribed
            .get_or_try_init(|| async {
                let waiters = self.waiters.clone();
                let sink = Arc::new(move |id: &str, answer: &str| {
                    if let Ok(answer) = serde_json::from_str(answer) {
                        deliver(&waiters, id, answer);
                    }
                });
                backend.subscribe_answers(sink).await
            })
            .await?;
        let (tx, answer) = oneshot::channel();
        lock(&self.waiters).insert(id.to_owned(), tx);
        Ok(Waiting {
            id: id.to_owned(),
            waiters: self.waiters.clone(),
            answer,
        })
    }

    /// Gives the answer to its waiter if it waits in this process, else publishes it for the
    /// others.
    pub(crate) async fn answer(
        &self,
        id: &str,
        answer: Answer,
        backend: &dyn TaskQueueBackend,
    ) -> Result<(), QueueError> {
        let waiter = lock(&self.waiters).remove(id);
        match waiter {
            Some(waiter) => {
                let _ = waiter.send(answer);
                Ok(())
            }
            None => {
                let published = serde_json::to_string(&answer).expect("an answer serializes");
                backend.publish_answer(id, &published).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use waymark_queue::InProcessQueue;

    #[tokio::test]
    async fn an_answer_reaches_its_waiter_and_a_gone_waiter_is_forgotten() {
        let (queries, backend) = (Queries::default(), InProcessQueue::new());
        let mut waiting = queries.wait_for("q1", &backend).await.unwrap();
        let answer = Answer {
            error_message: "boom".into(),
            ..Default::default()
        };
        queries
            .answer("q1", answer.clone(), &backend)
            .await
            .unwrap();
        assert_eq!((&mut waiting.answer).await.unwrap(), answer);

        let gone = queries.wait_for("q2", &backend).await.unwrap();
        drop(gone);
        assert!(lock(&queries.waiters).is_empty());
        // An answer nobody waits for here is published, not an error.
        queries.answer("q2", answer, &backend).await.unwrap();
    }
}
