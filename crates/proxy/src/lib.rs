//! The sluice data plane: listeners, the per-request pipeline and upstream pools.
//!
//! It serves whatever route table it is handed and must never know where that table came from.
