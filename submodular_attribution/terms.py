"""Names of the objective's terms and feature choices, importable without torch (``--help``, validation)."""

TERMS = ("confidence", "effectiveness", "consistency", "collaboration")
EFFECTIVENESS_FEATURES = ("penultimate", "logits")
