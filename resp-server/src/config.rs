//! Configuration: command-line flags, `redis.conf`-style files, and the
//! runtime parameter table behind `CONFIG GET`/`CONFIG SET`.
//!
//! Parameter names are Redis' (`maxclients`, `proto-max-bulk-len`, ...), in
//! files and on the command line alike (`--maxclients 100`). A file is read
//! first, flags override it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;

/// Command-line options of the `resp-server` binary.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "resp-server",
    version,
    about = "A Redis-compatible key-value server"
)]
pub struct Options {
    /// A redis.conf-style file of `name value` lines; flags override it.
    #[arg(long = "config", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long)]
    pub bind: Option<String>,
    /// TCP port (0 picks a free one).
    #[arg(long)]
    pub port: Option<u16>,
    /// Password clients must give with AUTH (or HELLO ... AUTH).
    #[arg(long)]
    pub requirepass: Option<String>,
    /// Number of logical databases (SELECT 0 to n-1).
    #[arg(long)]
    pub databases: Option<usize>,
    /// Number of keyspace shards (rounded up to a power of two).
    #[arg(long)]
    pub shards: Option<usize>,
    /// Maximum number of connected clients.
    #[arg(long)]
    pub maxclients: Option<usize>,
    /// Worker threads serving connections (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Concurrency model: striped (default) or shard-per-thread.
    #[arg(long)]
    pub threading: Option<String>,
    /// Log level: debug, verbose, notice, warning (Redis' names) or a
    /// tracing filter.
    #[arg(long)]
    pub loglevel: Option<String>,
    /// Any other parameter, as `--set name=value` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
}

/// A parameter that could not be set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Kind of value a parameter takes, with Redis' validation rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Any text.
    Text,
    /// A plain integer (no unit suffix) within `min..=max`.
    Int { min: i64, max: i64 },
    /// A memory size (digits with an optional unit, see [`parse_size`])
    /// within `min..=max` bytes.
    Memory { min: u64, max: u64 },
    /// yes or no.
    Bool,
    /// One of the listed words, listed in Redis' order (error texts show it).
    Enum(&'static [&'static str]),
    /// `hz`: an integer of `0..=i32::MAX`, clamped to `1..=500` as Redis does.
    Hz,
    /// `save`: space-separated `seconds changes` pairs, or empty.
    Save,
    /// `notify-keyspace-events`: a set of event class characters.
    KeyspaceEvents,
}

/// Whether `CONFIG SET` may change a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    /// Settable at runtime.
    Mutable,
    /// Start-up only (`can't set immutable config`).
    Immutable,
    /// Start-up only, as Redis' protected configs with the default
    /// `enable-protected-configs no` (`can't set protected config`).
    Protected,
}

/// One parameter of the table.
#[derive(Debug)]
struct Param {
    name: &'static str,
    default: &'static str,
    kind: Kind,
    access: Access,
}

const fn param(name: &'static str, default: &'static str, kind: Kind, access: Access) -> Param {
    Param {
        name,
        default,
        kind,
        access,
    }
}

const I32: i64 = i32::MAX as i64;
const MB: u64 = 1 << 20;
const I64_MAX_U: u64 = i64::MAX as u64;

