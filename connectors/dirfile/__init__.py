"""Static file directory: people and groups from a CSV or TOML file, re-read on change."""

from connectors.dirfile.connector import FileDirectoryConnector

__all__ = ["FileDirectoryConnector"]
