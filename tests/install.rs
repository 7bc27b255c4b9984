//! `install.sh` into a staging root (DESTDIR), with the binary cargo built for the tests (no
//! release build): the files land where the systemd unit expects them, the installed config
//! passes `-t`, an existing config is kept, and the unit stops ringway gracefully. The Debian
//! package (`packaging/deb/build`) holds the same files plus logrotate's; with
//! `RINGWAY_DEB_INSTALL=1` (set by .ci/run, as root) it is installed on the machine with dpkg,
//! checked (user, log folder, `-t` as the service user) and purged.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// Runs install.sh with `--binary` (the tests' ringway) and `env`; returns its stdout.
fn install(destdir: &Path, env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new("sh");
    cmd.arg(Path::new(REPO).join("install.sh"))
        .arg("--binary")
        .arg(env!("CARGO_BIN_EXE_ringway"))
        .env("DESTDIR", destdir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run install.sh");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "install.sh failed: {}\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn under(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The installed binary, run on the installed config with `-t`.
fn dash_t(bin: &Path, conf: &Path) {
    let out = Command::new(bin)
        .args(["-t", "-c"])
        .arg(conf)
        .output()
        .expect("run the installed ringway");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "-t on the installed config: {err}");
    assert!(err.contains("test is successful"), "{err}");
}

/// `-t` on an installed config `text` whose logs are under /var/log/ringway, which only a
/// package install or systemd's LogsDirectory makes: here they go to `dir`/log (`-t` opens
/// them, as nginx's does).
fn dash_t_logs_in(bin: &Path, text: &str, dir: &Path) {
    let logs = dir.join("log");
    std::fs::create_dir_all(&logs).unwrap();
    let local = dir.join("ringway-local.conf");
    std::fs::write(
        &local,
        text.replace("/var/log/ringway", &logs.display().to_string()),
    )
    .unwrap();
    dash_t(bin, &local);
}

/// A directive's value in the unit (`Name=value`), each occurrence.
fn unit_values<'a>(unit: &'a str, name: &str) -> Vec<&'a str> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix('='))
        .collect()
}

