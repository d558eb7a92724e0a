//! The router against the reference matcher on arbitrary hand-written tables and requests:
//! `Router::lookup_request` must return exactly what `Routes::lookup` returns.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_fuzz::table::{RequestM, TableM, check_router};

fuzz_target!(|input: (TableM, Vec<RequestM>)| {
    let (table, requests) = input;
    check_router(&table.routes(), &requests);
});
