//! The `campaign-ledger` binary. The HTTP API and the CLI verbs arrive with the server
//! issue; until then the binary only says so.

fn main() {
    eprintln!("campaign-ledger: the server is not built yet; see README.md");
    std::process::exit(2);
}
