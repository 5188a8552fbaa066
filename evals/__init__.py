"""Faithfulness metrics and the evaluation entry modules."""
