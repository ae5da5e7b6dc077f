"""`python -m wapang.delivery ...`: the config commands without the root `wapang` CLI."""

from wapang.delivery.cli import config_app

config_app(prog_name="wapang config")
