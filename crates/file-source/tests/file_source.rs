//! Integration tests of the file source on real files in temporary directories.

// Helpers outside `#[test]` functions unwrap too: a failed file operation fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod file_source {
    mod failures;
    mod hostile;
    mod in_memory;
    mod load;
    mod support;
    mod watch;
}
