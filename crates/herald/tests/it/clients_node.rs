//! The unmodified official Node client (customerio-node 5.2.0) against a running server.
