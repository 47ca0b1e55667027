//! Credentials for feed sources and what may be shown of a source.
//!
//! Secrets never travel inside a label: a feed is shown (panel, log, `check`,
//! `record`, a recording's header) by [`redact`]ed text, and the credentials a source
//! uses live in [`Secret`]s, whose `Debug` prints `***`. They come from
//! - a **credentials file** (RON, see `scenes/README.md`), named by the environment
//!   variable [`CREDENTIALS_ENV`] or the scene's `security.credentials`, readable by
//!   its owner only (mode 0600 or stricter, else it is refused), with one entry per
//!   broker or HTTP source: user and password, a bearer token, an MQTT client
//!   certificate and key (mTLS), a fixed MQTT client id;
//! - the environment: [`PASSWORD_ENV`](super::mqtt::PASSWORD_ENV) for brokers without
//!   an entry, and any entry may take its secret from a named variable instead
//!   (`password_env`, `bearer_env`);
//! - the URL itself (`http://user:pw@host/…`, `mqtt://user:pw@host:1883/…`), accepted
//!   with a warning since the spec is then a secret too.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Environment variable naming the credentials file (wins over the scene's).
pub const CREDENTIALS_ENV: &str = "CITYTWIN_CREDENTIALS";

/// A password or token. Printing it shows `***`; [`Secret::expose`] is the one way out.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// How an HTTP source authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpAuth {
    Basic { user: String, password: Secret },
    Bearer(Secret),
}

/// A feed spec or URL as it may be shown: any `user:password@` part removed and, for
/// HTTP URLs, the query's values hidden (`?token=…`): camera and API URLs often
/// carry their token there.
pub fn redact(spec: &str) -> String {
    let Some((scheme, rest)) = spec.split_once("://") else {
        return spec.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let rest = match rest[..end].rfind('@') {
        Some(at) => &rest[at + 1..],
        None => rest,
    };
    let http = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    match rest.split_once('?').filter(|_| http) {
        Some((path, query_and_fragment)) => {
            let (query, fragment) = match query_and_fragment.split_once('#') {
                Some((q, f)) => (q, Some(f)),
                None => (query_and_fragment, None),
            };
            let hidden: Vec<String> = query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, _)) => format!("{k}=…"),
                    None => "…".to_string(),
                })
                .collect();
            let mut out = format!("{scheme}://{path}?{}", hidden.join("&"));
            if let Some(f) = fragment {
                out.push('#');
                out.push_str(f);
            }
            out
        }
        None => format!("{scheme}://{rest}"),
    }
}

/// A feed's name for one line of a panel, never with credentials: a replay's file
/// names, an MQTT source's broker and topic filter (`broker:1883 · city/zz/#`), an HTTP
/// source's host and the last segment of its path.
pub fn short_name(spec: &str) -> String {
    let shown = redact(spec);
    // A replay's files as its spec's parser reads them (speed and `loop` left off).
    if let Ok(super::FeedSpec::Replay { paths, .. }) =
        super::FeedSpec::parse(&shown, std::path::Path::new(""))
    {
        let files: Vec<String> = paths
            .iter()
            .map(|p| {
                p.file_name().map_or_else(
                    || p.display().to_string(),
                    |f| f.to_string_lossy().into_owned(),
                )
            })
            .collect();
        return files.join(" + ");
    }
    let Some((scheme, rest)) = shown.split_once("://") else {
        return shown;
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    if scheme.to_ascii_lowercase().starts_with("mqtt") {
        return if path.is_empty() {
            host.to_string()
        } else {
            format!("{host} · {path}")
        };
    }
    // HTTP: the path without query and options, its last named segment.
    let path = path.split(['?', '#']).next().unwrap_or("");
    match path.rsplit('/').find(|s| !s.is_empty()) {
        Some(last) => format!("{host} · {last}"),
        None => host.to_string(),
    }
}

/// One entry of the credentials file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialEntry {
    /// What it applies to: `scheme://host[:port][/path-prefix]`, e.g.
    /// `"mqtts://broker.city.local:8883"` or `"https://api.city.local/hotline/"`.
    pub source: String,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// The name of an environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// An HTTP bearer token.
    #[serde(default)]
    pub bearer: Option<String>,
    #[serde(default)]
    pub bearer_env: Option<String>,
    /// PEM client certificate (chain) and key for brokers that require mTLS; relative
    /// to the credentials file.
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    #[serde(default)]
    pub client_key: Option<PathBuf>,
    /// A fixed MQTT client id for this broker (default: derived from the instance).
    #[serde(default)]
    pub client_id: Option<String>,
}

