"""Figures: heat maps, insertion curves with the best prefix, region outlines, method grids."""
