//! Black-box integration tests for campaign-ledger. They arrive with the server issue.
