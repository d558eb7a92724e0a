//! Splits a YAML stream into its documents, so each document is parsed (and fails) on its own
//! and keeps its index even when it is empty.
//!
//! YAML forbids a line starting with `---` or `...` (followed by a space, a tab or the end of the
//! line) inside a document's content, so such a line always is a document marker; splitting on
//! lines is therefore exact. A `---` line starts a document (and stays in it: it may carry
//! content or a tag, `--- |`); a `...` line ends one. Text before the first `---` that holds only
//! comments, blank lines or directives is not a document.

/// One document of a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Document<'a> {
    /// Its 0-based index in the stream.
    pub index: usize,
    /// The 1-based line of the file `text` starts on.
    pub line: usize,
    /// Its text, markers included.
    pub text: &'a str,
    /// Whether it holds anything but markers, comments, directives and blank lines.
    pub has_content: bool,
}

/// The documents of `text`, in order. Empty documents are included (with `has_content` false)
/// so the indices match what a YAML parser counts.
pub(crate) fn split_documents(text: &str) -> Vec<Document<'_>> {
    let mut documents = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut explicit = false;
    let mut has_content = false;
    let mut offset = 0;
    let mut line_number = 0;
    fn push<'a>(documents: &mut Vec<Document<'a>>, text: &'a str, line: usize, has_content: bool) {
        let index = documents.len();
        documents.push(Document {
            index,
            line,
            text,
            has_content,
        });
    }
    for line in text.split_inclusive('\n') {
        line_number += 1;
        let line_start = offset;
        offset += line.len();
        if is_marker(line, "---") {
            if explicit || has_content {
                push(
                    &mut documents,
                    &text[start..line_start],
                    start_line,
                    has_content,
                );
                start = line_start;
                start_line = line_number;
            }
            // Otherwise the text so far (comments, directives) is a prefix of this document.
            explicit = true;
            has_content = !line[3..].trim().is_empty() && !line[3..].trim_start().starts_with('#');
        } else if is_marker(line, "...") {
            if explicit || has_content {
                push(
                    &mut documents,
                    &text[start..offset],
                    start_line,
                    has_content,
                );
            }
            start = offset;
            start_line = line_number + 1;
            explicit = false;
            has_content = false;
        } else if !has_content && is_content(line, explicit) {
            has_content = true;
        }
    }
    if explicit || has_content {
        push(&mut documents, &text[start..], start_line, has_content);
    }
    documents
}

/// Whether `line` is the marker `marker` followed by whitespace or the end of the line.
fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

/// Whether a line outside markers holds content (not blank, not a comment, not a directive).
fn is_content(line: &str, explicit: bool) -> bool {
    let trimmed = line.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return false;
    }
    // A `%` directive line is only possible before `---`; inside a document a `%` at column 0
    // cannot start a plain scalar either, so it is never content.
    explicit || !line.starts_with('%')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(text: &str) -> Vec<(usize, usize, &str, bool)> {
        split_documents(text)
            .into_iter()
            .map(|d| (d.index, d.line, d.text, d.has_content))
            .collect()
    }

    #[test]
    fn splits_on_markers_and_keeps_empty_documents() {
        let text = "a: 1\n---\nb: 2\n---\n---\n# only a comment\n---\nc: 3\n";
        assert_eq!(
            summary(text),
            vec![
                (0, 1, "a: 1\n", true),
                (1, 2, "---\nb: 2\n", true),
                (2, 4, "---\n", false),
                (3, 5, "---\n# only a comment\n", false),
                (4, 7, "---\nc: 3\n", true),
            ]
        );
    }

    #[test]
    fn leading_marker_and_comments_make_no_empty_document() {
        assert_eq!(
            summary("# header\n\n---\na: 1\n"),
            vec![(0, 1, "# header\n\n---\na: 1\n", true)]
        );
        assert_eq!(summary("---\na: 1\n"), vec![(0, 1, "---\na: 1\n", true)]);
        assert_eq!(
            summary("%YAML 1.2\n---\na: 1\n"),
            vec![(0, 1, "%YAML 1.2\n---\na: 1\n", true)]
        );
        assert_eq!(summary(""), vec![]);
        assert_eq!(summary("# nothing\n"), vec![]);
    }

    #[test]
    fn markers_need_column_zero_and_a_separator() {
        let text = "a: |\n  ---\n  text\nb: ---x\n---x: 1\n";
        assert_eq!(summary(text), vec![(0, 1, text, true)]);
    }

    #[test]
    fn marker_lines_may_carry_content() {
        assert_eq!(
            summary("--- |\n  text\n--- # comment\na: 1\n"),
            vec![
                (0, 1, "--- |\n  text\n", true),
                (1, 3, "--- # comment\na: 1\n", true)
            ]
        );
    }

    #[test]
    fn document_end_marker_closes_a_document() {
        assert_eq!(
            summary("a: 1\n...\n# trailing\nb: 2\n...\n"),
            vec![
                (0, 1, "a: 1\n...\n", true),
                (1, 3, "# trailing\nb: 2\n...\n", true)
            ]
        );
        assert_eq!(
            summary("a: 1\r\n---\r\nb: 2"),
            vec![(0, 1, "a: 1\r\n", true), (1, 2, "---\r\nb: 2", true)]
        );
    }
}
