"""Tamper evidence for the ledger: a keyed hash chain per aggregate, and its verifier."""

from jetbridge.common.audit.chain import (
    GENESIS,
    Break,
    LedgerChain,
    LedgerRecord,
    Link,
    verify_records,
)

__all__ = ["GENESIS", "Break", "LedgerChain", "LedgerRecord", "Link", "verify_records"]
