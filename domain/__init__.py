"""The pure model of the migration engine: aggregates, their events, ids and errors."""
