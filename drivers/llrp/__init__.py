"""LLRP (EPCglobal Low Level Reader Protocol 1.0.1): fixed UHF RFID readers on TCP port 5084.

Sans-I/O codec: `messages` (message types, `LlrpConnection` framing) over `params` (the
parameters, one module per concept). `driver.LlrpReader` is the gateway driver.
"""

from __future__ import annotations

from .driver import LlrpReader

__all__ = ["LlrpReader"]
