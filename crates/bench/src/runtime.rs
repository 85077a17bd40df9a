//! The benchmark's tokio runtime.

/// A current-thread runtime for one thread (the default), so that the benchmark never takes more
/// than one core from the server it measures; a multi-thread one for more.
pub fn build(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
}
