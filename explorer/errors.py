"""Errors a user can cause. Each carries one plain sentence that names the problem."""


class ExplorerError(ValueError):
    """Base of every user-facing error; the CLI exits 2 and the app shows ``st.error``."""


class ConfigError(ExplorerError):
    """A configuration value (a field, a builder or preset name) is not valid."""


class DataError(ExplorerError):
    """A file or dataset a user supplied cannot be used."""


class GraphError(ExplorerError):
    """A model cannot be read as a functional graph."""
