"""Typed specs of models, the data-type table and the official ModelConfig schema."""
