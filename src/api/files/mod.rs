//! Files: uploadFile (multipart, streamed into the database) and getFile (streamed back,
//! with `Range`, `ETag` and `If-None-Match`) (API.md §9).
//!
//! - `upload`: the multipart body, cut into chunks of [`upload::CHUNK`] bytes as it
//!   arrives, each stored by a write of its own into a pending file, which is linked to the
//!   property at the end (or deleted on any failure). The size limit (`--max-upload`) is
//!   checked while streaming.
//! - `download`: the bytes back, one stored chunk at a time, with ranges and validators.

pub mod download;
pub mod upload;
