"""Storage adapters: the artifact store and work bundles on the local filesystem."""