/// What a source gets from its entry, secrets resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceCredentials {
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub bearer: Option<Secret>,
    pub client_cert: Option<(PathBuf, PathBuf)>,
    pub client_id: Option<String>,
}

/// The parsed credentials file.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    entries: Vec<(Target, SourceCredentials)>,
}

/// Where an entry applies.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    scheme: String,
    host: String,
    port: u16,
    path: String,
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "mqtt" => Some(1883),
        "mqtts" => Some(8883),
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl Target {
    fn parse(text: &str) -> Result<Self, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| format!("'{}' is not scheme://host[:port]", redact(text)))?;
        let scheme = scheme.to_ascii_lowercase();
        let default = default_port(&scheme).ok_or_else(|| {
            format!(
                "'{}': scheme must be mqtt, mqtts, http or https",
                redact(text)
            )
        })?;
        let end = rest.find('/').unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.contains('@') {
            return Err(format!(
                "'{}': put the user in `user`, not in the source",
                redact(text)
            ));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| format!("'{text}': bad port '{p}'"))?,
            ),
            None => (authority, default),
        };
        if host.is_empty() {
            return Err(format!("'{text}': no host"));
        }
        Ok(Self {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
            path: path.to_string(),
        })
    }
}

/// Why a credentials file cannot be used.
fn file_error(path: &Path, why: impl std::fmt::Display) -> String {
    format!("credentials file {}: {why}", path.display())
}

impl Credentials {
    /// Reads the file named by [`CREDENTIALS_ENV`], else `scene_path` (resolved against
    /// `base`), else none.
    pub fn locate(scene_path: Option<&str>, base: &Path) -> Result<Self, String> {
        match std::env::var_os(CREDENTIALS_ENV) {
            Some(p) if !p.is_empty() => Self::load(Path::new(&p)),
            _ => match scene_path {
                Some(p) => Self::load(&base.join(p)),
                None => Ok(Self::default()),
            },
        }
    }

    /// Reads and checks a credentials file: it must be readable by its owner only.
    pub fn load(path: &Path) -> Result<Self, String> {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|e| file_error(path, e))?;
        if !meta.is_file() {
            return Err(file_error(path, "not a regular file"));
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(file_error(
                path,
                format!(
                    "readable by others (mode {mode:04o}); run `chmod 600 {}`",
                    path.display()
                ),
            ));
        }
        if meta.len() > 1 << 20 {
            return Err(file_error(path, "over 1 MiB"));
        }
        let text = std::fs::read_to_string(path).map_err(|e| file_error(path, e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base).map_err(|e| file_error(path, e))
    }

