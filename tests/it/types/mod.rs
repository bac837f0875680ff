//! Value mappings against the real server (issue 16).

mod arrays;
mod datetime;
mod proptests;
mod scalars;
