//! Being written (issue 16).
