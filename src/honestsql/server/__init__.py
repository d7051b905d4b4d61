"""The HTTP API and web page: ``honestsql serve``."""

from honestsql.server.app import ServerConfig, create_app

__all__ = ["ServerConfig", "create_app"]