/// The parameters, with Redis 7.0's defaults, bounds and mutability (`bind`
/// and `port` are mutable in Redis; here the listener is bound once).
#[rustfmt::skip] // a table: one parameter per line
const PARAMS: &[Param] = {
    use Access::*;
    use Kind::*;
    &[
        param("bind", "127.0.0.1", Text, Immutable),
        param("port", "6379", Int { min: 0, max: 65535 }, Immutable),
        param("requirepass", "", Text, Mutable),
        param("databases", "16", Int { min: 1, max: I32 }, Immutable),
        param("shards", "64", Int { min: 1, max: 1 << 16 }, Immutable),
        param("threads", "0", Int { min: 0, max: 1024 }, Immutable),
        param("threading", "striped", Enum(&["striped", "shard-per-thread"]), Immutable),
        param("maxclients", "10000", Int { min: 1, max: u32::MAX as i64 }, Mutable),
        param("proto-max-bulk-len", "536870912", Memory { min: MB, max: I64_MAX_U }, Mutable),
        param("client-query-buffer-limit", "1073741824", Memory { min: MB, max: I64_MAX_U }, Mutable),
        param("timeout", "0", Int { min: 0, max: I32 }, Mutable),
        param("tcp-keepalive", "300", Int { min: 0, max: I32 }, Mutable),
        param("hz", "10", Hz, Mutable),
        param("loglevel", "notice", Enum(&["debug", "verbose", "notice", "warning", "nothing"]), Mutable),
        param("logfile", "", Text, Immutable),
        param("save", "", Save, Mutable),
        param("appendonly", "no", Bool, Mutable),
        param("appendfsync", "everysec", Enum(&["everysec", "always", "no"]), Mutable),
        param("dir", ".", Text, Protected),
        param("dbfilename", "dump.rdb", Text, Protected),
        param("maxmemory", "0", Memory { min: 0, max: u64::MAX }, Mutable),
        param(
            "maxmemory-policy",
            "noeviction",
            Enum(&[
                "volatile-lru",
                "volatile-lfu",
                "volatile-random",
                "volatile-ttl",
                "allkeys-lru",
                "allkeys-lfu",
                "allkeys-random",
                "noeviction",
            ]),
            Mutable,
        ),
        param("daemonize", "no", Bool, Immutable),
        param("protected-mode", "yes", Bool, Mutable),
        param("io-threads", "1", Int { min: 1, max: 128 }, Immutable),
        param("slowlog-log-slower-than", "10000", Int { min: -1, max: i64::MAX }, Mutable),
        param("slowlog-max-len", "128", Int { min: 0, max: i64::MAX }, Mutable),
        param("lazyfree-lazy-user-del", "no", Bool, Mutable),
        param("lazyfree-lazy-user-flush", "no", Bool, Mutable),
        param("notify-keyspace-events", "", KeyspaceEvents, Mutable),
        param("active-expire-effort", "1", Int { min: 1, max: 10 }, Mutable),
        param("hash-max-listpack-entries", "128", Int { min: 0, max: i64::MAX }, Mutable),
        param("hash-max-listpack-value", "64", Int { min: 0, max: i64::MAX }, Mutable),
        param("set-max-intset-entries", "512", Int { min: 0, max: i64::MAX }, Mutable),
        param("zset-max-listpack-entries", "128", Int { min: 0, max: i64::MAX }, Mutable),
        param("zset-max-listpack-value", "64", Int { min: 0, max: i64::MAX }, Mutable),
        param("list-max-listpack-size", "-2", Int { min: i32::MIN as i64, max: I32 }, Mutable),
        param("list-compress-depth", "0", Int { min: 0, max: I32 }, Mutable),
        param(
            "client-output-buffer-limit",
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
            Text,
            Mutable,
        ),
    ]
};

