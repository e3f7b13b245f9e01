//! The Redis Streams backend: one stream per task queue, kind and priority level, read through the
//! consumer group `matching`. In each process, one reader task per queue with waiting polls reads
//! the levels first first in one script (so that every instance takes a higher level's task
//! before any lower one's), blocks in XREADGROUP on all of them on a connection of its own when
//! they are empty, and hands what it reads to the polls in line; XAUTOCLAIM takes over entries
//! that an instance read and never acknowledged (it died).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::{ConnectionManager, MultiplexedConnection};
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamRangeReply, StreamReadOptions,
    StreamReadReply,
};
use redis::{AsyncCommands, AsyncConnectionConfig, RedisResult};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;
use waymark_api::Duration as ConfigDuration;

use futures_util::StreamExt;

use crate::{
    ActivityTask, AnswerSink, Keys, POLLER_TTL, PRIORITY_LEVELS, PollerSeen, Popped, QueueError,
    QueueStats, Receipt, RedisQueueConfig, RedisRateLimiter, RedisTls, TaskKind, TaskQueueBackend,
};

const GROUP: &str = "matching";
/// The stream entry's one field: the task as JSON.
const FIELD: &str = "task";

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS; never logged.
    pub url: String,
    /// The CA and client certificate of a `rediss://` URL.
    pub tls: RedisTls,
    /// Starts every key (`WAYMARK_REDIS_PREFIX`), so deployments and tests can share a Redis.
    pub prefix: String,
    /// This process's consumer in the group, and its connections' client name. Empty: a random
    /// one per process.
    pub consumer: String,
    /// Longest a reader blocks in one XREADGROUP before it looks at its line of polls again.
    pub block: ConfigDuration,
    /// An entry read and not acknowledged for this long is taken over by a reader that has polls.
    pub claim_min_idle: ConfigDuration,
    /// How often a reader looks for such entries.
    pub claim_every: ConfigDuration,
    /// A reader whose queue has had no waiting poll for this long stops and closes its connection.
    pub reader_idle: ConfigDuration,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: "redis://127.0.0.1:6379".into(),
            tls: RedisTls::default(),
            prefix: "waymark:".into(),
            consumer: String::new(),
            block: ConfigDuration::from_secs(2),
            claim_min_idle: ConfigDuration::from_secs(30),
            claim_every: ConfigDuration::from_secs(5),
            reader_idle: ConfigDuration::from_secs(30),
        }
    }
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &"<redacted>")
            .field("tls", &self.tls)
            .field("prefix", &self.prefix)
            .field("consumer", &self.consumer)
            .field("block", &self.block)
            .field("claim_min_idle", &self.claim_min_idle)
            .field("claim_every", &self.claim_every)
            .field("reader_idle", &self.reader_idle)
            .finish()
    }
}

impl RedisConfig {
    pub fn validate(&self) -> Result<(), QueueError> {
        let invalid = |msg: String| Err(QueueError::InvalidConfig(msg));
        if self.url.is_empty() {
            return invalid("redis url must not be empty".into());
        }
        self.tls.validate(&self.url)?;
        Keys::new(&self.prefix)?;
        if self.consumer.contains(char::is_whitespace) {
            return invalid(format!(
                "redis consumer must not contain spaces, got {:?}",
                self.consumer
            ));
        }
        for (name, d) in [
            ("block", self.block),
            ("claim_min_idle", self.claim_min_idle),
            ("claim_every", self.claim_every),
            ("reader_idle", self.reader_idle),
        ] {
            if d.is_negative() || d.as_millis() < 1 {
                return invalid(format!("redis {name} must be at least 1ms, got {d}"));
            }
        }
        Ok(())
    }

    /// A client of the configured Redis, with the TLS files read and checked.
    pub(crate) fn client(&self) -> Result<redis::Client, QueueError> {
        if !self.tls.is_set() {
            return Ok(redis::Client::open(self.url.as_str())?);
        }
        Ok(redis::Client::build_with_tls(
            self.url.as_str(),
            self.tls.load()?,
        )?)
    }
}

