//! The embedded engine: history, matching and timer in one process over one store, with the
//! in-process task queue. `start-dev` serves it; the simulation test drives it directly.

use std::sync::Arc;

use waymark_clients::{Clock, HistoryApi, MatchingApi, TimerApi};
use waymark_core::limits::Limits;
use waymark_core::task_token::TokenSigner;
use waymark_history::{History, HistoryError};
use waymark_matching::{Matching, RateLimits};
use waymark_queue::InProcessQueue;
use waymark_store::Store;
use waymark_timer::TimerService;

pub struct Engine {
    pub history: Arc<History>,
    pub matching: Arc<Matching>,
    pub timer: Arc<TimerService>,
}

impl Engine {
    /// Wires the services over `store` (migrated), makes sure the `default` namespace exists
    /// and re-queues what SQL says waits for a worker (the in-process queue starts empty).
    /// Answers the engine and how many tasks it re-queued.
    pub async fn boot(
        store: &Store,
        signer: TokenSigner,
        clock: Arc<dyn Clock>,
        limits: Limits,
    ) -> Result<(Engine, usize), HistoryError> {
        let history = History::new(store.clone(), signer, clock.clone(), limits);
        // The embedded history is the only writer of its database.
        history.sole_writer();
        let matching = Matching::new(
            Arc::new(InProcessQueue::new()),
            Arc::new(InProcessQueue::new()),
            RateLimits::in_process(clock.clone()),
        );
        let timer = TimerService::new(store.clone(), history.clone(), clock);
        history.connect(
            matching.clone() as Arc<dyn MatchingApi>,
            timer.clone() as Arc<dyn TimerApi>,
        );
        matching.connect(history.clone() as Arc<dyn HistoryApi>);
        history.ensure_namespace_exists("default").await?;
        let requeued = history.redispatch().await?;
        Ok((
            Engine {
                history,
                matching,
                timer,
            },
            requeued,
        ))
    }
}
