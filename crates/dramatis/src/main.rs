//! The `dramatis` binary: a thin command line over the `dramatis-server`,
//! `reader` and `nlp` crates. Errors are reported here, at the edge, with
//! `anyhow`; the libraries have their own typed errors.

mod cli;

/// mimalloc instead of glibc's malloc: the service allocates many small,
/// short-lived objects per request from several threads, where glibc's
/// arenas spend a fifth of the CPU (measured with perf on the characters
/// list) and keep freed memory per thread.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
