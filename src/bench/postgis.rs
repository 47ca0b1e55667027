//! A PostgreSQL + PostGIS server of the bench's own: a fresh cluster in a temporary
//! folder, listening only on a Unix socket there, run as the `postgres` user when the
//! bench runs as root (initdb refuses root), stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const INSTALL_HINT: &str =
    "PostGIS is missing: install Debian's postgresql and postgresql-15-postgis-3";

pub struct PostGis {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

fn root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The newest installed PostgreSQL's bin folder that has PostGIS beside it.
fn find() -> Option<PathBuf> {
    let mut versions: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|v| {
            Path::new(&format!(
                "/usr/share/postgresql/{v}/extension/postgis.control"
            ))
            .exists()
        })
        .collect();
    versions.sort();
    versions
        .last()
        .map(|v| PathBuf::from(format!("/usr/lib/postgresql/{v}/bin")))
}

/// Installs PostGIS with apt when it is missing and we may (root).
pub fn ensure_installed() -> Result<(), String> {
    if find().is_some() {
        return Ok(());
    }
    if !root() {
        return Err(INSTALL_HINT.into());
    }
    eprintln!("bench: installing postgresql-15-postgis-3 (the PostGIS peer)…");
    let status = Command::new("apt-get")
        .args([
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "postgresql-15-postgis-3",
        ])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("{INSTALL_HINT} ({e})"))?;
    if status.success() && find().is_some() {
        Ok(())
    } else {
        Err(format!("{INSTALL_HINT} (apt-get: {status})"))
    }
}

impl PostGis {
    pub fn start(port: u16) -> Result<Self, String> {
        let bin = find().ok_or(INSTALL_HINT)?;
        let dir = std::env::temp_dir().join(format!("citytwin-bench-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let as_postgres = root();
        let pg = PostGis {
            dir,
            bin,
            port,
            as_postgres,
        };
        if as_postgres {
            pg.run(
                "chown",
                &[
                    "-R".into(),
                    "postgres:postgres".into(),
                    pg.dir.display().to_string(),
                ],
                false,
            )?;
        }
        let data = pg.dir.join("data").display().to_string();
        pg.tool(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
        )?;
        let options = format!(
            "-p {port} -k {} -c listen_addresses='' -c fsync=off -c shared_buffers=256MB -c max_parallel_workers_per_gather=0",
            pg.dir.display()
        );
        pg.tool(
            "pg_ctl",
            &[
                "-D",
                &data,
                "-o",
                &options,
                "-w",
                "-l",
                &pg.dir.join("log").display().to_string(),
                "start",
            ],
        )?;
        pg.sql("CREATE EXTENSION postgis;")?;
        Ok(pg)
    }

    fn run(&self, program: &str, args: &[String], as_postgres: bool) -> Result<Output, String> {
        let mut cmd = if as_postgres && self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", program]);
            c
        } else {
            Command::new(program)
        };
        let out = cmd
            .args(args)
            .current_dir(&self.dir)
            .output()
            .map_err(|e| format!("{program}: {e}"))?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(format!(
                "{program} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    fn tool(&self, name: &str, args: &[&str]) -> Result<Output, String> {
        let program = self.bin.join(name).display().to_string();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        self.run(&program, &args, true)
    }

    /// Runs SQL through psql; returns its output (unaligned, tuples only).
    pub fn sql(&self, sql: &str) -> Result<String, String> {
        let out = self.tool(
            "psql",
            &[
                "-h",
                &self.dir.display().to_string(),
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// A file the server can read (COPY … FROM), in its folder.
    pub fn file(&self, name: &str, text: &str) -> Result<PathBuf, String> {
        let path = self.dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        if self.as_postgres {
            self.run(
                "chown",
                &["postgres:postgres".into(), path.display().to_string()],
                false,
            )?;
        }
        Ok(path)
    }
}

impl Drop for PostGis {
    fn drop(&mut self) {
        let data = self.dir.join("data").display().to_string();
        let _ = self.tool("pg_ctl", &["-D", &data, "-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
