//! nginx-syntax configuration: lexer, parser (with `include`), the typed model, validation with
//! file:line:column errors.

pub mod model;

pub use model::*;
