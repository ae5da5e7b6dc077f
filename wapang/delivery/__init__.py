"""Delivery: the configuration contract, the `.env` tooling and `wapang verify`."""
