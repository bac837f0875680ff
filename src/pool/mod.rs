//! Connection pool (built in a later step).
