//! The visibility query language of the activity list and count APIs: parser and in-memory evaluator.
//!
//! Accepts Temporal's SQL-like subset (`ActivityType = 'x' AND StartTime > '2024-01-01T00:00:00Z'`,
//! `IN`, `IS NULL`, `GROUP BY ExecutionStatus`) and rejects the rest with Temporal's messages. The
//! input comes from the network: every failure is a `QueryError`, nesting and length are bounded.

use std::cmp::Ordering;
use std::fmt;

const MAX_LEN: usize = 10_000;
const MAX_DEPTH: usize = 100;

/// `ExecutionStatus` values a query may name; `Value::Str` holds one of these spellings.
pub const EXECUTION_STATUSES: [&str; 8] = [
    "Running",
    "Completed",
    "Failed",
    "Canceled",
    "Terminated",
    "TimedOut",
    "Paused",
    "ContinuedAsNew",
];

/// Longest first, so `<=` is not read as `<` then `=`.
const OPS: [(&str, CmpOp); 7] = [
    ("!=", CmpOp::Ne),
    ("<>", CmpOp::Ne),
    ("<=", CmpOp::Le),
    (">=", CmpOp::Ge),
    ("=", CmpOp::Eq),
    ("<", CmpOp::Lt),
    (">", CmpOp::Gt),
];

