//! The dramatis HTTP service.
