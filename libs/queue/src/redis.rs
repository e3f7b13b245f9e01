//! The Redis Streams backend. Each task queue, kind and priority level has a stream per fairness
//! key, read through the consumer group `matching`, and dispatch order lives in Redis too, so it
//! holds across every instance and over restarts: scripts push and read (the levels first first,
//! within a level the keys by stride scheduling, `fair`). In each process, one reader task per
//! queue with waiting polls reads as many entries as there are polls, waits on the queue's bell
//! (a stream every push adds to) on a connection of its own when there are none, and hands what
//! it reads to the polls in line. Entries an instance read and never acknowledged (it died) are
//! taken over by another after `claim_min_idle`.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::{ConnectionManager, MultiplexedConnection};
use redis::streams::{StreamReadOptions, StreamReadReply};
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
    /// `level/entry id/fairness key`: names the entry's stream and its place in it.
    receipt: String,
}

/// An entry as read, before its task is parsed.
struct Read {
    receipt: String,
    json: Option<String>,
}

/// Queues task ARGV[3] of fairness key ARGV[1] (stride ARGV[2], own rate ARGV[4] or '' for none)
/// at the level whose stream is KEYS[1], and rings the queue's bell KEYS[2]. Each level keeps, next
/// to its stream (the "" key's line), a stream per other key (`:f:<key>`), the keys with
/// undelivered tasks by the pass of their next one (`:active`), the keys their rate holds back by
/// when it lets them go (`:parked`, µs), each rate-limited key's next token due time (`:due:<key>`,
/// µs), and a hash (`:fair`) of each key's count (`c:`), stride (`s:`), rate (`r:`) and pass
/// while parked (`p:`), the pass of the last dispatch (`now`) and the level's unacknowledged tasks
/// (`n`). The rules are `fair::FairLevel`'s.
const PUSH: &str = r#"
local s, key, stride = KEYS[1], ARGV[1], tonumber(ARGV[2])
local fair = s .. ':fair'
redis.call('XADD', key == '' and s or (s .. ':f:' .. key), '*', 'task', ARGV[3])
redis.call('HINCRBY', fair, 'n', 1)
redis.call('HSET', fair, 's:' .. key, stride)
if ARGV[4] == '' then redis.call('HDEL', fair, 'r:' .. key) else redis.call('HSET', fair, 'r:' .. key, ARGV[4]) end
local now = tonumber(redis.call('HGET', fair, 'now') or '0')
if redis.call('HINCRBY', fair, 'c:' .. key, 1) == 1 then
  redis.call('ZADD', s .. ':active', now + stride, key)
elseif redis.call('ZREM', s .. ':parked', key) == 1 then
  -- Looked at again at the next read: its rate may have changed.
  local pass = tonumber(redis.call('HGET', fair, 'p:' .. key) or now)
  redis.call('ZADD', s .. ':active', math.max(pass, now), key)
  redis.call('HDEL', fair, 'p:' .. key)
end
redis.call('XADD', KEYS[2], 'MAXLEN', '1', '*', 'n', '1')
"#;