/// Words that can never be an unquoted attribute name.
const RESERVED: [&str; 16] = [
    "AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "BETWEEN", "GROUP", "ORDER", "BY", "LIMIT",
    "WHERE", "SELECT", "FROM", "HAVING",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attr {
    ActivityId,
    RunId,
    ActivityType,
    TaskQueue,
    ExecutionStatus,
    StartTime,
    CloseTime,
    ExecutionTime,
    /// An activity's attempt; a workflow's highest attempt among its pending activities (1
    /// without any): `Attempt > 1` finds what is retrying. Not Temporal's: an extension.
    Attempt,
}

impl Attr {
    pub const ALL: [Attr; 9] = [
        Attr::ActivityId,
        Attr::RunId,
        Attr::ActivityType,
        Attr::TaskQueue,
        Attr::ExecutionStatus,
        Attr::StartTime,
        Attr::CloseTime,
        Attr::ExecutionTime,
        Attr::Attempt,
    ];

    /// The name as written in queries (case-sensitive, as in Temporal).
    pub fn name(self) -> &'static str {
        match self {
            Attr::ActivityId => "ActivityId",
            Attr::RunId => "RunId",
            Attr::ActivityType => "ActivityType",
            Attr::TaskQueue => "TaskQueue",
            Attr::ExecutionStatus => "ExecutionStatus",
            Attr::StartTime => "StartTime",
            Attr::CloseTime => "CloseTime",
            Attr::ExecutionTime => "ExecutionTime",
            Attr::Attempt => "Attempt",
        }
    }

    pub fn from_name(name: &str) -> Option<Attr> {
        Attr::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Time attributes compare as `Value::Time`, `Attempt` as `Value::Int`, the others as
    /// `Value::Str`.
    pub fn is_time(self) -> bool {
        matches!(
            self,
            Attr::StartTime | Attr::CloseTime | Attr::ExecutionTime
        )
    }

    pub fn is_int(self) -> bool {
        self == Attr::Attempt
    }
}

impl fmt::Display for Attr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    fn holds(self, ord: Ordering) -> bool {
        match self {
            CmpOp::Eq => ord.is_eq(),
            CmpOp::Ne => ord.is_ne(),
            CmpOp::Lt => ord.is_lt(),
            CmpOp::Le => ord.is_le(),
            CmpOp::Gt => ord.is_gt(),
            CmpOp::Ge => ord.is_ge(),
        }
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    Str(String),
    /// Unix nanoseconds, parsed from an RFC 3339 literal.
    Time(i64),
    Int(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp {
        attr: Attr,
        op: CmpOp,
        value: Value,
    },
    In {
        attr: Attr,
        values: Vec<Value>,
        negated: bool,
    },
    IsNull {
        attr: Attr,
        negated: bool,
    },
}

impl Expr {
    /// Evaluates against one row; `row` answers `None` for a missing (NULL) attribute. As in SQL,
    /// every comparison with NULL is false (also `!=` and `NOT IN`); only `IS NULL` matches it.
    pub fn matches(&self, row: &impl Fn(Attr) -> Option<Value>) -> bool {
        match self {
            Expr::And(a, b) => a.matches(row) && b.matches(row),
            Expr::Or(a, b) => a.matches(row) || b.matches(row),
            Expr::Cmp { attr, op, value } => match (row(*attr), value) {
                (Some(Value::Str(a)), Value::Str(b)) => op.holds(a.as_str().cmp(b)),
                (Some(Value::Time(a)), Value::Time(b)) => op.holds(a.cmp(b)),
                (Some(Value::Int(a)), Value::Int(b)) => op.holds(a.cmp(b)),
                _ => false,
            },
            Expr::In {
                attr,
                values,
                negated,
            } => row(*attr).is_some_and(|v| values.contains(&v) != *negated),
            Expr::IsNull { attr, negated } => row(*attr).is_none() != *negated,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub filter: Option<Expr>,
    /// Only ever `Some(Attr::ExecutionStatus)`; meaningful for counts only.
    pub group_by: Option<Attr>,
}

/// A rejected query; the message is complete (`invalid query: ...`) and safe to return to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError(pub String);

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for QueryError {}

fn invalid(msg: impl fmt::Display) -> QueryError {
    QueryError(format!("invalid query: {msg}"))
}

fn unsupported(what: impl fmt::Display) -> QueryError {
    invalid(format_args!("operation is not supported: {what}"))
}

/// Which executions a query is about: it decides the names of the id and type attributes
/// (`ActivityId`/`ActivityType` or `WorkflowId`/`WorkflowType`, both `Attr::ActivityId`/
/// `Attr::ActivityType` in the AST: the id and type columns of the executions listed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scope {
    #[default]
    Activities,
    Workflows,
}

/// Parses a visibility query over activities. Syntax errors name a 1-based character position.
pub fn parse(input: &str) -> Result<Query, QueryError> {
    parse_in(input, Scope::Activities)
}

/// Parses a visibility query over the executions of `scope`.
pub fn parse_in(input: &str, scope: Scope) -> Result<Query, QueryError> {
    if input.len() > MAX_LEN {
        return Err(invalid(format_args!(
            "query is too long: {} bytes, at most {MAX_LEN}",
            input.len()
        )));
    }
    let mut p = Parser {
        src: input,
        toks: tokenize(input)?,
        pos: 0,
        depth: 0,
        scope,
    };
    let filter = match p.peek().tok {
        Tok::Eof => None,
        _ if ["GROUP", "ORDER", "LIMIT"].iter().any(|kw| p.at_kw(kw)) => None,
        _ => Some(p.or_expr()?),
    };
    let mut group_by = None;
    if p.eat_kw("GROUP") {
        p.expect_kw("BY")?;
        let attr = p.attr()?;
        if attr != Attr::ExecutionStatus || p.peek().tok == Tok::Comma {
            return Err(invalid(
                "'GROUP BY' clause is only supported for ExecutionStatus",
            ));
        }
        group_by = Some(attr);
    }
    let t = p.peek().clone();
    match t.tok {
        Tok::Eof => Ok(Query { filter, group_by }),
        _ if p.at_kw("ORDER") => Err(unsupported("'ORDER BY' clause")),
        _ if p.at_kw("LIMIT") => Err(unsupported("'LIMIT' clause")),
        _ if p.at_kw("HAVING") => Err(unsupported("'HAVING' clause")),
        _ if filter.is_some() && group_by.is_none() => {
            Err(p.syntax(&t, "AND, OR, GROUP BY or end of query"))
        }
        _ => Err(p.syntax(&t, "end of query")),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// Unquoted identifier or keyword; its text is `src[start..end]`.
    Word,
    /// Backticked identifier, unescaped.
    Quoted(String),
    /// String literal, unescaped.
    Str(String),
    Num,
    Op(CmpOp),
    LParen,
    RParen,
    Comma,
    Other,
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

fn column(src: &str, byte: usize) -> usize {
    src[..byte].chars().count() + 1
}

fn tokenize(src: &str) -> Result<Vec<Token>, QueryError> {
    let scan = |mut i: usize, ok: fn(char) -> bool| {
        while let Some(c) = src[i..].chars().next().filter(|&c| ok(c)) {
            i += c.len_utf8();
        }
        i
    };
    let mut toks = Vec::new();
    let mut i = 0;
    while let Some(c) = src[i..].chars().next() {
        let start = i;
        i += c.len_utf8();
        let tok = match c {
            c if c.is_whitespace() => continue,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            ',' => Tok::Comma,
            '!' | '<' | '>' | '=' => {
                match OPS.iter().find(|(op, _)| src[start..].starts_with(op)) {
                    Some(&(text, op)) => {
                        i = start + text.len();
                        Tok::Op(op)
                    }
                    None => Tok::Other,
                }
            }
            '\'' | '"' | '`' => {
                let (text, end) = unquote(src, i, c).ok_or_else(|| {
                    let what = if c == '`' { "quoted name" } else { "string" };
                    invalid(format_args!(
                        "unterminated {what} starting at position {}",
                        column(src, start)
                    ))
                })?;
                i = end;
                if c == '`' {
                    Tok::Quoted(text)
                } else {
                    Tok::Str(text)
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                i = scan(i, |c| c.is_ascii_alphanumeric() || c == '_');
                Tok::Word
            }
            c if c.is_ascii_digit() => {
                i = scan(i, |c| c.is_ascii_alphanumeric() || c == '.' || c == '_');
                Tok::Num
            }
            _ => Tok::Other,
        };
        toks.push(Token { tok, start, end: i });
    }
    toks.push(Token {
        tok: Tok::Eof,
        start: src.len(),
        end: src.len(),
    });
    Ok(toks)
}

/// Reads a quoted run starting after its opening `quote`; returns the text and the end offset.
/// A doubled quote stands for itself; strings (not names) also take MySQL backslash escapes.
fn unquote(src: &str, mut i: usize, quote: char) -> Option<(String, usize)> {
    let mut out = String::new();
    loop {
        let c = src[i..].chars().next()?;
        i += c.len_utf8();
        if c == quote {
            if !src[i..].starts_with(quote) {
                return Some((out, i));
            }
            i += 1;
            out.push(quote);
        } else if c == '\\' && quote != '`' {
            let e = src[i..].chars().next()?;
            i += e.len_utf8();
            out.push(match e {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                'b' => '\u{8}',
                '0' => '\0',
                e => e,
            });
        } else {
            out.push(c);
        }
    }
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
    scope: Scope,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &Token {
        &self.toks[self.pos]
    }

    fn bump(&mut self) -> Token {
        let t = self.toks[self.pos].clone();
        // Eof is last and sticky, so `peek` never runs off the end.
        if t.tok != Tok::Eof {
            self.pos += 1;
        }
        t
    }

    fn text(&self, t: &Token) -> &'a str {
        &self.src[t.start..t.end]
    }

    fn is_kw(&self, t: &Token, kw: &str) -> bool {
        t.tok == Tok::Word && self.text(t).eq_ignore_ascii_case(kw)
    }

    fn at_kw(&self, kw: &str) -> bool {
        self.is_kw(self.peek(), kw)
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        let hit = self.at_kw(kw);
        if hit {
            self.bump();
        }
        hit
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), QueryError> {
        let t = self.bump();
        if self.is_kw(&t, kw) {
            Ok(())
        } else {
            Err(self.syntax(&t, kw))
        }
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<(), QueryError> {
        let t = self.bump();
        if t.tok == tok {
            Ok(())
        } else {
            Err(self.syntax(&t, what))
        }
    }

    fn syntax(&self, t: &Token, expected: &str) -> QueryError {
        let found = match t.tok {
            Tok::Eof => "end of query".to_string(),
            _ => {
                let text = self.text(t);
                match text.char_indices().nth(40) {
                    Some((cut, _)) => format!("'{}...'", &text[..cut]),
                    None => format!("'{text}'"),
                }
            }
        };
        let hint = if t.tok == Tok::Word && expected == "a quoted string" {
            " (did you forget to quote it?)"
        } else {
            ""
        };
        invalid(format_args!(
            "syntax error at position {}: expected {expected}, found {found}{hint}",
            column(self.src, t.start)
        ))
    }

    fn or_expr(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.and_expr()?;
        while self.eat_kw("OR") {
            left = Expr::Or(Box::new(left), Box::new(self.and_expr()?));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.primary()?;
        while self.eat_kw("AND") {
            left = Expr::And(Box::new(left), Box::new(self.primary()?));
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        if self.peek().tok == Tok::LParen {
            // The only recursion in the parser, so bounding it bounds the stack.
            if self.depth == MAX_DEPTH {
                return Err(invalid(format_args!(
                    "too deeply nested: at most {MAX_DEPTH} levels of parentheses"
                )));
            }
            self.depth += 1;
            self.bump();
            let e = self.or_expr()?;
            self.expect(Tok::RParen, "AND, OR or ')'")?;
            self.depth -= 1;
            return Ok(e);
        }
        if self.at_kw("NOT") {
            return Err(unsupported("'NOT' operator"));
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Expr, QueryError> {
        let attr = self.attr()?;
        let t = self.bump();
        let kw = match t.tok {
            Tok::Op(op) => {
                if attr == Attr::ExecutionStatus && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                    return Err(unsupported(format_args!(
                        "'{op}' operator on ExecutionStatus"
                    )));
                }
                return Ok(Expr::Cmp {
                    attr,
                    op,
                    value: self.value(attr)?,
                });
            }
            Tok::Word => self.text(&t).to_ascii_uppercase(),
            _ => String::new(),
        };
        match kw.as_str() {
            "IN" => self.in_list(attr, false),
            "IS" => {
                let negated = self.eat_kw("NOT");
                self.expect_kw("NULL")?;
                Ok(Expr::IsNull { attr, negated })
            }
            "NOT" => {
                let next = self.bump();
                let nkw = self.text(&next).to_ascii_uppercase();
                match nkw.as_str() {
                    _ if next.tok != Tok::Word => Err(self.syntax(&next, "IN")),
                    "IN" => self.in_list(attr, true),
                    "LIKE" | "BETWEEN" | "STARTS_WITH" | "REGEXP" | "RLIKE" => {
                        Err(unsupported(format_args!("'NOT {nkw}' operator")))
                    }
                    _ => Err(self.syntax(&next, "IN")),
                }
            }
            "LIKE" | "BETWEEN" | "STARTS_WITH" | "NOT_STARTS_WITH" | "REGEXP" | "RLIKE" => {
                Err(unsupported(format_args!("'{kw}' operator")))
            }
            _ => Err(self.syntax(&t, "a comparison operator, IN, NOT IN or IS")),
        }
    }

    fn in_list(&mut self, attr: Attr, negated: bool) -> Result<Expr, QueryError> {
        self.expect(Tok::LParen, "'('")?;
        let mut values = vec![self.value(attr)?];
        loop {
            let t = self.bump();
            match t.tok {
                Tok::Comma => values.push(self.value(attr)?),
                Tok::RParen => {
                    return Ok(Expr::In {
                        attr,
                        values,
                        negated,
                    });
                }
                _ => return Err(self.syntax(&t, "',' or ')'")),
            }
        }
    }

    fn attr(&mut self) -> Result<Attr, QueryError> {
        let t = self.bump();
        let name = match &t.tok {
            Tok::Quoted(name) => name.as_str(),
            Tok::Word if self.peek().tok == Tok::LParen => {
                return Err(unsupported(format_args!("'{}' function", self.text(&t))));
            }
            Tok::Word
                if !RESERVED
                    .iter()
                    .any(|r| self.text(&t).eq_ignore_ascii_case(r)) =>
            {
                self.text(&t)
            }
            _ => return Err(self.syntax(&t, "a search attribute name")),
        };
        let name_in_scope = match (self.scope, name) {
            (Scope::Workflows, "WorkflowId") => "ActivityId",
            (Scope::Workflows, "WorkflowType") => "ActivityType",
            (Scope::Workflows, "ActivityId" | "ActivityType") => "",
            (_, other) => other,
        };
        Attr::from_name(name_in_scope)
            .ok_or_else(|| invalid(format_args!("invalid search attribute: {name}")))
    }

    fn value(&mut self, attr: Attr) -> Result<Value, QueryError> {
        let t = self.bump();
        if attr.is_int() {
            let text = match t.tok {
                Tok::Num => self.text(&t).to_owned(),
                Tok::Str(s) => s,
                _ => return Err(self.syntax(&t, "a number")),
            };
            return text
                .parse()
                .map(Value::Int)
                .map_err(|_| invalid(format_args!("invalid integer value '{text}' for {attr}")));
        }
        let s = match t.tok {
            Tok::Str(s) => s,
            Tok::Word if self.peek().tok == Tok::LParen => {
                return Err(unsupported(format_args!("'{}' function", self.text(&t))));
            }
            _ => return Err(self.syntax(&t, "a quoted string")),
        };
        match attr {
            a if a.is_time() => waymark_api::Timestamp::parse(&s)
                .ok()
                .map(|t| Value::Time(t.as_nanos()))
                .ok_or_else(|| invalid(format_args!("invalid time value '{s}' for {a}"))),
            Attr::ExecutionStatus if !EXECUTION_STATUSES.contains(&s.as_str()) => {
                Err(invalid(format_args!("invalid ExecutionStatus value '{s}'")))
            }
            _ => Ok(Value::Str(s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: i64 = 1_000_000_000;

    fn filter(q: &str) -> Expr {
        parse(q)
            .unwrap_or_else(|e| panic!("{q}: {e}"))
            .filter
            .expect("a filter")
    }

    fn error(q: &str) -> String {
        match parse(q) {
            Ok(parsed) => panic!("{q} parsed as {parsed:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn cmp(attr: Attr, op: CmpOp, value: &str) -> Expr {
        Expr::Cmp {
            attr,
            op,
            value: Value::Str(value.into()),
        }
    }

    fn eq(attr: Attr, value: &str) -> Expr {
        cmp(attr, CmpOp::Eq, value)
    }

    fn and(a: Expr, b: Expr) -> Expr {
        Expr::And(Box::new(a), Box::new(b))
    }

    fn or(a: Expr, b: Expr) -> Expr {
        Expr::Or(Box::new(a), Box::new(b))
    }

    #[test]
    fn attempt_compares_as_an_integer_in_both_scopes() {
        for scope in [Scope::Activities, Scope::Workflows] {
            let q = parse_in("ExecutionStatus='Running' AND Attempt > 1", scope).unwrap();
            let filter = q.filter.expect("a filter");
            let row = |attempt: i64| {
                move |a: Attr| match a {
                    Attr::ExecutionStatus => Some(Value::Str("Running".into())),
                    Attr::Attempt => Some(Value::Int(attempt)),
                    _ => None,
                }
            };
            assert!(filter.matches(&row(2)) && filter.matches(&row(12)));
            assert!(!filter.matches(&row(1)));
        }
        assert_eq!(
            filter("Attempt IN (2, '3')"),
            Expr::In {
                attr: Attr::Attempt,
                values: vec![Value::Int(2), Value::Int(3)],
                negated: false
            }
        );
        assert!(error("Attempt > 'x'").contains("invalid integer value 'x' for Attempt"));
        assert!(error("Attempt > 1.5").contains("invalid integer value '1.5'"));
    }

    fn time(q: &str) -> i64 {
        match filter(&format!("StartTime > '{q}'")) {
            Expr::Cmp {
                value: Value::Time(t),
                ..
            } => t,
            other => panic!("{other:?}"),
        }
    }

    fn row(pairs: &[(Attr, Value)]) -> impl Fn(Attr) -> Option<Value> + '_ {
        move |attr| {
            pairs
                .iter()
                .find(|(a, _)| *a == attr)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn empty_and_whitespace_only_queries_have_no_filter() {
        for q in ["", "   ", "\t\n "] {
            assert_eq!(parse(q), Ok(Query::default()));
        }
    }

    #[test]
    fn every_string_attribute_takes_an_equality() {
        for attr in [
            Attr::ActivityId,
            Attr::RunId,
            Attr::ActivityType,
            Attr::TaskQueue,
        ] {
            assert_eq!(filter(&format!("{attr} = 'x'")), eq(attr, "x"));
        }
    }

    #[test]
    fn every_comparison_operator_parses() {
        let ops = [
            ("=", CmpOp::Eq),
            ("!=", CmpOp::Ne),
            ("<>", CmpOp::Ne),
            ("<", CmpOp::Lt),
            ("<=", CmpOp::Le),
            (">", CmpOp::Gt),
            (">=", CmpOp::Ge),
        ];
        for (text, op) in ops {
            assert_eq!(
                filter(&format!("ActivityType {text} 'a'")),
                cmp(Attr::ActivityType, op, "a")
            );
            assert_eq!(
                filter(&format!("TaskQueue{text}'a'")),
                cmp(Attr::TaskQueue, op, "a")
            );
        }
    }

    #[test]
    fn keywords_are_case_insensitive() {
        let expected = and(
            Expr::In {
                attr: Attr::RunId,
                values: vec![Value::Str("r".into())],
                negated: true,
            },
            Expr::IsNull {
                attr: Attr::CloseTime,
                negated: true,
            },
        );
        assert_eq!(
            filter("RunId not in ('r') and CloseTime is not null"),
            expected
        );
        assert_eq!(
            filter("RunId NoT In ('r') AnD CloseTime Is NoT NuLl"),
            expected
        );
        assert_eq!(
            parse("group by ExecutionStatus").unwrap().group_by,
            Some(Attr::ExecutionStatus)
        );
    }

    #[test]
    fn workflow_queries_name_the_id_and_type_after_workflows() {
        let q = parse_in("WorkflowId = 'w' AND WorkflowType = 'T'", Scope::Workflows).unwrap();
        let activity = parse("ActivityId = 'w' AND ActivityType = 'T'").unwrap();
        assert_eq!(q, activity);
        let err = parse_in("ActivityId = 'w'", Scope::Workflows).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid query: invalid search attribute: ActivityId"
        );
        assert!(parse("WorkflowId = 'w'").is_err());
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let (a, b, c) = (
            eq(Attr::ActivityId, "a"),
            eq(Attr::ActivityId, "b"),
            eq(Attr::ActivityId, "c"),
        );
        assert_eq!(
            filter("ActivityId = 'a' OR ActivityId = 'b' AND ActivityId = 'c'"),
            or(a.clone(), and(b.clone(), c.clone()))
        );
        assert_eq!(
            filter("ActivityId = 'a' AND ActivityId = 'b' OR ActivityId = 'c'"),
            or(and(a, b), c)
        );
    }

    #[test]
    fn parentheses_override_precedence() {
        let (a, b, c) = (
            eq(Attr::ActivityId, "a"),
            eq(Attr::ActivityId, "b"),
            eq(Attr::ActivityId, "c"),
        );
        assert_eq!(
            filter("(ActivityId = 'a' OR ActivityId = 'b') AND ActivityId = 'c'"),
            and(or(a.clone(), b), c)
        );
        assert_eq!(filter("((((ActivityId = 'a'))))"), a);
    }

    #[test]
    fn chains_of_the_same_operator_associate_to_the_left() {
        let (a, b, c) = (
            eq(Attr::RunId, "a"),
            eq(Attr::RunId, "b"),
            eq(Attr::RunId, "c"),
        );
        assert_eq!(
            filter("RunId='a' OR RunId='b' OR RunId='c'"),
            or(or(a.clone(), b.clone()), c.clone())
        );
        assert_eq!(
            filter("RunId='a' AND RunId='b' AND RunId='c'"),
            and(and(a, b), c)
        );
    }

    #[test]
    fn in_and_not_in_take_lists_of_strings() {
        let values = |v: &[&str]| {
            v.iter()
                .map(|s| Value::Str(s.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            filter("ActivityType IN ('a', \"b\",'c')"),
            Expr::In {
                attr: Attr::ActivityType,
                values: values(&["a", "b", "c"]),
                negated: false
            }
        );
        assert_eq!(
            filter("ExecutionStatus NOT IN ('Running','Paused')"),
            Expr::In {
                attr: Attr::ExecutionStatus,
                values: values(&["Running", "Paused"]),
                negated: true
            }
        );
        assert_eq!(
            filter("CloseTime IN ('1970-01-01T00:00:01Z')"),
            Expr::In {
                attr: Attr::CloseTime,
                values: vec![Value::Time(SEC)],
                negated: false
            }
        );
    }

    #[test]
    fn is_null_and_is_not_null_parse() {
        assert_eq!(
            filter("CloseTime IS NULL"),
            Expr::IsNull {
                attr: Attr::CloseTime,
                negated: false
            }
        );
        assert_eq!(
            filter("RunId IS NOT NULL"),
            Expr::IsNull {
                attr: Attr::RunId,
                negated: true
            }
        );
    }

    #[test]
    fn string_literals_accept_both_quotes_and_both_escapes() {
        let cases = [
            (r#"ActivityId = 'it''s'"#, "it's"),
            (r#"ActivityId = 'it\'s'"#, "it's"),
            (r#"ActivityId = "say ""hi""""#, r#"say "hi""#),
            (r#"ActivityId = "say \"hi\"""#, r#"say "hi""#),
            (r#"ActivityId = 'a\\b\nc\td'"#, "a\\b\nc\td"),
            (r#"ActivityId = "it's""#, "it's"),
            (r#"ActivityId = ''"#, ""),
            ("ActivityId = 'héllo wörld'", "héllo wörld"),
        ];
        for (q, expected) in cases {
            assert_eq!(filter(q), eq(Attr::ActivityId, expected), "{q}");
        }
    }

    #[test]
    fn backticked_attribute_names_are_accepted() {
        assert_eq!(filter("`ActivityId` = 'a'"), eq(Attr::ActivityId, "a"));
        assert_eq!(
            parse("GROUP BY `ExecutionStatus`").unwrap().group_by,
            Some(Attr::ExecutionStatus)
        );
    }

    #[test]
    fn attribute_names_are_case_sensitive() {
        assert_eq!(
            error("activityid = 'a'"),
            "invalid query: invalid search attribute: activityid"
        );
    }

    #[test]
    fn execution_status_accepts_every_documented_value() {
        for status in EXECUTION_STATUSES {
            assert_eq!(
                filter(&format!("ExecutionStatus = '{status}'")),
                eq(Attr::ExecutionStatus, status)
            );
        }
    }

    #[test]
    fn execution_status_rejects_other_spellings() {
        for bad in [
            "RUNNING",
            "running",
            "ACTIVITY_EXECUTION_STATUS_RUNNING",
            "",
        ] {
            assert_eq!(
                error(&format!("ExecutionStatus = '{bad}'")),
                format!("invalid query: invalid ExecutionStatus value '{bad}'")
            );
        }
        assert_eq!(
            error("ExecutionStatus IN ('Running', 'Done')"),
            "invalid query: invalid ExecutionStatus value 'Done'"
        );
    }

    #[test]
    fn execution_status_takes_only_equality_operators() {
        assert_eq!(
            filter("ExecutionStatus != 'Failed'"),
            cmp(Attr::ExecutionStatus, CmpOp::Ne, "Failed")
        );
        assert_eq!(
            error("ExecutionStatus < 'Failed'"),
            "invalid query: operation is not supported: '<' operator on ExecutionStatus"
        );
    }

    #[test]
    fn time_values_parse_with_z_and_offsets() {
        let base = 1_704_164_645 * SEC; // 2024-01-02T03:04:05Z
        assert_eq!(time("2024-01-02T03:04:05Z"), base);
        assert_eq!(time("2024-01-02t03:04:05z"), base);
        assert_eq!(time("2024-01-02T03:04:05.5Z"), base + SEC / 2);
        assert_eq!(time("2024-01-02T03:04:05.123456789Z"), base + 123_456_789);
        assert_eq!(time("2024-01-02T03:04:05.1234567891Z"), base + 123_456_789);
        assert_eq!(time("2024-01-02T05:04:05+02:00"), base);
        assert_eq!(time("2024-01-01T21:34:05.000-05:30"), base);
        assert_eq!(time("1970-01-01T00:00:00Z"), 0);
        for attr in ["StartTime", "CloseTime", "ExecutionTime"] {
            for op in ["=", "!=", "<", "<=", ">", ">="] {
                parse(&format!("{attr} {op} '2024-01-02T03:04:05Z'")).unwrap();
            }
        }
    }

    #[test]
    fn times_before_the_epoch_are_negative() {
        assert_eq!(time("1969-12-31T23:59:59.5Z"), -SEC / 2);
        assert_eq!(time("1900-01-01T00:00:00Z"), -2_208_988_800 * SEC);
    }

    #[test]
    fn leap_days_are_valid_only_in_leap_years() {
        assert_eq!(time("2024-02-29T00:00:00Z"), 1_709_164_800 * SEC);
        assert_eq!(time("2000-02-29T00:00:00Z"), 951_782_400 * SEC);
        assert!(parse("StartTime > '2023-02-29T00:00:00Z'").is_err());
        assert!(parse("StartTime > '1900-02-29T00:00:00Z'").is_err());
    }

    #[test]
    fn malformed_times_are_rejected_with_the_attribute_name() {
        let bad = [
            "yesterday",
            "",
            "2024-01-01",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00.Z",
            "2024-13-01T00:00:00Z",
            "2024-00-01T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:60:00Z",
            "2024-01-01T00:00:60Z",
            "2024-01-01T00:00:00+24:00",
            "2024-01-01T00:00:00+0200",
            "2024-01-01T00:00:00Zjunk",
            "+024-01-01T00:00:00Z",
            "2024-01-01T00:00:00é",
            "9999-12-31T23:59:59Z", // past i64 nanos
        ];
        for v in bad {
            assert_eq!(
                error(&format!("CloseTime >= '{v}'")),
                format!("invalid query: invalid time value '{v}' for CloseTime")
            );
        }
    }

    #[test]
    fn group_by_execution_status_parses_with_and_without_a_filter() {
        assert_eq!(
            parse("GROUP BY ExecutionStatus"),
            Ok(Query {
                filter: None,
                group_by: Some(Attr::ExecutionStatus)
            })
        );
        assert_eq!(
            parse("TaskQueue = 'q' GROUP BY ExecutionStatus"),
            Ok(Query {
                filter: Some(eq(Attr::TaskQueue, "q")),
                group_by: Some(Attr::ExecutionStatus)
            })
        );
    }

    #[test]
    fn group_by_anything_but_execution_status_is_rejected() {
        for q in [
            "GROUP BY TaskQueue",
            "GROUP BY ExecutionStatus, TaskQueue",
            "RunId = 'r' group by StartTime",
        ] {
            assert_eq!(
                error(q),
                "invalid query: 'GROUP BY' clause is only supported for ExecutionStatus"
            );
        }
        assert_eq!(
            error("GROUP BY Bogus"),
            "invalid query: invalid search attribute: Bogus"
        );
        assert!(
            error("GROUP ExecutionStatus")
                .starts_with("invalid query: syntax error at position 7: expected BY")
        );
    }

    #[test]
    fn order_by_is_not_supported() {
        let msg = "invalid query: operation is not supported: 'ORDER BY' clause";
        assert_eq!(error("ORDER BY StartTime"), msg);
        assert_eq!(error("ActivityId = 'a' ORDER BY StartTime DESC"), msg);
        assert_eq!(
            error("GROUP BY ExecutionStatus ORDER BY ExecutionStatus"),
            msg
        );
    }

    #[test]
    fn unknown_attributes_get_temporals_message() {
        assert_eq!(
            error("Bogus = 'x'"),
            "invalid query: invalid search attribute: Bogus"
        );
        assert_eq!(
            error("ActivityId = 'a' AND `Bogus` IS NULL"),
            "invalid query: invalid search attribute: Bogus"
        );
        assert_eq!(
            error("WorkflowId = 'w'"),
            "invalid query: invalid search attribute: WorkflowId"
        );
    }

    #[test]
    fn unsupported_operations_are_named() {
        let cases = [
            ("ActivityId LIKE 'a%'", "'LIKE' operator"),
            ("ActivityId NOT LIKE 'a%'", "'NOT LIKE' operator"),
            (
                "StartTime BETWEEN '2024-01-01T00:00:00Z' AND '2025-01-01T00:00:00Z'",
                "'BETWEEN' operator",
            ),
            ("ActivityType STARTS_WITH 'a'", "'STARTS_WITH' operator"),
            ("NOT ActivityId = 'a'", "'NOT' operator"),
            ("ActivityId = 'a' AND NOT (RunId = 'r')", "'NOT' operator"),
            ("lower(ActivityId) = 'a'", "'lower' function"),
            ("StartTime > now()", "'now' function"),
            ("ActivityId = 'a' LIMIT 10", "'LIMIT' clause"),
            ("LIMIT 10", "'LIMIT' clause"),
            ("ActivityId = 'a' HAVING x", "'HAVING' clause"),
        ];
        for (q, what) in cases {
            assert_eq!(
                error(q),
                format!("invalid query: operation is not supported: {what}"),
                "{q}"
            );
        }
    }

    #[test]
    fn syntax_errors_name_the_position_and_what_was_expected() {
        let cases = [
            (
                "ActivityId = ",
                "position 14: expected a quoted string, found end of query",
            ),
            (
                "ActivityId 'a'",
                "position 12: expected a comparison operator, IN, NOT IN or IS, found ''a''",
            ),
            (
                "ActivityId = 'a' RunId = 'b'",
                "position 18: expected AND, OR, GROUP BY or end of query, found 'RunId'",
            ),
            (
                "(ActivityId = 'a'",
                "position 18: expected AND, OR or ')', found end of query",
            ),
            (
                "ActivityId = 'a')",
                "position 17: expected AND, OR, GROUP BY or end of query, found ')'",
            ),
            (
                "ActivityId = 'a' AND",
                "position 21: expected a search attribute name, found end of query",
            ),
            (
                "AND ActivityId = 'a'",
                "position 1: expected a search attribute name, found 'AND'",
            ),
            (
                "ActivityId IN 'a'",
                "position 15: expected '(', found ''a''",
            ),
            (
                "ActivityId IN ('a' 'b')",
                "position 20: expected ',' or ')', found ''b''",
            ),
            (
                "ActivityId IN ()",
                "position 16: expected a quoted string, found ')'",
            ),
            (
                "ActivityId IS 'a'",
                "position 15: expected NULL, found ''a''",
            ),
            (
                "ActivityId NOT = 'a'",
                "position 16: expected IN, found '='",
            ),
            (
                "ActivityId = 5",
                "position 14: expected a quoted string, found '5'",
            ),
            (
                "ActivityId == 'a'",
                "position 13: expected a quoted string, found '='",
            ),
            (
                "ActivityId ! 'a'",
                "position 12: expected a comparison operator, IN, NOT IN or IS, found '!'",
            ),
            (
                "GROUP BY ExecutionStatus AND",
                "position 26: expected end of query, found 'AND'",
            ),
            (
                "'é' = 'a'",
                "position 1: expected a search attribute name, found ''é''",
            ),
            (
                "ActivityId = 'é' ;",
                "position 18: expected AND, OR, GROUP BY or end of query, found ';'",
            ),
        ];
        for (q, tail) in cases {
            assert_eq!(
                error(q),
                format!("invalid query: syntax error at {tail}"),
                "{q}"
            );
        }
    }

    #[test]
    fn unquoted_values_get_a_hint() {
        assert_eq!(
            error("ExecutionStatus = Running"),
            "invalid query: syntax error at position 19: expected a quoted string, found 'Running' \
             (did you forget to quote it?)"
        );
    }

    #[test]
    fn long_tokens_are_truncated_in_syntax_errors() {
        let q = format!("ActivityId {}", "x".repeat(500));
        let msg = error(&q);
        assert!(
            msg.ends_with(&format!("found '{}...'", "x".repeat(40))),
            "{msg}"
        );
    }

    #[test]
    fn unterminated_strings_are_reported() {
        let cases = [
            (
                "ActivityId = 'abc",
                "unterminated string starting at position 14",
            ),
            (
                "ActivityId = \"abc'",
                "unterminated string starting at position 14",
            ),
            (
                "ActivityId = 'abc\\'",
                "unterminated string starting at position 14",
            ),
            (
                "ActivityId = 'abc\\",
                "unterminated string starting at position 14",
            ),
            (
                "`ActivityId = 'a'",
                "unterminated quoted name starting at position 1",
            ),
        ];
        for (q, msg) in cases {
            assert_eq!(error(q), format!("invalid query: {msg}"), "{q}");
        }
    }

    #[test]
    fn queries_over_ten_thousand_bytes_are_rejected() {
        let at_limit = format!("ActivityId = '{}'", "a".repeat(MAX_LEN - 15));
        assert_eq!(at_limit.len(), MAX_LEN);
        assert!(parse(&at_limit).is_ok());
        assert_eq!(
            error(&format!("{at_limit} ")),
            "invalid query: query is too long: 10001 bytes, at most 10000"
        );
    }

    #[test]
    fn nesting_is_limited_to_a_hundred_parentheses() {
        let nested = |n: usize| format!("{}RunId = 'r'{}", "(".repeat(n), ")".repeat(n));
        assert_eq!(filter(&nested(MAX_DEPTH)), eq(Attr::RunId, "r"));
        assert_eq!(
            error(&nested(MAX_DEPTH + 1)),
            "invalid query: too deeply nested: at most 100 levels of parentheses"
        );
        assert_eq!(
            error(&"(".repeat(MAX_LEN)),
            "invalid query: too deeply nested: at most 100 levels of parentheses"
        );
    }

    #[test]
    fn the_longest_and_chains_parse_and_evaluate() {
        let q = vec!["RunId=''"; MAX_LEN / 12].join("AND ");
        let e = filter(&q);
        let r = [(Attr::RunId, Value::Str(String::new()))];
        assert!(e.matches(&row(&r)));
    }

    #[test]
    fn comparisons_evaluate_strings_and_times() {
        let r = [
            (Attr::ActivityId, Value::Str("b".into())),
            (Attr::StartTime, Value::Time(10 * SEC)),
        ];
        let m = |q: &str| filter(q).matches(&row(&r));
        assert!(m("ActivityId = 'b'") && m("ActivityId != 'a'") && m("ActivityId <> 'a'"));
        assert!(
            m("ActivityId > 'a'")
                && m("ActivityId >= 'b'")
                && m("ActivityId < 'c'")
                && m("ActivityId <= 'b'")
        );
        assert!(
            !m("ActivityId = 'a'")
                && !m("ActivityId != 'b'")
                && !m("ActivityId < 'b'")
                && !m("ActivityId > 'b'")
        );
        assert!(
            m("StartTime = '1970-01-01T00:00:10Z'") && m("StartTime > '1970-01-01T00:00:09.999Z'")
        );
        assert!(
            m("StartTime <= '1970-01-01T01:00:10+01:00'")
                && !m("StartTime < '1970-01-01T01:00:10+01:00'")
        );
        assert!(
            m("ActivityId IN ('a', 'b')")
                && !m("ActivityId NOT IN ('a', 'b')")
                && m("ActivityId NOT IN ('a')")
        );
        assert!(
            m("ActivityId = 'x' OR StartTime IS NOT NULL")
                && !m("ActivityId = 'b' AND StartTime IS NULL")
        );
        assert!(m(
            "(ActivityId = 'x' OR ActivityId = 'b') AND StartTime >= '1970-01-01T00:00:10Z'"
        ));
    }

    #[test]
    fn missing_values_match_only_is_null() {
        let m = |q: &str| filter(q).matches(&row(&[]));
        assert!(m("CloseTime IS NULL") && !m("CloseTime IS NOT NULL"));
        for q in [
            "CloseTime = '2024-01-01T00:00:00Z'",
            "CloseTime != '2024-01-01T00:00:00Z'",
            "CloseTime < '2024-01-01T00:00:00Z'",
            "RunId IN ('r')",
            "RunId NOT IN ('r')",
            "RunId != 'r'",
        ] {
            assert!(!m(q), "{q}");
        }
    }

    /// Deterministic garbage: random fragments of the language, random characters, and random
    /// edits of valid queries (which keep some inputs well-formed, so the evaluator runs too).
    #[test]
    fn garbage_input_never_panics() {
        let fragments = [
            "ActivityId",
            "RunId",
            "ExecutionStatus",
            "StartTime",
            "CloseTime",
            "Bogus",
            "`",
            "'",
            "\"",
            "\\",
            "(",
            ")",
            ",",
            " ",
            "AND",
            "or",
            "NOT",
            "IN",
            "IS",
            "NULL",
            "=",
            "!=",
            "<>",
            "<",
            "<=",
            ">",
            ">=",
            "!",
            "GROUP BY",
            "ORDER BY",
            "LIMIT",
            "LIKE",
            "'Running'",
            "'2024-01-02T03:04:05Z'",
            "'2024-01-02T03:04:05.999+05:30'",
            "'a''b'",
            "é",
            "日本",
            "\u{0}",
            "12",
            "-",
            ";",
            "\n",
            "``",
        ];
        let seeds = [
            "ActivityId = 'a' OR (RunId != 'r' AND StartTime > '2024-01-02T03:04:05Z')",
            "ExecutionStatus IN ('Running', 'Paused') AND CloseTime IS NULL GROUP BY ExecutionStatus",
            "`TaskQueue` NOT IN (\"q\", 'it''s') OR ExecutionTime <= '1970-01-01T00:00:00-01:00'",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as usize
        };
        let r = [
            (Attr::ActivityId, Value::Str("a".into())),
            (Attr::StartTime, Value::Time(0)),
        ];
        let mut parsed = 0;
        for round in 0..30_000 {
            let mut q: Vec<char> = match round % 2 {
                0 => Vec::new(),
                _ => seeds[next() % seeds.len()].chars().collect(),
            };
            for _ in 0..next() % if round % 2 == 0 { 24 } else { 4 } {
                let at = next() % (q.len() + 1);
                let insert: Vec<char> = match next() % 4 {
                    0 => vec![char::from_u32((next() % 0x11_0000) as u32).unwrap_or('\u{fffd}')],
                    1 => {
                        q.drain(at..(at + next() % 8).min(q.len()));
                        continue;
                    }
                    _ => fragments[next() % fragments.len()].chars().collect(),
                };
                q.splice(at..at, insert);
            }
            let q: String = q.into_iter().collect();
            match parse(&q) {
                Ok(Query {
                    filter: Some(e), ..
                }) => {
                    parsed += 1;
                    e.matches(&row(&r));
                }
                Ok(_) => {}
                Err(e) => assert!(e.0.starts_with("invalid query: "), "{q:?}: {e}"),
            }
        }
        assert!(parsed > 1000, "{parsed}");
    }
}