/// Parses a Redis memory size: digits with an optional unit (`1k` = 1000,
/// `1kb` = 1024, `m`, `mb`, `g`, `gb`), case-insensitive.
pub fn parse_size(s: &str) -> Option<u64> {
    let lower = s.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let mult = match unit {
        "" | "b" => 1,
        "k" => 1_000,
        "kb" => 1 << 10,
        "m" => 1_000_000,
        "mb" => 1 << 20,
        "g" => 1_000_000_000,
        "gb" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// The `(hard bytes, soft bytes, soft seconds)` limit of `class` (`normal`,
/// `replica`/`slave`, `pubsub`) in a `client-output-buffer-limit` value
/// (`class hard soft seconds` groups; sizes may carry units).
pub fn output_limit(value: &str, class: &str) -> Option<(u64, u64, u64)> {
    let words: Vec<&str> = value.split_whitespace().collect();
    words.chunks(4).find_map(|group| match group {
        [c, hard, soft, secs] if c.eq_ignore_ascii_case(class) => {
            Some((parse_size(hard)?, parse_size(soft)?, secs.parse().ok()?))
        }
        _ => None,
    })
}

/// The live parameter table of a server.
///
/// Values are kept as text for `CONFIG GET`; the ones read on hot paths are
/// mirrored into atomics.
#[derive(Debug)]
pub struct ConfigStore {
    values: RwLock<BTreeMap<&'static str, String>>,
    max_bulk_len: AtomicU64,
    query_buffer_limit: AtomicU64,
    maxclients: AtomicU64,
    timeout_s: AtomicU64,
    /// Mirrors of the encoding thresholds, in [`Encodings`] field order.
    encodings: [std::sync::atomic::AtomicI64; 7],
    pubsub_limit: AtomicU64,
}

/// Size thresholds of the compact encodings of containers (Redis' names),
/// read by commands that grow a container: past a threshold, a compact
/// encoding converts to the general one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encodings {
    /// `hash-max-listpack-entries`: most fields of a listpack hash.
    pub hash_max_listpack_entries: usize,
    /// `hash-max-listpack-value`: longest field or value (bytes) of a listpack hash.
    pub hash_max_listpack_value: usize,
    /// `set-max-intset-entries`: most members of an intset.
    pub set_max_intset_entries: usize,
    /// `zset-max-listpack-entries`: most members of a listpack sorted set.
    pub zset_max_listpack_entries: usize,
    /// `zset-max-listpack-value`: longest member (bytes) of a listpack sorted set.
    pub zset_max_listpack_value: usize,
    /// `list-max-listpack-size`: positive, entries per list node; -1 to -5,
    /// bytes per node (4, 8, 16, 32, 64 KiB).
    pub list_max_listpack_size: i64,
    /// `list-compress-depth`: nodes at each end of a list left uncompressed
    /// (0: none compressed).
    pub list_compress_depth: usize,
}

/// Names of the [`Encodings`] parameters, in field order.
const ENCODING_PARAMS: [&str; 7] = [
    "hash-max-listpack-entries",
    "hash-max-listpack-value",
    "set-max-intset-entries",
    "zset-max-listpack-entries",
    "zset-max-listpack-value",
    "list-max-listpack-size",
    "list-compress-depth",
];

impl Default for ConfigStore {
    fn default() -> Self {
        let store = ConfigStore {
            values: RwLock::new(
                PARAMS
                    .iter()
                    .map(|p| (p.name, p.default.to_string()))
                    .collect(),
            ),
            max_bulk_len: AtomicU64::new(0),
            query_buffer_limit: AtomicU64::new(0),
            maxclients: AtomicU64::new(0),
            timeout_s: AtomicU64::new(0),
            encodings: Default::default(),
            pubsub_limit: AtomicU64::new(0),
        };
        store.refresh_atomics();
        store
    }
}

fn find_param(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Event classes of `notify-keyspace-events` that `A` stands for, in the
/// order Redis prints them.
const EVENT_CLASSES: &[u8] = b"g$lshzxetd";

/// Parses and normalizes `notify-keyspace-events` as Redis does (`KEA`
/// becomes `AKE`); None for an unknown class character.
fn keyspace_events(value: &str) -> Option<String> {
    let mut on = [false; 256];
    for &c in value.as_bytes() {
        if c == b'A' {
            EVENT_CLASSES.iter().for_each(|&e| on[e as usize] = true);
        } else if EVENT_CLASSES.contains(&c) || b"KEmn".contains(&c) {
            on[c as usize] = true;
        } else {
            return None;
        }
    }
    let mut out = String::new();
    if EVENT_CLASSES.iter().all(|&e| on[e as usize]) {
        out.push('A');
    } else {
        for &c in EVENT_CLASSES.iter().chain(b"n") {
            if on[c as usize] {
                out.push(c as char);
            }
        }
    }
    for &c in b"KEm" {
        if on[c as usize] {
            out.push(c as char);
        }
    }
    Some(out)
}

/// Parses `save` (`seconds changes` pairs separated by single spaces, or
/// empty) as Redis 7.0 does; returns the normalized text.
fn save_params(value: &str) -> Option<String> {
    if value.is_empty() {
        return Some(String::new());
    }
    let parts: Vec<&str> = value.split(' ').collect();
    if !parts.len().is_multiple_of(2) {
        return None;
    }
    let mut out = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let n = crate::num::parse_i64_canonical(part.as_bytes())?;
        if (i % 2 == 0 && n < 1) || n < 0 {
            return None;
        }
        out.push(n.to_string());
    }
    Some(out.join(" "))
}

/// Checks `value` against `p` and returns the text `CONFIG GET` will show,
/// or Redis' reason for refusing it. Start-up values (`strict` false) skip
/// the lower bounds of memory sizes, so tests can run with tiny limits.
fn validate(p: &Param, value: &str, strict: bool) -> Result<String, String> {
    let range = |min: &dyn fmt::Display, max: &dyn fmt::Display| {
        format!("argument must be between {min} and {max} inclusive")
    };
    match p.kind {
        Kind::Text => Ok(value.to_string()),
        Kind::Int { min, max } => match crate::num::parse_i64_canonical(value.as_bytes()) {
            None => Err("argument couldn't be parsed into an integer".to_string()),
            Some(n) if n < min || n > max => Err(range(&min, &max)),
            Some(n) => Ok(n.to_string()),
        },
        Kind::Memory { min, max } => match parse_size(value) {
            None => Err("argument must be a memory value".to_string()),
            Some(n) if (strict && n < min) || n > max => Err(range(&min, &max)),
            Some(n) => Ok(n.to_string()),
        },
        Kind::Hz => match crate::num::parse_i64_canonical(value.as_bytes()) {
            None => Err("argument couldn't be parsed into an integer".to_string()),
            Some(n) if !(0..=I32).contains(&n) => Err(range(&0, &I32)),
            Some(n) => Ok(n.clamp(1, 500).to_string()),
        },
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            v @ ("yes" | "no") => Ok(v.to_string()),
            _ => Err("argument must be 'yes' or 'no'".to_string()),
        },
        Kind::Enum(words) => {
            let v = value.to_ascii_lowercase();
            if words.contains(&v.as_str()) {
                Ok(v)
            } else {
                Err(format!(
                    "argument(s) must be one of the following: {}",
                    words.join(", ")
                ))
            }
        }
        Kind::Save => save_params(value).ok_or_else(|| "Invalid save parameters".to_string()),
        Kind::KeyspaceEvents => keyspace_events(value)
            .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string()),
    }
}