    /// Parses the file's text; relative certificate paths resolve against `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Self, String> {
        // ron's errors quote the offending text, which may be a secret: say where only.
        let entries: Vec<CredentialEntry> = ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
            .from_str(text)
            .map_err(|e| {
                let what = match &e.code {
                    ron::Error::NoSuchStructField { .. }
                    | ron::Error::MissingStructField { .. } => e.code.to_string(),
                    _ => "not a list of (source: …, user: …, …) entries".into(),
                };
                format!(
                    "line {}, column {}: {what}",
                    e.span.start.line, e.span.start.col
                )
            })?;
        let mut out = Self::default();
        for (n, e) in entries.into_iter().enumerate() {
            let at = |why: String| format!("entry {}: {why}", n + 1);
            let target = Target::parse(&e.source).map_err(at)?;
            let from_env = |name: &Option<String>, what: &str| -> Result<Option<Secret>, String> {
                match name {
                    Some(var) => std::env::var(var)
                        .map(|v| Some(Secret::new(v)))
                        .map_err(|_| at(format!("{what}_env names {var}, which is not set"))),
                    None => Ok(None),
                }
            };
            let password = match e.password {
                Some(p) => Some(Secret::new(p)),
                None => from_env(&e.password_env, "password")?,
            };
            let bearer = match e.bearer {
                Some(b) => Some(Secret::new(b)),
                None => from_env(&e.bearer_env, "bearer")?,
            };
            let client_cert = match (e.client_cert, e.client_key) {
                (Some(c), Some(k)) => Some((base.join(c), base.join(k))),
                (None, None) => None,
                _ => return Err(at("client_cert and client_key go together".into())),
            };
            out.entries.push((
                target,
                SourceCredentials {
                    user: e.user,
                    password,
                    bearer,
                    client_cert,
                    client_id: e.client_id,
                },
            ));
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry for a source: same scheme, host and port, and for HTTP the longest
    /// path prefix that matches.
    pub fn for_source(
        &self,
        scheme: &str,
        host: &str,
        port: u16,
        path: &str,
    ) -> Option<&SourceCredentials> {
        let host = host.to_ascii_lowercase();
        self.entries
            .iter()
            .filter(|(t, _)| {
                t.scheme == scheme && t.host == host && t.port == port && path.starts_with(&t.path)
            })
            .max_by_key(|(t, _)| t.path.len())
            .map(|(_, c)| c)
    }
}

/// Does `host` match one of `patterns` (`host`, `*.suffix`, case-insensitive)?
pub fn host_allowed(host: &str, patterns: &[String]) -> bool {
    let host = host.to_ascii_lowercase();
    patterns.iter().any(|p| {
        let p = p.to_ascii_lowercase();
        match p.strip_prefix("*.") {
            Some(suffix) => host.ends_with(&format!(".{suffix}")),
            None => host == p,
        }
    })
}

/// An instance name for MQTT client ids: `CITYTWIN_INSTANCE` or `--instance` when
/// given, else `host-role` plus the first free slot number on this machine, held by
/// a lock file for the life of the process — so two walls (or a wall and `record`)
/// on one machine get different ids, and a restarted wall gets its old one back.
pub struct Instance {
    pub name: String,
    _lock: Option<std::fs::File>,
}

/// Environment variable that names this instance.
pub const INSTANCE_ENV: &str = "CITYTWIN_INSTANCE";

impl Instance {
    pub fn claim(given: Option<&str>, role: &str) -> Self {
        let given = given
            .map(str::to_string)
            .or_else(|| std::env::var(INSTANCE_ENV).ok())
            .filter(|s| !s.trim().is_empty());
        if let Some(name) = given {
            return Self {
                name: sanitize(&name),
                _lock: None,
            };
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        let host = if host.is_empty() { "host".into() } else { host };
        let dir = std::env::temp_dir().join(format!("citytwin-instances-{}", uid()));
        let _ = std::fs::create_dir_all(&dir);
        for slot in 0..256 {
            let path = dir.join(format!("{role}-{slot}.lock"));
            let Ok(file) = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
            else {
                break;
            };
            if file.try_lock().is_ok() {
                return Self {
                    name: sanitize(&format!("{host}-{role}{slot}")),
                    _lock: Some(file),
                };
            }
        }
        // No lock could be taken (read-only temp dir): unique for this process.
        Self {
            name: sanitize(&format!("{host}-{role}-p{}", std::process::id())),
            _lock: None,
        }
    }
}

/// This process's user id.
pub fn uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map_or(0, |m| m.uid())
}

/// Keeps what MQTT brokers accept everywhere in a client id.
fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    if s.is_empty() { "citytwin".into() } else { s }
}
