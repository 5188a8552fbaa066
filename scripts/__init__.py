"""Runnable scripts: the demo, benchmarks, multi-GPU launchers (shell)."""
