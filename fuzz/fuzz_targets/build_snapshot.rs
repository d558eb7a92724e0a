//! `build` on arbitrary snapshots and options: never panics, is deterministic, `diff` of a
//! table with itself is `Unchanged`, the table serialises, and the router compiled from it
//! agrees with `RouteTable::lookup` on arbitrary requests.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_fuzz::table::{RequestM, check_router};
use sluice_fuzz::world::World;
use sluice_ingress_model::{Plan, build, diff};

fuzz_target!(|input: (World, Vec<RequestM>)| {
    let (world, requests) = input;
    let (snapshot, opts) = world.snapshot();
    let built = build(&snapshot, &opts);
    assert_eq!(build(&snapshot.clone(), &opts), built, "build is not deterministic");
    assert_eq!(diff(&built.table, &built.table), Plan::Unchanged);
    assert!(serde_json::to_string(&built).is_ok());
    check_router(&built.table.routes, &requests);
});