/// Why `CONFIG SET` refused a call. `Display` gives Redis' error text
/// without the leading `ERR `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetError {
    /// A name that is no parameter.
    Unknown(String),
    /// A parameter that cannot be set, or not to that value: its name (as
    /// Redis reports it) and the reason.
    Failed {
        /// The parameter.
        name: String,
        /// Redis' reason text, e.g. `can't set immutable config`.
        reason: String,
    },
}

impl fmt::Display for SetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetError::Unknown(name) => write!(
                f,
                "Unknown option or number of arguments for CONFIG SET - '{name}'"
            ),
            SetError::Failed { name, reason } => write!(
                f,
                "CONFIG SET failed (possibly related to argument '{name}') - {reason}"
            ),
        }
    }
}

impl std::error::Error for SetError {}

impl ConfigStore {
    /// Builds the table from a config file (if any) and flags.
    ///
    /// # Errors
    /// An unreadable file, an unknown parameter or an invalid value, naming
    /// the file and line where there is one.
    pub fn from_options(opts: &Options) -> Result<ConfigStore, ConfigError> {
        let store = ConfigStore::default();
        if let Some(path) = &opts.config_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
            store
                .load_text(&text)
                .map_err(|(line, e)| ConfigError(format!("{}:{line}: {e}", path.display())))?;
        }
        let flags: [(&str, Option<String>); 9] = [
            ("bind", opts.bind.clone()),
            ("port", opts.port.map(|v| v.to_string())),
            ("requirepass", opts.requirepass.clone()),
            ("databases", opts.databases.map(|v| v.to_string())),
            ("shards", opts.shards.map(|v| v.to_string())),
            ("maxclients", opts.maxclients.map(|v| v.to_string())),
            ("threads", opts.threads.map(|v| v.to_string())),
            ("threading", opts.threading.clone()),
            ("loglevel", opts.loglevel.clone()),
        ];
        for (name, value) in flags {
            if let Some(v) = value {
                store.set_startup(name, &v)?;
            }
        }
        for kv in &opts.set {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| ConfigError(format!("--set expects NAME=VALUE, got '{kv}'")))?;
            store.set_startup(k, v)?;
        }
        Ok(store)
    }

    /// Applies `name value` lines (redis.conf syntax: `#` comments, values
    /// optionally double-quoted). Errors carry the 1-based line number.
    pub fn load_text(&self, text: &str) -> Result<(), (usize, ConfigError)> {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let value = rest.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            self.set_startup(name, value).map_err(|e| (i + 1, e))?;
        }
        Ok(())
    }

    /// Sets a parameter at start-up (any parameter, mutable or not).
    ///
    /// # Errors
    /// An unknown parameter or a value Redis would refuse (memory sizes may
    /// be below Redis' lower bounds here).
    pub fn set_startup(&self, name: &str, value: &str) -> Result<(), ConfigError> {
        let p =
            find_param(name).ok_or_else(|| ConfigError(format!("unknown parameter '{name}'")))?;
        let v = validate(p, value, false)
            .map_err(|e| ConfigError(format!("invalid value for '{}': {e}", p.name)))?;
        self.values.write().insert(p.name, v);
        self.refresh_atomics();
        Ok(())
    }

    /// Sets one parameter at runtime, as `CONFIG SET name value`.
    ///
    /// # Errors
    /// As [`ConfigStore::set_many`].
    pub fn set_runtime(&self, name: &str, value: &str) -> Result<(), SetError> {
        self.set_many(&[(name, value)])
    }

    /// Sets parameters at runtime, all or none (`CONFIG SET name value
    /// [name value ...]`), checking in Redis 7.0's order: names first (the
    /// first unknown, immutable, protected or repeated name fails the call),
    /// then values in order.
    ///
    /// # Errors
    /// The first problem found, with Redis' text.
    pub fn set_many(&self, pairs: &[(&str, &str)]) -> Result<(), SetError> {
        let mut params: Vec<&'static Param> = Vec::with_capacity(pairs.len());
        let mut failed: Option<SetError> = None;
        for &(name, _) in pairs {
            let Some(p) = find_param(name) else {
                return Err(failed.unwrap_or_else(|| SetError::Unknown(name.to_string())));
            };
            if failed.is_some() {
                continue;
            }
            let reason = match p.access {
                Access::Immutable => Some("can't set immutable config"),
                Access::Protected => Some("can't set protected config"),
                Access::Mutable if params.iter().any(|q| q.name == p.name) => {
                    Some("duplicate parameter")
                }
                Access::Mutable => None,
            };
            if let Some(reason) = reason {
                failed = Some(SetError::Failed {
                    name: name.to_string(),
                    reason: reason.to_string(),
                });
            }
            params.push(p);
        }
        if let Some(e) = failed {
            return Err(e);
        }
        let mut values = Vec::with_capacity(pairs.len());
        for (p, &(_, value)) in params.iter().zip(pairs) {
            let v = validate(p, value, true).map_err(|reason| SetError::Failed {
                name: p.name.to_string(),
                reason,
            })?;
            values.push((p.name, v));
        }
        self.values.write().extend(values);
        self.refresh_atomics();
        Ok(())
    }

    /// The table's spelling of parameter `name` (matched case-insensitively).
    pub fn canonical_name(name: &str) -> Option<&'static str> {
        find_param(name).map(|p| p.name)
    }

    /// Whether `name` is a known parameter.
    pub fn is_known(name: &str) -> bool {
        find_param(name).is_some()
    }

    /// Parameters whose names match the glob `pattern`, as (name, value).
    pub fn matching(&self, pattern: &[u8]) -> Vec<(&'static str, String)> {
        self.values
            .read()
            .iter()
            .filter(|(k, _)| crate::glob::matches(pattern, k.as_bytes(), true))
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    }

    /// The text value of a parameter.
    pub fn get(&self, name: &str) -> Option<String> {
        self.values.read().get(name).cloned()
    }

    /// A numeric parameter (0 if absent or not a number).
    pub fn get_u64(&self, name: &str) -> u64 {
        self.values
            .read()
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    fn refresh_atomics(&self) {
        self.max_bulk_len
            .store(self.get_u64("proto-max-bulk-len"), Ordering::Relaxed);
        self.query_buffer_limit
            .store(self.get_u64("client-query-buffer-limit"), Ordering::Relaxed);
        self.maxclients
            .store(self.get_u64("maxclients"), Ordering::Relaxed);
        self.timeout_s
            .store(self.get_u64("timeout"), Ordering::Relaxed);
        let values = self.values.read();
        for (slot, name) in self.encodings.iter().zip(ENCODING_PARAMS) {
            let v = values.get(name).and_then(|v| v.parse().ok()).unwrap_or(0);
            slot.store(v, Ordering::Relaxed);
        }
        let pubsub = values
            .get("client-output-buffer-limit")
            .and_then(|v| output_limit(v, "pubsub"))
            .map_or(0, |(hard, _, _)| hard);
        self.pubsub_limit.store(pubsub, Ordering::Relaxed);
    }

    /// The encoding thresholds of containers.
    #[inline]
    pub fn encodings(&self) -> Encodings {
        let get = |i: usize| self.encodings[i].load(Ordering::Relaxed);
        let size = |i: usize| get(i).max(0) as usize;
        Encodings {
            hash_max_listpack_entries: size(0),
            hash_max_listpack_value: size(1),
            set_max_intset_entries: size(2),
            zset_max_listpack_entries: size(3),
            zset_max_listpack_value: size(4),
            list_max_listpack_size: get(5),
            list_compress_depth: size(6),
        }
    }

    /// The hard output-buffer limit of pub/sub clients, bytes (0: none),
    /// from `client-output-buffer-limit`.
    #[inline]
    pub fn pubsub_output_limit(&self) -> usize {
        self.pubsub_limit.load(Ordering::Relaxed) as usize
    }

    /// `proto-max-bulk-len`, bytes.
    #[inline]
    pub fn max_bulk_len(&self) -> usize {
        self.max_bulk_len.load(Ordering::Relaxed) as usize
    }

    /// `client-query-buffer-limit`, bytes.
    #[inline]
    pub fn query_buffer_limit(&self) -> usize {
        self.query_buffer_limit.load(Ordering::Relaxed) as usize
    }

    /// `maxclients`.
    #[inline]
    pub fn maxclients(&self) -> usize {
        self.maxclients.load(Ordering::Relaxed) as usize
    }

    /// `timeout`, seconds of idleness before a client is closed (0: never).
    #[inline]
    pub fn timeout_s(&self) -> u64 {
        self.timeout_s.load(Ordering::Relaxed)
    }

    /// `requirepass`, if set.
    pub fn requirepass(&self) -> Option<String> {
        self.get("requirepass").filter(|p| !p.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10"), Some(10));
        assert_eq!(parse_size("1kb"), Some(1024));
        assert_eq!(parse_size("2GB"), Some(2 << 30));
        assert_eq!(parse_size("1x"), None);
        assert_eq!(parse_size("-1"), None);
    }

    #[test]
    fn file_then_runtime() {
        let c = ConfigStore::default();
        c.load_text("# comment\nmaxclients 5\nrequirepass \"s e\"\n")
            .unwrap();
        assert_eq!(c.maxclients(), 5);
        assert_eq!(c.requirepass().as_deref(), Some("s e"));
        assert_eq!(c.load_text("nosuch 1").unwrap_err().0, 1);
        assert_eq!(
            c.set_runtime("port", "1").unwrap_err().to_string(),
            "CONFIG SET failed (possibly related to argument 'port') - can't set immutable config"
        );
        c.set_runtime("proto-max-bulk-len", "1mb").unwrap();
        assert_eq!(c.max_bulk_len(), 1 << 20);
        assert_eq!(c.matching(b"max*").len(), 3);
    }

    fn set_err(c: &ConfigStore, pairs: &[(&str, &str)]) -> String {
        c.set_many(pairs).unwrap_err().to_string()
    }

    #[test]
    fn config_set_checks_like_redis() {
        let c = ConfigStore::default();
        let failed = |name: &str, reason: &str| {
            format!("CONFIG SET failed (possibly related to argument '{name}') - {reason}")
        };
        // Names first, the first problem in argument order wins.
        assert_eq!(
            set_err(&c, &[("maxclients", "x"), ("nosuch", "1")]),
            "Unknown option or number of arguments for CONFIG SET - 'nosuch'"
        );
        assert_eq!(
            set_err(&c, &[("DAEMONIZE", "yes"), ("nosuch", "1")]),
            failed("DAEMONIZE", "can't set immutable config")
        );
        assert_eq!(
            set_err(&c, &[("dir", "/")]),
            failed("dir", "can't set protected config")
        );
        assert_eq!(
            set_err(&c, &[("hz", "5"), ("HZ", "6")]),
            failed("HZ", "duplicate parameter")
        );
        // Then values, reported under the canonical name.
        assert_eq!(
            set_err(&c, &[("MAXCLIENTS", "abc")]),
            failed("maxclients", "argument couldn't be parsed into an integer")
        );
        assert_eq!(
            set_err(&c, &[("maxclients", "0")]),
            failed(
                "maxclients",
                "argument must be between 1 and 4294967295 inclusive"
            )
        );
        assert_eq!(
            set_err(&c, &[("maxmemory", "-1")]),
            failed("maxmemory", "argument must be a memory value")
        );
        assert_eq!(
            set_err(&c, &[("proto-max-bulk-len", "10")]),
            failed(
                "proto-max-bulk-len",
                "argument must be between 1048576 and 9223372036854775807 inclusive"
            )
        );
        assert_eq!(
            set_err(&c, &[("appendfsync", "x")]),
            failed(
                "appendfsync",
                "argument(s) must be one of the following: everysec, always, no"
            )
        );
        assert_eq!(
            set_err(&c, &[("save", "1 2 3")]),
            failed("save", "Invalid save parameters")
        );
        // All or nothing.
        assert!(c.set_many(&[("hz", "20"), ("maxclients", "-1")]).is_err());
        assert_eq!(c.get("hz").as_deref(), Some("10"));
        c.set_many(&[("hz", "1000"), ("maxclients", "7"), ("maxmemory", "1kb")])
            .unwrap();
        assert_eq!(c.get("hz").as_deref(), Some("500"));
        assert_eq!(c.maxclients(), 7);
        assert_eq!(c.get("maxmemory").as_deref(), Some("1024"));
        // Start-up values may go below Redis' lower bounds of sizes.
        c.set_startup("proto-max-bulk-len", "100").unwrap();
        assert_eq!(c.max_bulk_len(), 100);
    }

    #[test]
    fn normalized_values() {
        assert_eq!(keyspace_events("KEA").as_deref(), Some("AKE"));
        assert_eq!(keyspace_events("nmdtKEA").as_deref(), Some("AKEm"));
        assert_eq!(keyspace_events("ndtexzhsl").as_deref(), Some("lshzxetdn"));
        assert_eq!(keyspace_events("Kgx").as_deref(), Some("gxK"));
        assert_eq!(keyspace_events("Kq"), None);
        assert_eq!(
            save_params("3600 1 300 100").as_deref(),
            Some("3600 1 300 100")
        );
        assert_eq!(save_params("").as_deref(), Some(""));
        assert_eq!(save_params(" 100 20"), None);
        assert_eq!(save_params("0 1"), None);
    }
}
