//! The `dramatis` binary: a thin command line over the `dramatis-server`,
//! `reader` and `nlp` crates. Errors are reported here, at the edge, with
//! `anyhow`; the libraries have their own typed errors.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
