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

/// Kind of value a parameter takes, for validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Any text.
    Text,
    /// A non-negative integer, with optional unit suffix (k, kb, m, mb, g, gb).
    Size,
    /// yes or no.
    Bool,
    /// One of the listed words.
    Enum(&'static [&'static str]),
}

/// (name, default, kind, settable at runtime)
const PARAMS: &[(&str, &str, Kind, bool)] = &[
    ("bind", "127.0.0.1", Kind::Text, false),
    ("port", "6379", Kind::Size, false),
    ("requirepass", "", Kind::Text, true),
    ("databases", "16", Kind::Size, false),
    ("shards", "64", Kind::Size, false),
    ("threads", "0", Kind::Size, false),
    ("maxclients", "10000", Kind::Size, true),
    ("proto-max-bulk-len", "536870912", Kind::Size, true),
    ("client-query-buffer-limit", "1073741824", Kind::Size, true),
    ("timeout", "0", Kind::Size, true),
    ("tcp-keepalive", "300", Kind::Size, true),
    ("hz", "10", Kind::Size, true),
    (
        "loglevel",
        "notice",
        Kind::Enum(&["debug", "verbose", "notice", "warning", "nothing"]),
        true,
    ),
    ("logfile", "", Kind::Text, false),
    ("save", "", Kind::Text, true),
    ("appendonly", "no", Kind::Bool, true),
    (
        "appendfsync",
        "everysec",
        Kind::Enum(&["always", "everysec", "no"]),
        true,
    ),
    ("dir", ".", Kind::Text, true),
    ("dbfilename", "dump.rdb", Kind::Text, true),
    ("maxmemory", "0", Kind::Size, true),
    (
        "maxmemory-policy",
        "noeviction",
        Kind::Enum(&[
            "noeviction",
            "allkeys-lru",
            "volatile-lru",
            "allkeys-lfu",
            "volatile-lfu",
            "allkeys-random",
            "volatile-random",
            "volatile-ttl",
        ]),
        true,
    ),
    ("daemonize", "no", Kind::Bool, false),
    ("protected-mode", "yes", Kind::Bool, true),
    ("io-threads", "1", Kind::Size, false),
    ("slowlog-log-slower-than", "10000", Kind::Size, true),
    ("slowlog-max-len", "128", Kind::Size, true),
    ("lazyfree-lazy-user-del", "no", Kind::Bool, true),
    ("lazyfree-lazy-user-flush", "no", Kind::Bool, true),
    ("notify-keyspace-events", "", Kind::Text, true),
    ("active-expire-effort", "1", Kind::Size, true),
    (
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        Kind::Text,
        true,
    ),
];

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
}

impl Default for ConfigStore {
    fn default() -> Self {
        let store = ConfigStore {
            values: RwLock::new(PARAMS.iter().map(|p| (p.0, p.1.to_string())).collect()),
            max_bulk_len: AtomicU64::new(0),
            query_buffer_limit: AtomicU64::new(0),
            maxclients: AtomicU64::new(0),
            timeout_s: AtomicU64::new(0),
        };
        store.refresh_atomics();
        store
    }
}

fn find_param(name: &str) -> Option<&'static (&'static str, &'static str, Kind, bool)> {
    PARAMS.iter().find(|p| p.0.eq_ignore_ascii_case(name))
}

fn validate(kind: Kind, name: &str, value: &str) -> Result<String, ConfigError> {
    let bad = || ConfigError(format!("argument(s) must be valid for '{name}'"));
    match kind {
        Kind::Text => Ok(value.to_string()),
        Kind::Size => parse_size(value).map(|n| n.to_string()).ok_or_else(|| {
            ConfigError(format!(
                "argument couldn't be parsed into an integer for '{name}'"
            ))
        }),
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            v @ ("yes" | "no") => Ok(v.to_string()),
            _ => Err(ConfigError(format!(
                "argument must be 'yes' or 'no' for '{name}'"
            ))),
        },
        Kind::Enum(words) => {
            let v = value.to_ascii_lowercase();
            if words.contains(&v.as_str()) {
                Ok(v)
            } else {
                Err(bad())
            }
        }
    }
}

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
        let flags: [(&str, Option<String>); 8] = [
            ("bind", opts.bind.clone()),
            ("port", opts.port.map(|v| v.to_string())),
            ("requirepass", opts.requirepass.clone()),
            ("databases", opts.databases.map(|v| v.to_string())),
            ("shards", opts.shards.map(|v| v.to_string())),
            ("maxclients", opts.maxclients.map(|v| v.to_string())),
            ("threads", opts.threads.map(|v| v.to_string())),
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

    /// Sets a parameter at start-up (any parameter).
    pub fn set_startup(&self, name: &str, value: &str) -> Result<(), ConfigError> {
        let p =
            find_param(name).ok_or_else(|| ConfigError(format!("unknown parameter '{name}'")))?;
        let v = validate(p.2, p.0, value)?;
        self.values.write().insert(p.0, v);
        self.refresh_atomics();
        Ok(())
    }

    /// Sets a parameter at runtime (`CONFIG SET`): only parameters marked
    /// mutable. The error text is what `CONFIG SET` reports after
    /// `ERR CONFIG SET failed (possibly related to argument '<name>') - `.
    pub fn set_runtime(&self, name: &str, value: &str) -> Result<(), ConfigError> {
        let p = find_param(name).ok_or_else(|| {
            ConfigError("Unknown option or number of arguments for CONFIG SET".to_string())
        })?;
        if !p.3 {
            return Err(ConfigError("can't set immutable config".to_string()));
        }
        let v = validate(p.2, p.0, value)?;
        self.values.write().insert(p.0, v);
        self.refresh_atomics();
        Ok(())
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
        assert!(c.set_runtime("port", "1").is_err());
        c.set_runtime("proto-max-bulk-len", "1mb").unwrap();
        assert_eq!(c.max_bulk_len(), 1 << 20);
        assert_eq!(c.matching(b"max*").len(), 3);
    }
}
