//! A mosquitto broker of our own on a private loopback port, for the feed tests and the
//! MQTT benchmark: started from a config file we write, stopped when dropped.
//!
//! Ports are taken below the kernel's ephemeral range, so no outgoing connection and
//! no `bind(…:0)` of another test can be handed the port between our choosing it and
//! mosquitto binding it; should mosquitto still fail to bind (another program chose the
//! same port), it exits, and the broker is started again on the next port.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const INSTALL_HINT: &str = "mosquitto is missing: install Debian's mosquitto and mosquitto-clients (scripts/install-deps.sh does)";

/// Ports tried before giving up on starting a broker.
const START_ATTEMPTS: u32 = 8;
/// How long a started mosquitto may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub struct LocalBroker {
    child: Child,
    pub port: u16,
    conf: PathBuf,
}

fn mosquitto_binary() -> &'static str {
    if Path::new("/usr/sbin/mosquitto").exists() {
        "/usr/sbin/mosquitto"
    } else {
        "mosquitto"
    }
}

/// The ports we hand out: below the ephemeral range (`ip_local_port_range`), above the
/// well-known and common service ports.
fn private_range() -> (u16, u16) {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let high = ephemeral_low.saturating_sub(1);
    let low = 20_000.min(high.saturating_sub(2_000));
    (low, high)
}

/// A port nobody listens on right now, from the private range; successive calls (in
/// this process) walk the range from a place chosen by the process id, so two test
/// processes rarely try the same ports.
pub fn free_port() -> std::io::Result<u16> {
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let (low, high) = private_range();
    let span = u32::from(high - low) + 1;
    let _ = NEXT.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(7919) % span,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..span.min(4096) {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % span;
        let port = low + offset as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        format!("no free port in {low}–{high}"),
    ))
}

/// Why one start did not give a broker.
enum StartError {
    /// mosquitto exited at once: most likely its port was taken; try another.
    Exited(String),
    Fatal(String),
}

impl LocalBroker {
    /// A broker that forgets everything when it stops, on a port of its own; `extra`
    /// is appended to its configuration.
    pub fn plain(dir: &Path, extra: &str) -> Result<Self, String> {
        Self::with_config(dir, "mosquitto.conf", |port| {
            format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n{extra}")
        })
    }

    /// Writes `config(port)` to `dir/name` and runs mosquitto on it, with a free port;
    /// if mosquitto cannot bind it, again with another.
    pub fn with_config(
        dir: &Path,
        name: &str,
        config: impl Fn(u16) -> String,
    ) -> Result<Self, String> {
        let conf = dir.join(name);
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port().map_err(|e| format!("no free port: {e}"))?;
            std::fs::write(&conf, config(port)).map_err(|e| format!("{}: {e}", conf.display()))?;
            match Self::run(conf.clone(), port) {
                Ok(broker) => return Ok(broker),
                Err(StartError::Exited(why)) => last = why,
                Err(StartError::Fatal(why)) => return Err(why),
            }
        }
        Err(format!(
            "mosquitto did not start after {START_ATTEMPTS} ports: {last}"
        ))
    }

    fn run(conf: PathBuf, port: u16) -> Result<Self, StartError> {
        let child = Command::new(mosquitto_binary())
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| StartError::Fatal(format!("{INSTALL_HINT} ({e})")))?;
        let mut broker = LocalBroker { child, port, conf };
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = broker.child.try_wait() {
                return Err(StartError::Exited(format!(
                    "mosquitto exited ({status}) instead of listening on port {port}"
                )));
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(broker);
            }
            if started.elapsed() > START_TIMEOUT {
                broker.stop();
                return Err(StartError::Fatal(format!(
                    "mosquitto did not listen on port {port} within {START_TIMEOUT:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills it and starts it again with the same configuration and port (clients
    /// reconnect to the same address). The port stays ours while it is down: it is
    /// outside the range the kernel hands out.
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop();
        let started = Instant::now();
        loop {
            match Self::run(self.conf.clone(), self.port) {
                Ok(broker) => {
                    *self = broker;
                    return Ok(());
                }
                // The old socket may linger a moment after the kill.
                Err(StartError::Exited(_)) if started.elapsed() < START_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(StartError::Exited(why) | StartError::Fatal(why)) => return Err(why),
            }
        }
    }

    /// Stops gracefully (SIGTERM), so a persistent broker saves its sessions.
    pub fn terminate(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    /// Kills it, as a crash would.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Publishes one message with QoS 1 through `mosquitto_pub`.
    pub fn publish(&self, topic: &str, payload: &str) -> Result<(), String> {
        let status = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q", "1"])
            .args(["-t", topic, "-m", payload])
            .status()
            .map_err(|e| format!("{INSTALL_HINT} ({e})"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "mosquitto_pub to port {} failed: {status}",
                self.port
            ))
        }
    }
}

impl Drop for LocalBroker {
    fn drop(&mut self) {
        self.stop();
    }
}
