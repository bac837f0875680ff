//! InterSystems IRIS compatibility: end-to-end tests against the published iris-pgwire
//! 1.7.3 server (`e2e`) and 1.0.1 server (`v101`), what each release can do against both
//! (`releases`), and §10 of the quirks document point by point against a scripted fake of
//! each version (`fake`).

mod e2e;
mod fake;
mod releases;
mod seed;
mod v101;