type QueueId = (String, String);

/// An entry read from a stream: in this consumer's pending list until acknowledged.
struct Delivery {
    task: ActivityTask,
    /// The index of its level's stream.
    level: usize,
    entry: String,
}

/// An entry as read, before its task is parsed.
struct Read {
    level: usize,
    entry: String,
    json: Option<String>,
}

/// Reads up to ARGV[3] new entries for consumer ARGV[2] of group ARGV[1] from the streams KEYS,
/// the first stream's before the second's and so on: `{index, id, fields}` each.
const READ_IN_ORDER: &str = r#"
local want = tonumber(ARGV[3])
local out = {}
for i, key in ipairs(KEYS) do
  if want <= 0 then break end
  local r = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', want, 'STREAMS', key, '>')
  if r then
    for _, e in ipairs(r[1][2]) do
      out[#out + 1] = {i - 1, e[1], e[2]}
      want = want - 1
    end
  end
end
return out
"#;

/// A queue with a reader in this process: the polls waiting on it, and entries read for polls
/// that left meanwhile (served before anything new is read).
#[derive(Default)]
struct Line {
    ready: VecDeque<Delivery>,
    waiters: VecDeque<oneshot::Sender<Delivery>>,
    wake: Arc<Notify>,
}

impl Line {
    fn open_waiters(&mut self) -> usize {
        self.waiters.retain(|w| !w.is_closed());
        self.waiters.len()
    }

    /// To the first poll still waiting, else in line at the front (`again`) or the back.
    fn hand(&mut self, mut d: Delivery, again: bool) {
        while let Some(waiter) = self.waiters.pop_front() {
            match waiter.send(d) {
                Ok(()) => return,
                Err(back) => d = back,
            }
        }
        if again {
            self.ready.push_front(d)
        } else {
            self.ready.push_back(d)
        }
    }
}

struct Timing {
    block: Duration,
    claim_min_idle: Duration,
    claim_every: Duration,
    reader_idle: Duration,
}

struct Inner {
    client: redis::Client,
    /// Shared by everything that does not block: XADD, XACK, stats, pollers, rate limits.
    conn: ConnectionManager,
    keys: Keys,
    /// The kind of tasks this queue's streams hold.
    kind: TaskKind,
    consumer: String,
    timing: Timing,
    lines: Mutex<HashMap<QueueId, Line>>,
}

impl Drop for Inner {
    /// Readers notice at once that nobody needs them any more.
    fn drop(&mut self) {
        if let Ok(lines) = self.lines.get_mut() {
            lines.values().for_each(|line| line.wake.notify_one());
        }
    }
}

#[derive(Clone)]
pub struct RedisQueue {
    inner: Arc<Inner>,
}

impl RedisQueue {
    /// Activity task queues.
    pub async fn connect(cfg: &RedisConfig) -> Result<RedisQueue, QueueError> {
        Self::connect_kind(cfg, TaskKind::Activity).await
    }

    /// Task queues of `kind`: each kind has streams of its own.
    pub async fn connect_kind(cfg: &RedisConfig, kind: TaskKind) -> Result<RedisQueue, QueueError> {
        cfg.validate()?;
        let consumer = match cfg.consumer.as_str() {
            "" => format!(
                "matching-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            ),
            name => name.to_owned(),
        };
        let client = cfg.client()?;
        let mut conn = ConnectionManager::new(client.clone()).await?;
        set_name(&mut conn, &consumer).await?;
        let timing = Timing {
            block: cfg.block.to_std(),
            claim_min_idle: cfg.claim_min_idle.to_std(),
            claim_every: cfg.claim_every.to_std(),
            reader_idle: cfg.reader_idle.to_std(),
        };
        let keys = Keys::new(&cfg.prefix)?;
        let lines = Mutex::default();
        Ok(RedisQueue {
            inner: Arc::new(Inner {
                client,
                conn,
                keys,
                kind,
                consumer,
                timing,
                lines,
            }),
        })
    }

    /// A rate limiter on this queue's shared connection.
    pub fn rate_limiter(&self) -> RedisRateLimiter {
        RedisRateLimiter::new(self.inner.conn.clone(), self.inner.keys.clone())
    }

    /// The queues' rate-limit settings, on this queue's shared connection.
    pub fn config_store(&self) -> RedisQueueConfig {
        RedisQueueConfig::new(self.inner.conn.clone(), self.inner.keys.clone())
    }

    pub fn consumer(&self) -> &str {
        &self.inner.consumer
    }

    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }
}

async fn set_name(conn: &mut impl redis::aio::ConnectionLike, name: &str) -> RedisResult<()> {
    redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg(name)
        .exec_async(conn)
        .await
}

/// The group starts at 0 so that entries added before any reader came are delivered too.
async fn ensure_group(conn: &mut MultiplexedConnection, key: &str) -> RedisResult<()> {
    match conn
        .xgroup_create_mkstream::<_, _, _, ()>(key, GROUP, "0")
        .await
    {
        Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
        other => other,
    }
}

fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

/// When a stream entry was added, from its id (`<ms>-<seq>`).
fn entry_time(id: &str) -> Option<SystemTime> {
    let ms = id.split_once('-')?.0.parse().ok()?;
    Some(UNIX_EPOCH + Duration::from_millis(ms))
}

/// A poll's place in line. If the poll is dropped (client gone) after an entry was handed to it,
/// the entry goes to the next poll or back in line; if the reader is gone, it stays pending in
/// Redis and is reclaimed.
struct Waiter {
    rx: oneshot::Receiver<Delivery>,
    inner: Arc<Inner>,
    id: QueueId,
}

impl Waiter {
    fn take_late(&mut self) -> Option<Delivery> {
        self.rx.close();
        self.rx.try_recv().ok()
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if let Some(d) = self.take_late()
            && let Some(line) = self
                .inner
                .lines
                .lock()
                .expect("lines lock")
                .get_mut(&self.id)
        {
            line.hand(d, true);
        }
    }
}

impl Inner {
    async fn saw_poller(&self, ns: &str, queue: &str, identity: &str) -> RedisResult<()> {
        let key = self.keys.pollers(ns, queue, self.kind);
        let (now, ttl) = (epoch_ms(SystemTime::now()), POLLER_TTL.as_millis() as u64);
        let mut pipe = redis::pipe();
        pipe.zadd(&key, identity, now)
            .zrembyscore(&key, "-inf", now.saturating_sub(ttl))
            .pexpire(&key, ttl as i64);
        self.seen(&mut pipe, ns, queue, now);
        pipe.exec_async(&mut self.conn.clone()).await
    }

    /// The members of a ZSET scored by last use (ms) used within `POLLER_TTL`, most recent
    /// first: pollers of a queue, queues of a namespace.
    async fn seen_lately(&self, key: String) -> RedisResult<Vec<(String, SystemTime)>> {
        let since = epoch_ms(SystemTime::now()).saturating_sub(POLLER_TTL.as_millis() as u64);
        let seen: Vec<(String, f64)> = self
            .conn
            .clone()
            .zrevrangebyscore_withscores(key, "+inf", since)
            .await?;
        Ok(seen
            .into_iter()
            .map(|(member, ms)| (member, UNIX_EPOCH + Duration::from_millis(ms as u64)))
            .collect())
    }

    /// Notes in `pipe` that the queue was used at `now` (ms), for `queues`; forgets queues
    /// unused for longer than `POLLER_TTL`.
    fn seen(&self, pipe: &mut redis::Pipeline, ns: &str, queue: &str, now: u64) {
        let key = self.keys.queues(ns, self.kind);
        let ttl = POLLER_TTL.as_millis() as u64;
        pipe.zadd(&key, queue, now)
            .ignore()
            .zrembyscore(&key, "-inf", now.saturating_sub(ttl))
            .ignore()
            .pexpire(&key, ttl as i64)
            .ignore();
    }

    /// A connection of the reader's own: a blocked XREADGROUP would stall a shared one.
    async fn reader_connection(&self, keys: &[String]) -> RedisResult<MultiplexedConnection> {
        let cfg = AsyncConnectionConfig::new()
            .set_response_timeout(Some(self.timing.block + Duration::from_secs(5)));
        let mut conn = self
            .client
            .get_multiplexed_async_connection_with_config(&cfg)
            .await?;
        set_name(&mut conn, &self.consumer).await?;
        for key in keys {
            ensure_group(&mut conn, key).await?;
        }
        Ok(conn)
    }

    /// Open polls of a queue; 0 also when its line is gone.
    fn wanted(&self, id: &QueueId) -> usize {
        self.lines
            .lock()
            .expect("lines lock")
            .get_mut(id)
            .map_or(0, Line::open_waiters)
    }

    /// Removes the queue's line unless a poll came meanwhile. Entries read for polls that left
    /// stay pending in Redis and are reclaimed.
    fn retire(&self, id: &QueueId) -> bool {
        let mut lines = self.lines.lock().expect("lines lock");
        if lines
            .get_mut(id)
            .is_some_and(|line| line.open_waiters() > 0)
        {
            return false;
        }
        lines.remove(id);
        true
    }

    /// Hands entries read (in level order) to the polls in line.
    async fn deliver(&self, id: &QueueId, keys: &[String], entries: Vec<Read>) {
        let mut unreadable = Vec::new();
        {
            let mut lines = self.lines.lock().expect("lines lock");
            let Some(line) = lines.get_mut(id) else {
                return;
            };
            for Read { level, entry, json } in entries {
                match json.and_then(|json| serde_json::from_str(&json).ok()) {
                    Some(task) => line.hand(Delivery { task, level, entry }, false),
                    None => unreadable.push((level, entry)),
                }
            }
        }
        // Not ours to interpret: dropped, or it would be reclaimed forever.
        for (level, entry) in unreadable {
            let key = &keys[level];
            tracing::warn!(key, entry, "dropping an unreadable task queue entry");
            if let Err(e) = self.ack_entry(key, &entry).await {
                tracing::warn!(key, entry, error = %e, "could not drop an unreadable entry");
            }
        }
    }

    async fn ack_entry(&self, key: &str, entry: &str) -> RedisResult<()> {
        // Deleted too, so that XLEN is the backlog and the stream does not grow.
        redis::pipe()
            .atomic()
            .xack(key, GROUP, &[entry])
            .xdel(key, &[entry])
            .exec_async(&mut self.conn.clone())
            .await
    }
}

/// What a reader keeps between rounds.
struct Reader {
    conn: Option<MultiplexedConnection>,
    /// Where the claim pass is: the level, and the cursor in its stream.
    claiming: (usize, String),
    next_claim: Instant,
    read_in_order: redis::Script,
}

fn read(level: usize, e: StreamId) -> Read {
    Read {
        level,
        json: e.get::<String>(FIELD),
        entry: e.id,
    }
}

impl Reader {
    /// Reclaims abandoned entries when due, else reads new ones, the first level's first; when
    /// every level is empty, blocks up to `block` for the next entry of any.
    async fn round(
        &mut self,
        inner: &Inner,
        keys: &[String],
        want: usize,
    ) -> RedisResult<Vec<Read>> {
        if self.conn.is_none() {
            self.conn = Some(inner.reader_connection(keys).await?);
        }
        let conn = self.conn.as_mut().expect("connected");
        if Instant::now() >= self.next_claim {
            let (level, cursor) = &mut self.claiming;
            let min_idle = inner.timing.claim_min_idle.as_millis() as u64;
            let opts = StreamAutoClaimOptions::default().count(want);
            let reply: StreamAutoClaimReply = conn
                .xautoclaim_options(
                    &keys[*level],
                    GROUP,
                    &inner.consumer,
                    min_idle,
                    &*cursor,
                    opts,
                )
                .await?;
            let claimed: Vec<Read> = reply.claimed.into_iter().map(|e| read(*level, e)).collect();
            if reply.next_stream_id == "0-0" {
                // This level's pass is done: the next level's, or (after the last) a rest.
                *level = (*level + 1) % keys.len();
                if *level == 0 {
                    self.next_claim = Instant::now() + inner.timing.claim_every;
                }
            }
            *cursor = reply.next_stream_id;
            if !claimed.is_empty() {
                return Ok(claimed);
            }
        }
        let in_order: Vec<(usize, String, Vec<String>)> = self
            .read_in_order
            .key(keys)
            .arg(GROUP)
            .arg(&inner.consumer)
            .arg(want)
            .invoke_async(conn)
            .await?;
        if !in_order.is_empty() {
            return Ok(in_order
                .into_iter()
                .map(|(level, entry, fields)| Read {
                    level,
                    entry,
                    json: fields
                        .chunks(2)
                        .find(|f| f[0] == FIELD)
                        .and_then(|f| f.get(1).cloned()),
                })
                .collect());
        }
        let block = inner.timing.block.as_millis() as usize;
        // One entry of each level at most: the rare entries of several levels read together
        // are handed out first first.
        let opts = StreamReadOptions::default()
            .group(GROUP, &inner.consumer)
            .count(1)
            .block(block);
        let ids = vec![">"; keys.len()];
        let reply: Option<StreamReadReply> = conn.xread_options(keys, &ids, &opts).await?;
        let mut entries: Vec<Read> = reply
            .map(|r| r.keys)
            .unwrap_or_default()
            .into_iter()
            .flat_map(|k| {
                let level = keys.iter().position(|key| *key == k.key).unwrap_or(0);
                k.ids.into_iter().map(move |e| read(level, e))
            })
            .collect();
        entries.sort_by_key(|r| r.level);
        Ok(entries)
    }
}

/// One per queue with polls in this process. Reads as many entries as there are waiting polls,
/// and stops when the queue has had none for `reader_idle` (or the backend is dropped).
async fn read_loop(weak: Weak<Inner>, id: QueueId, wake: Arc<Notify>) {
    let Some(keys) = weak
        .upgrade()
        .map(|inner| inner.keys.streams(&id.0, &id.1, inner.kind))
    else {
        return;
    };
    let mut reader = Reader {
        conn: None,
        claiming: (0, "0-0".into()),
        next_claim: Instant::now(),
        read_in_order: redis::Script::new(READ_IN_ORDER),
    };
    let (mut last_busy, mut failures) = (Instant::now(), 0u32);
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let want = inner.wanted(&id);
        if want == 0 {
            let idle = last_busy.elapsed();
            if idle >= inner.timing.reader_idle {
                if inner.retire(&id) {
                    return;
                }
                continue;
            }
            let rest = inner.timing.reader_idle - idle;
            drop(inner);
            let _ = tokio::time::timeout(rest, wake.notified()).await;
            continue;
        }
        last_busy = Instant::now();
        match reader.round(&inner, &keys, want).await {
            Ok(entries) => {
                failures = 0;
                inner.deliver(&id, &keys, entries).await;
            }
            Err(e) => {
                // NOGROUP (the stream was lost) is healed by the new connection's ensure_group.
                let key = &keys[0];
                tracing::warn!(key, error = %e, "task queue reader failed; reconnecting");
                reader.conn = None;
                drop(inner);
                tokio::time::sleep(Duration::from_millis(50 << failures.min(5))).await;
                failures += 1;
            }
        }
    }
}

