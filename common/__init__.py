"""Inputs and outputs shared by every entry module: images, eval lists, the demo set, result files."""

from common.errors import ToolkitError

__all__ = ["ToolkitError"]
