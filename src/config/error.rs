//! The config front end's one error type and the source positions it points at.

use std::fmt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// What is wrong with a configuration, and where: `Display` reads like nginx's messages with a
/// column added, `<file>:<line>:<col>: <what is wrong>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file the problem is in (the main file as given, or an included file as resolved).
    pub file: PathBuf,
    /// 1-based line; 0 when the problem has no position (a main file that cannot be read).
    pub line: u32,
    /// 1-based column in characters; 0 when there is no position.
    pub col: u32,
    /// The message alone, without the position.
    pub message: String,
}

impl ConfigError {
    /// An error about a whole file (no line or column).
    pub(crate) fn file(path: &Path, message: impl Into<String>) -> Self {
        ConfigError {
            file: path.to_path_buf(),
            line: 0,
            col: 0,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.col,
                self.message
            )
        }
    }
}

impl std::error::Error for ConfigError {}

/// A position in one config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pos {
    pub file: Rc<PathBuf>,
    pub line: u32,
    pub col: u32,
}

impl Pos {
    pub fn err(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.as_ref().clone(),
            line: self.line,
            col: self.col,
            message: message.into(),
        }
    }

    /// `file:line`, the form nginx uses at the end of its warnings (for notices).
    pub fn short(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

pub(crate) type Result<T> = std::result::Result<T, ConfigError>;
