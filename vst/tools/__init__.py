"""Tools around the models: FLOPs and params counting, the model table."""
