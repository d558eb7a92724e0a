//! One file's bytes into located model objects and diagnostics: UTF-8 check, document split,
//! YAML parsing under resource budgets, then [`decode_document`] per document.
//!
//! Budgets: every document is parsed with serde-saphyr limits drawn from one pool per file, sized
//! from the file's length (nodes: a third of its bytes plus 1 M; scalar bytes: twice its length
//! plus 64 MiB). Alias replays count against the pool, so an alias bomb stops after work and
//! memory proportional to the file, while an ordinary file of any size up to
//! [`MAX_FILE_BYTES`] parses. Nesting is limited to [`MAX_DEPTH`] levels.

use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::path::Path;

use serde_json::Value;
use serde_saphyr::SnippetMode;
use sluice_ingress_model::Severity;

use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::kinds::{Object, decode_document};
use crate::split::{Document, split_documents};

/// The largest file read (256 MiB); larger files are an error.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// The deepest nesting of YAML collections accepted.
pub const MAX_DEPTH: usize = 128;

/// A model object and where it was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Located {
    /// The document index (0-based).
    pub document: usize,
    /// The line the document starts on.
    pub line: usize,
    /// The object.
    pub object: Object,
}

/// What reading one file gave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct FileRead {
    /// Objects from the documents that decoded, in order.
    pub objects: Vec<Located>,
    /// Everything found, in order.
    pub diagnostics: Vec<Diagnostic>,
    /// Whether anything in the file is an error (then the file is not fully served).
    pub failed: bool,
}

/// The parse budget left for the rest of a file.
struct Pool {
    nodes: usize,
    scalar_bytes: usize,
}

/// Stack size of the threads that parse files: the YAML deserializer recurses per nesting level
/// with large frames (about 20 KiB per level in a debug build), more than a default 2 MiB
/// thread has at [`MAX_DEPTH`].
const PARSER_STACK_BYTES: usize = 64 * 1024 * 1024;

thread_local! {
    /// Whether this thread was started by [`parser_thread`], with a stack deep enough to parse
    /// on.
    static PARSER_STACK: Cell<bool> = const { Cell::new(false) };
}

/// A thread builder with a stack deep enough for [`MAX_DEPTH`]; the closure it runs must call
/// [`mark_parser_stack`] first, so files are then parsed on it directly.
pub(crate) fn parser_thread(name: &str) -> std::thread::Builder {
    std::thread::Builder::new()
        .name(name.to_owned())
        .stack_size(PARSER_STACK_BYTES)
}

/// Records that the current thread was built by [`parser_thread`].
pub(crate) fn mark_parser_stack() {
    PARSER_STACK.with(|deep| deep.set(true));
}

