//! A mosquitto broker of our own on a free loopback port, for the feed tests and the
//! MQTT benchmark: started from a config file we write, stopped when dropped.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const INSTALL_HINT: &str = "mosquitto is missing: install Debian's mosquitto and mosquitto-clients (scripts/install-deps.sh does)";

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

/// A port nobody listens on right now.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl LocalBroker {
    /// A broker that forgets everything when it stops; `extra` is appended to its
    /// configuration.
    pub fn plain(dir: &Path, port: u16, extra: &str) -> Result<Self, String> {
        Self::with_config(
            dir,
            "mosquitto.conf",
            &format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n{extra}"),
            port,
        )
    }

    /// Writes `text` to `dir/name` and runs mosquitto on it; `port` is the one the
    /// configuration listens on.
    pub fn with_config(dir: &Path, name: &str, text: &str, port: u16) -> Result<Self, String> {
        let conf = dir.join(name);
        std::fs::write(&conf, text).map_err(|e| format!("{}: {e}", conf.display()))?;
        Self::run(conf, port)
    }

    fn run(conf: PathBuf, port: u16) -> Result<Self, String> {
        let child = Command::new(mosquitto_binary())
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{INSTALL_HINT} ({e})"))?;
        let mut broker = LocalBroker { child, port, conf };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(10) {
                broker.stop();
                return Err(format!("mosquitto did not start on port {port}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(broker)
    }

    /// Kills it and starts it again with the same configuration.
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop();
        *self = Self::run(self.conf.clone(), self.port)?;
        Ok(())
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