#[async_trait::async_trait]
impl TaskQueueBackend for RedisQueue {
    async fn push(&self, task: ActivityTask) -> Result<(), QueueError> {
        let streams = self
            .inner
            .keys
            .streams(&task.namespace, &task.task_queue, self.inner.kind);
        let key = &streams[task.level()];
        let json = serde_json::to_string(&task).expect("a task serializes");
        let mut pipe = redis::pipe();
        pipe.xadd(key, "*", &[(FIELD, json)]).ignore();
        let now = epoch_ms(SystemTime::now());
        self.inner
            .seen(&mut pipe, &task.namespace, &task.task_queue, now);
        pipe.exec_async(&mut self.inner.conn.clone()).await?;
        Ok(())
    }

    async fn pop(
        &self,
        namespace: &str,
        task_queue: &str,
        identity: &str,
        deadline: Instant,
    ) -> Result<Option<Popped>, QueueError> {
        self.inner
            .saw_poller(namespace, task_queue, identity)
            .await?;
        let id = (namespace.to_owned(), task_queue.to_owned());
        let rx = {
            let mut lines = self.inner.lines.lock().expect("lines lock");
            let line = match lines.entry(id.clone()) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    let line = e.insert(Line::default());
                    tokio::spawn(read_loop(
                        Arc::downgrade(&self.inner),
                        id.clone(),
                        line.wake.clone(),
                    ));
                    line
                }
            };
            if let Some(d) = line.ready.pop_front() {
                return Ok(Some(d.into()));
            }
            let (tx, rx) = oneshot::channel();
            line.open_waiters();
            line.waiters.push_back(tx);
            line.wake.notify_one();
            rx
        };
        let mut waiter = Waiter {
            rx,
            inner: self.inner.clone(),
            id,
        };
        tokio::select! {
            d = &mut waiter.rx => Ok(d.ok().map(Popped::from)),
            _ = tokio::time::sleep_until(deadline) => Ok(waiter.take_late().map(Popped::from)),
        }
    }

    async fn ack(
        &self,
        namespace: &str,
        task_queue: &str,
        receipt: Receipt,
    ) -> Result<(), QueueError> {
        let streams = self
            .inner
            .keys
            .streams(namespace, task_queue, self.inner.kind);
        let (level, entry) = receipt
            .0
            .split_once('/')
            .and_then(|(level, entry)| Some((level.parse::<usize>().ok()?, entry)))
            .filter(|(level, _)| *level < streams.len())
            .ok_or_else(|| QueueError::Unavailable(format!("malformed receipt {:?}", receipt.0)))?;
        Ok(self.inner.ack_entry(&streams[level], entry).await?)
    }

    /// The oldest entry's id starts with the millisecond it was added (`XADD *`): its age.
    async fn stats(&self, namespace: &str, task_queue: &str) -> Result<QueueStats, QueueError> {
        let streams = self
            .inner
            .keys
            .streams(namespace, task_queue, self.inner.kind);
        let mut pipe = redis::pipe();
        for key in &streams {
            pipe.xlen(key).xrange_count(key, "-", "+", 1);
        }
        let levels: Vec<(usize, StreamRangeReply)> =
            pipe.query_async(&mut self.inner.conn.clone()).await?;
        let mut by_priority = [0; PRIORITY_LEVELS];
        let mut oldest_by_priority = [None; PRIORITY_LEVELS];
        for (level, (len, first)) in levels.iter().enumerate() {
            by_priority[level] = *len;
            oldest_by_priority[level] = first.ids.first().and_then(|e| entry_time(&e.id));
        }
        let oldest = oldest_by_priority.iter().flatten().min().copied();
        let pollers = self
            .inner
            .wanted(&(namespace.to_owned(), task_queue.to_owned()));
        Ok(QueueStats {
            backlog: by_priority.iter().sum(),
            by_priority,
            oldest_by_priority,
            pollers,
            oldest,
        })
    }

    async fn queues(&self, namespace: &str) -> Result<Vec<(String, SystemTime)>, QueueError> {
        let key = self.inner.keys.queues(namespace, self.inner.kind);
        Ok(self.inner.seen_lately(key).await?)
    }

    async fn pollers(
        &self,
        namespace: &str,
        task_queue: &str,
    ) -> Result<Vec<PollerSeen>, QueueError> {
        let key = self
            .inner
            .keys
            .pollers(namespace, task_queue, self.inner.kind);
        let seen = self.inner.seen_lately(key).await?;
        Ok(seen
            .into_iter()
            .map(|(identity, last_access)| PollerSeen {
                identity,
                last_access,
            })
            .collect())
    }

    async fn publish_answer(&self, id: &str, answer: &str) -> Result<(), QueueError> {
        let channel = self.inner.keys.query_answers();
        let _receivers: i64 = self
            .inner
            .conn
            .clone()
            .publish(channel, format!("{id}\n{answer}"))
            .await?;
        Ok(())
    }

    /// Subscribes before it returns, so that no answer published afterwards is missed; a lost
    /// connection is subscribed again (answers published meanwhile are lost: their queries
    /// time out, as if no worker had answered).
    async fn subscribe_answers(&self, deliver: AnswerSink) -> Result<(), QueueError> {
        let (client, channel) = (self.inner.client.clone(), self.inner.keys.query_answers());
        let mut pubsub = subscribe(&client, &channel).await?;
        tokio::spawn(async move {
            loop {
                let mut messages = pubsub.into_on_message();
                while let Some(message) = messages.next().await {
                    let payload: String = message.get_payload().unwrap_or_default();
                    if let Some((id, answer)) = payload.split_once('\n') {
                        deliver(id, answer);
                    }
                }
                pubsub = loop {
                    match subscribe(&client, &channel).await {
                        Ok(p) => break p,
                        Err(e) => {
                            tracing::warn!(error = %e, "query answers: resubscribing to redis");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                };
            }
        });
        Ok(())
    }
}

async fn subscribe(client: &redis::Client, channel: &str) -> RedisResult<redis::aio::PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}

