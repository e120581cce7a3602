"""Registers the optional parts of the gateway with the daemon (import for the side effect)."""

from __future__ import annotations
