"""deliver: the daily delivery pass over the ledger, through senders the adapters implement."""