/// Runs `work` on a stack deep enough to parse on: here when this thread is one, else on a
/// scoped thread built by [`parser_thread`]; `None` (without running it) when no thread can
/// be started. One thread for a whole scan, instead of one per file.
pub(crate) fn on_parser_stack<T: Send>(work: impl FnOnce() -> T + Send) -> Option<T> {
    if PARSER_STACK.with(Cell::get) {
        return Some(work());
    }
    std::thread::scope(|scope| {
        let worker = parser_thread("sluice-file-parse")
            .spawn_scoped(scope, || {
                mark_parser_stack();
                work()
            })
            .ok()?;
        match worker.join() {
            Ok(done) => Some(done),
            // A panic outside the parser is a bug: raised here as it would have been inline.
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// [`read_bytes`] on a stack deep enough for [`MAX_DEPTH`] (see [`on_parser_stack`]); a panic
/// in a parser becomes an error diagnostic instead of ending the caller.
pub(crate) fn read_bytes_isolated(file: &Path, bytes: &[u8]) -> FileRead {
    let outcome = on_parser_stack(|| {
        std::panic::catch_unwind(AssertUnwindSafe(|| read_bytes(file, bytes)))
            .map_err(|_| "the YAML parser panicked".to_owned())
    })
    .unwrap_or_else(|| Err("cannot start the parser thread".to_owned()));
    outcome.unwrap_or_else(|message| FileRead {
        objects: Vec::new(),
        diagnostics: vec![Diagnostic::file(
            Severity::Error,
            file.to_owned(),
            Error::Yaml(message),
        )],
        failed: true,
    })
}

/// Reads a file's contents; `file` is only used to name it in diagnostics.
pub(crate) fn read_bytes(file: &Path, bytes: &[u8]) -> FileRead {
    let mut read = FileRead::default();
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            read.failed = true;
            let problem = Error::NotUtf8(error.valid_up_to());
            read.diagnostics
                .push(Diagnostic::file(Severity::Error, file.to_owned(), problem));
            return read;
        }
    };
    let mut pool = Pool {
        nodes: text.len() / 3 + 1_000_000,
        scalar_bytes: text
            .len()
            .saturating_mul(2)
            .saturating_add(64 * 1024 * 1024),
    };
    for document in split_documents(text) {
        if document.has_content {
            read_document(file, &document, &mut pool, &mut read);
        }
    }
    read
}

/// Parses and decodes one document into `read`.
fn read_document(file: &Path, document: &Document<'_>, pool: &mut Pool, read: &mut FileRead) {
    let diagnostic = |severity, line, object, field, problem| Diagnostic {
        severity,
        file: file.to_owned(),
        document: Some(document.index),
        line: Some(line),
        object,
        field,
        problem,
    };
    let value = match parse(document, pool) {
        Ok(value) => value,
        Err((line, problem)) => {
            read.failed = true;
            read.diagnostics
                .push(diagnostic(Severity::Error, line, None, None, problem));
            return;
        }
    };
    if value.is_null() {
        return;
    }
    let decoded = decode_document(value);
    read.failed |= decoded.failed;
    for finding in decoded.findings {
        read.diagnostics.push(diagnostic(
            finding.severity,
            document.line,
            finding.object,
            finding.field,
            finding.problem,
        ));
    }
    read.objects.extend(
        decoded
            .objects
            .into_iter()
            .map(|(_, object): (_, Object)| Located {
                document: document.index,
                line: document.line,
                object,
            }),
    );
}

/// Parses one document under the pool's budget; an error carries its file line.
fn parse(document: &Document<'_>, pool: &mut Pool) -> Result<Value, (usize, Error)> {
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_nodes: pool.nodes,
            max_events: pool.nodes.saturating_mul(3).saturating_add(1_000),
            max_total_scalar_bytes: pool.scalar_bytes,
            max_depth: MAX_DEPTH,
        },
        strict_booleans: true,
        with_snippet: false,
    };
    match serde_saphyr::from_str_with_options::<Value>(document.text, options) {
        Ok(value) => {
            let (nodes, bytes) = weigh(&value);
            pool.nodes = pool.nodes.saturating_sub(nodes);
            pool.scalar_bytes = pool.scalar_bytes.saturating_sub(bytes);
            Ok(value)
        }
        Err(error) => {
            let offset = document.line.saturating_sub(1);
            let line = error.location().map_or(document.line, |l| {
                usize::try_from(l.line()).map_or(document.line, |l| l.saturating_add(offset))
            });
            let render = serde_saphyr::render_options! {
                snippets: SnippetMode::Off,
                line_offset: offset as u64,
            };
            let message = error.render_with_options(render);
            // The library's advice to its programmer is noise for someone editing manifests.
            let message = message.replace(", set DuplicateKeyPolicy in Options if acceptable", "");
            Err((line, Error::Yaml(message)))
        }
    }
}

