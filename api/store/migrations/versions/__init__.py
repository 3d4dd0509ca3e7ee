"""Revision scripts, one per schema version: ``NNNN_<slug>.py`` with ``revision = "NNNN"``."""
