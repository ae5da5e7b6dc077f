"""`python -m wapang.edge ...`: the certs commands without the root `wapang` CLI."""

from wapang.edge.cli import app

app(prog_name="wapang certs")
