//! The directive tree: `name arg ... ;` and `name arg ... { ... }`, with `include` expanded in
//! place wherever it stands (as nginx does, before any directive is interpreted).
//!
//! Include rules follow nginx: a relative path is taken against the folder of the main config
//! file; a path with `*`, `?` or `[` is a glob whose matches are read in sorted order and which
//! may match nothing; any other path must exist. Symlinks are followed.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::directives;
use super::error::{ConfigError, Pos, Result};
use super::lexer::{Tok, Token, tokenize};

#[derive(Debug, Clone)]
pub(crate) struct Arg {
    pub value: String,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub(crate) struct Directive {
    pub name: String,
    pub pos: Pos,
    pub args: Vec<Arg>,
    pub block: Option<Vec<Directive>>,
}

/// How deep includes may nest (a guard beside the cycle check).
const MAX_INCLUDE_DEPTH: usize = 32;

pub(crate) struct Parser {
    /// The folder relative include paths are resolved against.
    base: PathBuf,
    /// Files being read, outermost first (canonical where possible), for the cycle check.
    stack: Vec<PathBuf>,
}

fn identity(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

impl Parser {
    pub fn new(main: &Path) -> Self {
        let base = main.parent().map(Path::to_path_buf).unwrap_or_default();
        Parser {
            base,
            stack: Vec::new(),
        }
    }

    /// Parses the text of one file (the main file, or an included one already read).
    pub fn parse_text(&mut self, text: &str, path: &Path) -> Result<Vec<Directive>> {
        let file = Rc::new(path.to_path_buf());
        let tokens = tokenize(text, file.clone())?;
        self.stack.push(identity(path));
        let mut i = 0;
        let eof = end_pos(&tokens, &file);
        let out = self.block(&tokens, &mut i, None, &eof);
        self.stack.pop();
        out
    }

    /// Reads directives until the end of the file (`opened` None) or the `}` closing the block
    /// opened at `opened`.
    fn block(
        &mut self,
        toks: &[Token],
        i: &mut usize,
        opened: Option<&Pos>,
        eof: &Pos,
    ) -> Result<Vec<Directive>> {
        let mut out = Vec::new();
        loop {
            let Some(t) = toks.get(*i) else {
                return match opened {
                    Some(_) => Err(eof.err("unexpected end of file, expecting \"}\"")),
                    None => Ok(out),
                };
            };
            *i += 1;
            let (name, pos) = match &t.tok {
                Tok::Close => {
                    return match opened {
                        Some(_) => Ok(out),
                        None => Err(t.pos.err("unexpected \"}\"")),
                    };
                }
                Tok::Semi => return Err(t.pos.err("unexpected \";\"")),
                Tok::Open => return Err(t.pos.err("unexpected \"{\"")),
                Tok::Word { value, .. } => (value.clone(), t.pos.clone()),
            };
            let mut args: Vec<Arg> = Vec::new();
            let mut last_end = t.end.clone();
            let block = loop {
                let Some(a) = toks.get(*i) else {
                    return Err(eof.err("unexpected end of file, expecting \";\" or \"}\""));
                };
                *i += 1;
                match &a.tok {
                    Tok::Word { value, quoted } => {
                        if !quoted
                            && a.pos.line > last_end.line
                            && directives::is_known(&name)
                            && directives::is_known(value)
                            && name != "server"
                        {
                            // `listen 80` / `proxy_pass ...` on the next line: a missing `;`.
                            return Err(last_end
                                .err(format!("directive \"{name}\" is not terminated by \";\"")));
                        }
                        args.push(Arg {
                            value: value.clone(),
                            pos: a.pos.clone(),
                        });
                        last_end = a.end.clone();
                    }
                    Tok::Semi => break None,
                    Tok::Open => break Some(self.block(toks, i, Some(&a.pos), eof)?),
                    Tok::Close => {
                        return Err(last_end
                            .err(format!("directive \"{name}\" is not terminated by \";\"")));
                    }
                }
            };
            if name == "include" {
                if block.is_some() {
                    return Err(pos.err("directive \"include\" is not terminated by \";\""));
                }
                if args.len() != 1 {
                    return Err(pos.err("invalid number of arguments in \"include\" directive"));
                }
                self.include(&args[0], &mut out)?;
                continue;
            }
            out.push(Directive {
                name,
                pos,
                args,
                block,
            });
        }
    }

    fn include(&mut self, arg: &Arg, out: &mut Vec<Directive>) -> Result<()> {
        let written = arg.value.as_str();
        let is_glob = written.contains(['*', '?', '[']);
        let files: Vec<PathBuf> = if is_glob {
            let pattern = if Path::new(written).is_absolute() {
                written.to_string()
            } else {
                let base = glob::Pattern::escape(&self.base.to_string_lossy());
                if base.is_empty() {
                    written.to_string()
                } else {
                    format!("{}/{}", base.trim_end_matches('/'), written)
                }
            };
            let opts = glob::MatchOptions {
                case_sensitive: true,
                require_literal_separator: true,
                require_literal_leading_dot: true,
            };
            let paths = glob::glob_with(&pattern, opts).map_err(|e| {
                arg.pos
                    .err(format!("invalid include pattern \"{written}\": {}", e.msg))
            })?;
            let mut v = Vec::new();
            for p in paths {
                match p {
                    Ok(p) => v.push(p),
                    Err(e) => {
                        return Err(arg.pos.err(format!(
                            "cannot read \"{}\" for include \"{written}\": {}",
                            e.path().display(),
                            e.error()
                        )));
                    }
                }
            }
            v.sort();
            v
        } else {
            vec![self.base.join(written)]
        };
        for file in files {
            let id = identity(&file);
            if self.stack.contains(&id) {
                return Err(arg.pos.err(format!(
                    "include cycle: \"{}\" is already being read",
                    file.display()
                )));
            }
            if self.stack.len() >= MAX_INCLUDE_DEPTH {
                return Err(arg.pos.err("includes nested too deeply"));
            }
            let (file, text) = read_source(&file).map_err(|e| {
                arg.pos
                    .err(format!("open() \"{}\" failed ({e})", file.display()))
            })?;
            out.extend(self.parse_text(&text, &file)?);
        }
        Ok(())
    }
}

/// Where "unexpected end of file" points: just after the last token (or 1:1 in an empty file).
fn end_pos(tokens: &[Token], file: &Rc<PathBuf>) -> Pos {
    tokens.last().map(|t| t.end.clone()).unwrap_or(Pos {
        file: file.clone(),
        line: 1,
        col: 1,
    })
}

/// Reads a config file, following git symlink placeholders: where a checkout (or a copy) could
/// not keep a symlink, git writes a small file whose whole content is the link's target. Such a
/// file is never a valid config by itself (one bare word, no `;`), so when its content names an
/// existing file relative to its folder, that file is read instead (Debian's sites-enabled links
/// survive a trip through such a copy). Returns the path actually read and its text.
pub(crate) fn read_source(path: &Path) -> std::io::Result<(PathBuf, String)> {
    let mut path = path.to_path_buf();
    let mut text = std::fs::read_to_string(&path)?;
    for _ in 0..8 {
        let target = text.trim_end_matches('\n');
        let placeholder = !target.is_empty()
            && target.len() < 4096
            && !target.contains(|c: char| c.is_whitespace() || matches!(c, ';' | '{' | '}' | '#'));
        if !placeholder {
            break;
        }
        let next = path
            .parent()
            .map_or_else(|| PathBuf::from(target), |d| d.join(target));
        if !next.is_file() {
            break;
        }
        text = std::fs::read_to_string(&next)?;
        path = std::fs::canonicalize(&next).unwrap_or(next);
    }
    Ok((path, text))
}

/// Reads and parses the main file.
pub(crate) fn parse_main(path: &Path) -> Result<Vec<Directive>> {
    let (file, text) =
        read_source(path).map_err(|e| ConfigError::file(path, format!("open() failed ({e})")))?;
    Parser::new(path).parse_text(&text, &file)
}
