"""virtprov-toy: an example virtprov provider plugin, for a toy cloud in the process."""

__version__ = "0.1.0"
