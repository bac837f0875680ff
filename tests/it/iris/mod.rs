//! InterSystems IRIS compatibility: end-to-end tests against the published iris-pgwire
//! 1.7.3 server (`e2e`).

mod e2e;
