"""Data files shipped with rtdecode: a real recording and the default model."""