/// Reads up to ARGV[3] new entries for consumer ARGV[2] of group ARGV[1]: from the levels whose
/// streams are KEYS[1..n-2] first first, within a level the key of the lowest pass first among
/// those their rate lets go. Notes each in the in-flight set KEYS[n-1] (for `RECLAIM`). Answers
/// `{bell, {{receipt, fields}...}, wait}`: when nothing was read, the last id of the bell KEYS[n]
/// (to block on from there) and the ms until a parked key may go (-1: none will).
const POP: &str = r#"
local group, consumer, want = ARGV[1], ARGV[2], tonumber(ARGV[3])
local levels = #KEYS - 2
local inflight, bell = KEYS[levels + 1], KEYS[levels + 2]
local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local now_ms = math.floor(now_us / 1000)
local out = {}
local function read(stream, count)
  local args = {'XREADGROUP', 'GROUP', group, consumer, 'COUNT', count, 'STREAMS', stream, '>'}
  local r = redis.pcall(unpack(args))
  if type(r) == 'table' and r.err then
    if not string.find(r.err, 'NOGROUP', 1, true) then error(r.err) end
    -- A new stream (or one emptied and deleted): its group starts at 0 to read all of it.
    redis.call('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
    r = redis.call(unpack(args))
  end
  if not r then return {} end
  return r[1][2]
end
local function take(level, key, entries)
  for _, e in ipairs(entries) do
    local receipt = level .. '/' .. e[1] .. '/' .. key
    redis.call('ZADD', inflight, now_ms, receipt)
    out[#out + 1] = {receipt, e[2]}
  end
  want = want - #entries
end
-- Whether `key`'s rate lets it dispatch now (then its token is taken; else it is parked), and
-- whether it has a rate.
local function may_go(s, fair, key, pass)
  local rate = redis.call('HGET', fair, 'r:' .. key)
  if not rate then return true, false end
  rate = tonumber(rate)
  local due_key = s .. ':due:' .. key
  local due = tonumber(redis.call('GET', due_key) or '-1')
  local ready, interval, burst = '+inf', 0, 0
  if rate > 0 then
    interval = math.ceil(1000000 / rate)
    burst = (math.max(math.ceil(rate), 1) - 1) * interval
    ready = due < 0 and now_us or (due - burst)
  end
  if ready == '+inf' or ready > now_us then
    redis.call('ZREM', s .. ':active', key)
    redis.call('HSET', fair, 'p:' .. key, pass)
    redis.call('ZADD', s .. ':parked', ready == '+inf' and ready or string.format('%d', ready), key)
    return false, true
  end
  local next_due = math.max(due < 0 and (now_us + burst) or due, now_us) + interval
  redis.call('SET', due_key, string.format('%d', next_due), 'PX', math.ceil((next_due - now_us) / 1000) + 1)
  return true, true
end
local wait = -1
for i = 1, levels do
  if want <= 0 then break end
  local s = KEYS[i]
  local active, fair, parked = s .. ':active', s .. ':fair', s .. ':parked'
  local now = tonumber(redis.call('HGET', fair, 'now') or '0')
  for _, key in ipairs(redis.call('ZRANGEBYSCORE', parked, '-inf', now_us)) do
    redis.call('ZREM', parked, key)
    redis.call('ZADD', active, math.max(tonumber(redis.call('HGET', fair, 'p:' .. key) or '0'), now), key)
    redis.call('HDEL', fair, 'p:' .. key)
  end
  while want > 0 do
    local head = redis.call('ZRANGE', active, 0, 0, 'WITHSCORES')
    if #head == 0 then
      -- Entries queued before fairness keys were counted.
      if redis.call('EXISTS', s) == 1 then take(i - 1, '', read(s, want)) end
      break
    end
    local key, pass = head[1], tonumber(head[2])
    local go, rated = may_go(s, fair, key, pass)
    if go then
      local count = tonumber(redis.call('HGET', fair, 'c:' .. key) or '0')
      local stride = tonumber(redis.call('HGET', fair, 's:' .. key) or '1000')
      -- A key alone gives all it has at once; keys that share (or have a rate) go one a turn.
      local n = 1
      if not rated and redis.call('ZCARD', active) == 1 then
        n = math.max(1, math.min(want, count))
      end
      local entries = read(key == '' and s or (s .. ':f:' .. key), n)
      take(i - 1, key, entries)
      local got = #entries
      if got > 0 then redis.call('HSET', fair, 'now', pass + (got - 1) * stride) end
      if got == 0 or count <= got then
        redis.call('ZREM', active, key)
        redis.call('HDEL', fair, 'c:' .. key, 's:' .. key, 'r:' .. key)
      else
        redis.call('HSET', fair, 'c:' .. key, count - got)
        redis.call('ZADD', active, pass + got * stride, key)
      end
    end
  end
  local first = redis.call('ZRANGE', parked, 0, 0, 'WITHSCORES')
  if first[1] and first[2] ~= 'inf' then
    local ms = math.max(1, math.ceil((tonumber(first[2]) - now_us) / 1000))
    if wait < 0 or ms < wait then wait = ms end
  end
end
if #out > 0 then return {'', out, -1} end
local last = redis.call('XREVRANGE', bell, '+', '-', 'COUNT', 1)
return {last[1] and last[1][1] or '0-0', out, wait}
"#;

/// Forgets entry ARGV[2] (receipt ARGV[3]) of stream KEYS[1] at the level whose stream is KEYS[2]
/// once group ARGV[1] handled it; a key's stream left empty is deleted (ARGV[4] = 1 for a key's own
/// stream), so that keys used once do not stay in Redis.
const ACK: &str = r#"
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('XDEL', KEYS[1], ARGV[2])
  if tonumber(redis.call('HINCRBY', KEYS[2] .. ':fair', 'n', -1)) < 0 then
    redis.call('HSET', KEYS[2] .. ':fair', 'n', 0)
  end
end
redis.call('ZREM', KEYS[3], ARGV[3])
if ARGV[4] == '1' and redis.call('XLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end
"#;

/// Takes over for consumer ARGV[2] of group ARGV[1] up to ARGV[4] entries of the in-flight set
/// KEYS[n] read at least ARGV[3] ms ago and never acknowledged (their reader died), from the levels
/// whose streams are KEYS[1..n-1]: `{{receipt, fields}...}`.
const RECLAIM: &str = r#"
local group, consumer, min_idle = ARGV[1], ARGV[2], tonumber(ARGV[3])
local inflight = KEYS[#KEYS]
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', inflight, '-inf', now_ms - min_idle, 'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
for _, receipt in ipairs(due) do
  local level, entry, key = string.match(receipt, '^(%d+)/([^/]+)/(.*)$')
  local s = level and KEYS[tonumber(level) + 1]
  local claimed = s and redis.pcall('XCLAIM', key == '' and s or (s .. ':f:' .. key), group, consumer, min_idle, entry)
  if type(claimed) == 'table' and not claimed.err and claimed[1] and claimed[1][2] then
    redis.call('ZADD', inflight, now_ms, receipt)
    out[#out + 1] = {receipt, claimed[1][2]}
  else
    redis.call('ZREM', inflight, receipt)
  end
end
return out
"#;

/// Per level whose stream is KEYS[i]: `{unacknowledged tasks, keys with undelivered tasks, the id
/// of the oldest entry among the level's stream and its first 50 active and 50 parked keys' ('' without)}`.
const STATS: &str = r#"
local out = {}
for i, s in ipairs(KEYS) do
  local fair = s .. ':fair'
  local oldest = ''
  local function see(stream)
    local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
    if first[1] then
      local id = first[1][1]
      local ms, seq = string.match(id, '^(%d+)-(%d+)$')
      local o_ms, o_seq = string.match(oldest, '^(%d+)-(%d+)$')
      if oldest == '' or tonumber(ms) < tonumber(o_ms) or (ms == o_ms and tonumber(seq) < tonumber(o_seq)) then
        oldest = id
      end
    end
  end
  see(s)
  for _, set in ipairs({':active', ':parked'}) do
    for _, key in ipairs(redis.call('ZRANGE', s .. set, 0, 49)) do
      if key ~= '' then see(s .. ':f:' .. key) end
    end
  end
  local n = tonumber(redis.call('HGET', fair, 'n') or '0')
  local keys = redis.call('ZCARD', s .. ':active') + redis.call('ZCARD', s .. ':parked')
  out[i] = {math.max(n, 0), keys, oldest}
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
    scripts: Scripts,
}

struct Scripts {
    push: redis::Script,
    pop: redis::Script,
    ack: redis::Script,
    reclaim: redis::Script,
    stats: redis::Script,
}

impl Default for Scripts {
    fn default() -> Self {
        Scripts {
            push: redis::Script::new(PUSH),
            pop: redis::Script::new(POP),
            ack: redis::Script::new(ACK),
            reclaim: redis::Script::new(RECLAIM),
            stats: redis::Script::new(STATS),
        }
    }
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
                scripts: Scripts::default(),
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
    async fn reader_connection(&self) -> RedisResult<MultiplexedConnection> {
        let cfg = AsyncConnectionConfig::new()
            .set_response_timeout(Some(self.timing.block + Duration::from_secs(5)));
        let mut conn = self
            .client
            .get_multiplexed_async_connection_with_config(&cfg)
            .await?;
        set_name(&mut conn, &self.consumer).await?;
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

    /// Hands entries read (in dispatch order) to the polls in line.
    async fn deliver(&self, id: &QueueId, entries: Vec<Read>) {
        let mut unreadable = Vec::new();
        {
            let mut lines = self.lines.lock().expect("lines lock");
            let Some(line) = lines.get_mut(id) else {
                return;
            };
            for Read { receipt, json } in entries {
                match json.and_then(|json| serde_json::from_str(&json).ok()) {
                    Some(task) => line.hand(Delivery { task, receipt }, false),
                    None => unreadable.push(receipt),
                }
            }
        }
        // Not ours to interpret: dropped, or it would be reclaimed forever.
        for receipt in unreadable {
            tracing::warn!(receipt, "dropping an unreadable task queue entry");
            if let Err(e) = self.ack_entry(&id.0, &id.1, &receipt).await {
                tracing::warn!(receipt, error = %e, "could not drop an unreadable entry");
            }
        }
    }

    async fn ack_entry(&self, ns: &str, queue: &str, receipt: &str) -> Result<(), QueueError> {
        let streams = self.keys.streams(ns, queue, self.kind);
        let (level, entry, key) = parse_receipt(receipt)
            .filter(|(level, _, _)| *level < streams.len())
            .ok_or_else(|| QueueError::Unavailable(format!("malformed receipt {receipt:?}")))?;
        let level_stream = &streams[level];
        let stream = match key {
            "" => level_stream.clone(),
            key => format!("{level_stream}:f:{key}"),
        };
        // Deleted too, so that the stream holds only the backlog and does not grow.
        self.scripts
            .ack
            .key(stream)
            .key(level_stream)
            .key(self.keys.inflight(ns, queue, self.kind))
            .arg(GROUP)
            .arg(entry)
            .arg(receipt)
            .arg(u8::from(!key.is_empty()))
            .invoke_async::<()>(&mut self.conn.clone())
            .await?;
        Ok(())
    }
}

/// `level/entry id/fairness key` (the key may hold slashes).
fn parse_receipt(receipt: &str) -> Option<(usize, &str, &str)> {
    let (level, rest) = receipt.split_once('/')?;
    let (entry, key) = rest.split_once('/')?;
    Some((level.parse().ok()?, entry, key))
}

/// What a reader keeps between rounds.
struct Reader {
    conn: Option<MultiplexedConnection>,
    next_claim: Instant,
    /// The queue's level streams, then its in-flight set and its bell.
    keys: Vec<String>,
}

/// Entries as the scripts answer them: `{receipt, {field, value, ...}}`.
fn reads(entries: Vec<(String, Vec<String>)>) -> Vec<Read> {
    entries
        .into_iter()
        .map(|(receipt, fields)| Read {
            receipt,
            json: fields
                .chunks(2)
                .find(|f| f[0] == FIELD)
                .and_then(|f| f.get(1).cloned()),
        })
        .collect()
}

impl Reader {
    /// Reclaims abandoned entries when due, else reads new ones in dispatch order; when every
    /// level is empty, waits up to `block` for the queue's bell to ring.
    async fn round(&mut self, inner: &Inner, want: usize) -> RedisResult<Vec<Read>> {
        if self.conn.is_none() {
            self.conn = Some(inner.reader_connection().await?);
        }
        let conn = self.conn.as_mut().expect("connected");
        let (streams, bell) = self.keys.split_at(self.keys.len() - 1);
        if Instant::now() >= self.next_claim {
            self.next_claim = Instant::now() + inner.timing.claim_every;
            let claimed: Vec<(String, Vec<String>)> = inner
                .scripts
                .reclaim
                .key(streams)
                .arg(GROUP)
                .arg(&inner.consumer)
                .arg(inner.timing.claim_min_idle.as_millis() as u64)
                .arg(want)
                .invoke_async(conn)
                .await?;
            if !claimed.is_empty() {
                return Ok(reads(claimed));
            }
        }
        let (rung, read, wait): (String, Vec<(String, Vec<String>)>, i64) = inner
            .scripts
            .pop
            .key(&self.keys)
            .arg(GROUP)
            .arg(&inner.consumer)
            .arg(want)
            .invoke_async(conn)
            .await?;
        if !read.is_empty() {
            return Ok(reads(read));
        }
        // Until the bell rings, or until a key its rate parked may go.
        let block = match u64::try_from(wait) {
            Ok(ms) => inner.timing.block.min(Duration::from_millis(ms)),
            Err(_) => inner.timing.block,
        };
        let opts = StreamReadOptions::default()
            .count(1)
            .block(block.as_millis() as usize);
        let _: Option<StreamReadReply> = conn.xread_options(bell, &[rung], &opts).await?;
        Ok(Vec::new())
    }
}

/// One per queue with polls in this process. Reads as many entries as there are waiting polls,
/// and stops when the queue has had none for `reader_idle` (or the backend is dropped).
async fn read_loop(weak: Weak<Inner>, id: QueueId, wake: Arc<Notify>) {
    let Some(keys) = weak.upgrade().map(|inner| {
        let mut keys = inner.keys.streams(&id.0, &id.1, inner.kind).to_vec();
        keys.push(inner.keys.inflight(&id.0, &id.1, inner.kind));
        keys.push(inner.keys.bell(&id.0, &id.1, inner.kind));
        keys
    }) else {
        return;
    };
    let mut reader = Reader {
        conn: None,
        next_claim: Instant::now(),
        keys,
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
        match reader.round(&inner, want).await {
            Ok(entries) => {
                failures = 0;
                inner.deliver(&id, entries).await;
            }
            Err(e) => {
                let key = &reader.keys[0];
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
        let bell = self
            .inner
            .keys
            .bell(&task.namespace, &task.task_queue, self.inner.kind);
        let json = serde_json::to_string(&task).expect("a task serializes");
        let mut push = self.inner.scripts.push.key(&streams[task.level()]);
        push.key(bell)
            .arg(&task.fairness_key)
            .arg(crate::stride(task.fairness_weight))
            .arg(json)
            .arg(task.key_rate.map(|r| r.to_string()).unwrap_or_default());
        let mut pipe = redis::pipe();
        pipe.invoke_script(&push).ignore();
        let now = epoch_ms(SystemTime::now());
        self.inner
            .seen(&mut pipe, &task.namespace, &task.task_queue, now);
        let mut conn = self.inner.conn.clone();
        match pipe.exec_async(&mut conn).await {
            // The first push since Redis started: load the script, then push again.
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                push.load_async(&mut conn).await?;
                pipe.exec_async(&mut conn).await?;
            }
            other => other?,
        }
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
        self.inner
            .ack_entry(namespace, task_queue, &receipt.0)
            .await
    }

    /// The oldest entry's id starts with the millisecond it was added (`XADD *`): its age.
    async fn stats(&self, namespace: &str, task_queue: &str) -> Result<QueueStats, QueueError> {
        let streams = self
            .inner
            .keys
            .streams(namespace, task_queue, self.inner.kind);
        let levels: Vec<(usize, usize, String)> = self
            .inner
            .scripts
            .stats
            .key(&streams[..])
            .invoke_async(&mut self.inner.conn.clone())
            .await?;
        let mut stats = QueueStats::default();
        for (level, (len, keys, oldest)) in levels.into_iter().enumerate().take(PRIORITY_LEVELS) {
            stats.by_priority[level] = len;
            stats.keys_by_priority[level] = keys;
            stats.oldest_by_priority[level] = entry_time(&oldest);
        }
        stats.backlog = stats.by_priority.iter().sum();
        stats.oldest = stats.oldest_by_priority.iter().flatten().min().copied();
        stats.pollers = self
            .inner
            .wanted(&(namespace.to_owned(), task_queue.to_owned()));
        Ok(stats)
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
            queued_at: parse_receipt(&d.receipt)
                .and_then(|(_, entry, _)| entry_time(entry))
                .unwrap_or_else(SystemTime::now),
            task: d.task,
            receipt: Receipt(d.receipt),
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
