"""The commerce API: the app (main.py), middleware, the error map, one package per domain."""
