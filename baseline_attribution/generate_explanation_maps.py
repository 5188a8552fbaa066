"""Baseline saliency maps for every image of an eval list (the original's ``generate_explanation_maps``).

    python -m baseline_attribution.generate_explanation_maps --method hsic --model efficientnet_lite0 --eval-list demo

writes ``<save-dir>/<run>/<Method>/<class>/<stem>.npy``: one ``S x S`` float32 map per image at the model's input
size (higher = more important), ``<run>`` = ``--run`` (default: the model name), ``<Method>`` = the method's folder
name (``HsicAttributionMethod``, ``GradCAM``, ...; with ``-param=value`` suffixes for non-default parameters),
``<class>`` = the eval list's label, or ``top1`` for unlabelled lines (the model's top-1 class is explained).
``<Method>`` is what SMDL's ``--superpixel-algorithm prior --prior-dir`` reads.

* Run identity (:mod:`common.run_identity`): ``<Method>/config.json`` records, once (exclusive create, never
  rewritten), the settings that change the maps (method and parameters, model, sha256 of ``--weights``, dataset
  root, ``--seed`` for stochastic methods, map format version); a run with other settings into the folder stops
  with one line naming each differing setting. Every map gets a sidecar ``<class>/<stem>.json`` (``identity_key``,
  target, forwards, seconds) written after the npy. Resume skips an image only when its sidecar carries the run's
  key: a map without one (interrupted, copied in by hand, made by the code before run identity) or of another key
  is recomputed. Why a sidecar and not only the folder record: the npy format has no room for metadata (and SMDL's
  ``--prior-dir`` reads the bare npy), while the folder record alone would trust any npy found in the folder,
  e.g. maps left by a run whose ``config.json`` was deleted, or copied from another run.
* A failing image is logged to ``<Method>/errors.jsonl`` and the run goes on.
* Method parameters (``--n-masks``, ``--fill``, ...) are declared in :mod:`baseline_attribution.specs` and
  validated before torch is imported: a bad value is one line naming the flag and its allowed range, exit 2. An
  empty eval list is an error (exit 2). A map with NaN/inf is never written: the image is logged as failed.
* Randomness: stochastic methods get ``torch.Generator().manual_seed(--seed)`` for every image (so a map does not
  depend on ``--begin/--end`` or on the other images; like the original RISE code, every image sees the same masks).
"""

from baseline_attribution.runner import build_parser, chosen_params, main  # noqa: F401 (the entry's parts)

if __name__ == "__main__":
    _, _report = main()
    raise SystemExit(1 if _report.failed else 0)
