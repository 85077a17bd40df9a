//! The unmodified official Python client (customerio 3.2.0) against a running server over TLS.
