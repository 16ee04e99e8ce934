//! `paygate bench`: the load, cost and crash harness.
//!
//! It runs paygate the way production does — separate `paygate serve` and `paygate sim`
//! processes talking HTTP — drives whole payments through them, and measures what a client sees
//! (latency per step) and what the server pays (process CPU time and resident memory read from
//! `/proc`). `--chaos` kills and restarts the server (and a throwaway PostgreSQL cluster) during
//! the load, then reconciles paygate's records against the simulator's.
//!
//! It must never talk to real WeChat, never touch the machine's shared PostgreSQL server (only a
//! cluster it created itself, or a database it created for the run and drops), and never
//! report a number it did not measure in this run.
//!
//! Modules: [`procs`] (the child processes), [`seed`] (tenants through the admin API),
//! [`receiver`] (the webhook endpoint), [`load`] (the payment driver), [`procstat`] (`/proc`),
//! [`stats`] (percentiles, slopes), [`floor`] (the v3 crypto floor), [`httpfloor`] (the
//! server's CPU per bare HTTP request), [`report`] (table and JSON), [`runner`] (the
//! `paygate bench` command: phases and the standard suite), [`pgdb`] (a throwaway database on a
//! given PostgreSQL server); [`pgcluster`], [`chaos`], [`verify`] (crash runs).

pub mod chaos;
pub mod floor;
pub mod httpfloor;
pub mod load;
pub mod pgcluster;
pub mod pgdb;
pub mod procs;
pub mod procstat;
pub mod receiver;
pub mod report;
pub mod runner;
pub mod seed;
pub mod stats;
pub mod verify;