impl From<Delivery> for Popped {
    fn from(d: Delivery) -> Popped {
        Popped {
            queued_at: entry_time(&d.entry).unwrap_or_else(SystemTime::now),
            task: d.task,
            receipt: Receipt(format!("{}/{}", d.level, d.entry)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_config_is_valid_and_durations_parse() {
        RedisConfig::default().validate().unwrap();
        let cfg: RedisConfig =
            serde_json::from_str(r#"{"prefix":"wm:","claim_min_idle":"10s"}"#).unwrap();
        assert_eq!(
            (cfg.prefix.as_str(), cfg.claim_min_idle),
            ("wm:", ConfigDuration::from_secs(10))
        );
        assert!(serde_json::from_str::<RedisConfig>(r#"{"bogus":1}"#).is_err());
    }

    #[test]
    fn a_config_that_cannot_work_is_rejected() {
        let bad = [
            RedisConfig {
                block: ConfigDuration::ZERO,
                ..RedisConfig::default()
            },
            RedisConfig {
                prefix: "{wm}".into(),
                ..RedisConfig::default()
            },
            RedisConfig {
                consumer: "two words".into(),
                ..RedisConfig::default()
            },
            RedisConfig {
                url: String::new(),
                ..RedisConfig::default()
            },
        ];
        for cfg in bad {
            assert!(
                matches!(cfg.validate(), Err(QueueError::InvalidConfig(_))),
                "{cfg:?}"
            );
        }
    }

    #[test]
    fn an_entry_id_carries_the_millisecond_it_was_added() {
        assert_eq!(
            entry_time("1700000000123-4"),
            Some(UNIX_EPOCH + Duration::from_millis(1_700_000_000_123))
        );
        assert_eq!(entry_time("bogus"), None);
    }

    #[test]
    fn the_url_is_not_in_the_debug_output() {
        let cfg = RedisConfig {
            url: "redis://:hunter2@host:6379".into(),
            ..RedisConfig::default()
        };
        assert!(!format!("{cfg:?}").contains("hunter2"));
    }
}
