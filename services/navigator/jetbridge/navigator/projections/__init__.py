"""The Navigator's read model in PostgreSQL, folded from its ledger.

``fold`` applies ledger events with the domain's own aggregates; ``rows`` turns them
into table rows; ``store`` writes rows and ledger positions in one transaction;
``projector`` runs it live or rebuilds a schema from the beginning of the ledger.
"""
