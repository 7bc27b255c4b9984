//! Tokens of nginx's configuration language: words (bare or quoted), `;`, `{`, `}`; `#` comments.
//!
//! Escapes follow nginx (`ngx_conf_read_token`): in bare and quoted words alike, `\"`, `\'` and
//! `\\` stand for the character, `\t` `\r` `\n` for the control character, and any other `\x` is
//! kept as both characters (so regexes like `\.` survive). A backslash also stops the next
//! character from ending a bare word (`\;`, `\ `).

use std::path::PathBuf;
use std::rc::Rc;

use super::error::{Pos, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    Word { value: String, quoted: bool },
    Semi,
    Open,
    Close,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: Pos,
    /// Position just after the token's last character.
    pub end: Pos,
}

struct Cursor<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    file: Rc<PathBuf>,
    line: u32,
    col: u32,
}

impl Cursor<'_> {
    fn pos(&self) -> Pos {
        Pos {
            file: self.file.clone(),
            line: self.line,
            col: self.col,
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Turns the raw text of a word (escapes still in) into its value.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut it = raw.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.peek() {
                Some(&n @ ('"' | '\'' | '\\')) => {
                    out.push(n);
                    it.next();
                }
                Some('t') => {
                    out.push('\t');
                    it.next();
                }
                Some('r') => {
                    out.push('\r');
                    it.next();
                }
                Some('n') => {
                    out.push('\n');
                    it.next();
                }
                _ => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Splits one file's text into tokens.
pub(crate) fn tokenize(text: &str, file: Rc<PathBuf>) -> Result<Vec<Token>> {
    let mut cur = Cursor {
        chars: text.chars().peekable(),
        file,
        line: 1,
        col: 1,
    };
    let mut out = Vec::new();
    loop {
        let Some(c) = cur.peek() else {
            return Ok(out);
        };
        if is_space(c) {
            cur.bump();
            continue;
        }
        let pos = cur.pos();
        match c {
            '#' => {
                while let Some(c) = cur.peek() {
                    if c == '\n' {
                        break;
                    }
                    cur.bump();
                }
            }
            ';' | '{' | '}' => {
                cur.bump();
                let tok = match c {
                    ';' => Tok::Semi,
                    '{' => Tok::Open,
                    _ => Tok::Close,
                };
                out.push(Token {
                    tok,
                    pos,
                    end: cur.pos(),
                });
            }
            '"' | '\'' => {
                let quote = c;
                cur.bump();
                let mut raw = String::new();
                loop {
                    match cur.bump() {
                        None => {
                            return Err(pos.err(format!(
                                "unexpected end of file, the string opened here has no closing {quote}"
                            )));
                        }
                        Some('\\') => {
                            raw.push('\\');
                            if let Some(n) = cur.bump() {
                                raw.push(n);
                            }
                        }
                        Some(ch) if ch == quote => break,
                        Some(ch) => raw.push(ch),
                    }
                }
                let end = cur.pos();
                if let Some(n) = cur.peek()
                    && !(is_space(n) || matches!(n, ';' | '{' | '}' | ')'))
                {
                    return Err(end.err(format!("unexpected \"{n}\" after a quoted string")));
                }
                out.push(Token {
                    tok: Tok::Word {
                        value: unescape(&raw),
                        quoted: true,
                    },
                    pos,
                    end,
                });
            }
            _ => {
                let mut raw = String::new();
                while let Some(ch) = cur.peek() {
                    if is_space(ch) || matches!(ch, ';' | '}') {
                        break;
                    }
                    if ch == '{' {
                        if !raw.ends_with('$') {
                            break;
                        }
                        // `${name}`: braces belong to the word.
                        let open = cur.pos();
                        loop {
                            match cur.bump() {
                                Some('}') => {
                                    raw.push('}');
                                    break;
                                }
                                Some(ch) if !is_space(ch) && ch != ';' => raw.push(ch),
                                _ => {
                                    return Err(
                                        open.err("the closing bracket of \"${\" is missing")
                                    );
                                }
                            }
                        }
                        continue;
                    }
                    cur.bump();
                    raw.push(ch);
                    if ch == '\\'
                        && let Some(n) = cur.bump()
                    {
                        raw.push(n);
                    }
                }
                out.push(Token {
                    tok: Tok::Word {
                        value: unescape(&raw),
                        quoted: false,
                    },
                    pos,
                    end: cur.pos(),
                });
            }
        }
    }
}