/// Nodes and scalar bytes of a parsed value, charged to the file's pool.
fn weigh(value: &Value) -> (usize, usize) {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => (1, 8),
        Value::String(s) => (1, s.len()),
        Value::Array(items) => items
            .iter()
            .map(weigh)
            .fold((1, 0), |a, b| (a.0 + b.0, a.1 + b.1)),
        Value::Object(map) => map
            .iter()
            .map(|(key, value)| {
                let (nodes, bytes) = weigh(value);
                (nodes + 1, bytes + key.len())
            })
            .fold((1, 0), |a, b| (a.0 + b.0, a.1 + b.1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> FileRead {
        read_bytes(Path::new("test.yaml"), text.as_bytes())
    }

    #[test]
    fn a_scan_runs_on_one_parser_thread_and_a_parser_thread_parses_in_place() {
        let here = std::thread::current().id();
        let (ran_on, deep) = on_parser_stack(|| {
            let inner = on_parser_stack(|| std::thread::current().id());
            (std::thread::current().id(), inner)
        })
        .unwrap();
        assert_ne!(
            ran_on, here,
            "a plain thread hands the work to a parser thread"
        );
        assert_eq!(
            deep,
            Some(ran_on),
            "a parser thread runs nested work itself"
        );

        let block: String = (0..1_000)
            .map(|i| format!("{}k{i}:\n", "  ".repeat(i)))
            .collect();
        let read = parser_thread("test-parser")
            .spawn(move || {
                mark_parser_stack();
                let inner = on_parser_stack(|| std::thread::current().name().map(str::to_owned));
                assert_eq!(inner.flatten().as_deref(), Some("test-parser"));
                read_bytes_isolated(Path::new("deep.yaml"), block.as_bytes())
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(
            read.failed,
            "too deep, reported in place without overflowing the stack"
        );
    }

    #[test]
    fn reports_syntax_errors_with_file_line_and_document() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n\
                    apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [b\n";
        let read = read(text);
        assert!(read.failed);
        assert_eq!(read.objects.len(), 1);
        let error = &read.diagnostics[0];
        assert_eq!(error.document, Some(1));
        assert!(matches!(error.problem, Error::Yaml(_)));
        assert!(error.line.unwrap() >= 7, "{error}");
        let text = error.to_string();
        assert!(text.starts_with("error: test.yaml:"), "{text}");
        assert!(text.contains("document 1 (0-based)"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn rejects_non_utf8_and_skips_empty_documents() {
        let read_bad = read_bytes(Path::new("b.yaml"), b"a: \xff\n");
        assert!(read_bad.failed);
        assert_eq!(read_bad.diagnostics[0].problem, Error::NotUtf8(3));
        let empty = read("---\n---\n~\n---\n# nothing\n");
        assert!(!empty.failed && empty.objects.is_empty() && empty.diagnostics.is_empty());
        let bom = read_bytes(
            Path::new("c.yaml"),
            b"\xEF\xBB\xBFapiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        );
        assert_eq!(bom.objects.len(), 1, "{:?}", bom.diagnostics);
    }

    #[test]
    fn yaml_1_1_booleans_stay_strings() {
        let read =
            read("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {a: yes, b: on}\n");
        assert!(!read.failed, "{:?}", read.diagnostics);
    }

    #[test]
    fn stops_alias_bombs_and_depth_bombs() {
        let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        for (name, prev) in ["b", "c", "d", "e", "f", "g", "h", "i"]
            .iter()
            .zip(["a", "b", "c", "d", "e", "f", "g", "h"])
        {
            let refs = vec![format!("*{prev}"); 10].join(",");
            bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        let read = read(&bomb);
        assert!(read.failed);
        assert!(
            read.diagnostics[0].problem.to_string().contains("budget"),
            "{}",
            read.diagnostics[0]
        );

        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let read = self::read(&deep);
        assert!(read.failed);
        let block: String = (0..1_000)
            .map(|i| format!("{}k{i}:\n", "  ".repeat(i)))
            .collect();
        let read = read_bytes_isolated(Path::new("deep.yaml"), block.as_bytes());
        assert!(read.failed);
        let message = read.diagnostics[0].problem.to_string();
        assert!(
            message.contains("depth") || message.contains("recursion"),
            "{message}"
        );
    }

    #[test]
    fn the_pool_is_shared_by_the_documents_of_a_file() {
        // Each document alone fits a fresh budget; together they exceed the file's pool.
        let big = "x".repeat(1 << 20);
        let mut text = format!("a: &a {big}\n");
        text.push_str("b: [*a, *a, *a, *a, *a, *a, *a, *a]\n");
        let mut stream = String::new();
        for _ in 0..12 {
            stream.push_str(&text);
            stream.push_str("---\n");
        }
        let read = read(&stream);
        let budget_errors = read
            .diagnostics
            .iter()
            .filter(|d| matches!(&d.problem, Error::Yaml(m) if m.contains("budget")))
            .count();
        // The first documents parse (and fail later for lacking apiVersion); the rest of the
        // twelve 9 MiB expansions exceed the file's pool of 2 * 12 MiB + 64 MiB.
        assert_eq!(read.diagnostics[0].problem, Error::MissingField);
        assert!(budget_errors > 0, "{:?}", read.diagnostics);
    }
}
