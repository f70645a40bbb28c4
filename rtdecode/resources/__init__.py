"""Data files shipped with rtdecode: a real recording, the connectome prior, the default model."""
