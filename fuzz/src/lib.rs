//! Structured inputs shared by the fuzz targets: small mirrors of the model's snapshot
//! ([`world::World`]), of a route table and of requests ([`table`]) that `arbitrary` derives.
//! Names, hosts, paths and values are drawn mostly from short lists ([`text`]), so objects
//! refer to each other and collide often, with a raw-string escape hatch everywhere.

pub mod table;
pub mod text;
pub mod world;
