//! Background work of a paygate process. Each worker is a `run_once` that tests call directly
//! (driven by a `Clock`, never by sleeping) and a `spawn` that loops it on an interval until
//! shutdown. Workers must be safe to run on several instances at once: they only act on rows
//! they claimed in the store.

pub mod reconcile;
