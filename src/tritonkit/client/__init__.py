"""Talking to a running server: the inference client, input parsing, golden-sample replay."""
