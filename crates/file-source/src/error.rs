//! The crate's one error enum: what went wrong (or is worth knowing) about a file, a document or
//! an object. A [`Diagnostic`](crate::Diagnostic) says where.

use std::io;

use sluice_ingress_model::DiagnosticKind;
use sluice_ingress_model::k8s::ConversionProblem;

/// What a [`Diagnostic`](crate::Diagnostic) reports, and the error [`FileSource::watch`]
/// returns.
///
/// [`FileSource::watch`]: crate::FileSource::watch
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file or directory could not be read.
    #[error("cannot read: {message}")]
    Read {
        /// The I/O error kind.
        kind: io::ErrorKind,
        /// The I/O error text.
        message: String,
    },
    /// The file is larger than the source accepts.
    #[error("file has {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// The file's size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The file is not UTF-8 text.
    #[error("not valid UTF-8 (at byte {0})")]
    NotUtf8(usize),
    /// The YAML could not be parsed (syntax error, duplicate key, or a size or alias limit).
    #[error("invalid YAML: {0}")]
    Yaml(String),
    /// The parser could not run or failed unexpectedly (its thread could not start, or it
    /// panicked); the file is treated as unreadable.
    #[error("the YAML parser failed: {0}")]
    Parser(String),
    /// A document (or List item) that is not a mapping.
    #[error("not a Kubernetes object: expected a mapping, found {0}")]
    NotAnObject(&'static str),
    /// A required field is absent or empty (e.g. `apiVersion`, `kind`, `items`).
    #[error("missing required field")]
    MissingField,
    /// A kind sluice reads, in an apiVersion it does not support.
    #[error("apiVersion {api_version:?} is not supported for kind {kind}; use {supported}")]
    UnsupportedApiVersion {
        /// The apiVersion as written.
        api_version: String,
        /// The kind.
        kind: String,
        /// The supported apiVersions, comma-separated.
        supported: String,
    },
    /// A kind sluice does not read (Deployment, …); the object is skipped.
    #[error("kind {kind} ({api_version}) is not used by sluice; skipped")]
    UnusedKind {
        /// The apiVersion as written.
        api_version: String,
        /// The kind.
        kind: String,
    },
    /// A `List` inside a `List`'s items.
    #[error("a List inside a List is not supported")]
    NestedList,
    /// A field has the wrong type or value for the Kubernetes schema (from deserialisation).
    #[error("{0}")]
    Invalid(String),
    /// The object does not convert into the model (see the field).
    #[error(transparent)]
    Conversion(ConversionProblem),
    /// A model finding about the object, e.g. a deprecated apiVersion (boxed: the model's
    /// findings are large and this enum travels in every result).
    #[error(transparent)]
    Model(Box<DiagnosticKind>),
    /// The same kind and `namespace/name` appeared earlier; this later definition wins.
    #[error("replaces the same object from {file} document {document}")]
    Duplicate {
        /// The earlier file.
        file: String,
        /// The earlier document (0-based).
        document: usize,
    },
    /// A file failed to read, so its objects from the last successful read are still served.
    #[error("still serving {objects} object(s) from this file's last successful read")]
    KeptPrevious {
        /// How many objects are kept.
        objects: usize,
    },
    /// A directory holds no `*.yaml`/`*.yml` file.
    #[error("no *.yaml or *.yml files in this directory")]
    EmptyDirectory,
    /// The file watcher could not be set up or failed.
    #[error("cannot watch: {0}")]
    Watch(String),
}

impl Error {
    /// A short stable code for machines, in the style of the model's diagnostic codes.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Read { .. } => "read_failed",
            Self::TooLarge { .. } => "file_too_large",
            Self::NotUtf8(_) => "not_utf8",
            Self::Yaml(_) => "invalid_yaml",
            Self::Parser(_) => "parser_failed",
            Self::NotAnObject(_) => "not_an_object",
            Self::MissingField => "missing_field",
            Self::UnsupportedApiVersion { .. } => "unsupported_api_version",
            Self::UnusedKind { .. } => "unused_kind",
            Self::NestedList => "nested_list",
            Self::Invalid(_) => "invalid_field",
            Self::Conversion(_) => "malformed",
            Self::Model(kind) => kind.code(),
            Self::Duplicate { .. } => "duplicate_object",
            Self::KeptPrevious { .. } => "kept_previous",
            Self::EmptyDirectory => "empty_directory",
            Self::Watch(_) => "watch_failed",
        }
    }
}

impl From<&io::Error> for Error {
    fn from(error: &io::Error) -> Self {
        Self::Read {
            kind: error.kind(),
            message: error.to_string(),
        }
    }
}

impl From<notify::Error> for Error {
    fn from(error: notify::Error) -> Self {
        Self::Watch(error.to_string())
    }
}
