//! `log_format`, `access_log` and `error_log` (ngx_http_log_module and the core's error log).
//! Formats compile here, once; paths are recorded once per file (`Config::log_files`) and
//! opened later by the main thread (`observe::files`), so that `-t` also opens them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::args::{arg_err, invalid_param, time_arg};
use super::layer::Layer;
use super::{Builder, Result};
use crate::config::model::{AccessLog, ErrorLevel, ErrorLog, LogFile};
use crate::config::parser::Directive;
use crate::config::values::parse_size;
use crate::observe::format::{COMBINED, Escape, LogFormat};

/// nginx's `flush=` default when `buffer=` is given without it: none (a line waits until the
/// buffer fills); ringway bounds the wait.
const DEFAULT_FLUSH: Duration = Duration::from_secs(1);

/// What the log directives collected while the file was walked.
#[derive(Debug)]
pub(super) struct Logs {
    /// Formats in definition order, `combined` first.
    pub(super) formats: Vec<Arc<LogFormat>>,
    pub(super) files: Vec<LogFile>,
    pub(super) error_log: Option<ErrorLog>,
}

impl Default for Logs {
    fn default() -> Logs {
        let combined = LogFormat::compile("combined", Escape::Default, COMBINED, &[])
            .unwrap_or_else(|_| LogFormat {
                name: "combined".into(),
                escape: Escape::Default,
                items: Vec::new(),
                text: String::new(),
                plan: Default::default(),
            });
        Logs {
            formats: vec![Arc::new(combined)],
            files: Vec::new(),
            error_log: None,
        }
    }
}

/// What `access_log` sets at one level (None: inherit). `off` wins over the level's others.
#[derive(Debug, Default, Clone)]
pub(super) struct AccessLogLayer {
    pub(super) list: Option<Vec<AccessLog>>,
    pub(super) off: bool,
}

impl AccessLogLayer {
    pub(super) fn apply(&self, parent: &[AccessLog]) -> Vec<AccessLog> {
        if self.off {
            return Vec::new();
        }
        self.list.clone().unwrap_or_else(|| parent.to_vec())
    }
}

impl Builder {
    /// `log_format NAME [escape=default|json|none] STRING ...;`
    pub(super) fn log_format(&mut self, d: &Directive) -> Result<()> {
        let name = &d.args[0].value;
        if self.logs.formats.iter().any(|f| f.name == *name) {
            return Err(d.args[0]
                .pos
                .err(format!("duplicate \"log_format\" name \"{name}\"")));
        }
        let mut rest = &d.args[1..];
        let mut escape = Escape::Default;
        if let Some(a) = rest.first()
            && let Some(v) = a.value.strip_prefix("escape=")
        {
            escape = match v {
                "default" => Escape::Default,
                "json" => Escape::Json,
                "none" => Escape::None,
                _ => return Err(a.pos.err(format!("unknown log format escaping \"{v}\""))),
            };
            rest = &rest[1..];
        }
        let Some(first) = rest.first() else {
            return Err(d
                .pos
                .err("invalid number of arguments in \"log_format\" directive"));
        };
        let text: String = rest.iter().map(|a| a.value.as_str()).collect();
        let user: Vec<String> = self.auth_vars.iter().cloned().collect();
        let f = LogFormat::compile(name, escape, &text, &user).map_err(|e| first.pos.err(e))?;
        self.logs.formats.push(Arc::new(f));
        Ok(())
    }

