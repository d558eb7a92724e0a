//! The bad-configuration corpus (`testdata/bad-config`): every case is loaded through the real
//! file source, model and router together with a good Ingress. Nothing may crash, every
//! expected diagnostic must appear naming its object and field (and no unexpected error or
//! warning), and everything else must still be served. Two cases are generated at test time:
//! an Ingress with 10 000 paths and a multi-megabyte YAML file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_config {
    mod corpus;
    mod generated;
    mod support;
}