#[test]
fn install_sh_puts_binary_config_and_unit_where_the_unit_expects_them() {
    let root = temp_dir("install");
    let out = install(&root, &[]);

    let bin = under(&root, "/usr/local/bin/ringway");
    let meta = std::fs::metadata(&bin).expect("binary installed");
    assert!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 != 0,
        "not executable"
    );
    assert_eq!(
        std::fs::read(&bin).unwrap(),
        std::fs::read(env!("CARGO_BIN_EXE_ringway")).unwrap(),
        "the installed binary is the one given"
    );

    // The config is the example, with its pid in the unit's RuntimeDirectory (the example's
    // relative one would land in /etc/ringway, read-only under ProtectSystem=strict).
    let conf = under(&root, "/etc/ringway/ringway.conf");
    let text = read(&conf);
    let example = read(&Path::new(REPO).join("conf/example.conf"));
    assert!(
        text.lines().any(|l| l == "pid /run/ringway/ringway.pid;"),
        "{text}"
    );
    // ...and its logs in /var/log/ringway (the unit's LogsDirectory); nothing else differs.
    assert!(
        text.lines()
            .any(|l| l.trim()
                == "access_log /var/log/ringway/access.log combined buffer=64k flush=1s;"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l == "error_log /var/log/ringway/error.log notice;"),
        "{text}"
    );
    let same = |l: &&str| !l.starts_with("pid ") && !l.contains("_log ");
    assert_eq!(
        text.lines().filter(same).collect::<Vec<_>>(),
        example.lines().filter(same).collect::<Vec<_>>(),
        "only the pid and log lines differ from conf/example.conf"
    );
    dash_t_logs_in(&bin, &text, &root);

    // The unit runs exactly what was installed, stops gracefully, and owns the pid's folder.
    let unit = read(&under(&root, "/etc/systemd/system/ringway.service"));
    assert_eq!(
        unit_values(&unit, "ExecStart"),
        ["/usr/local/bin/ringway -c /etc/ringway/ringway.conf"]
    );
    assert_eq!(
        unit_values(&unit, "ExecStartPre"),
        ["/usr/local/bin/ringway -t -c /etc/ringway/ringway.conf"]
    );
    assert_eq!(
        unit_values(&unit, "ExecReload")[0],
        "/usr/local/bin/ringway -t -c /etc/ringway/ringway.conf"
    );
    // systemd's default SIGTERM is ringway's fast stop: `systemctl stop` must send SIGQUIT
    // (graceful), and wait longer than the default worker_shutdown_timeout (10s).
    assert_eq!(unit_values(&unit, "KillSignal"), ["SIGQUIT"]);
    let stop = unit_values(&unit, "TimeoutStopSec");
    let secs: u64 = stop
        .first()
        .and_then(|v| v.strip_suffix('s'))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("TimeoutStopSec: {stop:?}"));
    assert!(secs > 10, "TimeoutStopSec={secs}s");
    assert_eq!(unit_values(&unit, "RuntimeDirectory"), ["ringway"]);
    assert!(out.contains("installed"), "{out}");

    // Installing again keeps a config that is already there.
    std::fs::write(&conf, format!("{text}# edited by the operator\n")).unwrap();
    let out = install(&root, &[]);
    assert!(read(&conf).ends_with("# edited by the operator\n"));
    assert!(out.contains("kept"), "{out}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn install_sh_honours_prefix_sysconfdir_and_unitdir() {
    let root = temp_dir("install-prefix");
    let logdir = root.join("logs").display().to_string();
    std::fs::create_dir_all(&logdir).unwrap();
    install(
        &root,
        &[
            ("PREFIX", "/opt/rw"),
            ("SYSCONFDIR", "/opt/rw/etc"),
            ("UNITDIR", "/usr/lib/systemd/system"),
            ("RUNSTATEDIR", "/var/run"),
            ("LOGDIR", &logdir),
        ],
    );
    let bin = under(&root, "/opt/rw/bin/ringway");
    let conf = under(&root, "/opt/rw/etc/ringway/ringway.conf");
    assert!(read(&conf).contains("\npid /var/run/ringway/ringway.pid;\n"));
    assert!(read(&conf).contains(&format!("access_log {logdir}/access.log ")));
    dash_t(&bin, &conf);
    let unit = read(&under(&root, "/usr/lib/systemd/system/ringway.service"));
    assert_eq!(
        unit_values(&unit, "ExecStart"),
        ["/opt/rw/bin/ringway -c /opt/rw/etc/ringway/ringway.conf"]
    );
    for l in unit.lines().filter(|l| !l.starts_with('#')) {
        assert!(
            !l.contains("/usr/local/") && !l.contains(" /etc/ringway"),
            "{l}"
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// `packaging/deb/build` with the tests' binary; returns the .deb's path.
fn build_deb(out: &Path) -> PathBuf {
    let run = Command::new("sh")
        .arg(Path::new(REPO).join("packaging/deb/build"))
        .arg("--binary")
        .arg(env!("CARGO_BIN_EXE_ringway"))
        .arg("--out")
        .arg(out)
        .env("DEB_COMPRESS", "gzip")
        .output()
        .expect("run packaging/deb/build");
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "packaging/deb/build failed: {}\n{stdout}{}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
    PathBuf::from(stdout.trim())
}

fn dpkg_deb(args: &[&str], deb: &Path) -> String {
    let out = Command::new("dpkg-deb")
        .args(args)
        .arg(deb)
        .output()
        .expect("run dpkg-deb");
    assert!(out.status.success(), "dpkg-deb {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed: {text}");
    text
}

#[test]
fn debian_package_holds_binary_config_unit_and_logrotate() {
    let dir = temp_dir("deb");
    let deb = build_deb(&dir);
    let fields = dpkg_deb(&["-f"], &deb);
    assert_eq!(fields.lines().next(), Some("Package: ringway"));
    assert!(fields.contains("\nDepends: libc6 (>= 2."), "{fields}");
    // The config and logrotate's file are conffiles: an upgrade keeps the operator's edits.
    let control = dir.join("control");
    run_ok(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control));
    assert_eq!(
        read(&control.join("conffiles")),
        "/etc/ringway/ringway.conf\n/etc/logrotate.d/ringway\n"
    );

    let root = dir.join("root");
    run_ok(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    let bin = under(&root, "/usr/sbin/ringway");
    let unit = read(&under(&root, "/lib/systemd/system/ringway.service"));
    assert_eq!(
        unit_values(&unit, "ExecStart"),
        ["/usr/sbin/ringway -c /etc/ringway/ringway.conf"]
    );
    assert_eq!(unit_values(&unit, "LogsDirectory"), ["ringway"]);
    let rotate = read(&under(&root, "/etc/logrotate.d/ringway"));
    assert!(rotate.contains("/var/log/ringway/*.log"), "{rotate}");
    assert!(rotate.contains("kill -USR1"), "{rotate}");
    let conf = read(&under(&root, "/etc/ringway/ringway.conf"));
    assert!(conf.contains("\npid /run/ringway/ringway.pid;\n"), "{conf}");

    // The packaged config passes -t with the packaged binary.
    assert!(conf.contains("/var/log/ringway/access.log"), "{conf}");
    dash_t_logs_in(&bin, &conf, &dir);

    // logrotate reads its file (-d: debug, rotates nothing). CI installs logrotate. The file
    // names the package's `ringway` user, which logrotate looks up even in debug mode: where
    // no package made it (the install test, on CI, may run after this one, or not at all),
    // a copy with root as the owner is read instead.
    let ci = std::env::var("RINGWAY_DEB_INSTALL").as_deref() == Ok("1");
    if ci || Command::new("logrotate").arg("--version").output().is_ok() {
        let mut file = under(&root, "/etc/logrotate.d/ringway");
        let user = Command::new("getent").args(["passwd", "ringway"]).output();
        if !user.is_ok_and(|o| o.status.success()) {
            let text = read(&file).replace("create 0640 ringway adm", "create 0640 root adm");
            file = dir.join("logrotate-root");
            std::fs::write(&file, text).unwrap();
        }
        run_ok(Command::new("logrotate").arg("-d").arg(&file));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Installs the package on this machine (dpkg -i), as a user would, then purges it. Only with
/// RINGWAY_DEB_INSTALL=1 (CI's fresh machine, as root): it adds a system user and files under
/// /etc, /usr/sbin and /var/log.
#[test]
fn debian_package_installs_and_its_config_passes_dash_t() {
    if std::env::var("RINGWAY_DEB_INSTALL").as_deref() != Ok("1") {
        eprintln!("skipped: set RINGWAY_DEB_INSTALL=1 (as root) to install the package");
        return;
    }
    let dir = temp_dir("deb-install");
    let deb = build_deb(&dir);
    run_ok(Command::new("dpkg").arg("-i").arg(&deb));
    let purge = || {
        let _ = Command::new("dpkg").args(["--purge", "ringway"]).output();
    };
    let checks = std::panic::catch_unwind(|| {
        run_ok(Command::new("getent").args(["passwd", "ringway"]));
        let meta = std::fs::metadata("/var/log/ringway").expect("/var/log/ringway made");
        assert!(meta.is_dir());
        // As the service runs it: the unprivileged user, on the installed config.
        let out = run_ok(Command::new("runuser").args([
            "-u",
            "ringway",
            "--",
            "/usr/sbin/ringway",
            "-t",
            "-c",
            "/etc/ringway/ringway.conf",
        ]));
        assert!(out.contains("test is successful"), "{out}");
    });
    purge();
    assert!(
        !Path::new("/usr/sbin/ringway").exists(),
        "dpkg --purge left the binary"
    );
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = checks {
        std::panic::resume_unwind(e);
    }
}
