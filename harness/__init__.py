"""The loopback harness every integration suite and the bench share (checkout-only, like
certbot-ci's utils/): processes on free loopback ports stopped by PID (processes.py), the app
server and its environment (apps.py), binaries on the machine (binaries.py) and nginx in the
foreground with the project's templates (nginx.py). Certificates: wapang/delivery/pki.py. The
pytest fixtures built on it are registered once, by tests/conftest.py (pytest_plugins)."""