    /// `access_log PATH [FORMAT [buffer=SIZE] [gzip[=LEVEL]] [flush=TIME] [if=COND]];` or
    /// `access_log off;`
    pub(super) fn access_log(&mut self, d: &Directive, l: &mut Layer) -> Result<()> {
        let a = &d.args;
        if a[0].value == "off" {
            if let Some(x) = a.get(1) {
                return Err(invalid_param(x));
            }
            l.access_log.off = true;
            return Ok(());
        }
        let path_text = &a[0].value;
        if path_text.starts_with("syslog:") {
            return Err(a[0]
                .pos
                .err("access_log to syslog is not supported by ringway (log to a file)"));
        }
        if path_text.contains('$') {
            return Err(a[0]
                .pos
                .err("access_log paths with variables are not supported by ringway"));
        }
        let format = match a.get(1) {
            None => self.logs.formats[0].clone(),
            Some(f) => self
                .logs
                .formats
                .iter()
                .find(|x| x.name == f.value)
                .cloned()
                .ok_or_else(|| f.pos.err(format!("unknown log format \"{}\"", f.value)))?,
        };
        let (mut buffer, mut flush, mut cond) = (None, None, None);
        for x in a.iter().skip(2) {
            let v = x.value.as_str();
            if let Some(size) = v.strip_prefix("buffer=") {
                match parse_size(size) {
                    Some(n) if n > 0 && n <= 64 * 1024 * 1024 => buffer = Some(n as usize),
                    _ => return Err(arg_err(x, d, "expected a size from 1 to 64m")),
                }
            } else if let Some(t) = v.strip_prefix("flush=") {
                let t = time_arg(
                    d,
                    &crate::config::parser::Arg {
                        value: t.to_string(),
                        pos: x.pos.clone(),
                    },
                )?;
                if t.is_zero() {
                    return Err(arg_err(x, d, "the flush time must be above 0"));
                }
                flush = Some(t);
            } else if v == "gzip" || v.starts_with("gzip=") {
                return Err(x.pos.err(
                    "access_log gzip is not supported by ringway (compress rotated files \
                     instead, e.g. logrotate's compress)",
                ));
            } else if let Some(c) = v.strip_prefix("if=") {
                let user: Vec<String> = self.auth_vars.iter().cloned().collect();
                let f =
                    LogFormat::compile("if", Escape::None, c, &user).map_err(|e| x.pos.err(e))?;
                cond = Some(Arc::new(f));
            } else {
                return Err(invalid_param(x));
            }
        }
        // nginx: flush= alone buffers with 64k.
        let buffer = buffer.or(flush.map(|_| 64 * 1024)).unwrap_or(0);
        let flush = flush.unwrap_or(DEFAULT_FLUSH);
        let path = log_path(&self.base_dir, path_text);
        let file = match self.logs.files.iter().position(|f| f.path == path) {
            Some(i) => {
                let f = &mut self.logs.files[i];
                if buffer > 0 && f.buffer > 0 && (f.buffer, f.flush) != (buffer, flush) {
                    return Err(d.pos.err(format!(
                        "access_log \"{path_text}\" already defined with conflicting parameters \
                         (at {})",
                        f.at
                    )));
                }
                if buffer > 0 {
                    (f.buffer, f.flush) = (buffer, flush);
                }
                i
            }
            None => {
                self.logs.files.push(LogFile {
                    path,
                    at: at(d),
                    buffer,
                    flush,
                    fd: None,
                });
                self.logs.files.len() - 1
            }
        };
        l.access_log
            .list
            .get_or_insert_default()
            .push(AccessLog { file, format, cond });
        Ok(())
    }

    /// `error_log` at main level: the process's error log. The first one is used.
    pub(super) fn error_log_main(&mut self, d: &Directive) -> Result<()> {
        let level = self.error_level(d)?;
        if self.logs.error_log.is_some() {
            self.notices.push(format!(
                "{}: error_log: ringway writes one main error log, the first one given",
                d.pos.short()
            ));
            return Ok(());
        }
        let target = &d.args[0].value;
        let path = match target.as_str() {
            "stderr" => None,
            t if t.starts_with("syslog:") || t.starts_with("memory:") => {
                return Err(d.args[0].pos.err(format!(
                    "error_log \"{t}\" is not supported by ringway (a file or stderr)"
                )));
            }
            t => Some(log_path(&self.base_dir, t)),
        };
        self.logs.error_log = Some(ErrorLog {
            path,
            level,
            at: at(d),
        });
        Ok(())
    }

    /// `error_log` in http, server or location: checked, then read as a notice (its lines go
    /// to the main error log).
    pub(super) fn error_log_nested(&mut self, d: &Directive) -> Result<()> {
        self.error_level(d)?;
        self.notices.push(format!(
            "{}: ignored: error_log (only the main-level error_log is used; these lines go \
             there)",
            d.pos.short()
        ));
        Ok(())
    }

    fn error_level(&self, d: &Directive) -> Result<ErrorLevel> {
        match d.args.get(1) {
            None => Ok(ErrorLevel::Error),
            Some(a) => ErrorLevel::parse(&a.value)
                .ok_or_else(|| a.pos.err(format!("invalid log level \"{}\"", a.value))),
        }
    }
}

fn at(d: &Directive) -> String {
    format!("{}:{}", d.pos.short(), d.pos.col)
}

/// A relative log path starts at the main file's folder (nginx: at its prefix), made absolute
/// so that reload and reopen find the same file from any working directory.
fn log_path(base_dir: &Path, value: &str) -> PathBuf {
    let p = base_dir.join(value);
    std::path::absolute(&p).unwrap_or(p)
}
